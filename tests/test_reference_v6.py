"""Format v6 (docs/FORMAT.md §34: the prediction transform of §32 over any two adjacent
dimensions, chosen by an entry's ``pred_shift``): the pure-Python reference against
hand-written formulas and hand-made packages, against its own writer, and against
``codec.pack`` / ``codec.unpack`` and (once they exist) the golden vectors of tests/vectors/v6/.

Kept small enough for ``NUMBA_DISABLE_JIT=1`` (the codec side then runs as plain Python)."""
from __future__ import annotations

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
from codec.reference.decoder import CODE_BY_DTYPE, mag_class
from codec.reference.encoder import code_lengths, group_symbols, varint

from test_reference import _both, assert_same_tensors  # noqa: E402
from test_reference_v5 import (EOB_TABLE, GLEN1, HEAD33, _eg, _seg, flat,  # noqa: E402
                               hand_pred, hand_wrap, smooth_kernels, v5_package)

DTYPES = ["int8", "uint8", "int16", "uint16", "int32", "uint32"]
V6_VECTORS = Path(__file__).resolve().parent / "vectors" / "v6"


# --- the transform by hand (§34), independent of codec/reference/predict_v5 ---------------------

def hand_axes(shape, shift: int) -> tuple[int, int, int, int]:
    """(A, H, W, C) of §34, with numpy products: dims h = ndim - 2 - shift and h + 1."""
    h = len(shape) - 2 - shift
    return (int(np.prod(shape[:h], dtype=np.int64)), int(shape[h]), int(shape[h + 1]),
            int(np.prod(shape[h + 2:], dtype=np.int64)))


def hand_residuals6(x: np.ndarray, mode: int, shift: int) -> np.ndarray:
    """r = wrap(x - pred) by a loop over (a, i, j, c): image (a, c) is ``x4[a, :, :, c]`` of
    the (A, H, W, C) view of ``x`` (numpy's indexing, not index arithmetic)."""
    dtype = x.dtype.name
    A, H, W, C = hand_axes(x.shape, shift)
    x4 = x.astype(np.int64).reshape(A, H, W, C)
    r4 = np.zeros_like(x4)
    for a in range(A):
        for c in range(C):
            img = x4[a, :, :, c].tolist()
            for i in range(H):
                for j in range(W):
                    r4[a, i, j, c] = hand_wrap(img[i][j] - hand_pred(img, i, j, mode), dtype)
    return r4.reshape(x.shape)


def all_shifts(shape) -> list[int]:
    """§34's allowed shifts of ``shape``, by hand: shape[h] * shape[h + 1] >= 2."""
    n = len(shape)
    return [s for s in range(n - 1) if shape[n - 2 - s] * shape[n - 1 - s] >= 2]


# §35's tensor (tests/vectors/make_vectors.py): a (1, 3, 3, 2) OHWI kernel whose channel 0 is
# §33's kernel and channel 1 the same + 10
OHWI = np.array([[[[10, 20], [12, 22], [13, 23]], [[11, 21], [13, 23], [15, 25]],
                  [[12, 22], [14, 24], [16, 26]]]], np.int8)


def test_ohwi_shift1_by_hand():
    """Shift 1 on (1, 3, 3, 2): h = 1, H = W = 3, C = 2: the images are channels 0 and 1
    (interleaved in C order).  Mode 7 (plane, c = 4: pred = L + U - UL exactly) gives §33's
    residuals 10 2 1 / 1 0 1 / 1 0 0 for channel 0 and 20 2 1 / 1 0 1 / 1 0 0 for channel 1;
    mode 0 at (0, 1): (2 * 10 + 4) >> 3 = 3, (2 * 20 + 4) >> 3 = 5."""
    r = ref.pred_residuals(flat(OHWI), OHWI.shape, 7, "int8", 1)
    assert r == [10, 20, 2, 2, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0]
    r0 = ref.pred_residuals(flat(OHWI), OHWI.shape, 0, "int8", 1)
    assert r0[:4] == [10, 20, 12 - 3, 22 - 5]
    for mode in range(8):
        got = ref.pred_residuals(flat(OHWI), OHWI.shape, mode, "int8", 1)
        assert got == flat(hand_residuals6(OHWI, mode, 1)), mode
        back = list(got)
        ref.pred_rebuild(back, OHWI.shape, mode, "int8", 1)
        assert back == flat(OHWI)
    # shift 0 (v5: images over the last two dims, 3 x 2) is another transform
    assert ref.pred_residuals(flat(OHWI), OHWI.shape, 7, "int8", 0) != r
    assert ref.pred_residuals(flat(OHWI), OHWI.shape, 7, "int8", 0) == \
        ref.pred_residuals(flat(OHWI), OHWI.shape, 7, "int8")


def hwio_plane() -> tuple[np.ndarray, np.ndarray]:
    """A (3, 3, 2, 2) HWIO int8 kernel x[i, j, ci, co] = b + p i + q j (a plane per (ci, co))
    and its mode 7 residuals by hand: b at (0, 0), q on row 0, p on column 0, 0 inside."""
    b = np.array([[5, -7], [100, -120]])
    p = np.array([[1, -2], [3, 0]])
    q = np.array([[2, 4], [-5, 1]])
    x = np.zeros((3, 3, 2, 2), np.int64)
    want = np.zeros((3, 3, 2, 2), np.int64)
    for i in range(3):
        for j in range(3):
            x[i, j] = b + p * i + q * j
            want[i, j] = b if (i, j) == (0, 0) else q if i == 0 else p if j == 0 else 0
    return x.astype(np.int8), want


def test_hwio_shift2_by_hand():
    """Shift 2 on (3, 3, 2, 2): h = 0, H = W = 3, C = 4 (A = 1): every (ci, co) is an image
    whose neighbours are 4 values apart along a row and 12 down a column."""
    x, want = hwio_plane()
    assert ref.pred_axes(x.shape, 2) == (1, 3, 3, 4)
    assert ref.pred_residuals(flat(x), x.shape, 7, "int8", 2) == flat(want)
    rng = np.random.default_rng(2)
    noisy = (x.astype(np.int64) + rng.integers(-3, 4, x.shape)).astype(np.int8)
    for shift in (0, 1, 2):
        for mode in range(8):
            got = ref.pred_residuals(flat(noisy), x.shape, mode, "int8", shift)
            assert got == flat(hand_residuals6(noisy, mode, shift)), (shift, mode)
            ref.pred_rebuild(got, x.shape, mode, "int8", shift)
            assert got == flat(noisy)


def test_shift_rule_and_axes():
    """§34: shift <= ndim - 2 and shape[h] * shape[h + 1] >= 2; (A, H, W, C)."""
    ok = ref.pred_shift_ok
    assert ok((1, 3, 3, 2), 0) and ok((1, 3, 3, 2), 1) and ok((1, 3, 3, 2), 2)
    assert not ok((1, 3, 3, 2), 3) and not ok((3, 3), 1) and not ok((1, 1, 3, 3), 2)
    assert not ok((3, 3), -1) and ok((1, 1, 3, 3), 1)
    for shape in [(2, 3, 4, 5), (1, 1, 3, 3), (4, 2), (3, 1, 1, 2, 5)]:
        assert [s for s in range(len(shape) + 2) if ok(shape, s)] == all_shifts(shape)
        for s in all_shifts(shape):
            assert ref.pred_axes(shape, s) == hand_axes(shape, s)
    assert ref.pred_axes((2, 3, 4, 5), 1) == (2, 3, 4, 5)
    assert ref.pred_axes((2, 3, 4, 5), 0) == (6, 4, 5, 1)
    assert ref.pred_axes((2, 3, 4, 5), 2) == (1, 2, 3, 20)
    x = np.zeros((1, 1, 3, 3), np.int8)
    for shift in (2, 3, -1):  # a 1 x 1 pair, past ndim - 2, negative
        with pytest.raises(ValueError, match="shift"):
            ref.pred_residuals(flat(x), x.shape, 0, "int8", shift)
    with pytest.raises(ValueError, match="does not apply"):  # eligibility is v5's rule
        ref.pred_residuals([0] * 9, (3, 3, 1, 1), 0, "int8", 2)


SHAPES = [(2, 3, 2, 3, 2), (3, 1, 4, 2), (2, 2, 3), (1, 2, 1, 2, 3)]


@pytest.mark.parametrize("dtype", DTYPES)
def test_round_trip_every_mode_shift_dtype(dtype):
    """Random, extreme and alternating values of every dtype (residuals wrap around), every
    mode, every shift a shape allows: the hand formula = the reference = ``codec.predict``,
    and the reference's rebuild inverts them."""
    info = np.iinfo(dtype)
    rng = np.random.default_rng(zlib.crc32(dtype.encode()))
    for shape in SHAPES:
        n = int(np.prod(shape))
        for fill in ("random", "alternate", "max"):
            if fill == "random":
                x = rng.integers(info.min, info.max, size=n, endpoint=True, dtype=np.int64)
            elif fill == "alternate":
                x = np.where(np.arange(n) % 3, info.max, info.min).astype(np.int64)
            else:
                x = np.full(n, info.max, np.int64)
            x = x.astype(dtype).reshape(shape)
            for shift in all_shifts(shape):
                for mode in range(8):
                    r = ref.pred_residuals(flat(x), shape, mode, dtype, shift)
                    assert r == flat(hand_residuals6(x, mode, shift)), (shape, fill, shift, mode)
                    assert r == flat(codec.predict.residuals(x, mode, shift))
                    assert all(info.min <= v <= info.max for v in r)
                    ref.pred_rebuild(r, shape, mode, dtype, shift)
                    assert r == flat(x), (shape, fill, shift, mode)


def test_images_of_a_slices_are_independent():
    """An a-slice of H * W * C values is transformed alone: the whole tensor's residuals are
    the concatenation of its slices' (the slices of shape[h:])."""
    rng = np.random.default_rng(1)
    x = rng.integers(-30, 30, size=(3, 4, 3, 2)).astype(np.int16)
    for mode in (0, 5):
        whole = ref.pred_residuals(flat(x), x.shape, mode, "int16", 1)
        parts = []
        for sl in x:
            parts += ref.pred_residuals(flat(sl), sl.shape, mode, "int16", 1)
        assert whole == parts


# --- packages by hand -----------------------------------------------------------------------

def v6_package(bits, **kw) -> bytes:
    """test_reference_v5's hand-made package (one EOB-only table) with version byte 6."""
    return v5_package(bits, version=6, **kw)


# int8 (1, 1, 3, 3), the whole tensor one group, value offset 10, no meta, no mirror
HEAD1133 = "1 0" + _eg(8) + _eg(0) + _eg(0) + _eg(2) + _eg(2) + " 11 1" + _seg(10) + " 0 0"


def B(s: str):
    from bitarray import bitarray
    return bitarray(s.replace(" ", ""), endian="big")


def entry_start() -> int:
    """Byte offset of the entry bit string of a hand-made one-tensor package."""
    directory = rv4.tables_bytes([EOB_TABLE]) + varint(1) + rv2.names_bytes(["t"])
    return 8 + 1 + len(directory) + 3


@pytest.mark.parametrize("shift", [0, 1])
def test_hand_made_entry_with_shift(shift):
    """has_pred = 1, mode 7, then pred_shift EG(0) (0 = "1", 1 = "010"): every residual is the
    value offset 10; the values are rebuilt over the images the shift names."""
    data = v6_package(HEAD1133 + " 1 111" + _eg(shift) + GLEN1)
    p = ref.read_package(data)
    e = p.entries[0]
    assert (p.version, e.pred_mode, e.pred_shift, e.value_offset) == (6, 7, shift, 10)
    A, H, W, C = hand_axes((1, 1, 3, 3), shift)
    want = np.zeros((A, H, W, C), np.int64)
    for c in range(C):  # x = 10 + pred(x), the hand formula on the rebuilt values
        for i in range(H):
            for j in range(W):
                img = want[0, :, :, c].tolist()
                want[0, i, j, c] = hand_wrap(10 + hand_pred(img, i, j, 7), "int8")
    assert p.tensors["t"].tolist() == want.reshape(1, 1, 3, 3).tolist()
    assert codec.unpack(data)["t"].tolist() == p.tensors["t"].tolist()
    assert codec.Package(data).directory.tensors[0].pred_shift == shift
    again = ref.pack(p.tensors, p.tables, {"t": ref.TensorChoice(
        "count", 9, 10, 0, pred_mode=7, pred_shift=shift)}, version=6)
    assert ref.unpack(again)["t"].tolist() == p.tensors["t"].tolist()
    assert ref.reencode(data) == again  # (the writer picks its own voff_k / rate)


BAD_SHIFTS = [("(3, 3): past ndim - 2", HEAD33, 1),
              ("(3, 3): far past", HEAD33, 1000),
              ("(1, 1, 3, 3): a 1 x 1 pair", HEAD1133, 2),
              ("(1, 1, 3, 3): past ndim - 2", HEAD1133, 3)]


@pytest.mark.parametrize("what, head, shift", BAD_SHIFTS, ids=[b[0] for b in BAD_SHIFTS])
def test_corrupt_pred_shift(what, head, shift):
    """§34's check: a pred_shift > ndim - 2, or one naming dims of product 1, is a
    CorruptError at the field's byte with ``value`` = the shift, in both readers."""
    data = v6_package(head + " 1 010" + _eg(shift) + GLEN1)
    with pytest.raises(codec.CorruptError) as exc:
        ref.unpack(data)
    assert exc.value.value == shift
    assert exc.value.offset == entry_start() + len(B(head + " 1 010")) // 8
    with pytest.raises(codec.CorruptError):
        ref.read_package(data, decode=False)
    with pytest.raises(codec.CorruptError):
        codec.unpack(data)


def test_no_shift_field_without_pred():
    """has_pred = 0 or an ineligible tensor: no pred_shift field in v6 either (the v5 bits
    with version byte 6 read the same)."""
    for bits in (HEAD33 + " 0" + GLEN1, "1 0" + _eg(2) + _eg(8) + " 11 0 0 0" + GLEN1):
        data = v6_package(bits)
        p = ref.read_package(data)
        assert p.entries[0].pred_mode == -1 and p.entries[0].pred_shift == 0
        assert_same_tensors(codec.unpack(data), p.tensors)
        assert_same_tensors(ref.unpack(v5_package(bits)), p.tensors)


# --- the reference writer -------------------------------------------------------------------

def table_for6(ts: dict, choices: dict, kref: int = 2, nrun: int = 4) -> ref.RefTable:
    """One table able to code every group of the (transformed, with their shifts) tensors."""
    counts: dict[int, int] = {}
    nclass = 1
    for k, x in ts.items():
        ch = choices[k]
        vals = flat(x)
        if ch.pred_mode is not None and ch.pred_mode >= 0:
            vals = ref.pred_residuals(vals, x.shape, ch.pred_mode, x.dtype.name,
                                      ch.pred_shift or 0)
        for v in vals:
            if v != ch.value_offset:
                nclass = max(nclass, mag_class(abs(v - ch.value_offset), kref)[0] + 1)
        for g in range(0, len(vals), ch.group_size):
            for s in group_symbols(vals[g:g + ch.group_size], ch.value_offset, kref, nrun):
                counts[s] = counts.get(s, 0) + 1
    nsym = 2 + nclass * nrun
    return ref.RefTable(kref, nrun, nclass, code_lengths(counts, nsym))


def tfl(x: np.ndarray) -> np.ndarray:
    """(O, I, kh, kw) -> TFLite's (O, kh, kw, I)."""
    return np.ascontiguousarray(np.transpose(x, (0, 2, 3, 1)))


def _writer_case(seed=0):
    rng = np.random.default_rng(seed)
    ts = {"ohwi": tfl(smooth_kernels(rng, (4, 3, 3, 3))),
          "hwio": np.ascontiguousarray(np.transpose(smooth_kernels(rng, (2, 3, 3, 3), "int16",
                                                                   300), (2, 3, 1, 0))),
          "oihw": smooth_kernels(rng, (3, 2, 3, 3)),
          "dw": tfl(smooth_kernels(rng, (1, 8, 3, 3), "int32", 1000)),
          "u": (tfl(smooth_kernels(rng, (2, 4, 3, 3), "int16", 20)) + 100).astype(np.uint16),
          "bias": rng.integers(-5, 6, size=6).astype(np.int8),
          "empty": np.zeros((2, 0, 3), np.int8)}
    choices = {"ohwi": ref.TensorChoice("kernel", 27, 0, 0, pred_mode=7, pred_shift=1),
               "hwio": ref.TensorChoice("count", 17, 0, 0, pred_mode=2, pred_shift=2),
               "oihw": ref.TensorChoice("kernel", 18, 0, 0, pred_mode=5, pred_shift=0),
               "dw": ref.TensorChoice("count", 72, 5, 0, pred_mode=4, pred_shift=1),
               "u": ref.TensorChoice("kernels", 72, 100, 0, pred_mode=0, pred_shift=1),
               "bias": ref.TensorChoice("count", 6, 0, 0),
               "empty": ref.TensorChoice("count", 1, 0, 0)}
    return ts, choices


def test_reference_writer_round_trip():
    """Shifts 0, 1 and 2 beside each other, several dtypes (unsigned too), groupings, value
    offsets: v6 by default, read back equal, the choices read back, reencode identical."""
    ts, choices = _writer_case()
    tables = [table_for6(ts, choices)]
    data = ref.pack(ts, tables, choices)
    assert data[:8] == b"SPKG\x06\x00\x00\x00" and data[-4:] == b"GKPS"
    assert ref.pack(ts, tables, choices, version=6) == data
    p = ref.read_package(data)
    assert_same_tensors(p.tensors, ts)
    want = {k: ((-1, 0) if c.pred_mode is None else (c.pred_mode, c.pred_shift))
            for k, c in choices.items()}
    assert {e.name: (e.pred_mode, e.pred_shift) for e in p.entries} == want
    _, _, back = ref.choices_of(data)
    assert {k: (c.pred_mode, c.pred_shift) for k, c in back.items() if c.pred_mode is not None
            } == {k: v for k, v in want.items() if v[0] >= 0}
    assert ref.reencode(data) == data
    assert_same_tensors(codec.unpack(data), ts)
    d = codec.Package(data).directory
    assert {c.name: (c.pred_mode, c.pred_shift) for c in d.tensors} == want


def test_the_block_holds_the_strided_residuals():
    """The v6 block of a tensor with (mode, shift) is the v4 block of its residual tensor."""
    rng = np.random.default_rng(4)
    x = tfl(smooth_kernels(rng, (5, 3, 3, 3)))
    for mode in (1, 7):
        ch = {"k": ref.TensorChoice("kernel", 27, 0, 0, pred_mode=mode, pred_shift=1)}
        tables = [table_for6({"k": x}, ch)]
        r = np.array(ref.pred_residuals(flat(x), x.shape, mode, "int8", 1), np.int8)
        v6 = ref.pack({"k": x}, tables, ch)
        v4 = ref.pack({"k": r.reshape(x.shape)}, tables,
                      {"k": ref.TensorChoice("kernel", 27, 0, 0)})
        e6, e4 = (ref.read_package(d, decode=False).entries[0] for d in (v6, v4))
        assert v6[4] == 6 and v6[8:8 + e6.block_length] == v4[8:8 + e4.block_length]
        assert ref.unpack(v6)["k"].tolist() == x.tolist()


def test_version_rules_v6():
    """Shift 0 everywhere: v5 by default, byte for byte what v5 writes; version=6 adds one
    "1" bit (EG(0) of 0) per predicted tensor; a shift > 0 needs v6 and must fit the shape;
    a shift without a mode is no shift."""
    ts, choices = _writer_case(1)
    zero = {k: ref.TensorChoice(c.group_mode, c.group_size, c.value_offset, c.table,
                                pred_mode=c.pred_mode) for k, c in choices.items()}
    tables = [full_table16()]
    v5 = ref.pack(ts, tables, zero)
    assert v5[4] == 5 and ref.pack(ts, tables, zero, version=5) == v5
    v6 = ref.pack(ts, tables, zero, version=6)
    assert v6[4] == 6 and ref.reencode(v6) == v6
    assert_same_tensors(ref.unpack(v6), ts)
    n_pred = sum(c.pred_mode is not None for c in zero.values())
    assert [e.pred_shift for e in ref.read_package(v6, decode=False).entries] == [0] * len(ts)
    bits5 = rv4.entry_string(_entries_of(ts, zero, v5), 1, 0, 0, 0, 5)
    bits6 = rv4.entry_string(_entries_of(ts, zero, v6), 1, 0, 0, 0, 6)
    assert len(bits6) == len(bits5) + n_pred
    x = ts["ohwi"]
    for version in (1, 2, 3, 4, 5):
        with pytest.raises(ValueError, match="version"):
            ref.pack({"k": x}, tables, {"k": ref.TensorChoice("kernel", 27, 0, 0, pred_mode=3,
                                                              pred_shift=1)}, version=version)
    for bad in (3, 4):  # (4, 3, 3, 3): past ndim - 2
        with pytest.raises(ValueError, match="shift"):
            ref.pack({"k": x}, tables, {"k": ref.TensorChoice("kernel", 27, 0, 0, pred_mode=3,
                                                              pred_shift=bad)})
    one = np.zeros((1, 1, 3, 3), np.int8)
    with pytest.raises(ValueError, match="shift"):  # a 1 x 1 pair
        ref.pack({"k": one}, tables, {"k": ref.TensorChoice("count", 9, 0, 0, pred_mode=3,
                                                            pred_shift=2)})
    plain = ref.pack({"k": x}, tables, {"k": ref.TensorChoice("kernel", 27, 0, 0)})
    assert ref.pack({"k": x}, tables, {"k": ref.TensorChoice("kernel", 27, 0, 0,
                                                             pred_shift=2)}) == plain
    with pytest.raises(ValueError, match="version must be"):
        ref.pack({"k": x}, tables, {"k": ref.TensorChoice("kernel", 27, 0, 0)}, version=8)


def full_table16(kref: int = 2, nrun: int = 4) -> ref.RefTable:
    """A table with a (flat) code for every symbol of magnitudes below 2^32."""
    nclass = mag_class((1 << 32) - 1, kref)[0] + 1
    nsym = 2 + nclass * nrun
    return ref.RefTable(kref, nrun, nclass, code_lengths({s: 1 for s in range(nsym)}, nsym))


def _entries_of(ts: dict, choices: dict, data: bytes) -> list:
    """The writer's entry records of a reference package (to measure its entry bits)."""
    out = []
    for e in ref.read_package(data, decode=False).entries:
        ch = choices[e.name]
        out.append(rv4.EntryV4(
            CODE_BY_DTYPE[e.dtype], e.shape, ch.group_mode, ch.group_size, ch.value_offset, 0,
            None, e.tid_base, e.tid_bits, e.len_bits, e.payload_bytes, e.glen, e.pred_mode,
            e.pred_shift))
    return out


# --- against codec.pack -----------------------------------------------------------------------

def _codec_inputs():
    rng = np.random.default_rng(11)
    return {"ohwi": tfl(smooth_kernels(rng, (8, 6, 3, 3))),
            "hwio": np.ascontiguousarray(np.transpose(smooth_kernels(rng, (4, 4, 3, 3),
                                                                     "int16", 900),
                                                      (2, 3, 1, 0))),
            "oihw": smooth_kernels(rng, (4, 4, 3, 3)),
            "dw": tfl(smooth_kernels(rng, (1, 12, 3, 3), "int32", 5000)),
            "u8": rng.integers(0, 255, size=(3, 3, 2, 4)).astype(np.uint8),
            "bias": rng.integers(-9, 9, size=8).astype(np.int8),
            "empty": np.zeros((0, 3, 3), np.int8)}


FORCED = {"ohwi": (7, 1), "hwio": (2, 2), "oihw": (5, 0), "dw": (4, 1), "u8": (3, 1)}


def _check_codec_package(data: bytes, ts: dict) -> None:
    """Both readers rebuild ``ts``; the reference re-encodes ``data`` byte for byte; its
    entries match codec's directory (pred_mode and pred_shift included)."""
    p = ref.read_package(data)
    assert_same_tensors(p.tensors, ts)
    assert_same_tensors(codec.unpack(data), ts)
    assert ref.reencode(data) == data
    d = codec.Package(data).directory
    for e, c in zip(p.entries, d.tensors, strict=True):
        assert (e.name, e.block_offset, e.block_length, e.glen, e.value_offset, e.pred_mode,
                e.pred_shift) == (c.name, c.block_offset, c.block_length, c.glen,
                                  c.value_offset, c.pred_mode, c.pred_shift)
        if e.pred_mode >= 0:
            assert ref.pred_eligible(e.shape, e.numel)
            assert ref.pred_shift_ok(e.shape, e.pred_shift)


@pytest.mark.parametrize("group", ["auto", "kernel", ("count", 50), "tensor"])
def test_codec_forced_shifts_equal_reference_pack(group):
    """codec.pack with forced (mode, shift): v6, and exactly the bytes the reference writes
    from the original tensors, the forced (mode, shift) and codec's tables and grouping."""
    ts = _codec_inputs()
    data = codec.pack(ts, group=group, mirror=None, predict=FORCED)
    assert data[:8] == b"SPKG\x06\x00\x00\x00"
    _check_codec_package(data, ts)
    _, tables, read = ref.choices_of(data)
    choices = {}
    for k, c in read.items():
        mode, shift = FORCED.get(k, (None, 0))
        choices[k] = ref.TensorChoice(c.group_mode, c.group_size, c.value_offset, c.table,
                                      tid_base=c.tid_base, tid_bits=c.tid_bits,
                                      name_tokens=c.name_tokens, pred_mode=mode,
                                      pred_shift=shift)
    assert ref.pack(ts, tables, choices) == data
    p = ref.read_package(data, decode=False)
    assert {e.name: (e.pred_mode, e.pred_shift) for e in p.entries if e.pred_mode >= 0} == FORCED


def test_codec_shift0_stays_v5_and_version6():
    """Forced shifts 0 only: codec writes v5 (as before §34); version=6 writes the same
    choices as v6 (a pred_shift field of 0 per predicted tensor), both as the reference."""
    ts = _codec_inputs()
    modes = {k: m for k, (m, _) in FORCED.items()}
    v5 = codec.pack(ts, mirror=None, predict={k: (m, 0) for k, m in modes.items()})
    assert v5[4] == 5 and v5 == codec.pack(ts, mirror=None, predict=modes, floor=None,
                                           alias=None)
    _check_codec_package(v5, ts)
    v6 = codec.pack(ts, mirror=None, predict=modes, version=6)
    assert v6[4] == 6
    _check_codec_package(v6, ts)
    tensors, tables, choices = ref.choices_of(v5)
    assert ref.pack(tensors, tables, choices) == v5
    assert all(c.pred_shift == 0 for c in choices.values())


def test_codec_tflite_layout_auto():
    """'auto' on a TFLite-layout (O, kh, kw, I) int8 kernel with smooth taps (a PyTorch
    kernel transposed) finds shift 1 by itself: a v6 package the reference decodes and
    re-encodes byte for byte; the same kernel in PyTorch layout is v5 with shift 0."""
    rng = np.random.default_rng(5)
    k = smooth_kernels(rng, (16, 8, 3, 3))
    ts = {"conv": tfl(k), "bias": rng.integers(-9, 9, size=16).astype(np.int8)}
    data = codec.pack(ts)
    assert data[4] == 6
    _check_codec_package(data, ts)
    e = ref.read_package(data, decode=False).entries[0]
    assert e.pred_mode >= 0 and e.pred_shift == 1
    torch_layout = codec.pack({"conv": k})
    assert torch_layout[4] == 5
    assert ref.read_package(torch_layout, decode=False).entries[0].pred_shift == 0
    assert np.array_equal(ref.unpack(torch_layout)["conv"], k)


def test_codec_v6_with_meta_and_mirror():
    """Metadata on a shifted tensor; a mirrored tensor beside it (no prediction field)."""
    from test_reference_v3 import sym_rows
    ts = _codec_inputs()
    rng = np.random.default_rng(3)
    ts["stft"] = sym_rows(rng, 6, 16, 1, "int8", spread=20, noise=0.02)
    meta = {"ohwi": codec.QuantMeta(bits=8, scale=np.linspace(0.5, 1, 6).astype(np.float32),
                                    axis=3)}
    data = codec.pack(ts, meta=meta, predict=FORCED, mirror={"stft": (16, 1)})
    assert data[4] == 6
    _check_codec_package(data, ts)
    p = ref.read_package(data)
    assert p.metas["ohwi"] is not None and p.metas["ohwi"].axis == 3
    st_ = next(e for e in p.entries if e.name == "stft")
    assert st_.mirror_period == 16 and st_.pred_mode == -1 and st_.pred_shift == 0


def _prefixes_rejected(data: bytes) -> None:
    for n in range(len(data)):
        fast, slow = _both(data[:n])
        assert isinstance(slow, codec.CodecError), (n, slow)
        assert isinstance(fast, codec.CodecError), (n, fast)


def test_truncations_of_v6_packages():
    """Every proper prefix of a small v6 package (codec's and the reference's) is a
    CodecError in both readers."""
    x = tfl(smooth_kernels(np.random.default_rng(8), (2, 3, 3, 3)))
    ts = {"k": x, "b": np.arange(-3, 3, dtype=np.int8)}
    data = codec.pack(ts, predict={"k": (6, 1)})
    assert data[4] == 6
    _prefixes_rejected(data)
    ch = {"k": ref.TensorChoice("kernel", 27, 0, 0, pred_mode=6, pred_shift=1),
          "b": ref.TensorChoice("count", 6, 0, 0)}
    mine = ref.pack(ts, [table_for6(ts, ch)], ch)
    assert mine[4] == 6
    _prefixes_rejected(mine)




def test_entry_bit_flips_v6():
    """Each bit of the directory flipped, its CRC repaired: both readers
    accept (the same tensors) or raise the same CodecError class."""
    x = tfl(smooth_kernels(np.random.default_rng(9), (2, 3, 3, 2)))
    ts = {"k": x, "h": np.ascontiguousarray(np.transpose(x, (1, 2, 3, 0)))}
    data = codec.pack(ts, predict={"k": (7, 1), "h": (1, 2)}, group="tensor")
    assert data[4] == 6
    fpos = len(data) - 12
    off = fpos - struct.unpack_from("<I", data, fpos)[0]
    accepted = 0
    for bit in range(8 * off, 8 * fpos):
        bad = bytearray(data)
        bad[bit // 8] ^= 0x80 >> (bit % 8)
        fast, slow = _both(fix_crc(bad), verify=False)
        assert isinstance(slow, (dict, codec.CodecError)), (bit, slow)
        assert isinstance(fast, (dict, codec.CodecError)), (bit, fast)
        assert isinstance(fast, dict) == isinstance(slow, dict), (bit, fast, slow)
        if isinstance(fast, dict):
            assert_same_tensors(slow, fast)
            accepted += 1
        else:
            assert type(fast) is type(slow), (bit, fast, slow)
    assert accepted > 0  # (a pred_mode bit flipped gives another valid package)


# --- random tensors with forced modes and shifts: every dtype, every grouping -----------------

@st.composite
def forced_sets(draw):
    """1-3 small tensors of random dtype and shape; a random (mode, allowed shift) on some
    eligible ones."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    ts, force = {}, {}
    for i in range(draw(st.integers(1, 3))):
        dt = draw(st.sampled_from(DTYPES))
        info = np.iinfo(dt)
        shape = tuple(draw(st.lists(st.integers(1, 4), min_size=0, max_size=5)))
        n = int(np.prod(shape))
        spread = draw(st.sampled_from([1, 5, 200, int(info.max)]))
        z = 0 if info.min < 0 else draw(st.sampled_from([0, 1, int(info.max)]))
        x = np.clip(z + rng.integers(-spread, spread, size=n, endpoint=True), info.min,
                    info.max)
        ts[f"t{i}"] = x.astype(dt).reshape(shape)
        if ref.pred_eligible(shape, n) and draw(st.booleans()):
            force[f"t{i}"] = (draw(st.integers(0, 7)), draw(st.sampled_from(all_shifts(shape))))
    return ts, force


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(forced_sets(), st.sampled_from(["auto", "kernel", "tensor", ("count", 7),
                                       ("kernels", 2)]))
def test_random_forced_shifts_both_paths(case, group):
    """codec's bytes are what the reference writes back; both readers give the tensors; the
    version is 6 exactly when some forced shift is > 0 (else 5, or 4 without modes)."""
    ts, force = case
    data = codec.pack(ts, group=group, mirror=None, predict=force, floor=None, alias=None)
    want_v = 6 if any(s for _, s in force.values()) else 5 if force else 4
    assert data[4] == want_v
    assert_same_tensors(ref.unpack(data), ts)
    assert_same_tensors(codec.unpack(data), ts)
    assert ref.reencode(data) == data
    p = ref.read_package(data, decode=False)
    assert {e.name: (e.pred_mode, e.pred_shift) for e in p.entries if e.pred_mode >= 0} == force


# --- golden vectors -----------------------------------------------------------------------------

def test_v6_vectors():
    """tests/vectors/v6/ (written by tests/vectors/make_vectors.py --v6): each vector decodes
    in the reference and codec as recorded, its recorded (mode, shift) pairs are the
    reference's, and the reference re-encodes it byte for byte."""
    import json
    if not V6_VECTORS.is_dir():
        pytest.skip(f"{V6_VECTORS} does not exist yet (the v6 golden vectors are to come)")
    vecs = sorted(V6_VECTORS.glob("*.bin"))
    assert vecs, f"no .bin vectors in {V6_VECTORS}"
    seen_shift = False
    for path in vecs:
        data = path.read_bytes()
        js = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        with np.load(path.with_suffix(".npz")) as z:
            want = {k: z[k] for k in js["order"]}
        assert data[4] == js.get("version", data[4]) == 6, path.stem
        p = ref.read_package(data)
        assert_same_tensors(p.tensors, want)
        got = {e.name: [e.pred_mode, e.pred_shift] for e in p.entries if e.pred_mode >= 0}
        if "predicted" in js:
            assert got == js["predicted"], path.stem
        seen_shift |= any(s for _, s in got.values())
        assert_same_tensors(codec.unpack(data), want)
        assert ref.reencode(data) == data, path.stem
    assert seen_shift, "no v6 vector uses a prediction shift"
