"""CRC-32 (the zlib / ISO-HDLC polynomial, as ``zlib.crc32``) of a format-v2 package's data
chunks in one nogil kernel call per slice of chunks.

Why not ``zlib.crc32``: it releases the GIL only inside each call, and a v2 package has one
64 KiB chunk per call, so every ~30 us of work a thread must take the GIL back.  On a host
with many threads (the GPU machine's 16) the hand-offs queue on the GIL and the "parallel"
pass ran at about one thread's speed.  This kernel (slicing-by-16 tables) is slower per
core than zlib's (1.5 vs 2.3 GB/s on this project's 2-core VM) but takes the GIL once per
slice, so it scales with threads; :mod:`codec.package` uses it from CRC_KERNEL_MIN_THREADS
threads and CRC_KERNEL_MIN_CHUNKS chunks a thread on (H200 host, 16 threads: 3.2 vs 7.7 ms
on 580 chunks; slower than zlib on 15-38 chunks).  Same values as ``zlib.crc32`` (tests/test_crc_kernel.py).
"""
from __future__ import annotations

import numpy as np
from numba import njit

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
def _crc(buf, a, b, T):
    """CRC-32 of buf[a:b] (the caller checked 0 <= a <= b <= buf.size)."""
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
