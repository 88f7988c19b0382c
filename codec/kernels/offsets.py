"""The value-offset choice of codec/offsets.py in one kernel call per tensor: the candidates
and their cost estimates from the tensor's histogram (the numpy form, ~40 us an estimate,
made fer's encode 1.5x slower: 80 tensors)."""
from __future__ import annotations

import numpy as np
from numba import njit

MAX_CLASS = 256  # kref 2 and |d| < 2**18 (twice offsets.HIST_SPAN) give classes below 80


@njit(cache=True, nogil=True)
def offset_bits(hist, lo, c, kref, per):
    """codec.offsets.estimate_bits of values lo + i (counts hist[i]) stored as d = v - c;
    ``per``: float64[MAX_CLASS] scratch.  -1.0 if a class does not fit ``per``."""
    per[:] = 0.0
    n = 0.0
    k = 0.0
    extra = 0.0
    small = (1 << (kref + 1)) - 1
    for i in range(hist.size):
        h = hist[i]
        if h == 0:
            continue
        n += h
        m = abs(lo + i - c)
        if m == 0:
            continue
        L = 0
        x = m
        while x:
            L += 1
            x >>= 1
        e = max(L - 1 - kref, 0)
        cls = m if m <= small else small + 1 + (L - kref - 2) * (1 << kref) + (m >> e)
        if cls >= per.size:
            return -1.0
        per[cls] += h
        k += h
        extra += h * (e + 1.0)
    if k == 0:
        return 0.0
    bits = extra
    for j in range(per.size):
        if per[j] > 0:
            bits -= per[j] * np.log2(per[j] / k)
    z = n - k
    if z > 0:
        bits -= z * np.log2(z / n) + k * np.log2(k / n)
    return bits


@njit(cache=True, nogil=True)
def choose_offset(hist, lo, kref, min_bits, min_frac):
    """codec.offsets.value_offset_for's choice for a signed tensor with values lo + i
    (counts hist[i], hist[0] and hist[-1] > 0): 0 or the cheapest of median, most frequent
    value and middle of the range (ascending on ties) if it saves >= max(min_bits, min_frac
    x the estimate at 0); 0 when every candidate is in [-1, 1] or an estimate fails."""
    n = 0
    mode = 0
    for i in range(hist.size):
        n += hist[i]
        if hist[i] > hist[mode]:
            mode = i
    half = (n + 1) // 2
    acc = 0
    med = 0
    for i in range(hist.size):
        acc += hist[i]
        if acc >= half:
            med = i
            break
    hi = lo + hist.size - 1
    cands = np.array([lo + med, lo + mode, (lo + hi) // 2], np.int64)
    cands.sort()
    if cands[0] >= -1 and cands[2] <= 1:  # centred (most weight tensors): keep 0
        return 0
    per = np.empty(MAX_CLASS, np.float64)
    base = offset_bits(hist, lo, np.int64(0), kref, per)  # (np.int64: one compiled version)
    if base < 0:
        return 0
    best = 0
    best_bits = base
    for j in range(3):
        c = cands[j]
        if c == 0 or (j > 0 and c == cands[j - 1]):
            continue
        b = offset_bits(hist, lo, c, kref, per)
        if b < 0:
            return 0
        if b < best_bits:
            best = c
            best_bits = b
    if best != 0 and base - best_bits >= max(min_bits, min_frac * base):
        return best
    return 0
