"""Format v7 (docs/FORMAT.md §36: row floors and tensor aliases): the pure-Python reference
against hand-made packages, against its own writer, and against ``codec.pack`` /
``codec.unpack`` / ``codec.Package``.

Kept small enough for ``NUMBA_DISABLE_JIT=1`` (the codec side then runs as plain Python)."""
from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import codec
from fuzz.harness import fix_footer as fix_crc
from codec import reference as ref
from codec.reference import encoder_v2 as rv2
from codec.reference import encoder_v4 as rv4
from codec.reference import floor_v7 as rf
from codec.reference.encoder import code_lengths, varint

from test_reference import assert_same_tensors, same_meta  # noqa: E402
from test_reference_v4 import B, EOB_TABLE, _eg  # noqa: E402

SIGNED = ["int8", "int16", "int32"]
C, T = codec.CorruptError, codec.TruncatedError


# --- helpers ----------------------------------------------------------------------------------

def pruned(rng, shape, dtype="int8", spread=100, density=0.5, dead=(5, 40)) -> np.ndarray:
    """A magnitude-pruned tensor quantized per row: row r's nonzero magnitudes lie in
    [m_r, m_r + spread] (m_r drawn from ``dead``), random signs, ``1 - density`` zeros."""
    R = shape[0] if len(shape) >= 2 else 1
    n = int(np.prod(shape))
    L = n // R if R else 0
    m = rng.integers(dead[0], dead[1] + 1, size=(R, 1))
    mag = m + rng.integers(0, spread + 1, size=(R, L))
    mag = np.minimum(mag, np.iinfo(dtype).max)
    x = mag * rng.choice([-1, 1], size=(R, L))
    x[rng.random((R, L)) >= density] = 0
    return x.astype(dtype).reshape(shape)


def hand_floors(x: np.ndarray) -> list[int]:
    """§36's writer floors by numpy: per row the smallest nonzero magnitude - 1, else 0."""
    rows = np.abs(x.astype(np.int64)).reshape(x.shape[0] if x.ndim >= 2 else 1, -1)
    return [int(r[r > 0].min()) - 1 if (r > 0).any() else 0 for r in rows]


def hand_stored(x: np.ndarray, floors) -> np.ndarray:
    """sign(v) * (|v| - f_r) by numpy."""
    x64 = x.astype(np.int64).reshape(len(floors), -1)
    f = np.asarray(floors, np.int64).reshape(-1, 1)
    return (np.sign(x64) * np.where(x64 != 0, np.abs(x64) - f, 0)).astype(x.dtype).reshape(x.shape)


def errors(data: bytes, verify=False):
    """(codec.unpack's, codec.Package(...).read's, the reference's) exception or result."""
    def pkg():
        p = codec.Package(data, verify=verify)
        return {k: p.read(k) for k in p.names}
    out = []
    for f in (lambda: codec.unpack(data, verify=verify), pkg,
              lambda: ref.unpack(data, verify=verify)):
        try:
            out.append(f())
        except Exception as exc:  # noqa: BLE001 - classified by the callers
            out.append(exc)
    return out


def assert_same_error(data: bytes, cls, value) -> None:
    """All three readers raise ``cls`` (exactly) with ``value`` at the same offset."""
    got = errors(data)
    for exc in got:
        assert type(exc) is cls, exc
        assert exc.value == value, exc
    assert got[0].offset == got[1].offset == got[2].offset, got


def check_codec_package(data: bytes, ts: dict, meta: dict | None = None) -> ref.RefPackage:
    """The reference decodes ``data`` to ``ts`` as codec does, with codec's directory (floors,
    aliases, blocks), the same metadata, and re-encodes it byte for byte."""
    p = ref.read_package(data)
    assert_same_tensors(p.tensors, ts)
    assert_same_tensors(codec.unpack(data), ts)
    pk = codec.Package(data)
    for e, c in zip(p.entries, pk.directory.tensors, strict=True):
        assert (e.name, e.dtype, e.shape, e.block_offset, e.block_length, e.value_offset,
                e.floors, e.alias, e.group_size, e.glen) == \
            (c.name, c.dtype.name, c.shape, c.block_offset, c.block_length, c.value_offset,
             tuple(c.floors), c.alias, c.group_size, c.glen), e.name
        assert same_meta(p.metas[e.name], pk.meta(e.name)), e.name
        if meta is not None:
            assert same_meta(p.metas[e.name], meta.get(e.name)), e.name
    assert ref.reencode(data) == data
    return p


def v7_package(bits: str, *, names=("t",), v7=0, params=b"\x00\x00\x08", blocks=b"\x00",
               tables=(EOB_TABLE,), tail=None) -> bytes:
    """A v7 package by hand: the table pool of ``tables``, the names, ``params`` (len_k,
    voff_k, rate varint), the ``v7`` varint, the entry ``bits`` (padded), chunk CRCs of
    ``blocks`` (or ``tail``)."""
    directory = rv4.tables_bytes(list(tables)) + varint(len(names))
    directory += rv2.names_bytes(list(names)) + params + varint(v7) + B(bits).tobytes()
    directory += rv2.chunk_crcs(blocks) if tail is None else tail
    pre = b"SPKG\x07\x00\x00\x00"
    return pre + blocks + directory + struct.pack("<II", len(directory),
                                                  zlib.crc32(pre + directory)) + b"GKPS"


# one int8 tensor of 8 zeros, one group (as test_reference_v4's worked example), up to the
# floor fields; GLEN: the group's length 1 = prediction (rate 8: 1 bit) + sEG0(0)
T8 = "1 0011 0001000 11 0 0 0"
T8_16 = "0 011 0011 0001000 11 0 0 0"   # the same as int16
T8_32 = "0 101 0011 0001000 11 0 0 0"   # the same as int32
GLEN = "1"


# --- the rules by hand ------------------------------------------------------------------------

def test_floor_rules_by_hand():
    """R, the writer's floors, floor_k (the shortest order, ties the lower), the stored
    values and their inverse."""
    assert rf.rows_of((5, 3, 2)) == 5 and rf.rows_of((7,)) == 1 and rf.rows_of(()) == 1
    assert rf.floor_order([0]) == 0 and rf.floor_order([0, 0, 0]) == 0
    # 3: EG0 5 bits, EG1 4, EG2 3, EG3 4
    assert [rf.eg_len(3, k) for k in range(4)] == [5, 4, 3, 4] and rf.floor_order([3]) == 2
    assert rf.eg_len(1, 0) == 3 and rf.eg_len(1, 1) == 2 and rf.floor_order([1]) == 1
    # 2: EG0 = 011 and EG2 = 100, 3 bits each (EG1 4): the tie goes to the lower order
    assert [rf.eg_len(2, k) for k in range(3)] == [3, 4, 3] and rf.floor_order([2]) == 0
    assert all(rf.eg_len(n, k) == len(rv4.eg(n, k)) for n in range(70) for k in range(8))
    rng = np.random.default_rng(1)
    for _ in range(20):
        f = rng.integers(0, int(rng.choice([3, 100, 5000, 1 << 30])), size=int(rng.integers(1, 9)))
        assert rf.floor_order(f.tolist()) == codec.format_v4.floor_order(f)
    x = np.array([[5, 0, -7, 0], [0, 0, 0, 0], [-2, 3, 0, 9]], np.int8)
    assert rf.row_floors(x.reshape(-1).tolist(), x.shape) == hand_floors(x) == [4, 0, 1]
    s = rf.forward(x.reshape(-1).tolist(), x.shape, [4, 0, 1], "int8")
    assert s == hand_stored(x, [4, 0, 1]).reshape(-1).tolist() == \
        [1, 0, -3, 0, 0, 0, 0, 0, -1, 2, 0, 8]
    back = list(s)
    rf.unfloor(back, [4, 0, 1], "int8", "x", 8)
    assert back == x.reshape(-1).tolist()
    assert rf.forward([0, -3, 3], (3,), [2], "int8") == [0, -1, 1]  # 1-D: one row
    for bad in ([5, 0, 1], [4, 0], [4, 0, -1], [4, 0, 127]):
        with pytest.raises(ValueError):
            rf.forward(x.reshape(-1).tolist(), x.shape, bad, "int8")
    with pytest.raises(ValueError, match="signed"):
        rf.forward([1, 2], (2,), [0], "uint8")
    vals = [100, -100, 1]
    with pytest.raises(codec.CorruptError) as got:
        rf.unfloor(vals, [28], "int8", "t", 8)
    assert got.value.value == 100  # 128 > 127 (R3: the stored value)
    assert rf.floor_max("int8") == 126 and rf.floor_max("int16") == 32766
    assert rf.floor_max("int32") == (1 << 31) - 2


def test_codec_floor_helpers_agree():
    """The reference's writer floors and stored values are codec.floor's."""
    from codec import floor as cfloor
    rng = np.random.default_rng(2)
    for dtype in SIGNED:
        for shape in [(6, 10), (3, 2, 5), (17,), (4, 1)]:
            x = pruned(rng, shape, dtype)
            f = rf.row_floors(x.reshape(-1).tolist(), x.shape)
            assert f == cfloor.row_floors(x).tolist() == hand_floors(x)
            s = rf.forward(x.reshape(-1).tolist(), x.shape, f, dtype)
            assert s == cfloor.forward(x, f).reshape(-1).tolist()


# --- hand-made packages -----------------------------------------------------------------------

HAND_BITS = ("010 1"          # alias record: tensor 1 (gap EG0(1)) of tensor 0 (back - 1 = 0)
             + T8             # tensor "a": int8 (8,), whole tensor, no offset / meta / mirror
             + " 1 00010 111"  # has_floor, floor_k 2, EG2(3) (one row)
             + GLEN)


def test_hand_made_v7_package():
    """Two names, one entry: "b" is an alias of the floored "a" (v7 = 2 * 1 + 1 = 3)."""
    data = v7_package(HAND_BITS, names=("a", "b"), v7=3)
    x = np.zeros(8, np.int8)
    choices = {"a": ref.TensorChoice("count", 8, 0, 0, floors=[3]),
               "b": ref.TensorChoice("count", 8, alias="a")}
    assert ref.pack({"a": x, "b": x}, [EOB_TABLE], choices) == data
    p = ref.read_package(data)
    assert p.version == 7
    a, b = p.entries
    assert (a.floors, a.alias, b.floors, b.alias) == ((3,), -1, (3,), 0)
    assert (b.block_offset, b.block_length, b.glen) == (a.block_offset, 1, 1)
    assert_same_tensors(p.tensors, {"a": x, "b": x})
    assert ref.reencode(data) == data
    assert_same_tensors(codec.unpack(data), {"a": x, "b": x})
    d = codec.Package(data).directory
    assert [(t.floors, t.alias) for t in d.tensors] == [((3,), -1), ((3,), 0)]
    # the same without the alias and the floors: v7 = 0, no has_floor bit
    plain = v7_package(T8 + GLEN, names=("a",), v7=0)
    assert ref.pack({"a": x}, [EOB_TABLE], {"a": ref.TensorChoice("count", 8, 0, 0)},
                    version=7) == plain
    assert_same_tensors(codec.unpack(plain), {"a": x})
    # floors_on = 1 but "a" not floored: has_floor = 0
    zero = v7_package(T8 + " 0" + GLEN, names=("a",), v7=1)
    assert_same_tensors(ref.unpack(zero), {"a": x})
    assert_same_tensors(codec.unpack(zero), {"a": x})
    # the largest floors decode (zeros stay zeros)
    for head, dt, top in ((T8, "int8", 126), (T8_16, "int16", 32766),
                          (T8_32, "int32", (1 << 31) - 2)):
        ok = v7_package(head + " 1 00000" + _eg(top) + GLEN, v7=1)
        assert ref.read_package(ok).entries[0].floors == (top,)
        assert_same_tensors(codec.unpack(ok), {"t": np.zeros(8, dt)})


def _hand_made_violations():
    """{what: (package, CodecError class, value)}."""
    two = dict(names=("a", "b"))
    return {
        "A1 2 aliases of 2 tensors": (v7_package(T8 + GLEN, v7=4, **two), C, 2),
        "A1 an alias of no tensor": (v7_package("", names=(), v7=2, blocks=b""), C, 1),
        "A2 gap past the last tensor": (v7_package("011 1" + T8 + GLEN, v7=2, **two), C, 2),
        "A3 back > i": (v7_package("010 010" + T8 + GLEN, v7=2, **two), C, 2),
        "A3 alias of an alias": (v7_package("010 1 1 1" + T8 + GLEN, names=("a", "b", "c"),
                                            v7=4), C, 1),
        "A3 back = 1 at tensor 0": (v7_package("1 1" + T8 + GLEN, v7=2, **two), C, 1),
        "R1 floor_k 31": (v7_package(T8 + " 1 11111" + "1" * 40 + GLEN, v7=1), C, 31),
        "R1 floor_k 30 accepted": (v7_package(T8 + " 1 11110" + "1" + "0" * 30 + GLEN, v7=1),
                                   None, None),
        "R2 int8 floor 127": (v7_package(T8 + " 1 00000" + _eg(127) + GLEN, v7=1), C, 127),
        "R2 int16 floor 32767": (v7_package(T8_16 + " 1 00000" + _eg(32767) + GLEN, v7=1), C,
                                 32767),
        "R2 int32 floor 2^31 - 1": (v7_package(T8_32 + " 1 00000" + _eg((1 << 31) - 1) + GLEN,
                                               v7=1), C, (1 << 31) - 1),
        "R2 second row": (v7_package("1 0" + _eg(4) + _eg(1) + _eg(3) + " 11 0 0 0 0 1 00000"
                                     + _eg(3) + _eg(200) + GLEN, v7=1), C, 200),
        "floors truncated": (v7_package(T8 + " 1 00000", v7=1, tail=b""), T, None),
    }


@pytest.mark.parametrize("what", sorted(_hand_made_violations()))
def test_hand_made_violations(what):
    """A1-A3, R1, R2 (CorruptError, ``value`` = the field) in all three readers."""
    data, cls, value = _hand_made_violations()[what]
    if cls is None:
        fast, pkg, slow = errors(data)
        assert isinstance(slow, dict) and isinstance(fast, dict) and isinstance(pkg, dict)
        assert_same_tensors(slow, fast)
        return
    if cls is T:  # (the value of a truncation is the reader's business)
        for got in errors(data):
            assert type(got) is T, got
        return
    assert_same_error(data, cls, value)


def full_table(nclass: int = 8) -> ref.RefTable:
    """kref 0, nrun 1, every symbol a code (every int8 magnitude, every zero an escape)."""
    nsym = 2 + nclass
    return ref.RefTable(0, 1, nclass, code_lengths({s: 1 for s in range(nsym)}, nsym))


def test_r3_a_floor_takes_a_value_out_of_range(monkeypatch):
    """A stored 100 with floor 50 in int8 decodes to 150: R3 (CorruptError, ``value`` =
    the stored 100) in all three readers; -100 with floor 50 likewise; 77 + 50 = 127 is fine.
    (Written by the reference writer with its forward transform switched off.)"""
    from codec.reference import encoder as renc
    for stored, ok in (([0, 100, 0, 3], False), ([-100, 0, 0, 0], False),
                       ([77, -78, 0, 1], True)):
        x = np.array(stored, np.int8)
        tables = [full_table()]
        ch = {"x": ref.TensorChoice("count", 4, 0, 0, floors=[50])}
        with monkeypatch.context() as m:
            m.setattr(renc._floor, "forward", lambda flat, shape, floors, dtype: list(flat))
            data = ref.pack({"x": x}, tables, ch)
        if ok:
            want = {"x": np.array([127, -128, 0, 51], np.int8)}
            for got in errors(data):
                assert_same_tensors(got, want)
            continue
        assert_same_error(data, C, stored[0] or stored[1])
        assert ref.read_package(data, decode=False).entries[0].floors == (50,)


def test_the_block_holds_the_stored_values():
    """A floored tensor's block is the block of its stored values s (written unfloored), and
    decodes back to x = s + f / s - f."""
    x = np.array([[5, 0, -7, 0, 0, 0, 0, 9], [0, -30, 0, 31, 0, 0, 0, 40]], np.int8)
    f = hand_floors(x)
    assert f == [4, 29]
    s = hand_stored(x, f)
    assert s.tolist() == [[1, 0, -3, 0, 0, 0, 0, 5], [0, -1, 0, 2, 0, 0, 0, 11]]
    tables = [full_table()]
    v7 = ref.pack({"x": x}, tables, {"x": ref.TensorChoice("kernel", 8, 0, 0, floors=f)})
    v4 = ref.pack({"x": s}, tables, {"x": ref.TensorChoice("kernel", 8, 0, 0)})
    e7, e4 = (ref.read_package(d, decode=False).entries[0] for d in (v7, v4))
    assert v7[4] == 7 and v4[4] == 4
    assert v7[8:8 + e7.block_length] == v4[8:8 + e4.block_length]
    assert e7.floors == (4, 29) and e4.floors == ()
    assert_same_tensors(ref.unpack(v7), {"x": x})
    assert_same_tensors(codec.unpack(v7), {"x": x})
    assert ref.reencode(v7) == v7
    # smaller floors: still exact
    v7b = ref.pack({"x": x}, tables, {"x": ref.TensorChoice("kernel", 8, 0, 0, floors=[0, 0])})
    assert_same_tensors(ref.unpack(v7b), {"x": x})


# --- §37's worked example and the golden vectors ---------------------------------------------

S37_X = np.array([[0, 5, -4, 0], [6, 0, 0, -7]], np.int8)
S37_TABLE = ref.RefTable(1, 1, 2, [3, 1, 3, 2])  # EOB 3 bits, escape 1, |v| = 1 3, |v| = 2 2
S37_BITS = ("010 1"                                   # alias record: tensor 1 of tensor 0
            "1 0 00101 010 00100"                     # int8, shape (2, 4)
            "11 0 0 0 0"                              # whole tensor; no offset / meta /
            #                                           mirror; has_pred 0
            "1 00001 0101 0111"                       # has_floor, floor_k 1, floors 3 and 5
            "1")                                      # glen = 21 + sEG0(0)


def test_worked_example_s37():
    """docs/FORMAT.md §37's 52-byte dump: the reference's bits, fields and values by hand,
    and the reference writer's bytes from the same decisions."""
    from test_format_doc import hex_dump
    rows = hex_dump("hex-v7")
    data = b"".join(b for _, b in rows)
    assert len(data) == 52 and B(S37_BITS).tobytes() == bytes.fromhex("58a89842af")
    assert data[0x1e:0x23] == B(S37_BITS).tobytes() and data[0x1d] == 3
    p = ref.read_package(data)
    assert p.version == 7 and p.tables == [S37_TABLE]
    x, y = p.entries
    assert (x.floors, x.alias, x.glen, x.block_offset, x.block_length) == ((3, 5), -1, 21, 8, 3)
    assert (y.floors, y.alias, y.block_offset, y.block_length) == ((3, 5), 0, 8, 3)
    assert_same_tensors(p.tensors, {"x": S37_X, "y": S37_X})
    assert hand_floors(S37_X) == [3, 5]
    assert hand_stored(S37_X, [3, 5]).reshape(-1).tolist() == [0, 2, -1, 0, 1, 0, 0, -2]
    choices = {"x": ref.TensorChoice("count", 8, 0, 0, floors=[3, 5]),
               "y": ref.TensorChoice("count", 8, alias="x")}
    assert ref.pack({"x": S37_X, "y": S37_X}, [S37_TABLE], choices) == data
    assert ref.reencode(data) == data
    assert codec.pack({"x": S37_X, "y": S37_X.copy()}, floor={"x": True}) == data


V7_VECTORS = Path(__file__).resolve().parent / "vectors" / "v7"


def test_v7_vectors():
    """tests/vectors/v7/ (tests/vectors/make_vectors.py --v7): each vector decodes in the
    reference as recorded and as in codec, its floors and aliases are the recorded ones, and
    the reference re-encodes it byte for byte."""
    import json
    vecs = sorted(V7_VECTORS.glob("*.bin"))
    if not vecs:
        pytest.skip(f"no v7 golden vectors in {V7_VECTORS} yet")
    for path in vecs:
        data = path.read_bytes()
        js = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        with np.load(path.with_suffix(".npz")) as z:
            want = {k: z[k] for k in js["order"]}
        assert data[4] == 7, path.stem
        p = ref.read_package(data)
        assert_same_tensors(p.tensors, want)
        assert_same_tensors(codec.unpack(data), want)
        es = p.entries
        if "floored" in js:
            assert {e.name: list(e.floors) for e in es if e.floors and e.alias < 0} == \
                js["floored"], path.stem
        if "aliases" in js:
            assert {e.name: es[e.alias].name for e in es if e.alias >= 0} == js["aliases"]
        assert ref.reencode(data) == data, path.stem


# --- the reference writer's rules -------------------------------------------------------------

def test_reference_writer_rules():
    x = np.array([[5, 0, -7, 1], [0, -30, 0, 31]], np.int8)
    t = [full_table()]
    ch = ref.TensorChoice("count", 8, 0, 0, floors=[0, 29])
    assert ref.pack({"x": x}, t, {"x": ch})[4] == 7
    for v in (1, 4, 6):
        with pytest.raises(ValueError, match="version 7"):
            ref.pack({"x": x}, t, {"x": ch}, version=v)
    with pytest.raises(ValueError, match="version must be"):
        ref.pack({"x": x}, t, {"x": ch}, version=8)
    bad = {"floors=[1, 29]": ref.TensorChoice("count", 8, 0, 0, floors=[1, 29]),
           "one floor for two rows": ref.TensorChoice("count", 8, 0, 0, floors=[0]),
           "value offset": ref.TensorChoice("count", 8, 1, 0, floors=[0, 0]),
           "prediction": ref.TensorChoice("count", 8, 0, 0, floors=[0, 0], pred_mode=1),
           "mirror": ref.TensorChoice("count", 8, 0, 0, floors=[0, 0], mirror=(4, 0))}
    for what, c in bad.items():
        with pytest.raises(ValueError):
            ref.pack({"x": x}, t, {"x": c})
            pytest.fail(what)
    with pytest.raises(ValueError, match="signed"):
        ref.pack({"u": x.astype(np.uint8) & 3}, t,
                 {"u": ref.TensorChoice("count", 8, 0, 0, floors=[0, 0])})
    # aliases: an earlier tensor, not an alias, equal dtype / shape / values
    c = ref.TensorChoice("count", 8, 0, 0)
    ok = ref.pack({"x": x, "y": x.copy()}, t, {"x": c, "y": ref.TensorChoice(
        "count", 8, alias="x")})
    assert ok[4] == 7 and ref.read_package(ok).entries[1].alias == 0
    cases = [({"x": x, "y": x}, {"x": ref.TensorChoice("count", 8, alias="y"), "y": c}),
             ({"x": x, "y": x}, {"x": c, "y": ref.TensorChoice("count", 8, alias="z")}),
             ({"x": x, "y": x}, {"x": c, "y": ref.TensorChoice("count", 8, alias="y")}),
             ({"x": x, "y": x + 1}, {"x": c, "y": ref.TensorChoice("count", 8, alias="x")}),
             ({"x": x, "y": x.astype(np.int16)},
              {"x": c, "y": ref.TensorChoice("count", 8, alias="x")}),
             ({"x": x, "y": x.reshape(4, 2)},
              {"x": c, "y": ref.TensorChoice("count", 8, alias="x")}),
             ({"x": x, "y": x, "z": x}, {"x": c, "y": ref.TensorChoice("count", 8, alias="x"),
                                         "z": ref.TensorChoice("count", 8, alias="y")})]
    for ts, chs in cases:
        with pytest.raises(ValueError, match="alias"):
            ref.pack(ts, t, chs)
    with pytest.raises(ValueError, match="version 7"):
        ref.pack({"x": x, "y": x}, t, {"x": c, "y": ref.TensorChoice("count", 8, alias="x")},
                 version=6)


# --- against codec.pack -----------------------------------------------------------------------

def _model(rng, dtype="int8"):
    """Pruned per-row tensors, a tied copy (alias) of a floored one, a bias, an empty one."""
    spread = {"int8": 80, "int16": 3000, "int32": 1 << 20}[dtype]
    dead = {"int8": (5, 40), "int16": (100, 900), "int32": (1000, 1 << 16)}[dtype]
    w1 = pruned(rng, (12, 3, 3, 3), dtype, spread, 0.5, dead)
    return {"conv.weight": w1,
            "fc.weight": pruned(rng, (10, 40), dtype, spread, 0.4, dead),
            "fc.bias": rng.integers(-9, 10, size=10).astype(dtype),
            "head.weight": w1.copy(),
            "vec": pruned(rng, (50,), dtype, spread, 0.6, dead),
            "empty": np.zeros((0, 4), dtype)}


@pytest.mark.parametrize("dtype", SIGNED)
@pytest.mark.parametrize("group", ["auto", "kernel", ("count", 50)])
def test_codec_forced_floors_and_aliases(dtype, group):
    """Forced floors on every dtype (the writer's, and smaller ones), an alias of a floored
    tensor, several groups per tensor: the reference reads what codec writes and writes it
    back byte for byte."""
    rng = np.random.default_rng(SIGNED.index(dtype))
    ts = _model(rng, dtype)
    smaller = [max(0, f - 3) for f in hand_floors(ts["fc.weight"])]
    floors = {"conv.weight": True, "fc.weight": smaller, "vec": True}
    data = codec.pack(ts, group=group, floor=floors, predict=None, mirror=None)
    assert data[4] == 7
    p = check_codec_package(data, ts)
    e = {x.name: x for x in p.entries}
    assert e["conv.weight"].floors == tuple(hand_floors(ts["conv.weight"]))
    assert e["fc.weight"].floors == tuple(smaller)
    assert e["vec"].floors == tuple(hand_floors(ts["vec"])) and len(e["vec"].floors) == 1
    assert e["head.weight"].alias == 0 and e["head.weight"].floors == e["conv.weight"].floors
    assert e["fc.bias"].floors == () and e["empty"].floors == ()
    assert all(x.value_offset == 0 for x in p.entries if x.floors)
    if group == "kernel":
        assert e["conv.weight"].n_groups == 12 and len(e["head.weight"].group_tables) == 12
    # no aliases: the tied copy gets its own block
    solo = codec.pack(ts, group=group, floor=floors, predict=None, mirror=None, alias=None)
    p2 = check_codec_package(solo, ts)
    assert all(x.alias == -1 for x in p2.entries)
    assert len(solo) > len(data)


def test_codec_floors_with_meta_and_tied_meta():
    """Metadata on a floored tensor and on its alias (which shares the target's)."""
    rng = np.random.default_rng(5)
    ts = _model(rng)
    m = codec.QuantMeta(bits=8, scale=np.linspace(0.5, 1, 12).astype(np.float32), axis=0)
    meta = {"conv.weight": m, "head.weight": m,
            "fc.weight": codec.QuantMeta(bits=8, scale=np.float32([0.25]))}
    data = codec.pack(ts, meta=meta, floor={"conv.weight": True, "fc.weight": True},
                      predict=None)
    p = check_codec_package(data, ts, meta)
    e = {x.name: x for x in p.entries}
    assert e["conv.weight"].floors and e["conv.weight"].meta_length
    assert e["head.weight"].alias == 0
    assert e["fc.weight"].floors and e["fc.weight"].meta_length
    # different metadata: no alias
    meta["head.weight"] = codec.QuantMeta(bits=8, scale=np.linspace(0.5, 2, 12).astype(
        np.float32), axis=0)
    data = codec.pack(ts, meta=meta, floor={"conv.weight": True}, predict=None)
    p = check_codec_package(data, ts, meta)
    assert all(x.alias == -1 for x in p.entries)


def test_codec_auto_floors():
    """codec.pack's defaults floor a pruned per-row tensor (v7); floor=None and alias=None
    give back v4; version=7 with neither: v7 = 0."""
    rng = np.random.default_rng(7)
    ts = {"w": pruned(rng, (32, 64), "int8", 20, 0.5, (10, 50)),
          "b": rng.integers(-5, 6, size=32).astype(np.int8)}
    data = codec.pack(ts, predict=None)
    assert data[4] == 7
    p = check_codec_package(data, ts)
    assert p.entries[0].floors == tuple(hand_floors(ts["w"]))
    plain = codec.pack(ts, predict=None, floor=None, alias=None)
    assert plain[4] == 4 and ref.reencode(plain) == plain
    forced = codec.pack(ts, predict=None, floor=None, alias=None, version=7)
    p = check_codec_package(forced, ts)
    assert all(e.floors == () and e.alias == -1 for e in p.entries)
    tensors, tables, choices = ref.choices_of(forced)
    assert ref.pack(tensors, tables, choices, version=7) == forced
    # the v7 package is v4's but for the version byte, the "v7" varint 0 and the CRC
    assert len(forced) == len(plain) + 1


def test_codec_aliases():
    """Three equal tensors: two aliases of the first; equal bytes of another dtype or shape
    are no alias; several groups (group='kernel'); an alias of a tensor with a mirror or a
    prediction mode; empty tensors stay themselves."""
    rng = np.random.default_rng(8)
    k = rng.integers(-20, 21, size=(6, 2, 3, 3)).astype(np.int8)
    ts = {"a": k, "b": k.copy(), "c": k.view(np.uint8).copy(), "d": k.reshape(12, 9).copy(),
          "e": k.copy(), "z0": np.zeros((0, 3), np.int8), "z1": np.zeros((0, 3), np.int8)}
    for group in ("auto", "kernel"):
        data = codec.pack(ts, group=group, floor=None)
        assert data[4] == 7
        p = check_codec_package(data, ts)
        assert [e.alias for e in p.entries] == [-1, 0, -1, -1, 0, -1, -1]
        assert p.entries[1].block_offset == p.entries[0].block_offset
    # an alias of a predicted tensor (v7 carries the v6 prediction fields)
    sm = (np.add.outer(np.arange(3), np.arange(3)) * 5).astype(np.int8)
    ts = {"k": np.tile(sm, (40, 8, 1, 1)), "k2": np.tile(sm, (40, 8, 1, 1))}
    data = codec.pack(ts, predict={"k": 7})
    p = check_codec_package(data, ts)
    assert p.entries[0].pred_mode == 7 and p.entries[1].alias == 0
    assert p.entries[1].pred_mode == 7
    # an alias of a mirrored tensor
    from test_reference_v3 import sym_rows
    x = sym_rows(np.random.default_rng(3), 6, 8, 1, "int8", spread=20)
    ts = {"m": x, "m2": x.copy()}
    data = codec.pack(ts, mirror={"m": (8, 1)}, predict=None)
    p = check_codec_package(data, ts)
    assert p.entries[0].mirror_period == 8 and p.entries[1].alias == 0
    assert p.entries[1].mirror_modes == p.entries[0].mirror_modes


def test_aliases_count_towards_max_output_bytes():
    rng = np.random.default_rng(9)
    x = rng.integers(-9, 10, size=(10, 10)).astype(np.int16)
    data = codec.pack({"a": x, "b": x, "c": x}, floor=None)
    assert [e.alias for e in ref.read_package(data).entries] == [-1, 0, 0]
    for cap, ok in ((600, True), (599, False)):
        lim = codec.Limits(max_output_bytes=cap)
        rl = ref.RefLimits(max_output_bytes=cap)
        if ok:
            assert_same_tensors(ref.unpack(data, limits=rl), {"a": x, "b": x, "c": x})
            assert_same_tensors(codec.unpack(data, limits=lim), {"a": x, "b": x, "c": x})
            continue
        with pytest.raises(codec.LimitError):
            ref.unpack(data, limits=rl)
        with pytest.raises(codec.LimitError):
            codec.unpack(data, limits=lim)


def test_name_merge_tokens_are_kept():
    """v7's writer merge (TensorFlow's ``beta:`` ``0`` -> ``beta:0``): the reference takes the
    tokens from the package and writes them back; its own §21 split (no tokens given) spells
    the same names in a longer name section."""
    rng = np.random.default_rng(10)
    names = [f"model/layer{i}/bn/{w}:0" for w in ("beta", "gamma") for i in range(6)]
    ts = {n: pruned(rng, (4, 8), "int8", 30, 0.5, (3, 9)) for n in names}
    data = codec.pack(ts, floor={names[0]: True}, predict=None)
    assert data[4] == 7
    p = check_codec_package(data, ts)
    assert b"beta:0" in p.entries[0].name_tokens
    tensors, tables, choices = ref.choices_of(data)
    for c in choices.values():
        c.name_tokens = None
    split = ref.pack(tensors, tables, choices, version=7)
    assert len(split) > len(data)
    assert_same_tensors(ref.unpack(split), ts)
    assert_same_tensors(codec.unpack(split), ts)


# --- corruption: both readers agree -----------------------------------------------------------



def _small_v7() -> bytes:
    rng = np.random.default_rng(12)
    w = pruned(rng, (3, 6), "int8", 20, 0.6, (4, 9))
    v = pruned(rng, (5,), "int16", 300, 0.8, (40, 60))
    return codec.pack({"w": w, "v": v, "w2": w.copy(), "b": np.arange(-2, 3, dtype=np.int8)},
                      floor={"w": True, "v": True}, predict=None, group=("count", 9))


def test_v7_directory_bit_flips_agree():
    """Each bit of the directory flipped (directory CRC repaired, block CRCs off): codec and
    the reference raise the same CodecError class or decode the same arrays."""
    data = _small_v7()
    assert data[4] == 7
    p = ref.read_package(data)
    assert any(e.floors for e in p.entries) and any(e.alias >= 0 for e in p.entries)
    fpos = len(data) - 12
    off = fpos - struct.unpack_from("<I", data, fpos)[0]
    accepted = checked = 0
    for bit in range(8 * off, 8 * fpos):
        bad = bytearray(data)
        bad[bit // 8] ^= 0x80 >> (bit % 8)
        fast, pkg, slow = errors(fix_crc(bad))
        for r in (fast, slow):
            assert isinstance(r, (dict, codec.CodecError)), (bit, r)
        assert isinstance(fast, dict) == isinstance(slow, dict), (bit, fast, slow)
        if isinstance(fast, dict):
            accepted += 1
            assert_same_tensors(slow, fast)
        else:
            assert type(fast) is type(slow), (bit, fast, slow)
            if isinstance(slow, codec.CorruptError) and re.search(r"\([AR][123]\)", str(slow)):
                checked += 1
                assert fast.value == slow.value, (bit, fast, slow)
    assert accepted > 0 and checked > 0


def test_v7_block_bit_flips_agree():
    data = _small_v7()
    p = ref.read_package(data, decode=False)
    lo = 8 * min(e.block_offset for e in p.entries)
    hi = 8 * max(e.block_offset + e.block_length for e in p.entries)
    for bit in range(lo, hi):
        bad = bytearray(data)
        bad[bit // 8] ^= 0x80 >> (bit % 8)
        fast, pkg, slow = errors(bytes(bad))
        assert isinstance(fast, dict) == isinstance(slow, dict), (bit, fast, slow)
        if isinstance(fast, dict):
            assert_same_tensors(slow, fast)
        else:
            assert type(fast) is type(slow), (bit, fast, slow)


def test_v7_truncations_rejected():
    data = _small_v7()
    for n in range(0, len(data), 3):
        fast, pkg, slow = errors(data[:n])
        assert isinstance(fast, codec.CodecError) and isinstance(slow, codec.CodecError), n


# --- hypothesis: random sets, forced floors and copies ----------------------------------------

@st.composite
def v7_sets(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    ts, floors = {}, {}
    for i in range(draw(st.integers(1, 4))):
        dt = draw(st.sampled_from(SIGNED + ["uint8"]))
        nd = draw(st.integers(1, 3))
        shape = tuple(int(d) for d in rng.integers(1, 6, size=nd))
        if dt == "uint8":
            x = rng.integers(0, 4, size=shape).astype(dt)
        else:
            x = pruned(rng, shape, dt, int(rng.integers(0, 200)), float(rng.random()),
                       (1, int(rng.integers(1, 120))))
        ts[f"t{i}"] = x
        if dt != "uint8" and draw(st.booleans()):
            hf = hand_floors(x)
            floors[f"t{i}"] = True if draw(st.booleans()) else [
                int(rng.integers(0, f + 1)) for f in hf]
        if draw(st.integers(0, 3)) == 0:
            ts[f"c{i}"] = x.copy()
    return ts, floors


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(v7_sets(), st.sampled_from(["auto", "kernel", ("count", 7)]))
def test_random_v7_both_paths(case, group):
    ts, floors = case
    data = codec.pack(ts, group=group, floor=floors, predict=None, mirror=None)
    p = check_codec_package(data, ts)
    own = {e.name for e in p.entries if e.alias < 0}
    # (codec.pack ignores forced floors of a tensor it makes an alias: its target's count)
    assert {e.name for e in p.entries if e.floors and e.alias < 0} == set(floors) & own
