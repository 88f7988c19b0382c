"""codec.io: format detection, readers, writers, dtype normalization, companions, atomic writes."""
from __future__ import annotations

import json
import os
import struct
import sys

import numpy as np
import pytest

import codec
from codec.io import (FormatError, MissingExtraError, atomic_path, atomic_write_bytes,
                      detect_format, join_quantized, read_model, read_tensors, split_quantized,
                      write_tensors)
from codec.io._util import bf16_to_f32, normalize_dtype


def write_bf16_safetensors(path, tensors: dict):
    """A .safetensors file with BF16 tensors (the top 16 bits of the given float32 arrays)."""
    header, blobs, off = {}, [], 0
    for k, a in tensors.items():
        raw = (np.ascontiguousarray(a, np.float32).view(np.uint32) >> 16).astype("<u2").tobytes()
        header[k] = {"dtype": "BF16", "shape": list(a.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
    return path


def make_onnx(path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(3)
    inits = {"w": rng.normal(size=(6, 3, 3, 3)).astype(np.float32),
             "b": rng.normal(size=6).astype(np.float32),
             "shape": np.array([1, -1], np.int64)}
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["y"]),
             helper.make_node("Reshape", ["y", "shape"], ["z"])]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                     [1, 3, 5, 5])],
                          [helper.make_tensor_value_info("z", TensorProto.FLOAT, None)],
                          initializer=[numpy_helper.from_array(v, k) for k, v in inits.items()])
    onnx.save(helper.make_model(g), str(path))
    return path, inits


# ------------------------------------------------------------------------------- detection

def test_detect_by_magic_and_extension(tmp_path):
    np.savez(tmp_path / "a.npz", x=np.zeros(3))
    assert detect_format(tmp_path / "a.npz") == "npz"
    os.rename(tmp_path / "a.npz", tmp_path / "a.weights")
    assert detect_format(tmp_path / "a.weights") == "npz"  # sniffed: a zip of .npy files
    codec.save(tmp_path / "p.bin", {"w": np.arange(5, dtype=np.int8)})
    assert detect_format(tmp_path / "p.bin") == "package"
    codec.save(tmp_path / "p.npz", {"w": np.arange(5, dtype=np.int8)})
    assert detect_format(tmp_path / "p.npz") == "package"  # magic wins over the extension
    write_bf16_safetensors(tmp_path / "s.dat", {"w": np.ones(2, np.float32)})
    assert detect_format(tmp_path / "s.dat") == "safetensors"
    (tmp_path / "m.onnx").write_bytes(b"\x08\x07")
    assert detect_format(tmp_path / "m.onnx") == "onnx"
    (tmp_path / "junk").write_bytes(b"hello world, not a model")
    with pytest.raises(FormatError, match="unknown model format"):
        detect_format(tmp_path / "junk")
    (tmp_path / "bad.safetensors").write_bytes(b"PK\x03\x04" + b"\0" * 30)
    with pytest.raises(FormatError, match="not a .safetensors file"):
        detect_format(tmp_path / "bad.safetensors")
    with pytest.raises(FileNotFoundError):
        detect_format(tmp_path / "missing.npz")
    with pytest.raises(FormatError, match="directory"):
        detect_format(tmp_path)


def test_torch_zip_is_detected_whatever_its_name(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save({"w": torch.zeros(2)}, tmp_path / "model.bin")
    assert detect_format(tmp_path / "model.bin") == "torch"


# ------------------------------------------------------------------------------- readers

def test_npz_and_safetensors_writers_roundtrip(tmp_path):
    t = {"a/b.c:d": np.arange(6, dtype=np.float16).reshape(2, 3), "i": np.array(3, np.int32)}
    write_tensors(tmp_path / "x.npz", t)
    back = read_tensors(tmp_path / "x.npz")
    assert list(back) == list(t) and all(np.array_equal(back[k], t[k]) for k in t)
    pytest.importorskip("safetensors")
    write_tensors(tmp_path / "x.safetensors", t)
    back = read_tensors(tmp_path / "x.safetensors")
    assert set(back) == set(t) and all(np.array_equal(back[k], t[k]) for k in t)
    with pytest.raises(FormatError, match=".npz or .safetensors"):
        write_tensors(tmp_path / "x.h5", t)


def test_bfloat16_is_converted_exactly(tmp_path):
    pytest.importorskip("safetensors")
    w = np.random.default_rng(0).normal(size=(4, 5)).astype(np.float32)
    m = read_model(write_bf16_safetensors(tmp_path / "bf.safetensors", {"w": w}))
    want = bf16_to_f32((w.view(np.uint32) >> 16).astype(np.uint16))
    assert m.tensors["w"].dtype == np.float32 and np.array_equal(m.tensors["w"], want)


def test_bfloat16_fallback_without_ml_dtypes(tmp_path, monkeypatch):
    pytest.importorskip("safetensors")
    from codec.io import safetensors as st_mod
    w = np.linspace(-3, 3, 12, dtype=np.float32).reshape(3, 4)
    p = write_bf16_safetensors(tmp_path / "bf.safetensors", {"w": w})
    out = st_mod._read_bf16_fallback(p, ["w"])
    assert np.array_equal(out["w"], bf16_to_f32((w.view(np.uint32) >> 16).astype(np.uint16)))


def test_normalize_dtype():
    a, note = normalize_dtype("x", np.array([1, -2], np.int64))
    assert a.dtype == np.int32 and note == "int64 -> int32"
    with pytest.raises(FormatError, match="outside"):
        normalize_dtype("x", np.array([1 << 40], np.int64))
    a, note = normalize_dtype("x", np.array([True, False]))
    assert a.dtype == np.uint8 and list(a) == [1, 0]
    a, note = normalize_dtype("x", np.arange(3, dtype=">f4"))
    assert a.dtype == np.float32 and a.dtype.isnative and note is None
    with pytest.raises(FormatError, match="unsupported dtype"):
        normalize_dtype("x", np.array(["a"]))
    with pytest.raises(FormatError, match="unsupported dtype"):
        normalize_dtype("x", np.zeros(2, np.complex64))


def test_onnx_reader(tmp_path):
    path, inits = make_onnx(tmp_path / "m.onnx")
    t = read_tensors(path)
    assert list(t) == ["w", "b", "shape"]
    assert all(np.array_equal(t[k], inits[k]) for k in inits)
    (tmp_path / "bad.onnx").write_bytes(b"\xff\xff\xff\xff not protobuf")
    with pytest.raises(FormatError, match="ONNX"):
        read_tensors(tmp_path / "bad.onnx")


def test_torch_reader_state_dict_and_checkpoint(tmp_path):
    torch = pytest.importorskip("torch")
    sd = {"a.weight": torch.randn(3, 2), "a.bias": torch.zeros(3, dtype=torch.bfloat16),
          "n": torch.tensor(4)}
    torch.save(sd, tmp_path / "sd.pt")
    torch.save({"model": sd, "optimizer_step": 10}, tmp_path / "ck.pth")
    for f in ("sd.pt", "ck.pth"):
        t = read_tensors(tmp_path / f)
        assert list(t) == list(sd)
        assert t["a.bias"].dtype == np.float32
        assert np.array_equal(t["a.weight"], sd["a.weight"].numpy())
    torch.save({"nested": {"x": torch.ones(2)}, "y": torch.ones(1)}, tmp_path / "n.pt")
    assert set(read_tensors(tmp_path / "n.pt")) == {"nested.x", "y"}
    (tmp_path / "bad.pt").write_bytes(b"\x80\x04garbage")
    with pytest.raises(FormatError, match="PyTorch"):
        read_tensors(tmp_path / "bad.pt")


@pytest.mark.parametrize("module, ext, extra", [
    ("safetensors", ".safetensors", "safetensors"), ("onnx", ".onnx", "onnx"),
    ("torch", ".pt", "torch")])
def test_missing_extra_is_named(tmp_path, monkeypatch, module, ext, extra):
    monkeypatch.setitem(sys.modules, module, None)
    p = tmp_path / ("m" + ext)
    p.write_bytes(b"\x80" if ext == ".pt" else b"\x10\0\0\0\0\0\0\0{}" + b" " * 14)
    with pytest.raises(MissingExtraError, match=rf"codec\[{extra}\]"):
        read_tensors(p)


def test_package_reader_gives_floats(tmp_path):
    from codec.frontend import compress_model
    w = np.random.default_rng(0).normal(size=(4, 8)).astype(np.float32)
    (tmp_path / "m.spkg").write_bytes(compress_model({"w": w}, bits=8))
    t = read_tensors(tmp_path / "m.spkg")
    assert t["w"].dtype == np.float32 and np.abs(t["w"] - w).max() < np.abs(w).max() / 127


# ------------------------------------------------------------------------------- companions

def test_split_join_quantized_roundtrip():
    rng = np.random.default_rng(0)
    q = rng.integers(-127, 128, size=(4, 3, 3, 2)).astype(np.int8)
    t = {"k": q, "k_scale": np.full(2, 0.5, np.float32), "k_zero_point": np.zeros(2, np.int64),
         "k_quantized_dimension": np.array(3, np.int32), "plain": np.ones(3, np.float32),
         "lonely_scale": np.ones(1, np.float32)}
    plain, quant = split_quantized(t)
    assert set(plain) == {"plain", "lonely_scale"} and set(quant) == {"k"}
    values, meta = quant["k"]
    assert meta.axis == 3 and meta.bits == 8 and np.array_equal(meta.scale, t["k_scale"])
    j = join_quantized("k", values, meta)
    plain2, quant2 = split_quantized(j)
    assert plain2 == {} and quant2["k"][1] == meta
    # per-block scales and fewer bits survive too
    m = codec.QuantMeta(bits=4, scale=np.array([0.1, 0.2], np.float32), block=5)
    p2, q2 = split_quantized(join_quantized("b", np.arange(10, dtype=np.int8) - 5, m))
    assert q2["b"][1] == m


def test_companions_that_do_not_fit_are_an_error():
    t = {"k": np.zeros((4, 2), np.int8), "k_scale": np.ones(3, np.float32)}
    with pytest.raises(FormatError, match="companion"):
        split_quantized(t)


def test_real_tflite_int8_companions(shared_weights):
    m = read_model(shared_weights / "fer_emotion_minixception_tflite_int8.npz")
    assert m.tensors == {} and len(m.quantized) == 9
    v, meta = m.quantized["separable_conv2d_8_1/DEPTHWISE_CONV_2D/kernel"]
    assert v.dtype == np.int8 and meta.axis == 3 and meta.scale.size == 128


# ------------------------------------------------------------------------------- atomic writes

def test_atomic_path_cleans_up_and_protects(tmp_path):
    out = tmp_path / "o.bin"
    with pytest.raises(RuntimeError):
        with atomic_path(out) as tmp:
            with open(tmp, "wb") as f:
                f.write(b"partial")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    assert atomic_write_bytes(out, b"abc") == 3 and out.read_bytes() == b"abc"
    with pytest.raises(FormatError, match="over the input"):
        atomic_write_bytes(out, b"zzz", protect=[out])
    assert out.read_bytes() == b"abc"
    os.symlink(out, tmp_path / "link.bin")
    with pytest.raises(FormatError, match="over the input"):
        atomic_write_bytes(tmp_path / "link.bin", b"zzz", protect=[out])
    with pytest.raises(FormatError, match="does not exist"):
        atomic_write_bytes(tmp_path / "nodir" / "x", b"1")
