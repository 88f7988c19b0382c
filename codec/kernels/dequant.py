"""Linear dequantization in one pass: ``out[i] = (q[i] - zero_point[k]) * scale[k]``.

The numpy form (``QuantMeta.dequantize``, ``QuantizedTensor.dequantize``) converts the
integers to float64, subtracts, multiplies and casts, with a temporary array per step:
~14 ns a value (the bundled MTCNN: ~4.5 of the 7 ms of ``decompress_model``).  This kernel
does the same float64 operations in the same order per element and rounds once to the output
dtype, so the results are bit-identical (tests/test_dequant_kernel.py).
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, inline="always")
def _run(q, out, lo, hi, s, z, has_zp):
    """out[lo:hi] from q[lo:hi] with one scale and zero point.  The indices are unsigned
    (the caller checked 0 <= lo <= hi <= size): with signed ones Numba keeps Python's
    negative-index wrap in the loop, which then does not vectorise (3 M int8 values: 3.4 ->
    0.47 ms)."""
    if has_zp:
        for i in range(lo, hi):
            u = np.uint64(i)
            out[u] = (np.float64(q[u]) - z) * s
    else:
        for i in range(lo, hi):
            u = np.uint64(i)
            out[u] = np.float64(q[u]) * s


@njit(cache=True, nogil=True)
def dequantize_linear(q, scale, zp, inner, period, block, out):
    """``q`` and ``out`` flat (C order), ``scale`` and ``zp`` float64 (``zp`` empty: no zero
    point).  The scale index k of element i is ``(i // inner) % period`` when ``period > 0``
    (one scale per index along an axis whose trailing dims hold ``inner`` values), else
    ``i // block`` when ``block > 0``, else 0: runs of one scale, no division per element.
    Returns 0, or -1 if an index would leave ``scale`` / ``zp`` / ``out`` (nothing is
    written then)."""
    n = q.size
    if out.size != n or inner < 1 or period < 0 or block < 0:
        return -1
    ns = scale.size
    has_zp = zp.size > 0
    if has_zp and zp.size != ns:
        return -1
    if period > 0:
        if period > ns or n % (inner * period) != 0:
            return -1
        i = 0
        while i < n:
            for k in range(period):
                _run(q, out, i, i + inner, scale[k], zp[k] if has_zp else 0.0, has_zp)
                i += inner
    elif block > 0:
        if n > 0 and (n - 1) // block >= ns:
            return -1
        for k in range((n + block - 1) // block):
            _run(q, out, k * block, min(n, (k + 1) * block), scale[k],
                 zp[k] if has_zp else 0.0, has_zp)
    else:
        if ns < 1:
            return -1
        _run(q, out, 0, n, scale[0], zp[0] if has_zp else 0.0, has_zp)
    return 0
