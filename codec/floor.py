"""Format v7's row floors (docs/FORMAT.md §36): a magnitude-pruned tensor quantized with a
scale per output channel (row) has a dead zone in each row, no nonzero magnitude below
``f_r + 1``; a floored tensor stores ``sign(v) * (|v| - f_r)`` for its nonzero values.

Writer side: :func:`row_floors`, :func:`choose` (§36's rule: the estimated saving against
what the floors cost in the entry), :func:`forward`.  Reader side: :func:`inverse` (in
place; kernels/floor.py).
"""
from __future__ import annotations

import numpy as np

from .errors import CorruptError
from .format_v4 import MAX_FLOOR_K, eg_sums, floor_rows
from .kernels.floor import forward as _forward
from .kernels.floor import histograms as _histograms
from .kernels.floor import row_floors as _row_floors
from .kernels.floor import unfloor
from .kernels.offsets import MAX_CLASS, offset_bits
from .kernels.status import ERR_RANGE

HIST_SPAN = 1 << 17       # tensors with a wider value range are not considered
KREF = 2                  # the estimate's class refinement (as codec/offsets.py)
MIN_GAIN_BITS = 64        # a tensor is floored when the estimated saving exceeds this ...
GAIN_PER_SIDE_BIT = 2.0   # ... and this many times the floors' bits in the entry
SAMPLED_VALUES = 1 << 16  # the estimate looks at every k-th row beyond this many values


def row_floors(arr: np.ndarray) -> np.ndarray:
    """§36's writer floors of ``arr``: per row (``floor_rows``), its smallest nonzero
    magnitude minus 1 (at most the dtype's ``vmax - 1``: a row of int8 -128s gets 126), or 0
    for a row without a nonzero value (int64[R]; kernels/floor.py)."""
    arr = np.asarray(arr)
    R = floor_rows(arr.shape)
    out = np.zeros(R, np.int64)
    if arr.size:
        _row_floors(np.ascontiguousarray(arr).reshape(-1), np.int64(R), out)
        np.minimum(out, np.iinfo(arr.dtype).max - 1, out=out)
    return out


def forward(arr: np.ndarray, floors) -> np.ndarray:
    """``arr`` stored with ``floors`` (§36): ``sign(v) * (|v| - f_r)``, same dtype and shape.
    Raises ValueError if a floor is negative or not below its row's smallest nonzero
    magnitude."""
    arr = np.asarray(arr)
    R = floor_rows(arr.shape)
    f = np.ascontiguousarray(floors, np.int64).reshape(-1)
    if f.size != R or (f < 0).any():
        raise ValueError(f"{f.size} floors for {R} rows, or a negative one")
    flat = np.ascontiguousarray(arr).reshape(-1)
    out = np.empty_like(flat)
    if flat.size and _forward(flat, np.int64(R), f, out) != 0:
        raise ValueError("a row floor is not below its row's smallest nonzero magnitude")
    return out.reshape(arr.shape)


def side_bits(floors) -> int:
    """Bits of the floors in the entry: ``floor_k`` and ``R`` Exp-Golomb codes (§36)."""
    return 5 + int(eg_sums(np.asarray(floors, np.int64), MAX_FLOOR_K).min())


def _cost(hist: np.ndarray, lo: int, per: np.ndarray) -> float:
    return float(offset_bits(hist, np.int64(lo), np.int64(0), np.int64(KREF), per))


def choose(arr: np.ndarray) -> np.ndarray | None:
    """§36's writer rule: the floors of ``arr`` (:func:`row_floors`) when some floor is > 0
    and the estimated saving (order-0 magnitude-class model of codec/offsets.py over the
    tensor, or every k-th row of a big one, before and after) exceeds MIN_GAIN_BITS and
    GAIN_PER_SIDE_BIT x the floors' entry bits; else None."""
    arr = np.asarray(arr)
    if arr.size == 0 or arr.dtype.kind != "i":
        return None
    flat = arr.reshape(-1)
    lo, hi = int(flat.min()), int(flat.max())
    if hi - lo >= HIST_SPAN:
        return None
    floors = row_floors(arr)
    if not floors.any():
        return None
    R = floors.size
    k = max(1, -(-arr.size // SAMPLED_VALUES))  # every k-th row (a sample of the tensor)
    rows = np.ascontiguousarray(arr).reshape(R, -1)[::k]
    h0, h1 = np.zeros((2, hi - lo + 1), np.int64)
    if _histograms(np.ascontiguousarray(rows).reshape(-1), np.int64(rows.shape[0]),
                   np.ascontiguousarray(floors[::k]), np.int64(lo), h0, h1) != 0:
        return None
    per = np.empty(MAX_CLASS, np.float64)
    before, after = _cost(h0, lo, per), _cost(h1, lo, per)
    if before < 0 or after < 0:
        return None
    side = side_bits(floors)
    gain = (before - after) * R / rows.shape[0] - side
    return floors if gain > MIN_GAIN_BITS and gain > GAIN_PER_SIDE_BIT * side else None


def inverse(out: np.ndarray, start: int, numel: int, floors, name: str, offset: int) -> None:
    """Add ``floors`` back to the ``numel`` values at ``out[start:]`` in place (§36); a value
    it takes out of the dtype's range raises CorruptError (R3, ``value`` = the stored value,
    ``offset`` = the tensor's block)."""
    if not floors:
        return
    info = np.iinfo(out.dtype)
    f = np.asarray(floors, np.int64)
    st, p = unfloor(out, np.int64(start), np.int64(numel), np.int64(f.size), f, np.int64(0),
                    np.int64(info.min), np.int64(info.max))
    if st == ERR_RANGE:
        v = int(out[p])
        raise CorruptError(f"tensor {name!r}: stored value {v} at index {p - start} leaves the "
                           f"dtype's range with its row floor (§36)", offset=offset, value=v)
    if st != 0:
        raise CorruptError(f"tensor {name!r}: {f.size} row floors do not fit {numel} values",
                           offset=offset, value=f.size)
