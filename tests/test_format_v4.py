"""Format v4 (docs/FORMAT.md §27-§31): golden vectors, the directory kernel against the Python
parser on valid and damaged directories, every decoder check of §30 with its exact error, the
12-byte footer, one-group tensors without a group table."""
from __future__ import annotations

import dataclasses
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import codec
import codec.format_v2 as v2
import codec.format_v4 as v4
from codec.errors import CodecError
from codec.format import (DEFAULT_LIMITS, DTYPE_CODES, PREAMBLE_SIZE, Limits, _parse_fast_v2,
                          _parse_slow_v2, footer, preamble)
from fuzz.harness import draw_edits, golden_options, golden_vector, sample_packages

V4 = Path(__file__).parent / "vectors" / "v4"
VECTORS = sorted(p.stem for p in V4.glob("*.bin"))
SAMPLES = sample_packages(4)


def vector(name):
    return golden_vector(V4, name)


def options(js):
    return golden_options(js, 4)


def directory_of(data: bytes) -> tuple[bytes, int]:
    """(directory bytes, dir_offset) of a v4 package, located by its 12-byte footer."""
    (ln,) = struct.unpack_from("<I", data, len(data) - 12)
    off = len(data) - 12 - ln
    return data[off:off + ln], off


def slow_or_error(raw, off, limits=DEFAULT_LIMITS):
    try:
        return _parse_slow_v2(raw, off, limits, 4)
    except CodecError as exc:
        return exc


def same(fast, slow) -> None:
    ft, fe, fl, fc = fast
    stb, se, sl, sc = slow
    assert len(ft) == len(stb)
    for a, b in zip(ft, stb):
        assert (a.kref, a.nrun, a.nclass) == (b.kref, b.nrun, b.nclass)
        assert np.array_equal(a.lengths, b.lengths)
    assert fe == se  # dataclass equality: every field of every entry, glen included
    assert fl == sl and np.array_equal(fc, sc)


def test_vectors_exist():
    assert len(VECTORS) == 33


@pytest.mark.parametrize("name", VECTORS)
def test_vector(name):
    js, tensors, data = vector(name)
    assert data[4] == 4 and len(data) == js["bytes"] and data[-4:] == b"GKPS"
    new = codec.pack(tensors, **options(js)) if js.get("chunk_log2", 16) == 16 else None
    if new is not None:  # today's writer: at most as large (its choices may improve)
        assert len(new) <= len(data)
    back = codec.unpack(data)
    assert list(back) == list(tensors)
    for k, v in tensors.items():
        assert back[k].dtype == v.dtype and back[k].shape == v.shape
        assert np.array_equal(back[k], v)
        assert np.array_equal(codec.read_tensor(data, k), v)
    d = codec.Package(data).directory
    assert {e.name: [e.mirror_period, e.mirror_skip] for e in d.tensors
            if e.mirror_period} == js["mirrored"]
    assert [e.name for e in d.tensors if e.glen] == js["one_group_without_table"]
    for e in d.tensors:  # §27: exactly the one-group tensors lose their group table
        assert (e.glen > 0) == (e.n_groups == 1) and (e.group_table_bytes == 0 or e.n_groups > 1)
    raw, off = directory_of(data)
    fast = _parse_fast_v2(raw, off, DEFAULT_LIMITS, 4)
    assert fast is not None
    same(fast, _parse_slow_v2(raw, off, DEFAULT_LIMITS, 4))


def test_vectors_decode_in_the_reference():
    from codec.reference import decoder as ref
    for name in VECTORS:
        js, tensors, data = vector(name)
        got = ref.unpack(data)
        assert list(got) == list(tensors), name
        for k, v in tensors.items():
            assert np.array_equal(np.asarray(got[k]), v), (name, k)


def test_size_against_v3():
    """What v4 saves: the entry, the group table of one-group tensors, 12 footer bytes."""
    js, tensors, data = vector("bn_layers")
    v3 = codec.pack(tensors, **dict(options(js), version=3))
    assert len(data) < len(v3) - 12 - 2 * len(tensors)


@pytest.mark.parametrize("s", SAMPLES, ids=lambda s: s.name)
def test_kernel_equals_python_parser_on_samples(s):
    raw, off = directory_of(s.data)
    fast = _parse_fast_v2(raw, off, DEFAULT_LIMITS, 4)
    assert fast is not None
    same(fast, _parse_slow_v2(raw, off, DEFAULT_LIMITS, 4))
    assert all(np.array_equal(codec.unpack(s.data)[k], v) for k, v in s.arrays.items())


def test_every_bit_flip_of_every_vector_directory_agrees():
    """Deterministic sweep: every bit of the v4 vectors' directories flipped (the smaller
    ones: up to 400 directory bytes); the kernel never accepts what the parser rejects and
    returns the same entries when it accepts."""
    for name in VECTORS:
        raw, off = directory_of(vector(name)[2])
        if len(raw) > 400:
            continue
        for i in range(len(raw)):
            for bit in range(8):
                bad = bytearray(raw)
                bad[i] ^= 1 << bit
                bad = bytes(bad)
                fast = _parse_fast_v2(bad, off, DEFAULT_LIMITS, 4)
                slow = slow_or_error(bad, off)
                if fast is not None:
                    assert not isinstance(slow, Exception), (name, i, bit, slow)
                    same(fast, slow)


@settings(max_examples=300)
@given(st.data())
def test_kernel_never_accepts_what_python_rejects(data):
    sample = data.draw(st.sampled_from(SAMPLES), label="sample")
    raw, off = directory_of(sample.data)
    buf = draw_edits(data, raw)
    off = data.draw(st.sampled_from([off, off - 1, off + 1, 8]), label="dir_off")
    fast = _parse_fast_v2(bytes(buf), off, DEFAULT_LIMITS, 4)
    slow = slow_or_error(bytes(buf), off)
    if fast is not None:
        assert not isinstance(slow, Exception), slow
        same(fast, slow)


def test_truncation_and_bit_flips_whole_package():
    js, tensors, data = vector("bn_layers")
    small = codec.pack({k: tensors[k] for k in list(tensors)[:6]})
    for n in range(len(small)):
        with pytest.raises(codec.CodecError):
            codec.unpack(small[:n])
    rng = np.random.default_rng(11)
    for _ in range(300):
        bad = bytearray(small)
        bad[int(rng.integers(len(bad)))] ^= 1 << int(rng.integers(8))
        try:
            back = codec.unpack(bytes(bad))
        except codec.CodecError:
            continue
        assert all(np.array_equal(back[k], tensors[k]) for k in back)


# ---------------------------------------------------------------------------------------------
# hand-made directories: every check of §30 with its error

def table_pool(n: int) -> bytes:
    """``n`` copies of §22's table (kref 1, nrun 3, nclass 3; EOB 1 bit, symbols 3, 10 two
    bits) as a v4 table pool (§28.1)."""
    from codec.format import Table
    lens = np.zeros(11, np.uint8)
    lens[[0, 3, 10]] = [1, 2, 2]
    out = bytearray()
    v4.write_tables(out, [Table(1, 3, 3, lens)] * n)
    return bytes(out)


TABLE = table_pool(1)
assert TABLE == bytes.fromhex("012d8645b3c0")  # §31's table
NAMES = bytes([1, 1, ord("t"), 1]) + bytes([0x40])  # token "t"; count_bits 1; record "0" "1"


def one_tensor(bits: str, block: bytes, *, params=(0, 0, 0), ntab_bytes=TABLE,
               names=NAMES, tail: bool = True) -> bytes:
    """A v4 package with one tensor named "t": entry record ``bits`` (a '0'/'1' string),
    data area ``block``; without ``tail`` the directory ends with the entry bit string."""
    d = bytearray(ntab_bytes) + bytes([1]) + names + bytes(params[:2])
    v2.put_varint(d, params[2])
    bw = v4.BitWriter()
    for ch in bits.replace(" ", ""):
        bw.put(int(ch), 1)
    d += bw.bytes()
    if tail:
        d.append(16)
        if block:
            d += struct.pack("<I", zlib.crc32(block))
    pre = preamble(version=4)
    return pre + block + bytes(d) + footer(8 + len(block), bytes(d), pre)


# int8, shape (3,): '1' (dtype int8) '0' '011' (nd 2: ndim 1) '011' (dim 3) '11' (whole tensor)
# '000' (no offset, meta, mirror) ... then the glen residual sEG(0)
HEAD = "1 0 011 011 11 000"
# payload of [0, 0, 3]: symbol 10 (run 2, m 3) '11' sign '0', EOB '0': 4 bits -> 0xC0
BLOCK = bytes([0xC0])


def test_hand_made_package_decodes():
    # rate 0: pred 0, glen = 4 = sEG(0) of 4 -> zigzag 8 -> EG0(8): m = 9 = '0001001'
    data = one_tensor(HEAD + " 0001001", BLOCK)
    assert codec.unpack(data)["t"].tolist() == [0, 0, 3]
    e = codec.Package(data).entry("t")
    assert (e.glen, e.block_length, e.group_table_bytes, e.n_groups) == (4, 1, 0, 1)


@pytest.mark.parametrize("bits, block, params, exc, match", [
    (HEAD + " 0001001", BLOCK, (41, 0, 0), codec.CorruptError, "length order 41"),
    (HEAD + " 0001001", BLOCK, (0, 33, 0), codec.CorruptError, "value offset order 33"),
    (HEAD + " 0001001", BLOCK, (0, 0, 4097), codec.CorruptError, "rate"),
    ("0 111" + HEAD[1:] + " 0001001", BLOCK, (0, 0, 0), codec.CorruptError, "dtype code 7"),
    ("1 0 00100 00100 11 000 0001001", BLOCK, (0, 0, 0), codec.CorruptError, "no zero dim"),
    (HEAD + " 1", BLOCK, (0, 0, 0), codec.CorruptError, "cannot fit|group length 0"),
    (HEAD + " 010", BLOCK, (0, 0, 0), codec.CorruptError, "group length -1"),
    (HEAD + " 000010011", BLOCK, (0, 0, 0), codec.CorruptError, "outside the data area"),
    (HEAD + " " + "0" * 60 + "1", BLOCK, (0, 0, 0), codec.CorruptError, "Exp-Golomb prefix"),
    ("1 0 011 011 11 1 00100 0 0 0001001", BLOCK, (0, 0, 0), codec.CorruptError,
     "value offset -2"),  # (in range: decodes with offset -2, below)
])
def test_v4_entry_checks(bits, block, params, exc, match):
    data = one_tensor(bits, block, params=params)
    if match == "value offset -2":  # in range: decodes with offset -2
        assert codec.unpack(data)["t"].tolist() == [-2, -2, 1]
        return
    with pytest.raises(exc, match=match):
        codec.unpack(data)
    with pytest.raises(exc, match=match):
        codec.inspect(data)


def test_entry_bits_past_the_directory():
    with pytest.raises(codec.TruncatedError, match="entry bit string"):
        codec.unpack(one_tensor(HEAD + " 000", BLOCK, tail=False))  # 16 bits, no 1 bit


def test_value_offset_out_of_range():
    # sEG(0) of 200 = EG0(400): m = 401 (9 bits) -> 8 zeros + 9 bits
    bits = "1 0 011 011 11 1 " + "0" * 8 + format(401, "b") + " 00 0001001"
    with pytest.raises(codec.CorruptError, match="value offset 200 outside"):
        codec.unpack(one_tensor(bits, BLOCK))


def test_table_base_and_no_tables():
    two = table_pool(2)  # two tables: tid_w = 1
    data = one_tensor(HEAD + " 0 0001001", BLOCK, ntab_bytes=two)
    assert codec.unpack(data)["t"].tolist() == [0, 0, 3]
    # tid_base 1 names the second (identical) table: still decodes
    assert codec.unpack(one_tensor(HEAD + " 1 0001001", BLOCK, ntab_bytes=two))["t"][2] == 3
    with pytest.raises(codec.CorruptError, match="no tables"):
        codec.unpack(one_tensor(HEAD + " 0001001", BLOCK, ntab_bytes=bytes([0])))


def test_limits_ndim_and_output():
    data = one_tensor(HEAD + " 0001001", BLOCK)
    with pytest.raises(codec.LimitError, match="ndim"):
        codec.unpack(data, limits=Limits(max_ndim=0))
    with pytest.raises(codec.LimitError, match="max_output_bytes"):
        codec.unpack(data, limits=Limits(max_output_bytes=2))


def test_footer_checks():
    data = codec.pack({"w": np.arange(-4, 5, dtype=np.int8)})
    assert data[4] == 4 and struct.unpack_from("<I", data, len(data) - 12)[0] < len(data)
    bad = bytearray(data)
    struct.pack_into("<I", bad, len(bad) - 12, len(data))  # dir_offset < 8
    with pytest.raises(codec.CorruptError, match="does not end at the footer"):
        codec.unpack(bytes(bad))
    bad = bytearray(data)
    bad[-8] ^= 1  # the directory CRC
    with pytest.raises(codec.ChecksumError, match="directory CRC32"):
        codec.unpack(bytes(bad))
    with pytest.raises(codec.TruncatedError):
        codec.unpack(data[:19])


def test_rewritten_directory_round_trip():
    """format_v2.directory_over(version=4) rewrites a v4 directory byte for byte (the tools
    and fuzz harness edit entries through it)."""
    for s in SAMPLES:
        d = codec.Package(s.data).directory
        entries = [dataclasses.replace(e) for e in d.tensors]
        area = s.data[PREAMBLE_SIZE:d.directory_offset]
        raw, _ = directory_of(s.data)
        assert v2.directory_over(d.tables, entries, DTYPE_CODES, area, d.chunk_log2, 4) == raw


def test_writer_parameters_are_the_smallest():
    """§29: len_k and voff_k give the shortest entry bit string; rate is the rounded mean."""
    js, tensors, data = vector("bn_layers")
    d = codec.Package(data).directory
    raw, _ = directory_of(data)
    k, vk, rate = v4.choose_params(d.tensors, DTYPE_CODES, len(d.tables))
    num = sum(e.glen for e in d.tensors if e.glen)
    den = sum(e.numel for e in d.tensors if e.glen)
    assert rate == (64 * num + den // 2) // den
    best = min(v4._records(d.tensors, DTYPE_CODES, len(d.tables), kk, vv, rate, None)
               for kk in range(41) for vv in range(33))
    assert v4._records(d.tensors, DTYPE_CODES, len(d.tables), k, vk, rate, None) == best


# ---------------------------------------------------------------------------------------------
# the table pool (§28.1)

def pool_package(ntab: int, bits: str) -> bytes:
    """A v4 package with no tensors whose table pool is ``ntab`` tables in ``bits``."""
    bw = v4.BitWriter()
    for ch in bits.replace(" ", ""):
        bw.put(int(ch), 1)
    d = bytearray()
    v2.put_varint(d, ntab)
    d += bw.bytes()
    d += bytes([0, 0, 0])        # n_tensors 0; names: n_tokens 0, count_bits 0
    d += bytes([0, 0, 0])        # len_k, voff_k, rate
    d.append(16)                 # chunk_log2; no data area, no chunk CRCs
    pre = preamble(version=4)
    return pre + bytes(d) + footer(8, bytes(d), pre)


# §31's table: kref 1, nrun 3, nclass 3 (nsym 11), mode 0, gk = dk = 0, 3 codes
ALPHA = "001 011 011"
LIST = "0 00 011 00 1 0001 011 011 00111 1"


def test_pool_reads_mode_0_mode_1_and_same_alphabet():
    # table 1: same alphabet, mode 1 (gk 0): counts L1 = 1, L2 = 2, then symbols 0 | 3, 10
    mode1 = "1 1 00 010 011 " + "1 " * 10 + " 1 00100 00111"
    data = pool_package(2, f"{ALPHA} {LIST} {mode1}")
    d = codec.Package(data).directory
    assert len(d.tables) == 2
    for t in d.tables:
        assert (t.kref, t.nrun, t.nclass) == (1, 3, 3)
        assert [(s, int(n)) for s, n in enumerate(t.lengths) if n] == [(0, 1), (3, 2), (10, 2)]
    raw, off = directory_of(data)
    same(_parse_fast_v2(raw, off, DEFAULT_LIMITS, 4), _parse_slow_v2(raw, off, DEFAULT_LIMITS, 4))


@pytest.mark.parametrize("ntab, bits, exc, match", [
    (1, "111 011 011 " + LIST, codec.CorruptError, "kref 7"),
    (1, "001 " + "0" * 12 + "1" + "0" * 11 + "1 011 " + LIST, codec.CorruptError, "nrun 4097"),
    (1, "000 1 00000100001 " + LIST, codec.CorruptError, "nclass 33 > 32"),
    (1, ALPHA + " 0 00 0001100 00 1 0001", codec.CorruptError, "12 codes for 11"),
    (1, ALPHA + " 0 00 011 00 1 0001 011 011 0001000 1", codec.CorruptError, "symbol 11 beyond"),
    (1, ALPHA + " 0 00 011 00 1 0000 011 011 00111 1", codec.CorruptError, "code length 0"),
    (1, ALPHA + " 0 00 011 00 1 1101 011 011 00111 1", codec.CorruptError, "code length 13"),
    (1, ALPHA + " 0 00 011 00 010 0001 010 011 00111 1", codec.CorruptError, "end-of-group"),
    (1, ALPHA + " 0 00 011 00 1 0001 011 1 00111 1", codec.CorruptError, "Kraft"),
    (1, ALPHA + " 1 00 010 010 " + "1 " * 10 + " 1 1", codec.CorruptError, "listed twice"),
    (1, ALPHA + " 1 00 0001101 " + "1 " * 11, codec.CorruptError, "12 codes for 11"),
    (2, ALPHA + " " + LIST + " 1 0 00 0", codec.TruncatedError, "table bit string"),
    (1, ALPHA + " 0 00 " + "0" * 57 + "1", codec.CorruptError, "Exp-Golomb"),
])
def test_pool_checks(ntab, bits, exc, match):
    data = pool_package(ntab, bits)
    with pytest.raises(exc, match=match):
        codec.unpack(data)
    with pytest.raises(exc, match=match):
        codec.inspect(data)
    raw, off = directory_of(data)
    assert _parse_fast_v2(raw, off, DEFAULT_LIMITS, 4) is None


def test_pool_limits():
    data = pool_package(1, f"{ALPHA} {LIST}")
    assert len(codec.Package(data).directory.tables) == 1
    with pytest.raises(codec.LimitError, match="table count"):
        codec.unpack(data, limits=Limits(max_tables=0))
    with pytest.raises(codec.LimitError, match="max_table_symbols"):
        codec.unpack(data, limits=Limits(max_table_symbols=10))


def test_table_fields_need_codes_of_1_to_12_bits():
    """The table writer (kernels/pool_v4.py) refuses a table it could not write validly: no
    code at all (a reader requires the end symbol's) or a code longer than 12 bits."""
    from codec.format import Table
    ok = Table(0, 1, 1, np.array([1, 2, 2], np.uint8))
    vals, widths = v4._table_vals(ok, False)
    assert int(widths.sum()) == v4._table_best(ok, False)[0]
    for lengths in ([0, 0, 0], [1, 13, 2]):
        bad = Table(0, 1, 1, np.array(lengths, np.uint8))
        for fn in (v4._table_vals, v4._table_best):
            with pytest.raises(ValueError, match="codes of 1 to 12 bits"):
                fn(bad, False)


def test_pool_modes_in_real_tables():
    """Both list modes occur in real packages (the writer takes the shorter per table)."""
    modes = set()
    for name in VECTORS:
        raw, _ = directory_of(vector(name)[2])
        d = codec.Package(vector(name)[2]).directory
        for i, t in enumerate(d.tables):
            same_ = i > 0 and (t.kref, t.nrun, t.nclass) == (d.tables[i - 1].kref,
                                                             d.tables[i - 1].nrun,
                                                             d.tables[i - 1].nclass)
            modes.add(v4._table_cost(t, same_)[0])
    assert modes == {0, 1}
