"""The v2 directory kernel (codec/kernels/directory_v2.py) against the Python parser
(codec/format_v2.py): on any bytes the kernel declines or returns exactly what Python returns."""
from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import codec
from codec.errors import CodecError, LimitError
from codec.format import (DEFAULT_LIMITS, FOOTER_SIZE, Limits, _parse_fast_v2, _parse_slow_v2)
from fuzz.harness import draw_edits, sample_packages

SAMPLES = sample_packages(2)


def directory_of(data: bytes) -> tuple[bytes, int]:
    off, ln = struct.unpack_from("<QQ", data, len(data) - FOOTER_SIZE)
    return data[off:off + ln], off


def slow_or_error(raw, off, limits=DEFAULT_LIMITS):
    try:
        return _parse_slow_v2(raw, off, limits)
    except CodecError as exc:
        return exc


def same(fast, slow) -> None:
    ft, fe, fl, fc = fast
    stb, se, sl, sc = slow
    assert len(ft) == len(stb)
    for a, b in zip(ft, stb):
        assert (a.kref, a.nrun, a.nclass) == (b.kref, b.nrun, b.nclass)
        assert np.array_equal(a.lengths, b.lengths)
    assert fe == se  # dataclass equality: every field of every entry
    assert fl == sl and fc.dtype == sc.dtype == np.uint32 and np.array_equal(fc, sc)


def real_model_samples():
    """Directories of v2 packages with realistic names (the golden v2 vectors)."""
    from pathlib import Path
    vec = Path(__file__).resolve().parent / "vectors" / "v2"
    return [p.read_bytes() for p in sorted(vec.glob("*.bin"))]


@pytest.mark.parametrize("data", [s.data for s in SAMPLES] + real_model_samples())
def test_kernel_equals_python_parser_on_valid_packages(data):
    raw, off = directory_of(data)
    fast = _parse_fast_v2(raw, off, DEFAULT_LIMITS)
    assert fast is not None
    same(fast, _parse_slow_v2(raw, off, DEFAULT_LIMITS))


@settings(max_examples=400)
@given(st.data())
def test_kernel_never_accepts_what_python_rejects(data):
    sample = data.draw(st.sampled_from(SAMPLES), label="sample")
    raw, off = directory_of(sample.data)
    raw = draw_edits(data, raw)
    # the data area length is part of the directory's meaning (implicit offsets, chunk count)
    off = data.draw(st.sampled_from([off, off - 1, off + 1, 8]), label="dir_off")
    fast = _parse_fast_v2(raw, off, DEFAULT_LIMITS)
    slow = slow_or_error(raw, off)
    if fast is not None:
        assert not isinstance(slow, Exception), slow
        same(fast, slow)


def test_every_byte_flip_agrees():
    """Deterministic sweep: every bit of every sample directory flipped."""
    for s in SAMPLES:
        raw, off = directory_of(s.data)
        for i in range(len(raw)):
            for bit in range(8):
                bad = bytearray(raw)
                bad[i] ^= 1 << bit
                bad = bytes(bad)
                fast = _parse_fast_v2(bad, off, DEFAULT_LIMITS)
                slow = slow_or_error(bad, off)
                if fast is not None:
                    assert not isinstance(slow, Exception), (s.name, i, bit, slow)
                    same(fast, slow)


def test_kernel_respects_reader_limits():
    sample = max(SAMPLES, key=lambda s: len(codec.inspect(s.data).tensors))
    raw, off = directory_of(sample.data)
    n = len(codec.inspect(sample.data).tensors)
    longest = max(len(t.name.encode()) for t in codec.inspect(sample.data).tensors)
    total = sum(len(t.name.encode()) for t in codec.inspect(sample.data).tensors)
    for tight in (Limits(max_tensors=n - 1), Limits(max_name_bytes=longest - 1),
                  Limits(max_names_bytes=total - 1)):
        assert _parse_fast_v2(raw, off, tight) is None
        with pytest.raises(LimitError):
            _parse_slow_v2(raw, off, tight)
    exact = Limits(max_tensors=n, max_name_bytes=longest, max_names_bytes=total)
    same(_parse_fast_v2(raw, off, exact), _parse_slow_v2(raw, off, exact))


def test_long_token_sequences():
    """Names of 200 tokens (the kernel's token-id buffer starts at 64 and grows) sharing long
    token prefixes: kernel == Python parser, and the names come back."""
    x = np.arange(3, dtype=np.int8)
    names = ["a." * 199 + "w", "a." * 150 + "b." * 49 + "w", "a." * 199 + "v", "w"]
    data = codec.pack({n: x for n in names}, version=2)
    raw, off = directory_of(data)
    fast = _parse_fast_v2(raw, off, DEFAULT_LIMITS)
    assert fast is not None
    same(fast, _parse_slow_v2(raw, off, DEFAULT_LIMITS))
    assert [e.name for e in fast[1]] == names
    assert list(codec.unpack(data)) == names


def v3_samples():
    """Directories of the golden v3 packages (entries with the mirror, flag bit 7)."""
    from pathlib import Path
    vec = Path(__file__).resolve().parent / "vectors" / "v3"
    return [p.read_bytes() for p in sorted(vec.glob("*.bin"))]


@pytest.mark.parametrize("data", v3_samples())
def test_v3_kernel_equals_python_parser(data):
    raw, off = directory_of(data)
    fast = _parse_fast_v2(raw, off, DEFAULT_LIMITS, 3)
    assert fast is not None
    slow = _parse_slow_v2(raw, off, DEFAULT_LIMITS, 3)
    same(fast, slow)
    if any(e.mirror_period for e in slow[1]):  # read as v2, flag bit 7 is refused by both
        assert _parse_fast_v2(raw, off, DEFAULT_LIMITS, 2) is None
        assert isinstance(slow_or_error_v(raw, off, 2), CodecError)


def slow_or_error_v(raw, off, version):
    try:
        return _parse_slow_v2(raw, off, DEFAULT_LIMITS, version)
    except CodecError as exc:
        return exc


def test_v3_every_byte_flip_agrees():
    """Every bit of every v3 vector's directory flipped, read as v3 and as v2."""
    for data in v3_samples():
        raw, off = directory_of(data)
        for i in range(len(raw)):
            for bit in range(8):
                bad = bytearray(raw)
                bad[i] ^= 1 << bit
                bad = bytes(bad)
                for version in (2, 3):
                    fast = _parse_fast_v2(bad, off, DEFAULT_LIMITS, version)
                    slow = slow_or_error_v(bad, off, version)
                    if fast is not None:
                        assert not isinstance(slow, Exception), (i, bit, version, slow)
                        same(fast, slow)
