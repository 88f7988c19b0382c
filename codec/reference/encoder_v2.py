"""Reference writer of the format v2 directory (docs/FORMAT.md §17-§19, §21), field by field."""
from __future__ import annotations

import re
import struct
import zlib

from bitarray import bitarray

from .encoder import bits_of, padded_bytes, svarint, varint

DELIMITED = re.compile(rb"[^/._:;]*[/._:;]|[^/._:;]+")
CHUNK_LOG2 = 16


def kernel_size(shape) -> int:
    k = 1
    for d in (shape[1:] if len(shape) >= 2 else shape):
        k *= int(d)
    return max(1, k)


def names_bytes(names: list[str]) -> bytes:
    """§17.1 with §21's tokens: dictionary in first-use order, token-prefix sharing."""
    seqs = [DELIMITED.findall(n.encode("utf-8")) for n in names]
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


def entry_bytes(dtype_code: int, shape, mode: str, gsize: int, voff: int, blen: int, mlen: int,
                tid_delta: int, tid_bits: int, len_bits: int) -> bytes:
    numel = 1
    for d in shape:
        numel *= int(d)
    K = kernel_size(shape)
    if mode == "kernel" and gsize == K:
        gcode, extra = 1, b""
    elif numel <= gsize:
        gcode, extra = 3, b""
    elif mode == "kernels" and gsize % K == 0:
        gcode, extra = 2, varint(gsize // K)
    else:
        gcode, extra = 0, varint(gsize)
    flags = dtype_code | gcode << 3 | (0x20 if voff else 0) | (0x40 if mlen else 0)
    out = bytearray([flags]) + varint(len(shape))
    for d in shape:
        out += varint(int(d))
    out += extra
    if voff:
        out += svarint(voff)
    out += varint(blen)
    if mlen:
        out += varint(mlen)
    if numel:
        out += svarint(tid_delta) + varint(tid_bits * 64 + len_bits)
    return bytes(out)


def chunk_crcs(data_area: bytes, log2: int = CHUNK_LOG2) -> bytes:
    size = 1 << log2
    out = bytearray([log2])
    for lo in range(0, len(data_area), size):
        out += struct.pack("<I", zlib.crc32(data_area[lo:lo + size]))
    return bytes(out)
