"""Reference writer of the format v2 / v3 directory (docs/FORMAT.md §17-§19, §21, §23), field by
field, and of v3's mirror transform with §25's rule for which tensors get it (plain Python,
value by value; independent of ``codec.mirror``)."""
from __future__ import annotations

import math
import re
import struct
import zlib

import numpy as np
from bitarray import bitarray

from .decoder import dtype_range
from .decoder_v2 import wrap
from .encoder import bits_of, padded_bytes, svarint, varint

DELIMITED = re.compile(rb"[^/._:;]*[/._:;]|[^/._:;]+")
CHUNK_LOG2 = 16


def kernel_size(shape) -> int:
    k = 1
    for d in (shape[1:] if len(shape) >= 2 else shape):
        k *= int(d)
    return max(1, k)


def merge_pairs(seqs: list[list[bytes]]) -> list[list[bytes]]:
    """§21's merge, one pair at a time until none is left: tokens x, y (x != y) become one
    when every x is followed by y and every y follows an x."""
    while True:
        pair = None
        for s in seqs:
            for i in range(len(s) - 1):
                x, y = s[i], s[i + 1]
                if x != y and all(
                        (t[j] != x or (j + 1 < len(t) and t[j + 1] == y))
                        and (t[j] != y or (j > 0 and t[j - 1] == x))
                        for t in seqs for j in range(len(t))):
                    pair = x, y
                    break
            if pair:
                break
        if pair is None:
            return seqs
        x, y = pair
        new = []
        for s in seqs:
            out: list[bytes] = []
            for t in s:
                if t == y:
                    out[-1] = x + y  # (every y follows an x)
                else:
                    out.append(t)
            new.append(out)
        seqs = new


def names_bytes(names: list[str], seqs: list | None = None) -> bytes:
    """§17.1 with §21's tokens (or the token sequences ``seqs``, one per name): dictionary in
    first-use order, token-prefix sharing."""
    if seqs is None:
        seqs = merge_pairs([DELIMITED.findall(n.encode("utf-8")) for n in names])
    seqs = [list(q) for q in seqs]
    for n, q in zip(names, seqs):
        if b"".join(q) != n.encode("utf-8") or not all(q):
            raise ValueError(f"tokens {q!r} do not spell the name {n!r}")
    order: list[bytes] = []
    for seq in seqs:
        for t in seq:
            if t not in order:
                order.append(t)
    index = {t: j for j, t in enumerate(order)}
    out = bytearray(varint(len(order)))
    for t in order:
        out += varint(len(t)) + t
    id_bits = (len(order) - 1).bit_length() if len(order) >= 2 else 0
    records = []
    prev: list[bytes] = []
    for seq in seqs:
        shared = 0
        while shared < min(len(seq), len(prev)) and seq[shared] == prev[shared]:
            shared += 1
        records.append((shared, seq[shared:]))
        prev = seq
    cw = max([0] + [max(s, len(f)) for s, f in records]).bit_length()
    out.append(cw)
    bits = bitarray(endian="big")
    for shared, fresh in records:
        bits += bits_of(shared, cw) + bits_of(len(fresh), cw)
        for t in fresh:
            bits += bits_of(index[t], id_bits)
    return bytes(out) + padded_bytes(bits)


def group_code(mode: str, gsize: int, shape) -> tuple[int, int | None]:
    """§21: (group code, its explicit value or None): 1 one kernel a group, 3 the whole tensor,
    2 whole kernels (value: kernels per group), 0 a count (value: the group size)."""
    numel = 1
    for d in shape:
        numel *= int(d)
    K = kernel_size(shape)
    if mode == "kernel" and gsize == K:
        return 1, None
    if numel <= gsize:
        return 3, None
    if mode == "kernels" and gsize % K == 0:
        return 2, gsize // K
    return 0, gsize


def entry_bytes(dtype_code: int, shape, mode: str, gsize: int, voff: int, blen: int, mlen: int,
                tid_delta: int, tid_bits: int, len_bits: int,
                mirror: tuple[int, int] | None = None) -> bytes:
    """One §18 entry; with ``mirror`` = (P, a), §23's flag bit 7 and the two v3 fields."""
    numel = 1
    for d in shape:
        numel *= int(d)
    gcode, explicit = group_code(mode, gsize, shape)
    extra = b"" if explicit is None else varint(explicit)
    flags = dtype_code | gcode << 3 | (0x20 if voff else 0) | (0x40 if mlen else 0)
    if mirror is not None:
        flags |= 0x80
    out = bytearray([flags]) + varint(len(shape))
    for d in shape:
        out += varint(int(d))
    out += extra
    if voff:
        out += svarint(voff)
    out += varint(blen)
    if mlen:
        out += varint(mlen)
    if mirror is not None:
        out += varint(int(mirror[0])) + varint(int(mirror[1]))
    if numel:
        out += svarint(tid_delta) + varint(tid_bits * 64 + len_bits)
    return bytes(out)


def chunk_crcs(data_area: bytes, log2: int = CHUNK_LOG2) -> bytes:
    size = 1 << log2
    out = bytearray([log2])
    for lo in range(0, len(data_area), size):
        out += struct.pack("<I", zlib.crc32(data_area[lo:lo + size]))
    return bytes(out)


# --- v3: the mirror transform (§23) and §25's writer rule -------------------------------------

MIRROR_MIN_NUMEL = 16


def _second_half(P: int, a: int, r: int):
    """(position written, position read) pairs of row r: (b + M - 1 - k, b + k), k < h."""
    M = P - a
    b = r * P + a
    return [(b + M - 1 - k, b + k) for k in range(M // 2)]


def stored_value(x: int, x_mirror: int, mode: int, z: int, dtype: str) -> int:
    """A second-half position's stored value: wrap(x - s * (x_mirror - z)); mode 0 keeps x."""
    if mode == 0:
        return x
    s = 1 if mode == 1 else -1
    return wrap(x - s * (x_mirror - z), dtype)


def row_modes(flat: list[int], P: int, a: int, z: int, dtype: str) -> list[int]:
    """§25's per-row rule: each row's mode minimises its count of second-half stored values
    that differ from ``z`` (ties: the lower mode)."""
    modes = []
    for r in range(len(flat) // P):
        best_mode, best = 0, None
        for mode in (0, 1, 2):
            nz = sum(1 for j, i in _second_half(P, a, r)
                     if stored_value(flat[j], flat[i], mode, z, dtype) != z)
            if best is None or nz < best:
                best_mode, best = mode, nz
        modes.append(best_mode)
    return modes


def mirror_forward(flat: list[int], P: int, a: int, z: int, modes, dtype: str) -> list[int]:
    """The stored values (a new list): each mirrored row's second half minus its signed mirror."""
    if P < 2 or a > P - 2 or not flat or len(flat) % P:
        raise ValueError(f"mirror ({P}, {a}) does not fit {len(flat)} values")
    if len(modes) != len(flat) // P or any(m not in (0, 1, 2) for m in modes):
        raise ValueError("need one mirror mode in 0..2 per row")
    out = list(flat)
    for r, mode in enumerate(modes):
        for j, i in _second_half(P, a, r):
            out[j] = stored_value(flat[j], flat[i], mode, z, dtype)
    return out


def mode_string(modes) -> bytes:
    """§23: one 2-bit field per row, MSB first, zero-padded to a byte."""
    bits = bitarray(endian="big")
    for m in modes:
        bits += bits_of(int(m), 2)
    return padded_bytes(bits)


def value_offset_of(flat: list[int], dtype: str) -> int:
    """§13: 0 for signed dtypes; unsigned: the most frequent value (smallest on ties, 0 empty)."""
    if dtype_range(dtype)[0] < 0 or not flat:
        return 0
    counts: dict[int, int] = {}
    for v in flat:
        counts[v] = counts.get(v, 0) + 1
    best = max(counts.values())
    return min(v for v, c in counts.items() if c == best)


def choose_mirror(arr):
    """§25's automatic choice for one tensor: ``((P, a), modes)``, or None for no mirror.

    Candidates ``P`` in (K, last dim) with ``P >= 4`` dividing numel, ``a`` in (0, 1), each row
    at its best mode; the candidate with the fewest nonzeros (first on ties) is taken if it
    keeps at most 0.8 x the original nonzeros (and some nonzero is there) and (unsigned) the
    stored tensor's most frequent value is still the value offset."""
    arr = np.asarray(arr)
    dtype = arr.dtype.newbyteorder("=").name
    flat = [int(v) for v in arr.reshape(-1).tolist()]
    n = len(flat)
    if n < MIRROR_MIN_NUMEL or arr.ndim == 0:
        return None
    z = value_offset_of(flat, dtype)
    cands = [P for P in (kernel_size(arr.shape), int(arr.shape[-1])) if P >= 4 and n % P == 0]
    promising = n <= 8192  # §25's sample step: 64 rows, 32 pairs of each, evenly spread
    for P in (cands if not promising else []):
        R = n // P
        rows = [i * (R - 1) // 63 for i in range(64)]
        for a in (0, 1):
            if P - a < 2:
                continue
            saved = snz = 0
            for r in rows:
                c = [0, 0, 0]
                h = (P - a) // 2
                for k in ([i * (h - 1) // 31 for i in range(32)] if h > 0 else []):
                    x1, x2 = flat[r * P + a + k], flat[r * P + P - 1 - k]
                    snz += (x1 != z) + (x2 != z)
                    for mode in (0, 1, 2):
                        c[mode] += stored_value(x2, x1, mode, z, dtype) != z
                saved += c[0] - min(c)
            if snz > 0 and 10 * saved >= snz:
                promising = True
    if not promising:
        return None
    before = sum(1 for v in flat if v != z)
    best = None
    for P in (kernel_size(arr.shape), int(arr.shape[-1])):
        if P < 4 or n % P:
            continue
        for a in (0, 1):
            modes = row_modes(flat, P, a, z, dtype)
            stored = mirror_forward(flat, P, a, z, modes, dtype)
            nz = sum(1 for v in stored if v != z)
            if best is None or nz < best[0]:
                best = (nz, (P, a), modes, stored)
    # nonzeros <= 0.8 x the original's.  A tensor without nonzeros is not mirrored (read
    # literally, §25's "at most 0.8 x 0" would hold for it; codec.pack requires a saving, and
    # §25 means one: a package of all-zero tensors stays v2)
    if best is None or before == 0 or 5 * best[0] > 4 * before:
        return None
    nz, pa, modes, stored = best
    if value_offset_of(stored, dtype) != z:  # (unsigned) the offset must stay the mode value
        return None
    if order0_bits(stored) + 2 * len(modes) + 16 >= order0_bits(flat):  # the bits check
        return None
    return pa, modes


def order0_bits(values) -> float:
    """§25: sum over distinct values of -c log2(c / n)."""
    counts: dict = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    n = len(values)
    return -sum(c * math.log2(c / n) for c in counts.values())
