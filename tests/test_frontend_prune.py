"""Magnitude pruning (seed 003)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from codec.frontend import prune, prune_mask


def test_keeps_largest_and_exact_count():
    w = np.array([0.1, -5.0, 0.3, 2.0, -0.2, 0.0, 4.0, -1.0])
    out, keep = prune(w, 0.5, return_mask=True)
    assert keep.tolist() == [False, True, False, True, False, False, True, True]
    assert out.tolist() == [0, -5.0, 0, 2.0, 0, 0, 4.0, -1.0]
    assert out.dtype == w.dtype


@pytest.mark.parametrize("sparsity", [0.0, 0.1, 0.29, 0.5, 0.9, 0.999, 1.0])
def test_exact_sparsity_on_real_shapes(sparsity):
    rng = np.random.default_rng(3)
    w = rng.normal(size=(32, 16, 3, 3)).astype(np.float32)
    out = prune(w, sparsity)
    assert int((out == 0).sum()) == int(np.floor(sparsity * w.size + 0.5))
    kept = np.abs(w[out != 0])
    dropped = np.abs(w[out == 0])
    if kept.size and dropped.size:
        assert kept.min() >= dropped.max()
    assert np.array_equal(out[out != 0], w[out != 0])


def test_ties_broken_by_position():
    w = np.ones(10)
    keep = prune_mask(w, 0.3)
    assert keep.tolist() == [False] * 3 + [True] * 7
    assert np.array_equal(prune_mask(w, 0.3), keep)


def test_global_scope_ranks_across_tensors():
    ws = {"a": np.array([1.0, 2.0, 3.0, 4.0]), "b": np.array([[10.0, 0.5], [20.0, 30.0]])}
    out, keep = prune(ws, 0.5, scope="global", return_mask=True)
    assert list(out) == ["a", "b"]
    assert out["a"].tolist() == [0, 0, 0, 4.0]
    assert out["b"].tolist() == [[10.0, 0], [20.0, 30.0]]
    assert sum(int((~m).sum()) for m in keep.values()) == 4


def test_tensor_scope_on_mapping_prunes_each():
    ws = {"a": np.arange(1.0, 11.0), "b": np.arange(1.0, 5.0) * 100}
    out = prune(ws, 0.5)
    assert (out["a"] == 0).sum() == 5 and (out["b"] == 0).sum() == 2


def test_structured_channel_and_kernel():
    w = np.ones((4, 2, 3, 3))
    w[1] *= 0.1
    w[3] *= 0.2
    out = prune(w, 0.5, structured="channel")
    assert np.all(out[1] == 0) and np.all(out[3] == 0) and np.all(out[[0, 2]] == 1)
    w2 = np.ones((2, 3, 2, 2))
    w2[0, 1] = 0.01
    w2[1, 2] = -0.02
    out2 = prune(w2, 2 / 6, structured="kernel")
    assert np.all(out2[0, 1] == 0) and np.all(out2[1, 2] == 0)
    assert int((out2 == 0).sum()) == 8
    with pytest.raises(ValueError):
        prune(np.ones(5), 0.5, structured="channel")
    with pytest.raises(ValueError):
        prune(np.ones((3, 3)), 0.5, structured="kernel")


@pytest.mark.parametrize("args,kw,exc", [
    ((np.ones(3), 1.5), {}, ValueError), ((np.ones(3), -0.1), {}, ValueError),
    ((np.ones(3), "0.5"), {}, TypeError), ((np.ones(3), 0.5), {"scope": "layer"}, ValueError),
    ((np.ones(3), 0.5), {"scope": "global"}, ValueError),
    ((np.ones(3), 0.5), {"structured": "row"}, ValueError),
    ((np.array([1.0, np.nan]), 0.5), {}, ValueError),
    ((np.array(["x"]), 0.5), {}, TypeError),
])
def test_bad_arguments(args, kw, exc):
    with pytest.raises(exc):
        prune(*args, **kw)


@settings(max_examples=80, deadline=None)
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=7),
                  elements=st.floats(-100, 100)),
       st.floats(0, 1))
def test_property_exact_and_magnitude_order(w, s):
    out, keep = prune(w, s, return_mask=True)
    assert int((~keep).sum()) == int(np.floor(s * w.size + 0.5))
    if keep.any() and (~keep).any():
        assert np.abs(w[keep]).min() >= np.abs(w[~keep]).max()
    assert np.all(out[~keep] == 0) and np.array_equal(out[keep], w[keep])
