"""Already-quantized tensors stored TFLite-style: integers plus companion tensors.

For an integer tensor ``K`` the companions are ``K_scale`` (float, one per channel or one),
``K_zero_point`` (optional, one per scale), ``K_quantized_dimension`` (optional int scalar: the
channel axis; absent or ignored for a single scale), and two this package adds when it writes
integers out: ``K_group_size`` (per-block scales) and ``K_bits``.  Such tensors are stored as
they are, with the scales as :class:`codec.QuantMeta` (no requantization).
"""
from __future__ import annotations

import numpy as np

from ..meta import QuantMeta
from ._util import FormatError

SUFFIXES = ("_scale", "_zero_point", "_quantized_dimension", "_group_size", "_bits")


def _scalar_int(name, a) -> int:
    a = np.asarray(a)
    if a.size != 1 or a.dtype.kind not in "iu":
        raise FormatError(f"companion {name!r} must be one integer")
    return int(a.reshape(()))


def split_quantized(tensors: dict) -> tuple[dict, dict]:
    """``(plain, quantized)``: ``quantized`` maps K -> (integer values, QuantMeta)."""
    names = set(tensors)
    quantized = {}
    used = set()
    for k, v in tensors.items():
        sk = k + "_scale"
        if sk not in names or np.asarray(v).dtype.kind not in "iu":
            continue
        scale = np.asarray(tensors[sk])
        if scale.dtype.kind != "f":
            continue
        if scale.dtype not in (np.float32, np.float64):
            scale = scale.astype(np.float32)
        scale = scale.reshape(-1)
        comp = {sk}
        zp = None
        if k + "_zero_point" in names:
            zp = np.asarray(tensors[k + "_zero_point"]).reshape(-1)
            if zp.dtype.kind not in "iu":
                raise FormatError(f"companion {k + '_zero_point'!r} must be integers")
            comp.add(k + "_zero_point")
        axis = block = None
        bits = np.asarray(v).dtype.itemsize * 8
        if k + "_bits" in names:
            bits = _scalar_int(k + "_bits", tensors[k + "_bits"])
            comp.add(k + "_bits")
        if k + "_quantized_dimension" in names:
            comp.add(k + "_quantized_dimension")
            if scale.size > 1:
                axis = _scalar_int(k + "_quantized_dimension", tensors[k + "_quantized_dimension"])
        if k + "_group_size" in names:
            comp.add(k + "_group_size")
            block = _scalar_int(k + "_group_size", tensors[k + "_group_size"])
        if scale.size > 1 and axis is None and block is None:
            axis = 0  # TFLite's default quantized_dimension
        if zp is not None and zp.size != scale.size:
            if zp.size == 1:
                zp = np.full(scale.size, zp[0], np.int64)
            else:
                raise FormatError(f"tensor {k!r}: {zp.size} zero points for {scale.size} scales")
        try:
            meta = QuantMeta(bits=bits, scale=scale, zero_point=zp, axis=axis, block=block)
            meta.check_shape(np.asarray(v).shape)
        except (ValueError, TypeError) as exc:
            raise FormatError(f"tensor {k!r}: its companion tensors do not fit it ({exc})") from None
        quantized[k] = (np.asarray(v), meta)
        used |= comp | {k}
    plain = {k: v for k, v in tensors.items() if k not in used}
    return plain, quantized


def join_quantized(name: str, values: np.ndarray, meta: QuantMeta) -> dict:
    """The integers of one tensor and its companions, as :func:`split_quantized` reads them."""
    out = {name: values, name + "_scale": meta.scale}
    if meta.zero_point is not None:
        out[name + "_zero_point"] = meta.zero_point
    if meta.axis is not None:
        out[name + "_quantized_dimension"] = np.array(meta.axis, np.int32)
    if meta.block is not None:
        out[name + "_group_size"] = np.array(meta.block, np.int64)
    out[name + "_bits"] = np.array(meta.bits, np.int32)
    return out
