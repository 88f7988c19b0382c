"""Format v7's row floors (docs/FORMAT.md §36), Numba kernels: add each row's floor back to
the nonzero values a floored tensor stored (the decoder), in place.

Row layout: a floored tensor in C order is ``R`` rows of ``L = numel / R`` values, row ``r``
at ``start + r * L``; its floors are ``floors[foff:foff + R]``.  Index invariant: every
kernel checks ``start + numel <= out.size``, ``R * L == numel`` and ``foff + R <=
floors.size`` before its loops, so each index it touches is inside its buffer.  Kernels
return ``(status, index)``: status 0, or BAD_ARGS (sizes do not fit), or ERR_RANGE with
``index`` the first stored value (flat, within ``out``) whose rebuilt value leaves the
dtype's range (§36 R3).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .directory import F_DTYPE, F_FLOOR, F_FLOOR_OFF, F_NUMEL, N_FIELDS
from .status import ERR_RANGE

BAD_ARGS = -1


@njit(cache=True, nogil=True)
def unfloor(out, start, numel, R, floors, foff, vmin, vmax):
    """§36: ``x = s + f_r`` (``s > 0``), ``s - f_r`` (``s < 0``), 0 (``s = 0``) for the
    ``numel`` values at ``out[start:]`` in ``R`` rows; ``vmin``, ``vmax``: the dtype's range.
    Returns (0, -1), (BAD_ARGS, -1) or (ERR_RANGE, index of the first stored value whose
    row's floor takes it out of range: that row is left as stored)."""
    if R < 1 or numel < 0 or numel % R != 0 or start < 0 or start + numel > out.size \
            or foff < 0 or foff + R > floors.size:
        return np.int64(BAD_ARGS), np.int64(-1)
    L = numel // R
    for r in range(R):
        f = floors[foff + r]
        if f == 0:
            continue
        a = start + r * L
        hi = vmax - f   # s > hi: s + f > vmax
        lo = vmin + f   # s < lo: s - f < vmin
        bad = False
        for p in range(a, a + L):
            v = np.int64(out[p])
            bad |= (v > hi) | (v < lo)
        if bad:
            for p in range(a, a + L):
                v = np.int64(out[p])
                if v > hi or v < lo:
                    return np.int64(ERR_RANGE), np.int64(p)
        for p in range(a, a + L):
            v = np.int64(out[p])
            out[p] = v + f * ((v > 0) - (v < 0))
    return np.int64(0), np.int64(-1)


@njit(cache=True, nogil=True)
def unfloor_entries(out, ents, shapes, code, vmin, vmax):
    """:func:`unfloor` for every floored tensor of dtype ``code`` (a directory kernel's entry
    array, kernels/directory.py F_*: F_FLOOR = R, its floors at ``shapes[F_FLOOR_OFF:]``),
    ``out`` holding the dtype's tensors back to back in entry order (the fast path's layout).
    Returns (status, entry, index) as :func:`unfloor`, ``entry`` the failing tensor's row."""
    if ents.shape[1] < N_FIELDS:
        return np.int64(BAD_ARGS), np.int64(-1), np.int64(-1)
    base = np.int64(0)
    for i in range(ents.shape[0]):
        if ents[i, F_DTYPE] != code:
            continue
        numel = ents[i, F_NUMEL]
        R = ents[i, F_FLOOR]
        if R > 0 and numel > 0:
            st, p = unfloor(out, base, numel, R, shapes, ents[i, F_FLOOR_OFF], vmin, vmax)
            if st != 0:
                return st, np.int64(i), p
        base += numel
    return np.int64(0), np.int64(-1), np.int64(-1)
