"""Decoder kernel: table-driven, one 64-bit window per symbol, groups in parallel.

Bit reader invariants (MSB-first):
  * ``pos`` is an absolute bit index into ``buf``; bit ``pos`` is bit ``7 - pos % 8`` of byte
    ``pos // 8``.
  * ``window(pos)`` = the 64 bits starting at byte ``pos // 8`` (bytes at or past ``hi`` read as 0),
    shifted left by ``pos % 8``: its top 57 bits are the next 57 stream bits.  A set needs at most
    12 (code) + 31 (remainder) + 1 (sign) = 44 bits, so one window serves one whole set.
  * before each symbol ``pos < end`` (the group's end); after the end symbol ``pos == end``.
  * every write index is checked against the group's output range and ``out``.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..huffman import LUT_BITS
from .status import (ERR_BUFFER, ERR_INVALID_CODE, ERR_LENGTH_MISMATCH, ERR_OVERRUN, ERR_RANGE,
                     ERR_RUN_OVERFLOW, OK)

_SHIFT = np.uint64(64 - LUT_BITS)


@njit(cache=True, inline="always")
def _window(buf, p, hi):
    if p + 8 <= hi:
        return ((np.uint64(buf[p]) << np.uint64(56)) | (np.uint64(buf[p + 1]) << np.uint64(48))
                | (np.uint64(buf[p + 2]) << np.uint64(40)) | (np.uint64(buf[p + 3]) << np.uint64(32))
                | (np.uint64(buf[p + 4]) << np.uint64(24)) | (np.uint64(buf[p + 5]) << np.uint64(16))
                | (np.uint64(buf[p + 6]) << np.uint64(8)) | np.uint64(buf[p + 7]))
    w = np.uint64(0)
    for k in range(8):
        w <<= np.uint64(8)
        if p + k < hi:
            w |= np.uint64(buf[p + k])
    return w


@njit(cache=True)
def decode_group(buf, hi, start, end, t, o_lo, o_hi, voff, vmin, vmax,
                 luts, sym_run, sym_base, sym_ebits, nruns, out):
    """Decode one group; returns (status, bit position where it stopped)."""
    if o_lo < 0 or o_hi > out.size or o_lo > o_hi or end > hi * 8 or start < 0:
        return ERR_BUFFER, start
    fill = out.dtype.type(voff) if vmin <= voff <= vmax else out.dtype.type(0)
    if not vmin <= voff <= vmax:
        return ERR_RANGE, start
    nrun = np.int64(nruns[t])
    i = o_lo
    pos = start
    while True:
        if pos >= end:
            return ERR_OVERRUN, pos
        w = _window(buf, pos >> 3, hi) << np.uint64(pos & 7)
        ent = luts[t, np.int64(w >> _SHIFT)]
        ln = np.int64(ent & np.uint32(15))
        if ln == 0:
            return ERR_INVALID_CODE, pos
        sym = np.int64(ent >> np.uint32(4))
        if sym >= 2:
            r = sym_run[t, sym]
            if i + r >= o_hi:
                return ERR_RUN_OVERFLOW, pos
            for k in range(r):
                out[i + k] = fill
            i += r
            eb = sym_ebits[t, sym]
            rest = w << np.uint64(ln)
            m = sym_base[t, sym]
            if eb > 0:
                m += np.int64(rest >> np.uint64(64 - eb))
                rest <<= np.uint64(eb)
            v = voff - m if (rest >> np.uint64(63)) != 0 else voff + m
            if v < vmin or v > vmax:
                return ERR_RANGE, pos
            out[i] = v
            i += 1
            pos += ln + eb + 1
        elif sym == 1:
            if i + nrun > o_hi:
                return ERR_RUN_OVERFLOW, pos
            for k in range(nrun):
                out[i + k] = fill
            i += nrun
            pos += ln
        else:
            for k in range(i, o_hi):
                out[k] = fill
            pos += ln
            if pos != end:
                return (ERR_LENGTH_MISMATCH if pos < end else ERR_OVERRUN), pos
            return OK, pos


@njit(cache=True, parallel=True)
def decode_groups(buf, hi, glo, ghi, tid, o_start, o_count, voff, vmin, vmax,
                  luts, sym_run, sym_base, sym_ebits, nruns, out, status, where):
    """Decode groups g (bits [glo[g], ghi[g]) of buf) into out[o_start[g] : +o_count[g]]."""
    G = tid.size
    if glo.size < G or ghi.size < G or o_start.size < G or o_count.size < G or voff.size < G \
            or status.size < G or where.size < G or hi > buf.size:
        return ERR_BUFFER
    T = luts.shape[0]
    for g in prange(G):
        t = np.int64(tid[g])
        if t < 0 or t >= T:
            status[g] = ERR_BUFFER
            where[g] = glo[g]
            continue
        st, p = decode_group(buf, hi, glo[g], ghi[g], t, o_start[g],
                             o_start[g] + o_count[g], voff[g], vmin, vmax,
                             luts, sym_run, sym_base, sym_ebits, nruns, out)
        status[g] = st
        where[g] = p
    return OK
