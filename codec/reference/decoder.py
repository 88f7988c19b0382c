"""Reference decoder for formats v1 to v7, written from docs/FORMAT.md alone (the v2/v3
directory and v3's mirror transform are read by :mod:`.decoder_v2`, the v4-v7 entry bit string
by :mod:`.decoder_v4`, the prediction transform of v5 (§32) and v6 (§34) is undone by
:mod:`.predict_v5`, v7's row floors and tensor aliases (§36) by :mod:`.floor_v7`).

Slow and deliberately plain: every field is read in the order the spec lists it, every bit is
read from a big-endian :class:`bitarray.bitarray`, Huffman codes are decoded one bit at a time
by the textbook canonical method.  It shares no parsing code with ``codec.format`` or the Numba
kernels (it imports only :mod:`codec.errors`), so the two readers check each other.

Every check the spec's "Decoder checks" section lists is performed here, in the same order as
the fast reader where that is cheap to mirror; malformed input raises a
:class:`codec.errors.CodecError` subclass, nothing else.
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

import numpy as np
from bitarray import bitarray
from bitarray.util import ba2int

from ..errors import ChecksumError, CodecError, CorruptError, LimitError, TruncatedError, \
    UnsupportedError

# --- constants of format v1 (docs/FORMAT.md) -------------------------------------------------

MAGIC = b"SPKG"
FOOTER_MAGIC = b"GKPS"
VERSION = 1
VERSIONS = (1, 2, 3, 4, 5, 6, 7)
PREAMBLE_SIZE = 8
FOOTER_SIZE = 24
FOOTER_SIZE_V4 = 12   # v4 (§27): dir_length u32, dir_crc u32, magic
MAX_CODE_LEN = 12
MAX_KREF = 6
MAX_NRUN = 4096
MAX_SYMBOLS = 65536
MAX_MAG_BITS = 32
MAX_GAMMA_ZEROS = 20
MAX_VARINT_BYTES = 10
MAX_TID_BITS = 12
MAX_LEN_BITS = 56
SYM_EOB = 0
SYM_ESC = 1
SYM_FIRST = 2

DTYPE_BY_CODE = {1: "int8", 2: "uint8", 3: "int16", 4: "uint16", 5: "int32", 6: "uint32"}
CODE_BY_DTYPE = {v: k for k, v in DTYPE_BY_CODE.items()}
GROUP_MODE_BY_CODE = {0: "count", 1: "kernel", 2: "kernels"}
CODE_BY_GROUP_MODE = {v: k for k, v in GROUP_MODE_BY_CODE.items()}
META_KINDS = ("linear", "float-bits")
META_SCALE_DTYPES = ("<f4", "<f8")


@dataclass(frozen=True)
class RefLimits:
    """The default caps of a v1 reader (same defaults as ``codec.Limits``)."""
    max_output_bytes: int = 1 << 31
    max_tensors: int = 1 << 20
    max_name_bytes: int = 1 << 16
    max_names_bytes: int = 1 << 26
    max_ndim: int = 32
    max_tables: int = 1024              # as codec.Limits (since ed58ea6)
    max_table_symbols: int = 1 << 20   # v4 (T3v4): alphabet sizes of all tables together


def dtype_range(dtype: str) -> tuple[int, int]:
    bits = {"int8": 8, "uint8": 8, "int16": 16, "uint16": 16, "int32": 32, "uint32": 32}[dtype]
    if dtype.startswith("u"):
        return 0, (1 << bits) - 1
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


# --- the magnitude-class alphabet -------------------------------------------------------------

def mag_class(m: int, kref: int) -> tuple[int, int, int]:
    """(class, remainder bit count, remainder value) of a magnitude m >= 1."""
    if m < (1 << (kref + 1)):
        return m - 1, 0, 0
    L = m.bit_length()
    e = L - 1 - kref
    top = (m >> e) - (1 << kref)
    c = (1 << (kref + 1)) - 1 + (L - kref - 2) * (1 << kref) + top
    return c, e, m & ((1 << e) - 1)


def class_base(c: int, kref: int) -> tuple[int, int]:
    """(smallest magnitude of class c, remainder bit count): the inverse of :func:`mag_class`."""
    small = (1 << (kref + 1)) - 1
    if c < small:
        return c + 1, 0
    j = c - small
    L = kref + 2 + (j >> kref)
    top = j & ((1 << kref) - 1)
    e = L - 1 - kref
    return ((1 << kref) + top) << e, e


def max_classes(kref: int) -> int:
    return mag_class((1 << MAX_MAG_BITS) - 1, kref)[0] + 1


def canonical_codes(lengths: list[int]) -> dict[int, tuple[int, int]]:
    """{symbol: (code, length)}: codes in order of (length, symbol), each the previous + 1,
    shifted left when the length grows; the first code is all zeros."""
    order = sorted((ln, s) for s, ln in enumerate(lengths) if ln)
    codes = {}
    code = 0
    prev_len = 0
    for i, (ln, s) in enumerate(order):
        if i:
            code += 1
        code <<= ln - prev_len
        prev_len = ln
        codes[s] = (code, ln)
    return codes


# --- byte-level reader ------------------------------------------------------------------------

def unzigzag(u: int) -> int:
    return (u >> 1) if u % 2 == 0 else -((u + 1) >> 1)


class ByteReader:
    """Reads fields of ``buf[pos:end]``; running out is a TruncatedError."""

    def __init__(self, buf: bytes, pos: int, end: int):
        self.buf = buf
        self.pos = pos
        self.end = end

    def take(self, n: int, what: str) -> bytes:
        if self.pos + n > self.end:
            raise TruncatedError(f"input ends inside {what}", offset=self.pos)
        b = self.buf[self.pos:self.pos + n]
        self.pos += n
        return b

    def u8(self, what: str) -> int:
        return self.take(1, what)[0]

    def u32(self, what: str) -> int:
        return struct.unpack("<I", self.take(4, what))[0]

    def varint(self, what: str, limit: int = (1 << 64) - 1, exc=CorruptError) -> int:
        """Unsigned LEB128; a value over ``limit`` raises ``exc`` (LimitError for the reader's
        configured caps, CorruptError for the format's own bounds)."""
        start = self.pos
        value = 0
        for i in range(MAX_VARINT_BYTES):
            b = self.u8(what)
            value |= (b & 0x7F) << (7 * i)
            if b < 0x80:
                if value >= 1 << 64:  # corrupt whatever the field (FORMAT.md, varint)
                    raise CorruptError(f"{what}: varint of 2^64 or more", offset=start)
                if value > limit:
                    raise exc(f"{what} = {value} > {limit}", offset=start)
                return value
        raise CorruptError(f"{what}: varint longer than {MAX_VARINT_BYTES} bytes", offset=start)

    def svarint(self, what: str, lo: int, hi: int) -> int:
        start = self.pos
        v = unzigzag(self.varint(what))
        if not lo <= v <= hi:
            raise CorruptError(f"{what} = {v} outside [{lo}, {hi}]", offset=start)
        return v


class BitReader:
    """MSB-first bits ``[pos, end)`` of a bitarray; reading past ``end`` is an error."""

    def __init__(self, bits: bitarray, pos: int, end: int, what: str):
        self.bits = bits
        self.pos = pos
        self.end = end
        self.what = what

    def bit(self) -> int:
        if self.pos >= self.end:
            raise CorruptError(f"{self.what}: bits run past the end", offset=self.pos // 8)
        b = self.bits[self.pos]
        self.pos += 1
        return b

    def read(self, n: int) -> int:
        if n == 0:
            return 0
        if self.pos + n > self.end:
            raise CorruptError(f"{self.what}: bits run past the end", offset=self.pos // 8)
        v = ba2int(self.bits[self.pos:self.pos + n])
        self.pos += n
        return v


def to_bits(data: bytes) -> bitarray:
    a = bitarray(endian="big")
    a.frombytes(data)
    return a


# --- parsed structures ------------------------------------------------------------------------

@dataclass
class RefTable:
    kref: int
    nrun: int
    nclass: int
    lengths: list[int]  # one per symbol, 0 = no code

    @property
    def nsym(self) -> int:
        return SYM_FIRST + self.nclass * self.nrun


@dataclass
class RefMeta:
    """Quantization metadata as stored (field names match ``codec.QuantMeta``)."""
    bits: int
    scale: np.ndarray
    zero_point: np.ndarray | None = None
    axis: int | None = None
    block: int | None = None
    kind: str = "linear"


@dataclass
class RefEntry:
    name: str
    dtype: str
    shape: tuple
    group_mode: str
    group_size: int
    value_offset: int
    block_offset: int
    block_length: int
    crc32: int
    meta_length: int
    tid_base: int
    tid_bits: int
    len_bits: int
    numel: int = 0
    n_groups: int = 0
    group_table_bytes: int = 0
    payload_bytes: int = 0
    group_tables: list[int] = field(default_factory=list)   # table index of each group
    group_lengths: list[int] = field(default_factory=list)  # coded bits of each group
    mirror_period: int = 0   # v3 (§23): P, values per mirror row; 0 = no mirror
    mirror_skip: int = 0     # v3: a, leading values of each row outside the mirror
    mirror_bytes: int = 0    # v3: bytes of the mode string, ceil(n_rows / 4); 0 = no mirror
    mirror_modes: list[int] = field(default_factory=list)   # v3: each row's mode (0, 1, 2)
    name_tokens: list[bytes] = field(default_factory=list)  # v2: the name's tokens (§17.1)
    glen: int = 0            # v4 (§27): the one group's bits (the block has no group table)
    pred_mode: int = -1      # v5 (§32): the prediction transform's mode 0-7; -1 = none
    pred_shift: int = 0      # v6 (§34): images in dims ndim - 2 - pred_shift and the next
    floors: tuple = ()       # v7 (§36): each row's floor; () = not floored
    alias: int = -1          # v7 (§36): the index of the tensor whose entry this one shares


@dataclass
class RefPackage:
    version: int
    flags: int
    tables: list[RefTable]
    entries: list[RefEntry]
    tensors: dict[str, np.ndarray]
    metas: dict[str, RefMeta | None]


# --- header -----------------------------------------------------------------------------------

def _buffer(data) -> bytes:
    if isinstance(data, np.ndarray):
        if data.dtype != np.uint8 or data.ndim != 1:
            raise TypeError("a package array must be 1-D uint8")
        return data.tobytes()
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    raise TypeError(f"expected bytes-like package data, got {type(data).__name__}")


def read_header(data, limits: RefLimits = RefLimits()):
    """Parse preamble, footer, directory (tables and entries).  Returns (buf, version, flags,
    tables, entries, directory offset, chunks); chunks = (chunk_log2, chunk CRC32s) for v2-v7,
    None for v1."""
    buf = _buffer(data)
    n = len(buf)
    if n < PREAMBLE_SIZE:
        raise TruncatedError(f"{n} bytes is shorter than a preamble", offset=n)
    if buf[0:4] != MAGIC:
        raise UnsupportedError("bad magic", offset=0)
    version, flags = buf[4], buf[5]
    if version not in VERSIONS:
        raise UnsupportedError(f"format version {version}", offset=4)
    if flags != 0:
        raise UnsupportedError(f"unknown flags 0x{flags:02x}", offset=5)
    if buf[6] or buf[7]:
        raise CorruptError("reserved preamble bytes are not zero", offset=6)
    footer_size = FOOTER_SIZE_V4 if version >= 4 else FOOTER_SIZE
    if n < PREAMBLE_SIZE + footer_size:
        raise TruncatedError(f"{n} bytes is shorter than preamble + footer", offset=n)
    fpos = n - footer_size
    if version >= 4:  # v4: the directory ends where the footer starts
        dir_len, dir_crc = struct.unpack("<II", buf[fpos:fpos + 8])
        dir_off = fpos - dir_len
    else:
        dir_off, dir_len, dir_crc = struct.unpack("<QQI", buf[fpos:fpos + 20])
    if buf[n - 4:] != FOOTER_MAGIC:
        raise TruncatedError("footer magic missing", offset=n - 4)
    if dir_off < PREAMBLE_SIZE or dir_off + dir_len != fpos:
        raise CorruptError("directory does not end at the footer", offset=fpos)
    if zlib.crc32(buf[:PREAMBLE_SIZE] + buf[dir_off:fpos]) != dir_crc:
        raise ChecksumError("directory CRC32 mismatch", offset=fpos + (4 if version >= 4 else 16))
    r = ByteReader(buf, dir_off, fpos)
    if version >= 4:  # §28.1: the table pool is one bit string
        tables = _v4.read_tables(r, limits)
    else:
        ntab = r.varint("table count", limits.max_tables, LimitError)
        tables, room = [], [limits.max_table_symbols]
        for i in range(ntab):
            tables.append(_read_table(r, buf, i, room))
    chunks = None
    if version == 1:
        entries = _read_entries(r, limits, len(tables), dir_off)
    else:
        v2 = _v2
        count = r.varint("tensor count", limits.max_tensors, LimitError)
        names, seqs = v2.read_name_seqs(r, count, limits)
        if version >= 4:
            entries = _v4.read_entries(r, limits, len(tables), dir_off, names, version)
        else:
            entries = v2.read_entries(r, limits, len(tables), dir_off, names, version)
        for e, seq in zip(entries, seqs):
            e.name_tokens = seq
        chunks = v2.read_chunks(r, dir_off)
    if r.pos != fpos:
        raise CorruptError("stray bytes at the end of the directory", offset=r.pos)
    for e in entries:  # E7b: an empty tensor's shape, zero dims read as 1, within the limit
        size = np.dtype(e.dtype).itemsize
        for d in e.shape:
            size *= max(d, 1)
        if e.numel == 0 and size > limits.max_output_bytes:
            raise LimitError(f"empty tensor {e.name!r}: shape beyond max_output_bytes",
                             offset=dir_off)
    return buf, version, flags, tables, entries, dir_off, chunks


def _read_table(r: ByteReader, buf: bytes, i: int, room: list | None = None) -> RefTable:
    """One v1-v3 table (§6.2, checks T1-T7); ``room[0]``: symbols the tables may still have
    (§12 T4's running total), reduced by this table's."""
    at = r.pos
    kref = r.u8("kref")
    if kref > MAX_KREF:
        raise CorruptError(f"table {i}: kref {kref} > {MAX_KREF}", offset=at)
    nrun = r.varint("nrun", MAX_NRUN)
    if nrun < 1:
        raise CorruptError(f"table {i}: nrun 0", offset=at)
    nclass = r.varint("nclass", max_classes(kref))
    if nclass < 1:
        raise CorruptError(f"table {i}: nclass 0", offset=at)
    nsym = SYM_FIRST + nclass * nrun
    if nsym > MAX_SYMBOLS:
        raise LimitError(f"table {i}: {nsym} symbols > {MAX_SYMBOLS}", offset=at)
    if room is not None:
        room[0] -= nsym
        if room[0] < 0:
            raise LimitError(f"table {i}: the tables' alphabets exceed max_table_symbols",
                             offset=at)
    counts = [r.varint(f"count of length {ln}", nsym) for ln in range(1, MAX_CODE_LEN + 1)]
    if sum(counts) == 0:
        raise CorruptError(f"table {i} has no codes", offset=at)
    if sum(counts) > nsym:
        raise CorruptError(f"table {i}: more codes than symbols", offset=at)
    if sum(c << (MAX_CODE_LEN - ln) for ln, c in enumerate(counts, 1)) > 1 << MAX_CODE_LEN:
        raise CorruptError(f"table {i}: lengths violate the Kraft inequality", offset=at)
    # symbol list: Elias-gamma gaps, MSB first, from this byte to the end of the directory
    br = BitReader(to_bits(buf[r.pos:r.end]), 0, 8 * (r.end - r.pos), f"table {i} symbol list")
    lengths = [0] * nsym
    for ln, count in enumerate(counts, 1):
        prev = -1
        for _ in range(count):
            zeros = 0
            while br.bit() == 0:
                zeros += 1
                if zeros > MAX_GAMMA_ZEROS:
                    raise CorruptError(f"table {i}: bad Elias-gamma gap", offset=r.pos + br.pos // 8)
            gap = (1 << zeros) | br.read(zeros)
            s = prev + gap
            if s >= nsym:
                raise CorruptError(f"table {i}: symbol {s} beyond the alphabet", offset=r.pos)
            if lengths[s]:
                raise CorruptError(f"table {i}: symbol {s} listed twice", offset=r.pos)
            lengths[s] = ln
            prev = s
    r.pos += (br.pos + 7) // 8  # the list is padded to a whole byte
    if lengths[SYM_EOB] == 0:
        raise CorruptError(f"table {i} has no end-of-group code", offset=at)
    return RefTable(kref, nrun, nclass, lengths)


def _read_entries(r: ByteReader, limits: RefLimits, ntab: int, dir_off: int) -> list[RefEntry]:
    count = r.varint("tensor count", limits.max_tensors, LimitError)
    entries = []
    seen = set()
    prev = b""
    total_bytes = 0
    total_names = 0
    for _ in range(count):
        at = r.pos
        shared = r.varint("name prefix", len(prev))
        tail = r.varint("name length", limits.max_name_bytes - shared, LimitError)
        total_names += shared + tail
        if total_names > limits.max_names_bytes:
            raise LimitError("names exceed max_names_bytes", offset=at)
        raw = prev[:shared] + r.take(tail, "name")
        prev = raw
        try:
            name = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise CorruptError("tensor name is not UTF-8", offset=at) from None
        if name in seen:
            raise CorruptError(f"duplicate tensor name {name!r}", offset=at)
        seen.add(name)
        code = r.u8("dtype")
        if code not in DTYPE_BY_CODE:
            raise CorruptError(f"unknown dtype code {code}", offset=r.pos - 1)
        dtype = DTYPE_BY_CODE[code]
        ndim = r.varint("ndim", limits.max_ndim, LimitError)
        shape = tuple(r.varint("dim", 1 << 48) for _ in range(ndim))
        numel = 1
        for d in shape:
            numel *= d
        total_bytes += numel * np.dtype(dtype).itemsize
        if total_bytes > limits.max_output_bytes:
            raise LimitError("output would exceed max_output_bytes", offset=at)
        gm = r.u8("group mode")
        if gm not in GROUP_MODE_BY_CODE:
            raise CorruptError(f"unknown group mode {gm}", offset=r.pos - 1)
        gsize = r.varint("group size", 1 << 48)
        if gsize < 1:
            raise CorruptError("group size 0", offset=r.pos - 1)
        lo, hi = dtype_range(dtype)
        voff = r.svarint("value offset", lo, hi)
        boff = r.varint("block offset")
        blen = r.varint("block length")
        if boff < PREAMBLE_SIZE or boff + blen > dir_off:
            raise CorruptError("block outside the data area", offset=at)
        crc = r.u32("block CRC32")
        mlen = r.varint("meta length", blen)
        tid_base = r.varint("table base", max(ntab - 1, 0))
        tid_bits = r.u8("table-id bits")
        len_bits = r.u8("length bits")
        if tid_bits > MAX_TID_BITS or len_bits > MAX_LEN_BITS:
            raise CorruptError("group table field widths too large", offset=r.pos - 2)
        e = RefEntry(name, dtype, shape, GROUP_MODE_BY_CODE[gm], gsize, voff, boff, blen, crc,
                     mlen, tid_base, tid_bits, len_bits)
        e.numel = numel
        e.n_groups = -(-numel // gsize) if numel else 0
        e.group_table_bytes = (e.n_groups * (tid_bits + len_bits) + 7) // 8
        e.payload_bytes = blen - mlen - e.group_table_bytes
        if e.n_groups and ntab == 0:
            raise CorruptError(f"tensor {name!r} has groups but there are no tables", offset=at)
        if e.payload_bytes < 0 or (e.n_groups and len_bits == 0):
            raise CorruptError(f"tensor {name!r}: block too small for its group table", offset=at)
        if e.n_groups > 8 * e.payload_bytes:
            raise CorruptError(f"tensor {name!r}: groups cannot fit the payload", offset=at)
        entries.append(e)
    return entries


# --- quantization metadata --------------------------------------------------------------------

def read_meta(buf: bytes, start: int, end: int, shape: tuple) -> RefMeta:
    r = ByteReader(buf, start, end)
    if r.u8("meta version") != 1:
        raise CorruptError("unknown quantization metadata version", offset=start)
    kind = r.u8("meta kind")
    if kind >= len(META_KINDS):
        raise CorruptError(f"unknown quantization kind {kind}", offset=r.pos - 1)
    bits = r.u8("meta bits")
    if not 1 <= bits <= 32:
        raise CorruptError(f"quantization bits {bits}", offset=r.pos - 1)
    mode = r.u8("meta scale mode")
    axis = block = None
    if mode == 1:
        axis = r.svarint("meta axis", -len(shape), len(shape) - 1)
    elif mode == 2:
        block = r.varint("meta block", 1 << 62)
        if block < 1:
            raise CorruptError("meta block 0", offset=r.pos - 1)
    elif mode != 0:
        raise CorruptError(f"unknown scale mode {mode}", offset=r.pos - 1)
    sd = r.u8("meta scale dtype")
    if sd >= len(META_SCALE_DTYPES):
        raise CorruptError(f"unknown scale dtype {sd}", offset=r.pos - 1)
    dt = np.dtype(META_SCALE_DTYPES[sd])
    n = r.varint("meta scale count", (end - r.pos) // dt.itemsize)
    scale = np.frombuffer(r.take(n * dt.itemsize, "scales"), dtype=dt).astype(dt.newbyteorder("="))
    flag = r.u8("zero-point flag")
    zp = None
    if flag == 1:
        zp = np.array([r.svarint("zero point", -(1 << 62), 1 << 62) for _ in range(n)], np.int64)
    elif flag != 0:
        raise CorruptError(f"bad zero-point flag {flag}", offset=r.pos - 1)
    if r.pos != end:
        raise CorruptError("stray bytes after quantization metadata", offset=r.pos)
    if mode == 0 and n != 1:
        raise CorruptError("per-tensor metadata must have exactly one scale", offset=start)
    if META_KINDS[kind] == "linear":
        numel = 1
        for d in shape:
            numel *= d
        want = 1 if mode == 0 else shape[axis] if mode == 1 else -(-numel // block)
        if n != want:
            raise CorruptError(f"{n} scales, shape {shape} needs {want}", offset=start)
    return RefMeta(bits, scale, zp, axis, block, META_KINDS[kind])


# --- payload ----------------------------------------------------------------------------------

class CanonicalDecoder:
    """Bit-at-a-time canonical Huffman decoding (the classic count/first/index method)."""

    def __init__(self, lengths: list[int]):
        self.count = [0] * (MAX_CODE_LEN + 1)
        for ln in lengths:
            if ln:
                self.count[ln] += 1
        self.symbols = [s for ln in range(1, MAX_CODE_LEN + 1)
                        for s, l2 in enumerate(lengths) if l2 == ln]

    def decode(self, br: BitReader) -> int:
        code = first = index = 0
        for ln in range(1, MAX_CODE_LEN + 1):
            code |= br.bit()
            n = self.count[ln]
            if code - first < n:
                return self.symbols[index + code - first]
            index += n
            first = (first + n) << 1
            code <<= 1
        raise CorruptError("invalid Huffman code", offset=br.pos // 8)


def read_group_table(bits: bitarray, e: RefEntry, ntab: int) -> None:
    if e.glen:  # v4 (§27): one group, its table the base and its length in the entry
        e.group_tables.append(e.tid_base)
        e.group_lengths.append(e.glen)
        return
    start = e.block_offset + e.meta_length + e.mirror_bytes  # v3: after the mirror modes
    br = BitReader(bits, 8 * start, 8 * (start + e.group_table_bytes), "group table")
    for _ in range(e.n_groups):
        t = br.read(e.tid_bits) + e.tid_base
        ln = br.read(e.len_bits)
        if t >= ntab:
            raise CorruptError(f"tensor {e.name!r}: a group names a missing table",
                               offset=e.block_offset)
        if ln < 1:
            raise CorruptError(f"tensor {e.name!r}: a group has length 0", offset=e.block_offset)
        e.group_tables.append(t)
        e.group_lengths.append(ln)
    if (sum(e.group_lengths) + 7) // 8 != e.payload_bytes:
        raise CorruptError(f"tensor {e.name!r}: group lengths do not add up to the payload",
                           offset=e.block_offset)


def decode_group(br: BitReader, table: RefTable, dec: CanonicalDecoder, n: int, voff: int,
                 lo: int, hi: int) -> list[int]:
    """Decode one group of n values (stored values are voff + signed magnitude)."""
    out = [voff] * n
    i = 0
    while True:
        sym = dec.decode(br)
        if sym == SYM_EOB:
            if br.pos != br.end:
                raise CorruptError("end-of-group symbol before the group's recorded length",
                                   offset=br.pos // 8)
            return out
        if sym == SYM_ESC:
            i += table.nrun
            if i > n:
                raise CorruptError("zero run past the end of the group", offset=br.pos // 8)
            continue
        cls, run = divmod(sym - SYM_FIRST, table.nrun)
        i += run
        if i >= n:
            raise CorruptError("value past the end of the group", offset=br.pos // 8)
        base, e = class_base(cls, table.kref)
        m = base + br.read(e)
        v = voff - m if br.bit() else voff + m
        if not lo <= v <= hi:
            raise CorruptError(f"decoded value {v} out of range", offset=br.pos // 8)
        out[i] = v
        i += 1


def decode_tensor(bits: bitarray, e: RefEntry, tables: list[RefTable],
                  decoders: dict[int, CanonicalDecoder]) -> np.ndarray:
    lo, hi = dtype_range(e.dtype)
    values: list[int] = []
    pos = 8 * (e.block_offset + e.meta_length + e.mirror_bytes + e.group_table_bytes)
    for g in range(e.n_groups):
        n = min(e.group_size, e.numel - g * e.group_size)
        t = e.group_tables[g]
        if t not in decoders:
            decoders[t] = CanonicalDecoder(tables[t].lengths)
        br = BitReader(bits, pos, pos + e.group_lengths[g], f"tensor {e.name!r} group {g}")
        values += decode_group(br, tables[t], decoders[t], n, e.value_offset, lo, hi)
        pos += e.group_lengths[g]
    if e.mirror_period:  # v3 (§23): undo the mirror transform on the stored values
        _v2.unmirror(values, e)
    if e.pred_mode >= 0:  # v5 (§32), v6 (§34): the values are residuals; rebuild them
        _pred.rebuild(values, e.shape, e.pred_mode, e.dtype, e.pred_shift)
    if e.floors:  # v7 (§36): the values are s; add the row floors back (R3)
        _floor.unfloor(values, e.floors, e.dtype, e.name, e.block_offset)
    return np.array(values, dtype=e.dtype).reshape(e.shape)


def read_package(data, *, limits: RefLimits = RefLimits(), decode: bool = True,
                 verify: bool = True) -> RefPackage:
    """Parse and (if ``decode``) decode every tensor of a package.

    For each tensor, in directory order: block CRC32 (skipped if not ``verify``; the directory
    CRC is always checked), quantization metadata, mirror modes (v3), group table, groups,
    then (v3) the inverse mirror transform, (v5, v6) the prediction rebuild or (v7) the row
    floors.  A v7 alias (§36) takes its target's metadata, groups and values (a copy).  Raises
    only :class:`codec.errors.CodecError` subclasses for bad bytes.
    """
    try:
        buf, version, flags, tables, entries, dir_off, chunks = read_header(data, limits)
        bits = to_bits(buf)
        tensors: dict[str, np.ndarray] = {}
        metas: dict[str, RefMeta | None] = {}
        decoders: dict[int, CanonicalDecoder] = {}
        for e in entries:
            if e.alias >= 0:  # v7 (§36): the target (an earlier entry) is read already
                t = entries[e.alias]
                e.group_tables, e.group_lengths = list(t.group_tables), list(t.group_lengths)
                e.mirror_modes = list(t.mirror_modes)
                metas[e.name] = metas[t.name]
                if decode:
                    tensors[e.name] = tensors[t.name].copy()
                continue
            block = buf[e.block_offset:e.block_offset + e.block_length]
            if verify and chunks is not None:
                _v2.check_chunks(buf, e, chunks[0], chunks[1], dir_off)
            elif verify and zlib.crc32(block) != e.crc32:
                raise ChecksumError(f"tensor {e.name!r}: block CRC32 mismatch",
                                    offset=e.block_offset)
            metas[e.name] = (read_meta(buf, e.block_offset, e.block_offset + e.meta_length,
                                       e.shape) if e.meta_length else None)
            if e.mirror_period:  # v3, X4: the mode string, between metadata and group table
                _v2.read_mirror_modes(buf, e)
            read_group_table(bits, e, len(tables))
            if decode:
                tensors[e.name] = decode_tensor(bits, e, tables, decoders)
        return RefPackage(version, flags, tables, entries, tensors, metas)
    except (CodecError, TypeError):
        raise
    except (IndexError, ValueError, OverflowError, MemoryError) as exc:  # defence in depth
        raise CorruptError(f"malformed package: {type(exc).__name__}: {exc}") from exc


def unpack(data, *, limits: RefLimits = RefLimits(), verify: bool = True) -> dict[str, np.ndarray]:
    """``{name: array}`` in package order."""
    return read_package(data, limits=limits, verify=verify).tensors


def unpack_with_meta(data, *, limits: RefLimits = RefLimits()):
    """``({name: array}, {name: RefMeta or None})``."""
    p = read_package(data, limits=limits)
    return p.tensors, p.metas


def decode(data) -> np.ndarray:
    """The tensor of a single-tensor package."""
    p = read_package(data)
    if len(p.entries) != 1:
        raise CorruptError(f"expected a single-tensor package, got {len(p.entries)} tensors")
    return p.tensors[p.entries[0].name]


# the v2 directory reader uses the helpers above (imported last: it imports this module)
from . import decoder_v2 as _v2  # noqa: E402
from . import decoder_v4 as _v4  # noqa: E402
from . import predict_v5 as _pred  # noqa: E402
from . import floor_v7 as _floor  # noqa: E402
