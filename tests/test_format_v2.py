"""Format v2 directory checks (docs/FORMAT.md §20), one hand-built package per check: the exact
CodecError class and byte offset from ``codec``, the same class from the reference reader, and
the directory kernel declining.  Plus chunk CRCs (§19) and the v2 names bomb."""
from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest

import codec
from codec import reference as ref
from codec._bytes import put_svarint, put_varint
from codec.format import DEFAULT_LIMITS, Limits, _parse_fast_v2
from codec.kernels.parallel import workers as parallel_workers

PRE = b"SPKG\x02\x00\x00\x00"
# one table: kref 0, nrun 1, nclass 1 (symbols EOB, ESC, value +-1), EOB = "0", +-1 = "1"
TABLE = bytes([0, 1, 1, 1] + [0] * 11) + bytes([0b10100000])  # L=1: gamma(1) "1", gamma(2) "010"


def varint(v: int) -> bytes:
    b = bytearray()
    put_varint(b, v)
    return bytes(b)


def svarint(v: int) -> bytes:
    b = bytearray()
    put_svarint(b, v)
    return bytes(b)


def bits(fields) -> bytes:
    """[(value, width)] MSB first, zero-padded to a byte."""
    s = "".join(format(v, f"0{w}b") if w else "" for v, w in fields)
    s += "0" * (-len(s) % 8)
    return bytes(int(s[i:i + 8], 2) for i in range(0, len(s), 8))


def names(tokens, records, cw=None, id_bits=None) -> bytes:
    """Names section: dictionary, count_bits, records [(shared, [ids])]."""
    out = varint(len(tokens)) + b"".join(varint(len(t)) + t for t in tokens)
    if id_bits is None:
        id_bits = (len(tokens) - 1).bit_length() if len(tokens) > 1 else 0
    if cw is None:
        cw = max([0] + [max(s, len(f)) for s, f in records]).bit_length()
    fields = []
    for shared, ids in records:
        fields += [(shared, cw), (len(ids), cw)] + [(i, id_bits) for i in ids]
    return out + bytes([cw]) + bits(fields)


def entry(flags=0x19, dims=(2,), extra=b"", voff=None, blen=2, mlen=None, tid=0,
          widths=1) -> bytes:
    """Default: int8, group code 3 (one group), shape (2,), block of 2 bytes (1-byte group table
    + 1-byte payload), tid_delta 0, len_bits 1."""
    out = bytes([flags]) + varint(len(dims)) + b"".join(varint(d) for d in dims) + extra
    if voff is not None:
        out += svarint(voff)
    out += varint(blen)
    if mlen is not None:
        out += varint(mlen)
    if tid is not None:
        out += svarint(tid) + varint(widths)
    return out


BLOCK = bytes([0x80, 0x00])  # group table: len 1 ("1"); payload: EOB "0"


def package(entries=(entry(),), nms=None, data=BLOCK, tables=TABLE, ntab=1, log2=16,
            crcs=None, tail=b"") -> tuple[bytes, dict]:
    """A v2 package and the absolute offsets of its directory sections."""
    if nms is None:
        nms = names([b"t"], [(0, [0])] + [(0, [0])] * 0)
        if len(entries) > 1:
            toks = [f"t{i}".encode() for i in range(len(entries))]
            nms = names(toks, [(0, [i]) for i in range(len(entries))])
    dir_off = len(PRE) + len(data)
    d = varint(ntab) + tables + varint(len(entries))
    at = {"names": dir_off + len(d)}
    d += nms
    at["entries"] = dir_off + len(d)
    d += b"".join(entries)
    at["chunks"] = dir_off + len(d)
    if crcs is None:
        size = 1 << log2
        crcs = [zlib.crc32(data[i:i + size]) for i in range(0, len(data), size)]
    d += bytes([log2]) + b"".join(struct.pack("<I", c) for c in crcs) + tail
    foot = struct.pack("<QQI", dir_off, len(d), zlib.crc32(PRE + d)) + b"GKPS"
    return PRE + data + d + foot, at


def test_builder_makes_a_valid_package():
    data, _ = package()
    assert codec.unpack(data)["t"].tolist() == [0, 0]
    assert ref.unpack(data)["t"].tolist() == [0, 0]
    two, _ = package(entries=[entry(), entry()], data=BLOCK * 2)
    assert list(codec.unpack(two)) == ["t0", "t1"]


def expect(data: bytes, cls, offset=None, limits=DEFAULT_LIMITS, match=None):
    """codec raises exactly ``cls`` (at ``offset``), the reference raises ``cls``, the kernel
    declines."""
    with pytest.raises(codec.CodecError) as ei:
        codec.Package(data, limits=limits)
    assert type(ei.value) is cls, ei.value
    assert ei.value.offset is not None and 0 <= ei.value.offset <= len(data)
    if offset is not None:
        assert ei.value.offset == offset, ei.value
    if match:
        assert match in str(ei.value)
    rl = ref.RefLimits(**{k: getattr(limits, k) for k in ref.RefLimits.__dataclass_fields__
                          if hasattr(limits, k)})
    with pytest.raises(codec.CodecError) as er:
        ref.read_package(data, limits=rl, decode=False)
    assert type(er.value) is cls, er.value
    off, ln = struct.unpack_from("<QQ", data, len(data) - 24)
    assert _parse_fast_v2(data[off:off + ln], off, limits) is None


# --- names (N1-N5, E2, E2b, E3) -----------------------------------------------------------------

def test_n1_token_count_limit():
    data, at = package(nms=names([b"a", b"b", b"c"], [(0, [0])]))
    expect(data, codec.LimitError, at["names"], limits=Limits(max_names_bytes=2))


def test_n2_empty_token_and_long_token():
    data, at = package(nms=varint(2) + varint(1) + b"t" + varint(0) + bytes([1]) + bits([(0, 1)]))
    expect(data, codec.CorruptError, at["names"] + 3)
    data, at = package(nms=names([b"abcd"], [(0, [0])]))
    expect(data, codec.LimitError, at["names"] + 1, limits=Limits(max_name_bytes=3))


def test_n3_count_bits():
    nm = names([b"t"], [(0, [0])])
    data, at = package(nms=nm[:3] + bytes([33]) + b"\0" * 9)
    expect(data, codec.CorruptError, at["names"] + 3)


def test_n4_shared_beyond_previous_name():
    data, at = package(entries=[entry(), entry()], data=BLOCK * 2,
                       nms=names([b"a", b"b"], [(0, [0]), (2, [1])]))
    expect(data, codec.CorruptError, match="shares 2 tokens")


def test_n5_token_id_out_of_range():
    data, _ = package(nms=names([b"a", b"b", b"c"], [(0, [3])]))
    expect(data, codec.CorruptError, match="token id 3")
    # no tokens at all: id_bits = 0 and id 0 does not exist
    data, _ = package(nms=names([], [(0, [0])]))
    expect(data, codec.CorruptError, match="token id 0")


def test_e2_name_built_from_tokens_too_long():
    data, _ = package(nms=names([b"ab"], [(0, [0, 0, 0])]))
    expect(data, codec.LimitError, limits=Limits(max_name_bytes=5), match="max_name_bytes")
    ok, _ = package(nms=names([b"ab"], [(0, [0, 0, 0])]))
    assert list(codec.Package(ok, limits=Limits(max_name_bytes=6)).names) == ["ababab"]


def test_e2_zero_width_ids_stop_at_the_name_limit():
    """One token, id_bits = 0: a 32-bit fresh count costs 64 bits but the loop stops at the
    name limit (tokens are non-empty)."""
    nm = varint(1) + varint(1) + b"a" + bytes([32]) + bits([(0, 32), ((1 << 32) - 1, 32)])
    data, _ = package(nms=nm)
    expect(data, codec.LimitError, match="max_name_bytes")


def test_e2b_names_bomb():
    """2,000 names of 60,001 bytes each from a few bits apiece: LimitError on the names total,
    before any entry is read."""
    n = 2000
    toks = [b"A" * 60000] + [b"%04x" % i for i in range(n)]
    nm = names(toks, [(0, [0, i + 1]) for i in range(n)])
    assert len(nm) < 80_000
    data, _ = package(entries=[entry()] * n, data=BLOCK * n, nms=nm)
    expect(data, codec.LimitError, match="max_names_bytes")
    small = names(toks[:21], [(0, [0, i + 1]) for i in range(20)])
    ok, _ = package(entries=[entry()] * 20, data=BLOCK * 20, nms=small)
    assert len(codec.unpack(ok)) == 20


def test_e3_names_utf8_and_unique():
    data, _ = package(nms=names([b"\xff"], [(0, [0])]))
    expect(data, codec.CorruptError, match="UTF-8")
    data, _ = package(entries=[entry(), entry()], data=BLOCK * 2,
                      nms=names([b"a"], [(0, [0]), (1, [])]))
    expect(data, codec.CorruptError, match="duplicate")


def test_names_truncated():
    """The name records run past the directory end (nothing delimits them but the directory)."""
    d = varint(0) + varint(1) + varint(1) + varint(1) + b"a" + bytes([32]) + b"\0\0"
    data = PRE + d + struct.pack("<QQI", 8, len(d), zlib.crc32(PRE + d)) + b"GKPS"
    expect(data, codec.TruncatedError, 8 + 6)  # where the record starts


# --- entries (E4-E16, D4) -------------------------------------------------------------------------

def test_e4_dtype_and_reserved_flag():
    data, at = package(entries=[entry(flags=0x18)])
    expect(data, codec.CorruptError, at["entries"], match="dtype code 0")
    data, at = package(entries=[entry(flags=0x99)])
    expect(data, codec.CorruptError, at["entries"], match="reserved")


def test_e5_e6_e7_shape():
    data, _ = package(entries=[entry(dims=(2,) * 3)])
    expect(data, codec.LimitError, limits=Limits(max_ndim=2))
    data, _ = package(entries=[entry(dims=((1 << 48) + 1,))])
    expect(data, codec.CorruptError)
    data, _ = package(entries=[entry(dims=(1 << 40,))])
    expect(data, codec.LimitError, match="max_output_bytes")


def test_e8_group_codes():
    data, at = package(entries=[entry(flags=0x01, extra=varint(0))])
    expect(data, codec.CorruptError, at["entries"] + 3, match="group size 0")
    data, at = package(entries=[entry(flags=0x11, extra=varint(0))])
    expect(data, codec.CorruptError, at["entries"] + 3)
    big = entry(flags=0x11, dims=(2, 1 << 30), extra=varint(1 << 19), blen=2)
    data, at = package(entries=[big])
    expect(data, codec.CorruptError, at["entries"] + 3 + len(varint(1 << 30)))
    # the implicit sizes: kernel (code 1) = prod(dims[1:]), kernels (2) = k * that
    ok, _ = package(entries=[entry(flags=0x09, dims=(2, 1), blen=2, widths=1)],
                    data=bytes([0xC0, 0x00]))
    e = codec.Package(ok).entry("t")
    assert (e.group_mode, e.group_size, e.n_groups) == ("kernel", 1, 2)
    ok, _ = package(entries=[entry(flags=0x11, dims=(4, 1), extra=varint(2), blen=2)],
                    data=bytes([0xC0, 0x00]))
    e = codec.Package(ok).entry("t")
    assert (e.group_mode, e.group_size, e.n_groups) == ("kernels", 2, 2)
    assert codec.unpack(ok)["t"].tolist() == [[0]] * 4


def test_e9_value_offset_range():
    data, _ = package(entries=[entry(flags=0x39, voff=128)])
    expect(data, codec.CorruptError, match="value offset")
    ok, _ = package(entries=[entry(flags=0x39, voff=-128)])
    assert codec.unpack(ok)["t"].tolist() == [-128, -128]


def test_e10_block_outside_data_area():
    data, at = package(entries=[entry(blen=3)])
    expect(data, codec.CorruptError, match="outside the data area")


def test_e11_meta_length_and_table_base():
    data, _ = package(entries=[entry(flags=0x59, mlen=3)])
    expect(data, codec.CorruptError, match="meta length")
    data, _ = package(entries=[entry(tid=1)])
    expect(data, codec.CorruptError, match="table base 1")
    data, _ = package(entries=[entry(tid=-1)])
    expect(data, codec.CorruptError, match="table base -1")


def test_e12_widths():
    data, _ = package(entries=[entry(widths=12 * 64 + 57)])
    expect(data, codec.CorruptError)
    data, _ = package(entries=[entry(widths=57)])
    expect(data, codec.CorruptError, match="length width 57")


def test_e13_to_e16_as_v1():
    data, _ = package(entries=[entry()], ntab=0, tables=b"")
    expect(data, codec.CorruptError, match="no tables")
    data, _ = package(entries=[entry(widths=0)])
    expect(data, codec.CorruptError, match="cannot hold")
    data, _ = package(entries=[entry(dims=(0,), tid=None)], data=BLOCK)
    expect(data, codec.CorruptError, match="no elements")
    data, _ = package(entries=[entry(dims=(9,), blen=2, widths=1, flags=0x01, extra=varint(1))])
    expect(data, codec.CorruptError, match="groups cannot fit")


def test_empty_tensor_has_no_table_fields():
    ok, _ = package(entries=[entry(dims=(0, 3), blen=0, tid=None)], data=b"", ntab=0,
                    tables=b"")
    assert codec.unpack(ok)["t"].shape == (0, 3)
    assert ref.unpack(ok)["t"].shape == (0, 3)


def test_d4_blocks_must_fill_the_data_area():
    data, _ = package(data=BLOCK + b"\0")
    expect(data, codec.CorruptError, match="blocks end at 10")
    data, _ = package(entries=[], data=b"", nms=names([], []))
    assert codec.unpack(data) == {}


def test_c1_c2_d3_chunk_section():
    for log2 in (5, 32):
        data, at = package(log2=log2, crcs=[0])
        expect(data, codec.CorruptError, at["chunks"], match="chunk size")
    data, at = package(crcs=[])
    expect(data, codec.TruncatedError, at["chunks"] + 1)
    data, _ = package(tail=b"\0")
    expect(data, codec.CorruptError, match="stray")


# --- chunk CRCs (B1v2) ------------------------------------------------------------------------------

def test_chunk_crcs_fail_only_the_tensors_in_the_bad_chunk():
    n = 40
    toks = [f"t{i}".encode() for i in range(n)]
    blocks = BLOCK * n                                  # 80 bytes: chunks [8, 72), [72, 88)
    data, _ = package(entries=[entry()] * n, data=blocks,
                      nms=names(toks, [(0, [i]) for i in range(n)]), log2=6)
    assert len(codec.Package(data).directory.chunk_crcs) == 2
    bad = bytearray(data)
    bad[8 + 2 * 35 + 1] ^= 0x01                         # tensor 35's payload, in chunk 1
    bad = bytes(bad)
    p = codec.Package(bad)
    for i in range(n):
        if 8 + 2 * i >= 72:                             # blocks in chunk 1: t32 .. t39
            with pytest.raises(codec.ChecksumError) as ei:
                p.read(f"t{i}")
            assert ei.value.offset == 72 and "chunk 1" in str(ei.value)
        else:
            assert p.read(f"t{i}").tolist() == [0, 0]
    # the flipped bit is payload padding: without the chunk CRC nothing would notice
    assert codec.Package(bad, verify=False).read("t35").tolist() == [0, 0]
    with pytest.raises(codec.ChecksumError):
        ref.unpack(bad)
    with pytest.raises(codec.ChecksumError):
        codec.unpack(bad)


def test_block_straddling_two_chunks_checks_both():
    n = 33
    toks = [f"t{i}".encode() for i in range(n)]
    # t31: 24 one-value groups (count 1), each a 1-bit EOB: group table 3 bytes of "1" bits,
    # payload 3 zero bytes; its block [70, 76) straddles chunks [8, 72) and [72, 78)
    wide = [entry()] * 31 + [entry(flags=0x01, dims=(24,), extra=varint(1), blen=6,
                                   widths=1), entry()]
    data = BLOCK * 31 + b"\xff\xff\xff\x00\x00\x00" + BLOCK
    pkg, _ = package(entries=wide, data=data, nms=names(toks, [(0, [i]) for i in range(n)]),
                     log2=6)
    assert codec.unpack(pkg)["t31"].tolist() == [0] * 24
    e = codec.Package(pkg).entry("t31")
    assert (e.block_offset, e.block_length) == (70, 6)
    for pos, chunk in ((77, 1), (60, 0)):               # t32's payload / t25's block
        bad = bytearray(pkg)
        bad[pos] ^= 0x04
        p = codec.Package(bytes(bad))
        with pytest.raises(codec.ChecksumError, match=f"chunk {chunk}"):
            p.read("t31")
        other = "t30" if chunk else "t32"
        assert p.read(other).tolist() == [0, 0]


def test_flags_and_versions_in_the_preamble():
    data, _ = package()
    with pytest.raises(codec.UnsupportedError):
        codec.unpack(data[:5] + b"\x01" + data[6:])
    with pytest.raises(codec.UnsupportedError):
        codec.unpack(data[:4] + bytes([codec.LATEST_VERSION + 1]) + data[5:])
    # a v2 directory read as v1 (version byte changed, CRC repaired) is rejected, not misread
    v1 = bytearray(data[:4] + b"\x01" + data[5:])
    off, ln = struct.unpack_from("<QQ", v1, len(v1) - 24)
    struct.pack_into("<I", v1, len(v1) - 8, zlib.crc32(bytes(v1[:8]) + bytes(v1[off:off + ln])))
    with pytest.raises(codec.CodecError):
        codec.unpack(bytes(v1))


def test_e8_implicit_group_size_bounded_and_e7b_empty_shapes():
    """Found by the forged-v2 fuzzer: an empty tensor (0, 2^31, 2^48) in kernel mode has
    K = 2^79 (E8), and in any mode numpy cannot make an array of its shape (E7b, a reader
    limit in both versions; it crashed v1's read_all with a ValueError before)."""
    huge = entry(flags=0x09, dims=(0, 1 << 31, 1 << 48), blen=0, tid=None)
    data, at = package(entries=[huge], data=b"", ntab=0, tables=b"")
    expect(data, codec.CorruptError, at["entries"], match="group size")
    huge = entry(flags=0x19, dims=(0, 1 << 31, 1 << 48), blen=0, tid=None)
    data, _ = package(entries=[huge], data=b"", ntab=0, tables=b"")
    expect(data, codec.LimitError, match="empty shape")
    ok = Limits(max_output_bytes=1 << 80)
    assert codec.Package(data, limits=ok).entry("t").shape == (0, 1 << 31, 1 << 48)
    from codec.format import read_directory, write_directory, footer
    v1 = codec.pack({"t": np.zeros((0, 3), np.int8)}, version=1)
    d = read_directory(np.frombuffer(v1, np.uint8))
    d.tensors[0].shape = (0, 1 << 31, 1 << 48)
    d.tensors[0].group_size = 1
    w = write_directory(d.tables, d.tensors)
    bad = v1[:d.directory_offset] + w + footer(d.directory_offset, w, v1[:8])
    for fn in (codec.unpack, codec.inspect, ref.unpack):
        with pytest.raises(codec.LimitError):
            fn(bad)


def test_read_all_chunk_pass_names_first_tensor_over_bad_chunk(monkeypatch):
    """read_all checks every chunk once when all tensors are wanted; a bad chunk then fails with
    the error the per-tensor checks give: the first tensor (package order) over that chunk."""
    from codec import format_v2
    monkeypatch.setattr(format_v2, "DEFAULT_CHUNK_LOG2", 6)  # 64-byte chunks: many per package
    rng = np.random.default_rng(8)
    arrays = {f"layer{i}.weight": rng.integers(-60, 60, size=(3, 40 + 17 * i)).astype(np.int8)
              for i in range(6)}
    data = codec.pack(arrays, version=2)
    pkg = codec.Package(data)
    d = pkg.directory
    assert d.version == 2 and d.chunk_log2 == 6 and len(d.chunk_crcs) > 6
    out = pkg.read_all()
    assert all(np.array_equal(out[k], v) for k, v in arrays.items())
    assert pkg._chunk_ok == set(range(len(d.chunk_crcs)))  # the one-pass check ran
    for c in range(len(d.chunk_crcs)):
        lo = 8 + (c << 6)
        bad = bytearray(data)
        bad[lo] ^= 0x40
        first = next(e for e in d.tensors if e.block_length and
                     e.block_offset <= lo + 63 and e.block_offset + e.block_length > lo)
        with pytest.raises(codec.ChecksumError) as exc:
            codec.unpack(bytes(bad))
        assert exc.value.value == first.name and f"data chunk {c} " in str(exc.value)
        assert exc.value.offset == lo


@pytest.mark.parametrize("crc_kernel", [False, True])
def test_read_all_overlapped_chunk_pass_same_errors(monkeypatch, crc_kernel):
    """With the chunk pass among a parallel decode's jobs (package.CRC_OVERLAP_MIN_BYTES),
    read_all raises exactly the error of checking first: a bad chunk's ChecksumError before
    any decode error; with the chunk CRC mended, the decode's own error.  ``crc_kernel``:
    the pass as kernels/crc.py's kernel (hosts of >= CRC_KERNEL_MIN_THREADS threads) instead
    of zlib.crc32; one pool thread is enough for the jobs to exist."""
    import codec.package as package
    from codec import format_v2
    monkeypatch.setattr(format_v2, "DEFAULT_CHUNK_LOG2", 6)
    monkeypatch.setattr(package, "CRC_KERNEL_MIN_THREADS", 1 if crc_kernel else 1 << 30)
    monkeypatch.setattr(package, "CRC_KERNEL_MIN_CHUNKS", 0)
    monkeypatch.setattr(package, "workers", lambda: max(1, parallel_workers()))
    rng = np.random.default_rng(9)
    arrays = {f"layer{i}.weight": rng.integers(-60, 60, size=(3, 40 + 17 * i)).astype(np.int8)
              for i in range(6)}
    data = codec.pack(arrays, version=2)
    d = codec.Package(data).directory
    n = len(data)

    def outcome(buf, overlapped):
        monkeypatch.setattr(package, "CRC_OVERLAP_MIN_BYTES", 0 if overlapped else 1 << 62)
        monkeypatch.setattr(package, "PAR_MIN_WORK", 0 if overlapped else 1 << 20)
        try:
            return "ok", [v.tobytes() for v in codec.unpack(buf).values()]
        except codec.CodecError as exc:
            return type(exc).__name__, str(exc), exc.offset, exc.value

    def mend(buf, c):  # the chunk CRC, then the footer's directory CRC, over the damage
        lo = 8 + (c << 6)
        struct.pack_into("<I", buf, n - 24 - 4 * len(d.chunk_crcs) + 4 * c,
                         zlib.crc32(bytes(buf[lo:min(lo + 64, d.directory_offset)])))
        struct.pack_into("<I", buf, n - 8, zlib.crc32(bytes(buf[d.directory_offset:n - 24]),
                                                      zlib.crc32(bytes(buf[:8]))))
        return buf

    assert outcome(data, True) == outcome(data, False) and outcome(data, True)[0] == "ok"
    kinds = set()
    for c in range(len(d.chunk_crcs)):
        for flip in (0x40, 0xff):
            bad = bytearray(data)
            bad[8 + (c << 6)] ^= flip
            got = outcome(bytes(bad), True)
            assert got == outcome(bytes(bad), False) and got[0] == "ChecksumError"
            mended = bytes(mend(bad, c))
            got = outcome(mended, True)
            assert got == outcome(mended, False)
            kinds.add(got[0])
    assert "CorruptError" in kinds  # some damage reaches the decoder
    for at in range(d.directory_offset, d.directory_offset + 48):  # the tables, footer mended
        for flip in (0x01, 0x10, 0x80):
            bad = bytearray(data)
            bad[at] ^= flip
            struct.pack_into("<I", bad, n - 8, zlib.crc32(bytes(bad[d.directory_offset:n - 24]),
                                                          zlib.crc32(bytes(bad[:8]))))
            assert outcome(bytes(bad), True) == outcome(bytes(bad), False)
