"""Quantization metadata stored beside a tensor (optional), and its byte layout.

``w = scale[k] * (q - zero_point[k])`` where ``k`` is
  * 0 for a per-tensor scale (``axis is None and block is None``),
  * the index along ``axis`` for per-axis scales,
  * ``flat_index // block`` for per-block scales (seed 002's groups: kernel, kernel group, count).
``kind="float-bits"`` marks integers that are the IEEE-754 bit pattern of floats kept exact
(``bits`` 16 or 32, no scale): ``dequantize`` reinterprets them.
Scales are stored bit-exactly (float32 or float64).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._bytes import Reader, put_svarint, put_varint
from .errors import CorruptError

__all__ = ["QuantMeta"]

_KINDS = ("linear", "float-bits")
_SCALE_DTYPES = (np.dtype("<f4"), np.dtype("<f8"))
META_VERSION = 1


@dataclass(frozen=True, eq=False)
class QuantMeta:
    bits: int
    scale: np.ndarray = field(default_factory=lambda: np.ones(1, np.float32))
    zero_point: np.ndarray | None = None
    axis: int | None = None
    block: int | None = None
    kind: str = "linear"

    def __post_init__(self):
        if self.kind not in _KINDS:
            raise ValueError(f"kind must be one of {_KINDS}, got {self.kind!r}")
        if not 1 <= int(self.bits) <= 32:
            raise ValueError(f"bits must be in 1..32, got {self.bits}")
        scale = np.asarray(self.scale)
        if scale.dtype not in (np.float32, np.float64):
            scale = scale.astype(np.float64)
        scale = np.ascontiguousarray(scale.reshape(-1))
        object.__setattr__(self, "scale", scale)
        if self.zero_point is not None:
            zp = np.ascontiguousarray(np.asarray(self.zero_point, dtype=np.int64).reshape(-1))
            if zp.shape != scale.shape:
                raise ValueError("zero_point must have one entry per scale")
            object.__setattr__(self, "zero_point", zp)
        if self.axis is not None and self.block is not None:
            raise ValueError("give axis or block, not both")
        if self.block is not None and int(self.block) < 1:
            raise ValueError("block must be >= 1")
        if self.axis is None and self.block is None and scale.size != 1:
            raise ValueError("a per-tensor QuantMeta has exactly one scale")

    def __eq__(self, other):
        if not isinstance(other, QuantMeta):
            return NotImplemented
        zp_eq = (self.zero_point is None and other.zero_point is None) or (
            self.zero_point is not None and other.zero_point is not None
            and np.array_equal(self.zero_point, other.zero_point))
        return (self.bits == other.bits and self.axis == other.axis and self.block == other.block
                and self.kind == other.kind and self.scale.dtype == other.scale.dtype
                and self.scale.tobytes() == other.scale.tobytes() and zp_eq)

    def expected_scales(self, shape: tuple[int, ...]) -> int:
        numel = int(np.prod(shape, dtype=np.int64))
        if self.axis is not None:
            if not -len(shape) <= self.axis < len(shape):
                raise ValueError(f"axis {self.axis} out of range for shape {shape}")
            return int(shape[self.axis])
        if self.block is not None:
            return -(-numel // int(self.block))
        return 1

    def check_shape(self, shape: tuple[int, ...]) -> None:
        if self.kind == "linear" and self.scale.size != self.expected_scales(shape):
            raise ValueError(f"QuantMeta has {self.scale.size} scales, shape {shape} needs "
                             f"{self.expected_scales(shape)}")

    def dequantize(self, q: np.ndarray, dtype=np.float32) -> np.ndarray:
        q = np.asarray(q)
        if self.kind == "linear":
            out = dequantize_fast(q, self.scale, self.zero_point, self.axis, self.block, dtype)
            if out is not None:
                return out
        if self.kind == "float-bits":
            ftype = {16: np.float16, 32: np.float32}[self.bits]
            itype = {16: np.uint16, 32: np.uint32}[self.bits]
            return q.astype(itype, copy=False).view(ftype).astype(dtype)
        s = self.scale
        zp = self.zero_point
        qf = q.astype(np.float64)
        if self.axis is not None:
            bshape = [1] * q.ndim
            bshape[self.axis] = -1
            s = s.reshape(bshape)
            if zp is not None:
                zp = zp.reshape(bshape)
        elif self.block is not None:
            flat = qf.reshape(-1)
            idx = np.arange(flat.size) // int(self.block)
            out = flat - (zp[idx] if zp is not None else 0)
            return (out * s.astype(np.float64)[idx]).reshape(q.shape).astype(dtype)
        if zp is not None:
            qf = qf - zp
        return (qf * s.astype(np.float64)).astype(dtype)

    # --- byte layout (docs/FORMAT.md, "Quantization metadata") ---
    def to_bytes(self) -> bytes:
        out = bytearray()
        out.append(META_VERSION)
        out.append(_KINDS.index(self.kind))
        out.append(int(self.bits))
        if self.axis is not None:
            out.append(1)
            put_svarint(out, int(self.axis))
        elif self.block is not None:
            out.append(2)
            put_varint(out, int(self.block))
        else:
            out.append(0)
        out.append(_SCALE_DTYPES.index(self.scale.dtype.newbyteorder("<")))
        put_varint(out, self.scale.size)
        out += self.scale.astype(self.scale.dtype.newbyteorder("<")).tobytes()
        if self.zero_point is None:
            out.append(0)
        else:
            out.append(1)
            for z in self.zero_point.tolist():
                put_svarint(out, z)
        return bytes(out)

    @classmethod
    def from_bytes(cls, buf, start: int, end: int, *, base: int = 0,
                   shape: tuple[int, ...] = ()) -> "QuantMeta":
        meta = _from_bytes_fast(cls, buf, start, end, shape)
        if meta is not None:
            return meta
        r = Reader(buf, start, end, base=base)
        ver = r.u8("meta version")
        if ver != META_VERSION:
            raise CorruptError(f"unknown quantization metadata version {ver}", offset=r.offset - 1)
        kind = r.u8("meta kind")
        if kind >= len(_KINDS):
            raise CorruptError(f"unknown quantization kind {kind}", offset=r.offset - 1)
        bits = r.u8("meta bits")
        if not 1 <= bits <= 32:
            raise CorruptError(f"quantization bits {bits} outside 1..32", offset=r.offset - 1)
        mode = r.u8("meta scale mode")
        axis = block = None
        if mode == 1:
            axis = r.svarint("meta axis", -len(shape), len(shape) - 1)
        elif mode == 2:
            block = r.varint("meta block", limit=1 << 62)
            if block < 1:
                raise CorruptError("meta block is 0", offset=r.offset - 1)
        elif mode != 0:
            raise CorruptError(f"unknown scale mode {mode}", offset=r.offset - 1)
        sd = r.u8("meta scale dtype")
        if sd >= len(_SCALE_DTYPES):
            raise CorruptError(f"unknown scale dtype {sd}", offset=r.offset - 1)
        dt = _SCALE_DTYPES[sd]
        n = r.varint("meta scale count", limit=(end - r.pos) // dt.itemsize)
        scale = np.frombuffer(r.bytes(n * dt.itemsize, "meta scales"), dtype=dt).astype(dt.newbyteorder("="))
        has_zp = r.u8("meta zero-point flag")
        zp = None
        if has_zp == 1:
            zp = np.array([r.svarint("meta zero point", -(1 << 62), 1 << 62) for _ in range(n)],
                          dtype=np.int64)
        elif has_zp != 0:
            raise CorruptError(f"bad zero-point flag {has_zp}", offset=r.offset - 1)
        if r.pos != end:
            raise CorruptError(f"{end - r.pos} stray bytes after quantization metadata",
                               offset=r.offset)
        try:
            meta = cls(bits=bits, scale=scale, zero_point=zp, axis=axis, block=block,
                       kind=_KINDS[kind])
            meta.check_shape(shape)
        except ValueError as exc:
            raise CorruptError(f"invalid quantization metadata: {exc}", offset=base + start) from None
        return meta


DEQUANT_KERNEL_MIN = 4096  # values from which the kernel beats numpy (~8 us fixed vs ~2)


def dequantize_fast(q: np.ndarray, scale, zero_point, axis, block, dtype) -> np.ndarray | None:
    """``(q - zero_point[k]) * scale[k]`` in float64, rounded to ``dtype`` (float32 or
    float64), by one kernel pass (kernels/dequant.py): the numpy form's exact values at ~1/5
    of its time.  None where the numpy form decides: another dtype, fewer than
    DEQUANT_KERNEL_MIN values, or a scale count that numpy would broadcast."""
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64) or q.dtype.kind not in "iu" \
            or q.size < DEQUANT_KERNEL_MIN:
        return None
    from .kernels.dequant import dequantize_linear
    s = np.ascontiguousarray(scale, np.float64).reshape(-1)
    z = (np.zeros(0) if zero_point is None
         else np.ascontiguousarray(zero_point).reshape(-1).astype(np.float64))
    inner = period = 0
    if axis is not None:
        a = int(axis) % q.ndim if q.ndim else -1
        if a < 0 or q.shape[a] != s.size:  # (numpy broadcasts other counts)
            return None
        period = int(q.shape[a])
        inner = int(np.prod(q.shape[a + 1:], dtype=np.int64))
    elif block is None and s.size != 1:
        return None
    out = np.empty(q.shape, dtype)
    st = dequantize_linear(np.ascontiguousarray(q).reshape(-1), s, z, max(inner, 1), period,
                           0 if block is None else int(block), out.reshape(-1))
    return out if st == 0 else None


def _varint_at(b: bytes, pos: int):
    """(value, new pos) of a LEB128 of at most 9 bytes and below 2**62, or (-1, pos)."""
    v = 0
    for i in range(9):
        if pos >= len(b):
            return -1, pos
        byte = b[pos]
        pos += 1
        v |= (byte & 0x7F) << (7 * i)
        if byte < 0x80:
            return (v, pos) if v < 1 << 62 else (-1, pos)
    return -1, pos


def _from_bytes_fast(cls, buf, start: int, end: int, shape: tuple) -> QuantMeta | None:
    """``from_bytes`` of a block in the layout codec writes, without the checked reader and
    the dataclass checks (they run here as plain comparisons): ~3 instead of ~9.5 us a block
    (inspect and decompress_model parse one a tensor).  None for anything else (an error,
    or an unusual encoding such as a varint of 10 bytes): ``from_bytes`` then reads it with
    exact errors.  Same object as the checked path (tests/test_meta_kernel.py).  It follows
    kernels/meta.py's checks line by line (that kernel validates many blocks without objects);
    building the object from that kernel's parse instead measured 2x slower (8.2 vs 3.7 us:
    the call and the arrays it returns), so the two stay side by side."""
    if not 0 <= start <= end:
        return None
    b = bytes(buf[start:end])
    if len(b) < 6 or b[0] != META_VERSION or b[1] >= len(_KINDS) or not 1 <= b[2] <= 32:
        return None
    mode = b[3]
    pos = 4
    axis = block = None
    if mode == 1:
        z, pos = _varint_at(b, pos)
        if z < 0:
            return None
        axis = (z >> 1) if not z & 1 else -((z + 1) >> 1)
        if not -len(shape) <= axis < len(shape):
            return None
    elif mode == 2:
        block, pos = _varint_at(b, pos)
        if block < 1:
            return None
    elif mode != 0:
        return None
    if pos >= len(b) or b[pos] >= len(_SCALE_DTYPES):
        return None
    dt = _SCALE_DTYPES[b[pos]]
    n, pos = _varint_at(b, pos + 1)
    if n < 0 or n > (len(b) - pos) // dt.itemsize or pos + n * dt.itemsize >= len(b):
        return None
    scale = np.frombuffer(b, dt, n, pos).astype(dt.newbyteorder("="))
    pos += n * dt.itemsize
    flag = b[pos]
    pos += 1
    zp = None
    if flag == 1:
        zs = []
        for _ in range(n):
            z, pos = _varint_at(b, pos)
            if z < 0:
                return None
            zs.append((z >> 1) if not z & 1 else -((z + 1) >> 1))
        zp = np.array(zs, np.int64)
    elif flag != 0:
        return None
    if pos != len(b):
        return None
    kind = _KINDS[b[1]]
    if axis is None and block is None:
        if n != 1:
            return None
    elif kind == "linear":
        if axis is not None:
            need = shape[axis]
        else:
            numel = 1
            for d in shape:
                numel *= int(d)
            need = -(-numel // block)
        if n != need:
            return None
    meta = object.__new__(cls)
    for k, v in (("bits", b[2]), ("scale", scale), ("zero_point", zp), ("axis", axis),
                 ("block", block), ("kind", kind)):
        object.__setattr__(meta, k, v)
    return meta

