"""Kernels for Huffman-table parsing: the gamma-coded symbol list and canonical codes."""
from __future__ import annotations

import numpy as np
from numba import njit

from .intrinsics import bit_length64, window_be64 as _window

ERR_GAMMA = -1    # a gap code longer than the alphabet allows
ERR_RANGE = -2    # a symbol >= alphabet size
ERR_DUP = -3      # a symbol listed twice
ERR_END = -4      # the list runs past the end of the input


@njit(cache=True)
def read_symbol_list(buf, start, end, counts, lengths):
    """Decode the symbol list of a table (counts[l-1] symbols of length l) into ``lengths``.

    Returns (status, byte position after the padded list, bit offset of the problem).  Each
    gamma code (at most 20 zeros, a 1, as many bits: <= 41 bits) is read from one 64-bit
    window at its bit position (bytes at or past ``end`` read as 0) with a count of leading
    zeros; the status and bit offset of a bad or cut code are those of reading it bit by bit
    (:func:`_gamma_error`).
    """
    nsym = lengths.size
    lengths[:] = 0
    bitpos = start * 8
    endbit = end * 8
    if start < 0 or end > buf.size:
        return ERR_END, 0, bitpos
    for li in range(counts.size):
        prev = -1
        for _ in range(counts[li]):
            avail = endbit - bitpos
            if avail <= 0:
                return ERR_END, 0, bitpos
            w = _window(buf, bitpos >> 3, end) << np.uint64(bitpos & 7)
            nz = 64 - bit_length64(w)  # zeros before the code's 1 (64: none in the window)
            if nz > 20 or nz >= avail:
                return _gamma_error(avail, bitpos)
            if 2 * nz + 1 > avail:  # the gap's bits run past the end
                return ERR_END, 0, endbit
            x = np.int64(w >> np.uint64(63 - 2 * nz))  # the top 2 nz + 1 bits: the gap
            bitpos += 2 * nz + 1
            s = prev + x
            if s >= nsym:
                return ERR_RANGE, 0, bitpos
            if lengths[s] != 0:
                return ERR_DUP, 0, bitpos
            lengths[s] = li + 1
            prev = s
    return 0, (bitpos + 7) >> 3, bitpos


@njit(cache=True, inline="always")
def _gamma_error(avail, bitpos):
    """A gamma code's leading zeros do not end in a 1 within 20 zeros and the input: reading
    bit by bit meets the end first (ERR_END where the input ends) when at most 20 bits are
    left, else a 21st zero (ERR_GAMMA after it)."""
    if avail <= 20:
        return ERR_END, 0, bitpos + avail
    return ERR_GAMMA, 0, bitpos + 21


@njit(cache=True)
def canonical_codes_kernel(lengths, maxlen, codes):
    """Canonical codes: by length, then symbol index; returns 0 (or -1 if Kraft overflows)."""
    counts = np.zeros(maxlen + 1, np.int64)
    for s in range(lengths.size):
        counts[lengths[s]] += 1
    counts[0] = 0
    nxt = np.zeros(maxlen + 2, np.int64)
    code = np.int64(0)
    for ln in range(1, maxlen + 1):
        code = (code + counts[ln - 1]) << 1
        nxt[ln] = code
    for ln in range(1, maxlen + 1):
        if nxt[ln] + counts[ln] > (np.int64(1) << ln):
            return -1
    for s in range(lengths.size):
        ln = lengths[s]
        if ln:
            codes[s] = nxt[ln]
            nxt[ln] += 1
    return 0


ERR_TABLE_ID = -5   # a group names a table that does not exist
ERR_ZERO_LEN = -6   # a group of length 0
ERR_PAYLOAD = -7    # group lengths do not add up to the payload size (checked by the caller)
ERR_PLAN_ARGS = -8  # plan_batch: an item's group table lies outside the buffer, or bad sizes


@njit(cache=True, inline="always")
def _bits_at(buf, bitpos, width):
    """``width`` MSB-first bits at ``bitpos`` (>= 0) as an integer: one 64-bit window (>= 57
    bits from ``bitpos``; bytes past ``buf`` read as 0) for a width of at most 57 (the group
    table's fields: <= 12 and <= 56 bits), else bit by bit."""
    if width <= 0:
        return np.int64(0)
    if width <= 57:
        x = _window(buf, bitpos >> 3, buf.size) << np.uint64(bitpos & 7)
        return np.int64(x >> np.uint64(64 - width))
    v = np.int64(0)
    for _ in range(width):
        v = (v << 1) | ((buf[bitpos >> 3] >> (7 - (bitpos & 7))) & 1)
        bitpos += 1
    return v


@njit(cache=True)
def plan_range(buf, gt0, tid_bits, len_bits, tid_base, bitpos, g0, g1, gsize, numel, out_base,
               voff, ntables, glo, ghi, tid, ostart, ocount, gvoff, slot0):
    """Groups [g0, g1) of one tensor into slots [slot0, slot0 + g1 - g0) of the decode
    arguments; ``bitpos`` is the absolute bit where group g0 starts.  Returns (status, bit
    position after group g1 - 1).  The caller has checked the group table lies in ``buf``."""
    w = tid_bits + len_bits
    bp = gt0 * 8 + g0 * w
    pos = bitpos
    slot = slot0
    for g in range(g0, g1):
        t = _bits_at(buf, bp, tid_bits) + tid_base
        ln = _bits_at(buf, bp + tid_bits, len_bits)
        bp += w
        if t >= ntables:
            return ERR_TABLE_ID, pos
        if ln < 1:
            return ERR_ZERO_LEN, pos
        glo[slot] = pos
        pos += ln
        ghi[slot] = pos
        tid[slot] = t
        s = g * gsize
        ostart[slot] = out_base + s
        ocount[slot] = min(s + gsize, numel) - s
        gvoff[slot] = voff
        slot += 1
    return 0, pos


@njit(cache=True)
def huffman_depths(weights):
    """Code lengths of an optimal Huffman code for ``weights`` (all > 0, n >= 2), ties broken
    exactly as a heap of (weight, node id) would: leaves are nodes 0..n-1 in input order,
    internal nodes get increasing ids from n.  Two-queue construction, O(n log n) for the sort.
    """
    n = weights.size
    order = np.argsort(weights, kind="mergesort")  # stable: equal weights keep index order
    wl = weights[order]
    parent = np.zeros(2 * n, np.int64)
    wi = np.zeros(n, np.int64)       # internal node weights (ids n + k)
    li = 0                           # next leaf (position in order)
    ii = 0                           # next internal node to consume
    ni = 0                           # internal nodes created
    for _ in range(n - 1):
        w = np.int64(0)
        for _j in range(2):  # the two lightest nodes (no per-step array)
            take_leaf = False
            if li < n and ii < ni:
                # (weight, id): leaf ids (< n) win ties against internal ids (>= n)
                take_leaf = wl[li] <= wi[ii]
            elif li < n:
                take_leaf = True
            if take_leaf:
                p = order[li]
                li += 1
            else:
                p = n + ii
                ii += 1
            w += weights[p] if p < n else wi[p - n]
            parent[p] = n + ni
        wi[ni] = w
        ni += 1
    depth = np.zeros(2 * n, np.int64)
    root = n + ni - 1
    for node in range(root - 1, -1, -1):
        depth[node] = depth[parent[node]] + 1
    return depth[:n]


@njit(cache=True)
def assign_costs(indptr, indices, data, L, zero):
    """cost[g, t] = sum over the nonzero symbols s of row g of data * L[t, s]; +inf where
    table t has no code for one of them (zero[t, s])."""
    G = indptr.size - 1
    T = L.shape[0]
    cost = np.zeros((G, T))
    for g in range(G):
        for t in range(T):
            c = 0.0
            for k in range(indptr[g], indptr[g + 1]):
                s = indices[k]
                if zero[t, s]:
                    c = np.inf
                    break
                c += data[k] * L[t, s]
            cost[g, t] = c
    return cost


@njit(cache=True)
def csr_sums(indptr, indices, data, assign, k, ncols):
    """out[assign[g], s] += data for every nonzero (g, s) of a CSR matrix: row sums per table."""
    out = np.zeros((k, ncols))
    for g in range(indptr.size - 1):
        a = assign[g]
        for j in range(indptr[g], indptr[g + 1]):
            out[a, indices[j]] += data[j]
    return out


@njit(cache=True)
def table_bits(glo, ghi, tid, ntables, min_bits):
    """(tables whose groups hold >= ``min_bits`` payload bits, in order; all groups' bits):
    the fast path's choice of tables for multi-set decode tables, in one call."""
    per = np.zeros(ntables, np.int64)
    total = np.int64(0)
    n = min(glo.size, ghi.size, tid.size)
    for g in range(n):
        b = ghi[g] - glo[g]
        total += b
        t = tid[g]
        if 0 <= t < ntables:
            per[t] += b
    k = 0
    for t in range(ntables):
        if per[t] >= min_bits:
            k += 1
    ts = np.empty(k, np.int64)
    k = 0
    for t in range(ntables):
        if per[t] >= min_bits:
            ts[k] = t
            k += 1
    return ts, total


@njit(cache=True)
def table_order(tid, ntables, perm):
    """A stable counting sort of group slots by table: ``perm[k]`` = the slot decoded k-th,
    in (table, slot) order.  Returns 1 when ``perm`` was written, 0 when ``tid`` is already
    in that order (nothing to permute), -1 when a table id lies outside [0, ``ntables``) or
    ``perm`` is too short (left unwritten: the caller keeps the order, and the decode
    kernel reports the table id).  The decoder's lanes then read one table's decode table
    at a time (docs/DESIGN.md, session 17)."""
    n = tid.size
    if perm.size < n:
        return -1
    inorder = True
    for i in range(n):
        t = tid[i]
        if t < 0 or t >= ntables:
            return -1
        if i > 0 and t < tid[i - 1]:
            inorder = False
    if inorder:
        return 0
    start = np.zeros(ntables + 1, np.int64)
    for i in range(n):
        start[tid[i] + 1] += 1
    for t in range(ntables):
        start[t + 1] += start[t]
    for i in range(n):
        t = tid[i]
        perm[start[t]] = i
        start[t] += 1
    return 1


@njit(cache=True)
def fitting(bound, tid, voff, vmin, vmax, fit):
    """fit[g] = whether group g's values cannot leave [vmin, vmax] by way of its table's
    whole-set entries: voff[g] -+ bound[tid[g]] inside it (a group that names no table,
    tid < 0 or past ``bound``, does not fit).  Returns how many fit (all or none is the usual
    answer): the decoder's choice of kernel per group in one call."""
    n = min(tid.size, voff.size, fit.size)
    k = 0
    for g in range(n):
        t = tid[g]
        ok = False
        if 0 <= t < bound.size:
            b = bound[t]
            ok = voff[g] - b >= vmin and voff[g] + b <= vmax
        fit[g] = ok
        k += ok
    return k


# columns of plan_batch's item rows
(P_GT0, P_TID_BITS, P_LEN_BITS, P_TID_BASE, P_START, P_G0, P_G1, P_GSIZE, P_NUMEL, P_BASE,
 P_VOFF, P_PAY0, P_PAYLOAD, P_GLEN) = range(14)
P_FIELDS = 14   # P_GLEN: format v4's one group without a group table: its bits (else 0)


@njit(cache=True)
def plan_batch(buf, items, ntables, glo, ghi, tid, ostart, ocount, gvoff, ends):
    """:func:`plan_range` for every row of ``items`` (columns P_*), slots back to back, in one
    call.  Row k's group table must lie in ``buf`` (checked here); when its range reaches the
    tensor's last group (P_PAYLOAD >= 0) the group lengths must add up to the payload (G3).
    Returns (status, row of the problem); ``ends[k]`` = bit position after row k's groups."""
    K = items.shape[0]
    if items.shape[1] < P_FIELDS or ends.size < K:
        return ERR_PLAN_ARGS, 0
    slot = np.int64(0)  # (not a literal: plan_range would compile a version for slot 0)
    nbits = buf.size * 8
    for k in range(K):
        gt0 = items[k, P_GT0]
        tb = items[k, P_TID_BITS]
        lb = items[k, P_LEN_BITS]
        g0 = items[k, P_G0]
        g1 = items[k, P_G1]
        n = g1 - g0
        if (gt0 < 0 or tb < 0 or lb < 0 or tb + lb > 68 or g0 < 0 or n < 0
                or gt0 * 8 + g1 * (tb + lb) > nbits or slot + n > glo.size or slot + n > ghi.size
                or slot + n > tid.size or slot + n > ostart.size or slot + n > ocount.size
                or slot + n > gvoff.size):
            return ERR_PLAN_ARGS, k
        glen = items[k, P_GLEN]
        if glen != 0:  # v4 (§27): one group, no group table, its length in the entry
            if glen < 0 or g0 != 0 or g1 != 1 or tb != 0 or lb != 0:
                return ERR_PLAN_ARGS, k
            t = items[k, P_TID_BASE]
            if t < 0 or t >= ntables:
                return ERR_TABLE_ID, k
            st = 0
            end = items[k, P_START] + glen
            glo[slot] = items[k, P_START]
            ghi[slot] = end
            tid[slot] = t
            ostart[slot] = items[k, P_BASE]
            ocount[slot] = min(items[k, P_GSIZE], items[k, P_NUMEL])
            gvoff[slot] = items[k, P_VOFF]
        else:
            st, end = plan_range(buf, gt0, tb, lb, items[k, P_TID_BASE], items[k, P_START], g0,
                                 g1, items[k, P_GSIZE], items[k, P_NUMEL], items[k, P_BASE],
                                 items[k, P_VOFF], ntables, glo, ghi, tid, ostart, ocount, gvoff,
                                 slot)
        if st == 0 and items[k, P_PAYLOAD] >= 0 and \
                (end - items[k, P_PAY0] * 8 + 7) // 8 != items[k, P_PAYLOAD]:
            st = ERR_PAYLOAD
        if st != 0:
            return st, k
        ends[k] = end
        slot += n
    return 0, 0


@njit(cache=True)
def work_cuts(counts, lanes, k):
    """k + 1 boundaries (in units of ``lanes`` groups) splitting groups into k chunks of about
    equal work (``counts`` = values per group); no temporaries beyond the result."""
    n = counts.size
    nq = (n + lanes - 1) // lanes
    cuts = np.zeros(k + 1, np.int64)
    total = 0
    for g in range(n):
        total += counts[g]
    j = 1
    acc = 0
    for q in range(nq):
        if j >= k:
            break
        for g in range(q * lanes, min(n, q * lanes + lanes)):
            acc += counts[g]
        while j < k and acc * k >= total * j:
            cuts[j] = q + 1
            j += 1
    for jj in range(j, k + 1):
        cuts[jj] = nq
    return cuts
