"""Warp-cooperative GPU decode: 32 threads decode one group (see docs/GPU.md, "The warp kernel").

A group's bit range ``[start, end)`` is cut into 32 equal slices, one per lane.  Huffman codes
(with their raw remainder and sign bits) resynchronise: a decoder started at an arbitrary bit
usually falls onto the true codeword boundaries after a few symbols.  So:

1. **Speculative walk.**  Lane ``j`` starts ``overlap`` bits before its slice's first bit
   ``b[j]`` (lane 0 at the group's start, the only known boundary), walks symbols (lengths
   and zero runs only, no values) to ``b[j]``, keeps the first position at or past it as its
   start, and walks on until its position reaches ``b[j+1]``; that position is ``q[j]``.
2. **Synchronisation rounds.**  Lane ``j`` restarts at ``q[j-1]`` when that differs from where
   it started, and walks again.  After round ``k`` lanes ``0..k`` started on true boundaries.
   At most ``max_rounds`` rounds, then the group is decoded by the sequential fallback below.
3. **Scan.**  Each lane's count of parameters (runs + values) gives, by a prefix sum over the
   warp (shared memory, log steps), the output index of its first parameter.
4. **Decode.**  Every lane decodes its slice again, now writing values (into a shared-memory
   staging buffer filled with the zero value, then written out coalesced by the whole warp; or
   straight into the output, prefilled by the warp, when the group does not fit the buffer or
   the stored integers are wider than 8 bits).
5. **Verification.**  The group is accepted only if lane ``j`` ended exactly where lane
   ``j+1`` started (so, by induction from lane 0, every lane decoded the true parse), the last
   lane at ``end``, one end symbol in the warp (ending exactly at ``end``), and no lane met an
   error.  Otherwise (damaged data, or no convergence) the warp prefills the group's output
   and lane 0 runs the same slice decoder with no slice end: the sequential decoder, which
   returns the CPU decoder's status and bit position.  Valid groups never depend on it;
   damaged groups always reach it, so errors are exactly the sequential decoder's.

Lanes talk through shared memory, shared atomics and ``syncthreads`` (the CUDA simulator,
which runs the tests without a GPU, has no warp shuffles); the block holds ``warps`` groups,
one per warp, and every ``syncthreads`` is reached by every thread of the block (loop counts
are block-uniform).
"""
from __future__ import annotations

import numpy as np
from numba import cuda

from ..kernels.status import (ERR_BUFFER, ERR_INVALID_CODE, ERR_LENGTH_MISMATCH, ERR_OVERRUN,
                              ERR_RANGE, ERR_RUN_OVERFLOW, OK)
from .kernels import LUT_SIZE, _SHIFT, _group_ok, _set_value, _store

# how a group was decoded (the kernel's ``path`` output)
PATH_STAGED = 1     # warp-parallel, values staged in shared memory, written out coalesced
PATH_DIRECT = 2     # warp-parallel, values written straight to the prefilled output
PATH_UNSYNCED = 3   # sequential: the lanes did not synchronise within max_rounds
PATH_REJECTED = 4   # sequential: the parallel decode failed its verification (damaged data)

# lane outcomes of the decode pass; the decoder's error codes are negative
_LANE_OK = 0        # reached its slice end, no end symbol
_LANE_EOB = 1       # met the end symbol, which ended exactly at the group's end
_FAR = np.int64(1) << 62   # a ``stop`` past every position: decode to the end symbol


@cuda.jit(device=True)
def _put(out, outbits, i, v, t, dqi, scales, zps, plain):
    """``_store`` (kernels.py); with ``plain`` (a compile-time constant of the kernel: the
    launch writes integers as decoded) only the integer store, so the dequantization code is
    not compiled in (fewer registers)."""
    if plain:
        if i < 0 or i >= out.size:
            return ERR_BUFFER
        out[i] = v
        return OK
    return _store(out, outbits, i, v, t, dqi, scales, zps)


@cuda.jit(device=True)
def _load(words, k):
    """Word ``k`` of the stream (zeros outside it)."""
    if k >= 0 and k < words.size:
        return words[k]
    return np.uint64(0)


# Bit reader of a lane (registers only): ``a``, ``b`` are stream words ``wi``, ``wi + 1`` and
# the next bit is bit ``sh`` (0..63, from the top) of ``a``, so the 64 bits from the current
# position are ``(a << sh) | (b >> 1 >> (63 - sh))`` (no shift reaches 64).  A symbol with its
# remainder and sign takes at most 15 + 31 + 1 = 47 bits, so one step crosses at most one
# word boundary: then ``a = b`` and one word is loaded.

@cuda.jit(device=True)
def _open(words, pos):
    """A lane's bit reader at bit ``pos``: (wi, sh, a, b)."""
    wi = pos >> 6
    return wi, np.uint64(pos & 63), _load(words, wi), _load(words, wi + 1)


@cuda.jit(device=True)
def _peek(sh, a, b):
    """The 64 stream bits from the reader's position."""
    return (a << sh) | ((b >> np.uint64(1)) >> (np.uint64(63) - sh))


@cuda.jit(device=True)
def _skip(words, wi, sh, a, b, adv):
    """The reader moved on by ``adv`` <= 47 bits (at most one word crossed)."""
    sh += np.uint64(adv)
    if sh >= np.uint64(64):
        sh -= np.uint64(64)
        wi += 1
        a = b
        b = _load(words, wi + 1)
    return wi, sh, a, b


@cuda.jit(device=True)
def _walk(words, lut, pos, stop):
    """Symbols from ``pos`` while ``pos < stop``: (position reached, parameters covered).

    Stops early (position of the offending symbol) at an invalid prefix and after an end
    symbol (position after it): in a speculative walk either only means this lane has not
    synchronised yet."""
    c = np.int64(0)
    wi, sh, a, b = _open(words, pos)
    while pos < stop:
        w = _peek(sh, a, b)
        ent = lut[np.int64(w >> _SHIFT)]
        ln = np.int64(ent & np.uint32(15))
        kind = np.int64((ent >> np.uint32(4)) & np.uint32(3))
        if ln == 0 or kind == 0:
            return pos, c
        if kind == 3:
            return pos + ln, c
        isv = np.int64(kind == 1)
        adv = ln + isv * (np.int64((ent >> np.uint32(6)) & np.uint32(31)) + 1)
        c += np.int64((ent >> np.uint32(11)) & np.uint32(8191)) + isv
        pos += adv
        wi, sh, a, b = _skip(words, wi, sh, a, b, adv)
    return pos, c


@cuda.jit(device=True)
def _decode_slice(words, lut, pos, stop, end, i, o_lo, o_hi, v0, vmin, vmax, staged, stage,
                  soff, slim, out, outbits, t, dqi, scales, zps, plain):
    """Decode from ``pos`` while ``pos < stop``, writing values: (outcome, position, index).

    Outcome: ``_LANE_OK`` (reached ``stop``), ``_LANE_EOB`` (the end symbol ended exactly at
    ``end``), or the sequential decoder's error status at the position it gives (the
    offending symbol's; after the end symbol for a length mismatch or overrun), so with
    ``stop`` past every position this *is* the sequential decoder.  Values go to
    ``stage[soff + i - o_lo]`` (their low byte; the warp's slot is ``[soff, slim)``) when
    ``staged``, else to the output through ``_put``; every write index is checked first."""
    span = np.uint64(vmax - vmin)
    wi, sh, a, b = _open(words, pos)
    while pos < stop:
        w = _peek(sh, a, b)
        ent = lut[np.int64(w >> _SHIFT)]
        ln = np.int64(ent & np.uint32(15))
        kind = np.int64((ent >> np.uint32(4)) & np.uint32(3))
        r = np.int64((ent >> np.uint32(11)) & np.uint32(8191))
        adv = ln
        if kind == 1 and ln > 0:
            i += r
            if i >= o_hi:
                return ERR_RUN_OVERFLOW, pos, i
            eb = np.int64((ent >> np.uint32(6)) & np.uint32(31))
            v = v0 + _set_value(w, ent, ln, eb)
            if np.uint64(v - vmin) > span:
                return ERR_RANGE, pos, i
            if staged:
                k = soff + i - o_lo
                if k < soff or k >= slim or k >= stage.size:
                    return ERR_BUFFER, pos, i
                stage[k] = np.uint8(v & 255)
            else:
                st = _put(out, outbits, i, v, t, dqi, scales, zps, plain)
                if st != OK:
                    return st, pos, i
            adv = ln + eb + 1
            i += 1
        elif kind == 2 and ln > 0:
            i += r
            if i > o_hi:
                return ERR_RUN_OVERFLOW, pos, i
        elif kind == 3 and ln > 0:
            pos += ln
            if pos < end:
                return ERR_LENGTH_MISMATCH, pos, i
            if pos > end:
                return ERR_OVERRUN, pos, i
            return _LANE_EOB, pos, i
        else:
            return ERR_INVALID_CODE, pos, i
        pos += adv
        wi, sh, a, b = _skip(words, wi, sh, a, b, adv)
    return _LANE_OK, pos, i


def make_warp_kernel(warps: int, stage_bytes: int = 0, max_rounds: int = 4, overlap: int = 0,
                     plain: bool = False, max_registers: int = 0):
    """Compile-time-specialised warp kernel: ``warps`` groups per block (blockDim 32*warps),
    ``stage_bytes`` of shared output staging per warp, at most ``max_rounds`` synchronisation
    rounds; lanes start their speculative walk ``overlap`` bits before their slice (a head
    start on synchronisation); ``plain``: the
    launch stores integers as decoded (no dequantization code compiled in); ``max_registers``
    (0: the compiler's choice) caps registers per thread (more resident warps, some spills).

    Decode tables: the block keeps one table in shared memory, the table of its first group of
    the round (reloaded only when that changes: consecutive groups mostly share a table); a
    warp whose group uses another table reads it from global memory."""
    W = int(warps)
    SB = int(stage_bytes)
    MR = int(max_rounds)
    OV = int(overlap)
    PL = bool(plain)
    NT = 32 * W
    NW3 = 3 * W
    NS = max(W * SB, 1)
    jit = cuda.jit(max_registers=int(max_registers)) if max_registers else cuda.jit

    @jit
    def decode_warp(words, nbits, glo, ghi, tid, ostart, ocount, voff, gten, vmin, vmax, luts,
                    dqi, scales, zps, out, outbits, status, where, stage8, path):
        """``stage8``: 1 if stored values fit a byte (int8/uint8), so groups may be staged.
        ``path[g]``: how group ``g`` was decoded (PATH_* of this module; 0 if not at all)."""
        sq = cuda.shared.array(NT, np.int64)     # per lane: reached position
        sc = cuda.shared.array(NT, np.int64)     # per lane: parameter count -> prefix
        ss = cuda.shared.array(NT, np.int64)     # per lane: start of the decode pass
        swc = cuda.shared.array(NW3, np.int32)   # per warp: unsynced lanes, bad lanes, EOBs
        stage = cuda.shared.array(NS, np.uint8)  # per warp: output values (low bytes)
        slut = cuda.shared.array(LUT_SIZE, np.uint32)  # the block's cached decode table
        tx = cuda.threadIdx.x
        wp = tx // 32
        lane = tx % 32
        me = wp * 32 + lane
        if cuda.blockDim.x != NT:  # the launch shape this kernel was compiled for
            return
        G = tid.size
        ntab = luts.shape[0] if luts.shape[1] == LUT_SIZE else 0
        cur = np.int64(-1)  # table in slut (block-uniform)
        base = cuda.blockIdx.x * W
        while base < G:  # block-uniform
            if lane < 3:  # this round's per-warp counters (read after later barriers)
                swc[3 * wp + lane] = 0
            # the block's table: its first group's (every thread reads the same value)
            want = np.int64(-1)
            if base < G:
                want = tid[base]
            if want >= 0 and want < ntab and want != cur:
                k = tx
                while k < LUT_SIZE:
                    slut[k] = luts[want, k]
                    k += NT
                cur = want
                cuda.syncthreads()
            g = base + wp
            active = False
            st = OK
            if g < G and g < status.size and g < where.size:
                st = _group_ok(g, G, glo, ghi, tid, ostart, ocount, voff, gten, dqi, luts,
                               out, nbits)
                if st == OK and (voff[g] < vmin or voff[g] > vmax):
                    st = ERR_RANGE  # the sequential decoder's first check (position start)
                if st != OK and lane == 0:
                    status[g] = st
                    where[g] = glo[g] if g < glo.size else 0
                active = st == OK
            start = np.int64(0)
            end = np.int64(0)
            o_lo = np.int64(0)
            o_hi = np.int64(0)
            t = np.int64(0)
            v0 = np.int64(0)
            lut = slut
            if active:
                start = glo[g]
                end = ghi[g]
                o_lo = ostart[g]
                o_hi = o_lo + ocount[g]
                t = gten[g]
                v0 = voff[g]
                if tid[g] != cur:
                    lut = luts[tid[g]]
            L = end - start
            b0 = start + (L * lane) // 32
            b1 = start + (L * (lane + 1)) // 32
            # 1. speculative walk (lane 0 starts on the group's first symbol); with an
            # overlap, from ``overlap`` bits earlier, keeping the first boundary >= b0
            s = b0
            q = b0
            c = np.int64(0)
            if active:
                if lane > 0 and OV > 0:
                    s0 = b0 - OV
                    if s0 < start:
                        s0 = start
                    s, _c = _walk(words, lut, s0, b0)
                q, c = _walk(words, lut, s, b1)
            sq[me] = q
            # 2. synchronisation rounds (block-uniform count)
            rounds = 0
            changed = False
            while True:
                cuda.syncthreads()
                ns = start
                if lane > 0:
                    ns = sq[me - 1]
                changed = active and ns != s
                if cuda.syncthreads_or(1 if changed else 0) == 0 or rounds >= MR:
                    break
                rounds += 1
                if changed:
                    s = ns
                    q, c = _walk(words, lut, s, b1)
                    sq[me] = q
            # 3. prefix sum of the counts over each warp (in shared memory, log steps)
            if changed:
                cuda.atomic.add(swc, 3 * wp, 1)
            sc[me] = c
            ss[me] = s
            d = 1
            while d < 32:
                cuda.syncthreads()
                x = np.int64(0)
                if lane >= d:
                    x = sc[me - d]
                cuda.syncthreads()
                sc[me] += x
                d *= 2
            cuda.syncthreads()
            fl = 0
            if active:
                if swc[3 * wp] != 0:
                    fl = PATH_UNSYNCED
                elif stage8 != 0 and o_hi - o_lo <= SB:
                    fl = PATH_STAGED
                else:
                    fl = PATH_DIRECT
            soff = wp * SB
            # fill: the stage (staged) or the output (direct, fallback) with the zero value
            if fl == PATH_STAGED:
                k = lane
                zb = np.uint8(v0 & 255)
                while k < o_hi - o_lo:
                    stage[soff + k] = zb
                    k += 32
            elif fl >= PATH_DIRECT:
                k = o_lo + lane
                while k < o_hi:
                    _put(out, outbits, k, v0, t, dqi, scales, zps, PL)
                    k += 32
            cuda.syncthreads()
            # 4. decode pass (from the exclusive prefix of the counts)
            res = _LANE_OK
            pend = s
            if fl == PATH_STAGED or fl == PATH_DIRECT:
                res, pend, _i = _decode_slice(words, lut, s, b1, end, o_lo + sc[me] - c, o_lo,
                                              o_hi, v0, vmin, vmax, fl == PATH_STAGED, stage,
                                              soff, soff + SB, out, outbits, t, dqi, scales,
                                              zps, PL)
                # 5. verification: this lane ended where the next one started (the last one
                # at the group's end), no error; one end symbol in the warp
                nxt = end
                if lane < 31:
                    nxt = ss[me + 1]
                if res < 0 or pend != nxt:
                    cuda.atomic.add(swc, 3 * wp + 1, 1)
                if res == _LANE_EOB:
                    cuda.atomic.add(swc, 3 * wp + 2, 1)
            cuda.syncthreads()
            if fl == PATH_STAGED or fl == PATH_DIRECT:
                if swc[3 * wp + 1] != 0 or swc[3 * wp + 2] != 1:
                    fl = PATH_REJECTED
                elif lane == 0:
                    status[g] = OK
                    where[g] = end
            if lane == 0 and fl != 0 and g < path.size:
                path[g] = fl
            if fl == PATH_STAGED:  # write the stage out, coalesced
                k = lane
                while k < o_hi - o_lo:
                    b = np.int64(stage[soff + k])
                    if vmin < 0 and b >= 128:
                        b -= 256
                    _put(out, outbits, o_lo + k, b, t, dqi, scales, zps, PL)
                    k += 32
            elif fl == PATH_REJECTED:  # prefill again (values of the failed pass are in it)
                k = o_lo + lane
                while k < o_hi:
                    _put(out, outbits, k, v0, t, dqi, scales, zps, PL)
                    k += 32
            cuda.syncthreads()
            if (fl == PATH_UNSYNCED or fl == PATH_REJECTED) and lane == 0:
                # the sequential decoder (global bitstream), exact errors
                res, pend, _i = _decode_slice(words, lut, start, _FAR, end,
                                              o_lo, o_lo, o_hi, v0, vmin, vmax, False, stage,
                                              0, 0, out, outbits, t, dqi, scales, zps, PL)
                status[g] = OK if res == _LANE_EOB else (res if res < 0 else ERR_OVERRUN)
                where[g] = pend
            cuda.syncthreads()
            base += cuda.gridDim.x * W

    return decode_warp


_CACHE: dict = {}


def warp_kernel(warps: int, stage_bytes: int = 0, max_rounds: int = 4, overlap: int = 0,
                plain: bool = False, max_registers: int = 0):
    """The kernel for these constants (compiled once per process)."""
    key = (int(warps), int(stage_bytes), int(max_rounds), int(overlap), bool(plain),
           int(max_registers))
    k = _CACHE.get(key)
    if k is None:
        k = _CACHE[key] = make_warp_kernel(*key)
    return k


__all__ = ["make_warp_kernel", "warp_kernel", "ERR_INVALID_CODE", "ERR_RUN_OVERFLOW"]
