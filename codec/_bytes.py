"""Little helpers to write and read the header's primitive fields.

Writers append to a ``bytearray``; the :class:`Reader` checks every read against the end of
its buffer and raises :class:`~codec.errors.TruncatedError` naming the absolute offset.
"""
from __future__ import annotations

import struct

from .errors import CorruptError, TruncatedError

MAX_VARINT_BYTES = 10  # enough for 64-bit values


def put_varint(buf: bytearray, value: int) -> None:
    """Unsigned LEB128: 7 bits per byte, least significant group first, high bit = more."""
    if value < 0:
        raise ValueError(f"varint must be >= 0, got {value}")
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            buf.append(byte | 0x80)
        else:
            buf.append(byte)
            return


def zigzag(value: int) -> int:
    return (value << 1) if value >= 0 else ((-value << 1) - 1)


def unzigzag(value: int) -> int:
    return (value >> 1) if not value & 1 else -((value + 1) >> 1)


def put_svarint(buf: bytearray, value: int) -> None:
    put_varint(buf, zigzag(value))


class Reader:
    """Bounded reader over ``buf[start:end]``; offsets in errors are absolute (``base + pos``)."""

    __slots__ = ("buf", "pos", "end", "base", "ctx")

    def __init__(self, buf, start: int = 0, end: int | None = None, *, base: int = 0):
        self.buf = buf
        self.pos = start
        self.end = len(buf) if end is None else end
        self.base = base
        self.ctx = ""  # prefix for error messages (e.g. "tensor 'conv.w' "), set by callers

    @property
    def offset(self) -> int:
        return self.base + self.pos

    def need(self, n: int, what: str) -> None:
        if n < 0 or self.pos + n > self.end:
            raise TruncatedError(f"input ends inside {self.ctx}{what}: need {n} bytes, "
                                 f"{self.end - self.pos} left", offset=self.offset)

    def u8(self, what: str) -> int:
        pos = self.pos
        if pos >= self.end:
            self.need(1, what)
        v = int(self.buf[pos])
        self.pos = pos + 1
        return v

    def u32(self, what: str) -> int:
        self.need(4, what)
        v = struct.unpack_from("<I", self.buf, self.pos)[0]
        self.pos += 4
        return v

    def bytes(self, n: int, what: str) -> bytes:
        self.need(n, what)
        v = bytes(self.buf[self.pos:self.pos + n])
        self.pos += n
        return v

    def varint(self, what: str, limit: int = (1 << 64) - 1, exc=CorruptError) -> int:
        """Read an unsigned LEB128; a value over ``limit`` raises ``exc`` (LimitError for
        configured caps, CorruptError for structural bounds)."""
        buf, pos, end = self.buf, self.pos, self.end
        if pos < end:
            byte = buf[pos]
            if byte < 0x80:  # fast path: one byte
                if byte > limit:
                    raise exc(f"{self.ctx}{what} = {byte} exceeds {limit}", offset=self.base + pos,
                              value=byte)
                self.pos = pos + 1
                return int(byte)
        start = self.offset
        value = 0
        for i in range(MAX_VARINT_BYTES):
            byte = self.u8(what)
            value |= (byte & 0x7F) << (7 * i)
            if not byte & 0x80:
                if value >> 64:  # a 10th byte above 1: corrupt whatever the field (FORMAT.md)
                    raise CorruptError(f"{self.ctx}{what}: varint of 2^64 or more",
                                       offset=start, value=value)
                if value > limit:
                    raise exc(f"{self.ctx}{what} = {value} exceeds {limit}", offset=start,
                              value=value)
                return value
        raise CorruptError(f"{self.ctx}{what}: varint longer than {MAX_VARINT_BYTES} bytes",
                           offset=start)

    def svarint(self, what: str, lo: int, hi: int) -> int:
        start = self.offset
        v = unzigzag(self.varint(what))
        if not lo <= v <= hi:
            raise CorruptError(f"{self.ctx}{what} = {v} outside [{lo}, {hi}]", offset=start, value=v)
        return v
