"""Format constants (v1 and v2) and the header (directory) structures: write and parse, no decoding.

File layout (docs/FORMAT.md is normative)::

    preamble (8)  | tensor blocks ... | directory | footer (24)
    preamble  = magic "SPKG", version u8, flags u8, reserved u16 (0)
    footer    = directory offset u64, directory length u64,
                CRC32 of (preamble + directory) u32, footer magic "GKPS"
    block     = [quantization metadata][group table][payload bits]
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

import numpy as np

from ._bytes import Reader, put_svarint, put_varint
from .errors import ChecksumError, CorruptError, LimitError, TruncatedError, UnsupportedError
from .huffman import read_lengths, write_lengths
from . import format_v2 as v2
from . import format_v4 as v4
from .kernels.directory import parse_directory
from .kernels.directory_v2 import parse_directory_v2
from .kernels.symbols import MAX_KREF, MAX_NRUN, SYM_EOB, SYM_FIRST, max_classes
from .meta import QuantMeta

MAGIC = b"SPKG"
FOOTER_MAGIC = b"GKPS"
VERSION = 4          # what the writer writes by default (format v4, docs/FORMAT.md §27-§31; v5
#                      when a tensor gets the prediction transform, §32; v6 when one is
#                      predicted over other dimensions than its last two, §34)
LATEST_VERSION = 7   # the newest version this package reads and writes (v7: §36-§37)
SUPPORTED_VERSIONS = (1, 2, 3, 4, 5, 6, 7)
FLAGS_KNOWN = 0  # v1 defines no flags; a reader rejects any flag bit it does not know
PREAMBLE_SIZE = 8
FOOTER_SIZE = 24
FOOTER_SIZE_V4 = 12

DTYPES = {1: np.dtype("int8"), 2: np.dtype("uint8"), 3: np.dtype("int16"),
          4: np.dtype("uint16"), 5: np.dtype("int32"), 6: np.dtype("uint32")}
DTYPE_CODES = {v: k for k, v in DTYPES.items()}
GROUP_MODES = {0: "count", 1: "kernel", 2: "kernels"}


@dataclass(frozen=True)
class Limits:
    """Caps a reader enforces before allocating (issue: hostile input)."""
    max_output_bytes: int = 1 << 31
    max_tensors: int = 1 << 20
    max_name_bytes: int = 1 << 16
    max_names_bytes: int = 1 << 26    # all names together (front coding can repeat long prefixes)
    max_ndim: int = 32
    max_tables: int = 1024
    max_table_symbols: int = 1 << 20   # alphabet sizes of all tables together


DEFAULT_LIMITS = Limits()


@dataclass
class Table:
    """One canonical Huffman table over the (run, class) alphabet of (kref, nrun, nclass)."""
    kref: int
    nrun: int
    nclass: int
    lengths: np.ndarray  # uint8 per symbol, 0 = no code

    @property
    def nsym(self) -> int:
        return SYM_FIRST + self.nclass * self.nrun

    def to_bytes(self, out: bytearray) -> None:
        out.append(self.kref)
        put_varint(out, self.nrun)
        put_varint(out, self.nclass)
        write_lengths(out, self.lengths)


@dataclass
class TensorEntry:
    name: str
    dtype: np.dtype
    shape: tuple[int, ...]
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
    meta: QuantMeta | None = field(default=None, repr=False)
    mirror_period: int = 0                    # v3: values per mirror row (0 = no mirror)
    mirror_skip: int = 0                      # v3: leading values of a row outside the mirror
    glen: int = 0                             # v4: the one group's bits (no group table), or 0
    pred_mode: int = -1                       # v5: the prediction transform's mode 0-7, -1 none
    pred_shift: int = 0                       # v6: images in dims ndim-2-shift and the next
    floors: tuple = ()                        # v7: each row's floor (§36), () = none
    alias: int = -1                           # v7: the tensor whose entry this one shares
    numel: int = field(init=False)
    n_groups: int = field(init=False)
    group_table_bytes: int = field(init=False)
    payload_bytes: int = field(init=False)
    mirror_bytes: int = field(init=False)

    def __post_init__(self):
        n = 1
        for d in self.shape:
            n *= d
        self.numel = n
        self.n_groups = -(-n // self.group_size) if n else 0
        self.group_table_bytes = (0 if self.glen else
                                  (self.n_groups * (self.tid_bits + self.len_bits) + 7) // 8)
        self.mirror_bytes = (n // self.mirror_period + 3) // 4 if self.mirror_period else 0
        self.payload_bytes = (self.block_length - self.meta_length - self.mirror_bytes
                              - self.group_table_bytes)


@dataclass
class Directory:
    version: int
    flags: int
    tables: list[Table]
    tensors: list[TensorEntry]
    directory_offset: int
    directory_length: int
    chunk_log2: int = 0                       # v2: CRC chunk size 2**chunk_log2 (v1: 0)
    chunk_crcs: np.ndarray | None = field(default=None, repr=False)  # v2: one CRC32 a chunk


_RANGES = {dt: (int(np.iinfo(dt).min), int(np.iinfo(dt).max)) for dt in DTYPES.values()}


def value_range(dtype: np.dtype) -> tuple[int, int]:
    dtype = np.dtype(dtype)
    if dtype in _RANGES:
        return _RANGES[dtype]
    info = np.iinfo(dtype)
    return int(info.min), int(info.max)


def write_directory(tables: list[Table], entries: list[TensorEntry]) -> bytes:
    out = bytearray()
    put_varint(out, len(tables))
    for t in tables:
        t.to_bytes(out)
    put_varint(out, len(entries))
    prev = b""
    mode_codes = {v: k for k, v in GROUP_MODES.items()}
    for e in entries:
        name = e.name.encode("utf-8")
        k, m = 0, min(len(name), len(prev))  # k: longest common prefix (binary search)
        while k < m:
            mid = (k + m + 1) // 2
            if name[:mid] == prev[:mid]:
                k = mid
            else:
                m = mid - 1
        put_varint(out, k)
        put_varint(out, len(name) - k)
        out += name[k:]
        prev = name
        out.append(DTYPE_CODES[e.dtype])
        put_varint(out, len(e.shape))
        for d in e.shape:
            put_varint(out, d)
        out.append(mode_codes[e.group_mode])
        put_varint(out, e.group_size)
        put_svarint(out, e.value_offset)
        put_varint(out, e.block_offset)
        put_varint(out, e.block_length)
        out += struct.pack("<I", e.crc32)
        put_varint(out, e.meta_length)
        put_varint(out, e.tid_base)
        out.append(e.tid_bits)
        out.append(e.len_bits)
    return bytes(out)


def preamble(flags: int = 0, version: int = 1) -> bytes:
    """The 8 preamble bytes; version 1 unless given (the pair of :func:`write_directory`, the
    v1 directory writer; ``format_v2.write_directory`` writes v2's)."""
    return MAGIC + bytes([version, flags, 0, 0])


def footer_size(version: int) -> int:
    """Footer bytes: 24 (v1-v3: dir_offset u64, dir_length u64, dir_crc u32, magic), 12 (v4,
    §27: dir_length u32, dir_crc u32, magic; the directory ends where the footer starts)."""
    return FOOTER_SIZE_V4 if version >= 4 else FOOTER_SIZE


def footer(dir_offset: int, dir_bytes: bytes, pre: bytes) -> bytes:
    crc = zlib.crc32(dir_bytes, zlib.crc32(pre))
    if pre[4] >= 4:
        if len(dir_bytes) >= 1 << 32:
            raise ValueError("a format v4 directory is limited to 4 GiB")
        return struct.pack("<II", len(dir_bytes), crc) + FOOTER_MAGIC
    return struct.pack("<QQI", dir_offset, len(dir_bytes), crc) + FOOTER_MAGIC


def check_preamble(buf) -> tuple[int, int]:
    if len(buf) < PREAMBLE_SIZE:
        raise TruncatedError(f"input has {len(buf)} bytes, a package has at least "
                             f"{PREAMBLE_SIZE + FOOTER_SIZE}", offset=len(buf))
    if bytes(buf[0:4]) != MAGIC:
        raise UnsupportedError(f"not a codec package: magic {bytes(buf[0:4])!r}, expected {MAGIC!r}",
                               offset=0, value=bytes(buf[0:4]))
    version = int(buf[4])
    if version not in SUPPORTED_VERSIONS:
        raise UnsupportedError(f"format version {version} is not supported (this reader knows "
                               f"{list(SUPPORTED_VERSIONS)})", offset=4, value=version)
    flags = int(buf[5])
    if flags & ~FLAGS_KNOWN:
        raise UnsupportedError(f"unknown format flags 0x{flags:02x}", offset=5, value=flags)
    if buf[6] or buf[7]:
        raise CorruptError("reserved preamble bytes are not zero", offset=6)
    return version, flags


def read_directory(buf, limits: Limits = DEFAULT_LIMITS, *, check_crc: bool = True) -> Directory:
    """Parse and validate the header of a package held in ``buf`` (bytes-like or memmap)."""
    version, flags, dir_off, dir_len, raw = directory_bytes(buf, check_crc=check_crc)
    # the kernel parses valid directories; on any problem the Python parser names it exactly
    # (or accepts what the kernel declined, e.g. a non-shortest varint)
    if version == 1:
        parsed = _parse_fast(raw, dir_off, limits) or _parse_slow(raw, dir_off, limits)
        d = Directory(version, flags, parsed[0], parsed[1], dir_off, dir_len)
    else:
        tables, entries, log2, crcs = (_parse_fast_v2(raw, dir_off, limits, version)
                                       or _parse_slow_v2(raw, dir_off, limits, version))
        d = Directory(version, flags, tables, entries, dir_off, dir_len, log2, crcs)
    check_shapes(d.tensors, limits, dir_off)
    return d


def directory_bytes(buf, *, check_crc: bool = True) -> tuple[int, int, int, int, bytes]:
    """(version, flags, dir_offset, dir_length, directory bytes) of a package: preamble and
    footer checked (P1-P5, F1-F4) and, with ``check_crc``, the directory's CRC32."""
    n = len(buf)
    version, flags = check_preamble(buf)
    fsize = footer_size(version)
    if n < PREAMBLE_SIZE + fsize:
        raise TruncatedError(f"input has {n} bytes, a package has at least "
                             f"{PREAMBLE_SIZE + fsize}", offset=n)
    fpos = n - fsize
    if version >= 4:
        dir_len, dir_crc = struct.unpack_from("<II", buf, fpos)
        dir_off = fpos - dir_len
    else:
        dir_off, dir_len, dir_crc = struct.unpack_from("<QQI", buf, fpos)
    if bytes(buf[n - 4:n]) != FOOTER_MAGIC:
        raise TruncatedError("footer magic missing: the package is truncated or not a package",
                             offset=n - 4)
    if dir_off < PREAMBLE_SIZE or dir_off + dir_len != fpos:
        raise CorruptError(f"directory [{dir_off}, +{dir_len}) does not end at the footer ({fpos})",
                           offset=fpos, value=dir_off)
    dir_view = memoryview(buf)[dir_off:fpos] if not isinstance(buf, np.ndarray) else buf[dir_off:fpos]
    if check_crc:
        crc = zlib.crc32(dir_view, zlib.crc32(bytes(buf[:PREAMBLE_SIZE])))
        if crc != dir_crc:
            raise ChecksumError(f"directory CRC32 mismatch: stored {dir_crc:08x}, computed {crc:08x}",
                                offset=fpos + (4 if version >= 4 else 16), value=dir_crc)
    return version, flags, dir_off, dir_len, bytes(dir_view)


def check_shapes(entries, limits: Limits, dir_off: int) -> None:
    """E7b (a reader limit, both versions): an empty tensor's shape with its zero dims read as 1
    stays within max_output_bytes, so that an array of that shape can exist (numpy rejects
    shapes such as (0, 2^31, 2^48))."""
    for e in entries:
        if not e.numel and not empty_shape_fits(e.dtype.itemsize, e.shape, limits):
            raise LimitError(f"tensor {e.name!r}: empty shape {e.shape} is beyond "
                             f"max_output_bytes={limits.max_output_bytes} with its zero dims "
                             f"read as 1", offset=dir_off, value=e.shape)


def empty_shape_fits(itemsize: int, shape, limits: Limits) -> bool:
    """E7b for one empty tensor: its shape with zero dims read as 1, in bytes, within
    max_output_bytes."""
    n = itemsize
    for dim in shape:
        n *= max(int(dim), 1)
    return n <= limits.max_output_bytes


def _parse_slow_v2(raw: bytes, dir_off: int, limits: Limits, version: int = 2):
    """(tables, entries, chunk_log2, chunk CRCs) of a v2 or v3 directory, exact errors."""
    r = Reader(raw, 0, len(raw), base=dir_off)
    tables = (v4.read_tables(r, limits, Table, max_classes) if version >= 4
              else _read_tables(r, limits))
    count = r.varint("tensor count", limit=limits.max_tensors, exc=LimitError)
    names = v2.read_names(r, count, limits)
    if version >= 4:
        entries = v4.read_entries(r, limits, len(tables), dir_off, names, TensorEntry, DTYPES,
                                  value_range, version)
    else:
        entries = v2.read_entries(r, limits, len(tables), dir_off, names, TensorEntry, DTYPES,
                                  value_range, version)
    log2, crcs = v2.read_chunks(r, dir_off)
    if r.pos != r.end:
        raise CorruptError(f"{r.end - r.pos} stray bytes at the end of the directory",
                           offset=r.offset)
    return tables, entries, log2, crcs


def directory_arrays_v2(raw: bytes, dir_off: int, limits: Limits, version: int = 2):
    """The v2 / v3 directory kernel's arrays (chunk_log2, tables, code lengths, entries,
    dims, name bytes, chunk CRCs), or None when it declines."""
    got = parse_directory_v2(np.frombuffer(raw, np.uint8), dir_off, _limit_array(limits),
                             _MAX_CLASSES, SYM_FIRST, version)
    return None if got[0] < 0 else got


def _parse_fast_v2(raw: bytes, dir_off: int, limits: Limits, version: int = 2):
    """The v2 / v3 directory kernel's result, or None (then the Python parser decides)."""
    got = directory_arrays_v2(raw, dir_off, limits, version)
    if got is None:
        return None
    st, tabs, lens, ents, shapes, names, crcs = got
    tables = _tables_of(tabs, lens)
    entries = _entries_of(ents, shapes, names, v2.GROUP_MODE_OF_CODE)
    if entries is None:
        return None
    return tables, entries, st, crcs


def _parse_slow(raw: bytes, dir_off: int, limits: Limits):
    """(tables, entries) from the Python parser, which raises the exact CodecError."""
    r = Reader(raw, 0, len(raw), base=dir_off)
    tables = _read_tables(r, limits)
    entries = _read_entries(r, limits, len(tables), dir_off)
    r.ctx = ""
    if r.pos != r.end:
        raise CorruptError(f"{r.end - r.pos} stray bytes at the end of the directory",
                           offset=r.offset)
    return tables, entries


_MAX_CLASSES = np.array([max_classes(k) for k in range(MAX_KREF + 1)], np.int64)


def _parse_fast(raw: bytes, dir_off: int, limits: Limits):
    """(tables, entries) from the directory kernel, or None when it declines (then the
    Python parser below decides and names the problem)."""
    st, tabs, lens, ents, shapes, names = parse_directory(
        np.frombuffer(raw, np.uint8), dir_off, _limit_array(limits), _MAX_CLASSES, SYM_FIRST)
    if st != 0:
        return None
    entries = _entries_of(ents, shapes, names, GROUP_MODES)
    return None if entries is None else (_tables_of(tabs, lens), entries)


def _limit_array(limits: Limits) -> np.ndarray:
    """The directory kernels' limits array (which they only read; the last one built is
    reused: ~2.4 us a decode)."""
    global _LIMIT_ARRAY
    last = _LIMIT_ARRAY  # (one tuple: consistent whatever other threads store)
    if last[0] is limits:
        return last[1]
    big = (1 << 62) - 1
    arr = np.array([min(x, big) for x in (
        limits.max_tables, limits.max_table_symbols, limits.max_tensors, limits.max_name_bytes,
        limits.max_names_bytes, limits.max_ndim, limits.max_output_bytes)], np.int64)
    _LIMIT_ARRAY = (limits, arr)
    return arr


_LIMIT_ARRAY: tuple = (None, None)  # (Limits, its array)


def _tables_of(tabs, lens) -> list[Table]:
    return [Table(kref, nrun, nclass, lens[off:off + SYM_FIRST + nclass * nrun])
            for kref, nrun, nclass, off in tabs.tolist()]


def _entries_of(ents, shapes, names, modes):
    """TensorEntry objects from a directory kernel's arrays; None if a name is not UTF-8 or
    repeats (E3: the Python parser then names it)."""
    nb = names.tobytes()
    dims = shapes.tolist()
    entries = []
    seen: set[str] = set()
    for (noff, nlen, code, ndim, soff, _numel, gm, gsize, voff, boff, blen, crc, mlen, tbase,
         tbits, lbits, mperiod, mskip, glen, pred, pshift, nfl, foff, alias) in ents.tolist():
        try:
            name = nb[noff:noff + nlen].decode("utf-8")
        except UnicodeDecodeError:
            return None
        if name in seen:
            return None
        seen.add(name)
        entries.append(TensorEntry(name, DTYPES[code], tuple(dims[soff:soff + ndim]),
                                   modes[gm], gsize, voff, boff, blen, crc, mlen, tbase,
                                   tbits, lbits, None, mperiod, mskip, glen, pred - 1, pshift,
                                   tuple(dims[foff:foff + nfl]), alias - 1))
    return entries


def _read_tables(r: Reader, limits: Limits) -> list[Table]:
    ntab = r.varint("table count", limit=limits.max_tables, exc=LimitError)
    tables = []
    total_sym = 0
    for i in range(ntab):
        at = r.offset
        kref = r.u8(f"table {i} kref")
        if kref > MAX_KREF:
            raise CorruptError(f"table {i}: kref {kref} > {MAX_KREF}", offset=at, value=kref)
        nrun = r.varint(f"table {i} nrun", limit=MAX_NRUN)
        if nrun < 1:
            raise CorruptError(f"table {i}: nrun is 0", offset=r.offset - 1)
        nclass = r.varint(f"table {i} nclass", limit=max_classes(kref))
        if nclass < 1:
            raise CorruptError(f"table {i}: nclass is 0", offset=r.offset - 1)
        nsym = SYM_FIRST + nclass * nrun
        total_sym = v4.count_symbols(i, nsym, total_sym, limits, at)
        lengths = read_lengths(r, nsym)
        if lengths[SYM_EOB] == 0:
            raise CorruptError(f"table {i} has no end-of-group code", offset=at)
        tables.append(Table(kref, nrun, nclass, lengths))
    return tables


def _read_entries(r: Reader, limits: Limits, ntab: int, dir_off: int) -> list[TensorEntry]:
    count = r.varint("tensor count", limit=limits.max_tensors, exc=LimitError)
    entries: list[TensorEntry] = []
    names: set[str] = set()
    prev = b""
    total_out = 0
    total_names = 0
    for i in range(count):
        at = r.offset
        r.ctx = f"tensor {i} "
        shared = r.varint("name prefix", limit=len(prev))
        tail = r.varint("name length", limit=limits.max_name_bytes - shared, exc=LimitError)
        total_names += shared + tail
        if total_names > limits.max_names_bytes:
            raise LimitError(f"tensor {i}: names exceed max_names_bytes={limits.max_names_bytes}",
                             offset=at, value=total_names)
        raw = prev[:shared] + r.bytes(tail, "name")
        prev = raw
        try:
            name = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise CorruptError(f"tensor {i} name is not UTF-8", offset=at) from None
        if name in names:
            raise CorruptError(f"duplicate tensor name {name!r}", offset=at, value=name)
        names.add(name)
        r.ctx = f"tensor {name!r} "
        code = r.u8("dtype")
        if code not in DTYPES:
            raise CorruptError(f"tensor {name!r}: unknown dtype code {code}", offset=r.offset - 1,
                               value=code)
        dtype = DTYPES[code]
        ndim = r.varint("ndim", limit=limits.max_ndim, exc=LimitError)
        shape = tuple(r.varint("dim", limit=1 << 48) for _ in range(ndim))
        numel = 1
        for d in shape:
            numel *= d
        total_out += numel * dtype.itemsize
        if total_out > limits.max_output_bytes:
            raise LimitError(f"tensor {name!r}: output would exceed max_output_bytes="
                             f"{limits.max_output_bytes}", offset=at, value=total_out)
        gm = r.u8("group mode")
        if gm not in GROUP_MODES:
            raise CorruptError(f"tensor {name!r}: unknown group mode {gm}", offset=r.offset - 1)
        gsize = r.varint("group size", limit=1 << 48)
        if gsize < 1:
            raise CorruptError(f"tensor {name!r}: group size 0", offset=r.offset - 1)
        lo, hi = value_range(dtype)
        voff = r.svarint("value offset", lo, hi)
        boff = r.varint("block offset")
        blen = r.varint("block length")
        if boff < PREAMBLE_SIZE or boff + blen > dir_off:
            raise CorruptError(f"tensor {name!r}: block [{boff}, +{blen}) outside the data area "
                               f"[{PREAMBLE_SIZE}, {dir_off})", offset=at, value=boff)
        crc = r.u32("CRC32")
        mlen = r.varint("meta length", limit=blen)
        tid_base = r.varint("table base", limit=max(ntab - 1, 0))
        tid_bits = r.u8("table-id bits")
        len_bits = r.u8("length bits")
        if tid_bits > 12 or len_bits > 56:
            raise CorruptError(f"tensor {name!r}: group table widths {tid_bits}/{len_bits} too large",
                               offset=r.offset - 2)
        e = TensorEntry(name, dtype, shape, GROUP_MODES[gm], gsize, voff, boff, blen, crc, mlen,
                        tid_base, tid_bits, len_bits)
        if e.n_groups and ntab == 0:
            raise CorruptError(f"tensor {name!r} has data but the package has no tables", offset=at)
        if e.payload_bytes < 0 or (e.n_groups and e.len_bits == 0):
            raise CorruptError(f"tensor {name!r}: block of {blen} bytes cannot hold its group table",
                               offset=at, value=blen)
        if e.n_groups == 0 and e.payload_bytes != 0:
            raise CorruptError(f"tensor {name!r} has no elements but {e.payload_bytes} payload "
                               f"bytes", offset=at, value=e.payload_bytes)
        if e.n_groups > e.payload_bytes * 8:
            raise CorruptError(f"tensor {name!r}: {e.n_groups} groups cannot fit in "
                               f"{e.payload_bytes} payload bytes", offset=at)
        entries.append(e)
    return entries
