"""Model files in and out: ``.npz``, ``.safetensors``, ONNX initializers, PyTorch state_dicts and
codec packages.

* :func:`detect_format` -- what a file is (by its first bytes, then its extension).
* :func:`read_tensors` -- ``{name: ndarray}`` from any supported model file (a package is
  decoded to floats with :func:`codec.frontend.decompress_model`).
* :func:`read_model` -- the same, normalized for the codec (bfloat16 -> float32, int64 -> int32
  when the values fit, bool -> uint8), with TFLite-style quantized tensors split out.
* :func:`write_tensors` -- ``.npz`` or ``.safetensors`` by extension, atomically.

Optional formats need extras: ``codec[safetensors]``, ``codec[onnx]``, ``codec[torch]``; a
missing one raises :class:`MissingExtraError` naming it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from ._util import (FormatError, MissingExtraError, atomic_path, atomic_write_bytes,
                    normalize_dtype, same_file)
from .quantized import join_quantized, split_quantized

__all__ = ["FormatError", "MissingExtraError", "Model", "detect_format", "read_tensors",
           "read_model", "write_tensors", "atomic_path", "atomic_write_bytes", "same_file",
           "split_quantized", "join_quantized", "FORMATS", "WRITE_FORMATS", "NAMES"]

FORMATS = ("package", "npz", "safetensors", "onnx", "torch")
WRITE_FORMATS = {".npz": "npz", ".safetensors": "safetensors"}
NAMES = {"package": "a codec package", "npz": "an .npz", "safetensors": "a .safetensors",
         "onnx": "an ONNX", "torch": "a PyTorch"}
_EXT = {".npz": "npz", ".safetensors": "safetensors", ".onnx": "onnx", ".pt": "torch",
        ".pth": "torch", ".spkg": "package", ".codec": "package"}


def _sniff(head: bytes) -> str | None:
    from ..format import MAGIC
    if head[:4] == MAGIC:
        return "package"
    if head[:4] == b"PK\x03\x04":
        return "zip"
    if head[:1] == b"\x80":  # a pickle (legacy torch.save)
        return "torch"
    if len(head) >= 9 and head[8:9] == b"{":
        n = int.from_bytes(head[:8], "little")
        if 2 <= n < (1 << 31):
            return "safetensors"
    return None


def detect_format(path) -> str:
    """One of :data:`FORMATS`; raises FormatError for an unknown file, OSError if unreadable."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise FormatError(f"{path}: is a directory, not a model file")
    with open(path, "rb") as f:
        head = f.read(16)
    ext = os.path.splitext(path)[1].lower()
    by_ext = _EXT.get(ext)
    sniffed = _sniff(head)
    if sniffed == "zip":
        if by_ext in ("npz", "torch"):
            return by_ext
        if by_ext is not None:
            raise FormatError(f"{path}: not {NAMES[by_ext]} file (it is a zip archive)")
        import zipfile
        try:
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
        except zipfile.BadZipFile:
            raise FormatError(f"{path}: a damaged zip archive") from None
        if any(n.endswith("data.pkl") for n in names):
            return "torch"
        if all(n.endswith(".npy") for n in names):
            return "npz"
        raise FormatError(f"{path}: a zip archive that is neither .npz nor a PyTorch file")
    if sniffed == "package":
        return "package"
    if by_ext is not None:
        if by_ext == "package" or by_ext == "onnx" or by_ext == sniffed:
            return by_ext  # a package reader says what is wrong with a bad package
        if not head:
            raise FormatError(f"{path}: the file is empty")
        raise FormatError(f"{path}: not {NAMES[by_ext]} file (its first bytes are "
                          f"{head[:8].hex(' ')})")
    if sniffed is not None:
        return sniffed
    if not head:
        raise FormatError(f"{path}: the file is empty")
    raise FormatError(f"{path}: unknown model format (expected a codec package, .npz, "
                      f".safetensors, .onnx, .pt or .pth)")


def read_tensors(path, fmt: str | None = None) -> dict[str, np.ndarray]:
    """Every tensor of a model file as numpy arrays, in file order (no dtype changes)."""
    fmt = fmt or detect_format(path)
    if fmt == "npz":
        from .npz import read_npz
        return read_npz(path)
    if fmt == "safetensors":
        from .safetensors import read_safetensors
        return read_safetensors(path)
    if fmt == "onnx":
        from .onnx import read_onnx
        return read_onnx(path)
    if fmt == "torch":
        from .torch import read_torch
        return read_torch(path)
    if fmt == "package":
        from ..frontend import decompress_model
        with open(path, "rb") as f:
            return decompress_model(f.read())
    raise FormatError(f"unknown format {fmt!r}; expected one of {FORMATS}")


@dataclass
class Model:
    """A model file read for the codec."""
    path: str
    format: str
    tensors: dict            # name -> float or integer ndarray (codec-ready dtypes)
    quantized: dict          # name -> (integer ndarray, QuantMeta) from companion tensors
    notes: list = field(default_factory=list)
    order: list = field(default_factory=list)  # tensor names in file order

    @property
    def names(self) -> list[str]:
        return list(self.order) or list(self.tensors) + list(self.quantized)

    @property
    def numel(self) -> int:
        return sum(int(a.size) for a in self.tensors.values()) + \
            sum(int(v.size) for v, _ in self.quantized.values())


def read_model(path, fmt: str | None = None) -> Model:
    """Read a model file and make its tensors codec-ready (see the module docstring)."""
    path = os.fspath(path)
    fmt = fmt or detect_format(path)
    raw = read_tensors(path, fmt)
    plain, quantized = split_quantized(raw)
    tensors, notes = {}, []
    conv: dict[str, list[str]] = {}
    for k, v in plain.items():
        a, note = normalize_dtype(k, v)
        tensors[k] = a
        if note:
            conv.setdefault(note, []).append(k)
    for note, names in conv.items():
        notes.append(f"{len(names)} tensor(s) converted {note} (exact)")
    qn = {}
    for k, (v, m) in quantized.items():
        a, _ = normalize_dtype(k, v)
        qn[k] = (a, m)
    if quantized:
        notes.append(f"{len(quantized)} already-quantized tensor(s) kept as they are")
    order = [k for k in raw if k in tensors or k in qn]
    return Model(path, fmt, tensors, qn, notes, order)


def write_tensors(path, tensors, *, protect=()) -> str:
    """Write ``{name: array}`` as ``.npz`` or ``.safetensors`` (by extension), atomically."""
    ext = os.path.splitext(os.fspath(path))[1].lower()
    fmt = WRITE_FORMATS.get(ext)
    if fmt == "npz":
        from .npz import write_npz
        write_npz(path, tensors, protect=protect)
    elif fmt == "safetensors":
        from .safetensors import write_safetensors
        write_safetensors(path, tensors, protect=protect)
    else:
        raise FormatError(f"{path}: output must end in .npz or .safetensors, not {ext or 'nothing'!r}")
    return fmt
