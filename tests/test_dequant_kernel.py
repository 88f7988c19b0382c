"""kernels/dequant.py against the numpy dequantization it replaces: bit-identical floats for
every granularity, dtype, zero point and axis; the numpy form where the kernel declines."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from codec import QuantMeta
from codec.frontend.quantize import QuantizedTensor
from codec.kernels.dequant import dequantize_linear
from codec.meta import dequantize_fast

INTS = ["int8", "uint8", "int16", "uint16", "int32", "uint32", "int64"]


def numpy_form(q, scale, zp, axis, block, dtype):
    """QuantMeta.dequantize's numpy form (float64 arithmetic, one cast)."""
    s = np.asarray(scale, np.float64).reshape(-1)
    qf = q.astype(np.float64)
    z = None if zp is None else np.asarray(zp).reshape(-1)
    if axis is not None:
        bshape = [1] * q.ndim
        bshape[axis] = -1
        out = (qf - (z.reshape(bshape) if z is not None else 0)) * s.reshape(bshape)
    elif block is not None:
        idx = np.arange(q.size) // block
        out = ((qf.reshape(-1) - (z[idx] if z is not None else 0)) * s[idx]).reshape(q.shape)
    else:
        out = (qf - (z if z is not None else 0)) * s
    return out.astype(dtype)


@st.composite
def cases(draw):
    dt = np.dtype(draw(st.sampled_from(INTS)))
    shape = tuple(draw(st.lists(st.integers(1, 6), min_size=1, max_size=4)))
    shape = (draw(st.integers(4096 // int(np.prod(shape)) + 1, 5000)),) + shape
    info = np.iinfo(dt)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    q = rng.integers(max(info.min, -2**40), min(info.max, 2**40), size=shape, endpoint=True,
                     dtype=np.int64).astype(dt)
    gran = draw(st.sampled_from(["tensor", "axis", "block"]))
    axis = block = None
    if gran == "axis":
        axis = draw(st.integers(-len(shape), len(shape) - 1))
        n = shape[axis]
    elif gran == "block":
        block = draw(st.integers(1, q.size + 2))
        n = -(-q.size // block)
    else:
        n = 1
    scale = rng.standard_normal(n) * 10.0 ** rng.integers(-8, 8, n)
    if draw(st.booleans()):
        scale = scale.astype(np.float32)
    zp = rng.integers(-2**33, 2**33, n) if draw(st.booleans()) else None
    return q, scale, zp, axis, block, draw(st.sampled_from([np.float32, np.float64]))


@settings(max_examples=300, deadline=None)
@given(cases())
def test_bit_identical_to_the_numpy_form(case):
    q, scale, zp, axis, block, dtype = case
    got = dequantize_fast(q, scale, zp, axis, block, dtype)
    assert got is not None and got.dtype == dtype and got.shape == q.shape
    want = numpy_form(q, scale, zp, axis, block, dtype)
    assert np.array_equal(got.view(np.uint8), want.view(np.uint8))  # bits, NaN and -0.0 too
    if zp is None or np.abs(zp).max() < 2**31:
        m = QuantMeta(bits=8, scale=scale, zero_point=zp, axis=axis, block=block)
        assert np.array_equal(m.dequantize(q, dtype).view(np.uint8), want.view(np.uint8))


def test_quantized_tensor_uses_it_with_the_same_values():
    rng = np.random.default_rng(1)
    q = rng.integers(-7, 8, size=(800, 3, 3)).astype(np.int8)
    for gran, axis, grp, n in (("tensor", None, None, 1), ("channel", 0, None, 800),
                               ("group", None, 500, 15)):
        s = rng.random(n) + 0.1
        zp = rng.integers(-3, 4, n)
        qt = QuantizedTensor(q, s, zp, 4, gran, axis, grp, "stored")
        want = numpy_form(q, s, zp, axis, grp, np.float32)
        assert np.array_equal(qt.dequantize(), want)


def test_declines_what_it_does_not_index():
    q = np.ones((4, 1024), np.int8)
    assert dequantize_fast(q, np.ones(1), None, 0, None, np.float32) is None  # broadcast scale
    assert dequantize_fast(q, np.ones(4), None, 0, None, np.float16) is None  # float16 out
    assert dequantize_fast(q.astype(np.float32), np.ones(4), None, 0, None, np.float32) is None
    assert dequantize_fast(q, np.ones(1024), None, -1, None, np.float32) is not None
    assert dequantize_fast(q, np.ones(2), None, None, None, np.float32) is None
    assert dequantize_fast(q[:, :1000], np.ones(4), None, 0, None, np.float32) is None  # small
    assert dequantize_fast(np.zeros((0, 3), np.int8), np.ones(1), None, None, None,
                           np.float32) is None  # empty: numpy's form
    m = QuantMeta(bits=8, scale=np.ones(1), axis=None)
    assert m.dequantize(np.zeros((0, 3), np.int8)).shape == (0, 3)


def test_kernel_checks_its_indices():
    out = np.empty(6, np.float32)
    q = np.arange(6, dtype=np.int8)
    assert dequantize_linear(q, np.ones(2), np.zeros(0), 3, 2, 0, out) == 0
    assert dequantize_linear(q, np.ones(1), np.zeros(0), 3, 2, 0, out) == -1   # 2 channels
    assert dequantize_linear(q, np.ones(2), np.zeros(0), 4, 2, 0, out) == -1   # 6 % 8
    assert dequantize_linear(q, np.ones(2), np.zeros(0), 1, 0, 4, out) == 0
    assert dequantize_linear(q, np.ones(1), np.zeros(0), 1, 0, 4, out) == -1   # 2 blocks
    assert dequantize_linear(q, np.ones(2), np.zeros(1), 1, 0, 4, out) == -1   # zp count
    assert dequantize_linear(q, np.ones(1), np.zeros(0), 1, 0, 0, out[:5]) == -1
