"""The small kernels of the fast path (codec/fastpath.py) against their plain numpy forms:
``tables.table_bits`` (per-table payload bits), ``tables.fitting`` (groups whose
values cannot leave the dtype) and ``mirror.inverse_entries`` (every mirror of a dtype in
one call)."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import codec
from codec.format import directory_arrays_v2, directory_bytes, DEFAULT_LIMITS
from codec.kernels.directory import (F_BOFF, F_DTYPE, F_MLEN, F_MPERIOD, F_MSKIP, F_NUMEL,
                                     F_VOFF)
from codec.kernels.mirror import inverse, inverse_entries
from codec.kernels.tables import fitting, table_bits


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 9), st.lists(st.tuples(st.integers(0, 5000), st.integers(0, 12)),
                                   max_size=60), st.integers(0, 20000))
def test_table_bits_is_bincount(ntab, groups, min_bits):
    lens = np.array([g[0] for g in groups], np.int64)
    tid = np.array([min(g[1], ntab - 1) for g in groups], np.int64)
    glo = np.cumsum(np.concatenate([[0], lens]))[:-1].astype(np.int64) + 17
    ghi = glo + lens
    ts, total = table_bits(glo, ghi, tid, np.int64(ntab), np.int64(min_bits))
    per = np.bincount(tid, weights=lens, minlength=ntab) if groups else np.zeros(ntab)
    assert ts.tolist() == np.flatnonzero(per >= min_bits).tolist()
    assert int(total) == int(lens.sum())


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 300), min_size=1, max_size=6),
       st.lists(st.tuples(st.integers(-1, 7), st.integers(-400, 400)), max_size=40),
       st.sampled_from([(-128, 127), (0, 255), (-32768, 32767)]))
def test_count_fitting_is_the_mask(bound, groups, rng):
    bound = np.array(bound, np.int64)
    tid = np.array([g[0] for g in groups], np.int64)
    voff = np.array([g[1] for g in groups], np.int64)
    vmin, vmax = rng
    mask = [0 <= t < bound.size and v - bound[t] >= vmin and v + bound[t] <= vmax
            for t, v in zip(tid.tolist(), voff.tolist())]
    want = sum(mask)
    got = np.zeros(tid.size, np.bool_)
    assert fitting(bound, tid, voff, np.int64(vmin), np.int64(vmax), got) == want
    assert got.tolist() == mask


def _entries(data: bytes):
    buf = np.frombuffer(data, np.uint8)
    version, _f, dir_off, _n, raw = directory_bytes(buf, check_crc=True)
    got = directory_arrays_v2(raw, dir_off, DEFAULT_LIMITS, version)
    return buf, got[3]


def test_inverse_entries_is_inverse_per_tensor():
    rng = np.random.default_rng(3)
    tensors = {}
    for i, dt in enumerate([np.int8, np.int16, np.int8, np.uint8, np.int16]):
        half = rng.integers(-20, 21, (12, 8))
        sign = 1 if i % 2 else -1
        rows = np.concatenate([half, sign * half[:, ::-1]], axis=1)
        if dt == np.uint8:
            rows = rows + 128
        tensors[f"t{i}"] = rows.astype(dt)
        tensors[f"plain{i}"] = rng.integers(-3, 4, (5, 7)).astype(dt if dt != np.uint8 else np.int8)
    data = codec.pack(tensors, mirror={k: (16, 0) for k in tensors if k.startswith("t")})
    assert data[4] == 4
    buf, ents = _entries(data)
    assert (ents[:, F_MPERIOD] > 0).sum() == 5
    ref = codec.unpack(data)
    for code in np.unique(ents[:, F_DTYPE]).tolist():
        sel = ents[:, F_DTYPE] == code
        names = [k for k, s in zip(tensors, sel) if s]
        dtype = ref[names[0]].dtype
        # the same values through both routes (one call a tensor, one call a dtype): they
        # must agree value for value, whatever the input
        flat = np.concatenate([ref[k].ravel() for k in names])
        one = flat.copy()
        both = flat.copy()
        base = 0
        for i in np.flatnonzero(sel).tolist():
            n = int(ents[i, F_NUMEL])
            if ents[i, F_MPERIOD] > 0:
                assert inverse(one, np.int64(base), np.int64(n), np.int64(ents[i, F_MPERIOD]),
                               np.int64(ents[i, F_MSKIP]), buf,
                               np.int64(ents[i, F_BOFF] + ents[i, F_MLEN]),
                               np.int64(ents[i, F_VOFF]), np.int64(8 * dtype.itemsize),
                               dtype.kind == "i") == 0
            base += n
        assert inverse_entries(both, ents, np.int64(code), buf, np.int64(8 * dtype.itemsize),
                               dtype.kind == "i") == 0
        assert np.array_equal(one, both)
        assert not np.array_equal(both, flat)  # (the mirrors did something)


def test_inverse_entries_reports_a_bad_table():
    assert inverse_entries(np.zeros(4, np.int8), np.zeros((1, 3), np.int64), np.int64(1),
                           np.zeros(4, np.uint8), np.int64(8), True) == -1
