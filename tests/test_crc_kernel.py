"""codec.kernels.crc: the chunk CRC-32 kernel equals zlib.crc32 and rejects arguments that do
not fit (read_all's use of it: tests/test_format_v2.py, crc_kernel=True)."""
from __future__ import annotations

import zlib

import numpy as np
import pytest
from hypothesis import given, strategies as st

import codec
from codec import package
from codec.kernels.crc import CRC_TABLES, crc_chunks, crc_shift_tables

I = np.int64


def _zlib_chunks(buf, lo, end, log2):
    size = 1 << log2
    return [zlib.crc32(buf[a:min(a + size, end)]) for a in range(lo, end, size)]


@given(data=st.binary(max_size=3000), lo=st.integers(0, 40), log2=st.integers(0, 12),
       cut=st.integers(0, 40))
def test_chunks_equal_zlib(data, lo, log2, cut):
    buf = np.frombuffer(data, np.uint8)
    lo = min(lo, buf.size)
    end = max(lo, buf.size - cut)
    want = _zlib_chunks(buf, lo, end, log2)
    out = np.zeros(len(want) + 1, np.uint32)
    assert crc_chunks(buf, I(lo), I(end), I(log2), I(0), I(len(want)), out, CRC_TABLES) == 0
    assert out[:len(want)].tolist() == want and out[len(want)] == 0


def test_a_slice_of_chunks_and_every_tail_length():
    rng = np.random.default_rng(3)
    buf = rng.integers(0, 256, 70_000).astype(np.uint8)
    for end in (8, 9, 23, 24, 25, 64 + 8, 1000, 70_000):
        want = _zlib_chunks(buf, 8, end, 6)
        out = np.zeros(len(want), np.uint32)
        c0, c1 = len(want) // 3, len(want)
        assert crc_chunks(buf, I(8), I(end), I(6), I(c0), I(c1), out, CRC_TABLES) == 0
        assert out[:c0].tolist() == [0] * c0 and out[c0:].tolist() == want[c0:]


@pytest.mark.parametrize("args", [
    (-1, 100, 6, 0, 1, 4),        # lo < 0
    (50, 40, 6, 0, 1, 4),         # end < lo
    (0, 101, 6, 0, 1, 4),         # end past the buffer
    (0, 100, -1, 0, 1, 4),        # log2 < 0
    (0, 100, 41, 0, 1, 4),        # log2 too big
    (0, 100, 6, -1, 1, 4),        # c0 < 0
    (0, 100, 6, 2, 1, 4),         # c1 < c0
    (0, 100, 6, 0, 5, 4),         # c1 past out
    (0, 100, 6, 0, 3, 4),         # chunk 2 starts at 128 >= end
    (10, 10, 6, 0, 1, 4),         # no data, one chunk asked for
])
def test_rejects_arguments_that_do_not_fit(args):
    buf = np.arange(100, dtype=np.uint8)
    lo, end, log2, c0, c1, nout = args
    out = np.zeros(nout, np.uint32)
    assert crc_chunks(buf, I(lo), I(end), I(log2), I(c0), I(c1), out, CRC_TABLES) == -1
    assert not out.any()
    assert crc_chunks(buf, I(0), I(100), I(6), I(0), I(2), out, np.zeros((8, 256), np.uint32)) \
        == -1


def test_package_chunk_pass_with_the_kernel(monkeypatch):
    """A whole v2 package's chunk pass (Package._chunk_jobs) with the kernel: all chunks
    found good and remembered; a damaged chunk fails the pass, and unpack names the tensor
    as with zlib.crc32."""
    monkeypatch.setattr(package, "workers", lambda: 1)
    rng = np.random.default_rng(5)
    t = {f"w{i}": rng.integers(-127, 128, size=(64, 1024)).astype(np.int8) for i in range(8)}
    data = codec.pack(t, effort=0)
    assert len(data) > package.CRC_OVERLAP_MIN_BYTES
    results = {}
    for kernel in (True, False):
        monkeypatch.setattr(package, "CRC_KERNEL_MIN_THREADS", 1 if kernel else 1 << 30)
        monkeypatch.setattr(package, "CRC_KERNEL_MIN_CHUNKS", 0)
        p = codec.Package(data)
        jobs, done = p._chunk_jobs()
        for _, job in jobs[::2]:
            job()
        assert done() and p._chunk_ok == set(range(len(p.directory.chunk_crcs)))
        bad = bytearray(data)
        bad[len(data) // 3] ^= 0x20
        p = codec.Package(bytes(bad))
        assert not p._chunk_jobs()[1]()
        with pytest.raises(codec.ChecksumError) as exc:
            codec.unpack(bytes(bad))
        results[kernel] = (str(exc.value), exc.value.offset, exc.value.value)
    assert results[True] == results[False]


def _register(data: bytes, r: int) -> int:
    """The reflected CRC-32 register after ``data`` from register r (no inversions)."""
    t = CRC_TABLES[0]
    for b in data:
        r = int(t[(r ^ b) & 0xFF]) ^ (r >> 8)
    return r


@pytest.mark.parametrize("log2n", [0, 1, 3, 6])
def test_shift_tables_fold_sub_slices_into_the_crc(log2n):
    """codec.cuda's crc_chunks kernel folds sub-slice registers with crc_shift_tables: the
    fold of registers computed from zero equals zlib.crc32 of the whole (CPU check of the
    algebra; the kernel itself: tests/test_cuda_sim.py device_chunk_crcs)."""
    M = crc_shift_tables(log2n)
    S = 1 << log2n
    rng = np.random.default_rng(log2n)
    data = rng.integers(0, 256, 5 * S + S // 2 + 1).astype(np.uint8).tobytes()
    R = 0xFFFFFFFF
    for j in range(0, len(data), S):
        part = data[j:j + S]
        if len(part) == S:
            R = (int(M[0][R & 255]) ^ int(M[1][(R >> 8) & 255]) ^ int(M[2][(R >> 16) & 255])
                 ^ int(M[3][R >> 24])) ^ _register(part, 0)
        else:
            R = _register(part, R)
    assert R ^ 0xFFFFFFFF == zlib.crc32(data)


# --- the folding kernel (carry-less multiplication) and the slicing one, each on its own ----

from codec.kernels.crc import crc_fold, crc_range, crc_slices  # noqa: E402
from codec.kernels.intrinsics import HAS_CLMUL  # noqa: E402
from numba import config as _numba_config  # noqa: E402
from numba import njit  # noqa: E402


def _kernel_of(fn):
    """A callable kernel around an inline CRC helper (as crc_range calls it)."""
    @njit(nogil=True)
    def k(buf, a, b, T):
        return np.int64(fn(buf, a, b, T))
    return k


def _check_kernel(k):
    rng = np.random.default_rng(11)
    buf = rng.integers(0, 256, 70_000).astype(np.uint8)
    for n in list(range(0, 200)) + [255, 256, 257, 1023, 4096 + 15, 65_536, 69_990]:
        for a in (0, 1, 7):
            assert k(buf, I(a), I(a + n), CRC_TABLES) == zlib.crc32(buf[a:a + n]), (n, a)
    ones = np.full(5000, 255, np.uint8)  # every bit set: the fold's carries
    assert k(ones, I(0), I(5000), CRC_TABLES) == zlib.crc32(ones)


def test_slicing_kernel_equals_zlib():
    _check_kernel(_kernel_of(crc_slices))


@pytest.mark.skipif(not HAS_CLMUL and not _numba_config.DISABLE_JIT,
                    reason="no PCLMULQDQ on this host: crc_slices serves (tested above)")
@pytest.mark.skipif(_numba_config.DISABLE_JIT, reason="LLVM intrinsic: compiled kernels only")
def test_folding_kernel_equals_zlib():
    _check_kernel(_kernel_of(crc_fold))


@given(data=st.binary(max_size=5000), a=st.integers(0, 70))
def test_range_kernel_equals_zlib(data, a):
    buf = np.frombuffer(data, np.uint8)
    a = min(a, buf.size)
    assert crc_range(buf, I(a), I(buf.size), CRC_TABLES) == zlib.crc32(buf[a:])


@pytest.mark.parametrize("a, b", [(-1, 3), (4, 3), (0, 11)])
def test_range_rejects_bad_bounds(a, b):
    assert crc_range(np.zeros(10, np.uint8), I(a), I(b), CRC_TABLES) == -1
    assert crc_range(np.zeros(10, np.uint8), I(0), I(5), CRC_TABLES[:8]) == -1


def test_chunk_crc_uses_the_same_values():
    """format_v2.chunk_crc (the kernel where the host has it) against zlib on a package."""
    from codec.format_v2 import chunk_crc
    rng = np.random.default_rng(12)
    data = codec.pack({"w": rng.integers(-100, 100, 300_000).astype(np.int8)})
    buf = np.frombuffer(data, np.uint8)
    d = codec.format.read_directory(buf)
    for c in range(len(d.chunk_crcs)):
        lo, hi, crc = chunk_crc(buf, c, d.chunk_log2, d.directory_offset)
        assert crc == zlib.crc32(buf[lo:hi]) == int(d.chunk_crcs[c])
        assert chunk_crc(data, c, d.chunk_log2, d.directory_offset)[2] == crc  # bytes: zlib
