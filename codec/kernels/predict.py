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

import numba
import numpy as np
from numba import njit

from .intrinsics import bit_length64
from .directory import (F_DTYPE, F_GSIZE, F_NDIM, F_NUMEL, F_PRED, F_PSHIFT, F_SHAPE_OFF,
                        N_FIELDS)

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


BLOCK = 256           # images rebuilt together, position by position (see rebuild)
VEC_MIN_C = 16        # rebuild_strided: from this many images a position, vector loops over
#                       views (int8, ns a value: C = 2 3.2 vs 1.55 scalar, 8 ~1 scalar,
#                       16 0.43 vs 0.82, 128 0.16 vs 0.73)
FUSE_MIN_IMAGES = 16  # a group is rebuilt in its decode job if it holds this many images
# §32's wrap: compiled, the store into the dtype narrows by truncation, which is the wrap
# (Numba: LLVM trunc); as plain Python (NUMBA_DISABLE_JIT=1) numpy refuses an out-of-range
# store, so the loops wrap explicitly there (a compile-time constant: no cost when compiled)
WRAP_EXPLICITLY = bool(numba.config.DISABLE_JIT)


@njit(cache=True, inline="always")
def _put(out, u, v, off, mask):
    """out[u] = v, wrapped to the dtype (``off`` = 2^(bits-1) signed, 0 unsigned)."""
    if WRAP_EXPLICITLY:
        v = ((v + off) & mask) - off
    out[u] = v


@njit(cache=True, inline="always")
def _edge(out, q, end, HW, d, kind, c, off, mask):
    """Position (0, j > 0) (``d`` = 1: s from L) or (i > 0, 0) (``d`` = W: s from U) of
    every image from q (step HW) to end.  (Unsigned indices: no negative-index wraparound
    code; the caller checked the range.)"""
    back = np.uint64(d)
    if kind == 0:
        for p in range(q, end, HW):
            u = np.uint64(p)
            s = 2 * np.int64(out[u - back])
            _put(out, u, np.int64(out[u]) + ((c * s + 4) >> 3), off, mask)
    else:
        for p in range(q, end, HW):
            u = np.uint64(p)
            s = np.int64(out[u - back])
            _put(out, u, np.int64(out[u]) + ((c * s + 2) >> 2), off, mask)


@njit(cache=True, inline="always")
def _inner(out, q, end, HW, dl, du, kind, c, off, mask):
    """Position (i > 0, j > 0) of every image from q (step HW) to end: s from L (``dl``
    values back), U (``du`` back) and UL (``du + dl`` back)."""
    one = np.uint64(dl)
    w = np.uint64(du)
    w1 = np.uint64(du + dl)
    if kind == 0:
        for p in range(q, end, HW):
            u = np.uint64(p)
            s = np.int64(out[u - one]) + np.int64(out[u - w])
            _put(out, u, np.int64(out[u]) + ((c * s + 4) >> 3), off, mask)
    else:
        for p in range(q, end, HW):
            u = np.uint64(p)
            s = np.int64(out[u - one]) + np.int64(out[u - w]) - np.int64(out[u - w1])
            _put(out, u, np.int64(out[u]) + ((c * s + 2) >> 2), off, mask)


@njit(cache=True, inline="always")
def _arith(out, mode, signed):
    """(kind, c, off, mask) of §32's ``mode`` for ``out``'s dtype: ``off`` = 2^(bits-1) for a
    signed dtype (0 unsigned), ``mask`` = 2^bits - 1 (the rebuild's wrap)."""
    bits = np.int64(8 * out.itemsize)
    mask = (np.int64(1) << bits) - 1
    off = (np.int64(1) << (bits - 1)) if signed else np.int64(0)
    return np.int64(mode >> 2), np.int64((mode & 3) + 1), off, mask


@njit(cache=True, nogil=True)
def rebuild(out, start, numel, H, W, mode, signed):
    """Values from residuals, in place: ``out[start:start + numel]`` holds one tensor's (or
    one group's: whole images) residuals, images back to back, and ends holding its values.
    Returns 0 or BAD_ARGS.

    Within an image every value waits for its left and upper neighbours, so an image alone
    is a chain of dependent steps (~5 ns a value); BLOCK images are rebuilt together instead,
    position by position (the steps of one position's loop are independent: ~0.5-0.6 ns a
    value on 3 x 3 kernels, as fast as a 3 x 3 body written out in full).  ``wrap`` (§32)
    is the store into the dtype: Numba narrows an int64 by truncation, which is the value
    modulo 2^bits in the dtype's range (WRAP_EXPLICITLY: as plain Python, where ``signed``,
    the dtype's kind, says how)."""
    HW = H * W
    if H < 1 or W < 1 or start < 0 or numel < 0 or start + numel > out.size or numel % HW:
        return np.int64(BAD_ARGS)
    if mode < 0 or mode > 7:
        return np.int64(BAD_ARGS)
    kind, c, off, mask = _arith(out, mode, signed)
    nimg = numel // HW
    for b0 in range(0, nimg, BLOCK):
        base = start + b0 * HW
        end = base + min(BLOCK, nimg - b0) * HW   # <= start + numel <= out.size
        for j in range(1, W):
            _edge(out, base + j, end, HW, 1, kind, c, off, mask)
        for i in range(1, H):
            q = base + i * W
            _edge(out, q, end, HW, W, kind, c, off, mask)
            for j in range(1, W):
                _inner(out, q + j, end, HW, 1, W, kind, c, off, mask)
    return np.int64(0)


@njit(cache=True, inline="always")
def _row(dst, lv, uv, ulv, which, kind, c, off, mask, T):
    """One position (i, j) of ``C`` images side by side (:func:`rebuild_strided`): ``dst`` the
    residuals, in place; ``lv`` / ``uv`` / ``ulv`` the final L, U, UL values (views of the
    same length; ``which``: 1 row 0, 2 column 0, 3 inside).  Each is a view starting at 0, so
    the loops index from 0 upwards (no negative-index wraparound code) and LLVM vectorizes
    them; sums in ``T``: int32 for 1- and 2-byte dtypes (|c * s| < 2^21), int64 for 4-byte
    ones."""
    m = dst.size
    cc = T(c)
    if which == 3 and kind == 1:
        for t in range(m):
            s = T(lv[t]) + T(uv[t]) - T(ulv[t])
            _put(dst, t, T(dst[t]) + ((cc * s + 2) >> 2), off, mask)
    elif which == 3:
        for t in range(m):
            s = T(lv[t]) + T(uv[t])
            _put(dst, t, T(dst[t]) + ((cc * s + 4) >> 3), off, mask)
    elif kind == 1:
        for t in range(m):
            _put(dst, t, T(dst[t]) + ((cc * T(lv[t]) + 2) >> 2), off, mask)
    else:
        for t in range(m):
            _put(dst, t, T(dst[t]) + ((2 * cc * T(lv[t]) + 4) >> 3), off, mask)


@njit(cache=True, inline="always")
def _position(out, q, i, j, C, WC, kind, c, off, mask, T):
    """:func:`_row` for the position (i, j) whose first image's value is ``out[q]``."""
    dst = out[q:q + C]
    if i > 0 and j > 0:
        _row(dst, out[q - C:q], out[q - WC:q - WC + C], out[q - WC - C:q - WC], 3, kind, c,
             off, mask, T)
    elif i == 0:
        _row(dst, out[q - C:q], dst, dst, 1, kind, c, off, mask, T)
    else:
        _row(dst, out[q - WC:q - WC + C], dst, dst, 2, kind, c, off, mask, T)


@njit(cache=True, nogil=True)
def _strided_scalar(out, start, numel, H, W, C, kind, c, off, mask):
    """:func:`rebuild_strided`'s loop for few images a position (``C`` < VEC_MIN_C): one
    value at a time over unsigned indices, in C order (the caller checked the range)."""
    S = H * W * C
    WC = W * C
    for base in range(start, start + numel, S):
        _edge(out, base + C, base + WC, 1, C, kind, c, off, mask)  # row 0 from L
        for i in range(1, H):
            row = base + i * WC
            _edge(out, row, row + C, 1, WC, kind, c, off, mask)     # column 0 from U
            _inner(out, row + C, row + WC, 1, C, WC, kind, c, off, mask)
    return np.int64(0)


@njit(cache=True, nogil=True)
def rebuild_strided(out, start, numel, H, W, C, mode, signed):
    """:func:`rebuild` for format v6's images (§34): ``out[start:start + numel]`` holds
    ``A`` slices of ``H x W x C`` values (C order), position (i, j) of image (a, c) at
    ``((a * H + i) * W + j) * C + c``.  ``C = 1`` is :func:`rebuild` (v5's layout); with
    ``C > 1`` one forward pass in C order rebuilds every image (each value's left, upper and
    upper-left neighbours, ``C``, ``W * C`` and ``W * C + C`` values back, come before it),
    position by position, the ``C`` images of a position at once (contiguous, independent:
    :func:`_row`'s loops vectorize: 0.15-0.16 ns a value on int8 at C >= 128, 0.43 at C = 16,
    against 0.73-0.82 for one value at a time, which :func:`_strided_scalar` still does below
    VEC_MIN_C images).  Returns 0 or BAD_ARGS."""
    if C == 1:
        return rebuild(out, start, numel, H, W, mode, signed)
    if H < 1 or W < 1 or C < 1:
        return np.int64(BAD_ARGS)
    S = H * W * C
    if start < 0 or numel < 0 or start + numel > out.size or numel % S:
        return np.int64(BAD_ARGS)
    if mode < 0 or mode > 7:
        return np.int64(BAD_ARGS)
    kind, c, off, mask = _arith(out, mode, signed)
    if C < VEC_MIN_C:
        return _strided_scalar(out, start, numel, H, W, C, kind, c, off, mask)
    WC = W * C
    for base in range(start, start + numel, S):   # every index below is in [base, base + S)
        for i in range(H):
            for j in range(W):
                if i == 0 and j == 0:
                    continue  # (0, 0): pred 0, the residual is the value
                q = base + i * WC + j * C
                if out.itemsize > 2:
                    _position(out, q, i, j, C, WC, kind, c, off, mask, np.int64)
                else:
                    _position(out, q, i, j, C, WC, kind, c, off, mask, np.int32)
    return np.int64(0)


@njit(cache=True, nogil=True)
def rebuild_groups(out, o_start, o_count, gmode, gh, gw, gc, a, b, signed):
    """:func:`rebuild_strided` for the groups [a, b) of a decode plan (output start, count;
    mode, H, W, C of each, mode < 0: none), each a whole number of ``H x W x C`` slices.
    Returns 0 or BAD_ARGS."""
    n = gmode.size
    if (o_start.size < n or o_count.size < n or gh.size < n or gw.size < n or gc.size < n
            or a < 0 or b > n):
        return np.int64(BAD_ARGS)
    rc = np.int64(0)
    for g in range(a, b):
        if gmode[g] >= 0:
            st = rebuild_strided(out, o_start[g], o_count[g], gh[g], gw[g], gc[g], gmode[g],
                                 signed)
            if st != 0:
                rc = st
    return rc


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
def _class(v, mask, signed):
    """Level class (bit length of |v|) of ``v`` wrapped to the dtype."""
    u = v & mask
    if signed and u > (mask >> 1):
        u -= mask + 1
    return bit_length64(-u if u < 0 else u)


@njit(cache=True, nogil=True)
def mode_costs(x, H, W, bits, signed, stride):
    """Estimated bits of the tensor ``x`` (flat) stored as is (row 8) and with each of the 8
    modes (rows 0-7): a level-class histogram's order-0 entropy plus the remainder and sign
    bits (a value of class k > 0 has k - 1 remainder bits and a sign: k bits), over every
    ``stride``-th image.  Returns float64[9] (all 0 on bad arguments)."""
    HW = H * W
    n = x.size
    res = np.zeros(N_MODES + 1, np.float64)
    if H < 1 or W < 1 or n % HW or stride < 1 or bits < 1 or bits > 32:
        return res
    hist = np.zeros((N_MODES + 1, N_CLASSES), np.int64)
    mask = (np.int64(1) << np.int64(bits)) - 1
    for base in range(0, n, HW * stride):
        for i in range(H):
            for j in range(W):
                p = base + i * W + j
                v = np.int64(x[p])
                hist[N_MODES, _class(v, mask, signed)] += 1
                if i == 0 and j == 0:
                    sa = np.int64(0)
                    sp = np.int64(0)
                elif i == 0:
                    sp = np.int64(x[p - 1])
                    sa = 2 * sp
                elif j == 0:
                    sp = np.int64(x[p - W])
                    sa = 2 * sp
                else:
                    left = np.int64(x[p - 1])
                    up = np.int64(x[p - W])
                    sa = left + up
                    sp = sa - np.int64(x[p - W - 1])
                for c in range(1, 5):
                    hist[c - 1, _class(v - ((c * sa + 4) >> 3), mask, signed)] += 1
                    hist[c + 3, _class(v - ((c * sp + 2) >> 2), mask, signed)] += 1
    for m in range(N_MODES + 1):
        tot = np.int64(0)
        extra = np.int64(0)
        for k in range(N_CLASSES):
            tot += hist[m, k]
            extra += k * hist[m, k]
        h = 0.0
        for k in range(N_CLASSES):
            if hist[m, k]:
                h -= hist[m, k] * np.log2(hist[m, k] / tot)
        res[m] = h + extra
    return res


@njit(cache=True, inline="always")
def _fused(gsize, HW, C):
    """Whether a tensor's groups of ``gsize`` values are rebuilt in the decode jobs: whole
    ``H x W x C`` slices (whole images), FUSE_MIN_IMAGES or more a group (a group of one
    image rebuilds as one chain of dependent steps: silero's conv1, 128 groups of one 129 x 3
    image, took 0.25 ms that way and 0.05 ms as one tensor of 128 images after the decode)."""
    return gsize % (HW * C) == 0 and gsize // HW >= FUSE_MIN_IMAGES


@njit(cache=True, inline="always")
def _image(ents, shapes, i):
    """(H, W, C) of entry ``i``'s images (§34): dims h = ndim - 2 - pred_shift and h + 1,
    and the product of the dims after them; (0, 0, 0) if it has fewer than two dims, its
    shift does not fit or its dims lie outside ``shapes``."""
    nd = ents[i, F_NDIM]
    so = ents[i, F_SHAPE_OFF]
    h = nd - 2 - ents[i, F_PSHIFT]
    if nd < 2 or h < 0 or h > nd - 2 or so < 0 or so + nd > shapes.size:
        return np.int64(0), np.int64(0), np.int64(0)
    C = np.int64(1)
    for k in range(so + h + 2, so + nd):
        C *= shapes[k]
    return shapes[so + h], shapes[so + h + 1], C


@njit(cache=True, nogil=True)
def rebuild_entries(out, ents, shapes, code, skip_fused, signed):
    """:func:`rebuild` for every tensor of dtype ``code`` with a prediction mode (a directory
    kernel's entry array, kernels/directory.py F_*: F_PRED = 1 + mode), ``out`` holding the
    dtype's tensors back to back in entry order (the fast path's layout); with
    ``skip_fused``, not the tensors whose groups the decode jobs rebuilt (:func:`_fused`,
    :func:`group_preds`).  Returns 0 or BAD_ARGS."""
    if ents.shape[1] < N_FIELDS:
        return np.int64(BAD_ARGS)
    base = np.int64(0)
    for i in range(ents.shape[0]):
        if ents[i, F_DTYPE] != code:
            continue
        numel = ents[i, F_NUMEL]
        if ents[i, F_PRED] > 0 and numel > 0:
            H, W, C = _image(ents, shapes, i)
            if H < 1 or W < 1 or C < 1:
                return np.int64(BAD_ARGS)
            if not (skip_fused and _fused(ents[i, F_GSIZE], H * W, C)):
                st = rebuild_strided(out, base, numel, H, W, C, ents[i, F_PRED] - 1, signed)
                if st != 0:
                    return st
        base += numel
    return np.int64(0)


@njit(cache=True, nogil=True)
def group_preds(ents, shapes, code, gmode, gh, gw, gc):
    """Each decode-plan group's (mode, H, W, C) for the tensors of dtype ``code`` whose groups
    are rebuilt in the decode jobs (:func:`_fused`: whole images, one output channel of a
    conv kernel or several, FUSE_MIN_IMAGES images or more); mode -1 for the other groups.
    Groups in the plan's order
    (kernels/directory.py whole_rows: tensors with values, in entry order, all their groups).
    Returns the number of groups set, or BAD_ARGS if the arrays are too small."""
    if ents.shape[1] < N_FIELDS:
        return np.int64(BAD_ARGS)
    g = np.int64(0)
    hits = np.int64(0)
    n = gmode.size
    if gh.size < n or gw.size < n or gc.size < n:
        return np.int64(BAD_ARGS)
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
        mode = ents[i, F_PRED] - 1
        H = np.int64(1)
        W = np.int64(1)
        C = np.int64(1)
        if mode >= 0:
            H, W, C = _image(ents, shapes, i)
            if H < 1 or W < 1 or C < 1:
                return np.int64(BAD_ARGS)
            if not _fused(gsize, H * W, C):
                mode = -1
        for k in range(g, g + ng):
            gmode[k] = mode
            gh[k] = H
            gw[k] = W
            gc[k] = C
        if mode >= 0:
            hits += ng
        g += ng
    return hits
