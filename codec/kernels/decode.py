"""Decoder kernel: table-driven, one 64-bit window per set, groups in parallel.

Bit reader invariants (MSB-first):
  * ``pos`` is an absolute bit index into ``buf``; bit ``pos`` is bit ``7 - pos % 8`` of byte
    ``pos // 8``.
  * ``window(pos)`` = the 64 bits starting at byte ``pos // 8`` (bytes at or past ``hi`` read as 0),
    shifted left by ``pos % 8``: its top 57 bits are the next 57 stream bits.  A set needs at most
    12 (code) + 31 (remainder) + 1 (sign) = 44 bits, so one window serves one whole set.
  * before each symbol ``pos < end`` (the group's end); after the end symbol ``pos == end``.
  * every write index is checked against the group's output range, which is checked against
    ``out`` before the group starts.

Decode-table entries (uint32, one per LUT_BITS-bit prefix: 16 KiB a table) fuse the meaning:
  bits 0-3 code length (0 = invalid prefix), 4-5 kind (1 value, 2 escape, 3 end of group),
  6-10 remainder bit count e, 11-23 zero run before the value (or the escape's run),
  24-31 mantissa: the class's base magnitude is mantissa << e (mantissa < 2**(kref+1) <= 128).
They are built by kernels/directory.py (``build_luts``).
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..huffman import LUT_BITS
from .intrinsics import load_be64
from .status import (ERR_BUFFER, ERR_INVALID_CODE, ERR_LENGTH_MISMATCH, ERR_OVERRUN, ERR_RANGE,
                     ERR_RUN_OVERFLOW, OK)

KIND_VALUE = 1
KIND_ESC = 2
KIND_EOB = 3
_SHIFT = np.uint64(64 - LUT_BITS)


@njit(cache=True, inline="always")
def _window(buf, p, hi):
    if p + 8 <= hi and p >= 0:  # hi <= buf.size is checked by the callers
        return load_be64(buf, p)
    w = np.uint64(0)
    for k in range(8):
        w <<= np.uint64(8)
        if p + k < hi:
            w |= np.uint64(buf[p + k])
    return w


@njit(cache=True, inline="always")
def _step(buf, hi, lut, pos, end, i, o_hi, voff, vmin, vmax, out):
    """Decode one symbol of a group.  Returns (pos, i, state): state 0 = more to come,
    1 = end of group reached at exactly ``end``, negative = error status."""
    # No bit-position check per symbol: every symbol advances ``i`` (bounded by o_hi) or ends
    # the group, and _window reads zeros past ``hi``, so the loop ends; the end symbol then
    # checks that the group ended exactly at ``end``.
    w = _window(buf, pos >> 3, hi) << np.uint64(pos & 7)
    ent = np.uint64(lut[np.int64(w >> _SHIFT)])
    ln = np.int64(ent & np.uint64(15))
    kind = np.int64((ent >> np.uint64(4)) & np.uint64(3))
    r = np.int64((ent >> np.uint64(11)) & np.uint64(8191))
    if kind == KIND_VALUE:
        i += r
        if i >= o_hi:
            return pos, i, ERR_RUN_OVERFLOW
        eb = np.int64((ent >> np.uint64(6)) & np.uint64(31))
        rest = w << np.uint64(ln)
        m = (np.int64(ent >> np.uint64(24)) << eb) + np.int64((rest >> np.uint64(1)) >> np.uint64(63 - eb))
        neg = -np.int64((rest << np.uint64(eb)) >> np.uint64(63))
        v = voff + ((m ^ neg) - neg)
        if np.uint64(v - vmin) > np.uint64(vmax - vmin):  # v outside [vmin, vmax]
            return pos, i, ERR_RANGE
        out[i] = v
        return pos + ln + eb + 1, i + 1, 0
    if kind == KIND_ESC:
        i += r
        if i > o_hi:
            return pos, i, ERR_RUN_OVERFLOW
        return pos + ln, i, 0
    if kind == KIND_EOB:
        pos += ln
        if pos != end:
            return pos, i, (ERR_LENGTH_MISMATCH if pos < end else ERR_OVERRUN)
        return pos, i, 1
    return pos, i, ERR_INVALID_CODE


@njit(cache=True, inline="always")
def _start(buf, hi, start, end, o_lo, o_hi, voff, vmin, vmax, out):
    """Check a group's ranges and pre-fill its output with the zero value; status."""
    if o_lo < 0 or o_hi > out.size or o_lo > o_hi or end > hi * 8 or start < 0 or start >= end:
        return ERR_BUFFER
    if voff < vmin or voff > vmax:
        return ERR_RANGE
    out[o_lo:o_hi] = voff
    return 0


@njit(cache=True)
def decode_group(buf, hi, start, end, lut, o_lo, o_hi, voff, vmin, vmax, out):
    """Decode one group into out[o_lo:o_hi]; returns (status, bit position where it stopped)."""
    st = _start(buf, hi, start, end, o_lo, o_hi, voff, vmin, vmax, out)
    if st != 0:
        return st, start
    pos = start
    i = o_lo
    while st == 0:
        pos, i, st = _step(buf, hi, lut, pos, end, i, o_hi, voff, vmin, vmax, out)
    return (OK if st == 1 else st), pos


LANES = 4


@njit(cache=True, nogil=True)
def decode_groups(buf, hi, glo, ghi, tid, o_start, o_count, voff, vmin, vmax, luts, out,
                  status, where, q0, q1):
    """Decode groups g (bits [glo[g], ghi[g]) of buf) into out[o_start[g] : +o_count[g]],
    for the quads of groups [4*q0, 4*q1).

    Groups are taken 4 at a time and decoded interleaved (one symbol of each in turn): they are
    independent streams, so the CPU overlaps their load latencies.
    """
    G = tid.size
    if glo.size < G or ghi.size < G or o_start.size < G or o_count.size < G or voff.size < G \
            or status.size < G or where.size < G or hi > buf.size:
        return ERR_BUFFER
    T = luts.shape[0]
    for g in range(LANES * q0, min(G, LANES * q1)):
        if tid[g] < 0 or tid[g] >= T:
            status[g] = ERR_BUFFER
            where[g] = glo[g]
            return ERR_BUFFER
    for q in range(q0, q1):
        g0 = q * LANES
        if g0 + LANES <= G:
            a, b, c, d = g0, g0 + 1, g0 + 2, g0 + 3
            sa = _start(buf, hi, glo[a], ghi[a], o_start[a], o_start[a] + o_count[a], voff[a], vmin, vmax, out)
            sb = _start(buf, hi, glo[b], ghi[b], o_start[b], o_start[b] + o_count[b], voff[b], vmin, vmax, out)
            sc = _start(buf, hi, glo[c], ghi[c], o_start[c], o_start[c] + o_count[c], voff[c], vmin, vmax, out)
            sd = _start(buf, hi, glo[d], ghi[d], o_start[d], o_start[d] + o_count[d], voff[d], vmin, vmax, out)
            pa, pb, pc, pd = glo[a], glo[b], glo[c], glo[d]
            ea, eb, ec, ed = ghi[a], ghi[b], ghi[c], ghi[d]
            ia, ib, ic, id_ = o_start[a], o_start[b], o_start[c], o_start[d]
            ha, hb, hc, hd = ia + o_count[a], ib + o_count[b], ic + o_count[c], id_ + o_count[d]
            va, vb, vc, vd = voff[a], voff[b], voff[c], voff[d]
            la, lb, lc, ld = luts[tid[a]], luts[tid[b]], luts[tid[c]], luts[tid[d]]
            while (sa | sb | sc | sd) == 0:
                pa, ia, sa = _step(buf, hi, la, pa, ea, ia, ha, va, vmin, vmax, out)
                pb, ib, sb = _step(buf, hi, lb, pb, eb, ib, hb, vb, vmin, vmax, out)
                pc, ic, sc = _step(buf, hi, lc, pc, ec, ic, hc, vc, vmin, vmax, out)
                pd, id_, sd = _step(buf, hi, ld, pd, ed, id_, hd, vd, vmin, vmax, out)
            while sa == 0:
                pa, ia, sa = _step(buf, hi, la, pa, ea, ia, ha, va, vmin, vmax, out)
            while sb == 0:
                pb, ib, sb = _step(buf, hi, lb, pb, eb, ib, hb, vb, vmin, vmax, out)
            while sc == 0:
                pc, ic, sc = _step(buf, hi, lc, pc, ec, ic, hc, vc, vmin, vmax, out)
            while sd == 0:
                pd, id_, sd = _step(buf, hi, ld, pd, ed, id_, hd, vd, vmin, vmax, out)
            status[a] = OK if sa == 1 else sa
            status[b] = OK if sb == 1 else sb
            status[c] = OK if sc == 1 else sc
            status[d] = OK if sd == 1 else sd
            where[a], where[b], where[c], where[d] = pa, pb, pc, pd
        else:
            for g in range(g0, G):
                st, p = decode_group(buf, hi, glo[g], ghi[g], luts[tid[g]], o_start[g],
                                     o_start[g] + o_count[g], voff[g], vmin, vmax, out)
                status[g] = st
                where[g] = p
    return OK


@njit(cache=True, parallel=True)
def decode_groups_par(buf, hi, glo, ghi, tid, o_start, o_count, voff, vmin, vmax, luts, out,
                      status, where, nchunk):
    """:func:`decode_groups` over all groups, chunks of quads spread over threads."""
    nq = (tid.size + LANES - 1) // LANES
    bad = 0
    for c in prange(nchunk):
        bad += decode_groups(buf, hi, glo, ghi, tid, o_start, o_count, voff, vmin, vmax, luts,
                             out, status, where, nq * c // nchunk, nq * (c + 1) // nchunk) != OK
    return OK if bad == 0 else ERR_BUFFER
