"""Reference encoder for formats v1 to v7 (v2/v3 directory and v3's mirror transform:
:mod:`.encoder_v2`; the v4-v7 entry bit string: :mod:`.encoder_v4`; the prediction transform
of v5 (§32) and v6 (§34): :mod:`.predict_v5`; v7's row floors and aliases (§36):
:mod:`.floor_v7`): the encoder's *decisions* in, the exact package bytes out.

``codec.pack`` makes choices (grouping, value offset, the (kref, nrun) alphabet, the Huffman
tables and which tensor uses which table); given the same choices this module must produce
byte-identical output.  Everything is spelled out field by field after docs/FORMAT.md, with
bits appended to a big-endian :class:`bitarray.bitarray`.

:func:`reencode` closes the loop: it decodes a package with the reference decoder, reads the
choices from the package's own header and writes the package again.
"""
from __future__ import annotations

import struct
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
from bitarray import bitarray
from bitarray.util import int2ba

from .decoder import (CODE_BY_DTYPE, CODE_BY_GROUP_MODE, FOOTER_MAGIC, MAGIC, MAX_CODE_LEN,
                      META_KINDS, SYM_EOB, SYM_ESC, SYM_FIRST, RefTable, canonical_codes,
                      mag_class, read_package)


# --- choices ----------------------------------------------------------------------------------

@dataclass
class TensorChoice:
    """How one tensor is coded.

    ``table``: the table index used by every group, or a sequence with one index per group.
    ``tid_base``/``tid_bits``/``len_bits``: group-table field widths; ``None`` = the writer's
    rule (one table: base = that table, 0 bits; per-group tables: base = smallest index,
    bits = bit length of (largest - smallest); length bits = bit length of the longest group).
    ``meta``: a ``codec.QuantMeta``, a :class:`~codec.reference.decoder.RefMeta`, or None.
    ``mirror``: v3 and v4 (§23): ``(P, a)`` = (mirror period, mirror skip), or None for no mirror.
    ``mirror_modes``: each row's mode (0 as is, 1 mirror, 2 negated mirror); None = §25's
    per-row rule (the mode leaving the fewest nonzero second-half values, ties the lower).
    The tensor given to :func:`pack` is always the *original* one; the writer transforms it.
    ``name_tokens``: v2-v5, the name's tokens (§17.1) when every choice of the package has
    them; None = §21's split.
    ``pred_mode``: v5 (§32): the prediction mode 0-7 (the values are stored as residuals of
    that prediction), or None (or -1) for none.  Only for an eligible tensor without a mirror.
    ``pred_shift``: v6 (§34): the images of the prediction lie in dimensions
    ``ndim - 2 - pred_shift`` and the next (0, v5's last two, or None: 0); a shift > 0 needs
    format v6.
    ``floors``: v7 (§36): the tensor's row floors (one per row, ``R`` = ``shape[0]`` with two
    or more dims, else 1), or None / () for none; only for a non-empty signed tensor with
    value offset 0, no mirror and no prediction mode; each floor below its row's smallest
    nonzero magnitude (:func:`codec.reference.floor_v7.row_floors` gives the largest).
    ``alias``: v7 (§36): the name of an earlier tensor (not itself an alias) whose dtype,
    shape and values this tensor's equal: the tensor is then stored as an alias of it (no
    entry record, no block, the target's metadata); of such a choice only ``alias`` and
    ``name_tokens`` are used.
    """
    group_mode: str
    group_size: int
    value_offset: int = 0
    table: int | Sequence[int] = 0
    tid_base: int | None = None
    tid_bits: int | None = None
    len_bits: int | None = None
    meta: object = None
    mirror: tuple[int, int] | None = None
    mirror_modes: Sequence[int] | None = None
    name_tokens: Sequence[bytes] | None = None
    pred_mode: int | None = None
    pred_shift: int | None = 0
    floors: Sequence[int] | None = None
    alias: str | None = None


def pred_of(ch: TensorChoice) -> int:
    """The choice's prediction mode, -1 for none."""
    m = getattr(ch, "pred_mode", None)
    return -1 if m is None else int(m)


def shift_of(ch: TensorChoice) -> int:
    """§34: the choice's prediction shift (0 without a prediction mode)."""
    s = getattr(ch, "pred_shift", None)
    return 0 if s is None or pred_of(ch) < 0 else int(s)


def floors_of(ch: TensorChoice) -> tuple:
    """§36: the choice's row floors, () for none."""
    f = getattr(ch, "floors", None)
    return () if f is None else tuple(int(x) for x in f)


def alias_of(ch: TensorChoice) -> str | None:
    """§36: the name of the tensor this one is an alias of, or None."""
    return getattr(ch, "alias", None)


def as_table(t) -> RefTable:
    if isinstance(t, RefTable):
        return t
    kref, nrun, nclass, lengths = t
    return RefTable(int(kref), int(nrun), int(nclass), [int(x) for x in lengths])


# --- primitive writers ------------------------------------------------------------------------

def varint(value: int) -> bytes:
    """Unsigned LEB128: 7 bits per byte, low group first, high bit set on all but the last."""
    assert value >= 0
    out = bytearray()
    while True:
        if value < 0x80:
            out.append(value)
            return bytes(out)
        out.append((value & 0x7F) | 0x80)
        value >>= 7


def zigzag(value: int) -> int:
    return 2 * value if value >= 0 else -2 * value - 1


def svarint(value: int) -> bytes:
    return varint(zigzag(value))


def bits_of(value: int, n: int) -> bitarray:
    """``value`` as exactly ``n`` bits, most significant first (n may be 0)."""
    if n == 0:
        return bitarray(endian="big")
    return int2ba(value, length=n, endian="big")


def padded_bytes(bits: bitarray) -> bytes:
    """The bits, then zero bits up to a whole byte (bitarray.tobytes pads with zeros)."""
    return bits.tobytes()


# --- sections ---------------------------------------------------------------------------------

def table_bytes(t: RefTable) -> bytes:
    out = bytearray([t.kref]) + varint(t.nrun) + varint(t.nclass)
    by_len = [[s for s, ln in enumerate(t.lengths) if ln == L] for L in range(1, MAX_CODE_LEN + 1)]
    for syms in by_len:
        out += varint(len(syms))
    gam = bitarray(endian="big")
    for syms in by_len:
        prev = -1
        for s in syms:  # ascending
            gap = s - prev
            nb = gap.bit_length()
            gam += bits_of(0, nb - 1) + bits_of(gap, nb)
            prev = s
    return bytes(out) + padded_bytes(gam)


def meta_bytes(meta) -> bytes:
    if meta is None:
        return b""
    scale = np.asarray(meta.scale).reshape(-1)
    sd = 0 if scale.dtype == np.float32 else 1
    out = bytearray([1, META_KINDS.index(meta.kind), int(meta.bits)])
    if meta.axis is not None:
        out += bytes([1]) + svarint(int(meta.axis))
    elif meta.block is not None:
        out += bytes([2]) + varint(int(meta.block))
    else:
        out += bytes([0])
    out += bytes([sd]) + varint(scale.size)
    out += scale.astype("<f4" if sd == 0 else "<f8").tobytes()
    if meta.zero_point is None:
        out += bytes([0])
    else:
        out += bytes([1])
        for z in np.asarray(meta.zero_point).reshape(-1).tolist():
            out += svarint(int(z))
    return bytes(out)


def group_bits(values: list[int], voff: int, t: RefTable, codes: dict) -> bitarray:
    """One group: for each nonzero d = x - voff after `run` zeros: ESC per whole `nrun` zeros,
    symbol 2 + class*nrun + run, remainder bits, sign bit (1 = negative); then EOB."""
    out = bitarray(endian="big")

    def put_symbol(s):
        if s not in codes:
            raise ValueError(f"symbol {s} has no code in its table")
        code, ln = codes[s]
        out.extend(bits_of(code, ln))

    run = 0
    for x in values:
        d = x - voff
        if d == 0:
            run += 1
            continue
        while run >= t.nrun:
            put_symbol(SYM_ESC)
            run -= t.nrun
        c, e, rem = mag_class(abs(d), t.kref)
        if c >= t.nclass:
            raise ValueError(f"magnitude {abs(d)} beyond the table's {t.nclass} classes")
        put_symbol(SYM_FIRST + c * t.nrun + run)
        out.extend(bits_of(rem, e))
        out.append(1 if d < 0 else 0)
        run = 0
    put_symbol(SYM_EOB)  # the trailing zeros are implied
    return out


def tensor_block(arr: np.ndarray, ch: TensorChoice, tables: list[RefTable], codes: list[dict],
                 implicit: bool = False):
    """(block bytes, tid_base, tid_bits, len_bits, meta length, glen).  With ``implicit``
    (format v4, §27) a tensor of exactly one group gets no group table: its table is
    ``tid_base`` and ``glen`` its bits (0 otherwise).  A choice with a prediction mode (v5,
    §32; v6 with its shift, §34) codes the residuals of the values instead of the values, one
    with row floors (v7, §36) the values less their floors."""
    arr = np.asarray(arr)
    flat = [int(v) for v in arr.reshape(-1).tolist()]
    mbytes = meta_bytes(ch.meta)
    mlen = len(mbytes)
    if ch.mirror is not None:  # v3 (§23): store the transformed values, modes after the meta
        P, a = int(ch.mirror[0]), int(ch.mirror[1])
        dtype = arr.dtype.newbyteorder("=").name
        modes = (_v2.row_modes(flat, P, a, ch.value_offset, dtype) if ch.mirror_modes is None
                 else [int(m) for m in ch.mirror_modes])
        flat = _v2.mirror_forward(flat, P, a, ch.value_offset, modes, dtype)
        mbytes += _v2.mode_string(modes)
    mode = pred_of(ch)
    if mode >= 0:  # v5 (§32), v6 (§34): store r = wrap(x - pred), pred from the original x
        if ch.mirror is not None:
            raise ValueError("a tensor cannot have both a mirror and a prediction mode")
        flat = _pred.residuals(flat, arr.shape, mode, arr.dtype.newbyteorder("=").name,
                               shift_of(ch))
    if floors_of(ch):  # v7 (§36): store sign(v) * (|v| - f_r)
        if ch.mirror is not None or mode >= 0 or ch.value_offset:
            raise ValueError("a floored tensor has no mirror, no prediction mode and value "
                             "offset 0 (§36)")
        flat = _floor.forward(flat, arr.shape, floors_of(ch), arr.dtype.newbyteorder("=").name)
    n = len(flat)
    G = -(-n // ch.group_size) if n else 0
    if G == 0:
        return mbytes, 0, 0, 0, mlen, 0
    tids = [int(ch.table)] * G if isinstance(ch.table, (int, np.integer)) else [int(t) for t in ch.table]
    if len(tids) != G:
        raise ValueError(f"{len(tids)} table ids for {G} groups")
    if implicit and G == 1:  # v4: meta | mirror modes | the one group's bits
        if ch.tid_base not in (None, tids[0]) or ch.tid_bits not in (None, 0):
            raise ValueError("a one-group tensor of format v4 has no group table: its table "
                             "is its table base")
        bits = group_bits(flat, ch.value_offset, tables[tids[0]], codes[tids[0]])
        return mbytes + padded_bytes(bits), tids[0], 0, 0, mlen, len(bits)
    tid_base = ch.tid_base if ch.tid_base is not None else min(tids)
    tid_bits = ch.tid_bits if ch.tid_bits is not None else (max(tids) - tid_base).bit_length()
    groups = [group_bits(flat[g * ch.group_size:(g + 1) * ch.group_size], ch.value_offset,
                         tables[tids[g]], codes[tids[g]]) for g in range(G)]
    len_bits = ch.len_bits if ch.len_bits is not None else max(len(b) for b in groups).bit_length()
    gtab = bitarray(endian="big")
    payload = bitarray(endian="big")
    for t, b in zip(tids, groups):
        gtab += bits_of(t - tid_base, tid_bits) + bits_of(len(b), len_bits)
        payload += b  # groups are bit-contiguous; offsets are cumulative lengths
    return (mbytes + padded_bytes(gtab) + padded_bytes(payload), tid_base, tid_bits, len_bits,
            mlen, 0)


def pack(tensors, tables, choices: Mapping[str, TensorChoice], version: int | None = None,
         chunk_log2: int = 16) -> bytes:
    """Write a v7, v6, v5, v4, v3, v2 (v2-v7: CRC chunks of ``2**chunk_log2`` bytes) or v1
    package.

    ``tensors``: mapping (or sequence of pairs) name -> integer array (the original values),
    in package order.  ``tables``: list of (kref, nrun, nclass, lengths) or RefTable.
    ``choices``: name -> choice.  ``version`` None: 7 when some choice has row floors or is
    an alias (§36), else 6 when some choice has a prediction shift > 0 (§34), else 5 when some
    choice has a prediction mode (§32), else 4 (§31), mirror or not (as ``codec.pack``: v4 to
    v6 bytes stay theirs).  Version 7 sets ``floors_on`` exactly when some tensor is floored.
    """
    items = list(tensors.items()) if isinstance(tensors, Mapping) else list(tensors)
    mirrored = any(choices[name].mirror is not None for name, _ in items)
    predicted = any(pred_of(choices[name]) >= 0 for name, _ in items)
    shifted = any(shift_of(choices[name]) for name, _ in items)
    aliases = _aliases(items, choices)
    v7 = bool(aliases) or any(floors_of(choices[name]) for name, _ in items)
    if version is None:
        version = 7 if v7 else 6 if shifted else 5 if predicted else 4
    if version not in (1, 2, 3, 4, 5, 6, 7) or isinstance(version, bool):
        raise ValueError(f"version must be 1, 2, 3, 4, 5, 6 or 7, got {version!r}")
    if v7 and version < 7:
        raise ValueError("row floors and tensor aliases need format version 7 (§36)")
    if mirrored and version < 3:
        raise ValueError("the mirror transform needs format version 3 or later")
    if predicted and version < 5:
        raise ValueError("the prediction transform needs format version 5")
    if shifted and version < 6:
        raise ValueError("a prediction shift needs format version 6 (§34)")
    tables = [as_table(t) for t in tables]
    codes = [canonical_codes(t.lengths) for t in tables]
    v2 = _v2
    pre = MAGIC + bytes([version, 0, 0, 0])
    body = bytearray(pre)
    entries = bytearray()
    entries_v4 = []
    prev = b""
    prev_tb = 0
    for i, (name, arr) in enumerate(items):
        arr = np.asarray(arr)
        ch = choices[name]
        if i in aliases:  # v7 (§36): no block and no entry record
            continue
        block, tid_base, tid_bits, len_bits, mlen, glen = tensor_block(
            arr, ch, tables, codes, implicit=version >= 4)
        if version >= 4:
            mirror_bytes = (arr.size // ch.mirror[0] + 3) // 4 if ch.mirror is not None else 0
            gtab = 0 if glen else (-(-arr.size // ch.group_size) * (tid_bits + len_bits) + 7) // 8
            entries_v4.append(_v4.EntryV4(
                CODE_BY_DTYPE[arr.dtype.newbyteorder("=").name], tuple(arr.shape),
                ch.group_mode, ch.group_size, ch.value_offset, mlen,
                None if ch.mirror is None else (int(ch.mirror[0]), int(ch.mirror[1])),
                tid_base, tid_bits, len_bits, len(block) - mlen - mirror_bytes - gtab, glen,
                pred_of(ch), shift_of(ch), floors_of(ch)))
            body += block
            continue
        if version >= 2:
            entries += v2.entry_bytes(CODE_BY_DTYPE[arr.dtype.newbyteorder("=").name], arr.shape,
                                      ch.group_mode, ch.group_size, ch.value_offset, len(block),
                                      mlen, tid_base - prev_tb, tid_bits, len_bits,
                                      mirror=ch.mirror)
            if arr.size:
                prev_tb = tid_base
            body += block
            continue
        raw = name.encode("utf-8")
        k = 0
        while k < min(len(raw), len(prev)) and raw[k] == prev[k]:
            k += 1
        prev = raw
        dtype = arr.dtype.newbyteorder("=").name
        entries += varint(k) + varint(len(raw) - k) + raw[k:]
        entries += bytes([CODE_BY_DTYPE[dtype]]) + varint(arr.ndim)
        for d in arr.shape:
            entries += varint(int(d))
        entries += bytes([CODE_BY_GROUP_MODE[ch.group_mode]]) + varint(ch.group_size)
        entries += svarint(ch.value_offset) + varint(len(body)) + varint(len(block))
        entries += struct.pack("<I", zlib.crc32(block))
        entries += varint(mlen) + varint(tid_base) + bytes([tid_bits, len_bits])
        body += block
    if version >= 4:  # §28.1: the table pool is one bit string
        directory = _v4.tables_bytes(tables)
    else:
        directory = varint(len(tables)) + b"".join(table_bytes(t) for t in tables)
    directory += varint(len(items))
    if version >= 2:
        seqs = [choices[name].name_tokens for name, _ in items]
        directory += v2.names_bytes([name for name, _ in items],
                                    None if None in seqs else seqs)
        directory += (_v4.entries_bytes(entries_v4, len(tables), version,
                                        sorted(aliases.items())) if version >= 4
                      else bytes(entries))
        directory += v2.chunk_crcs(bytes(body[len(pre):]), chunk_log2)
    else:
        directory += bytes(entries)
    dir_off = len(body)
    crc = zlib.crc32(pre + directory)
    if version >= 4:  # §27: the directory ends at the 12-byte footer
        return bytes(body) + directory + struct.pack("<II", len(directory), crc) + FOOTER_MAGIC
    return bytes(body) + directory + struct.pack("<QQI", dir_off, len(directory), crc) + FOOTER_MAGIC


def _aliases(items: list, choices: Mapping) -> dict[int, int]:
    """§36: ``{i_a: j_a}`` (package indices) of the choices with an ``alias``; ValueError
    unless the target is an earlier tensor, not an alias, with the same dtype, shape and
    values."""
    index = {name: i for i, (name, _) in enumerate(items)}
    out: dict[int, int] = {}
    for i, (name, arr) in enumerate(items):
        target = alias_of(choices[name])
        if target is None:
            continue
        j = index.get(target, i)
        if j >= i or j in out:
            raise ValueError(f"alias {name!r}: {target!r} is not an earlier tensor that is not "
                             f"an alias (§36)")
        a, b = np.asarray(arr), np.asarray(items[j][1])
        if (a.dtype.newbyteorder("=") != b.dtype.newbyteorder("=") or a.shape != b.shape
                or not np.array_equal(a, b)):
            raise ValueError(f"alias {name!r}: dtype, shape or values differ from {target!r}'s")
        out[i] = j
    return out


# --- round trip through a package's own choices -----------------------------------------------

def choices_of(data):
    """(tensors, tables, choices) read from a package with the reference decoder."""
    p = read_package(data)
    choices = {}
    for e in p.entries:
        if e.alias >= 0:  # v7 (§36): the target's choice, under this name's tokens
            choices[e.name] = replace(choices[p.entries[e.alias].name],
                                      alias=p.entries[e.alias].name,
                                      name_tokens=list(e.name_tokens) if p.version >= 2 else None)
            continue
        one = e.tid_bits == 0
        choices[e.name] = TensorChoice(
            group_mode=e.group_mode, group_size=e.group_size, value_offset=e.value_offset,
            table=(e.tid_base if one else list(e.group_tables)),
            tid_base=e.tid_base, tid_bits=e.tid_bits, len_bits=None, meta=p.metas[e.name],
            mirror=(e.mirror_period, e.mirror_skip) if e.mirror_period else None,
            mirror_modes=list(e.mirror_modes) if e.mirror_period else None,
            name_tokens=list(e.name_tokens) if p.version >= 2 else None,
            pred_mode=e.pred_mode if e.pred_mode >= 0 else None,
            pred_shift=e.pred_shift, floors=e.floors or None)
    return p.tensors, p.tables, choices


def reencode(data) -> bytes:
    """Decode ``data`` with the reference decoder and encode it again with the reference
    encoder, using the choices stored in its header (tables, table ids, grouping, value offset,
    metadata, v2 name tokens, v3 mirror period / skip / row modes, v5 prediction modes, v6
    prediction shifts, v7 row floors and aliases).  For
    any package written by ``codec.pack`` the result equals ``data``."""
    from .decoder import read_header
    tensors, tables, choices = choices_of(data)
    chunks = read_header(data)[6]
    return pack(tensors, tables, choices, version=data[4],
                chunk_log2=chunks[0] if chunks else 16)


def group_symbols(values, voff: int, kref: int, nrun: int) -> list[int]:
    """The symbol sequence of one group (§8.3: escapes, (run, class) symbols, the end
    symbol), without remainder and sign bits: for building a table by hand."""
    out, run = [], 0
    for x in values:
        d = int(x) - voff
        if d == 0:
            run += 1
            continue
        out += [1] * (run // nrun)
        out.append(2 + mag_class(abs(d), kref)[0] * nrun + run % nrun)
        run = 0
    return out + [0]


def code_lengths(counts: dict, nsym: int) -> list[int]:
    """Code lengths (<= 12) for the used symbols ``counts``: Huffman's (bitarray), or a flat
    code when Huffman's would be longer than 12 bits."""
    from bitarray.util import canonical_huffman
    code = canonical_huffman(counts)[0] if len(counts) > 1 else {s: "0" for s in counts}
    lengths = [0] * nsym
    for s, c in code.items():
        lengths[s] = len(c)
    if max(lengths) > 12:
        L = max(1, (len(counts) - 1).bit_length())
        lengths = [L if s in counts else 0 for s in range(nsym)]
    return lengths


# the v2 directory writer uses the bit helpers above (imported last: it imports this module)
from . import encoder_v2 as _v2  # noqa: E402
from . import encoder_v4 as _v4  # noqa: E402
from . import predict_v5 as _pred  # noqa: E402
from . import floor_v7 as _floor  # noqa: E402
