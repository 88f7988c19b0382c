"""A numcodecs codec (``codec_id = "spkg"``) for integer arrays, e.g. quantized weights in zarr.

Each chunk is stored as a one-tensor codec package (:func:`codec.encode`): lossless for int8,
uint8, int16, uint16, int32 and uint32 chunks; floats must be quantized first.

* numcodecs: ``numcodecs.get_codec({"id": "spkg"})`` works once this module is imported or when
  the package is installed (it is registered through the ``numcodecs.codecs`` entry point).
* zarr v2 format: ``zarr.create_array(..., zarr_format=2, compressors=SpkgCodec())``.
* zarr v3 format: zarr wraps numcodecs codecs as ``numcodecs.<id>`` array-to-bytes codecs
  (``zarr.codecs.numcodecs``); :data:`ZarrSpkgCodec` is that wrapper, registered with zarr when
  this module is imported::

      import zarr, codec.numcodecs_codec as cn
      z = zarr.create_array(store, shape=w.shape, chunks=(64, 64), dtype="int8",
                            serializer=cn.ZarrSpkgCodec(), compressors=None)

  Reading a v3 array back in a new process needs ``import codec.numcodecs_codec`` first (zarr
  looks codecs up in its own registry).
"""
from __future__ import annotations

import numpy as np

from .io._util import require

_nc = require("numcodecs", "numcodecs", "codec.numcodecs_codec")
from numcodecs.abc import Codec  # noqa: E402
from numcodecs.compat import ensure_bytes, ensure_contiguous_ndarray, ndarray_copy  # noqa: E402

__all__ = ["SpkgCodec", "ZarrSpkgCodec", "CODEC_ID"]

CODEC_ID = "spkg"


def _group_to_json(group):
    if isinstance(group, tuple):
        return [group[0], int(group[1])]
    return group


def _group_from_json(group):
    if isinstance(group, list):
        if len(group) != 2 or not isinstance(group[0], str):
            raise ValueError(f"invalid group {group!r}")
        return (group[0], int(group[1]))
    return group


class SpkgCodec(Codec):
    """Sparse-parameter entropy coding of an integer chunk (one codec package per chunk).

    Parameters
    ----------
    group : str, int or (mode, n)
        Entropy-coding groups inside a chunk, as ``codec.encode``'s ``group`` ('auto',
        'kernel', 'tensor', an int, ('kernels', k) or ('count', n)).
    """

    codec_id = CODEC_ID

    def __init__(self, group="auto"):
        self.group = _group_from_json(group)
        from .writer import encode
        encode(np.zeros(1, np.int8), group=self.group)  # validate group now, not on first chunk

    def encode(self, buf):
        from .writer import encode
        arr = np.asarray(buf)
        if arr.dtype.kind not in "iu":
            raise TypeError(f"spkg encodes integer arrays (quantize floats first), got {arr.dtype}")
        arr = np.asarray(arr, order="C")
        return encode(arr, group=self.group)

    def decode(self, buf, out=None):
        from .package import decode
        data = ensure_bytes(buf) if not isinstance(buf, (bytes, bytearray)) else buf
        arr = decode(data)
        if out is not None:
            out = ensure_contiguous_ndarray(out)
            return ndarray_copy(arr, out)
        return arr

    def get_config(self):
        return {"id": self.codec_id, "group": _group_to_json(self.group)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config.pop("id", None)
        return cls(**config)

    def __repr__(self):
        return f"{type(self).__name__}(group={self.group!r})"


_nc.register_codec(SpkgCodec)

ZarrSpkgCodec = None
try:  # zarr >= 3: the numcodecs wrapper as a zarr v3 array -> bytes codec
    from zarr.codecs.numcodecs import _NumcodecsArrayBytesCodec
    from zarr.registry import register_codec as _zarr_register
except ImportError:  # zarr missing or older than 3.1: numcodecs / zarr v2 use only
    pass
else:
    class ZarrSpkgCodec(_NumcodecsArrayBytesCodec, codec_name=CODEC_ID):  # type: ignore[no-redef]
        """``SpkgCodec`` as a zarr v3 array-to-bytes codec (name ``numcodecs.spkg``)."""

    _zarr_register(ZarrSpkgCodec.codec_name, ZarrSpkgCodec)
