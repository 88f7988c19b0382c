"""Item 2: context-conditioned coding of the (run, class) symbols, sign and remainder bits.

    nice -n 15 python3 benchmarks/experiments/contexts.py [--models m ...]

For every model x config, today's package (codec.pack) is read back; its symbol stream (exactly
the one in the payload, same tables, same per-group table choice) is re-costed with the table
of each group split by a context of already-decoded values:

  static Huffman per (table, context)    v1 table bytes counted per sub-table
  static rANS-12 per (table, context)    frequency table counted (common.rans_table_bits)
  adaptive counts per (table, context)   multi-symbol adaptive arithmetic coding, no table,
                                         state reset per tensor (random access kept)

A table is split only when that pays (1 flag bit per table); contexts with magnitude buckets
cost 2 bytes per tensor of side info (the bucket thresholds).  Separately, a DeepCABAC-like
binarized per-value model (sig / sign / greater-k flags / Exp-Golomb, adaptive binary contexts,
like NNCodec) and the entropy of sign and remainder bits under contexts.

Writes benchmarks/results/experiments_contexts.{json,md}.
"""
import argparse
import json
import math
import time

import numpy as np
from numba import njit

from common import (CONFIGS, MODELS, ROOT, SHORT, all_cases, competitors, entropy_bits, get,
                    huffman_table_bits, package_events, rans_table_bits)


# ------------------------------------------------------------------------------------------
# contexts of events (a value / ESC / EOB event is coded at its start position s)

def mag_bucket(a, t1, t2):
    """0 zero, 1 <= t1, 2 <= t2, 3 above."""
    a = np.abs(a)
    return np.where(a == 0, 0, np.where(a <= t1, 1, np.where(a <= t2, 2, 3)))


def tensor_contexts(x, shape, ev):
    """Context arrays (one int per event) for one tensor; x = flat values minus offset."""
    n = x.size
    s = ev["spos"]
    g = ev["grp"]
    nz = np.abs(x[x != 0])
    if nz.size:
        t1, t2 = np.quantile(nz, [1 / 3, 2 / 3])
    else:
        t1 = t2 = 1
    kind = ev["kind"]
    # previous value event in the same group
    isval = kind == 2
    idx = np.arange(kind.size)
    lastval = np.where(isval, idx, -1)
    lastval = np.maximum.accumulate(lastval)
    prev = np.concatenate(([-1], lastval[:-1]))
    same = prev >= 0
    same[same] = g[prev[same]] == g[same]
    pm = np.where(same, ev["mag"][np.maximum(prev, 0)], 0)
    prev_set = np.where(same, mag_bucket(pm, t1, t2), 0)      # 0 = first set of the group
    ctx = {}
    ctx["first_in_group"] = (~same).astype(np.int64)
    ctx["prev_set3"] = np.where(same, np.where(pm <= t1, 1, 2), 0)
    ctx["prev_set4"] = prev_set
    nd = len(shape)
    row = int(np.prod(shape[1:])) if nd >= 2 else n
    s_c = np.minimum(s, n - 1)

    def nb(delta, within_row):
        if delta <= 0 or delta >= n:
            return np.full(s.size, 4)
        src = s_c - delta
        ok = (src >= 0) & (s < n)
        if within_row:
            ok &= (src // row) == (s_c // row)
        return np.where(ok, mag_bucket(x[np.maximum(src, 0)], t1, t2), 4)

    ctx["nb_out"] = nb(row, False) if nd >= 2 else np.full(s.size, 4)          # prev output channel
    ctx["nb_row"] = nb(shape[-1], True) if nd >= 3 else np.full(s.size, 4)     # prev index of axis -2
    ctx["nb_in"] = nb(int(np.prod(shape[2:])), True) if nd >= 3 else np.full(s.size, 4)
    kk = int(np.prod(shape[2:])) if nd >= 3 else 1
    ctx["spatial"] = (s_c % kk) if 1 < kk <= 9 else np.zeros(s.size, np.int64)
    ctx["prev4_x_nb_out"] = prev_set * 5 + ctx["nb_out"]
    ctx["prev4_x_nb_row"] = prev_set * 5 + ctx["nb_row"]
    ctx["prev4_x_nb_in"] = prev_set * 5 + ctx["nb_in"]
    # sum of two neighbours' buckets (out channel + row), NNCodec-like
    a = np.where(ctx["nb_out"] == 4, 0, ctx["nb_out"])
    b = np.where(ctx["nb_row"] == 4, 0, ctx["nb_row"])
    ctx["nb_sum"] = np.minimum(a + b, 4)
    ctx["prev4_x_nb_sum"] = prev_set * 5 + ctx["nb_sum"]
    # density of nonzeros in the previous output channel at positions [s, s+8): 0 n/a, 1..4
    if nd >= 2 and row < n:
        nzc = np.concatenate(([0], np.cumsum(x != 0)))
        src = s_c - row
        ok = src >= 0
        a0 = np.maximum(src, 0)
        a1 = np.minimum(a0 + 8, np.maximum(src, 0) // row * row + row)
        dens = nzc[a1] - nzc[a0]
        ctx["nb_out_density"] = np.where(ok, 1 + np.minimum(dens * 4 // 9, 3), 0)
    else:
        ctx["nb_out_density"] = np.zeros(s.size, np.int64)
    # previous set's run length (0, 1, 2-3, >= 4 or first of group)
    ctx["prev4_x_density"] = prev_set * 5 + ctx["nb_out_density"]
    # left neighbour x[s-1] inside the same kernel patch (kh*kw > 1) or else inside the row
    kk = int(np.prod(shape[2:])) if nd >= 3 else 1
    unit = kk if kk > 1 else row
    avail = (s_c % unit != 0) & (s < n)
    lv = np.where(avail, x[np.maximum(s_c - 1, 0)], 0)
    lbk = np.minimum(np.floor(np.log2(np.abs(lv) + 1)).astype(np.int64), 5)   # 0 zero, 1..5
    ctx["left"] = np.where(avail, 1 + lbk, 0)                                  # 7 contexts
    sl = np.where(avail, np.where(lv > 0, 1 + lbk, np.where(lv < 0, 6 + lbk, 1)), 0)  # 12: n/a, 0, +1..5, -1..5
    W = shape[-1] if nd >= 3 else 0
    upok = (W > 0) & (s_c % unit >= W) & (s < n) if kk > 1 else np.zeros(s.size, bool)
    uv = np.where(upok, x[np.maximum(s_c - W, 0)], 0)
    up4 = np.where(upok, np.where(uv > 0, 2, np.where(uv < 0, 3, 1)), 0)
    ctx["left_signed"] = sl
    ctx["left_signed_x_up"] = sl * 4 + up4
    # previous set of the group, signed log bucket (no geometry needed)
    psg = np.where(same, ev["sgn"][np.maximum(prev, 0)], 0)
    pl = np.minimum(np.floor(np.log2(pm + 1)).astype(np.int64), 5)
    ctx["prev_signed"] = np.where(same, np.where(psg == 0, 1 + pl, 6 + pl), 0)
    return ctx


CTX_NAMES = ["first_in_group", "prev_set3", "prev_set4", "spatial", "nb_out", "nb_row", "nb_in",
             "nb_sum", "nb_out_density", "prev4_x_density", "left", "prev4_x_nb_out", "prev4_x_nb_row", "prev4_x_nb_in", "prev4_x_nb_sum"]
USES_BUCKETS = {c for c in CTX_NAMES if c not in ("first_in_group", "spatial", "left")}
# joint (symbol, sign) alphabets: the sign bit is folded into the coded symbol
JOINT = {"joint_none": "none", "joint_left_signed": "left_signed",
         "joint_left_signed_x_up": "left_signed_x_up", "joint_prev_signed": "prev_signed"}
CROSS_GROUP = {"nb_out", "prev4_x_nb_out", "nb_sum", "prev4_x_nb_sum", "nb_out_density",
               "prev4_x_density"}  # needs the previous output channel


@njit(cache=True)
def adaptive_cost(key, sym, nkeys, nsym, inc, limit):
    """Multi-symbol adaptive arithmetic coding cost: counts start at 1 per symbol of the
    alphabet, += inc per use, halved when the total exceeds limit."""
    cnt = np.ones((nkeys, nsym), np.float64)
    tot = np.full(nkeys, float(nsym))
    bits = 0.0
    for i in range(key.size):
        k = key[i]
        s = sym[i]
        bits += math.log2(tot[k] / cnt[k, s])
        cnt[k, s] += inc
        tot[k] += inc
        if tot[k] > limit:
            t = 0.0
            for j in range(nsym):
                cnt[k, j] = math.floor((cnt[k, j] + 1) / 2)
                if cnt[k, j] < 1:
                    cnt[k, j] = 1
                t += cnt[k, j]
            tot[k] = t
    return bits


def split_cost(counts_by_tab, coder):
    """counts_by_tab: {t: array (nctx, nsym)} -> (bits of codes+tables with the best per-table
    choice of split / no split, bits without any split)."""
    f = huffman_table_bits if coder == "huffman" else rans_table_bits
    tot_best = tot_none = 0.0
    for t, c in counts_by_tab.items():
        p, tb = f(c.sum(0))
        none = p + tb
        split = 0.0
        for row in c:
            if row.sum():
                p2, tb2 = f(row)
                split += p2 + tb2
        tot_best += min(none, split) + 1
        tot_none += none
    return tot_best, tot_none


# ------------------------------------------------------------------------------------------
# DeepCABAC-like binarized adaptive model per value (NNCodec style)

@njit(cache=True)
def _pbits(p, bit):
    # p = probability of 1 (15-bit fixed point, two-rate average)
    q = p / 32768.0
    if q < 1e-6:
        q = 1e-6
    if q > 1 - 1e-6:
        q = 1 - 1e-6
    return -math.log2(q) if bit else -math.log2(1.0 - q)


@njit(cache=True)
def _upd(st, k, bit):
    # two estimators, rates 4 and 7 (VVC-like)
    if bit:
        st[k, 0] += (32768 - st[k, 0]) >> 4
        st[k, 1] += (32768 - st[k, 1]) >> 7
    else:
        st[k, 0] -= st[k, 0] >> 4
        st[k, 1] -= st[k, 1] >> 7


@njit(cache=True)
def cabac_cost(x, row, rowlen2, ngt, adaptive, counts):
    """Cost of one tensor under a binarized model: sig flag (ctx: left significance x
    prev-output-channel significance x above-row significance), sign (ctx: left sign),
    greater-k flags k = 1..ngt (ctx: k x left magnitude bucket), Exp-Golomb-0 remainder with
    context-coded prefix.  adaptive: two-rate adaptive probabilities; else the caller passes
    counts (filled in pass 1) and static ideal costs are returned (pass 2).
    Returns (sig bits, sign bits, gt bits, eg bits)."""
    NK = 1024
    st = np.full((NK, 2), 16384, np.int64)
    out = np.zeros(4)
    n = x.size
    for i in range(n):
        v = x[i]
        a = abs(v)
        # left neighbour within the same row
        if i % row != 0:
            l = x[i - 1]
        else:
            l = 0
        la = abs(l)
        lc = 0 if i % row == 0 else (1 if la == 0 else 2)
        o = x[i - row] if i >= row else 0
        oc = 0 if i < row else (1 if o == 0 else 2)
        u = x[i - rowlen2] if (rowlen2 > 0 and i % row >= rowlen2) else 0
        uc = 0 if not (rowlen2 > 0 and i % row >= rowlen2) else (1 if u == 0 else 2)
        k = lc * 9 + oc * 3 + uc
        bit = 1 if a else 0
        if adaptive:
            out[0] += _pbits((st[k, 0] + st[k, 1]) >> 1, bit)
            _upd(st, k, bit)
        else:
            counts[k, bit] += 1
        if a == 0:
            continue
        # sign: ctx by left sign
        k = 30 + (0 if l == 0 else (1 if l > 0 else 2))
        bit = 1 if v < 0 else 0
        if adaptive:
            out[1] += _pbits((st[k, 0] + st[k, 1]) >> 1, bit)
            _upd(st, k, bit)
        else:
            counts[k, bit] += 1
        lb = 0 if la == 0 else (1 if la == 1 else (2 if la <= 3 else (3 if la <= 8 else 4)))
        ob = 0 if o == 0 else (1 if abs(o) <= 3 else 2)
        stop = False
        for g in range(1, ngt + 1):
            k = 40 + (g - 1) * 15 + lb * 3 + ob
            bit = 1 if a > g else 0
            if adaptive:
                out[2] += _pbits((st[k, 0] + st[k, 1]) >> 1, bit)
                _upd(st, k, bit)
            else:
                counts[k, bit] += 1
            if not bit:
                stop = True
                break
        if stop:
            continue
        r = a - ngt - 1
        # Exp-Golomb order 0 of r: prefix unary (ctx by index), suffix bypass
        nb = 0
        while (r + 1) >> (nb + 1):
            nb += 1
        for j in range(nb + 1):
            k = 40 + ngt * 15 + min(j, 20)
            bit = 1 if j < nb else 0
            if adaptive:
                out[3] += _pbits((st[k, 0] + st[k, 1]) >> 1, bit)
                _upd(st, k, bit)
            else:
                counts[k, bit] += 1
        out[3] += nb
    return out


def static_cost(counts):
    bits = 0.0
    ctxs = 0
    for c in counts:
        if c.sum():
            bits += entropy_bits(c)
            ctxs += 1
    return bits, ctxs


# ------------------------------------------------------------------------------------------

def _accumulate(store, t, arr, sym, ns):
    nc = int(arr.max()) + 1 if arr.size else 1
    cc = np.zeros((nc, ns), np.int64)
    np.add.at(cc, (arr, sym), 1)
    prev = store.get(t)
    if prev is not None:
        if prev.shape[0] < nc:
            prev = np.vstack([prev, np.zeros((nc - prev.shape[0], ns), np.int64)])
        elif prev.shape[0] > nc:
            cc = np.vstack([cc, np.zeros((prev.shape[0] - nc, ns), np.int64)])
        cc = prev + cc
    store[t] = cc


@njit(cache=True)
def binary_adaptive_cost(ctx, bit, nctx):
    st = np.full((nctx, 2), 16384, np.int64)
    tot = 0.0
    for i in range(ctx.size):
        k = ctx[i]
        tot += _pbits((st[k, 0] + st[k, 1]) >> 1, bit[i])
        _upd(st, k, bit[i])
    return tot


def binary_static_cost(ctx, bit):
    """Static binary coding per context: probability quantized to 8 bits (1/256 steps, stored
    as one byte per used context) -> exact code length with the quantized probability."""
    tot = 0.0
    for c in np.unique(ctx):
        b = bit[ctx == c]
        n1 = int(b.sum())
        n0 = b.size - n1
        p1 = min(255, max(1, round(256 * n1 / b.size))) / 256
        tot += -n1 * math.log2(p1) - n0 * math.log2(1 - p1) + 8
    return tot


def run_case(m, bits, sp):
    q, pkg = get(m, bits, sp)
    n = sum(v.size for v in q.values())
    d, evs = package_events(q, pkg, check=False)
    lens = [t.lengths.astype(np.int64) for t in d.tables]
    Lcat = np.concatenate(lens)
    off = np.cumsum([0] + [z.size for z in lens])[:-1]
    code_bits = 0.0
    tab_bits = 0.0
    for t in d.tables:
        b = bytearray()
        t.to_bytes(b)
        tab_bits += 8 * len(b)
    names = ["none"] + CTX_NAMES + list(JOINT)
    sums = {c: {} for c in names}
    ad = {c: 0.0 for c in names}
    n_tensors = 0
    nsign = 0
    sign_h = {"none": 0.0, "left_sign": 0.0, "out_sign": 0.0, "prev_set_sign": 0.0}
    sign_bin = {"static_left_x_class": 0.0, "adaptive_left_x_class": 0.0,
                "static_left": 0.0, "adaptive_left": 0.0}
    rem_raw = rem_h = rem_top_raw = rem_top_h = 0.0
    cab = np.zeros(4)
    cab_static = 0.0
    cab_static_ctx = 0
    NG = 2 if bits == 4 else 14
    for e, ev in zip(d.tensors, evs):
        if ev is None:
            continue
        x = q[e.name].reshape(-1).astype(np.int64) - e.value_offset
        n_tensors += 1
        code_bits += float(Lcat[off[ev["tab"]] + ev["sym"]].sum())
        ctx = tensor_contexts(x, e.shape, ev)
        ctx["none"] = np.zeros(ev["sym"].size, np.int64)
        val = ev["kind"] == 2
        jsym = ev["sym"] * 2 + np.where(val, ev["sgn"], 0)
        for t in np.unique(ev["tab"]):
            sel = ev["tab"] == t
            ns = d.tables[t].nsym
            for c in names:
                if c in JOINT:
                    _accumulate(sums[c], t, ctx[JOINT[c]][sel], jsym[sel], 2 * ns)
                else:
                    _accumulate(sums[c], t, ctx[c][sel], ev["sym"][sel], ns)
        # adaptive multi-symbol: per tensor reset
        nsym = max(d.tables[t].nsym for t in np.unique(ev["tab"]))
        for c in names:
            arr = ctx[JOINT.get(c, c)]
            key = ev["tab"] * 64 + arr
            uk, kinv = np.unique(key, return_inverse=True)
            if c in JOINT:
                ad[c] += adaptive_cost(kinv.astype(np.int64), jsym, uk.size, 2 * nsym, 24.0, 65536.0)
            else:
                ad[c] += adaptive_cost(kinv.astype(np.int64), ev["sym"], uk.size, nsym, 24.0, 65536.0)
        # sign bits
        p = ev["ppos"][val]
        sg = ev["sgn"][val].astype(np.int64)
        nsign += sg.size
        if sg.size:
            sign_h["none"] += entropy_bits(np.bincount(sg, minlength=2))
            row = int(np.prod(e.shape[1:])) if len(e.shape) >= 2 else x.size
            kk = int(np.prod(e.shape[2:])) if len(e.shape) >= 3 else 1
            unit = kk if kk > 1 else row

            def cond_h(cx):
                tot = 0.0
                for cv in np.unique(cx):
                    tot += entropy_bits(np.bincount(sg[cx == cv], minlength=2))
                return tot
            left = np.where(p % unit != 0, x[np.maximum(p - 1, 0)], 0)
            sign_h["left_sign"] += cond_h(np.sign(left))
            outn = np.where(p >= row, x[np.maximum(p - row, 0)], 0)
            sign_h["out_sign"] += cond_h(np.sign(outn) * 3 + np.sign(left))
            gv = ev["grp"][val]
            ps = np.concatenate(([0], np.where(gv[1:] == gv[:-1], 1 - 2 * sg[:-1], 0)))[:gv.size]
            sign_h["prev_set_sign"] += cond_h(ps)
            c1 = (np.sign(left) + 1).astype(np.int64)
            c2 = c1 * 4 + np.minimum(ev["cls"][val], 3)
            sign_bin["static_left"] += binary_static_cost(c1, sg)
            sign_bin["adaptive_left"] += binary_adaptive_cost(c1, sg, 3)
            sign_bin["static_left_x_class"] += binary_static_cost(c2, sg)
            sign_bin["adaptive_left_x_class"] += binary_adaptive_cost(c2, sg, 12)
        # remainder: raw e bits vs entropy of the remainder value per (table, class)
        hasr = val & (ev["ebits"] > 0)
        if hasr.any():
            eb = ev["ebits"][hasr]
            mg = ev["mag"][hasr]
            rv = mg & ((1 << eb) - 1)
            key = ev["tab"][hasr] * 4096 + ev["cls"][hasr]
            rem_raw += float(eb.sum())
            top = (rv >> (eb - 1)) & 1
            rem_top_raw += float(eb.size)
            for kv in np.unique(key):
                sel = key == kv
                rem_h += entropy_bits(np.bincount(rv[sel]))
                rem_top_h += entropy_bits(np.bincount(top[sel], minlength=2))
        # CABAC-like per value
        row = int(np.prod(e.shape[1:])) if len(e.shape) >= 2 else x.size
        rl2 = e.shape[-1] if len(e.shape) >= 3 else 0
        cab += cabac_cost(x, row, rl2, NG, True, np.zeros((1, 2), np.int64))
        cnt = np.zeros((1024, 2), np.int64)
        byp = cabac_cost(x, row, rl2, NG, False, cnt)
        sb, sc = static_cost(cnt)
        cab_static += sb + byp[3] + 8 * sc      # bypass suffix bits + 1 byte per context
        cab_static_ctx += sc
    pkg_bits = 8.0 * len(pkg)
    rest = pkg_bits - code_bits - tab_bits          # everything but symbol codes and tables
    rest_ns = rest - nsign                          # ... and the raw sign bits
    res = dict(model=m, bits=bits, sparsity=sp, params=n, bpp_today=pkg_bits / n,
               symbol_code_bits=code_bits, table_bits=tab_bits, sign_bits=nsign,
               competitors=competitors(m, bits, sp))
    side = 16.0 * n_tensors
    res["models"] = {}
    for c in names:
        base = rest_ns if c in JOINT else rest
        extra = side if c in USES_BUCKETS else 0.0
        hb, hn = split_cost(sums[c], "huffman")
        rb, rn = split_cost(sums[c], "rans")
        res["models"][c] = dict(
            huffman_bpp=(base + hb + extra) / n, rans_bpp=(base + rb + extra) / n,
            adaptive_bpp=(base + ad[c]) / n,
            ideal_entropy_bpp=(base + sum(entropy_bits(r) for cc in sums[c].values() for r in cc)) / n)
    res["sign"] = {k: v / max(nsign, 1) for k, v in sign_h.items()}      # bits per sign
    res["sign_binary"] = {k: v / max(nsign, 1) for k, v in sign_bin.items()}
    res["sign_binary_bpp_saved"] = {k: (nsign - v) / n for k, v in sign_bin.items()}
    res["remainder"] = dict(raw_bits=rem_raw, entropy_per_class=rem_h,
                            top_bit_raw=rem_top_raw, top_bit_entropy=rem_top_h)
    res["cabac"] = dict(adaptive_bits=cab.tolist(), adaptive_payload_bpp=float(cab.sum()) / n,
                        static_payload_bpp=cab_static / n, static_contexts=cab_static_ctx, ngt=NG)
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", nargs="*", default=MODELS)
    a = ap.parse_args()
    out = ROOT / "benchmarks" / "results"
    jpath = out / "experiments_contexts.json"
    rows = json.loads(jpath.read_text()) if jpath.exists() else []
    rows = [r for r in rows if r["model"] not in a.models]
    for m, b, s in all_cases(a.models):
        t0 = time.time()
        r = run_case(m, b, s)
        rows.append(r)
        mm = r["models"]
        best = min(mm, key=lambda k: mm[k]["rans_bpp"])
        print(f"{SHORT[m]:10s} {b}/{s}: today {r['bpp_today']:.3f}  none H/R/A "
              f"{mm['none']['huffman_bpp']:.3f}/{mm['none']['rans_bpp']:.3f}/{mm['none']['adaptive_bpp']:.3f}  "
              f"best {best} H/R/A {mm[best]['huffman_bpp']:.3f}/{mm[best]['rans_bpp']:.3f}/{mm[best]['adaptive_bpp']:.3f}  "
              f"cabac payload {r['cabac']['adaptive_payload_bpp']:.3f}  sign/bit {r['sign_binary']['static_left_x_class']:.3f}  ({time.time()-t0:.0f}s)", flush=True)
    order = {(m, b, s): i for i, (m, b, s) in enumerate(all_cases())}
    rows.sort(key=lambda r: order[(r["model"], r["bits"], r["sparsity"])])
    jpath.write_text(json.dumps(rows, indent=1, default=float))


if __name__ == "__main__":
    main()
