"""Real static rANS coders for the format-v3 question (measurement only; nothing in codec/).

Coder: 32-bit state, 16-bit-word renormalisation (state kept in [2^16, 2^32), one branchless
refill per op), 12-bit
frequencies, two states interleaved inside each group / chunk (the states alternate op by op
and share one byte stream, as ryg_rans' interleaved coder), final states flushed as 2 x 4
bytes at the front of the stream.  Raw bits (remainder bits, sign) are coded as "bypass" ops
on the same state (freq 1, scale k: x = x << k | bits), so a group is one byte stream.

Mode (a) "rans_sets":   today's (zero run, class) symbols of codec's own groups and group ->
                        table choice; each table's symbol counts normalised to 2^12
                        (common.rans_table_bits' normalisation); per value one symbol op and
                        one bypass op of e + 1 bits (remainder, then sign in the low bit).
Mode (b) "rans_p3":     the static per-value class-tree model of adaptive.py class_tree2_cost
                        (contexts: |left|, |above| log buckets inside the kernel patch; sign
                        by sign(left) x sign(above) x class) with its 8-bit quantised binary
                        probabilities, coded as multi-symbol rANS ops: the class (0..m) given
                        (lb, ub) with frequencies derived from the binary nodes, the two top
                        mantissa bits given (class, coarse left) as one 2- or 4-ary symbol, the
                        sign as a binary op with frequency 16 * p, then c - 3 raw bits.

Encoders are generic: an op list (freq, cum, scale) per stream, coded in reverse.
"""
from __future__ import annotations

import numpy as np
from numba import njit

PROB_BITS = 12
PROB_SCALE = 1 << PROB_BITS
RANS_L = 1 << 16


# ------------------------------------------------------------------------------------------
# generic encoder

@njit(cache=True)
def encode_ops(freq, cum, scale, lo, hi, out, opos, nst=2):
    """Encode ops [lo, hi) (decode order) into out[opos:] (nst = 2: two interleaved states, op
    k on state k & 1 relative to lo; nst = 1: one state).  Returns the new opos.  Bytes are written backwards into a scratch
    area and then copied forward."""
    n = hi - lo
    cap = 8 + 4 * n + 16
    tmp = np.empty(cap, np.uint8)
    p = cap
    x0 = np.uint64(RANS_L)
    x1 = np.uint64(RANS_L)
    for k in range(n - 1, -1, -1):
        j = lo + k
        f = np.uint64(freq[j])
        c = np.uint64(cum[j])
        s = np.uint64(scale[j])
        xmax = ((np.uint64(RANS_L) >> s) << np.uint64(16)) * f
        odd = nst == 2 and (k & 1) == 1
        if odd:
            x = x1
        else:
            x = x0
        while x >= xmax:
            p -= 2
            tmp[p] = np.uint8(x & np.uint64(255))
            tmp[p + 1] = np.uint8((x >> np.uint64(8)) & np.uint64(255))
            x >>= np.uint64(16)
        x = ((x // f) << s) + (x % f) + c
        if odd:
            x1 = x
        else:
            x0 = x
    # flush: x0 then x1, big endian, read first by the decoder
    if nst == 2:
        for b in range(4):
            p -= 1
            tmp[p] = np.uint8((x1 >> np.uint64(8 * b)) & np.uint64(255))
    for b in range(4):
        p -= 1
        tmp[p] = np.uint8((x0 >> np.uint64(8 * b)) & np.uint64(255))
    m = cap - p
    out[opos:opos + m] = tmp[p:]
    return opos + m


@njit(cache=True, inline="always")
def _renorm(x, buf, p):
    """Branchless 16-bit refill: one word when x < L (one always suffices: after a decode
    x >= 2^4, after a bypass of k <= 12 bits x >= 2^4).  The stream is padded so that the
    unconditional load stays inside the buffer."""
    need = np.uint64(x < np.uint64(RANS_L))
    w = np.uint64(buf[p]) | (np.uint64(buf[p + 1]) << np.uint64(8))
    x = (x << (need << np.uint64(4))) | (w & (np.uint64(0) - need))
    return x, p + 2 * np.int64(need)


@njit(cache=True, inline="always")
def _init_state(buf, p):
    x = np.uint64(0)
    for b in range(4):
        x = (x << np.uint64(8)) | np.uint64(buf[p + b])
    return x


# ------------------------------------------------------------------------------------------
# (a) today's (run, class) symbols

def normalize_counts(counts, prec=PROB_BITS):
    """Frequencies summing to 2^prec, >= 1 for used symbols (common.rans_table_bits' rule)."""
    counts = np.asarray(counts, np.int64)
    f = np.zeros(counts.size, np.int64)
    used = np.flatnonzero(counts)
    tot = int(counts.sum())
    M = 1 << prec
    if used.size == 0:
        return f
    if used.size == 1:
        f[used[0]] = M
        return f
    fu = np.maximum(1, np.round(counts[used] * M / tot)).astype(np.int64)
    diff = M - int(fu.sum())
    order = np.argsort(-fu)
    i = 0
    while diff != 0:
        j = order[i % order.size]
        step = 1 if diff > 0 else -1
        if fu[j] + step >= 1:
            fu[j] += step
            diff -= step
        i += 1
    f[used] = fu
    return f


def build_sets_table(freqs, kref, nrun):
    """Decode table (uint64 per 12-bit slot) of one table: bits 0-12 freq, 13-24 slot - cum,
    25-26 kind (0 EOB, 1 ESC, 2 value), 27-39 run, 40-44 remainder bits e, 45-60 base magnitude.
    Also (cum) for the encoder."""
    cum = np.concatenate(([0], np.cumsum(freqs)))[:-1]
    lut = np.zeros(PROB_SCALE, np.uint64)
    for s in np.flatnonzero(freqs):
        f = int(freqs[s])
        c0 = int(cum[s])
        if s == 0:
            kind, run, e, base = 0, 0, 0, 0
        elif s == 1:
            kind, run, e, base = 1, nrun, 0, 0
        else:
            kind = 2
            cls, run = divmod(s - 2, nrun)
            if cls < (1 << (kref + 1)) - 1:
                e, base = 0, cls + 1
            else:
                j = cls - ((1 << (kref + 1)) - 1)
                L = j // (1 << kref) + kref + 2
                top = j % (1 << kref) + (1 << kref)
                e = L - 1 - kref
                base = top << e
        slots = np.arange(c0, c0 + f, dtype=np.uint64)
        lut[c0:c0 + f] = (np.uint64(f) | ((slots - np.uint64(c0)) << np.uint64(13))
                          | np.uint64(kind << 25) | np.uint64(run << 27) | np.uint64(e << 40)
                          | np.uint64(base << 45))
    return lut, cum


@njit(cache=True)
def sets_ops(kind, sym, tab, mag, sgn, ebits, freqs, cums, of, oc, os_):
    """Op list of a tensor's events: a symbol op each, plus one bypass op (e + 1 bits:
    remainder << 1 | sign) per value."""
    k = 0
    for i in range(kind.size):
        t = tab[i]
        s = sym[i]
        of[k] = freqs[t, s]
        oc[k] = cums[t, s]
        os_[k] = 12
        k += 1
        if kind[i] == 2:
            e = ebits[i]
            rem = mag[i] & ((1 << e) - 1)
            of[k] = 1
            oc[k] = (rem << 1) | sgn[i]
            os_[k] = e + 1
            k += 1
    return k


@njit(cache=True, nogil=True)
def decode_sets(buf, glo, tid, o_start, o_count, voff, luts, out):
    """Decode groups g: stream at buf[glo[g]:], table tid[g], into out[o_start : +o_count]."""
    MASK = np.uint64(PROB_SCALE - 1)
    for g in range(tid.size):
        p = glo[g]
        x0 = _init_state(buf, p)
        x1 = _init_state(buf, p + 4)
        p += 8
        t = tid[g]
        i = o_start[g]
        o_hi = i + o_count[g]
        vo = voff[g]
        for z in range(i, o_hi):
            out[z] = vo
        while True:
            ent = luts[t, x0 & MASK]
            x0 = (ent & np.uint64(8191)) * (x0 >> np.uint64(PROB_BITS)) + ((ent >> np.uint64(13)) & np.uint64(4095))
            x0, p = _renorm(x0, buf, p)
            kind = (ent >> np.uint64(25)) & np.uint64(3)
            i += np.int64((ent >> np.uint64(27)) & np.uint64(8191))
            if kind == 2:
                e = (ent >> np.uint64(40)) & np.uint64(31)
                k = e + np.uint64(1)
                b = x1 & ((np.uint64(1) << k) - np.uint64(1))
                x1 >>= k
                x1, p = _renorm(x1, buf, p)
                m = np.int64((ent >> np.uint64(45)) + (b >> np.uint64(1)))
                neg = -np.int64(b & np.uint64(1))
                out[i] = vo + ((m ^ neg) - neg)
                i += 1
                # two ops done: x0 is again the next op's state
            elif kind == 0:
                break
            else:
                # one op done: swap so that the next op uses the other state
                x0, x1 = x1, x0
    return 0


# ------------------------------------------------------------------------------------------
# (b) P3: per-value class tree, left / above contexts inside the kernel patch

NCLS = 49          # (lb, ub) class contexts
NMAN = 8 * 3       # (c, lc) mantissa contexts, c < 8
NSGN = 36


@njit(cache=True, inline="always")
def _bl(a):
    n = 0
    while a:
        n += 1
        a >>= 1
    return n


@njit(cache=True, inline="always")
def _bucket(a):
    return 1 if a == 0 else min(1 + _bl(a), 6)


@njit(cache=True)
def p3_counts(x, unit, W, cls_cnt, b1_cnt, b2_cnt, sgn_cnt):
    """Count the binary nodes of class_tree2 (adaptive.py): sig/class per (lb, ub) as class
    histograms cls_cnt[ctx, c], b1 per (c, lc), b2 per (c, b1), sign per (ls, us, min(c, 4))."""
    for i in range(x.size):
        v = x[i]
        a = abs(v)
        pos = i % unit
        lb = 0
        l = 0
        if pos != 0:
            l = x[i - 1]
            lb = _bucket(abs(l))
        ub = 0
        u = 0
        if W > 0 and pos >= W:
            u = x[i - W]
            ub = _bucket(abs(u))
        c = _bl(a)
        cls_cnt[lb * 7 + ub, c] += 1
        if a == 0:
            continue
        lc = 0 if lb <= 1 else (1 if lb < 5 else 2)
        if c >= 2:
            b1 = (a >> (c - 2)) & 1
            b1_cnt[c * 3 + lc, b1] += 1
            if c >= 3:
                b2 = (a >> (c - 3)) & 1
                b2_cnt[c * 2 + b1, b2] += 1
        ls = 0 if l == 0 else (1 if l > 0 else 2)
        us = 0 if u == 0 else (1 if u > 0 else 2)
        sgn_cnt[(ls * 3 + us) * 4 + min(c, 4) - 1, 1 if v < 0 else 0] += 1


def q8(n0, n1):
    """adaptive.quantized_binary_bits' 8-bit probability of a 1."""
    return min(255, max(1, round(256 * n1 / (n0 + n1))))


def _norm_probs(P):
    """Real probabilities -> 12-bit frequencies (>= 1 each, sum 4096), deterministic."""
    f = np.maximum(1, np.floor(P * PROB_SCALE)).astype(np.int64)
    diff = PROB_SCALE - int(f.sum())
    j = int(np.argmax(f))
    f[j] += diff
    assert f[j] >= 1
    return f


class P3Tables:
    """A tensor's P3 model: the stored bytes (bit count) and the rANS frequency tables derived
    from them, exactly as a decoder would (only the stored quantities are used)."""

    def __init__(self, x, unit, W):
        cls_cnt = np.zeros((NCLS, 10), np.int64)
        b1_cnt = np.zeros((30, 2), np.int64)
        b2_cnt = np.zeros((20, 2), np.int64)
        sgn_cnt = np.zeros((NSGN, 2), np.int64)
        p3_counts(x, unit, W, cls_cnt, b1_cnt, b2_cnt, sgn_cnt)
        nub = 7 if W > 0 else 1
        bits = 0
        # --- class contexts: 4-bit max class m, then m node bytes (sig, c > 1, ..., c > m-1)
        cls_f = np.zeros((NCLS, 10), np.int64)
        cls_f[:, 0] = PROB_SCALE
        mmax = 0
        for lb in range(7):
            for ub in range(nub):
                k = lb * 7 + ub
                h = cls_cnt[k]
                bits += 4
                if h.sum() == 0 or h[1:].sum() == 0:
                    continue
                m = int(np.flatnonzero(h)[-1])
                mmax = max(mmax, m)
                bits += 8 * m
                # node j (j = 0: sig, "c > 0"), probability of "c > j" among c >= j
                P = np.zeros(m + 1)
                reach = 1.0
                for j in range(m):
                    n1 = int(h[j + 1:].sum())
                    n0 = int(h[j])
                    p1 = q8(n0, n1) / 256 if n0 + n1 else 0.5
                    P[j] = reach * (1 - p1)
                    reach *= p1
                P[m] = reach
                cls_f[k, :m + 1] = _norm_probs(P)
        # --- mantissa: b1 nodes per (c, lc) for c in 2..mmax, b2 nodes per (c, b1) c in 3..mmax
        man_f = np.zeros((NMAN, 4), np.int64)
        for c in range(2, mmax + 1):
            bits += 8 * 3
            if c >= 3:
                bits += 8 * 2
            for lc in range(3):
                n = b1_cnt[c * 3 + lc]
                p1 = q8(n[0], n[1]) / 256 if n.sum() else 0.5
                if c == 2:
                    man_f[c * 3 + lc, :2] = _norm_probs(np.array([1 - p1, p1]))
                else:
                    P = np.zeros(4)
                    for b1 in range(2):
                        n2 = b2_cnt[c * 2 + b1]
                        p2 = q8(n2[0], n2[1]) / 256 if n2.sum() else 0.5
                        pb1 = p1 if b1 else 1 - p1
                        P[b1 * 2] = pb1 * (1 - p2)
                        P[b1 * 2 + 1] = pb1 * p2
                    man_f[c * 3 + lc] = _norm_probs(P)
        # --- sign: bitmap of used contexts + one byte each
        sgn_f1 = np.full(NSGN, PROB_SCALE // 2, np.int64)
        nsc = 0
        for k in range(NSGN):
            us = (k // 4) % 3
            if nub == 1 and us:
                continue
            nsc += 1
            n = sgn_cnt[k]
            if n.sum():
                bits += 8
                sgn_f1[k] = 16 * q8(n[0], n[1])
        bits += nsc
        self.table_bits = bits
        self.cls_f, self.man_f, self.sgn_f1 = cls_f, man_f, sgn_f1
        self.cls_c = np.concatenate((np.zeros((NCLS, 1), np.int64), np.cumsum(cls_f, 1)), 1)[:, :10]
        self.man_c = np.concatenate((np.zeros((NMAN, 1), np.int64), np.cumsum(man_f, 1)), 1)[:, :4]

    def luts(self):
        """Slot -> symbol LUTs (uint8) of the class and mantissa contexts, [NCLS + NMAN, 4096]."""
        lut = np.zeros((NCLS + NMAN, PROB_SCALE), np.uint8)
        for k in range(NCLS):
            lut[k] = np.repeat(np.arange(10, dtype=np.uint8), self.cls_f[k])
        for k in range(NMAN):
            if self.man_f[k].sum():
                lut[NCLS + k] = np.repeat(np.arange(4, dtype=np.uint8), self.man_f[k])
        return lut


@njit(cache=True)
def p3_ops(x, unit, W, lo, hi, cls_f, cls_c, man_f, man_c, sgn_f1, of, oc, os_, k):
    """Ops of values x[lo:hi] (a chunk starting at a patch boundary), appended at k."""
    for i in range(lo, hi):
        v = x[i]
        a = abs(v)
        pos = i % unit
        lb = 0
        l = 0
        if pos != 0:
            l = x[i - 1]
            lb = _bucket(abs(l))
        ub = 0
        u = 0
        if W > 0 and pos >= W:
            u = x[i - W]
            ub = _bucket(abs(u))
        c = _bl(a)
        ctx = lb * 7 + ub
        of[k] = cls_f[ctx, c]
        oc[k] = cls_c[ctx, c]
        os_[k] = 12
        k += 1
        if a == 0:
            continue
        if c >= 2:
            lc = 0 if lb <= 1 else (1 if lb < 5 else 2)
            if c == 2:
                s = (a >> (c - 2)) & 1
            else:
                s = (a >> (c - 3)) & 3
            of[k] = man_f[c * 3 + lc, s]
            oc[k] = man_c[c * 3 + lc, s]
            os_[k] = 12
            k += 1
        ls = 0 if l == 0 else (1 if l > 0 else 2)
        us = 0 if u == 0 else (1 if u > 0 else 2)
        f1 = sgn_f1[(ls * 3 + us) * 4 + min(c, 4) - 1]
        if v < 0:
            of[k] = f1
            oc[k] = PROB_SCALE - f1
        else:
            of[k] = PROB_SCALE - f1
            oc[k] = 0
        os_[k] = 12
        k += 1
        if c >= 4:
            of[k] = 1
            oc[k] = a & ((1 << (c - 3)) - 1)
            os_[k] = c - 3
            k += 1
    return k


BKT = np.array([1] + [min(1 + int(a).bit_length(), 6) for a in range(1, 256)], np.int64)
LCT = np.array([0, 0, 1, 1, 1, 2, 2], np.int64)     # lc of lb


@njit(cache=True, nogil=True)
def decode_p3(buf, clo, ctid, o_start, o_count, voff, unit_of, w_of, lut, cls_f, cls_c,
              man_f, man_c, sgn_f1, out):
    """Decode P3 chunks.  Per-tensor tables are stacked: tensor t's class contexts are rows
    t * NCLS + ctx of cls_f / cls_c and rows t * (NCLS + NMAN) + ... of lut.  Chunks start at
    a patch boundary; the position in the patch is a running counter (no modulo)."""
    MASK = np.uint64(PROB_SCALE - 1)
    PB = np.uint64(PROB_BITS)
    NL = NCLS + NMAN
    for g in range(ctid.size):
        p = clo[g]
        x0 = _init_state(buf, p)
        x1 = _init_state(buf, p + 4)
        p += 8
        t = ctid[g]
        unit = unit_of[t]
        W = w_of[t]
        i0 = o_start[g]
        vo = voff[g]
        tb = t * NCLS
        lb_ = t * NL
        mb = t * NMAN
        sb = t * NSGN
        pos = 0
        for i in range(i0, i0 + o_count[g]):
            lb = 0
            l = 0
            if pos != 0:
                l = np.int64(out[i - 1]) - vo
                lb = BKT[abs(l)]
            ub = 0
            u = 0
            if pos >= W and W > 0:
                u = np.int64(out[i - W]) - vo
                ub = BKT[abs(u)]
            pos += 1
            if pos == unit:
                pos = 0
            ctx = lb * 7 + ub
            slot = x0 & MASK
            c = np.int64(lut[lb_ + ctx, slot])
            x0 = np.uint64(cls_f[tb + ctx, c]) * (x0 >> PB) + slot - np.uint64(cls_c[tb + ctx, c])
            x0, p = _renorm(x0, buf, p)
            x0, x1 = x1, x0
            if c == 0:
                out[i] = vo
                continue
            a = np.int64(1)
            if c >= 2:
                mk = c * 3 + LCT[lb]
                slot = x0 & MASK
                s = np.int64(lut[lb_ + NCLS + mk, slot])
                x0 = np.uint64(man_f[mb + mk, s]) * (x0 >> PB) + slot - np.uint64(man_c[mb + mk, s])
                x0, p = _renorm(x0, buf, p)
                x0, x1 = x1, x0
                a = (2 | s) if c == 2 else (4 | s)
            ls = 0 if l == 0 else (1 if l > 0 else 2)
            us = 0 if u == 0 else (1 if u > 0 else 2)
            f1 = np.uint64(sgn_f1[sb + (ls * 3 + us) * 4 + min(c, 4) - 1])
            f0 = np.uint64(PROB_SCALE) - f1
            slot = x0 & MASK
            neg = slot >= f0
            if neg:
                x0 = f1 * (x0 >> PB) + slot - f0
            else:
                x0 = f0 * (x0 >> PB) + slot
            x0, p = _renorm(x0, buf, p)
            x0, x1 = x1, x0
            if c >= 4:
                k = np.uint64(c - 3)
                b = x0 & ((np.uint64(1) << k) - np.uint64(1))
                x0 >>= k
                x0, p = _renorm(x0, buf, p)
                x0, x1 = x1, x0
                a = (a << np.int64(c - 3)) | np.int64(b)
            out[i] = vo - a if neg else vo + a
    return 0


# ------------------------------------------------------------------------------------------
# lane kernels: one state per stream, two streams (groups / chunks) decoded in turn, a lane
# whose stream ends takes the next one at once (codec's LANES = 2 scheme)

@njit(cache=True, inline="always")
def _sets_step(buf, luts, t, x, p, i, vo):
    """One symbol (+ its bypass) of a one-state stream.  Returns (x, p, i, st, j, v): st 0 =
    store out[j] = v, 1 = end of group, 2 = escape (nothing to store)."""
    ent = luts[t, x & np.uint64(PROB_SCALE - 1)]
    x = (ent & np.uint64(8191)) * (x >> np.uint64(PROB_BITS)) + ((ent >> np.uint64(13)) & np.uint64(4095))
    x, p = _renorm(x, buf, p)
    kind = (ent >> np.uint64(25)) & np.uint64(3)
    i += np.int64((ent >> np.uint64(27)) & np.uint64(8191))
    if kind == 2:
        k = ((ent >> np.uint64(40)) & np.uint64(31)) + np.uint64(1)
        b = x & ((np.uint64(1) << k) - np.uint64(1))
        x >>= k
        x, p = _renorm(x, buf, p)
        m = np.int64((ent >> np.uint64(45)) + (b >> np.uint64(1)))
        neg = -np.int64(b & np.uint64(1))
        return x, p, i + 1, 0, i, vo + ((m ^ neg) - neg)
    if kind == 0:
        return x, p, i, 1, i, vo
    return x, p, i, 2, i, vo


@njit(cache=True, nogil=True)
def decode_sets_lanes(buf, glo, tid, o_start, o_count, voff, luts, out):
    G = tid.size
    # lane a
    nxt = 0
    xa = np.uint64(0); pa = 0; ia = 0; ta = 0; va = 0; aa = False
    xb = np.uint64(0); pb = 0; ib = 0; tb = 0; vb = 0; ab = False
    if nxt < G:
        g = nxt; nxt += 1
        pa = glo[g]; xa = _init_state(buf, pa); pa += 4; ta = tid[g]; ia = o_start[g]; va = voff[g]
        out[ia:ia + o_count[g]] = va
        aa = True
    if nxt < G:
        g = nxt; nxt += 1
        pb = glo[g]; xb = _init_state(buf, pb); pb += 4; tb = tid[g]; ib = o_start[g]; vb = voff[g]
        out[ib:ib + o_count[g]] = vb
        ab = True
    while aa and ab:
        xa, pa, ia, st, j, v = _sets_step(buf, luts, ta, xa, pa, ia, va)
        if st == 0:
            out[j] = v
        elif st == 1:
            if nxt < G:
                g = nxt; nxt += 1
                pa = glo[g]; xa = _init_state(buf, pa); pa += 4; ta = tid[g]; ia = o_start[g]; va = voff[g]
                out[ia:ia + o_count[g]] = va
            else:
                aa = False
        xb, pb, ib, st, j, v = _sets_step(buf, luts, tb, xb, pb, ib, vb)
        if st == 0:
            out[j] = v
        elif st == 1:
            if nxt < G:
                g = nxt; nxt += 1
                pb = glo[g]; xb = _init_state(buf, pb); pb += 4; tb = tid[g]; ib = o_start[g]; vb = voff[g]
                out[ib:ib + o_count[g]] = vb
            else:
                ab = False
    # the last lane alone
    if ab:
        xa, pa, ia, ta, va, aa = xb, pb, ib, tb, vb, True
    while aa:
        xa, pa, ia, st, j, v = _sets_step(buf, luts, ta, xa, pa, ia, va)
        if st == 0:
            out[j] = v
        elif st == 1:
            aa = False
    return 0


@njit(cache=True, inline="always")
def _p3_value(buf, lut, cls_f, cls_c, man_f, man_c, sgn_f1, x, p, l, u, lb, ub, tb, lb_, mb, sb):
    """One value of a one-state P3 stream: returns (x, p, value - offset)."""
    MASK = np.uint64(PROB_SCALE - 1)
    PB = np.uint64(PROB_BITS)
    ctx = lb * 7 + ub
    slot = x & MASK
    c = np.int64(lut[lb_ + ctx, slot])
    x = np.uint64(cls_f[tb + ctx, c]) * (x >> PB) + slot - np.uint64(cls_c[tb + ctx, c])
    x, p = _renorm(x, buf, p)
    if c == 0:
        return x, p, np.int64(0)
    a = np.int64(1)
    if c >= 2:
        mk = c * 3 + LCT[lb]
        slot = x & MASK
        s = np.int64(lut[lb_ + NCLS + mk, slot])
        x = np.uint64(man_f[mb + mk, s]) * (x >> PB) + slot - np.uint64(man_c[mb + mk, s])
        x, p = _renorm(x, buf, p)
        a = (2 | s) if c == 2 else (4 | s)
    ls = 0 if l == 0 else (1 if l > 0 else 2)
    us = 0 if u == 0 else (1 if u > 0 else 2)
    f1 = np.uint64(sgn_f1[sb + (ls * 3 + us) * 4 + min(c, 4) - 1])
    f0 = np.uint64(PROB_SCALE) - f1
    slot = x & MASK
    neg = slot >= f0
    if neg:
        x = f1 * (x >> PB) + slot - f0
    else:
        x = f0 * (x >> PB) + slot
    x, p = _renorm(x, buf, p)
    if c >= 4:
        k = np.uint64(c - 3)
        b = x & ((np.uint64(1) << k) - np.uint64(1))
        x >>= k
        x, p = _renorm(x, buf, p)
        a = (a << np.int64(c - 3)) | np.int64(b)
    return x, p, -a if neg else a


@njit(cache=True, nogil=True)
def decode_p3_lanes(buf, clo, ctid, o_start, o_count, voff, unit_of, w_of, lut, cls_f, cls_c,
                    man_f, man_c, sgn_f1, out):
    """P3 with one state per chunk, two chunks decoded in turn (value by value); the left
    neighbour is kept in a register, the above one is read back from out."""
    G = ctid.size
    NL = NCLS + NMAN
    for g0 in range(0, G, 2):
        # lane a = chunk g0, lane b = chunk g0 + 1 (if any); pairs, tail of the longer alone
        ga = g0
        gb = g0 + 1 if g0 + 1 < G else g0
        two = g0 + 1 < G
        pa = clo[ga]; xa = _init_state(buf, pa); pa += 4
        pb = clo[gb]; xb = _init_state(buf, pb); pb += 4
        ta = ctid[ga]; tbb = ctid[gb]
        ua = unit_of[ta]; ub_ = unit_of[tbb]
        Wa = w_of[ta]; Wb = w_of[tbb]
        ia = o_start[ga]; ib = o_start[gb]
        na = o_count[ga]; nb = o_count[gb] if two else 0
        va = voff[ga]; vb = voff[gb]
        posa = 0; posb = 0
        la = np.int64(0); lbv = np.int64(0)
        nmin = min(na, nb)
        for r in range(nmin):
            # lane a
            lba = BKT[abs(la)] if posa != 0 else 0
            uu = np.int64(0); uba = 0
            if posa >= Wa and Wa > 0:
                uu = np.int64(out[ia + r - Wa]) - va
                uba = BKT[abs(uu)]
            xa, pa, v = _p3_value(buf, lut, cls_f, cls_c, man_f, man_c, sgn_f1, xa, pa, la, uu,
                                  lba, uba, ta * NCLS, ta * NL, ta * NMAN, ta * NSGN)
            out[ia + r] = va + v
            la = v
            posa += 1
            if posa == ua:
                posa = 0
                la = 0
            # lane b
            lbb = BKT[abs(lbv)] if posb != 0 else 0
            uu = np.int64(0); ubb = 0
            if posb >= Wb and Wb > 0:
                uu = np.int64(out[ib + r - Wb]) - vb
                ubb = BKT[abs(uu)]
            xb, pb, v = _p3_value(buf, lut, cls_f, cls_c, man_f, man_c, sgn_f1, xb, pb, lbv, uu,
                                  lbb, ubb, tbb * NCLS, tbb * NL, tbb * NMAN, tbb * NSGN)
            out[ib + r] = vb + v
            lbv = v
            posb += 1
            if posb == ub_:
                posb = 0
                lbv = 0
        # the longer chunk's tail
        if na > nmin:
            x, p, i0, cnt, t, unit, W, vo, pos, l = xa, pa, ia, na, ta, ua, Wa, va, posa, la
        else:
            x, p, i0, cnt, t, unit, W, vo, pos, l = xb, pb, ib, nb, tbb, ub_, Wb, vb, posb, lbv
        for r in range(nmin, cnt):
            lbx = BKT[abs(l)] if pos != 0 else 0
            uu = np.int64(0); ubx = 0
            if pos >= W and W > 0:
                uu = np.int64(out[i0 + r - W]) - vo
                ubx = BKT[abs(uu)]
            x, p, v = _p3_value(buf, lut, cls_f, cls_c, man_f, man_c, sgn_f1, x, p, l, uu,
                                lbx, ubx, t * NCLS, t * NL, t * NMAN, t * NSGN)
            out[i0 + r] = vo + v
            l = v
            pos += 1
            if pos == unit:
                pos = 0
                l = 0
    return 0


# ------------------------------------------------------------------------------------------
# (a') split streams: rANS carries only the symbols (two interleaved states, one op per
# symbol); remainder and sign bits go to a separate MSB-first raw bit stream per group (as
# today's payload carries them), read with a 64-bit window like codec's bit reader.

from codec.kernels.intrinsics import load_be64  # noqa: E402


@njit(cache=True)
def sets_ops_split(kind, sym, tab, mag, sgn, ebits, freqs, cums, of, oc, os_, rv, rn):
    """Symbol ops only; raw bits per event (value rv, count rn; 0 for EOB / ESC)."""
    for i in range(kind.size):
        t = tab[i]
        s = sym[i]
        of[i] = freqs[t, s]
        oc[i] = cums[t, s]
        os_[i] = 12
        if kind[i] == 2:
            e = ebits[i]
            rv[i] = ((mag[i] & ((1 << e) - 1)) << 1) | sgn[i]
            rn[i] = e + 1
        else:
            rv[i] = 0
            rn[i] = 0
    return kind.size


@njit(cache=True)
def pack_bits(rv, rn, lo, hi, out, opos):
    """MSB-first bits of events [lo, hi) at out[opos:]; returns the new (byte) opos."""
    acc = np.uint64(0)
    nb = 0
    p = opos
    for i in range(lo, hi):
        k = rn[i]
        if k == 0:
            continue
        acc = (acc << np.uint64(k)) | np.uint64(rv[i])
        nb += k
        while nb >= 8:
            nb -= 8
            out[p] = np.uint8((acc >> np.uint64(nb)) & np.uint64(255))
            p += 1
    if nb > 0:
        out[p] = np.uint8((acc << np.uint64(8 - nb)) & np.uint64(255))
        p += 1
    return p


@njit(cache=True, nogil=True)
def decode_sets_split(buf, glo, rlo, tid, o_start, o_count, voff, luts, out):
    """Groups g: rANS symbols at buf[glo[g]:] (2 states), raw bits from bit rlo[g] * 8."""
    MASK = np.uint64(PROB_SCALE - 1)
    for g in range(tid.size):
        p = glo[g]
        x0 = _init_state(buf, p)
        x1 = _init_state(buf, p + 4)
        p += 8
        bp = rlo[g] * 8
        t = tid[g]
        i = o_start[g]
        vo = voff[g]
        out[i:i + o_count[g]] = vo
        while True:
            ent = luts[t, x0 & MASK]
            x0 = (ent & np.uint64(8191)) * (x0 >> np.uint64(PROB_BITS)) + ((ent >> np.uint64(13)) & np.uint64(4095))
            x0, p = _renorm(x0, buf, p)
            x0, x1 = x1, x0
            kind = (ent >> np.uint64(25)) & np.uint64(3)
            i += np.int64((ent >> np.uint64(27)) & np.uint64(8191))
            if kind == 2:
                k = ((ent >> np.uint64(40)) & np.uint64(31)) + np.uint64(1)
                w = load_be64(buf, bp >> 3) << np.uint64(bp & 7)
                b = w >> (np.uint64(64) - k)
                bp += np.int64(k)
                m = np.int64((ent >> np.uint64(45)) + (b >> np.uint64(1)))
                neg = -np.int64(b & np.uint64(1))
                out[i] = vo + ((m ^ neg) - neg)
                i += 1
            elif kind == 0:
                break
    return 0


# ------------------------------------------------------------------------------------------
# (b') P3 split: the c - 3 raw low bits go to a raw bit stream; rANS ops = class, mantissa
# symbol, sign (two interleaved states); the left neighbour stays in a register.

@njit(cache=True)
def p3_ops_split(x, unit, W, lo, hi, cls_f, cls_c, man_f, man_c, sgn_f1, of, oc, os_, rv, rn):
    k = 0
    r = 0
    for i in range(lo, hi):
        v = x[i]
        a = abs(v)
        pos = i % unit
        lb = 0
        l = 0
        if pos != 0:
            l = x[i - 1]
            lb = _bucket(abs(l))
        ub = 0
        u = 0
        if W > 0 and pos >= W:
            u = x[i - W]
            ub = _bucket(abs(u))
        c = _bl(a)
        ctx = lb * 7 + ub
        of[k] = cls_f[ctx, c]
        oc[k] = cls_c[ctx, c]
        os_[k] = 12
        k += 1
        if a == 0:
            continue
        if c >= 2:
            lc = 0 if lb <= 1 else (1 if lb < 5 else 2)
            s = (a >> (c - 2)) & 1 if c == 2 else (a >> (c - 3)) & 3
            of[k] = man_f[c * 3 + lc, s]
            oc[k] = man_c[c * 3 + lc, s]
            os_[k] = 12
            k += 1
        ls = 0 if l == 0 else (1 if l > 0 else 2)
        us = 0 if u == 0 else (1 if u > 0 else 2)
        f1 = sgn_f1[(ls * 3 + us) * 4 + min(c, 4) - 1]
        if v < 0:
            of[k] = f1
            oc[k] = PROB_SCALE - f1
        else:
            of[k] = PROB_SCALE - f1
            oc[k] = 0
        os_[k] = 12
        k += 1
        if c >= 4:
            rv[r] = a & ((1 << (c - 3)) - 1)
            rn[r] = c - 3
            r += 1
    return k, r


@njit(cache=True, nogil=True)
def decode_p3_split(buf, clo, rlo, ctid, o_start, o_count, voff, unit_of, w_of, lut, cls_f,
                    cls_c, man_f, man_c, sgn_f1, out):
    MASK = np.uint64(PROB_SCALE - 1)
    PB = np.uint64(PROB_BITS)
    NL = NCLS + NMAN
    for g in range(ctid.size):
        p = clo[g]
        x0 = _init_state(buf, p)
        x1 = _init_state(buf, p + 4)
        p += 8
        bp = rlo[g] * 8
        t = ctid[g]
        unit = unit_of[t]
        W = w_of[t]
        i0 = o_start[g]
        vo = voff[g]
        tb = t * NCLS
        lb_ = t * NL
        mb = t * NMAN
        sb = t * NSGN
        pos = 0
        l = np.int64(0)
        for i in range(i0, i0 + o_count[g]):
            lb = BKT[abs(l)] if pos != 0 else 0
            ub = 0
            u = np.int64(0)
            if pos >= W and W > 0:
                u = np.int64(out[i - W]) - vo
                ub = BKT[abs(u)]
            pos += 1
            ctx = lb * 7 + ub
            slot = x0 & MASK
            c = np.int64(lut[lb_ + ctx, slot])
            x0 = np.uint64(cls_f[tb + ctx, c]) * (x0 >> PB) + slot - np.uint64(cls_c[tb + ctx, c])
            x0, p = _renorm(x0, buf, p)
            x0, x1 = x1, x0
            if c == 0:
                out[i] = vo
                l = 0
            else:
                a = np.int64(1)
                if c >= 2:
                    mk = c * 3 + LCT[lb]
                    slot = x0 & MASK
                    s = np.int64(lut[lb_ + NCLS + mk, slot])
                    x0 = np.uint64(man_f[mb + mk, s]) * (x0 >> PB) + slot - np.uint64(man_c[mb + mk, s])
                    x0, p = _renorm(x0, buf, p)
                    x0, x1 = x1, x0
                    a = (2 | s) if c == 2 else (4 | s)
                ls = 0 if l == 0 else (1 if l > 0 else 2)
                us = 0 if u == 0 else (1 if u > 0 else 2)
                f1 = np.uint64(sgn_f1[sb + (ls * 3 + us) * 4 + min(c, 4) - 1])
                f0 = np.uint64(PROB_SCALE) - f1
                slot = x0 & MASK
                neg = slot >= f0
                if neg:
                    x0 = f1 * (x0 >> PB) + slot - f0
                else:
                    x0 = f0 * (x0 >> PB) + slot
                x0, p = _renorm(x0, buf, p)
                x0, x1 = x1, x0
                if c >= 4:
                    k = np.uint64(c - 3)
                    w = load_be64(buf, bp >> 3) << np.uint64(bp & 7)
                    a = (a << np.int64(k)) | np.int64(w >> (np.uint64(64) - k))
                    bp += c - 3
                l = -a if neg else a
                out[i] = vo + l
            if pos == unit:
                pos = 0
                l = 0
    return 0


@njit(cache=True, nogil=True)
def decode_sets_merged(buf, slo, srlo, sg0, sg1, tid, o_start, o_count, voff, luts, out):
    """decode_sets_split with several consecutive groups per stream: stream s = groups
    [sg0[s], sg1[s]) of one tensor, one state pair and one raw bit stream; each group still
    ends with its end symbol and has its own table."""
    MASK = np.uint64(PROB_SCALE - 1)
    for s in range(slo.size):
        p = slo[s]
        x0 = _init_state(buf, p)
        x1 = _init_state(buf, p + 4)
        p += 8
        bp = srlo[s] * 8
        for g in range(sg0[s], sg1[s]):
            t = tid[g]
            i = o_start[g]
            vo = voff[g]
            out[i:i + o_count[g]] = vo
            while True:
                ent = luts[t, x0 & MASK]
                x0 = (ent & np.uint64(8191)) * (x0 >> np.uint64(PROB_BITS)) + ((ent >> np.uint64(13)) & np.uint64(4095))
                x0, p = _renorm(x0, buf, p)
                x0, x1 = x1, x0
                kind = (ent >> np.uint64(25)) & np.uint64(3)
                i += np.int64((ent >> np.uint64(27)) & np.uint64(8191))
                if kind == 2:
                    k = ((ent >> np.uint64(40)) & np.uint64(31)) + np.uint64(1)
                    w = load_be64(buf, bp >> 3) << np.uint64(bp & 7)
                    b = w >> (np.uint64(64) - k)
                    bp += np.int64(k)
                    m = np.int64((ent >> np.uint64(45)) + (b >> np.uint64(1)))
                    neg = -np.int64(b & np.uint64(1))
                    out[i] = vo + ((m ^ neg) - neg)
                    i += 1
                elif kind == 0:
                    break
    return 0


# (b'') P3 split, two lanes: one state per chunk, two chunks decoded value by value in turn
# (their context chains are independent, unlike two states inside one chunk)

@njit(cache=True, inline="always")
def _p3s_value(buf, lut, cls_f, cls_c, man_f, man_c, sgn_f1, x, p, bp, l, u, lb, ub, tb, lb_, mb, sb):
    MASK = np.uint64(PROB_SCALE - 1)
    PB = np.uint64(PROB_BITS)
    ctx = lb * 7 + ub
    slot = x & MASK
    c = np.int64(lut[lb_ + ctx, slot])
    x = np.uint64(cls_f[tb + ctx, c]) * (x >> PB) + slot - np.uint64(cls_c[tb + ctx, c])
    x, p = _renorm(x, buf, p)
    if c == 0:
        return x, p, bp, np.int64(0)
    a = np.int64(1)
    if c >= 2:
        mk = c * 3 + LCT[lb]
        slot = x & MASK
        s = np.int64(lut[lb_ + NCLS + mk, slot])
        x = np.uint64(man_f[mb + mk, s]) * (x >> PB) + slot - np.uint64(man_c[mb + mk, s])
        x, p = _renorm(x, buf, p)
        a = (2 | s) if c == 2 else (4 | s)
    ls = 0 if l == 0 else (1 if l > 0 else 2)
    us = 0 if u == 0 else (1 if u > 0 else 2)
    f1 = np.uint64(sgn_f1[sb + (ls * 3 + us) * 4 + min(c, 4) - 1])
    f0 = np.uint64(PROB_SCALE) - f1
    slot = x & MASK
    neg = slot >= f0
    if neg:
        x = f1 * (x >> PB) + slot - f0
    else:
        x = f0 * (x >> PB) + slot
    x, p = _renorm(x, buf, p)
    if c >= 4:
        k = np.uint64(c - 3)
        w = load_be64(buf, bp >> 3) << np.uint64(bp & 7)
        a = (a << np.int64(k)) | np.int64(w >> (np.uint64(64) - k))
        bp += c - 3
    return x, p, bp, -a if neg else a


@njit(cache=True, nogil=True)
def decode_p3_split_lanes(buf, clo, rlo, ctid, o_start, o_count, voff, unit_of, w_of, lut,
                          cls_f, cls_c, man_f, man_c, sgn_f1, out):
    G = ctid.size
    NL = NCLS + NMAN
    for g0 in range(0, G, 2):
        ga = g0
        two = g0 + 1 < G
        gb = g0 + 1 if two else g0
        pa = clo[ga]; xa = _init_state(buf, pa); pa += 4; bpa = rlo[ga] * 8
        pb = clo[gb]; xb = _init_state(buf, pb); pb += 4; bpb = rlo[gb] * 8
        ta = ctid[ga]; tbb = ctid[gb]
        ua = unit_of[ta]; ub_ = unit_of[tbb]
        Wa = w_of[ta]; Wb = w_of[tbb]
        ia = o_start[ga]; ib = o_start[gb]
        na = o_count[ga]; nb = o_count[gb] if two else 0
        va = voff[ga]; vb = voff[gb]
        posa = 0; posb = 0
        la = np.int64(0); lbv = np.int64(0)
        nmin = min(na, nb)
        for r in range(nmin):
            lba = BKT[abs(la)] if posa != 0 else 0
            uu = np.int64(0); uba = 0
            if posa >= Wa and Wa > 0:
                uu = np.int64(out[ia + r - Wa]) - va
                uba = BKT[abs(uu)]
            xa, pa, bpa, v = _p3s_value(buf, lut, cls_f, cls_c, man_f, man_c, sgn_f1, xa, pa, bpa,
                                        la, uu, lba, uba, ta * NCLS, ta * NL, ta * NMAN, ta * NSGN)
            out[ia + r] = va + v
            la = v
            posa += 1
            if posa == ua:
                posa = 0
                la = 0
            lbb = BKT[abs(lbv)] if posb != 0 else 0
            uu = np.int64(0); ubb = 0
            if posb >= Wb and Wb > 0:
                uu = np.int64(out[ib + r - Wb]) - vb
                ubb = BKT[abs(uu)]
            xb, pb, bpb, v = _p3s_value(buf, lut, cls_f, cls_c, man_f, man_c, sgn_f1, xb, pb, bpb,
                                        lbv, uu, lbb, ubb, tbb * NCLS, tbb * NL, tbb * NMAN, tbb * NSGN)
            out[ib + r] = vb + v
            lbv = v
            posb += 1
            if posb == ub_:
                posb = 0
                lbv = 0
        if na > nmin:
            x, p, bp, i0, cnt, t, unit, W, vo, pos, l = xa, pa, bpa, ia, na, ta, ua, Wa, va, posa, la
        else:
            x, p, bp, i0, cnt, t, unit, W, vo, pos, l = xb, pb, bpb, ib, nb, tbb, ub_, Wb, vb, posb, lbv
        for r in range(nmin, cnt):
            lbx = BKT[abs(l)] if pos != 0 else 0
            uu = np.int64(0); ubx = 0
            if pos >= W and W > 0:
                uu = np.int64(out[i0 + r - W]) - vo
                ubx = BKT[abs(uu)]
            x, p, bp, v = _p3s_value(buf, lut, cls_f, cls_c, man_f, man_c, sgn_f1, x, p, bp, l, uu,
                                     lbx, ubx, t * NCLS, t * NL, t * NMAN, t * NSGN)
            out[i0 + r] = vo + v
            l = v
            pos += 1
            if pos == unit:
                pos = 0
                l = 0
    return 0


# (b3) the same two-lane P3 with the value decode written out per lane (generated text; no
# inlined function taking arrays: each such call costs NRT reference-count atomics, see
# codec/kernels/decode.py)

@njit(cache=True, nogil=True)
def decode_p3_split_lanes2(buf, clo, rlo, ctid, o_start, o_count, voff, unit_of, w_of, lut,
                           cls_f, cls_c, man_f, man_c, sgn_f1, out):
    MASK = np.uint64(PROB_SCALE - 1)
    PB = np.uint64(PROB_BITS)
    NL = NCLS + NMAN
    G = ctid.size
    for g0 in range(0, G, 2):
        ga = g0
        two = g0 + 1 < G
        gb = g0 + 1 if two else g0
        pa = clo[ga]; xa = _init_state(buf, pa); pa += 4; bpa = rlo[ga] * 8
        pb = clo[gb]; xb = _init_state(buf, pb); pb += 4; bpb = rlo[gb] * 8
        ta = ctid[ga]; tbb = ctid[gb]
        ua = unit_of[ta]; ub_ = unit_of[tbb]
        Wa = w_of[ta]; Wb = w_of[tbb]
        ia = o_start[ga]; ib = o_start[gb]
        na = o_count[ga]; nb = o_count[gb] if two else 0
        va = voff[ga]; vb = voff[gb]
        posa = 0; posb = 0
        la = np.int64(0); lbv = np.int64(0)
        nmin = min(na, nb)
        for r in range(nmin):
            # ---- lane a: one value
            lba = BKT[abs(la)] if posa != 0 else 0
            uua = np.int64(0)
            uba = 0
            if posa >= Wa and Wa > 0:
                uua = np.int64(out[ia + r - Wa]) - va
                uba = BKT[abs(uua)]
            ctx = lba * 7 + uba
            slot = xa & MASK
            c = np.int64(lut[ta * NL + ctx, slot])
            xa = np.uint64(cls_f[ta * NCLS + ctx, c]) * (xa >> PB) + slot - np.uint64(cls_c[ta * NCLS + ctx, c])
            xa, pa = _renorm(xa, buf, pa)
            v = np.int64(0)
            if c != 0:
                a = np.int64(1)
                if c >= 2:
                    mk = c * 3 + LCT[lba]
                    slot = xa & MASK
                    s = np.int64(lut[ta * NL + NCLS + mk, slot])
                    xa = np.uint64(man_f[ta * NMAN + mk, s]) * (xa >> PB) + slot - np.uint64(man_c[ta * NMAN + mk, s])
                    xa, pa = _renorm(xa, buf, pa)
                    a = (2 | s) if c == 2 else (4 | s)
                ls = 0 if la == 0 else (1 if la > 0 else 2)
                us = 0 if uua == 0 else (1 if uua > 0 else 2)
                f1 = np.uint64(sgn_f1[ta * NSGN + (ls * 3 + us) * 4 + min(c, 4) - 1])
                f0 = np.uint64(PROB_SCALE) - f1
                slot = xa & MASK
                neg = slot >= f0
                if neg:
                    xa = f1 * (xa >> PB) + slot - f0
                else:
                    xa = f0 * (xa >> PB) + slot
                xa, pa = _renorm(xa, buf, pa)
                if c >= 4:
                    k = np.uint64(c - 3)
                    w = load_be64(buf, bpa >> 3) << np.uint64(bpa & 7)
                    a = (a << np.int64(k)) | np.int64(w >> (np.uint64(64) - k))
                    bpa += c - 3
                v = -a if neg else a
            out[ia + r] = va + v
            la = v
            posa += 1
            if posa == ua:
                posa = 0
                la = 0
            # ---- lane b: one value
            lbb = BKT[abs(lbv)] if posb != 0 else 0
            uub = np.int64(0)
            ubb = 0
            if posb >= Wb and Wb > 0:
                uub = np.int64(out[ib + r - Wb]) - vb
                ubb = BKT[abs(uub)]
            ctx = lbb * 7 + ubb
            slot = xb & MASK
            c = np.int64(lut[tbb * NL + ctx, slot])
            xb = np.uint64(cls_f[tbb * NCLS + ctx, c]) * (xb >> PB) + slot - np.uint64(cls_c[tbb * NCLS + ctx, c])
            xb, pb = _renorm(xb, buf, pb)
            v = np.int64(0)
            if c != 0:
                a = np.int64(1)
                if c >= 2:
                    mk = c * 3 + LCT[lbb]
                    slot = xb & MASK
                    s = np.int64(lut[tbb * NL + NCLS + mk, slot])
                    xb = np.uint64(man_f[tbb * NMAN + mk, s]) * (xb >> PB) + slot - np.uint64(man_c[tbb * NMAN + mk, s])
                    xb, pb = _renorm(xb, buf, pb)
                    a = (2 | s) if c == 2 else (4 | s)
                ls = 0 if lbv == 0 else (1 if lbv > 0 else 2)
                us = 0 if uub == 0 else (1 if uub > 0 else 2)
                f1 = np.uint64(sgn_f1[tbb * NSGN + (ls * 3 + us) * 4 + min(c, 4) - 1])
                f0 = np.uint64(PROB_SCALE) - f1
                slot = xb & MASK
                neg = slot >= f0
                if neg:
                    xb = f1 * (xb >> PB) + slot - f0
                else:
                    xb = f0 * (xb >> PB) + slot
                xb, pb = _renorm(xb, buf, pb)
                if c >= 4:
                    k = np.uint64(c - 3)
                    w = load_be64(buf, bpb >> 3) << np.uint64(bpb & 7)
                    a = (a << np.int64(k)) | np.int64(w >> (np.uint64(64) - k))
                    bpb += c - 3
                v = -a if neg else a
            out[ib + r] = vb + v
            lbv = v
            posb += 1
            if posb == ub_:
                posb = 0
                lbv = 0
        if na > nmin:
            x, p, bp, i0, cnt, t, unit, W, vo, pos, l = xa, pa, bpa, ia, na, ta, ua, Wa, va, posa, la
        else:
            x, p, bp, i0, cnt, t, unit, W, vo, pos, l = xb, pb, bpb, ib, nb, tbb, ub_, Wb, vb, posb, lbv
        for r in range(nmin, cnt):
            # ---- lane tail: one value
            lbx = BKT[abs(l)] if pos != 0 else 0
            uux = np.int64(0)
            ubx = 0
            if pos >= W and W > 0:
                uux = np.int64(out[i0 + r - W]) - vo
                ubx = BKT[abs(uux)]
            ctx = lbx * 7 + ubx
            slot = x & MASK
            c = np.int64(lut[t * NL + ctx, slot])
            x = np.uint64(cls_f[t * NCLS + ctx, c]) * (x >> PB) + slot - np.uint64(cls_c[t * NCLS + ctx, c])
            x, p = _renorm(x, buf, p)
            v = np.int64(0)
            if c != 0:
                a = np.int64(1)
                if c >= 2:
                    mk = c * 3 + LCT[lbx]
                    slot = x & MASK
                    s = np.int64(lut[t * NL + NCLS + mk, slot])
                    x = np.uint64(man_f[t * NMAN + mk, s]) * (x >> PB) + slot - np.uint64(man_c[t * NMAN + mk, s])
                    x, p = _renorm(x, buf, p)
                    a = (2 | s) if c == 2 else (4 | s)
                ls = 0 if l == 0 else (1 if l > 0 else 2)
                us = 0 if uux == 0 else (1 if uux > 0 else 2)
                f1 = np.uint64(sgn_f1[t * NSGN + (ls * 3 + us) * 4 + min(c, 4) - 1])
                f0 = np.uint64(PROB_SCALE) - f1
                slot = x & MASK
                neg = slot >= f0
                if neg:
                    x = f1 * (x >> PB) + slot - f0
                else:
                    x = f0 * (x >> PB) + slot
                x, p = _renorm(x, buf, p)
                if c >= 4:
                    k = np.uint64(c - 3)
                    w = load_be64(buf, bp >> 3) << np.uint64(bp & 7)
                    a = (a << np.int64(k)) | np.int64(w >> (np.uint64(64) - k))
                    bp += c - 3
                v = -a if neg else a
            out[i0 + r] = vo + v
            l = v
            pos += 1
            if pos == unit:
                pos = 0
                l = 0
    return 0


# ------------------------------------------------------------------------------------------
# decode-table builds (timed separately: a decoder builds them from the stored frequencies)

@njit(cache=True, nogil=True)
def fill_sets_luts(freqs, meta, luts):
    """luts[t, slot] = meta[t, s] | freq | (slot - cum) << 13 for the symbol s owning slot."""
    for t in range(freqs.shape[0]):
        c0 = 0
        for s in range(freqs.shape[1]):
            f = freqs[t, s]
            if f == 0:
                continue
            m = meta[t, s] | np.uint64(f)
            for j in range(f):
                luts[t, c0 + j] = m | (np.uint64(j) << np.uint64(13))
            c0 += f


@njit(cache=True, nogil=True)
def fill_u8_luts(freqs, lut):
    """Slot -> symbol LUT rows of a frequency matrix (rows with no mass left alone)."""
    for k in range(freqs.shape[0]):
        c0 = 0
        for s in range(freqs.shape[1]):
            f = freqs[k, s]
            for j in range(f):
                lut[k, c0 + j] = s
            c0 += f
