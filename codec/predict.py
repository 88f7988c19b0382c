"""Format v5's prediction transform (docs/FORMAT.md §32): a tensor stored as residuals of a
prediction from its neighbouring taps in the last two dimensions (a kernel's ``kh x kw``),
or in format v6 (§34) in any two adjacent dimensions (TFLite's ``(out, kh, kw, in)``).

Writer side: :func:`eligible`, :func:`choose` (the cost estimate of every mode, §32's rule),
:func:`residuals`.  Reader side: :func:`rebuild` (in place).  Kernels: kernels/predict.py.
"""
from __future__ import annotations

import numpy as np

from .errors import CorruptError
from .kernels.predict import mode_costs, rebuild_strided as _rebuild, residuals as _residuals

PRED_MIN_GAIN_BITS = 64     # §32: a mode must save more than this many bits ...
PRED_MIN_GAIN_FRAC = 256    # ... and more than 1/256 of the untransformed estimate
MAX_SAMPLED_VALUES = 1 << 15  # choose() looks at every k-th image (or an image's first
#                               rows) beyond this many values ...
FAST_SAMPLED_VALUES = 1 << 12  # ... or this many at the encoder's effort 0
SIGNED = (np.dtype("int8"), np.dtype("int16"), np.dtype("int32"))


def eligible(shape: tuple, numel: int) -> bool:
    """§32: may this tensor carry ``has_pred`` (before the mirror condition)?"""
    return numel > 0 and len(shape) >= 2 and shape[-1] * shape[-2] >= 2


def axes(shape: tuple, shift: int = 0) -> tuple[int, int, int, int]:
    """§34: (A, H, W, C) of a tensor of ``shape`` predicted with ``pred_shift = shift``: its
    images are dims ``h = ndim - 2 - shift`` and ``h + 1``, ``C`` the product of the dims after
    them and ``A`` of those before."""
    h = len(shape) - 2 - shift
    A = C = 1
    for d in shape[:h]:
        A *= int(d)
    for d in shape[h + 2:]:
        C *= int(d)
    return A, int(shape[h]), int(shape[h + 1]), C


def shift_ok(shape: tuple, shift: int) -> bool:
    """§34: may a predicted tensor of ``shape`` have ``pred_shift = shift`` (at most
    ``ndim - 2``, and ``shape[h] * shape[h + 1] >= 2``)?"""
    h = len(shape) - 2 - shift
    return 0 <= shift and h >= 0 and int(shape[h]) * int(shape[h + 1]) >= 2


def shifts(shape: tuple) -> list[int]:
    """The ``pred_shift`` values §34 allows for ``shape`` (0 first)."""
    return [s for s in range(len(shape) - 1) if shift_ok(shape, s)]


def _images(arr: np.ndarray, shift: int) -> np.ndarray:
    """``arr``'s §34 images as consecutive ``H x W`` blocks (a copy unless ``shift`` = 0)."""
    A, H, W, C = axes(arr.shape, shift)
    if C == 1:
        return np.ascontiguousarray(arr).reshape(-1)
    return np.ascontiguousarray(np.asarray(arr).reshape(A, H, W, C).transpose(0, 3, 1, 2)
                                ).reshape(-1)


def _estimate(arr: np.ndarray, shift: int, samples: int) -> tuple[float, float, float, int]:
    """(estimated bits of the sample without the transform, bits the best mode saves on it,
    the sample's weight in the tensor, that mode) of ``arr`` with ``shift``, from about
    ``samples`` of its values: every k-th ``a`` and every k-th ``c`` (or a single big image's
    first rows)."""
    A, H, W, C = axes(arr.shape, shift)
    if C == 1:
        flat = np.ascontiguousarray(arr).reshape(-1)
    else:
        y = np.asarray(arr).reshape(A, H, W, C)
        n = A * H * W * C
        if n > samples:  # thin out c first, then a, to about `samples` values
            kc = max(1, min(C, -(-n // samples)))
            ka = max(1, -(-(A * H * W * (-(-C // kc))) // samples))
            y = y[::ka, :, :, ::kc]
        flat = np.ascontiguousarray(y.transpose(0, 3, 1, 2)).reshape(-1)
    scale = arr.size / max(flat.size, 1)
    if H * W > samples:  # one big image (a dense layer): its first rows
        H2 = max(2, samples // W) if W > 1 else min(H, samples)
        scale *= flat.size / (H2 * W)
        H = H2
        flat = flat[:H * W]
    stride = max(1, -(-flat.size // samples))
    cost = mode_costs(flat, np.int64(H), np.int64(W), np.int64(8 * arr.dtype.itemsize), True,
                      np.int64(stride))
    raw = cost[-1]
    m = int(np.argmin(cost[:-1]))
    return raw, raw - cost[m], stride * scale, m


def choose(arr: np.ndarray, samples: int = MAX_SAMPLED_VALUES, *,
           any_axes: bool = True) -> tuple[int, int]:
    """§32 / §34's writer rule: (mode 0 ... 7, shift) for ``arr``, or (-1, 0) (store it as
    is), estimated on about ``samples`` of its values for each allowed shift (only shift 0
    unless ``any_axes``: format v5); the largest estimated saving wins."""
    arr = np.asarray(arr)
    if arr.dtype not in SIGNED or not eligible(arr.shape, arr.size):
        return -1, 0
    best = (-1, 0)
    best_gain = 0.0
    for sh in (shifts(arr.shape) if any_axes else [0]):
        raw, saved, weight, m = _estimate(arr, sh, samples)
        gain = saved * weight
        if gain > PRED_MIN_GAIN_BITS and saved * PRED_MIN_GAIN_FRAC > raw and gain > best_gain:
            best, best_gain = (m, sh), gain
    return best


def residuals(arr: np.ndarray, mode: int, shift: int = 0) -> np.ndarray:
    """``arr`` (any shape) stored with ``mode`` over the images of ``shift`` (§34): its
    residuals, same dtype and shape."""
    arr = np.ascontiguousarray(arr)
    if shift not in shifts(arr.shape):
        raise ValueError(f"prediction shift {shift} does not apply to shape {arr.shape}")
    A, H, W, C = axes(arr.shape, shift)
    x = _images(arr, shift)
    out = np.empty_like(x)
    st = _residuals(x, out, np.int64(H), np.int64(W), np.int64(mode),
                    np.int64(8 * arr.dtype.itemsize), arr.dtype.kind == "i")
    if st != 0:
        raise ValueError(f"prediction mode {mode} does not apply to shape {arr.shape}")
    if C == 1:
        return out.reshape(arr.shape)
    return np.ascontiguousarray(out.reshape(A, C, H, W).transpose(0, 2, 3, 1)).reshape(arr.shape)


def rebuild(flat: np.ndarray, start: int, shape: tuple, mode: int, shift: int = 0) -> None:
    """Values from residuals in place: ``flat[start:start + numel]`` is one tensor of
    ``shape`` (§32, §34)."""
    numel = 1
    for d in shape:
        numel *= int(d)
    if shift not in shifts(tuple(shape)):
        raise CorruptError(f"prediction shift {shift} does not fit shape {tuple(shape)}",
                           value=shift)
    _, H, W, C = axes(tuple(shape), shift)
    st = _rebuild(flat, np.int64(start), np.int64(numel), np.int64(H), np.int64(W),
                  np.int64(C), np.int64(mode), flat.dtype.kind == "i")
    if st != 0:
        raise CorruptError(f"prediction mode {mode} does not fit shape {tuple(shape)}",
                           value=mode)
