"""Format v4 (docs/FORMAT.md §27-§31: Exp-Golomb entry bit string, no group table for one-group
tensors, 12-byte footer): the pure-Python reference against a hand-worked package, against its
own exact checks, and against ``codec.pack`` / ``codec.unpack``."""
from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import codec
from fuzz.harness import fix_footer as fix_crc
from codec import reference as ref
from codec.reference import encoder_v2 as rv2
from codec.reference import encoder_v4 as rv4
from codec.reference.encoder import varint

from test_reference import _both, assert_same_tensors, flips_agree, same_meta  # noqa: E402
from test_reference_v3 import sym_rows  # noqa: E402

DTYPES = ["int8", "uint8", "int16", "uint16", "int32", "uint32"]


# --- building blocks --------------------------------------------------------------------------

def B(s: str):
    """A bitarray from '0'/'1' characters (spaces ignored)."""
    from bitarray import bitarray
    return bitarray(s.replace(" ", ""), endian="big")


def test_exp_golomb_codes():
    eg, seg = rv4.eg, rv4.seg
    assert [eg(n, 0).to01() for n in range(5)] == ["1", "010", "011", "00100", "00101"]
    assert [eg(n, 1).to01() for n in range(4)] == ["10", "11", "0100", "0101"]
    assert [eg(n, 3).to01() for n in (0, 7, 8)] == ["1000", "1111", "010000"]
    assert [seg(s, 0).to01() for s in (0, -1, 1, -2, 2)] == ["1", "010", "011", "00100",
                                                              "00101"]
    assert len(eg((1 << 56) - 1, 0)) == 2 * 56 + 1  # 56 prefix zeros: the longest allowed




EOB_TABLE = ref.RefTable(0, 1, 1, [1, 0, 0])  # kref 0, nrun 1, one class; EOB = "0"


def v4_package(bits, *, params=b"\x00\x00\x08", names=("t",), ntab=1, blocks=b"\x00",
               tail=None, dir_extra=b"", pool: bytes | None = None) -> bytes:
    """A v4 package by hand: ``ntab`` EOB-only tables (§28.1's pool; or the bytes ``pool``),
    the names, ``params`` (len_k, voff_k, rate varint), the entry ``bits`` (padded), chunk
    CRCs of ``blocks`` (or ``tail``)."""
    directory = rv4.tables_bytes([EOB_TABLE] * ntab) if pool is None else pool
    directory += varint(len(names))
    directory += rv2.names_bytes(list(names)) + params + B(bits).tobytes()
    directory += rv2.chunk_crcs(blocks) if tail is None else tail
    directory += dir_extra
    pre = b"SPKG\x04\x00\x00\x00"
    return pre + blocks + directory + struct.pack("<II", len(directory),
                                                  zlib.crc32(pre + directory)) + b"GKPS"


# §-style worked example: one int8 tensor "t" of 8 zeros, one table (EOB "0"), one group.
# rate = round(64 * 1 bit / 8 values) = 8, prediction (8 * 8) >> 6 = 1 bit = the group's length
WORKED_BITS = ("1"          # dtype: same as the previous (int8)
               "0 011"      # shape differs: ndim 1, no zero dim: EG0(2) = 011
               "0001000"    # dim 8: EG0(7)
               "11"         # group code 3: the whole tensor
               "0 0 0"      # no value offset, no metadata, no mirror
               ""           # table base: 0 bits (one table)
               "1")         # group length 1 = prediction + 0: sEG0(0) = 1


def test_worked_example():
    data = v4_package(WORKED_BITS)
    x = np.zeros(8, np.int8)
    choice = {"t": ref.TensorChoice("count", 8, 0, 0)}
    assert ref.pack({"t": x}, [EOB_TABLE], choice) == data
    assert B(WORKED_BITS).tobytes() == b"\x98\x8c\x40"
    p = ref.read_package(data)
    e = p.entries[0]
    assert (e.glen, e.group_table_bytes, e.payload_bytes, e.block_length, e.tid_bits) == \
        (1, 0, 1, 1, 0)
    assert p.version == 4 and np.array_equal(p.tensors["t"], x)
    assert ref.reencode(data) == data
    assert np.array_equal(codec.unpack(data)["t"], x)
    d = codec.Package(data).directory
    assert (d.tensors[0].glen, d.tensors[0].block_length) == (1, 1)


def test_rate_rounds_half_up_and_caps():
    """rate = (64 * bits + values // 2) // values over the one-group tensors, at most 4096."""
    E = rv4.EntryV4
    one = [E(1, (3,), "count", 3, 0, 0, None, glen=2), E(1, (5,), "count", 5, 0, 0, None, glen=3)]
    assert rv4.coding_params(one, 1)[2] == (64 * 5 + 4) // 8 == 40
    half = [E(1, (2,), "count", 2, 0, 0, None, glen=1)]  # 64 * 1 / 2 = 32 exactly
    assert rv4.coding_params(half, 1)[2] == 32
    up = [E(1, (128,), "count", 128, 0, 0, None, glen=1)]  # 0.5 rounds up
    assert rv4.coding_params(up, 1)[2] == 1
    wide = [E(5, (1,), "count", 1, 0, 0, None, glen=200)]
    assert rv4.coding_params(wide, 1)[2] == 4096
    many = [E(1, (4, 4), "kernel", 4, 0, 0, None, 0, 0, 3, 2)]  # several groups: no rate
    assert rv4.coding_params(many, 1)[2] == 0
    assert rv4.coding_params([E(1, (0,), "count", 1, 0, 0, None)], 0) == (0, 0, 0)


def test_orders_are_the_smallest_lowest():
    """len_k then voff_k: the order with the fewest bits (ties: the lower)."""
    E = rv4.EntryV4
    es = [E(5, (1,), "count", 1, 1000 * (i + 1), 0, None, glen=40 + 37 * i) for i in range(6)]
    len_k, voff_k, rate = rv4.coding_params(es, 1)
    n = [len(rv4.entry_string(es, 1, k, 0, rate)) for k in range(41)]
    assert len_k == n.index(min(n))
    m = [len(rv4.entry_string(es, 1, len_k, v, rate)) for v in range(33)]
    assert voff_k == m.index(min(m)) and voff_k > 0


# --- against codec.pack -----------------------------------------------------------------------

def _meta(x):
    if x.ndim == 0 or x.size == 0:
        return codec.QuantMeta(bits=8, scale=np.array([0.25], np.float32))
    k = x.shape[0]
    return codec.QuantMeta(bits=8, scale=np.linspace(0.5, 1.0, k).astype(np.float32),
                           zero_point=np.arange(k) - 3, axis=0)


def _inputs(name: str):
    """(tensors, pack options)."""
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    if name == "mixed":
        ts = {}
        for i, dt in enumerate(DTYPES):
            info = np.iinfo(dt)
            x = rng.integers(-4, 5, size=(6, 3, 3)).astype(np.int64)
            x[rng.random(x.shape) < 0.6] = 0
            ts[f"layer{i}.conv.weight"] = (x + (0 if info.min < 0 else 100)).astype(dt)
            ts[f"layer{i}.bias"] = rng.integers(0, 3, size=6).astype(dt)
        ts["scalar"] = np.array(-5, np.int16)
        ts["empty"] = np.zeros((3, 0), np.uint8)
        ts["empty1"] = np.zeros(0, np.int32)
        ts["wide"] = rng.integers(-2**31, 2**31 - 1, size=(4, 5), dtype=np.int64).astype(np.int32)
        return ts, {}
    if name == "offsets":  # unsigned tensors with value offsets near the dtype's top
        bn = rng.integers(40, 128, size=24).astype(np.int8)  # signed, far from 0 (gamma)
        return {"bn": bn, "u8": np.full((5, 7), 250, np.uint8),
                "u16": np.full((3, 9), 60000, np.uint16),
                "u32": (np.full((4, 4), 2**32 - 3, np.uint64)
                        - rng.integers(0, 2, (4, 4)).astype(np.uint64)).astype(np.uint32),
                "same_shape": np.full((3, 9), 7, np.uint16)}, {}
    if name == "meta":
        ts = {"w": rng.integers(-3, 4, size=(4, 10)).astype(np.int8),
              "s": np.array(3, np.int8), "e": np.zeros((2, 0), np.int8),
              "b": rng.integers(0, 9, size=4).astype(np.uint8)}
        return ts, {"meta": {k: _meta(v) for k, v in ts.items()}}
    if name == "mirror":
        ts = {"stft": sym_rows(rng, 12, 16, 1, "int8", spread=20, noise=0.02),
              "fir": sym_rows(rng, 6, 9, 0, "int16", anti=True, spread=300),
              "u": sym_rows(rng, 8, 10, 1, "uint16", z=40000, spread=50),
              "plain": rng.integers(-2, 3, size=(3, 16)).astype(np.int8)}
        return ts, {"meta": {"stft": _meta(ts["stft"])}}
    if name == "tables":  # several tables: very different distributions
        ts = {f"t{i}": (rng.integers(-s, s + 1, size=(8, 40)) *
                        (rng.random((8, 40)) < d)).astype(np.int16)
              for i, (s, d) in enumerate([(1, 0.05), (300, 0.9), (7, 0.5), (30000, 1.0),
                                          (2, 0.3)])}
        return ts, {"max_tables": 64}
    if name == "big_one_group":  # one group of many bits: a large length residual
        x = rng.integers(-2**15, 2**15, size=3000).astype(np.int16)
        return {"x": x, "y": np.zeros(5000, np.int8), "z": x[:10].copy()}, {}
    raise KeyError(name)


INPUTS = ["mixed", "offsets", "meta", "mirror", "tables", "big_one_group"]
GROUPS = ["auto", "kernel", "tensor", ("count", 7), ("kernels", 2)]


def _decisions(data: bytes, ts: dict, opts: dict):
    """The choices the reference writer needs, taken from the rules where the reference has
    them (mirror §25, unsigned value offset §13, metadata as given) and from the package
    otherwise (grouping, tables, table of each tensor or group, a signed tensor's offset)."""
    _, tables, choices = ref.choices_of(data)
    meta = opts.get("meta") or {}
    out = {}
    for k, c in choices.items():
        flat = [int(v) for v in ts[k].reshape(-1).tolist()]
        z = c.value_offset
        if ts[k].dtype.kind == "u":
            assert z == ref.value_offset_of(flat, ts[k].dtype.name), k
        mir = ref.choose_mirror(ts[k])
        assert c.mirror == (None if mir is None else mir[0]), k
        out[k] = ref.TensorChoice(c.group_mode, c.group_size, z, c.table, meta=meta.get(k),
                                  mirror=None if mir is None else mir[0])
    return [(t.kref, t.nrun, t.nclass, list(t.lengths)) for t in tables], out


@pytest.mark.parametrize("group", GROUPS)
@pytest.mark.parametrize("name", INPUTS)
def test_reference_pack_equals_codec_pack(name, group):
    ts, opts = _inputs(name)
    data = codec.pack(ts, group=group, **opts)
    assert data[:8] == b"SPKG\x04\x00\x00\x00" and data[-4:] == b"GKPS"
    tables, choices = _decisions(data, ts, opts)
    assert ref.pack(ts, tables, choices) == data
    assert ref.pack(ts, tables, choices, version=4) == data
    assert ref.reencode(data) == data
    p = ref.read_package(data)
    assert_same_tensors(p.tensors, ts)
    assert_same_tensors(codec.unpack(data), ts)
    for k in ts:
        assert same_meta(p.metas[k], (opts.get("meta") or {}).get(k))
    if name == "mirror":
        assert any(e.mirror_period for e in p.entries)
    if name == "tables":
        assert len(p.tables) > 1
    if name == "offsets":
        assert all(e.value_offset != 0 for e in p.entries)


@pytest.mark.parametrize("name", INPUTS)
def test_v4_header_matches_core(name):
    ts, opts = _inputs(name)
    data = codec.pack(ts, **opts)
    d = codec.Package(data).directory
    p = ref.read_package(data, decode=False)
    assert d.version == p.version == 4
    assert d.directory_offset == p.entries[-1].block_offset + p.entries[-1].block_length
    assert d.directory_length == len(data) - 12 - d.directory_offset
    for e, c in zip(p.entries, d.tensors, strict=True):
        assert (e.name, e.dtype, e.shape, e.group_mode, e.group_size, e.value_offset,
                e.block_offset, e.block_length, e.meta_length, e.tid_base, e.tid_bits,
                e.len_bits, e.group_table_bytes, e.payload_bytes, e.glen, e.mirror_period,
                e.mirror_skip, e.mirror_bytes) == \
            (c.name, c.dtype.name, c.shape, c.group_mode, c.group_size, c.value_offset,
             c.block_offset, c.block_length, c.meta_length, c.tid_base, c.tid_bits,
             c.len_bits, c.group_table_bytes, c.payload_bytes, c.glen, c.mirror_period,
             c.mirror_skip, c.mirror_bytes)
        assert (e.glen > 0) == (e.n_groups == 1)


def test_per_group_tables_v4():
    """Per-group table ids (tid_bits > 0) and a table base > 0 with several tables (a
    tid_base field of 2 bits); wide group-table fields."""
    rng = np.random.default_rng(3)
    x = rng.integers(-3, 4, size=(4, 250)).astype(np.int8)
    y = rng.integers(-1, 2, size=(50,)).astype(np.int8)
    tables = [(0, 1, 2, [1, 2, 3, 3]), (0, 1, 2, [2, 2, 2, 2]), (0, 1, 2, [3, 3, 2, 1])]
    ch = {"x": ref.TensorChoice("kernel", 250, 0, [1, 2, 2, 1]),
          "y": ref.TensorChoice("count", 50, 0, 2)}
    data = ref.pack({"x": x, "y": y}, tables, ch)
    assert data[4] == 4
    ex, ey = ref.read_package(data, decode=False).entries
    assert (ex.tid_base, ex.tid_bits, ex.glen, ey.tid_base, ey.glen > 0) == (1, 1, 0, 2, True)
    for got in (codec.unpack(data), ref.unpack(data)):
        assert_same_tensors(got, {"x": x, "y": y})
    assert ref.reencode(data) == data
    wide = ref.pack({"x": x}, tables, {"x": ref.TensorChoice("kernel", 250, 0, [1, 2, 2, 1],
                                                             tid_base=0, tid_bits=3,
                                                             len_bits=40)})
    for got in (codec.unpack(wide), ref.unpack(wide)):
        assert np.array_equal(got["x"], x)
    with pytest.raises(ValueError):  # v4: a one-group tensor has no group table widths
        ref.pack({"y": y}, tables, {"y": ref.TensorChoice("count", 50, 0, 2, tid_bits=1)})
    with pytest.raises(ValueError):
        ref.pack({"y": y}, tables, {"y": ref.TensorChoice("count", 50, 0, 2, tid_base=1)})


def test_version_rules():
    x = np.arange(-8, 8, dtype=np.int8).reshape(2, 8)
    for v in (None, 1, 2, 3, 4):
        data = codec.pack({"x": x}, version=v, mirror=None)
        assert data[4] == (4 if v is None else v)
        assert ref.reencode(data) == data
        tensors, tables, choices = ref.choices_of(data)
        plain = {k: ref.TensorChoice(c.group_mode, c.group_size, c.value_offset, c.table)
                 for k, c in choices.items()}
        assert ref.pack(tensors, tables, plain, version=v) == data
    with pytest.raises(ValueError):
        ref.pack({"x": x}, [EOB_TABLE], {"x": ref.TensorChoice("count", 16)}, version=8)


# --- hypothesis: random packages through both paths -------------------------------------------

@st.composite
def tensor_sets(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    out = {}
    for i in range(draw(st.integers(1, 4))):
        dt = np.dtype(draw(st.sampled_from(DTYPES)))
        info = np.iinfo(dt)
        shape = tuple(draw(st.lists(st.integers(0, 6), max_size=3)))
        if i and draw(st.booleans()):
            shape = out[f"t{i - 1}"].shape  # the same-shape bit
        n = int(np.prod(shape))
        spread = draw(st.sampled_from([1, 5, 200, int(info.max)]))
        z = 0 if info.min < 0 else draw(st.sampled_from([0, 1, int(info.max)]))
        x = np.clip(z + rng.integers(-spread, spread, size=n, endpoint=True), info.min, info.max)
        x[rng.random(n) >= draw(st.sampled_from([0.0, 0.2, 1.0]))] = z
        out[f"t{i}"] = x.astype(dt).reshape(shape)
    return out


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tensor_sets(), st.sampled_from(GROUPS + [("count", 1), 5]), st.sampled_from([1, 2, 64]),
       st.booleans())
def test_random_packages_both_paths(ts, group, max_tables, with_meta):
    meta = {k: _meta(v) for k, v in ts.items()} if with_meta else None
    data = codec.pack(ts, group=group, max_tables=max_tables, meta=meta, predict=None, floor=None, alias=None)
    assert data[4] == 4
    assert_same_tensors(codec.unpack(data), ts)
    assert_same_tensors(ref.unpack(data), ts)
    assert ref.reencode(data) == data


# --- malformed input --------------------------------------------------------------------------

def _sample() -> bytes:
    ts, opts = _inputs("meta")
    ts["m"] = sym_rows(np.random.default_rng(2), 4, 8, 1, "int8", spread=9)
    return codec.pack(ts, group=("count", 7), mirror={"m": (8, 1)}, **opts)


def test_truncations_rejected():
    data = _sample()
    for n in range(len(data)):
        fast, slow = _both(data[:n])
        assert isinstance(fast, codec.CodecError), n
        assert isinstance(slow, codec.CodecError), n
    for n in (len(data) - 12, len(data) - 1):
        with pytest.raises(codec.TruncatedError):
            ref.unpack(data[:n])


def test_directory_bit_flips_agree():
    """Each bit of the directory flipped and the directory CRC repaired: both readers accept
    or reject alike (the same CodecError class), and agree on what they accept."""
    data = _sample()
    fpos = len(data) - 12
    off = fpos - struct.unpack_from("<I", data, fpos)[0]
    assert flips_agree(data, 8 * off, 8 * fpos, fix_crc) > 0


def test_block_bit_flips_agree():
    data = _sample()
    es = ref.read_package(data, decode=False).entries
    flips_agree(data, 8 * 8, 8 * (es[-1].block_offset + es[-1].block_length))


def test_footer_and_checksums():
    data = _sample()
    fpos = len(data) - 12
    with pytest.raises(codec.ChecksumError):  # the directory CRC
        ref.unpack(data[:fpos + 4] + bytes([data[fpos + 4] ^ 1]) + data[fpos + 5:])
    with pytest.raises(codec.ChecksumError):  # a chunk CRC (a block byte)
        ref.unpack(data[:8] + bytes([data[8] ^ 0x10]) + data[9:])
    with pytest.raises(codec.TruncatedError):
        ref.unpack(data[:-1] + b"X")
    for ln in (fpos - 7, fpos + 1, 2**32 - 1):  # the directory would start before byte 8
        bad = bytearray(data)
        struct.pack_into("<I", bad, fpos, ln)
        with pytest.raises(codec.CorruptError):
            ref.unpack(bytes(bad))
    with pytest.raises(codec.UnsupportedError):
        ref.unpack(data[:4] + b"\x08" + data[5:])


def test_random_byte_corruption_is_codec_error():
    data = _sample()
    rng = np.random.default_rng(7)
    for _ in range(200):
        bad = bytearray(data)
        for i in rng.integers(0, len(data), size=rng.integers(1, 4)):
            bad[i] = int(rng.integers(0, 256))
        for fix in (bytes, fix_crc):
            fast, slow = _both(fix(bad))
            for r in (fast, slow):
                assert isinstance(r, (dict, codec.CodecError)), r
            if isinstance(fast, dict) and isinstance(slow, dict):
                assert_same_tensors(slow, fast)


def _eg(n, k=0):
    return rv4.eg(n, k).to01()


def _seg(s, k=0):
    return rv4.seg(s, k).to01()


HEAD8 = "1 0011 0001000"  # int8, shape (8,)
REST = " 0 0 0 1"          # no offset / meta / mirror; glen = 1 + sEG0(0)


def _hand_made():
    """{what: (package, the CodecError class both readers must raise)}."""
    C, T, L = codec.CorruptError, codec.TruncatedError, codec.LimitError
    many = HEAD8 + " 00" + _eg(3) + " 0 0 0"  # 2 groups of 4 (count 4)
    out = {
        "len_k 41": (v4_package(WORKED_BITS, params=b"\x29\x00\x08"), C),
        "voff_k 33": (v4_package(WORKED_BITS, params=b"\x00\x21\x08"), C),
        "rate 4097": (v4_package(WORKED_BITS, params=b"\x00\x00" + varint(4097)), C),
        "dtype code 0": (v4_package("0 000 0011 0001000 11" + REST), C),
        "dtype code 7": (v4_package("0 111 0011 0001000 11" + REST), C),
        "ndim 33": (v4_package("1 0" + _eg(66) + "0" * 40), L),
        "dim > 2^48": (v4_package("1 0" + _eg(2) + _eg(1 << 48) + "11" + REST), C),
        "zero flag, no zero dim": (v4_package("1 0" + _eg(3) + _eg(8) + "11" + REST), C),
        "Exp-Golomb prefix of 57 zeros": (v4_package("1 0" + "0" * 57 + "1" + "0" * 70), C),
        "group size > 2^48": (v4_package(HEAD8 + " 00" + _eg(1 << 48) + REST), C),
        "value offset outside int8": (v4_package(HEAD8 + " 11 1" + _seg(200) + " 0 0 1"), C),
        "mirror period 3 of 8": (v4_package(HEAD8 + " 11 0 0 1" + _eg(1) + _eg(0) + " 1"), C),
        "mirror skip > period - 2": (v4_package(HEAD8 + " 11 0 0 1" + _eg(2) + _eg(3) + " 1"),
                                     C),
        "values but no tables": (v4_package(WORKED_BITS, ntab=0), C),
        "table base 3 of 3": (v4_package(HEAD8 + " 11 0 0 0 11 1", ntab=3), C),
        "group length 0": (v4_package(HEAD8 + " 11 0 0 0" + _seg(-1)), C),
        "table id width 13": (v4_package(many + _eg(13) + "000001" + _seg(0)), C),
        "length width 0": (v4_package(many + _eg(0) + "000000" + _seg(0)), C),
        "length width 57": (v4_package(many + _eg(0) + "111001" + _seg(0)), C),
        "payload < 0": (v4_package(many + _eg(0) + "000001" + _seg(-2)), C),
        "2 groups in 0 payload bytes": (v4_package(many + _eg(0) + "000001" + _seg(-1)), C),
        "block outside the data area": (v4_package(HEAD8 + " 11 0 0 0" + _seg(100)), C),
        "blocks end before the directory": (v4_package(WORKED_BITS, blocks=b"\x00\x00"), C),
        "bit string truncated": (v4_package(HEAD8 + " 11 0 0 0", tail=b""), T),
        "stray byte after the CRCs": (v4_package(WORKED_BITS, dir_extra=b"\x00"), C),
        "chunk size 2^5": (v4_package(WORKED_BITS, tail=b"\x05" + rv2.chunk_crcs(b"\x00")[1:]),
                           C),
    }
    return out


def test_hand_made_valid_variants():
    """The hand-made builder's valid neighbours: two groups with a table (1 + 1 bits, one
    payload byte), and a value offset."""
    many = HEAD8 + " 00" + _eg(3) + " 0 0 0" + _eg(0) + "000001" + _seg(0)
    # group table: two 1-bit length fields "1" "1" -> 0xC0; payload: two EOBs "00" -> 0x00
    data = v4_package(many, blocks=b"\xc0\x00")
    assert ref.unpack(data)["t"].tolist() == [0] * 8
    assert codec.unpack(data)["t"].tolist() == [0] * 8
    off = v4_package(HEAD8 + " 11 1" + _seg(-7) + " 0 0 1")
    assert ref.unpack(off)["t"].tolist() == [-7] * 8
    assert codec.unpack(off)["t"].tolist() == [-7] * 8


@pytest.mark.parametrize("what", sorted(_hand_made()))
def test_hand_made_violations(what):
    data, cls = _hand_made()[what]
    with pytest.raises(cls) as got:
        ref.read_package(data, verify=False)
    assert type(got.value) is cls, got.value
    fast, slow = _both(data, verify=False)
    assert type(slow) is cls
    assert type(fast) is cls, (what, fast)
    assert fast.offset == slow.offset, (what, fast, slow)


# --- the table pool (§28.1, §29, T1v4-T6v4 of §30) --------------------------------------------

from codec.format import DEFAULT_LIMITS, Limits, Table, _parse_fast_v2  # noqa: E402
from codec import format_v4 as cv4  # noqa: E402


def alpha(kref: int, nrun: int, nclass: int) -> str:
    """A table's alphabet fields: kref (3 bits), EG0(nrun - 1), EG0(nclass - 1)."""
    return format(kref, "03b") + _eg(nrun - 1) + _eg(nclass - 1)


def m0(items, gk=0, dk=0, n_codes=None) -> str:
    """Mode 0 fields of (symbol, length) pairs in the given order: mode, gk, EG0(n_codes - 1),
    dk, then each symbol's EG(gk) gap and its length (4 bits first, then sEG(dk) deltas)."""
    n = len(items) if n_codes is None else n_codes
    out = "0" + format(gk, "02b") + _eg(n - 1) + format(dk, "02b")
    prev, pl = -1, 0
    for sym, ln in items:
        out += _eg(sym - prev - 1, gk) + (format(ln, "04b") if prev < 0 else _seg(ln - pl, dk))
        prev, pl = sym, ln
    return out


def m1(by_len: dict, gk=0, counts=None) -> str:
    """Mode 1 fields: mode, gk, EG0(count[1..12]), then each length's symbols as EG(gk) gaps."""
    lists = [by_len.get(L, []) for L in range(1, 13)]
    out = "1" + format(gk, "02b") + "".join(_eg(c) for c in (counts or [len(x) for x in lists]))
    for syms in lists:
        prev = -1
        for sym in syms:
            out += _eg(sym - prev - 1, gk)
            prev = sym
    return out


def pool_bytes(ntab: int, bits: str, pad: str = "0") -> bytes:
    """n_tables, then the pool ``bits`` padded to a byte with ``pad`` bits."""
    bits = bits.replace(" ", "")
    return varint(ntab) + B(bits + pad * (-len(bits) % 8)).tobytes()


def entry_bits(ntab: int, tid: int = 0) -> str:
    """WORKED_BITS (8 int8 zeros, one group of 1 bit: EOB) with a table base of tid_w bits."""
    tw = rv4.tid_width(ntab)
    return "1 0011 0001000 11 0 0 0" + (format(tid, f"0{tw}b") if tw else "") + " 1"


def pool_package(ntab: int, bits: str, tid: int = 0, pad: str = "0") -> bytes:
    return v4_package(entry_bits(ntab, tid), pool=pool_bytes(ntab, bits, pad))


def raw_v4(directory: bytes, blocks: bytes = b"") -> bytes:
    pre = b"SPKG\x04\x00\x00\x00"
    return pre + blocks + directory + struct.pack("<II", len(directory),
                                                  zlib.crc32(pre + directory)) + b"GKPS"


def ref_limits(limits):
    return ref.RefLimits(**{k: getattr(limits, k) for k in ref.RefLimits.__dataclass_fields__})


def both_errors(data: bytes, limits=DEFAULT_LIMITS):
    """(codec.unpack's exception or result, the reference's), CRCs off, the same limits."""
    out = []
    for f in (lambda: codec.unpack(data, verify=False, limits=limits),
              lambda: ref.unpack(data, verify=False, limits=ref_limits(limits))):
        try:
            out.append(f())
        except Exception as exc:  # noqa: BLE001 - classified by the callers
            out.append(exc)
    return out


def kernel_of(data: bytes, limits=DEFAULT_LIMITS):
    fpos = len(data) - 12
    off = fpos - struct.unpack_from("<I", data, fpos)[0]
    return _parse_fast_v2(data[off:fpos], off, limits, 4)


S31_TABLE = ref.RefTable(1, 3, 3, [1, 0, 0, 2, 0, 0, 0, 0, 0, 0, 2])  # §22 / §31's table
EOB0 = alpha(0, 1, 1) + m0([(0, 1)])  # kref 0, nrun 1, nclass 1 (3 symbols): EOB "0"


def dense_table(seed: int = 5) -> ref.RefTable:
    """An 8-bit-like table whose lengths jump from symbol to symbol (mode 1's case)."""
    rng = np.random.default_rng(seed)
    lengths = [int(x) for x in rng.integers(7, 13, size=66)]
    lengths[0] = 2
    return ref.RefTable(0, 2, 32, lengths)


def random_tables(rng, n: int) -> list[ref.RefTable]:
    """Random Kraft-valid tables (EOB always coded), alphabets often repeated."""
    out = []
    for _ in range(n):
        if out and rng.random() < 0.4:
            kref, nrun, nclass = out[-1].kref, out[-1].nrun, out[-1].nclass
        else:
            kref = int(rng.integers(0, 7))
            nrun = int(rng.choice([1, 2, 3, 16, 300]))
            nclass = int(rng.integers(1, min(40, ref.decoder.max_classes(kref)) + 1))
        nsym = 2 + nclass * nrun
        density = rng.choice([0.02, 0.3, 1.0])
        lengths = [0] * nsym
        kraft = 0
        smooth = rng.random() < 0.5
        ln = int(rng.integers(1, 13))
        for s in range(nsym):
            if s and rng.random() >= density:
                continue
            ln = (min(12, max(1, ln + int(rng.integers(-1, 2)))) if smooth
                  else int(rng.integers(1, 13)))
            for cand in range(ln, 13):
                if kraft + (1 << (12 - cand)) <= 4096:
                    lengths[s] = cand
                    kraft += 1 << (12 - cand)
                    break
        assert lengths[0]
        out.append(ref.RefTable(kref, nrun, nclass, lengths))
    return out


def codec_pool(tables) -> bytes:
    out = bytearray()
    cv4.write_tables(out, [Table(t.kref, t.nrun, t.nclass, np.array(t.lengths, np.uint8))
                           for t in tables])
    return bytes(out)


def read_pool(data: bytes, limits=ref.RefLimits()):
    from codec.reference.decoder import ByteReader
    from codec.reference.decoder_v4 import read_tables
    r = ByteReader(data, 0, len(data))
    tables = read_tables(r, limits)
    return tables, r.pos


def test_table_pool_worked_example():
    """§31's table: 34 bits, mode 0 with gk = dk = 0."""
    bits = "001 011 011 0 00 011 00 1 0001 011 011 00111 1"
    assert rv4.best_table_choice(S31_TABLE, False) == (0, 0, 0)
    assert rv4.table_string(S31_TABLE, False, 0, 0, 0).to01() == bits.replace(" ", "")
    assert rv4.tables_bytes([S31_TABLE]) == pool_bytes(1, bits) == bytes.fromhex("012d8645b3c0")
    tables, end = read_pool(pool_bytes(1, bits))
    assert tables == [S31_TABLE] and end == 6


def test_table_choice_ties_and_modes():
    # an EOB-only table: the 4 delta orders write the same 12 bits (no delta): dk = 0 wins
    sizes = {c: len(rv4.table_string(EOB_TABLE, False, *c)) for c in rv4.TABLE_CHOICES}
    assert sizes[(0, 0, 0)] == sizes[(0, 0, 3)] == 16 and min(sizes.values()) == 16
    assert rv4.best_table_choice(EOB_TABLE, False) == (0, 0, 0)
    assert rv4.table_string(EOB_TABLE, False, 0, 0, 0).to01() == EOB0
    assert rv4.table_string(EOB_TABLE, True, 0, 0, 0).to01() == m0([(0, 1)])
    dense = dense_table()
    assert rv4.best_table_choice(dense, False)[0] == 1
    assert len(rv4.TABLE_CHOICES) == 20 and rv4.TABLE_CHOICES == sorted(rv4.TABLE_CHOICES)


def test_table_pool_same_alphabet_and_several_tables():
    other = ref.RefTable(1, 3, 3, [2, 0, 0, 2, 1, 0, 0, 0, 0, 0, 0])
    dense = dense_table()
    tables = [S31_TABLE, other, dense, S31_TABLE, dense]

    def best(t, same):
        return rv4.table_string(t, same, *rv4.best_table_choice(t, same)).to01()

    assert rv4.best_table_choice(dense, False)[0] == 1
    assert rv4.best_table_choice(S31_TABLE, False)[0] == 0
    # same_alphabet: 1 for `other` (S31's alphabet) and the last table, 0 for the others
    want = best(S31_TABLE, False) + "1" + best(other, True) + "0" + best(dense, False)
    want += "0" + best(S31_TABLE, False) + "0" + best(dense, False)
    got = rv4.tables_bytes(tables)
    assert got == pool_bytes(5, want)
    assert got == codec_pool(tables)
    back, end = read_pool(got + b"\xff")
    assert back == tables and end == len(got)


def test_table_pool_writer_equals_codec_on_random_tables():
    rng = np.random.default_rng(2024)
    seen = set()
    for _ in range(40):
        tables = random_tables(rng, int(rng.integers(1, 6)))
        data = rv4.tables_bytes(tables)
        assert data == codec_pool(tables)
        back, end = read_pool(data)
        assert back == tables and end == len(data)
        prev = None
        for t in tables:
            same = (t.kref, t.nrun, t.nclass) == prev
            prev = (t.kref, t.nrun, t.nclass)
            c = rv4.best_table_choice(t, same)
            n = [len(rv4.table_string(t, same, *x)) for x in rv4.TABLE_CHOICES]
            assert len(rv4.table_string(t, same, *c)) == min(n)
            assert rv4.TABLE_CHOICES.index(c) == n.index(min(n))
            seen.add(c[0])
    assert seen == {0, 1}


def test_hand_made_pools_decode_alike():
    """Valid pools not written by the writer: gk, dk > 0, mode 1, same_alphabet = 1, an
    alphabet repeated with same_alphabet = 0, pad bits set; both readers and the kernel read
    the same tables, both decoders the same tensor."""
    t0 = alpha(1, 3, 3) + m0([(0, 1), (3, 2), (10, 2)], gk=2, dk=1)
    t1 = "1" + m1({1: [0], 2: [3, 10]}, gk=1)
    t2 = "0" + alpha(1, 3, 3) + m0([(0, 1), (3, 3), (4, 3)], gk=3, dk=3)
    t3 = "0" + alpha(0, 1, 1) + m1({1: [0]}, gk=2)
    t4 = "1" + m0([(0, 1), (1, 2), (2, 2)], gk=1)
    want = [[1, 0, 0, 2, 0, 0, 0, 0, 0, 0, 2], [1, 0, 0, 2, 0, 0, 0, 0, 0, 0, 2],
            [1, 0, 0, 3, 3, 0, 0, 0, 0, 0, 0], [1, 0, 0], [1, 2, 2]]
    bits = t0 + t1 + t2 + t3 + t4
    for tid in range(5):
        for pad in "01":
            data = pool_package(5, bits, tid, pad)
            p = ref.read_package(data)
            assert [t.lengths for t in p.tables] == want
            assert [(t.kref, t.nrun, t.nclass) for t in p.tables] == \
                [(1, 3, 3)] * 3 + [(0, 1, 1)] * 2
            d = codec.Package(data).directory
            assert [list(map(int, t.lengths)) for t in d.tables] == want
            assert kernel_of(data) is not None
            assert p.tensors["t"].tolist() == [0] * 8 == codec.unpack(data)["t"].tolist()


def _pool_violations():
    """{what: (package, error class, limits)}: every check T1v4-T6v4, the Exp-Golomb prefix
    bound and truncation, in table 0 or a later table."""
    C, T, L = codec.CorruptError, codec.TruncatedError, codec.LimitError
    D = DEFAULT_LIMITS
    eob = m0([(0, 1)])
    big = alpha(6, 4095, 16)  # nsym 2 + 16 * 4095 = 65522
    out = {
        # T1v4
        "n_tables 1025 > 1024": (v4_package(entry_bits(1), pool=varint(1025)), L, D),
        "n_tables 3 > max_tables 2": (pool_package(3, EOB0 + "1" + eob + "1" + eob), L,
                                      Limits(max_tables=2)),
        # T2v4
        "kref 7": (pool_package(2, EOB0 + "0" + "111" + _eg(0) + _eg(0) + eob), C, D),
        "kref 7 in table 0": (pool_package(1, "111" + _eg(0) + _eg(0) + eob), C, D),
        "nrun 4097": (pool_package(2, EOB0 + "0" + "000" + _eg(4096) + _eg(0) + eob), C, D),
        "nclass 33 > max_classes(0)": (pool_package(2, EOB0 + "0" + alpha(0, 1, 33) + eob), C,
                                       D),
        "nclass 1728 > max_classes(6)": (pool_package(1, alpha(6, 1, 1728) + eob), C, D),
        # T3v4
        "nsym 65538 > 65536": (pool_package(2, EOB0 + "0" + alpha(6, 4096, 16) + eob), L, D),
        "running total > 2^20": (pool_package(17, big + eob + ("1" + eob) * 16), L, D),
        "running total > max_table_symbols 5": (pool_package(2, EOB0 + "1" + eob), L,
                                                Limits(max_table_symbols=5)),
        # T4v4
        "mode 0: 4 codes for 3 symbols": (pool_package(2, EOB0 + "1" + m0(
            [(0, 1), (1, 2), (2, 2)], n_codes=4)), C, D),
        "mode 1: 4 codes for 3 symbols": (pool_package(2, EOB0 + "1" + m1(
            {}, counts=[2, 2] + [0] * 10)), C, D),
        # T5v4
        "mode 0: first symbol 3 of 3": (pool_package(1, alpha(0, 1, 1) + m0([(3, 1)])), C, D),
        "mode 0: later symbol beyond": (pool_package(2, EOB0 + "1" + m0(
            [(0, 1), (9, 1)], gk=2)), C, D),
        "mode 0: first length 0": (pool_package(1, alpha(0, 1, 1) + m0([(0, 0)])), C, D),
        "mode 0: first length 13": (pool_package(1, alpha(0, 1, 1) + m0([(0, 13)])), C, D),
        "mode 0: length 12 + 1": (pool_package(2, EOB0 + "1" + m0(
            [(0, 12), (1, 13)], dk=1)), C, D),
        "mode 0: length 1 - 1": (pool_package(2, EOB0 + "1" + m0([(0, 1), (2, 0)])), C, D),
        "mode 1: symbol 3 of 3": (pool_package(2, EOB0 + "1" + m1({1: [0], 2: [3]})), C, D),
        "mode 1: symbol listed twice": (pool_package(2, EOB0 + "1" + m1(
            {1: [0], 2: [0]}, gk=1)), C, D),
        # T6v4
        "mode 0: no EOB code": (pool_package(2, EOB0 + "1" + m0([(1, 1)])), C, D),
        "mode 1: no EOB code": (pool_package(1, alpha(0, 1, 1) + m1({1: [1], 2: [2]})), C, D),
        "mode 0: Kraft 3 x 1 bit": (pool_package(2, EOB0 + "1" + m0(
            [(0, 1), (1, 1), (2, 1)])), C, D),
        "mode 1: Kraft 3 x 1 bit": (pool_package(2, EOB0 + "1" + m1({1: [0, 1, 2]})), C, D),
        # Exp-Golomb prefix bound (z + k > 56) and bits past the directory's end
        "nrun prefix of 57 zeros": (pool_package(2, EOB0 + "0" + "000" + "0" * 57 + "1" * 64),
                                    C, D),
        "gap prefix of 54 zeros, gk 3": (pool_package(2, EOB0 + "1" + "0 11 1 00" + "0" * 54
                                                      + "1" * 64), C, D),
        "pool ends in gk": (raw_v4(pool_bytes(2, EOB0 + "0" + "000 1 1" + "0" + "0")), T, D),
        "pool ends in a prefix": (raw_v4(pool_bytes(2, EOB0 + "1" + "0 00" + "0000")), T, D),
        "pool ends in counts": (raw_v4(pool_bytes(2, EOB0 + "1" + "1 00" + "1" * 11)), T, D),
    }
    return out


@pytest.mark.parametrize("what", sorted(_pool_violations()))
def test_table_pool_checks_agree(what):
    """Each T1v4-T6v4 check (and the Exp-Golomb and truncation rules): the reference and
    codec.unpack raise the same class at the same byte; the kernel rejects too."""
    data, cls, limits = _pool_violations()[what]
    fast, slow = both_errors(data, limits)
    assert type(slow) is cls, (what, slow)
    assert type(fast) is cls, (what, fast)
    assert fast.offset == slow.offset, (what, fast, slow)
    fpos = len(data) - 12
    off = fpos - struct.unpack_from("<I", data, fpos)[0]
    assert off <= slow.offset <= fpos
    assert kernel_of(data, limits) is None


def test_table_pool_check_offsets():
    """Where the checks point: T2v4-T4v4, T6v4 at the table's first byte, T5v4 at the byte of
    the symbol's gap, T1v4 at n_tables, truncation at the field's first byte."""
    v = _pool_violations()
    dir_off = 9  # the one-byte data area of v4_package
    # table 1 starts at pool bit 16 (EOB0 is 16 bits): pool byte 2, after the 1-byte n_tables
    for what in ("kref 7", "nrun 4097", "nsym 65538 > 65536", "mode 0: no EOB code",
                 "mode 1: Kraft 3 x 1 bit", "running total > max_table_symbols 5"):
        data, cls, limits = v[what]
        assert both_errors(data, limits)[1].offset == dir_off + 1 + 2, what
    assert both_errors(*v["n_tables 1025 > 1024"][::2])[1].offset == dir_off
    # "mode 0: later symbol beyond": table 1 from pool bit 16: same "1", mode "0", gk "10",
    # n_codes - 1 "010", dk "00", gap "1 00", length "0001" = 16 bits: the second gap starts
    # at pool bit 32 (byte 4)
    assert both_errors(v["mode 0: later symbol beyond"][0])[1].offset == dir_off + 1 + 4
    # "pool ends in gk": gk starts at pool bit 16 + 1 + 3 + 1 + 1 + 1 = 23: byte 2
    assert both_errors(v["pool ends in gk"][0])[1].offset == 8 + 1 + 2
    # 16 tables of 65522 symbols fit 2^20, the 17th does not: table 16 starts after table 0
    # (3 + 23 + 9 bits of alphabet, 11 of codes) and 15 tables of 1 + 11 bits: pool bit 226
    assert (16 * 65522 <= 1 << 20) and (17 * 65522 > 1 << 20)
    data, _, limits = v["running total > 2^20"]
    assert both_errors(data, limits)[1].offset == dir_off + 1 + 226 // 8


def test_table_pool_bit_flips_agree():
    """Every bit of a pool with mode 0 and mode 1 tables and same_alphabet flipped (directory
    CRC repaired): the directory readers (codec.Package, the reference header) raise the same
    class at the same byte or both accept; then codec.unpack and the reference accept alike
    or raise the same class (payload errors may name different bytes)."""
    dense = dense_table()
    tables = [S31_TABLE, ref.RefTable(1, 3, 3, [2, 0, 0, 2, 1, 0, 0, 0, 0, 0, 0]), dense]
    x = np.array([[0, 0, 3], [0, -1, 0]], np.int8)
    y = np.arange(-20, 20, dtype=np.int8)
    data = ref.pack({"x": x, "y": y}, tables, {"x": ref.TensorChoice("kernel", 3, 0, [0, 1]),
                                               "y": ref.TensorChoice("count", 40, 0, 2)})
    assert data == ref.reencode(data)
    assert_same_tensors(codec.unpack(data), {"x": x, "y": y})
    fpos = len(data) - 12
    off = fpos - struct.unpack_from("<I", data, fpos)[0]
    pool = rv4.tables_bytes(tables)
    assert data[off:off + len(pool)] == pool
    accepted = 0
    for bit in range(8 * off, 8 * (off + len(pool))):
        bad = bytearray(data)
        bad[bit // 8] ^= 0x80 >> (bit % 8)
        bad = fix_crc(bad)
        head = []
        for f in (lambda: codec.Package(bad).directory,
                  lambda: ref.read_package(bad, decode=False, verify=False)):
            try:
                head.append(f())
            except codec.CodecError as exc:
                head.append(exc)
        fh, sh = head
        assert isinstance(fh, Exception) == isinstance(sh, Exception), (bit, fh, sh)
        if isinstance(fh, Exception):
            assert type(fh) is type(sh) and fh.offset == sh.offset, (bit, fh, sh)
            continue
        assert [list(map(int, t.lengths)) for t in fh.tables] == [t.lengths for t in sh.tables]
        fast, slow = both_errors(bad)
        assert isinstance(fast, dict) == isinstance(slow, dict), (bit, fast, slow)
        if isinstance(fast, dict):
            accepted += 1
            assert_same_tensors(slow, fast)
        else:
            assert isinstance(fast, codec.CodecError) and type(fast) is type(slow), \
                (bit, fast, slow)
    assert accepted > 0


def test_reencode_v4_vectors():
    """The golden vectors (regenerated with §28.1's pool) are what the reference writes."""
    from pathlib import Path
    vecs = sorted((Path(__file__).parent / "vectors" / "v4").glob("*.bin"))
    modes = set()
    for path in vecs:
        data = path.read_bytes()
        assert ref.reencode(data) == data, path.stem
        prev = None
        for t in ref.read_package(data, decode=False).tables:
            modes.add(rv4.best_table_choice(t, (t.kref, t.nrun, t.nclass) == prev)[0])
            prev = (t.kref, t.nrun, t.nclass)
    assert len(vecs) == 33 and modes == {0, 1}
