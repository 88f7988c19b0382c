"""``.npz`` (numpy zip archives) in and out."""
from __future__ import annotations

import zipfile

import numpy as np

from ._util import FormatError, atomic_path


def read_npz(path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as z:
            if not isinstance(z, np.lib.npyio.NpzFile):
                raise FormatError(f"{path}: a .npy file, not an .npz archive")
            return {k: z[k] for k in z.files}
    except FormatError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise FormatError(f"{path}: not a readable .npz archive ({exc})") from None


def write_npz(path, tensors, *, protect=()) -> None:
    """Write ``{name: array}`` as an uncompressed .npz, atomically."""
    with atomic_path(path, protect=protect) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **{k: np.asarray(v) for k, v in tensors.items()})
