"""Format v5: the prediction transform (docs/FORMAT.md §32-§33).

Round trips under every mode and signed dtype (wrap-around included), the writer's rule
(when 'auto' uses it, when it writes v5), the option errors, both directory parsers (the
Numba kernel and the Python parser) and both decode paths (fast path and Package) agreeing,
damaged v5 packages, and the worked example of §33 byte for byte.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import codec
from codec import predict
from codec.errors import CodecError
from codec.fastpath import unpack_fast
from codec.format import DEFAULT_LIMITS
from codec.package import Package
from test_format_doc import doc_text, hex_dump

SIGNED = (np.int8, np.int16, np.int32)


def smooth_kernels(shape, dtype=np.int8, seed=0, amp=40):
    """Kernels whose taps follow a random plane plus small noise: the transform pays."""
    rng = np.random.default_rng(seed)
    o = int(np.prod(shape[:-2]))
    H, W = shape[-2:]
    i, j = np.meshgrid(np.arange(H), np.arange(W), indexing="ij")
    a, b, c = (rng.integers(-amp // 4, amp // 4 + 1, (o, 1, 1)) for _ in range(3))
    x = a * i + b * j + c * 2 + rng.integers(-1, 2, (o, H, W))
    info = np.iinfo(dtype)
    return np.clip(x, info.min, info.max).astype(dtype).reshape(shape)


def general(data):
    return Package(data).read_all()


def check_all_paths(data, tensors, fast_takes=True):
    """codec.unpack (fast path), the general path, read_tensor and the Python directory
    parser all give ``tensors`` exactly (``fast_takes``: the fast path does not decline)."""
    for got in (codec.unpack(data), general(data)):
        assert list(got) == list(tensors)
        for k, v in tensors.items():
            assert got[k].dtype == v.dtype and got[k].shape == v.shape
            assert np.array_equal(got[k], v), k
    fast = unpack_fast(np.frombuffer(data, np.uint8), DEFAULT_LIMITS, True)
    assert (fast is not None) == fast_takes
    if fast is not None:
        assert all(np.array_equal(fast[k], v) for k, v in tensors.items())
    for k, v in tensors.items():
        assert np.array_equal(codec.read_tensor(data, k), v)
    from codec.format import _parse_fast_v2, _parse_slow_v2, directory_bytes
    version, _f, dir_off, _l, raw = directory_bytes(np.frombuffer(data, np.uint8), check_crc=True)
    slow = _parse_slow_v2(raw, dir_off, DEFAULT_LIMITS, version)[1]
    quick = _parse_fast_v2(raw, dir_off, DEFAULT_LIMITS, version)[1]
    assert [e.pred_mode for e in slow] == [e.pred_mode for e in quick]
    assert slow == quick


@pytest.mark.parametrize("dtype", SIGNED)
@pytest.mark.parametrize("mode", range(8))
def test_every_mode_round_trips(dtype, mode):
    rng = np.random.default_rng(mode)
    info = np.iinfo(dtype)
    full = rng.integers(info.min, info.max, (3, 2, 3, 3), endpoint=True).astype(dtype)  # wraps
    smooth = smooth_kernels((4, 3, 3, 3), dtype, seed=mode)
    flat2d = smooth_kernels((6, 7), dtype, seed=mode + 10)
    ts = {"full": full, "smooth": smooth, "d2": flat2d}
    data = codec.pack(ts, predict={k: mode for k in ts})
    assert data[4] == 5
    info5 = codec.inspect(data)
    assert [t.pred_mode for t in info5.tensors] == [mode] * 3
    check_all_paths(data, ts)


def test_residuals_rebuild_inverse_unsigned_too():
    rng = np.random.default_rng(3)
    for dtype in (np.uint8, np.uint16, np.uint32, *SIGNED):
        info = np.iinfo(dtype)
        x = rng.integers(info.min, info.max, (5, 4, 3), endpoint=True).astype(dtype)
        for mode in range(8):
            r = predict.residuals(x, mode)
            assert r.dtype == x.dtype
            flat = r.reshape(-1).copy()
            predict.rebuild(flat, 0, x.shape, mode)
            assert np.array_equal(flat.reshape(x.shape), x)


def test_residuals_match_the_spec_formula():
    """§32's table, written out in plain Python, against the kernel."""
    rng = np.random.default_rng(5)
    x = rng.integers(-128, 128, (2, 4, 5)).astype(np.int8)
    for mode in range(8):
        kind, c = mode >> 2, (mode & 3) + 1
        want = np.empty_like(x)
        for n in range(x.shape[0]):
            for i in range(4):
                for j in range(5):
                    L = int(x[n, i, j - 1]) if j else 0
                    U = int(x[n, i - 1, j]) if i else 0
                    UL = int(x[n, i - 1, j - 1]) if i and j else 0
                    if kind == 0:
                        s = 0 if i == j == 0 else 2 * L if i == 0 else 2 * U if j == 0 else L + U
                        p = (c * s + 4) >> 3
                    else:
                        s = 0 if i == j == 0 else L if i == 0 else U if j == 0 else L + U - UL
                        p = (c * s + 2) >> 2
                    want[n, i, j] = ((int(x[n, i, j]) - p + 128) % 256) - 128
        assert np.array_equal(predict.residuals(x, mode), want), mode


def test_auto_uses_it_where_it_pays():
    k = smooth_kernels((64, 16, 3, 3))
    noise = np.random.default_rng(1).integers(-60, 61, (64, 16, 3, 3)).astype(np.int8)
    data = codec.pack({"k": k, "noise": noise, "bias": np.arange(64, dtype=np.int8)})
    assert data[4] == 5
    modes = {t.name: t.pred_mode for t in codec.inspect(data).tensors}
    assert modes["k"] >= 0 and modes["noise"] == -1 and modes["bias"] == -1
    plain = codec.pack({"k": k, "noise": noise, "bias": np.arange(64, dtype=np.int8)},
                       predict=None, floor=None, alias=None)
    assert plain[4] == 4 and len(data) < len(plain)
    check_all_paths(data, {"k": k, "noise": noise, "bias": np.arange(64, dtype=np.int8)})


def test_v4_when_nothing_uses_it():
    noise = np.random.default_rng(2).integers(-60, 61, (32, 8, 3, 3)).astype(np.int8)
    assert codec.pack({"n": noise})[4] == 4
    k = smooth_kernels((64, 16, 3, 3))
    assert codec.pack({"k": k}, version=4)[4] == 4
    assert codec.pack({"k": k}, predict=None, floor=None, alias=None)[4] == 4
    assert codec.pack({"k": k.astype(np.uint8)})[4] == 4      # unsigned: never chosen
    assert codec.pack({"k": k.reshape(-1, 9)[:, :1].copy()})[4] == 4  # a column: no gain
    one = k[:, :, :1, :1].copy()                                # 1 x 1 kernels: not eligible
    assert codec.pack({"k": one})[4] == 4
    assert codec.pack({"k": k}, version=5)[4] == 5


def test_encode_decode_one_tensor():
    k = smooth_kernels((8, 4, 3, 3), np.int16)
    for opt in ("auto", 3, None):
        data = codec.encode(k, predict=opt)
        assert np.array_equal(codec.decode(data), k)
        assert (data[4] == 5) == (opt == 3 or codec.inspect(data).tensors[0].pred_mode >= 0)


def test_option_errors():
    k = smooth_kernels((4, 2, 3, 3))
    with pytest.raises(ValueError, match="unknown tensor"):
        codec.pack({"k": k}, predict={"x": 1})
    with pytest.raises(TypeError):
        codec.pack({"k": k}, predict={"k": 8})
    with pytest.raises(TypeError):
        codec.pack({"k": k}, predict={"k": True})
    with pytest.raises(ValueError, match="predict"):
        codec.pack({"k": k}, predict="sometimes")
    for bad in (np.arange(9, dtype=np.int8), np.zeros((3, 1, 1), np.int8),
                np.zeros((0, 3, 3), np.int8)):
        with pytest.raises(ValueError, match="cannot take"):
            codec.pack({"b": bad}, predict={"b": 0})
    with pytest.raises(ValueError, match="needs format v5"):
        codec.pack({"k": k}, predict={"k": 1}, version=4)
    m = np.tile(np.array([1, 2, 3, 3, 2, 1], np.int8), (8, 1))
    with pytest.raises(ValueError, match="cannot take"):  # a mirror and a prediction: one
        codec.pack({"m": m}, mirror={"m": (6, 0)}, predict={"m": 0})


def test_save_and_open_package(tmp_path):
    ts = {"a": smooth_kernels((16, 8, 3, 3)), "b": smooth_kernels((16, 8, 5, 5), np.int16, 4)}
    path = tmp_path / "m.spkg"
    n = codec.save(path, ts)
    data = path.read_bytes()
    assert n == len(data) and data[4] == 5 and data == codec.pack(ts)
    p = codec.open_package(path)
    for k, v in ts.items():
        assert np.array_equal(p.read(k), v)
    assert all(np.array_equal(codec.load(path)[k], v) for k, v in ts.items())


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from(SIGNED), st.integers(1, 4), st.integers(1, 4),
       st.integers(1, 6), st.integers(0, 7), st.floats(0.0, 1.0))
def test_property_round_trip(seed, dtype, H, W, n, mode, zeros):
    if H * W < 2:
        W = 2
    rng = np.random.default_rng(seed)
    info = np.iinfo(dtype)
    x = rng.integers(info.min, info.max, (n, H, W), endpoint=True).astype(dtype)
    x[rng.random(x.shape) < zeros] = 0
    data = codec.pack({"x": x, "y": smooth_kernels((n, 2, H, W), dtype, seed % 97)},
                      predict={"x": mode, "y": 7 - mode})
    check_all_paths(data, {"x": x, "y": smooth_kernels((n, 2, H, W), dtype, seed % 97)})


def _package():
    return codec.pack({"a": smooth_kernels((6, 4, 3, 3)), "b": smooth_kernels((5, 3), seed=2),
                       "c": np.arange(-8, 8, dtype=np.int8)},
                      predict={"a": 5, "b": 2})


def test_truncated_at_every_length():
    data = _package()
    assert data[4] == 5
    for n in range(len(data)):
        with pytest.raises(CodecError):
            codec.unpack(data[:n])


def test_bit_flips_give_exact_data_or_codec_error():
    data = _package()
    want = codec.unpack(data)
    rng = np.random.default_rng(7)
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


def test_pred_field_in_a_crc_fixed_package_moves_the_values():
    """A v5 entry's mode bits are data: changed (CRC fixed) they rebuild other values, still
    within the dtype (wrap) and without error; the directory parsers agree on the new mode."""
    ts = {"a": smooth_kernels((6, 4, 3, 3))}
    data = codec.pack(ts, predict={"a": 0})
    p = Package(data)
    e = p.directory.tensors[0]
    assert e.pred_mode == 0
    good = codec.unpack(data)["a"]
    # the entry record is the 8 bytes before chunk_log2 + CRC (1 + 4) at the directory's end
    hits = 0
    for i in range(len(data) - 12 - 5 - 8, len(data) - 12 - 5):
        for bit in range(8):
            b = bytearray(data)
            b[i] ^= 1 << bit
            b = fix_all_crcs(bytes(b))
            try:
                got = codec.unpack(b)
            except CodecError:
                continue
            m = codec.inspect(b).tensors[0].pred_mode
            if m not in (-1, 0):
                hits += 1
                r = predict.residuals(good, 0)
                want = r.copy().reshape(-1)
                predict.rebuild(want, 0, good.shape, m)
                assert np.array_equal(got["a"].reshape(-1), want)
                assert np.array_equal(general(b)["a"], got["a"])
    assert hits >= 1


def test_worked_example_is_what_pack_writes():
    rows = hex_dump("hex-v5")
    pos = 0
    for off, b in rows:
        assert off == pos, f"offset {off:#x} in the dump, expected {pos:#x}"
        pos += len(b)
    data = b"".join(b for _, b in rows)
    x = np.array([[[[10, 12, 13], [11, 13, 15], [12, 14, 16]]]], np.int8)
    assert data == codec.pack({"k": x}, predict={"k": 7})
    assert data[4] == 5 and codec.LATEST_VERSION >= 5
    assert f"The {len(data)}-byte package" in doc_text()
    v4 = codec.pack({"k": x}, predict=None, floor=None, alias=None)
    assert f"a {len(v4)}-byte v4 package" in doc_text()
    assert predict.residuals(x, 7).ravel().tolist() == [10, 2, 1, 1, 0, 1, 1, 0, 0]
    check_all_paths(data, {"k": x})
    from codec import reference as ref
    got = ref.unpack(data)
    assert np.array_equal(got["k"], x)


# ---------------------------------------------------------------------------------------------
# golden vectors (tests/vectors/v5: written once by make_vectors.py --v5, never regenerated)

from pathlib import Path  # noqa: E402

from fuzz.harness import (check_sample_mutation, fast_path_takes_v4_sample, fix_all_crcs,  # noqa: E402
                          golden_options, golden_vector, sample_packages)

V5 = Path(__file__).parent / "vectors" / "v5"
VECTORS = sorted(p.stem for p in V5.glob("*.bin"))
SAMPLES = sample_packages(5)


def vector(name):
    return golden_vector(V5, name)


def test_vectors_exist():
    assert len(VECTORS) == 6


@pytest.mark.parametrize("name", VECTORS)
def test_vector(name):
    js, tensors, data = vector(name)
    assert data[4] == 5 and len(data) == js["bytes"] and data[-4:] == b"GKPS"
    assert codec.pack(tensors, **golden_options(js, 5)) == data  # today's writer, same bytes
    check_all_paths(data, tensors)
    d = Package(data).directory
    assert {e.name: e.pred_mode for e in d.tensors if e.pred_mode >= 0} == js["predicted"]
    assert {e.name: [e.mirror_period, e.mirror_skip] for e in d.tensors
            if e.mirror_period} == js["mirrored"]


def test_vectors_decode_in_the_reference():
    from codec.reference import decoder as ref
    for name in VECTORS:
        js, tensors, data = vector(name)
        got = ref.unpack(data)
        assert list(got) == list(tensors), name
        for k, v in tensors.items():
            assert np.array_equal(np.asarray(got[k]), v), (name, k)


@pytest.mark.parametrize("i", range(len(SAMPLES)), ids=[s.name for s in SAMPLES])
def test_samples_all_paths(i):
    s = SAMPLES[i]
    assert s.data[4] == 5
    # the fast path takes a v5 sample exactly when it takes the same sample in v4
    check_all_paths(s.data, s.arrays, fast_path_takes_v4_sample(i))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, len(SAMPLES) - 1))
def test_mutations_give_original_or_codec_error(seed, i):
    check_sample_mutation(seed, SAMPLES, i)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, len(SAMPLES) - 1))
def test_mutations_with_repaired_crcs_are_consistent(seed, i):
    check_sample_mutation(seed, SAMPLES, i, repaired=True)


# ---------------------------------------------------------------------------------------------
# where the rebuild runs: in the decode jobs (groups of whole images) or after (groups that
# split images), on the calling thread or the pool's, in table order or not

@pytest.mark.parametrize("group", ["kernel", ("kernels", 2), "tensor", ("count", 7),
                                   ("count", 18), "auto"])
@pytest.mark.parametrize("jobs", [False, True])
def test_rebuild_in_and_after_the_decode_jobs(group, jobs, monkeypatch):
    import codec.package as P
    if jobs:  # every payload decodes in chunks on the pool, table by table
        monkeypatch.setattr(P, "PAR_MIN_WORK", 0)
        monkeypatch.setattr(P, "ORDER_MIN_BITS", 0)
        monkeypatch.setattr(P, "ORDER_MIN_RATE", 0)
    ts = {"a": smooth_kernels((24, 6, 3, 3)), "b": smooth_kernels((12, 5, 2, 4), np.int16, 3),
          "m": smooth_kernels((30, 20), seed=4), "n": np.arange(-50, 50, dtype=np.int8)}
    data = codec.pack(ts, group=group, predict={"a": 3, "b": 6, "m": 1})
    check_all_paths(data, ts)


def test_group_preds_marks_whole_image_groups():
    """Groups rebuilt in the decode jobs: whole images, FUSE_MIN_IMAGES (16) or more each."""
    from codec.format import directory_arrays_v2, directory_bytes
    from codec.kernels.predict import FUSE_MIN_IMAGES, group_preds
    assert FUSE_MIN_IMAGES == 16
    ts = {"a": smooth_kernels((32, 2, 3, 3)), "c": smooth_kernels((3, 8)),
          "e": np.zeros((0, 3, 3), np.int8), "z": smooth_kernels((2, 3, 3), seed=9),
          "w": smooth_kernels((4, 4, 4, 4), seed=5)}
    data = codec.pack(ts, group=("count", 144), predict={"a": 5, "c": 2, "z": 0, "w": 1})
    version, _f, dir_off, _l, raw = directory_bytes(np.frombuffer(data, np.uint8), check_crc=True)
    st, tabs, lens, ents, shapes, names, crcs = directory_arrays_v2(raw, dir_off, DEFAULT_LIMITS,
                                                                   version)
    # groups of 144 values: a 576 values (4 groups of 16 images), c 24 (one group of one
    # image), z 18 (one group of 2 images: the writer stores a whole-tensor group), w 256
    # (144 = 9 images of 16)
    n = 4 + 1 + 1 + 2
    g = np.full((4, n), -7, np.int64)
    assert group_preds(ents, shapes, np.int64(1), g[0], g[1], g[2], g[3]) == 4
    assert g[0].tolist() == [5] * 4 + [-1] * 4
    assert g[1].tolist()[:4] == [3] * 4 and g[2].tolist()[:4] == [3] * 4
    assert g[3].tolist() == [1] * n  # v5: C = 1 (images are consecutive H x W blocks)
    small = np.zeros((4, n - 1), np.int64)
    assert group_preds(ents, shapes, np.int64(1), small[0], small[1], small[2], small[3]) < 0
    check_all_paths(data, ts)


def test_rebuild_kernels_reject_bad_arguments():
    from codec.kernels.predict import BAD_ARGS, rebuild, rebuild_groups
    out = np.zeros(18, np.int8)
    z = np.int64(0)
    for args in ((0, 18, 3, 3, 8), (0, 18, 3, 3, -1), (0, 18, 0, 3, 0), (0, 17, 3, 3, 0),
                 (9, 18, 3, 3, 0), (-1, 9, 3, 3, 0)):
        assert rebuild(out, *(np.int64(a) for a in args), True) == BAD_ARGS, args
    one = np.ones(1, np.int64)
    assert rebuild_groups(out, one * 0, one * 9, one, one * 3, one * 3, one, z, np.int64(2),
                          True) == BAD_ARGS
    assert rebuild_groups(out, one * 12, one * 9, one, one * 3, one * 3, one, z, np.int64(1),
                          True) == BAD_ARGS
    with pytest.raises(CodecError):
        predict.rebuild(out, 12, (1, 3, 3), 1)
