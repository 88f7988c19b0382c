"""Exact round trips of the core codec over dtypes, shapes, sparsity and grouping modes."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import codec

DTYPES = [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32]
GROUPS = ["auto", ("auto", 50), "kernel", ("kernels", 2), ("count", 7), ("count", 100), "tensor",
          13]


def roundtrip(a, **kw):
    data = codec.encode(a, **kw)
    b = codec.decode(data)
    assert b.dtype == a.dtype
    assert b.shape == a.shape
    np.testing.assert_array_equal(b, a)
    return data


@pytest.mark.parametrize("dtype", DTYPES)
def test_extremes(dtype):
    info = np.iinfo(dtype)
    a = np.array([info.min, info.max, 0, 1, info.max - 1, info.min + 1, 0, 0], dtype)
    roundtrip(a)


@pytest.mark.parametrize("shape", [(0,), (3, 0, 2), (), (1,), (5,), (4, 3, 2, 2)])
@pytest.mark.parametrize("group", GROUPS)
def test_shapes(shape, group):
    rng = np.random.default_rng(1)
    a = rng.integers(-3, 4, size=shape).astype(np.int8)
    roundtrip(a, group=group)


@pytest.mark.parametrize("sparsity", [0.0, 0.5, 0.9, 0.99, 1.0])
@pytest.mark.parametrize("group", GROUPS)
def test_sparsity(sparsity, group):
    rng = np.random.default_rng(2)
    a = np.round(rng.laplace(size=(16, 8, 3, 3)) * 20).clip(-127, 127).astype(np.int8)
    a[rng.random(a.shape) < sparsity] = 0
    roundtrip(a, group=group)


def test_long_zero_runs():
    a = np.zeros(200_003, np.int16)
    a[[0, 5000, 5001, 150_000, 200_002]] = [1, -7, 300, -32768, 32767]
    roundtrip(a, group="tensor")
    roundtrip(a, group=("count", 4096))


def test_all_zero_no_zero_and_pm1():
    roundtrip(np.zeros((7, 9), np.int32))
    rng = np.random.default_rng(3)
    nz = rng.integers(1, 100, size=1000).astype(np.int16) * rng.choice([-1, 1], size=1000).astype(np.int16)
    roundtrip(nz)
    roundtrip(rng.choice(np.array([-1, 1], np.int8), size=(32, 32)))


def test_unsigned_offset_uses_mode():
    a = np.full(1000, 128, np.uint8)
    a[::10] = 255
    data = roundtrip(a)
    assert codec.inspect(data).tensors[0].value_offset == 128
    assert len(data) < 200  # the mode costs nothing


@given(hnp.arrays(st.sampled_from(DTYPES), hnp.array_shapes(min_dims=0, max_dims=4, max_side=12)),
       st.sampled_from(GROUPS))
def test_hypothesis_roundtrip(a, group):
    roundtrip(a, group=group)


@given(st.lists(hnp.arrays(st.sampled_from(DTYPES), hnp.array_shapes(min_dims=0, max_dims=3,
                                                                        max_side=20)),
                min_size=1, max_size=6), st.integers(1, 8))
def test_hypothesis_pack(arrays, max_tables):
    tensors = {f"t{i}/w": a for i, a in enumerate(arrays)}
    data = codec.pack(tensors, max_tables=max_tables)
    out = codec.unpack(data)
    assert list(out) == list(tensors)
    for k, a in tensors.items():
        assert out[k].dtype == a.dtype and out[k].shape == a.shape
        np.testing.assert_array_equal(out[k], a)
    for k, a in tensors.items():
        np.testing.assert_array_equal(codec.read_tensor(data, k), a)


def test_pack_names_order_and_meta():
    rng = np.random.default_rng(4)
    tensors = {"β/ü": rng.integers(-8, 8, (4, 5)).astype(np.int8),
               "a": rng.integers(0, 255, (9,)).astype(np.uint8),
               "": np.zeros((), np.int32)}
    meta = {"β/ü": codec.QuantMeta(bits=4, scale=np.array([0.1, 0.2, 0.3, 0.4], np.float32),
                                    zero_point=np.array([0, 1, -1, 2]), axis=0),
            "a": codec.QuantMeta(bits=8, scale=np.array([1e-3], np.float64))}
    data = codec.pack(tensors, meta=meta)
    out = codec.unpack(data)
    assert list(out) == list(tensors)
    info = codec.inspect(data)
    assert info.tensor("β/ü").meta == meta["β/ü"]
    assert info.tensor("a").meta == meta["a"]
    assert info.tensor("").meta is None
    w = info.tensor("β/ü").meta.dequantize(out["β/ü"])
    np.testing.assert_allclose(w, (tensors["β/ü"] - meta["β/ü"].zero_point[:, None]) *
                               meta["β/ü"].scale[:, None], rtol=1e-6)


def test_out_parameter():
    a = np.arange(-50, 50, dtype=np.int16).reshape(10, 10)
    data = codec.encode(a)
    out = np.full((10, 10), 99, np.int16)
    res = codec.decode(data, out=out)
    assert res is out
    np.testing.assert_array_equal(out, a)
    with pytest.raises(ValueError):
        codec.decode(data, out=np.empty((10, 10), np.int8))


def test_save_load_streaming(tmp_path):
    rng = np.random.default_rng(5)
    tensors = {f"layer{i}": rng.integers(-5, 6, (64, 3, 3)).astype(np.int8) for i in range(5)}
    np.savez(tmp_path / "m.npz", **tensors)
    lazy = np.load(tmp_path / "m.npz")
    path = tmp_path / "m.spkg"
    n = codec.save(path, lazy)
    assert path.stat().st_size == n
    assert path.read_bytes() == codec.pack(tensors)
    out = codec.load(path)
    for k in tensors:
        np.testing.assert_array_equal(out[k], tensors[k])
    pkg = codec.open_package(path)
    np.testing.assert_array_equal(pkg.read("layer3"), tensors["layer3"])
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz", "m.spkg"] or \
        sorted(p.name for p in tmp_path.iterdir()) == ["m.npz", "m.spkg"]


def test_save_is_atomic_on_failure(tmp_path):
    path = tmp_path / "x.spkg"
    path.write_bytes(b"old")

    class Bad(dict):
        def __getitem__(self, k):
            raise RuntimeError("source failed")

    with pytest.raises(RuntimeError):
        codec.save(path, Bad(a=np.zeros(3, np.int8)))
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.spkg"]


def test_wrong_types():
    with pytest.raises(TypeError):
        codec.encode(np.zeros(3, np.float32))
    with pytest.raises(TypeError):
        codec.encode([1, 2, 3])
    with pytest.raises(TypeError):
        codec.pack([np.zeros(3, np.int8)])
    with pytest.raises(TypeError):
        codec.decode("not bytes")
    with pytest.raises(ValueError):
        codec.encode(np.zeros(3, np.int8), group=0)
    with pytest.raises(TypeError):
        codec.pack({"a": np.zeros(3, np.int8)}, meta={"a": "nope"})


def test_check_and_constants():
    data = codec.encode(np.arange(5, dtype=np.int8))
    assert codec.MAGIC == b"SPKG" and codec.VERSION == 4
    assert codec.SUPPORTED_VERSIONS == (1, 2, 3, 4, 5, 6, 7) and codec.LATEST_VERSION == 7
    assert data[:4] == codec.MAGIC and data[4] == codec.VERSION
    assert data[-4:] == codec.FOOTER_MAGIC
    assert codec.check(data)
    v1 = codec.encode(np.arange(5, dtype=np.int8), version=1)
    assert v1[4] == 1 and codec.check(v1) and len(v1) > len(data)
    assert codec.check(data[:4] + b"\x03" + data[5:])
    assert not codec.check(data[:4] + bytes([codec.LATEST_VERSION + 1]) + data[5:])
    v2 = codec.encode(np.arange(5, dtype=np.int8), version=2)
    v3 = codec.encode(np.arange(5, dtype=np.int8), version=3)  # no mirror: only the version byte
    assert v3[4] == 3 and v3[5:-24] == v2[5:-24]
    assert len(data) < len(v2)  # v4: a smaller entry, no group table, a 12-byte footer
    with pytest.raises(ValueError, match="version"):
        codec.encode(np.arange(5, dtype=np.int8), version=codec.LATEST_VERSION + 1)
    assert not codec.check(b"PK\x03\x04....")
    assert not codec.check(b"")


def test_real_model_roundtrip(shared_weights):
    from benchmarks.recipe import quantized_model
    for bits, sp in [(8, 0.0), (4, 0.9)]:
        t = quantized_model("mtcnn_facenet_pytorch", bits, sp)
        data = codec.pack(t)
        out = codec.unpack(data)
        for k in t:
            np.testing.assert_array_equal(out[k], t[k])
        info = codec.inspect(data)
        assert info.numel == sum(v.size for v in t.values())
        assert info.total_bytes == len(data)


@pytest.mark.parametrize("effort", [0, 1])
def test_effort_levels_roundtrip(effort):
    rng = np.random.default_rng(9)
    t = {f"w{i}": (np.round(rng.laplace(size=(32, 16, 3, 3)) * (i + 1))
                   * (rng.random((32, 16, 3, 3)) < 0.3 * (i + 1))).astype(np.int8) for i in range(3)}
    data = codec.pack(t, effort=effort)
    out = codec.unpack(data)
    for k in t:
        np.testing.assert_array_equal(out[k], t[k])
    with pytest.raises(ValueError):
        codec.pack(t, effort=2)


def test_per_group_tables_are_used_and_decode():
    """Channels of very different sparsity in one tensor: groups pick different tables."""
    rng = np.random.default_rng(10)
    a = np.round(rng.laplace(size=(64, 4096)) * 20).clip(-127, 127).astype(np.int8)
    a[::2][rng.random((32, 4096)) < 0.97] = 0        # half the channels 97 % sparse
    data = codec.pack({"w": a}, group="kernel")
    info = codec.inspect(data)
    assert len(info.tables) >= 2 and len(info.tensor("w").tables) >= 2
    np.testing.assert_array_equal(codec.unpack(data)["w"], a)
    one = codec.pack({"w": a}, group="kernel", max_tables=1)
    assert len(data) < len(one)
