"""Slow, obviously-correct pure-Python reference implementation of formats v1, v2, v3, v4 and
v5 (no Numba).

* :func:`read_package` / :func:`unpack` / :func:`unpack_with_meta` / :func:`decode`: an
  independent reader written from docs/FORMAT.md (it imports only :mod:`codec.errors` from
  the core); malformed input raises :class:`codec.CodecError` subclasses.
* :func:`pack`: writes a package from the encoder's *decisions* (tables, table per tensor or
  group, grouping, value offset, metadata); the same decisions give the same bytes as
  ``codec.pack`` (format v4 unless a version is given or some choice has a v5 prediction
  mode: then v5).
* :func:`reencode`: decode a package and write it again from the choices in its own header;
  for every package made by ``codec.pack`` the result is byte-identical.
* :func:`choose_mirror`: §25's automatic choice of the v3 mirror transform for one tensor
  (``((P, a), row modes)`` or None); :func:`row_modes`, :func:`mirror_forward` and
  :func:`value_offset_of` are its parts.
* :func:`pred_residuals` / :func:`pred_rebuild`: v5's prediction transform (§32), value by
  value (writer and reader side); :func:`pred_eligible` which tensors may carry it.
"""
from .decoder import (RefEntry, RefLimits, RefMeta, RefPackage, RefTable, decode, read_header,
                      read_package, unpack, unpack_with_meta)
from .encoder import TensorChoice, choices_of, pack, reencode
from .encoder_v2 import choose_mirror, mirror_forward, row_modes, value_offset_of
from .predict_v5 import eligible as pred_eligible
from .predict_v5 import rebuild as pred_rebuild
from .predict_v5 import residuals as pred_residuals

__all__ = ["read_package", "read_header", "unpack", "unpack_with_meta", "decode", "pack",
           "reencode", "choices_of", "TensorChoice", "RefTable", "RefMeta", "RefEntry",
           "RefPackage", "RefLimits", "choose_mirror", "mirror_forward", "row_modes",
           "value_offset_of", "pred_eligible", "pred_rebuild", "pred_residuals"]
