"""codec.numcodecs_codec: the numcodecs codec ("spkg") and zarr v3 / v2 arrays through it."""
from __future__ import annotations

import configparser
import warnings
from pathlib import Path

import numpy as np
import pytest

numcodecs = pytest.importorskip("numcodecs")

import codec  # noqa: E402
from codec.numcodecs_codec import CODEC_ID, SpkgCodec  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def quantized_weights(shape=(96, 40), seed=0):
    """int8 per-channel quantized weights, half of them pruned (what the codec is for)."""
    from codec.frontend import quantize_model
    rng = np.random.default_rng(seed)
    w = rng.normal(size=shape).astype(np.float32)
    q = quantize_model({"w": w}, bits=6, sparsity=0.5)["w"]
    return q.values


@pytest.mark.parametrize("group", ["auto", "kernel", "tensor", 7, ("kernels", 2), ("count", 16)])
def test_config_roundtrip(group):
    c = SpkgCodec(group=group)
    cfg = c.get_config()
    assert cfg["id"] == CODEC_ID
    import json
    cfg2 = json.loads(json.dumps(cfg))  # the config survives JSON (zarr metadata)
    c2 = numcodecs.get_codec(cfg2)
    assert isinstance(c2, SpkgCodec) and c2.group == c.group and c2.get_config() == cfg
    assert SpkgCodec.from_config(cfg2).get_config() == cfg
    w = quantized_weights()
    assert np.array_equal(c2.decode(c.encode(w)), w)


def test_bad_group_is_rejected_at_construction():
    with pytest.raises((ValueError, TypeError)):
        SpkgCodec(group="sideways")
    with pytest.raises(ValueError):
        numcodecs.get_codec({"id": CODEC_ID, "group": ["kernels"]})


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int16", "uint16", "int32", "uint32"])
def test_encode_decode_dtypes_and_out(dtype):
    info = np.iinfo(dtype)
    rng = np.random.default_rng(1)
    a = rng.integers(max(info.min, -1000), min(info.max, 1000), size=(13, 9), endpoint=True)
    a = a.astype(dtype)
    a[rng.random(a.shape) < 0.6] = 0
    c = SpkgCodec()
    enc = c.encode(a)
    assert codec.check(enc)
    assert np.array_equal(c.decode(enc), a)
    out = np.empty_like(a)
    res = c.decode(memoryview(enc), out=out)
    assert np.array_equal(out, a) and np.shares_memory(res, out)


def test_floats_are_refused():
    with pytest.raises(TypeError, match="quantize"):
        SpkgCodec().encode(np.ones(4, np.float32))


def test_corrupt_chunk_raises_codec_error():
    enc = bytearray(SpkgCodec().encode(quantized_weights()))
    enc[len(enc) // 2] ^= 0xFF
    with pytest.raises(codec.CodecError):
        SpkgCodec().decode(bytes(enc))


def test_entry_point_declared():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    eps = cfg["options.entry_points"]["numcodecs.codecs"]
    name, target = (s.strip() for s in eps.strip().split("="))
    assert name == CODEC_ID
    mod, cls = target.split(":")
    import importlib
    assert getattr(importlib.import_module(mod), cls) is SpkgCodec


def _ignore_zarr_warnings():
    from zarr.errors import ZarrUserWarning
    warnings.filterwarnings("ignore", category=ZarrUserWarning)  # "not in the zarr v3 spec"


def test_zarr_v3_chunked_roundtrip(tmp_path):
    zarr = pytest.importorskip("zarr")
    from codec.numcodecs_codec import ZarrSpkgCodec
    if ZarrSpkgCodec is None:
        pytest.skip("this zarr has no zarr.codecs.numcodecs")
    w = quantized_weights((96, 40))
    with warnings.catch_warnings():
        _ignore_zarr_warnings()
        z = zarr.create_array(str(tmp_path / "w.zarr"), shape=w.shape, chunks=(32, 16),
                              dtype="int8", serializer=ZarrSpkgCodec(group="kernel"),
                              compressors=None, zarr_format=3)
        z[:] = w
        r = zarr.open_array(str(tmp_path / "w.zarr"), mode="r")
        assert np.array_equal(r[:], w)
        assert np.array_equal(r[10:50, 7:33], w[10:50, 7:33])  # partial, across chunks
        codecs = r.metadata.to_dict()["codecs"]
    assert list(codecs) == [{"name": "numcodecs.spkg", "configuration": {"group": "kernel"}}]
    chunks = [p for p in (tmp_path / "w.zarr" / "c").rglob("*") if p.is_file()]
    assert len(chunks) == 3 * 3  # 96/32 x ceil(40/16)
    assert all(codec.check(p.read_bytes()) for p in chunks)


def test_zarr_v2_compressor_roundtrip(tmp_path):
    zarr = pytest.importorskip("zarr")
    w = quantized_weights((50, 30), seed=2)
    with warnings.catch_warnings():
        _ignore_zarr_warnings()
        z = zarr.create_array(str(tmp_path / "w2.zarr"), shape=w.shape, chunks=(16, 16),
                              dtype="int8", compressors=SpkgCodec(), zarr_format=2)
        z[:] = w
        r = zarr.open_array(str(tmp_path / "w2.zarr"), mode="r")
        assert np.array_equal(r[:], w)
