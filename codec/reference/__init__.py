"""Slow, obviously-correct pure-Python reference implementation of formats v1 to v7 (no
Numba).

* :func:`read_package` / :func:`unpack` / :func:`unpack_with_meta` / :func:`decode`: an
  independent reader written from docs/FORMAT.md (it imports only :mod:`codec.errors` from
  the core); malformed input raises :class:`codec.CodecError` subclasses.
* :func:`pack`: writes a package from the encoder's *decisions* (tables, table per tensor or
  group, grouping, value offset, metadata); the same decisions give the same bytes as
  ``codec.pack`` (format v4 unless a version is given or some choice has a v5 prediction
  mode: then v5, or v6 when some choice also has a prediction shift > 0, §34; v7 when some
  choice has row floors or is an alias, §36).
* :func:`reencode`: decode a package and write it again from the choices in its own header;
  for every package made by ``codec.pack`` the result is byte-identical.
* :func:`choose_mirror`: §25's automatic choice of the v3 mirror transform for one tensor
  (``((P, a), row modes)`` or None); :func:`row_modes`, :func:`mirror_forward` and
  :func:`value_offset_of` are its parts.
* :func:`pred_residuals` / :func:`pred_rebuild`: the prediction transform of v5 (§32) and
  v6 (§34: over dims ``ndim - 2 - shift`` and the next), value by value (writer and reader
  side); :func:`pred_eligible` which tensors may carry it, :func:`pred_shift_ok` which
  shifts a tensor may have, :func:`pred_axes` its ``(A, H, W, C)``.
* :mod:`.floor_v7`: v7's row floors and tensor aliases (§36): :func:`floor_forward` the stored
  values of a floored tensor, :func:`row_floors` the writer's floors, :func:`floor_rows` ``R``.
"""
from .decoder import (RefEntry, RefLimits, RefMeta, RefPackage, RefTable, decode, read_header,
                      read_package, unpack, unpack_with_meta)
from .encoder import TensorChoice, choices_of, pack, reencode
from .encoder_v2 import choose_mirror, mirror_forward, row_modes, value_offset_of
from .floor_v7 import forward as floor_forward
from .floor_v7 import row_floors
from .floor_v7 import rows_of as floor_rows
from .predict_v5 import eligible as pred_eligible
from .predict_v5 import rebuild as pred_rebuild
from .predict_v5 import residuals as pred_residuals
from .predict_v5 import axes as pred_axes
from .predict_v5 import shift_ok as pred_shift_ok

__all__ = ["read_package", "read_header", "unpack", "unpack_with_meta", "decode", "pack",
           "reencode", "choices_of", "TensorChoice", "RefTable", "RefMeta", "RefEntry",
           "RefPackage", "RefLimits", "choose_mirror", "mirror_forward", "row_modes",
           "value_offset_of", "pred_eligible", "pred_rebuild", "pred_residuals",
           "pred_shift_ok", "pred_axes", "floor_forward", "row_floors", "floor_rows"]
