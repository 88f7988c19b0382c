"""Encoder kernels: run-length pairs, symbol statistics, and parallel bit packing.

A tensor's values ``x`` (flat, any integer dtype) minus its value offset give ``d``.  Each group
``[gb[g], gb[g+1])`` becomes pairs (run of zeros, nonzero d); pairs of group g are
``[ps[g], ps[g+1])``.  Trailing zeros of a group are implied by its end-of-group symbol.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from .status import ERR_BUFFER, ERR_SYMBOL, ERR_LENGTH_MISMATCH, OK
from .symbols import SYM_EOB, SYM_ESC, SYM_FIRST, mag_class


@njit(cache=True, parallel=True)
def count_pairs(x, offset, gb, counts):
    """counts[g] = number of nonzero (x - offset) in group g."""
    G = gb.size - 1
    if counts.size < G:
        return ERR_BUFFER
    for g in prange(G):
        lo = gb[g]
        hi = gb[g + 1]
        n = 0
        if lo >= 0 and hi <= x.size:
            for i in range(lo, hi):
                if np.int64(x[i]) != offset:
                    n += 1
        counts[g] = n
    return OK


@njit(cache=True, parallel=True)
def fill_pairs(x, offset, gb, ps, runs, vals, maxmag):
    """Write each group's (run, value) pairs; maxmag[g] = largest |value| in group g."""
    G = gb.size - 1
    if ps.size < G + 1 or maxmag.size < G:
        return ERR_BUFFER
    bad = 0
    for g in prange(G):
        lo = gb[g]
        hi = gb[g + 1]
        k = ps[g]
        run = 0
        mm = 0
        if lo < 0 or hi > x.size:
            bad += 1
            continue
        for i in range(lo, hi):
            d = np.int64(x[i]) - offset
            if d == 0:
                run += 1
            else:
                if k >= ps[g + 1] or k >= runs.size or k >= vals.size:
                    bad += 1
                    break
                runs[k] = run
                vals[k] = d
                m = d if d > 0 else -d
                if m > mm:
                    mm = m
                k += 1
                run = 0
        maxmag[g] = mm
    return OK if bad == 0 else ERR_BUFFER


@njit(cache=True)
def config_stats(runs, vals, n_groups, kref, nrun, nsym):
    """Histogram of symbols for one (kref, nrun) over the given pairs, and total extra bits.

    Returns (hist[nsym], extra_bits) where extra bits count remainders and sign bits.
    ``n_groups`` end symbols are included.  Magnitudes beyond the alphabet are ignored.
    """
    hist = np.zeros(nsym, np.int64)
    extra = np.int64(0)
    for k in range(runs.size):
        r = np.int64(runs[k])
        if r >= nrun:
            hist[SYM_ESC] += r // nrun
            r = r % nrun
        d = vals[k]
        m = d if d > 0 else -d
        c, e, _x = mag_class(m, kref)
        s = SYM_FIRST + c * nrun + r
        if s < nsym:
            hist[s] += 1
        extra += e + 1
    hist[SYM_EOB] += n_groups
    return hist, extra


@njit(cache=True, parallel=True)
def table_stats(runs, vals, ps, owner, n_owner, kref, nrun, nsym, hist, extra):
    """hist[owner[g], sym] += symbols of group g; extra[owner[g]] += its extra bits."""
    G = ps.size - 1
    if owner.size < G or hist.shape[0] < n_owner or hist.shape[1] < nsym or extra.size < n_owner:
        return ERR_BUFFER
    # one private histogram per owner would race in parallel; loop owners in parallel instead
    for o in prange(n_owner):
        for g in range(G):
            if owner[g] != o:
                continue
            hist[o, SYM_EOB] += 1
            for k in range(ps[g], ps[g + 1]):
                r = np.int64(runs[k])
                if r >= nrun:
                    hist[o, SYM_ESC] += r // nrun
                    r = r % nrun
                d = vals[k]
                m = d if d > 0 else -d
                c, e, _x = mag_class(m, kref)
                s = SYM_FIRST + c * nrun + r
                if s < nsym:
                    hist[o, s] += 1
                extra[o] += e + 1
    return OK


@njit(cache=True, parallel=True)
def group_bits(runs, vals, ps, tid, krefs, nruns, lens, bits):
    """Exact coded length in bits of every group under its table (0 length symbol -> -1)."""
    G = ps.size - 1
    bad = 0
    for g in prange(G):
        t = tid[g]
        kref = krefs[t]
        nrun = nruns[t]
        nsym = lens.shape[1]
        esc = np.int64(lens[t, SYM_ESC])
        total = np.int64(lens[t, SYM_EOB])
        ok = total > 0
        for k in range(ps[g], ps[g + 1]):
            r = np.int64(runs[k])
            if r >= nrun:
                total += (r // nrun) * esc
                if esc == 0:
                    ok = False
                r = r % nrun
            d = vals[k]
            m = d if d > 0 else -d
            c, e, _x = mag_class(m, kref)
            s = SYM_FIRST + c * nrun + r
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
def _put(out, first, g, lo_byte, hi_byte, state, value, n):
    # state: [acc, nacc, bytes emitted, overflow flag]
    acc = (state[0] << np.uint64(n)) | np.uint64(value)
    nacc = state[1] + n
    while nacc >= 8:
        nacc -= 8
        byte = np.uint8((acc >> np.uint64(nacc)) & np.uint64(0xFF))
        idx = lo_byte + np.int64(state[2])
        if state[2] == 0:
            first[g] = byte
        elif idx < hi_byte:
            out[idx] = byte
        else:
            state[3] = 1
        state[2] += 1
    state[0] = acc
    state[1] = nacc


@njit(cache=True, parallel=True)
def pack_groups(runs, vals, ps, tid, krefs, nruns, codes, lens, gbit, out, first, status):
    """Write every group's bits at absolute bit offset gbit[g] of ``out`` (in parallel).

    A group stores all of its bytes but the first, which goes to first[g] (it may be shared
    with the previous group); the caller ORs first[g] into out afterwards.  ``out`` must be
    zero-filled.  status[g] = 0 or a negative code.
    """
    G = ps.size - 1
    for g in prange(G):
        t = tid[g]
        kref = krefs[t]
        nrun = nruns[t]
        start = gbit[g]
        lo_byte = start >> 3
        hi_byte = out.size
        state = np.zeros(4, np.uint64)
        state[1] = np.uint64(start & 7)
        st = OK
        for k in range(ps[g], ps[g + 1]):
            r = np.int64(runs[k])
            while r >= nrun:
                _put(out, first, g, lo_byte, hi_byte, state, codes[t, SYM_ESC], lens[t, SYM_ESC])
                r -= nrun
            d = vals[k]
            m = d if d > 0 else -d
            c, e, x = mag_class(m, kref)
            s = SYM_FIRST + c * nrun + r
            if s >= lens.shape[1] or lens[t, s] == 0:
                st = ERR_SYMBOL
                break
            _put(out, first, g, lo_byte, hi_byte, state, codes[t, s], lens[t, s])
            if e > 0:
                _put(out, first, g, lo_byte, hi_byte, state, x, e)
            _put(out, first, g, lo_byte, hi_byte, state, 1 if d < 0 else 0, 1)
        if st == OK:
            _put(out, first, g, lo_byte, hi_byte, state, codes[t, SYM_EOB], lens[t, SYM_EOB])
            nacc = np.int64(state[1])
            if nacc > 0:
                _put(out, first, g, lo_byte, hi_byte, state, 0, 8 - nacc)
                nbits = np.int64(state[2]) * 8 - (start & 7) - (8 - nacc)
            else:
                nbits = np.int64(state[2]) * 8 - (start & 7)
            if state[3] != 0:
                st = ERR_BUFFER
            elif nbits != gbit[g + 1] - start:
                st = ERR_LENGTH_MISMATCH
        status[g] = st
    return OK


@njit(cache=True)
def merge_first_bytes(out, first, gbit):
    for g in range(first.size):
        idx = gbit[g] >> 3
        if idx < out.size:
            out[idx] |= first[g]
