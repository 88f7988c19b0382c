"""Corrupt, truncated and wrong input: exact data or a CodecError naming the problem."""
from __future__ import annotations

import struct

import numpy as np
import pytest

import codec


@pytest.fixture(scope="module", params=[2, 1], ids=["v2", "v1"])
def package(request):
    rng = np.random.default_rng(7)
    t = {"conv": np.round(rng.laplace(size=(8, 4, 3, 3)) * 3).astype(np.int8),
         "bias": rng.integers(-1000, 1000, 8).astype(np.int32),
         "u": rng.integers(0, 4, 50).astype(np.uint8)}
    t["conv"][rng.random(t["conv"].shape) < 0.6] = 0
    return t, codec.pack(t, group=("count", 64), version=request.param)


def _same(out, t):
    return list(out) == list(t) and all(np.array_equal(out[k], t[k]) for k in t)


def test_truncated_at_every_length(package):
    t, data = package
    for n in range(len(data)):
        with pytest.raises(codec.CodecError):
            codec.unpack(data[:n])


def test_bit_flips_everywhere(package):
    t, data = package
    for pos in range(len(data)):
        for bit in (0, 3, 7):
            bad = bytearray(data)
            bad[pos] ^= 1 << bit
            try:
                out = codec.unpack(bytes(bad))
            except codec.CodecError:
                continue
            assert _same(out, t), f"silent corruption at byte {pos} bit {bit}"


def test_exact_errors(package):
    t, data = package
    with pytest.raises(codec.UnsupportedError, match="magic") as ei:
        codec.unpack(b"XXXX" + data[4:])
    assert ei.value.offset == 0
    with pytest.raises(codec.UnsupportedError, match="version 9") as ei:
        codec.unpack(data[:4] + b"\x09" + data[5:])
    assert ei.value.offset == 4 and ei.value.value == 9
    with pytest.raises(codec.UnsupportedError, match="flags"):
        codec.unpack(data[:5] + b"\x01" + data[6:])
    with pytest.raises(codec.TruncatedError):
        codec.unpack(data[:-1])
    # a flipped payload byte is caught by that tensor's CRC (v1) or its chunk's (v2: one
    # 64 KiB chunk here, shared by every tensor); in v1 the other tensors still read
    entry = codec.inspect(data).tensor("conv")
    bad = bytearray(data)
    bad[entry.block_offset + entry.block_bytes - 1] ^= 0xFF
    with pytest.raises(codec.ChecksumError, match="conv") as ei:
        codec.read_tensor(bytes(bad), "conv")
    if data[4] == 1:
        assert ei.value.offset == entry.block_offset
        np.testing.assert_array_equal(codec.read_tensor(bytes(bad), "bias"), t["bias"])
    else:
        assert ei.value.offset == 8 and "chunk 0" in str(ei.value)
        with pytest.raises(codec.ChecksumError, match="bias"):
            codec.read_tensor(bytes(bad), "bias")
    # directory CRC
    dir_off = struct.unpack_from("<Q", data, len(data) - 24)[0]
    bad = bytearray(data)
    bad[dir_off + 2] ^= 1
    with pytest.raises(codec.ChecksumError, match="directory"):
        codec.inspect(bytes(bad))


def test_limits(package):
    t, data = package
    with pytest.raises(codec.LimitError, match="max_output_bytes"):
        codec.unpack(data, limits=codec.Limits(max_output_bytes=100))
    with pytest.raises(codec.LimitError):
        codec.unpack(data, limits=codec.Limits(max_tensors=2))
    # a tiny package may legitimately describe a huge all-zero tensor: the limit stops it
    big = codec.encode(np.zeros(10_000_000, np.int8), group="tensor")
    assert len(big) < 100
    with pytest.raises(codec.LimitError):
        codec.decode(big, limits=codec.Limits(max_output_bytes=1_000_000))


def test_wrong_input_types():
    for bad in (None, 3, "abc", [1, 2]):
        with pytest.raises(TypeError):
            codec.unpack(bad)
    with pytest.raises(TypeError):
        codec.unpack(np.zeros(40, np.float32))


def test_decode_requires_single_tensor(package):
    _, data = package
    with pytest.raises(codec.CorruptError, match="single-tensor"):
        codec.decode(data)


def test_unknown_name(package):
    _, data = package
    with pytest.raises(KeyError):
        codec.read_tensor(data, "nope")


def test_group_reading_past_the_payload_reports_an_offset_inside_the_input():
    """Found by the fuzzer (CI, 2026-11-25): a damaged group decodes on past the payload's end
    (zeros there) before a check fails; its CorruptError's offset must still lie within the
    input (the group's end at most), not where the kernel's reader had got to (byte 261 of
    this 201-byte package)."""
    data = bytes.fromhex(
        "53504b470200000067627c7d7b6e8170bc25181dd37e1f76d0047d5db88c7f000000019754b78547de"
        "56b08be96445f793f4ad2fa9ebbc63e568c5563d2659404df2cea9b7c3679719445928a6eefe2891"
        "35bc209b2d44e34a80684e521e3f74d408f93f039616e8de8a23ce7907cd19d62375d1e7cc609a3d"
        "bcf0532cff95bdd443b5c0010001060101010003020000000000004735d940010104636f6e760101"
        "2a040803035980027c000810b62cc1d184000000000000002d000000000000000afa1fc8474b5053")
    with pytest.raises(codec.CorruptError, match="group 7: zero run or value past the end") as ei:
        codec.unpack(data, verify=False)
    assert ei.value.offset == 131 and 0 <= ei.value.offset <= len(data)
