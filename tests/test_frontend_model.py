"""compress_model / decompress_model: float models through codec.pack and back."""
from __future__ import annotations

import numpy as np
import pytest

import codec
from codec.frontend import (QuantizedTensor, compress_model, decompress_model, pack_model,
                            quantize_model)

def _model(weights, name="fer_emotion_minixception.npz"):
    """A real float model from the ``shared_weights`` folder (tests/conftest.py)."""
    with np.load(weights / name) as z:
        return {k: z[k] for k in z.files}


def _toy():
    rng = np.random.default_rng(7)
    return {
        "conv.weight": rng.normal(size=(8, 3, 3, 3)).astype(np.float32),
        "conv.bias": rng.normal(size=8).astype(np.float32),
        "fc.weight": (rng.normal(size=(10, 32)) * 0.05).astype(np.float32),
        "fc.bias": np.zeros(10, np.float32),
        "half": rng.normal(size=(4, 4)).astype(np.float16),
    }


def _check_round_trip(src, data, *, sparsity=0.0, exact=()):
    out = decompress_model(data)
    assert list(out) == list(src)
    q = decompress_model(data, as_quantized=True)
    for n, w in src.items():
        assert out[n].shape == w.shape, n
        if n in exact:
            assert out[n].dtype == w.dtype
            assert np.array_equal(out[n].view(np.uint8), w.view(np.uint8)), n
            continue
        assert out[n].dtype == np.float32
        qt = q[n]
        assert isinstance(qt, QuantizedTensor)
        assert np.array_equal(qt.dequantize(), out[n])
        nz = out[n] != 0
        err = np.abs(out[n].astype(np.float64) - w.astype(np.float64))
        # kept elements: within half a step (+ float32 rounding of the result)
        bound = qt.step() / 2 * (1 + 1e-6) + np.abs(w) * 2.0 ** -23
        assert np.all(err[nz] <= bound[nz]), n
        # elements that became 0: pruned, or within half a step of 0
        assert np.all((np.abs(w[~nz]) <= bound[~nz]) | (sparsity > 0)), n


def test_round_trip_names_shapes_dtypes_and_half_step():
    src = _toy()
    data = compress_model(src, bits=8)
    assert isinstance(data, bytes)
    _check_round_trip(src, data)


@pytest.mark.parametrize("bits,sparsity,gran", [(8, 0.0, "channel"), (4, 0.5, "channel"),
                                                (2, 0.9, "tensor"), (3, 0.0, "group")])
def test_real_model_round_trip(bits, sparsity, gran, shared_weights):
    src = _model(shared_weights)
    kw = {"group_size": 64} if gran == "group" else {}
    data = compress_model(src, bits=bits, sparsity=sparsity, granularity=gran, skip="vectors", **kw)
    exact = {n for n, w in src.items() if w.ndim <= 1}
    _check_round_trip(src, data, sparsity=sparsity, exact=exact)
    out = decompress_model(data)
    if sparsity:
        for n, w in src.items():
            if n not in exact:
                assert int((out[n] == 0).sum()) >= int(np.floor(sparsity * w.size + 0.5))
    info = codec.inspect(data)
    metas = {e.name: e.meta for e in info.tensors}
    for n in src:
        m = metas[n]
        assert m is not None
        assert m.kind == ("float-bits" if n in exact else "linear")
        if n not in exact:
            assert m.bits == bits


def test_low_bits_and_sparsity_shrink_the_package(shared_weights):
    src = _model(shared_weights)
    sizes = {(b, s): len(compress_model(src, bits=b, sparsity=s)) for b, s in [(8, 0), (4, 0), (4, 0.9)]}
    assert sizes[(8, 0)] > sizes[(4, 0)] > sizes[(4, 0.9)]
    n = sum(w.size for w in src.values())
    assert sizes[(4, 0.9)] * 8 / n < 1.6  # bits per parameter, scales and headers included


def test_skip_forms_and_float16_exact():
    src = _toy()
    for skip in (["conv.bias", "fc.bias", "half"], lambda n, a: n.endswith("bias") or a.dtype == np.float16):
        data = compress_model(src, bits=4, skip=skip)
        _check_round_trip(src, data, exact={"conv.bias", "fc.bias", "half"})
    out = decompress_model(compress_model(src, bits=4, skip=["half"]))
    assert out["half"].dtype == np.float16


def test_per_tensor_bits_sparsity_and_global_scope():
    src = _toy()
    q = quantize_model(src, bits={"conv.weight": 8, "*": 3}, sparsity={"fc.weight": 0.75})
    assert q["conv.weight"].bits == 8 and q["fc.weight"].bits == 3
    assert int((q["fc.weight"].values == 0).sum()) >= 240
    g = quantize_model(src, bits=8, sparsity=0.5, scope="global", skip="vectors")
    total = sum(src[n].size for n in g if isinstance(g[n], QuantizedTensor))
    zeros = sum(int((g[n].values == 0).sum()) for n in g if isinstance(g[n], QuantizedTensor))
    assert zeros >= total // 2
    s = quantize_model(src, bits=8, sparsity=0.5, structured="channel")
    assert int((np.abs(s["conv.weight"].values).reshape(8, -1).sum(1) == 0).sum()) == 4
    with pytest.raises(ValueError):
        quantize_model(src, bits={"conv.weight": 8})  # no default for the rest
    with pytest.raises(ValueError):
        quantize_model(src, bits=8, skip=["nope"])
    with pytest.raises(ValueError):
        quantize_model(src, bits=8, skip="biases")
    with pytest.raises(TypeError):
        quantize_model({"i": np.arange(3)}, bits=8)
    with pytest.raises(TypeError):
        quantize_model([np.ones(3)], bits=8)
    with pytest.raises(ValueError):
        quantize_model(src, bits=8, sparsity={"fc.weight": 0.5}, scope="global")


def test_pack_model_takes_quantized_and_exact():
    src = _toy()
    q = quantize_model(src, bits=4, method="alpha", skip="vectors")
    data = pack_model(q)
    back = decompress_model(data, as_quantized=True)
    for n, t in q.items():
        if isinstance(t, QuantizedTensor):
            assert np.array_equal(back[n].values, t.values)
            assert back[n].scale.tobytes() == t.scale.tobytes()
            assert np.array_equal(back[n].dequantize(), t.dequantize())
        else:
            assert np.array_equal(back[n], t)


def test_asymmetric_zero_points_round_trip():
    rng = np.random.default_rng(2)
    src = {"w": (rng.random((6, 20)) + 0.2).astype(np.float32)}
    data = compress_model(src, bits=4, symmetric=False)
    back = decompress_model(data, as_quantized=True)["w"]
    assert back.zero_point is not None
    _check_round_trip(src, data)


@pytest.mark.parametrize("kw", [dict(bits=1), dict(bits=1, method="fixed"), dict(bits=32),
                                dict(bits=24, symmetric=False), dict(bits=2, method="alpha"),
                                dict(bits=3, granularity="group", group_size="kernel"),
                                dict(bits=2, method="fixed", frac_bits=1)])
def test_extreme_bit_widths_through_the_package(kw):
    src = _toy()
    src.pop("half")
    data = compress_model(src, **kw)
    back = decompress_model(data, as_quantized=True)
    for n, w in src.items():
        ref = quantize_model({n: w}, **kw)[n]
        assert np.array_equal(back[n].values, ref.values), n
        assert back[n].values.dtype == ref.values.dtype
        assert np.array_equal(back[n].dequantize(), ref.dequantize())
