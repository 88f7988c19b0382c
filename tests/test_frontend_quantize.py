"""Quantization front-end (seed 000)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from codec.bench import demo_model
from codec.frontend import fixed_point_frac_bits, quantize, quantize_activation


def _kernels(min_size=200):
    """The real kernels of the bundled MTCNN (codec/data: the same arrays as
    ../shared/weights/mtcnn_facenet_pytorch.npz), so these tests need no shared folder."""
    return {k: v for k, v in demo_model().items() if v.ndim >= 2 and v.size >= min_size}


# ------------------------------------------------------------------ seed 000 worked examples
def test_seed000_two_bit_example():
    qt = quantize([0.52, 2.11, 0.24, -0.25, -0.7, 0.31], bits=2, method="fixed", frac_bits=1)
    assert qt.dequantize().tolist() == [0.5, 0.5, 0.0, 0.0, -0.5, 0.5]
    assert qt.values.dtype == np.int8
    assert qt.values.tolist() == [1, 1, 0, 0, -1, 1]
    assert qt.scale.tolist() == [0.5]
    assert qt.frac_bits.tolist() == [1]


def test_seed000_one_bit_example():
    qt = quantize([0.51, 0.26, 0.24, -0.24, -0.26, -0.66], bits=1, method="fixed")
    assert qt.dequantize().tolist() == [1, 1, 1, -1, -1, -1]


def test_fixed_two_bit_grid_is_minus_one_to_half():
    qt = quantize(np.linspace(-3, 3, 61), bits=2, method="fixed", frac_bits=1)
    assert set(qt.dequantize().tolist()) == {-1.0, -0.5, 0.0, 0.5}


def test_fixed_auto_frac_bits_fits_max():
    w = np.array([0.3, -5.2, 1.0])
    qt = quantize(w, bits=8, method="fixed")
    assert qt.frac_bits.tolist() == [4]  # 127 / 16 = 7.9 >= 5.2, 127/32 < 5.2
    assert np.abs(qt.dequantize() - w).max() <= 2.0 ** -5 + 1e-7


# ------------------------------------------------------------------ scale / alpha behaviour
@pytest.mark.parametrize("bits", [2, 3, 4])
def test_alpha_beats_maxabs_on_real_kernels_and_converges(bits):
    for name, w in _kernels().items():
        for gran in ("tensor", "channel"):
            a = quantize(w, bits=bits, granularity=gran, method="maxabs")
            b = quantize(w, bits=bits, granularity=gran, method="alpha")
            assert b.converged, (name, gran)
            assert 1 <= b.iterations < 100
            assert b.rel_error <= a.rel_error * (1 + 1e-6), (name, gran, a.rel_error, b.rel_error)
    # and on the whole model, clearly lower
    ws = _kernels()
    tot_a = sum(quantize(w, bits=bits, granularity="channel").rel_error for w in ws.values())
    tot_b = sum(quantize(w, bits=bits, granularity="channel", method="alpha").rel_error
                for w in ws.values())
    assert tot_b < 0.97 * tot_a


def test_alpha_is_a_fixed_point_of_its_iteration():
    w = _kernels()["onet.conv2.weight"] if "onet.conv2.weight" in _kernels() else next(iter(_kernels().values()))
    qt = quantize(w, bits=3, granularity="channel", method="alpha")
    q = qt.values.astype(np.float64).reshape(qt.shape[0], -1)
    x = w.astype(np.float64).reshape(w.shape[0], -1)
    opt = (x * q).sum(1) / np.maximum((q * q).sum(1), 1)
    np.testing.assert_allclose(qt.scale, opt, rtol=1e-5)


def test_one_bit_is_sign_times_mean_abs():
    w = np.array([[0.5, -1.5, 0.0, 2.0], [1.0, 1.0, -1.0, 0.0]])
    for method in ("maxabs", "alpha"):
        qt = quantize(w, bits=1, granularity="channel", method=method)
        assert qt.values.tolist() == [[1, -1, 1, 1], [1, 1, -1, 1]]
        np.testing.assert_allclose(qt.scale, [1.0, 0.75])


@pytest.mark.parametrize("gran,kw", [("tensor", {}), ("channel", {"axis": 0}), ("channel", {"axis": 1}),
                                     ("channel", {"axis": -1}), ("group", {"group_size": 7}),
                                     ("group", {"group_size": "kernel"})])
@pytest.mark.parametrize("bits", [2, 4, 8, 16])
def test_error_within_half_step_and_meta_agrees(gran, kw, bits):
    rng = np.random.default_rng(bits)
    w = rng.normal(size=(6, 5, 3, 3)).astype(np.float32)
    qt = quantize(w, bits=bits, granularity=gran, **kw)
    deq = qt.dequantize()
    assert deq.dtype == np.float32 and deq.shape == w.shape
    assert np.all(np.abs(deq - w) <= qt.step() / 2 * (1 + 1e-6) + 1e-7)
    assert qt.values.dtype == (np.int8 if bits <= 8 else np.int16)
    meta = qt.meta
    assert meta.bits == bits
    if gran == "channel":
        assert meta.axis == qt.axis and qt.scale.size == w.shape[qt.axis]
    if gran == "group":
        assert meta.block == qt.group_size
        assert qt.scale.size == -(-w.size // qt.group_size)
    if hasattr(meta, "dequantize"):
        np.testing.assert_array_equal(meta.dequantize(qt.values), deq)


def test_group_kernel_size_follows_seed002():
    qt = quantize(np.ones((4, 3, 5, 5)), bits=4, granularity="group", group_size="kernel")
    assert qt.group_size == 25 and qt.scale.size == 12


@pytest.mark.parametrize("bits", [1, 2, 3, 4, 8, 12, 16, 24, 32])
def test_all_bit_widths_symmetric_and_asymmetric(bits):
    rng = np.random.default_rng(0)
    w = rng.normal(size=(8, 40)) + 0.5
    qt = quantize(w, bits=bits, granularity="channel")
    lo, hi = qt.value_range()
    assert qt.values.min() >= lo and qt.values.max() <= hi
    assert qt.values.dtype == (np.int8 if bits <= 8 else np.int16 if bits <= 16 else np.int32)
    if bits >= 2:
        assert np.all(np.abs(qt.dequantize(np.float64) - w) <= qt.step() / 2 * (1 + 1e-6))
    qa = quantize(w, bits=bits, granularity="channel", symmetric=False)
    assert qa.zero_point is not None and qa.zero_point.dtype == np.int64
    assert qa.values.min() >= -(2 ** (bits - 1)) and qa.values.max() <= 2 ** (bits - 1) - 1
    if bits >= 2:
        assert np.all(np.abs(qa.dequantize(np.float64) - w) <= qa.step() / 2 * (1 + 1e-6))
    if bits >= 4:
        assert qa.rel_error < qt.rel_error * 1.05  # asymmetric never much worse on shifted data


def test_zeros_stay_zero():
    w = np.array([[0.0, 0.5, -0.25, 0.0], [0.0, 0.0, 0.0, 0.0]])
    for kw in ({}, {"symmetric": False}, {"method": "alpha"}, {"method": "fixed"}):
        qt = quantize(w, bits=4, granularity="channel", **kw)
        deq = qt.dequantize()
        assert np.all(deq[w == 0] == 0), kw
        assert np.all(qt.scale > 0)


def test_scales_are_float32_and_exact():
    qt = quantize(np.arange(10.0), bits=8)
    assert qt.scale.dtype == np.float32
    assert qt.dequantize(np.float64)[-1] == np.float64(qt.scale[0]) * qt.values[-1]


def test_requantize_keeps_grid():
    rng = np.random.default_rng(1)
    w = rng.normal(size=(4, 9))
    qt = quantize(w, bits=4, granularity="channel")
    assert np.array_equal(qt.requantize(qt.dequantize()).values, qt.values)
    big = qt.requantize(w * 10)
    assert np.abs(big.values).max() == 7


def test_empty_and_scalar():
    assert quantize(np.zeros((0, 3)), bits=4).values.shape == (0, 3)
    qt = quantize(np.float32(2.5), bits=8)
    assert qt.values.shape == () and float(qt.dequantize()) == pytest.approx(2.5, rel=1e-2)


@pytest.mark.parametrize("kwargs,exc", [
    ({"bits": 0}, ValueError), ({"bits": 33}, ValueError), ({"bits": 2.0}, TypeError),
    ({"bits": 4, "granularity": "row"}, ValueError), ({"bits": 4, "method": "kmeans"}, ValueError),
    ({"bits": 4, "granularity": "group"}, ValueError),
    ({"bits": 4, "group_size": 4}, ValueError),
    ({"bits": 4, "granularity": "group", "group_size": 0}, ValueError),
    ({"bits": 4, "granularity": "channel", "axis": 5}, ValueError),
    ({"bits": 4, "method": "alpha", "symmetric": False}, ValueError),
    ({"bits": 4, "frac_bits": 2}, ValueError),
])
def test_bad_arguments(kwargs, exc):
    with pytest.raises(exc):
        quantize(np.ones((3, 4)), **kwargs)


def test_rejects_nan_and_non_numeric():
    with pytest.raises(ValueError):
        quantize([1.0, np.nan], bits=4)
    with pytest.raises(TypeError):
        quantize(np.array(["a"]), bits=4)


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=3, max_side=6),
                  elements=st.floats(-1e3, 1e3, width=32)),
       st.integers(2, 16), st.sampled_from(["maxabs", "alpha"]))
def test_property_half_step(w, bits, method):
    qt = quantize(w, bits=bits, granularity="channel", method=method)
    deq = qt.dequantize(np.float64)
    if method == "maxabs":
        assert np.all(np.abs(deq - w) <= qt.step() / 2 * (1 + 1e-6) + 1e-30)
    else:  # alpha may clip the largest values but never does worse than max-abs overall
        ref = quantize(w, bits=bits, granularity="channel")
        assert np.linalg.norm(deq - w) <= np.linalg.norm(ref.dequantize(np.float64) - w) * (1 + 1e-5) + 1e-6


# ------------------------------------------------------------------ activations
def test_activation_quantizer_fixed_point():
    x = np.array([0.1, -3.3, 2.0, 100.0])
    assert fixed_point_frac_bits(3.3, 8) == 5
    y = quantize_activation(x, bits=8, frac_bits=5)
    assert y.dtype == np.float32
    assert y.tolist() == [pytest.approx(3 / 32), pytest.approx(-106 / 32), 2.0, 127 / 32]
    auto = quantize_activation(x, bits=16)
    assert np.abs(auto - x).max() <= 2.0 ** -(fixed_point_frac_bits(100, 16) + 1)
    assert np.array_equal(quantize_activation(x, bits=32), quantize_activation(x, bits=32))


@pytest.mark.parametrize("bits", [1, 7, 33])
def test_activation_bits_range(bits):
    with pytest.raises(ValueError):
        quantize_activation(np.ones(3), bits=bits)


def test_alpha_never_worse_than_maxabs_after_float32_scales():
    """The case hypothesis found (16 bits: the float32 scale undid alpha's gain): per row,
    alpha's stored result is never worse than max-abs's."""
    w = np.full((1, 4, 5), 995.2422, np.float32)
    w[0, 0, 0] = 300.0
    for bits in (8, 12, 16):
        a = quantize(w, bits=bits, granularity="channel", method="alpha")
        m = quantize(w, bits=bits, granularity="channel")
        ea = np.linalg.norm(a.dequantize(np.float64) - w)
        em = np.linalg.norm(m.dequantize(np.float64) - w)
        assert ea <= em
