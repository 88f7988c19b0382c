"""Exception types.  Nothing else may escape from decoding bytes.

Every error carries the byte ``offset`` (and, where it helps, the offending ``value``)
so that a user can see *where* a package is wrong.
"""
from __future__ import annotations

__all__ = [
    "CodecError",
    "TruncatedError",
    "CorruptError",
    "ChecksumError",
    "UnsupportedError",
    "LimitError",
]


class CodecError(ValueError):
    """Base class of every error raised by this package for bad input."""

    def __init__(self, message: str, *, offset: int | None = None, value=None):
        self.offset = offset
        self.value = value
        if offset is not None:
            message = f"{message} (at byte offset {offset})"
        super().__init__(message)


class TruncatedError(CodecError):
    """The input ends before a structure it declares."""


class CorruptError(CodecError):
    """A structure is malformed: an impossible value, an invalid code, a bad bitstream."""


class ChecksumError(CorruptError):
    """A CRC32 does not match the bytes it covers."""


class UnsupportedError(CodecError):
    """Valid-looking input this reader cannot handle: wrong magic, newer version, unknown flags."""


class LimitError(CodecError):
    """The input asks for more than a configured limit (output bytes, tensor count, ...)."""
