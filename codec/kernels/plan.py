"""Planner kernels: per-group symbol histograms in sparse (CSR) form, table-cost matrices,
row entropies, and length-limited Huffman repair.

These replace numpy passes over dense ``groups x symbols`` matrices (and their Python loops)
in :mod:`codec.planner`; they compute the same quantities in the same summation order.  Every
kernel checks its indices against its buffers and returns a status (``OK`` or ``ERR_BUFFER``)
instead of reading or writing outside them.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from .intrinsics import bit_length64
from .status import ERR_BUFFER, ERR_SYMBOL, OK
from .symbols import (SYM_EOB, SYM_ESC, SYM_FIRST, lut_index, mag_class, mag_lut,
                      pair_symbol_lut)
from .tables import huffman_depths


@njit(cache=True, nogil=True, inline="always")
def _hist_row(runs, vals, lo, hi, kref, nrun, nsym, row, touched, bits, indices, data, pos, lim,
              s0, x1):
    """One group's histogram (pairs [lo, hi), one EOB) written as ascending (symbol, count)
    entries at indices/data[pos:], at most up to ``lim``; ``row`` and ``bits`` (a bitmap of
    nsym bits, scratch) must be zero and are left zero; s0, x1: ``mag_lut(kref, nrun)``.
    Returns (status, entries written, the group's sign and extra bits: sum of e + 1 over its
    pairs)."""
    if lo < 0 or hi < lo or hi > runs.size or hi > vals.size or lim > indices.size \
            or lim > data.size or pos < 0:
        return ERR_BUFFER, 0, 0
    nnz = pos
    xb = np.int64(0)
    nt = 0
    row[SYM_EOB] = 1
    touched[nt] = SYM_EOB
    nt += 1
    if 2 * (hi - lo) >= nsym:
        # many pairs for the alphabet: count only, then scan the whole row in order
        for k in range(lo, hi):  # (unsigned indices: no negative-index code)
            v = np.int64(vals[np.uint64(k)])
            i = lut_index(v)
            nesc, s, e1 = pair_symbol_lut(np.int64(runs[np.uint64(k)]), v, kref, nrun, s0[i],
                                          x1[i])
            xb += e1
            row[SYM_ESC] += nesc
            if s < 0 or s >= nsym:
                row[:] = 0
                return ERR_BUFFER, 0, 0
            row[np.uint64(s)] += 1
        for s in range(nsym):
            if row[s] != 0:
                if nnz >= lim:
                    row[:] = 0
                    return ERR_BUFFER, 0, 0
                indices[nnz] = s
                data[nnz] = row[s]
                row[s] = 0
                nnz += 1
        return OK, nnz - pos, xb
    for k in range(lo, hi):
        v = np.int64(vals[np.uint64(k)])
        i = lut_index(v)
        nesc, s, e1 = pair_symbol_lut(np.int64(runs[np.uint64(k)]), v, kref, nrun, s0[i], x1[i])
        xb += e1
        if nesc:
            if row[SYM_ESC] == 0:
                touched[nt] = SYM_ESC
                nt += 1
            row[SYM_ESC] += nesc
        if s < 0 or s >= nsym:
            row[:] = 0
            return ERR_BUFFER, 0, 0
        if row[np.uint64(s)] == 0:
            touched[nt] = s
            nt += 1
        row[np.uint64(s)] += 1
    if nnz + nt > lim:
        row[:] = 0
        return ERR_BUFFER, 0, 0
    # the touched symbols in ascending order: set bits of a bitmap, word by word
    hi_w = 0
    for j in range(nt):
        s = touched[j]
        w = s >> 6
        bits[w] |= np.uint64(1) << np.uint64(s & 63)
        hi_w = max(hi_w, w)
    for w in range(hi_w + 1):
        x = bits[w]
        bits[w] = 0
        while x:
            low = x & (~x + np.uint64(1))
            s = (w << 6) + np.int64(bit_length64(low)) - 1
            x ^= low
            indices[nnz] = s
            data[nnz] = row[s]
            row[s] = 0
            nnz += 1
    return OK, nnz - pos, xb


@njit(cache=True, nogil=True)
def group_hist_csr(runs, vals, ps, kref, nrun, nsym, indptr, indices, data):
    """Symbol histogram of every group (one EOB each), as CSR rows with ascending symbols.

    Group g's pairs are ``[ps[g], ps[g+1])``.  ``indptr`` has G + 1 entries; ``indices`` /
    ``data`` need room for ``sum over g of min(nsym, pairs_g + 2)`` entries (the caller sizes
    them ``P + 2 G`` or ``G * nsym``, whichever is smaller).  Returns (status, nnz).
    """
    G = ps.size - 1
    if G < 0 or indptr.size != G + 1 or nsym < SYM_FIRST or nrun < 1:
        return ERR_BUFFER, 0
    row = np.zeros(nsym, np.int64)
    touched = np.empty(nsym, np.int64)
    bits = np.zeros((nsym >> 6) + 1, np.uint64)
    s0, x1 = mag_lut(kref, nrun)
    nnz = 0
    indptr[0] = 0
    lim = min(indices.size, data.size)
    for g in range(G):
        st, c, _xb = _hist_row(runs, vals, ps[g], ps[g + 1], kref, nrun, nsym, row, touched,
                               bits, indices, data, nnz, lim, s0, x1)
        if st != OK:
            return st, nnz
        nnz += c
        indptr[g + 1] = nnz
    return OK, nnz


@njit(cache=True, nogil=True)
def group_hist_slots(runs, vals, ps, kref, nrun, nsym, off, start, cnt, xbits, indices, data,
                     g0, g1):
    """:func:`group_hist_csr` of groups [g0, g1) (one chunk of a threaded call): the chunk's
    rows are written back to back from ``off[g0]`` (group g has room for
    ``off[g+1] - off[g] = min(nsym, pairs_g + 2)`` entries, so it always starts at or before
    ``off[g]``); group g's first entry goes to ``start[g]``, their number to ``cnt[g]``, its
    sign and extra bits to xbits[g] (its coded length is these plus its symbols' code
    lengths).  :func:`csr_compact` then closes the gaps between chunks.  Only the entries
    written are touched (a fresh buffer's untouched pages cost no page faults)."""
    G = ps.size - 1
    if off.size != G + 1 or start.size != G or cnt.size != G or xbits.size != G or g0 < 0 \
            or g1 > G or nsym < SYM_FIRST or nrun < 1:
        return ERR_BUFFER
    row = np.zeros(nsym, np.int64)
    touched = np.empty(nsym, np.int64)
    bits = np.zeros((nsym >> 6) + 1, np.uint64)
    s0, x1 = mag_lut(kref, nrun)
    pos = off[g0] if g0 < G else 0
    for g in range(g0, g1):
        st, c, xb = _hist_row(runs, vals, ps[g], ps[g + 1], kref, nrun, nsym, row, touched,
                              bits, indices, data, pos, off[g + 1], s0, x1)
        if st != OK:
            return st
        start[g] = pos
        cnt[g] = c
        xbits[g] = xb
        pos += c
    return OK


@njit(cache=True, nogil=True)
def csr_compact(start, cnt, indices, data, indptr):
    """Rows written at ``start[g]`` with ``cnt[g]`` entries (:func:`group_hist_slots`, rows in
    order, each at or after where it belongs) packed back to back in place: entries move
    down (a forward copy), indptr gets the row bounds.  Returns a status."""
    G = cnt.size
    if start.size != G or indptr.size != G + 1:
        return ERR_BUFFER
    nnz = 0
    indptr[0] = 0
    for g in range(G):
        a = start[g]
        c = cnt[g]
        if c < 0 or a < nnz or a + c > indices.size or a + c > data.size:
            return ERR_BUFFER
        if a != nnz:
            for j in range(c):
                indices[nnz + j] = indices[a + j]
                data[nnz + j] = data[a + j]
        nnz += c
        indptr[g + 1] = nnz
    return OK


@njit(cache=True, nogil=True)
def tensor_hist_row(runs, vals, n_groups, kref, nrun, nsym, H, X):
    """One tensor's symbol histogram H[sym] (n_groups EOBs) and extra bits X[0]."""
    if H.size < nsym or X.size < 1 or nsym < SYM_FIRST or nrun < 1 or vals.size < runs.size:
        return ERR_BUFFER
    s0, x1 = mag_lut(kref, nrun)
    _tensor_hist(runs, vals, 0, runs.size, n_groups, kref, nrun, nsym, H, X, s0, x1)
    return OK


@njit(cache=True, nogil=True, inline="always")
def _tensor_hist(runs, vals, lo, hi, n_groups, kref, nrun, nsym, H, X, s0, x1):
    """:func:`tensor_hist_row` of pairs [lo, hi) (checked by the caller), with mag_lut's
    tables s0, x1."""
    H[:] = 0
    H[SYM_EOB] = n_groups
    x = np.int64(0)
    for k in range(lo, hi):
        v = np.int64(vals[np.uint64(k)])
        i = lut_index(v)
        nesc, s, e1 = pair_symbol_lut(np.int64(runs[np.uint64(k)]), v, kref, nrun, s0[i], x1[i])
        H[SYM_ESC] += nesc
        if s < nsym:
            H[s] += 1
        x += e1
    X[0] = x


@njit(cache=True, nogil=True)
def weighted_owner_stats(owner, runs, mags, counts, n_owner, eob, kref, nrun, nsym):
    """Like :func:`codec.kernels.encode.owner_stats`, over distinct (owner, run, |value|)
    triples with multiplicities ``counts``.  Returns (status, H[n_owner, nsym], X[n_owner])."""
    H = np.zeros((n_owner, nsym), np.int64)
    X = np.zeros(n_owner, np.int64)
    if eob.size != n_owner or owner.size != runs.size or mags.size != runs.size \
            or counts.size != runs.size or nrun < 1 or nsym < SYM_FIRST:
        return ERR_BUFFER, H, X
    for o in range(n_owner):
        H[o, SYM_EOB] = eob[o]
    for k in range(runs.size):
        o = owner[k]
        if o < 0 or o >= n_owner:
            return ERR_BUFFER, H, X
        n = counts[k]
        r = np.int64(runs[k])
        if r >= nrun:
            H[o, SYM_ESC] += (r // nrun) * n
            r = r % nrun
        c, e, _x = mag_class(mags[k], kref)
        s = SYM_FIRST + c * nrun + r
        if s < nsym:
            H[o, s] += n
        X[o] += (e + 1) * n
    return OK, H, X


@njit(cache=True, nogil=True)
def code_len_matrix(S, lens, use_lens):
    """Transposed per-table code-length estimates LT[sym, t] for cost evaluation.

    ``use_lens`` 0: from table symbol sums S[t, sym] (probability P = S / max(total, 1),
    length max(1, -log2 P)); 1: the exact Huffman lengths ``lens[t, sym]``.  Symbols without a
    code get +inf, so a group that needs one costs +inf under that table.
    """
    T = S.shape[0] if use_lens == 0 else lens.shape[0]
    n = S.shape[1] if use_lens == 0 else lens.shape[1]
    LT = np.empty((n, T))
    for t in range(T):
        if use_lens == 0:
            tot = 0.0
            for s in range(n):
                tot += S[t, s]
            tot = max(tot, 1.0)
            for s in range(n):
                v = S[t, s]
                if v == 0:
                    LT[s, t] = np.inf
                else:
                    LT[s, t] = max(1.0, -math.log2(v / tot))
        else:
            for s in range(n):
                ln = lens[t, s]
                LT[s, t] = np.inf if ln == 0 else np.float64(ln)
    return LT


@njit(cache=True, nogil=True, inline="always")
def _cost_rows(indptr, indices, data, LT, costT, slots, g0, g1):
    """costT[slots[t], g] = sum over row g's nonzeros (s, w), in order, of w * LT[s, t].
    Four nonzeros per pass over the tables: acc[t] is loaded and stored once per four
    products, and added to in the same order as one nonzero at a time (the same bits):
    1.3-1.6x on yolov8n's 8-bit cost calls."""
    T = LT.shape[1]
    n = LT.shape[0]
    acc = np.empty(T)
    for g in range(g0, g1):
        acc[:] = 0.0
        lo = indptr[g]
        hi = indptr[g + 1]
        if lo < 0 or hi > indices.size or hi > data.size:
            return ERR_BUFFER
        k = lo
        while k + 4 <= hi:
            s0 = indices[k]
            s1 = indices[k + 1]
            s2 = indices[k + 2]
            s3 = indices[k + 3]
            if s0 < 0 or s0 >= n or s1 < 0 or s1 >= n or s2 < 0 or s2 >= n or s3 < 0 \
                    or s3 >= n:
                return ERR_BUFFER
            w0 = data[k]
            w1 = data[k + 1]
            w2 = data[k + 2]
            w3 = data[k + 3]
            L0 = LT[s0]
            L1 = LT[s1]
            L2 = LT[s2]
            L3 = LT[s3]
            for t in range(T):
                acc[t] = (((acc[t] + w0 * L0[t]) + w1 * L1[t]) + w2 * L2[t]) + w3 * L3[t]
            k += 4
        while k < hi:
            s = indices[k]
            if s < 0 or s >= n:
                return ERR_BUFFER
            w = data[k]
            for t in range(T):
                acc[t] += w * LT[s, t]
            k += 1
        for t in range(T):
            costT[slots[t], g] = acc[t]
    return OK


@njit(cache=True, nogil=True)
def _slots_ok(slots, T, rows):
    if slots.size != T:
        return False
    for t in range(T):
        if slots[t] < 0 or slots[t] >= rows:
            return False
    return True


@njit(cache=True, nogil=True)
def cost_matrix(indptr, indices, data, LT, costT):
    """costT[t, g] = sum over row g's nonzeros (s, w) of w * LT[s, t] (inf: not covered)."""
    G = indptr.size - 1
    if costT.shape[1] != G or costT.shape[0] != LT.shape[1]:
        return ERR_BUFFER
    return _cost_rows(indptr, indices, data, LT, costT, np.arange(LT.shape[1]), 0, G)


@njit(cache=True, nogil=True)
def cost_matrix_range(indptr, indices, data, LT, costT, g0, g1):
    """:func:`cost_matrix` for rows [g0, g1) only (one chunk of a threaded call)."""
    G = indptr.size - 1
    if costT.shape[1] != G or costT.shape[0] != LT.shape[1] or g0 < 0 or g1 > G:
        return ERR_BUFFER
    return _cost_rows(indptr, indices, data, LT, costT, np.arange(LT.shape[1]), g0, g1)


@njit(cache=True, nogil=True)
def cost_pool_range(indptr, indices, data, LT, pool, slots, g0, g1):
    """:func:`cost_matrix` for rows [g0, g1), table t's costs going to row ``slots[t]`` of
    ``pool`` (a store of cost rows that later calls reuse, see ``planner.Csr.model_costs``)."""
    G = indptr.size - 1
    if pool.shape[1] != G or not _slots_ok(slots, LT.shape[1], pool.shape[0]) or g0 < 0 \
            or g1 > G:
        return ERR_BUFFER
    return _cost_rows(indptr, indices, data, LT, pool, slots, g0, g1)


@njit(cache=True, nogil=True)
def cost_pool_cols(indptr, indices, data, LT, pool, slots, g0, g1):
    """:func:`cost_pool_range` one table at a time (a gather per nonzero from the table's
    contiguous code lengths): faster when there are only a few tables (the row-major kernel
    vectorises over tables).  The same sums in the same order."""
    G = indptr.size - 1
    T = LT.shape[1]
    n = LT.shape[0]
    if pool.shape[1] != G or not _slots_ok(slots, T, pool.shape[0]) or g0 < 0 or g1 > G \
            or g0 > g1:
        return ERR_BUFFER
    if indptr[g0] < 0 or indptr[g1] > indices.size or indptr[g1] > data.size:
        return ERR_BUFFER
    for g in range(g0, g1):
        if indptr[g + 1] < indptr[g]:
            return ERR_BUFFER
    for k in range(indptr[g0], indptr[g1]):
        if indices[k] < 0 or indices[k] >= n:
            return ERR_BUFFER
    L = np.empty(n)
    for t in range(T):
        for s in range(n):
            L[s] = LT[s, t]
        out = pool[slots[t]]
        for g in range(g0, g1):
            a = 0.0
            for k in range(indptr[g], indptr[g + 1]):
                a += data[k] * L[indices[k]]
            out[g] = a
    return OK


@njit(cache=True, nogil=True)
def cost_assigned(indptr, indices, data, LT, col, out, g0, g1):
    """out[g] = sum over row g's nonzeros (s, w) of w * LT[s, col[g]] for rows [g0, g1) with
    col[g] >= 0 (others are left as they are): each row's cost under one table, the same sum
    in the same order as :func:`cost_matrix`'s entry for that table."""
    G = indptr.size - 1
    n = LT.shape[0]
    if col.size != G or out.size != G or g0 < 0 or g1 > G:
        return ERR_BUFFER
    for g in range(g0, g1):
        c = col[g]
        if c < 0:
            continue
        lo = indptr[g]
        hi = indptr[g + 1]
        if c >= LT.shape[1] or lo < 0 or hi > indices.size or hi > data.size:
            return ERR_BUFFER
        a = 0.0
        for k in range(lo, hi):
            s = indices[k]
            if s < 0 or s >= n:
                return ERR_BUFFER
            a += data[k] * LT[s, c]
        out[g] = a
    return OK


@njit(cache=True, nogil=True)
def pool_argmin(pool, slots, out):
    """out[g] = the first t with the smallest pool[slots[t], g] (:func:`argmin_tables` of the
    matrix whose row t is pool row slots[t])."""
    T = slots.size
    G = pool.shape[1]
    if out.size != G or T < 1 or not _slots_ok(slots, T, pool.shape[0]):
        return ERR_BUFFER
    best = pool[slots[0]].copy()
    out[:] = 0
    for t in range(1, T):
        row = pool[slots[t]]
        for g in range(G):
            v = row[g]
            if v < best[g]:
                best[g] = v
                out[g] = t
    return OK


@njit(cache=True, nogil=True)
def pool_gather(pool, slots, assign, out):
    """out[g] = pool[slots[assign[g]], g]: each row's cost under its assigned table."""
    G = pool.shape[1]
    T = slots.size
    if out.size != G or assign.size != G or not _slots_ok(slots, T, pool.shape[0]):
        return ERR_BUFFER
    for g in range(G):
        a = assign[g]
        if a < 0 or a >= T:
            return ERR_BUFFER
        out[g] = pool[slots[a], g]
    return OK


@njit(cache=True, nogil=True)
def row_entropy_csr(indptr, indices, data, out):
    """out[g] = estimated bits of row g coded with its own table: sum w * max(1, -log2(w/tot))."""
    G = indptr.size - 1
    if out.size != G:
        return ERR_BUFFER
    for g in range(G):
        lo = indptr[g]
        hi = indptr[g + 1]
        if lo < 0 or hi > data.size:
            return ERR_BUFFER
        tot = 0.0
        for k in range(lo, hi):
            tot += data[k]
        tot = max(tot, 1.0)
        b = 0.0
        for k in range(lo, hi):
            w = data[k]
            if w > 0:
                b += w * max(1.0, -math.log2(w / tot))
        out[g] = b
    return OK


@njit(cache=True, nogil=True)
def huffman_lengths_rows(S, rows, limit, out):
    """out[j] = ``codec.huffman.huffman_lengths(np.rint(S[rows[j]]).astype(np.int64), limit)``
    for every j (one call for the tables of a refinement step instead of one per table; the
    same :func:`huffman_depths` and :func:`limit_lengths`).  Returns a status (ERR_SYMBOL:
    more used symbols than codes of at most ``limit`` bits)."""
    T, n = S.shape
    if out.shape[0] != rows.size or out.shape[1] != n or limit < 1 or limit > 62:
        return ERR_BUFFER
    counts = np.empty(n, np.int64)
    used = np.empty(n, np.int64)
    for j in range(rows.size):
        r = rows[j]
        if r < 0 or r >= T:
            return ERR_BUFFER
        m = 0
        for s in range(n):
            out[j, s] = 0
            c = np.int64(np.rint(S[r, s]))
            if c != 0:
                counts[m] = c
                used[m] = s
                m += 1
        if m == 0:
            continue
        if m == 1:
            out[j, used[0]] = 1
            continue
        if m > (np.int64(1) << limit):
            return ERR_SYMBOL
        w = counts[:m].copy()
        lens = huffman_depths(w)
        if lens.max() > limit:
            st = limit_lengths(w, lens, limit)
            if st != OK:
                return st
        for i in range(m):
            out[j, used[i]] = lens[i]
    return OK


@njit(cache=True, nogil=True)
def limit_lengths(weights, lens, limit):
    """Clamp Huffman code lengths to ``limit`` and repair the Kraft sum: lengthen the lightest
    codes first (ascending weight, ties by index), then shorten the heaviest while the code
    stays valid.  In place on ``lens`` (int64); returns a status."""
    n = lens.size
    if weights.size != n or limit < 1 or limit > 62:
        return ERR_BUFFER
    for i in range(n):
        if lens[i] > limit:
            lens[i] = limit
        if lens[i] < 1:
            return ERR_BUFFER
    unit = np.int64(1) << limit
    kraft = np.int64(0)
    for i in range(n):
        kraft += np.int64(1) << (limit - lens[i])
    order = np.argsort(weights, kind="mergesort")
    while kraft > unit:
        for j in range(n):
            i = order[j]
            if lens[i] < limit:
                kraft -= np.int64(1) << (limit - lens[i] - 1)
                lens[i] += 1
                if kraft <= unit:
                    break
    for j in range(n - 1, -1, -1):
        i = order[j]
        while lens[i] > 1 and kraft + (np.int64(1) << (limit - lens[i])) <= unit:
            kraft += np.int64(1) << (limit - lens[i])
            lens[i] -= 1
    return OK


@njit(cache=True, nogil=True)
def gamma_symbol_list(lengths, maxlen, out):
    """Write the canonical symbol list (FORMAT.md 6.2): for L = 1..maxlen, the symbols of
    length L ascending, each as the Elias-gamma code of its gap; zero-padded to a byte.
    ``out`` must be zero-filled.  Returns (status, bytes written)."""
    bit = np.int64(0)
    cap = np.int64(out.size) * 8
    for ln in range(1, maxlen + 1):
        prev = -1
        for s in range(lengths.size):
            if lengths[s] != ln:
                continue
            x = np.int64(s - prev)
            prev = s
            nb = 0
            v = x
            while v > 0:
                nb += 1
                v >>= 1
            need = 2 * nb - 1
            if bit + need > cap:
                return ERR_BUFFER, 0
            bit += nb - 1  # leading zeros (out is zero-filled)
            for i in range(nb - 1, -1, -1):
                if (x >> i) & 1:
                    out[bit >> 3] |= np.uint8(0x80 >> (bit & 7))
                bit += 1
    return OK, (bit + 7) >> 3


@njit(cache=True, inline="always")
def _shared_lengths(S):
    """Estimated code lengths of one table shared by all owners (weighted symbol sums ``S``):
    -log2 of each symbol's share, at least 1 bit (1 for an absent symbol); and the number of
    symbols present.  The model-cost kernels' common first step (same float order)."""
    nsym = S.size
    tot = 0.0
    for s in range(nsym):
        tot += S[s]
    tot = max(tot, 1.0)
    L = np.empty(nsym)
    kS = 0
    for s in range(nsym):
        if S[s] > 0:
            L[s] = max(1.0, -math.log2(S[s] / tot))
            kS += 1
        else:
            L[s] = 1.0
    return L, kS


@njit(cache=True, nogil=True)
def model_cost_kernel(H, X, w, fixed_bits, bits_per_code):
    """Estimated package bits for per-owner histograms H (sample counts), extra bits X and
    sample-to-tensor factors w: each owner takes the cheaper of its own table (entropy +
    Miller-Madow term + table bits) and one shared table; plus the shared table's bits.
    Returns (status, bits)."""
    n, nsym = H.shape
    if X.size != n or w.size != n:
        return ERR_BUFFER, 0.0
    S = np.zeros(nsym)
    for o in range(n):
        for s in range(nsym):
            S[s] += H[o, s] * w[o]
    L, kS = _shared_lengths(S)
    c = 1.0 / (2.0 * math.log(2.0))
    total = 0.0
    xs = 0.0
    for o in range(n):
        rs = 0.0
        k = 0
        for s in range(nsym):
            h = H[o, s]
            if h != 0:
                rs += h
                k += 1
        rs = max(rs, 1.0)
        ent = 0.0
        shared = 0.0
        for s in range(nsym):
            h = H[o, s]
            if h != 0:
                ent += h * max(1.0, -math.log2(h / rs))
                shared += h * w[o] * L[s]
        own = (ent + max(k - 1, 0) * c) * w[o] + fixed_bits + bits_per_code * k
        total += min(own, shared)
        xs += X[o] * w[o]
    return OK, total + xs + fixed_bits + bits_per_code * kS


@njit(cache=True, nogil=True)
def dedup_pairs(owner, runs, vals, rcap, mcap, o_out, r_out, m_out, c_out):
    """Collapse (owner, run, |value|) pairs into distinct triples with multiplicities.

    ``owner`` must be non-decreasing (owners are contiguous).  Pairs with run < rcap and
    |value| < mcap are counted in a scratch table; others are copied as they are (count 1).
    Outputs need room for ``runs.size`` entries.  Returns (status, number of triples).
    """
    n = runs.size
    if owner.size != n or vals.size != n or o_out.size < n or r_out.size < n or m_out.size < n \
            or c_out.size < n or rcap < 1 or mcap < 1:
        return ERR_BUFFER, 0
    tab = np.zeros(rcap * mcap, np.int64)
    touched = np.empty(min(n, rcap * mcap) + 1, np.int64)
    out = 0
    k = 0
    while k < n:
        o = owner[k]
        nt = 0
        j = k
        while j < n and owner[j] == o:
            r = np.int64(runs[j])
            d = np.int64(vals[j])
            m = d if d > 0 else -d
            if r < rcap and m < mcap and r >= 0:
                key = r * mcap + m
                if tab[key] == 0:
                    if nt >= touched.size:
                        return ERR_BUFFER, 0
                    touched[nt] = key
                    nt += 1
                tab[key] += 1
            else:
                o_out[out] = o
                r_out[out] = r
                m_out[out] = m
                c_out[out] = 1
                out += 1
            j += 1
        if j < n and owner[j] < o:
            return ERR_BUFFER, 0
        for i in range(nt):
            key = touched[i]
            if out >= o_out.size:
                return ERR_BUFFER, 0
            o_out[out] = o
            r_out[out] = key // mcap
            m_out[out] = key % mcap
            c_out[out] = tab[key]
            tab[key] = 0
            out += 1
        k = j
    return OK, out


@njit(cache=True, nogil=True)
def dedup_parts(runs, vals, lo, hi, step, rcap, mcap, o_out, r_out, m_out, c_out):
    """:func:`dedup_pairs` of a strided sample without building it: owner i's pairs are
    ``runs[lo[i]:hi[i]:step]`` / ``vals[...]`` (the same triples, in the same order, as
    :func:`dedup_pairs` of those slices concatenated with their owner numbers, with ``rcap``
    at most the longest sampled run + 1, as there).  Outputs need room for the sample's
    size.  Returns (status, number of triples)."""
    n_owner = lo.size
    if hi.size != n_owner or step < 1 or rcap < 1 or mcap < 1:
        return ERR_BUFFER, 0
    cap = min(o_out.size, r_out.size, m_out.size, c_out.size)
    rmax = np.int64(0)
    for o in range(n_owner):
        a = lo[o]
        b = hi[o]
        if a < 0 or b < a or b > runs.size or b > vals.size:
            return ERR_BUFFER, 0
        for j in range(a, b, step):  # (unsigned indices: no negative-index code)
            rmax = max(rmax, np.int64(runs[np.uint64(j)]))
    rcap = min(rcap, rmax + 1)  # (the table need not be larger than the longest run)
    tab = np.zeros(rcap * mcap, np.int64)
    touched = np.empty(min(cap, rcap * mcap) + 1, np.int64)
    out = 0
    for o in range(n_owner):
        a = lo[o]
        b = hi[o]
        nt = 0
        for j in range(a, b, step):
            r = np.int64(runs[np.uint64(j)])
            d = np.int64(vals[np.uint64(j)])
            m = d if d > 0 else -d
            if r < rcap and m < mcap and r >= 0 and m >= 0:
                key = np.uint64(r * mcap + m)
                if tab[key] == 0:
                    if nt >= touched.size:
                        return ERR_BUFFER, 0
                    touched[nt] = key
                    nt += 1
                tab[key] += 1
            else:
                if out >= cap:
                    return ERR_BUFFER, 0
                o_out[out] = o
                r_out[out] = r
                m_out[out] = m
                c_out[out] = 1
                out += 1
        for i in range(nt):
            key = touched[i]
            if out >= cap:
                return ERR_BUFFER, 0
            o_out[out] = o
            r_out[out] = key // mcap
            m_out[out] = key % mcap
            c_out[out] = tab[key]
            tab[key] = 0
            out += 1
    return OK, out


@njit(cache=True, nogil=True)
def csr_table_sums(indptr, indices, data, assign, k, ncols):
    """Returns (status, out) with out[assign[g], s] += w for every nonzero (g, s, w) of a CSR
    matrix: the symbol sums of each table's rows (tables 0..k-1)."""
    out = np.zeros((k, ncols))
    G = indptr.size - 1
    if assign.size != G:
        return ERR_BUFFER, out
    for g in range(G):
        a = assign[g]
        lo = indptr[g]
        hi = indptr[g + 1]
        if a < 0 or a >= k or lo < 0 or hi > indices.size or hi > data.size:
            return ERR_BUFFER, out
        for j in range(lo, hi):
            s = indices[j]
            if s < 0 or s >= ncols:
                return ERR_BUFFER, out
            out[a, s] += data[j]
    return OK, out


@njit(cache=True, nogil=True)
def argmin_tables(costT, out):
    """out[g] = the first t with the smallest costT[t, g] (numpy's argmin over axis 0)."""
    T, G = costT.shape
    if out.size != G or T < 1:
        return ERR_BUFFER
    best = costT[0].copy()
    out[:] = 0
    for t in range(1, T):
        for g in range(G):
            v = costT[t, g]
            if v < best[g]:
                best[g] = v
                out[g] = t
    return OK


@njit(cache=True, nogil=True)
def tensor_hist_rows(runs, vals, plo, phi, ngroups, kref, nrun, nsym, H, X):
    """Tensor i's symbol histogram H[i] (ngroups[i] EOBs) and extra bits X[i], its pairs
    being ``[plo[i], phi[i])`` of runs / vals: :func:`tensor_hist_row` for many tensors."""
    n = plo.size
    if phi.size != n or ngroups.size != n or H.shape[0] != n or H.shape[1] < nsym or X.size != n \
            or nsym < SYM_FIRST or nrun < 1:
        return ERR_BUFFER
    s0, x1 = mag_lut(kref, nrun)
    for i in range(n):
        lo = plo[i]
        hi = phi[i]
        if lo < 0 or hi < lo or hi > runs.size or hi > vals.size:
            return ERR_BUFFER
        _tensor_hist(runs, vals, lo, hi, ngroups[i], kref, nrun, nsym, H[i], X[i:i + 1], s0, x1)
    return OK


@njit(cache=True, nogil=True)
def csr_move_rows(indptr, indices, data, moved, src, dst, S):
    """Table sums after moving rows: for g in ``moved``, S[src[g]] -= row g, S[dst[g]] += row
    g (integer counts in floats: exact, so equal to recomputing the sums)."""
    G = indptr.size - 1
    T, n = S.shape
    if src.size != G or dst.size != G:
        return ERR_BUFFER
    for j in range(moved.size):
        g = moved[j]
        if g < 0 or g >= G:
            return ERR_BUFFER
        a = src[g]
        b = dst[g]
        lo = indptr[g]
        hi = indptr[g + 1]
        if a < 0 or a >= T or b < 0 or b >= T or lo < 0 or hi > indices.size or hi > data.size:
            return ERR_BUFFER
        for k in range(lo, hi):
            s = indices[k]
            if s < 0 or s >= n:
                return ERR_BUFFER
            S[a, s] -= data[k]
            S[b, s] += data[k]
    return OK


@njit(cache=True, nogil=True)
def class_triples(owner, runs, mags, counts, n_owner, kref, ncls, rcap, o_out, r_out, c_out,
                  n_out, X):
    """(owner, run, |value|) triples with counts (from :func:`dedup_pairs`) collapsed to
    (owner, run, magnitude class at ``kref``) triples with counts, and each owner's extra bits
    X[o]: the parts of :func:`weighted_owner_stats` that do not depend on nrun.  Triples
    with run >= rcap are copied as they are.  Outputs need room for ``runs.size`` entries.
    Returns (status, number of triples)."""
    n = runs.size
    if owner.size != n or mags.size != n or counts.size != n or X.size != n_owner \
            or o_out.size < n or r_out.size < n or c_out.size < n or n_out.size < n \
            or rcap < 1 or ncls < 1:
        return ERR_BUFFER, 0
    rmax = np.int64(0)
    for k in range(n):
        rmax = max(rmax, np.int64(runs[k]))
    rcap = min(rcap, rmax + 1)
    if rcap * ncls > 4 * n + 64:
        rcap = 0  # a table much larger than the triples costs more than it saves: no merging
    tab = np.zeros(rcap * ncls, np.int64)
    touched = np.empty(min(n, rcap * ncls) + 1, np.int64)
    X[:] = 0
    out = 0
    k = 0
    while k < n:
        o = owner[k]
        if o < 0 or o >= n_owner:
            return ERR_BUFFER, 0
        nt = 0
        j = k
        while j < n and owner[j] == o:
            if mags[j] < 1:
                return ERR_BUFFER, 0
            c, e, _x = mag_class(mags[j], kref)
            X[o] += (e + 1) * counts[j]
            r = np.int64(runs[j])
            if c >= ncls or c < 0:
                return ERR_BUFFER, 0
            if 0 <= r < rcap:  # (none when rcap is 0)
                key = r * ncls + c
                if tab[key] == 0:
                    if nt >= touched.size:
                        return ERR_BUFFER, 0
                    touched[nt] = key
                    nt += 1
                tab[key] += counts[j]
            else:
                o_out[out] = o
                r_out[out] = r
                c_out[out] = c
                n_out[out] = counts[j]
                out += 1
            j += 1
        if j < n and owner[j] < o:
            return ERR_BUFFER, 0
        for i in range(nt):
            key = touched[i]
            o_out[out] = o
            r_out[out] = key // ncls
            c_out[out] = key % ncls
            n_out[out] = tab[key]
            tab[key] = 0
            out += 1
        k = j
    return OK, out


@njit(cache=True, nogil=True)
def sample_model_cost(owner, runs, cls, counts, n_owner, eob, X, nrun, nsym, w, fixed_bits,
                      bits_per_code):
    """:func:`model_cost_kernel` of :func:`weighted_owner_stats`' histograms without the dense
    ``n_owner x nsym`` matrix (``cls``, ``X``: from :func:`class_triples`): each owner's row
    is counted over its touched symbols only (the triples of an owner are contiguous, owners
    non-decreasing), kept in CSR form with ascending symbols, and every sum is taken in the
    dense kernels' order (same result, bit for bit).  Returns (status, bits)."""
    n = runs.size
    if owner.size != n or cls.size != n or counts.size != n or eob.size != n_owner \
            or w.size != n_owner or X.size != n_owner or nrun < 1 or nsym < SYM_FIRST \
            or n_owner < 0:
        return ERR_BUFFER, 0.0
    row = np.zeros(nsym, np.int64)
    touched = np.empty(nsym, np.int64)
    bits = np.zeros((nsym >> 6) + 1, np.uint64)
    cap = n + 2 * n_owner
    indptr = np.zeros(n_owner + 1, np.int64)
    cols = np.empty(cap, np.int64)
    vals = np.empty(cap, np.int64)
    S = np.zeros(nsym)
    nnz = 0
    k = 0
    for o in range(n_owner):
        nt = 0
        if eob[o] != 0:
            row[SYM_EOB] = eob[o]
            touched[nt] = SYM_EOB
            nt += 1
        while k < n and owner[k] == o:
            c_n = counts[k]
            r = np.int64(runs[k])
            if r >= nrun:
                if row[SYM_ESC] == 0:
                    touched[nt] = SYM_ESC
                    nt += 1
                row[SYM_ESC] += (r // nrun) * c_n
                r = r % nrun
            s = SYM_FIRST + cls[k] * nrun + r
            if s < nsym:
                if s < 0:
                    return ERR_BUFFER, 0.0
                if row[s] == 0:
                    touched[nt] = s
                    nt += 1
                row[s] += c_n
            k += 1
        if k < n and (owner[k] < o or owner[k] < 0):
            return ERR_BUFFER, 0.0
        if nnz + nt > cap:
            return ERR_BUFFER, 0.0
        # the touched symbols in ascending order: set bits of a bitmap, word by word
        hi_w = -1
        for j in range(nt):
            s = touched[j]
            wd = s >> 6
            bits[wd] |= np.uint64(1) << np.uint64(s & 63)
            hi_w = max(hi_w, wd)
        for wd in range(hi_w + 1):
            x = bits[wd]
            bits[wd] = 0
            while x:
                low = x & (~x + np.uint64(1))
                s = (wd << 6) + np.int64(bit_length64(low)) - 1
                x ^= low
                h = row[s]
                row[s] = 0
                if h != 0:  # (a count that summed to zero is no nonzero)
                    cols[nnz] = s
                    vals[nnz] = h
                    S[s] += h * w[o]
                    nnz += 1
        indptr[o + 1] = nnz
    if k != n:
        return ERR_BUFFER, 0.0
    L, kS = _shared_lengths(S)
    c2 = 1.0 / (2.0 * math.log(2.0))
    total = 0.0
    xs = 0.0
    for o in range(n_owner):
        rs = 0.0
        kk = 0
        for j in range(indptr[o], indptr[o + 1]):
            rs += vals[j]
            kk += 1
        rs = max(rs, 1.0)
        ent = 0.0
        shared = 0.0
        for j in range(indptr[o], indptr[o + 1]):
            h = vals[j]
            ent += h * max(1.0, -math.log2(h / rs))
            shared += h * w[o] * L[cols[j]]
        own = (ent + max(kk - 1, 0) * c2) * w[o] + fixed_bits + bits_per_code * kk
        total += min(own, shared)
        xs += X[o] * w[o]
    return OK, total + xs + fixed_bits + bits_per_code * kS
