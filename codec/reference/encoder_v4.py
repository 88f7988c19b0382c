"""Reference writer of the format v4 tensor entries (docs/FORMAT.md §27-§29): the three
coding parameters and the entry bit string, field by field, bits appended to a big-endian
:class:`bitarray.bitarray`; and §29's choice of the parameters by exact size (every candidate
bit string is written out and measured).  Format v5 (§32): the same, with ``has_pred`` (and
``pred_mode``) after the mirror fields of every eligible tensor; format v6 (§34): and
``pred_shift`` (EG(0)) after ``pred_mode``; format v7 (§36): the ``v7`` varint after
``rate``, the alias records first in the bit string and ``has_floor`` (then ``floor_k`` and
the row floors) after the prediction fields of a floor-eligible tensor when some tensor is
floored.  Also the table pool (§28.1), each table's (mode, gk, dk) chosen the same way.
Independent of ``codec.format_v4``."""
from __future__ import annotations

from dataclasses import dataclass

from bitarray import bitarray

from . import floor_v7
from .decoder import DTYPE_BY_CODE, MAX_CODE_LEN, RefTable
from .decoder_v4 import (FIRST_DTYPE, MAX_LEN_K, MAX_RATE, MAX_VOFF_K, predicted_bits,
                         tid_width)
from .encoder import as_table, bits_of, padded_bytes, varint, zigzag
from .encoder_v2 import group_code
from .predict_v5 import eligible as pred_eligible
from .predict_v5 import shift_ok as pred_shift_ok


@dataclass
class EntryV4:
    """What a v4 entry records of one tensor (block offsets and lengths follow from it)."""
    dtype_code: int
    shape: tuple
    group_mode: str
    group_size: int
    value_offset: int
    meta_length: int
    mirror: tuple[int, int] | None   # (period, skip) or None
    tid_base: int = 0
    tid_bits: int = 0     # several groups: the group table's field widths
    len_bits: int = 0
    payload_bytes: int = 0
    glen: int = 0         # one group: its bits (the block has no group table)
    pred_mode: int = -1   # v5 (§32): the prediction mode 0-7, -1 none
    pred_shift: int = 0   # v6 (§34): images in dims ndim - 2 - pred_shift and the next
    floors: tuple = ()    # v7 (§36): each row's floor, () = not floored

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= int(d)
        return n


def eg(n: int, k: int) -> bitarray:
    """Exp-Golomb of order k of n >= 0: with m = (n >> k) + 1 of z + 1 bits, z zeros, m, then
    the low k bits of n."""
    assert n >= 0
    m = (n >> k) + 1
    z = m.bit_length() - 1
    return bits_of(0, z) + bits_of(m, z + 1) + bits_of(n & ((1 << k) - 1), k)


def seg(s: int, k: int) -> bitarray:
    """Signed Exp-Golomb: the order-k code of zigzag(s)."""
    return eg(zigzag(s), k)


def pred_fields(e: EntryV4, shape: tuple, version: int) -> bitarray:
    """§32: ``has_pred`` [``pred_mode``] of an eligible tensor (nothing for another) in v5 and
    later; §34: then ``pred_shift`` as EG(0) in v6 (it must be 0 before v6 and fit the shape:
    at most ``ndim - 2``, ``shape[h] * shape[h + 1] >= 2``)."""
    out = bitarray(endian="big")
    if e.pred_mode >= 0 and e.pred_shift and version < 6:
        raise ValueError(f"a prediction shift {e.pred_shift} needs format version 6 (§34)")
    if not (version >= 5 and pred_eligible(shape, e.numel, e.mirror is not None)):
        if e.pred_mode >= 0:
            raise ValueError(f"a prediction mode for shape {shape} (mirror "
                             f"{e.mirror is not None}) in format version {version}")
        return out
    if e.pred_mode < 0:
        return bits_of(0, 1)
    out += bits_of(1, 1) + bits_of(e.pred_mode, 3)
    if version >= 6:
        if not pred_shift_ok(shape, e.pred_shift):
            raise ValueError(f"prediction shift {e.pred_shift} does not fit shape {shape} "
                             f"(§34)")
        out += eg(e.pred_shift, 0)
    return out


def floors_on(entries: list[EntryV4], version: int) -> bool:
    """§36: ``floors_on``, 1 exactly when some tensor is floored (v7)."""
    return version >= 7 and any(e.floors for e in entries)


def floor_fields(e: EntryV4, shape: tuple, on: bool) -> bitarray:
    """§36: ``has_floor`` [``floor_k``, the row floors] of a floor-eligible tensor when
    ``floors_on`` (``on``); nothing for another tensor (which must then have no floors)."""
    out = bitarray(endian="big")
    if not (on and floor_v7.eligible(DTYPE_BY_CODE[e.dtype_code], e.numel, e.value_offset,
                                     e.mirror is not None, e.pred_mode)):
        if e.floors:
            raise ValueError(f"row floors need format v7 and a floor-eligible tensor (§36): "
                             f"shape {shape}, value offset {e.value_offset}")
        return out
    if not e.floors:
        return bits_of(0, 1)
    if len(e.floors) != floor_v7.rows_of(shape):
        raise ValueError(f"{len(e.floors)} floors for {floor_v7.rows_of(shape)} rows (§36)")
    out += bits_of(1, 1)
    for b in floor_v7.floor_bits(e.floors, bits_of, eg):
        out += b
    return out


def entry_string(entries: list[EntryV4], ntab: int, len_k: int, voff_k: int,
                 rate: int, version: int = 4, aliases=()) -> bitarray:
    """§28: one record per entry, in order (the previous dtype starts as int8, the previous
    shape as ()); ``version`` 5: §32's has_pred [pred_mode] after the mirror fields of an
    eligible tensor; 6: §34's pred_shift after pred_mode; 7: §36's alias records first
    (``aliases`` = ``[(i_a, j_a), ...]``, package indices; ``entries`` are the other
    tensors') and has_floor [floor_k, floors] after the prediction fields."""
    out = bitarray(endian="big")
    if aliases and version < 7:
        raise ValueError("tensor aliases need format version 7 (§36)")
    for b in floor_v7.alias_bits(aliases, eg):
        out += b
    on = floors_on(entries, version)
    tw = tid_width(ntab)
    prev_code, prev_shape = FIRST_DTYPE, ()
    for e in entries:
        if e.dtype_code == prev_code:
            out += bits_of(1, 1)
        else:
            out += bits_of(0, 1) + bits_of(e.dtype_code, 3)
        prev_code = e.dtype_code
        shape = tuple(int(d) for d in e.shape)
        if shape == prev_shape:
            out += bits_of(1, 1)
        else:
            zero = 1 if 0 in shape else 0
            out += bits_of(0, 1) + eg(2 * len(shape) + zero, 0)
            for d in shape:
                out += eg(d - 1 + zero, 0)
        prev_shape = shape
        gcode, extra = group_code(e.group_mode, e.group_size, shape)
        out += bits_of(gcode, 2)
        if extra is not None:  # code 0: group size - 1; code 2: kernels per group - 1
            out += eg(extra - 1, 0)
        if e.value_offset:
            out += bits_of(1, 1) + seg(e.value_offset, voff_k)
        else:
            out += bits_of(0, 1)
        if e.meta_length:
            out += bits_of(1, 1) + eg(e.meta_length - 1, 0)
        else:
            out += bits_of(0, 1)
        if e.mirror is not None:
            out += bits_of(1, 1) + eg(e.mirror[0] - 2, 0) + eg(e.mirror[1], 0)
        else:
            out += bits_of(0, 1)
        numel = e.numel
        out += pred_fields(e, shape, version)
        out += floor_fields(e, shape, on)
        if numel:
            out += bits_of(e.tid_base, tw)
            pred = predicted_bits(numel, rate)
            n_groups = -(-numel // e.group_size)
            if n_groups == 1:
                out += seg(e.glen - pred, len_k)
            else:
                out += eg(e.tid_bits, 0) + bits_of(e.len_bits, 6)
                out += seg(e.payload_bytes - (pred + 7) // 8, max(len_k - 3, 0))
    return out


def coding_params(entries: list[EntryV4], ntab: int, version: int = 4,
                  aliases=()) -> tuple[int, int, int]:
    """§29: rate = 64 x (bits / values) of the one-group tensors, rounded half up, at most
    4096 (0 without one); then the length order giving the shortest bit string (ties: the
    lower), then with it the value offset order giving the shortest (ties: the lower)."""
    one = [e for e in entries if e.numel and e.glen]
    num = sum(e.glen for e in one)
    den = sum(e.numel for e in one)
    rate = min(MAX_RATE, (64 * num + den // 2) // den) if den else 0
    best_k = None
    for k in range(MAX_LEN_K + 1):
        n = len(entry_string(entries, ntab, k, 0, rate, version, aliases))
        if best_k is None or n < best_k[0]:
            best_k = (n, k)
    len_k = best_k[1]
    best_v = None
    for v in range(MAX_VOFF_K + 1):
        n = len(entry_string(entries, ntab, len_k, v, rate, version, aliases))
        if best_v is None or n < best_v[0]:
            best_v = (n, v)
    return len_k, best_v[1], rate


def entries_bytes(entries: list[EntryV4], ntab: int, version: int = 4, aliases=()) -> bytes:
    """len_k u8, voff_k u8, rate varint, (v7, §36) the varint ``2 n_alias + floors_on``, then
    the entry bit string 0-padded to a byte.  ``entries``: the tensors with an entry record;
    ``aliases``: ``[(i_a, j_a), ...]`` (v7).  ``rate`` is over ``entries`` only."""
    len_k, voff_k, rate = coding_params(entries, ntab, version, aliases)
    bits = entry_string(entries, ntab, len_k, voff_k, rate, version, aliases)
    v7 = varint(2 * len(aliases) + floors_on(entries, version)) if version >= 7 else b""
    return bytes([len_k, voff_k]) + varint(rate) + v7 + padded_bytes(bits)


# --- the table pool (§28.1, §29) --------------------------------------------------------------

# §29: the 20 (mode, gk, dk) a table may be written with, in tie-break order
TABLE_CHOICES = [(0, gk, dk) for gk in range(4) for dk in range(4)] + \
    [(1, gk, 0) for gk in range(4)]


def table_string(t: RefTable, same: bool, mode: int, gk: int, dk: int) -> bitarray:
    """One table's fields after its same_alphabet bit: [kref 3 bits, EG0(nrun - 1),
    EG0(nclass - 1)] unless ``same``; mode 1 bit, gk 2 bits; then mode 0: EG0(n_codes - 1),
    dk 2 bits, each coded symbol (ascending) as EG(gk) of its gap and its length (the first
    as 4 bits, later ones as sEG(dk) of the change); mode 1: EG0 of count[1..12], then for
    each length its symbols (ascending) as EG(gk) gaps."""
    out = bitarray(endian="big")
    if not same:
        out += bits_of(t.kref, 3) + eg(t.nrun - 1, 0) + eg(t.nclass - 1, 0)
    out += bits_of(mode, 1) + bits_of(gk, 2)
    if mode == 0:
        coded = [s for s, ln in enumerate(t.lengths) if ln]
        out += eg(len(coded) - 1, 0) + bits_of(dk, 2)
        prev = -1
        for s in coded:
            out += eg(s - prev - 1, gk)
            if prev < 0:
                out += bits_of(t.lengths[s], 4)
            else:
                out += seg(t.lengths[s] - t.lengths[prev], dk)
            prev = s
    else:
        by_len = [[s for s, ln in enumerate(t.lengths) if ln == L]
                  for L in range(1, MAX_CODE_LEN + 1)]
        for syms in by_len:
            out += eg(len(syms), 0)
        for syms in by_len:
            prev = -1
            for s in syms:
                out += eg(s - prev - 1, gk)
                prev = s
    return out


def best_table_choice(t: RefTable, same: bool) -> tuple[int, int, int]:
    """§29: the (mode, gk, dk) giving the shortest table (ties: the first in TABLE_CHOICES)."""
    best = None
    for c in TABLE_CHOICES:
        n = len(table_string(t, same, *c))
        if best is None or n < best[0]:
            best = (n, c)
    return best[1]


def tables_bytes(tables) -> bytes:
    """§28.1: n_tables varint, then the tables' bit string 0-padded to a byte; a table after
    the first starts with same_alphabet = 1 exactly when its (kref, nrun, nclass) is the
    previous table's."""
    tables = [as_table(t) for t in tables]
    bits = bitarray(endian="big")
    for i, t in enumerate(tables):
        same = False
        if i >= 1:
            p = tables[i - 1]
            same = (t.kref, t.nrun, t.nclass) == (p.kref, p.nrun, p.nclass)
            bits += bits_of(1 if same else 0, 1)
        bits += table_string(t, same, *best_table_choice(t, same))
    return varint(len(tables)) + padded_bytes(bits)
