"""Reference of the prediction transform of format v5 (docs/FORMAT.md §32) and of its v6
generalisation to any two adjacent dimensions (§34), written from the spec in plain Python,
value by value (independent of ``codec.predict`` and its kernels).

A tensor with ``has_pred = 1`` stores residuals ``r``; its values ``x`` are rebuilt image by
image from the already rebuilt neighbours ``L``, ``U`` and ``UL`` of the same image:

* ``kind = mode >> 2`` (0 average, 1 plane), ``c = (mode & 3) + 1``;
* kind 0: ``s`` = 0 at (0, 0), ``2L`` on row 0, ``2U`` on column 0, ``L + U`` inside;
  ``pred = (c * s + 4) >> 3``;
* kind 1: ``s`` = 0 at (0, 0), ``L`` on row 0, ``U`` on column 0, ``L + U - UL`` inside;
  ``pred = (c * s + 2) >> 2``;
* ``x = wrap(r + pred)`` (reader), ``r = wrap(x - pred)`` (writer), ``wrap`` the value of the
  dtype congruent modulo ``2^bits``.

Where the images lie (§34): ``pred_shift`` (0 in v5) puts them in dimensions
``h = ndim - 2 - pred_shift`` and ``h + 1``; with ``H = shape[h]``, ``W = shape[h + 1]``,
``C`` the product of the dimensions after ``h + 1`` (1 if none) and ``A = numel / (H W C)``,
the value at C-order index ``((a * H + i) * W + j) * C + c`` is position (i, j) of image
(a, c), so ``L`` is ``C`` values before it, ``U`` is ``W * C`` before and ``UL``
``W * C + C`` before.  With ``pred_shift = 0``, ``C = 1``: v5's consecutive ``H * W`` images.

Python's ``>>`` on ints is the flooring shift the spec asks for.
"""
from __future__ import annotations

from .decoder_v2 import wrap

N_MODES = 8


def eligible(shape, numel: int, has_mirror: bool = False) -> bool:
    """§32 (unchanged by §34): may the tensor's entry carry ``has_pred`` (numel > 0,
    ndim >= 2, H * W >= 2 over the last two dimensions, no mirror)?"""
    shape = tuple(int(d) for d in shape)
    return (numel > 0 and len(shape) >= 2 and shape[-2] * shape[-1] >= 2
            and not has_mirror)


def shift_ok(shape, shift: int) -> bool:
    """§34: may a predicted tensor of ``shape`` have ``pred_shift = shift`` (at most
    ``ndim - 2``, and ``shape[h] * shape[h + 1] >= 2``)?"""
    shape = tuple(int(d) for d in shape)
    h = len(shape) - 2 - int(shift)
    return int(shift) >= 0 and h >= 0 and shape[h] * shape[h + 1] >= 2


def axes(shape, shift: int = 0) -> tuple[int, int, int, int]:
    """§34: ``(A, H, W, C)`` of ``shape`` with ``pred_shift = shift`` (``shift_ok`` assumed):
    H and W the image dimensions ``h = ndim - 2 - shift`` and ``h + 1``, C the product of the
    dimensions after them, A of those before."""
    shape = tuple(int(d) for d in shape)
    h = len(shape) - 2 - int(shift)
    A = C = 1
    for d in shape[:h]:
        A *= d
    for d in shape[h + 2:]:
        C *= d
    return A, shape[h], shape[h + 1], C


def prediction_at(mode: int, i: int, j: int, x: list[int], k: int, row: int,
                  col: int = 1) -> int:
    """§32's prediction at image position (i, j), the value at index ``k`` of ``x`` (§34:
    ``L = x[k - col]``, ``U = x[k - row]``, ``UL = x[k - row - col]``; v5: ``col = 1``,
    ``row = W``)."""
    kind, c = mode >> 2, (mode & 3) + 1
    if i == 0 and j == 0:
        s = 0
    elif i == 0:
        L = x[k - col]
        s = 2 * L if kind == 0 else L
    elif j == 0:
        U = x[k - row]
        s = 2 * U if kind == 0 else U
    elif kind == 0:
        s = x[k - col] + x[k - row]
    else:
        s = x[k - col] + x[k - row] - x[k - row - col]
    if kind == 0:
        return (c * s + 4) >> 3
    return (c * s + 2) >> 2


def prediction(mode: int, i: int, j: int, x: list[int], base: int, W: int) -> int:
    """The prediction at image position (i, j) from the values ``x`` of the v5 image (§32)
    starting at index ``base`` (row length ``W``)."""
    return prediction_at(mode, i, j, x, base + i * W + j, W, 1)


def _check(mode: int, shape, n: int, shift: int = 0) -> tuple[int, int, int]:
    """``(H, W, C)`` of a transform the spec allows (§32 mode and eligibility, §34 shift)."""
    if not 0 <= int(mode) < N_MODES:
        raise ValueError(f"prediction mode {mode} outside 0..7")
    if not eligible(shape, n):
        raise ValueError(f"prediction does not apply to shape {tuple(shape)}")
    if not shift_ok(shape, shift):
        raise ValueError(f"prediction shift {shift} does not apply to shape {tuple(shape)} "
                         f"(§34)")
    _, H, W, C = axes(shape, shift)
    if n % (H * W * C):
        raise ValueError(f"{n} values are not whole {H}x{W}x{C} slices")
    return H, W, C


def positions(n: int, H: int, W: int, C: int):
    """(k, i, j) for every C-order index k < n of §34's layout, in order (``k`` =
    ``((a * H + i) * W + j) * C + c``)."""
    k = 0
    for _ in range(n // (H * W * C)):
        for i in range(H):
            for j in range(W):
                for _ in range(C):
                    yield k, i, j
                    k += 1


def rebuild(values: list[int], shape, mode: int, dtype: str, shift: int = 0) -> None:
    """The reader's side, in place: residuals -> values, in one forward pass over C order
    (§34: every value's neighbours come before it)."""
    H, W, C = _check(mode, shape, len(values), shift)
    for k, i, j in positions(len(values), H, W, C):
        values[k] = wrap(values[k] + prediction_at(mode, i, j, values, k, W * C, C), dtype)


def residuals(values: list[int], shape, mode: int, dtype: str, shift: int = 0) -> list[int]:
    """The writer's side: the residuals (a new list) of the original values."""
    H, W, C = _check(mode, shape, len(values), shift)
    out = list(values)
    for k, i, j in positions(len(values), H, W, C):
        out[k] = wrap(values[k] - prediction_at(mode, i, j, values, k, W * C, C), dtype)
    return out
