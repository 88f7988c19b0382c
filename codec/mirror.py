"""Format v3's mirror transform (docs/FORMAT.md §23-§25): rows whose second half mirrors the
first (symmetric, mode 1) or its negation (antisymmetric, mode 2) store that half as the
difference from the mirror, zero where the symmetry holds.

A row of ``P`` values is ``[head (a) | first half (h) | middle (M mod 2) | second half (h)]``
with ``M = P - a``, ``h = M // 2``; in offset space ``d = x - z`` (``z`` the tensor's value
offset) the stored second half is ``d2 - s * d1[::-1]``, all modulo the dtype's width.

Writer side: :func:`choose` (§25's rule), :func:`forward`, :func:`mode_bytes`, the bits check.
Reader side: :func:`check_modes` (check X4) and :func:`inverse` (in place).  The Numba kernels
(scan, modes, check, inverse) live in codec/kernels/mirror.py.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .kernels.mirror import best_modes, check_modes, inverse, scan_tensor  # noqa: F401

MIN_NUMEL = 16        # §25: smaller tensors never get the mirror
MIN_PERIOD = 4        # §25: candidate periods below this are skipped


class Mirror(NamedTuple):
    period: int         # P: values per row
    skip: int           # a: leading values of each row outside the mirror
    modes: np.ndarray   # uint8, one per row: 0 as is, 1 mirror, 2 negated mirror


def _mask(dtype: np.dtype) -> int:
    """2^(8 * itemsize) - 1: the dtype's width as a mask (stored dtypes are <= 32 bits)."""
    return (1 << (8 * dtype.itemsize)) - 1


def _wrap(v: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """int64 values modulo the dtype's width, into its range, as that dtype."""
    mask = _mask(dtype)
    u = v & np.int64(mask)
    if dtype.kind == "i":
        u = np.where(u > mask >> 1, u - (mask + 1), u)
    return u.astype(dtype)


def _halves(flat: np.ndarray, period: int, skip: int, voff: int):
    """(first half reversed, second half) of every row, int64 in offset space."""
    rows = flat.reshape(-1, period).astype(np.int64) - voff
    seg = rows[:, skip:]
    m = seg.shape[1]
    h = m // 2
    return seg[:, :h][:, ::-1], seg[:, m - h:]


def row_modes(arr: np.ndarray, period: int, skip: int, voff: int) -> np.ndarray:
    """§25's mode of every row for a given (P, a): uint8, one per row."""
    flat = np.ascontiguousarray(arr).reshape(-1)
    modes = np.zeros(flat.size // period, np.uint8)
    if best_modes(flat, np.int64(period), np.int64(skip), np.int64(voff),
                  np.int64(_mask(flat.dtype)), modes) != 0:
        raise ValueError(f"bad mirror ({period}, {skip}) for {flat.size} values")
    return modes


def choose(arr: np.ndarray, voff: int) -> Mirror | None:
    """§25's rule: the (P, a) and row modes that leave the fewest nonzeros, if that saves at
    least one and leaves at most 4/5 of the tensor's nonzeros; None otherwise.  (The unsigned
    value-offset condition and the bits check are the caller's: they need the transformed
    tensor.)"""
    n = arr.size
    if n < MIN_NUMEL or arr.dtype.itemsize > 4:
        return None
    shape = arr.shape
    kern = n if len(shape) < 2 else max(1, math.prod(shape[1:]))
    p1 = kern if kern >= MIN_PERIOD and n % kern == 0 else 0
    last = shape[-1]
    p2 = last if last >= MIN_PERIOD and n % last == 0 and last != p1 else 0
    if p1 == 0:
        p1, p2 = p2, 0
    if p1 == 0:
        return None
    flat = arr.reshape(-1)
    if not flat.flags.c_contiguous:
        flat = np.ascontiguousarray(flat)
    saved, period, skip = scan_tensor(flat, p1, p2, voff, _mask(arr.dtype))
    if saved < 0:
        raise ValueError("mirror scan rejected its arguments")  # pragma: no cover
    if saved == 0:
        return None
    return Mirror(int(period), int(skip), row_modes(flat, int(period), int(skip), voff))


def forward(arr: np.ndarray, m: Mirror, voff: int) -> np.ndarray:
    """The stored tensor (same dtype and shape): second halves minus their signed mirror."""
    out = arr.reshape(-1, m.period).copy()
    first, second = _halves(arr.reshape(-1), m.period, m.skip, voff)
    sign = np.where(m.modes == 2, -1, m.modes.astype(np.int64))[:, None]  # 0, 1 or -1
    h = first.shape[1]
    if h:
        out[:, m.period - h:] = _wrap(second - sign * first + voff, arr.dtype)
    return out.reshape(arr.shape)


def order0_bits(arr: np.ndarray) -> float:
    """Order-0 entropy of the values, in bits: sum over distinct values of -c log2(c / n)."""
    flat = arr.reshape(-1)
    if flat.size == 0:
        return 0.0
    if flat.dtype.itemsize <= 2:
        c = np.bincount(flat.view(np.uint8 if flat.dtype.itemsize == 1 else np.uint16))
        c = c[c > 0]
    else:
        c = np.unique(flat, return_counts=True)[1]
    c = c.astype(np.float64)
    return float(-(c * np.log2(c / flat.size)).sum())


def fewer_bits(arr: np.ndarray, stored: np.ndarray, m: Mirror) -> bool:
    """§25's bits check: the stored tensor's order-0 bits plus its mode string (2 bits a row)
    and 16 bits of fields are fewer than the original's order-0 bits."""
    return order0_bits(stored) + 2 * m.modes.size + 16 < order0_bits(arr)


def mode_bytes(modes: np.ndarray) -> bytes:
    """The 2-bit mode string, MSB first, zero padded."""
    bits = np.zeros((modes.size, 2), np.uint8)
    bits[:, 0] = modes >> 1
    bits[:, 1] = modes & 1
    return np.packbits(bits.reshape(-1)).tobytes()
