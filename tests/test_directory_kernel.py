"""The v1 directory kernel (codec/kernels/directory.py) against the Python parser it speeds up
(v2: tests/test_directory_kernel_v2.py).

Contract: whatever the bytes, the kernel either declines (then the Python parser decides and
names the problem) or returns exactly what the Python parser returns.  The decode tables it
builds equal a per-symbol construction written out here.
"""
from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import codec
from codec._bytes import put_svarint, put_varint
from codec.errors import CodecError, LimitError
from codec.format import (DEFAULT_LIMITS, FOOTER_SIZE, Limits, Table, _parse_fast, _parse_slow,
                          preamble, footer)
from codec.huffman import LUT_BITS, canonical_codes
from codec.kernels.directory import build_luts
from codec.kernels.symbols import SYM_FIRST, class_base
from codec.package import LUT_PAR_MIN_TABLES, _decode_luts, _luts_of
from fuzz.harness import draw_edits, sample_packages

SAMPLES = sample_packages(1)


def directory_of(data: bytes) -> tuple[bytes, int]:
    off, ln = struct.unpack_from("<QQ", data, len(data) - FOOTER_SIZE)
    return data[off:off + ln], off


def slow_or_error(raw, off, limits=DEFAULT_LIMITS):
    try:
        return _parse_slow(raw, off, limits)
    except CodecError as exc:
        return exc


def same(fast, slow) -> None:
    ft, fe = fast
    stb, se = slow
    assert len(ft) == len(stb)
    for a, b in zip(ft, stb):
        assert (a.kref, a.nrun, a.nclass) == (b.kref, b.nrun, b.nclass)
        assert np.array_equal(a.lengths, b.lengths)
    assert len(fe) == len(se)
    for a, b in zip(fe, se):
        assert a == b  # dataclass equality: every field


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.name)
def test_kernel_equals_python_parser_on_valid_packages(sample):
    raw, off = directory_of(sample.data)
    fast = _parse_fast(raw, off, DEFAULT_LIMITS)
    assert fast is not None
    same(fast, _parse_slow(raw, off, DEFAULT_LIMITS))


@settings(max_examples=300)
@given(st.data())
def test_kernel_never_accepts_what_python_rejects(data):
    sample = data.draw(st.sampled_from(SAMPLES), label="sample")
    raw, off = directory_of(sample.data)
    raw = draw_edits(data, raw)
    fast = _parse_fast(raw, off, DEFAULT_LIMITS)
    slow = slow_or_error(raw, off)
    if fast is not None:
        assert not isinstance(slow, Exception), slow
        same(fast, slow)


def test_kernel_respects_reader_limits():
    sample = max(SAMPLES, key=lambda s: len(codec.inspect(s.data).tensors))
    raw, off = directory_of(sample.data)
    n = len(codec.inspect(sample.data).tensors)
    tight = Limits(max_tensors=n - 1)
    assert _parse_fast(raw, off, tight) is None
    with pytest.raises(LimitError):
        _parse_slow(raw, off, tight)


def name_bomb(n: int, name_len: int) -> bytes:
    """n entries whose names all share a name_len-byte prefix: a few bytes each on disk,
    name_len bytes each once expanded."""
    out = bytearray()
    put_varint(out, 0)
    put_varint(out, n)
    for i in range(n):
        if i == 0:
            put_varint(out, 0)
            put_varint(out, name_len)
            out += b"a" * name_len
        else:
            put_varint(out, name_len)
            put_varint(out, 4)
            out += b"%04x" % i
        out.append(1)
        put_varint(out, 1)
        put_varint(out, 0)          # int8, shape (0,)
        out.append(0)
        put_varint(out, 1)
        put_svarint(out, 0)
        put_varint(out, 8)
        put_varint(out, 0)
        out += b"\0\0\0\0"
        put_varint(out, 0)
        put_varint(out, 0)
        out += b"\0\0"
    d = bytes(out)
    pre = preamble(version=1)
    return pre + d + footer(len(pre), d, pre)


def test_front_coded_names_cannot_expand_without_bound():
    """2,000 entries of ~30 bytes each would expand to 120 MB of names: a LimitError, early."""
    data = name_bomb(2000, 60000)
    with pytest.raises(LimitError, match="max_names_bytes"):
        codec.inspect(data)
    raw, off = directory_of(data)
    assert _parse_fast(raw, off, DEFAULT_LIMITS) is None
    with pytest.raises(LimitError, match="max_names_bytes"):
        _parse_slow(raw, off, DEFAULT_LIMITS)
    # below the limit the same construction is a valid package of empty tensors
    small = name_bomb(20, 1000)
    assert len(codec.unpack(small)) == 20


def per_symbol_lut(t) -> np.ndarray:
    """The fused decode table of kernels/decode.py, one symbol at a time."""
    lut = np.zeros(1 << LUT_BITS, np.uint32)
    codes = canonical_codes(t.lengths)
    for s, ln in enumerate(t.lengths.tolist()):
        if not ln:
            continue
        if s == 0:
            kind, run, e, mant = 3, 0, 0, 0
        elif s == 1:
            kind, run, e, mant = 2, t.nrun, 0, 0
        else:
            c, run = divmod(s - SYM_FIRST, t.nrun)
            base, e = class_base(c, t.kref)
            kind, mant = 1, base >> e
        ent = ln | kind << 4 | e << 6 | run << 11 | mant << 24
        lo = int(codes[s]) << (LUT_BITS - ln)
        lut[lo:lo + (1 << (LUT_BITS - ln))] = ent
    return lut


def per_index_whole_lut(t) -> np.ndarray:
    """The CPU decoder's table: where the 12 looked-up bits hold a value's code, remainder
    and sign (and |value| < 8191), a whole-set entry; an escape's code is the whole set
    "nrun - 1 zeros, then the zero value" (value + 8191 = 8191); elsewhere the plain entry."""
    lut = per_symbol_lut(t)
    codes = canonical_codes(t.lengths)
    for s, ln in enumerate(t.lengths.tolist()):
        if ln and s == 1:
            lo = int(codes[s]) << (LUT_BITS - ln)
            lut[lo:lo + (1 << (LUT_BITS - ln))] = 1 << 31 | ln | (t.nrun - 1) << 4 | 8191 << 17
        if not ln or s < SYM_FIRST:
            continue
        c, run = divmod(s - SYM_FIRST, t.nrun)
        base, e = class_base(c, t.kref)
        total = ln + e + 1
        if total > LUT_BITS or base + (1 << e) > 8191:
            continue
        for idx in range(int(codes[s]) << (LUT_BITS - ln), (int(codes[s]) + 1) << (LUT_BITS - ln)):
            bits = format(idx, "012b")[ln:total]   # remainder bits, then the sign bit
            m = base + (int(bits[:-1], 2) if e else 0)
            v = -m if bits[-1] == "1" else m
            lut[idx] = 1 << 31 | total | run << 4 | (v + 8191) << 17
    return lut


@pytest.mark.parametrize("sample", SAMPLES[:6], ids=lambda s: s.name)
def test_decode_tables_match_per_symbol_construction(sample):
    tables = codec.Package(sample.data).directory.tables
    plain = _decode_luts(tables, whole=False)
    whole = _decode_luts(tables)
    for i, t in enumerate(tables):
        assert np.array_equal(plain[i], per_symbol_lut(t)), i
        assert np.array_equal(whole[i], per_index_whole_lut(t)), i


@st.composite
def random_tables(draw):
    """1-3 tables with random alphabets and random code lengths: a prefix code, complete or
    not (then some prefixes stay invalid), over a sparse or dense subset of the symbols."""
    tables = []
    for _ in range(draw(st.integers(1, 3))):
        kref = draw(st.integers(0, 3))
        nrun = draw(st.integers(1, 40))
        nclass = draw(st.integers(1, 12))
        nsym = SYM_FIRST + nclass * nrun
        lengths = np.zeros(nsym, np.uint8)
        kraft = 0
        order = draw(st.permutations(range(nsym)))
        for s in order[:draw(st.integers(0, min(nsym, 300)))]:
            ln = draw(st.integers(1, LUT_BITS))
            if kraft + (1 << (LUT_BITS - ln)) <= 1 << LUT_BITS:
                lengths[s] = ln
                kraft += 1 << (LUT_BITS - ln)
        if lengths[0] == 0 and kraft < 1 << LUT_BITS:
            lengths[0] = LUT_BITS
        tables.append(Table(kref, nrun, nclass, lengths))
    return tables


@settings(max_examples=60, deadline=None)
@given(random_tables())
def test_build_luts_matches_per_symbol_construction_on_random_codes(tables):
    """build_luts works from the symbols that have a code (one branch-free pass) and zeroes a
    table only when its code is incomplete: both table layouts equal the per-symbol
    construction, through _decode_luts and on memory that held garbage before."""
    rows = np.zeros((len(tables), 4), np.int64)
    off = 0
    for i, t in enumerate(tables):
        rows[i] = (t.kref, t.nrun, t.nclass, off)
        off += t.lengths.size
    lengths = np.concatenate([t.lengths for t in tables])
    for whole in (False, True):
        garbage = np.full((len(tables), 1 << LUT_BITS), 0xDEADBEEF, np.uint32)
        bound = np.full(len(tables), -5, np.int64)
        assert build_luts(rows, lengths, garbage, whole, bound) == -1
        for luts in (_decode_luts(list(tables), whole), garbage):
            for i, t in enumerate(tables):
                want = per_index_whole_lut(t) if whole else per_symbol_lut(t)
                assert np.array_equal(luts[i], want), (i, whole)
        for i, t in enumerate(tables):  # the largest |value| of a whole-set entry (0: none)
            ent = per_index_whole_lut(t).astype(np.int64) if whole else np.zeros(1, np.int64)
            vals = ((ent[ent >> 31 == 1] >> 17) & 16383) - 8191
            assert bound[i] == (np.abs(vals).max() if vals.size else 0), (i, whole)


def test_build_luts_rejects_bad_rows():
    luts = np.zeros((1, 1 << LUT_BITS), np.uint32)
    bound = np.zeros(1, np.int64)
    lengths = np.array([1, 1, 1], np.uint8)  # Kraft sum 3/2: not a prefix code
    assert build_luts(np.array([[0, 1, 1, 0]], np.int64), lengths, luts, True, bound) == 0
    rows = np.array([[0, 1, 1, 5]], np.int64)  # lengths offset past the array
    assert build_luts(rows, lengths, luts, True, bound) == 0
    ok = np.array([1, 1, 0], np.uint8)
    assert build_luts(np.array([[0, 1, 1, 0]], np.int64), ok, luts, True, bound) == -1
    assert build_luts(np.array([[0, 1, 1, 0]], np.int64), ok, np.zeros((1, 8), np.uint32),
                      True, bound) == 0
    # no room for the bounds: refused before anything is written
    assert build_luts(np.array([[0, 1, 1, 0]], np.int64), ok, luts, True,
                      np.zeros(0, np.int64)) == 0


@pytest.mark.parametrize("ntab", [3, 2 * LUT_PAR_MIN_TABLES + 5])
def test_luts_of_jobs_equal_one_call_and_name_the_bad_table(ntab):
    """package._luts_of builds many tables in jobs on the pool (LUT_PAR_MIN_TABLES a job):
    the same tables and bounds as one build_luts call, and a bad table is named by its index
    in the whole pool, whichever job met it."""
    rows = np.array([[t % 3, 1 + t % 2, 1, 0] for t in range(ntab)], np.int64)
    lens = []
    for t in range(ntab):  # nsym = 2 + nclass * nrun; a complete code over them
        nsym = 2 + int(rows[t, 1])
        ln = np.full(nsym, nsym - 1, np.uint8)
        ln[:nsym - 1] = np.arange(1, nsym)
        rows[t, 3] = sum(x.size for x in lens)
        lens.append(ln)
    lengths = np.concatenate(lens)
    one = np.empty((ntab, 1 << LUT_BITS), np.uint32)
    bound = np.empty(ntab, np.int64)
    assert build_luts(rows, lengths, one, True, bound) == -1
    luts, got = _luts_of(rows, lengths)
    assert np.array_equal(luts, one) and np.array_equal(got, bound)
    bad = rows.copy()
    bad[ntab - 2, 0] = 9  # a kref no alphabet has
    with pytest.raises(CodecError, match=f"table {ntab - 2}:") as e:
        _luts_of(bad, lengths)
    assert e.value.value == ntab - 2


def test_writer_refuses_names_a_default_reader_would_reject(monkeypatch):
    import codec.writer as pk
    from codec.format import Limits as L
    monkeypatch.setattr(pk, "DEFAULT_LIMITS", L(max_names_bytes=10))
    with pytest.raises(ValueError, match="names total"):
        codec.pack({"abcdef": np.zeros(3, np.int8), "ghijkl": np.zeros(3, np.int8)})
    assert codec.unpack(codec.pack({"abcde": np.zeros(3, np.int8), "fghij": np.zeros(3, np.int8)}))
