"""``.safetensors`` in and out through the safetensors package's numpy API (no torch)."""
from __future__ import annotations

import json
import struct

import numpy as np

from ._util import FormatError, atomic_path, bf16_to_f32, require


def _read_bf16_fallback(path, names) -> dict[str, np.ndarray]:
    """BF16 tensors when numpy has no bfloat16 dtype (ml_dtypes missing): parse them directly."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        base = 8 + n
        out = {}
        for k in names:
            h = header[k]
            lo, hi = h["data_offsets"]
            f.seek(base + lo)
            raw = np.frombuffer(f.read(hi - lo), dtype="<u2")
            out[k] = bf16_to_f32(raw).reshape(h["shape"])
        return out


def read_safetensors(path) -> dict[str, np.ndarray]:
    st = require("safetensors", "safetensors", "reading .safetensors files")
    require("safetensors.numpy", "safetensors", "reading .safetensors files")
    try:
        with st.safe_open(path, framework="np") as f:
            names = list(f.keys())
            out, bf16 = {}, []
            for k in names:
                try:
                    out[k] = f.get_tensor(k)
                except (TypeError, ValueError):
                    if f.get_slice(k).get_dtype() != "BF16":
                        raise
                    bf16.append(k)
    except FileNotFoundError:
        raise
    except (st.SafetensorError, OSError, ValueError, TypeError) as exc:
        raise FormatError(f"{path}: not a readable .safetensors file ({exc})") from None
    if bf16:
        out.update(_read_bf16_fallback(path, bf16))
    return {k: out[k] for k in names}


def write_safetensors(path, tensors, *, protect=(), metadata=None) -> None:
    """Write ``{name: array}`` as .safetensors, atomically."""
    require("safetensors", "safetensors", "writing .safetensors files")
    stn = require("safetensors.numpy", "safetensors", "writing .safetensors files")
    arrays = {k: np.asarray(v, order="C") for k, v in tensors.items()}  # keeps 0-d
    with atomic_path(path, protect=protect) as tmp:
        data = stn.save(arrays, metadata=metadata)
        with open(tmp, "wb") as f:
            from ._util import _write_chunks
            _write_chunks(f, data)
