"""Encoder kernels (codec/kernels/plan.py, codec/kernels/encode.py): status codes on bad
arguments, and equivalence with the straightforward (numpy / pure Python) forms they replace."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st

from codec.huffman import MAX_CODE_LEN, huffman_lengths
from codec.kernels.encode import (count_pairs, fill_pairs, group_bits, merge_first_bytes,
                                  owner_stats, pack_groups)
from codec.kernels.plan import (argmin_tables, code_len_matrix, cost_matrix, csr_table_sums,
                                dedup_pairs, gamma_symbol_list, group_hist_csr, limit_lengths,
                                model_cost_kernel, row_entropy_csr, tensor_hist_row,
                                weighted_owner_stats)
from codec.kernels.status import ERR_BUFFER, OK
from codec.kernels.symbols import SYM_FIRST, num_classes
from codec.planner import TABLE_BITS_PER_CODE, TABLE_FIXED_BITS, prepare_many


def _pairs(rng, n_groups, size, sparsity, maxmag=40):
    gs = rng.integers(0, size + 1, n_groups)
    runs, vals, ps = [], [], [0]
    for g in gs:
        x = rng.integers(1, maxmag + 1, g) * rng.choice([-1, 1], g)
        x[rng.random(g) < sparsity] = 0
        run = 0
        for v in x:
            if v == 0:
                run += 1
            else:
                runs.append(run)
                vals.append(v)
                run = 0
        ps.append(len(runs))
    return (np.array(runs, np.int32), np.array(vals, np.int64), np.array(ps, np.int64))


def _dense_group_hist(runs, vals, ps, kref, nrun, nsym):
    G = ps.size - 1
    owner = np.repeat(np.arange(G), np.diff(ps))
    H, _ = owner_stats(runs, vals, owner, np.ones(G, np.int64), np.int64(kref), np.int64(nrun),
                       np.int64(nsym))
    return H


def _group_csr(rng, kref, nrun, sparsity):
    """Random groups of pairs and their group_hist_csr rows: (runs, vals, ps, nsym, G, indptr,
    indices, data, nnz)."""
    runs, vals, ps = _pairs(rng, int(rng.integers(0, 12)), 60, sparsity)
    nsym = SYM_FIRST + num_classes(40, kref) * nrun
    G = ps.size - 1
    cap = min(runs.size + 2 * G, G * nsym)
    indptr = np.empty(G + 1, np.int64)
    indices = np.empty(cap, np.int64)
    data = np.empty(cap)
    status, nnz = group_hist_csr(runs, vals, ps, kref, nrun, nsym, indptr, indices, data)
    assert status == OK
    return runs, vals, ps, nsym, G, indptr, indices, data, nnz


@given(st.integers(0, 2**32 - 1), st.integers(0, 3), st.sampled_from([1, 2, 3, 16]),
       st.floats(0, 0.95))
def test_group_hist_csr_matches_dense(seed, kref, nrun, sparsity):
    rng = np.random.default_rng(seed)
    runs, vals, ps, nsym, G, indptr, indices, data, nnz = _group_csr(rng, kref, nrun, sparsity)
    H = _dense_group_hist(runs, vals, ps, kref, nrun, nsym)
    D = np.zeros((G, nsym))
    for g in range(G):
        cols = indices[indptr[g]:indptr[g + 1]]
        assert np.all(np.diff(cols) > 0)
        D[g, cols] = data[indptr[g]:indptr[g + 1]]
    assert nnz == np.count_nonzero(H) and np.array_equal(D, H)
    # the one-row form and the weighted (deduplicated) form agree with owner_stats too
    Ht = np.zeros(nsym, np.int64)
    X = np.zeros(1, np.int64)
    assert tensor_hist_row(runs, vals, G, kref, nrun, nsym, Ht, X) == OK
    H1, X1 = owner_stats(runs, vals, np.zeros(runs.size, np.int64), np.array([G]), kref, nrun, nsym)
    assert np.array_equal(Ht, H1[0]) and X[0] == X1[0]
    owner = np.repeat(np.arange(G), np.diff(ps)).astype(np.int64)
    o3, r3, m3, c3 = (np.empty(runs.size, np.int64) for _ in range(4))
    status, n3 = dedup_pairs(owner, runs, vals, 4, 8, o3, r3, m3, c3)  # small caps: both paths
    assert status == OK and c3[:n3].sum() == runs.size
    eob = np.ones(G, np.int64)
    status, Hw, Xw = weighted_owner_stats(o3[:n3], r3[:n3], m3[:n3], c3[:n3], G, eob, kref, nrun, nsym)
    Ho, Xo = owner_stats(runs, vals, owner, eob, kref, nrun, nsym)
    assert status == OK and np.array_equal(Hw, Ho) and np.array_equal(Xw, Xo)


def _old_limit(weights, lens, limit):
    lens = np.minimum(lens, limit).astype(np.int64)
    unit = 1 << limit
    kraft = int(np.sum(1 << (limit - lens)))
    order = np.lexsort((np.arange(lens.size), weights))
    while kraft > unit:
        for i in order:
            if lens[i] < limit:
                kraft -= 1 << (limit - lens[i] - 1)
                lens[i] += 1
                if kraft <= unit:
                    break
    for i in order[::-1]:
        while lens[i] > 1 and kraft + (1 << (limit - lens[i])) <= unit:
            kraft += 1 << (limit - lens[i])
            lens[i] -= 1
    return lens


@given(st.lists(st.integers(1, 10**6), min_size=2, max_size=300), st.integers(4, 12))
def test_limit_lengths_matches_python(weights, limit):
    from codec.kernels.tables import huffman_depths
    w = np.array(weights, np.int64)
    if w.size > (1 << limit):
        return
    depths = huffman_depths(w)
    lens = depths.copy()
    assert limit_lengths(w, lens, limit) == OK
    assert np.array_equal(lens, _old_limit(w, depths, limit))
    assert np.sum(2.0 ** -lens) <= 1.0


def _old_symbol_list(lengths):
    bits = []
    for ln in range(1, MAX_CODE_LEN + 1):
        prev = -1
        for s in np.flatnonzero(lengths == ln).tolist():
            x = s - prev
            nb = x.bit_length()
            bits += [0] * (nb - 1) + [(x >> (nb - 1 - i)) & 1 for i in range(nb)]
            prev = s
    bits += [0] * ((-len(bits)) % 8)
    return np.packbits(np.array(bits, np.uint8)).tobytes()


@given(st.lists(st.integers(0, 50), min_size=1, max_size=400))
def test_gamma_symbol_list_matches_python(counts):
    lengths = huffman_lengths(np.array(counts, np.int64))
    buf = np.zeros(5 * lengths.size + 8, np.uint8)
    status, n = gamma_symbol_list(lengths, MAX_CODE_LEN, buf)
    assert status == OK and buf[:n].tobytes() == _old_symbol_list(lengths)
    assert gamma_symbol_list(lengths, MAX_CODE_LEN, np.zeros(0, np.uint8))[0] in (OK, ERR_BUFFER)


def _code_len(P):
    return np.maximum(1.0, -np.log2(np.where(P > 0, P, 1.0)))


@given(st.integers(0, 2**32 - 1))
def test_cost_matrix_matches_dense(seed):
    rng = np.random.default_rng(seed)
    G, T, n = int(rng.integers(1, 30)), int(rng.integers(1, 6)), int(rng.integers(2, 40))
    H = rng.integers(0, 5, (G, n)) * (rng.random((G, n)) < 0.4)
    S = rng.integers(0, 50, (T, n)) * (rng.random((T, n)) < 0.8)
    mask = H != 0
    indptr = np.concatenate([[0], np.cumsum(mask.sum(axis=1))]).astype(np.int64)
    r, c = np.nonzero(mask)
    data = H[r, c].astype(np.float64)
    LT = code_len_matrix(S.astype(np.float64), np.zeros((1, 1), np.uint8), 0)
    costT = np.empty((T, G))
    assert cost_matrix(indptr, c.astype(np.int64), data, LT, costT) == OK
    P = S / np.maximum(S.sum(axis=1, keepdims=True), 1)
    want = H @ _code_len(P).T
    uncovered = ((H[:, None, :] > 0) & (S[None] == 0)).any(axis=2)
    want[uncovered] = np.inf
    assert np.allclose(costT.T, want, rtol=1e-12)
    out = np.empty(G, np.int64)
    assert argmin_tables(costT, out) == OK and np.array_equal(out, costT.argmin(axis=0))
    sums_st, sums = csr_table_sums(indptr, c.astype(np.int64), data, np.zeros(G, np.int64), 1, n)
    assert sums_st == OK and np.array_equal(sums[0], H.sum(axis=0))
    ent = np.empty(G)
    assert row_entropy_csr(indptr, c.astype(np.int64), data, ent) == OK
    Hf = H.astype(np.float64)
    want_ent = (Hf * _code_len(Hf / np.maximum(Hf.sum(axis=1, keepdims=True), 1))).sum(axis=1)
    assert np.allclose(ent, want_ent)


def _old_model_cost(H, X, w):
    def row_entropy(H):
        H = H.astype(np.float64)
        return (H * _code_len(H / np.maximum(H.sum(axis=1, keepdims=True), 1))).sum(axis=1)

    def table_bits(H):
        return TABLE_FIXED_BITS + TABLE_BITS_PER_CODE * np.count_nonzero(H, axis=-1)
    k = np.count_nonzero(H, axis=1)
    own = (row_entropy(H) + np.maximum(k - 1, 0) / (2 * np.log(2))) * w + table_bits(H)
    H = H * w[:, None]
    X = X * w
    S = H.sum(axis=0)
    P = S / max(S.sum(), 1)
    shared = H @ _code_len(P)
    return float(np.minimum(own, shared).sum() + X.sum() + table_bits(S[None])[0])


@given(st.integers(0, 2**32 - 1))
def test_model_cost_matches_numpy(seed):
    rng = np.random.default_rng(seed)
    n, nsym = int(rng.integers(1, 8)), int(rng.integers(2, 30))
    H = rng.integers(0, 20, (n, nsym)) * (rng.random((n, nsym)) < 0.5)
    X = rng.integers(0, 100, n)
    w = rng.random(n) * 4
    status, bits = model_cost_kernel(H, X, w, float(TABLE_FIXED_BITS), float(TABLE_BITS_PER_CODE))
    assert status == OK and np.isclose(bits, _old_model_cost(H, X, w), rtol=1e-12)


@given(st.integers(0, 2**32 - 1), st.floats(0, 0.95))
def test_pack_groups_split_ranges_match_one_call(seed, sparsity):
    """Packing groups in ranges (as threads do), first bytes merged after, gives the same
    bytes as one call, and each group's length is what group_bits computed."""
    rng = np.random.default_rng(seed)
    runs, vals, ps = _pairs(rng, int(rng.integers(1, 14)), 40, sparsity, maxmag=300)
    G = ps.size - 1
    kref, nrun = 1, 4
    nsym = SYM_FIRST + num_classes(300, kref) * nrun
    H = _dense_group_hist(runs, vals, ps, kref, nrun, nsym)
    lens = huffman_lengths(H.sum(axis=0))[None].astype(np.uint8)
    from codec.huffman import canonical_codes
    codes = canonical_codes(lens[0]).astype(np.uint32)[None]
    tid = np.zeros(G, np.int64)
    krefs, nruns = np.array([kref]), np.array([nrun])
    bits = np.zeros(G, np.int64)
    assert group_bits(runs, vals, ps, tid, krefs, nruns, lens, bits, 0, G) == OK
    gstart = np.concatenate([[0], np.cumsum(bits)[:-1]]).astype(np.int64)
    nbytes = (int(bits.sum()) + 7) // 8

    def packed(cuts):
        out = np.zeros(nbytes, np.uint8)
        first = np.zeros(G, np.uint8)
        status = np.zeros(G, np.int64)
        for a, b in zip(cuts[:-1], cuts[1:]):
            assert pack_groups(runs, vals, ps, tid, krefs, nruns, codes, lens, gstart, bits, out,
                               first, status, a, b) == OK
        assert not status.any()
        assert merge_first_bytes(out, first, gstart) == OK
        return out.tobytes()

    one = packed([0, G])
    cuts = sorted({0, G, *rng.integers(0, G + 1, 3).tolist()})
    assert packed(cuts) == one


def test_kernels_reject_bad_arguments():
    z = np.zeros(0, np.int64)
    i32 = np.zeros(4, np.int32)
    v = np.ones(4, np.int64)
    ps = np.array([0, 4], np.int64)
    # group histogram: indptr of the wrong size, and too little room for the entries
    assert group_hist_csr(i32, v, ps, 0, 1, 4, np.zeros(5, np.int64), z, np.zeros(0))[0] == ERR_BUFFER
    assert group_hist_csr(i32, v, ps, 0, 1, 4, np.zeros(2, np.int64), np.zeros(1, np.int64),
                          np.zeros(1))[0] == ERR_BUFFER
    assert group_hist_csr(i32, v, np.array([0, 9]), 0, 1, 4, np.zeros(2, np.int64),
                          np.zeros(9, np.int64), np.zeros(9))[0] == ERR_BUFFER
    assert tensor_hist_row(i32, v, 1, 0, 1, 8, np.zeros(4, np.int64), np.zeros(1, np.int64)) == ERR_BUFFER
    assert weighted_owner_stats(np.array([3]), np.array([0]), np.array([1]), np.array([1]), 1,
                                np.ones(1, np.int64), 0, 1, 4)[0] == ERR_BUFFER
    assert dedup_pairs(np.array([1, 0]), np.zeros(2, np.int32), v[:2], 4, 4, *(np.zeros(2, np.int64),) * 4)[0] \
        == ERR_BUFFER  # owners must not decrease
    assert dedup_pairs(np.zeros(2, np.int64), np.zeros(2, np.int32), v[:2], 4, 4,
                       *(np.zeros(1, np.int64),) * 4)[0] == ERR_BUFFER
    LT = np.ones((3, 2))
    assert cost_matrix(np.array([0, 1]), np.array([5]), np.ones(1), LT, np.empty((2, 1))) == ERR_BUFFER
    assert cost_matrix(np.array([0, 1]), np.array([0]), np.ones(1), LT, np.empty((3, 1))) == ERR_BUFFER
    assert row_entropy_csr(np.array([0, 3]), np.zeros(1, np.int64), np.ones(1), np.empty(1)) == ERR_BUFFER
    assert csr_table_sums(np.array([0, 1]), np.array([0]), np.ones(1), np.array([2]), 2, 1)[0] == ERR_BUFFER
    assert argmin_tables(np.ones((2, 3)), np.empty(2, np.int64)) == ERR_BUFFER
    assert limit_lengths(np.ones(2, np.int64), np.array([0, 1]), 12) == ERR_BUFFER
    assert limit_lengths(np.ones(3, np.int64), np.array([1, 1]), 12) == ERR_BUFFER
    assert model_cost_kernel(np.ones((2, 3), np.int64), np.ones(1, np.int64), np.ones(2), 1.0, 1.0)[0] == ERR_BUFFER
    x = np.zeros(8, np.int8)
    lo, hi, off = np.array([0]), np.array([9]), np.zeros(1, np.int64)
    assert count_pairs(x, off, lo, hi, np.zeros(1, np.int64), 0, 1) == ERR_BUFFER
    assert count_pairs(x, off, lo, np.array([8]), np.zeros(1, np.int64), 0, 2) == ERR_BUFFER
    assert fill_pairs(x, off, lo, hi, np.array([0, 0]), i32, v, np.zeros(1, np.int64), 0, 1) == ERR_BUFFER
    x[3] = 1  # one pair, but no room for it
    assert fill_pairs(x, off, lo, np.array([8]), np.array([0, 0]), i32, v, np.zeros(1, np.int64),
                      0, 1) == ERR_BUFFER
    lens = np.ones((1, 4), np.uint8)
    codes = np.zeros((1, 4), np.uint32)
    status = np.zeros(1, np.int64)
    assert pack_groups(i32, v, ps, np.zeros(1, np.int64), z, z, codes, lens, np.zeros(1, np.int64),
                       np.ones(1, np.int64), np.zeros(1, np.uint8), np.zeros(1, np.uint8), status,
                       0, 2) == ERR_BUFFER
    pack_groups(i32, v, ps, np.array([3]), np.zeros(1, np.int64), np.ones(1, np.int64), codes, lens,
                np.zeros(1, np.int64), np.ones(1, np.int64), np.zeros(1, np.uint8),
                np.zeros(1, np.uint8), status, 0, 1)
    assert status[0] == ERR_BUFFER  # a table that does not exist
    assert merge_first_bytes(np.zeros(1, np.uint8), np.zeros(1, np.uint8), np.array([80])) == ERR_BUFFER


@pytest.mark.parametrize("sparsity", [0.0, 0.6])
def test_prepare_many_matches_one_by_one(sparsity):
    rng = np.random.default_rng(1)
    items = []
    for i, (shape, dt) in enumerate([((8, 3, 3, 3), np.int8), ((300,), np.uint8), ((0, 4), np.int8),
                                     ((5, 900), np.int16), ((7,), np.uint32), ((2, 2), np.int8)]):
        a = rng.integers(-100 if np.dtype(dt).kind == "i" else 0, 100, shape).astype(dt)
        a[rng.random(shape) < sparsity] = 0
        items.append((f"t{i}", a))
    batch = prepare_many(items, "auto")
    for (name, a), p in zip(items, batch):
        q = prepare_many([(name, a)], "auto")[0]
        assert (p.group_mode, p.group_size, p.value_offset, p.maxmag) == \
            (q.group_mode, q.group_size, q.value_offset, q.maxmag)
        for f in ("gb", "ps", "runs", "vals"):
            assert np.array_equal(getattr(p, f), getattr(q, f)), (name, f)


@given(st.integers(0, 2**32 - 1))
def test_group_tables_match_per_tensor_packing(seed):
    from codec.kernels.encode import group_tables
    from codec.writer import _pack_bits
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 6))
    ng = rng.integers(0, 9, n).astype(np.int64)
    G = int(ng.sum())
    order = rng.permutation(n)  # tensors' group ranges in any order of the batch
    g0 = np.zeros(n, np.int64)
    pos = 0
    for i in order:
        g0[i] = pos
        pos += ng[i]
    tid = rng.integers(0, 40, G).astype(np.int64)
    bits = rng.integers(1, 5000, G).astype(np.int64)
    tb, tbits, lbits = (np.zeros(n, np.int64) for _ in range(3))
    boff = np.zeros(n + 1, np.int64)
    assert group_tables(tid, bits, g0, ng, tb, tbits, lbits, boff, np.zeros(0, np.uint8)) == OK
    out = np.zeros(int(boff[-1]), np.uint8)
    assert group_tables(tid, bits, g0, ng, tb, tbits, lbits, boff, out) == OK
    for i in range(n):
        t, b = tid[g0[i]:g0[i] + ng[i]], bits[g0[i]:g0[i] + ng[i]]
        if ng[i] == 0:
            assert boff[i + 1] == boff[i]
            continue
        base = int(t.min())
        want = _pack_bits([(t - base, int(t.max() - base).bit_length()),
                           (b, int(b.max()).bit_length())], int(ng[i]))
        assert (tb[i], tbits[i], lbits[i]) == (base, int(t.max() - base).bit_length(),
                                               int(b.max()).bit_length())
        assert out[boff[i]:boff[i + 1]].tobytes() == want
    assert group_tables(tid, bits, g0 + G, ng, tb, tbits, lbits, boff, out) in (OK, ERR_BUFFER)
    assert group_tables(tid, bits, g0, ng, tb, tbits, lbits, boff[:-1], out) == ERR_BUFFER
    if G:
        assert group_tables(tid, bits, np.full(n, G), np.ones(n, np.int64), tb, tbits, lbits, boff,
                            out) == ERR_BUFFER


@pytest.mark.parametrize("effort,version,chunk_log2", [(0, 2, None), (1, 2, None), (1, 2, 8),
                                                      (1, 1, None)])
def test_batched_pack_and_streamed_save_write_the_same_bytes(tmp_path, effort, version,
                                                             chunk_log2, monkeypatch):
    """pack() runs its kernels once per batch of tensors; save() streams tensor by tensor:
    the bytes must be identical (and decode in both decoders), in both format versions, and
    with v2 chunk CRCs computed across block boundaries while streaming (256-byte chunks)."""
    import codec
    import codec.format_v2 as fv2
    import codec.reference as ref
    if chunk_log2:
        monkeypatch.setattr(fv2, "DEFAULT_CHUNK_LOG2", chunk_log2)
    rng = np.random.default_rng(7)
    q = {}
    for i, (shape, dt, sp) in enumerate([((16, 8, 3, 3), np.int8, 0.5), ((40, 300), np.int8, 0.0),
                                         ((700,), np.uint8, 0.9), ((0, 5), np.int8, 0.0),
                                         ((9, 1000), np.int16, 0.3), ((5,), np.uint32, 0.0)]):
        lo = -200 if np.dtype(dt).kind == "i" else 0
        a = rng.integers(lo, 200, shape).astype(dt)
        a[rng.random(shape) < sp] = 0
        q[f"layer{i}.w"] = a
    data = codec.pack(q, effort=effort, version=version)
    n = codec.save(tmp_path / "m.spkg", q, effort=effort, version=version)
    assert (tmp_path / "m.spkg").read_bytes() == data and n == len(data) and data[4] == version
    if chunk_log2:
        assert codec.Package(data).directory.chunk_crcs.size > 20
        assert ref.reencode(data) == data
    for out in (codec.unpack(data), ref.unpack(data)):
        assert all(np.array_equal(out[k], v) for k, v in q.items())


@given(st.integers(0, 2**32 - 1))
def test_moved_row_sums_equal_recomputed_sums(seed):
    from codec.kernels.plan import csr_move_rows
    rng = np.random.default_rng(seed)
    G, n, T = int(rng.integers(1, 40)), int(rng.integers(1, 30)), int(rng.integers(1, 6))
    H = rng.integers(0, 9, (G, n)) * (rng.random((G, n)) < 0.5)
    mask = H != 0
    indptr = np.concatenate([[0], np.cumsum(mask.sum(axis=1))]).astype(np.int64)
    r, c = np.nonzero(mask)
    idx, data = c.astype(np.int64), H[r, c].astype(np.float64)
    a = rng.integers(0, T, G).astype(np.int64)
    b = rng.integers(0, T, G).astype(np.int64)
    st0, S = csr_table_sums(indptr, idx, data, a, T, n)
    moved = np.flatnonzero(a != b)
    assert st0 == OK and csr_move_rows(indptr, idx, data, moved, a, b, S) == OK
    assert np.array_equal(S, csr_table_sums(indptr, idx, data, b, T, n)[1])
    assert csr_move_rows(indptr, idx, data, np.array([G]), a, b, S) == ERR_BUFFER
    assert csr_move_rows(indptr, idx, data, np.array([0]), a, np.full(G, T), S) == ERR_BUFFER


# --- kernels of the faster effort-1 planner (cost pool, sparse alphabet search, batch hists)

@given(st.integers(0, 2**32 - 1))
def test_cost_pool_kernels_match_cost_matrix(seed):
    from codec.kernels.plan import cost_pool_cols, cost_pool_range, pool_argmin, pool_gather
    rng = np.random.default_rng(seed)
    G, T, n = int(rng.integers(1, 30)), int(rng.integers(1, 6)), int(rng.integers(2, 40))
    H = rng.integers(0, 5, (G, n)) * (rng.random((G, n)) < 0.4)
    S = rng.integers(0, 50, (T, n)) * (rng.random((T, n)) < 0.8)
    mask = H != 0
    indptr = np.concatenate([[0], np.cumsum(mask.sum(axis=1))]).astype(np.int64)
    r, c = np.nonzero(mask)
    idx, data = c.astype(np.int64), H[r, c].astype(np.float64)
    LT = code_len_matrix(S.astype(np.float64), np.zeros((1, 1), np.uint8), 0)
    costT = np.empty((T, G))
    assert cost_matrix(indptr, idx, data, LT, costT) == OK
    pool = np.full((T + 3, G), -1.0)
    slots = rng.permutation(T + 3)[:T].astype(np.int64)
    cut = int(rng.integers(0, G + 1))
    assert cost_pool_range(indptr, idx, data, LT, pool, slots, 0, cut) == OK
    assert cost_pool_range(indptr, idx, data, LT, pool, slots, cut, G) == OK
    assert np.array_equal(pool[slots], costT)
    pool2 = np.full_like(pool, -1.0)
    assert cost_pool_cols(indptr, idx, data, LT, pool2, slots, 0, cut) == OK
    assert cost_pool_cols(indptr, idx, data, LT, pool2, slots, cut, G) == OK
    assert np.array_equal(pool2[slots], costT)  # bit for bit, one table at a time
    assert cost_pool_cols(indptr, np.full_like(idx, n), data, LT, pool2, slots, 0, G) \
        == (ERR_BUFFER if idx.size else OK)
    out = np.empty(G, np.int64)
    assert pool_argmin(pool, slots, out) == OK and np.array_equal(out, costT.argmin(axis=0))
    assign = rng.integers(0, T, G).astype(np.int64)
    at = np.empty(G)
    assert pool_gather(pool, slots, assign, at) == OK
    assert np.array_equal(at, costT[assign, np.arange(G)])
    # bad slots, rows and assignments are refused
    assert cost_pool_range(indptr, idx, data, LT, pool, np.full(T, T + 3), 0, G) == ERR_BUFFER
    assert cost_pool_range(indptr, idx, data, LT, pool, slots, 0, G + 1) == ERR_BUFFER
    assert pool_argmin(pool, slots[:0], out) == ERR_BUFFER
    assert pool_gather(pool, slots, np.full(G, T), at) == ERR_BUFFER


def test_csr_cost_pool_reuses_and_evicts_rows():
    """Csr.model_costs: the same tables give the same costs whether computed or reused, also
    after the pool evicted and grew."""
    from codec.planner import Csr
    rng = np.random.default_rng(5)
    H = rng.integers(0, 4, (50, 12)) * (rng.random((50, 12)) < 0.5)
    H[:, 0] += 1
    rows = Csr.from_dense(H)
    fresh = Csr.from_dense(H)
    for _ in range(12):
        S = rng.integers(0, 30, (int(rng.integers(1, 7)), 12)).astype(np.float64)
        S[:, 0] += 1
        if rng.random() < 0.5:
            S = np.vstack([S, S[:1]])  # a repeated table within one call
        got = rows.model_costs(S, 0)
        want = fresh.costs(code_len_matrix(S, np.zeros((1, 1), np.uint8), 0))
        assert np.array_equal(got.dense().T, want)
        assert np.array_equal(got.argmin(), want.argmin(axis=0))


@given(st.integers(0, 2**32 - 1), st.integers(0, 3), st.sampled_from([1, 2, 3, 16]))
def test_sparse_alphabet_cost_matches_dense(seed, kref, nrun):
    from codec.kernels.plan import class_triples, dedup_parts, sample_model_cost
    rng = np.random.default_rng(seed)
    n_owner = int(rng.integers(1, 6))
    parts = [_pairs(rng, int(rng.integers(0, 5)), 50, float(rng.random())) for _ in range(n_owner)]
    runs = np.concatenate([p[0] for p in parts])
    vals = np.concatenate([p[1] for p in parts])
    sizes = np.array([p[0].size for p in parts], np.int64)
    lo = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    step = int(rng.integers(1, 4))
    # dedup_parts == dedup_pairs of the strided sample
    sample = [np.arange(a, a + s, step) for a, s in zip(lo, sizes)]
    owner = np.concatenate([np.full(x.size, i, np.int64) for i, x in enumerate(sample)])
    pick = np.concatenate(sample).astype(np.int64)
    m = pick.size
    ref = [np.empty(m, np.int64) for _ in range(4)]
    st1, n1 = dedup_pairs(owner, runs[pick], vals[pick], 1024, 41, *ref)
    got = [np.empty(m, np.int64) for _ in range(4)]
    st2, n2 = dedup_parts(runs, vals, lo, lo + sizes, step, 1024, 41, *got)
    assert st1 == st2 == OK and n1 == n2
    assert all(np.array_equal(a[:n1], b[:n1]) for a, b in zip(ref, got))
    o3, r3, m3, c3 = (a[:n1] for a in got)
    eob = rng.integers(0, 6, n_owner).astype(np.int64)
    w = rng.random(n_owner) * 3
    nclass = num_classes(40, kref)
    nsym = SYM_FIRST + nclass * nrun
    st3, H, X = weighted_owner_stats(o3, r3, m3, c3, n_owner, eob, kref, nrun, nsym)
    st4, want = model_cost_kernel(H, X, w, float(TABLE_FIXED_BITS), float(TABLE_BITS_PER_CODE))
    o4, r4, k4, c4 = (np.empty(max(n1, 1), np.int64) for _ in range(4))
    X4 = np.empty(n_owner, np.int64)
    st5, n4 = class_triples(o3, r3, m3, c3, n_owner, kref, nclass, 1024, o4, r4, k4, c4, X4)
    assert st3 == st4 == st5 == OK and np.array_equal(X4, X)
    st6, bits = sample_model_cost(o4[:n4], r4[:n4], k4[:n4], c4[:n4], n_owner, eob, X4, nrun,
                                  nsym, w, float(TABLE_FIXED_BITS), float(TABLE_BITS_PER_CODE))
    assert st6 == OK and bits == want  # bit for bit
    # bad arguments
    assert dedup_parts(runs, vals, lo, lo + sizes + runs.size + 1, 1, 8, 8, *got)[0] == ERR_BUFFER
    assert class_triples(o3, r3, m3, c3, n_owner, kref, 1, 1024, o4, r4, k4, c4, X4)[0] \
        in ((ERR_BUFFER,) if n1 and nclass > 1 and m3.max() > 1 else (OK, ERR_BUFFER))
    assert sample_model_cost(o4[:n4], r4[:n4], k4[:n4], c4[:n4], n_owner, eob[:0], X4, nrun, nsym,
                             w, 1.0, 1.0)[0] == ERR_BUFFER


@given(st.integers(0, 2**32 - 1), st.integers(0, 3), st.sampled_from([1, 2, 16]),
       st.floats(0, 0.95))
def test_group_hist_slots_match_group_hist_csr(seed, kref, nrun, sparsity):
    from codec.kernels.plan import csr_compact, group_hist_slots
    rng = np.random.default_rng(seed)
    runs, vals, ps, nsym, G, indptr, indices, data, nnz = _group_csr(rng, kref, nrun, sparsity)
    off = np.concatenate([[0], np.cumsum(np.minimum(np.diff(ps) + 2, nsym))]).astype(np.int64)
    start, cnt, xb = np.zeros(G, np.int64), np.zeros(G, np.int64), np.zeros(G, np.int64)
    idx, dat = np.empty(int(off[-1]), np.int64), np.empty(int(off[-1]))
    cut = int(rng.integers(0, G + 1))
    assert group_hist_slots(runs, vals, ps, kref, nrun, nsym, off, start, cnt, xb, idx, dat,
                            cut, G) == OK
    assert group_hist_slots(runs, vals, ps, kref, nrun, nsym, off, start, cnt, xb, idx, dat,
                            0, cut) == OK
    ip2 = np.empty(G + 1, np.int64)
    assert csr_compact(start, cnt, idx, dat, ip2) == OK
    i2, d2 = idx[:ip2[-1]], dat[:ip2[-1]]
    assert np.array_equal(ip2, indptr) and np.array_equal(i2, indices[:nnz])
    assert np.array_equal(d2, data[:nnz])
    # sign and extra bits + code lengths of the symbols = group_bits' exact lengths
    lens = np.full((1, nsym), 5, np.uint8)
    want = np.zeros(G, np.int64)
    st_b = group_bits(runs, vals, ps, np.zeros(G, np.int64), np.array([kref]), np.array([nrun]),
                      lens, want, 0, G)
    assert st_b == OK
    coded = np.array([5 * d2[ip2[g]:ip2[g + 1]].sum() for g in range(G)], np.int64)
    assert np.array_equal(xb + coded, want)
    if G:
        small = np.zeros_like(off)  # no room for a group's entries
        assert group_hist_slots(runs, vals, ps, kref, nrun, nsym, small, start, cnt, xb, idx,
                                dat, 0, G) == ERR_BUFFER
        assert csr_compact(start, cnt + 10**6, idx, dat, ip2) == ERR_BUFFER
        assert csr_compact(start - 1, cnt, idx, dat, ip2) == ERR_BUFFER  # a row before its place


@pytest.mark.parametrize("sparsity", [0.0, 0.6, 0.97])
def test_coarsen_matches_prepare_many(sparsity):
    """'auto' pairs derived from 'kernel' pairs (planner.coarsen) equal the run-length pass."""
    from codec.kernels.encode import coarsen_runs
    from codec.planner import coarsen
    rng = np.random.default_rng(3)
    items = []
    for i, (shape, dt) in enumerate([((8, 3, 3, 3), np.int8), ((300,), np.uint8), ((0, 4), np.int8),
                                     ((5, 900), np.int16), ((7,), np.uint32), ((2, 2), np.int8),
                                     ((40, 7, 3), np.int8), ((9, 5000), np.int8), ((1, 3), np.int8)]):
        a = rng.integers(-100 if np.dtype(dt).kind == "i" else 0, 100, shape).astype(dt)
        a[rng.random(shape) < sparsity] = 0
        a[-1:] = 0  # trailing zero kernels carry into the next kernel's first run
        items.append((f"t{i}", a))
    want = prepare_many(items, "auto")
    for fine in ("kernel", ("count", 5)):  # (5 divides every multi-group 'auto' group size)
        got = coarsen(prepare_many(items, fine), "auto")
        assert got is not None
        for p, q in zip(want, got):
            assert (p.group_mode, p.group_size, p.n_groups, p.g0, p.value_offset, p.maxmag) == \
                (q.group_mode, q.group_size, q.n_groups, q.g0, q.value_offset, q.maxmag)
            for f in ("ps", "runs", "vals"):
                assert np.array_equal(getattr(p, f), getattr(q, f)), (p.name, f)
        assert np.array_equal(want[0].pairs.ps, got[0].pairs.ps)
        assert np.array_equal(want[0].pairs.runs, got[0].pairs.runs)
    # a grouping that cuts the fine groups is declined; bad arguments give a status
    assert coarsen(prepare_many(items, ("count", 7)), "auto") is None
    ps = np.array([0, 2], np.int64)
    runs = np.array([1, 0], np.int32)
    assert coarsen_runs(runs, ps, np.array([4]), np.array([0, 2]), np.empty(2, np.int32), 0, 1) \
        == ERR_BUFFER  # coarse group beyond the fine groups
    assert coarsen_runs(runs, ps, np.array([2]), np.array([0, 1]), np.empty(2, np.int32), 0, 1) \
        == ERR_BUFFER  # the pairs need 3 values, the group has 2
    assert coarsen_runs(runs, ps, np.array([4]), np.array([0, 1]), np.empty(2, np.int32), 0, 1) == OK


@given(st.integers(0, 2**32 - 1))
def test_assigned_costs_match_model_costs(seed):
    """Csr.assigned_costs: each row's cost under its table, bit for bit the full matrix's
    entry, whether the table's costs are in the pool or computed for its rows only."""
    from codec.planner import Csr
    rng = np.random.default_rng(seed)
    G, n = int(rng.integers(1, 40)), int(rng.integers(2, 20))
    H = rng.integers(0, 4, (G, n)) * (rng.random((G, n)) < 0.5)
    H[:, 0] += 1
    rows, fresh = Csr.from_dense(H), Csr.from_dense(H)
    for use_lens in (0, 1, 0):
        T = int(rng.integers(1, 6))
        M = rng.integers(0, 30 if use_lens == 0 else 12, (T, n)).astype(np.float64)
        M[:, 0] += 1
        if rng.random() < 0.5:
            M = np.vstack([M, M[:1]])
        if rng.random() < 0.5:
            rows.model_costs(M[:1], use_lens)  # one table already in the pool
        assign = rng.integers(0, M.shape[0], G).astype(np.int64)
        got = rows.assigned_costs(M, use_lens, assign)
        want = fresh.model_costs(M, use_lens).at(assign)
        assert np.array_equal(got, want)


@given(st.integers(0, 2**32 - 1), st.sampled_from([3, 5, 12]))
def test_huffman_lengths_rows_match_huffman_lengths(seed, limit):
    """One kernel call for many tables gives each table's huffman_lengths (limited ones too)."""
    from codec.kernels.plan import huffman_lengths_rows
    rng = np.random.default_rng(seed)
    T, n = int(rng.integers(1, 8)), int(rng.integers(1, 30))
    S = np.floor(2.0 ** rng.uniform(0, 20, (T, n))) * (rng.random((T, n)) < rng.random())
    S[0, :] = 0
    if T > 1:
        S[1, :] = 0
        S[1, int(rng.integers(0, n))] = 7  # one used symbol
    rows = rng.integers(0, T, int(rng.integers(1, 2 * T + 1))).astype(np.int64)
    out = np.empty((rows.size, n), np.uint8)
    want = []
    for r in rows:
        try:
            want.append(huffman_lengths(np.rint(S[r]).astype(np.int64), limit))
        except ValueError:  # more symbols than codes of at most `limit` bits
            want = None
            break
    st_ = huffman_lengths_rows(S, rows, limit, out)
    if want is None:
        assert st_ != OK
    else:
        assert st_ == OK and np.array_equal(out, np.array(want))
    assert huffman_lengths_rows(S, np.array([T]), limit, out[:1]) == ERR_BUFFER


@pytest.mark.parametrize("kref", [0, 1, 2, 3, 5])
@pytest.mark.parametrize("nrun", [1, 3, 16])
def test_mag_lut_matches_pair_symbol(kref, nrun):
    """mag_lut's tables (the histogram kernels' look-up below MAG_LUT) give pair_symbol's
    symbol and sign + extra bits for every run below nrun and magnitude below MAG_LUT."""
    from codec.kernels.symbols import MAG_LUT, lut_index, mag_lut, pair_symbol, pair_symbol_lut
    s0, x1 = mag_lut(np.int64(kref), np.int64(nrun))
    for r in range(3 * nrun + 2):
        for m in range(1, MAG_LUT + 40, 3):
            for v in (m, -m):
                args = (np.int64(r), np.int64(v), np.int64(kref), np.int64(nrun))
                nesc, s, e, _x = pair_symbol(*args)
                i = lut_index(np.int64(v))
                assert pair_symbol_lut(*args, s0[i], x1[i]) == (nesc, s, e + 1)
                if r < nrun and m < MAG_LUT:
                    assert (nesc, s, e + 1) == (0, s0[m] + r, x1[m])
