"""Shared helpers of the model readers and writers: errors, optional imports, atomic writes."""
from __future__ import annotations

import contextlib
import importlib
import os
import tempfile

import numpy as np

__all__ = ["FormatError", "MissingExtraError", "require", "atomic_path", "atomic_write_bytes",
           "same_file", "normalize_dtype"]

CHUNK = 1 << 20


class FormatError(ValueError):
    """A model file cannot be read as the format it claims (or as any known format)."""


class MissingExtraError(ImportError):
    """An optional dependency of a reader/writer is not installed."""


def require(module: str, extra: str, what: str):
    """Import an optional dependency or fail with a message naming the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtraError(f"{what} needs the '{module.split('.')[0]}' package: "
                                f"pip install 'codec[{extra}]'") from None


def same_file(a, b) -> bool:
    """True if paths ``a`` and ``b`` name the same existing file (or the same resolved path)."""
    a, b = os.fspath(a), os.fspath(b)
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def _write_chunks(f, data) -> None:
    """Write ``data`` in 1 MiB pieces (tests replace this to simulate a failure mid-write)."""
    mv = memoryview(data).cast("B")
    for i in range(0, len(mv), CHUNK):
        f.write(mv[i:i + CHUNK])


@contextlib.contextmanager
def atomic_path(path, *, protect=()):
    """Yield a temporary path beside ``path``; on success it is fsynced and renamed onto ``path``.

    On any exception the temporary file is removed and ``path`` is left as it was.  ``protect``:
    input paths that ``path`` must not be (never write over the input).
    """
    path = os.fspath(path)
    for p in protect:
        if same_file(p, path):
            raise FormatError(f"refusing to write the output over the input file {path!r}")
    if os.path.isdir(path):
        raise FormatError(f"output {path!r} is a directory")
    d = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(d):
        raise FormatError(f"output directory {d!r} does not exist")
    base = os.path.basename(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{base}.", suffix=".tmp", dir=d)
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        try:
            mode = os.stat(path).st_mode & 0o7777 if os.path.exists(path) else None
        except OSError:
            mode = None
        if mode is None:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path, data, *, protect=()) -> int:
    """Write ``data`` to ``path`` atomically (temporary file, fsync, rename)."""
    with atomic_path(path, protect=protect) as tmp:
        with open(tmp, "wb") as f:
            _write_chunks(f, data)
    return len(memoryview(data).cast("B"))


_INT_DOWNCAST = {np.dtype(np.int64): np.dtype(np.int32), np.dtype(np.uint64): np.dtype(np.uint32)}


def bf16_to_f32(bits: np.ndarray) -> np.ndarray:
    """bfloat16 bit patterns (uint16) to float32, exactly."""
    return (bits.astype(np.uint32) << np.uint32(16)).view(np.float32)


def normalize_dtype(name: str, arr) -> tuple[np.ndarray, str | None]:
    """Make ``arr`` a native numpy array the codec or the front-end accepts, without loss.

    Returns ``(array, note)``: bfloat16 -> float32 (exact), bool -> uint8, int64/uint64 ->
    int32/uint32 when every value fits (else FormatError); ``note`` describes a conversion.
    """
    a = np.asarray(arr)
    dt = a.dtype
    if dt.name == "bfloat16":
        return bf16_to_f32(np.asarray(a, order="C").view(np.uint16)), "bfloat16 -> float32"
    if not dt.isnative:
        a = a.astype(dt.newbyteorder("="))
        dt = a.dtype
    if dt.kind == "b":
        return a.astype(np.uint8), "bool -> uint8"
    if dt in _INT_DOWNCAST:
        to = _INT_DOWNCAST[dt]
        info = np.iinfo(to)
        if a.size and (a.min() < info.min or a.max() > info.max):
            raise FormatError(f"tensor {name!r}: {dt} values outside the {to} range are not "
                              f"supported")
        return a.astype(to), f"{dt} -> {to}"
    if dt.kind == "f" and dt.itemsize in (2, 4, 8):
        return a, None
    if dt.kind in "iu" and dt.itemsize <= 4:
        return a, None
    raise FormatError(f"tensor {name!r}: unsupported dtype {dt}")
