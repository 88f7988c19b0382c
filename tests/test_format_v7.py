"""Format v7: row floors for magnitude-pruned tensors and tensor aliases (docs/FORMAT.md
§36-§37).

Floored tensors round trip in every dtype, shape and grouping (groups that cut rows, floors
below the writer's); the writer's rules (when 'auto' floors a tensor or makes an alias, when
it writes v7, and that it writes v6 / v5 / v4 byte for byte as before otherwise; the v7 name
merge); option errors; both directory parsers and both decode paths agree; the floors added
in the decode jobs; damaged v7 packages (each decoder check of §36 with its exact error,
truncations, bit flips, mutations); the golden vectors and §37's worked example byte for
byte.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import codec
from codec import floor as fl
from codec import format_v4 as v4
from codec.errors import CodecError, CorruptError
from codec.format_v2 import merge_followers, name_tokens, names_section
from codec.package import Package
from fuzz.harness import (check_sample_mutation, fast_path_takes_v4_sample, fix_all_crcs,
                          golden_options, golden_vector, sample_packages)
from test_format_doc import doc_text, hex_dump
from test_format_v5 import check_all_paths

SIGNED = (np.int8, np.int16, np.int32)


def pruned(shape, sparsity=0.5, dtype=np.int8, seed=0):
    """REFERENCE.md's recipe at the dtype's full width: magnitude pruning over the tensor,
    then a scale per first-dim row (a dead zone in every row)."""
    rng = np.random.default_rng(seed)
    w = rng.normal(size=shape)
    rows = w.reshape(shape[0], -1) if len(shape) >= 2 else w.reshape(1, -1)
    thr = np.quantile(np.abs(rows), sparsity)
    rows = np.where(np.abs(rows) < thr, 0.0, rows)
    scale = np.abs(rows).max(axis=1, keepdims=True) / np.iinfo(dtype).max
    scale[scale == 0] = 1.0
    return np.round(rows / scale).astype(dtype).reshape(shape)


def entries(data: bytes):
    return Package(data).directory.tensors


# ---------------------------------------------------------------------------------------------
# row floors: the transform, the writer's floors, round trips

def test_row_floors_and_forward_match_the_spec():
    x = np.array([[0, 5, -4, 0], [6, 0, 0, -7], [0, 0, 0, 0]], np.int8)
    f = fl.row_floors(x)
    assert f.tolist() == [3, 5, 0]
    assert fl.forward(x, f).tolist() == [[0, 2, -1, 0], [1, 0, 0, -2], [0, 0, 0, 0]]
    assert fl.row_floors(np.array([3, -9, 0], np.int16)).tolist() == [2]  # 1-D: one row
    assert v4.floor_rows((7,)) == 1 and v4.floor_rows(()) == 1 and v4.floor_rows((3, 2, 2)) == 3
    with pytest.raises(ValueError, match="not below"):
        fl.forward(x, [4, 5, 0])


@pytest.mark.parametrize("dtype", SIGNED)
@pytest.mark.parametrize("group", ["kernel", "tensor", ("count", 7), ("kernels", 2), "auto"])
def test_floored_tensors_round_trip(dtype, group):
    ts = {"conv": pruned((6, 3, 3, 4), dtype=dtype), "fc": pruned((5, 33), 0.7, dtype, 1),
          "bias": pruned((9,), 0.3, dtype, 2), "scalar": np.array(-5, dtype)}
    info = np.iinfo(dtype)
    ts["fc"][0, :4] = [info.max, info.min, 0, info.min + 1]  # the range's ends
    data = codec.pack(ts, group=group, floor={k: True for k in ts})
    assert data[4] == 7
    es = {e.name: e for e in entries(data)}
    assert es["fc"].floors == tuple(fl.row_floors(ts["fc"]).tolist()) and len(es["fc"].floors) == 5
    assert es["scalar"].floors == (4,) and es["bias"].floors
    check_all_paths(data, ts)


def test_a_row_of_dtype_minimums_gets_vmax_minus_one():
    """A row whose nonzero values are all int8 -128: its floor is 126, not 127 (§36 R2)."""
    rng = np.random.default_rng(15)
    x = np.where(rng.random((64, 256)) < 0.5, -128, 0).astype(np.int8)
    x[:, 0] = rng.integers(-128, -100, 64)
    x[3] = np.where(x[3] != 0, -128, 0)
    assert fl.row_floors(x)[3] == 126
    for opts in ({"floor": {"x": True}}, {"predict": None}):
        data = codec.pack({"x": x}, **opts)
        assert data[4] == 7 and max(entries(data)[0].floors) == 126
        check_all_paths(data, {"x": x})


def test_a_forced_floor_keeps_a_tensor_from_becoming_an_alias():
    a = np.arange(-5, 5, dtype=np.int8)
    es = entries(codec.pack({"a": a, "b": a.copy(), "c": a.copy()}, floor={"b": True}))
    assert [(e.alias, e.floors) for e in es] == [(-1, ()), (-1, (0,)), (0, ())]


def test_floors_below_the_writers_round_trip():
    x = pruned((4, 20), dtype=np.int16)
    f = fl.row_floors(x)
    for g in (f // 2, np.zeros_like(f), f):
        data = codec.pack({"x": x}, floor={"x": g.tolist()})
        assert entries(data)[0].floors == tuple(g.tolist())
        check_all_paths(data, {"x": x})


@pytest.mark.parametrize("jobs", [False, True])
def test_floors_in_the_decode_jobs(jobs, monkeypatch):
    """Row floors are added by the jobs that decode each group (several rows to a group, a
    row across groups), on the calling thread or on the pool."""
    from codec import package
    if jobs:
        monkeypatch.setattr(package, "_parallel", lambda bits, values, groups: groups > 1)
    ts = {"a": pruned((40, 50), seed=3), "b": pruned((7, 3, 3, 9), seed=4)}
    for group in ("kernel", ("count", 37), ("count", 1000)):
        data = codec.pack(ts, group=group, floor={"a": True, "b": True})
        check_all_paths(data, ts)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from(SIGNED), st.integers(1, 6),
       st.integers(1, 40), st.sampled_from([0.0, 0.5, 0.9, 1.0]), st.integers(1, 50))
def test_property_round_trip(seed, dtype, rows, cols, sparsity, gsize):
    x = pruned((rows, cols), sparsity, dtype, seed)
    y = np.random.default_rng(seed).integers(-3, 4, (rows, cols)).astype(dtype)
    data = codec.pack({"x": x, "y": y, "x2": x.copy()}, group=("count", gsize),
                      floor={"x": True, "y": True})
    got = codec.unpack(data)
    assert all(np.array_equal(got[k], v) for k, v in (("x", x), ("y", y), ("x2", x)))
    assert np.array_equal(Package(data).read("x2"), x)


# ---------------------------------------------------------------------------------------------
# the writer's rules

def test_auto_floors_pruned_tensors_only():
    ts = {"pruned": pruned((64, 576), seed=5), "dense": pruned((64, 144), 0.0, seed=6),
          "u8": np.abs(pruned((64, 144), 0.5, seed=7)).astype(np.uint8)}
    data = codec.pack(ts)
    es = {e.name: e for e in entries(data)}
    assert data[4] == 7 and es["pruned"].floors and not es["dense"].floors
    assert not es["u8"].floors
    assert len(data) < len(codec.pack(ts, floor=None))
    check_all_paths(data, ts)


def test_older_versions_stay_byte_identical():
    """Without floors or aliases 'auto' writes what the v6 writer wrote (here v4, v5 and v6
    packages), and version=6 or lower never floors or aliases."""
    from test_format_v6 import smooth_at
    plain = {"a": np.random.default_rng(1).integers(-20, 20, (5, 8)).astype(np.int8)}
    pred5 = {"k": smooth_at((4, 4, 3, 3), 2)}
    pred6 = {"k": smooth_at((6, 3, 3, 4), 1)}
    for ts, v in ((plain, 4), (pred5, 5), (pred6, 6)):
        data = codec.pack(ts)
        assert data[4] == v and data == codec.pack(ts, floor=None, alias=None)
    p = {"x": pruned((64, 3, 3, 16)), "y": pruned((64, 3, 3, 16))}
    p["z"] = p["x"].copy()
    assert codec.pack(p)[4] == 7
    for v in (4, 5, 6):
        data = codec.pack(p, version=v)
        assert data[4] == v and all(not e.floors and e.alias < 0 for e in entries(data))


def test_version_7_forced_without_floors_or_aliases():
    x = np.arange(-20, 20, dtype=np.int8).reshape(5, 8)
    data = codec.pack({"x": x}, version=7)
    assert data[4] == 7
    check_all_paths(data, {"x": x})


def test_aliases():
    rng = np.random.default_rng(9)
    emb = rng.integers(-50, 50, (12, 6)).astype(np.int8)
    m = codec.QuantMeta(bits=8, kind="linear", axis=0, scale=np.ones(12, np.float32))
    ts = {"emb": emb, "bias": np.arange(4, dtype=np.int16), "out": emb.copy(),
          "other": emb.astype(np.int16), "bias2": np.arange(4, dtype=np.int16),
          "emb3": emb.copy(), "empty": np.zeros((0, 3), np.int8), "empty2": np.zeros((0, 3), np.int8)}
    data = codec.pack(ts, meta={"emb": m, "out": m, "emb3": m})
    es = entries(data)
    assert {e.name: e.alias for e in es} == {"emb": -1, "bias": -1, "out": 0, "other": -1,
                                            "bias2": 1, "emb3": 0, "empty": -1, "empty2": -1}
    assert es[2].block_offset == es[0].block_offset and Package(data).meta("out") == m
    check_all_paths(data, ts)
    assert len(data) < len(codec.pack(ts, meta={"emb": m, "out": m, "emb3": m}, alias=None))
    # other metadata: no alias
    m2 = codec.QuantMeta(bits=8, kind="linear", axis=0, scale=np.full(12, 2, np.float32))
    data = codec.pack(ts, meta={"emb": m, "out": m2})
    assert entries(data)[2].alias == -1
    # an alias's array is its own (not a view of its target's)
    got = codec.unpack(codec.pack(ts))
    got["out"][0, 0] += 1
    assert got["emb"][0, 0] == emb[0, 0]


def test_alias_of_a_floored_tensor_and_save(tmp_path):
    x = pruned((16, 3, 3, 8), seed=11)
    ts = {"x": x, "y": np.arange(10, dtype=np.int8), "x2": x.copy()}
    data = codec.pack(ts, floor={"x": True})
    es = entries(data)
    assert es[2].alias == 0 and es[2].floors == es[0].floors != ()
    check_all_paths(data, ts)
    codec.save(tmp_path / "m.spk", ts, floor={"x": True})
    assert (tmp_path / "m.spk").read_bytes() == data
    assert all(np.array_equal(codec.load(tmp_path / "m.spk")[k], v) for k, v in ts.items())


def test_encode_takes_a_floor():
    x = pruned((6, 10), seed=12)
    for opt in (True, fl.row_floors(x).tolist()):
        data = codec.encode(x, floor=opt)
        assert data[4] == 7 and entries(data)[0].floors
        assert np.array_equal(codec.decode(data), x)


def test_option_errors():
    x = pruned((4, 10))
    u = np.abs(x).astype(np.uint8)
    with pytest.raises(ValueError, match="need format v7"):
        codec.pack({"x": x}, floor={"x": True}, version=6)
    with pytest.raises(ValueError, match="unknown tensor"):
        codec.pack({"x": x}, floor={"q": True})
    with pytest.raises(ValueError, match="floors for"):
        codec.pack({"x": x}, floor={"x": [1, 2]})
    with pytest.raises(ValueError, match="not below"):
        codec.pack({"x": x}, floor={"x": [200, 0, 0, 0]})
    with pytest.raises(ValueError, match="signed tensor"):
        codec.pack({"u": u}, floor={"u": True})
    with pytest.raises(ValueError, match="signed tensor"):
        codec.pack({"x": x}, floor={"x": True}, predict={"x": 3})
    with pytest.raises(ValueError, match="must be 'auto'"):
        codec.pack({"x": x}, floor="yes")
    with pytest.raises(ValueError, match="alias must be"):
        codec.pack({"x": x}, alias="yes")


def test_name_merge():
    names = [f"bn_{i}/{v}:0".encode() for i in range(1, 4) for v in ("beta", "gamma", "mean")]
    toks = name_tokens(names)
    merged = merge_followers(toks)
    assert len(names_section(merged)) < len(names_section(toks))
    assert [b"".join(t) for t in merged] == names            # the same names
    assert b"beta:0" in merged[0]
    # a package: v7 names are decoded by every path; a v6 package keeps §21's tokens
    ts = {n.decode(): np.arange(3, dtype=np.int8) + i for i, n in enumerate(names)}
    ts["bn_3/mean:0"] = ts["bn_1/beta:0"].copy()
    data = codec.pack(ts)
    assert data[4] == 7
    check_all_paths(data, ts)


# ---------------------------------------------------------------------------------------------
# damaged packages: each check of §36 with its exact error

def _rewrite(data: bytes, edit) -> bytes:
    """``data`` with its entry bit string re-written from its entries after ``edit(fields)``
    changed the list of (kind, value, width) fields (the writer's checks bypassed), the
    ``v7`` varint as ``edit`` leaves it in ``fields[0]`` if it is ("v7", value), the
    directory length and the CRCs fixed."""
    from codec.format import read_directory
    from codec.writer import DTYPE_CODES
    d = read_directory(np.frombuffer(data, np.uint8))
    old = bytearray()
    v4.write_entries(old, d.tensors, DTYPE_CODES, len(d.tables), 7)
    saved = v4._entry_fields
    saved_v7 = v4.v7_field

    def fields(*a, **k):
        f = saved(*a, **k)
        out = edit(f)
        return out
    v7_holder = {}

    def v7(entries):
        return v7_holder.get("v7", saved_v7(entries))
    v4._entry_fields, v4.v7_field = fields, v7
    try:
        edit.v7 = v7_holder
        new = bytearray()
        v4.write_entries(new, d.tensors, DTYPE_CODES, len(d.tables), 7)
    finally:
        v4._entry_fields, v4.v7_field = saved, saved_v7
    i = data.index(bytes(old))
    out = bytearray(data[:i] + bytes(new) + data[i + len(old):])
    dlen = int.from_bytes(data[-12:-8], "little") + len(new) - len(old)
    out[-12:-8] = dlen.to_bytes(4, "little")
    return fix_all_crcs(bytes(out))


class _Edit:
    """A field-list edit for :func:`_rewrite`: replace the ``n``-th field of ``kind`` and
    value ``old`` (or any value) by ``new``; ``v7`` sets the directory's v7 varint."""

    def __init__(self, match, new, v7=None):
        self.match, self.new, self.v7_value = match, new, v7

    def __call__(self, f):
        if self.v7_value is not None:
            self.v7["v7"] = self.v7_value
        out = list(f)
        for i, x in enumerate(out):
            if self.match(i, x):
                out[i] = self.new(x)
                break
        return out


def _assert_corrupt(bad: bytes, value: int, match: str) -> None:
    for fn in (codec.unpack, lambda b: Package(b).read_all(), codec.inspect):
        with pytest.raises(CorruptError, match=match) as ei:
            fn(bad)
        assert ei.value.value == value


def _floored() -> bytes:
    x = np.array([[0, 5, -4, 0], [6, 0, 0, -7]], np.int8)
    return codec.pack({"x": x, "y": x.copy()}, floor={"x": True})


def test_a_floor_order_over_30_is_corrupt():
    data = _floored()
    bad = _rewrite(data, _Edit(lambda i, x: x == ("u", v4.floor_order((3, 5)), 5),
                               lambda x: ("u", 31, 5)))
    _assert_corrupt(bad, 31, "floor order")


def test_a_floor_over_the_dtype_is_corrupt():
    data = _floored()
    k = v4.floor_order((3, 5))
    bad = _rewrite(data, _Edit(lambda i, x: x == ("eg", 5, k), lambda x: ("eg", 127, k)))
    _assert_corrupt(bad, 127, "row floor")
    ok = _rewrite(data, _Edit(lambda i, x: x == ("eg", 5, k), lambda x: ("eg", 126, k)))
    want = np.array([[0, 5, -4, 0], [127, 0, 0, -128]], np.int8)   # 1 + 126, -2 - 126: fit
    assert np.array_equal(codec.unpack(ok)["x"], want)
    assert np.array_equal(Package(ok).read("x"), want)


def test_a_floor_taking_a_value_out_of_range_is_corrupt():
    x = np.array([[100, -120, 0, 3]], np.int8)
    data = codec.pack({"x": x, "z": np.arange(5, dtype=np.int8)}, floor={"x": True})
    assert entries(data)[0].floors == (2,)
    k = v4.floor_order((2,))
    bad = _rewrite(data, _Edit(lambda i, x: x == ("eg", 2, k), lambda x: ("eg", 30, k)))
    for fn in (codec.unpack, lambda b: Package(b).read("x"), lambda b: codec.read_tensor(b, "x")):
        with pytest.raises(CorruptError, match="range") as ei:
            fn(bad)
        assert ei.value.value == 98   # 98 + 30 > 127 (the stored 100 - 2)
    assert np.array_equal(codec.read_tensor(bad, "z"), np.arange(5, dtype=np.int8))


def _aliased() -> bytes:
    a = np.arange(-6, 6, dtype=np.int8).reshape(3, 4)
    return codec.pack({"a": a, "b": np.arange(3, dtype=np.int8), "c": a.copy(),
                       "d": np.arange(3, dtype=np.int8)})


def test_alias_records_out_of_range_are_corrupt():
    data = _aliased()
    es = entries(data)
    assert [e.alias for e in es] == [-1, -1, 0, 1]
    # records: (gap 2, back-1 1) for c, (gap 0, back-1 1) for d
    bad = _rewrite(data, _Edit(lambda i, x: i == 0, lambda x: ("eg", 9, 0)))
    _assert_corrupt(bad, 9, "alias of tensor")
    bad = _rewrite(data, _Edit(lambda i, x: i == 1, lambda x: ("eg", 2, 0)))
    _assert_corrupt(bad, 3, "alias target")                 # back 3 > index 2
    bad = _rewrite(data, _Edit(lambda i, x: i == 3, lambda x: ("eg", 0, 0)))
    _assert_corrupt(bad, 1, "alias target")                 # d -> c, itself an alias
    bad = _rewrite(data, _Edit(lambda i, x: False, lambda x: x, v7=2 * 4))
    _assert_corrupt(bad, 4, "aliases among")                # A1: 4 aliases of 4 tensors


def test_truncated_at_every_length():
    data = _floored()
    for n in range(len(data)):
        with pytest.raises(CodecError):
            codec.unpack(data[:n])


def test_bit_flips_give_exact_data_or_codec_error():
    ts = {"x": pruned((8, 3, 3, 4), seed=13), "b": pruned((8,), seed=14)}
    ts["x2"] = ts["x"].copy()
    data = codec.pack(ts, floor={"x": True, "b": True})
    rng = np.random.default_rng(8)
    for _ in range(400):
        b = bytearray(data)
        i = int(rng.integers(len(b)))
        b[i] ^= 1 << int(rng.integers(8))
        try:
            got = codec.unpack(bytes(b))
        except CodecError:
            continue
        assert list(got) == list(ts)
        assert all(np.array_equal(got[k], ts[k]) for k in ts)


# ---------------------------------------------------------------------------------------------
# §37 worked example and the golden vectors (tests/vectors/v7: written once by
# make_vectors.py --v7, never regenerated)

EXAMPLE = np.array([[0, 5, -4, 0], [6, 0, 0, -7]], np.int8)


def test_worked_example_is_what_pack_writes():
    rows = hex_dump("hex-v7")
    pos = 0
    for off, b in rows:
        assert off == pos, f"offset {off:#x} in the dump, expected {pos:#x}"
        pos += len(b)
    data = b"".join(b for _, b in rows)
    assert data == codec.pack({"x": EXAMPLE, "y": EXAMPLE.copy()}, floor={"x": True})
    assert data[4] == 7 == codec.LATEST_VERSION
    assert f"The {len(data)}-byte package" in doc_text()
    check_all_paths(data, {"x": EXAMPLE, "y": EXAMPLE})


V7 = Path(__file__).parent / "vectors" / "v7"
VECTORS = sorted(p.stem for p in V7.glob("*.bin"))
SAMPLES = sample_packages(7)


def test_vectors_exist():
    assert len(VECTORS) == 5


@pytest.mark.parametrize("name", VECTORS)
def test_vector(name):
    js, tensors, data = golden_vector(V7, name)
    assert data[4] == 7 and len(data) == js["bytes"] and data[-4:] == b"GKPS"
    assert codec.pack(tensors, **golden_options(js, 7)) == data  # today's writer, same bytes
    check_all_paths(data, tensors)
    es = Package(data).directory.tensors
    assert {e.name: list(e.floors) for e in es if e.floors and e.alias < 0} == js["floored"]
    assert {e.name: es[e.alias].name for e in es if e.alias >= 0} == js["aliases"]


@pytest.mark.parametrize("i", range(len(SAMPLES)), ids=[s.name for s in SAMPLES])
def test_samples_all_paths(i):
    s = SAMPLES[i]
    assert s.data[4] == 7
    # the fast path takes a v7 sample exactly when it takes the same sample in v4
    check_all_paths(s.data, s.arrays, fast_path_takes_v4_sample(i))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, len(SAMPLES) - 1))
def test_mutations_give_original_or_codec_error(seed, i):
    check_sample_mutation(seed, SAMPLES, i)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, len(SAMPLES) - 1))
def test_mutations_with_repaired_crcs_are_consistent(seed, i):
    check_sample_mutation(seed, SAMPLES, i, repaired=True)
