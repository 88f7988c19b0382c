"""Directory parsing kernel: the fast path of :func:`codec.format.read_directory`.

``parse_directory`` walks the directory bytes twice (check and size, then fill) and checks every rule of docs/FORMAT.md
§"What a decoder rejects" that does not need Python objects (D1-D3, T1-T7, E1, E2, E4-E16 and
the names total).  It accepts only what the Python parser (``format._read_tables`` /
``format._read_entries``) accepts, with the same values; on any problem it returns a negative
status and the caller re-parses with the Python parser, which names the exact field and offset
(tests/test_directory_kernel.py fuzzes the two against each other).  UTF-8 validity and
uniqueness of names (E3) are checked by the caller on the names the kernel returns.

Reader invariant: ``pos`` is a byte index into ``d`` (the directory bytes); every read checks
``pos < d.size`` first.  Every write into an output array checks its size first.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .intrinsics import load_be64
from .tables import (P_BASE, P_FIELDS, P_G0, P_G1, P_GLEN, P_GSIZE, P_GT0, P_LEN_BITS, P_NUMEL,
                     P_PAY0, P_PAYLOAD, P_START, P_TID_BASE, P_TID_BITS, P_VOFF,
                     read_symbol_list)

MAX_CODE_LEN = 12
FAIL = -1          # any rule broken: the caller re-parses with the Python parser
BIG = np.int64(1) << np.int64(62)

# entry fields (columns of the int64 entries array)
F_NAME_OFF, F_NAME_LEN, F_DTYPE, F_NDIM, F_SHAPE_OFF, F_NUMEL, F_GMODE, F_GSIZE, F_VOFF, \
    F_BOFF, F_BLEN, F_CRC, F_MLEN, F_TID_BASE, F_TID_BITS, F_LEN_BITS, F_MPERIOD, F_MSKIP, \
    F_GLEN, F_PRED, F_PSHIFT, F_FLOOR, F_FLOOR_OFF, F_ALIAS = range(24)
N_FIELDS = 24      # (F_MPERIOD, F_MSKIP: format v3's mirror, 0 in v1 and v2; F_GLEN: v4's
#                    one group without a group table: its bits, else 0; F_PRED: v5's
#                    prediction transform, 1 + pred_mode, 0 = none; F_PSHIFT: v6's
#                    pred_shift, the images in dims ndim - 2 - shift and the next, else 0;
#                    F_FLOOR: v7's row floors, R rows (0 = none), the floors in the dims
#                    array at F_FLOOR_OFF; F_ALIAS: v7, 1 + the tensor whose entry and block
#                    this one shares, else 0)
# whole-set entries (build_luts(..., whole=1)): bit 31 set, bits 0-3 bits used (code +
# remainder + sign <= 12), bits 4-16 zero run, bits 17-30 value + WHOLE_MAX
WHOLE_FLAG = 1 << 31
WHOLE_MAX = 8191
# table fields
T_KREF, T_NRUN, T_NCLASS, T_LEN_OFF = range(4)

# dtype code -> (itemsize, min, max) for codes 1..6 (format.DTYPES)
_ITEMSIZE = np.array([0, 1, 1, 2, 2, 4, 4], np.int64)
_VMIN = np.array([0, -128, 0, -32768, 0, -(1 << 31), 0], np.int64)
_VMAX = np.array([0, 127, 255, 32767, 65535, (1 << 31) - 1, (1 << 32) - 1], np.int64)


@njit(cache=True)
def _varint(d, pos):
    """(value, new pos); value -1 for a varint that is truncated, over 9 bytes or >= 2**62."""
    v = np.int64(0)
    for i in range(9):
        if pos >= d.size:
            return np.int64(-1), pos
        b = np.int64(d[pos])
        pos += 1
        v |= (b & 0x7F) << (7 * i)
        if b < 0x80:
            if v >= BIG:
                return np.int64(-1), pos
            return v, pos
    return np.int64(-1), pos


@njit(cache=True)
def _read_table(d, pos, dest):
    """Counts per length and the gamma-coded symbol list of one table (the same checks as
    huffman.read_lengths) into ``dest`` (uint8[nsym], the table's code lengths).  Returns the
    position after the table or FAIL."""
    nsym = dest.size
    counts = np.zeros(MAX_CODE_LEN, np.int64)
    total = 0
    kraft = 0
    for li in range(MAX_CODE_LEN):
        c, pos = _varint(d, pos)
        if c < 0 or c > nsym:
            return FAIL
        counts[li] = c
        total += c
        kraft += c << (MAX_CODE_LEN - 1 - li)
    if total == 0 or total > nsym or kraft > (1 << MAX_CODE_LEN):
        return FAIL
    st, after, _bit = read_symbol_list(d, pos, d.size, counts, dest)
    if st != 0 or dest[0] == 0:  # T6; T7: the end-of-group symbol (0) has a code
        return FAIL
    return after


@njit(cache=True, inline="always")
def groups_fit(numel, gsize, ntab, blen, mlen, tid_bits, len_bits):
    """An entry's groups against its block (every version, E13-E16; ``mlen``: the bytes
    before the group table: metadata, and in v3 the mirror modes): a table to name, a group
    table and payload that fit the block, >= 1 bit a group, no payload without groups."""
    n_groups = (numel + gsize - 1) // gsize
    if n_groups > 0 and ntab == 0:
        return False
    if n_groups > blen * 8:  # cannot fit (E15); also keeps the products below in range
        return False
    payload = blen - mlen - (n_groups * (tid_bits + len_bits) + 7) // 8
    if payload < 0 or (n_groups > 0 and len_bits == 0):
        return False
    if n_groups == 0 and payload != 0:
        return False
    return n_groups <= payload * 8


@njit(cache=True)
def grow_lengths(lengths, total_sym, nsym, ntab_left, dsize, max_table_symbols):
    """A table pool's code length buffer grown for a table of ``nsym`` symbols at
    ``total_sym``: zeros, with ``lengths[:total_sym]`` copied.  Room for the rest of the
    tables (``ntab_left``, this one included) at this one's size (pools are mostly tables of
    one alphabet), at most 64 symbols a directory byte beyond this table (a hostile count costs
    no big allocation before its lists are read), at least double.  (The copy is a loop: a
    slice assignment of uint8 cost ~0.3 ns a byte, 37 µs a decode on mtcnn 4/.9.)"""
    want = total_sym + ntab_left * nsym
    want = min(want, total_sym + nsym + 64 * dsize, max_table_symbols)
    grown = np.zeros(max(want, 2 * lengths.size, total_sym + nsym), np.uint8)
    for j in range(min(total_sym, lengths.size)):
        grown[j] = lengths[j]
    return grown


@njit(cache=True)
def read_table_pool(d, pos, max_classes, sym_first, max_tables, max_table_symbols):
    """The table pool at ``d[pos:]`` (both versions), checked and read in one pass:
    (position after it or FAIL, (kref, nrun, nclass, offset) rows, code lengths).  The
    gamma-coded symbol lists (the pool's cost: yolov8n's 27 tables) are read once, straight
    into a length buffer sized at the first table for all of them (the directory walks used
    to read the pool twice: to check and size, then to fill).  One exit (a tuple of arrays
    from many exits compiles slowly)."""
    ntab, pos = _varint(d, pos)
    ok = 0 <= ntab <= max_tables and ntab <= d.size  # a table is >= 15 bytes
    tables = np.zeros((ntab if ok else 0, 4), np.int64)
    lengths = np.empty(0, np.uint8)  # (read_symbol_list zeroes each table's slice)
    total_sym = 0
    for i in range(ntab if ok else 0):
        if pos >= d.size:
            ok = False
            break
        kref = np.int64(d[pos])
        pos += 1
        if kref >= max_classes.size:
            ok = False
            break
        nrun, pos = _varint(d, pos)
        if nrun < 1 or nrun > 4096:
            ok = False
            break
        nclass, pos = _varint(d, pos)
        if nclass < 1 or nclass > max_classes[kref]:
            ok = False
            break
        nsym = sym_first + nclass * nrun
        if nsym > 65536 or total_sym + nsym > max_table_symbols:
            ok = False
            break
        if total_sym + nsym > lengths.size:
            lengths = grow_lengths(lengths, total_sym, nsym, ntab - i, d.size,
                                   max_table_symbols)
        pos = _read_table(d, pos, lengths[total_sym:total_sym + nsym])
        if pos < 0:
            ok = False
            break
        tables[i, T_KREF] = kref
        tables[i, T_NRUN] = nrun
        tables[i, T_NCLASS] = nclass
        tables[i, T_LEN_OFF] = total_sym
        total_sym += nsym
    return (pos if ok else FAIL), tables, lengths[:total_sym]


@njit(cache=True)
def _walk(d, dir_off, lim, pos, ntab, total_sym, fill, entries, shapes, names, sizes):
    """One pass over the directory bytes ``d`` (first byte at file offset ``dir_off``) after
    its table pool (``ntab`` tables of ``total_sym`` code-length symbols, read by
    :func:`read_table_pool`, ending at ``pos``).

    Without ``fill`` it checks every rule and writes the output sizes to ``sizes`` (tables,
    code-length symbols, entries, dims, name bytes); with ``fill`` it walks the same bytes
    again into arrays of those sizes.  Returns 0 or FAIL.  (Integer returns only: a kernel
    returning tuples of arrays from many exits took Numba 7.7 s to compile.)
    ``lim`` = max_tables, max_table_symbols, max_tensors, max_name_bytes, max_names_bytes,
    max_ndim, max_output_bytes."""
    max_tensors = lim[2]
    max_name_bytes, max_names_bytes, max_ndim, max_output_bytes = lim[3], lim[4], lim[5], lim[6]
    if sizes.size < 5 or pos < 0:
        return FAIL
    count, pos = _varint(d, pos)
    if count < 0 or count > max_tensors:
        return FAIL
    if fill and (entries.shape[0] < count or entries.shape[1] < N_FIELDS):
        return FAIL
    nshape = 0
    nnames = 0
    prev_off = 0
    prev_len = 0
    total_out = 0
    for i in range(count):
        shared, pos = _varint(d, pos)
        if shared < 0 or shared > prev_len:
            return FAIL
        tail, pos = _varint(d, pos)
        if tail < 0 or tail > max_name_bytes - shared or pos + tail > d.size:
            return FAIL
        ln = shared + tail
        if nnames + ln > max_names_bytes:
            return FAIL
        if fill:
            if nnames + ln > names.size:
                return FAIL
            for k in range(shared):
                names[nnames + k] = names[prev_off + k]
            for k in range(tail):
                names[nnames + shared + k] = d[pos + k]
            entries[i, F_NAME_OFF] = nnames
            entries[i, F_NAME_LEN] = ln
        pos += tail
        prev_off = nnames
        prev_len = ln
        nnames += ln
        if pos >= d.size:
            return FAIL
        code = np.int64(d[pos])
        pos += 1
        if code < 1 or code > 6:
            return FAIL
        ndim, pos = _varint(d, pos)
        if ndim < 0 or ndim > max_ndim:
            return FAIL
        if fill and nshape + ndim > shapes.size:
            return FAIL
        numel = np.int64(1)
        zero = False
        for k in range(ndim):
            dim, pos = _varint(d, pos)
            if dim < 0 or dim > (np.int64(1) << 48):
                return FAIL
            if fill:
                shapes[nshape + k] = dim
            if dim == 0:
                zero = True
            elif numel <= BIG // dim:
                numel *= dim
            else:
                numel = BIG
        if zero:
            numel = 0
        shape_off = nshape
        nshape += ndim
        if numel > max_output_bytes or numel > BIG // 8:
            return FAIL
        total_out += numel * _ITEMSIZE[code]
        if total_out > max_output_bytes:
            return FAIL
        if pos >= d.size:
            return FAIL
        gm = np.int64(d[pos])
        pos += 1
        gsize, pos = _varint(d, pos)
        if gm > 2 or gsize < 1 or gsize > (np.int64(1) << 48):
            return FAIL
        z, pos = _varint(d, pos)
        if z < 0:
            return FAIL
        voff = (z >> 1) if (z & 1) == 0 else -((z + 1) >> 1)
        if voff < _VMIN[code] or voff > _VMAX[code]:
            return FAIL
        boff, pos = _varint(d, pos)
        blen, pos = _varint(d, pos)
        if boff < 8 or blen < 0 or boff + blen > dir_off:
            return FAIL
        if pos + 4 > d.size:
            return FAIL
        crc = (np.int64(d[pos]) | (np.int64(d[pos + 1]) << 8) | (np.int64(d[pos + 2]) << 16)
               | (np.int64(d[pos + 3]) << 24))
        pos += 4
        mlen, pos = _varint(d, pos)
        if mlen < 0 or mlen > blen:
            return FAIL
        tid_base, pos = _varint(d, pos)
        if tid_base < 0 or tid_base > max(ntab - 1, 0):
            return FAIL
        if pos + 2 > d.size:
            return FAIL
        tid_bits = np.int64(d[pos])
        len_bits = np.int64(d[pos + 1])
        pos += 2
        if tid_bits > 12 or len_bits > 56:
            return FAIL
        if not groups_fit(numel, gsize, ntab, blen, mlen, tid_bits, len_bits):
            return FAIL
        if fill:
            e = entries[i]
            e[F_DTYPE] = code
            e[F_NDIM] = ndim
            e[F_SHAPE_OFF] = shape_off
            e[F_NUMEL] = numel
            e[F_GMODE] = gm
            e[F_GSIZE] = gsize
            e[F_VOFF] = voff
            e[F_BOFF] = boff
            e[F_BLEN] = blen
            e[F_CRC] = crc
            e[F_MLEN] = mlen
            e[F_TID_BASE] = tid_base
            e[F_TID_BITS] = tid_bits
            e[F_LEN_BITS] = len_bits
    if pos != d.size:
        return FAIL
    if sizes.size < 5:
        return FAIL
    sizes[0] = ntab
    sizes[1] = total_sym
    sizes[2] = count
    sizes[3] = nshape
    sizes[4] = nnames
    return 0


def parse_directory(d, dir_off, lim, max_classes, sym_first):
    """Parse directory bytes ``d`` (first byte at file offset ``dir_off``): the table pool,
    then a checking pass, then a filling pass into arrays of the sizes it found.
    ``lim`` = int64[7] (see :func:`_walk`).  Returns (status, tables int64[T, 4], lengths uint8[...],
    entries int64[N, 16], shapes int64[...], names uint8[...]); status 0 = valid, FAIL =
    re-parse in Python."""
    sizes = np.zeros(5, np.int64)
    e1 = np.zeros(0, np.uint8)
    ee, es = np.zeros((0, N_FIELDS), np.int64), np.zeros(0, np.int64)
    pos, tables, lengths = read_table_pool(d, 0, max_classes, sym_first, lim[0], lim[1])
    ntab, nsym = tables.shape[0], lengths.size
    st = _walk(d, dir_off, lim, pos, ntab, nsym, False, ee, es, e1, sizes)
    if st != 0:
        return st, tables, lengths, ee, es, e1
    count, nshape, nnames = (int(x) for x in sizes[2:])
    entries = np.zeros((count, N_FIELDS), np.int64)
    shapes = np.zeros(nshape, np.int64)
    names = np.zeros(nnames, np.uint8)
    st = _walk(d, dir_off, lim, pos, ntab, nsym, True, entries, shapes, names, sizes)
    return st, tables, lengths, entries, shapes, names


@njit(cache=True, nogil=True)
def build_luts(tables, lengths, luts, whole, bound):
    """Fill ``luts[t]`` (uint32[1 << 12], the fused layout of kernels/decode.py) for every
    table t of ``tables`` (rows kref, nrun, nclass, offset into ``lengths``).  With ``whole``,
    prefixes that hold a value's whole set (code, remainder bits and sign within the 12
    looked-up bits, value within +-8191) get "whole-set" entries (bit 31 set, see
    kernels/decode.py) instead, and ``bound[t]`` gets the largest |value| of table t's
    whole-set entries (0 if none: decode.decode_groups_wide leaves those values unchecked).
    Returns the index of the first table whose codes do not form a prefix code or whose
    symbols do not fit an entry, or -1 if all are fine.

    Most symbols of an alphabet have no code (yolov8n 8/.5's tables: 2946 symbols, ~160
    codes), so one branch-free pass lists the symbols that have one (ascending), and the rest
    works on that list: code counts per length, then canonical codes (by length, then symbol:
    ascending symbols take their length's next code) assigned and their prefixes filled, with
    the class and run of each symbol counted along from the previous one.  The table is zeroed
    first only when the code is incomplete (some prefixes stay invalid).  It was a branchy
    scan of every symbol in three passes, with a division per code: 8.2 -> 4.6 us a table
    there (docs/DESIGN.md)."""
    T = tables.shape[0]
    if luts.shape[0] < T or luts.shape[1] != (1 << MAX_CODE_LEN) or bound.size < T:
        return 0
    counts = np.zeros(MAX_CODE_LEN + 1, np.int64)
    nxt = np.zeros(MAX_CODE_LEN + 1, np.int64)
    most = 0
    for t in range(T):
        most = max(most, 2 + tables[t, T_NCLASS] * tables[t, T_NRUN])
    idx = np.empty(max(most, 0), np.int64)
    for t in range(T):
        kref = tables[t, T_KREF]
        nrun = tables[t, T_NRUN]
        nclass = tables[t, T_NCLASS]
        off = tables[t, T_LEN_OFF]
        nsym = 2 + nclass * nrun
        if off < 0 or nrun < 1 or nclass < 0 or off + nsym > lengths.size or kref > 6:
            return t
        n = 0  # the symbols with a code, ascending: eight lengths at a time (most are 0 in
        s = 0  # a sparse table's alphabet), then branch-free (unsigned indices: see below)
        while s + 8 <= nsym:
            if load_be64(lengths, off + s) != 0:
                for j in range(8):
                    idx[np.uint64(n)] = s + j
                    n += lengths[np.uint64(off + s + j)] != 0
            s += 8
        for s in range(s, nsym):
            idx[np.uint64(n)] = s
            n += lengths[np.uint64(off + s)] != 0
        counts[:] = 0
        for i in range(n):
            ln = np.int64(lengths[off + idx[i]])
            if ln > MAX_CODE_LEN:
                return t
            counts[ln] += 1
        code = np.int64(0)
        kraft = np.int64(0)
        for ln in range(1, MAX_CODE_LEN + 1):
            code = (code + counts[ln - 1]) << 1
            nxt[ln] = code
            if code + counts[ln] > (np.int64(1) << ln):
                return t  # not a prefix code (Kraft sum over 1)
            kraft += counts[ln] << (MAX_CODE_LEN - ln)
        lut = luts[t]
        if kraft != (np.int64(1) << MAX_CODE_LEN):
            lut[:] = 0
        big = np.int64(0)  # the largest whole-set |value| so far
        small = (1 << (kref + 1)) - 1
        c = np.int64(0)    # class and run of symbol s >= 2: s - 2 = c * nrun + run
        run = np.int64(0)
        at = np.int64(2)   # the symbol that (c, run) describe
        for i in range(n):
            s = idx[i]
            ln = np.int64(lengths[off + s])
            if s == 0:      # end of group
                kind, r, e, mant = 3, 0, 0, 0
            elif s == 1:    # escape: nrun zeros
                kind, r, e, mant = 2, nrun, 0, 0
            else:
                run += s - at
                at = s
                while run >= nrun:  # at most nclass steps per table in all
                    run -= nrun
                    c += 1
                kind, r = 1, run
                if c < small:
                    e, mant = 0, c + 1
                else:
                    j = c - small
                    L = kref + 2 + (j >> kref)
                    e = L - 1 - kref
                    mant = (1 << kref) + (j & ((1 << kref) - 1))
            if mant > 127 or e > 31 or r > 8191:
                return t
            lo = nxt[ln] << (MAX_CODE_LEN - ln)
            nxt[ln] += 1
            cnt = np.int64(1) << (MAX_CODE_LEN - ln)
            if lo + cnt > lut.size:  # (the Kraft check above already rules it out)
                return t
            total = ln + e + 1
            if whole and kind == 1 and total <= MAX_CODE_LEN and ((mant + 1) << e) <= WHOLE_MAX:
                # the bits after the code in each index: e remainder bits, then the sign;
                # each (remainder, sign) repeats over the 12 - total bits after them
                rep = np.int64(1) << (MAX_CODE_LEN - total)
                big = max(big, ((mant + 1) << e) - 1)  # the tail below with all ones
                head = np.uint32(WHOLE_FLAG) | np.uint32(total) | (np.uint32(r) << np.uint32(4))
                for tail in range(np.int64(2) << e):
                    m = (mant << e) + (tail >> 1)
                    v = -m if tail & 1 else m
                    ent = head | (np.uint32(v + WHOLE_MAX) << np.uint32(17))
                    base = lo + tail * rep
                    for k in range(rep):
                        lut[np.uint64(base + k)] = ent
            elif whole and kind == 2:
                # an escape (nrun zeros) as the whole set "nrun - 1 zeros, then the zero
                # value": the same output and the same run check (i + nrun > the group's
                # end), through the inlined whole-set step instead of the called plain one
                # (an alphabet with nrun 1 codes every zero as an escape: fer 8/.5)
                ent = np.uint32(WHOLE_FLAG) | np.uint32(ln) | (np.uint32(r - 1) << np.uint32(4)) \
                    | (np.uint32(WHOLE_MAX) << np.uint32(17))
                for k in range(cnt):
                    lut[np.uint64(lo + k)] = ent
            else:
                ent = (np.uint32(ln) | (np.uint32(kind) << np.uint32(4))
                       | (np.uint32(e) << np.uint32(6)) | (np.uint32(r) << np.uint32(11))
                       | (np.uint32(mant) << np.uint32(24)))
                for k in range(cnt):  # an unsigned index: a store loop that vectorises (a
                    lut[np.uint64(lo + k)] = ent  # signed one checks for < 0: 7x slower)
        bound[t] = big
    return -1


# multi-set entries (decode.decode_groups_multi): a whole-set entry (layout above, but bits
# 0-3 = bits used by all its sets) followed, in bits 32-59, by up to two more whole sets that
# fit in the same 12 looked-up bits: set k (k = 0, 1) at bit 32 + 14k, 6 bits adv = its zero
# run + 1 (0: no such set), 8 bits value + 128 (|value| <= 127); bits 60-63 = bits used by
# the first set alone (the decoder's fallback when a check fails).  An escape (nrun zeros) is
# the set "nrun - 1 zeros, then a zero value": same output, same bounds check.
MULTI_SETS = 3
MULTI_MIN_SETS = 2  # tables whose entries average fewer sets per lookup use the plain kernel
_LUT_MASK = (1 << MAX_CODE_LEN) - 1


@njit(cache=True, inline="always")
def _as_set(e):
    """A uint32 whole-set entry as a whole set, an escape as the equivalent set, else a
    non-set: (is_set, bits, run, value)."""
    if e >= np.uint64(WHOLE_FLAG):
        return (True, np.int64(e & np.uint64(15)), np.int64((e >> np.uint64(4)) & np.uint64(8191)),
                np.int64((e >> np.uint64(17)) & np.uint64(16383)) - WHOLE_MAX)
    if (e >> np.uint64(4)) & np.uint64(3) == np.uint64(2) and e & np.uint64(15) != np.uint64(0):
        return True, np.int64(e & np.uint64(15)), np.int64((e >> np.uint64(11)) & np.uint64(8191)) - 1, 0
    return False, 0, 0, 0


@njit(cache=True, inline="always")
def _multi_entry(lut, p):
    """(uint64 entry, number of sets) for prefix p of the uint32 whole-set table ``lut``
    (the plain definition; build_multi computes the same entries faster)."""
    e1 = np.uint64(lut[p])
    ok, b1, r1, v1 = _as_set(e1)
    if not ok or r1 > 8191:
        return e1, 1
    b = b1
    hi = np.uint64(0)
    n = 1
    for k in range(MULTI_SETS - 1):
        ok, b2, r2, v2 = _as_set(np.uint64(lut[(p << b) & _LUT_MASK]))
        if not ok or b + b2 > MAX_CODE_LEN or r2 > 62 or v2 < -127 or v2 > 127:
            break
        hi |= np.uint64((r2 + 1) | ((v2 + 128) << 6)) << np.uint64(14 * k)
        n += 1
        b += b2
    if n == 1 and e1 < np.uint64(WHOLE_FLAG):
        return e1, 1  # a lone escape stays an escape
    for k in range(n - 1, MULTI_SETS - 1):  # absent sets: adv 0, value 0
        hi |= np.uint64(128 << 6) << np.uint64(14 * k)
    low = np.uint64(WHOLE_FLAG) | np.uint64(b) | (np.uint64(r1) << np.uint64(4)) \
        | (np.uint64(v1 + WHOLE_MAX) << np.uint64(17))
    return low | (hi << np.uint64(32)) | (np.uint64(b1) << np.uint64(60)), n


@njit(cache=True)
def multi_worth(luts, ts, worth):
    """worth[k] = 1 if table ts[k]'s multi-set entries average >= MULTI_MIN_SETS sets per
    lookup (estimated on 64 prefixes, one in each run of 64 at a varying offset: the low
    bits, where a second or third set is read, are not all zero), else 0.  Returns 0, or -1
    if an argument does not fit.  (It was every 16th prefix: 4x the work, ~3 us a table,
    for a choice between two kernels that decode the same values.)"""
    if worth.size < ts.size or luts.shape[1] != (1 << MAX_CODE_LEN):
        return -1
    for k in range(ts.size):
        t = ts[k]
        if t < 0 or t >= luts.shape[0]:
            return -1
        total = 0
        for j in range(64):
            p = (j << (MAX_CODE_LEN - 6)) | ((j * 29 + 11) & ((1 << (MAX_CODE_LEN - 6)) - 1))
            total += _multi_entry(luts[t], p)[1]
        worth[k] = 1 if total >= MULTI_MIN_SETS * 64 else 0
    return 0


@njit(cache=True, nogil=True)
def build_multi(luts, ts, out):
    """out[k] = the multi-set entries of table ts[k] (the entries of _multi_entry, built from
    per-prefix arrays: ~4x faster); 0, or -1 if an argument does not fit."""
    N = 1 << MAX_CODE_LEN
    if out.shape[0] < ts.size or out.shape[1] != N or luts.shape[1] != N:
        return -1
    sb = np.empty(N, np.int64)   # bits of the set at prefix p if it can be a 2nd/3rd set, else 99
    sf = np.empty(N, np.uint64)  # its 14-bit field (adv | value + 128 << 6)
    absent = np.uint64(128 << 6)
    for k in range(ts.size):
        t = ts[k]
        if t < 0 or t >= luts.shape[0]:
            return -1
        lut = luts[t]
        for p in range(N):
            ok, b, r, v = _as_set(np.uint64(lut[p]))
            ok = ok and r <= 62 and -127 <= v <= 127
            sb[p] = b if ok else 99
            sf[p] = np.uint64((r + 1) | ((v + 128) << 6)) if ok else absent
        for p in range(N):
            e1 = np.uint64(lut[p])
            ok, b1, r1, v1 = _as_set(e1)
            if not ok:
                out[k, p] = e1
                continue
            q2 = (p << b1) & _LUT_MASK
            b2 = b1 + sb[q2]
            f2 = sf[q2]
            f3 = absent
            b = b1
            if b2 <= MAX_CODE_LEN:
                b = b2
                q3 = (p << b2) & _LUT_MASK
                if b2 + sb[q3] <= MAX_CODE_LEN:
                    b = b2 + sb[q3]
                    f3 = sf[q3]
            else:
                f2 = absent
                if e1 < np.uint64(WHOLE_FLAG):
                    out[k, p] = e1  # a lone escape stays an escape
                    continue
            low = np.uint64(WHOLE_FLAG) | np.uint64(b) | (np.uint64(r1) << np.uint64(4)) \
                | (np.uint64(v1 + WHOLE_MAX) << np.uint64(17))
            out[k, p] = low | (f2 << np.uint64(32)) | (f3 << np.uint64(46)) \
                | (np.uint64(b1) << np.uint64(60))
    return 0


@njit(cache=True, nogil=True)
def multi_value_bound(mluts, out):
    """out[r] = the largest |value| that a whole-set entry of multi-set table r can store (any
    of its up to three sets; escapes and entries that are not whole sets are decoded with the
    checks of the plain step).  decode_groups_multi does not range-check those values: the
    caller routes a group there only if its value offset +- this bound lies in its dtype's
    range.  Returns 0, or -1 if ``out`` is too small."""
    if out.size < mluts.shape[0]:
        return -1
    for r in range(mluts.shape[0]):
        m = np.int64(0)
        for p in range(mluts.shape[1]):
            e = mluts[r, p]
            if e & np.uint64(WHOLE_FLAG):
                v1 = np.int64((e >> np.uint64(17)) & np.uint64(16383)) - WHOLE_MAX
                v2 = np.int64((e >> np.uint64(38)) & np.uint64(255)) - 128
                v3 = np.int64((e >> np.uint64(52)) & np.uint64(255)) - 128
                m = max(m, abs(v1), abs(v2), abs(v3))
        out[r] = m
    return 0


@njit(cache=True)
def whole_rows(fields, code, rows):
    """plan_batch rows (P_*) for every tensor of dtype ``code`` that has groups, in directory
    order, from a directory kernel's entry array ``fields`` (kernels/directory.py F_*), each
    with all its groups; P_BASE = the tensor's first value in its dtype's flat output (empty
    tensors count 0).  Returns (rows written, values of the dtype, groups), or (-1, 0, 0) if
    ``rows`` is too small or a field is out of range (the caller then takes the general path:
    the directory kernel checked every field already)."""
    if fields.shape[1] < N_FIELDS or rows.shape[1] < P_FIELDS:
        return -1, 0, 0
    k = 0
    total = np.int64(0)
    groups = np.int64(0)
    for i in range(fields.shape[0]):
        if fields[i, F_DTYPE] != code:
            continue
        numel = fields[i, F_NUMEL]
        gsize = fields[i, F_GSIZE]
        if numel < 0 or gsize < 1:
            return -1, 0, 0
        if numel == 0:
            continue
        if k >= rows.shape[0]:
            return -1, 0, 0
        ng = (numel + gsize - 1) // gsize
        period = fields[i, F_MPERIOD]
        mbytes = (numel // period + 3) // 4 if period > 0 else 0
        tb = fields[i, F_TID_BITS]
        lb = fields[i, F_LEN_BITS]
        glen = fields[i, F_GLEN]
        gtb = 0 if glen else (ng * (tb + lb) + 7) // 8
        gt0 = fields[i, F_BOFF] + fields[i, F_MLEN] + mbytes
        r = rows[k]
        r[P_GT0] = gt0
        r[P_TID_BITS] = tb
        r[P_LEN_BITS] = lb
        r[P_TID_BASE] = fields[i, F_TID_BASE]
        r[P_START] = (gt0 + gtb) * 8
        r[P_G0] = 0
        r[P_G1] = ng
        r[P_GSIZE] = gsize
        r[P_NUMEL] = numel
        r[P_BASE] = total
        r[P_VOFF] = fields[i, F_VOFF]
        r[P_PAY0] = gt0 + gtb
        r[P_PAYLOAD] = fields[i, F_BLEN] - fields[i, F_MLEN] - mbytes - gtb
        r[P_GLEN] = glen
        k += 1
        total += numel
        groups += ng
    return k, total, groups
