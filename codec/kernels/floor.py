"""Format v7's row floors (docs/FORMAT.md §36), Numba kernels.  Decoder: add each row's floor
back to the nonzero values a floored tensor stored, in place (:func:`unfloor` for one tensor,
:func:`unfloor_groups` for the groups of a decode job, :func:`group_floors` their plan).
Writer: :func:`row_floors`, :func:`forward`, :func:`histograms` (the estimate's input).

Row layout: a floored tensor in C order is ``R`` rows of ``L = numel / R`` values, row ``r``
at ``start + r * L``; its floors are ``floors[foff:foff + R]``.  Index invariant: every
kernel checks ``start + numel <= out.size``, ``R * L == numel`` and ``foff + R <=
floors.size`` (:func:`unfloor_groups`: each group inside ``out`` and its last row's floor
inside ``floors``) before its loops, so each index it touches is inside its buffer.
:func:`unfloor` returns ``(status, index)``: status 0, or BAD_ARGS (sizes do not fit), or
ERR_RANGE with ``index`` the first stored value (flat, within ``out``) whose rebuilt value
leaves the dtype's range (§36 R3); the others return a status.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .directory import F_DTYPE, F_FLOOR, F_FLOOR_OFF, F_GSIZE, F_NUMEL, N_FIELDS
from .status import ERR_RANGE

BAD_ARGS = -1


@njit(cache=True, nogil=True)
def _row_check(out, a, L, f, vmin, vmax):
    """The first index of ``out[a:a + L]`` whose value ``s`` leaves [vmin, vmax] with the
    row's floor (§36 R3), or -1: two min/max reductions (0.003 ns a value), then (rarely)
    :func:`_first_bad` (its loop in this function made the reductions 12x slower)."""
    seg = out[a:a + L]
    mn = seg[0]
    mx = seg[0]
    for p in range(L):
        v = seg[p]
        mn = min(mn, v)
        mx = max(mx, v)
    if np.int64(mx) > vmax - f or np.int64(mn) < vmin + f:
        return _first_bad(out, a, L, f, vmin, vmax)
    return np.int64(-1)


@njit(cache=True, nogil=True)
def _first_bad(out, a, L, f, vmin, vmax):
    for p in range(a, a + L):
        v = np.int64(out[p])
        if v > vmax - f or v < vmin + f:
            return np.int64(p)
    return np.int64(a)


@njit(cache=True, nogil=True)
def _row_apply(out, a, L, f):
    """``x = s + f * sign(s)`` on ``out[a:a + L]``, as ``s + ((f ^ -n) + n) * (s != 0)``
    (``n = s < 0``) over a view: no branch, no sign shift, so LLVM vectorizes it in the
    dtype's own lanes (int8: 0.027 ns a value, against 0.17 with ``f * ((s > 0) - (s < 0))``,
    0.2 in 32-bit lanes, 1.0 indexing ``out`` from ``a``: numba cannot rule out a negative
    index there).  A function of its own: with the check's loops in the same function the
    two took 0.063 ns a value, alone 0.003 + 0.027."""
    seg = out[a:a + L]
    for p in range(L):
        v = seg[p]
        n = np.int64(v < 0)
        seg[p] = v + ((f ^ -n) + n) * np.int64(v != 0)


@njit(cache=True, nogil=True)
def _row(out, a, L, f, vmin, vmax):
    """One row (part) of :func:`unfloor`: the check, then the floor added.  Returns the
    first offending index (the row left as stored) or -1."""
    p = _row_check(out, a, L, f, vmin, vmax)
    if p < 0:
        _row_apply(out, a, L, f)
    return p


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
    if L == 0:
        return np.int64(0), np.int64(-1)
    for r in range(R):
        f = floors[foff + r]
        if f == 0:
            continue
        p = _row(out, start + r * L, L, f, vmin, vmax)
        if p >= 0:
            return np.int64(ERR_RANGE), p
    return np.int64(0), np.int64(-1)


@njit(cache=True, nogil=True)
def group_floors(ents, code, gl, gt, gfo):
    """Each decode-plan group's (L, its tensor's first value in the dtype's flat output, its
    floors' offset in the dims array) for the tensors of dtype ``code`` (a directory kernel's
    entry array, kernels/directory.py F_*: F_FLOOR = R rows, floors at F_FLOOR_OFF); L = 0
    for the groups of tensors without floors.  Groups in the plan's order
    (kernels/directory.py whole_rows: tensors with values, in entry order, all their groups).
    Returns the number of floored groups, or BAD_ARGS if the arrays are too small."""
    if ents.shape[1] < N_FIELDS:
        return np.int64(BAD_ARGS)
    n = gl.size
    if gt.size < n or gfo.size < n:
        return np.int64(BAD_ARGS)
    g = np.int64(0)
    base = np.int64(0)
    hits = np.int64(0)
    for i in range(ents.shape[0]):
        if ents[i, F_DTYPE] != code:
            continue
        numel = ents[i, F_NUMEL]
        gsize = ents[i, F_GSIZE]
        if numel <= 0:
            continue
        if gsize < 1:
            return np.int64(BAD_ARGS)
        ng = (numel + gsize - 1) // gsize
        if g + ng > n:
            return np.int64(BAD_ARGS)
        R = ents[i, F_FLOOR]
        L = numel // R if R > 0 else np.int64(0)
        for k in range(g, g + ng):
            gl[k] = L
            gt[k] = base
            gfo[k] = ents[i, F_FLOOR_OFF]
        if R > 0:
            hits += ng
        g += ng
        base += numel
    return hits


@njit(cache=True, nogil=True)
def unfloor_groups(out, o_start, o_count, gl, gt, gfo, floors, a, b, vmin, vmax):
    """:func:`unfloor` for the groups [a, b) of a decode plan (output start, count; L, tensor
    start, floor offset of each, L = 0: none): each row part inside a group gets its row's
    floor.  Returns 0, BAD_ARGS or ERR_RANGE."""
    n = gl.size
    if (o_start.size < n or o_count.size < n or gt.size < n or gfo.size < n or a < 0
            or b > n):
        return np.int64(BAD_ARGS)
    for g in range(a, b):
        L = gl[g]
        if L <= 0:
            continue
        s = o_start[g]
        e = s + o_count[g]
        t = gt[g]
        if s < t or e > out.size or s >= e:
            return np.int64(BAD_ARGS)
        r0 = (s - t) // L
        r1 = (e - 1 - t) // L
        if gfo[g] < 0 or gfo[g] + r1 >= floors.size:
            return np.int64(BAD_ARGS)
        for r in range(r0, r1 + 1):
            f = floors[gfo[g] + r]
            if f == 0:
                continue
            lo = max(s, t + r * L)
            hi = min(e, t + (r + 1) * L)
            if _row(out, lo, hi - lo, f, vmin, vmax) >= 0:
                return np.int64(ERR_RANGE)
    return np.int64(0)


# ---------------------------------------------------------------------------------------------
# writer side


@njit(cache=True, nogil=True)
def row_floors(flat, R, out):
    """§36's writer floors of ``flat`` (one tensor, C order) in ``R`` rows into ``out[:R]``:
    each row's smallest nonzero magnitude minus 1, 0 for a row without one.  Returns 0 or
    BAD_ARGS."""
    if R < 1 or flat.size % R != 0 or out.size < R:
        return np.int64(BAD_ARGS)
    L = flat.size // R
    big = np.int64(1) << np.int64(40)
    for r in range(R):
        seg = flat[r * L:(r + 1) * L]
        m = big
        for p in range(L):
            v = np.int64(seg[p])
            a = v if v > 0 else -v
            m = min(m, a if a != 0 else big)
        out[r] = 0 if m == big else m - 1
    return np.int64(0)


@njit(cache=True, nogil=True)
def forward(flat, R, floors, out):
    """§36's writer transform of ``flat`` (C order) in ``R`` rows into ``out`` (same size and
    dtype): ``s = v - f_r * sign(v)``.  Returns 0, BAD_ARGS, or ERR_RANGE if a floor is not
    below its row's smallest nonzero magnitude (a nonzero value would become 0 or flip)."""
    if R < 1 or flat.size % R != 0 or floors.size < R or out.size != flat.size:
        return np.int64(BAD_ARGS)
    L = flat.size // R
    for r in range(R):
        f = floors[r]
        seg = flat[r * L:(r + 1) * L]
        bad = False
        for p in range(L):  # (checked first: a value would wrap, or raise without the JIT)
            v = np.int64(seg[p])
            bad |= (v != 0) & ((v if v > 0 else -v) <= f)
        if bad:
            return np.int64(ERR_RANGE)
        dst = out[r * L:(r + 1) * L]
        for p in range(L):
            v = np.int64(seg[p])
            n = np.int64(v < 0)
            dst[p] = v - ((f ^ -n) + n) * np.int64(v != 0)
    return np.int64(0)


@njit(cache=True, nogil=True)
def histograms(flat, R, floors, lo, before, after):
    """The value histograms of ``flat`` (values ``lo + i``) before and after §36's transform
    with ``floors`` (``before``, ``after``: zeroed, long enough for the tensor's range).
    Returns 0 or BAD_ARGS."""
    if R < 1 or flat.size % R != 0 or floors.size < R:
        return np.int64(BAD_ARGS)
    L = flat.size // R
    n = before.size
    if after.size < n:
        return np.int64(BAD_ARGS)
    for r in range(R):
        f = floors[r]
        seg = flat[r * L:(r + 1) * L]
        for p in range(L):
            v = np.int64(seg[p])
            s = v - f if v > 0 else (v + f if v < 0 else v)
            i = v - lo
            j = s - lo
            if i < 0 or i >= n or j < 0 or j >= n:
                return np.int64(BAD_ARGS)
            before[i] += 1
            after[j] += 1
    return np.int64(0)
