"""Encoder choice: each tensor's value offset (docs/FORMAT.md §8.3: a stored value is
``value_offset + d`` and the sets code ``d``).

Any offset in the dtype's range decodes exactly, so this is a writer's choice.  Unsigned
tensors take their most frequent value (the zero point of asymmetric quantization).  Signed
tensors took 0 until session 11; some small 1-D tensors are far from centred on 0 (a batch
norm's gamma and moving variance quantized to 8 bits sit in [40, 127]: every value costs a
level-6 class, 4 remainder bits and a sign), so a signed tensor now takes the candidate
(0, its median, its most frequent value, the middle of its range) whose estimated cost is
smallest, and 0 unless another one saves at least :data:`MIN_GAIN_BITS` and
:data:`MIN_GAIN_FRAC` of the cost at 0 (the estimate ignores the shared tables, so small
estimated gains were losses on the big models: docs/DESIGN.md, session 11).

The estimate (bits) of offset ``c``: the order-0 entropy of the (refined magnitude class,
kref = 2) symbols of the nonzero ``d = x - c``, plus their remainder and sign bits, plus the
binary entropy of "``d`` is zero" (:func:`estimate_bits`; the choice itself is one kernel
call a tensor, kernels/offsets.py).  One histogram of the tensor serves every candidate.
"""
from __future__ import annotations

import numpy as np

from .kernels.offsets import choose_offset

SEARCH_MAX = 1 << 14  # signed tensors above this many values keep offset 0 (weights: centred)
HIST_SPAN = 1 << 17   # and those whose value range is wider than this
MIN_GAIN_BITS = 16.0
MIN_GAIN_FRAC = 0.03
KREF = 2  # the estimate's class refinement (the alphabet search picks 2 on most models)


def most_frequent(flat: np.ndarray) -> int:
    """The most frequent value of a non-empty integer array (the smallest on ties)."""
    if flat.dtype.itemsize <= 2:
        lo = int(flat.min())
        return lo + int(np.argmax(np.bincount((flat.astype(np.int64) - lo))))
    vals, counts = np.unique(flat, return_counts=True)
    return int(vals[np.argmax(counts)])


def mirror_offset(flat: np.ndarray) -> int:
    """The offset format v3's mirror is chosen around (docs/FORMAT.md §25): the most frequent
    value of an unsigned tensor, 0 for a signed one (no search: the stored tensor keeps it)."""
    return value_offset_for(flat, search=False)


def value_offset_for(flat: np.ndarray, search: bool = True) -> int:
    """The value offset of a tensor's values ``flat`` (1-D).  Unsigned: the most frequent
    value.  Signed: 0, or with ``search`` the cheapest candidate (module doc)."""
    if flat.size == 0:
        return 0
    if flat.dtype.kind != "i":
        return most_frequent(flat)
    if not search or flat.size > SEARCH_MAX:
        return 0
    lo, hi = int(flat.min()), int(flat.max())
    if hi - lo >= HIST_SPAN or (lo >= -1 and hi <= 1):
        return 0
    hist = np.bincount(flat.astype(np.int64) - lo)
    return int(choose_offset(hist, np.int64(lo), np.int64(KREF), MIN_GAIN_BITS, MIN_GAIN_FRAC))


def estimate_bits(vals: np.ndarray, hist: np.ndarray, c: int) -> float:
    """Estimated coded bits of values ``vals`` (counts ``hist``) stored as ``d = v - c``."""
    m = np.abs(vals - c)
    w = hist.astype(np.float64)
    w[m == 0] = 0.0  # the zeros: only the zero flag
    n = float(hist.sum())
    k = float(w.sum())
    if k == 0:
        return 0.0
    L = np.frexp(m.astype(np.float64))[1].astype(np.int64)  # bit length (0 for 0)
    e = np.maximum(L - 1 - KREF, 0)
    small = (1 << (KREF + 1)) - 1
    cls = np.where(m <= small, m, small + 1 + (L - KREF - 2) * (1 << KREF) + (m >> e))
    per = np.bincount(cls, weights=w)
    per = per[per > 0]
    bits = float(-(per * np.log2(per / k)).sum()) + float(w @ (e + 1))
    z = n - k
    if z > 0:
        bits += -(z * np.log2(z / n) + k * np.log2(k / n))
    return bits
