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
# a table's alphabet limits (docs/FORMAT.md §12 T2-T4; every format version's parsers)
MAX_KREF = 6
MAX_NRUN = 4096
MAX_SYMBOLS = 1 << 16
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
    x1[m] = extra bits + 1 (the sign): a pair (r < nrun, v) with 0 < |v| < MAG_LUT has symbol
    s0[|v|] + r and x1[|v|] sign and extra bits (:func:`pair_symbol` otherwise).  Kernels look
    them up in their own loops (:func:`pair_symbol_lut` takes the values): an array passed to
    an inlined per-pair helper costs an atomic reference-count pair per call (docs/DESIGN.md:
    such a helper made the histograms 2-3x slower than without the tables)."""
    s0 = np.zeros(MAG_LUT, np.int64)
    x1 = np.zeros(MAG_LUT, np.int64)
    for m in range(1, MAG_LUT):
        c, e, _x = mag_class(np.int64(m), kref)
        s0[m] = SYM_FIRST + c * nrun
        x1[m] = e + 1
    return s0, x1


@njit(cache=True, inline="always")
def lut_index(v):
    """The index of mag_lut's tables for value v: |v| below MAG_LUT, else 0 (not in them)."""
    m = v if v > 0 else -v
    return m if m < MAG_LUT else 0


@njit(cache=True, inline="always")
def pair_symbol_lut(r, v, kref, nrun, s0m, x1m):
    """:func:`pair_symbol`'s (escapes, symbol, e + 1) given s0m = s0[lut_index(v)] and
    x1m = x1[lut_index(v)] of :func:`mag_lut` (looked up by the caller: scalars only, see
    there): the tables' values where they apply, else :func:`pair_symbol`'s arithmetic."""
    m = v if v > 0 else -v
    if 0 < m < MAG_LUT and r < nrun:
        return 0, s0m + r, x1m
    nesc, s, e, _x = pair_symbol(r, v, kref, nrun)
    return nesc, s, e + 1


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
