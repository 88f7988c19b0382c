"""Multi-set decode tables (kernels/directory.build_multi, kernels/decode.decode_groups_multi),
and the plain kernel without whole-set value checks (kernels/decode.decode_groups_wide).

Tables whose entries average >= 2 whole sets per 12-bit lookup (dense low-bit weights) are
decoded by a kernel that takes up to three sets per lookup.  It must give the same values as
the plain kernel on valid input and, on corrupt input, the same error (type, message, byte
offset), since it falls back to one set whenever a check fails.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

import codec
import codec.package as P
import codec.writer  # noqa: F401  (monkeypatched below)
from codec.errors import CodecError
from codec.kernels.directory import _multi_entry, build_multi, multi_worth
from codec.kernels.tables import table_order

OFF = 1 << 62  # MULTI_MIN_BITS that turns the multi-set kernel off


def _dense4(seed: int, shape=(48, 24, 3, 3), dtype=np.int8, shift: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    w = np.clip(np.round(rng.laplace(0, 0.8, size=shape)), -8, 7).astype(np.int64) + shift
    return {"a.weight": w.astype(dtype), "b.weight": w[::-1].copy().astype(dtype)}


@njit(cache=False)
def _reference_entries(luts, ts, out):
    for k in range(ts.size):
        for p in range(luts.shape[1]):
            out[k, p] = _multi_entry(luts[ts[k]], p)[0]


def _decode(data: bytes, multi: bool, monkeypatch) -> object:
    monkeypatch.setattr(P, "MULTI_MIN_BITS", 0 if multi else OFF)
    try:
        return codec.Package(data, verify=False).read_all()
    except CodecError as exc:
        return (type(exc).__name__, str(exc), exc.offset, exc.value)


def _same(a, b) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    return a == b


@pytest.mark.parametrize("seed", range(3))
def test_fast_build_matches_entry_function(seed):
    data = codec.pack(_dense4(seed))
    luts = codec.Package(data)._luts
    ts = np.arange(luts.shape[0], dtype=np.int64)
    fast = np.zeros((ts.size, luts.shape[1]), np.uint64)
    slow = np.zeros_like(fast)
    assert build_multi(luts, ts, fast) == 0
    _reference_entries(luts, ts, slow)
    assert np.array_equal(fast, slow)
    worth = np.zeros(ts.size, np.int64)
    assert multi_worth(luts, ts, worth) == 0
    assert worth.any()  # dense 4-bit tables are worth it: the kernel below is really used
    assert build_multi(luts, ts, fast[:0]) == -1  # output too small: refused, not written
    assert multi_worth(luts, ts + luts.shape[0], worth) == -1


def test_multi_kernel_used_and_exact(monkeypatch):
    arrays = _dense4(7)
    data = codec.pack(arrays)
    monkeypatch.setattr(P, "MULTI_MIN_BITS", 0)
    pkg = codec.Package(data)
    out = pkg.read_all()
    rows, mluts, bounds = pkg._multi_cache
    assert mluts.shape[0] >= 1 and (rows >= 0).any()
    assert bounds.shape == (mluts.shape[0],) and 1 <= bounds.min() and bounds.max() <= 8
    for k, v in arrays.items():
        assert np.array_equal(out[k], v)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), sparsity=st.sampled_from([0.0, 0.2, 0.6]),
       unsigned=st.booleans())
def test_multi_equals_plain_on_valid_input(seed, sparsity, unsigned):
    rng = np.random.default_rng(seed)
    shift = int(rng.integers(200, 248)) if unsigned else 0
    arrays = _dense4(seed, shape=(int(rng.integers(1, 40)), 16, 3, 3),
                     dtype=np.uint8 if unsigned else np.int8, shift=shift)
    for v in arrays.values():
        v[rng.random(v.shape) < sparsity] = shift
    data = codec.pack(arrays)
    with pytest.MonkeyPatch.context() as mp:
        a = _decode(data, True, mp)
        b = _decode(data, False, mp)
    assert isinstance(a, dict) and _same(a, b)
    assert all(np.array_equal(a[k], arrays[k]) for k in arrays)


def _flips_agree(data: bytes, name: str, seed: int, rounds: int, one, other) -> int:
    """Random 1-3 bit flips in tensor ``name``'s payload, ``rounds`` times: ``one(bad)`` and
    ``other(bad)`` give the same values or the same error; returns how many were errors."""
    e = codec.Package(data).entry(name)
    lo = e.block_offset + e.meta_length + e.group_table_bytes
    hi = e.block_offset + e.block_length
    rng = np.random.default_rng(seed)
    errors = 0
    for _ in range(rounds):
        bad = bytearray(data)
        for _ in range(int(rng.integers(1, 4))):
            bad[int(rng.integers(lo, hi))] ^= 1 << int(rng.integers(0, 8))
        a, b = one(bytes(bad)), other(bytes(bad))
        assert _same(a, b), (a if not isinstance(a, dict) else "values",
                             b if not isinstance(b, dict) else "values")
        errors += not isinstance(a, dict)
    return errors


@pytest.mark.parametrize("unsigned", [False, True])
def test_multi_equals_plain_on_corrupt_payload(unsigned, monkeypatch):
    """Bit flips in the payload (CRC checks off so the kernels see them): both kernels give the
    same values or the same error at the same offset."""
    shift = 244 if unsigned else 0  # unsigned: zero value 244, so flips can leave 0..255
    arrays = _dense4(11, dtype=np.uint8 if unsigned else np.int8, shift=shift)
    errors = _flips_agree(codec.pack(arrays), "a.weight", 3, 150,
                          lambda b: _decode(b, True, monkeypatch),
                          lambda b: _decode(b, False, monkeypatch))
    assert errors > 20  # the flips really reached the kernels' error paths


@pytest.mark.parametrize("shift, multi", [(0, True), (120, True), (248, False), (7, False)])
def test_groups_whose_values_could_leave_the_dtype_take_the_checked_kernel(shift, multi,
                                                                          monkeypatch):
    """decode_groups_multi does not range-check whole-set values, so a group goes there only if
    its value offset +- its table's largest |value| (<= 8 here) fits the dtype: uint8 data
    around 248 (248 + 8 > 255) and around 7 (7 - 8 < 0) take the plain kernel, which checks
    every value; data around 0 (int8) or 120 (uint8) take the multi-set kernel.  (The encoder's
    small-model search is off here: on these 20 K values it picks an alphabet whose tables'
    largest whole-set |value| is 7, and 248 + 7 fits, so both cases would take the multi-set
    kernel, rightly; this test is about the routing, not the tables.)"""
    monkeypatch.setattr(codec.writer, "SMALL_MODEL_PARAMS", 0)
    arrays = _dense4(5, dtype=np.int8 if shift == 0 else np.uint8, shift=shift)
    if shift == 7:
        arrays = {k: np.clip(v.astype(np.int64), 0, 255).astype(np.uint8) for k, v in arrays.items()}
    data = codec.pack(arrays)
    calls = []
    real = P.decode_groups_multi

    def spy(*args):
        calls.append(args[4].size)  # groups handed to the kernel
        return real(*args)

    monkeypatch.setattr(P, "decode_groups_multi", spy)
    monkeypatch.setattr(P, "MULTI_MIN_BITS", 0)
    pkg = codec.Package(data)
    out = pkg.read_all()
    assert all(np.array_equal(out[k], v) for k, v in arrays.items())
    assert (pkg._multi_cache[1].shape[0] >= 1)  # the tables do have multi-set entries
    assert (sum(calls) > 0) == multi, calls


# ---------------------------------------------------------------------------------------------
# decode_groups_wide: the plain kernel without the whole-set value check

def _wide8(seed: int, dtype=np.int8, shift: int = 0) -> dict:
    """8-bit-like weights (|value| <= 100) around ``shift``: most values decode from
    whole-set entries, whose largest |value| is then <= 100."""
    rng = np.random.default_rng(seed)
    w = np.clip(np.round(rng.laplace(0, 14, size=(64, 8, 3, 3))), -100, 100).astype(np.int64)
    info = np.iinfo(dtype)
    return {"w": np.clip(w + shift, info.min, info.max).astype(dtype)}


@pytest.mark.parametrize("dtype, shift, wide", [(np.int8, 0, True), (np.uint8, 128, True),
                                                (np.uint8, 250, False), (np.uint8, 3, False),
                                                (np.int16, 0, True)])
def test_plain_groups_that_could_leave_the_dtype_take_the_checked_kernel(dtype, shift, wide,
                                                                         monkeypatch):
    """decode_groups_wide does not range-check whole-set values, so a group goes there only
    if its value offset +- its table's largest whole-set |value| fits the dtype: uint8 data
    around 250 or 3 take decode_groups, data around 0 (int8, int16) or 128 (uint8) take
    decode_groups_wide; both the general path and unpack's fast path route so."""
    arrays = _wide8(9, dtype, shift)
    data = codec.pack(arrays, group="kernel")
    calls = {"wide": 0, "checked": 0}
    real_w, real_c = P.decode_groups_wide, P.decode_groups

    def spy(name, real):
        def f(*args):
            calls[name] += args[4].size
            return real(*args)
        return f
    monkeypatch.setattr(P, "decode_groups_wide", spy("wide", real_w))
    monkeypatch.setattr(P, "decode_groups", spy("checked", real_c))
    monkeypatch.setattr(P, "MULTI_MIN_BITS", OFF)
    for out in (codec.Package(data).read_all(), codec.unpack(data)):
        assert np.array_equal(out["w"], arrays["w"])
    assert (calls["wide"] > 0, calls["checked"] > 0) == (wide, not wide), calls
    luts, bound = codec.Package(data)._luts_bounds
    assert 50 <= bound.max() <= 100  # (the bound is the tables' largest whole-set |value|)


@pytest.mark.parametrize("unsigned", [False, True])
def test_wide_equals_checked_on_corrupt_payload(unsigned, monkeypatch):
    """Bit flips in the payload (CRC checks off): routing groups to decode_groups_wide gives
    the same values or the same error at the same offset as decode_groups for all."""
    arrays = _wide8(4, np.uint8 if unsigned else np.int8, 128 if unsigned else 0)
    monkeypatch.setattr(P, "MULTI_MIN_BITS", OFF)

    def checked(b):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(P, "decode_groups_wide", P.decode_groups)
            return _decode(b, False, mp)
    errors = _flips_agree(codec.pack(arrays, group="kernel"), "w", 8, 120,
                          lambda b: _decode(b, False, monkeypatch), checked)
    assert errors > 20


# ---------------------------------------------------------------------------------------------
# groups decoded table by table (package._run_parts, kernels/tables.table_order)

@settings(max_examples=60, deadline=None)
@given(tid=st.lists(st.integers(0, 6), max_size=80))
def test_table_order_is_a_stable_sort_by_table(tid):
    t = np.array(tid, np.int64)
    perm = np.full(t.size, -7, np.int64)
    rc = table_order(t, np.int64(7), perm)
    if t.size and (np.diff(t) < 0).any():
        assert rc == 1 and np.array_equal(perm, np.argsort(t, kind="stable"))
    else:  # already in table order: nothing to permute, perm untouched
        assert rc == 0 and (perm == -7).all()


def test_table_order_refuses_bad_ids_and_short_output():
    perm = np.full(3, -7, np.int64)
    assert table_order(np.array([2, 0, 7], np.int64), np.int64(7), perm) == -1
    assert table_order(np.array([2, -1, 0], np.int64), np.int64(7), perm) == -1
    assert table_order(np.array([2, 1, 0, 0], np.int64), np.int64(7), perm) == -1
    assert (perm == -7).all()


def _mixed_scales(seed: int) -> dict:
    """8-bit channels of three scales, one group a channel: the groups of a tensor take
    several tables, out of table order."""
    rng = np.random.default_rng(seed)
    sc = np.array([0.4, 2.0, 8.0])[np.arange(48) % 3]
    w = np.clip(np.round(rng.laplace(0, 1, size=(48, 16, 3, 3)) * sc[:, None, None, None]),
                -127, 127).astype(np.int8)
    return {"a.weight": w, "b.weight": w[::-1].copy()}


def _decode_order(data: bytes, by_table: bool, monkeypatch, fast: bool = False) -> object:
    monkeypatch.setattr(P, "ORDER_MIN_BITS", 0 if by_table else OFF)
    monkeypatch.setattr(P, "ORDER_MIN_RATE", 0)
    try:
        if fast:
            return codec.unpack(data)
        return codec.Package(data, verify=False).read_all()
    except CodecError as exc:
        return (type(exc).__name__, str(exc), exc.offset, exc.value)


def test_table_order_used_and_exact(monkeypatch):
    arrays = _mixed_scales(1)
    data = codec.pack(arrays, group="kernel")
    seen = []

    def spy(t, n, perm):
        rc = table_order(t, n, perm)
        seen.append(rc)
        return rc
    monkeypatch.setattr(P, "table_order", spy)
    for fast in (False, True):
        out = _decode_order(data, True, monkeypatch, fast)
        assert all(np.array_equal(out[k], v) for k, v in arrays.items())
    assert 1 in seen  # the groups really were reordered
    seen.clear()
    _decode_order(data, False, monkeypatch)
    assert not seen  # below ORDER_MIN_BITS: group order, no sort


def test_table_order_equals_group_order_on_corrupt_payload(monkeypatch):
    """Bit flips in the payload (CRC checks off): decoding table by table gives the values or
    the error (type, message, offset) of decoding in group order."""
    data = codec.pack(_mixed_scales(2), group="kernel")
    errors = _flips_agree(data, "a.weight", 5, 120,
                          lambda b: _decode_order(b, True, monkeypatch),
                          lambda b: _decode_order(b, False, monkeypatch))
    assert errors > 20
