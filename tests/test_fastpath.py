"""codec.fastpath (unpack's path without per-tensor objects) against the general path
(Package.read_all): on every package it takes it returns exactly what the general path
returns, and on every package the general path rejects it declines (returns None), so that
unpack's errors stay the general path's."""
from __future__ import annotations


import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import codec
from codec.errors import CodecError
from codec.fastpath import unpack_fast
from codec.format import DEFAULT_LIMITS, Limits
from codec.package import CRC_OVERLAP_MIN_BYTES, PAR_MIN_WORK, Package
from fuzz.harness import fix_all_crcs, sample_packages
from test_reference import _fix_directory_crc


def _arrays():
    rng = np.random.default_rng(3)
    dense4 = np.clip(np.round(rng.normal(0, 2, size=(512, 8, 3, 3))), -7, 7).astype(np.int8)
    sparse = rng.integers(-120, 121, size=(32, 300)).astype(np.int16)
    sparse[rng.random(sparse.shape) < 0.9] = 0
    base = rng.integers(-40, 41, size=(9, 64)).astype(np.int64)
    sym = np.concatenate([base[:, :1], base[:, 1:33], base[:, 32:0:-1][:, :31]], 1)
    sym = np.concatenate([sym, -sym[:3]]).astype(np.int8)                        # v3 mirror
    u = (np.clip(rng.normal(128, 20, size=(4, 8, 16)), 0, 255)).astype(np.uint8)  # value offset
    return {"a.dense4": dense4, "b.sparse": sparse, "c.sym": sym, "d.u8": u,
            "e.empty": np.zeros((0, 7), np.int32), "f.scalar": np.array(5, np.int32),
            "g.i32": rng.integers(-2**31, 2**31, size=500, dtype=np.int64).astype(np.int32),
            "h.u32": np.array([0, 2**32 - 1, 7, 0, 0, 9], np.uint32)}


PACKAGES = {
    "mixed-v2": codec.pack(_arrays(), version=2),
    "mixed-v3": codec.pack(_arrays(), mirror={"c.sym": (64, 1)}, version=3),
    "tensor-groups": codec.pack(_arrays(), group="tensor", version=2),
    "count-7": codec.pack(_arrays(), group=("count", 7), mirror={"c.sym": (64, 1)}, version=3),
    "mixed-v4": codec.pack(_arrays(), mirror={"c.sym": (64, 1)}),
    "tensor-groups-v4": codec.pack(_arrays(), group="tensor"),
    "count-7-v4": codec.pack(_arrays(), group=("count", 7), mirror={"c.sym": (64, 1)}),
}


def general(data, verify=True):
    try:
        return Package(data, verify=verify).read_all()
    except CodecError as exc:
        return exc


def fast(data, verify=True, limits=DEFAULT_LIMITS):
    return unpack_fast(np.frombuffer(bytes(data), np.uint8), limits, verify)


def same(a: dict, b: dict) -> None:
    assert list(a) == list(b)
    for k in b:
        assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape, k
        assert np.array_equal(a[k], b[k]), k


def agree(data, verify=True) -> bool:
    """The fast path's answer is the general path's, or None; True if it answered."""
    f, g = fast(data, verify), general(data, verify)
    if isinstance(g, CodecError):
        assert f is None, g
        return False
    if f is not None:
        same(f, g)
    return f is not None


@pytest.mark.parametrize("name", sorted(PACKAGES))
def test_takes_and_matches_valid_packages(name):
    data = PACKAGES[name]
    assert agree(data) and agree(data, verify=False)
    same(codec.unpack(data), general(data))
    assert Package(data).directory.version == (4 if "v4" in name else
                                               2 if "v2" in name or "tensor" in name else 3)


def test_multi_set_tables_are_used(monkeypatch):
    """A dense 4-bit table that decodes >= MULTI_MIN_BITS: its groups go to the multi-set
    kernel, as in the general path; below it (the default, 200 Kbit, here) no multi-set table
    is built."""
    import codec.fastpath as fp
    import codec.package as P
    calls = []
    real = fp._multi_tables

    def spy(luts, ts):
        got = real(luts, ts)
        calls.append(got[0].size)
        return got
    monkeypatch.setattr(fp, "_multi_tables", spy)
    assert agree(PACKAGES["mixed-v2"]) and not calls
    monkeypatch.setattr(fp, "MULTI_MIN_BITS", 1 << 16)
    monkeypatch.setattr(P, "MULTI_MIN_BITS", 1 << 16)
    assert agree(PACKAGES["mixed-v2"]) and calls and calls[0] > 0


@pytest.mark.parametrize("version", [2, 3, 4])
def test_samples(version):
    taken = [s.name for s in sample_packages(version) if agree(s.data)]
    assert taken  # some samples are in its scope (the others carry metadata)


def test_scope():
    """Declined, then decoded by the general path: format v1, non-ASCII names."""
    a = _arrays()
    for data in (codec.pack(a, version=1), codec.pack({"é": np.ones(3, np.int8)})):
        assert fast(data) is None
        same(codec.unpack(data), general(data))


def _big() -> bytes:
    """A data area past CRC_OVERLAP_MIN_BYTES, a payload past PAR_MIN_WORK, two dtypes."""
    rng = np.random.default_rng(0)
    n = max(CRC_OVERLAP_MIN_BYTES, PAR_MIN_WORK // 8) * 3 // 2
    return codec.pack({"w": rng.integers(-127, 128, (n // 64, 64), dtype=np.int64).astype(np.int8),
                       "b": rng.integers(-3000, 3000, 300).astype(np.int16),
                       "v": np.clip(rng.normal(0, 2, (n // 64, 64)), -7, 7).astype(np.int8)})


@pytest.fixture(scope="module")
def big() -> bytes:
    return _big()


def test_big_package_decodes_on_the_pool(big, monkeypatch):
    """From PAR_MIN_WORK the groups decode in chunks on the pool (where there is one), the
    chunk CRC jobs among them; the same tensors as the general path, CRCs checked or not."""
    import codec.fastpath as fp
    import codec.package as P
    runs, crc_lists = [], []
    real_run, real_crc = P.run_chunks, fp._crc_jobs

    def run_spy(work, n):
        runs.append(n)
        return real_run(work, n)

    def crc_spy(*args):
        got = real_crc(*args)
        crc_lists.append(got[0] if got is not None else None)
        return got
    monkeypatch.setattr(P, "run_chunks", run_spy)
    monkeypatch.setattr(fp, "_crc_jobs", crc_spy)
    got = fast(big)
    if P.workers() > 0:
        # one parallel decode (the int8 tensors; the int16 one is small), which took the CRC
        # jobs (its job list empties the list it was handed)
        assert len(runs) == 1 and runs[0] > 1, runs
        assert len(crc_lists) == 1 and crc_lists[0] == [], crc_lists
    same(got, general(big))
    assert agree(big, verify=False)


@pytest.mark.parametrize("where", [0.1, 0.5, 0.97])
def test_big_package_with_a_damaged_byte(big, where):
    """A flipped data byte: with CRCs the fast path declines (its CRC jobs caught it, after or
    beside a decode) and unpack raises the general path's ChecksumError; without, both give
    the same values or the same error."""
    d = Package(big).directory
    pos = 8 + int((d.directory_offset - 8) * where)
    bad = bytearray(big)
    bad[pos] ^= 0x10
    assert fast(bytes(bad)) is None
    with pytest.raises(codec.ChecksumError) as exc:
        codec.unpack(bytes(bad))
    g = general(bytes(bad))
    assert isinstance(g, codec.ChecksumError) and str(g) == str(exc.value)
    agree(bytes(bad), verify=False)


def test_quantization_metadata():
    """Packages with metadata (as codec.frontend writes them) are taken; a metadata block
    the kernel declines (a scale count the shape does not need) makes it decline, and the
    general path raises the exact error."""
    from codec.frontend.model import compress_model
    rng = np.random.default_rng(5)
    fl = {"conv": rng.normal(size=(16, 8, 3, 3)).astype(np.float32),
          "bias": rng.normal(size=16).astype(np.float32)}
    data = compress_model(fl, bits=4, sparsity=0.5)
    assert agree(data)
    a = _arrays()
    meta = {"g.i32": codec.QuantMeta(bits=32, scale=np.ones(1, np.float32)),
            "c.sym": codec.QuantMeta(bits=8, scale=np.linspace(0.5, 2, 12), axis=0)}
    data = codec.pack(a, meta=meta, mirror={"c.sym": (64, 1)})
    assert agree(data) and Package(data).directory.version == 4
    e = Package(data).entry("g.i32")
    bad = bytearray(data)
    bad[e.block_offset + 3] = 1  # scale mode 'axis': the axis varint eats the dtype byte
    bad = fix_all_crcs(bytes(bad))
    assert fast(bad) is None and isinstance(general(bad), codec.CorruptError)


def test_limits_apply():
    data = PACKAGES["mixed-v3"]
    tight = Limits(max_output_bytes=1000)
    assert fast(data, limits=tight) is None
    with pytest.raises(codec.LimitError):
        codec.unpack(data, limits=tight)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(sorted(PACKAGES)), st.data())
def test_damage_is_declined_or_decoded_alike(name, draw):
    """Bit flips anywhere (directory CRC mended, so the damage reaches the parser, and with
    verify off, the decoders) and truncations."""
    data = bytearray(PACKAGES[name])
    n = len(data)
    kind = draw.draw(st.sampled_from(["flip", "flip-nocheck", "cut"]))
    if kind == "cut":
        agree(bytes(data[:draw.draw(st.integers(0, n - 1))]))
        return
    for _ in range(draw.draw(st.integers(1, 3))):
        i = draw.draw(st.integers(0, n - 1))
        data[i] ^= 1 << draw.draw(st.integers(0, 7))
    agree(_fix_directory_crc(data), verify=kind == "flip")


def test_every_payload_bit_with_checks_off():
    """Each single bit flip of one package's data area, CRCs ignored: the decoders' statuses
    (or the values they produce) are the general path's."""
    data = PACKAGES["mixed-v3"]
    d = Package(data).directory
    answered = 0
    for bit in range(8 * 8, 8 * d.directory_offset, max(3, 8 * d.directory_offset // 2500)):
        bad = bytearray(data)
        bad[bit // 8] ^= 0x80 >> (bit % 8)
        answered += agree(bytes(bad), verify=False)
    assert answered > 0
