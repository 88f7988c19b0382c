"""Reference of format v5's prediction transform (docs/FORMAT.md §32), written from the spec in
plain Python, value by value (independent of ``codec.predict`` and its kernels).

A tensor with ``has_pred = 1`` stores residuals ``r``; its values ``x`` are rebuilt image by
image (an image = ``H * W`` consecutive values in C order, ``H = shape[-2]``,
``W = shape[-1]``) from the already rebuilt neighbours ``L = x[i][j-1]``, ``U = x[i-1][j]``,
``UL = x[i-1][j-1]``:

* ``kind = mode >> 2`` (0 average, 1 plane), ``c = (mode & 3) + 1``;
* kind 0: ``s`` = 0 at (0, 0), ``2L`` on row 0, ``2U`` on column 0, ``L + U`` inside;
  ``pred = (c * s + 4) >> 3``;
* kind 1: ``s`` = 0 at (0, 0), ``L`` on row 0, ``U`` on column 0, ``L + U - UL`` inside;
  ``pred = (c * s + 2) >> 2``;
* ``x = wrap(r + pred)`` (reader), ``r = wrap(x - pred)`` (writer), ``wrap`` the value of the
  dtype congruent modulo ``2^bits``.

Python's ``>>`` on ints is the flooring shift the spec asks for.
"""
from __future__ import annotations

from .decoder_v2 import wrap

N_MODES = 8


def eligible(shape, numel: int, has_mirror: bool = False) -> bool:
    """§32: may the tensor's entry carry ``has_pred`` (numel > 0, ndim >= 2, H * W >= 2, no
    mirror)?"""
    shape = tuple(int(d) for d in shape)
    return (numel > 0 and len(shape) >= 2 and shape[-2] * shape[-1] >= 2
            and not has_mirror)


def prediction(mode: int, i: int, j: int, x: list[int], base: int, W: int) -> int:
    """The prediction at image position (i, j) from the values ``x`` of the image starting at
    index ``base`` (row length ``W``)."""
    kind, c = mode >> 2, (mode & 3) + 1
    if i == 0 and j == 0:
        s = 0
    elif i == 0:
        L = x[base + j - 1]
        s = 2 * L if kind == 0 else L
    elif j == 0:
        U = x[base + (i - 1) * W]
        s = 2 * U if kind == 0 else U
    else:
        L = x[base + i * W + j - 1]
        U = x[base + (i - 1) * W + j]
        if kind == 0:
            s = L + U
        else:
            UL = x[base + (i - 1) * W + j - 1]
            s = L + U - UL
    if kind == 0:
        return (c * s + 4) >> 3
    return (c * s + 2) >> 2


def _check(mode: int, shape, n: int) -> tuple[int, int]:
    if not 0 <= int(mode) < N_MODES:
        raise ValueError(f"prediction mode {mode} outside 0..7")
    if not eligible(shape, n):
        raise ValueError(f"prediction does not apply to shape {tuple(shape)}")
    H, W = int(shape[-2]), int(shape[-1])
    if n % (H * W):
        raise ValueError(f"{n} values are not whole {H}x{W} images")
    return H, W


def rebuild(values: list[int], shape, mode: int, dtype: str) -> None:
    """The reader's side, in place: residuals -> values, image by image."""
    H, W = _check(mode, shape, len(values))
    for base in range(0, len(values), H * W):
        for i in range(H):
            for j in range(W):
                k = base + i * W + j
                values[k] = wrap(values[k] + prediction(mode, i, j, values, base, W), dtype)


def residuals(values: list[int], shape, mode: int, dtype: str) -> list[int]:
    """The writer's side: the residuals (a new list) of the original values."""
    H, W = _check(mode, shape, len(values))
    out = list(values)
    for base in range(0, len(values), H * W):
        for i in range(H):
            for j in range(W):
                k = base + i * W + j
                out[k] = wrap(values[k] - prediction(mode, i, j, values, base, W), dtype)
    return out
