"""Numba kernels of format v3's mirror transform (codec/mirror.py is the numpy layer;
docs/FORMAT.md §23-§25): the writer's scan (§25's rule, one call a tensor) and row modes, the
reader's mode check (X4) and in-place inverse.  Every index is checked against its array;
kernels return status codes that codec/mirror.py and codec/package.py turn into errors."""
from __future__ import annotations

import numpy as np
from numba import njit

from .directory import (F_BOFF, F_DTYPE, F_MLEN, F_MPERIOD, F_MSKIP, F_NUMEL, F_VOFF,
                        N_FIELDS)

SAMPLE_ROWS = 64      # §25's sample step: rows looked at first ...
SAMPLE_PAIRS = 32     # ... and pairs of each
SAMPLE_MIN_NUMEL = 8192  # ... in tensors of more values than this


@njit(cache=True, inline="always")
def _row(flat, b, m, h, voff, mask):
    """(nonzeros of the stored second half under mode 0, 1, 2) of the row segment at b."""
    c0 = c1 = c2 = np.int64(0)
    for k in range(h):
        d1 = np.int64(flat[b + k]) - voff
        d2 = np.int64(flat[b + m - 1 - k]) - voff
        c0 += (d2 & mask) != 0
        c1 += ((d2 - d1) & mask) != 0
        c2 += ((d2 + d1) & mask) != 0
    return c0, c1, c2


@njit(cache=True, inline="always")
def _scan(flat, p, voff, mask):
    """(saved with a = 0, saved with a = 1, nonzeros) of period ``p`` over every row, each at
    its best mode; saved -1 when ``p - a < 2``.  One pass a row: both
    skips pair the same second-half value x[p - 1 - k] with x[k] (a = 0) and x[1 + k]
    (a = 1), so each is loaded once (1.5 loads a value instead of 3)."""
    n_rows = flat.size // p
    h0 = p // 2
    h1 = (p - 1) // 2
    s0 = np.int64(0) if p >= 2 else np.int64(-1)
    s1 = np.int64(0) if p >= 3 else np.int64(-1)
    nz = np.int64(0)
    for r in range(n_rows):
        b = r * p
        a0 = a1 = a2 = b0 = b1 = b2 = np.int64(0)
        for k in range(h0):
            d2 = np.int64(flat[b + p - 1 - k]) - voff
            d1 = np.int64(flat[b + k]) - voff
            z2 = np.int64((d2 & mask) != 0)  # (ints: under NUMBA_DISABLE_JIT numpy bools
            nz += z2 + np.int64((d1 & mask) != 0)  # would add as a logical or)
            a0 += z2
            a1 += ((d2 - d1) & mask) != 0
            a2 += ((d2 + d1) & mask) != 0
            if k < h1:
                e1 = np.int64(flat[b + 1 + k]) - voff
                b0 += z2
                b1 += ((d2 - e1) & mask) != 0
                b2 += ((d2 + e1) & mask) != 0
        if p & 1:
            nz += ((np.int64(flat[b + h0]) - voff) & mask) != 0
        if s0 >= 0:
            s0 += a0 - min(a0, min(a1, a2))
        if s1 >= 0:
            s1 += b0 - min(b0, min(b1, b2))
    return s0, s1, nz


@njit(cache=True, inline="always")
def _sample(flat, p, a, voff, mask):
    """§25's sample step for (p, a): (nonzeros saved, nonzeros) over the SAMPLE_PAIRS pairs
    (b + a + k, b + p - 1 - k), k = floor(i (h - 1) / (SAMPLE_PAIRS - 1)), of the SAMPLE_ROWS
    rows floor(j (R - 1) / (SAMPLE_ROWS - 1)), each row at its best mode on those pairs
    (evenly spread, not the first ones: a windowed basis is all zeros near the row ends once
    pruned)."""
    n_rows = flat.size // p
    h = (p - a) // 2
    saved = nz = np.int64(0)
    for j in range(SAMPLE_ROWS):
        b = (j * (n_rows - 1) // (SAMPLE_ROWS - 1)) * p  # a row in range
        c0 = c1 = c2 = np.int64(0)
        for i in range(SAMPLE_PAIRS if h > 0 else 0):
            k = i * (h - 1) // (SAMPLE_PAIRS - 1)  # 0 <= k < h
            d1 = np.int64(flat[b + a + k]) - voff
            d2 = np.int64(flat[b + p - 1 - k]) - voff
            z2 = np.int64((d2 & mask) != 0)
            nz += z2 + np.int64((d1 & mask) != 0)
            c0 += z2
            c1 += ((d2 - d1) & mask) != 0
            c2 += ((d2 + d1) & mask) != 0
        saved += c0 - min(c0, min(c1, c2))
    return saved, nz


@njit(cache=True, nogil=True)
def sample_counts(flat, p, a, voff, mask):
    """:func:`_sample` as a call (tests): (saved, nonzeros); -1s for a bad argument."""
    if p < 2 or a < 0 or a > p - 2 or flat.size % p != 0 or flat.size == 0:
        return np.int64(-1), np.int64(-1)
    return _sample(flat, p, a, voff, mask)


@njit(cache=True, nogil=True)
def scan_counts(flat, p, voff, mask):
    """:func:`_scan` as a call (tests): (saved a = 0, saved a = 1, nonzeros); -1s for a bad
    argument."""
    if p < 2 or flat.size % p != 0 or flat.size == 0:
        return np.int64(-1), np.int64(-1), np.int64(-1)
    return _scan(flat, p, voff, mask)


@njit(cache=True, nogil=True)
def scan_tensor(flat, p1, p2, voff, mask):
    """§25's choice among the candidate periods ``p1`` and ``p2`` (0 = none; each must divide
    ``flat.size``): (saved, period, skip) of the best candidate, saved 0 when the sample step
    or the 4/5 share rules it out, -1 for a bad argument.  One call a tensor (numpy took
    ~0.2 ms a tensor in calls alone)."""
    n = flat.size
    for p in (p1, p2):
        if p != 0 and (p < 2 or n % p != 0):
            return np.int64(-1), np.int64(0), np.int64(0)
    if p1 == 0:
        return np.int64(-1), np.int64(0), np.int64(0)
    # the sample step (tensors of > SAMPLE_MIN_NUMEL values; a sample is 4096 values): some
    # candidate saves >= 1/10 of its sample's nonzeros
    ok = n <= SAMPLE_MIN_NUMEL
    if not ok:
        for p in (p1, p2):
            if p != 0:
                for a in range(2):
                    if p - a >= 2:
                        saved, snz = _sample(flat, p, a, voff, mask)
                        if snz > 0 and 10 * saved >= snz:
                            ok = True
    if not ok:
        return np.int64(0), np.int64(0), np.int64(0)
    best, bp, ba, nz = np.int64(0), np.int64(0), np.int64(0), np.int64(0)
    for p in (p1, p2):
        if p != 0:
            s0, s1, nz = _scan(flat, p, voff, mask)
            if s0 > best:
                best, bp, ba = s0, p, np.int64(0)
            if s1 > best:
                best, bp, ba = s1, p, np.int64(1)
    if best <= 0 or 5 * (nz - best) > 4 * nz:  # >= 1 nonzero saved, <= 4/5 of them left
        return np.int64(0), np.int64(0), np.int64(0)
    return best, bp, ba


@njit(cache=True, nogil=True)
def best_modes(flat, period, skip, voff, mask, modes):
    """Every row's best mode (fewest nonzero stored second-half values, ties: the lower mode)
    into ``modes``; 0, or -1 for a bad argument."""
    if period < 2 or skip < 0 or skip > period - 2 or flat.size % period != 0 \
            or modes.size < flat.size // period:
        return -1
    m = period - skip
    for r in range(flat.size // period):
        c0, c1, c2 = _row(flat, r * period + skip, m, m // 2, voff, mask)
        mode = 0
        if c1 < c0:
            mode = 1
        if c2 < min(c0, c1):
            mode = 2
        modes[r] = mode
    return 0


@njit(cache=True, nogil=True)
def check_modes(buf, off, n_rows):
    """X4: -1 if every 2-bit mode at byte ``off`` of ``buf`` is <= 2, else the first bad row;
    -2 if the string does not fit in ``buf``."""
    if off < 0 or n_rows < 0 or off + (n_rows + 3) // 4 > buf.size:
        return np.int64(-2)
    for r in range(n_rows):
        if (buf[off + (r >> 2)] >> (6 - 2 * (r & 3))) & 3 == 3:
            return np.int64(r)
    return np.int64(-1)


MIRROR_CHUNK = 4096  # inverse's scratch: pairs per chunk (bounded whatever the period)


@njit(cache=True, nogil=True)
def inverse(out, lo, numel, period, skip, buf, off, voff, bits, signed):
    """Undo the mirror in place on ``out[lo : lo + numel]`` (modes at ``buf[off:]``).  Status
    0, -1 a bad argument or range, -(2 + r) a mode 3 at row r (check X4)."""
    if period < 2 or skip < 0 or skip > period - 2 or numel < 0 or numel % period != 0 \
            or lo < 0 or lo + numel > out.size or bits < 8 or bits > 32:
        return np.int64(-1)
    n_rows = numel // period
    if off < 0 or off + (n_rows + 3) // 4 > buf.size:
        return np.int64(-1)
    mask = (np.int64(1) << bits) - 1
    half = (np.int64(1) << (bits - 1)) if signed else np.int64(0)
    m = period - skip
    h = m // 2
    tmp = np.empty(min(h, MIRROR_CHUNK), np.int64)
    for r in range(n_rows):
        mode = (np.int64(buf[off + (r >> 2)]) >> (6 - 2 * (r & 3))) & 3
        if mode == 0:
            continue
        if mode == 3:
            return -(2 + np.int64(r))
        s = np.int64(1) if mode == 1 else np.int64(-1)
        b = lo + r * period + skip
        e = b + m - 1
        # the pairs in chunks of <= MIRROR_CHUNK: the s * (x[b + k] - z) of a chunk into
        # ``tmp`` in reverse, then the second half's update in forward order, modulo 2**bits
        # and the signed dtypes' two's complement without a branch: the loops vectorise
        # (silero's 258 x 256 basis: 65 -> 21 us; the reversed in-place loop with a branch did
        # not)
        for k0 in range(0, h, MIRROR_CHUNK):
            k1 = min(h, k0 + MIRROR_CHUNK)
            for k in range(k0, k1):  # s * (first half - z), reversed: the update runs forwards
                tmp[k1 - 1 - k] = s * (np.int64(out[np.uint64(b + k)]) - voff)
            d = np.uint64(e - (k1 - 1))
            for q in range(k1 - k0):  # (unsigned indices: no negative-index wraparound code)
                v = (np.int64(out[d + np.uint64(q)]) + tmp[q]) & mask
                out[d + np.uint64(q)] = v - ((v & half) << 1)
    return np.int64(0)


@njit(cache=True, nogil=True)
def inverse_entries(out, ents, code, buf, bits, signed):
    """:func:`inverse` for every tensor of dtype ``code`` with a mirror (a directory kernel's
    entry array, kernels/directory.py F_*), ``out`` holding the dtype's tensors back to back in
    entry order (the fast path's layout): one call instead of one per tensor.  Returns 0 or
    the first tensor's nonzero :func:`inverse` status."""
    if ents.shape[1] < N_FIELDS:
        return np.int64(-1)
    base = np.int64(0)
    for i in range(ents.shape[0]):
        if ents[i, F_DTYPE] != code:
            continue
        numel = ents[i, F_NUMEL]
        if ents[i, F_MPERIOD] > 0:
            st = inverse(out, base, numel, ents[i, F_MPERIOD], ents[i, F_MSKIP], buf,
                         ents[i, F_BOFF] + ents[i, F_MLEN], ents[i, F_VOFF], bits, signed)
            if st != 0:
                return st
        base += numel
    return np.int64(0)
