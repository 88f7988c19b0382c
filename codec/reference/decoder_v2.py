"""Reference reader of the format v2 / v3 directory (docs/FORMAT.md §16-§20, §23-§24) and of
v3's mirror transform, written from the spec.

Plain Python, every field in the order the spec lists it; shares no code with ``codec.format``
/ ``codec.format_v2`` / ``codec.mirror`` (only the v1 reference helpers of :mod:`.decoder`).
The checks and their order are §20's, with §24's X1-X4 for v3.
"""
from __future__ import annotations

import zlib

import numpy as np

from ..errors import ChecksumError, CorruptError, LimitError, TruncatedError
from .decoder import (DTYPE_BY_CODE, MAX_LEN_BITS, MAX_TID_BITS, PREAMBLE_SIZE, ByteReader,
                      RefEntry, dtype_range)

MAX_COUNT_BITS = 32
MAX_DIM = 1 << 48
GROUP_MODE_BY_CODE2 = {0: "count", 1: "kernel", 2: "kernels", 3: "count"}


class NameBits:
    """MSB-first bits of ``buf`` from byte ``pos``; running past ``end`` is a TruncatedError."""

    def __init__(self, buf: bytes, pos: int, end: int):
        self.buf, self.bit, self.end = buf, 8 * pos, 8 * end

    def read(self, n: int, what: str) -> int:
        v = 0
        start = self.bit
        for _ in range(n):
            if self.bit >= self.end:  # (the offset: where the field starts, as codec's)
                raise TruncatedError(f"input ends inside the name records ({what})",
                                     offset=start // 8)
            v = 2 * v + ((self.buf[self.bit // 8] >> (7 - self.bit % 8)) & 1)
            self.bit += 1
        return v


def read_names(r: ByteReader, count: int, limits) -> list[str]:
    return read_name_seqs(r, count, limits)[0]


def read_name_seqs(r: ByteReader, count: int, limits) -> tuple[list[str], list[list[bytes]]]:
    """The names and each one's token sequence (§17.1)."""
    ntok = r.varint("token count", limits.max_names_bytes, LimitError)
    toks = []
    for j in range(ntok):
        at = r.pos
        ln = r.varint(f"token {j} length", limits.max_name_bytes, LimitError)
        if ln == 0:
            raise CorruptError(f"token {j} is empty", offset=at)
        toks.append(r.take(ln, f"token {j}"))
    at = r.pos
    cw = r.u8("count bits")
    if cw > MAX_COUNT_BITS:
        raise CorruptError(f"count_bits {cw} > {MAX_COUNT_BITS}", offset=at)
    id_bits = (ntok - 1).bit_length() if ntok >= 2 else 0
    bits = NameBits(r.buf, r.pos, r.end)
    names, seqs, seen, prev, total = [], [], set(), [], 0
    for i in range(count):
        at = bits.bit // 8
        shared = bits.read(cw, "shared")
        if shared > len(prev):
            raise CorruptError(f"name {i}: shared {shared} > {len(prev)} tokens", offset=at)
        fresh = bits.read(cw, "fresh")
        seq = prev[:shared]
        length = sum(len(t) for t in seq)
        for _ in range(fresh):
            at_id = bits.bit // 8
            tid = bits.read(id_bits, "token id")
            if tid >= ntok:
                raise CorruptError(f"name {i}: token id {tid} >= {ntok}", offset=at_id)
            seq.append(toks[tid])
            length += len(toks[tid])
            if length > limits.max_name_bytes:
                raise LimitError(f"name {i} longer than max_name_bytes", offset=at_id)
        total += length
        if total > limits.max_names_bytes:
            raise LimitError("names exceed max_names_bytes", offset=at)
        try:
            name = b"".join(seq).decode("utf-8")
        except UnicodeDecodeError:
            raise CorruptError("tensor name is not UTF-8", offset=at) from None
        if name in seen:
            raise CorruptError(f"duplicate tensor name {name!r}", offset=at)
        seen.add(name)
        names.append(name)
        seqs.append(seq)
        prev = seq
    r.pos = (bits.bit + 7) // 8
    return names, seqs


def _kernel(shape) -> int:
    k = 1
    for d in (shape[1:] if len(shape) >= 2 else shape):
        k *= d
    return max(1, k)


def read_entries(r: ByteReader, limits, ntab: int, dir_off: int, names: list[str],
                 version: int = 2):
    entries = []
    total_bytes = 0
    boff = PREAMBLE_SIZE
    prev_tb = 0
    for name in names:
        at = r.pos
        flags = r.u8("flags")
        code = flags & 7
        if code not in DTYPE_BY_CODE:
            raise CorruptError(f"unknown dtype code {code}", offset=at)
        if flags & 0x80 and version < 3:  # E4: bit 7 is reserved in v2, "mirror" in v3
            raise CorruptError("reserved flag bit 7 set", offset=at)
        dtype = DTYPE_BY_CODE[code]
        ndim = r.varint("ndim", limits.max_ndim, LimitError)
        shape = tuple(r.varint("dim", MAX_DIM) for _ in range(ndim))
        numel = 1
        for d in shape:
            numel *= d
        total_bytes += numel * np.dtype(dtype).itemsize
        if total_bytes > limits.max_output_bytes:
            raise LimitError("output would exceed max_output_bytes", offset=at)
        gcode = (flags >> 3) & 3
        K = _kernel(shape)
        if gcode == 0:
            g = r.pos
            gsize = r.varint("group size", MAX_DIM)
            if gsize < 1:
                raise CorruptError("group size 0", offset=g)
        elif gcode == 1:
            gsize = K
        elif gcode == 2:
            g = r.pos
            k = r.varint("kernels per group", MAX_DIM)
            if k < 1 or k * K > MAX_DIM:
                raise CorruptError("kernels per group out of range", offset=g)
            gsize = k * K
        else:
            gsize = max(1, numel)
        if gsize > MAX_DIM:
            raise CorruptError("group size > 2^48", offset=at)
        voff = 0
        if flags & 0x20:
            lo, hi = dtype_range(dtype)
            voff = r.svarint("value offset", lo, hi)
        g = r.pos
        blen = r.varint("block length")
        if boff + blen > dir_off:
            raise CorruptError("block outside the data area", offset=g)
        mlen = r.varint("meta length", blen) if flags & 0x40 else 0
        period = skip = mbytes = 0
        if flags & 0x80:  # v3 mirror fields (§23), checks X1-X3 (§24)
            g = r.pos
            period = r.varint("mirror period", MAX_DIM)
            if numel == 0 or period < 2 or numel % period != 0:
                raise CorruptError(f"mirror period {period} does not fit {numel} values",
                                   offset=g)
            g = r.pos
            skip = r.varint("mirror skip")
            if skip > period - 2:
                raise CorruptError(f"mirror skip {skip} > period {period} - 2", offset=g)
            n_rows = numel // period
            mbytes = (n_rows + 3) // 4
            if mlen + mbytes > blen:
                raise CorruptError("block too small for the mirror modes", offset=at)
        tid_base = tid_bits = len_bits = 0
        if numel:
            g = r.pos
            tid_base = prev_tb + r.svarint("table base delta", -(1 << 64), 1 << 64)
            if not 0 <= tid_base <= max(ntab - 1, 0):
                raise CorruptError("table base out of range", offset=g)
            prev_tb = tid_base
            g = r.pos
            widths = r.varint("widths", MAX_TID_BITS * 64 + MAX_LEN_BITS)
            tid_bits, len_bits = divmod(widths, 64)
            if len_bits > MAX_LEN_BITS:
                raise CorruptError("length width > 56", offset=g)
        e = RefEntry(name, dtype, shape, GROUP_MODE_BY_CODE2[gcode], gsize, voff, boff, blen, 0,
                     mlen, tid_base, tid_bits, len_bits)
        e.numel = numel
        e.mirror_period, e.mirror_skip, e.mirror_bytes = period, skip, mbytes
        e.n_groups = -(-numel // gsize) if numel else 0
        e.group_table_bytes = (e.n_groups * (tid_bits + len_bits) + 7) // 8
        e.payload_bytes = blen - mlen - mbytes - e.group_table_bytes
        if e.n_groups and ntab == 0:
            raise CorruptError(f"tensor {name!r} has groups but there are no tables", offset=at)
        if e.payload_bytes < 0 or (e.n_groups and len_bits == 0):
            raise CorruptError(f"tensor {name!r}: block too small for its group table", offset=at)
        if e.n_groups == 0 and e.payload_bytes != 0:
            raise CorruptError(f"tensor {name!r}: no values but payload bytes", offset=at)
        if e.n_groups > 8 * e.payload_bytes:
            raise CorruptError(f"tensor {name!r}: groups cannot fit the payload", offset=at)
        entries.append(e)
        boff += blen
    if boff != dir_off:
        raise CorruptError("blocks do not end at the directory", offset=r.pos)
    return entries


def read_chunks(r: ByteReader, dir_off: int) -> tuple[int, list[int]]:
    at = r.pos
    log2 = r.u8("chunk_log2")
    if not 6 <= log2 <= 31:
        raise CorruptError(f"chunk_log2 {log2} outside 6..31", offset=at)
    n = -(-(dir_off - PREAMBLE_SIZE) // (1 << log2))
    if 4 * n > r.end - r.pos:
        raise TruncatedError("input ends inside the chunk CRC32s", offset=r.pos)
    return log2, [r.u32("chunk CRC32") for _ in range(n)]


def check_chunks(buf: bytes, e: RefEntry, log2: int, crcs: list[int], dir_off: int) -> None:
    """B1v2: every chunk the block overlaps matches its CRC32."""
    if e.block_length == 0:
        return
    size = 1 << log2
    first = (e.block_offset - PREAMBLE_SIZE) // size
    last = (e.block_offset + e.block_length - 1 - PREAMBLE_SIZE) // size
    for c in range(first, last + 1):
        lo = PREAMBLE_SIZE + c * size
        if zlib.crc32(buf[lo:min(lo + size, dir_off)]) != crcs[c]:
            raise ChecksumError(f"tensor {e.name!r}: chunk {c} CRC32 mismatch", offset=lo)


# --- v3: the mirror transform (§23) -----------------------------------------------------------

def read_mirror_modes(buf: bytes, e: RefEntry) -> None:
    """X4: ``n_rows`` 2-bit fields, MSB first, at the block start + ``meta_length``; each <= 2."""
    start = e.block_offset + e.meta_length
    n_rows = e.numel // e.mirror_period
    modes = []
    for row in range(n_rows):
        byte = buf[start + row // 4]
        mode = (byte >> (6 - 2 * (row % 4))) & 3  # field r = bits 2r, 2r+1 of the string
        if mode == 3:
            raise CorruptError(f"tensor {e.name!r}: row {row} has mirror mode 3",
                               offset=start + row // 4)
        modes.append(mode)
    e.mirror_modes = modes


def wrap(v: int, dtype: str) -> int:
    """``v`` reduced modulo 2^(8 * itemsize) into the dtype's range (two's complement)."""
    lo, hi = dtype_range(dtype)
    width = hi - lo + 1
    return (v - lo) % width + lo


def unmirror(values: list[int], e: RefEntry) -> None:
    """The inverse transform, in place on the decoded (stored) values in C order: for each row
    r with mode 1 (s = +1) or 2 (s = -1), second-half value b + M - 1 - k += s * (x[b + k] - z)."""
    P, a, z = e.mirror_period, e.mirror_skip, e.value_offset
    M = P - a
    h = M // 2
    for r, mode in enumerate(e.mirror_modes):
        if mode == 0:
            continue
        s = 1 if mode == 1 else -1
        b = r * P + a
        for k in range(h):
            j = b + M - 1 - k
            values[j] = wrap(values[j] + s * (values[b + k] - z), e.dtype)
