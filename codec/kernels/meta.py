"""Quantization metadata checked without building it: the fast path of M1 for decodes that
return values only (``codec.unpack``, ``Package.read_all``, ``codec.load``).

``QuantMeta.from_bytes`` (codec/meta.py) parses a metadata block into an object, ~9.5 us a
tensor in Python: on a package from ``codec.frontend`` (a scale per output channel on every
tensor) that was more than the whole decode (fer, 80 tensors: 0.75 of 1.2 ms).  This kernel
checks every rule ``from_bytes`` applies (layout, then the QuantMeta invariants and the scale
count the shape needs) for many blocks in one call.  It is conservative: it accepts only
blocks ``from_bytes`` accepts (varints below 2**62 and at most 9 bytes, as the directory
kernel), so a block it rejects goes to ``from_bytes``, which raises the exact error or (for
an unusual but valid encoding) parses it.  tests/test_meta_kernel.py checks it against
``from_bytes`` on valid and random bytes.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .directory import _varint

META_VERSION = 1  # (codec/meta.py; its layout: docs/FORMAT.md section 10)


@njit(cache=True, inline="always")
def _unzigzag(z):
    return (z >> 1) if (z & 1) == 0 else -((z + 1) >> 1)


@njit(cache=True)
def _one(d, ndim, shape, numel):
    """True if ``d`` (one metadata block) is valid for a tensor of ``shape``/``numel``."""
    if d.size < 5:
        return False
    if d[0] != META_VERSION or d[1] > 1 or d[2] < 1 or d[2] > 32:
        return False
    linear = d[1] == 0
    mode = d[3]
    pos = 4
    axis = np.int64(0)
    block = np.int64(0)
    if mode == 1:
        z, pos = _varint(d, pos)
        if z < 0:
            return False
        axis = _unzigzag(z)
        if axis < -ndim or axis > ndim - 1:
            return False
    elif mode == 2:
        block, pos = _varint(d, pos)
        if block < 1:
            return False
    elif mode != 0:
        return False
    if pos >= d.size or d[pos] > 1:
        return False
    isz = 4 if d[pos] == 0 else 8
    pos += 1
    n, pos = _varint(d, pos)
    if n < 0 or n > (d.size - pos) // isz:
        return False
    pos += n * isz
    if pos >= d.size:
        return False
    flag = d[pos]
    pos += 1
    if flag == 1:
        for _ in range(n):
            z, pos = _varint(d, pos)
            if z < 0:
                return False
    elif flag != 0:
        return False
    if pos != d.size:
        return False
    if mode == 0:
        return n == 1
    if not linear:
        return True
    if mode == 1:
        return n == shape[axis + ndim if axis < 0 else axis]
    return n == (numel + block - 1) // block


@njit(cache=True)
def check_metas(buf, starts, ends, ndims, shape_offs, shapes, numels):
    """-1 if every metadata block ``buf[starts[i]:ends[i]]`` is valid for tensor i (``ndims``,
    its dims at ``shapes[shape_offs[i]:]``, ``numels``), else the first i it does not accept
    (the caller then asks ``QuantMeta.from_bytes``)."""
    n = starts.size
    if ends.size < n or ndims.size < n or shape_offs.size < n or numels.size < n:
        return np.int64(0)
    for i in range(n):
        a, b = starts[i], ends[i]
        k, o = ndims[i], shape_offs[i]
        if a < 0 or b < a or b > buf.size or k < 0 or o < 0 or o + k > shapes.size \
                or numels[i] < 0:
            return np.int64(i)
        if not _one(buf[a:b], k, shapes[o:o + k], numels[i]):
            return np.int64(i)
    return np.int64(-1)
