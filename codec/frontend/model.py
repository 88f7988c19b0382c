"""Whole models: float tensors in, one codec package out, and back.

``compress_model`` = ``quantize_model`` (prune, then quantize every tensor not skipped) +
``pack_model`` (``codec.pack`` with one :class:`codec.QuantMeta` per tensor).  Tensors kept exact
(``skip=``) travel as the IEEE-754 bit pattern of their floats (uint32 for float32, uint16 for
float16) with ``QuantMeta(kind="float-bits")``, so the package alone says how to read every
tensor back.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import numpy as np

from .prune import prune
from .quantize import GRANULARITIES, QuantizedTensor, quantize

__all__ = ["compress_model", "decompress_model", "quantize_model", "pack_model", "SKIP_VECTORS"]

SKIP_VECTORS = "vectors"  # skip= shorthand: keep every tensor with ndim <= 1 exact
_DEFAULT_KEY = "*"


def _per_tensor(value, names: list[str], what: str, default=None) -> dict:
    if isinstance(value, Mapping):
        unknown = set(map(str, value)) - set(names) - {_DEFAULT_KEY}
        if unknown:
            raise ValueError(f"{what}: unknown tensor names {sorted(unknown)}")
        out = {}
        for n in names:
            if n in value:
                out[n] = value[n]
            elif _DEFAULT_KEY in value:
                out[n] = value[_DEFAULT_KEY]
            elif default is not None:
                out[n] = default
            else:
                raise ValueError(f"{what}: no value for tensor {n!r} (add it, or a '*' default)")
        return out
    return {n: value for n in names}


def _skip_set(skip, tensors: Mapping[str, np.ndarray]) -> set[str]:
    if skip is None:
        return set()
    if isinstance(skip, str):
        if skip != SKIP_VECTORS:
            raise ValueError(f"skip must be None, {SKIP_VECTORS!r}, a collection of names or a "
                             f"callable(name, array) -> bool; got the string {skip!r}")
        return {n for n, a in tensors.items() if a.ndim <= 1}
    if callable(skip):
        return {n for n, a in tensors.items() if skip(n, a)}
    if isinstance(skip, Iterable):
        names = set(map(str, skip))
        unknown = names - set(tensors)
        if unknown:
            raise ValueError(f"skip names unknown tensors {sorted(unknown)}")
        return names
    raise TypeError(f"skip must be None, {SKIP_VECTORS!r}, names or a callable, "
                    f"got {type(skip).__name__}")


def _float_tensors(float_tensors) -> dict[str, np.ndarray]:
    if not isinstance(float_tensors, Mapping):
        raise TypeError("float_tensors must be a mapping name -> float array")
    out = {}
    for k, v in float_tensors.items():
        if not isinstance(k, str):
            raise TypeError(f"tensor names must be str, got {k!r}")
        a = np.asarray(v)
        if a.dtype.kind != "f":
            raise TypeError(f"{k}: compress_model takes float tensors, got dtype {a.dtype} "
                            "(pack integers with codec.pack)")
        out[k] = a
    return out


def quantize_model(float_tensors, /, *, bits=8, sparsity=0.0, granularity: str = "channel",
                   method: str = "maxabs", skip=None, scope: str = "tensor", structured=None,
                   axis: int = 0, group_size=None, symmetric: bool = True, frac_bits=None
                   ) -> dict[str, QuantizedTensor | np.ndarray]:
    """Prune then quantize a model; exact (skipped) tensors come back as float arrays.

    ``bits`` and ``sparsity`` are one value or a mapping name -> value (``"*"`` = default;
    sparsity defaults to 0).  ``granularity="channel"`` falls back to one scale per tensor for
    tensors with ndim <= 1 (a scale per element would store them twice), and
    ``group_size="kernel"`` for tensors with ndim < 3 (they have no kernels).
    """
    tensors = _float_tensors(float_tensors)
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity must be one of {GRANULARITIES}, got {granularity!r}")
    exact = _skip_set(skip, tensors)
    names = [n for n in tensors if n not in exact]
    bits_of = _per_tensor(bits, names, "bits")
    sparsity_of = _per_tensor(sparsity, names, "sparsity", default=0.0)
    prunable = [n for n in names if structured is None
                or tensors[n].ndim >= (2 if structured == "channel" else 3)]
    work = {n: tensors[n] for n in names}
    if scope == "global":
        if isinstance(sparsity, Mapping):
            raise ValueError("scope='global' takes one sparsity for the whole model")
        if float(sparsity) > 0 and prunable:
            work.update(prune({n: tensors[n] for n in prunable}, sparsity, scope="global",
                              structured=structured))
    elif scope == "tensor":
        for n in prunable:
            if float(sparsity_of[n]) > 0:
                work[n] = prune(tensors[n], sparsity_of[n], structured=structured)
    else:
        raise ValueError(f"scope must be 'tensor' or 'global', got {scope!r}")
    out: dict[str, QuantizedTensor | np.ndarray] = {}
    for n, a in tensors.items():
        if n in exact:
            out[n] = a.astype(np.float32) if a.dtype == np.float64 else a
            continue
        g = granularity
        if (g == "channel" and a.ndim <= 1) or (g == "group" and group_size == "kernel"
                                                 and a.ndim < 3):
            g = "tensor"
        out[n] = quantize(work[n], bits=bits_of[n], granularity=g, axis=axis,
                          group_size=group_size if g == "group" else None, method=method,
                          frac_bits=frac_bits, symmetric=symmetric)
    return out


def _float_bits_meta(bits: int):
    from ..meta import QuantMeta
    return QuantMeta(bits=bits, kind="float-bits")


def pack_model(tensors: Mapping[str, QuantizedTensor | np.ndarray], /, *, group="auto") -> bytes:
    """``codec.pack`` quantized tensors (with their QuantMeta) and exact float tensors (bits)."""
    from .. import pack

    arrays: dict[str, np.ndarray] = {}
    metas = {}
    for n, t in tensors.items():
        if isinstance(t, QuantizedTensor):
            arrays[n] = t.values
            metas[n] = t.meta
            continue
        a = np.asarray(t)
        if a.dtype == np.float64:
            a = a.astype(np.float32)
        if a.dtype == np.float32:
            arrays[n], metas[n] = np.ascontiguousarray(a).view(np.uint32), _float_bits_meta(32)
        elif a.dtype == np.float16:
            arrays[n], metas[n] = np.ascontiguousarray(a).view(np.uint16), _float_bits_meta(16)
        else:
            raise TypeError(f"{n}: expected a QuantizedTensor or a float array, got dtype {a.dtype}")
    return pack(arrays, meta=metas, group=group)


def compress_model(float_tensors, /, *, bits=8, sparsity=0.0, granularity: str = "channel",
                   method: str = "maxabs", skip=None, scope: str = "tensor", structured=None,
                   axis: int = 0, group_size=None, symmetric: bool = True, frac_bits=None,
                   group="auto") -> bytes:
    """Prune, quantize and pack a model's float tensors into one codec package.

    Every element comes back (``decompress_model``) within half a quantization step of its
    pruned value; pruned elements come back as exact zeros; ``skip`` tensors come back bit-exact.
    ``skip``: None, ``"vectors"`` (all ndim <= 1 tensors: biases, norms), names, or a
    callable ``(name, array) -> bool``.  ``group`` is passed to ``codec.pack``.
    """
    q = quantize_model(float_tensors, bits=bits, sparsity=sparsity, granularity=granularity,
                       method=method, skip=skip, scope=scope, structured=structured, axis=axis,
                       group_size=group_size, symmetric=symmetric, frac_bits=frac_bits)
    return pack_model(q, group=group)


def _qt_from_meta(values: np.ndarray, meta) -> QuantizedTensor:
    if meta.axis is not None:
        gran, axis, grp = "channel", int(meta.axis) % max(values.ndim, 1), None
    elif meta.block is not None:
        gran, axis, grp = "group", None, int(meta.block)
    else:
        gran, axis, grp = "tensor", None, None
    return QuantizedTensor(values, np.asarray(meta.scale), meta.zero_point, int(meta.bits), gran,
                           axis, grp, "stored")


def decompress_model(data, /, *, as_quantized: bool = False) -> dict:
    """Float tensors from a ``compress_model`` package (float32; exact ones keep their dtype).

    ``as_quantized=True`` returns the integers and scales instead: a :class:`QuantizedTensor`
    for each quantized tensor, the float array for each exact one.  A tensor packed without
    QuantMeta (plain ``codec.pack``) comes back as its integers.
    """
    from .. import inspect, unpack

    arrays = unpack(data)
    metas = {e.name: e.meta for e in inspect(data).tensors}
    out = {}
    for n, v in arrays.items():
        meta = metas.get(n)
        if meta is None:
            out[n] = v
        elif getattr(meta, "kind", "linear") == "float-bits":
            out[n] = meta.dequantize(v, dtype=np.float16 if meta.bits == 16 else np.float32)
        elif as_quantized:
            out[n] = _qt_from_meta(v, meta)
        else:
            out[n] = _qt_from_meta(v, meta).dequantize()
    return out
