"""The portable C decoder (decoders/c) on format v7 packages (docs/FORMAT.md §36: row floors and
tensor aliases).

Builds decoders/c as tests/test_c_decoder.py does (skipped without a C compiler or make) and
checks, for the default (4096-entry table) and -DSPK_SMALL builds:
  * forced row floors on int8, int16 and int32 tensors (the writer's own floors and smaller
    ones; per-row scaled 50 % magnitude-pruned values, extreme values next to the dtype's
    limits, 1-D and scalar tensors: one row, a 4-D kernel: shape[0] rows) beside tensors that
    carry no has_floor field (unsigned, mirror, prediction, value offset, empty) and an eligible
    one without floors, and aliases (of a floored tensor, of a tensor with metadata, of a
    multi-group, a predicted and a mirror tensor, consecutive ones, the last tensor an alias),
    under 'kernel' (several groups), ('kernels', 2), ('count', n) and 'tensor' groupings: the
    values are the original arrays and codec.unpack's, the alias targets and floor orders the C
    library reports (``cdecode --list``) are the directory's, and ``cdecode --check-api`` agrees
    (spk_decode, spk_decode_many, spk_tensor_at, spk_find and streaming: a floored tensor is
    streamed group by group under every grouping, rows cut by groups included);
  * entry records after aliases that repeat the previous *record's* dtype and shape (not the
    alias target's), and real-model-like packages (per-row scaled 50 % magnitude-pruned int8
    weights, floor='auto', alias='auto') and the real models of ../shared/weights;
  * directories forged over the same blocks: valid ones (floors added, changed, taken away;
    floor_k 0 ... 30; an alias pointed at another tensor) decode exactly as codec.unpack; invalid
    ones (floor_k > 30, a floor above vmax - 1, an alias gap or back out of range, an alias of an
    alias, n_alias > n_tensors - 1, a floor that takes a stored value out of the dtype's range,
    at every lane position of the -O2 build's 8-bytes-at-a-time rebuild and after it) are
    SPK_E_CORRUPT (exit 2, "error -3"), as codec.unpack's CorruptError; aliases that take the
    output past max_output_bytes are SPK_E_LIMIT, as codec's LimitError;
  * every truncation of a v7 package rejected;
  * -DSPK_ONLY_V7 (reads v7 alone), -DSPK_ONLY_V6 (v7 is SPK_E_UNSUPPORTED) and an -Os build;
  * an ASan + UBSan build fed truncated, bit-flipped and CRC-fixed v7 packages and the forged
    directories: exit 2 or exactly codec.unpack's values, never a crash or a sanitizer report;
    and its ``--check-api`` on valid v7 packages.
"""
from __future__ import annotations

import copy
import dataclasses
import os
import random
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest

import codec
from codec import format_v4
from codec.floor import row_floors
from codec.format import read_directory
from test_c_decoder import (CC, SAN_ENV, _asan, _check_sanitized, _make, _mutants,
                            check_agrees, expected, run_c)
from test_c_decoder_v5 import _agree_or_reject, _rewrite, _values, _with_version_byte
from test_c_decoder_v6 import _check_api_counts

pytestmark = pytest.mark.skipif(CC is None or shutil.which("make") is None,
                                reason="no C compiler (cc/gcc/clang) or make on PATH")

SIGNED = (np.int8, np.int16, np.int32)
GROUPINGS = ("kernel", ("count", 7), ("count", 64), ("kernels", 2), "tensor")


@pytest.fixture(scope="session")
def cbuild7(tmp_path_factory):
    build = tmp_path_factory.mktemp("cbuild7")
    r = _make(build, "-j2", "all", "small", CFLAGS="-O2 -Werror")
    assert r.returncode == 0, r.stdout + r.stderr
    return build


@pytest.fixture(scope="session")
def os7(tmp_path_factory):
    """An -Os build (the row floors added back one value at a time, no 8-byte lanes)."""
    build = tmp_path_factory.mktemp("cbuild7os")
    r = _make(build, "all", CFLAGS="-Os -Werror")
    assert r.returncode == 0, r.stdout + r.stderr
    return build


@pytest.fixture(scope="session")
def asan7(tmp_path_factory):
    return _asan(tmp_path_factory, "casan7")


# --------------------------------------------------------------------------------- helpers

def _pruned(rng, shape, dtype, frac: float = 0.5, top: int | None = None) -> np.ndarray:
    """Per-row scaled, ``frac`` magnitude-pruned, per-row quantized values (row = shape[0] when
    ndim >= 2, else the whole tensor, as §36's rows): each row's nonzero magnitudes start well
    above 0 (the dead zone row floors remove).  ``top``: the quantized maximum (the dtype's
    max by default)."""
    top = int(np.iinfo(dtype).max) if top is None else top
    R = shape[0] if len(shape) >= 2 else 1
    x = rng.standard_normal((R, int(np.prod(shape)) // R)) * rng.uniform(0.1, 10, (R, 1))
    thr = np.quantile(np.abs(x), frac, axis=1, keepdims=True)
    x[np.abs(x) < thr] = 0
    scale = np.abs(x).max(axis=1, keepdims=True)
    q = np.round(x / np.where(scale > 0, scale, 1) * top)
    return q.astype(np.int64).astype(dtype).reshape(shape)


def _extreme(rng, shape, dtype) -> np.ndarray:
    """Rows of 0, +-vmax and +-(f + 1) values (f a random floor per row, up to vmax - 2), and
    vmin: the rebuilt values reach both ends of the dtype's range."""
    info = np.iinfo(dtype)
    R = shape[0] if len(shape) >= 2 else 1
    L = int(np.prod(shape)) // R
    f = rng.integers(0, int(info.max) - 1, (R, 1))
    pick = rng.integers(0, 5, (R, L))
    v = np.select([pick == 0, pick == 1, pick == 2, pick == 3],
                  [f + 1, -(f + 1), np.full((R, L), int(info.max)), np.full((R, L), int(info.min))],
                  0)
    return v.astype(dtype).reshape(shape)


def _smaller(arr: np.ndarray, by: int) -> list[int]:
    """Row floors ``by`` below the writer's own (at least 0): any floor up to a row's smallest
    magnitude minus 1 decodes exactly (§36)."""
    return [max(0, int(f) - by) for f in row_floors(arr)]


def _c_list7(exe, data: bytes) -> list[tuple[int, int]]:
    """(alias target or -1, floor_k or -1) of every tensor as the C library reports it."""
    with tempfile.NamedTemporaryFile(suffix=".spkg") as f:
        f.write(data)
        f.flush()
        r = subprocess.run([str(exe), "--list", f.name], capture_output=True, text=True,
                           timeout=60)
    assert r.returncode == 0, r.stderr
    out = []
    for line in r.stdout.splitlines():
        tok = line.split(" :")[0].split()
        alias = int(tok[tok.index("alias") + 1]) if "alias" in tok else -1
        fk = int(tok[tok.index("floor") + 1]) if "floor" in tok else -1
        out.append((alias, fk))
    return out


def _dir_list7(d) -> list[tuple[int, int]]:
    """The same from codec's parser (floor_k: the writer's order of the floors)."""
    return [(e.alias, format_v4.floor_order(e.floors) if e.floors else -1) for e in d.tensors]


def _limits(d) -> int:
    """Tensors spk_stream_begin refuses (SPK_E_LIMIT): groups splitting mirror rows or
    prediction a-slices (v3, v5, v6 rules; never row floors)."""
    n = 0
    for e in d.tensors:
        if e.n_groups <= 1:
            continue
        if e.mirror_period and e.group_size % e.mirror_period:
            n += 1
        elif e.pred_mode >= 0:
            h = len(e.shape) - 2 - e.pred_shift
            n += e.group_size % int(np.prod(e.shape[h:], dtype=np.int64)) != 0
    return n


def _package(dtype, group, seed: int = 0) -> tuple[bytes, dict, dict]:
    """Floored tensors (writer's floors and smaller ones), tensors without has_floor, an
    eligible one without floors, and aliases; returns (package, arrays, floor option)."""
    rng = np.random.default_rng(seed)
    meta = codec.QuantMeta(bits=8, scale=np.float32([0.25]))
    a = {}
    a["fc.weight"] = _pruned(rng, (24, 40), dtype)
    a["conv.weight"] = _pruned(rng, (8, 4, 3, 3), dtype)
    a["vec"] = _pruned(rng, (50,), dtype)                  # 1-D: one row
    a["row1"] = _pruned(rng, (1, 30), dtype)               # shape[0] = 1: one row
    a["ext"] = _extreme(rng, (6, 12), dtype)
    a["s"] = np.array(-100, dtype)                         # scalar: one row, floor 99
    a["plain"] = _pruned(rng, (6, 10), dtype)              # eligible, has_floor = 0
    a["u"] = _pruned(rng, (6, 10), np.int16).astype(np.uint16)  # unsigned: no has_floor
    a["mir"] = _values(rng, (4, 8), dtype)                 # mirror: no has_floor
    a["pred"] = _values(rng, (3, 3, 4), dtype)             # prediction: no has_floor
    off = np.full((5, 9), 7, dtype)                        # a value offset: no has_floor
    off[rng.random(off.shape) < 0.3] = 3
    a["off"] = off
    a["empty"] = np.zeros((0, 4), dtype)                   # numel 0: no has_floor
    a["tied"] = a["fc.weight"].copy()                      # alias of a floored tensor
    a["conv.tied"] = a["conv.weight"].copy()               # alias (multi-group under kernel)
    a["m1"] = _pruned(rng, (4, 6), dtype)
    a["m2"] = a["m1"].copy()                               # alias of a tensor with metadata
    a["pred2"] = a["pred"].copy()                          # alias of a predicted tensor
    a["mir2"] = a["mir"].copy()                            # consecutive aliases, the second
    a["plain2"] = a["plain"].copy()                        # of a mirror tensor; the last
    floor = {"fc.weight": True, "conv.weight": _smaller(a["conv.weight"], 3), "vec": True,
             "row1": _smaller(a["row1"], 1), "ext": True, "s": True, "m1": True}
    data = codec.pack(a, group=group, floor=floor, mirror={"mir": (8, 0)},
                      predict={"pred": 5}, meta={"m1": meta, "m2": meta})
    return data, a, floor


# --------------------------------------------------------------------------------- tests

@pytest.mark.parametrize("dtype", SIGNED, ids=lambda d: np.dtype(d).name)
def test_v7_floors_and_aliases(cbuild7, dtype):
    multi = 0
    for k, group in enumerate(GROUPINGS):
        data, arrays, floor = _package(dtype, group, seed=k)
        assert data[4] == 7
        d = read_directory(np.frombuffer(data, np.uint8))
        names = [e.name for e in d.tensors]
        ents = {e.name: e for e in d.tensors}
        assert {e.name for e in d.tensors if e.floors and e.alias < 0} == set(floor)
        assert ents["conv.weight"].floors == tuple(floor["conv.weight"])
        assert ents["s"].floors == (99,)
        assert not ents["plain"].floors and ents["off"].value_offset != 0
        want_alias = {"tied": "fc.weight", "conv.tied": "conv.weight", "m2": "m1",
                      "pred2": "pred", "mir2": "mir", "plain2": "plain"}
        assert {e.name: names[e.alias] for e in d.tensors if e.alias >= 0} == want_alias
        assert ents["m2"].meta_length > 0 and ents["tied"].floors
        multi += ents["conv.weight"].n_groups > 1
        check_agrees(cbuild7, data)  # spk_decode_many, both builds: codec.unpack's values
        for exe in ("cdecode", "cdecode_small"):
            assert _c_list7(cbuild7 / exe, data) == _dir_list7(d)
            lim = _limits(d)
            assert _check_api_counts(cbuild7 / exe, data) == (len(d.tensors) - lim, lim)
            rc, got, err = run_c(cbuild7 / exe, data)
            assert rc == 0, err
            for e, g in zip(d.tensors, got):
                x = arrays[e.name]
                assert g == x.astype(x.dtype.newbyteorder("<")).tobytes(), (exe, e.name, group)
    assert multi  # floored tensors of several groups (streamed group by group)


def test_v7_records_after_aliases(cbuild7):
    """The record after an alias repeats the last *record's* dtype and shape (§36: prev_dtype,
    prev_shape skip aliases), also after two aliases in a row, after an alias whose target has
    another dtype and shape, and after an empty tensor; a package that ends with aliases; an
    alias of an alias's target read through spk_tensor_at / spk_tensor_next (--check-api)."""
    rng = np.random.default_rng(11)
    a8 = _pruned(rng, (4, 5), np.int8)
    b16 = np.array([-300, 0, 500], np.int16)
    arrays = {"a": a8, "b": b16,
              "c": a8.copy(),                                   # alias of a (int8 (4, 5))
              "d": np.array([1, -2, 3], np.int16),              # as the record before: b's
              "e": np.array([[5, 0], [0, -9]], np.int32),
              "f": a8.copy(), "g": b16.copy(),                  # two aliases in a row
              "h": np.array([[0, 7], [1, 0]], np.int32),        # as the record before: e's
              "i": np.zeros((0, 5), np.int8),                   # empty
              "j": b16.copy(),
              "k": np.zeros((0, 5), np.int8),                   # as the record before: i's
              "l": _pruned(rng, (4, 5), np.int8),
              "m": b16.copy(), "n": a8.copy()}                  # ends with two aliases
    for group in ("kernel", ("count", 3)):
        data = codec.pack(arrays, group=group, floor={"a": True, "l": True})
        d = read_directory(np.frombuffer(data, np.uint8))
        names = [e.name for e in d.tensors]
        assert data[4] == 7
        assert {e.name: names[e.alias] for e in d.tensors if e.alias >= 0} == \
            {"c": "a", "f": "a", "g": "b", "j": "b", "m": "b", "n": "a"}
        check_agrees(cbuild7, data, api=True)
        assert _c_list7(cbuild7 / "cdecode", data) == _dir_list7(d)
        got = run_c(cbuild7 / "cdecode", data)[1]
        assert got == [x.astype(x.dtype.newbyteorder("<")).tobytes() for x in arrays.values()]


def _real_like(rng) -> dict:
    """A small model's worth of per-row scaled 50 % magnitude-pruned int8 weights (linear,
    conv, pointwise, depthwise), int32 biases, one tied weight."""
    arrays = {"embed.weight": _pruned(rng, (96, 64), np.int8),
              "conv1.weight": _pruned(rng, (32, 16, 3, 3), np.int8),
              "conv1.bias": rng.integers(-3000, 3000, 32).astype(np.int32),
              "pw.weight": _pruned(rng, (64, 32, 1, 1), np.int8),
              "dw.weight": _pruned(rng, (64, 1, 3, 3), np.int8),
              "fc.weight": _pruned(rng, (128, 256), np.int8),
              "fc.bias": rng.integers(-3000, 3000, 128).astype(np.int32)}
    arrays["head.weight"] = arrays["embed.weight"].copy()  # tied
    return arrays


def test_v7_real_model_like(cbuild7):
    """Per-row scaled 50 % pruned int8 weights: floor='auto', alias='auto' (the writer floors
    what its estimate says pays, here fc.weight, and ties the head) and every weight floored
    (floor={name: True}); C decodes exactly (every API path), under the writer's own grouping,
    'kernel' and a count that cuts rows."""
    arrays = _real_like(np.random.default_rng(21))
    weights = {k: True for k in arrays if k.endswith("weight") and k != "head.weight"}
    for group in ("auto", "kernel", ("count", 1000)):
        for floor in ("auto", weights):
            data = codec.pack(arrays, group=group, floor=floor)
            d = read_directory(np.frombuffer(data, np.uint8))
            assert data[4] == 7
            floored = {e.name for e in d.tensors if e.floors and e.alias < 0}
            assert floored == ({"fc.weight"} if floor == "auto" else set(weights)), floored
            assert [e.name for e in d.tensors if e.alias >= 0] == ["head.weight"]
            check_agrees(cbuild7, data, api=True)
            got = run_c(cbuild7 / "cdecode", data)[1]
            assert got == [x.astype(x.dtype.newbyteorder("<")).tobytes()
                           for x in arrays.values()]
        plain = codec.pack(arrays, group=group, floor=None, alias=None)
        assert plain[4] < 7 and len(plain) > len(data)


def test_v7_real_models(cbuild7, shared_weights):
    from benchmarks.recipe import MODELS, quantized_model
    floors = aliases = 0
    for m in MODELS:
        data = codec.pack(quantized_model(m, 8, 0.5))
        d = read_directory(np.frombuffer(data, np.uint8))
        floors += sum(bool(e.floors) for e in d.tensors)
        aliases += sum(e.alias >= 0 for e in d.tensors)
        check_agrees(cbuild7, data, api=len(data) < 400_000)
    assert floors and aliases  # 8-bit 50 %: the writer floors and ties tensors of these models


# --------------------------------------------------------------------------------- forgeries

def _forge_seed() -> bytes:
    """int8 / int16 / int32 floored tensors (one of several groups), a tensor without floors,
    and aliases: tensors [w8, w16, t8 = alias w8, w32, t16 = alias w16, plain, t32 = alias
    w32]."""
    rng = np.random.default_rng(7)
    w8 = _pruned(rng, (6, 20), np.int8)
    w16 = _pruned(rng, (5, 2, 3), np.int16)
    w32 = _pruned(rng, (4, 9), np.int32, top=1 << 20)
    arrays = {"w8": w8, "w16": w16, "t8": w8.copy(), "w32": w32, "t16": w16.copy(),
              "plain": _pruned(rng, (3, 8), np.int8, top=100), "t32": w32.copy()}
    return codec.pack(arrays, group=("count", 40),
                      floor={"w8": True, "w16": _smaller(w16, 2), "w32": True})


def _with_alias_fields(mp, recs) -> None:
    """Make codec's entry writer emit the alias records ``recs`` ((gap, back - 1) each, as
    many as the entries have aliases) instead of its own: forged alias records."""
    orig = format_v4._entry_fields

    def fields(entries, dtype_code, ntab, rate, version=4):
        f = orig(entries, dtype_code, ntab, rate, version)
        n = 2 * sum(e.alias >= 0 for e in entries)
        assert len(recs) * 2 == n
        return [("eg", v, 0) for rec in recs for v in rec] + f[n:]

    mp.setattr(format_v4, "_entry_fields", fields)


def _with_floor_k(mp, k: int) -> None:
    """Make codec's entry writer code every tensor's floors with Exp-Golomb order ``k``."""
    mp.setattr(format_v4, "floor_order", lambda floors: k)


def _forgeries(monkeypatch) -> tuple[list[bytes], list[tuple[str, bytes]]]:
    """(valid, invalid) directories forged over _forge_seed's blocks."""
    data = _forge_seed()
    d = read_directory(np.frombuffer(data, np.uint8))
    names = [e.name for e in d.tensors]
    assert data[4] == 7 and _rewrite(data, d.tensors, version=7) == data  # (faithful)
    recs = [(2, 1), (1, 2), (1, 2)]  # t8 -> w8, t16 -> w16, t32 -> w32
    with monkeypatch.context() as mp:
        _with_alias_fields(mp, recs)
        assert _rewrite(data, d.tensors, version=7) == data
    i8, i16, i32, ip = (names.index(n) for n in ("w8", "w16", "w32", "plain"))

    def ents():
        return [copy.copy(e) for e in d.tensors]

    def with_floors(i, floors):
        es = ents()
        es[i].floors = tuple(floors)
        for e in es:  # an alias carries its target's entry, floors included
            if e.alias == i:
                e.floors = tuple(floors)
        return _rewrite(data, es, version=7)

    valid, invalid = [], []
    # floors added to a tensor stored without them, changed, taken away (values change)
    valid.append(with_floors(ip, [2, 0, 5]))
    valid.append(with_floors(i8, [0] * 6))
    valid.append(with_floors(i16, [1, 2, 3, 4, 5]))
    valid.append(with_floors(i32, [0, 1 << 20, 7, 1]))
    es = ents()
    for e in es:
        e.floors = ()
    valid.append(_rewrite(data, es, version=7))           # floors_on = 0
    for k in (0, 1, 7, 30):                                # every floor_k up to 30
        with monkeypatch.context() as mp:
            _with_floor_k(mp, k)
            valid.append(_rewrite(data, d.tensors, version=7))
    for rec in ((1, 5), (1, 4), (1, 0)):  # t32 (tensor 6) -> w8 (6 - 6), w16 (6 - 5), plain
        with monkeypatch.context() as mp:
            _with_alias_fields(mp, [(2, 1), (1, 2), rec])
            valid.append(_rewrite(data, d.tensors, version=7))
    # invalid: R1, R2, R3, A1, A2, A3
    with monkeypatch.context() as mp:
        _with_floor_k(mp, 31)
        invalid.append(("floor_k 31", _rewrite(data, d.tensors, version=7)))
    invalid.append(("int8 floor 127", with_floors(i8, [0, 0, 127, 0, 0, 0])))
    invalid.append(("int16 floor 32767", with_floors(i16, [0, 32767, 0, 0, 0])))
    invalid.append(("int32 floor 2^31 - 1", with_floors(i32, [0, 0, 0, 2**31 - 1])))
    invalid.append(("int8 floor 126 out of range", with_floors(i8, [126] * 6)))
    invalid.append(("int16 floor out of range", with_floors(i16, [32766, 0, 0, 0, 0])))
    invalid.append(("int32 floor out of range", with_floors(i32, [2**31 - 2, 0, 0, 0])))
    invalid.append(("plain floor out of range", with_floors(ip, [120, 0, 0])))
    for what, recs in (("gap past the last tensor", [(2, 1), (1, 2), (2, 2)]),   # A2: 7
                       ("gap far past", [(2, 1), (1, 2), (1 << 40, 0)]),
                       ("back past tensor 0", [(2, 1), (1, 2), (1, 6)]),         # A3: 7 > 6
                       ("back huge", [(2, 1), (1, 2), (1, 1 << 50)]),
                       ("alias of an alias", [(2, 1), (1, 2), (1, 3)]),          # 6 -> 2 (t8)
                       ("alias of the alias before", [(2, 1), (1, 2), (1, 1)]),  # 6 -> 4 (t16)
                       ("alias of the alias just before", [(2, 1), (1, 2), (0, 0)]),  # 5 -> 4
                       ("first alias at tensor 0", [(0, 0), (3, 2), (1, 2)])):   # 0: back 1
        with monkeypatch.context() as mp:
            _with_alias_fields(mp, recs)
            invalid.append((what, _rewrite(data, d.tensors, version=7)))
    with monkeypatch.context() as mp:  # A1: n_alias > n_tensors - 1
        mp.setattr(format_v4, "v7_field", lambda entries: 2 * len(entries) + 1)
        invalid.append(("n_alias = n_tensors", _rewrite(data, d.tensors, version=7)))
    return valid, invalid


def test_v7_forged_directories(cbuild7, monkeypatch):
    valid, invalid = _forgeries(monkeypatch)
    assert len(valid) == 12 and len(invalid) == 17
    for forged in valid:
        assert forged[4] == 7
        assert _agree_or_reject(cbuild7, forged)  # codec.unpack decodes it; C exactly so
        check_agrees(cbuild7, forged, api=True)
        d = read_directory(np.frombuffer(forged, np.uint8))
        assert [(a, k >= 0) for a, k in _c_list7(cbuild7 / "cdecode", forged)] == \
            [(e.alias, bool(e.floors)) for e in d.tensors]
    for what, forged in invalid:
        with pytest.raises(codec.CorruptError):
            codec.unpack(forged)
        for exe in ("cdecode", "cdecode_small"):
            rc, _, err = run_c(cbuild7 / exe, forged)
            assert rc == 2 and "error -3" in err, (exe, what, rc, err)


@pytest.mark.parametrize("dtype", SIGNED, ids=lambda d: np.dtype(d).name)
def test_v7_floor_range_every_lane(cbuild7, os7, dtype):
    """One row of small values and one value at position p (every 8-byte lane position of the
    -O2 build's 8-at-a-time loop, and the values after the last whole 8 bytes) that the floor
    f takes exactly to vmax / vmin (valid: C decodes it as codec.unpack) or one past it
    (SPK_E_CORRUPT, R3), with a directory forged to floor the tensor."""
    info = np.iinfo(dtype)
    f = int(info.max) - 27
    n = 37
    base = np.random.default_rng(4).integers(-3, 4, (1, n))
    ok = bad = 0
    for p in list(range(0, 18)) + [n - 2, n - 1]:
        for s, valid in ((27, True), (28, False), (-28, True), (-29, False)):
            x = base.copy()
            x[0, p] = s
            data = codec.pack({"w": x.astype(dtype), "z": np.arange(5, dtype=dtype)},
                              floor=None, alias=None, version=7)
            d = read_directory(np.frombuffer(data, np.uint8))
            ents = [copy.copy(e) for e in d.tensors]
            ents[0].floors = (f,)
            forged = _rewrite(data, ents, version=7)
            for build in (cbuild7, os7):
                rc, got, err = run_c(build / "cdecode", forged)
                if valid:
                    want = np.where(x > 0, x + f, np.where(x < 0, x - f, 0)).astype(dtype)
                    assert rc == 0 and got[0] == want.astype(want.dtype.newbyteorder("<"))\
                        .tobytes() and got == expected(forged), (p, s, err)
                else:
                    assert rc == 2 and "error -3" in err, (p, s, rc, err)
            if valid:
                ok += 1
            else:
                with pytest.raises(codec.CorruptError):
                    codec.unpack(forged)
                bad += 1
    assert ok == bad == 40


def test_v7_aliases_count_towards_output_limit(cbuild7):
    """E7 (§36: aliases count towards max_output_bytes like any tensor): a one-group tensor of
    2^30 int8 values (a few payload bits: the rest of its group is zeros) and two aliases of it
    are 3 GiB of output: SPK_E_LIMIT from spk_open, as codec's LimitError."""
    w = np.random.default_rng(3).integers(-3, 4, 64).astype(np.int8)
    data = codec.pack({"w": w, "a1": w.copy(), "a2": w.copy()}, group="tensor", mirror=None,
                      predict=None)
    d = read_directory(np.frombuffer(data, np.uint8))
    assert [e.alias for e in d.tensors] == [-1, 0, 0]
    ents = [copy.copy(e) for e in d.tensors]
    ents[0] = dataclasses.replace(ents[0], shape=(2**30,), group_size=2**30)
    forged = _rewrite(data, ents, version=7)
    with pytest.raises(codec.LimitError):
        codec.unpack(forged)
    for exe in ("cdecode", "cdecode_small"):
        rc, _, err = run_c(cbuild7 / exe, forged)
        assert rc == 2 and "error -5" in err, (exe, rc, err)


def test_v7_alias_targets_checked(cbuild7, monkeypatch):
    """The forged alias records above decode to the tensors they name: t32 pointed at w8 gets
    w8's dtype, shape and values (an alias is its target's entry under its own name)."""
    data = _forge_seed()
    d = read_directory(np.frombuffer(data, np.uint8))
    with monkeypatch.context() as mp:
        _with_alias_fields(mp, [(2, 1), (1, 2), (1, 5)])
        forged = _rewrite(data, d.tensors, version=7)
    fd = read_directory(np.frombuffer(forged, np.uint8))
    assert [e.alias for e in fd.tensors] == [-1, -1, 0, -1, 1, -1, 0]
    got = run_c(cbuild7 / "cdecode", forged)[1]
    ref = codec.unpack(data)
    assert got[6] == ref["w8"].tobytes() and got == expected(forged)


def test_v7_version_bytes(cbuild7):
    """A v7 package read as v6 and a v6 package read as v7 (the v7 varint shifts everything
    after rate): rejected or decoded exactly as codec.unpack; 8 is unsupported."""
    v7 = _forge_seed()
    v6 = codec.pack({"k": _values(np.random.default_rng(1), (4, 3, 3, 2), np.int8)},
                    predict={"k": (3, 1)}, floor=None, alias=None)
    assert v6[4] == 6
    for forged in (_with_version_byte(v7, 6), _with_version_byte(v6, 7)):
        _agree_or_reject(cbuild7, forged)
    for pkg in (v7, v6):
        eight = _with_version_byte(pkg, 8)
        assert expected(eight) is None
        for exe in ("cdecode", "cdecode_small"):
            rc, _, err = run_c(cbuild7 / exe, eight)
            assert rc == 2 and "error -2" in err, (exe, rc, err)
    empty = codec.pack({}, version=7)  # no tensor: v7 = 0
    assert empty[4] == 7 and _agree_or_reject(cbuild7, empty)


def test_v7_every_truncation(cbuild7):
    rng = np.random.default_rng(2)
    w = _pruned(rng, (6, 12), np.int8)
    data = codec.pack({"w": w, "b": np.arange(-6, 6, dtype=np.int16), "t": w.copy(),
                       "v": _pruned(rng, (3, 4), np.int32)},
                      group=("count", 24), floor={"w": True, "v": True})
    assert data[4] == 7
    check_agrees(cbuild7, data, api=True)
    for n in range(len(data)):
        assert expected(data[:n]) is None
        for exe in ("cdecode", "cdecode_small"):
            rc, _, err = run_c(cbuild7 / exe, data[:n])
            assert rc == 2, (exe, n, rc, err)


def test_v7_single_version_and_size_builds(tmp_path):
    """-DSPK_ONLY_V7 reads v7 and rejects v6 (SPK_E_UNSUPPORTED); -DSPK_ONLY_V6 rejects v7; the
    -Os build decodes v7 as codec.unpack."""
    pk = [_package(dt, ("count", 64), seed=3)[0] for dt in SIGNED] + [_forge_seed()]
    v6 = codec.pack({"k": _values(np.random.default_rng(1), (4, 3, 3, 2), np.int8)},
                    predict={"k": (3, 1)}, floor=None, alias=None)
    assert v6[4] == 6
    for flags in ("-O2 -DSPK_ONLY_V7", "-O2 -DSPK_ONLY_V6", "-Os", "-Os -DSPK_SMALL"):
        build = tmp_path / "_".join(f.lstrip("-") for f in flags.split())
        r = _make(build, "all", CFLAGS=f"{flags} -Werror")
        assert r.returncode == 0, r.stdout + r.stderr
        for data in pk:
            assert data[4] == 7
            if "ONLY_V6" in flags:
                rc, _, err = run_c(build / "cdecode", data)
                assert rc == 2 and "error -2" in err
            else:
                assert _agree_or_reject(build, data, exes=("cdecode",))
        rc, got, err = run_c(build / "cdecode", v6)
        if "ONLY_V7" in flags:
            assert rc == 2 and "error -2" in err
        else:
            assert rc == 0 and got == expected(v6)


def test_v7_sanitizers_on_damaged_packages(asan7, monkeypatch):
    rng = np.random.default_rng(9)
    w = _pruned(rng, (6, 3, 2, 2), np.int8)
    seeds = [codec.pack({"conv.weight": w, "fc.weight": _pruned(rng, (5, 14), np.int16),
                         "big": _pruned(rng, (4, 9), np.int32, top=1 << 24),
                         "tied": w.copy(), "bias": _values(rng, (6,), np.int8),
                         "u": _values(rng, (4, 5), np.uint8), "tied2": w.copy()},
                        group=("count", 20),
                        floor={"conv.weight": True, "fc.weight": True, "big": True}),
             _forge_seed()]
    d = read_directory(np.frombuffer(seeds[0], np.uint8))
    assert _rewrite(seeds[0], d.tensors, version=7) == seeds[0]
    seeds.append(_rewrite(seeds[0], d.tensors, version=7, chunk_log2=6))  # 64-byte chunks
    valid, invalid = _forgeries(monkeypatch)
    pr = random.Random(77)
    stats = {"exit0": 0, "exit2": 0, "meta": 0}
    for _, m in invalid:
        _check_sanitized(asan7, m, "forged", stats)
    assert stats["exit2"] == 2 * len(invalid)
    for m in valid:
        _check_sanitized(asan7, m, "forged valid", stats)
    for seed in seeds:
        assert seed[4] == 7
        for kind, m in _mutants(seed, pr, 40):
            _check_sanitized(asan7, m, kind, stats)
    assert stats["exit2"] > 50 and stats["exit0"] > len(valid)
    # the decode paths (spk_decode, spk_decode_many, spk_tensor_at, streaming) on valid v7
    # packages, under the sanitizers
    for dt, group in ((np.int8, ("count", 7)), (np.int32, "kernel")):
        data = _package(dt, group, seed=4)[0]
        with tempfile.NamedTemporaryFile(suffix=".spkg") as f:
            f.write(data)
            f.flush()
            for exe in ("cdecode_asan", "cdecode_asan_small"):
                r = subprocess.run([str(asan7 / exe), "--check-api", f.name], capture_output=True,
                                   text=True, timeout=300, env={**os.environ, **SAN_ENV})
                assert "Sanitizer" not in r.stderr and "runtime error" not in r.stderr, r.stderr
                assert r.returncode == 0, f"{exe}: {r.stdout}{r.stderr}"


V7_VECTORS = sorted((Path(__file__).parent / "vectors" / "v7").glob("*.bin"))


@pytest.mark.skipif(not V7_VECTORS, reason="no golden vectors in tests/vectors/v7")
def test_v7_golden_vectors(cbuild7):
    """Every v7 golden vector (written once by make_vectors.py --v7) decodes in C exactly as
    codec.unpack decodes it."""
    assert len(V7_VECTORS) == 5
    assert sum(_agree_or_reject(cbuild7, p.read_bytes()) for p in V7_VECTORS) == 5
