"""Reference reader of the format v4 tensor entries (docs/FORMAT.md §27-§30): three coding
parameters, then one MSB-first bit string of Exp-Golomb fields, one record per tensor.  Format
v5 (§32) is the same with ``[1] has_pred`` and ``[3] pred_mode`` after the mirror fields of an
eligible tensor; format v6 (§34) adds ``[EG(0)] pred_shift`` right after ``pred_mode``;
format v7 (§36) adds the ``v7`` varint after ``rate``, the alias records at the start of the
bit string and ``[1] has_floor`` (then ``floor_k`` and the row floors) after the prediction
fields of a floor-eligible tensor (:mod:`.floor_v7`).

Also the v4 table pool (§28.1): one bit string of Exp-Golomb fields, checks T1v4-T6v4 of
§30 in their order.

Plain Python, every field in the order the spec lists it, bits read one at a time from a
big-endian :class:`bitarray.bitarray`; shares no code with ``codec.format_v4``.  Everything
else of a v4 directory (names, chunk CRCs) is v2's and read by :mod:`.decoder_v2`.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
from bitarray import bitarray

from ..errors import CorruptError, LimitError, TruncatedError
from .decoder import (DTYPE_BY_CODE, MAX_CODE_LEN, MAX_KREF, MAX_NRUN, MAX_SYMBOLS,
                      PREAMBLE_SIZE, SYM_EOB, SYM_FIRST, ByteReader, RefEntry, RefTable,
                      dtype_range, max_classes, unzigzag)
from . import floor_v7
from .predict_v5 import eligible as pred_eligible
from .predict_v5 import shift_ok as pred_shift_ok

MAX_DIM = 1 << 48
MAX_LEN_K = 40        # order of the length residuals
MAX_VOFF_K = 32       # order of the value offsets
MAX_RATE = 4096       # predicted bits per value, in 1/64 bit
MAX_EG_BITS = 56      # an Exp-Golomb field: prefix zeros + order <= 56
MAX_TID_BITS = 12
MAX_LEN_BITS = 56
FIRST_DTYPE = 1       # the "previous" dtype code of the first entry (int8)
GROUP_MODE_BY_CODE4 = {0: "count", 1: "kernel", 2: "kernels", 3: "count"}


def tid_width(ntab: int) -> int:
    """Bits of the table base field: the bit length of n_tables - 1 (0 for <= 1 table)."""
    return (ntab - 1).bit_length() if ntab > 1 else 0


def predicted_bits(numel: int, rate: int) -> int:
    return (numel * rate) >> 6


def kernel_size(shape) -> int:
    k = 1
    for d in (shape[1:] if len(shape) >= 2 else shape):
        k *= d
    return max(1, k)


class EntryBits:
    """The bits of ``buf[pos:end]``, MSB first; a field that runs past ``end`` is a
    TruncatedError at the byte where the field starts."""

    def __init__(self, buf: bytes, pos: int, end: int, label: str = "entry bit string"):
        self.bits = bitarray(endian="big")
        self.bits.frombytes(buf[pos:end])
        self.start = pos
        self.i = 0
        self.label = label

    @property
    def offset(self) -> int:
        return self.start + self.i // 8

    def u(self, n: int, what: str) -> int:
        """An n-bit unsigned field."""
        if self.i + n > len(self.bits):
            raise TruncatedError(f"input ends inside the {self.label} ({what})",
                                 offset=self.offset)
        v = 0
        for _ in range(n):
            v = 2 * v + self.bits[self.i]
            self.i += 1
        return v

    def eg(self, k: int, what: str) -> int:
        """Exp-Golomb of order k: z zeros up to a 1 bit (z + k <= 56), m = 1 then z bits,
        value = (m - 1) * 2^k + k more bits."""
        at = self.offset
        z = 0
        while self.u(1, what) == 0:
            z += 1
            if z + k > MAX_EG_BITS:
                raise CorruptError(f"{what}: Exp-Golomb prefix of {z} zeros (order {k})",
                                   offset=at)
        m = (1 << z) + self.u(z, what)
        return (m - 1) * (1 << k) + self.u(k, what)

    def seg(self, k: int, what: str) -> int:
        """Signed: the zigzag value of an order-k Exp-Golomb field."""
        return unzigzag(self.eg(k, what))

    def end_pos(self) -> int:
        """The byte after the bit string (it is 0-padded to a byte)."""
        return self.start + (self.i + 7) // 8


def read_pred_shift(br: EntryBits, name: str, shape: tuple) -> int:
    """§34: ``pred_shift`` EG(0); one greater than ``ndim - 2``, or naming a pair of
    dimensions with ``shape[h] * shape[h + 1] < 2``, is a CorruptError at the field's byte
    (``value`` = the shift)."""
    at = br.offset
    shift = br.eg(0, "prediction shift")
    if not pred_shift_ok(shape, shift):
        raise CorruptError(f"tensor {name!r}: prediction shift {shift} does not fit shape "
                           f"{shape} (§34)", offset=at, value=shift)
    return shift


def read_params(r: ByteReader) -> tuple[int, int, int]:
    at = r.pos
    len_k = r.u8("length order")
    if len_k > MAX_LEN_K:
        raise CorruptError(f"length order {len_k} > {MAX_LEN_K}", offset=at)
    at = r.pos
    voff_k = r.u8("value offset order")
    if voff_k > MAX_VOFF_K:
        raise CorruptError(f"value offset order {voff_k} > {MAX_VOFF_K}", offset=at)
    rate = r.varint("rate", MAX_RATE)
    return len_k, voff_k, rate


def read_entries(r: ByteReader, limits, ntab: int, dir_off: int, names: list[str],
                 version: int = 4):
    """The coding parameters and one entry record per name; ``r`` ends after the bit string.
    ``version`` 5: the prediction fields of §32 after the mirror fields; 6: and §34's
    ``pred_shift`` after ``pred_mode``; 7: §36's ``v7`` varint, alias records and row floors
    (an alias is a copy of its target's entry under its own name, ``alias`` = the target)."""
    len_k, voff_k, rate = read_params(r)
    n_alias, floors_on = floor_v7.read_v7_field(r, len(names)) if version >= 7 else (0, False)
    br = EntryBits(r.buf, r.pos, r.end)
    targets = floor_v7.read_aliases(br, n_alias, len(names))
    tw = tid_width(ntab)
    entries = []
    total_bytes = 0
    boff = PREAMBLE_SIZE
    prev_code, prev_shape = FIRST_DTYPE, ()
    for i, name in enumerate(names):
        at = br.offset
        if i in targets:  # v7 (§36): no record, no block; prev_dtype / prev_shape unchanged
            t = entries[targets[i]]
            e = replace(t, name=name, alias=targets[i], group_tables=[], group_lengths=[],
                        mirror_modes=[], name_tokens=[])
            total_bytes += t.numel * np.dtype(t.dtype).itemsize
            if total_bytes > limits.max_output_bytes:
                raise LimitError("output would exceed max_output_bytes", offset=at)
            entries.append(e)
            continue
        # dtype
        if br.u(1, "dtype flag") == 1:
            code = prev_code
        else:
            code = br.u(3, "dtype")
            if code not in DTYPE_BY_CODE:
                raise CorruptError(f"tensor {name!r}: unknown dtype code {code}", offset=at)
        prev_code = code
        dtype = DTYPE_BY_CODE[code]
        # shape
        if br.u(1, "shape flag") == 1:
            shape = prev_shape
        else:
            at_s = br.offset
            nd = br.eg(0, "ndim")
            ndim, zero = nd // 2, nd % 2
            if ndim > limits.max_ndim:
                raise LimitError(f"tensor {name!r}: ndim {ndim} > {limits.max_ndim}",
                                 offset=at_s)
            dims = []
            for _ in range(ndim):
                at_d = br.offset
                d = br.eg(0, "dim") + 1 - zero
                if d > MAX_DIM:
                    raise CorruptError(f"tensor {name!r}: dim {d} > 2^48", offset=at_d)
                dims.append(d)
            shape = tuple(dims)
            if zero == 1 and 0 not in shape:
                raise CorruptError(f"tensor {name!r}: shape {shape} marked empty has no 0 dim",
                                   offset=at_s)
        prev_shape = shape
        numel = 1
        for d in shape:
            numel *= d
        total_bytes += numel * np.dtype(dtype).itemsize
        if total_bytes > limits.max_output_bytes:
            raise LimitError("output would exceed max_output_bytes", offset=at)
        # grouping
        K = kernel_size(shape)
        at_g = br.offset
        gcode = br.u(2, "group code")
        if gcode == 0:
            gsize = br.eg(0, "group size") + 1
        elif gcode == 2:
            gsize = (br.eg(0, "kernels per group") + 1) * K
        elif gcode == 1:
            gsize = K
        else:
            gsize = max(1, numel)
        if gsize > MAX_DIM:
            raise CorruptError(f"tensor {name!r}: group size {gsize} > 2^48", offset=at_g)
        # value offset, metadata, mirror
        voff = 0
        if br.u(1, "value offset flag") == 1:
            at_v = br.offset
            voff = br.seg(voff_k, "value offset")
            lo, hi = dtype_range(dtype)
            if not lo <= voff <= hi:
                raise CorruptError(f"tensor {name!r}: value offset {voff} outside [{lo}, {hi}]",
                                   offset=at_v)
        mlen = br.eg(0, "meta length") + 1 if br.u(1, "meta flag") == 1 else 0
        period = skip = mbytes = 0
        if br.u(1, "mirror flag") == 1:
            at_m = br.offset
            period = br.eg(0, "mirror period") + 2
            if numel == 0 or period > MAX_DIM or numel % period != 0:
                raise CorruptError(f"tensor {name!r}: mirror period {period} does not fit "
                                   f"{numel} values", offset=at_m)
            at_m = br.offset
            skip = br.eg(0, "mirror skip")
            if skip > period - 2:
                raise CorruptError(f"tensor {name!r}: mirror skip {skip} > period - 2",
                                   offset=at_m)
            mbytes = (numel // period + 3) // 4
        # v5 (§32): the prediction transform (every mode 0-7 is valid: no check); v6 (§34):
        # which two adjacent dimensions hold its images
        pred_mode, pred_shift = -1, 0
        if version >= 5 and pred_eligible(shape, numel, period > 0):
            if br.u(1, "prediction flag") == 1:
                pred_mode = br.u(3, "prediction mode")
                if version >= 6:
                    pred_shift = read_pred_shift(br, name, shape)
        # v7 (§36): row floors (R1, R2)
        floors = ()
        if floors_on and floor_v7.eligible(dtype, numel, voff, period > 0, pred_mode):
            if br.u(1, "floor flag") == 1:
                floors = floor_v7.read_floors(br, name, shape, dtype)
        # tables and lengths
        n_groups = -(-numel // gsize) if numel else 0
        if numel and ntab == 0:
            raise CorruptError(f"tensor {name!r} has values but there are no tables", offset=at)
        tid_base = tid_bits = len_bits = glen = gtab = pbytes = 0
        at_l = br.offset
        if numel:
            tid_base = br.u(tw, "table base")
            if tid_base >= ntab:
                raise CorruptError(f"tensor {name!r}: table base {tid_base} >= {ntab}",
                                   offset=at_l)
            pred = predicted_bits(numel, rate)
            at_l = br.offset
            if n_groups == 1:  # the group's exact length; the block has no group table
                glen = pred + br.seg(len_k, "group length")
                if glen < 1:
                    raise CorruptError(f"tensor {name!r}: group length {glen} < 1",
                                       offset=at_l)
                pbytes = (glen + 7) // 8
            else:
                tid_bits = br.eg(0, "table id bits")
                if tid_bits > MAX_TID_BITS:
                    raise CorruptError(f"tensor {name!r}: table id width {tid_bits} > 12",
                                       offset=at_l)
                len_bits = br.u(6, "length bits")
                if not 1 <= len_bits <= MAX_LEN_BITS:
                    raise CorruptError(f"tensor {name!r}: length width {len_bits} outside "
                                       f"1..56", offset=at_l)
                at_l = br.offset
                pbytes = (pred + 7) // 8 + br.seg(max(len_k - 3, 0), "payload length")
                if pbytes < 0:
                    raise CorruptError(f"tensor {name!r}: payload length {pbytes} < 0",
                                       offset=at_l)
                gtab = (n_groups * (tid_bits + len_bits) + 7) // 8
        blen = mlen + mbytes + gtab + pbytes
        if boff + blen > dir_off:
            raise CorruptError(f"tensor {name!r}: block outside the data area", offset=at_l)
        if n_groups > 8 * pbytes:
            raise CorruptError(f"tensor {name!r}: groups cannot fit the payload", offset=at_l)
        e = RefEntry(name, dtype, shape, GROUP_MODE_BY_CODE4[gcode], gsize, voff, boff, blen, 0,
                     mlen, tid_base, tid_bits, len_bits)
        e.numel, e.n_groups = numel, n_groups
        e.group_table_bytes, e.payload_bytes, e.glen = gtab, pbytes, glen
        e.mirror_period, e.mirror_skip, e.mirror_bytes = period, skip, mbytes
        e.pred_mode, e.pred_shift, e.floors = pred_mode, pred_shift, floors
        entries.append(e)
        boff += blen
    r.pos = br.end_pos()
    if boff != dir_off:
        raise CorruptError("blocks do not end at the directory", offset=r.pos)
    return entries


# --- the table pool (§28.1) -------------------------------------------------------------------

def read_tables(r: ByteReader, limits) -> list[RefTable]:
    """``n_tables`` (varint), then one bit string: per table [same_alphabet], [kref, nrun - 1,
    nclass - 1], mode, gk, and the code lengths as mode 0 (ascending symbols, each a gap and a
    length delta) or mode 1 (counts per length, then each length's symbols); 0-padded to a
    byte at the end of the pool.  Checks T1v4-T6v4 of §30, in that order; T2v4-T4v4 and T6v4
    report the table's first byte, T5v4 the byte where the symbol's gap starts."""
    ntab = r.varint("table count", limits.max_tables, LimitError)  # T1v4
    br = EntryBits(r.buf, r.pos, r.end, "table bit string")
    tables = []
    total_sym = 0
    kref = nrun = nclass = 0
    for i in range(ntab):
        at = br.offset
        same = br.u(1, "same alphabet") if i >= 1 else 0
        if same == 0:  # the alphabet follows (T2v4)
            kref = br.u(3, "kref")
            if kref > MAX_KREF:
                raise CorruptError(f"table {i}: kref {kref} > {MAX_KREF}", offset=at)
            nrun = br.eg(0, "nrun") + 1
            if nrun > MAX_NRUN:
                raise CorruptError(f"table {i}: nrun {nrun} > {MAX_NRUN}", offset=at)
            nclass = br.eg(0, "nclass") + 1
            if nclass > max_classes(kref):
                raise CorruptError(f"table {i}: nclass {nclass} > {max_classes(kref)}",
                                   offset=at)
        nsym = SYM_FIRST + nclass * nrun
        if nsym > MAX_SYMBOLS:  # T3v4
            raise LimitError(f"table {i}: {nsym} symbols > {MAX_SYMBOLS}", offset=at)
        total_sym += nsym
        if total_sym > limits.max_table_symbols:
            raise LimitError(f"table {i}: the alphabets exceed max_table_symbols="
                             f"{limits.max_table_symbols}", offset=at)
        mode = br.u(1, "list mode")
        gk = br.u(2, "gap order")
        lengths = [0] * nsym
        if mode == 0:  # the coded symbols in ascending order, each with its length
            at_n = br.offset
            n_codes = br.eg(0, "code count") + 1
            if n_codes > nsym:  # T4v4
                raise CorruptError(f"table {i}: {n_codes} codes for {nsym} symbols",
                                   offset=at_n)
            dk = br.u(2, "length delta order")
            prev = -1
            for _ in range(n_codes):
                at_s = br.offset
                s = prev + 1 + br.eg(gk, "symbol gap")
                if s >= nsym:  # T5v4
                    raise CorruptError(f"table {i}: symbol {s} beyond its {nsym} symbols",
                                       offset=at_s)
                if prev < 0:
                    ln = br.u(4, "first code length")
                else:
                    ln = lengths[prev] + br.seg(dk, "code length delta")
                if not 1 <= ln <= MAX_CODE_LEN:
                    raise CorruptError(f"table {i}: symbol {s} has code length {ln}",
                                       offset=at_s)
                lengths[s] = ln
                prev = s
        else:  # counts per length, then each length's symbols in ascending order
            at_n = br.offset
            counts = [br.eg(0, f"count of length {ln}") for ln in range(1, MAX_CODE_LEN + 1)]
            if sum(counts) > nsym:  # T4v4
                raise CorruptError(f"table {i}: {sum(counts)} codes for {nsym} symbols",
                                   offset=at_n)
            for ln, count in enumerate(counts, 1):
                prev = -1
                for _ in range(count):
                    at_s = br.offset
                    s = prev + 1 + br.eg(gk, "symbol gap")
                    if s >= nsym:  # T5v4
                        raise CorruptError(f"table {i}: symbol {s} beyond its {nsym} symbols",
                                           offset=at_s)
                    if lengths[s] != 0:
                        raise CorruptError(f"table {i}: symbol {s} listed twice", offset=at_s)
                    lengths[s] = ln
                    prev = s
        if lengths[SYM_EOB] == 0:  # T6v4
            raise CorruptError(f"table {i} has no end-of-group code", offset=at)
        if sum(1 << (MAX_CODE_LEN - ln) for ln in lengths if ln) > 1 << MAX_CODE_LEN:
            raise CorruptError(f"table {i}: lengths violate the Kraft inequality", offset=at)
        tables.append(RefTable(kref, nrun, nclass, lengths))
    r.pos = br.end_pos()  # the pool is 0-padded to a byte
    return tables
