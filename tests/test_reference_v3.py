"""Format v3 (docs/FORMAT.md §23-§26, the mirror transform): the pure-Python reference against
itself, against the spec's rules, and against ``codec.pack`` / ``codec.unpack``."""
from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import codec
from codec import reference as ref
from codec.reference import encoder_v2 as rv2
from codec.reference.encoder import table_bytes, varint

DTYPES = ["int8", "uint8", "int16", "uint16", "int32", "uint32"]
V3_VECTORS = sorted((Path(__file__).resolve().parent / "vectors" / "v3").glob("*.bin"))
SAMPLES = ["sample"] + [p.stem for p in V3_VECTORS]


from test_reference import (_both, _fix_directory_crc, assert_same_tensors,  # noqa: E402
                            flips_agree)


# --- building v3 packages with the reference alone (decisions made here, by hand) -------------

_symbols = ref.encoder.group_symbols
_lengths = ref.encoder.code_lengths


def ref_pack(tensors: dict, mirrors: dict, *, group_size=None, version=3, modes=None,
             kref=1, nrun=8) -> bytes:
    """A package written by the reference alone (format v3 unless ``version`` says otherwise):
    one table built from the *stored* values, one group per ``group_size`` values (default:
    the whole tensor), offset per §13."""
    modes = modes or {}
    stored, choices = {}, {}
    for name, x in tensors.items():
        dtype = x.dtype.name
        flat = [int(v) for v in x.reshape(-1).tolist()]
        z = ref.value_offset_of(flat, dtype)
        mir = mirrors.get(name)
        m = None
        if mir is not None:
            m = modes.get(name) or ref.row_modes(flat, mir[0], mir[1], z, dtype)
            flat = ref.mirror_forward(flat, mir[0], mir[1], z, m, dtype)
        gs = group_size or max(1, x.size)
        stored[name] = (flat, z, gs)
        choices[name] = ref.TensorChoice("count", gs, z, 0, mirror=mir, mirror_modes=m)
    counts: dict[int, int] = {0: 1}
    maxmag = 1
    for flat, z, gs in stored.values():
        for g in range(0, len(flat), gs):
            for s in _symbols(flat[g:g + gs], z, kref, nrun):
                counts[s] = counts.get(s, 0) + 1
        maxmag = max([maxmag] + [abs(v - z) for v in flat])
    nclass = ref.decoder.mag_class(maxmag, kref)[0] + 1
    table = (kref, nrun, nclass, _lengths(counts, 2 + nclass * nrun))
    return ref.pack(tensors, [table], choices, version=version)


def sym_rows(rng, rows, P, a, dtype, z=0, anti=None, spread=20, noise=0.0):
    """Rows of P values, (anti)symmetric after a leading values around offset z (wrapping)."""
    info = np.iinfo(dtype)
    width = 1 << (8 * np.dtype(dtype).itemsize)
    M = P - a
    h = M // 2
    out = np.zeros((rows, P), np.int64)
    for r in range(rows):
        s = (1 if rng.random() < 0.5 else -1) if anti is None else (-1 if anti else 1)
        row = [int(rng.integers(-spread, spread + 1)) for _ in range(P)]
        for k in range(h):
            row[a + M - 1 - k] = s * row[a + k]
        if M % 2 and s < 0:
            row[a + h] = 0
        out[r] = row
    out[rng.random(out.shape) < noise] += 1
    out = (out + z - int(info.min)) % width + int(info.min)  # d + z, wrapped into the dtype
    return out.astype(dtype)


# --- reference-only checks --------------------------------------------------------------------

def test_worked_example_s26():
    """§26: rows [0 | 1 2 | 3 | 2 1] (mode 1) and [0 | 4 0 | 0 | 0 -4] (mode 2), P 6, a 1."""
    x = np.array([[0, 1, 2, 3, 2, 1], [0, 4, 0, 0, 0, -4]], np.int8)
    assert ref.row_modes(x.reshape(-1).tolist(), 6, 1, 0, "int8") == [1, 2]
    assert ref.mirror_forward(x.reshape(-1).tolist(), 6, 1, 0, [1, 2], "int8") == \
        [0, 1, 2, 3, 0, 0, 0, 4, 0, 0, 0, 0]
    assert rv2.mode_string([1, 2]) == b"\x60"
    data = ref_pack({"stft": x}, {"stft": (6, 1)}, version=3)
    assert data[:8] == b"SPKG\x03\x00\x00\x00"
    p = ref.read_package(data)
    e = p.entries[0]
    assert (e.mirror_period, e.mirror_skip, e.mirror_bytes, e.mirror_modes) == (6, 1, 1, [1, 2])
    assert data[e.block_offset + e.meta_length] == 0x60
    assert np.array_equal(p.tensors["stft"], x)
    assert ref.reencode(data) == data
    assert ref.choose_mirror(x) is None  # numel 12 < 16: §25 never picks it


def test_wrap_examples():
    from codec.reference.decoder_v2 import wrap
    assert wrap(200, "int8") == -56 and wrap(-3, "uint8") == 253
    assert wrap(-129, "int8") == 127 and wrap(65536, "uint16") == 0
    assert wrap(-(1 << 31) - 1, "int32") == (1 << 31) - 1 and wrap(1 << 32, "uint32") == 0


CASES = [  # (dtype, P, a, value offset or None = §13, spread)
    ("int8", 8, 0, None, 127), ("int8", 9, 1, None, 127), ("int8", 7, 0, None, 5),
    ("int16", 16, 1, None, 32767), ("int16", 5, 0, None, 3), ("int32", 12, 1, None, 2**31 - 1),
    ("int32", 6, 0, None, 9), ("uint8", 8, 1, 128, 127), ("uint8", 9, 0, 3, 100),
    ("uint16", 10, 1, 40000, 30000), ("uint16", 4, 0, 7, 5), ("uint32", 6, 1, 2**31, 2**31 - 1),
]


def _case(dtype, P, a, z, spread, seed=0, rows=9):
    rng = np.random.default_rng(seed)
    zz = 0 if z is None else z
    x = sym_rows(rng, rows, P, a, dtype, z=zz, spread=spread, noise=0.05)
    x = x.reshape(3, rows // 3, P) if rows % 3 == 0 else x
    return x


@pytest.mark.parametrize("dtype,P,a,z,spread", CASES)
def test_reference_round_trip_v3(dtype, P, a, z, spread):
    x = _case(dtype, P, a, z, spread)
    info = np.iinfo(dtype)
    x.reshape(-1)[:4] = [info.min, info.max, info.max, info.min]  # wrap at min / max
    y = np.arange(40, dtype=dtype).reshape(5, 8)  # a second tensor without the mirror
    for gs in (None, P, 5):
        data = ref_pack({"x": x, "y": y}, {"x": (P, a)}, group_size=gs)
        assert data[4] == 3
        assert_same_tensors(ref.unpack(data), {"x": x, "y": y})
        e = ref.read_package(data, decode=False).entries
        assert (e[0].mirror_period, e[0].mirror_skip) == (P, a) and e[1].mirror_period == 0
        assert ref.reencode(data) == data


def test_reference_modes_explicit_and_mode_zero_rows():
    x = _case("int16", 8, 0, None, 50)
    rows = x.size // 8
    for modes in ([0] * rows, [1] * rows, [2] * rows, [r % 3 for r in range(rows)]):
        data = ref_pack({"x": x}, {"x": (8, 0)}, modes={"x": modes})
        p = ref.read_package(data)
        assert p.entries[0].mirror_modes == modes
        assert np.array_equal(p.tensors["x"], x)
        assert ref.reencode(data) == data


def test_reference_version_rules():
    x = _case("int8", 8, 1, None, 9)
    assert ref_pack({"x": x}, {}, version=None)[4] == 4  # §31: the newest, mirror or not
    assert ref_pack({"x": x}, {"x": (8, 1)}, version=None)[4] == 4
    assert ref_pack({"x": x}, {}, version=2)[4] == 2
    three = ref_pack({"x": x}, {}, version=3)
    assert three[4] == 3 and ref.unpack(three)["x"].tobytes() == x.tobytes()
    assert ref.reencode(three) == three
    with pytest.raises(ValueError):
        ref_pack({"x": x}, {"x": (8, 1)}, version=2)
    with pytest.raises(ValueError):
        ref_pack({"x": x}, {"x": (5, 1)})  # 5 does not divide numel
    with pytest.raises(ValueError):
        ref_pack({"x": x}, {"x": (8, 7)})  # a > P - 2


def _set_mode3(data: bytes, fix_crc: bool) -> bytes:
    """Row 0's mode field set to 3 (bits 11), chunk CRCs repaired if ``fix_crc``."""
    p = ref.read_package(data, decode=False)
    e = next(e for e in p.entries if e.mirror_period)
    bad = bytearray(data)
    bad[e.block_offset + e.meta_length] |= 0xC0
    if fix_crc:
        fpos = len(bad) - 24
        dir_off, dir_len, _ = struct.unpack_from("<QQI", bad, fpos)
        log2, crcs = ref.read_header(data)[6]
        start = dir_off + dir_len - 4 * len(crcs)  # the CRCs end the directory
        size = 1 << log2
        for c in range(len(crcs)):
            lo = 8 + c * size
            struct.pack_into("<I", bad, start + 4 * c, zlib.crc32(bytes(bad[lo:min(lo + size,
                                                                                dir_off)])))
        struct.pack_into("<I", bad, fpos + 16,
                         zlib.crc32(bytes(bad[:8]) + bytes(bad[dir_off:fpos])))
    return bytes(bad)


def test_reference_rejects_mode_3():
    x = _case("int8", 8, 1, None, 9)
    data = ref_pack({"x": x}, {"x": (8, 1)})
    with pytest.raises(codec.ChecksumError):
        ref.unpack(_set_mode3(data, False))
    for fix in (False, True):
        with pytest.raises(codec.CorruptError, match="mode 3"):
            ref.unpack(_set_mode3(data, fix), verify=False)
        with pytest.raises(codec.CorruptError, match="mode 3"):
            ref.read_package(_set_mode3(data, fix), decode=False, verify=False)


def _one_tensor_v3(flags: int, dims, fields: bytes, block: bytes, version: int = 3) -> bytes:
    """A one-tensor package with one table (EOB only) and a hand-made entry: ``flags``,
    ``dims``, then ``fields`` (everything after the dims) verbatim."""
    table = table_bytes(ref.RefTable(0, 1, 1, [1, 0, 0]))
    entry = bytes([flags]) + varint(len(dims)) + b"".join(varint(d) for d in dims) + fields
    names = rv2.names_bytes(["t"])
    directory = varint(1) + table + varint(1) + names + entry + rv2.chunk_crcs(block)
    pre = b"SPKG" + bytes([version, 0, 0, 0])
    off = 8 + len(block)
    return pre + block + directory + struct.pack("<QQI", off, len(directory),
                                                 zlib.crc32(pre + directory)) + b"GKPS"


def _entry_fields(P: int, a: int, blen: int, len_bits: int = 1) -> bytes:
    return varint(blen) + varint(P) + varint(a) + varint(0) + varint(len_bits)


def _hand_made_entries():
    """(a valid one-tensor v3 package, {what: the package with that damage})."""
    # int8 (code 1), group code 3 (whole tensor), 8 zeros: block = modes, group table, payload
    flags = 1 | 3 << 3 | 0x80
    ok_block = b"\x00" + b"\x80" + b"\x00"  # P 4: 2 rows -> 1 mode byte; record len 1; EOB "0"
    ok = _one_tensor_v3(flags, [8], _entry_fields(4, 0, 3), ok_block)
    bad = {
        "X1 period 0": _one_tensor_v3(flags, [8], _entry_fields(0, 0, 3), ok_block),
        "X1 period 1": _one_tensor_v3(flags, [8], _entry_fields(1, 0, 3), ok_block),
        "X1 not a divisor": _one_tensor_v3(flags, [8], _entry_fields(3, 0, 3), ok_block),
        "X1 period > 2^48": _one_tensor_v3(flags, [8], _entry_fields((1 << 48) + 8, 0, 3),
                                           ok_block),
        "X1 empty": _one_tensor_v3(flags, [0], varint(0) + varint(2) + varint(0), b""),
        "X2": _one_tensor_v3(flags, [8], _entry_fields(4, 3, 3), ok_block),
        "X3": _one_tensor_v3(flags, [8], varint(0) + varint(4) + varint(0) + varint(0)
                             + varint(1), b""),
        # the mode byte leaves no payload byte for the group (E15 with v3's payload_bytes)
        "payload": _one_tensor_v3(flags, [8], _entry_fields(4, 0, 2), ok_block[:2]),
        "v2 flag": _one_tensor_v3(flags, [8], _entry_fields(4, 0, 3), ok_block, version=2),
    }
    return ok, bad


def test_reference_entry_checks_x1_x3():
    ok, bad = _hand_made_entries()
    assert ref.unpack(ok)["t"].tolist() == [0] * 8
    assert ref.read_package(ok).entries[0].mirror_modes == [0, 0]
    for what, data in bad.items():
        with pytest.raises(codec.CorruptError):
            ref.unpack(data)
    with pytest.raises(codec.UnsupportedError):
        ref.unpack(ok[:4] + b"\x08" + ok[5:])


def test_reference_choose_mirror_rule_by_hand():
    rng = np.random.default_rng(5)
    sym = sym_rows(rng, 8, 16, 1, "int8", anti=False)
    assert ref.choose_mirror(sym) == ((16, 1), ref.row_modes(sym.reshape(-1).tolist(), 16, 1,
                                                             0, "int8"))
    anti = sym_rows(rng, 8, 16, 0, "int16", anti=True)
    (pa, modes) = ref.choose_mirror(anti)
    assert pa == (16, 0) and set(modes) == {2}
    noise = rng.integers(-5, 6, size=(8, 16)).astype(np.int8)
    assert ref.choose_mirror(noise) is None
    assert ref.choose_mirror(sym[:1, :15]) is None  # numel 15 < 16
    one = sym_rows(rng, 1, 33, 1, "int32", anti=False).reshape(-1)  # 1-D: P = K = numel
    assert ref.choose_mirror(one) == ((33, 1), [1])


# --- against codec ----------------------------------------------------------------------------

def test_entry_checks_x1_x3_match_codec():
    ok, bad = _hand_made_entries()
    assert codec.unpack(ok)["t"].tolist() == [0] * 8
    for what, data in bad.items():
        fast, slow = _both(data)
        assert isinstance(fast, codec.CorruptError), (what, fast)
        assert type(fast) is type(slow), (what, fast, slow)

def _entries(data):
    return ref.read_package(data, decode=False).entries


@pytest.mark.parametrize("dtype,P,a,z,spread", CASES)
def test_forced_mirror_matches_codec(dtype, P, a, z, spread):
    x = _case(dtype, P, a, z, spread, seed=1)
    info = np.iinfo(dtype)
    x.reshape(-1)[:4] = [info.min, info.max, info.max, info.min]
    y = np.zeros((4, 8), dtype)
    for group in ("kernel", "tensor", ("count", 5)):
        data = codec.pack({"x": x, "y": y}, group=group, mirror={"x": (P, a)}, version=3)
        assert data[4] == 3
        e = _entries(data)
        assert (e[0].mirror_period, e[0].mirror_skip) == (P, a) and e[1].mirror_period == 0
        xs = x.reshape(-1).tolist()
        assert e[0].mirror_modes == ref.row_modes(xs, P, a, e[0].value_offset, dtype)
        assert e[0].value_offset == ref.value_offset_of(xs, dtype)
        assert_same_tensors(codec.unpack(data), {"x": x, "y": y})
        assert_same_tensors(ref.unpack(data), {"x": x, "y": y})
        assert ref.reencode(data) == data


def test_worked_example_s26_codec():
    x = np.array([[0, 1, 2, 3, 2, 1], [0, 4, 0, 0, 0, -4]], np.int8)
    data = codec.pack({"stft": x}, group="kernel", version=3, mirror={"stft": (6, 1)})
    e = _entries(data)[0]
    assert (e.mirror_period, e.mirror_skip, e.mirror_modes) == (6, 1, [1, 2])
    assert data[e.block_offset + e.meta_length] == 0x60
    assert_same_tensors(ref.unpack(data), {"stft": x})
    assert ref.reencode(data) == data
    tensors, tables, choices = ref.choices_of(data)
    plain = {k: ref.TensorChoice(c.group_mode, c.group_size, c.value_offset, c.table,
                                 mirror=c.mirror) for k, c in choices.items()}  # modes by §25
    assert ref.pack(tensors, tables, plain, version=3) == data


def test_codec_version_rules():
    x = _case("int8", 8, 1, None, 9)
    assert codec.pack({"x": x}, mirror=None)[4] == 4  # §31: the newest, mirror or not
    data = codec.pack({"x": x}, mirror=None, version=2)
    assert data[4] == 2 and ref.reencode(data) == data
    data = codec.pack({"x": x}, mirror=None, version=3)
    assert data[4] == 3 and all(e.mirror_period == 0 for e in _entries(data))
    assert ref.reencode(data) == data
    assert_same_tensors(ref.unpack(data), {"x": x})
    auto = codec.pack({"x": x}, version=3)  # default mirror: §25's choice
    assert auto[4] == 3
    assert ref.reencode(auto) == auto


def _auto_agrees(ts: dict, data: bytes) -> None:
    """Each tensor's mirror in ``data`` is the reference's own §25 choice."""
    for e in _entries(data):
        want = ref.choose_mirror(ts[e.name])
        got = ((e.mirror_period, e.mirror_skip), e.mirror_modes) if e.mirror_period else None
        assert got == want, e.name
    assert data[4] == 3


@pytest.mark.parametrize("seed", range(6))
def test_auto_mirror_matches_codec(seed):
    rng = np.random.default_rng(seed)
    ts = {}
    for i, dtype in enumerate(DTYPES):
        P = int(rng.integers(4, 19))
        a = int(rng.integers(0, 2))
        info = np.iinfo(dtype)
        z = 0 if info.min < 0 else int(rng.integers(0, min(int(info.max), 2**20)))
        anti = [None, True, False][i % 3]
        spread = int(min(int(info.max) // 2, [3, 60, 2**14][seed % 3]))
        x = sym_rows(rng, int(rng.integers(2, 12)), P, a, dtype, z=z, anti=anti, spread=spread,
                     noise=[0.0, 0.05, 0.3][seed % 3])
        if seed % 2:
            x = x.reshape(x.shape[0], 1, P)
        ts[f"m{i}"] = x
        ts[f"n{i}"] = rng.integers(-3, 4, size=(5, P)).astype(np.int64).astype(dtype)
    ts["small"] = np.array([1, 2, 3, 3, 2, 1], np.int8)
    ts["zeros"] = np.zeros((4, 8), np.int8)
    for group in ("auto", "kernel", ("count", 7)):
        data = codec.pack(ts, group=group, version=3)
        _auto_agrees(ts, data)
        assert_same_tensors(codec.unpack(data), ts)
        assert_same_tensors(ref.unpack(data), ts)
        assert ref.reencode(data) == data


def test_auto_mirror_uint_offset_condition():
    """Unsigned: a tensor whose transform would make another value the most frequent one."""
    rng = np.random.default_rng(11)
    x = sym_rows(rng, 6, 8, 0, "uint8", z=200, anti=True, spread=30)
    ts = {"u": x, "u2": (x.astype(np.int64) + 3).astype(np.uint8)}
    data = codec.pack(ts, version=3)
    _auto_agrees(ts, data)
    assert_same_tensors(ref.unpack(data), ts)
    assert ref.reencode(data) == data


def test_silero_stft_mirror_matches_codec(shared_weights):
    from benchmarks.recipe import quantized_model
    q = quantized_model("silero_vad_16k", 8, 0.0)["stft_conv.weight"]
    want = ref.choose_mirror(q)
    assert want is not None and want[0] == (256, 1)
    ts = {"stft_conv.weight": q}
    data = codec.pack(ts, version=3)
    _auto_agrees(ts, data)
    assert_same_tensors(codec.unpack(data), ts)
    assert_same_tensors(ref.unpack(data), ts)
    assert ref.reencode(data) == data


def test_mode_3_rejected_by_both():
    x = _case("int16", 8, 1, None, 40)
    data = codec.pack({"x": x}, mirror={"x": (8, 1)}, version=3)
    for fix in (False, True):
        bad = _set_mode3(data, fix)
        fast, slow = _both(bad, verify=False)
        assert isinstance(fast, codec.CorruptError) and isinstance(slow, codec.CorruptError), \
            (fast, slow)
        assert type(fast) is type(slow)
        if fix:
            fast, slow = _both(bad, verify=True)
            assert type(fast) is type(slow) and isinstance(fast, codec.CorruptError)
            assert not isinstance(fast, codec.ChecksumError)


def _v3_sample() -> bytes:
    x = _case("int8", 9, 1, None, 20)
    u = _case("uint16", 10, 1, 40000, 300, seed=3)
    return codec.pack({"a.x": x, "a.y": np.arange(20, dtype=np.int16).reshape(4, 5), "b.u": u},
                      group="kernel", mirror={"a.x": (9, 1), "b.u": (10, 1)}, version=3)


@pytest.mark.parametrize("name", SAMPLES)
def test_v3_header_matches_core(name):
    data = _sample(name)
    d = codec.Package(data).directory
    p = ref.read_package(data, decode=False)
    assert d.version == p.version == 3
    for e, c in zip(p.entries, d.tensors, strict=True):
        assert (e.name, e.dtype, e.shape, e.group_size, e.value_offset, e.block_offset,
                e.block_length, e.meta_length, e.group_table_bytes, e.payload_bytes,
                e.mirror_period, e.mirror_skip, e.mirror_bytes) == \
            (c.name, c.dtype.name, c.shape, c.group_size, c.value_offset, c.block_offset,
             c.block_length, c.meta_length, c.group_table_bytes, c.payload_bytes,
             c.mirror_period, c.mirror_skip, c.mirror_bytes)


def test_auto_mirror_sample_step():
    """§25's sample step (tensors of > 8192 values): symmetric rows that all miss the 64
    sampled rows do not get the mirror, in codec and in the reference; sampled rows symmetric
    among noise pass the sample step and then fail the 4/5 share; below 8192 values there is
    no sample step."""
    rng = np.random.default_rng(1)
    x = sym_rows(rng, 1100, 8, 0, "int8", anti=False, spread=20)
    pick = [i * 1099 // 63 for i in range(64)]  # the sampled rows
    assert ref.choose_mirror(x) is not None  # without the noise rows: mirrored
    x[pick] = rng.integers(-20, 21, size=(64, 8))
    assert ref.choose_mirror(x) is None
    _auto_agrees({"x": x}, codec.pack({"x": x}, version=3))
    assert ref.choose_mirror(x[:1000]) is not None  # 8000 values: no sample step
    _auto_agrees({"x": x[:1000]}, codec.pack({"x": x[:1000]}, version=3))
    y = rng.integers(-20, 21, size=(1100, 8)).astype(np.int8)
    y[pick] = sym_rows(rng, 64, 8, 0, "int8", anti=False, spread=20)
    assert ref.choose_mirror(y) is None
    _auto_agrees({"y": y}, codec.pack({"y": y}, version=3))


def _sample(name: str) -> bytes:
    if name == "sample":
        return _v3_sample()
    return next(p for p in V3_VECTORS if p.stem == name).read_bytes()


@pytest.mark.parametrize("name", SAMPLES)
def test_v3_directory_bit_flips_agree(name):
    data = _sample(name)
    fpos = len(data) - 24
    off = struct.unpack_from("<Q", data, fpos)[0]
    assert flips_agree(data, 8 * off, 8 * fpos, _fix_directory_crc) > 0


@pytest.mark.parametrize("name", SAMPLES)
def test_v3_block_bit_flips_agree(name):
    data = _sample(name)
    es = _entries(data)
    flips_agree(data, 8 * 8, 8 * (es[-1].block_offset + es[-1].block_length))


@st.composite
def mirrored(draw):
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    info = np.iinfo(dtype)
    P = draw(st.integers(2, 20))
    a = draw(st.integers(0, P - 2))
    rows = draw(st.integers(1, 6))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    z = 0 if info.min < 0 else int(rng.integers(0, int(info.max), endpoint=True))
    spread = draw(st.sampled_from([1, 7, 1000, int(info.max)]))
    x = sym_rows(rng, rows, P, a, dtype.name, z=z, spread=spread,
                 noise=draw(st.sampled_from([0.0, 0.2, 1.0])))
    if draw(st.booleans()):
        x = rng.choice(np.array([info.min, info.max, 0, 1, z], dtype=dtype), size=x.shape)
    return x, (P, a)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mirrored(), st.sampled_from(["auto", "kernel", "tensor", ("count", 3)]),
       st.sampled_from([1, 2, 64]))
def test_random_forced_mirror_both_paths(case, group, max_tables):
    x, pa = case
    ts = {"x": x, "z": np.zeros(3, np.int8)}
    flat = x.reshape(-1).tolist()
    z = ref.value_offset_of(flat, x.dtype.name)
    stored = ref.mirror_forward(flat, *pa, z, ref.row_modes(flat, *pa, z, x.dtype.name),
                                x.dtype.name)
    if ref.value_offset_of(stored, x.dtype.name) != z:
        # §25 (unsigned): the offset must stay the most frequent value; codec.pack refuses
        with pytest.raises(ValueError):
            codec.pack(ts, group=group, max_tables=max_tables, mirror={"x": pa}, version=3)
        return
    data = codec.pack(ts, group=group, max_tables=max_tables, mirror={"x": pa}, version=3)
    assert data[4] == 3
    e = _entries(data)[0]
    assert (e.mirror_period, e.mirror_skip) == pa
    assert e.mirror_modes == ref.row_modes(x.reshape(-1).tolist(), *pa, e.value_offset,
                                           x.dtype.name)
    assert_same_tensors(codec.unpack(data), ts)
    assert_same_tensors(ref.unpack(data), ts)
    assert ref.reencode(data) == data
    auto = codec.pack(ts, group=group, max_tables=max_tables, version=3)
    _auto_agrees(ts, auto)
    assert_same_tensors(ref.unpack(auto), ts)
    assert ref.reencode(auto) == auto
