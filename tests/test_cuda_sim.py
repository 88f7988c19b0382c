"""codec.cuda against the CPU decoder, without a GPU: numba's CUDA simulator.

The simulator must be enabled before numba.cuda is first imported, so the checks run in one
child process with ``NUMBA_ENABLE_CUDASIM=1`` (module fixture); each check reports its own
result and becomes one test here.  The simulator runs every GPU thread as a Python thread, so
the packages are small.  ``test_real_models_on_gpu`` runs only where a real GPU is present.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

CHILD = r'''
import json, sys, traceback
results = {}

def check(name):
    def deco(fn):
        try:
            fn()
            results[name] = "ok"
        except Exception:
            results[name] = traceback.format_exc()
        return fn
    return deco

import numpy as np
import codec
results["import_codec_no_numba_cuda"] = ("ok" if "numba.cuda" not in sys.modules
                                         else "import codec imported numba.cuda")
from numba import config
assert config.ENABLE_CUDASIM
import codec.cuda as gc
from codec import QuantMeta

rng = np.random.default_rng(7)
DTYPES = [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32]


def sparse(dtype, shape, density=0.4, spread=None):
    info = np.iinfo(dtype)
    n = int(np.prod(shape))
    if spread is None:
        v = rng.integers(info.min, int(info.max) + 1, n, dtype=np.int64)
    else:
        v = rng.integers(-spread, spread + 1, n)
    v = np.where(rng.random(n) < density, v, 0)
    return np.clip(v, info.min, info.max).astype(dtype).reshape(shape)


def same(data, names=None, **kw):
    """GPU unpack == CPU unpack, dtype and shape included."""
    ref = codec.unpack(data)
    out = gc.unpack(data, names=names, **kw)
    keys = list(ref) if names is None else list(names)
    assert list(out) == keys, (list(out), keys)
    for k in keys:
        h = out[k].copy_to_host()
        assert h.dtype == ref[k].dtype and h.shape == ref[k].shape, (k, h.dtype, h.shape)
        assert np.array_equal(h, ref[k]), k
    return out


def tensors_all_dtypes():
    t = {}
    for dt in DTYPES:
        name = np.dtype(dt).name
        t[name] = sparse(dt, (4, 3, 5))
        t[name + "_small"] = sparse(dt, (3, 11), spread=3)
    info = np.iinfo(np.uint32)
    t["uint32_extremes"] = np.array([0, info.max, 1, 0, 0, info.max - 1], np.uint32)
    t["int32_extremes"] = np.array([np.iinfo(np.int32).min, 0, np.iinfo(np.int32).max, -1],
                                   np.int32)
    return t


for grp in ["auto", "kernel", ("count", 7), "tensor"]:
    @check(f"dtypes_group_{grp}")
    def _(grp=grp):
        same(codec.pack(tensors_all_dtypes(), group=grp))


@check("edge_cases")
def _():
    t = {
        "empty": np.zeros((0, 4), np.int8),
        "empty1d": np.zeros(0, np.uint16),
        "scalar": np.array(-3, np.int16),
        "scalar0": np.array(0, np.int32),
        "zeros": np.zeros((6, 10), np.int8),
        "long_runs": np.zeros(700, np.int8),
        "dense": sparse(np.int8, (2, 40), density=1.0),
        "uns_offset": np.full((3, 9), 17, np.uint8),
    }
    t["long_runs"][[0, 350, 699]] = [5, -2, 1]
    t["uns_offset"][1, 2] = 200
    data = codec.pack(t, group=("count", 350))
    same(data)


@check("per_group_tables")
def _():
    # codec.pack does not choose tables per group yet: the reference encoder writes them
    from codec import reference as ref
    x = rng.integers(-3, 4, size=(6, 25)).astype(np.int8)
    tables = [(0, 1, 2, [1, 2, 3, 3]), (0, 1, 2, [2, 2, 2, 2]), (0, 1, 2, [3, 3, 2, 1])]
    ids = [1, 2, 2, 1, 0, 2]
    y = rng.integers(-1, 2, size=(3, 30)).astype(np.int16)
    choice = {"x": ref.TensorChoice("kernel", 25, 0, ids),
              "y": ref.TensorChoice("count", 30, 0, [0, 2, 1])}
    data = ref.pack({"x": x, "y": y}, tables, choice)
    p = codec.Package(data)
    assert all(e.tid_bits > 0 for e in p.directory.tensors), "wanted per-group tables"
    same(data)
    same(data, variant="global")
    wide = ref.pack({"x": x}, tables, {"x": ref.TensorChoice("kernel", 25, 0, ids, tid_base=0,
                                                             tid_bits=3, len_bits=20)})
    same(wide)
    data = codec.pack({f"w{i}": sparse(np.int8, (6, 20), density=d, spread=s)
                       for i, (d, s) in enumerate([(0.9, 100), (0.05, 2), (0.5, 10)])},
                      group="kernel", max_tables=64)
    same(data)


@check("shared_table_variant")
def _():
    t = {"a": sparse(np.int8, (5, 16), spread=20), "b": sparse(np.int16, (4, 9), spread=300)}
    data = codec.pack(t, group="kernel", max_tables=1)
    for v in ("shared", "global", "auto"):
        same(data, variant=v)


@check("names_subset_and_read_tensor")
def _():
    t = {f"t{i}": sparse(DTYPES[i % 6], (3, 8)) for i in range(8)}
    data = codec.pack(t, group=("count", 5))
    same(data, names=["t5", "t2"])
    ref = codec.unpack(data)
    for k in ("t0", "t4", "t7"):
        h = gc.read_tensor(data, k).copy_to_host()
        assert h.dtype == ref[k].dtype and np.array_equal(h, ref[k]), k
    gp = gc.GpuPackage(data)  # tables copied once, several loads
    for names in (["t1"], ["t3", "t6"], None):
        out = gp.load(names)
        for k, v in out.items():
            assert np.array_equal(v.copy_to_host(), ref[k]), k


def deq_check(data, out_dtype):
    p = codec.Package(data)
    ref = codec.unpack(data)
    out = gc.unpack(data, dequantize=out_dtype)
    for k, q in ref.items():
        m = p.meta(k)
        h = out[k].copy_to_host()
        if m is None:
            assert h.dtype == q.dtype and np.array_equal(h, q), k
            continue
        with np.errstate(over="ignore", invalid="ignore"):  # float16 overflow is intended
            want = np.asarray(m.dequantize(q, dtype=out_dtype)).reshape(q.shape)
        assert h.dtype == np.dtype(out_dtype) and h.shape == q.shape, (k, h.dtype, h.shape)
        bits = {2: np.uint16, 4: np.uint32}[h.dtype.itemsize]
        ok = (h.view(bits) == want.view(bits)) | (np.isnan(h) & np.isnan(want))
        assert ok.all(), (k, h[~ok][:5], want[~ok][:5])


def quant_model():
    t, meta = {}, {}
    q = sparse(np.int8, (4, 3, 5), spread=100)
    t["per_tensor"], meta["per_tensor"] = q, QuantMeta(bits=8, scale=np.array([0.0173], np.float32))
    t["per_axis0"] = sparse(np.int8, (4, 6), spread=100)
    meta["per_axis0"] = QuantMeta(bits=8, scale=rng.random(4).astype(np.float32) * 0.05, axis=0)
    t["per_axis_neg"] = sparse(np.int16, (3, 4, 5), spread=3000)
    meta["per_axis_neg"] = QuantMeta(bits=12, scale=rng.random(4) * 1e-3, axis=-2)
    t["per_block_zp"] = sparse(np.uint8, (50,), spread=255)
    meta["per_block_zp"] = QuantMeta(bits=8, scale=rng.random(4).astype(np.float32),
                                     zero_point=rng.integers(0, 255, 4), block=13)
    t["asym_zp"] = rng.integers(0, 16, (5, 7)).astype(np.uint8)
    meta["asym_zp"] = QuantMeta(bits=4, scale=np.array([0.25]), zero_point=np.array([8]))
    t["big_scale"] = sparse(np.int16, (30,), spread=30000)
    meta["big_scale"] = QuantMeta(bits=16, scale=np.array([7.3], np.float32))  # f16 overflow
    t["tiny_scale"] = sparse(np.int8, (40,), spread=127)
    meta["tiny_scale"] = QuantMeta(bits=8, scale=np.array([3.1e-8]))  # f16 subnormals
    f16 = (rng.standard_normal(40) * 3).astype(np.float16)
    f16[:4] = [0.0, -0.0, 6e-8, -65504.0]
    t["fbits16"], meta["fbits16"] = f16.view(np.int16), QuantMeta(bits=16, kind="float-bits")
    f32 = (rng.standard_normal(33) * 1e3).astype(np.float32)
    f32[:6] = [0.0, -0.0, 1e-40, 7e4, 65519.0, 3e-8]
    t["fbits32"], meta["fbits32"] = f32.view(np.uint32), QuantMeta(bits=32, kind="float-bits")
    t["no_meta"] = sparse(np.int8, (3, 3))
    t["scalar_meta"] = np.array(-7, np.int8)
    meta["scalar_meta"] = QuantMeta(bits=8, scale=np.array([0.5], np.float32))
    return t, meta


for odt in ("float32", "float16"):
    @check(f"dequantize_{odt}")
    def _(odt=odt):
        t, meta = quant_model()
        deq_check(codec.pack(t, meta=meta, group=("count", 9)), odt)


@check("dequantize_bad_argument")
def _():
    data = codec.pack({"a": np.ones(3, np.int8)})
    for bad in ("float64", "int8", 3):
        try:
            gc.unpack(data, dequantize=bad)
        except ValueError:
            continue
        raise AssertionError(f"dequantize={bad!r} accepted")


def corrupt(fn, text):
    """``fn()`` raises a CorruptError that mentions ``text``."""
    try:
        fn()
    except codec.CorruptError as exc:
        assert text in str(exc), str(exc)
    else:
        raise AssertionError(f"accepted (expected a CorruptError: {text})")


def outcome(fn):
    try:
        out = fn()
    except codec.CodecError as exc:
        return ("error", type(exc).__name__, str(exc))
    return ("ok", {k: (v if isinstance(v, np.ndarray) else v.copy_to_host()).tolist()
                   for k, v in out.items()})


@check("corrupt_like_cpu")
def _():
    t = {"a": sparse(np.int8, (6, 12), spread=30), "b": sparse(np.uint16, (4, 10)),
         "c": sparse(np.int32, (5, 5), spread=4)}
    data = codec.pack(t, group=("count", 8))
    p = codec.Package(data)
    n_err = 0
    # payload bytes (group tables and payloads) flipped; CRCs off on both sides
    spots = []
    for e in p.directory.tensors:
        spots += list(range(e.block_offset + e.meta_length, e.block_offset + e.block_length))
    for i, off in enumerate(rng.choice(spots, size=min(16, len(spots)), replace=False)):
        bad = bytearray(data)
        bad[off] ^= 1 << int(rng.integers(8))
        cpu = outcome(lambda: codec.unpack(bytes(bad), verify=False))
        gpu = outcome(lambda: gc.unpack(bytes(bad), verify=False))
        assert cpu == gpu, (off, cpu, gpu)
        n_err += cpu[0] == "error"
    assert n_err >= 3, n_err
    # with CRCs on: ChecksumError, same message
    bad = bytearray(data)
    bad[spots[3]] ^= 0x10
    cpu = outcome(lambda: codec.unpack(bytes(bad)))
    gpu = outcome(lambda: gc.unpack(bytes(bad)))
    assert cpu == gpu and cpu[1] == "ChecksumError", (cpu, gpu)
    # header damage: the same Package parser
    cpu = outcome(lambda: codec.unpack(data[:-3]))
    gpu = outcome(lambda: gc.unpack(data[:-3]))
    assert cpu == gpu and cpu[0] == "error", (cpu, gpu)
    try:
        gc.read_tensor(data, "nope")
    except KeyError:
        pass
    else:
        raise AssertionError("unknown name accepted")


@check("kernel_checks_indices")
def _():
    # a plan pointing outside its buffers is reported per group, never written
    from numba import cuda
    from codec.cuda import api, kernels as K
    t = {"a": sparse(np.int8, (4, 12), spread=30)}
    data = codec.pack(t, group=("count", 12))
    gp = gc.GpuPackage(data)
    plan = gp.prepare()
    L = plan.batches[0].launches[0]
    L.host["ostart"][1] = 10 ** 6     # output range outside out
    L.host["tid"][2] = 99             # table that does not exist
    L.host["ghi"][3] = plan.nbits + 64  # bits past the copied bytes
    L.dev = {k: cuda.to_device(v) for k, v in L.host.items()}
    for variant in ("global", "warp"):
        L.status.copy_to_device(np.zeros(4, np.int64))
        gp.launch(plan, variant)
        st = L.status.copy_to_host()
        assert list(st) == [0, K.ERR_BUFFER, K.ERR_BUFFER, K.ERR_BUFFER], (variant, st)
    corrupt(lambda: gp.check(plan), "group 1: index outside a buffer")


from codec.cuda import api as gapi, warp as gwarp


@check("host_crc_parallel")
def _():
    # a whole package over package.CRC_OVERLAP_MIN_BYTES (its chunk CRCs checked by the
    # parallel pass): every tensor checked; a damaged chunk names the CPU path's tensor
    from codec import package as P
    t = {f"w{i}": sparse(np.int8, (256, 256), density=0.9, spread=120) for i in range(8)}
    data = codec.pack(t)
    assert len(data) > P.CRC_OVERLAP_MIN_BYTES, len(data)
    gp = gc.GpuPackage(data)
    gp._entries(None)
    assert gp.package._chunk_ok and len(gp.package._crc_ok) == len(t)
    bad = bytearray(data)
    bad[len(data) // 2] ^= 0x08
    cpu = outcome(lambda: codec.unpack(bytes(bad)))
    try:
        gc.GpuPackage(bytes(bad))._entries(None)
    except codec.CodecError as exc:
        gpu = ("error", type(exc).__name__, str(exc))
    else:
        gpu = ("ok",)
    assert cpu == gpu and cpu[1] == "ChecksumError", (cpu, gpu)


def warp_same(data, **kw):
    """The warp kernel (variant='warp') == CPU; returns the per-group decode paths."""
    ref = codec.unpack(data)
    gp = gc.GpuPackage(data)
    plan = gp.prepare(**kw)
    out = gp.run(plan, "warp")
    for k, v in ref.items():
        h = out[k].copy_to_host()
        assert h.dtype == v.dtype and np.array_equal(h, v), k
    return gp.paths(plan)


def warp_tensors():
    t = {"i8_short": sparse(np.int8, (3, 20), spread=40),         # staged (<= 64 values here)
         "i8_long": sparse(np.int8, (2, 150), density=0.7, spread=9),  # direct, > 16 words
         "u8_off": (sparse(np.uint8, (2, 30), spread=50) + 7).astype(np.uint8),
         "i16": sparse(np.int16, (2, 40), spread=3000),           # direct (2-byte values)
         "i32_ext": np.array([np.iinfo(np.int32).min, 0, 0, np.iinfo(np.int32).max, 5],
                             np.int32)}
    t["i8_long"][1, 40:140] = 0  # a long zero run (escape symbols)
    return t


@check("warp_kernel_paths")
def _():
    # exact; valid groups take the warp-parallel paths (both kinds of writes), except a tiny
    # group whose lanes' slices are shorter than its symbols may not synchronise in time
    paths = warp_same(codec.pack(warp_tensors(), group="kernel")).tolist()
    assert {gwarp.PATH_STAGED, gwarp.PATH_DIRECT} <= set(paths), paths
    assert gwarp.PATH_REJECTED not in paths, paths
    assert paths.count(gwarp.PATH_UNSYNCED) <= 1, paths


@check("warp_kernel_fallback")
def _():
    # no synchronisation rounds, no overlap: lanes that start off a boundary send their group
    # to the sequential decoder, which must give the same values
    old = dict(gapi.WARP_CONFIG)
    gapi.WARP_CONFIG.update(max_rounds=0, overlap=0)
    try:
        paths = warp_same(codec.pack(warp_tensors(), group="tensor"))
    finally:
        gapi.WARP_CONFIG.clear()
        gapi.WARP_CONFIG.update(old)
    assert gwarp.PATH_UNSYNCED in paths.tolist(), paths


@check("warp_kernel_tables_and_dequantize")
def _():
    from codec import reference as ref
    x = rng.integers(-3, 4, size=(3, 25)).astype(np.int8)
    tables = [(0, 1, 2, [1, 2, 3, 3]), (0, 1, 2, [2, 2, 2, 2])]
    data = ref.pack({"x": x}, tables, {"x": ref.TensorChoice("kernel", 25, 0, [1, 0, 1])})
    assert codec.Package(data).directory.tensors[0].tid_bits > 0
    paths = warp_same(data)  # per-group tables: read from global memory
    assert set(paths.tolist()) <= {gwarp.PATH_STAGED, gwarp.PATH_DIRECT}, paths
    q = sparse(np.int8, (4, 30), spread=100)
    meta = {"q": QuantMeta(bits=8, scale=rng.random(4).astype(np.float32) * 0.05, axis=0)}
    data = codec.pack({"q": q}, meta=meta, group="kernel")
    for odt in ("float16", "float32"):
        gp = gc.GpuPackage(data)
        plan = gp.prepare(dequantize=odt)
        h = gp.run(plan, "warp")["q"].copy_to_host()
        want = np.asarray(meta["q"].dequantize(q, dtype=odt)).reshape(q.shape)
        assert h.dtype == np.dtype(odt) and np.array_equal(h, want), odt
        assert set(gp.paths(plan).tolist()) == {gwarp.PATH_STAGED}


@check("warp_kernel_corrupt_like_cpu")
def _():
    t = {"a": sparse(np.int8, (2, 60), spread=30), "b": sparse(np.int16, (1, 50), spread=9)}
    data = codec.pack(t, group="kernel")
    p = codec.Package(data)
    spots = []
    for e in p.directory.tensors:
        spots += list(range(e.block_offset + e.meta_length, e.block_offset + e.block_length))
    n_err = rejected = 0
    for off in rng.choice(spots, size=min(8, len(spots)), replace=False):
        bad = bytearray(data)
        bad[off] ^= 1 << int(rng.integers(8))
        cpu = outcome(lambda: codec.unpack(bytes(bad), verify=False))
        try:
            gp = gc.GpuPackage(bytes(bad), verify=False)
            plan = gp.prepare()
        except codec.CodecError:
            continue  # group tables: the host's checks, shared with the CPU path
        gpu = outcome(lambda: gp.run(plan, "warp"))
        assert cpu == gpu, (off, cpu, gpu)
        n_err += cpu[0] == "error"
        rejected += gwarp.PATH_REJECTED in gp.paths(plan).tolist()
    assert n_err >= 2 and rejected >= 1, (n_err, rejected)


# --- format v3's mirror transform (kernels.mirror_inverse): own random stream, so the data of
# the other checks (device_chunk_crcs last) stays as it was
mrng = np.random.default_rng(23)


@check("signed_value_offsets")
def _():
    """Signed tensors far from 0 get a value offset (codec/offsets.py, session 11): both
    kernels decode them as the CPU does, the int8 extremes included."""
    t = {f"bn{i}.gamma": np.clip(np.round(rng.normal(100, 12, 64)), 70, 127).astype(np.int8)
         for i in range(4)}
    t["edge"] = np.array([-128, 127, 127, 126, 120, 127, -128] * 6, np.int8)
    t["i16"] = (rng.integers(-3000, 3000, (8, 40)) + 20000).astype(np.int16)
    # (without v5's prediction, which the writer picks for "i16": its residuals need no offset)
    data = codec.pack(t, predict=None, floor=None, alias=None)
    p = codec.Package(data)
    assert all(p.entry(f"bn{i}.gamma").value_offset != 0 for i in range(4))
    assert p.entry("i16").value_offset != 0
    same(data)
    warp_same(data)


def mirror_rows(dtype, rows, P, a, modes, spread, zero=0, noise=0.0):
    """rows x P values: a head of ``a`` values, then a first half, a middle (odd M) and a
    second half that mirrors the first (mode 1), its negation (2) or nothing (0), around
    ``zero``; a few values off the symmetry when ``noise``."""
    info = np.iinfo(dtype)
    x = mrng.integers(-spread, spread + 1, (rows, P))
    x[mrng.random((rows, P)) < 0.3] = 0
    M = P - a
    h = M // 2
    for r in range(rows):
        m = modes[r % len(modes)]
        if m:
            x[r, P - h:] = (1 if m == 1 else -1) * x[r, a:a + h][::-1]
    x[mrng.random((rows, P)) < noise] = 1
    return np.clip(x + zero, info.min, info.max).astype(dtype)


def mirrored(data, names):
    p = codec.Package(data)
    assert p.directory.version == 4
    for k in names:
        assert p.entry(k).mirror_period >= 2 and p.entry(k).mirror_bytes, k


@check("mirror_v3_forced")
def _():
    i32 = np.iinfo(np.int32)
    t = {"i8_a1": mirror_rows(np.int8, 5, 9, 1, [1, 2, 0], 60),            # M 8
         "i8_odd": mirror_rows(np.int8, 4, 7, 0, [2, 1], 60),              # M 7: middle kept
         "i16": mirror_rows(np.int16, 3, 12, 1, [1, 2], 3000, noise=0.1),  # M 11
         # modes 2 and 1, whose stored differences and their inverses wrap
         "i32_wrap": np.array([[i32.min, i32.max, 7, -7, i32.min + 1, i32.min],
                               [i32.max, 4, 4, 4, 4, i32.min]], np.int32),
         "plain": mirror_rows(np.int8, 3, 6, 0, [1], 9),                   # no mirror
         "u8_off": mirror_rows(np.uint8, 6, 10, 0, [1, 2, 1], 40, zero=128)}
    t["stft"] = np.array([[0, 1, 2, 3, 2, 1], [0, 4, 0, 0, 0, -4]], np.int8)  # FORMAT.md §26
    t["u8_off"][t["u8_off"] == 129] = 128
    force = {"i8_a1": (9, 1), "i8_odd": (7, 0), "i16": (12, 1), "i32_wrap": (6, 0),
             "u8_off": (10, 0), "stft": (6, 1)}
    data = codec.pack(t, group="kernel", mirror=force, floor=None, alias=None)
    mirrored(data, force)
    p = codec.Package(data)
    assert p.entry("u8_off").value_offset == 128
    e = p.entry("i32_wrap")
    assert data[e.block_offset + e.meta_length] == 0x90  # modes 2, 1
    ref = codec.unpack(data)
    for k, v in t.items():
        assert np.array_equal(ref[k], v), k
    same(data)
    same(data, variant="global")
    same(codec.pack({"stft": t["stft"]}, group="kernel", mirror={"stft": (6, 1)}),
         variant="warp")  # (the warp kernel is slow in the simulator: one small tensor)
    # only some tensors: a span of the package copied (mode strings at other offsets)
    same(data, names=["u8_off", "i8_odd"])
    assert np.array_equal(gc.read_tensor(data, "i16").copy_to_host(), t["i16"])
    # tensors that are one group (their mode strings right before a one-record group table)
    same(codec.pack(t, group="tensor", mirror=force))


@check("mirror_v3_auto_and_dequantize")
def _():
    t = {"i8": mirror_rows(np.int8, 6, 16, 0, [1, 2], 100),
         "i16": mirror_rows(np.int16, 4, 33, 1, [2, 1, 1], 20000, noise=0.05),
         "i32": mirror_rows(np.int32, 3, 8, 0, [1], 1 << 30),
         "u8": mirror_rows(np.uint8, 8, 8, 0, [1, 2], 20, zero=100),
         "noise": mrng.integers(-5, 6, (4, 16)).astype(np.int8)}
    data = codec.pack(t, group="kernel", floor=None, alias=None)
    mirrored(data, ["i8", "i16", "i32"])
    same(data)
    same(data, variant="global")
    # quantized tensors with a mirror: decoded as integers, mirror undone, then dequantized
    meta = {"i8": QuantMeta(bits=8, scale=np.array([0.0173], np.float32)),
            "i16": QuantMeta(bits=16, scale=mrng.random(4) * 1e-3, axis=0),
            "u8": QuantMeta(bits=8, scale=np.array([0.25]), zero_point=np.array([100]))}
    data = codec.pack({k: t[k] for k in meta}, meta=meta, group="kernel",
                      mirror={"i8": (16, 0), "i16": (33, 1)}, floor=None, alias=None)
    mirrored(data, ["i8", "i16"])
    for odt in ("float32", "float16"):
        deq_check(data, odt)


@check("mirror_v3_bad_modes")
def _():
    from numba import cuda
    from codec.cuda import kernels as K
    t = {"a": mirror_rows(np.int8, 5, 8, 0, [1, 2], 30),
         "b": mirror_rows(np.int16, 3, 6, 1, [1], 9)}
    data = codec.pack(t, group="kernel", mirror={"a": (8, 0), "b": (6, 1)})
    p = codec.Package(data)
    e = p.entry("b")
    off = e.block_offset + e.meta_length
    bad = bytearray(data)
    bad[off] |= 0x0C  # row 2 of "b": mode 3 (check X4, on the host before any launch)
    for verify in (False, True):
        cpu = outcome(lambda: codec.unpack(bytes(bad), verify=verify))
        gpu = outcome(lambda: gc.unpack(bytes(bad), verify=verify))
        assert cpu == gpu and cpu[0] == "error", (verify, cpu, gpu)
    # the kernel's own checks: a mode 3 (the smallest bad row reported) and a table row that
    # points outside the output; the host turns them into CorruptError
    gp = gc.GpuPackage(data)
    plan = gp.prepare()  # the good package's plan, the damaged bytes on the device (past X4)
    plan.words = gc.GpuPackage(bytes(bad), verify=False)._copy_bytes(0, len(bad))
    L = next(L for b in plan.batches for L in b.launches
             if [e.name for e in L.mir_entries] == ["b"])
    gp.launch(plan)
    assert L.mir_status.copy_to_host().tolist() == [2], L.mir_status.copy_to_host()
    try:
        gp.check(plan)
    except codec.CorruptError as exc:
        assert "tensor 'b': mirror mode 3 (invalid) at row 2" in str(exc), str(exc)
    else:
        raise AssertionError("mode 3 accepted")
    gp = gc.GpuPackage(data)
    plan = gp.prepare()
    L = next(L for b in plan.batches for L in b.launches
             if [e.name for e in L.mir_entries] == ["a"])
    L.host["mir"][0, K.MIR_BASE] = L.out.size - 3
    L.mir = cuda.to_device(L.host["mir"])
    gp.launch(plan)
    assert L.mir_status.copy_to_host().tolist() == [-1]
    corrupt(lambda: gp.check(plan), "mirror: index outside a buffer")


@check("mirror_v3_vectors")
def _():
    # the golden v3 vectors (tests/vectors/v3: metadata before the mode string, int32 wrap,
    # odd M, value offset, a v3 package without mirror), integers and dequantized
    import glob
    files = sorted(glob.glob("tests/vectors/v3/*.bin"))
    assert len(files) >= 5, files
    for f in files:
        with open(f, "rb") as fh:
            data = fh.read()
        same(data)
        if any(codec.Package(data).meta(k) is not None for k in codec.Package(data).names):
            deq_check(data, "float32")


def vectors_check(version: int, max_bytes: int, at_least: int) -> None:
    """The golden vectors of ``version`` up to ``max_bytes``, integers and dequantized."""
    import glob
    import os
    files = [f for f in sorted(glob.glob(f"tests/vectors/v{version}/*.bin"))
             if os.path.getsize(f) <= max_bytes]
    assert len(files) >= at_least, files
    for f in files:
        with open(f, "rb") as fh:
            data = fh.read()
        assert data[4] == version
        same(data)
        if any(codec.Package(data).meta(k) is not None for k in codec.Package(data).names):
            deq_check(data, "float32")


@check("v4_vectors")
def _():
    # the golden v4 vectors up to 4 KB (tests/vectors/v4: one-group tensors without a group
    # table, the entry bit string, every dtype, metadata, mirrors)
    vectors_check(4, 4096, 20)


@check("v5_vectors")
def _():
    # the golden v5 vectors up to 8 KB (tests/vectors/v5: every prediction mode, wrap-around
    # at each dtype's width, metadata, mirrors beside predictions)
    vectors_check(5, 8192, 5)


@check("v7_vectors")
def _():
    # the golden v7 vectors (tests/vectors/v7: row floors in every signed dtype, groups that
    # cut rows, aliases with metadata, an alias of a floored tensor)
    vectors_check(7, 8192, 5)


# --- format v5's prediction transform (kernels.pred_images / pred_wavefront): own random
# stream (and mirror_rows'), so the data of the other checks stays as it was
prng = np.random.default_rng(31)


def smooth(dtype, shape, amp, noise, zero=0):
    """Images (last two dims) of a plane with random slopes plus noise: the prediction helps."""
    H, W = shape[-2], shape[-1]
    n = int(np.prod(shape[:-2], dtype=np.int64))
    gi, gj, b = (prng.integers(-amp, amp + 1, (n, 1, 1)) for _ in range(3))
    x = (zero + b + gi * np.arange(H)[None, :, None] + gj * np.arange(W)[None, None, :]
         + prng.integers(-noise, noise + 1, (n, H, W)))
    info = np.iinfo(dtype)
    return np.clip(x, info.min, info.max).astype(dtype).reshape(shape)


def predicted(data, modes):
    info = codec.inspect(data)
    assert info.version == 5 and data[4] == 5
    for k, m in modes.items():
        assert info.tensor(k).pred_mode == m, (k, info.tensor(k).pred_mode, m)


@check("pred_v5_kernels")
def _():
    # both rebuild kernels alone against the CPU's rebuild (codec.predict) on random
    # residuals (values anywhere in the dtype: every wrap), every mode and dtype; tensors at
    # gaps of a buffer; then a table row outside the buffer: status -1, nothing written
    from numba import cuda
    from codec.cuda import kernels as K
    from codec.predict import rebuild
    for dt in (np.int8, np.uint8, np.int16, np.int32, np.uint32):
        info = np.iinfo(dt)
        bits, sg = np.int64(8 * np.dtype(dt).itemsize), np.int64(np.dtype(dt).kind == "i")
        for wave, shapes in ((False, [(2, 3, 3), (1, 2), (3, 1)]), (True, [(5, 4), (1, 3, 6)])):
            for m0 in range(0, 8, 2 if wave else 1):  # the wavefront: every mode via m0 + k
                rows, base, nimg = [], 3, 0
                for k, sh in enumerate(shapes):
                    n, H, W = int(np.prod(sh)), sh[-2], sh[-1]
                    rows.append((base, n, H, W, (m0 + k) % 8, nimg, 1))  # C = 1: v5
                    nimg += n // (H * W)
                    base += n + 2
                flat = prng.integers(info.min, int(info.max) + 1, base + 1, dtype=np.int64)
                flat = flat.astype(dt)
                ref = flat.copy()
                for b, n, H, W, m, _, _ in rows:
                    rebuild(ref, b, (n // (H * W), H, W), m)
                d = cuda.to_device(flat)
                st = cuda.to_device(np.zeros(len(rows), np.int64))
                tab = cuda.to_device(np.array(rows, np.int64))
                if wave:
                    K.pred_wavefront[2, 32](tab, np.int64(nimg), bits, sg, d, st)
                else:
                    K.pred_images[2, 4](tab, np.int64(nimg), bits, sg, d, st)
                assert st.copy_to_host().tolist() == [0] * len(rows), (dt, wave, m0)
                assert np.array_equal(d.copy_to_host(), ref), (dt, wave, m0)
    flat = np.arange(20, dtype=np.int16)
    for kern, shape in ((K.pred_images, (2, 4)), (K.pred_wavefront, (2, 32))):
        d = cuda.to_device(flat)
        st = cuda.to_device(np.zeros(2, np.int64))
        tab = cuda.to_device(np.array([(0, 6, 2, 3, 1, 0, 1), (16, 6, 2, 3, 5, 1, 1)],
                                      np.int64))
        kern[shape](tab, np.int64(2), np.int64(16), np.int64(1), d, st)
        assert st.copy_to_host().tolist() == [0, -1]
        want = flat.copy()
        rebuild(want, 0, (2, 3), 1)
        assert np.array_equal(d.copy_to_host(), want)


@check("pred_v5_forced")
def _():
    # a v5 package: every mode on int8, int16, int32 and uint8 tensors (forced), images of 9
    # values (a thread an image) and of 30 (a block an image in the simulator), a value
    # offset, a 1 x W image, a mirrored and a plain tensor beside them
    t, force = {}, {}
    for dt, amp, noise, zero in ((np.int8, 6, 2, 0), (np.int16, 700, 9, 20000),
                                 (np.int32, 1 << 22, 40, 0), (np.uint8, 5, 2, 128)):
        name = np.dtype(dt).name
        for m in range(8):
            shape = (2, 2, 3, 3) if m % 4 != 3 else (2, 5, 6)
            t[f"{name}_m{m}"] = smooth(dt, shape, amp, noise, zero)
            force[f"{name}_m{m}"] = m
    t["row"] = smooth(np.int16, (3, 1, 7), 50, 3)
    force["row"] = 6
    t["mir"] = mirror_rows(np.int8, 4, 8, 0, [1, 2], 40)
    t["plain"] = prng.integers(-9, 10, (3, 3, 3)).astype(np.int8)
    data = codec.pack(t, group="kernel", predict=force, mirror={"mir": (8, 0)}, floor=None,
                      alias=None)
    predicted(data, force)
    info = codec.inspect(data)
    assert info.tensor("int16_m0").value_offset != 0 and info.tensor("mir").mirror == (8, 0)
    assert info.tensor("plain").pred_mode == -1
    ref = codec.unpack(data)
    for k, v in t.items():
        assert np.array_equal(ref[k], v), k
    same(data)
    same(data, variant="global")
    same(data, names=["int8_m3", "uint8_m6", "plain", "int32_m1"])
    assert np.array_equal(gc.read_tensor(data, "int16_m7").copy_to_host(), t["int16_m7"])
    # every predicted tensor one group (no group table)
    small = {k: t[k] for k in ("int8_m1", "int16_m3", "row", "plain")}
    same(codec.pack(small, group="tensor", predict={k: force[k] for k in small if k != "plain"}))
    same(codec.pack({"int8_m5": t["int8_m5"]}, predict={"int8_m5": 5}), variant="warp")
    # both rebuild kernels for every tensor: all a thread an image, all a block an image
    old = dict(gapi.PRED_CONFIG)
    try:
        for size in (1 << 40, 0):
            gapi.PRED_CONFIG["image_values"] = size
            same(data, names=["int8_m0", "int16_m3", "int32_m6", "uint8_m7", "row"])
    finally:
        gapi.PRED_CONFIG.update(old)


@check("pred_v5_auto_and_dequantize")
def _():
    # the writer's own choice (predict='auto') on smooth kernels; then quantized predicted
    # tensors: decoded as integers, rebuilt, then dequantized (float32 and float16)
    t = {"c8": smooth(np.int8, (6, 4, 3, 3), 8, 1),
         "c16": smooth(np.int16, (4, 4, 3, 3), 900, 4),
         "c32": smooth(np.int32, (3, 4, 5), 1 << 20, 30),
         "noise": prng.integers(-20, 21, (4, 3, 3)).astype(np.int8)}
    data = codec.pack(t, group="kernel", floor=None, alias=None)
    info = codec.inspect(data)
    assert info.version == 5, info.version
    auto = [k for k in t if info.tensor(k).pred_mode >= 0]
    assert {"c8", "c16"} <= set(auto), auto
    same(data)
    meta = {"c8": QuantMeta(bits=8, scale=np.array([0.0173], np.float32)),
            "c16": QuantMeta(bits=16, scale=prng.random(4) * 1e-3, axis=0),
            "c32": QuantMeta(bits=32, scale=np.array([1e-6]), zero_point=np.array([5])),
            "u8": QuantMeta(bits=8, scale=np.array([0.25]), zero_point=np.array([128]))}
    t["u8"] = smooth(np.uint8, (3, 2, 4, 4), 6, 2, 128)
    force = {"c8": 2, "c16": 5, "c32": 4, "u8": 1}
    data = codec.pack({k: t[k] for k in meta} | {"noise": t["noise"]}, meta=meta,
                      group="kernel", predict=force, floor=None, alias=None)
    predicted(data, force)
    for odt in ("float32", "float16"):
        deq_check(data, odt)


@check("pred_v5_bad_table")
def _():
    # the rebuild kernels' own checks (a valid package never fails them): a table row that
    # points outside the output, for each kernel; check() turns it into CorruptError
    from numba import cuda
    from codec.cuda import kernels as K
    t = {"a": smooth(np.int8, (3, 3, 3), 5, 1), "b": smooth(np.int16, (2, 5, 6), 300, 3)}
    data = codec.pack(t, group="kernel", predict={"a": 3, "b": 6})
    for name in ("a", "b"):
        gp = gc.GpuPackage(data)
        plan = gp.prepare()
        pp = next(pp for b in plan.batches for L in b.launches for pp in L.preds
                  if [e.name for e in pp.entries] == [name])
        assert pp.wave == (name == "b")
        L = next(L for b in plan.batches for L in b.launches if pp in L.preds)
        pp.table[0, K.PRED_BASE] = L.out.size - 3
        pp.dev = cuda.to_device(pp.table)
        gp.launch(plan)
        assert pp.status.copy_to_host().tolist() == [-1]
        corrupt(lambda: gp.check(plan), f"tensor {name!r}: prediction: index outside a buffer")


# --- format v6's prediction over any two adjacent dims (§34: images in dims h, h + 1, their
# positions C values apart): own random stream, so the data of the other checks stays as it was
p6rng = np.random.default_rng(67)


def smooth6(dtype, shape, shift, amp, noise, zero=0):
    """``smooth`` with the images in §34's dims of ``shift`` (a plane per image plus noise)."""
    from codec.predict import axes
    A, H, W, C = axes(shape, shift)
    gi, gj, b = (p6rng.integers(-amp, amp + 1, (A, 1, 1, C)) for _ in range(3))
    x = (zero + b + gi * np.arange(H)[None, :, None, None] + gj * np.arange(W)[None, None, :, None]
         + p6rng.integers(-noise, noise + 1, (A, H, W, C)))
    info = np.iinfo(dtype)
    return np.clip(x, info.min, info.max).astype(dtype).reshape(shape)


def predicted6(data, force):
    info = codec.inspect(data)
    assert info.version == 6 and data[4] == 6, info.version
    for k, (m, sh) in force.items():
        e = info.tensor(k)
        assert (e.pred_mode, e.pred_shift) == (m, sh), (k, e.pred_mode, e.pred_shift, m, sh)


@check("pred_v6_kernels")
def _():
    # both rebuild kernels alone (tables with the PRED_C column) against the CPU's rebuild
    # (codec.predict.rebuild with a shift) on random residuals (every wrap), every mode,
    # shifts 0-2; tensors at gaps of a buffer; then rows whose C does not fit: status -1,
    # nothing written there
    from numba import cuda
    from codec.cuda import kernels as K
    from codec.predict import axes, rebuild
    assert K.PRED_COLS == 7 and K.PRED_C == 6
    thread_shapes = [((4, 3, 2, 3), 1), ((2, 3, 4), 1), ((2, 2, 3, 2), 2), ((3, 1, 5), 0)]
    wave_shapes = [((3, 5, 2), 1), ((1, 4, 5, 3), 1), ((5, 4), 0), ((2, 1, 3, 7), 2)]
    for dt in (np.int8, np.uint8, np.int32):
        info = np.iinfo(dt)
        bits, sg = np.int64(8 * np.dtype(dt).itemsize), np.int64(np.dtype(dt).kind == "i")
        for wave, shapes in ((False, thread_shapes), (True, wave_shapes)):
            for m0 in (0, 4):  # every mode via m0 + k
                rows, base, nimg = [], 5, 0
                for k, (sh, shift) in enumerate(shapes):
                    n = int(np.prod(sh))
                    _, H, W, C = axes(sh, shift)
                    rows.append((base, n, H, W, (m0 + k) % 8, nimg, C))
                    nimg += n // (H * W)
                    base += n + 3
                flat = p6rng.integers(info.min, int(info.max) + 1, base + 2, dtype=np.int64)
                flat = flat.astype(dt)
                ref = flat.copy()
                for (b, n, H, W, m, _, C), (sh, shift) in zip(rows, shapes):
                    rebuild(ref, b, sh, m, shift)
                d = cuda.to_device(flat)
                st = cuda.to_device(np.zeros(len(rows), np.int64))
                tab = cuda.to_device(np.array(rows, np.int64))
                if wave:  # 2 threads a block: diagonals of 3 or 4 positions take 2 steps
                    K.pred_wavefront[2, 2](tab, np.int64(nimg), bits, sg, d, st)
                else:
                    K.pred_images[2, 4](tab, np.int64(nimg), bits, sg, d, st)
                assert st.copy_to_host().tolist() == [0] * len(rows), (dt, wave, m0)
                assert np.array_equal(d.copy_to_host(), ref), (dt, wave, m0)
    # row 1: C not dividing numel / C = 0 / C * H * W past numel; row 0 rebuilt regardless
    flat = np.arange(40, dtype=np.int16)
    for kern, shape in ((K.pred_images, (2, 4)), (K.pred_wavefront, (2, 32))):
        for bad_c in (4, 0, 1 << 62):
            d = cuda.to_device(flat)
            st = cuda.to_device(np.zeros(2, np.int64))
            tab = cuda.to_device(np.array([(0, 12, 2, 3, 1, 0, 2), (20, 12, 2, 3, 5, 2, bad_c)],
                                          np.int64))
            kern[shape](tab, np.int64(4), np.int64(16), np.int64(1), d, st)
            assert st.copy_to_host().tolist() == [0, -1], (kern, bad_c)
            want = flat.copy()
            rebuild(want, 0, (2, 3, 2), 1, 1)
            assert np.array_equal(d.copy_to_host(), want), (kern, bad_c)


@check("pred_v6_forced")
def _():
    # a v6 package: every mode with shifts 1 and 2 (and some 0 beside them) on int8 tensors
    # of TFLite / Keras-like layouts, half of them on int16 and int32 (forced; the kernel check
    # has every mode at each width), images of up to 16 values (a thread an image) and larger
    # ones with C > 1 (a block an image in the simulator), a value offset, full-range int8
    # residuals (wrap), a uint8, a mirrored and a plain tensor
    combos = [((4, 3, 3, 8), 1), ((3, 3, 4, 5), 2), ((1, 3, 3, 16), 1), ((2, 5, 7), 1),
              ((4, 3, 3, 8), 2), ((3, 3, 4, 5), 1), ((1, 3, 3, 16), 2), ((2, 5, 7), 0)]
    t, force = {}, {}
    for di, (dt, amp, noise, zero, modes) in enumerate((
            (np.int8, 6, 2, 0, range(8)), (np.int16, 700, 9, 20000, (0, 3, 5, 6)),
            (np.int32, 1 << 22, 40, 0, (1, 2, 4, 7)))):
        name = np.dtype(dt).name
        for m in modes:
            shape, shift = combos[(m + 3 * di) % len(combos)]
            t[f"{name}_m{m}"] = smooth6(dt, shape, shift, amp, noise, zero)
            force[f"{name}_m{m}"] = (m, shift)
    t["big"] = smooth6(np.int16, (2, 6, 5, 3), 1, 300, 4)      # H x W = 30, C = 3: wavefront
    force["big"] = (6, 1)
    t["big2"] = smooth6(np.int8, (5, 4, 2), 1, 5, 2)           # H x W = 20, C = 2, A = 1
    force["big2"] = (1, 1)
    t["wrap"] = p6rng.integers(-128, 128, (2, 3, 3, 4)).astype(np.int8)
    force["wrap"] = (7, 1)
    t["u8"] = smooth6(np.uint8, (3, 3, 2, 4), 2, 5, 2, 128)
    force["u8"] = (2, 2)
    t["mir"] = mirror_rows(np.int8, 4, 8, 0, [1, 2], 40)
    t["plain"] = p6rng.integers(-9, 10, (3, 3, 3)).astype(np.int8)
    data = codec.pack(t, group="kernel", predict=force, mirror={"mir": (8, 0)}, floor=None,
                      alias=None)
    predicted6(data, force)
    info = codec.inspect(data)
    assert info.tensor("int16_m0").value_offset != 0 and info.tensor("mir").mirror == (8, 0)
    assert info.tensor("plain").pred_mode == -1
    ref = codec.unpack(data)
    for k, v in t.items():
        assert np.array_equal(ref[k], v), k
    same(data)
    # the plan: "big" and "big2" in the wavefront pass with their C (the others there: shift 0)
    from codec.cuda import kernels as K
    plan = gc.GpuPackage(data).prepare()
    pps = [pp for b in plan.batches for L in b.launches for pp in L.preds]
    waved = {e.name: int(pp.table[r, K.PRED_C]) for pp in pps if pp.wave
             for r, e in enumerate(pp.entries)}
    assert {k: C for k, C in waved.items() if C != 1} == {"big": 3, "big2": 2}, waved
    assert all(force[k][1] == 0 for k, C in waved.items() if C == 1), waved
    same(data, names=["int8_m3", "big", "plain", "int32_m7", "u8"])
    assert np.array_equal(gc.read_tensor(data, "int16_m5").copy_to_host(), t["int16_m5"])
    # one group a tensor (no group table), and the warp decode kernel
    small = {k: t[k] for k in ("int8_m1", "int16_m6", "big2", "plain")}
    same(codec.pack(small, group="tensor",
                    predict={k: force[k] for k in small if k != "plain"}))
    same(codec.pack({"int8_m4": t["int8_m4"]}, predict={"int8_m4": force["int8_m4"]}),
         variant="warp")
    # both rebuild kernels for every tensor: all a thread an image, all a block an image
    # (tensors of few images: the simulator runs a block's threads one diagonal at a time)
    old = dict(gapi.PRED_CONFIG)
    try:
        for size in (1 << 40, 0):
            gapi.PRED_CONFIG["image_values"] = size
            same(data, names=["int8_m3", "int32_m7", "big", "big2", "u8"])
    finally:
        gapi.PRED_CONFIG.update(old)


@check("pred_v6_dequantize")
def _():
    # quantized tensors predicted over shifted dims: decoded as integers, rebuilt with C > 1,
    # then dequantized (per-tensor, per-channel on the last axis, zero point)
    t = {"dw": smooth6(np.int8, (1, 3, 3, 16), 1, 6, 2),
         "k": smooth6(np.int16, (3, 3, 4, 5), 2, 500, 5),
         "z": smooth6(np.int8, (2, 5, 7), 1, 5, 2)}
    meta = {"dw": QuantMeta(bits=8, scale=p6rng.random(16) * 0.01 + 1e-3, axis=-1),
            "k": QuantMeta(bits=16, scale=np.array([2e-4])),
            "z": QuantMeta(bits=8, scale=np.array([0.125]), zero_point=np.array([3]))}
    force = {"dw": (5, 1), "k": (2, 2), "z": (4, 1)}
    data = codec.pack(t, meta=meta, group="kernel", predict=force, floor=None, alias=None)
    predicted6(data, force)
    same(data)
    for odt in ("float32", "float16"):
        deq_check(data, odt)


@check("pred_v6_auto")
def _():
    # the writer's own choice: a TFLite-like (out, kh, kw, in) kernel smooth over kh x kw
    # (shift 1) and a Keras-like (kh, kw, in, out) one (shift 2)
    t = {"tfl": smooth6(np.int8, (8, 3, 3, 8), 1, 8, 1),
         "keras": smooth6(np.int16, (3, 3, 8, 8), 2, 900, 4)}
    data = codec.pack(t, group="kernel", floor=None, alias=None)
    info = codec.inspect(data)
    assert info.version == 6, info.version
    assert any(info.tensor(k).pred_shift > 0 for k in t), [
        (info.tensor(k).pred_mode, info.tensor(k).pred_shift) for k in t]
    same(data)


# --- format v7's row floors and tensor aliases (§36: kernels.unfloor_values, device copies of
# aliases): own random stream, so the data of the other checks stays as it was
frng = np.random.default_rng(71)


def pruned(dtype, shape, lo, hi, density=0.5, tail=None):
    """Magnitude-pruned values with a dead zone per row (§36's rows): row r's nonzero
    magnitudes in [m_r, hi], m_r drawn from [lo, hi // 2], uniform or (``tail``) m_r plus a
    geometric variable of that mean (most just above the dead zone), random signs."""
    from codec.format_v4 import floor_rows
    R = floor_rows(shape)
    n = int(np.prod(shape, dtype=np.int64))
    m = frng.integers(lo, hi // 2 + 1, (R, 1))
    if tail is None:
        a = frng.integers(0, 1 << 40, (R, n // R)) % (hi - m + 1) + m
    else:
        a = np.minimum(m + frng.geometric(1 / tail, (R, n // R)) - 1, hi)
    v = np.where(frng.random((R, n // R)) < density, a * frng.choice([-1, 1], (R, n // R)), 0)
    return v.astype(dtype).reshape(shape)


def floored(data, names, aliases=()):
    """A v7 package whose floored tensors are ``names``, aliases ``{alias: target}``."""
    p = codec.Package(data)
    assert data[4] == 7 and p.directory.version == 7, data[4]
    got = {e.name for e in p.directory.tensors if e.floors and e.alias < 0}
    assert got == set(names), (got, names)
    al = {e.name: p.names[e.alias] for e in p.directory.tensors if e.alias >= 0}
    assert al == dict(aliases), (al, aliases)


@check("floor_v7_kernel")
def _():
    # the floor kernel alone against the CPU's codec.kernels.floor.unfloor: int8, int16,
    # int32 tensors at gaps of a buffer (1 row, several rows, floors 0 and at the dtype's
    # edge: vmax - 1), stored values up to the largest each floor allows; then values a floor
    # takes out of range (status = the first such index, that value left as stored), a row
    # whose floors or values lie outside their buffers (-1, nothing written there) and a
    # table of the wrong shape
    from numba import cuda
    from codec.cuda import kernels as K
    from codec.kernels.floor import unfloor
    for dt in (np.int8, np.int16, np.int32):
        info = np.iinfo(dt)
        vmin, vmax = np.int64(info.min), np.int64(info.max)
        specs = [(1, 7, [5]), (3, 4, [0, 2, info.max - 1]), (4, 6, [1, 0, 40, 9]),
                 (2, 3, [0, 0])]
        rows, floors, base, nv = [], [], 3, 0
        flat = np.zeros(200, dt)
        for R, L, f in specs:
            f = np.array(f, np.int64)
            s = frng.integers(info.min + f[:, None], info.max - f[:, None] + 1, (R, L))
            s[frng.random((R, L)) < 0.3] = 0
            flat[base:base + R * L] = s.reshape(-1)
            rows.append((base, R * L, R, len(floors), nv))
            floors += f.tolist()
            nv += R * L
            base += R * L + 2
        ref = flat.copy()
        fl = np.array(floors, np.int64)
        for b, n, R, fo, _ in rows:
            assert unfloor(ref, np.int64(b), np.int64(n), np.int64(R), fl, np.int64(fo),
                           vmin, vmax)[0] == 0
        d = cuda.to_device(flat)
        st = cuda.to_device(np.full(len(rows), K.FLOOR_OK, np.int64))
        K.unfloor_values[2, 8](cuda.to_device(np.array(rows, np.int64)), np.int64(nv),
                               cuda.to_device(fl), vmin, vmax, d, st)
        assert st.copy_to_host().tolist() == [K.FLOOR_OK] * len(rows), dt
        assert np.array_equal(d.copy_to_host(), ref), dt
        # out of range: row 1 of tensor 0 (R = 2, L = 5, floor 10) holds vmax - 9 at index 7
        # and vmin + 9 at 8, tensor 1 (floor vmax - 1) one value past vmax at 2; tensor 2's
        # floors past the floors array, tensor 3's values past the output
        bad = np.zeros(40, dt)
        bad[5 + 2], bad[5 + 3] = vmax - 9, vmin + 9
        bad[5 + 0], bad[5 + 1] = 3, -4
        bad[20 + 1], bad[20 + 2], bad[20 + 3] = 1, 2, -1
        bad[25:29] = 1
        bad[36:] = 1
        fl = np.array([2, 10, vmax - 1, 0], np.int64)
        tab = np.array([(0, 10, 2, 0, 0), (20, 4, 1, 2, 10), (25, 4, 2, 3, 14),
                        (36, 6, 1, 0, 18)], np.int64)
        d = cuda.to_device(bad)
        st = cuda.to_device(np.full(4, K.FLOOR_OK, np.int64))
        K.unfloor_values[2, 8](cuda.to_device(tab), np.int64(24), cuda.to_device(fl), vmin,
                               vmax, d, st)
        assert st.copy_to_host().tolist() == [7, 2, -1, -1], (dt, st.copy_to_host())
        h = d.copy_to_host()
        assert h[7] == vmax - 9 and h[8] == vmin + 9 and h[22] == 2, dt  # left as stored
        assert h[5] == 13 and h[6] == -14 and h[0] == 0, dt  # in range: floors added
        assert h[21] == vmax and h[23] == -vmax, dt
        assert (h[25:29] == 1).all() and (h[36:] == 1).all(), dt  # refused rows: untouched
        # a table of the wrong shape: every status -1, nothing written
        d = cuda.to_device(bad)
        st = cuda.to_device(np.full(3, K.FLOOR_OK, np.int64))
        K.unfloor_values[1, 4](cuda.to_device(tab[:, :4].copy()), np.int64(24),
                               cuda.to_device(fl), vmin, vmax, d, st)
        assert st.copy_to_host().tolist() == [-1] * 3 and np.array_equal(d.copy_to_host(), bad)


@check("floor_v7_forced")
def _():
    # a v7 package: int8, int16 and int32 pruned tensors with forced floors (the writer's,
    # and smaller ones: halved, some 0), several groups a tensor (('count', 7)), 1-D (one row),
    # 2-D and 4-D (rows = shape[0]) tensors, an alias of a floored tensor and one of a plain
    # tensor, a plain tensor beside them; 'auto', 'global', 'warp', subsets (an alias alone,
    # before its target: decoded from the shared block), read_tensor; the plan copies an
    # alias whose target comes first
    from codec.floor import row_floors
    t = {"w8": pruned(np.int8, (5, 9), 20, 127),
         "w16": pruned(np.int16, (4, 2, 2, 3), 800, 32000),
         "b8": pruned(np.int8, (13,), 30, 120),
         "w32": pruned(np.int32, (3, 8), 1 << 20, 1 << 30),
         "h8": pruned(np.int8, (6, 4), 10, 100),
         "plain": frng.integers(-5, 6, (4, 5)).astype(np.int8)}
    t["w8_tied"] = t["w8"].copy()
    t["plain_tied"] = t["plain"].copy()
    half = row_floors(t["h8"]) // 2
    half[::2] = 0
    force = {"w8": True, "w16": True, "b8": True, "w32": True, "h8": half.tolist()}
    data = codec.pack(t, group=("count", 7), floor=force)
    floored(data, force, {"w8_tied": "w8", "plain_tied": "plain"})
    p = codec.Package(data)
    assert list(p.entry("h8").floors) == half.tolist(), p.entry("h8").floors
    assert all(p.entry(k).n_groups >= 2 for k in force), [p.entry(k).n_groups for k in force]
    ref = codec.unpack(data)
    for k, v in t.items():
        assert np.array_equal(ref[k], v), k
    same(data)
    same(data, variant="global")
    same(data, names=["w8", "h8", "w8_tied"], variant="warp")  # (slow in the simulator)
    plan = gc.GpuPackage(data).prepare()
    copies = {e.name for b in plan.batches for L in b.launches for e, base in
              zip(L.entries, L.bases) if any(c[0] == base for c in L.copies)}
    assert copies == {"w8_tied", "plain_tied"}, copies
    nfl = sorted(e.name for b in plan.batches for L in b.launches for e in L.floor_entries)
    assert nfl == sorted(force), nfl
    same(data, names=["w8_tied"])
    same(data, names=["w8_tied", "w8", "w32"])
    same(data, names=["h8", "plain_tied", "w16"])
    assert np.array_equal(gc.read_tensor(data, "w8_tied").copy_to_host(), t["w8"])
    assert np.array_equal(gc.read_tensor(data, "b8").copy_to_host(), t["b8"])
    # one group a tensor (no group table); the writer's own choice of floors
    same(codec.pack({k: t[k] for k in ("w8", "h8", "w8_tied")}, group="tensor",
                    floor={"w8": True, "h8": half.tolist()}))
    auto = {"a": pruned(np.int8, (8, 48), 25, 127, 0.6, 4),
            "b": pruned(np.int16, (8, 20), 600, 20000, 0.5, 100)}
    auto["c"] = auto["b"].copy()
    data = codec.pack(auto)
    floored(data, ["a", "b"], {"c": "b"})
    same(data)


@check("floor_v7_dequantize")
def _():
    # quantized floored tensors (per-channel scales on axis 0, a zero point) and an alias of
    # one: decoded as integers, floors added, the alias copied, then dequantized
    t = {"k": pruned(np.int8, (4, 10), 20, 127), "z": pruned(np.int16, (3, 7), 300, 9000)}
    t["k_tied"] = t["k"].copy()
    meta = {"k": QuantMeta(bits=8, scale=frng.random(4) * 0.01 + 1e-3, axis=0),
            "z": QuantMeta(bits=16, scale=np.array([2e-4]), zero_point=np.array([3]))}
    meta["k_tied"] = meta["k"]
    data = codec.pack(t, meta=meta, group=("count", 9), floor={"k": True, "z": True})
    floored(data, ["k", "z"], {"k_tied": "k"})
    same(data)
    for odt in ("float32", "float16"):
        deq_check(data, odt)


@check("floor_v7_corrupt")
def _():
    # floors too large for the values stored (a writer that forgot to subtract them: the
    # package is otherwise valid, CRCs included): §36 R3, the CPU's CorruptError (message,
    # offset, the stored value) for the first such tensor, with its alias beside it and
    # for the alias alone; then a floor table row outside the output (the kernel's own check)
    from numba import cuda
    from codec import floor as cfloor
    from codec.cuda import kernels as K
    t = {"ok": pruned(np.int8, (3, 8), 20, 100), "bad": pruned(np.int8, (4, 6), 5, 127),
         "bad16": pruned(np.int16, (2, 9), 5, 32767)}
    t["bad"][2, 3] = -127
    t["bad"][3, 1] = 126
    t["bad16"][1, 4] = 32767
    t["bad_tied"] = t["bad"].copy()
    fwd = cfloor.forward
    cfloor.forward = lambda arr, floors: np.ascontiguousarray(arr)
    try:
        data = codec.pack(t, group=("count", 7),
                          floor={"ok": [0, 0, 0], "bad": [0, 1, 3, 2], "bad16": [0, 2]})
    finally:
        cfloor.forward = fwd
    floored(data, ["ok", "bad", "bad16"], {"bad_tied": "bad"})
    assert outcome(lambda: codec.unpack(data)) == outcome(lambda: gc.unpack(data))
    for names in (["bad_tied"], ["bad_tied", "ok"], ["bad16"], ["ok"], ["ok", "bad16", "bad"]):
        cpu = outcome(lambda: codec.Package(data).read_all(names))
        gpu = outcome(lambda: gc.unpack(data, names=names))
        assert cpu == gpu, (names, cpu, gpu)
        assert cpu[0] == ("ok" if names == ["ok"] else "error"), (names, cpu)
    # the value and index of the error: the first stored value its row's floor takes out
    # of range
    s = t["bad"].astype(np.int64)
    f = np.array([0, 1, 3, 2])[:, None]
    first = int(np.flatnonzero(((s > 0) & (s + f > 127)) | ((s < 0) & (s - f < -128)))[0])
    try:
        gc.unpack(data)
    except codec.CorruptError as exc:
        assert exc.value == s.reshape(-1)[first], (exc.value, first)
        assert exc.offset == codec.Package(data).entry("bad").block_offset, exc.offset
        assert "'bad'" in str(exc) and f"index {first} " in str(exc), str(exc)
    else:
        raise AssertionError("accepted")
    # a good package, a table row moved past the output: status -1, check() raises
    data = codec.pack({"a": t["ok"], "b": pruned(np.int8, (2, 5), 10, 90)},
                      floor={"a": True, "b": True})
    gp = gc.GpuPackage(data)
    plan = gp.prepare()
    L = next(L for b in plan.batches for L in b.launches if L.floor_entries)
    L.host["fl"][1, K.FL_BASE] = L.out.size - 3
    L.fl = cuda.to_device(L.host["fl"])
    gp.launch(plan)
    assert L.floor_status.copy_to_host().tolist() == [K.FLOOR_OK, -1]
    corrupt(lambda: gp.check(plan), "tensor 'b': row floors: index outside a buffer")


@check("device_chunk_crcs")
def _():
    # a whole v2 package's chunk CRCs on the device (api.GPU_CRC_MIN_BYTES): chunks of 64
    # bytes (lane 0 alone) and 256 bytes (32 lanes of 8 bytes, folded), ends anywhere in a
    # word; equal to zlib's; a damaged chunk (CRC kept or mended) gives the CPU path's error.
    # (Last of the checks: the random data of the checks above stays as it was.)
    import struct, zlib
    from numba import cuda as ncuda
    from codec import format_v2
    from codec.cuda import kernels as gk
    old = format_v2.DEFAULT_CHUNK_LOG2, gapi.GPU_CRC_MIN_BYTES
    gapi.GPU_CRC_MIN_BYTES = 0
    try:
        # the kernel alone, against zlib
        raw = rng.integers(0, 256, 1203, dtype=np.uint8)
        host = np.zeros((raw.size // 8 + 2) * 8, np.uint8)
        host[:raw.size] = raw
        words = ncuda.to_device(host.view(np.uint64))
        gk.bswap_words[2, 32](words)  # as api.GpuPackage._copy_bytes
        for log2, los, ends in ((4, range(0, 9), (1, 7, 8, 9, 150)), (8, (0, 3, 8), (9, 300, 1203))):
            T = ncuda.to_device(gapi._crc_tables(log2))
            for lo in los:
                for end in ends:
                    end = min(lo + end, raw.size)
                    n = -(-(end - lo) // (1 << log2))
                    got = ncuda.to_device(np.full(n, -7, np.int64))
                    blocks = -(-n // gk.CRC_WARPS)
                    gk.crc_chunks[blocks, 32 * gk.CRC_WARPS](
                        words, np.int64(raw.size), np.int64(lo), np.int64(end), np.int64(log2),
                        T, got)
                    want = [zlib.crc32(raw[a:min(a + (1 << log2), end)])
                            for a in range(lo, end, 1 << log2)]
                    assert got.copy_to_host().tolist() == want, (log2, lo, end)
        got = ncuda.to_device(np.zeros(1, np.int64))
        gk.crc_chunks[1, 32 * gk.CRC_WARPS](
            words, np.int64(8 * words.size + 1), np.int64(0), np.int64(8 * words.size + 1),
            np.int64(8), T, got)  # past the words: refused
        assert got.copy_to_host()[0] == -1
        bad_t = ncuda.to_device(np.zeros((8, 256), np.uint32))
        gk.crc_chunks[1, 32 * gk.CRC_WARPS](words, np.int64(raw.size), np.int64(0),
                                            np.int64(64), np.int64(6), bad_t, got)
        assert got.copy_to_host()[0] == -1  # tables of the wrong shape: refused
        for log2 in (6, 8):
            format_v2.DEFAULT_CHUNK_LOG2 = log2
            t = {"a": sparse(np.int8, (5, 37), density=0.8, spread=90),
                 "b": sparse(np.int16, (7, 29), density=0.6)}
            data = codec.pack(t)
            d = codec.Package(data).directory
            assert d.chunk_log2 == log2 and len(d.chunk_crcs) >= 2, len(d.chunk_crcs)
            gp = gc.GpuPackage(data)
            plan = gp.prepare()
            assert gp.package._chunk_ok == set(range(len(d.chunk_crcs)))
            assert gp._device_chunk_crcs(plan.words, len(data))  # the device pass agrees
            out = gp.run(plan)
            for k, v in t.items():
                assert np.array_equal(out[k].copy_to_host(), v), k
            n = len(data)
            size = 1 << log2
            for c in range(len(d.chunk_crcs)):
                bad = bytearray(data)
                bad[8 + c * size + 5] ^= 0x10
                for mended in (False, True):
                    if mended:
                        lo = 8 + c * size
                        struct.pack_into("<I", bad, n - 24 - 4 * len(d.chunk_crcs) + 4 * c,
                                         zlib.crc32(bytes(bad[lo:min(lo + size,
                                                                     d.directory_offset)])))
                        struct.pack_into("<I", bad, n - 8, zlib.crc32(
                            bytes(bad[d.directory_offset:n - 24]), zlib.crc32(bytes(bad[:8]))))
                    cpu = outcome(lambda: codec.unpack(bytes(bad)))
                    gpu = outcome(lambda: gc.unpack(bytes(bad)))
                    assert cpu == gpu, (log2, c, mended, cpu, gpu)
                    if not mended:
                        assert cpu[1] == "ChecksumError", cpu
    finally:
        format_v2.DEFAULT_CHUNK_LOG2, gapi.GPU_CRC_MIN_BYTES = old


with open(sys.argv[1], "w") as f:
    json.dump(results, f)
'''


@pytest.fixture(scope="module")
def sim_results(tmp_path_factory):
    d = tmp_path_factory.mktemp("cudasim")
    script = d / "child.py"
    script.write_text(textwrap.dedent(CHILD))
    out = d / "results.json"
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1",
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-W", "error", str(script), str(out)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0 or not out.exists():
        pytest.fail(f"simulator child failed (rc {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return json.loads(out.read_text())


CHECKS = (["import_codec_no_numba_cuda"]
          + [f"dtypes_group_{g}" for g in ["auto", "kernel", ("count", 7), "tensor"]]
          + ["edge_cases", "per_group_tables", "shared_table_variant",
             "names_subset_and_read_tensor", "dequantize_float32", "dequantize_float16",
             "dequantize_bad_argument", "corrupt_like_cpu", "kernel_checks_indices",
             "warp_kernel_paths", "warp_kernel_fallback", "warp_kernel_tables_and_dequantize",
             "warp_kernel_corrupt_like_cpu", "host_crc_parallel", "mirror_v3_forced",
             "mirror_v3_auto_and_dequantize", "mirror_v3_bad_modes", "mirror_v3_vectors", "v4_vectors",
             "device_chunk_crcs", "signed_value_offsets", "pred_v5_kernels", "pred_v5_forced",
             "pred_v5_auto_and_dequantize", "pred_v5_bad_table", "v5_vectors",
             "pred_v6_kernels", "pred_v6_forced", "pred_v6_dequantize", "pred_v6_auto",
             "floor_v7_kernel", "floor_v7_forced", "floor_v7_dequantize", "floor_v7_corrupt",
             "v7_vectors"])


@pytest.mark.parametrize("name", CHECKS)
def test_cuda_sim(sim_results, name):
    assert name in sim_results, f"check {name!r} did not run"
    assert sim_results[name] == "ok", sim_results[name]


def test_no_unexpected_checks(sim_results):
    assert sorted(sim_results) == sorted(CHECKS)


REAL = r'''
import sys, time
import numpy as np
from numba import cuda
if not cuda.is_available():
    print("NO_GPU"); sys.exit(0)
sys.path.insert(0, sys.argv[1])
import codec, codec.cuda as gc
from benchmarks.recipe import CONFIGS, MODELS, quantized_model, weights_dir
n = 0
for m in MODELS:
    if not (weights_dir() / f"{m}.npz").exists():
        continue
    for bits, sp in CONFIGS:
        t = quantized_model(m, bits, sp)
        data = codec.pack(t)
        ref = codec.unpack(data)
        for variant in ("auto", "global"):
            out = gc.unpack(data, variant=variant)
            for k, v in ref.items():
                h = out[k].copy_to_host()
                assert h.dtype == v.dtype and np.array_equal(h, v), (m, bits, sp, variant, k)
                assert hasattr(out[k], "__cuda_array_interface__")
        n += 1
print("CHECKED", n)
'''


def test_real_models_on_gpu(tmp_path):
    script = tmp_path / "real.py"
    script.write_text(REAL)
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    proc = subprocess.run([sys.executable, str(script), str(ROOT)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=1800)
    if "NO_GPU" in proc.stdout:
        pytest.skip("no CUDA GPU visible to numba (real-model GPU exactness needs one)")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "CHECKED" in proc.stdout and "CHECKED 0" not in proc.stdout, proc.stdout


PTX = r'''
import sys
import numba.cuda.dispatcher as _d, types as _t
# no GPU here: device functions ask the (absent) current device for its compute capability
_d.get_current_device = lambda: _t.SimpleNamespace(compute_capability=(9, 0))
from numba import cuda, types as T
try:
    cuda.compile_ptx(lambda a: None, (T.int64[::1],), cc=(9, 0))
except Exception as exc:
    print("NO_NVVM", type(exc).__name__, exc); sys.exit(0)
sys.path.insert(0, sys.argv[1])
import codec.cuda.kernels as K
import codec.cuda.warp as W
i64 = T.int64; a64 = T.int64[::1]; u64 = T.uint64[::1]; f64 = T.float64[::1]
luts = T.uint32[:, ::1]; dqi = T.int64[:, ::1]
cuda.compile_ptx(K.bswap_words.py_func, (u64,), cc=(9, 0))
cuda.compile_ptx(K.copy_words.py_func, (u64, u64), cc=(9, 0))
cuda.compile_ptx(K.crc_chunks.py_func, (u64, i64, i64, i64, i64, T.uint32[:, ::1], a64),
                 cc=(9, 0))
for out, bits in [(T.int8[::1], T.int8[::1]), (T.float16[::1], T.uint16[::1]),
                  (T.float32[::1], T.uint32[::1])]:
    if out.dtype == T.float16:
        out = bits  # float16 outputs are passed as their uint16 view (api.py)
    cuda.compile_ptx(K.prefill.py_func, (a64,) * 7 + (dqi, luts, f64, f64, out, bits, i64),
                     cc=(9, 0))
    dec = (u64, i64) + (a64,) * 7 + (i64, i64, luts, dqi, f64, f64, out, bits, a64, a64)
    cuda.compile_ptx(K.decode_global.py_func, dec, cc=(9, 0))
    cuda.compile_ptx(K.decode_shared.py_func, dec + (i64,), cc=(9, 0))
    for cfg in ((4, 4096, 4, 128, out == bits, 64), (4, 0, 4, 0, False)):
        k = W.make_warp_kernel(*cfg)
        cuda.compile_ptx(k.py_func, dec + (i64, T.int8[::1]), cc=(9, 0))
    if out != T.int8[::1]:  # dequantization after the mirror (integers in, floats out)
        for src in (T.int8[::1], T.uint32[::1]):
            cuda.compile_ptx(K.store_values.py_func, (src, dqi, f64, f64, out, bits, a64),
                             cc=(9, 0))
for ints in (T.int8, T.uint8, T.int16, T.uint16, T.int32, T.uint32):
    cuda.compile_ptx(K.mirror_inverse.py_func, (u64, i64, dqi, i64, i64, i64, ints[::1], a64),
                     cc=(9, 0))
    for kern in (K.pred_images, K.pred_wavefront):  # v5/v6 prediction rebuild
        cuda.compile_ptx(kern.py_func, (dqi, i64, i64, i64, ints[::1], a64), cc=(9, 0))
    cuda.compile_ptx(K.unfloor_values.py_func, (dqi, i64, a64, i64, i64, ints[::1], a64),
                     cc=(9, 0))  # v7 row floors
print("PTX_OK")
'''


def test_kernels_compile_to_ptx(tmp_path):
    """The real CUDA target (not the simulator) types and compiles every kernel for sm_90,
    where NVVM is installed (no GPU needed)."""
    script = tmp_path / "ptx.py"
    script.write_text(PTX)
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    proc = subprocess.run([sys.executable, str(script), str(ROOT)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    if "NO_NVVM" in proc.stdout:
        pytest.skip(f"NVVM unavailable: {proc.stdout.strip()[:200]}")
    assert proc.returncode == 0 and "PTX_OK" in proc.stdout, proc.stdout + proc.stderr
