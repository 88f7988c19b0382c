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


@njit(cache=True, inline="always")
def _row(flat, b, m, h, voff, mask):
    """(nonzeros of the stored second half under mode 0, 1, 2) of the row segment at b."""
    c0 = c1 = c2 = np.int64(0)
    for k in range(h):
        d1 = np.int64(flat[b + k]) - voff
        d2 = np.int64(flat[b + m - 1 - k]) - voff
        c0 += (d2 & mask) != 0
        c1 += ((d2 - d1) & mask) != 0
        c2 += ((d2 + d1) & mask) != 0
    return c0, c1, c2


@njit(cache=True, nogil=True)
def _scan(flat, periods, voff, mask, sample, res):
    """For each candidate period ``periods[i]`` and skip a in (0, 1): res[i, a] = nonzeros
    saved with every row at its best mode, res[i, 2] = nonzeros of the rows looked at: every
    row, or with ``sample`` the SAMPLE_ROWS rows floor(j (R - 1) / (SAMPLE_ROWS - 1)).  One
    call a tensor (numpy took ~0.2 ms a tensor in calls alone).  Returns 0, or -1 for a bad
    argument."""
    if res.shape[0] < periods.size or res.shape[1] < 3:
        return -1
    for i in range(periods.size):
        p = periods[i]
        if p < 2 or flat.size % p != 0:
            return -1
        n_rows = flat.size // p
        count = SAMPLE_ROWS if sample else n_rows
        s0 = s1 = nz = np.int64(0)
        for j in range(count):
            r = j * (n_rows - 1) // (SAMPLE_ROWS - 1) if sample else j
            if r < 0 or r >= n_rows:
                return -1
            b = r * p
            for k in range(p):
                nz += ((np.int64(flat[b + k]) - voff) & mask) != 0
            for a in range(2):
                if p - a >= 2:
                    c0, c1, c2 = _row(flat, b + a, p - a, (p - a) // 2, voff, mask)
                    saved = c0 - min(c0, min(c1, c2))
                    if a == 0:
                        s0 += saved
                    else:
                        s1 += saved
        res[i, 0] = s0
        res[i, 1] = s1
        res[i, 2] = nz
    return 0


@njit(cache=True, nogil=True)
def _modes(flat, period, skip, voff, mask, modes):
    """Every row's best mode (fewest nonzero stored second-half values, ties: the lower mode)
    into ``modes``; 0, or -1 for a bad argument."""
    if period < 2 or skip < 0 or skip > period - 2 or flat.size % period != 0 \
            or modes.size < flat.size // period:
        return -1
    m = period - skip
    for r in range(flat.size // period):
        c0, c1, c2 = _row(flat, r * period + skip, m, m // 2, voff, mask)
        mode = 0
        if c1 < c0:
            mode = 1
        if c2 < min(c0, c1):
            mode = 2
        modes[r] = mode
    return 0


def row_modes(arr: np.ndarray, period: int, skip: int, voff: int) -> np.ndarray:
    """§25's mode of every row for a given (P, a): uint8, one per row."""
    flat = np.ascontiguousarray(arr).reshape(-1)
    bits, _ = _width(flat.dtype)
    modes = np.zeros(flat.size // period, np.uint8)
    if _modes(flat, np.int64(period), np.int64(skip), np.int64(voff), np.int64((1 << bits) - 1),
              modes) != 0:
        raise ValueError(f"bad mirror ({period}, {skip}) for {flat.size} values")
    return modes


def choose(arr: np.ndarray, voff: int) -> Mirror | None:
    """§25's rule: the (P, a) and row modes that leave the fewest nonzeros, if that saves at
    least one and leaves at most 4/5 of the tensor's nonzeros; None otherwise.  (The unsigned
    value-offset condition is the caller's: it needs the transformed tensor.)"""
    n = arr.size
    if n < MIN_NUMEL or arr.dtype.itemsize > 4:
        return None
    shape = arr.shape
    kern = n if len(shape) < 2 else max(1, int(np.prod(shape[1:], dtype=np.int64)))
    periods = []
    for p in (kern, shape[-1] if shape else 0):
        if p >= MIN_PERIOD and n % p == 0 and p not in periods:
            periods.append(p)
    if not periods:
        return None
    flat = np.ascontiguousarray(arr).reshape(-1)
    bits, _ = _width(arr.dtype)
    mask = np.int64((1 << bits) - 1)
    ps = np.array(periods, np.int64)
    res = np.zeros((len(periods), 3), np.int64)
    # the sample step first (tensors without the symmetry, nearly all, are rejected from
    # SAMPLE_ROWS evenly spread rows): no candidate saves >= 1/10 of its sample's nonzeros
    if n // min(periods) > 2 * SAMPLE_ROWS:
        if _scan(flat, ps, np.int64(voff), mask, True, res) != 0:
            raise ValueError("mirror scan rejected its arguments")  # pragma: no cover
        if not any(res[i, 2] > 0 and 10 * res[i, a] >= res[i, 2]
                   for i in range(len(periods)) for a in (0, 1)):
            return None
    if _scan(flat, ps, np.int64(voff), mask, False, res) != 0:
        raise ValueError("mirror scan rejected its arguments")  # pragma: no cover
    nz = int(res[0, 2])
    best = None
    for i, p in enumerate(periods):
        for a in (0, 1):
            if p - a >= 2 and (best is None or res[i, a] > best[0]):
                best = (int(res[i, a]), p, a)
    # at least one nonzero saved, and at most 4/5 (KEEP_FRACTION) of them left
    if best is None or best[0] <= 0 or 5 * (nz - best[0]) > 4 * nz:
        return None
    return Mirror(best[1], best[2], row_modes(flat, best[1], best[2], voff))


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
