"""Format v5's prediction transform (docs/FORMAT.md §32): a tensor stored as residuals of a
prediction from its neighbouring taps in the last two dimensions (a kernel's ``kh x kw``).

Writer side: :func:`eligible`, :func:`choose` (the cost estimate of every mode, §32's rule),
:func:`residuals`.  Reader side: :func:`rebuild` (in place).  Kernels: kernels/predict.py.
"""
from __future__ import annotations

import numpy as np

from .errors import CorruptError
from .kernels.predict import mode_costs, rebuild as _rebuild, residuals as _residuals

PRED_MIN_GAIN_BITS = 64     # §32: a mode must save more than this many bits ...
PRED_MIN_GAIN_FRAC = 256    # ... and more than 1/256 of the untransformed estimate
MAX_SAMPLED_VALUES = 1 << 15  # choose() looks at every k-th image (or an image's first
#                               rows) beyond this many values ...
FAST_SAMPLED_VALUES = 1 << 12  # ... or this many at the encoder's effort 0
SIGNED = (np.dtype("int8"), np.dtype("int16"), np.dtype("int32"))


def eligible(shape: tuple, numel: int) -> bool:
    """§32: may this tensor carry ``has_pred`` (before the mirror condition)?"""
    return numel > 0 and len(shape) >= 2 and shape[-1] * shape[-2] >= 2


def _hw(shape: tuple) -> tuple[int, int]:
    return int(shape[-2]), int(shape[-1])


def choose(arr: np.ndarray, samples: int = MAX_SAMPLED_VALUES) -> int:
    """§32's writer rule: the mode (0 ... 7) for ``arr``, or -1 (store it as is), estimated
    on about ``samples`` of its values."""
    arr = np.asarray(arr)
    if arr.dtype not in SIGNED or not eligible(arr.shape, arr.size):
        return -1
    H, W = _hw(arr.shape)
    flat = np.ascontiguousarray(arr).reshape(-1)
    scale = 1.0
    if H * W > samples:  # one big image (a dense layer): its first rows
        H = max(2, samples // W) if W > 1 else min(H, samples)
        scale = flat.size / (H * W)
        flat = flat[:H * W]
    stride = max(1, -(-flat.size // samples))
    cost = mode_costs(flat, np.int64(H), np.int64(W), np.int64(8 * arr.dtype.itemsize), True,
                      np.int64(stride))
    raw = cost[-1]
    m = int(np.argmin(cost[:-1]))
    gain = (raw - cost[m]) * stride * scale
    if gain > PRED_MIN_GAIN_BITS and (raw - cost[m]) * PRED_MIN_GAIN_FRAC > raw:
        return m
    return -1


def residuals(arr: np.ndarray, mode: int) -> np.ndarray:
    """``arr`` (any shape) stored with ``mode``: its residuals, same dtype and shape."""
    arr = np.ascontiguousarray(arr)
    H, W = _hw(arr.shape)
    out = np.empty_like(arr).reshape(-1)
    st = _residuals(arr.reshape(-1), out, np.int64(H), np.int64(W), np.int64(mode),
                    np.int64(8 * arr.dtype.itemsize), arr.dtype.kind == "i")
    if st != 0:
        raise ValueError(f"prediction mode {mode} does not apply to shape {arr.shape}")
    return out.reshape(arr.shape)


def rebuild(flat: np.ndarray, start: int, shape: tuple, mode: int) -> None:
    """Values from residuals in place: ``flat[start:start + numel]`` is one tensor of
    ``shape`` (§32)."""
    numel = 1
    for d in shape:
        numel *= int(d)
    H, W = _hw(shape)
    st = _rebuild(flat, np.int64(start), np.int64(numel), np.int64(H), np.int64(W),
                  np.int64(mode), flat.dtype.kind == "i")
    if st != 0:
        raise CorruptError(f"prediction mode {mode} does not fit shape {tuple(shape)}",
                           value=mode)
