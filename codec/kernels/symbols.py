"""The (run, magnitude class) alphabet, shared by encoder and decoder kernels.

Magnitude classes with ``kref`` refinement bits (kref = 0 is seed 002's plain "level"):
  * m < 2**(kref+1): class m - 1, no extra bits (small magnitudes are exact symbols);
  * otherwise L = bit_length(m), e = L - 1 - kref extra bits, top = (m >> e) - 2**kref and
    class = 2**(kref+1) - 1 + (L - kref - 2) * 2**kref + top; extra = m & (2**e - 1).
Symbols: 0 = end of group (EOB), 1 = escape (``nrun`` zeros), 2 + class * nrun + run.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .intrinsics import bit_length64

SYM_EOB = 0
SYM_ESC = 1
SYM_FIRST = 2
MAX_MAG_BITS = 32  # magnitudes are < 2**32


@njit(cache=True, inline="always")
def bit_length(x):
    return bit_length64(x)


@njit(cache=True, inline="always")
def mag_class(m, kref):
    """Return (class, extra bit count, extra value) for magnitude m >= 1."""
    if m < (1 << (kref + 1)):
        return m - 1, 0, 0
    L = bit_length(m)
    e = L - 1 - kref
    top = (m >> e) - (1 << kref)
    c = (1 << (kref + 1)) - 1 + (L - kref - 2) * (1 << kref) + top
    return c, e, m & ((1 << e) - 1)


@njit(cache=True, inline="always")
def pair_symbol(r, v, kref, nrun):
    """The codes of one run-length pair (zero run r, value v != 0): (escapes before it, its
    symbol, extra bit count e, extra value x).  Scalars only (inlined into hot loops)."""
    nesc = 0
    if r >= nrun:
        nesc = r // nrun
        r = r - nesc * nrun
    m = v if v > 0 else -v
    c, e, x = mag_class(m, kref)
    return nesc, SYM_FIRST + c * nrun + r, e, x


MAG_LUT = 256  # magnitudes below this take their symbol base and extra bits from mag_lut


@njit(cache=True, nogil=True)
def mag_lut(kref, nrun):
    """(s0, x1): for magnitudes 1 <= m < MAG_LUT, s0[m] = SYM_FIRST + class(m) * nrun and
    x1[m] = extra bits + 1 (the sign), for :func:`pair_symbol_lut`."""
    s0 = np.zeros(MAG_LUT, np.int64)
    x1 = np.zeros(MAG_LUT, np.int64)
    for m in range(1, MAG_LUT):
        c, e, _x = mag_class(np.int64(m), kref)
        s0[m] = SYM_FIRST + c * nrun
        x1[m] = e + 1
    return s0, x1


@njit(cache=True, inline="always")
def pair_symbol_lut(r, v, kref, nrun, s0, x1):
    """:func:`pair_symbol`'s (escapes, symbol, e + 1) with the tables of :func:`mag_lut`
    (no bit-length arithmetic) where the run is below nrun and the magnitude below MAG_LUT:
    dense 8-bit group histograms 1.4-2.7x."""
    m = v if v > 0 else -v
    if 0 < m < MAG_LUT and r < nrun:
        return 0, s0[m] + r, x1[m]
    nesc, s, e, _x = pair_symbol(r, v, kref, nrun)
    return nesc, s, e + 1


@njit(cache=True, nogil=True)
def class_lut(kmax):
    """(c, e): c[kref, m] = class and e[kref, m] = extra bits of magnitude 1 <= m < MAG_LUT,
    for kref 0..kmax (:func:`pair_symbol_klut`)."""
    c = np.zeros((kmax + 1, MAG_LUT), np.int64)
    e = np.zeros((kmax + 1, MAG_LUT), np.int64)
    for k in range(kmax + 1):
        for m in range(1, MAG_LUT):
            c[k, m], e[k, m], _x = mag_class(np.int64(m), np.int64(k))
    return c, e


@njit(cache=True, inline="always")
def pair_symbol_klut(r, v, kref, nrun, clut, elut):
    """:func:`pair_symbol` (the same four values) with :func:`class_lut`'s tables where the
    run is below nrun, the magnitude below MAG_LUT and kref within the tables."""
    m = v if v > 0 else -v
    if 0 < m < MAG_LUT and r < nrun and 0 <= kref < clut.shape[0]:
        e = elut[kref, m]
        return 0, SYM_FIRST + clut[kref, m] * nrun + r, e, m & ((1 << e) - 1)
    return pair_symbol(r, v, kref, nrun)


def class_base(c: int, kref: int) -> tuple[int, int]:
    """Inverse of :func:`mag_class`: (smallest magnitude of class c, extra bit count)."""
    small = (1 << (kref + 1)) - 1
    if c < small:
        return c + 1, 0
    j = c - small
    L = kref + 2 + (j >> kref)
    top = j & ((1 << kref) - 1)
    e = L - 1 - kref
    return ((1 << kref) + top) << e, e


def num_classes(max_mag: int, kref: int) -> int:
    """Classes needed for magnitudes 1..max_mag (at least 1)."""
    if max_mag < 1:
        return 1
    return int(mag_class(np.int64(max_mag), np.int64(kref))[0]) + 1


def max_classes(kref: int) -> int:
    return num_classes((1 << MAX_MAG_BITS) - 1, kref)
