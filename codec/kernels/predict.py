"""Format v5's prediction transform (docs/FORMAT.md §32), Numba kernels: rebuild values from
residuals in place (the decoder), residuals of values (the writer), and the writer's cost
estimate of every mode.

Image layout: a tensor in C order is ``numel / (H * W)`` images of ``H * W`` values
(``H, W`` its last two dims); ``mode`` is §32's ``pred_mode`` (``kind = mode >> 2``, ``c =
(mode & 3) + 1``).  Index invariant: every kernel checks ``start + numel <= out.size`` and
``numel % (H * W) == 0`` before its loop, so each index ``start + p`` with ``p < numel`` is
inside the buffer; kernels return 0 or a negative status.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .directory import F_DTYPE, F_NDIM, F_NUMEL, F_PRED, F_SHAPE_OFF, N_FIELDS

N_MODES = 8
N_CLASSES = 34        # cost model: level classes 0 ... 33 of |r| (bit length; 2^32 needs 33)
BAD_ARGS = -1         # sizes do not fit the buffer, or H * W < 1


@njit(cache=True, inline="always")
def _pred(x, base, i, j, W, kind, c):
    """§32's prediction of position (i, j) of the image at ``base`` of ``x`` (values at
    (i, j-1), (i-1, j), (i-1, j-1) already final)."""
    p = base + i * W + j
    if kind == 0:
        if i == 0:
            s = 2 * np.int64(x[p - 1]) if j > 0 else np.int64(0)
        elif j == 0:
            s = 2 * np.int64(x[p - W])
        else:
            s = np.int64(x[p - 1]) + np.int64(x[p - W])
        return (c * s + 4) >> 3
    if i == 0:
        s = np.int64(x[p - 1]) if j > 0 else np.int64(0)
    elif j == 0:
        s = np.int64(x[p - W])
    else:
        s = np.int64(x[p - 1]) + np.int64(x[p - W]) - np.int64(x[p - W - 1])
    return (c * s + 2) >> 2


@njit(cache=True, inline="always")
def _wrap(v, mask, signed):
    u = v & mask
    if signed and u > (mask >> 1):
        u -= mask + 1
    return u


@njit(cache=True, nogil=True)
def rebuild(out, start, numel, H, W, mode, bits, signed):
    """Values from residuals, in place: ``out[start:start + numel]`` holds one tensor's
    residuals (its images back to back) and ends holding its values.  ``bits`` = the dtype's
    width (8, 16, 32), ``signed`` its kind.  Returns 0 or BAD_ARGS."""
    HW = H * W
    if H < 1 or W < 1 or start < 0 or numel < 0 or start + numel > out.size or numel % HW:
        return np.int64(BAD_ARGS)
    if mode < 0 or mode > 7 or bits < 1 or bits > 32:
        return np.int64(BAD_ARGS)
    kind = np.int64(mode >> 2)
    c = np.int64((mode & 3) + 1)
    mask = (np.int64(1) << np.int64(bits)) - 1
    for base in range(start, start + numel, HW):
        for i in range(H):
            for j in range(W):
                p = base + i * W + j
                out[p] = _wrap(np.int64(out[p]) + _pred(out, base, i, j, W, kind, c), mask, signed)
    return np.int64(0)


@njit(cache=True, nogil=True)
def residuals(x, out, H, W, mode, bits, signed):
    """§32's writer side: ``out`` (same size as ``x``) = wrap(x - pred) for every value of
    ``x`` (one tensor, flat).  Returns 0 or BAD_ARGS."""
    HW = H * W
    n = x.size
    if H < 1 or W < 1 or out.size != n or n % HW or mode < 0 or mode > 7:
        return np.int64(BAD_ARGS)
    kind = np.int64(mode >> 2)
    c = np.int64((mode & 3) + 1)
    mask = (np.int64(1) << np.int64(bits)) - 1
    for base in range(0, n, HW):
        for i in range(H):
            for j in range(W):
                p = base + i * W + j
                out[p] = _wrap(np.int64(x[p]) - _pred(x, base, i, j, W, kind, c), mask, signed)
    return np.int64(0)


@njit(cache=True, inline="always")
def _count(hist, row, v, bits_total):
    a = -v if v < 0 else v
    lev = np.int64(0)
    while a >> lev:
        lev += 1
    hist[row, lev] += 1
    if lev > 1:
        bits_total[row] += lev - 1   # remainder bits
    if lev > 0:
        bits_total[row] += 1         # sign


@njit(cache=True, nogil=True)
def mode_costs(x, H, W, bits, signed, stride):
    """Estimated bits of the tensor ``x`` (flat) stored as is (row 8) and with each of the 8
    modes (rows 0-7): a level-class histogram's order-0 entropy plus remainder and sign bits,
    over every ``stride``-th image.  Returns float64[9] (all 0 on bad arguments)."""
    HW = H * W
    n = x.size
    res = np.zeros(N_MODES + 1, np.float64)
    if H < 1 or W < 1 or n % HW or stride < 1:
        return res
    hist = np.zeros((N_MODES + 1, N_CLASSES), np.int64)
    extra = np.zeros(N_MODES + 1, np.int64)
    mask = (np.int64(1) << np.int64(bits)) - 1
    for base in range(0, n, HW * stride):
        for i in range(H):
            for j in range(W):
                p = base + i * W + j
                v = np.int64(x[p])
                _count(hist, N_MODES, v, extra)
                for m in range(N_MODES):
                    kind = np.int64(m >> 2)
                    c = np.int64((m & 3) + 1)
                    _count(hist, m, _wrap(v - _pred(x, base, i, j, W, kind, c), mask, signed),
                           extra)
    for m in range(N_MODES + 1):
        tot = np.int64(0)
        for k in range(N_CLASSES):
            tot += hist[m, k]
        h = 0.0
        for k in range(N_CLASSES):
            if hist[m, k]:
                h -= hist[m, k] * np.log2(hist[m, k] / tot)
        res[m] = h + extra[m]
    return res


@njit(cache=True, nogil=True)
def rebuild_entries(out, ents, shapes, code, bits, signed):
    """:func:`rebuild` for every tensor of dtype ``code`` with a prediction mode (a directory
    kernel's entry array, kernels/directory.py F_*: F_PRED = 1 + mode), ``out`` holding the
    dtype's tensors back to back in entry order (the fast path's layout).  Returns 0 or
    BAD_ARGS."""
    if ents.shape[1] < N_FIELDS:
        return np.int64(BAD_ARGS)
    base = np.int64(0)
    for i in range(ents.shape[0]):
        if ents[i, F_DTYPE] != code:
            continue
        numel = ents[i, F_NUMEL]
        if ents[i, F_PRED] > 0:
            nd = ents[i, F_NDIM]
            so = ents[i, F_SHAPE_OFF]
            if nd < 2 or so < 0 or so + nd > shapes.size:
                return np.int64(BAD_ARGS)
            st = rebuild(out, base, numel, shapes[so + nd - 2], shapes[so + nd - 1],
                         ents[i, F_PRED] - 1, bits, signed)
            if st != 0:
                return st
        base += numel
    return np.int64(0)
