"""Format v2 directory kernel: the fast path of :func:`codec.format.read_directory` for v2
and v3 (v3: an entry's flag bit 7 and mirror fields, docs/FORMAT.md §23-§24).

Same contract as kernels/directory.py: the table pool read once
(``directory.read_table_pool``), then two walks over the rest of the directory bytes
(check and size, then fill), integer returns only; it accepts only what the Python parser
(``format_v2.read_names`` / ``read_entries`` / ``read_chunks``) accepts, with the same values,
and returns FAIL on anything else (the caller re-parses in Python for the exact error).  UTF-8
validity and uniqueness of names (E3) are checked by the caller.

Reader invariant: ``pos`` is a byte index into ``d``, checked against ``d.size`` before every
read; bit reads check ``bit + w <= 8 * d.size``; every output write checks the array size.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .intrinsics import bit_length64
from .tables import _bits_at

from .directory import (BIG, F_BLEN, F_BOFF, F_DTYPE, F_GLEN, F_GMODE, F_GSIZE, F_LEN_BITS, F_MLEN,
                        F_MPERIOD, F_MSKIP, F_NAME_LEN, F_NAME_OFF, F_NDIM, F_NUMEL, F_PRED, F_PSHIFT,
                        F_FLOOR, F_FLOOR_OFF, F_ALIAS,
                        F_SHAPE_OFF, F_TID_BASE, F_TID_BITS, F_VOFF, FAIL, N_FIELDS, _ITEMSIZE,
                        _VMAX, _VMIN,
                        _varint, groups_fit, grow_lengths, read_table_pool)

MAX_DIM = np.int64(1) << np.int64(48)


@njit(cache=True, inline="always")
def _bits(d, bit, w):
    """(value, new bit position) of ``w`` (0 <= w <= 32) MSB-first bits at ``bit`` (>= 0);
    value -1 if they run past the end of ``d`` (tables._bits_at: one 64-bit window)."""
    if bit + w > 8 * d.size:
        return np.int64(-1), bit
    return _bits_at(d, bit, w), bit + w


@njit(cache=True)
def _bitsn(d, bit, w):
    """:func:`_bits` as a call, not inlined: the v4 readers use it at many sites, and each
    inlined copy cost compile time (an empty cache compiled the v4 table reader in 5.8 s).
    Callers pass constant widths as ``np.int64(w)``: Numba compiles a called function once
    per literal argument value (six versions of this one, and two of :func:`_eg` and
    :func:`_eg_bits`, with an empty cache)."""
    if bit + w > 8 * d.size:
        return np.int64(-1), bit
    return _bits_at(d, bit, w), bit + w


@njit(cache=True)
def _names(d, pos, count, lim, fill, entries, names, sizes):
    """Token dictionary and name records (N1-N5, E2, E2b).  Returns the byte position after
    the name bit string or FAIL; ``sizes[4]`` = total name bytes."""
    max_name_bytes, max_names_bytes = lim[3], lim[4]
    ntok, pos = _varint(d, pos)
    if ntok < 0 or ntok > max_names_bytes or 2 * ntok > d.size:
        return FAIL
    toff = np.zeros(ntok, np.int64)
    tlen = np.zeros(ntok, np.int64)
    for j in range(ntok):
        ln, pos = _varint(d, pos)
        if ln < 1 or ln > max_name_bytes or pos + ln > d.size:
            return FAIL
        toff[j] = pos
        tlen[j] = ln
        pos += ln
    if pos >= d.size:
        return FAIL
    cw = np.int64(d[pos])
    pos += 1
    if cw > 32:
        return FAIL
    id_bits = np.int64(0)
    while (np.int64(1) << id_bits) < ntok:
        id_bits += 1
    seq = np.zeros(64, np.int64)  # the current name's token ids (its prefix: the previous name's)
    nprev = np.int64(0)
    bit = 8 * pos
    nnames = np.int64(0)
    for i in range(count):
        shared, bit = _bits(d, bit, cw)
        if shared < 0 or shared > nprev:
            return FAIL
        fresh, bit = _bits(d, bit, cw)
        if fresh < 0:
            return FAIL
        ln = np.int64(0)
        for k in range(shared):
            ln += tlen[seq[k]]
        n = shared
        for _ in range(fresh):
            t, bit = _bits(d, bit, id_bits)
            if t < 0 or t >= ntok:
                return FAIL
            if n >= seq.size:
                grown = np.empty(2 * seq.size, np.int64)
                for k in range(seq.size):
                    grown[k] = seq[k]
                seq = grown
            seq[n] = t
            n += 1
            ln += tlen[t]
            if ln > max_name_bytes:
                return FAIL
        if nnames + ln > max_names_bytes:
            return FAIL
        if fill:
            if nnames + ln > names.size or i >= entries.shape[0]:
                return FAIL
            entries[i, F_NAME_OFF] = nnames
            entries[i, F_NAME_LEN] = ln
            o = nnames
            for k in range(n):
                src = toff[seq[k]]
                for b in range(tlen[seq[k]]):
                    names[o + b] = d[src + b]
                o += tlen[seq[k]]
        nnames += ln
        nprev = n
    sizes[4] = nnames
    return (bit + 7) >> 3


@njit(cache=True)
def _head_v2(d, lim, pos, fill, entries, names, sizes):
    """Tensor count and names after the table pool (ending at ``pos``).  Returns (position
    after the names or FAIL, count)."""
    max_tensors = lim[2]
    if sizes.size < 6 or pos < 0:
        return FAIL, 0
    count, pos = _varint(d, pos)
    if count < 0 or count > max_tensors or count > d.size:
        return FAIL, 0
    if fill and (entries.shape[0] < count or entries.shape[1] < N_FIELDS):
        return FAIL, 0
    return _names(d, pos, count, lim, fill, entries, names, sizes), count


@njit(cache=True)
def _tail_v2(d, dir_off, pos, ntab, total_sym, count, fill, crcs, sizes):
    """Chunk size and chunk CRCs after the entries (ending at ``pos``).  Returns chunk_log2
    (>= 0) or FAIL; ``sizes`` = tables, code-length symbols, entries, dims (already), name
    bytes (already), chunks."""
    if pos < 0 or pos >= d.size:
        return FAIL
    log2 = np.int64(d[pos])
    pos += 1
    if log2 < 6 or log2 > 31:
        return FAIL
    nch = (dir_off - 8 + (np.int64(1) << log2) - 1) >> log2
    if pos + 4 * nch != d.size:
        return FAIL
    if fill:
        if crcs.size < nch:
            return FAIL
        for c in range(nch):
            p = pos + 4 * c
            crcs[c] = (np.uint32(d[p]) | (np.uint32(d[p + 1]) << np.uint32(8))
                       | (np.uint32(d[p + 2]) << np.uint32(16))
                       | (np.uint32(d[p + 3]) << np.uint32(24)))
    sizes[0] = ntab
    sizes[1] = total_sym
    sizes[2] = count
    sizes[5] = nch
    return log2


def _walk_v2(d, dir_off, lim, pos, ntab, total_sym, fill, entries, shapes, names, crcs, sizes,
             version):
    """One walk over a v2 / v3 / v4 directory after its table pool (``ntab`` tables of
    ``total_sym`` code-length symbols, ending at ``pos``; see kernels/directory.py ``_walk``):
    names, entries (the version's kernel: a package compiles only its version's), chunk CRCs.
    Returns chunk_log2 (>= 0) or FAIL; ``sizes`` = tables, code-length symbols, entries, dims,
    name bytes, chunks."""
    pos, count = _head_v2(d, lim, np.int64(pos), fill, entries, names, sizes)
    if pos < 0:
        return FAIL
    if version >= 4:
        pos = _entries_v4(d, dir_off, lim, pos, ntab, count, fill, entries, shapes, sizes,
                          version)
    else:
        pos = _entries_v2(d, dir_off, lim, pos, ntab, count, fill, entries, shapes, sizes,
                          version)
    if pos < 0:
        return FAIL
    return _tail_v2(d, dir_off, pos, ntab, total_sym, count, fill, crcs, sizes)


@njit(cache=True, inline="always")
def _dim_step(numel, kern, zero, k, dim):
    """(numel, kernel size, a zero dim seen) after dim ``k`` (0 <= dim <= 2^48): products
    saturate at BIG; the kernel size is the product of dims 1.. (0 once a dim is 0)."""
    if dim == 0:
        zero = True
    elif numel <= BIG // dim:
        numel *= dim
    else:
        numel = BIG
    if k >= 1:
        if dim == 0 or kern == 0:
            kern = 0
        elif kern <= BIG // dim:
            kern *= dim
        else:
            kern = BIG
    return numel, kern, zero


@njit(cache=True, inline="always")
def _shape_end(numel, kern, zero, ndim):
    """(numel, kernel size) once all ``ndim`` dims are in (K as §18: the product of dims 1..,
    numel below 2-D, at least 1); kernel size -1 when it saturated (the Python parser, which
    is exact, decides: a zero dim first, huge ones after)."""
    if zero:
        numel = 0
    if ndim < 2:
        kern = numel
    if kern < 1:
        kern = 1
    if kern >= BIG:
        kern = -1
    return numel, kern


@njit(cache=True, inline="always")
def _output_total(total_out, numel, code, max_output_bytes):
    """The running output bytes with this tensor's (E7), or -1 beyond ``max_output_bytes``."""
    if numel > max_output_bytes or numel > BIG // 8:
        return -1
    total_out += numel * _ITEMSIZE[code]
    return total_out if total_out <= max_output_bytes else -1


@njit(cache=True)
def _fill(e, code, ndim, shape_off, numel, gc, gsize, voff, boff, blen, mlen, tid_base,
          tid_bits, len_bits, period, skip, glen):
    """One entry's row of the kernel's entry array (F_* columns; the caller checked that the
    row exists and has N_FIELDS columns)."""
    e[F_DTYPE] = code
    e[F_NDIM] = ndim
    e[F_SHAPE_OFF] = shape_off
    e[F_NUMEL] = numel
    e[F_GMODE] = gc
    e[F_GSIZE] = gsize
    e[F_VOFF] = voff
    e[F_BOFF] = boff
    e[F_BLEN] = blen
    e[F_MLEN] = mlen
    e[F_TID_BASE] = tid_base
    e[F_TID_BITS] = tid_bits
    e[F_LEN_BITS] = len_bits
    e[F_MPERIOD] = period
    e[F_MSKIP] = skip
    e[F_GLEN] = glen


@njit(cache=True)
def _entries_v2(d, dir_off, lim, pos, ntab, count, fill, entries, shapes, sizes, version):
    """The v2 / v3 entries (§18, v3: §23) from byte ``pos``.  Returns the position after them
    or FAIL; ``sizes[3]`` = dims stored."""
    max_ndim, max_output_bytes = lim[5], lim[6]
    nshape = 0
    total_out = np.int64(0)
    boff = np.int64(8)
    prev_tb = np.int64(0)
    for i in range(count):
        if pos >= d.size:
            return FAIL
        flags = np.int64(d[pos])
        pos += 1
        code = flags & 7
        if code < 1 or code > 6 or (flags >= 128 and version < 3):
            return FAIL
        ndim, pos = _varint(d, pos)
        if ndim < 0 or ndim > max_ndim:
            return FAIL
        if fill and nshape + ndim > shapes.size:
            return FAIL
        numel = np.int64(1)
        kern = np.int64(1)
        zero = False
        for k in range(ndim):
            dim, pos = _varint(d, pos)
            if dim < 0 or dim > MAX_DIM:
                return FAIL
            if fill:
                shapes[nshape + k] = dim
            numel, kern, zero = _dim_step(numel, kern, zero, k, dim)
        numel, kern = _shape_end(numel, kern, zero, ndim)
        if kern < 0:
            return FAIL
        shape_off = nshape
        nshape += ndim
        total_out = _output_total(total_out, numel, code, max_output_bytes)
        if total_out < 0:
            return FAIL
        gc = (flags >> 3) & 3
        if gc == 0:
            gsize, pos = _varint(d, pos)
            if gsize < 1 or gsize > MAX_DIM:
                return FAIL
        elif gc == 2:
            kk, pos = _varint(d, pos)
            if kk < 1 or kk > MAX_DIM or kern > MAX_DIM // kk:
                return FAIL
            gsize = kk * kern
        elif gc == 1:
            gsize = kern
        else:
            gsize = max(numel, 1)
        if gsize > MAX_DIM:
            return FAIL
        voff = np.int64(0)
        if flags & 0x20:
            z, pos = _varint(d, pos)
            if z < 0:
                return FAIL
            voff = (z >> 1) if (z & 1) == 0 else -((z + 1) >> 1)
            if voff < _VMIN[code] or voff > _VMAX[code]:
                return FAIL
        blen, pos = _varint(d, pos)
        if blen < 0 or boff + blen > dir_off:
            return FAIL
        mlen = np.int64(0)
        if flags & 0x40:
            mlen, pos = _varint(d, pos)
            if mlen < 0 or mlen > blen:
                return FAIL
        period = np.int64(0)
        skip = np.int64(0)
        mbytes = np.int64(0)
        if flags & 0x80:  # v3 mirror (X1-X3)
            period, pos = _varint(d, pos)
            if period < 2 or period > MAX_DIM or numel == 0 or numel % period != 0:
                return FAIL
            skip, pos = _varint(d, pos)
            if skip < 0 or skip > period - 2:
                return FAIL
            mbytes = (numel // period + 3) // 4
            if mlen + mbytes > blen:
                return FAIL
        tid_base = np.int64(0)
        tid_bits = np.int64(0)
        len_bits = np.int64(0)
        if numel > 0:
            z, pos = _varint(d, pos)
            if z < 0:
                return FAIL
            tid_base = prev_tb + ((z >> 1) if (z & 1) == 0 else -((z + 1) >> 1))
            if tid_base < 0 or tid_base > max(ntab - 1, 0):
                return FAIL
            prev_tb = tid_base
            w, pos = _varint(d, pos)
            if w < 0 or w > 12 * 64 + 56 or (w & 63) > 56:
                return FAIL
            tid_bits = w >> 6
            len_bits = w & 63
        if not groups_fit(numel, gsize, ntab, blen, mlen + mbytes, tid_bits, len_bits):
            return FAIL
        if fill:
            _fill(entries[i], code, ndim, shape_off, numel, gc, gsize, voff, boff, blen, mlen,
                  tid_base, tid_bits, len_bits, period, skip, np.int64(0))
        boff += blen
    if boff != dir_off:
        return FAIL
    sizes[3] = nshape
    return pos


MAX_EG_BITS = 56


@njit(cache=True, inline="always")
def _eg_in(d, bit, k):
    """(value, new bit position) of an order-``k`` Exp-Golomb field at ``bit`` (§27); value -1
    if it runs past the end of ``d`` or its prefix has more than MAX_EG_BITS - k zeros.
    The prefix is counted in one 32-bit window (bits past ``d`` read as 0, so a 1 found there
    lies in ``d``) and the rest read in one; a prefix of 32 zeros or more takes the bit-by-bit
    reader, :func:`_eg_bits` (same values, same failures)."""
    nb = 8 * d.size
    if bit < 0 or bit >= nb:
        return np.int64(-1), bit
    w = _bits_at(d, bit, 32)
    if w == 0:
        return _eg_bits(d, bit, k)
    z = 32 - bit_length64(w)
    if z + k > MAX_EG_BITS:
        return np.int64(-1), bit + z + 1
    bit += z + 1
    if bit + z + k > nb:
        return np.int64(-1), bit
    # value = (2^z + next z bits - 1) << k | k low bits = (2^z - 1) << k + the z + k bits
    return (((np.int64(1) << z) - 1) << k) + _bits_at(d, bit, z + k), bit + z + k


@njit(cache=True)
def _eg(d, bit, k):
    """:func:`_eg_in` as a call (the readers' many cold sites; inlined copies cost compile
    time)."""
    return _eg_in(d, bit, k)


@njit(cache=True)
def _eg_bits(d, bit, k):
    """:func:`_eg` bit by bit (its prefixes of 32 zeros or more)."""
    nb = 8 * d.size
    z = np.int64(0)
    while True:
        if bit >= nb:
            return np.int64(-1), bit
        b = (np.int64(d[bit >> 3]) >> (7 - (bit & 7))) & 1
        bit += 1
        if b:
            break
        z += 1
        if z + k > MAX_EG_BITS:
            return np.int64(-1), bit
    if bit + z + k > nb:
        return np.int64(-1), bit
    m = np.int64(1)
    w = z
    while w > 0:  # the z bits after the 1, then the k low bits, at most 28 at a time
        c = min(w, np.int64(28))
        v, bit = _bitsn(d, bit, c)
        m = (m << c) | v
        w -= c
    low = np.int64(0)
    w = k
    while w > 0:
        c = min(w, np.int64(28))
        v, bit = _bitsn(d, bit, c)
        low = (low << c) | v
        w -= c
    return ((m - 1) << k) | low, bit


@njit(cache=True, inline="always")
def _unzig(u):
    return (u >> 1) if (u & 1) == 0 else -((u + 1) >> 1)


@njit(cache=True)
def _entries_v4(d, dir_off, lim, pos, ntab, count, fill, entries, shapes, sizes, version):
    """The v4 coding parameters and entry bit string (§28) from byte ``pos``, the checks of
    §30 (v5: §32's ``has_pred`` / ``pred_mode``, column F_PRED = 1 + mode).  Returns the
    position after the bit string's padding or FAIL; ``sizes[3]`` = dims stored (an entry
    that repeats the previous shape points at its dims)."""
    max_ndim, max_output_bytes = lim[5], lim[6]
    if pos + 2 > d.size:
        return FAIL
    len_k = np.int64(d[pos])
    voff_k = np.int64(d[pos + 1])
    pos += 2
    if len_k > 40 or voff_k > 32:
        return FAIL
    rate, pos = _varint(d, pos)
    if rate < 0 or rate > 4096:
        return FAIL
    nalias = np.int64(0)
    floors_on = False
    if version >= 7:  # §36: aliases (A1), floors
        v7, pos = _varint(d, pos)
        if v7 < 0:
            return FAIL
        nalias = v7 >> 1
        floors_on = (v7 & 1) == 1
        if nalias > max(count - 1, 0):
            return FAIL
    tw = np.int64(0)
    while (np.int64(1) << tw) < ntab:
        tw += 1
    bit = 8 * pos
    # §36: alias records (A2, A3); tgt[i] = the tensor entry i copies, -1 for a record of its
    # own (count <= the directory's bytes: the caller checked it)
    tgt = np.full(max(count, 1) if nalias > 0 else 1, np.int64(-1))
    e_numel = np.zeros(max(count, 1) if nalias > 0 else 1, np.int64)
    e_code = np.zeros(max(count, 1) if nalias > 0 else 1, np.int64)
    last = np.int64(-1)
    for a in range(nalias):
        gap, bit = _eg(d, bit, np.int64(0))
        if gap < 0 or gap > count - 2 - last:
            return FAIL
        last += 1 + gap
        back, bit = _eg(d, bit, np.int64(0))
        if back < 0 or back + 1 > last or tgt[last - back - 1] >= 0:
            return FAIL
        tgt[last] = last - back - 1
    nshape = np.int64(0)
    total_out = np.int64(0)
    boff = np.int64(8)
    code = np.int64(1)
    ndim = np.int64(0)
    shape_off = np.int64(0)
    numel = np.int64(1)
    kern = np.int64(1)
    dh = np.int64(1)   # the shape's last two dims (H, W: v5's eligibility)
    dw = np.int64(1)
    d0 = np.int64(1)   # and its first (v7: rows of a floored tensor)
    for i in range(count):
        if nalias > 0 and tgt[i] >= 0:  # §36: tensor tgt[i]'s entry and block, own name
            j = tgt[i]
            total_out = _output_total(total_out, e_numel[j], e_code[j], max_output_bytes)
            if total_out < 0:
                return FAIL
            if fill:
                for c in range(N_FIELDS):
                    if c != F_NAME_OFF and c != F_NAME_LEN:
                        entries[i, c] = entries[j, c]
                entries[i, F_ALIAS] = j + 1
            continue
        f, bit = _bitsn(d, bit, np.int64(1))
        if f < 0:
            return FAIL
        if f == 0:
            code, bit = _bitsn(d, bit, np.int64(3))
            if code < 1 or code > 6:
                return FAIL
        f, bit = _bitsn(d, bit, np.int64(1))
        if f < 0:
            return FAIL
        if f == 0:
            nd, bit = _eg(d, bit, np.int64(0))
            if nd < 0:
                return FAIL
            ndim = nd >> 1
            zflag = nd & 1
            if ndim > max_ndim or (fill and nshape + ndim > shapes.size):
                return FAIL
            numel = np.int64(1)
            kern = np.int64(1)
            zero = False
            for k in range(ndim):
                x, bit = _eg(d, bit, np.int64(0))
                if x < 0:
                    return FAIL
                dim = x + 1 - zflag
                if dim > MAX_DIM:
                    return FAIL
                if fill:
                    shapes[nshape + k] = dim
                if k == 0:
                    d0 = dim
                dh = dw
                dw = dim
                numel, kern, zero = _dim_step(numel, kern, zero, k, dim)
            if zflag == 1 and not zero:
                return FAIL
            numel, kern = _shape_end(numel, kern, zero, ndim)
            if kern < 0:
                return FAIL
            shape_off = nshape
            nshape += ndim
        # else: the previous entry's shape (ndim, shape_off, numel, kern) stands
        total_out = _output_total(total_out, numel, code, max_output_bytes)
        if total_out < 0:
            return FAIL
        gc, bit = _bitsn(d, bit, np.int64(2))
        if gc < 0:
            return FAIL
        if gc == 0:
            x, bit = _eg(d, bit, np.int64(0))
            if x < 0 or x >= MAX_DIM:
                return FAIL
            gsize = x + 1
        elif gc == 2:
            x, bit = _eg(d, bit, np.int64(0))
            if x < 0 or x >= MAX_DIM or kern > MAX_DIM // (x + 1):
                return FAIL
            gsize = (x + 1) * kern
        elif gc == 1:
            gsize = kern
        else:
            gsize = max(numel, 1)
        if gsize > MAX_DIM:
            return FAIL
        voff = np.int64(0)
        f, bit = _bitsn(d, bit, np.int64(1))
        if f < 0:
            return FAIL
        if f:
            u, bit = _eg(d, bit, voff_k)
            if u < 0:
                return FAIL
            voff = _unzig(u)
            if voff < _VMIN[code] or voff > _VMAX[code]:
                return FAIL
        mlen = np.int64(0)
        f, bit = _bitsn(d, bit, np.int64(1))
        if f < 0:
            return FAIL
        if f:
            x, bit = _eg(d, bit, np.int64(0))
            if x < 0:
                return FAIL
            mlen = x + 1
        period = np.int64(0)
        skip = np.int64(0)
        mbytes = np.int64(0)
        f, bit = _bitsn(d, bit, np.int64(1))
        if f < 0:
            return FAIL
        if f:
            x, bit = _eg(d, bit, np.int64(0))
            if x < 0 or x > MAX_DIM - 2:
                return FAIL
            period = x + 2
            if numel == 0 or numel % period != 0:
                return FAIL
            skip, bit = _eg(d, bit, np.int64(0))
            if skip < 0 or skip > period - 2:
                return FAIL
            mbytes = (numel // period + 3) // 4
        pmode = np.int64(0)
        pshift = np.int64(0)
        if version >= 5 and period == 0 and numel > 0 and ndim >= 2 and (dh > 1 or dw > 1):
            f, bit = _bitsn(d, bit, np.int64(1))
            if f < 0:
                return FAIL
            if f:
                x, bit = _bitsn(d, bit, np.int64(3))
                if x < 0:
                    return FAIL
                pmode = x + 1
                if version >= 6:  # §34: pred_shift, checked against the dims when filling
                    pshift, bit = _eg(d, bit, np.int64(0))
                    if pshift < 0 or pshift > ndim - 2:
                        return FAIL
                    if fill:
                        hd = shape_off + ndim - 2 - pshift
                        if shapes[hd] * shapes[hd + 1] < 2:
                            return FAIL
        nfloor = np.int64(0)
        foff = np.int64(0)
        if floors_on and numel > 0 and (code == 1 or code == 3 or code == 5) and voff == 0 \
                and period == 0 and pmode == 0:
            f, bit = _bitsn(d, bit, np.int64(1))
            if f < 0:
                return FAIL
            if f:  # §36: floor_k (R1), then R floors (R2), kept after the dims
                fk, bit = _bitsn(d, bit, np.int64(5))
                if fk < 0 or fk > 30:
                    return FAIL
                nfloor = d0 if ndim >= 2 else np.int64(1)
                if fill and nshape + nfloor > shapes.size:
                    return FAIL
                for r in range(nfloor):  # each >= 1 bit: bounded by the directory
                    x, bit = _eg(d, bit, fk)
                    if x < 0 or x > _VMAX[code] - 1:
                        return FAIL
                    if fill:
                        shapes[nshape + r] = x
                foff = nshape
                nshape += nfloor
        tid_base = np.int64(0)
        tid_bits = np.int64(0)
        len_bits = np.int64(0)
        glen = np.int64(0)
        n_groups = (numel + gsize - 1) // gsize
        if numel > 0 and ntab == 0:
            return FAIL
        if numel == 0:
            blen = mlen
        else:
            tid_base, bit = _bitsn(d, bit, tw)
            if tid_base < 0 or tid_base >= ntab:
                return FAIL
            pred = (numel * rate) >> 6
            if n_groups == 1:
                u, bit = _eg(d, bit, len_k)
                if u < 0:
                    return FAIL
                glen = pred + _unzig(u)
                if glen < 1:
                    return FAIL
                blen = mlen + mbytes + (glen + 7) // 8
            else:
                tid_bits, bit = _eg(d, bit, np.int64(0))
                if tid_bits < 0 or tid_bits > 12:
                    return FAIL
                len_bits, bit = _bitsn(d, bit, np.int64(6))
                if len_bits < 1 or len_bits > 56:
                    return FAIL
                u, bit = _eg(d, bit, max(len_k - 3, np.int64(0)))
                if u < 0:
                    return FAIL
                pb = ((pred + 7) >> 3) + _unzig(u)
                if pb < 0 or n_groups > 8 * pb:
                    return FAIL
                blen = mlen + mbytes + (n_groups * (tid_bits + len_bits) + 7) // 8 + pb
        if blen > dir_off - boff:
            return FAIL
        if fill:
            _fill(entries[i], code, ndim, shape_off, numel, gc, gsize, voff, boff, blen, mlen,
                  tid_base, tid_bits, len_bits, period, skip, glen)
            entries[i, F_PRED] = pmode
            entries[i, F_PSHIFT] = pshift
            entries[i, F_FLOOR] = nfloor
            entries[i, F_FLOOR_OFF] = foff
        if nalias > 0:
            e_numel[i] = numel
            e_code[i] = code
        boff += blen
    if boff != dir_off:
        return FAIL
    sizes[3] = nshape
    return (bit + 7) >> 3


@njit(cache=True)
def _code_lengths_v4(d, bit, lengths, off, nsym):
    """One v4 table's list mode, orders and code lengths (§28.1) into
    ``lengths[off:off + nsym]`` (the caller sized it, and it is zero: the pool's buffer is
    zero past the tables read, ``grow_lengths``).  Returns the bit after
    them, or FAIL (a symbol beyond ``nsym`` or listed twice, a length outside 1..12, the Kraft
    sum over 4096, a bit past ``d``).  (A function of its own: inside the pool reader it
    tripled that reader's compile time.)"""
    if off < 0 or off + nsym > lengths.size:
        return FAIL
    mode, bit = _bitsn(d, bit, np.int64(1))
    gk, bit = _bitsn(d, bit, np.int64(2))
    if mode < 0 or gk < 0:
        return FAIL
    kraft = np.int64(0)
    if mode == 0:
        x, bit = _eg(d, bit, np.int64(0))
        if x < 0 or x >= nsym:
            return FAIL
        dk, bit = _bitsn(d, bit, np.int64(2))
        if dk < 0:
            return FAIL
        prev = np.int64(-1)
        pl = np.int64(0)
        for _ in range(x + 1):
            g, bit = _eg_in(d, bit, gk)
            if g < 0 or prev + 1 + g >= nsym:
                return FAIL
            sym = prev + 1 + g
            if prev < 0:
                ln, bit = _bitsn(d, bit, np.int64(4))
            else:
                u, bit = _eg_in(d, bit, dk)
                if u < 0:
                    return FAIL
                ln = pl + _unzig(u)
            if ln < 1 or ln > 12:
                return FAIL
            lengths[off + sym] = ln
            kraft += np.int64(1) << (12 - ln)
            prev = sym
            pl = ln
    else:
        counts = np.zeros(13, np.int64)
        tot = np.int64(0)
        for ln in range(1, 13):
            c, bit = _eg(d, bit, np.int64(0))
            if c < 0 or c > nsym:
                return FAIL
            counts[ln] = c
            tot += c
        if tot > nsym:
            return FAIL
        for ln in range(1, 13):
            prev = np.int64(-1)
            for _ in range(counts[ln]):
                g, bit = _eg_in(d, bit, gk)
                if g < 0 or prev + 1 + g >= nsym or lengths[off + prev + 1 + g] != 0:
                    return FAIL
                sym = prev + 1 + g
                lengths[off + sym] = ln
                kraft += np.int64(1) << (12 - ln)
                prev = sym
    if kraft > 4096:
        return FAIL
    return bit


@njit(cache=True)
def read_table_pool_v4(d, pos, max_classes, sym_first, max_tables, max_table_symbols):
    """Format v4's table pool (§28.1: one bit string) at ``d[pos:]``, checked and read in one
    pass: (position after its padding or FAIL, (kref, nrun, nclass, offset) rows, code
    lengths), as ``read_table_pool``.  The length buffer grows as there (``grow_lengths``),
    bounded by ``max_table_symbols``."""
    ntab, pos = _varint(d, pos)
    ok = 0 <= ntab <= max_tables and ntab <= 8 * d.size  # a table is >= 8 bits
    tables = np.zeros((ntab if ok else 0, 4), np.int64)
    lengths = np.zeros(0, np.uint8)
    total_sym = np.int64(0)
    bit = 8 * pos
    kref = np.int64(0)
    nrun = np.int64(0)
    nclass = np.int64(0)
    for i in range(ntab if ok else 0):
        same = np.int64(0)
        if i > 0:
            same, bit = _bitsn(d, bit, np.int64(1))
            if same < 0:
                ok = False
                break
        if same == 0:
            kref, bit = _bitsn(d, bit, np.int64(3))
            if kref < 0 or kref >= max_classes.size:
                ok = False
                break
            x, bit = _eg(d, bit, np.int64(0))
            if x < 0 or x >= 4096:
                ok = False
                break
            nrun = x + 1
            x, bit = _eg(d, bit, np.int64(0))
            if x < 0 or x >= max_classes[kref]:
                ok = False
                break
            nclass = x + 1
        nsym = sym_first + nclass * nrun
        if nsym > 65536 or total_sym + nsym > max_table_symbols:
            ok = False
            break
        if total_sym + nsym > lengths.size:  # zeros past total_sym: _code_lengths_v4
            lengths = grow_lengths(lengths, total_sym, nsym, ntab - i, d.size,
                                   max_table_symbols)
        bit = _code_lengths_v4(d, bit, lengths, total_sym, nsym)
        if bit < 0:
            ok = False
            break
        if lengths[total_sym] == 0:
            ok = False
            break
        tables[i, 0] = kref
        tables[i, 1] = nrun
        tables[i, 2] = nclass
        tables[i, 3] = total_sym
        total_sym += nsym
    return (((bit + 7) >> 3) if ok else FAIL), tables, lengths[:total_sym]


def parse_directory_v2(d, dir_off, lim, max_classes, sym_first, version=2):
    """Parse v2 / v3 directory bytes ``d`` (first byte at file offset ``dir_off``).  Returns
    (status, tables, lengths, entries, shapes, names, chunk CRCs uint32[...]); status =
    chunk_log2 (>= 0) when valid, FAIL = re-parse in Python."""
    sizes = np.zeros(6, np.int64)
    e1 = np.zeros(0, np.uint8)
    ee, es = np.zeros((0, N_FIELDS), np.int64), np.zeros(0, np.int64)
    ec = np.zeros(0, np.uint32)
    version = np.int64(version)
    if version >= 4:
        pos, tables, lengths = read_table_pool_v4(d, 0, max_classes, sym_first, lim[0], lim[1])
    else:
        pos, tables, lengths = read_table_pool(d, 0, max_classes, sym_first, lim[0], lim[1])
    ntab, nsym = tables.shape[0], lengths.size
    st = _walk_v2(d, dir_off, lim, pos, ntab, nsym, False, ee, es, e1, ec, sizes, version)
    if st < 0:
        return st, tables, lengths, ee, es, e1, ec
    count, nshape, nnames, nch = (int(x) for x in sizes[2:])
    entries = np.zeros((count, N_FIELDS), np.int64)
    shapes = np.zeros(nshape, np.int64)
    names = np.zeros(nnames, np.uint8)
    crcs = np.zeros(nch, np.uint32)
    st = _walk_v2(d, dir_off, lim, pos, ntab, nsym, True, entries, shapes, names, crcs, sizes,
                  version)
    return st, tables, lengths, entries, shapes, names, crcs
