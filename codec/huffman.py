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
from .kernels.plan import gamma_symbol_list, limit_lengths
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
    """Clamp to ``limit`` and repair the Kraft sum (lengthen cheap codes, then use the slack);
    see :func:`codec.kernels.plan.limit_lengths`."""
    lens = np.array(lens, dtype=np.int64)
    if limit_lengths(np.ascontiguousarray(weights, dtype=np.int64), lens, np.int64(limit)):
        raise ValueError("bad code lengths to limit")
    return lens


def canonical_codes(lengths: np.ndarray) -> np.ndarray:
    """Canonical code values (MSB-first) for the given lengths; 0 where unused."""
    lengths = np.ascontiguousarray(lengths, dtype=np.uint8)
    codes = np.zeros(lengths.size, dtype=np.int64)
    if canonical_codes_kernel(lengths, MAX_CODE_LEN, codes) != 0:
        raise ValueError("code lengths violate the Kraft inequality")
    return codes


# --- serialization -----------------------------------------------------------------------------

def write_lengths(out: bytearray, lengths: np.ndarray) -> None:
    """Append counts per length (varints) and the gamma-coded canonical symbol list."""
    lengths = np.ascontiguousarray(lengths, dtype=np.uint8)
    counts = np.bincount(lengths, minlength=MAX_CODE_LEN + 1)
    for ln in range(1, MAX_CODE_LEN + 1):
        put_varint(out, int(counts[ln]))
    # a gap below 2^17 (nsym <= 65536) is at most 33 gamma bits
    buf = np.zeros(5 * lengths.size + 8, np.uint8)
    st, n = gamma_symbol_list(lengths, MAX_CODE_LEN, buf)
    if st:
        raise ValueError("symbol list does not fit its buffer")
    out += buf[:n].tobytes()


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
