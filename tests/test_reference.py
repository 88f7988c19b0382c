"""The pure-Python reference (codec.reference) against the Numba path and the golden vectors."""
from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import codec
from codec import reference as ref
from codec.reference.decoder import RefMeta

VECS = Path(__file__).resolve().parent / "vectors"
VEC = VECS / "v1"
NAMES_V1 = sorted(p.stem for p in VEC.glob("*.json"))
NAMES_V2 = sorted(p.stem for p in (VECS / "v2").glob("*.json"))
NAMES_V3 = sorted(p.stem for p in (VECS / "v3").glob("*.json"))
NAMES = [f"v1/{n}" for n in NAMES_V1] + [f"v2/{n}" for n in NAMES_V2] + \
    [f"v3/{n}" for n in NAMES_V3]


def both(*names) -> list[str]:
    """The named vectors in both versions."""
    return [f"{v}/{n}" for v in ("v1", "v2") for n in names]


def load_vector(name: str):
    """(tensors in package order, pack options, expected bytes); ``name`` is "v1/x", "v2/x"
    or "x" (v1).  The options include ``version`` (and ``chunk_log2`` for v2: see
    :func:`pack_vector`)."""
    vdir, _, stem = name.rpartition("/")
    d = VECS / (vdir or "v1")
    js = json.loads((d / f"{stem}.json").read_text(encoding="utf-8"))
    with np.load(d / f"{stem}.npz") as z:
        tensors = {k: z[k] for k in js["order"]}
    group = tuple(js["group"]) if isinstance(js["group"], list) else js["group"]
    meta = {}
    for k, m in js["meta"].items():
        dt = "<f4" if m["scale_dtype"] == "float32" else "<f8"
        scale = np.frombuffer(bytes.fromhex(m["scale_hex"]), dt).astype(dt[1:])
        zp = None if m["zero_point"] is None else np.array(m["zero_point"], np.int64)
        meta[k] = codec.QuantMeta(bits=m["bits"], scale=scale, zero_point=zp, axis=m["axis"],
                                  block=m["block"], kind=m["kind"])
    opts = {"group": group, "max_tables": js["max_tables"], "meta": meta or None,
            "version": js.get("version", 1)}
    if "chunk_log2" in js:
        opts["chunk_log2"] = js["chunk_log2"]
    return tensors, opts, (d / f"{stem}.bin").read_bytes()


def pack_vector(tensors, opts) -> bytes:
    """``codec.pack`` with a vector's options (a v2 vector's CRC chunk size is the writer's
    module default, set here for the call)."""
    import codec.format_v2 as fv2
    opts = dict(opts)
    saved = fv2.DEFAULT_CHUNK_LOG2
    fv2.DEFAULT_CHUNK_LOG2 = opts.pop("chunk_log2", saved)
    try:
        return codec.pack(tensors, **opts)
    finally:
        fv2.DEFAULT_CHUNK_LOG2 = saved


def same_meta(a: RefMeta | None, b: codec.QuantMeta | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    zp_same = (a.zero_point is None and b.zero_point is None) or (
        a.zero_point is not None and b.zero_point is not None
        and np.array_equal(a.zero_point, b.zero_point))
    return (a.bits == b.bits and a.kind == b.kind and a.axis == b.axis and a.block == b.block
            and a.scale.dtype == b.scale.dtype and a.scale.tobytes() == b.scale.tobytes()
            and zp_same)


def assert_same_tensors(got: dict, want: dict) -> None:
    assert list(got) == list(want)
    for k in want:
        assert got[k].dtype == want[k].dtype, k
        assert got[k].shape == want[k].shape, k
        assert np.array_equal(got[k], want[k]), k


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_vector_set_is_complete(version):
    names = NAMES_V1 if version == "v1" else NAMES_V2
    assert len(names) >= 12
    total = sum(p.stat().st_size for p in (VECS / version).iterdir() if p.is_file())
    assert total < 300_000
    for n in names:
        for ext in (".npz", ".bin"):
            assert (VECS / version / f"{n}{ext}").is_file(), n + ext
    if version == "v2":  # every v1 case also exists as v2
        assert set(NAMES_V1) <= set(NAMES_V2)
    dtypes = set()
    groups = set()
    for n in names:
        tensors, opts, data = load_vector(f"{version}/{n}")
        assert data[4] == opts["version"] == int(version[1])
        dtypes |= {str(v.dtype) for v in tensors.values()}
        groups.add(opts["group"] if isinstance(opts["group"], str) else opts["group"][0])
    assert dtypes == {"int8", "uint8", "int16", "uint16", "int32", "uint32"}
    assert groups == {"auto", "kernel", "kernels", "count", "tensor"}


@pytest.mark.parametrize("name", NAMES)
def test_vector_decodes_identically(name):
    tensors, opts, data = load_vector(name)
    fast = codec.unpack(data)
    slow, metas = ref.unpack_with_meta(data)
    assert_same_tensors(fast, tensors)
    assert_same_tensors(slow, tensors)
    pkg = codec.Package(data)
    want_meta = opts["meta"] or {}
    for k in tensors:
        assert same_meta(metas[k], want_meta.get(k))
        assert same_meta(metas[k], pkg.meta(k))


@pytest.mark.parametrize("name", NAMES)
def test_vector_reencodes_byte_identical(name):
    _, _, data = load_vector(name)
    assert ref.reencode(data) == data


@pytest.mark.parametrize("name", NAMES)
def test_pack_reproduces_vector(name):
    """Today's codec.pack of the vector inputs decodes to the same tensors and is no larger
    than the frozen bytes (+2 %): the encoder may change its choices (a deliberate encoder
    change is not a format change), but never regress in size on the golden set unnoticed."""
    tensors, opts, data = load_vector(name)
    new = pack_vector(tensors, opts)
    out = codec.unpack(new)
    assert list(out) == list(tensors)
    for k, a in tensors.items():
        np.testing.assert_array_equal(out[k], a)
    if new != data:
        def alphabets(b):
            return [(t.kref, t.nrun, t.nclass) for t in codec.inspect(b).tables]
        assert len(new) <= len(data) * 1.02 + 8, (
            f"codec.pack of {name} grew: {len(new)} bytes instead of {len(data)}; tables "
            f"(kref, nrun, nclass) {alphabets(new)} instead of {alphabets(data)}")


@pytest.mark.parametrize("name", NAMES)
def test_reference_header_matches_core(name):
    _, _, data = load_vector(name)
    info = codec.inspect(data)
    p = ref.read_package(data, decode=False)
    assert len(p.tables) == len(info.tables)
    for rt, ti in zip(p.tables, info.tables):
        assert (rt.kref, rt.nrun, rt.nclass) == (ti.kref, ti.nrun, ti.nclass)
        assert sum(1 for x in rt.lengths if x) == ti.codes
    for e, ti in zip(p.entries, info.tensors):
        assert (e.name, e.dtype, e.shape, e.group_mode, e.group_size, e.n_groups,
                e.value_offset, e.block_offset, e.block_length, e.payload_bytes, e.crc32) == \
            (ti.name, ti.dtype, ti.shape, ti.group_mode, ti.group_size, ti.n_groups,
             ti.value_offset, ti.block_offset, ti.block_bytes, ti.payload_bytes, ti.crc32)


@pytest.mark.parametrize("name", both("multi_table"))
def test_reference_pack_from_explicit_choices(name):
    """The reference encoder from hand-written decisions equals codec.pack's bytes."""
    _, _, data = load_vector(name)
    tensors, tables, choices = ref.choices_of(data)
    plain = [(t.kref, t.nrun, t.nclass, list(t.lengths)) for t in tables]
    simple = {k: ref.TensorChoice(c.group_mode, c.group_size, c.value_offset, c.table)
              for k, c in choices.items()}
    assert ref.pack(tensors, plain, simple, version=data[4]) == data


def test_reference_per_group_tables_round_trip():
    """Per-group table ids (tid_bits > 0, tid_base > 0), which codec.pack does not write yet,
    decode the same in both readers."""
    rng = np.random.default_rng(3)
    x = rng.integers(-3, 4, size=(4, 250)).astype(np.int8)
    # kref 0, nrun 1, 2 classes (|v| = 1; |v| in 2..3 with one remainder bit): symbols EOB, ESC,
    # (class 0, run 0), (class 1, run 0)
    tables = [(0, 1, 2, [1, 2, 3, 3]), (0, 1, 2, [2, 2, 2, 2]), (0, 1, 2, [3, 3, 2, 1])]
    ids = [1, 2, 2, 1]
    data = ref.pack({"x": x}, tables, {"x": ref.TensorChoice("kernel", 250, 0, ids)})
    e = ref.read_package(data, decode=False).entries[0]
    assert (e.tid_base, e.tid_bits, e.group_tables) == (1, 1, ids)
    assert np.array_equal(codec.unpack(data)["x"], x)
    assert np.array_equal(ref.unpack(data)["x"], x)
    assert ref.reencode(data) == data
    wide = ref.pack({"x": x}, tables, {"x": ref.TensorChoice("kernel", 250, 0, ids, tid_base=0,
                                                             tid_bits=3, len_bits=20)})
    assert np.array_equal(codec.unpack(wide)["x"], x)
    assert np.array_equal(ref.unpack(wide)["x"], x)


# --- hypothesis: random tensors through both paths --------------------------------------------

DTYPES = ["int8", "uint8", "int16", "uint16", "int32", "uint32"]
GROUPS = ["auto", "kernel", "tensor", ("kernels", 1), ("kernels", 2), ("count", 1),
          ("count", 7), ("count", 100), 5]


@st.composite
def tensors(draw):
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    info = np.iinfo(dtype)
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=7))
    n = int(np.prod(shape))
    kind = draw(st.sampled_from(["full", "small", "pm1", "zero", "edge"]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if kind == "full":
        x = rng.integers(info.min, info.max, size=n, endpoint=True, dtype=dtype)
    elif kind == "small":
        lo = max(int(info.min), -9)
        x = rng.integers(lo, 9, size=n, endpoint=True).astype(dtype)
    elif kind == "pm1":
        x = rng.integers(-1, 1, size=n, endpoint=True).astype(np.int64)
        x = (x + (0 if info.min < 0 else 1)).astype(dtype)
    elif kind == "zero":
        x = np.zeros(n, dtype)
    else:
        x = rng.choice(np.array([info.min, info.max, 0, 1], dtype=dtype), size=n)
    density = draw(st.sampled_from([0.0, 0.05, 0.3, 0.7, 1.0]))
    x[rng.random(n) >= density] = 0
    return x.reshape(shape)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(tensors(), min_size=1, max_size=3), st.sampled_from(GROUPS),
       st.sampled_from([1, 2, 1024]), st.sampled_from([3, 2, 1]))
def test_random_tensors_both_paths(arrays, group, max_tables, version):
    ts = {f"t{i}": a for i, a in enumerate(arrays)}
    data = codec.pack(ts, group=group, max_tables=max_tables, version=version)
    assert data[4] == version
    assert_same_tensors(codec.unpack(data), ts)
    assert_same_tensors(ref.unpack(data), ts)
    assert ref.reencode(data) == data


@settings(max_examples=25, deadline=None)
@given(tensors(), st.sampled_from(GROUPS))
def test_random_single_tensor_with_meta(x, group):
    k = x.shape[0] if x.ndim else 1
    axis = 0 if x.ndim else None
    meta = codec.QuantMeta(bits=8, scale=np.linspace(0.5, 1.0, k).astype(np.float32),
                           zero_point=np.arange(k) - 3, axis=axis) if x.ndim else \
        codec.QuantMeta(bits=8, scale=np.array([2.0 ** -7]))
    data = codec.encode(x, group=group, meta=meta)
    y = ref.decode(data)
    assert y.dtype == x.dtype and y.shape == x.shape and np.array_equal(y, x)
    _, metas = ref.unpack_with_meta(data)
    assert same_meta(metas[""], meta)
    assert ref.reencode(data) == data


# --- malformed input: CodecError from both readers, and agreement on what is accepted --------

def _both(data, verify=True):
    """(fast result or exception, reference result or exception)."""
    out = []
    for f in (lambda: codec.unpack(data, verify=verify), lambda: ref.unpack(data, verify=verify)):
        try:
            out.append(f())
        except Exception as exc:  # noqa: BLE001 - classified below
            out.append(exc)
    return out


@pytest.mark.parametrize("name", both("multi_meta", "int16_4d_kernels2"))
def test_truncations_rejected_by_both(name):
    _, _, data = load_vector(name)
    for n in range(len(data)):
        fast, slow = _both(data[:n])
        assert isinstance(fast, codec.CodecError), n
        assert isinstance(slow, codec.CodecError), n


@pytest.mark.parametrize("name", both("pm1", "long_zero_runs_count", "multi_meta",
                                      "uint8_4d_kernel"))
def test_payload_bit_flips_agree(name):
    """With block CRCs off, flip each bit of every block: both decoders reject the same inputs
    (always with a CodecError) and, where they accept, return the same arrays."""
    _, _, data = load_vector(name)
    p = ref.read_package(data, decode=False)
    lo = min(e.block_offset for e in p.entries)
    hi = max(e.block_offset + e.block_length for e in p.entries)
    flips_agree(data, 8 * lo, 8 * hi)


def flips_agree(data: bytes, lo: int, hi: int, fix=bytes) -> int:
    """Flip each bit in [lo, hi) of ``data`` (then ``fix`` the bytes, e.g. repair a CRC):
    both readers (CRCs off) raise the same CodecError class or return the same arrays.
    Returns how many flipped inputs were accepted."""
    accepted = 0
    for bit in range(lo, hi):
        bad = bytearray(data)
        bad[bit // 8] ^= 0x80 >> (bit % 8)
        fast, slow = _both(fix(bad), verify=False)
        for r in (fast, slow):
            assert isinstance(r, (dict, codec.CodecError)), (bit, r)
        assert isinstance(fast, dict) == isinstance(slow, dict), (bit, fast, slow)
        if isinstance(fast, dict):
            accepted += 1
            assert_same_tensors(slow, fast)
        else:
            assert type(fast) is type(slow), (bit, fast, slow)
    return accepted


@pytest.mark.parametrize("name", both("multi_meta", "multi_table") + ["v2/multi_table_chunks64"])
def test_random_byte_corruption_is_codec_error(name):
    _, _, data = load_vector(name)
    rng = np.random.default_rng(7)
    for _ in range(300):
        bad = bytearray(data)
        for i in rng.integers(0, len(data), size=rng.integers(1, 4)):
            bad[i] = int(rng.integers(0, 256))
        fast, slow = _both(bytes(bad))
        for r in (fast, slow):
            assert isinstance(r, (dict, codec.CodecError)), r
        if isinstance(fast, dict) and isinstance(slow, dict):
            assert_same_tensors(slow, fast)


@pytest.mark.parametrize("name", both("pm1"))
def test_reference_rejects_wrong_types_and_headers(name):
    _, _, data = load_vector(name)
    with pytest.raises(codec.UnsupportedError):
        ref.unpack(b"XPKG" + data[4:])
    with pytest.raises(codec.UnsupportedError):
        ref.unpack(data[:4] + b"\x08" + data[5:])
    with pytest.raises(codec.UnsupportedError):
        ref.unpack(data[:5] + b"\x01" + data[6:])
    with pytest.raises(codec.TruncatedError):
        ref.unpack(data[:-1])
    with pytest.raises(codec.ChecksumError):
        ref.unpack(data[:-6] + bytes([data[-6] ^ 1]) + data[-5:])
    blk = ref.read_package(data, decode=False).entries[0].block_offset
    with pytest.raises(codec.ChecksumError):
        ref.unpack(data[:blk] + bytes([data[blk] ^ 0x10]) + data[blk + 1:])


def _fix_directory_crc(bad: bytearray) -> bytes:
    fpos = len(bad) - 24
    off, ln, _ = struct.unpack_from("<QQI", bad, fpos)
    if off >= 8 and off + ln == fpos:
        struct.pack_into("<I", bad, fpos + 16, zlib.crc32(bytes(bad[:8]) + bytes(bad[off:fpos])))
    return bytes(bad)


def _empty_tensor_with_payload(entries) -> bool:
    """The one known disagreement (see test_core_rejects_bytes_after_an_empty_tensors_meta)."""
    return any(e.n_groups == 0 and e.payload_bytes > 0 for e in entries)


@pytest.mark.parametrize("name", both("multi_meta", "empty_and_scalar", "long_zero_runs_count",
                                      "multi_table") + ["v2/many_names", "v2/group_kernels3",
                                                        "v2/multi_table_chunks64"])
def test_directory_bit_flips_agree(name):
    """Flip each directory bit and repair the directory CRC, so the header checks themselves are
    exercised: both readers accept or reject alike, only with CodecErrors, same arrays."""
    _, _, data = load_vector(name)
    fpos = len(data) - 24
    off = struct.unpack_from("<Q", data, fpos)[0]
    accepted = 0
    for bit in range(8 * off, 8 * fpos):
        bad = bytearray(data)
        bad[bit // 8] ^= 0x80 >> (bit % 8)
        bad = _fix_directory_crc(bad)
        fast, slow = _both(bad, verify=False)
        for r in (fast, slow):
            assert isinstance(r, (dict, codec.CodecError)), (bit, r)
        if isinstance(fast, dict) != isinstance(slow, dict):
            assert isinstance(fast, dict) and _empty_tensor_with_payload(ref.read_header(bad)[4]), \
                (bit, fast, slow)
            continue
        if isinstance(fast, dict):
            accepted += 1
            assert_same_tensors(slow, fast)
        else:
            assert type(fast) is type(slow), (bit, fast, slow)
    assert accepted > 0  # some flips (a name byte, a dimension) give another valid package


def _package_with_block(shape_dims: list[int], block: bytes) -> bytes:
    """A one-tensor int8 package, no tables, 'count' groups of 1, whose block is ``block``."""
    from codec.reference.encoder import varint
    entry = bytes([0, 1]) + b"e" + bytes([1]) + varint(len(shape_dims))
    entry += b"".join(varint(d) for d in shape_dims)
    entry += bytes([0]) + varint(1) + varint(0) + varint(8) + varint(len(block))
    entry += struct.pack("<I", zlib.crc32(block)) + varint(0) + varint(0) + bytes([0, 0])
    directory = varint(0) + varint(1) + entry
    pre = b"SPKG\x01\x00\x00\x00"
    off = len(pre) + len(block)
    return pre + block + directory + struct.pack("<QQI", off, len(directory),
                                                  zlib.crc32(pre + directory)) + b"GKPS"


def test_reference_rejects_bytes_after_an_empty_tensors_meta():
    ok = _package_with_block([3, 0], b"")
    assert ref.unpack(ok)["e"].shape == (3, 0)
    assert codec.unpack(ok)["e"].shape == (3, 0)
    with pytest.raises(codec.CorruptError):
        ref.unpack(_package_with_block([3, 0], b"\xaa"))


def test_core_rejects_bytes_after_an_empty_tensors_meta():
    with pytest.raises(codec.CorruptError):
        codec.unpack(_package_with_block([3, 0], b"\xaa"))


# --- packages codec.pack does not write, but the format allows --------------------------------

_symbols = ref.encoder.group_symbols
_lengths = ref.encoder.code_lengths


@st.composite
def exotic_packages(draw):
    """One tensor, arbitrary value offset, 1-3 tables with different alphabets (kref up to 6,
    nrun up to 4096, spare classes), a random table per group, optionally wide fields."""
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    lo, hi = int(np.iinfo(dtype).min), int(np.iinfo(dtype).max)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n = draw(st.integers(0, 250))
    voff = draw(st.sampled_from([0, lo, hi, int(rng.integers(lo, hi, endpoint=True))]))
    spread = draw(st.sampled_from([1, 4, 300, hi - lo]))
    x = np.clip(voff + rng.integers(-spread, spread, size=n, endpoint=True), lo, hi)
    x[rng.random(n) >= draw(st.sampled_from([0.0, 0.1, 0.5, 1.0]))] = voff
    x = x.astype(dtype)
    gsize = draw(st.integers(1, max(n, 1) + 2))
    G = -(-n // gsize) if n else 0
    ntab = draw(st.integers(1, 3))
    alph = [(draw(st.integers(0, 6)), draw(st.sampled_from([1, 2, 3, 7, 64, 4096])))
            for _ in range(ntab)]
    tids = rng.integers(0, ntab, size=G).tolist()
    tables = []
    for t, (kref, nrun) in enumerate(alph):
        mine = [g for g in range(G) if tids[g] == t]
        vals = [int(v) - voff for g in mine for v in x[g * gsize:(g + 1) * gsize]]
        maxmag = max((abs(v) for v in vals), default=1) or 1
        nclass = min(ref.decoder.mag_class(maxmag, kref)[0] + 1 + draw(st.integers(0, 2)),
                     ref.decoder.max_classes(kref))
        nrun = min(nrun, (65536 - 2) // nclass)  # at most 65536 symbols
        counts: dict[int, int] = {0: 1}
        for g in mine:
            for s in _symbols(x[g * gsize:(g + 1) * gsize], voff, kref, nrun):
                counts[s] = counts.get(s, 0) + 1
        tables.append((kref, nrun, nclass, _lengths(counts, 2 + nclass * nrun)))
    version = draw(st.sampled_from([3, 4]))
    # v4: a one-group tensor has no group table, so no widths to choose
    wide = draw(st.booleans()) and (version < 4 or G > 1)
    ch = ref.TensorChoice("count", gsize, voff, tids,
                          tid_base=0 if wide else None, tid_bits=2 if wide else None,
                          len_bits=draw(st.integers(20, 56)) if wide else None)
    return x, ref.pack({"x": x}, tables, {"x": ch}, version=version)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(exotic_packages())
def test_exotic_valid_packages_decode_in_both(case):
    x, data = case
    for got in (codec.unpack(data)["x"], ref.unpack(data)["x"]):
        assert got.dtype == x.dtype and np.array_equal(got, x)


@pytest.mark.parametrize("version", [1, 2, 3])
def test_table_symbol_cap_in_both_readers(version):
    """§12 T4: the tables' alphabets together within max_table_symbols, in codec and in the
    reference (v1-v3 table layout; v4's is test_reference_v4's)."""
    rng = np.random.default_rng(7)
    data = codec.pack({f"t{i}": rng.integers(-90, 91, (40, 30)).astype(np.int16) * (i + 1)
                       for i in range(4)}, version=version)
    tables = codec.Package(data).directory.tables
    assert len(tables) >= 2
    total = sum(2 + t.nclass * t.nrun for t in tables)
    tight = total - 1
    with pytest.raises(codec.LimitError):
        codec.unpack(data, limits=codec.Limits(max_table_symbols=tight))
    with pytest.raises(codec.LimitError):
        ref.unpack(data, limits=ref.RefLimits(max_table_symbols=tight))
    assert list(ref.unpack(data, limits=ref.RefLimits(max_table_symbols=total)))


def test_escape_alphabet_bit_flips_agree():
    """An alphabet with nrun 1 codes every zero as an escape, which the fast decoder's tables
    hold as whole sets ("nrun - 1 zeros, then the zero value", kernels/directory.build_luts):
    the same values as the reference decoder, and on every payload bit flip the same verdict
    (a run past a group's end included)."""
    rng = np.random.default_rng(5)
    x = rng.integers(-127, 128, 400).astype(np.int8)
    x[rng.random(400) < 0.5] = 0
    for version in (1, 4):
        data = codec.pack({"w": x.reshape(40, 10)}, group=("count", 100), version=version)
        assert [t.nrun for t in codec.inspect(data).tables] == [1]
        fast, slow = _both(data, verify=True)
        assert_same_tensors(slow, fast)
        assert np.array_equal(fast["w"].ravel(), x)
        p = ref.read_package(data, decode=False)
        lo = min(e.block_offset for e in p.entries)
        hi = max(e.block_offset + e.block_length for e in p.entries)
        flips_agree(data, 8 * lo, 8 * hi)
