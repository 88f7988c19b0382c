"""Front-end: float weights in, the integers and scales the codec stores out, and back.

* :func:`quantize` / :class:`QuantizedTensor` / :func:`quantize_activation` (seed 000)
* :func:`prune` (seed 003)
* :func:`compress_model` / :func:`decompress_model` (whole models through ``codec.pack``)
* :func:`progressive_quantize` (seed 001), :func:`prune_finetune_quantize` (seed 003)
* ``codec.frontend.torch_adapter``: PyTorch helpers, imported only on request (needs torch).

Nothing here imports torch.
"""
from __future__ import annotations

from .model import compress_model, decompress_model, pack_model, quantize_model
from .progressive import FineTuneStep, FlowResult, progressive_quantize, prune_finetune_quantize
from .prune import prune, prune_mask
from .quantize import QuantizedTensor, fixed_point_frac_bits, quantize, quantize_activation

__all__ = [
    "QuantizedTensor",
    "quantize",
    "quantize_activation",
    "fixed_point_frac_bits",
    "prune",
    "prune_mask",
    "compress_model",
    "decompress_model",
    "quantize_model",
    "pack_model",
    "FineTuneStep",
    "FlowResult",
    "progressive_quantize",
    "prune_finetune_quantize",
]


def __getattr__(name: str):
    if name == "torch_adapter":
        import importlib

        return importlib.import_module(".torch_adapter", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
