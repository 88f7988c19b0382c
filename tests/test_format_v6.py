"""Format v6: the prediction transform over any two adjacent dimensions (docs/FORMAT.md §34-§35).

The strided images (TFLite's (O, kh, kw, I), Keras' (kh, kw, I, O), depthwise (1, kh, kw, C))
round trip under every mode, shift and dtype; the writer's rule (when 'auto' picks a shift,
when it writes v6, v5 and v4 byte for byte as before); option errors; both directory parsers
and both decode paths agree; the rebuild in and after the decode jobs; damaged v6 packages
(a bad shift, truncations, bit flips, mutations); the golden vectors and §35's worked
example byte for byte.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import codec
from codec import predict
from codec.errors import CodecError, CorruptError
from codec.package import Package
from fuzz.harness import (check_sample_mutation, fast_path_takes_v4_sample, fix_all_crcs,
                          golden_options, golden_vector, sample_packages)
from test_format_doc import doc_text, hex_dump
from test_format_v5 import check_all_paths, smooth_kernels

SIGNED = (np.int8, np.int16, np.int32)


def smooth_at(shape, h, dtype=np.int8, seed=0):
    """``smooth_kernels`` moved so that its images lie in dims ``h`` and ``h + 1``."""
    nd = len(shape)
    order = [d for d in range(nd) if d not in (h, h + 1)] + [h, h + 1]
    x = smooth_kernels(tuple(shape[d] for d in order), dtype, seed)
    return np.ascontiguousarray(np.transpose(x, np.argsort(order)))


def spec_residuals(x: np.ndarray, mode: int, shift: int) -> np.ndarray:
    """§34 written out: every image (a, c) position (i, j), neighbours C and W * C back."""
    A, H, W, C = predict.axes(x.shape, shift)
    bits = 8 * x.dtype.itemsize
    v = x.reshape(A, H, W, C).astype(np.int64)
    r = np.empty_like(v)
    kind, c = mode >> 2, (mode & 3) + 1
    for a in range(A):
        for cc in range(C):
            for i in range(H):
                for j in range(W):
                    L = int(v[a, i, j - 1, cc]) if j else 0
                    U = int(v[a, i - 1, j, cc]) if i else 0
                    UL = int(v[a, i - 1, j - 1, cc]) if i and j else 0
                    if kind == 0:
                        s = (2 * L if i == 0 else 2 * U if j == 0 else L + U)
                        p = (c * s + 4) >> 3
                    else:
                        s = (L if i == 0 else U if j == 0 else L + U - UL)
                        p = (c * s + 2) >> 2
                    r[a, i, j, cc] = int(v[a, i, j, cc]) - p
    info = np.iinfo(x.dtype)
    r = (r - int(info.min)) % (1 << bits) + int(info.min)
    return r.astype(x.dtype).reshape(x.shape)


def test_axes_and_shifts():
    assert predict.axes((8, 3, 3, 16), 1) == (8, 3, 3, 16)
    assert predict.axes((3, 3, 16, 8), 2) == (1, 3, 3, 128)
    assert predict.axes((8, 16, 3, 3), 0) == (128, 3, 3, 1)
    assert predict.shifts((8, 16, 3, 3)) == [0, 1, 2]
    assert predict.shifts((1, 3, 3, 1)) == [0, 1, 2]   # (3, 1), (3, 3) and (1, 3)
    assert predict.shifts((5, 1, 1, 1)) == [2]          # only (5, 1)
    assert predict.shifts((1, 1)) == []


@pytest.mark.parametrize("shape,shift", [((2, 3, 3, 4), 1), ((3, 3, 2, 3), 2),
                                         ((1, 3, 4, 5), 1), ((2, 5, 7), 1), ((4, 2, 3, 3), 0),
                                         ((3, 1, 4, 2), 2)])
@pytest.mark.parametrize("mode", range(8))
def test_residuals_match_the_spec(shape, shift, mode):
    rng = np.random.default_rng(mode)
    x = rng.integers(-128, 128, shape).astype(np.int8)  # full range: residuals wrap
    r = predict.residuals(x, mode, shift)
    assert np.array_equal(r, spec_residuals(x, mode, shift))
    back = r.reshape(-1).copy()
    predict.rebuild(back, 0, shape, mode, shift)
    assert np.array_equal(back.reshape(shape), x)


@pytest.mark.parametrize("dtype", SIGNED + (np.uint8, np.uint16))
def test_every_mode_and_shift_round_trips(dtype):
    rng = np.random.default_rng(3)
    info = np.iinfo(dtype)
    ts, pr = {}, {}
    for m in range(8):
        for sh in (1, 2):
            x = rng.integers(info.min, info.max, (3, 3, 4, 5), endpoint=True).astype(dtype)
            ts[f"t{m}_{sh}"] = x
            pr[f"t{m}_{sh}"] = (m, sh)
    data = codec.pack(ts, predict=pr)
    assert data[4] == 6
    assert [(t.pred_mode, t.pred_shift) for t in codec.inspect(data).tensors] == list(pr.values())
    check_all_paths(data, ts)


def test_auto_picks_the_images_of_each_layout():
    """'auto' finds the taps of TFLite, Keras and depthwise layouts; PyTorch's stays v5's."""
    ts = {"ohwi": smooth_at((32, 3, 3, 16), 1), "hwio": smooth_at((3, 3, 16, 32), 0, seed=1),
          "dw": smooth_at((1, 3, 3, 64), 1, seed=2), "oihw": smooth_at((32, 16, 3, 3), 2, seed=3)}
    data = codec.pack(ts)
    assert data[4] == 6
    got = {t.name: (t.pred_mode >= 0, t.pred_shift) for t in codec.inspect(data).tensors}
    assert got == {"ohwi": (True, 1), "hwio": (True, 2), "dw": (True, 1), "oihw": (True, 0)}
    check_all_paths(data, ts)
    assert len(data) < len(codec.pack(ts, version=5)) < len(codec.pack(ts, predict=None, floor=None, alias=None))


def test_v5_and_v4_stay_byte_identical():
    """No tensor with a shift: exactly what the v5 / v4 writer writes (§34 writer)."""
    pt = {"oihw": smooth_kernels((32, 16, 3, 3))}
    assert codec.pack(pt)[4] == 5 and codec.pack(pt) == codec.pack(pt, version=5)
    noise = {"n": np.random.default_rng(1).integers(-99, 99, (16, 8, 3, 3)).astype(np.int8)}
    assert codec.pack(noise)[4] == 4 and codec.pack(noise) == codec.pack(noise, version=4)
    tfl = {"ohwi": smooth_at((32, 3, 3, 16), 1)}
    v5 = codec.pack(tfl, version=5)  # v5 may only predict over the last two dims
    assert v5[4] == 5 or v5 == codec.pack(tfl, version=4)
    assert all(t.pred_shift == 0 for t in codec.inspect(v5).tensors)
    assert codec.pack(tfl)[4] == 6


def test_version_6_without_a_shift_is_valid():
    ts = {"a": smooth_kernels((8, 4, 3, 3)), "b": np.arange(-5, 5, dtype=np.int8)}
    data = codec.pack(ts, version=6, predict={"a": 3})
    assert data[4] == 6 and codec.inspect(data).tensors[0].pred_shift == 0
    check_all_paths(data, ts)
    assert len(data) == len(codec.pack(ts, version=5, predict={"a": 3}))  # 1 bit more, padded


def test_option_errors():
    x = smooth_at((4, 3, 3, 8), 1)
    with pytest.raises(ValueError, match="needs format v6"):
        codec.pack({"x": x}, predict={"x": (1, 1)}, version=5)
    with pytest.raises(ValueError, match="§34"):
        codec.pack({"x": x}, predict={"x": (1, 3)})     # h = -1
    with pytest.raises(ValueError, match="§34"):
        codec.pack({"x": np.zeros((4, 1, 1, 3), np.int8)}, predict={"x": (1, 1)})  # 1 x 1
    for bad in ((1, -1), (1, 1.0), (1, True), (8, 0), (1, 2, 3)):
        with pytest.raises(TypeError):
            codec.pack({"x": x}, predict={"x": bad})
    with pytest.raises(ValueError):
        predict.residuals(x, 1, 3)
    with pytest.raises(CorruptError):
        predict.rebuild(x.reshape(-1).copy(), 0, x.shape, 1, 3)


@pytest.mark.parametrize("group", ["kernel", ("kernels", 2), "tensor", ("count", 7),
                                   ("count", 54), ("count", 1728), "auto"])
@pytest.mark.parametrize("jobs", [False, True])
def test_rebuild_in_and_after_the_decode_jobs(group, jobs, monkeypatch):
    """Groups of whole (H, W, C) slices rebuild in the decode jobs, the others after."""
    import codec.package as P
    if jobs:
        monkeypatch.setattr(P, "PAR_MIN_WORK", 0)
        monkeypatch.setattr(P, "ORDER_MIN_BITS", 0)
        monkeypatch.setattr(P, "ORDER_MIN_RATE", 0)
    ts = {"t": smooth_at((24, 3, 3, 8), 1), "k": smooth_at((3, 3, 8, 24), 0, np.int16, 1),
          "d": smooth_at((1, 3, 3, 48), 1, seed=2), "n": np.arange(-50, 50, dtype=np.int8)}
    data = codec.pack(ts, group=group, predict={"t": (3, 1), "k": (6, 2), "d": (1, 1)})
    assert data[4] == 6
    check_all_paths(data, ts)


def test_group_preds_gives_the_slice_shape():
    from codec.format import DEFAULT_LIMITS, directory_arrays_v2, directory_bytes
    from codec.kernels.predict import group_preds
    ts = {"t": smooth_at((32, 3, 3, 2), 1), "k": smooth_at((3, 3, 4, 8), 0)}
    data = codec.pack(ts, group=("count", 144), predict={"t": (5, 1), "k": (2, 2)})
    version, _f, dir_off, _l, raw = directory_bytes(np.frombuffer(data, np.uint8), check_crc=True)
    _st, _t, _ls, ents, shapes, _n, _c = directory_arrays_v2(raw, dir_off, DEFAULT_LIMITS,
                                                            version)
    n = 4 + 2
    g = np.full((4, n), -7, np.int64)
    # t: 4 groups of eight whole (3, 3, 2) slices (16 images: fused); k: one slice of 288
    # values (C = 32) split over 2 groups (rebuilt after the decode)
    assert group_preds(ents, shapes, np.int64(1), g[0], g[1], g[2], g[3]) == 4
    assert g[0].tolist() == [5] * 4 + [-1] * 2
    assert g[1].tolist()[:4] == [3] * 4 and g[3].tolist() == [2] * 4 + [32] * 2
    check_all_paths(data, ts)


@pytest.mark.parametrize("dtype", SIGNED + (np.uint8, np.uint16, np.uint32))
def test_strided_kernel_vector_and_scalar_paths_agree(dtype):
    """rebuild_strided's vector loops (C >= VEC_MIN_C) and its scalar loop give §34's
    values, wrap-around included, on both sides of the threshold."""
    from codec.kernels.predict import VEC_MIN_C, _strided_scalar, rebuild_strided
    rng = np.random.default_rng(int(np.dtype(dtype).itemsize))
    info = np.iinfo(dtype)
    bits = 8 * np.dtype(dtype).itemsize
    signed = np.dtype(dtype).kind == "i"
    for C in (VEC_MIN_C - 1, VEC_MIN_C, VEC_MIN_C + 1, 3 * VEC_MIN_C + 5):
        x = rng.integers(info.min, info.max, (2, 3, 4, C), endpoint=True).astype(dtype)
        for mode in range(8):
            r = predict.residuals(x, mode, 1).reshape(-1)
            assert np.array_equal(r.reshape(x.shape), spec_residuals(x, mode, 1))
            a, b = r.copy(), r.copy()
            assert rebuild_strided(a, np.int64(0), np.int64(a.size), np.int64(3), np.int64(4),
                                   np.int64(C), np.int64(mode), signed) == 0
            _strided_scalar(b, np.int64(0), np.int64(b.size), np.int64(3), np.int64(4),
                            np.int64(C), np.int64(mode >> 2), np.int64((mode & 3) + 1),
                            np.int64(1 << (bits - 1)) if signed else np.int64(0),
                            np.int64((1 << bits) - 1))
            assert np.array_equal(a.reshape(x.shape), x), (C, mode)
            assert np.array_equal(b.reshape(x.shape), x), (C, mode)


def test_strided_kernel_rejects_bad_arguments():
    from codec.kernels.predict import BAD_ARGS, rebuild_strided
    out = np.zeros(36, np.int8)
    for args in ((0, 36, 3, 3, 2, 8), (0, 36, 3, 3, 2, -1), (0, 36, 0, 3, 2, 0),
                 (0, 30, 3, 3, 2, 0), (18, 36, 3, 3, 2, 0), (-1, 18, 3, 3, 2, 0),
                 (0, 36, 3, 3, 0, 0)):
        assert rebuild_strided(out, *(np.int64(a) for a in args), True) == BAD_ARGS, args
    assert rebuild_strided(out, *(np.int64(a) for a in (0, 36, 3, 3, 2, 1)), True) == 0


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from(SIGNED), st.integers(1, 4),
       st.integers(1, 4), st.integers(1, 4), st.integers(1, 5), st.integers(0, 7),
       st.floats(0, 0.9))
def test_property_round_trip(seed, dtype, a, H, W, C, mode, zeros):
    if H * W < 2:
        W = 2
    if W * C < 2:  # §32's eligibility (the last two dims) decides whether the field exists
        C = 2
    rng = np.random.default_rng(seed)
    info = np.iinfo(dtype)
    x = rng.integers(info.min, info.max, (a, H, W, C), endpoint=True).astype(dtype)
    x[rng.random(x.shape) < zeros] = 0
    y = smooth_at((a, H, W, C), 1, dtype, seed % 97)
    data = codec.pack({"x": x, "y": y}, predict={"x": (mode, 1), "y": (7 - mode, 1)})
    check_all_paths(data, {"x": x, "y": y})


# ---------------------------------------------------------------------------------------------
# damaged packages

def _package():
    return codec.pack({"a": smooth_at((6, 3, 3, 4), 1), "b": smooth_at((3, 3, 2, 2), 0, seed=2),
                       "c": np.arange(-8, 8, dtype=np.int8)},
                      predict={"a": (5, 1), "b": (2, 2)})


def test_truncated_at_every_length():
    data = _package()
    assert data[4] == 6
    for n in range(len(data)):
        with pytest.raises(CodecError):
            codec.unpack(data[:n])


def test_bit_flips_give_exact_data_or_codec_error():
    data = _package()
    want = codec.unpack(data)
    rng = np.random.default_rng(8)
    for _ in range(400):
        b = bytearray(data)
        i = int(rng.integers(len(b)))
        b[i] ^= 1 << int(rng.integers(8))
        try:
            got = codec.unpack(bytes(b))
        except CodecError:
            continue
        assert list(got) == list(want)
        assert all(np.array_equal(got[k], want[k]) for k in want)


def _with_shift(data: bytes, shift: int) -> bytes:
    """``data`` (its first tensor predicted) with that tensor's ``pred_shift`` field rewritten
    (the writer's check bypassed), the entry bit string re-padded and the CRCs fixed."""
    from codec import format_v4 as v4
    from codec.format import read_directory
    from codec.writer import DTYPE_CODES
    d = read_directory(np.frombuffer(data, np.uint8))
    e = d.tensors[0]
    old = bytearray()
    v4.write_entries(old, d.tensors, DTYPE_CODES, len(d.tables), 6)
    saved, was = v4.pred_shift_ok, e.pred_shift
    v4.pred_shift_ok = lambda shape, s: True
    try:
        e.pred_shift = shift
        new = bytearray()
        v4.write_entries(new, d.tensors, DTYPE_CODES, len(d.tables), 6)
    finally:
        v4.pred_shift_ok, e.pred_shift = saved, was
    i = data.index(bytes(old))
    out = bytearray(data[:i] + bytes(new) + data[i + len(old):])
    dlen = int.from_bytes(data[-12:-8], "little") + len(new) - len(old)
    out[-12:-8] = dlen.to_bytes(4, "little")
    return fix_all_crcs(bytes(out))


def _assert_corrupt_shift(bad: bytes, shift: int) -> None:
    for fn in (codec.unpack, lambda b: Package(b).read_all(), codec.inspect):
        with pytest.raises(CorruptError, match="prediction shift") as ei:
            fn(bad)
        assert ei.value.value == shift


@pytest.mark.parametrize("shift", [2, 3, 9])
def test_a_shift_beyond_the_dims_is_corrupt(shift):
    x = smooth_at((6, 3, 3, 1), 1)   # shift 2: dims (6, 3), fits; shift 3 and 9: h < 0
    data = codec.pack({"x": x}, predict={"x": (4, 1)})
    bad = _with_shift(data, shift)
    if shift == 2:  # valid: other images, other values, every path the same
        got = codec.unpack(bad)["x"]
        assert got.shape == x.shape and np.array_equal(Package(bad).read_all()["x"], got)
        assert codec.inspect(bad).tensors[0].pred_shift == 2
        return
    _assert_corrupt_shift(bad, shift)


def test_a_shift_onto_a_one_by_one_pair_is_corrupt():
    x = smooth_kernels((6, 1, 1, 3, 2))  # shifts 0 (3, 2), 1 (1, 3), 3 (6, 1); not 2 (1, 1)
    assert predict.shifts(x.shape) == [0, 1, 3]
    data = codec.pack({"x": x}, predict={"x": (4, 0)}, version=6)
    assert data[4] == 6
    _assert_corrupt_shift(_with_shift(data, 2), 2)
    assert np.array_equal(codec.unpack(_with_shift(data, 0))["x"], x)  # the same bytes


# ---------------------------------------------------------------------------------------------
# §35 worked example and the golden vectors (tests/vectors/v6: written once by
# make_vectors.py --v6, never regenerated)

EXAMPLE = np.array([[[[10, 20], [12, 22], [13, 23]], [[11, 21], [13, 23], [15, 25]],
                     [[12, 22], [14, 24], [16, 26]]]], np.int8)


def test_worked_example_is_what_pack_writes():
    rows = hex_dump("hex-v6")
    pos = 0
    for off, b in rows:
        assert off == pos, f"offset {off:#x} in the dump, expected {pos:#x}"
        pos += len(b)
    data = b"".join(b for _, b in rows)
    assert data == codec.pack({"k": EXAMPLE}, predict={"k": (7, 1)})
    assert data[4] == 6 and codec.LATEST_VERSION >= 6
    assert f"The {len(data)}-byte package" in doc_text()
    assert predict.residuals(EXAMPLE, 7, 1).ravel().tolist() == [
        10, 20, 2, 2, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0]
    check_all_paths(data, {"k": EXAMPLE})
    from codec import reference as ref
    assert np.array_equal(ref.unpack(data)["k"], EXAMPLE)


V6 = Path(__file__).parent / "vectors" / "v6"
VECTORS = sorted(p.stem for p in V6.glob("*.bin"))
SAMPLES = sample_packages(6)


def test_vectors_exist():
    assert len(VECTORS) == 5


@pytest.mark.parametrize("name", VECTORS)
def test_vector(name):
    js, tensors, data = golden_vector(V6, name)
    assert data[4] == 6 and len(data) == js["bytes"] and data[-4:] == b"GKPS"
    assert codec.pack(tensors, **golden_options(js, 6)) == data  # today's writer, same bytes
    check_all_paths(data, tensors)
    d = Package(data).directory
    assert {e.name: [e.pred_mode, e.pred_shift] for e in d.tensors
            if e.pred_mode >= 0} == js["predicted"]


def test_vectors_decode_in_the_reference():
    from codec import reference as ref
    for name in VECTORS:
        _js, tensors, data = golden_vector(V6, name)
        got = ref.unpack(data)
        assert list(got) == list(tensors), name
        for k, v in tensors.items():
            assert np.array_equal(np.asarray(got[k]), v), (name, k)


@pytest.mark.parametrize("i", range(len(SAMPLES)), ids=[s.name for s in SAMPLES])
def test_samples_all_paths(i):
    s = SAMPLES[i]
    assert s.data[4] == 6
    # the fast path takes a v6 sample exactly when it takes the same sample in v4
    check_all_paths(s.data, s.arrays, fast_path_takes_v4_sample(i))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, len(SAMPLES) - 1))
def test_mutations_give_original_or_codec_error(seed, i):
    check_sample_mutation(seed, SAMPLES, i)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, len(SAMPLES) - 1))
def test_mutations_with_repaired_crcs_are_consistent(seed, i):
    check_sample_mutation(seed, SAMPLES, i, repaired=True)
