"""Kernels for Huffman-table parsing: the gamma-coded symbol list and canonical codes."""
from __future__ import annotations

import numpy as np
from numba import njit

ERR_GAMMA = -1    # a gap code longer than the alphabet allows
ERR_RANGE = -2    # a symbol >= alphabet size
ERR_DUP = -3      # a symbol listed twice
ERR_END = -4      # the list runs past the end of the input


@njit(cache=True)
def read_symbol_list(buf, start, end, counts, lengths):
    """Decode the symbol list of a table (counts[l-1] symbols of length l) into ``lengths``.

    Returns (status, byte position after the padded list, bit offset of the problem).
    """
    nsym = lengths.size
    lengths[:] = 0
    bitpos = start * 8
    endbit = end * 8
    for li in range(counts.size):
        prev = -1
        for _ in range(counts[li]):
            nz = 0
            while True:
                if bitpos >= endbit:
                    return ERR_END, 0, bitpos
                b = (buf[bitpos >> 3] >> (7 - (bitpos & 7))) & 1
                bitpos += 1
                if b:
                    break
                nz += 1
                if nz > 20:
                    return ERR_GAMMA, 0, bitpos
            x = np.int64(1)
            for _k in range(nz):
                if bitpos >= endbit:
                    return ERR_END, 0, bitpos
                x = (x << 1) | ((buf[bitpos >> 3] >> (7 - (bitpos & 7))) & 1)
                bitpos += 1
            s = prev + x
            if s >= nsym:
                return ERR_RANGE, 0, bitpos
            if lengths[s] != 0:
                return ERR_DUP, 0, bitpos
            lengths[s] = li + 1
            prev = s
    return 0, (bitpos + 7) >> 3, bitpos


@njit(cache=True)
def canonical_codes_kernel(lengths, maxlen, codes):
    """Canonical codes: by length, then symbol index; returns 0 (or -1 if Kraft overflows)."""
    counts = np.zeros(maxlen + 1, np.int64)
    for s in range(lengths.size):
        counts[lengths[s]] += 1
    counts[0] = 0
    nxt = np.zeros(maxlen + 2, np.int64)
    code = np.int64(0)
    for ln in range(1, maxlen + 1):
        code = (code + counts[ln - 1]) << 1
        nxt[ln] = code
    for ln in range(1, maxlen + 1):
        if nxt[ln] + counts[ln] > (np.int64(1) << ln):
            return -1
    for s in range(lengths.size):
        ln = lengths[s]
        if ln:
            codes[s] = nxt[ln]
            nxt[ln] += 1
    return 0


ERR_TABLE_ID = -5   # a group names a table that does not exist
ERR_ZERO_LEN = -6   # a group of length 0
ERR_PAYLOAD = -7    # group lengths do not add up to the payload size (checked by the caller)


@njit(cache=True)
def _bits_at(buf, bitpos, width):
    v = np.int64(0)
    for _ in range(width):
        v = (v << 1) | ((buf[bitpos >> 3] >> (7 - (bitpos & 7))) & 1)
        bitpos += 1
    return v


@njit(cache=True)
def plan_range(buf, gt0, tid_bits, len_bits, tid_base, bitpos, g0, g1, gsize, numel, out_base,
               voff, ntables, glo, ghi, tid, ostart, ocount, gvoff, slot0):
    """Groups [g0, g1) of one tensor into slots [slot0, slot0 + g1 - g0) of the decode
    arguments; ``bitpos`` is the absolute bit where group g0 starts.  Returns (status, bit
    position after group g1 - 1).  The caller has checked the group table lies in ``buf``."""
    w = tid_bits + len_bits
    bp = gt0 * 8 + g0 * w
    pos = bitpos
    slot = slot0
    for g in range(g0, g1):
        t = _bits_at(buf, bp, tid_bits) + tid_base
        ln = _bits_at(buf, bp + tid_bits, len_bits)
        bp += w
        if t >= ntables:
            return ERR_TABLE_ID, pos
        if ln < 1:
            return ERR_ZERO_LEN, pos
        glo[slot] = pos
        pos += ln
        ghi[slot] = pos
        tid[slot] = t
        s = g * gsize
        ostart[slot] = out_base + s
        ocount[slot] = min(s + gsize, numel) - s
        gvoff[slot] = voff
        slot += 1
    return 0, pos
