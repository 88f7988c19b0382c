"""Canonical, length-limited Huffman codes and their compact serialization.

A table is stored as (count of codes per length 1..MAX_CODE_LEN, then the symbols in canonical
order), the same representation bitarray's ``canonical_huffman`` uses.  Symbols of one length
are ascending, so each is written as the Elias-gamma code of its gap to the previous symbol of
that length (the first one's gap is counted from -1).  See docs/FORMAT.md, "Huffman table".
"""
from __future__ import annotations

import numpy as np

from ._bytes import Reader, put_varint
from .errors import CorruptError
from .kernels.tables import canonical_codes_kernel, huffman_depths, read_symbol_list

MAX_CODE_LEN = 12  # 4096-entry decode table: one lookup per symbol, 16 KiB, fits L1
LUT_BITS = MAX_CODE_LEN  # the decode tables are built in codec/package.py (_decode_luts)


def huffman_lengths(counts: np.ndarray, limit: int = MAX_CODE_LEN) -> np.ndarray:
    """Code length per symbol (0 = unused) of an optimal Huffman code, then limited to ``limit``.

    Deterministic: ties are broken by symbol index.  With one used symbol its length is 1.
    """
    counts = np.asarray(counts, dtype=np.int64)
    lengths = np.zeros(counts.size, dtype=np.uint8)
    used = np.flatnonzero(counts)
    if used.size == 0:
        return lengths
    if used.size == 1:
        lengths[used[0]] = 1
        return lengths
    if used.size > (1 << limit):
        raise ValueError(f"{used.size} symbols cannot have codes of at most {limit} bits")
    lens = huffman_depths(counts[used])
    if lens.max() > limit:
        lens = _limit_lengths(counts[used], lens, limit)
    lengths[used] = lens
    return lengths


def _limit_lengths(weights: np.ndarray, lens: np.ndarray, limit: int) -> np.ndarray:
    """Clamp to ``limit`` and repair the Kraft sum (lengthen cheap codes, then use the slack)."""
    lens = np.minimum(lens, limit).astype(np.int64)
    unit = 1 << limit
    kraft = int(np.sum(1 << (limit - lens)))
    order = np.lexsort((np.arange(lens.size), weights))  # ascending weight
    while kraft > unit:
        for i in order:  # lengthen the lightest symbols first
            if lens[i] < limit:
                kraft -= 1 << (limit - lens[i] - 1)
                lens[i] += 1
                if kraft <= unit:
                    break
    for i in order[::-1]:  # heaviest first: shorten while the code stays valid
        while lens[i] > 1 and kraft + (1 << (limit - lens[i])) <= unit:
            kraft += 1 << (limit - lens[i])
            lens[i] -= 1
    return lens


def canonical_codes(lengths: np.ndarray) -> np.ndarray:
    """Canonical code values (MSB-first) for the given lengths; 0 where unused."""
    lengths = np.ascontiguousarray(lengths, dtype=np.uint8)
    codes = np.zeros(lengths.size, dtype=np.int64)
    if canonical_codes_kernel(lengths, MAX_CODE_LEN, codes) != 0:
        raise ValueError("code lengths violate the Kraft inequality")
    return codes


# --- serialization -----------------------------------------------------------------------------

class _BitWriter:
    def __init__(self):
        self.bits: list[int] = []

    def gamma(self, x: int) -> None:
        nb = x.bit_length()
        self.bits.extend([0] * (nb - 1))
        self.bits.extend((x >> (nb - 1 - i)) & 1 for i in range(nb))

    def to_bytes(self) -> bytes:
        pad = (-len(self.bits)) % 8
        arr = np.array(self.bits + [0] * pad, dtype=np.uint8)
        return np.packbits(arr).tobytes()


def write_lengths(out: bytearray, lengths: np.ndarray) -> None:
    """Append counts per length (varints) and the gamma-coded canonical symbol list."""
    lengths = np.asarray(lengths)
    bw = _BitWriter()
    for ln in range(1, MAX_CODE_LEN + 1):
        syms = np.flatnonzero(lengths == ln)
        put_varint(out, int(syms.size))
    for ln in range(1, MAX_CODE_LEN + 1):
        prev = -1
        for s in np.flatnonzero(lengths == ln).tolist():
            bw.gamma(s - prev)
            prev = s
    out += bw.to_bytes()


def read_lengths(r: Reader, nsym: int) -> np.ndarray:
    """Inverse of :func:`write_lengths`; validates symbol range, order and the Kraft inequality."""
    start = r.offset
    counts = [r.varint(f"code count for length {ln}", limit=nsym) for ln in range(1, MAX_CODE_LEN + 1)]
    total = sum(counts)
    if total == 0:
        raise CorruptError("Huffman table has no codes", offset=start)
    if total > nsym:
        raise CorruptError(f"Huffman table lists {total} codes for {nsym} symbols", offset=start)
    kraft = sum(c << (MAX_CODE_LEN - ln) for ln, c in enumerate(counts, 1))
    if kraft > (1 << MAX_CODE_LEN):
        raise CorruptError("Huffman code lengths violate the Kraft inequality", offset=start)
    lengths = np.zeros(nsym, dtype=np.uint8)
    buf = r.buf if isinstance(r.buf, np.ndarray) else np.frombuffer(r.buf, np.uint8)
    st, after, bitpos = read_symbol_list(buf, r.pos, r.end, np.array(counts, np.int64), lengths)
    if st != 0:
        msg = {-1: "bad Elias-gamma gap", -2: "symbol beyond the alphabet",
               -3: "symbol listed twice", -4: "symbol list runs past the directory"}[st]
        raise CorruptError(f"Huffman symbol list: {msg}", offset=r.base + bitpos // 8)
    r.pos = after
    return lengths
