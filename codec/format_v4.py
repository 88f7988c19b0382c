"""Format v4: the table pool and the entries as Exp-Golomb bit strings (docs/FORMAT.md §27-§31).

Version 4 is version 3 with (a) the Huffman table pool as one bit string (§28.1: a shared-
alphabet flag, each table's code lengths listed in one of two modes), (b) the tensor entries
(§18) as one bit string (§28.2), (c) no group table in the block of a tensor that has exactly
one group (that group's exact bit length is in its entry) and (d) a 12-byte footer (in
format.py).  Names (§17.1), chunk CRCs, payload coding, metadata and mirror modes are v3's.
This module writes both bit strings (the writer chooses every coding parameter by exact
size, vectorised with numpy) and holds the Python parser that names every violation exactly;
kernels/directory_v2.py holds the Numba fast path (``read_table_pool_v4``, ``_entries_v4``).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from ._bytes import Reader, put_varint
from .errors import CorruptError, LimitError, TruncatedError
from .huffman import MAX_CODE_LEN
from .kernels.pool_v4 import table_choice, table_fields
from .kernels.symbols import MAX_KREF, MAX_NRUN, MAX_SYMBOLS, SYM_FIRST
from .predict import shift_ok
from .format_v2 import (G_COUNT, G_KERNEL, G_KERNELS, GROUP_MODE_OF_CODE, kernel_size,  # noqa: F401
                        numel_of, group_code as group_code_v4)  # v4's group codes are v2's (§18)

MAX_DIM = 1 << 48
MAX_LEN_K = 40          # Exp-Golomb order of the length residuals
MAX_VOFF_K = 32         # Exp-Golomb order of value offsets
MAX_FLOOR_K = 30        # v7: Exp-Golomb order of a tensor's row floors (§36)
MAX_RATE = 4096         # predicted bits per value, in 1/64 bit (64 bits a value at most)
MAX_EG_BITS = 56        # an Exp-Golomb field's prefix zeros + order: values < 2^57
FIRST_DTYPE = 1         # the "previous" dtype code of the first entry (int8)


def tid_width(ntab: int) -> int:
    """Bits of an entry's ``tid_base`` field: bit length of n_tables - 1 (0 for <= 1 table)."""
    return (ntab - 1).bit_length() if ntab > 1 else 0


def predicted_bits(numel: int, rate: int) -> int:
    """A tensor's predicted payload bits: ``(numel * rate) >> 6``."""
    return (numel * rate) >> 6


def eg_bits(n: int, k: int) -> int:
    """Bits of the order-``k`` Exp-Golomb code of ``n >= 0``."""
    m = (n >> k) + 1
    return 2 * m.bit_length() - 1 + k


def zigzag(s: int) -> int:
    return 2 * s if s >= 0 else -2 * s - 1


class BitWriter:
    """MSB-first bit string, 0-padded to a byte by :meth:`bytes` (fields kept as '0'/'1'
    strings: linear in the string's length)."""

    def __init__(self):
        self.parts: list[str] = []
        self.n = 0

    @property
    def acc(self) -> int:
        return int("".join(self.parts), 2) if self.n else 0

    def put(self, v: int, w: int) -> None:
        if w:
            self.parts.append(format(v, f"0{w}b"))
            self.n += w

    def eg(self, n: int, k: int = 0) -> None:
        m = (n >> k) + 1
        z = m.bit_length() - 1
        self.put(0, z)
        self.put(m, z + 1)
        self.put(n & ((1 << k) - 1), k)

    def seg(self, s: int, k: int = 0) -> None:
        self.eg(zigzag(s), k)

    def bytes(self) -> bytes:
        if not self.n:
            return b""
        pad = -self.n % 8
        return int("".join(self.parts) + "0" * pad, 2).to_bytes((self.n + pad) // 8, "big")


_POW2 = np.array([1 << i for i in range(63)], np.int64)


def eg_sums(values: np.ndarray, kmax: int) -> np.ndarray:
    """Total bits of the order-``k`` Exp-Golomb codes of ``values`` (int64, each >= 0), for
    every ``k`` in 0 … ``kmax``, in one pass."""
    if values.size == 0:
        return np.zeros(kmax + 1, np.int64)
    ks = np.arange(kmax + 1, dtype=np.int64)
    m = (values[None, :] >> ks[:, None]) + 1
    nbits = np.searchsorted(_POW2, m.ravel(), side="right").reshape(m.shape)
    return 2 * nbits.sum(axis=1) + values.size * (ks - 1)


def pack_fields(vals: np.ndarray, widths: np.ndarray) -> bytes:
    """The bit string of fields ``vals`` (int64, each < 2^63) in ``widths`` bits (0 … 63),
    MSB first, back to back, 0-padded to a byte."""
    vals = np.asarray(vals, np.int64)
    widths = np.asarray(widths, np.int64)
    total = int(widths.sum())
    if total == 0:
        return b""
    ends = np.cumsum(widths)
    shift = np.repeat(ends, widths) - 1 - np.arange(total)   # bit index within each field
    bits = (np.repeat(vals, widths) >> shift) & 1
    return np.packbits(bits.astype(np.uint8)).tobytes()


# ---------------------------------------------------------------------------------------------
# writer

def pred_eligible(shape: tuple, numel: int, mirror_period: int) -> bool:
    """§32: does a v5 entry of this tensor carry ``has_pred``?"""
    return (numel > 0 and len(shape) >= 2 and (shape[-1] > 1 or shape[-2] > 1)
            and not mirror_period)


def pred_shift_ok(shape: tuple, shift: int) -> bool:
    """§34: may a predicted tensor of ``shape`` have ``pred_shift = shift``?  (The rule is
    :func:`codec.predict.shift_ok`; the writer and the parser call it through this name.)"""
    return shift_ok(shape, shift)


def _entry_fields(entries, dtype_code, ntab: int, rate: int, version: int = 4) -> list:
    """Every entry's fields in order, as (kind, value, width): kind "u" (``width`` bits), "eg"
    (``EG(width)``), or "L" / "P" / "V" (Exp-Golomb of the order chosen later: ``len_k``,
    ``max(len_k − 3, 0)``, ``voff_k``)."""
    f: list = []
    prev_dt, prev_shape = FIRST_DTYPE, ()
    tw = tid_width(ntab)
    last = -1
    floors_on = version >= 7 and v7_field(entries) & 1 == 1
    for i, e in enumerate(entries):  # v7: the alias records first (§36)
        if e.alias >= 0:
            if version < 7 or not 0 <= e.alias < i or entries[e.alias].alias >= 0:
                raise ValueError(f"tensor {e.name!r}: an alias needs format v7 and an earlier "
                                 f"tensor that is not an alias (§36)")
            f += [("eg", i - last - 1, 0), ("eg", i - e.alias - 1, 0)]
            last = i
    for e in entries:
        if e.alias >= 0:
            continue
        code = dtype_code[e.dtype]
        if code == prev_dt:
            f.append(("u", 1, 1))
        else:
            f += [("u", 0, 1), ("u", code, 3)]
        prev_dt = code
        shape = tuple(int(d) for d in e.shape)
        if shape == prev_shape:
            f.append(("u", 1, 1))
        else:
            zero = int(any(d == 0 for d in shape))
            f += [("u", 0, 1), ("eg", 2 * len(shape) + zero, 0)]
            f += [("eg", d - 1 + zero, 0) for d in shape]
        prev_shape = shape
        gc, gval = group_code_v4(e.group_mode, e.group_size, shape)
        f.append(("u", gc, 2))
        if gval is not None:
            f.append(("eg", gval - 1, 0))
        f.append(("u", int(e.value_offset != 0), 1))
        if e.value_offset:
            f.append(("V", zigzag(e.value_offset), 0))
        f.append(("u", int(e.meta_length != 0), 1))
        if e.meta_length:
            f.append(("eg", e.meta_length - 1, 0))
        f.append(("u", int(e.mirror_period != 0), 1))
        if e.mirror_period:
            f += [("eg", e.mirror_period - 2, 0), ("eg", e.mirror_skip, 0)]
        numel = numel_of(shape)
        if version >= 5 and pred_eligible(shape, numel, e.mirror_period):
            f.append(("u", int(e.pred_mode >= 0), 1))
            if e.pred_mode >= 0:
                f.append(("u", e.pred_mode, 3))
                if version >= 6:
                    if not pred_shift_ok(shape, e.pred_shift):
                        raise ValueError(f"tensor {e.name!r}: prediction shift {e.pred_shift} "
                                         f"does not fit shape {shape} (§34)")
                    f.append(("eg", e.pred_shift, 0))
                elif e.pred_shift:
                    raise ValueError(f"tensor {e.name!r}: a prediction shift needs format v6 "
                                     f"(§34)")
        elif e.pred_mode >= 0:
            raise ValueError(f"tensor {e.name!r}: a prediction mode needs format v5 and an "
                             f"eligible tensor (§32)")
        if floors_on and floor_eligible(e.dtype, numel, e.value_offset, e.mirror_period,
                                        e.pred_mode):
            f.append(("u", int(bool(e.floors)), 1))
            if e.floors:
                if len(e.floors) != floor_rows(shape):
                    raise ValueError(f"tensor {e.name!r}: {len(e.floors)} floors for "
                                     f"{floor_rows(shape)} rows (§36)")
                k = floor_order(e.floors)
                f.append(("u", k, 5))
                f += [("eg", int(x), k) for x in e.floors]
        elif e.floors:
            raise ValueError(f"tensor {e.name!r}: row floors need format v7 and a floor-eligible "
                             f"tensor (§36)")
        if numel:
            f.append(("u", e.tid_base, tw))
            pred = predicted_bits(numel, rate)
            if e.glen:
                f.append(("L", zigzag(e.glen - pred), 0))
            else:
                f += [("eg", e.tid_bits, 0), ("u", e.len_bits, 6),
                      ("P", zigzag(e.payload_bytes - ((pred + 7) >> 3)), 0)]
    return f


def _orders(len_k: int, voff_k: int) -> dict:
    return {"L": len_k, "P": max(len_k - 3, 0), "V": voff_k}


def _emit(f: list, orders: dict, bw: BitWriter | None) -> int:
    """Write (``bw``) or count the fields ``f`` with the late orders ``orders``."""
    bits = 0
    for kind, v, w in f:
        if kind == "u":
            bits += w
            if bw is not None:
                bw.put(v, w)
        else:
            k = w if kind == "eg" else orders[kind]
            bits += eg_bits(v, k)
            if bw is not None:
                bw.eg(v, k)
    return bits


def _records(entries, dtype_code, ntab: int, len_k: int, voff_k: int, rate: int,
             bw: BitWriter | None) -> int:
    """Write (``bw``) or count (``bw`` None) the entry records; returns their bits."""
    return _emit(_entry_fields(entries, dtype_code, ntab, rate), _orders(len_k, voff_k), bw)


def floor_rows(shape: tuple) -> int:
    """§36: ``R``, a floored tensor's rows (``shape[0]`` with 2 or more dims, else 1)."""
    return int(shape[0]) if len(shape) >= 2 else 1


def floor_eligible(dtype, numel: int, voff: int, mirror_period: int, pred_mode: int) -> bool:
    """§36: may this tensor carry ``has_floor``?"""
    return (numel > 0 and np.dtype(dtype).kind == "i" and voff == 0 and not mirror_period
            and pred_mode < 0)


def floor_order(floors) -> int:
    """§36: ``floor_k``, the order in 0 ... 30 that makes ``floors`` shortest (ties: the
    lower)."""
    return int(np.argmin(eg_sums(np.asarray(floors, np.int64), MAX_FLOOR_K)))


def _rate(entries) -> int:
    entries = [e for e in entries if e.alias < 0]
    num = sum(e.glen for e in entries if e.glen)
    den = sum(e.numel for e in entries if e.glen)
    return min(MAX_RATE, (64 * num + den // 2) // den) if den else 0


def _choose(f: list) -> tuple[int, int]:
    """(len_k, voff_k) of §29 for the fields ``f``: the smallest total, ties the lower."""
    vals = {c: np.array([v for kind, v, _ in f if kind == c], np.int64) for c in "LPV"}
    lk = eg_sums(vals["L"], MAX_LEN_K)
    pk = eg_sums(vals["P"], MAX_LEN_K)
    tot = lk + pk[np.maximum(np.arange(MAX_LEN_K + 1) - 3, 0)]
    return int(np.argmin(tot)), int(np.argmin(eg_sums(vals["V"], MAX_VOFF_K)))  # first min


def choose_params(entries, dtype_code, ntab: int, version: int = 4) -> tuple[int, int, int]:
    """(len_k, voff_k, rate) of §29: rate from the one-group tensors' lengths, then each
    order the smallest-size one (ties: the lower)."""
    rate = _rate(entries)
    return (*_choose(_entry_fields(entries, dtype_code, ntab, rate, version)), rate)


def _pack(f: list, orders: dict) -> bytes:
    """The bit string of fields ``f`` (see :func:`_entry_fields`) with the late orders."""
    vals = np.empty(len(f), np.int64)
    widths = np.empty(len(f), np.int64)
    for i, (kind, v, w) in enumerate(f):
        if kind == "u":
            vals[i], widths[i] = v, w
        else:
            k = w if kind == "eg" else orders[kind]
            vals[i], widths[i] = v + (1 << k), eg_bits(v, k)
    return pack_fields(vals, widths)


def entries_size(entries, dtype_code, ntab: int, version: int = 4) -> int:
    """Bytes :func:`write_entries` writes (the encoder sizes candidate plans with it)."""
    rate = _rate(entries)
    f = _entry_fields(entries, dtype_code, ntab, rate, version)
    len_k, voff_k = _choose(f)
    return (2 + _varint_len(rate) + (_varint_len(v7_field(entries)) if version >= 7 else 0)
            + (_emit(f, _orders(len_k, voff_k), None) + 7) // 8)


def v7_field(entries) -> int:
    """§36's ``v7`` varint: ``2 · n_alias + floors_on``."""
    return 2 * sum(e.alias >= 0 for e in entries) + any(e.floors for e in entries)


def _varint_len(v: int) -> int:
    return max(1, (v.bit_length() + 6) // 7)


def write_entries(out: bytearray, entries, dtype_code, ntab: int, version: int = 4) -> None:
    """§28: the three coding parameters, then the entry bit string (0-padded to a byte)."""
    rate = _rate(entries)
    f = _entry_fields(entries, dtype_code, ntab, rate, version)
    len_k, voff_k = _choose(f)
    out.append(len_k)
    out.append(voff_k)
    put_varint(out, rate)
    if version >= 7:
        put_varint(out, v7_field(entries))
    out += _pack(f, _orders(len_k, voff_k))


# ---------------------------------------------------------------------------------------------
# parser (exact errors)

class EntryBits:
    """MSB-first bits of ``r.buf[r.pos:r.end]`` with Exp-Golomb reads (§27)."""

    def __init__(self, r: Reader, label: str = "entry bit string"):
        self.r = r
        self.bit = 8 * r.pos
        self.label = label

    @property
    def offset(self) -> int:
        return self.r.base + self.bit // 8

    def u(self, w: int, what: str) -> int:
        if self.bit + w > 8 * self.r.end:
            raise TruncatedError(f"input ends inside the {self.label} ({self.r.ctx}{what})",
                                 offset=self.offset)
        v = 0
        buf = self.r.buf
        for _ in range(w):
            v = (v << 1) | ((buf[self.bit >> 3] >> (7 - (self.bit & 7))) & 1)
            self.bit += 1
        return v

    def eg(self, k: int, what: str) -> int:
        at = self.offset
        z = 0
        while self.u(1, what) == 0:
            z += 1
            if z + k > MAX_EG_BITS:
                raise CorruptError(f"{self.r.ctx}{what}: Exp-Golomb prefix of more than "
                                   f"{MAX_EG_BITS - k} zeros", offset=at, value=z)
        m = (1 << z) | self.u(z, what)
        return ((m - 1) << k) | self.u(k, what)

    def seg(self, k: int, what: str) -> int:
        u = self.eg(k, what)
        return u >> 1 if u % 2 == 0 else -((u + 1) >> 1)

    def close(self) -> None:
        self.r.pos = (self.bit + 7) // 8


def read_params(r: Reader) -> tuple[int, int, int]:
    """V1-V3 of §30."""
    at = r.offset
    len_k = r.u8("length order")
    if len_k > MAX_LEN_K:
        raise CorruptError(f"length order {len_k} > {MAX_LEN_K}", offset=at, value=len_k)
    at = r.offset
    voff_k = r.u8("value offset order")
    if voff_k > MAX_VOFF_K:
        raise CorruptError(f"value offset order {voff_k} > {MAX_VOFF_K}", offset=at,
                           value=voff_k)
    rate = r.varint("rate", limit=MAX_RATE)
    return len_k, voff_k, rate


def read_entries(r: Reader, limits, ntab: int, dir_off: int, names: list[str], entry_cls,
                 dtypes: dict, value_range, version: int = 4):
    """The coding parameters and entries of §28 with the checks of §30."""
    len_k, voff_k, rate = read_params(r)
    targets = {}
    floors_on = False
    if version >= 7:
        at = r.offset
        v7 = r.varint("aliases and floors")
        n_alias, floors_on = v7 >> 1, bool(v7 & 1)
        if n_alias > max(len(names) - 1, 0):  # A1
            raise CorruptError(f"{n_alias} aliases among {len(names)} tensors", offset=at,
                               value=n_alias)
    br = EntryBits(r)
    if version >= 7:
        targets = _read_aliases(br, n_alias, len(names))
    tw = tid_width(ntab)
    entries = []
    total_out = 0
    pos = 8
    prev_dt, prev_shape = FIRST_DTYPE, ()
    for i, name in enumerate(names):
        at = br.offset
        if i in targets:  # §36: tensor j's entry and block under this name
            e = replace(entries[targets[i]], name=name, alias=targets[i])
            total_out += e.numel * e.dtype.itemsize
            if total_out > limits.max_output_bytes:
                raise LimitError(f"tensor {name!r}: output would exceed max_output_bytes="
                                 f"{limits.max_output_bytes}", offset=at, value=total_out)
            entries.append(e)
            continue
        r.ctx = f"tensor {name!r} "
        if br.u(1, "dtype flag"):
            code = prev_dt
        else:
            code = br.u(3, "dtype")
            if code not in dtypes:
                raise CorruptError(f"tensor {name!r}: unknown dtype code {code}", offset=at,
                                   value=code)
        prev_dt = code
        dtype = dtypes[code]
        if br.u(1, "shape flag"):
            shape = prev_shape
        else:
            at_s = br.offset
            nd = br.eg(0, "ndim")
            ndim, zero = nd >> 1, nd & 1
            if ndim > limits.max_ndim:
                raise LimitError(f"tensor {name!r}: ndim {ndim} > max_ndim={limits.max_ndim}",
                                 offset=at_s, value=ndim)
            dims = []
            for _ in range(ndim):
                at_d = br.offset
                d = br.eg(0, "dim") + 1 - zero
                if d > MAX_DIM:
                    raise CorruptError(f"tensor {name!r}: dim {d} > 2^48", offset=at_d, value=d)
                dims.append(d)
            shape = tuple(dims)
            if zero and 0 not in shape:
                raise CorruptError(f"tensor {name!r}: shape {shape} flagged empty has no zero "
                                   f"dim", offset=at_s, value=shape)
        prev_shape = shape
        numel = numel_of(shape)
        total_out += numel * dtype.itemsize
        if total_out > limits.max_output_bytes:
            raise LimitError(f"tensor {name!r}: output would exceed max_output_bytes="
                             f"{limits.max_output_bytes}", offset=at, value=total_out)
        K = kernel_size(shape)
        at_g = br.offset
        gc = br.u(2, "group code")
        if gc == G_COUNT:
            gsize = br.eg(0, "group size") + 1
            if gsize > MAX_DIM:
                raise CorruptError(f"tensor {name!r}: group size {gsize} > 2^48", offset=at_g,
                                   value=gsize)
        elif gc == G_KERNELS:
            k = br.eg(0, "kernels per group") + 1
            if k * K > MAX_DIM:
                raise CorruptError(f"tensor {name!r}: {k} kernels of {K} per group",
                                   offset=at_g, value=k)
            gsize = k * K
        elif gc == G_KERNEL:
            gsize = K
        else:
            gsize = max(1, numel)
        if gsize > MAX_DIM:
            raise CorruptError(f"tensor {name!r}: group size {gsize} > 2^48", offset=at_g,
                               value=gsize)
        voff = 0
        if br.u(1, "value offset flag"):
            at_v = br.offset
            voff = br.seg(voff_k, "value offset")
            lo, hi = value_range(dtype)
            if not lo <= voff <= hi:
                raise CorruptError(f"tensor {name!r}: value offset {voff} outside [{lo}, {hi}]",
                                   offset=at_v, value=voff)
        mlen = br.eg(0, "meta length") + 1 if br.u(1, "meta flag") else 0
        period = skip = mbytes = 0
        if br.u(1, "mirror flag"):
            at_m = br.offset
            period = br.eg(0, "mirror period") + 2
            if numel == 0 or period > MAX_DIM or numel % period:
                raise CorruptError(f"tensor {name!r}: mirror period {period} does not divide "
                                   f"its {numel} values into rows of >= 2", offset=at_m,
                                   value=period)
            at_m = br.offset
            skip = br.eg(0, "mirror skip")
            if skip > period - 2:
                raise CorruptError(f"tensor {name!r}: mirror skip {skip} > period - 2",
                                   offset=at_m, value=skip)
            mbytes = (numel // period + 3) // 4
        pmode = -1
        pshift = 0
        if version >= 5 and pred_eligible(shape, numel, period) and br.u(1, "prediction flag"):
            pmode = br.u(3, "prediction mode")
            if version >= 6:
                at_p = br.offset
                pshift = br.eg(0, "prediction shift")
                if not pred_shift_ok(shape, pshift):
                    raise CorruptError(f"tensor {name!r}: prediction shift {pshift} does not "
                                       f"fit shape {shape} (§34)", offset=at_p, value=pshift)
        floors = ()
        if floors_on and floor_eligible(dtype, numel, voff, period, pmode) \
                and br.u(1, "floor flag"):
            floors = _read_floors(br, name, floor_rows(shape), value_range(dtype)[1])
        tid_base = tid_bits = len_bits = glen = 0
        n_groups = -(-numel // gsize) if numel else 0
        if numel and ntab == 0:
            raise CorruptError(f"tensor {name!r} has data but the package has no tables",
                               offset=at)
        at_l = br.offset
        if not numel:
            blen = mlen
        else:
            tid_base = br.u(tw, "table base")
            if tid_base >= ntab:
                raise CorruptError(f"tensor {name!r}: table base {tid_base} >= {ntab} tables",
                                   offset=at_l, value=tid_base)
            pred = predicted_bits(numel, rate)
            at_l = br.offset
            if n_groups == 1:
                glen = pred + br.seg(len_k, "group length")
                if glen < 1:
                    raise CorruptError(f"tensor {name!r}: group length {glen} < 1", offset=at_l,
                                       value=glen)
                blen = mlen + mbytes + (glen + 7) // 8
            else:
                tid_bits = br.eg(0, "table id bits")
                if tid_bits > 12:
                    raise CorruptError(f"tensor {name!r}: table id width {tid_bits} > 12",
                                       offset=at_l, value=tid_bits)
                len_bits = br.u(6, "length bits")
                if not 1 <= len_bits <= 56:
                    raise CorruptError(f"tensor {name!r}: length width {len_bits} outside "
                                       f"1..56", offset=at_l, value=len_bits)
                at_l = br.offset
                pb = ((pred + 7) >> 3) + br.seg(max(len_k - 3, 0), "payload length")
                if pb < 0:
                    raise CorruptError(f"tensor {name!r}: payload length {pb} < 0",
                                       offset=at_l, value=pb)
                blen = mlen + mbytes + (n_groups * (tid_bits + len_bits) + 7) // 8 + pb
        if pos + blen > dir_off:
            raise CorruptError(f"tensor {name!r}: block [{pos}, +{blen}) outside the data area "
                               f"[8, {dir_off})", offset=at_l, value=blen)
        e = entry_cls(name, dtype, shape, GROUP_MODE_OF_CODE[gc], gsize, voff, pos, blen, 0, mlen,
                      tid_base, tid_bits, len_bits, None, period, skip, glen, pmode, pshift,
                      floors)
        if e.n_groups > e.payload_bytes * 8:
            raise CorruptError(f"tensor {name!r}: {e.n_groups} groups cannot fit in "
                               f"{e.payload_bytes} payload bytes", offset=at_l)
        entries.append(e)
        pos += blen
    r.ctx = ""
    br.close()
    if pos != dir_off:
        raise CorruptError(f"blocks end at {pos}, the directory starts at {dir_off}",
                           offset=r.offset, value=pos)
    return entries


def _read_aliases(br: EntryBits, n_alias: int, count: int) -> dict[int, int]:
    """§36's alias records (A2, A3): {alias index: target index}."""
    targets: dict[int, int] = {}
    last = -1
    for _ in range(n_alias):
        at = br.offset
        gap = br.eg(0, "alias gap")
        if last + 1 + gap > count - 1:
            raise CorruptError(f"alias of tensor {last + 1 + gap}: only {count} tensors",
                               offset=at, value=gap)
        last += 1 + gap
        at = br.offset
        back = br.eg(0, "alias distance") + 1
        if back > last or last - back in targets:
            raise CorruptError(f"tensor {last}: alias target {last - back} is not an earlier "
                               f"tensor with an entry of its own", offset=at, value=back)
        targets[last] = last - back
    return targets


def _read_floors(br: EntryBits, name: str, rows: int, vmax: int) -> tuple:
    """§36: ``floor_k`` and the ``rows`` floors (R1, R2)."""
    at = br.offset
    k = br.u(5, "floor order")
    if k > MAX_FLOOR_K:
        raise CorruptError(f"tensor {name!r}: floor order {k} > {MAX_FLOOR_K}", offset=at,
                           value=k)
    floors = []
    for _ in range(rows):  # each >= 1 bit: a truncated list raises
        at = br.offset
        x = br.eg(k, "row floor")
        if x > vmax - 1:
            raise CorruptError(f"tensor {name!r}: row floor {x} > {vmax - 1}", offset=at,
                               value=x)
        floors.append(x)
    return tuple(floors)


# ---------------------------------------------------------------------------------------------
# the table pool (§28.1): one bit string of Exp-Golomb fields


def _lengths_u8(t) -> np.ndarray:
    return np.ascontiguousarray(t.lengths, np.uint8)


def _need_codes(bits: int) -> None:
    """The pool kernels' bits -1: a table they cannot write validly (the planner never makes
    one)."""
    if bits < 0:
        raise ValueError("a table needs codes of 1 to 12 bits (the end symbol's at least)")


def _table_cost(t, same: bool) -> tuple[int, int, int]:
    """§29's (mode, gk, dk) of table ``t``: the fewest bits, ties the lowest triple."""
    return _table_best(t, same)[1]


def _table_best(t, same: bool) -> tuple[int, tuple[int, int, int]]:
    """(bits, (mode, gk, dk)) of table ``t`` with §29's choice (kernels/pool_v4.py)."""
    bits, mode, gk, dk = table_choice(_lengths_u8(t), bool(same), np.int64(t.nrun),
                                      np.int64(t.nclass))
    _need_codes(bits)
    return int(bits), (int(mode), int(gk), int(dk))


def _table_vals(t, same: bool) -> tuple[np.ndarray, np.ndarray]:
    """(vals, widths) of one table's fields (§28.1) with §29's choice: the alphabet unless
    ``same``, mode, ``gk``, then mode 0's count, ``dk`` and (gap, length) pairs or mode 1's
    counts and gaps (kernels/pool_v4.py)."""
    vals, widths, bits = table_fields(_lengths_u8(t), bool(same), np.int64(t.kref),
                                      np.int64(t.nrun), np.int64(t.nclass))
    _need_codes(bits)
    return vals, widths


def _cached_vals(t, same: bool, cache: dict | None):
    """:func:`_table_vals` of table ``t``, from / into ``cache`` when given."""
    if cache is None:
        return _table_vals(t, same)
    key = (same, t.kref, t.nrun, t.nclass, np.asarray(t.lengths).tobytes())
    got = cache.get(key)
    if got is None:
        got = cache[key] = _table_vals(t, same)
    return got


def tables_size(tables, cache: dict | None = None) -> int:
    """Bytes :func:`write_tables` writes."""
    bits = 0
    prev = None
    for i, t in enumerate(tables):
        alpha = (t.kref, t.nrun, t.nclass)
        bits += 1 if i else 0
        same = alpha == prev
        key = ("bits", same, t.kref, t.nrun, t.nclass, np.asarray(t.lengths).tobytes())
        got = cache.get(key) if cache is not None else None
        if got is None:
            got = _table_best(t, same)[0]
            if cache is not None:
                cache[key] = got
        bits += got
        prev = alpha
    return _varint_len(len(tables)) + (bits + 7) // 8


def write_tables(out: bytearray, tables, cache: dict | None = None) -> None:
    """§28.1: ``n_tables``, then the tables' bit string (0-padded to a byte); each table's
    (mode, gap order, delta order) is the smallest-size one (ties: the lowest triple).
    ``cache``: a dict the writer may keep each table's fields in (the encoder sizes several
    candidate plans, which often share tables, then writes one)."""
    put_varint(out, len(tables))
    vs, ws = [], []
    prev = None
    for i, t in enumerate(tables):
        alpha = (t.kref, t.nrun, t.nclass)
        same = alpha == prev
        if i:
            vs.append(np.array([int(same)], np.int64))
            ws.append(np.array([1], np.int64))
        prev = alpha
        v, w = _cached_vals(t, same, cache)
        vs.append(v)
        ws.append(w)
    if vs:
        out += pack_fields(np.concatenate(vs), np.concatenate(ws))


def count_symbols(i: int, nsym: int, total_sym: int, limits, at: int) -> int:
    """T4 (§12) / T3v4: table ``i``'s alphabet within 2^16 symbols and the running total
    within ``max_table_symbols``; returns the new total."""
    if nsym > MAX_SYMBOLS:
        raise LimitError(f"table {i}: {nsym} symbols > {MAX_SYMBOLS}", offset=at, value=nsym)
    total_sym += nsym
    if total_sym > limits.max_table_symbols:
        raise LimitError(f"table {i}: the tables' alphabets exceed max_table_symbols="
                         f"{limits.max_table_symbols}", offset=at, value=total_sym)
    return total_sym


def read_tables(r: Reader, limits, table_cls, max_classes) -> list:
    """§28.1's table pool with the checks of §30 (T1v4-T6v4); ``table_cls(kref, nrun, nclass,
    lengths)`` builds each table."""
    ntab = r.varint("table count", limit=limits.max_tables, exc=LimitError)
    br = EntryBits(r, "table bit string")
    tables = []
    total_sym = 0
    kref = nrun = nclass = 0
    for i in range(ntab):
        at = br.offset
        r.ctx = f"table {i} "
        if i == 0 or not br.u(1, "same alphabet"):
            kref = br.u(3, "kref")
            if kref > MAX_KREF:
                raise CorruptError(f"table {i}: kref {kref} > {MAX_KREF}", offset=at, value=kref)
            nrun = br.eg(0, "nrun") + 1
            if nrun > MAX_NRUN:
                raise CorruptError(f"table {i}: nrun {nrun} > {MAX_NRUN}", offset=at, value=nrun)
            nclass = br.eg(0, "nclass") + 1
            if nclass > max_classes(kref):
                raise CorruptError(f"table {i}: nclass {nclass} > {max_classes(kref)}",
                                   offset=at, value=nclass)
        nsym = SYM_FIRST + nclass * nrun
        total_sym = count_symbols(i, nsym, total_sym, limits, at)
        mode = br.u(1, "list mode")
        gk = br.u(2, "gap order")
        lengths = np.zeros(nsym, np.uint8)
        kraft = 0
        if mode == 0:
            at_n = br.offset
            ncodes = br.eg(0, "code count") + 1
            if ncodes > nsym:
                raise CorruptError(f"table {i}: {ncodes} codes for {nsym} symbols", offset=at_n,
                                   value=ncodes)
            dk = br.u(2, "length delta order")
            prev, pl = -1, 0
            for _ in range(ncodes):
                at_s = br.offset
                x = prev + 1 + br.eg(gk, "symbol gap")
                if x >= nsym:
                    raise CorruptError(f"table {i}: symbol {x} beyond its {nsym} symbols",
                                       offset=at_s, value=x)
                ln = br.u(4, "code length") if prev < 0 else pl + br.seg(dk, "code length delta")
                if not 1 <= ln <= MAX_CODE_LEN:
                    raise CorruptError(f"table {i}: code length {ln} of symbol {x} outside "
                                       f"1..{MAX_CODE_LEN}", offset=at_s, value=ln)
                lengths[x] = ln
                kraft += 1 << (MAX_CODE_LEN - ln)
                prev, pl = x, ln
        else:
            at_n = br.offset
            counts = [br.eg(0, f"code count for length {ln}") for ln in range(1, MAX_CODE_LEN + 1)]
            if sum(counts) > nsym:
                raise CorruptError(f"table {i}: {sum(counts)} codes for {nsym} symbols",
                                   offset=at_n, value=sum(counts))
            for ln, c in enumerate(counts, 1):
                prev = -1
                for _ in range(c):
                    at_s = br.offset
                    x = prev + 1 + br.eg(gk, "symbol gap")
                    if x >= nsym:
                        raise CorruptError(f"table {i}: symbol {x} beyond its {nsym} symbols",
                                           offset=at_s, value=x)
                    if lengths[x]:
                        raise CorruptError(f"table {i}: symbol {x} listed twice", offset=at_s,
                                           value=x)
                    lengths[x] = ln
                    kraft += 1 << (MAX_CODE_LEN - ln)
                    prev = x
        if lengths[0] == 0:
            raise CorruptError(f"table {i} has no end-of-group code", offset=at)
        if kraft > 1 << MAX_CODE_LEN:
            raise CorruptError(f"table {i}: Huffman code lengths violate the Kraft inequality",
                               offset=at)
        tables.append(table_cls(kref, nrun, nclass, lengths))
    r.ctx = ""
    br.close()
    return tables
