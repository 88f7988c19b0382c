"""The portable C decoder (decoders/c) on format v6 packages (docs/FORMAT.md §34: the prediction
transform over any two adjacent dimensions, ``pred_shift``).

Builds decoders/c as tests/test_c_decoder.py does (skipped without a C compiler or make) and
checks, for the default (4096-entry table) and -DSPK_SMALL builds:
  * every pred_mode 0-7 with every pred_shift 0 .. ndim - 2 on int8, int16, int32 and uint8
    tensors of shapes (4, 3, 3, 8), (3, 3, 4, 5), (1, 3, 3, 16), (2, 5, 7) and (3, 1, 4, 5)
    (H = 1 and W = 1 images), images half smooth and half uniformly random over the dtype (so
    ``r + pred`` wraps both ways), beside an unpredicted, an ineligible and a mirror tensor,
    under 'kernel' and ('count', n) groupings: the values are the original arrays and
    codec.unpack's, the pred_mode and pred_shift the C library reports (``cdecode --list``)
    are the directory's, and ``cdecode --check-api`` agrees (spk_decode, spk_decode_many,
    streaming): a group holding whole a-slices (H * W * C values) is rebuilt group by group,
    one splitting them is SPK_E_LIMIT for spk_stream_begin (counted against this file's own
    a-slice sizes), while spk_decode / spk_decode_many decode both;
  * the writer's own choice on a TFLite-layout (O, kh, kw, I) kernel (pred_shift > 0) and the
    real models of ../shared/weights;
  * directories forged over the same blocks with every valid pred_shift (valid packages with
    other values: exactly codec.unpack's) and with invalid ones (> ndim - 2, huge, a 1 x 1 pair
    of dims): SPK_E_CORRUPT, as codec.unpack's CorruptError; version bytes 5 / 6 swapped, 7
    (rejected as codec.unpack rejects it) and 8 (SPK_E_UNSUPPORTED);
  * every truncation of a v6 package rejected;
  * -DSPK_ONLY_V6 (reads v6 alone), -DSPK_ONLY_V5 (v6 is SPK_E_UNSUPPORTED) and an -Os build
    (one rebuild loop for every C);
  * an ASan + UBSan build fed truncated, bit-flipped and CRC-fixed v6 packages and the forged
    pred_shift directories: exit 2 or exactly codec.unpack's values, never a crash or a
    sanitizer report; and its ``--check-api`` (every decode path, streaming included) on valid
    v6 packages.
"""
from __future__ import annotations

import copy
import os
import random
import shutil
import subprocess
import tempfile

import numpy as np
import pytest

import codec
from codec import format_v4
from codec.format import read_directory
from test_c_decoder import (CC, SAN_ENV, _asan, _check_sanitized, _make, _mutants,
                            check_agrees, expected, run_c)
from test_c_decoder_v5 import _agree_or_reject, _rewrite, _values, _with_version_byte

pytestmark = pytest.mark.skipif(CC is None or shutil.which("make") is None,
                                reason="no C compiler (cc/gcc/clang) or make on PATH")

DTYPES = (np.int8, np.int16, np.int32, np.uint8)
SHAPES = ((4, 3, 3, 8), (3, 3, 4, 5), (1, 3, 3, 16), (2, 5, 7), (3, 1, 4, 5))
GROUPINGS = ("kernel", ("count", 72), ("count", 60), ("count", 7))


@pytest.fixture(scope="session")
def cbuild6(tmp_path_factory):
    build = tmp_path_factory.mktemp("cbuild6")
    r = _make(build, "-j2", "all", "small", CFLAGS="-O2 -Werror")
    assert r.returncode == 0, r.stdout + r.stderr
    return build


@pytest.fixture(scope="session")
def asan6(tmp_path_factory):
    return _asan(tmp_path_factory, "casan6")


# --------------------------------------------------------------------------------- helpers

def _h(shape, shift: int) -> int:
    return len(shape) - 2 - shift


def _slice(shape, shift: int) -> int:
    """An a-slice's values (§34): H * W * C = the product of the dims from h on."""
    return int(np.prod(shape[_h(shape, shift):], dtype=np.int64))


def _shifts(shape) -> list[int]:
    """The pred_shift values §34 allows for ``shape``."""
    return [s for s in range(len(shape) - 1) if format_v4.pred_shift_ok(tuple(shape), s)]


def _values6(rng, shape, dtype, shift: int) -> np.ndarray:
    """test_c_decoder_v5's images (half smooth, half random over the dtype), laid in dims h and
    h + 1 instead of the last two."""
    h = _h(shape, shift)
    perm = tuple(shape[:h]) + tuple(shape[h + 2:]) + (shape[h], shape[h + 1])
    v = _values(rng, perm, dtype)
    return np.ascontiguousarray(np.moveaxis(v, (-2, -1), (h, h + 1)))


def _package(dtype, group, seed: int = 0) -> tuple[bytes, dict, dict]:
    """Every (shape, shift, mode) as one tensor, plus an unpredicted, an ineligible and a mirror
    tensor; returns (package, arrays, {name: (mode, shift)})."""
    rng = np.random.default_rng(seed)
    arrays, pred = {}, {}
    for si, shape in enumerate(SHAPES):
        for shift in _shifts(shape):
            for mode in range(8):
                name = f"t{si}.s{shift}.m{mode}"
                arrays[name] = _values6(rng, shape, dtype, shift)
                pred[name] = (mode, shift)
    arrays["plain"] = _values(rng, (4, 3, 3), dtype)      # eligible, has_pred = 0
    arrays["vec"] = _values(rng, (12,), dtype)            # not eligible
    arrays["mir"] = _values(rng, (4, 8), dtype)           # mirror: no has_pred field
    data = codec.pack(arrays, group=group, predict=pred, mirror={"mir": (8, 0)}, version=6)
    return data, arrays, pred


def _c_list(exe, data: bytes) -> list[tuple[int, int]]:
    """(pred_mode, pred_shift) of every tensor as the C library reports it (``--list``)."""
    with tempfile.NamedTemporaryFile(suffix=".spkg") as f:
        f.write(data)
        f.flush()
        r = subprocess.run([str(exe), "--list", f.name], capture_output=True, text=True,
                           timeout=60)
    assert r.returncode == 0, r.stderr
    out = []
    for line in r.stdout.splitlines():
        tok = line.split(" :")[0].split()
        mode = int(tok[tok.index("pred") + 1]) if "pred" in tok else -1
        shift = int(tok[tok.index("shift") + 1]) if "shift" in tok else 0
        out.append((mode, shift))
    return out


def _check_api_counts(exe, data: bytes) -> tuple[int, int]:
    """``cdecode --check-api``: (tensors streamed, tensors refused with SPK_E_LIMIT)."""
    with tempfile.NamedTemporaryFile(suffix=".spkg") as f:
        f.write(data)
        f.flush()
        r = subprocess.run([str(exe), "--check-api", f.name], capture_output=True, text=True,
                           timeout=120)
    assert r.returncode == 0, f"{exe} --check-api: {r.stdout}{r.stderr}"
    tok = r.stdout.split()
    assert tok[0] == "ok" and tok[2] == "streamed" and tok[4] == "limit", r.stdout
    return int(tok[3]), int(tok[5])


def _pred_ok_anyway(monkeypatch):
    """Let codec's writer put any pred_shift in a directory (forgeries): its check relaxed."""
    monkeypatch.setattr(format_v4, "pred_shift_ok", lambda shape, shift: True)


# --------------------------------------------------------------------------------- tests

@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_v6_every_mode_and_shift(cbuild6, dtype):
    split = streamed = 0
    for k, group in enumerate(GROUPINGS):
        data, arrays, pred = _package(dtype, group, seed=k)
        assert data[4] == 6
        d = read_directory(np.frombuffer(data, np.uint8))
        want = [pred.get(e.name, (-1, 0)) for e in d.tensors]
        assert [(e.pred_mode, e.pred_shift) for e in d.tensors] == want
        assert any(e.mirror_period for e in d.tensors)
        # the streaming cases by this file's own a-slice sizes (H * W * C)
        lim = 0
        for e in d.tensors:
            if e.pred_mode >= 0 and e.n_groups > 1:
                whole = e.group_size % _slice(tuple(e.shape), e.pred_shift) == 0
                split += not whole
                streamed += whole
                lim += not whole
            elif e.mirror_period and e.n_groups > 1:  # (v3's rule: whole mirror rows)
                lim += e.group_size % e.mirror_period != 0
        check_agrees(cbuild6, data)  # spk_decode_many, both builds: codec.unpack's values
        for exe in ("cdecode", "cdecode_small"):
            assert _c_list(cbuild6 / exe, data) == want
            # spk_decode, spk_decode_many and streaming agree; the refusals are exactly the
            # tensors whose groups split a-slices
            assert _check_api_counts(cbuild6 / exe, data) == (len(d.tensors) - lim, lim)
            rc, got, err = run_c(cbuild6 / exe, data)
            assert rc == 0, err
            for e, g in zip(d.tensors, got):
                a = arrays[e.name]
                assert g == a.astype(a.dtype.newbyteorder("<")).tobytes(), (exe, e.name, group)
    assert split and streamed  # both streaming cases: SPK_E_LIMIT and group-by-group rebuild


def test_v6_whole_slices_streamed(cbuild6):
    """One tensor per pred_shift, grouped by exactly its a-slice (streamed) and by half of it
    (refused when streamed, decoded whole)."""
    rng = np.random.default_rng(3)
    shape = (2, 4, 3, 6)
    for shift in _shifts(shape):
        x = _values6(rng, shape, np.int16, shift)
        for n, lim in ((_slice(shape, shift), 0), (_slice(shape, shift) // 2, 1),
                       (2 * _slice(shape, shift), 0)):
            data = codec.pack({"w": x}, group=("count", n), predict={"w": (5, shift)},
                              version=6)
            e = read_directory(np.frombuffer(data, np.uint8)).tensors[0]
            assert e.pred_shift == shift
            if e.n_groups == 1:
                lim = 0
            check_agrees(cbuild6, data)
            for exe in ("cdecode", "cdecode_small"):
                assert _check_api_counts(cbuild6 / exe, data) == (1 - lim, lim)
            assert run_c(cbuild6 / "cdecode", data)[1] == [x.astype("<i2").tobytes()]


def test_v6_writer_choice(cbuild6):
    """codec.pack's own choice on smooth TFLite-layout (O, kh, kw, I) int8 kernels: v6 with a
    pred_shift > 0, which C decodes as codec.unpack (and the original values)."""
    rng = np.random.default_rng(5)
    kh = np.array([[10, 12, 13], [11, 13, 15], [12, 14, 16]], np.int64)
    base = kh.reshape(1, 3, 3, 1) * rng.integers(-3, 4, (16, 1, 1, 24))
    w = np.clip(base + rng.integers(-1, 2, (16, 3, 3, 24)), -128, 127).astype(np.int8)
    arrays = {"conv/weights": w, "conv/bias": rng.integers(-500, 500, 16).astype(np.int32)}
    data = codec.pack(arrays)
    d = read_directory(np.frombuffer(data, np.uint8))
    assert data[4] == 6 and any(e.pred_shift > 0 for e in d.tensors)
    assert codec.Package(data).directory.tensors[0].pred_shift == d.tensors[0].pred_shift
    check_agrees(cbuild6, data, api=True)
    assert _c_list(cbuild6 / "cdecode", data) == [(e.pred_mode, e.pred_shift) for e in d.tensors]
    got = run_c(cbuild6 / "cdecode", data)[1]
    assert got == [a.astype(a.dtype.newbyteorder("<")).tobytes() for a in arrays.values()]


def test_v6_real_models(cbuild6, shared_weights):
    from benchmarks.recipe import MODELS, quantized_model
    shifts = 0
    for m in MODELS:
        data = codec.pack(quantized_model(m, 8, 0.0))
        d = read_directory(np.frombuffer(data, np.uint8))
        shifts += sum(e.pred_shift > 0 for e in d.tensors)
        check_agrees(cbuild6, data, api=True)
    assert shifts  # the TFLite models' kernels get pred_shift > 0


def _forge_seed() -> bytes:
    rng = np.random.default_rng(7)
    arrays = {"a": _values6(rng, (4, 3, 3, 8), np.int8, 1),
              "pair": _values(rng, (3, 1, 1, 4), np.int16),   # dims 1, 2: a 1 x 1 pair
              "low": _values(rng, (1, 1, 5), np.int32),       # dims 0, 1: a 1 x 1 pair
              "b": _values6(rng, (2, 5, 7), np.uint8, 1)}
    return codec.pack(arrays, group=("count", 72),
                      predict={"a": (7, 1), "pair": (2, 0), "low": (4, 0), "b": (1, 1)})


def test_v6_forged_pred_shift(cbuild6, monkeypatch):
    """The same blocks under directories that give a tensor every valid pred_shift (valid
    packages with other values: C decodes them exactly as codec.unpack) and invalid ones
    (> ndim - 2, huge, a 1 x 1 pair of dims: SPK_E_CORRUPT, as codec.unpack rejects them);
    version bytes 5 <-> 6 swapped, 7 and 8."""
    data = _forge_seed()
    assert data[4] == 6
    d = read_directory(np.frombuffer(data, np.uint8))
    assert _rewrite(data, d.tensors, version=6) == data  # (_rewrite is faithful)
    names = [e.name for e in d.tensors]
    ok = bad = 0
    for target, shifts in (("a", range(0, 6)), ("pair", (0, 1, 2, 3, 100, 2**20, 2**40)),
                           ("low", (0, 1, 2, 31, 32)), ("b", (0, 1, 2, 5))):
        i = names.index(target)
        shape = tuple(d.tensors[i].shape)
        for shift in shifts:
            ents = [copy.copy(e) for e in d.tensors]
            ents[i].pred_shift = shift
            with monkeypatch.context() as mp:
                _pred_ok_anyway(mp)
                forged = _rewrite(data, ents, version=6)
            valid = format_v4.pred_shift_ok(shape, shift)
            exp = expected(forged)
            assert (exp is not None) == valid, (target, shift)
            for exe in ("cdecode", "cdecode_small"):
                rc, got, err = run_c(cbuild6 / exe, forged)
                if valid:
                    assert rc == 0 and got == exp, (exe, target, shift, err)
                else:
                    assert rc == 2 and "error -3" in err, (exe, target, shift, rc, err)
            if valid:
                ok += 1
                assert _c_list(cbuild6 / "cdecode", forged)[i] == (d.tensors[i].pred_mode, shift)
                check_agrees(cbuild6, forged, api=True)
            else:
                bad += 1
    assert ok == 3 + 2 + 1 + 2 and bad == 3 + 5 + 4 + 2
    # version bytes: a v6 package read as v5 and a v5 package read as v6 (entry bits shift);
    # read as v7 (§36: a v7 varint after rate: the bits shift again) both reject them, as
    # codec.unpack does; 8 is unsupported
    v5 = codec.pack({"k": _values(np.random.default_rng(1), (4, 3, 3), np.int8)},
                    predict={"k": 3})
    assert v5[4] == 5
    for forged in (_with_version_byte(data, 5), _with_version_byte(v5, 6)):
        _agree_or_reject(cbuild6, forged)
    for pkg in (data, v5):
        seven = _with_version_byte(pkg, 7)
        assert expected(seven) is None
        assert not _agree_or_reject(cbuild6, seven)
        eight = _with_version_byte(pkg, 8)
        assert expected(eight) is None
        for exe in ("cdecode", "cdecode_small"):
            rc, _, err = run_c(cbuild6 / exe, eight)
            assert rc == 2 and "error -2" in err, (exe, rc, err)


def test_v6_every_truncation(cbuild6):
    data = codec.pack({"w": _values6(np.random.default_rng(2), (3, 3, 2, 4), np.int8, 2),
                       "v": np.arange(-6, 6, dtype=np.int16).reshape(2, 3, 2)},
                      group=("count", 24), predict={"w": (6, 2), "v": (1, 1)})
    assert data[4] == 6
    check_agrees(cbuild6, data, api=True)
    for n in range(len(data)):
        assert expected(data[:n]) is None
        for exe in ("cdecode", "cdecode_small"):
            rc, _, err = run_c(cbuild6 / exe, data[:n])
            assert rc == 2, (exe, n, rc, err)


def test_v6_single_version_and_size_builds(tmp_path):
    """-DSPK_ONLY_V6 reads v6 and rejects v5 (SPK_E_UNSUPPORTED); -DSPK_ONLY_V5 rejects v6; the
    -Os build (one rebuild loop for every C) decodes v6 as codec.unpack."""
    pk = {np.dtype(dt).name: _package(dt, ("count", 72), seed=3)[0]
          for dt in (np.int8, np.int16, np.int32)}
    v5 = codec.pack({"k": _values(np.random.default_rng(1), (4, 3, 3), np.int8)},
                    predict={"k": 3})
    assert v5[4] == 5
    for flags in ("-O2 -DSPK_ONLY_V6", "-O2 -DSPK_ONLY_V5", "-Os"):
        build = tmp_path / flags.split()[-1].lstrip("-")
        r = _make(build, "all", CFLAGS=f"{flags} -Werror")
        assert r.returncode == 0, r.stdout + r.stderr
        for data in pk.values():
            if "ONLY_V5" in flags:
                rc, _, err = run_c(build / "cdecode", data)
                assert rc == 2 and "error -2" in err
            else:
                assert _agree_or_reject(build, data, exes=("cdecode",))
        rc, got, err = run_c(build / "cdecode", v5)
        if "ONLY_V6" in flags:
            assert rc == 2 and "error -2" in err
        else:
            assert rc == 0 and got == expected(v5)


def test_v6_sanitizers_on_damaged_packages(asan6, monkeypatch):
    rng = np.random.default_rng(9)
    seeds = [codec.pack({"conv.weight": _values6(rng, (6, 3, 3, 4), np.int8, 1),
                         "dw": _values6(rng, (1, 3, 3, 8), np.int16, 1),
                         "keras": _values6(rng, (3, 3, 2, 4), np.int32, 2),
                         "u": _values6(rng, (4, 3, 5), np.uint8, 1),
                         "mat": _values(rng, (5, 7), np.int16),
                         "bias": _values(rng, (6,), np.int8)},
                        group=("count", 36),
                        predict={"conv.weight": (7, 1), "dw": (0, 1), "keras": (5, 2),
                                 "u": (2, 1), "mat": (3, 0)})]
    d = read_directory(np.frombuffer(seeds[0], np.uint8))
    assert _rewrite(seeds[0], d.tensors, version=6) == seeds[0]
    seeds.append(_rewrite(seeds[0], d.tensors, version=6, chunk_log2=6))  # 64-byte chunks
    forged = []
    with monkeypatch.context() as mp:  # invalid pred_shifts (> ndim - 2; a 1 x 1 pair)
        _pred_ok_anyway(mp)
        fs = _forge_seed()
        fd = read_directory(np.frombuffer(fs, np.uint8))
        for i, shift in ((0, 3), (0, 9), (1, 1), (2, 1)):
            ents = [copy.copy(e) for e in fd.tensors]
            ents[i].pred_shift = shift
            forged.append(_rewrite(fs, ents, version=6))
    pr = random.Random(66)
    stats = {"exit0": 0, "exit2": 0, "meta": 0}
    for m in forged:
        _check_sanitized(asan6, m, "forged pred_shift", stats)
    assert stats["exit2"] == 2 * len(forged)
    for seed in seeds:
        assert seed[4] == 6
        for kind, m in _mutants(seed, pr, 40):
            _check_sanitized(asan6, m, kind, stats)
    assert stats["exit2"] > 50 and stats["exit0"] > 0
    # the three decode paths (spk_decode, spk_decode_many, streaming: whole a-slices rebuilt
    # group by group, split ones refused) on valid v6 packages, under the sanitizers
    for dt, group in ((np.int8, ("count", 72)), (np.int32, "kernel"), (np.uint8, ("count", 7))):
        data = _package(dt, group, seed=4)[0]
        with tempfile.NamedTemporaryFile(suffix=".spkg") as f:
            f.write(data)
            f.flush()
            for exe in ("cdecode_asan", "cdecode_asan_small"):
                r = subprocess.run([str(asan6 / exe), "--check-api", f.name], capture_output=True,
                                   text=True, timeout=300, env={**os.environ, **SAN_ENV})
                assert "Sanitizer" not in r.stderr and "runtime error" not in r.stderr, r.stderr
                assert r.returncode == 0, f"{exe}: {r.stdout}{r.stderr}"
