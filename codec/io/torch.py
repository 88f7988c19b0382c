"""PyTorch ``state_dict`` files (``.pt`` / ``.pth``), loaded with ``weights_only=True``."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ._util import FormatError, require


def _to_numpy(torch, t):
    t = t.detach().cpu()
    if t.is_quantized:  # int_repr + scales: the TFLite-style companions codec.io understands
        raise FormatError("quantized torch tensors are not supported; dequantize them or "
                          "save int_repr() with '<name>_scale' / '<name>_zero_point' tensors")
    if t.dtype == torch.bfloat16:
        t = t.float()  # exact
    return t.contiguous().numpy()


def read_torch(path) -> dict[str, np.ndarray]:
    torch = require("torch", "torch", "reading PyTorch .pt/.pth files")
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as exc:  # unpickling errors, zip errors, weights_only refusals
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise FormatError(f"{path}: not a readable PyTorch state_dict ({msg})") from None
    if isinstance(obj, Mapping) and not any(isinstance(v, torch.Tensor) for v in obj.values()):
        for key in ("state_dict", "model_state_dict", "model"):
            if isinstance(obj.get(key), Mapping):
                obj = obj[key]
                break
    if not isinstance(obj, Mapping):
        raise FormatError(f"{path}: expected a state_dict (a mapping of tensors), "
                          f"got {type(obj).__name__}")
    out: dict[str, np.ndarray] = {}

    def walk(prefix, m):
        for k, v in m.items():
            name = f"{prefix}{k}"
            if isinstance(v, torch.Tensor):
                try:
                    out[name] = _to_numpy(torch, v)
                except FormatError as exc:
                    raise FormatError(f"{path}: tensor {name!r}: {exc}") from None
            elif isinstance(v, Mapping):
                walk(name + ".", v)

    walk("", obj)
    if not out:
        raise FormatError(f"{path}: the file holds no tensors")
    return out
