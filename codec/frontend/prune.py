"""Magnitude pruning (seed 003): zero the smallest weights, exactly the requested share.

The number of zeros is ``round(sparsity * n)`` (halves up).  Ties are broken deterministically:
among equal magnitudes the element earlier in C order (earlier tensor, for global scope) goes
first.  Elements that are already zero count as the smallest.
"""
from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

__all__ = ["prune", "prune_mask", "SCOPES", "STRUCTURES"]

SCOPES = ("tensor", "global")
STRUCTURES = (None, "channel", "kernel")


def _count(sparsity: float, n: int) -> int:
    return min(n, int(math.floor(sparsity * n + 0.5)))


def _check_sparsity(sparsity) -> float:
    if isinstance(sparsity, bool) or not isinstance(sparsity, (int, float, np.integer, np.floating)):
        raise TypeError(f"sparsity must be a number, got {type(sparsity).__name__}")
    s = float(sparsity)
    if not 0.0 <= s <= 1.0:
        raise ValueError(f"sparsity must be in [0, 1], got {sparsity}")
    return s


def _as_array(w, name: str) -> np.ndarray:
    arr = np.asarray(w)
    if arr.dtype.kind not in "fiu":
        raise TypeError(f"{name}: pruning needs a numeric array, got dtype {arr.dtype}")
    if arr.dtype.kind == "f" and arr.size and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: contains NaN or infinity")
    return arr


def _units(arr: np.ndarray, structured, name: str) -> tuple[np.ndarray, int]:
    """Scores (RMS magnitude) of the pruning units of ``arr`` and the unit size."""
    if structured is None:
        return np.abs(arr.astype(np.float64)).reshape(-1), 1
    if structured == "channel":
        if arr.ndim < 2:
            raise ValueError(f"{name}: structured='channel' needs >= 2 dims, got shape {arr.shape}")
        size = int(np.prod(arr.shape[1:], dtype=np.int64))
    else:  # kernel
        if arr.ndim < 3:
            raise ValueError(f"{name}: structured='kernel' needs >= 3 dims, got shape {arr.shape}")
        size = int(np.prod(arr.shape[2:], dtype=np.int64))
    rows = arr.astype(np.float64).reshape(-1, max(size, 1))
    return np.sqrt((rows * rows).mean(axis=1)) if size else np.zeros(rows.shape[0]), size


def _keep_from_scores(scores: np.ndarray, k: int) -> np.ndarray:
    keep = np.ones(scores.size, dtype=bool)
    if k:
        order = np.argsort(scores, kind="stable")  # ties: lower index pruned first
        keep[order[:k]] = False
    return keep


def prune_mask(w, sparsity, /, *, scope: str = "tensor", structured=None):
    """The keep-masks (True = kept) that :func:`prune` would apply."""
    s = _check_sparsity(sparsity)
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {SCOPES}, got {scope!r}")
    if structured not in STRUCTURES:
        raise ValueError(f"structured must be one of {STRUCTURES}, got {structured!r}")
    if isinstance(w, Mapping):
        arrays = {str(k): _as_array(v, str(k)) for k, v in w.items()}
        if scope == "tensor":
            return {k: _mask_one(a, s, structured, k) for k, a in arrays.items()}
        scored = [(k, a, *_units(a, structured, k)) for k, a in arrays.items()]
        all_scores = np.concatenate([sc for _, _, sc, _ in scored]) if scored else np.zeros(0)
        keep = _keep_from_scores(all_scores, _count(s, all_scores.size))
        out, pos = {}, 0
        for k, a, sc, size in scored:
            unit_keep = keep[pos: pos + sc.size]
            pos += sc.size
            out[k] = np.repeat(unit_keep, size).reshape(a.shape) if size != 1 else unit_keep.reshape(a.shape)
        return out
    if scope == "global":
        raise ValueError("scope='global' needs a mapping of tensors (name -> array)")
    return _mask_one(_as_array(w, "w"), s, structured, "w")


def _mask_one(arr: np.ndarray, s: float, structured, name: str) -> np.ndarray:
    scores, size = _units(arr, structured, name)
    keep = _keep_from_scores(scores, _count(s, scores.size))
    if size != 1:
        keep = np.repeat(keep, size)
    return keep.reshape(arr.shape)


def prune(w, sparsity, /, *, scope: str = "tensor", structured=None, return_mask: bool = False):
    """Zero the smallest-magnitude ``sparsity`` share of ``w`` (an array or a name -> array map).

    ``scope="global"`` ranks all tensors of a mapping together.  ``structured="channel"`` prunes
    whole output channels (slices along axis 0), ``"kernel"`` whole spatial kernels
    (prod(shape[2:]) consecutive elements), ranked by RMS magnitude; the share then counts
    units, not elements.  Returns the pruned array(s) (same dtype), and the keep-mask(s) if
    ``return_mask``.
    """
    masks = prune_mask(w, sparsity, scope=scope, structured=structured)
    if isinstance(w, Mapping):
        pruned = {k: np.where(masks[k], np.asarray(v), np.zeros((), np.asarray(v).dtype))
                  for k, v in zip(masks, w.values())}
    else:
        arr = np.asarray(w)
        pruned = np.where(masks, arr, np.zeros((), arr.dtype))
    return (pruned, masks) if return_mask else pruned
