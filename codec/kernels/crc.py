"""CRC-32 (the zlib / ISO-HDLC polynomial, as ``zlib.crc32``) of a format-v2 package's data
chunks in one nogil kernel call per slice of chunks.

Why not ``zlib.crc32``: it releases the GIL only inside each call, and a v2 package has one
64 KiB chunk per call, so every ~30 us of work a thread must take the GIL back.  On a host
with many threads (the GPU machine's 16) the hand-offs queue on the GIL and the "parallel"
pass ran at about one thread's speed.  This kernel (slicing-by-16 tables) is slower per
core than zlib's (1.5 vs 2.3 GB/s on this project's 2-core VM) but takes the GIL once per
slice, so it scales with threads; :mod:`codec.package` uses it from CRC_KERNEL_MIN_THREADS
threads and CRC_KERNEL_MIN_CHUNKS chunks a thread on (H200 host, 16 threads: 3.2 vs 7.7 ms
on 580 chunks; slower than zlib on 15-38 chunks).  Same values as ``zlib.crc32``
(tests/test_crc_kernel.py).

Where the host has PCLMULQDQ (``intrinsics.HAS_CLMUL``: x86-64, compiled kernels) the CRC is
:func:`crc_fold` (carry-less multiplication, ~2x zlib's speed) instead of :func:`crc_slices`,
in :func:`crc_chunks` and :func:`crc_range`; :mod:`codec.package` then always uses the
kernel, and ``format_v2.chunk_crc`` calls :func:`crc_range` for one chunk (session 11).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .intrinsics import HAS_CLMUL, clmul64, load_le64

_POLY = 0xEDB88320
SLICES = 16


def _tables() -> np.ndarray:
    """T[0] the byte-at-a-time table; T[k][b] = CRC state of byte b followed by k zero bytes."""
    t = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        t = np.where(t & 1, (t >> 1) ^ np.uint32(_POLY), t >> 1).astype(np.uint32)
    tabs = np.empty((SLICES, 256), np.uint32)
    tabs[0] = t
    for k in range(1, SLICES):
        prev = tabs[k - 1]
        tabs[k] = t[prev & 0xFF] ^ (prev >> 8)
    return tabs


CRC_TABLES = _tables()


def crc_shift_tables(log2n: int) -> np.ndarray:
    """M (4 x 256 uint32): the reflected CRC-32 register after 2**log2n zero bytes from
    register v << 8k is M[k][v] (the map is linear, so M[0][r & 255] ^ M[1][r >> 8 & 255] ^
    ... for any register r).  Built by doubling from one zero byte.  codec.cuda's chunk CRC
    kernel folds sub-slice registers with it."""
    t0 = CRC_TABLES[0]
    v = np.arange(256, dtype=np.uint32)
    M = np.stack([t0] + [(v << np.uint32(8 * k)) >> np.uint32(8) for k in (1, 2, 3)])

    def apply(r):
        return (M[0][r & 0xFF] ^ M[1][(r >> 8) & 0xFF] ^ M[2][(r >> 16) & 0xFF]
                ^ M[3][r >> 24])
    for _ in range(log2n):
        M = np.stack([apply(M[k]) for k in range(4)])
    return M.astype(np.uint32)


@njit(nogil=True, cache=True, inline="always")
def crc_slices(buf, a, b, T):
    """CRC-32 of buf[a:b], slicing by 16 (the caller checked 0 <= a <= b <= buf.size)."""
    crc = np.uint32(0xFFFFFFFF)
    p = a
    while p + 16 <= b:
        x = crc ^ (np.uint32(buf[p]) | (np.uint32(buf[p + 1]) << np.uint32(8))
                   | (np.uint32(buf[p + 2]) << np.uint32(16))
                   | (np.uint32(buf[p + 3]) << np.uint32(24)))
        crc = (T[15, x & np.uint32(0xFF)] ^ T[14, (x >> np.uint32(8)) & np.uint32(0xFF)]
               ^ T[13, (x >> np.uint32(16)) & np.uint32(0xFF)] ^ T[12, x >> np.uint32(24)]
               ^ T[11, buf[p + 4]] ^ T[10, buf[p + 5]] ^ T[9, buf[p + 6]] ^ T[8, buf[p + 7]]
               ^ T[7, buf[p + 8]] ^ T[6, buf[p + 9]] ^ T[5, buf[p + 10]] ^ T[4, buf[p + 11]]
               ^ T[3, buf[p + 12]] ^ T[2, buf[p + 13]] ^ T[1, buf[p + 14]] ^ T[0, buf[p + 15]])
        p += 16
    while p < b:
        crc = T[0, (crc ^ np.uint32(buf[p])) & np.uint32(0xFF)] ^ (crc >> np.uint32(8))
        p += 1
    return crc ^ np.uint32(0xFFFFFFFF)


# Folding constants of the zlib polynomial (bit-reflected, low and high 64-bit word of the
# state) for a fold across 64 bytes (four 16-byte lanes) and across 16 bytes (one lane), as
# in Intel's "Fast CRC computation for generic polynomials using PCLMULQDQ" (2009) and the
# folding CRC-32 of Linux and zlib-ng; checked against zlib.crc32 (tests/test_crc_kernel.py).
_K64_LO, _K64_HI = np.uint64(0x154442BD4), np.uint64(0x1C6E41596)
_K16_LO, _K16_HI = np.uint64(0x1751997D0), np.uint64(0x0CCAA009E)


@njit(nogil=True, cache=True, inline="always")
def _fold(lo, hi, klo, khi, dlo, dhi):
    """A 128-bit state (lo, hi) carried across the fold distance of (klo, khi), then XORed
    with the 16 data bytes (dlo, dhi) there."""
    a0, a1 = clmul64(lo, klo)
    b0, b1 = clmul64(hi, khi)
    return a0 ^ b0 ^ dlo, a1 ^ b1 ^ dhi


@njit(nogil=True, cache=True, inline="always")
def _bytes8(crc, x, T):
    """The CRC register after the 8 bytes of x (little-endian), byte by byte."""
    for k in range(8):
        b = np.uint32(x >> np.uint64(8 * k)) & np.uint32(0xFF)
        crc = T[0, (crc ^ b) & np.uint32(0xFF)] ^ (crc >> np.uint32(8))
    return crc


@njit(nogil=True, cache=True, inline="always")
def crc_fold(buf, a, b, T):
    """CRC-32 of buf[a:b] by carry-less multiplication (only where intrinsics.HAS_CLMUL; the
    caller checked 0 <= a <= b <= buf.size): four 16-byte lanes folded 64 bytes at a time,
    then into one, then 16 at a time; the last state's 16 bytes and the tail (< 16 bytes) go
    through the byte table.  ~10 GB/s on this project's VM (zlib.crc32: 4.3, crc_slices: 1.5)."""
    crc = np.uint32(0xFFFFFFFF)
    p = a
    if b - a >= 64:
        x0l = load_le64(buf, p) ^ np.uint64(crc)
        x0h = load_le64(buf, p + 8)
        x1l, x1h = load_le64(buf, p + 16), load_le64(buf, p + 24)
        x2l, x2h = load_le64(buf, p + 32), load_le64(buf, p + 40)
        x3l, x3h = load_le64(buf, p + 48), load_le64(buf, p + 56)
        p += 64
        while p + 64 <= b:
            x0l, x0h = _fold(x0l, x0h, _K64_LO, _K64_HI, load_le64(buf, p), load_le64(buf, p + 8))
            x1l, x1h = _fold(x1l, x1h, _K64_LO, _K64_HI, load_le64(buf, p + 16),
                             load_le64(buf, p + 24))
            x2l, x2h = _fold(x2l, x2h, _K64_LO, _K64_HI, load_le64(buf, p + 32),
                             load_le64(buf, p + 40))
            x3l, x3h = _fold(x3l, x3h, _K64_LO, _K64_HI, load_le64(buf, p + 48),
                             load_le64(buf, p + 56))
            p += 64
        xl, xh = _fold(x0l, x0h, _K16_LO, _K16_HI, x1l, x1h)
        xl, xh = _fold(xl, xh, _K16_LO, _K16_HI, x2l, x2h)
        xl, xh = _fold(xl, xh, _K16_LO, _K16_HI, x3l, x3h)
        while p + 16 <= b:
            xl, xh = _fold(xl, xh, _K16_LO, _K16_HI, load_le64(buf, p), load_le64(buf, p + 8))
            p += 16
        crc = _bytes8(_bytes8(np.uint32(0), xl, T), xh, T)  # (the start value is in x0)
    while p < b:
        crc = T[0, (crc ^ np.uint32(buf[p])) & np.uint32(0xFF)] ^ (crc >> np.uint32(8))
        p += 1
    return crc ^ np.uint32(0xFFFFFFFF)


_crc = crc_fold if HAS_CLMUL else crc_slices


@njit(nogil=True, cache=True)
def crc_range(buf, a, b, T):
    """CRC-32 of buf[a:b] (the fastest kernel of this host), or -1 if 0 <= a <= b <=
    buf.size or T's shape (16, 256) does not hold."""
    if a < 0 or b < a or b > buf.size or T.shape[0] != 16 or T.shape[1] != 256:
        return np.int64(-1)
    return np.int64(_crc(buf, a, b, T))


@njit(nogil=True, cache=True)
def crc_chunks(buf, lo, end, log2, c0, c1, out, T):
    """out[c] = CRC-32 of chunk c = buf[lo + c * 2**log2 : min(lo + (c + 1) * 2**log2, end)]
    for c0 <= c < c1.  Returns 0, or -1 (nothing written) if an argument does not fit:
    0 <= lo <= end <= buf.size, 0 <= log2 <= 40, 0 <= c0 <= c1 <= out.size, every chunk
    starting before ``end``, T of shape (16, 256)."""
    if lo < 0 or end < lo or end > buf.size or log2 < 0 or log2 > 40:
        return -1
    if c0 < 0 or c1 < c0 or c1 > out.size or T.shape[0] != 16 or T.shape[1] != 256:
        return -1
    size = np.int64(1) << log2
    if c1 > c0 and (c1 - 1) > ((end - lo - 1) >> log2):
        return -1
    for c in range(c0, c1):
        a = lo + c * size
        b = min(a + size, end)
        out[c] = _crc(buf, a, b, T)
    return 0
