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

import math
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


@njit(cache=True, inline="always")
def _scan(flat, p, voff, mask, sample):
    """(saved with a = 0, saved with a = 1, nonzeros) of period ``p`` (rows at their best
    mode) over every row, or with ``sample`` over the SAMPLE_ROWS rows
    floor(j (R - 1) / (SAMPLE_ROWS - 1)); saved -1 when ``p - a < 2``."""
    n_rows = flat.size // p
    count = SAMPLE_ROWS if sample else n_rows
    s0 = np.int64(0) if p >= 2 else np.int64(-1)
    s1 = np.int64(0) if p >= 3 else np.int64(-1)
    nz = np.int64(0)
    for j in range(count):
        r = j * (n_rows - 1) // (SAMPLE_ROWS - 1) if sample else j
        b = r * p  # 0 <= r < n_rows: in range
        for k in range(p):
            nz += ((np.int64(flat[b + k]) - voff) & mask) != 0
        if s0 >= 0:
            c0, c1, c2 = _row(flat, b, p, p // 2, voff, mask)
            s0 += c0 - min(c0, min(c1, c2))
        if s1 >= 0:
            c0, c1, c2 = _row(flat, b + 1, p - 1, (p - 1) // 2, voff, mask)
            s1 += c0 - min(c0, min(c1, c2))
    return s0, s1, nz


@njit(cache=True, nogil=True)
def _pick(flat, p1, p2, voff, mask):
    """§25's choice among the candidate periods ``p1`` and ``p2`` (0 = none; each must divide
    ``flat.size``): (saved, period, skip) of the best candidate, saved 0 when the sample step
    or the 4/5 share rules it out, -1 for a bad argument.  One call a tensor (numpy took
    ~0.2 ms a tensor in calls alone)."""
    n = flat.size
    for p in (p1, p2):
        if p != 0 and (p < 2 or n % p != 0):
            return np.int64(-1), np.int64(0), np.int64(0)
    if p1 == 0:
        return np.int64(-1), np.int64(0), np.int64(0)
    small = p1 if p2 == 0 else min(p1, p2)
    if n // small > 2 * SAMPLE_ROWS:  # the sample step
        ok = False
        for p in (p1, p2):
            if p != 0:
                s0, s1, snz = _scan(flat, p, voff, mask, True)
                if snz > 0 and (10 * s0 >= snz or 10 * s1 >= snz):
                    ok = True
        if not ok:
            return np.int64(0), np.int64(0), np.int64(0)
    best, bp, ba, nz = np.int64(0), np.int64(0), np.int64(0), np.int64(0)
    for p in (p1, p2):
        if p != 0:
            s0, s1, nz = _scan(flat, p, voff, mask, False)
            if s0 > best:
                best, bp, ba = s0, p, np.int64(0)
            if s1 > best:
                best, bp, ba = s1, p, np.int64(1)
    if best <= 0 or 5 * (nz - best) > 4 * nz:  # >= 1 nonzero saved, <= 4/5 of them left
        return np.int64(0), np.int64(0), np.int64(0)
    return best, bp, ba


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
    bits = 8 * arr.dtype.itemsize
    saved, period, skip = _pick(flat, p1, p2, voff, (1 << bits) - 1)
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
