"""Encoder kernels: run-length pairs, symbol statistics, and bit packing.

A tensor's values ``x`` (flat, any integer dtype) minus its value offset give ``d``.  Each group
``[gb[g], gb[g+1])`` becomes pairs (run of zeros, nonzero d); pairs of group g are
``[ps[g], ps[g+1])``.  Trailing zeros of a group are implied by its end-of-group symbol.

Each kernel works on a range of groups ``[g0, g1)`` (serial, ``nogil``);
:func:`codec.planner.run_ranges` splits large calls into chunks of about equal work that the
calling thread and a small pool take from a shared counter (no ``prange`` barrier that waits
for a descheduled thread); small calls run whole on the calling thread.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .status import ERR_BUFFER, ERR_LENGTH_MISMATCH, ERR_SYMBOL, OK
from .symbols import (MAG_LUT, SYM_EOB, SYM_ESC, lut_index, mag_lut, pair_symbol,
                      pair_symbol_lut)


@njit(cache=True, nogil=True)
def count_pairs(x, gvoff, glo, ghi, counts, g0, g1):
    """counts[g] = number of values x[i] != gvoff[g], i in [glo[g], ghi[g]), for g in [g0, g1)."""
    if g0 < 0 or g1 > counts.size or g1 > glo.size or g1 > ghi.size or g1 > gvoff.size:
        return ERR_BUFFER
    for g in range(g0, g1):
        lo = glo[g]
        hi = ghi[g]
        if lo < 0 or hi > x.size:
            return ERR_BUFFER
        off = gvoff[g]
        n = 0
        for i in range(lo, hi):  # (unsigned indices: no negative-index code, a loop that
            n += np.int64(x[np.uint64(i)]) != off  # vectorises: 5x on yolov8n's 3 M values)
        counts[g] = n
    return OK


@njit(cache=True, nogil=True)
def fill_pairs(x, gvoff, glo, ghi, ps, runs, vals, maxmag, g0, g1):
    """Write each group's (run, value) pairs at [ps[g], ps[g+1]); maxmag[g] = largest |value|."""
    if g0 < 0 or g1 + 1 > ps.size or g1 > maxmag.size or g1 > glo.size or g1 > ghi.size \
            or g1 > gvoff.size:
        return ERR_BUFFER
    for g in range(g0, g1):
        lo = glo[g]
        hi = ghi[g]
        k = ps[g]
        run = 0
        mm = 0
        off = gvoff[g]
        if lo < 0 or hi > x.size or k < 0 or ps[g + 1] > runs.size or ps[g + 1] > vals.size:
            return ERR_BUFFER
        end = ps[g + 1]
        nnz = end - k
        if 4 * nnz > hi - lo and 4 * nnz < 3 * (hi - lo) and hi - lo < 2**31:
            # mixed zeros and nonzeros (a branch per value would mispredict): first the
            # nonzeros' positions, branch-free (a zero's slot is overwritten by the next
            # nonzero), then runs and values from them
            for i in range(lo, hi):
                if k < end:
                    runs[np.uint64(k)] = i - lo
                k += np.int64(x[np.uint64(i)]) != off
            if k != end:
                return ERR_BUFFER
            prev = np.int64(-1)
            for j in range(ps[g], end):
                q = np.int64(runs[np.uint64(j)])
                if q < 0 or lo + q >= hi:
                    return ERR_BUFFER
                d = np.int64(x[np.uint64(lo + q)]) - off
                runs[np.uint64(j)] = q - prev - 1
                prev = q
                vals[np.uint64(j)] = d
                m = d if d > 0 else -d
                if m > mm:
                    mm = m
            maxmag[g] = mm
            continue
        for i in range(lo, hi):
            d = np.int64(x[np.uint64(i)]) - off
            if d == 0:
                run += 1
            else:
                if k >= end:
                    return ERR_BUFFER
                runs[np.uint64(k)] = run
                vals[np.uint64(k)] = d
                m = d if d > 0 else -d
                if m > mm:
                    mm = m
                k += 1
                run = 0
        if k != end:
            return ERR_BUFFER
        maxmag[g] = mm
    return OK


@njit(cache=True, nogil=True)
def coarsen_runs(runs, ps, glen, cf, out, c0, c1):
    """The runs of a coarser grouping from a finer one's pairs (the same pairs, one per
    nonzero, in the same order): coarse group c is fine groups [cf[c], cf[c+1]) of lengths
    ``glen``; the first pair of a fine group after the first also counts the zeros that end
    the fine groups before it.  Writes out[ps[cf[c]]:ps[cf[c+1]]] for c in [c0, c1)."""
    G = glen.size
    if ps.size != G + 1 or c0 < 0 or c1 + 1 > cf.size or runs.size != out.size:
        return ERR_BUFFER
    for c in range(c0, c1):
        a = cf[c]
        b = cf[c + 1]
        if a < 0 or b < a or b > G:
            return ERR_BUFFER
        carry = np.int64(0)
        for j in range(a, b):
            lo = ps[j]
            hi = ps[j + 1]
            if lo < 0 or hi < lo or hi > runs.size:
                return ERR_BUFFER
            used = np.int64(0)
            for k in range(lo, hi):
                r = np.int64(runs[np.uint64(k)])
                used += r + 1
                out[np.uint64(k)] = r
            if hi > lo:
                r = np.int64(runs[lo]) + carry
                if r >= 2**31:
                    return ERR_BUFFER
                out[lo] = r
                carry = glen[j] - used
            else:
                carry += glen[j]
            if carry < 0:
                return ERR_BUFFER
    return OK


@njit(cache=True, nogil=True)
def _mag_luts(krefs, nruns):
    """:func:`codec.kernels.symbols.mag_lut` of every table (rows: symbol base, extra bits +
    1 by magnitude < MAG_LUT), for :func:`codec.kernels.symbols.pair_symbol_lut`: the
    per-pair class arithmetic becomes two loads for most pairs (bit packing 1.6x on mtcnn
    8-bit)."""
    n = min(krefs.size, nruns.size)
    s0s = np.zeros((n, MAG_LUT), np.int64)
    x1s = np.zeros((n, MAG_LUT), np.int64)
    for j in range(n):
        a, b = mag_lut(krefs[j], nruns[j])
        s0s[j] = a
        x1s[j] = b
    return s0s, x1s


@njit(cache=True, nogil=True)
def group_bits(runs, vals, ps, tid, krefs, nruns, lens, bits, g0, g1):
    """Exact coded length in bits of groups [g0, g1) under their tables (-1: uncodable)."""
    if g0 < 0 or g1 + 1 > ps.size or g1 > tid.size or g1 > bits.size:
        return ERR_BUFFER
    bad = 0
    nsym = lens.shape[1]
    s0s, x1s = _mag_luts(krefs, nruns)
    for g in range(g0, g1):
        t = tid[g]
        if t < 0 or t >= lens.shape[0] or t >= krefs.size or t >= nruns.size or ps[g] < 0 \
                or ps[g + 1] > runs.size or ps[g + 1] > vals.size:
            return ERR_BUFFER
        kref = krefs[t]
        nrun = nruns[t]
        esc = np.int64(lens[t, SYM_ESC])
        total = np.int64(lens[t, SYM_EOB])
        ok = total > 0
        for k in range(ps[g], ps[g + 1]):
            d = np.int64(vals[np.uint64(k)])
            i = lut_index(d)
            nesc, s, e1 = pair_symbol_lut(np.int64(runs[np.uint64(k)]), d, kref, nrun,
                                          s0s[t, i], x1s[t, i])
            e = e1 - 1
            if nesc:
                total += nesc * esc
                if esc == 0:
                    ok = False
            ln = np.int64(lens[t, s]) if s < nsym else np.int64(0)
            if ln == 0:
                ok = False
            total += ln + e + 1
        if ok:
            bits[g] = total
        else:
            bits[g] = -1
            bad += 1
    return OK if bad == 0 else ERR_SYMBOL


@njit(cache=True, inline="always")
def _flush(out, first, shared_pos, shared_g, acc, nacc, pos):
    """Write the whole bytes of the bit accumulator (the top ``nacc`` bits of ``acc``...).
    A byte at ``shared_pos`` (shared with a group another thread writes) goes to
    first[shared_g] instead.  Returns (nacc, pos, ok)."""
    ok = True
    while nacc >= 8:
        nacc -= 8
        b = np.uint8((acc >> np.uint64(nacc)) & np.uint64(0xFF))
        if pos == shared_pos:
            first[shared_g] = b
        elif pos < out.size:
            out[pos] = b
        else:
            ok = False
        pos += 1
    return nacc, pos, ok


@njit(cache=True, nogil=True)
def pack_groups(runs, vals, ps, tid, krefs, nruns, codes, lens, gstart, gbits, out, first, status,
                g0, g1):
    """Write groups [g0, g1), group g at absolute bit offset gstart[g] of ``out``, exactly
    gbits[g] bits long.  ``out`` must be zero-filled.  status[g] = 0 or a negative code.

    Groups of one call are written in order; a group that continues the byte where the
    previous group of this call ended carries its bits.  A group that starts inside a byte
    it does not share with this call's previous group (the first group of a thread's range)
    keeps that byte's bits in first[g]; :func:`merge_first_bytes` ORs them in afterwards.
    """
    if g0 < 0 or g1 + 1 > ps.size or g1 > tid.size or g1 > gstart.size or g1 > gbits.size \
            or g1 > first.size or g1 > status.size:
        return ERR_BUFFER
    nsym = lens.shape[1]
    s0s, x1s = _mag_luts(krefs, nruns)
    last_pos = np.int64(-1)
    last_byte = np.uint64(0)
    shared_pos = np.int64(-1)
    shared_g = g0
    for g in range(g0, g1):
        t = tid[g]
        start = gstart[g]
        if t < 0 or t >= lens.shape[0] or t >= krefs.size or t >= nruns.size or t >= codes.shape[0] \
                or ps[g] < 0 or ps[g + 1] > runs.size or ps[g + 1] > vals.size or start < 0 \
                or codes.shape[1] < nsym:
            status[g] = ERR_BUFFER
            last_pos = -1
            continue
        kref = krefs[t]
        nrun = nruns[t]
        pos = start >> 3
        nacc = start & 7
        acc = np.uint64(0)
        if nacc > 0:
            if pos == last_pos:
                acc = last_byte >> np.uint64(8 - nacc)
            else:
                shared_pos = pos
                shared_g = g
        st = OK
        ok = True
        esc_code = np.uint64(codes[t, SYM_ESC])
        esc_len = np.int64(lens[t, SYM_ESC])
        for k in range(ps[g], ps[g + 1]):
            d = vals[np.uint64(k)]
            i = lut_index(np.int64(d))
            nesc, s, e1 = pair_symbol_lut(np.int64(runs[np.uint64(k)]), np.int64(d), kref, nrun,
                                          s0s[t, i], x1s[t, i])
            e = e1 - 1
            x = (np.int64(d) if d > 0 else -np.int64(d)) & ((np.int64(1) << e) - 1)  # extra bits
            for _ in range(nesc):
                acc = (acc << np.uint64(esc_len)) | esc_code
                nacc += esc_len
                nacc, pos, ok1 = _flush(out, first, shared_pos, shared_g, acc, nacc, pos)
                ok = ok and ok1
            if s < 0 or s >= nsym or lens[t, s] == 0:
                st = ERR_SYMBOL
                break
            ln = np.int64(lens[t, s])
            add = ln + e + 1
            if nacc + add > 64:  # (the accumulator holds 64 bits)
                nacc, pos, ok1 = _flush(out, first, shared_pos, shared_g, acc, nacc, pos)
                ok = ok and ok1
            # code, extra bits, sign: one shift of the accumulator
            word = (((np.uint64(codes[t, s]) << np.uint64(e)) | np.uint64(x)) << np.uint64(1)) \
                | np.uint64(1 if d < 0 else 0)
            acc = (acc << np.uint64(add)) | word
            nacc += add
            if nacc >= 32:
                if pos + 4 <= out.size and (shared_pos < pos or shared_pos > pos + 3):
                    # four whole bytes at once (none of them is the shared byte)
                    v = acc >> np.uint64(nacc - 32)
                    out[pos] = np.uint8((v >> np.uint64(24)) & np.uint64(0xFF))
                    out[pos + 1] = np.uint8((v >> np.uint64(16)) & np.uint64(0xFF))
                    out[pos + 2] = np.uint8((v >> np.uint64(8)) & np.uint64(0xFF))
                    out[pos + 3] = np.uint8(v & np.uint64(0xFF))
                    pos += 4
                    nacc -= 32
                else:
                    nacc, pos, ok1 = _flush(out, first, shared_pos, shared_g, acc, nacc, pos)
                    ok = ok and ok1
        if st == OK:
            ln = np.int64(lens[t, SYM_EOB])
            acc = (acc << np.uint64(ln)) | np.uint64(codes[t, SYM_EOB])
            nacc += ln
            nacc, pos, ok1 = _flush(out, first, shared_pos, shared_g, acc, nacc, pos)
            ok = ok and ok1
            nbits = pos * 8 + nacc - start
            last_pos = -1
            if nacc > 0:  # the partial last byte, zero-padded
                b = (acc << np.uint64(8 - nacc)) & np.uint64(0xFF)
                if pos == shared_pos:
                    first[shared_g] = np.uint8(b)
                elif pos < out.size:
                    out[pos] = np.uint8(b)
                else:
                    ok = False
                last_pos = pos
                last_byte = b
            if not ok:
                st = ERR_BUFFER
            elif nbits != gbits[g]:
                st = ERR_LENGTH_MISMATCH
        else:
            last_pos = -1
        status[g] = st
    return OK


@njit(cache=True, nogil=True)
def merge_first_bytes(out, first, gstart):
    """OR every group's first byte (kept aside by :func:`pack_groups`) into ``out``."""
    if gstart.size < first.size:
        return ERR_BUFFER
    for g in range(first.size):
        idx = gstart[g] >> 3
        if 0 <= idx < out.size:
            out[idx] |= first[g]
        else:
            return ERR_BUFFER
    return OK


@njit(cache=True, nogil=True)
def owner_stats(runs, vals, owner, eob, kref, nrun, nsym):
    """Per-owner symbol histograms H[o, sym] and extra bits X[o] of pairs (run, val) whose owner
    (e.g. tensor index) is owner[k]; eob[o] end symbols are counted for owner o."""
    n_owner = eob.size
    H = np.zeros((n_owner, nsym), np.int64)
    X = np.zeros(n_owner, np.int64)
    for o in range(n_owner):
        H[o, SYM_EOB] = eob[o]
    for k in range(runs.size):
        o = owner[k]
        nesc, s, e, _x = pair_symbol(np.int64(runs[k]), np.int64(vals[k]), kref, nrun)
        H[o, SYM_ESC] += nesc
        if s < nsym:
            H[o, s] += 1
        X[o] += e + 1
    return H, X


@njit(cache=True, nogil=True)
def group_tables(tid, bits, g0, ng, tbase, tbits, lbits, boff, out):
    """Group tables (FORMAT.md 8.1) of several tensors at once: tensor i's groups are
    ``[g0[i], g0[i] + ng[i])`` of tid / bits.  Fills tbase / tbits / lbits (tid_base, tid_bits,
    len_bits), boff (byte offset of each table in ``out``, n + 1 entries) and, when ``out`` is
    large enough (boff[n] bytes, zero-filled), the tables themselves.  Returns a status."""
    n = g0.size
    if ng.size != n or tbase.size != n or tbits.size != n or lbits.size != n or boff.size != n + 1:
        return ERR_BUFFER
    boff[0] = 0
    for i in range(n):
        a = g0[i]
        b = a + ng[i]
        if a < 0 or b > tid.size or b > bits.size or b < a:
            return ERR_BUFFER
        lo = np.int64(0)
        hi = np.int64(0)
        mb = np.int64(0)
        if b > a:
            lo = tid[a]
            hi = tid[a]
            for g in range(a, b):
                lo = min(lo, tid[g])
                hi = max(hi, tid[g])
                mb = max(mb, bits[g])
        tb = 0
        while (hi - lo) >> tb:
            tb += 1
        lb = 0
        while mb >> lb:
            lb += 1
        tbase[i] = lo
        tbits[i] = tb
        lbits[i] = lb
        boff[i + 1] = boff[i] + (ng[i] * (tb + lb) + 7) // 8
    if out.size < boff[n]:
        return OK
    for i in range(n):
        a = g0[i]
        tb = tbits[i]
        lb = lbits[i]
        bit = boff[i] * 8
        for g in range(a, a + ng[i]):
            v = np.uint64(tid[g] - tbase[i])
            for j in range(tb - 1, -1, -1):
                if (v >> np.uint64(j)) & np.uint64(1):
                    out[bit >> 3] |= np.uint8(0x80 >> (bit & 7))
                bit += 1
            v = np.uint64(bits[g])
            for j in range(lb - 1, -1, -1):
                if (v >> np.uint64(j)) & np.uint64(1):
                    out[bit >> 3] |= np.uint8(0x80 >> (bit & 7))
                bit += 1
    return OK
