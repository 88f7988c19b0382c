"""Format v2 directory: compact entries, token names, chunk CRCs (docs/FORMAT.md §16-§22).

Only the directory differs from v1 (preamble version byte 2); blocks, Huffman tables and the
footer are v1's.  This module writes the v2 directory, tokenizes names, computes chunk CRCs
while blocks stream out, and holds the Python parser that names every violation exactly
(the Numba kernel in kernels/directory_v2.py is the fast path; the two are fuzzed against
each other in tests/test_directory_kernel.py).
"""
from __future__ import annotations

import re
import zlib

import numpy as np

from ._bytes import Reader, put_svarint, put_varint
from .errors import CorruptError, LimitError, TruncatedError
from .kernels.crc import CRC_TABLES, crc_range
from .kernels.intrinsics import HAS_CLMUL

PREAMBLE_SIZE = 8
DEFAULT_CHUNK_LOG2 = 16          # writer: 64 KiB CRC chunks
MIN_CHUNK_LOG2, MAX_CHUNK_LOG2 = 6, 31
MAX_COUNT_BITS = 32
MAX_WIDTHS = 12 * 64 + 56        # tid_bits * 64 + len_bits
MAX_DIM = 1 << 48
# flags byte: bits 0-2 dtype code, bits 3-4 group code, bit 5 value offset, bit 6 meta length
G_COUNT, G_KERNEL, G_KERNELS, G_TENSOR = 0, 1, 2, 3
F_VOFF, F_META, F_MIRROR = 0x20, 0x40, 0x80  # bit 7: reserved in v2, the mirror in v3
GROUP_MODE_OF_CODE = {G_COUNT: "count", G_KERNEL: "kernel", G_KERNELS: "kernels",
                      G_TENSOR: "count"}
TOKEN = re.compile(rb"[^/._:;]*[/._:;]|[^/._:;]+")


def kernel_size(shape) -> int:
    """K: values per output channel, ``max(1, prod(shape[1:]))`` (``max(1, numel)`` below 2-D)."""
    n = 1
    for d in (shape[1:] if len(shape) >= 2 else shape):
        n *= int(d)
    return max(1, n)


def numel_of(shape) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def group_code(mode: str, gsize: int, shape) -> tuple[int, int | None]:
    """(group code, explicit varint or None) the v2 writer stores for a tensor's grouping."""
    K = kernel_size(shape)
    if mode == "kernel" and gsize == K:
        return G_KERNEL, None
    if numel_of(shape) <= gsize:
        return G_TENSOR, None
    if mode == "kernels" and gsize % K == 0:
        return G_KERNELS, gsize // K
    return G_COUNT, gsize


def tokens(name: bytes) -> list[bytes]:
    """Writer convention: maximal runs of non-delimiters each with its following delimiter."""
    return TOKEN.findall(name)


def name_tokens(names: list[bytes]) -> list[list[bytes]]:
    """Every name's tokens (§21): :func:`tokens`, then tokens that always occur together
    joined: ``a`` and the ``b`` after it become one token when, over all the names, every ``a``
    is followed by ``b`` and every ``b`` follows an ``a`` (chains join whole: ``batch_``
    ``normalization_`` in fer's names).  Never longer: one dictionary entry and at least one
    token id fewer per join."""
    seqs = [tokens(n) for n in names]
    after: dict = {}   # token -> the token after each of its uses (None: varies, or an end)
    before: dict = {}  # token -> the token before each of its uses (None: varies, or a start)
    for s in seqs:
        for i, t in enumerate(s):
            a = s[i + 1] if i + 1 < len(s) else None
            b = s[i - 1] if i else None
            after[t] = a if after.get(t, a) == a else None
            before[t] = b if before.get(t, b) == b else None
    out = []
    for s in seqs:
        merged: list[bytes] = []
        for i, t in enumerate(s):
            if i and after[s[i - 1]] == t and before[t] == s[i - 1] and s[i - 1] != t:
                merged[-1] += t
            else:
                merged.append(t)
        out.append(merged)
    return out


def chunk_count(data_len: int, log2: int) -> int:
    return (data_len + (1 << log2) - 1) >> log2


def chunk_crc(buf, c: int, log2: int, dir_off: int) -> tuple[int, int, int]:
    """(start, end, CRC32) of data chunk ``c`` of a package in ``buf`` (§19): the folding
    kernel (kernels/crc.py, 2x zlib's speed) on a uint8 array where the host has it."""
    lo = PREAMBLE_SIZE + (c << log2)
    hi = min(lo + (1 << log2), dir_off)
    if HAS_CLMUL and isinstance(buf, np.ndarray) and buf.dtype == np.uint8 and buf.ndim == 1:
        crc = int(crc_range(buf, np.int64(lo), np.int64(hi), CRC_TABLES))
        if crc >= 0:
            return lo, hi, crc
    return lo, hi, zlib.crc32(buf[lo:hi])


class ChunkCRC:
    """CRC32 of every ``2**log2``-byte chunk of the data area, fed as blocks are written."""

    def __init__(self, log2: int = DEFAULT_CHUNK_LOG2):
        self.log2 = log2
        self.size = 1 << log2
        self.crcs: list[int] = []
        self.cur = 0
        self.fill = 0

    def feed(self, data) -> None:
        mv = memoryview(data).cast("B")
        while len(mv):
            take = min(len(mv), self.size - self.fill)
            self.cur = zlib.crc32(mv[:take], self.cur)
            self.fill += take
            mv = mv[take:]
            if self.fill == self.size:
                self.crcs.append(self.cur)
                self.cur, self.fill = 0, 0

    def finish(self) -> list[int]:
        if self.fill:
            self.crcs.append(self.cur)
            self.cur, self.fill = 0, 0
        return self.crcs


def write_names(out: bytearray, names: list[str], version: int = 2) -> None:
    """Token dictionary (first-use order) and the name bit string (§17.2); from version 7 with
    :func:`merge_followers`' tokens (§36)."""
    toks = name_tokens([n.encode("utf-8") for n in names])
    if version >= 7:
        toks = merge_followers(toks)
    out += names_section(toks)


def merge_followers(toks: list[list[bytes]], tries: int = 4) -> list[list[bytes]]:
    """§36's writer merge: while it shortens the name section, a token ``x`` always followed by
    the same token ``y != x`` becomes ``xy``: of the candidates, the ``tries`` with the largest
    estimated saving (``x``'s uses outside the shared prefixes times the id width, less
    ``8 * len(y)``) are tried in turn and the first that shortens the section is kept
    (TensorFlow's ``beta:`` ``0`` -> ``beta:0``)."""
    size = len(names_section(toks))
    while True:
        after: dict = {}
        fresh: dict = {}
        prev: list[bytes] = []
        for s in toks:
            k = 0
            while k < min(len(s), len(prev)) and s[k] == prev[k]:
                k += 1
            for i, t in enumerate(s):
                a = s[i + 1] if i + 1 < len(s) else None
                after[t] = a if after.get(t, a) == a else None
                fresh[t] = fresh.get(t, 0) + (i >= k)
            prev = s
        id_bits = max(1, (len(fresh) - 1).bit_length())
        cands = sorted(((fresh[x] * id_bits - 8 * len(y), n, x, y)
                        for n, (x, y) in enumerate(after.items())
                        if y is not None and y != x and fresh[x] * id_bits > 8 * len(y)),
                       reverse=True)[:tries]
        for _, _, x, y in cands:
            cand = [_merge_pair(s, x, y) for s in toks]
            n = len(names_section(cand))
            if n < size:
                toks, size = cand, n
                break
        else:
            return toks


def _merge_pair(s: list[bytes], x: bytes, y: bytes) -> list[bytes]:
    """``s`` with every ``x`` (always followed by ``y``) and that ``y`` joined."""
    m: list[bytes] = []
    i = 0
    while i < len(s):
        if s[i] == x:
            m.append(x + y)
            i += 2
        else:
            m.append(s[i])
            i += 1
    return m


def names_section(toks: list[list[bytes]]) -> bytes:
    """The name section (§17.1) of names split into tokens ``toks``."""
    out = bytearray()
    dic: dict[bytes, int] = {}
    for t in toks:
        for x in t:
            dic.setdefault(x, len(dic))
    put_varint(out, len(dic))
    for x in dic:
        put_varint(out, len(x))
        out += x
    id_bits = (len(dic) - 1).bit_length() if len(dic) > 1 else 0
    recs = []
    prev: list[bytes] = []
    for t in toks:
        k = 0
        while k < min(len(t), len(prev)) and t[k] == prev[k]:
            k += 1
        recs.append((k, t[k:]))
        prev = t
    cw = max((max(k, len(f)) for k, f in recs), default=0).bit_length()
    out.append(cw)
    acc, nacc = 0, 0
    buf = bytearray()
    for k, fresh in recs:
        fields = [(k, cw), (len(fresh), cw)] + [(dic[x], id_bits) for x in fresh]
        for v, w in fields:
            acc = (acc << w) | v
            nacc += w
            while nacc >= 8:
                nacc -= 8
                buf.append((acc >> nacc) & 0xFF)
            acc &= (1 << nacc) - 1
    if nacc:
        buf.append((acc << (8 - nacc)) & 0xFF)
    out += buf
    return bytes(out)


def write_directory(tables, entries, dtype_code, data_len: int, crcs: list[int],
                    chunk_log2: int = DEFAULT_CHUNK_LOG2, names: bytes | None = None,
                    version: int = 2, table_cache: dict | None = None) -> bytes:
    """The v2 / v3 / v4 directory of ``entries`` (blocks back to back from offset 8, in
    entry order); ``names``: what :func:`write_names` writes for the entries' names, when
    known; ``table_cache``: v4's table writer's cache (format_v4.write_tables)."""
    out = bytearray()
    if version >= 4:
        from .format_v4 import write_tables
        write_tables(out, tables, table_cache)
    else:
        put_varint(out, len(tables))
        for t in tables:
            t.to_bytes(out)
    put_varint(out, len(entries))
    if names is None:
        write_names(out, [e.name for e in entries])
    else:
        out += names
    if version >= 4:
        from .format_v4 import write_entries
        write_entries(out, entries, dtype_code, len(tables), version)
    prev_tb = 0
    for e in entries if version < 4 else ():
        gc, gval = group_code(e.group_mode, e.group_size, e.shape)
        flags = dtype_code[e.dtype] | (gc << 3)
        if e.value_offset:
            flags |= F_VOFF
        if e.meta_length:
            flags |= F_META
        if e.mirror_period:
            flags |= F_MIRROR
        out.append(flags)
        put_varint(out, len(e.shape))
        for d in e.shape:
            put_varint(out, int(d))
        if gval is not None:
            put_varint(out, gval)
        if e.value_offset:
            put_svarint(out, e.value_offset)
        put_varint(out, e.block_length)
        if e.meta_length:
            put_varint(out, e.meta_length)
        if e.mirror_period:
            put_varint(out, e.mirror_period)
            put_varint(out, e.mirror_skip)
        if numel_of(e.shape):
            put_svarint(out, e.tid_base - prev_tb)
            prev_tb = e.tid_base
            put_varint(out, e.tid_bits * 64 + e.len_bits)
    out.append(chunk_log2)
    if len(crcs) != chunk_count(data_len, chunk_log2):
        raise AssertionError("chunk CRC count does not match the data area")
    out += np.asarray(crcs, "<u4").tobytes()
    return bytes(out)


def directory_over(tables, entries, dtype_code, data_area, chunk_log2: int,
                   version: int = 2) -> bytes:
    """A v2 / v3 / v4 directory whose chunk CRCs are computed over ``data_area`` (tools and
    tests that rewrite a directory in place)."""
    crc = ChunkCRC(chunk_log2)
    crc.feed(data_area)
    return write_directory(tables, entries, dtype_code, len(data_area), crc.finish(), chunk_log2,
                           version=version)


# ---------------------------------------------------------------------------------------------
# parsing (the exact-error path)

class BitReader:
    """MSB-first bits from ``r.buf[r.pos:r.end]``; errors name absolute byte offsets."""

    def __init__(self, r: Reader):
        self.r = r
        self.bit = 8 * r.pos

    def read(self, w: int, what: str) -> int:
        if self.bit + w > 8 * self.r.end:
            raise TruncatedError(f"input ends inside the name bit string ({what})",
                                 offset=self.r.base + self.bit // 8)
        v = 0
        buf = self.r.buf
        for _ in range(w):
            v = (v << 1) | ((buf[self.bit >> 3] >> (7 - (self.bit & 7))) & 1)
            self.bit += 1
        return v

    def close(self) -> None:
        self.r.pos = (self.bit + 7) // 8


def read_names(r: Reader, count: int, limits) -> list[str]:
    """Check N1-N5, E2, E2b, E3 of §20 and return the names."""
    at = r.offset
    r.ctx = ""
    ntok = r.varint("token count", limit=limits.max_names_bytes, exc=LimitError)
    toks = []
    for i in range(ntok):
        at_t = r.offset
        ln = r.varint(f"token {i} length", limit=limits.max_name_bytes, exc=LimitError)
        if ln == 0:
            raise CorruptError(f"token {i} is empty", offset=at_t, value=0)
        toks.append(r.bytes(ln, f"token {i}"))
    at_cw = r.offset
    cw = r.u8("count bits")
    if cw > MAX_COUNT_BITS:
        raise CorruptError(f"name count width {cw} > {MAX_COUNT_BITS}", offset=at_cw, value=cw)
    id_bits = (ntok - 1).bit_length() if ntok > 1 else 0
    br = BitReader(r)
    names: list[str] = []
    seen: set[str] = set()
    prev: list[bytes] = []
    total = 0
    for i in range(count):
        at = r.base + br.bit // 8
        shared = br.read(cw, f"tensor {i} shared tokens")
        if shared > len(prev):
            raise CorruptError(f"tensor {i}: name shares {shared} tokens, the previous name has "
                               f"{len(prev)}", offset=at, value=shared)
        fresh = br.read(cw, f"tensor {i} token count")
        cur = prev[:shared]
        ln = sum(len(x) for x in cur)
        for _ in range(fresh):
            at_id = r.base + br.bit // 8
            tid = br.read(id_bits, f"tensor {i} token id")
            if tid >= ntok:
                raise CorruptError(f"tensor {i}: token id {tid} >= {ntok} tokens", offset=at_id,
                                   value=tid)
            cur.append(toks[tid])
            ln += len(toks[tid])
            if ln > limits.max_name_bytes:
                raise LimitError(f"tensor {i}: name longer than max_name_bytes="
                                 f"{limits.max_name_bytes}", offset=at_id, value=ln)
        total += ln
        if total > limits.max_names_bytes:
            raise LimitError(f"tensor {i}: names exceed max_names_bytes={limits.max_names_bytes}",
                             offset=at, value=total)
        try:
            name = b"".join(cur).decode("utf-8")
        except UnicodeDecodeError:
            raise CorruptError(f"tensor {i} name is not UTF-8", offset=at) from None
        if name in seen:
            raise CorruptError(f"duplicate tensor name {name!r}", offset=at, value=name)
        seen.add(name)
        names.append(name)
        prev = cur
    br.close()
    return names


def read_entries(r: Reader, limits, ntab: int, dir_off: int, names: list[str], entry_cls,
                 dtypes: dict, value_range, version: int = 2):
    """Entries of §18 with the checks E4-E16, D4 of §20 (v3: and X1-X3 of §24)."""
    entries = []
    total_out = 0
    pos = PREAMBLE_SIZE
    prev_tb = 0
    for i, name in enumerate(names):
        at = r.offset
        r.ctx = f"tensor {name!r} "
        flags = r.u8("flags")
        code = flags & 7
        if code not in dtypes:
            raise CorruptError(f"tensor {name!r}: unknown dtype code {code}", offset=at, value=code)
        if flags & F_MIRROR and version < 3:
            raise CorruptError(f"tensor {name!r}: reserved flag bit 7 set", offset=at, value=flags)
        dtype = dtypes[code]
        ndim = r.varint("ndim", limit=limits.max_ndim, exc=LimitError)
        shape = tuple(r.varint("dim", limit=MAX_DIM) for _ in range(ndim))
        numel = numel_of(shape)
        total_out += numel * dtype.itemsize
        if total_out > limits.max_output_bytes:
            raise LimitError(f"tensor {name!r}: output would exceed max_output_bytes="
                             f"{limits.max_output_bytes}", offset=at, value=total_out)
        gc = (flags >> 3) & 3
        K = kernel_size(shape)
        if gc == G_COUNT:
            at_g = r.offset
            gsize = r.varint("group size", limit=MAX_DIM)
            if gsize < 1:
                raise CorruptError(f"tensor {name!r}: group size 0", offset=at_g, value=0)
        elif gc == G_KERNELS:
            at_g = r.offset
            k = r.varint("kernels per group", limit=MAX_DIM)
            if k < 1 or k * K > MAX_DIM:
                raise CorruptError(f"tensor {name!r}: {k} kernels of {K} per group", offset=at_g,
                                   value=k)
            gsize = k * K
        elif gc == G_KERNEL:
            gsize = K
        else:
            gsize = max(1, numel)
        if gsize > MAX_DIM:
            raise CorruptError(f"tensor {name!r}: group size {gsize} > 2^48", offset=at,
                               value=gsize)
        voff = 0
        if flags & F_VOFF:
            lo, hi = value_range(dtype)
            voff = r.svarint("value offset", lo, hi)
        at_b = r.offset
        blen = r.varint("block length")
        if pos + blen > dir_off:
            raise CorruptError(f"tensor {name!r}: block [{pos}, +{blen}) outside the data area "
                               f"[{PREAMBLE_SIZE}, {dir_off})", offset=at_b, value=blen)
        mlen = r.varint("meta length", limit=blen) if flags & F_META else 0
        period = skip = 0
        if flags & F_MIRROR:
            at_m = r.offset
            period = r.varint("mirror period", limit=MAX_DIM)
            if numel == 0 or period < 2 or numel % period:
                raise CorruptError(f"tensor {name!r}: mirror period {period} does not divide "
                                   f"its {numel} values into rows of >= 2", offset=at_m,
                                   value=period)
            at_m = r.offset
            skip = r.varint("mirror skip", limit=MAX_DIM)
            if skip > period - 2:
                raise CorruptError(f"tensor {name!r}: mirror skip {skip} > period - 2",
                                   offset=at_m, value=skip)
            if mlen + (numel // period + 3) // 4 > blen:
                raise CorruptError(f"tensor {name!r}: block of {blen} bytes cannot hold its "
                                   f"mirror modes", offset=at_m, value=blen)
        tid_base = tid_bits = len_bits = 0
        if numel:
            at_t = r.offset
            delta = r.svarint("table base delta", -(1 << 63), 1 << 63)
            tid_base = prev_tb + delta
            if not 0 <= tid_base <= max(ntab - 1, 0):
                raise CorruptError(f"tensor {name!r}: table base {tid_base} outside "
                                   f"[0, {max(ntab - 1, 0)}]", offset=at_t, value=tid_base)
            prev_tb = tid_base
            at_w = r.offset
            widths = r.varint("group table widths", limit=MAX_WIDTHS)
            tid_bits, len_bits = widths >> 6, widths & 63
            if len_bits > 56:
                raise CorruptError(f"tensor {name!r}: length width {len_bits} > 56", offset=at_w,
                                   value=widths)
        e = entry_cls(name, dtype, shape, GROUP_MODE_OF_CODE[gc], gsize, voff, pos, blen, 0, mlen,
                      tid_base, tid_bits, len_bits, None, period, skip)
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
        pos += blen
    r.ctx = ""
    if pos != dir_off:
        raise CorruptError(f"blocks end at {pos}, the directory starts at {dir_off}",
                           offset=r.offset, value=pos)
    return entries


def read_chunks(r: Reader, dir_off: int) -> tuple[int, np.ndarray]:
    """C1, C2 of §20: chunk size and the chunk CRC32s."""
    at = r.offset
    log2 = r.u8("chunk size")
    if not MIN_CHUNK_LOG2 <= log2 <= MAX_CHUNK_LOG2:
        raise CorruptError(f"chunk size 2^{log2} outside 2^{MIN_CHUNK_LOG2}..2^{MAX_CHUNK_LOG2}",
                           offset=at, value=log2)
    n = chunk_count(dir_off - PREAMBLE_SIZE, log2)
    raw = r.bytes(4 * n, f"{n} chunk CRC32s")
    return log2, np.frombuffer(raw, "<u4").astype(np.uint32)
