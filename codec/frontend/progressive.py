"""Framework-agnostic training flows around the quantizer and the pruner.

* :func:`progressive_quantize` (seed 001): the model is split into ordered sub-networks
  (``stages``: lists of tensor names).  For each stage in order, the largest-magnitude
  ``fraction`` of its free parameters is quantized and frozen, then the user's ``fine_tune``
  callback trains what is still free.  After the last stage every remaining value is quantized on
  the grid fixed when its tensor's stage came.
* :func:`prune_finetune_quantize` (seed 003): prune by magnitude, fine-tune with the pruned
  positions frozen at zero, optionally fine-tune quantization-aware, then quantize.

The callback receives a :class:`FineTuneStep` and returns new weights (or None after editing
``step.weights`` in place).  The driver re-imposes every frozen value afterwards, so frozen values
never change whatever the callback (or its optimizer's momentum / weight decay) does; how many it
had to restore is reported in the history.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from .model import _per_tensor
from .prune import prune_mask
from .quantize import QuantizedTensor, quantize

__all__ = ["FineTuneStep", "FlowResult", "progressive_quantize", "prune_finetune_quantize"]

FineTune = Callable[["FineTuneStep"], "Mapping[str, np.ndarray] | None"]


@dataclass
class FineTuneStep:
    """What a fine-tune callback gets.

    ``weights``: float copies of all tensors (edit in place or return a new mapping);
    ``frozen``: name -> bool mask, True where a value must not change (quantized or pruned);
    ``fake_quant``: name -> function ``w -> dequantized w`` for quantization-aware training
    (empty outside the ``"qat"`` phase; use it with a straight-through estimator);
    ``phase``: ``"progressive"``, ``"finetune"`` or ``"qat"``; ``stage``: index of the stage
    just quantized (progressive) or 0; ``names``: the tensors of that stage.
    """

    phase: str
    stage: int
    names: tuple[str, ...]
    weights: dict[str, np.ndarray]
    frozen: dict[str, np.ndarray]
    fake_quant: dict[str, Callable[[np.ndarray], np.ndarray]] = field(default_factory=dict)

    def restore_frozen(self, weights: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """``weights`` with every frozen value put back (a helper for callbacks' optimizers)."""
        out = dict(weights)
        for n, m in self.frozen.items():
            out[n] = np.where(m, self.weights[n], np.asarray(weights[n]))
        return out


@dataclass
class FlowResult:
    """``quantized``: name -> QuantizedTensor; ``weights``: the float weights they stand for
    (dequantized, float32) plus every tensor left out, unchanged; ``masks``: keep-masks of the
    pruned tensors; ``history``: one dict per fine-tune call; ``float_weights``: the weights
    just before the final quantization (e.g. to start another flow from)."""

    quantized: dict[str, QuantizedTensor]
    weights: dict[str, np.ndarray]
    masks: dict[str, np.ndarray] = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)
    float_weights: dict[str, np.ndarray] = field(default_factory=dict)

    def tensors(self) -> dict:
        """Quantized tensors and the float ones left out: what ``pack_model`` takes."""
        return {n: self.quantized.get(n, w) for n, w in self.weights.items()}


def _copy_weights(weights) -> dict[str, np.ndarray]:
    if not isinstance(weights, Mapping):
        raise TypeError("weights must be a mapping name -> float array")
    out = {}
    for n, w in weights.items():
        a = np.array(w, copy=True)
        if a.dtype.kind != "f":
            raise TypeError(f"{n}: weights must be float arrays, got dtype {a.dtype}")
        out[str(n)] = a
    return out


def _call(fine_tune, step: FineTuneStep, frozen_values: dict[str, np.ndarray],
          weights: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], dict]:
    returned = fine_tune(step)
    new = step.weights if returned is None else returned
    if not isinstance(new, Mapping):
        raise TypeError("fine_tune must return a mapping name -> array, or None")
    missing = set(weights) - set(new)
    if missing:
        raise ValueError(f"fine_tune returned no value for {sorted(missing)}")
    restored = 0
    out = {}
    for n, old in weights.items():
        a = np.asarray(new[n])
        if a.shape != old.shape:
            raise ValueError(f"fine_tune changed the shape of {n}: {old.shape} -> {a.shape}")
        a = a.astype(old.dtype, copy=True)
        m = step.frozen.get(n)
        if m is not None and m.any():
            changed = m & (a != frozen_values[n])
            restored += int(changed.sum())
            a[m] = frozen_values[n][m]
        out[n] = a
    info = {"phase": step.phase, "stage": step.stage, "names": list(step.names),
            "frozen": int(sum(int(m.sum()) for m in step.frozen.values())),
            "restored": restored}
    return out, info


def _check_fraction(fraction) -> float:
    f = float(fraction)
    if not 0.0 < f <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    return f


def _top_free(w: np.ndarray, free: np.ndarray, fraction: float) -> np.ndarray:
    """Mask of the largest-magnitude ``fraction`` of the free elements (ties: earlier first)."""
    idx = np.flatnonzero(free.reshape(-1))
    k = min(idx.size, int(np.floor(fraction * idx.size + 0.5)))
    out = np.zeros(w.size, dtype=bool)
    if k:
        mags = np.abs(w.reshape(-1)[idx].astype(np.float64))
        order = np.argsort(-mags, kind="stable")
        out[idx[order[:k]]] = True
    return out.reshape(w.shape)


def progressive_quantize(weights, stages: Sequence[Sequence[str]], /, *, fine_tune: FineTune | None,
                         fraction: float = 0.5, bits=8, granularity: str = "channel",
                         method: str = "maxabs", axis: int = 0, group_size=None,
                         frozen: Mapping[str, np.ndarray] | None = None) -> FlowResult:
    """Seed 001's progressive quantization; see the module docstring.

    ``frozen`` may give initial masks (e.g. pruned positions) that stay frozen throughout.
    Tensors named in no stage are returned unchanged and not quantized.
    """
    w = _copy_weights(weights)
    frac = _check_fraction(fraction)
    if isinstance(stages, (str, bytes)) or not isinstance(stages, Sequence):
        raise TypeError("stages must be a sequence of sequences of tensor names")
    stage_names: list[tuple[str, ...]] = []
    seen: set[str] = set()
    for s in stages:
        if isinstance(s, str):
            raise TypeError("each stage must be a sequence of names, not a string")
        names = tuple(s)
        for n in names:
            if n not in w:
                raise ValueError(f"stage names unknown tensor {n!r}")
            if n in seen:
                raise ValueError(f"tensor {n!r} appears in more than one stage")
            seen.add(n)
        stage_names.append(names)
    if fine_tune is not None and not callable(fine_tune):
        raise TypeError("fine_tune must be callable or None")
    all_names = [n for s in stage_names for n in s]
    bits_of = _per_tensor(bits, all_names, "bits")
    masks = {n: np.zeros(a.shape, dtype=bool) for n, a in w.items()}
    for n, m in (frozen or {}).items():
        if n not in w or np.shape(m) != w[n].shape:
            raise ValueError(f"frozen mask {n!r} does not match a tensor")
        masks[n] = np.array(m, dtype=bool)
    frozen_values = {n: a.copy() for n, a in w.items()}
    grids: dict[str, QuantizedTensor] = {}
    history: list[dict] = []
    for i, names in enumerate(stage_names):
        for n in names:
            g = granularity if not (granularity == "channel" and w[n].ndim <= 1) else "tensor"
            qt = quantize(w[n], bits=bits_of[n], granularity=g, axis=axis,
                          group_size=group_size if g == "group" else None, method=method)
            grids[n] = qt
            pick = _top_free(w[n], ~masks[n], frac)
            deq = qt.dequantize(w[n].dtype)
            w[n][pick] = deq[pick]
            masks[n] |= pick
            frozen_values[n] = w[n].copy()
        if fine_tune is not None:
            step = FineTuneStep("progressive", i, names, {k: a.copy() for k, a in w.items()},
                                {k: m.copy() for k, m in masks.items()})
            w, info = _call(fine_tune, step, frozen_values, w)
            frozen_values = {n: a.copy() for n, a in w.items()}
            history.append(info)
    quantized = {}
    out = dict(w)
    for n in all_names:
        qt = grids[n].requantize(w[n])
        quantized[n] = qt
        out[n] = qt.dequantize(np.float32)
    return FlowResult(quantized, out, {}, history, w)


def prune_finetune_quantize(weights, /, *, sparsity=0.0, bits=8, fine_tune: FineTune | None = None,
                            qat_fine_tune: FineTune | None = None, names: Sequence[str] | None = None,
                            scope: str = "tensor", structured=None, granularity: str = "channel",
                            method: str = "maxabs", axis: int = 0, group_size=None) -> FlowResult:
    """Seed 003's flow: prune ``names`` (default: all) -> ``fine_tune`` -> ``qat_fine_tune`` ->
    quantize.  Pruned positions stay frozen at zero through both callbacks.  ``sparsity`` and
    ``bits`` are one value or a mapping name -> value (``"*"`` default); ``bits=None`` stops
    before quantizing (``weights`` are then the pruned, fine-tuned floats)."""
    w = _copy_weights(weights)
    targets = list(w) if names is None else [str(n) for n in names]
    for n in targets:
        if n not in w:
            raise ValueError(f"names: unknown tensor {n!r}")
    if bits is None and qat_fine_tune is not None:
        raise ValueError("qat_fine_tune needs bits")
    bits_of = _per_tensor(bits, targets, "bits") if bits is not None else {}
    if scope == "global":
        if isinstance(sparsity, Mapping):
            raise ValueError("scope='global' takes one sparsity for the whole model")
        keep = prune_mask({n: w[n] for n in targets}, sparsity, scope="global",
                          structured=structured)
    else:
        sp = _per_tensor(sparsity, targets, "sparsity", default=0.0)
        keep = {n: prune_mask(w[n], sp[n], scope=scope, structured=structured) for n in targets}
    frozen = {n: np.zeros(a.shape, dtype=bool) for n, a in w.items()}
    for n in targets:
        w[n][~keep[n]] = 0
        frozen[n] = ~keep[n]
    history: list[dict] = []

    def grid_of(n):
        return "tensor" if granularity == "channel" and w[n].ndim <= 1 else granularity

    def fq_for(n):
        g = grid_of(n)

        def fq(x, _n=n, _g=g):
            x = np.where(keep[_n], x, 0)
            return quantize(x, bits=bits_of[_n], granularity=_g, axis=axis,
                            group_size=group_size if _g == "group" else None,
                            method=method).dequantize(np.asarray(x).dtype)
        return fq

    for phase, cb in (("finetune", fine_tune), ("qat", qat_fine_tune)):
        if cb is None:
            continue
        if not callable(cb):
            raise TypeError(f"{phase} callback must be callable or None")
        fqs = {n: fq_for(n) for n in targets} if phase == "qat" else {}
        step = FineTuneStep(phase, 0, tuple(targets), {k: a.copy() for k, a in w.items()},
                            {k: m.copy() for k, m in frozen.items()}, fqs)
        w, info = _call(cb, step, {k: a.copy() for k, a in w.items()}, w)
        history.append(info)
    quantized = {}
    out = dict(w)
    for n in targets if bits is not None else ():
        g = grid_of(n)
        qt = quantize(w[n], bits=bits_of[n], granularity=g, axis=axis,
                      group_size=group_size if g == "group" else None, method=method)
        quantized[n] = qt
        out[n] = qt.dequantize(np.float32)
    return FlowResult(quantized, out, keep, history, w)
