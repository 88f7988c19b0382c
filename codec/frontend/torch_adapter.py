"""PyTorch adapter (optional extra: ``pip install codec[torch]``).

Imported only on request (``from codec.frontend import torch_adapter``); ``import codec`` never
imports torch.

* :func:`to_numpy` / :func:`load_numpy_`: a module's parameters as name -> float32 array and back;
* :func:`make_fine_tune`: a ``fine_tune`` callback for :func:`progressive_quantize` and
  :func:`prune_finetune_quantize` that trains a module on (x, y) tensors, never moves frozen
  values, and uses ``step.fake_quant`` with a straight-through estimator in the QAT phase;
* :class:`ActivationQuantizer`: seed 000's fixed-point feature quantizer (8..32 bits) as a
  module, with a straight-through gradient.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

try:
    import torch
    from torch import nn
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("codec.frontend.torch_adapter needs PyTorch: pip install 'codec[torch]'") from exc

from .quantize import _check_bits, fixed_point_frac_bits

__all__ = ["to_numpy", "load_numpy_", "make_fine_tune", "evaluate", "ActivationQuantizer",
           "ste_fake_quant"]


def to_numpy(module: nn.Module, /, *, names=None) -> dict[str, np.ndarray]:
    """Copies of the module's parameters (or the ``names`` among them) as float32 arrays."""
    params = dict(module.named_parameters())
    keys = list(params) if names is None else list(names)
    missing = [k for k in keys if k not in params]
    if missing:
        raise ValueError(f"module has no parameters {missing}")
    return {k: params[k].detach().cpu().numpy().astype(np.float32, copy=True) for k in keys}


def load_numpy_(module: nn.Module, tensors: Mapping[str, np.ndarray], /) -> nn.Module:
    """Copy arrays into the module's parameters of the same names (in place); returns module."""
    params = dict(module.named_parameters())
    with torch.no_grad():
        for k, v in tensors.items():
            if k not in params:
                raise ValueError(f"module has no parameter {k!r}")
            p = params[k]
            arr = np.asarray(v)
            if tuple(arr.shape) != tuple(p.shape):
                raise ValueError(f"{k}: shape {arr.shape} != parameter shape {tuple(p.shape)}")
            p.copy_(torch.as_tensor(arr.astype(np.float32), device=p.device).to(p.dtype))
    return module


def ste_fake_quant(w: torch.Tensor, fq: Callable[[np.ndarray], np.ndarray]) -> torch.Tensor:
    """``fq(w)`` in the forward pass, identity gradient (straight-through estimator)."""
    target = torch.as_tensor(np.asarray(fq(w.detach().cpu().numpy())), dtype=w.dtype, device=w.device)
    return w + (target - w).detach()


def make_fine_tune(model: nn.Module, x: torch.Tensor, y: torch.Tensor, /, *, epochs: int = 1,
                   lr: float = 1e-3, batch_size: int = 64, loss_fn=None, weight_decay: float = 0.0,
                   augment=None, seed: int = 0):
    """A fine-tune callback training ``model`` on ``(x, y)`` with Adam.

    Only the tensors named in ``step.weights`` that are parameters of ``model`` are loaded and
    returned.  Frozen positions get zero gradient and are reset after every optimizer step.
    In the ``"qat"`` phase the forward pass uses ``step.fake_quant`` (straight-through).
    ``augment(xb, generator) -> xb`` transforms each training batch (data augmentation).
    """
    if int(epochs) < 0 or int(batch_size) < 1 or not lr > 0:
        raise ValueError("epochs must be >= 0, batch_size >= 1 and lr > 0")
    loss_fn = loss_fn or nn.functional.cross_entropy
    call = torch.func.functional_call

    def fine_tune(step):
        load_numpy_(model, {k: v for k, v in step.weights.items()
                            if k in dict(model.named_parameters())})
        params = dict(model.named_parameters())
        frozen = {k: torch.as_tensor(np.asarray(m, dtype=bool)) for k, m in step.frozen.items()
                  if k in params and np.any(m)}
        keep = {k: params[k].detach().clone() for k in frozen}
        opt = torch.optim.Adam(params.values(), lr=lr, weight_decay=weight_decay)
        gen = torch.Generator().manual_seed(seed + 7919 * int(step.stage))
        model.train()
        n = x.shape[0]
        for _ in range(int(epochs)):
            order = torch.randperm(n, generator=gen)
            for i in range(0, n, int(batch_size)):
                idx = order[i: i + int(batch_size)]
                xb = x[idx] if augment is None else augment(x[idx], gen)
                if step.fake_quant:
                    use = {k: (ste_fake_quant(p, step.fake_quant[k]) if k in step.fake_quant else p)
                           for k, p in params.items()}
                    out = call(model, use, (xb,))
                else:
                    out = model(xb)
                loss = loss_fn(out, y[idx])
                opt.zero_grad(set_to_none=False)
                loss.backward()
                for k, m in frozen.items():
                    params[k].grad[m] = 0
                opt.step()
                with torch.no_grad():
                    for k, m in frozen.items():
                        params[k][m] = keep[k][m]
        model.eval()
        return {**step.weights, **to_numpy(model, names=[k for k in step.weights if k in params])}

    return fine_tune


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, /, *, batch_size: int = 512) -> float:
    """Top-1 accuracy (fraction) of ``model`` on ``(x, y)``."""
    model.eval()
    correct = 0
    for i in range(0, x.shape[0], batch_size):
        correct += int((model(x[i: i + batch_size]).argmax(1) == y[i: i + batch_size]).sum())
    return correct / max(1, x.shape[0])


class ActivationQuantizer(nn.Module):
    """Fixed-point fake quantization of features (seed 000), straight-through gradient.

    ``frac_bits`` fixed, or None: calibrated as the most fractional bits that fit the largest
    |x| seen while ``enabled`` and training (or on the first call).  ``enabled=False`` is the
    identity (the float model).
    """

    def __init__(self, bits: int = 8, frac_bits: int | None = None, *, enabled: bool = True):
        super().__init__()
        self.bits = _check_bits(bits, 8, 32, "activation bits")
        self.enabled = bool(enabled)
        self.fixed = frac_bits is not None
        self.register_buffer("max_abs", torch.zeros(()))
        self.frac_bits = 0 if frac_bits is None else int(frac_bits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.enabled:
            return x
        if not self.fixed and (self.training or float(self.max_abs) == 0.0):
            self.max_abs = torch.maximum(self.max_abs, x.detach().abs().max())
            self.frac_bits = fixed_point_frac_bits(float(self.max_abs), self.bits)
        step = 2.0 ** -self.frac_bits
        lo, hi = -(2 ** (self.bits - 1)), 2 ** (self.bits - 1) - 1
        q = torch.clamp(torch.round(x / step), lo, hi) * step
        return x + (q - x).detach()

    def extra_repr(self) -> str:
        return f"bits={self.bits}, frac_bits={self.frac_bits}, enabled={self.enabled}"
