"""Progressive quantization (seed 001) and prune -> fine-tune -> QAT (seed 003), numpy only."""
from __future__ import annotations

import numpy as np
import pytest

from codec.frontend import (FineTuneStep, progressive_quantize, prune_finetune_quantize,
                            quantize)


def _problem(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(256, 12))
    w1 = rng.normal(size=(12, 16)) * 0.5
    w2 = rng.normal(size=(16, 4)) * 0.5
    y = np.tanh(x @ w1) @ w2
    init = {"w1": (w1 + rng.normal(size=w1.shape) * 0.05).astype(np.float32),
            "b1": np.zeros(16, np.float32),
            "w2": (w2 + rng.normal(size=w2.shape) * 0.05).astype(np.float32)}
    return x, y, init


def _loss(x, y, w):
    return float(np.mean((np.tanh(x @ w["w1"] + w["b1"]) @ w["w2"] - y) ** 2))


def _trainer(x, y, steps=60, lr=0.05, log=None):
    """Plain gradient descent on everything not frozen (masked gradient), STE for fake_quant."""
    def fine_tune(step: FineTuneStep):
        w = {k: v.astype(np.float64) for k, v in step.weights.items()}
        if log is not None:
            log.append({k: (v.copy(), step.frozen[k].copy()) for k, v in step.weights.items()})
        for _ in range(steps):
            fw = {k: (step.fake_quant[k](v) if k in step.fake_quant else v) for k, v in w.items()}
            h = np.tanh(x @ fw["w1"] + fw["b1"])
            err = (h @ fw["w2"] - y) * (2 / y.size)
            g2 = h.T @ err
            dh = err @ fw["w2"].T * (1 - h ** 2)
            grads = {"w1": x.T @ dh, "b1": dh.sum(0), "w2": g2}
            for k in w:
                w[k] -= lr * grads[k] * ~step.frozen[k]
        return w
    return fine_tune


def test_frozen_values_never_change():
    x, y, init = _problem()
    log = []
    res = progressive_quantize(init, [["w1"], ["w2"]], fine_tune=_trainer(x, y, log=log),
                               fraction=0.5, bits=3)
    assert len(log) == 2 and len(res.history) == 2
    # every value frozen when a callback was entered equals its final value
    for snap in log:
        for k, (vals, frozen) in snap.items():
            assert np.array_equal(res.weights[k][frozen], vals[frozen]), k
    # half of each staged tensor was frozen at its stage; b1 (unstaged) is never quantized
    assert log[0]["w1"][1].sum() == init["w1"].size // 2 and not log[0]["w2"][1].any()
    assert set(res.quantized) == {"w1", "w2"}
    assert res.weights["b1"].dtype == np.float32
    for k, qt in res.quantized.items():
        assert np.array_equal(qt.dequantize(), res.weights[k])
        assert np.abs(qt.values).max() <= 3


def test_a_misbehaving_callback_is_overruled_and_reported():
    x, y, init = _problem()

    def vandal(step):
        return {k: v + 1.0 for k, v in step.weights.items()}

    frozen_at = {}

    def spy_then_vandal(step):
        for k, m in step.frozen.items():
            frozen_at.setdefault(k, (step.weights[k].copy(), m.copy()))
        return vandal(step)

    res = progressive_quantize(init, [["w1", "w2"]], fine_tune=spy_then_vandal, fraction=0.7, bits=4)
    vals, m = frozen_at["w1"]
    assert np.array_equal(res.weights["w1"][m], vals[m])
    assert res.history[0]["restored"] == int(m.sum()) + int(frozen_at["w2"][1].sum())


def test_progressive_beats_direct_quantization():
    x, y, init = _problem(1)
    trained = _trainer(x, y, steps=300)(FineTuneStep("finetune", 0, (), dict(init),
                                                      {k: np.zeros(v.shape, bool) for k, v in init.items()}))
    trained = {k: np.asarray(v, np.float32) for k, v in trained.items()}
    direct = {k: (quantize(v, bits=2, granularity="channel").dequantize() if k != "b1" else v)
              for k, v in trained.items()}
    res = progressive_quantize(trained, [["w1"], ["w2"]], fine_tune=_trainer(x, y, steps=200),
                               fraction=0.6, bits=2)
    assert _loss(x, y, res.weights) < _loss(x, y, direct)


def test_initial_frozen_masks_and_fraction_one():
    x, y, init = _problem()
    keep = np.abs(init["w1"]) > 0.3
    w = dict(init)
    w["w1"] = np.where(keep, init["w1"], 0).astype(np.float32)
    res = progressive_quantize(w, [["w1"]], fine_tune=_trainer(x, y), frozen={"w1": ~keep},
                               fraction=1.0, bits=4)
    assert np.all(res.weights["w1"][~keep] == 0)


def test_prune_finetune_qat_flow():
    x, y, init = _problem(2)
    log = []
    res = prune_finetune_quantize(init, sparsity={"w1": 0.5, "w2": 0.25}, bits=4,
                                  names=["w1", "w2"], fine_tune=_trainer(x, y, log=log),
                                  qat_fine_tune=_trainer(x, y, log=log))
    assert [h["phase"] for h in res.history] == ["finetune", "qat"]
    assert int((res.quantized["w1"].values == 0).sum()) >= init["w1"].size // 2
    for k in ("w1", "w2"):
        assert np.all(res.weights[k][~res.masks[k]] == 0)
        assert np.array_equal(res.quantized[k].dequantize(), res.weights[k])
    assert res.history[0]["restored"] == 0
    direct = {k: (quantize(np.where(res.masks[k], init[k], 0), bits=4, granularity="channel").dequantize()
                  if k in res.masks else init[k]) for k in init}
    assert _loss(x, y, res.weights) < _loss(x, y, direct)
    assert set(res.tensors()) == set(init)


@pytest.mark.parametrize("kwargs,exc", [
    ({"fraction": 0.0}, ValueError), ({"fraction": 1.5}, ValueError),
    ({"stages": [["nope"]]}, ValueError), ({"stages": [["w1"], ["w1"]]}, ValueError),
    ({"stages": ["w1"]}, TypeError), ({"fine_tune": 3}, TypeError),
])
def test_bad_arguments(kwargs, exc):
    _, _, init = _problem()
    args = {"stages": [["w1"]], "fine_tune": None, "fraction": 0.5}
    args.update(kwargs)
    stages = args.pop("stages")
    with pytest.raises(exc):
        progressive_quantize(init, stages, bits=4, **args)


def test_callback_must_return_all_weights_with_same_shapes():
    _, _, init = _problem()
    with pytest.raises(ValueError):
        progressive_quantize(init, [["w1"]], fine_tune=lambda s: {"w1": s.weights["w1"]}, bits=4)
    with pytest.raises(ValueError):
        progressive_quantize(init, [["w1"]], bits=4,
                             fine_tune=lambda s: {**s.weights, "w1": s.weights["w1"][:2]})
