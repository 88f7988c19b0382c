"""Format v4's table pool fields (docs/FORMAT.md §28.1) with §29's choice of list mode and
Exp-Golomb orders, for the writer (codec/format_v4.py): one pass over a table's code lengths
instead of a dozen NumPy calls on small arrays (yolov8n 8/.5: ~0.3 ms a table there, 27 ms
of a 220 ms pack spent sizing and writing its 77 tables).

A table's fields, in order: unless ``same`` (the previous table's alphabet), kref (3 bits),
nrun - 1 and nclass - 1 (order-0 Exp-Golomb); the list mode (1 bit) and the gap order gk (2
bits); mode 0: the number of coded symbols - 1 (EG0), the delta order dk (2 bits), then per
coded symbol (ascending) its gap from the previous one (EG gk) and its length (the first raw
in 4 bits, then the zigzag difference from the previous length, EG dk); mode 1: the count of
codes of each length 1..12 (EG0), then per length the gaps between its symbols (EG gk).
§29: the (mode, gk, dk) with the fewest bits; ties the lowest triple, in the order (0, g, d)
for g, d in 0..3, then (1, g, 0).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .intrinsics import bit_length64

MAX_LEN = 12


@njit(cache=True)
def _eg_width(v, k):
    """Bits of the order-``k`` Exp-Golomb code of ``v >= 0``."""
    return 2 * bit_length64((v >> k) + 1) - 1 + k


@njit(cache=True)
def _zigzag(d):
    return 2 * d if d >= 0 else -2 * d - 1


@njit(cache=True)
def _coded(lengths):
    """The symbols that have a code, ascending (int64), or an empty array if a length is over
    12."""
    n = 0
    for s in range(lengths.size):
        if lengths[s] > MAX_LEN:
            return np.zeros(0, np.int64)
        n += lengths[s] != 0
    syms = np.empty(n, np.int64)
    j = 0
    for s in range(lengths.size):
        if lengths[s] != 0:
            syms[j] = s
            j += 1
    return syms


@njit(cache=True)
def _choice(lengths, syms, head_bits):
    """(bits, mode, gk, dk): §29's choice for the coded symbols ``syms`` (>= 1) of a table."""
    counts = np.zeros(MAX_LEN + 1, np.int64)
    g0 = np.zeros(4, np.int64)
    dd = np.zeros(4, np.int64)
    g1 = np.zeros(4, np.int64)
    last = np.full(MAX_LEN + 1, -1, np.int64)  # mode 1: the previous symbol of each length
    prev = np.int64(-1)
    pl = np.int64(0)
    for j in range(syms.size):
        s = syms[j]
        ln = np.int64(lengths[s])
        gap = s - prev - 1
        gap1 = s - last[ln] - 1
        for k in range(4):
            g0[k] += _eg_width(gap, k)
            g1[k] += _eg_width(gap1, k)
        if j:
            z = _zigzag(ln - pl)
            for k in range(4):
                dd[k] += _eg_width(z, k)
        counts[ln] += 1
        last[ln] = s
        prev = s
        pl = ln
    base0 = head_bits + 3 + _eg_width(np.int64(syms.size - 1), np.int64(0)) + 2 + 4
    base1 = head_bits + 3
    for ln in range(1, MAX_LEN + 1):
        base1 += _eg_width(counts[ln], np.int64(0))
    best, bm, bg, bd = np.int64(-1), np.int64(0), np.int64(0), np.int64(0)
    for g in range(4):
        for d in range(4):
            b = base0 + g0[g] + dd[d]
            if best < 0 or b < best:
                best, bm, bg, bd = b, np.int64(0), np.int64(g), np.int64(d)
    for g in range(4):
        b = base1 + g1[g]
        if b < best:
            best, bm, bg, bd = b, np.int64(1), np.int64(g), np.int64(0)
    return best, bm, bg, bd


@njit(cache=True)
def _head_bits(same, nrun, nclass):
    """Bits of the alphabet fields: none when ``same``, else kref, nrun - 1, nclass - 1."""
    return 0 if same else 3 + _eg_width(nrun - 1, np.int64(0)) + _eg_width(nclass - 1, np.int64(0))


@njit(cache=True)
def table_choice(lengths, same, nrun, nclass):
    """(bits, mode, gk, dk) of the table with code lengths ``lengths`` (uint8, 0 = no code),
    its alphabet fields included unless ``same``; bits -1 if it has no code (a table always
    codes the end symbol) or a length over 12."""
    syms = _coded(lengths)
    if syms.size == 0:
        return np.int64(-1), np.int64(0), np.int64(0), np.int64(0)
    return _choice(lengths, syms, _head_bits(same, nrun, nclass))


@njit(cache=True)
def _put(vals, widths, i, v, w):
    """Field i (the caller sized the arrays: :func:`table_fields`).  Constant widths are
    passed as ``np.int64(w)`` here and to :func:`_put_eg` / :func:`_eg_width`: Numba compiles
    a called function once per literal argument value (five versions of this one)."""
    vals[i] = v
    widths[i] = w
    return i + 1


@njit(cache=True)
def _put_eg(vals, widths, i, v, k):
    return _put(vals, widths, i, v + (np.int64(1) << k), _eg_width(v, k))


@njit(cache=True)
def table_fields(lengths, same, kref, nrun, nclass):
    """(vals, widths, bits): the table's fields (module doc) and their total bits; empty
    arrays and bits -1 for a table without codes or with a length over 12."""
    syms = _coded(lengths)
    n = syms.size
    vals = np.empty(19 + 2 * n, np.int64)  # 3 + 2 + max(2 + 2n, 12 + n) fields at most
    widths = np.empty(19 + 2 * n, np.int64)
    if n == 0:
        return vals[:0], widths[:0], np.int64(-1)
    i = np.int64(0)
    if not same:
        i = _put(vals, widths, i, kref, np.int64(3))
        i = _put_eg(vals, widths, i, nrun - 1, np.int64(0))
        i = _put_eg(vals, widths, i, nclass - 1, np.int64(0))
    bits, mode, gk, dk = _choice(lengths, syms, _head_bits(same, nrun, nclass))
    i = _put(vals, widths, i, mode, np.int64(1))
    i = _put(vals, widths, i, gk, np.int64(2))
    if mode == 0:
        i = _put_eg(vals, widths, i, n - 1, np.int64(0))
        i = _put(vals, widths, i, dk, np.int64(2))
        prev = np.int64(-1)
        pl = np.int64(0)
        for j in range(n):
            s = syms[j]
            ln = np.int64(lengths[s])
            i = _put_eg(vals, widths, i, s - prev - 1, gk)
            if j == 0:
                i = _put(vals, widths, i, ln, np.int64(4))
            else:
                i = _put_eg(vals, widths, i, _zigzag(ln - pl), dk)
            prev = s
            pl = ln
    else:
        counts = np.zeros(MAX_LEN + 1, np.int64)
        for j in range(n):
            counts[lengths[syms[j]]] += 1
        for ln in range(1, MAX_LEN + 1):
            i = _put_eg(vals, widths, i, counts[ln], np.int64(0))
        for ln in range(1, MAX_LEN + 1):
            prev = np.int64(-1)
            for j in range(n):
                s = syms[j]
                if lengths[s] == ln:
                    i = _put_eg(vals, widths, i, s - prev - 1, gk)
                    prev = s
    return vals[:i], widths[:i], bits
