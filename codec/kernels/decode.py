"""Decoder kernel: table-driven, a 64-bit bit buffer per group, groups in parallel.

Bit reader invariants (MSB-first):
  * stream bit ``pos`` (an absolute bit index into ``buf``) is bit ``7 - pos % 8`` of byte
    ``pos // 8``; bytes at or past ``hi`` read as 0 (``_window``, one bounds-checked 8-byte
    load).
  * a lane's reader is (bb, nb, bp): the next stream bit is ``pos = 8 * bp - nb``; the top
    ``nb`` bits of ``bb`` are the stream bits from ``pos`` on, and every bit below them is
    either 0 or the stream bit of that position (a refill ORs in bytes that may already be
    partly there: the same bits).  ``0 <= nb <= 63`` always, so every shift is < 64.
  * ``_refill`` (no branch: ``bb |= window(bp) >> nb``, then as many whole bytes as fitted are
    counted) leaves ``56 <= nb <= 63``.  A set needs at most 12 (code) + 31 (remainder) + 1
    (sign) = 44 bits and a whole-set entry at most 12, so after a refill one symbol always
    fits.  A lookup needs only 12 valid bits: a round of ``_groups`` refills once, decodes a
    lane's first symbol with :func:`_sym` (any symbol) and, if at least 44 bits are left
    (it used <= 12), up to three more with :func:`_sym_short`, which decodes whole sets
    (<= 12 bits each: >= 44 - 2 * 12 = 20 bits for the fourth lookup) and hands any other
    symbol back unconsumed (state ``WAIT``, as a first symbol that left < 44 bits): that
    lane takes no more steps this round, and the next round refills and decodes the symbol
    first, with :func:`_sym`.  So a lookup that is not a round's first follows at most three
    symbols of <= 12 bits since the last refill, and a not-whole set is always decoded with
    >= 44 bits buffered.
  * a symbol that fails a check consumes nothing: the error's position is the symbol's.
  * before each symbol ``pos < end`` (the group's end); after the end symbol ``pos == end``
    (checked after the loop, :func:`_ended`).
  * every write index is checked against the group's output range, which is checked against
    ``out`` before the group starts.

Decode-table entries (uint32, one per LUT_BITS-bit prefix: 16 KiB a table) fuse the meaning:
  bits 0-3 code length (0 = invalid prefix), 4-5 kind (1 value, 2 escape, 3 end of group),
  6-10 remainder bit count e, 11-23 zero run before the value (or the escape's run),
  24-30 mantissa: the class's base magnitude is mantissa << e (mantissa < 2**(kref+1) <= 128).
  Whole-set entries (bit 31 set; the CPU decoder's tables, not codec.cuda's): the prefix
  holds a value's code, remainder bits and sign: bits 0-3 bits used, 4-16 zero run, 17-30
  value + 8191.  On dense weights 95-100 % of the values decode from such entries.  An
  escape's code is one too: the set "nrun - 1 zeros, then the zero value" (same output, same
  run check), so an alphabet with short runs (nrun 1: every zero an escape) stays on the
  inlined step (fer 8/.5: 1.38x).
They are built by kernels/directory.py (``build_luts``).

Multi-set entries (uint64, ``decode_groups_multi``; kernels/directory.py ``build_multi``): a
whole-set entry that also carries up to two more whole sets found in the same 12 bits, for
the tables whose entries average >= 2 sets (dense 4-bit weights: 2.1-2.8 sets per lookup;
1.25-1.7x faster there).  The kernel stores all three (set 3, then 2, then 1: an absent set
has run 0 and writes the zero value where set 1 then writes its own); when the run check fails
it decodes the first set alone, exactly as the plain kernel would, so errors and their
positions do not depend on the kernel.  It checks no value range on whole-set entries: a
group is routed to it only when its value offset plus or minus the table's largest
whole-set |value| stays in the dtype's range (codec/package.py; the others take the plain
kernel, which checks every value: +12-18 % serial on dense 4-bit).  It reads one window per
lookup at ``pos`` (``w = window(pos // 8) << pos % 8``: the bit buffer's invariants with the
buffer reloaded every symbol); the bit buffer measured only 1.00-1.04x there.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ..huffman import LUT_BITS
from .directory import WHOLE_FLAG, WHOLE_MAX
from .intrinsics import window_be64 as _window
from .status import (ERR_BUFFER, ERR_INVALID_CODE, ERR_LENGTH_MISMATCH, ERR_OVERRUN, ERR_RANGE,
                     ERR_RUN_OVERFLOW, OK)

KIND_VALUE = 1
KIND_ESC = 2
KIND_EOB = 3
_SHIFT = np.uint64(64 - LUT_BITS)
WAIT = 2  # a lane's state for the rest of a round: its next symbol needs a refill first


@njit(cache=True, inline="always")
def _ended(st, pos, end):
    """A lane's final status: the end symbol (state 1) must end the group exactly at ``end``
    (checked here, after the loop, so ``end`` is not live in it: +2-4 % serial)."""
    if st == 1 and pos != end:
        return ERR_LENGTH_MISMATCH if pos < end else ERR_OVERRUN
    return OK if st == 1 else st


@njit(cache=True, inline="always")
def _plain(w, ent, pos, i, o_hi, voff, vmin, vmax):
    """A symbol that is not a whole set (entry ``ent``, bit window ``w`` at ``pos``): a value
    with remainder bits, an escape or the end of the group; returns as :func:`_step`."""
    ln = np.int64(ent & np.uint64(15))
    kind = np.int64((ent >> np.uint64(4)) & np.uint64(3))
    r = np.int64((ent >> np.uint64(11)) & np.uint64(8191))
    if kind == KIND_VALUE:
        i += r
        if i >= o_hi:
            return pos, i, ERR_RUN_OVERFLOW, i, voff
        eb = np.int64((ent >> np.uint64(6)) & np.uint64(31))
        rest = w << np.uint64(ln)
        m = (np.int64(ent >> np.uint64(24)) << eb) + np.int64((rest >> np.uint64(1)) >> np.uint64(63 - eb))
        neg = -np.int64((rest << np.uint64(eb)) >> np.uint64(63))
        v = voff + ((m ^ neg) - neg)
        if np.uint64(v - vmin) > np.uint64(vmax - vmin):  # v outside [vmin, vmax]
            return pos, i, ERR_RANGE, i, voff
        return pos + ln + eb + 1, i + 1, 0, i, v
    if kind == KIND_ESC:
        j = i
        i += r
        if i > o_hi:
            return pos, i, ERR_RUN_OVERFLOW, j, voff
        return pos + ln, i, 0, j, voff  # r >= 1, so o_lo <= j < o_hi
    if kind == KIND_EOB:
        return pos + ln, i, 1, i, voff  # the caller checks pos == end (_ended)
    return pos, i, ERR_INVALID_CODE, i, voff


@njit(cache=True, nogil=True)
def _plain_call(w, ent, i, o_hi, voff, vmin, vmax):
    """:func:`_plain` at relative position 0 (returns the bits used first), called rather than
    inlined by the steps: it is the rare path on dense weights, and one copy instead of one
    per inlined step cuts `decode_groups`' cold compile by ~0.9 s at the same speed."""
    return _plain(w, ent, 0, i, o_hi, voff, vmin, vmax)


@njit(cache=True, inline="always")
def _open(buf, hi, start):
    """The bit buffer of a group starting at bit ``start``: (bb, nb, bp), see the module doc."""
    s = start & 7
    bb = _window(buf, start >> 3, hi) << np.uint64(s)
    return bb, np.int64(56) - s, (start >> 3) + 7


@njit(cache=True, inline="always")
def _refill(buf, hi, bb, nb, bp):
    """Branch-free refill (0 <= nb <= 63 on entry): afterwards 56 <= nb <= 63."""
    bb |= _window(buf, bp, hi) >> np.uint64(nb)
    k = (63 - nb) >> 3
    return bb, nb + (k << 3), bp + k


@njit(cache=True, inline="always")
def _whole(ent, bb, nb, bp, i, o_hi, voff, vmin, vmax, wcheck):
    """The step of a whole-set entry ``ent`` (its code, remainder and sign: <= 12 bits), as
    :func:`_sym` returns it; ``wcheck`` None: the value is not range-checked."""
    i += np.int64((ent >> np.uint64(4)) & np.uint64(8191))
    if i >= o_hi:
        return bb, nb, bp, i, ERR_RUN_OVERFLOW, i, voff
    v = voff + np.int64((ent >> np.uint64(17)) & np.uint64(16383)) - WHOLE_MAX
    if wcheck is not None:  # (compiled out in decode_groups_wide)
        if np.uint64(v - vmin) > np.uint64(vmax - vmin):  # v outside [vmin, vmax]
            return bb, nb, bp, i, ERR_RANGE, i, voff
    c = ent & np.uint64(15)
    return bb << c, nb - np.int64(c), bp, i + 1, 0, i, v


@njit(cache=True, inline="always")
def _sym(luts, t, bb, nb, bp, i, o_hi, voff, vmin, vmax, wcheck):
    """Decode one symbol of a group from its bit buffer (``nb >= 44``, a whole set's worst
    case).  Returns (bb, nb, bp, i, state, j, v): state 0 = more to come and the caller
    stores ``out[j] = v`` (a value, or for an escape the zero value at the run's first
    position, already there), 1 = end symbol read (the caller then checks with
    :func:`_ended` that it ended the group exactly at its end), negative = error status (the
    buffer is returned unconsumed: the error's position is the symbol's).  The caller, not
    this function, writes ``out``: an array argument of an inlined function costs an atomic
    NRT incref/decref per call that Numba's reference-count pruning does not remove here
    (measured in docs/DESIGN.md).  ``wcheck`` None (a type, so Numba compiles the check out):
    whole-set values are not range-checked (:func:`decode_groups_wide`)."""
    # No bit-position check per symbol: every symbol advances ``i`` (bounded by o_hi) or ends
    # the group, and _window reads zeros past ``hi``, so the loop ends; after the end symbol
    # the caller checks that the group ended exactly at its end.
    ent = np.uint64(luts[t, bb >> _SHIFT])  # unsigned index: no wraparound code
    if ent >= np.uint64(WHOLE_FLAG):  # the whole set (code, remainder, sign) in one entry
        return _whole(ent, bb, nb, bp, i, o_hi, voff, vmin, vmax, wcheck)
    c, i, st, j, v = _plain_call(bb, ent, i, o_hi, voff, vmin, vmax)
    return bb << np.uint64(c), nb - c, bp, i, st, j, v


@njit(cache=True, inline="always")
def _sym_short(luts, t, bb, nb, bp, i, o_hi, voff, vmin, vmax, wcheck):
    """:func:`_sym` for a lane with at least 12 valid bits (``nb >= 12``): a whole set decodes
    as there; any other symbol returns state ``WAIT`` with nothing consumed (the next round
    refills and decodes it with :func:`_sym`).  Lets a round decode up to four symbols a
    lane per refill (docs/DESIGN.md, session 12).  Takes no buffer argument: an
    array argument of an inlined step costs an NRT incref/decref per symbol (measured with
    the refill inside: 0.83x)."""
    ent = np.uint64(luts[t, bb >> _SHIFT])
    if ent >= np.uint64(WHOLE_FLAG):
        return _whole(ent, bb, nb, bp, i, o_hi, voff, vmin, vmax, wcheck)
    return bb, nb, bp, i, WAIT, i, voff


@njit(cache=True, inline="always")
def _start(buf, hi, start, end, o_lo, o_hi, voff, vmin, vmax, out):
    """Check a group's ranges and pre-fill its output with the zero value; status."""
    if o_lo < 0 or o_hi > out.size or o_lo > o_hi or end > hi * 8 or start < 0 or start >= end:
        return ERR_BUFFER
    if voff < vmin or voff > vmax:
        return ERR_RANGE
    out[o_lo:o_hi] = voff
    return 0


@njit(cache=True, nogil=True)
def _finish(buf, hi, luts, t, bb, nb, bp, i, o_hi, voff, vmin, vmax, out, wcheck):
    """One lane alone to the end of its group (the last group of a chunk): (pos, i, state).
    A called function, not inlined, so the kernels compile fewer copies of the step."""
    st = np.int64(0)
    while st == 0:
        bb, nb, bp = _refill(buf, hi, bb, nb, bp)
        bb, nb, bp, i, st, j, v = _sym(luts, t, bb, nb, bp, i, o_hi, voff, vmin, vmax, wcheck)
        if st == 0:
            out[np.uint64(j)] = v
    return bp * 8 - nb, i, st


LANES = 2


@njit(cache=True, nogil=True)
def decode_groups(buf, hi, glo, ghi, tid, o_start, o_count, voff, vmin, vmax, luts, out,
                  status, where, q0, q1):
    """Decode groups g (bits [glo[g], ghi[g]) of buf) into out[o_start[g] : +o_count[g]],
    for the groups [LANES*q0, LANES*q1); every value is checked against [vmin, vmax]
    (:func:`_groups`)."""
    return _groups(buf, hi, glo, ghi, tid, o_start, o_count, voff, vmin, vmax, luts, out,
                   status, where, q0, q1, True)


@njit(cache=True, nogil=True)
def decode_groups_wide(buf, hi, glo, ghi, tid, o_start, o_count, voff, vmin, vmax, luts, out,
                       status, where, q0, q1):
    """:func:`decode_groups` without the range check of whole-set values (the values that
    decode from one table entry, 95-100 % of them on dense weights): 1.05-1.07x on dense
    8-bit.  Only for groups that cannot leave the dtype's range that way: the caller sends a
    group here only if its value offset +- its table's largest whole-set |value| (build_luts'
    ``bound``) lies in [vmin, vmax].  Values decoded with remainder bits are checked as in
    decode_groups, so the values, errors and error positions are decode_groups'."""
    return _groups(buf, hi, glo, ghi, tid, o_start, o_count, voff, vmin, vmax, luts, out,
                   status, where, q0, q1, None)


@njit(cache=True, nogil=True)
def _groups(buf, hi, glo, ghi, tid, o_start, o_count, voff, vmin, vmax, luts, out,
            status, where, q0, q1, wcheck):
    """The decode loop of :func:`decode_groups` (``wcheck`` True) and
    :func:`decode_groups_wide` (None: Numba compiles a second loop without the check).

    Two lanes decode two groups interleaved (one symbol of each in turn): they are independent
    streams, so the CPU overlaps their load latencies.  Two lanes beat four by ~5 % (four
    lanes' state spills out of the registers; docs/DESIGN.md).  A lane whose group ends takes
    the next group at once.
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
    # lane bookkeeping in memory, not registers (the symbol loop keeps the registers of a
    # fixed pair of groups: -3 % on dense 8-bit otherwise): next group, end, group of lane a, b
    ln = np.empty(4, np.int64)
    ln[0] = LANES * q0
    ln[1] = min(G, LANES * q1)
    ln[2] = ln[3] = -1
    sa = sb = np.int64(1)
    pa = ea = ia = ha = va = pb = eb = ib = hb = vb = np.int64(0)
    na = nb = qa = qb = np.int64(0)  # lane bit buffers: valid bits, next byte (module doc)
    ba = bb = la = lb = np.uint64(0)
    while True:
        # a lane whose group ended takes the next group at once, so both lanes stay busy
        # while groups remain (a group whose ranges fail _start is reported and skipped)
        if sa != 0:
            a = ln[2]
            if a >= 0:
                status[a] = _ended(sa, pa, ea)
                where[a] = pa
                a = -1
            while a < 0 and ln[0] < ln[1]:
                a = ln[0]
                ln[0] = a + 1
                pa, ea, ia = glo[a], ghi[a], o_start[a]
                ha, va, la = ia + o_count[a], voff[a], np.uint64(tid[a])
                sa = _start(buf, hi, pa, ea, ia, ha, va, vmin, vmax, out)
                if sa != 0:
                    status[a] = sa
                    where[a] = pa
                    a = -1
                else:
                    ba, na, qa = _open(buf, hi, pa)
            if a < 0:
                sa = 1
            ln[2] = a
        if sb != 0:
            b = ln[3]
            if b >= 0:
                status[b] = _ended(sb, pb, eb)
                where[b] = pb
                b = -1
            while b < 0 and ln[0] < ln[1]:
                b = ln[0]
                ln[0] = b + 1
                pb, eb, ib = glo[b], ghi[b], o_start[b]
                hb, vb, lb = ib + o_count[b], voff[b], np.uint64(tid[b])
                sb = _start(buf, hi, pb, eb, ib, hb, vb, vmin, vmax, out)
                if sb != 0:
                    status[b] = sb
                    where[b] = pb
                    b = -1
                else:
                    bb, nb, qb = _open(buf, hi, pb)
            if b < 0:
                sb = 1
            ln[3] = b
        if ln[2] < 0 and ln[3] < 0:
            return OK
        # up to four symbols per lane per round after one refill (>= 56 bits): the first
        # whatever it is, the next three while they are whole sets (<= 12 bits each; the
        # bit reader invariants in the module doc); a symbol that is not one ends the lane's
        # round and is the next round's first.  1.04-1.12x serial on dense 8-bit
        # against two symbols a round with a test before the second (docs/DESIGN.md,
        # session 12).  The steps are written out on purpose: a `for` loop around them
        # measured 0.97x, one inlined step for both lanes 0.57-0.77x
        while (sa | sb) == 0:
            ba, na, qa = _refill(buf, hi, ba, na, qa)
            bb, nb, qb = _refill(buf, hi, bb, nb, qb)
            # the first symbol whatever it is (>= 44 bits); the next three only if it left 44
            # bits, else the lane waits for the next round (WAIT)
            ba, na, qa, ia, sa, ja, xa = _sym(luts, la, ba, na, qa, ia, ha, va, vmin, vmax, wcheck)
            if sa == 0:
                out[np.uint64(ja)] = xa
                if na < 44:
                    sa = WAIT
            bb, nb, qb, ib, sb, jb, xb = _sym(luts, lb, bb, nb, qb, ib, hb, vb, vmin, vmax, wcheck)
            if sb == 0:
                out[np.uint64(jb)] = xb
                if nb < 44:
                    sb = WAIT
            if sa == 0:
                ba, na, qa, ia, sa, ja, xa = _sym_short(luts, la, ba, na, qa, ia, ha, va, vmin, vmax,
                                                       wcheck)
                if sa == 0:
                    out[np.uint64(ja)] = xa
            if sb == 0:
                bb, nb, qb, ib, sb, jb, xb = _sym_short(luts, lb, bb, nb, qb, ib, hb, vb, vmin, vmax,
                                                       wcheck)
                if sb == 0:
                    out[np.uint64(jb)] = xb
            if sa == 0:
                ba, na, qa, ia, sa, ja, xa = _sym_short(luts, la, ba, na, qa, ia, ha, va, vmin, vmax,
                                                       wcheck)
                if sa == 0:
                    out[np.uint64(ja)] = xa
            if sb == 0:
                bb, nb, qb, ib, sb, jb, xb = _sym_short(luts, lb, bb, nb, qb, ib, hb, vb, vmin, vmax,
                                                       wcheck)
                if sb == 0:
                    out[np.uint64(jb)] = xb
            if sa == 0:
                ba, na, qa, ia, sa, ja, xa = _sym_short(luts, la, ba, na, qa, ia, ha, va, vmin, vmax,
                                                       wcheck)
                if sa == 0:
                    out[np.uint64(ja)] = xa
            if sb == 0:
                bb, nb, qb, ib, sb, jb, xb = _sym_short(luts, lb, bb, nb, qb, ib, hb, vb, vmin, vmax,
                                                       wcheck)
                if sb == 0:
                    out[np.uint64(jb)] = xb
            if sa == WAIT:  # the next round refills and decodes that symbol first
                sa = 0
            if sb == WAIT:
                sb = 0
        pa = qa * 8 - na  # the lanes' bit positions (an ended lane's is checked by _ended)
        pb = qb * 8 - nb
        if ln[0] < ln[1]:
            continue  # refill the lane that ended
        if sa == 0:  # no group left: the other lane finishes alone
            pa, ia, sa = _finish(buf, hi, luts, la, ba, na, qa, ia, ha, va, vmin, vmax, out, wcheck)
        if sb == 0:
            pb, ib, sb = _finish(buf, hi, luts, lb, bb, nb, qb, ib, hb, vb, vmin, vmax, out, wcheck)


@njit(cache=True, inline="always")
def _step_multi(buf, hi, luts, t, pos, i, o_hi, voff, vmin, vmax):
    """One lookup of a multi-set table at bit ``pos``: returns (pos, i, state, j3, v3, j2, v2,
    j1, v1), the states of :func:`_sym`; for
    state 0 the caller stores out[j3] = v3, out[j2] = v2, out[j1] = v1 in that order (one
    set: j3 = j2 = j1, two: j3 = j2)."""
    w = _window(buf, pos >> 3, hi) << np.uint64(pos & 7)
    ent = luts[t, w >> _SHIFT]
    if ent & np.uint64(WHOLE_FLAG):
        j1 = i + np.int64((ent >> np.uint64(4)) & np.uint64(8191))
        j2 = j1 + np.int64((ent >> np.uint64(32)) & np.uint64(63))
        j3 = j2 + np.int64((ent >> np.uint64(46)) & np.uint64(63))
        v1 = voff + np.int64((ent >> np.uint64(17)) & np.uint64(16383)) - WHOLE_MAX
        v2 = voff + np.int64((ent >> np.uint64(38)) & np.uint64(255)) - 128
        v3 = voff + np.int64((ent >> np.uint64(52)) & np.uint64(255)) - 128
        # no value range check: the caller sends a group here only if its value offset
        # +- the table's largest whole-set |value| (kernels/directory.multi_value_bound)
        # lies in the dtype's range, so no set of an entry can leave it
        if j3 < o_hi:
            return pos + np.int64(ent & np.uint64(15)), j3 + 1, 0, j3, v3, j2, v2, j1, v1
        # the run check failed: the first set alone, with the plain kernel's checks
        if j1 >= o_hi:
            return pos, j1, ERR_RUN_OVERFLOW, j1, voff, j1, voff, j1, voff
        if np.uint64(v1 - vmin) > np.uint64(vmax - vmin):
            return pos, j1, ERR_RANGE, j1, voff, j1, voff, j1, voff
        return pos + np.int64(ent >> np.uint64(60)), j1 + 1, 0, j1, v1, j1, v1, j1, v1
    c, i, st, j, v = _plain_call(w, ent, i, o_hi, voff, vmin, vmax)
    return pos + c, i, st, j, v, j, v, j, v


@njit(cache=True, nogil=True)
def _finish_multi(buf, hi, luts, t, pos, i, o_hi, voff, vmin, vmax, out):
    """_finish for a multi-set table."""
    st = np.int64(0)
    while st == 0:
        pos, i, st, k, x, j2, x2, j, y = _step_multi(buf, hi, luts, t, pos, i, o_hi, voff, vmin, vmax)
        if st == 0:
            out[np.uint64(k)] = x
            out[np.uint64(j2)] = x2
            out[np.uint64(j)] = y
    return pos, i, st


@njit(cache=True, nogil=True)
def decode_groups_multi(buf, hi, glo, ghi, tid, o_start, o_count, voff, vmin, vmax, luts, out,
                        status, where, q0, q1):
    """decode_groups with multi-set tables (uint64 ``luts``, kernels/directory.build_multi)."""
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
    # lane bookkeeping in memory, not registers (the symbol loop keeps the registers of a
    # fixed pair of groups: -3 % on dense 8-bit otherwise): next group, end, group of lane a, b
    ln = np.empty(4, np.int64)
    ln[0] = LANES * q0
    ln[1] = min(G, LANES * q1)
    ln[2] = ln[3] = -1
    sa = sb = np.int64(1)
    pa = ea = ia = ha = va = pb = eb = ib = hb = vb = np.int64(0)
    la = lb = np.uint64(0)
    while True:
        # a lane whose group ended takes the next group at once, so both lanes stay busy
        # while groups remain (a group whose ranges fail _start is reported and skipped)
        if sa != 0:
            a = ln[2]
            if a >= 0:
                status[a] = _ended(sa, pa, ea)
                where[a] = pa
                a = -1
            while a < 0 and ln[0] < ln[1]:
                a = ln[0]
                ln[0] = a + 1
                pa, ea, ia = glo[a], ghi[a], o_start[a]
                ha, va, la = ia + o_count[a], voff[a], np.uint64(tid[a])
                sa = _start(buf, hi, pa, ea, ia, ha, va, vmin, vmax, out)
                if sa != 0:
                    status[a] = sa
                    where[a] = pa
                    a = -1
            if a < 0:
                sa = 1
            ln[2] = a
        if sb != 0:
            b = ln[3]
            if b >= 0:
                status[b] = _ended(sb, pb, eb)
                where[b] = pb
                b = -1
            while b < 0 and ln[0] < ln[1]:
                b = ln[0]
                ln[0] = b + 1
                pb, eb, ib = glo[b], ghi[b], o_start[b]
                hb, vb, lb = ib + o_count[b], voff[b], np.uint64(tid[b])
                sb = _start(buf, hi, pb, eb, ib, hb, vb, vmin, vmax, out)
                if sb != 0:
                    status[b] = sb
                    where[b] = pb
                    b = -1
            if b < 0:
                sb = 1
            ln[3] = b
        if ln[2] < 0 and ln[3] < 0:
            return OK
        while (sa | sb) == 0:
            pa, ia, sa, ka, xa, ja2, xa2, ja, ya = _step_multi(buf, hi, luts, la, pa, ia, ha, va, vmin, vmax)
            if sa == 0:
                out[np.uint64(ka)] = xa
                out[np.uint64(ja2)] = xa2
                out[np.uint64(ja)] = ya
            pb, ib, sb, kb, xb, jb2, xb2, jb, yb = _step_multi(buf, hi, luts, lb, pb, ib, hb, vb, vmin, vmax)
            if sb == 0:
                out[np.uint64(kb)] = xb
                out[np.uint64(jb2)] = xb2
                out[np.uint64(jb)] = yb
        if ln[0] < ln[1]:
            continue  # refill the lane that ended
        if sa == 0:  # no group left: the other lane finishes alone
            pa, ia, sa = _finish_multi(buf, hi, luts, la, pa, ia, ha, va, vmin, vmax, out)
        if sb == 0:
            pb, ib, sb = _finish_multi(buf, hi, luts, lb, pb, ib, hb, vb, vmin, vmax, out)
