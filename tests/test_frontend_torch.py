"""PyTorch adapter and the LeNet demo (quick version).  ``import codec`` must not import torch."""
from __future__ import annotations

import importlib.util
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from codec.frontend import FineTuneStep, quantize_activation

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_import_codec_does_not_import_torch():
    code = ("import sys, codec, codec.frontend; import codec.frontend.model, codec.frontend.progressive; "
            "assert 'torch' not in sys.modules, 'torch imported'; "
            "assert hasattr(codec.frontend, 'quantize')")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def _tiny():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    x = torch.randn(64, 6)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
    return torch, model, x, y


def test_numpy_round_trip():
    torch, model, _, _ = _tiny()
    from codec.frontend.torch_adapter import load_numpy_, to_numpy
    w = to_numpy(model)
    assert list(w) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert all(v.dtype == np.float32 for v in w.values())
    w2 = {k: v * 2 for k, v in w.items()}
    load_numpy_(model, w2)
    assert np.array_equal(to_numpy(model)["0.weight"], w2["0.weight"])
    with pytest.raises(ValueError):
        load_numpy_(model, {"nope": np.zeros(1)})
    with pytest.raises(ValueError):
        load_numpy_(model, {"0.bias": np.zeros(3)})


def test_fine_tune_callback_respects_frozen_and_learns():
    torch, model, x, y = _tiny()
    from codec.frontend.torch_adapter import evaluate, make_fine_tune, to_numpy
    w = to_numpy(model)
    rng = np.random.default_rng(0)
    frozen = {k: rng.random(v.shape) < 0.5 for k, v in w.items()}
    before = evaluate(model, x, y)
    ft = make_fine_tune(model, x, y, epochs=10, lr=1e-2, weight_decay=1e-3)
    out = ft(FineTuneStep("finetune", 0, tuple(w), w, frozen))
    for k in w:
        assert np.array_equal(out[k][frozen[k]], w[k][frozen[k]]), k
        assert not np.array_equal(out[k], w[k])
    assert evaluate(model, x, y) > before


def test_qat_phase_uses_fake_quant_with_straight_through_gradient():
    torch, model, x, y = _tiny()
    from codec.frontend import quantize
    from codec.frontend.torch_adapter import make_fine_tune, ste_fake_quant, to_numpy
    w = torch.tensor([0.1, -0.4, 0.9], requires_grad=True)
    out = ste_fake_quant(w, lambda a: quantize(a, bits=2).dequantize())
    out.sum().backward()
    assert out.detach().numpy().tolist() == [0.0, 0.0, 0.8999999761581421]
    assert w.grad.tolist() == [1.0, 1.0, 1.0]
    calls = []

    def fq(a):
        calls.append(1)
        return quantize(a, bits=4).dequantize()

    w0 = to_numpy(model)
    make_fine_tune(model, x, y, epochs=1, batch_size=32)(
        FineTuneStep("qat", 0, tuple(w0), w0, {k: np.zeros(v.shape, bool) for k, v in w0.items()},
                     {"0.weight": fq}))
    assert len(calls) == 2  # one per batch


def test_activation_quantizer_matches_numpy():
    torch = pytest.importorskip("torch")
    from codec.frontend.torch_adapter import ActivationQuantizer
    aq = ActivationQuantizer(8)
    x = torch.linspace(-3, 5, 101)
    aq.train()
    yq = aq(x)
    assert aq.frac_bits == 4
    np.testing.assert_array_equal(yq.numpy(), quantize_activation(x.numpy(), bits=8, frac_bits=4))
    aq.eval()
    big = aq(x * 100)  # calibrated format kept in eval: clipped to the 8-bit range
    assert big.max().item() == 127 / 16 and big.min().item() == -8.0
    off = ActivationQuantizer(16, enabled=False)
    assert off(x) is x
    with pytest.raises(ValueError):
        ActivationQuantizer(4)


def _demo():
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    spec = importlib.util.spec_from_file_location("lenet_demo", ROOT / "benchmarks" / "lenet_demo.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_lenet_demo_quick():
    demo = _demo()
    res = demo.run(quick=True, bits_list=(4, 2), log=lambda *a: None)
    rows = {(r["method"], r["bits"], r["pruned"]): r for r in res["rows"]}
    assert len(rows) == 12
    assert res["float_accuracy"] > 90
    for r in rows.values():
        assert 0 < r["bytes"] < res["float32_bytes"] / 8
        assert r["factor"] == pytest.approx(res["float32_bytes"] / r["bytes"])
    # pruning shrinks packages; fewer bits shrink them
    assert rows[("PTQ", 4, True)]["bytes"] < rows[("PTQ", 4, False)]["bytes"] / 3
    assert rows[("PTQ", 2, False)]["bytes"] < rows[("PTQ", 4, False)]["bytes"]
    # fine-tuning recovers most of what pruning alone loses; 4-bit PTQ stays close to float
    assert rows[("prune+FT+QAT", 4, True)]["accuracy"] > rows[("PTQ", 4, True)]["accuracy"] + 3
    assert rows[("PTQ", 4, False)]["delta"] > -3
    md = demo.markdown(res)
    assert "| prune+FT+progressive | 2 | yes |" in md
