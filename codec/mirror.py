"""Format v3's mirror transform (docs/FORMAT.md §23-§25): rows whose second half mirrors the
first (symmetric, mode 1) or its negation (antisymmetric, mode 2) store that half as the
difference from the mirror, zero where the symmetry holds.

A row of ``P`` values is ``[head (a) | first half (h) | middle (M mod 2) | second half (h)]``
with ``M = P - a``, ``h = M // 2``; in offset space ``d = x - z`` (``z`` the tensor's value
offset) the stored second half is ``d2 - s * d1[::-1]``, all modulo the dtype's width.

Writer side (numpy): :func:`choose` (§25's rule), :func:`forward`, :func:`mode_bytes`.
Reader side: :func:`check_modes` (check X4) and :func:`inverse` (a Numba kernel, in place).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

MIN_NUMEL = 16        # §25: smaller tensors never get the mirror
MIN_PERIOD = 4        # §25: candidate periods below this are skipped
KEEP_FRACTION = 0.8   # §25: the mirror must leave <= this fraction of the nonzeros
SAMPLE_ROWS = 64      # rows looked at first (a shortcut, not part of §25's rule: see choose)


class Mirror(NamedTuple):
    period: int         # P: values per row
    skip: int           # a: leading values of each row outside the mirror
    modes: np.ndarray   # uint8, one per row: 0 as is, 1 mirror, 2 negated mirror


def mirror_bytes(numel: int, period: int) -> int:
    """Bytes of the mode string: 2 bits a row, padded (0 without a mirror)."""
    return (numel // period + 3) // 4 if period else 0


def _width(dtype: np.dtype) -> tuple[int, int]:
    bits = 8 * dtype.itemsize
    return bits, (1 << (bits - 1)) if dtype.kind == "i" else 0


def _wrap(v: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """int64 values modulo the dtype's width, into its range, as that dtype."""
    bits, half = _width(dtype)
    if bits == 64:
        raise ValueError("64-bit tensors are not supported")
    u = v & np.int64((1 << bits) - 1)
    if half:
        u = np.where(u >= half, u - (1 << bits), u)
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
    return _candidate(arr.reshape(-1), arr.dtype, period, skip, voff)[0]


def _candidate(flat, dtype, period, skip, voff):
    """(modes, nonzeros saved) of one (P, a): each row's mode minimises its nonzero count in
    the stored second half (ties: the lower mode)."""
    first, second = _halves(flat, period, skip, voff)
    bits, _ = _width(dtype)
    mask = np.int64((1 << bits) - 1)
    counts = np.stack([np.count_nonzero(second & mask, axis=1),
                       np.count_nonzero((second - first) & mask, axis=1),
                       np.count_nonzero((second + first) & mask, axis=1)])
    modes = np.argmin(counts, axis=0).astype(np.uint8)   # argmin: first minimum on ties
    saved = int((counts[0] - counts[modes, np.arange(modes.size)]).sum())
    return modes, saved


def choose(arr: np.ndarray, voff: int) -> Mirror | None:
    """§25's rule: the (P, a) and row modes that leave the fewest nonzeros, if that is at most
    KEEP_FRACTION of the tensor's nonzeros; None otherwise.  (The unsigned value-offset
    condition is the caller's: it needs the transformed tensor.)"""
    n = arr.size
    if n < MIN_NUMEL or arr.dtype.itemsize > 4:
        return None
    shape = arr.shape
    kern = n if len(shape) < 2 else max(1, int(np.prod(shape[1:], dtype=np.int64)))
    flat = arr.reshape(-1)
    periods = []
    for p in (kern, shape[-1] if shape else 0):
        if p >= MIN_PERIOD and n % p == 0 and p not in periods:
            periods.append(p)
    if not periods:
        return None
    bits, _ = _width(arr.dtype)
    mask = np.int64((1 << bits) - 1)
    # a cheap look first (§25's sample step: tensors without the symmetry, nearly all, are
    # rejected from SAMPLE_ROWS evenly spread rows): no candidate saves >= 1/10 of the
    # sample's nonzeros (half the share the whole tensor needs)
    if n // min(periods) > 2 * SAMPLE_ROWS:
        promising = False
        for p in periods:
            pick = np.arange(SAMPLE_ROWS, dtype=np.int64) * (n // p - 1) // (SAMPLE_ROWS - 1)
            sample = flat.reshape(-1, p)[pick].reshape(-1)
            snz = int(np.count_nonzero((sample.astype(np.int64) - voff) & mask))
            for a in (0, 1):
                if p - a >= 2 and snz > 0 and \
                        10 * _candidate(sample, arr.dtype, p, a, voff)[1] >= snz:
                    promising = True
        if not promising:
            return None
    nz = int(np.count_nonzero((flat.astype(np.int64) - voff) & mask))
    best = None
    for p in periods:
        for a in (0, 1):
            if p - a < 2:
                continue
            modes, saved = _candidate(flat, arr.dtype, p, a, voff)
            if best is None or saved > best[0]:
                best = (saved, p, a, modes)
    # at most 4/5 (KEEP_FRACTION) of the nonzeros left, and at least one saved
    if best is None or 5 * (nz - best[0]) > 4 * nz or best[0] <= 0:
        return None
    return Mirror(best[1], best[2], best[3])


def forward(arr: np.ndarray, m: Mirror, voff: int) -> np.ndarray:
    """The stored tensor (same dtype and shape): second halves minus their signed mirror."""
    out = arr.reshape(-1, m.period).copy()
    first, second = _halves(arr.reshape(-1), m.period, m.skip, voff)
    sign = np.where(m.modes == 2, -1, m.modes.astype(np.int64))[:, None]  # 0, 1 or -1
    h = first.shape[1]
    if h:
        out[:, m.period - h:] = _wrap(second - sign * first + voff, arr.dtype)
    return out.reshape(arr.shape)


def mode_bytes(modes: np.ndarray) -> bytes:
    """The 2-bit mode string, MSB first, zero padded."""
    bits = np.zeros((modes.size, 2), np.uint8)
    bits[:, 0] = modes >> 1
    bits[:, 1] = modes & 1
    return np.packbits(bits.reshape(-1)).tobytes()


@njit(cache=True, nogil=True)
def check_modes(buf, off, n_rows):
    """X4: -1 if every 2-bit mode at byte ``off`` of ``buf`` is <= 2, else the first bad row;
    -2 if the string does not fit in ``buf``."""
    if off < 0 or n_rows < 0 or off + (n_rows + 3) // 4 > buf.size:
        return np.int64(-2)
    for r in range(n_rows):
        if (buf[off + (r >> 2)] >> (6 - 2 * (r & 3))) & 3 == 3:
            return np.int64(r)
    return np.int64(-1)


@njit(cache=True, nogil=True)
def inverse(out, lo, numel, period, skip, buf, off, voff, bits, signed):
    """Undo the mirror in place on ``out[lo : lo + numel]`` (modes at ``buf[off:]``).  Status
    0, -1 a bad argument or range, -(2 + r) a mode 3 at row r (check X4)."""
    if period < 2 or skip < 0 or skip > period - 2 or numel < 0 or numel % period != 0 \
            or lo < 0 or lo + numel > out.size or bits < 8 or bits > 32:
        return np.int64(-1)
    n_rows = numel // period
    if off < 0 or off + (n_rows + 3) // 4 > buf.size:
        return np.int64(-1)
    mask = (np.int64(1) << bits) - 1
    half = (np.int64(1) << (bits - 1)) if signed else np.int64(0)
    m = period - skip
    h = m // 2
    for r in range(n_rows):
        mode = (np.int64(buf[off + (r >> 2)]) >> (6 - 2 * (r & 3))) & 3
        if mode == 0:
            continue
        if mode == 3:
            return -(2 + np.int64(r))
        s = np.int64(1) if mode == 1 else np.int64(-1)
        b = lo + r * period + skip
        for k in range(h):
            j = b + m - 1 - k
            v = (np.int64(out[j]) + s * (np.int64(out[b + k]) - voff)) & mask
            if half and v >= half:
                v -= mask + 1
            out[j] = v
    return np.int64(0)
