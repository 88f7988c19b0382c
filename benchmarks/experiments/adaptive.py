"""Item 2(c) continued: how much adaptivity buys, with no table-cost explosion.

    nice -n 15 python3 benchmarks/experiments/adaptive.py [--models m ...]

(A) Prior-initialized adaptive multi-symbol coding: today's package keeps its Huffman tables
    (no context); every (table, context) pair starts from that table's implied distribution
    (p = 2^-len, weight W) and adapts (+inc per symbol, halved above 2^16), state reset per
    tensor.  Contexts cost no table bytes.  Joint (symbol, sign) alphabets split the prior
    half/half.
(B) A per-value binarized model with a class tree (better for 8 bits than unary greater-k
    flags): sig flag (ctx |left| bucket x prev-output-channel state), unary bit-length class
    (ctx index x |left| bucket), first mantissa bit (ctx class), other mantissa bits bypass,
    sign last (ctx sign(left) x class bucket).  Adaptive (two-rate, VVC-like) and static (per
    tensor probabilities quantized to 8 bits, coded with those, + 1 byte per used context).
Left = x[i-1] inside the kernel patch (kh*kw > 1), else inside the output-channel row.

Writes benchmarks/results/experiments_adaptive.{json,md}.
"""
import argparse
import json
import math
import time

import numpy as np
from numba import njit

from common import MODELS, ROOT, SHORT, all_cases, competitors, entropy_bits, get, package_events
from contexts import JOINT, _pbits, _upd, tensor_contexts

CTXS = ["none", "left", "prev_set4", "left_signed", "left_signed_x_up", "prev_signed"]


@njit(cache=True)
def adaptive_prior_cost(key, sym, prior, W, inc, limit):
    nk = prior.shape[0]
    ns = prior.shape[1]
    cnt = np.empty((nk, ns))
    tot = np.empty(nk)
    for k in range(nk):
        t = 0.0
        for j in range(ns):
            cnt[k, j] = prior[k, j] * W
            t += cnt[k, j]
        tot[k] = t
    bits = 0.0
    for i in range(key.size):
        k = key[i]
        s = sym[i]
        bits += math.log2(tot[k] / cnt[k, s])
        cnt[k, s] += inc
        tot[k] += inc
        if tot[k] > limit:
            t = 0.0
            for j in range(ns):
                cnt[k, j] = cnt[k, j] * 0.5
                t += cnt[k, j]
            tot[k] = t
    return bits


@njit(cache=True)
def _bl(a):
    n = 0
    while a:
        n += 1
        a >>= 1
    return n


@njit(cache=True)
def class_tree_cost(x, row, unit, W, maxc, adaptive, counts):
    """Returns (sig, class, mantissa ctx bit, mantissa bypass, sign) bits."""
    st = np.full((2048, 2), 16384, np.int64)
    out = np.zeros(5)
    n = x.size
    for i in range(n):
        v = x[i]
        a = abs(v)
        hasl = (i % unit) != 0
        l = x[i - 1] if hasl else 0
        la = abs(l)
        lb = 0 if not hasl else (1 if la == 0 else min(1 + _bl(la), 6))   # 0..6
        o = x[i - row] if i >= row else 0
        oc = 0 if i < row else (1 if o == 0 else 2)
        k = lb * 3 + oc
        bit = 1 if a else 0
        if adaptive:
            out[0] += _pbits((st[k, 0] + st[k, 1]) >> 1, bit)
            _upd(st, k, bit)
        else:
            counts[k, bit] += 1
        if a == 0:
            continue
        c = _bl(a)              # 1..maxc
        for j in range(1, maxc):
            k = 32 + (j - 1) * 8 + lb
            bit = 1 if c > j else 0
            if adaptive:
                out[1] += _pbits((st[k, 0] + st[k, 1]) >> 1, bit)
                _upd(st, k, bit)
            else:
                counts[k, bit] += 1
            if not bit:
                break
        if c >= 2:
            k = 400 + c
            bit = (a >> (c - 2)) & 1
            if adaptive:
                out[2] += _pbits((st[k, 0] + st[k, 1]) >> 1, bit)
                _upd(st, k, bit)
            else:
                counts[k, bit] += 1
            out[3] += c - 2
        ls = 0 if l == 0 else (1 if l > 0 else 2)
        k = 500 + ls * 4 + min(c, 4) - 1
        bit = 1 if v < 0 else 0
        if adaptive:
            out[4] += _pbits((st[k, 0] + st[k, 1]) >> 1, bit)
            _upd(st, k, bit)
        else:
            counts[k, bit] += 1
    return out


@njit(cache=True)
def _code(st, k, bit, adaptive, counts, out, slot):
    if adaptive:
        out[slot] += _pbits((st[k, 0] + st[k, 1]) >> 1, bit)
        _upd(st, k, bit)
    else:
        counts[k, bit] += 1


@njit(cache=True)
def class_tree2_cost(x, row, unit, W, maxc, adaptive, counts):
    """Class tree with left AND above (x[i-W] in the patch) neighbours: sig (ctx left bucket x
    above bucket), unary class (ctx index x left bucket x above bucket), two context-coded
    mantissa bits (ctx class, first bit, coarse left), sign (ctx sign(left) x sign(above) x
    class bucket).  Returns (sig, class, mantissa ctx, mantissa bypass, sign) bits."""
    st = np.full((16384, 2), 16384, np.int64)
    out = np.zeros(5)
    n = x.size
    for i in range(n):
        v = x[i]
        a = abs(v)
        pos = i % unit
        hasl = pos != 0
        l = x[i - 1] if hasl else 0
        la = abs(l)
        lb = 0 if not hasl else (1 if la == 0 else min(1 + _bl(la), 6))   # 0..6
        hasu = W > 0 and pos >= W
        u = x[i - W] if hasu else 0
        ua = abs(u)
        ub = 0 if not hasu else (1 if ua == 0 else min(1 + _bl(ua), 6))
        _code(st, lb * 7 + ub, 1 if a else 0, adaptive, counts, out, 0)
        if a == 0:
            continue
        c = _bl(a)
        for j in range(1, maxc):
            bit = 1 if c > j else 0
            _code(st, 64 + ((j - 1) * 7 + lb) * 7 + ub, bit, adaptive, counts, out, 1)
            if not bit:
                break
        lc = 0 if lb <= 1 else (1 if lb < 5 else 2)
        if c >= 2:
            b1 = (a >> (c - 2)) & 1
            _code(st, 2000 + c * 3 + lc, b1, adaptive, counts, out, 2)
            if c >= 3:
                b2 = (a >> (c - 3)) & 1
                _code(st, 2100 + c * 2 + b1, b2, adaptive, counts, out, 2)
                out[3] += c - 3
        ls = 0 if l == 0 else (1 if l > 0 else 2)
        us = 0 if u == 0 else (1 if u > 0 else 2)
        _code(st, 2200 + (ls * 3 + us) * 4 + min(c, 4) - 1, 1 if v < 0 else 0, adaptive, counts, out, 4)
    return out


@njit(cache=True)
def class_tree3_cost(x, row, unit, W, maxc, cbk, adaptive, counts):
    """class_tree2 plus a per-output-channel context cbk[row index] in 0..7 (the row's mean
    |v| relative to the tensor's, 3 bits of side info per row) on the sig and class bits."""
    st = np.full((8192, 2), 16384, np.int64)
    out = np.zeros(5)
    n = x.size
    for i in range(n):
        v = x[i]
        a = abs(v)
        cb = cbk[i // row]
        pos = i % unit
        hasl = pos != 0
        l = x[i - 1] if hasl else 0
        la = abs(l)
        lb = 0 if not hasl else (1 if la == 0 else min(1 + _bl(la), 6))
        hasu = W > 0 and pos >= W
        u = x[i - W] if hasu else 0
        ua = abs(u)
        ub = 0 if not hasu else (1 if ua == 0 else min(1 + _bl(ua), 6))
        _code(st, cb * 64 + lb * 7 + ub, 1 if a else 0, adaptive, counts, out, 0)
        if a == 0:
            continue
        c = _bl(a)
        for j in range(1, maxc):
            bit = 1 if c > j else 0
            _code(st, 512 + ((cb * 15 + j - 1) * 7 + lb) * 7 + ub, bit, adaptive, counts, out, 1)
            if not bit:
                break
        lc = 0 if lb <= 1 else (1 if lb < 5 else 2)
        if c >= 2:
            b1 = (a >> (c - 2)) & 1
            _code(st, 7000 + cb * 64 + c * 3 + lc, b1, adaptive, counts, out, 2)
            if c >= 3:
                b2 = (a >> (c - 3)) & 1
                _code(st, 7600 + c * 2 + b1, b2, adaptive, counts, out, 2)
                out[3] += c - 3
        ls = 0 if l == 0 else (1 if l > 0 else 2)
        us = 0 if u == 0 else (1 if u > 0 else 2)
        _code(st, 7700 + (ls * 3 + us) * 4 + min(c, 4) - 1, 1 if v < 0 else 0, adaptive, counts, out, 4)
    return out


def row_buckets(x, row):
    r = np.abs(x).reshape(-1, row).mean(1)
    mt = max(float(np.abs(x).mean()), 1e-9)
    return np.clip(np.round(2 * np.log2(np.maximum(r, 1e-9) / mt)) + 4, 0, 7).astype(np.int64)


def quantized_binary_bits(cnt):
    """Code length of binary counts with the probability quantized to 8 bits (1/256 steps,
    clamped to [1/256, 255/256]), i.e. what a static binary rANS with a stored byte achieves."""
    tot = 0.0
    for n0, n1 in cnt:
        if n0 + n1 == 0:
            continue
        p1 = min(255, max(1, round(256 * n1 / (n0 + n1)))) / 256
        tot += -n1 * math.log2(p1) - n0 * math.log2(1 - p1)
    return tot


def run_case(m, bits, sp):
    q, pkg = get(m, bits, sp)
    n = sum(v.size for v in q.values())
    d, evs = package_events(q, pkg, check=False)
    lens = [t.lengths.astype(np.int64) for t in d.tables]
    tb = 0
    for t in d.tables:
        b = bytearray()
        t.to_bytes(b)
        tb += 8 * len(b)
    code = 0.0
    nsign = 0
    ad = {}
    params = [(256, 32), (1024, 32), (64, 16)]
    ct_a = np.zeros(5)
    ct_s = 0.0
    ct2_a = np.zeros(5)
    ct2_s = 0.0
    ct3_a = np.zeros(5)
    ct3_s = 0.0
    side3 = 0
    per_tensor = {}
    for e, ev in zip(d.tensors, evs):
        if ev is None:
            continue
        x = q[e.name].reshape(-1).astype(np.int64) - e.value_offset
        val = ev["kind"] == 2
        nsign += int(val.sum())
        ctx = tensor_contexts(x, e.shape, ev)
        ctx["none"] = np.zeros(ev["sym"].size, np.int64)
        tabs = np.unique(ev["tab"])
        code += float(sum(lens[t][ev["sym"][ev["tab"] == t]].sum() for t in tabs))
        nsym = max(d.tables[t].nsym for t in tabs)
        jsym = ev["sym"] * 2 + np.where(val, ev["sgn"], 0)
        for c in CTXS + list(JOINT):
            joint = c in JOINT
            arr = ctx[JOINT[c]] if joint else ctx[c]
            key = ev["tab"] * 64 + arr
            uk, kinv = np.unique(key, return_inverse=True)
            ns = 2 * nsym if joint else nsym
            prior = np.zeros((uk.size, ns))
            for i, kv in enumerate(uk):
                L = lens[kv // 64]
                p = np.where(L > 0, np.exp2(-L.astype(np.float64)), 0.0)
                if joint:
                    pj = np.repeat(p, 2) / 2
                    pj[1] = 0.0          # EOB has no sign
                    pj[3] = 0.0          # ESC has no sign
                    pj[0] = p[0]
                    pj[2] = p[1]
                    prior[i, :pj.size] = pj
                else:
                    prior[i, :p.size] = p
            prior = np.maximum(prior, 1e-9) / np.maximum(prior, 1e-9).sum(1, keepdims=True)
            for W, inc in params:
                k = f"{c}|W{W}|inc{inc}"
                ad[k] = ad.get(k, 0.0) + adaptive_prior_cost(kinv.astype(np.int64), jsym if joint else ev["sym"],
                                                             prior, float(W), float(inc), 65536.0)
        row = int(np.prod(e.shape[1:])) if len(e.shape) >= 2 else x.size
        kk = int(np.prod(e.shape[2:])) if len(e.shape) >= 3 else 1
        unit = kk if kk > 1 else row
        maxc = max(1, int(np.abs(x).max()).bit_length())
        o_a = class_tree_cost(x, row, unit, 0, maxc, True, np.zeros((1, 2), np.int64))
        ct_a += o_a
        cnt = np.zeros((2048, 2), np.int64)
        o = class_tree_cost(x, row, unit, 0, maxc, False, cnt)
        used = (cnt.sum(1) > 0).sum()
        t_s = quantized_binary_bits(cnt) + 8 * used + o[3]
        ct_s += t_s
        per_tensor[e.name] = [float(o_a.sum()), float(t_s)]
        W = e.shape[-1] if (len(e.shape) >= 3 and kk > 1) else 0
        o_a = class_tree2_cost(x, row, unit, W, maxc, True, np.zeros((1, 2), np.int64))
        ct2_a += o_a
        cnt = np.zeros((16384, 2), np.int64)
        o = class_tree2_cost(x, row, unit, W, maxc, False, cnt)
        used = (cnt.sum(1) > 0).sum()
        t_s = quantized_binary_bits(cnt) + 8 * used + o[3]
        ct2_s += t_s
        per_tensor[e.name] += [float(o_a.sum()), float(t_s)]
        cbk = row_buckets(x, row) if x.size % row == 0 else np.zeros(1, np.int64)
        side3 += 3 * cbk.size
        ct3_a += class_tree3_cost(x, row, unit, W, maxc, cbk, True, np.zeros((1, 2), np.int64))
        cnt = np.zeros((8192, 2), np.int64)
        o = class_tree3_cost(x, row, unit, W, maxc, cbk, False, cnt)
        used = (cnt.sum(1) > 0).sum()
        ct3_s += quantized_binary_bits(cnt) + 8 * used + o[3]
    pkg_bits = 8.0 * len(pkg)
    rest = pkg_bits - code            # tables stay (they are the priors)
    res = dict(model=m, bits=bits, sparsity=sp, params=n, bpp_today=pkg_bits / n,
               competitors=competitors(m, bits, sp), prior_adaptive={},
               per_tensor_bits=per_tensor)   # name: [tree adaptive, tree static, tree2 adaptive, tree2 static]
    for k, v in ad.items():
        c = k.split("|")[0]
        res["prior_adaptive"][k] = (rest - (nsign if c in JOINT else 0) + v) / n
    # class-tree replaces the whole payload's value coding: tables, symbol codes, remainders,
    # signs and EOB; keep directory and group tables as an overhead estimate
    overhead = 8.0 * (32 + d.directory_length + sum(e.group_table_bytes for e in d.tensors)) - tb
    res["class_tree"] = dict(adaptive_payload_bpp=float(ct_a.sum()) / n,
                             adaptive_parts_bpp=(ct_a / n).tolist(),
                             static_payload_bpp=ct_s / n,
                             adaptive_pkg_bpp=(overhead + ct_a.sum()) / n,
                             static_pkg_bpp=(overhead + ct_s) / n)
    res["class_tree3"] = dict(adaptive_payload_bpp=float(ct3_a.sum() + side3) / n,
                              static_payload_bpp=(ct3_s + side3) / n,
                              adaptive_pkg_bpp=(overhead + ct3_a.sum() + side3) / n,
                              static_pkg_bpp=(overhead + ct3_s + side3) / n)
    res["class_tree2"] = dict(adaptive_payload_bpp=float(ct2_a.sum()) / n,
                              adaptive_parts_bpp=(ct2_a / n).tolist(),
                              static_payload_bpp=ct2_s / n,
                              adaptive_pkg_bpp=(overhead + ct2_a.sum()) / n,
                              static_pkg_bpp=(overhead + ct2_s) / n)
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", nargs="*", default=MODELS)
    a = ap.parse_args()
    jpath = ROOT / "benchmarks" / "results" / "experiments_adaptive.json"
    rows = json.loads(jpath.read_text()) if jpath.exists() else []
    rows = [r for r in rows if r["model"] not in a.models]
    for m, b, s in all_cases(a.models):
        t0 = time.time()
        r = run_case(m, b, s)
        rows.append(r)
        pa = r["prior_adaptive"]
        best = min(pa, key=pa.get)
        print(f"{SHORT[m]:10s} {b}/{s}: today {r['bpp_today']:.3f} prior-adaptive none "
              f"{pa['none|W256|inc32']:.3f} best {best} {pa[best]:.3f}; class-tree pkg adaptive "
              f"{r['class_tree']['adaptive_pkg_bpp']:.3f} static {r['class_tree']['static_pkg_bpp']:.3f}; tree2 "
              f"{r['class_tree2']['adaptive_pkg_bpp']:.3f} / {r['class_tree2']['static_pkg_bpp']:.3f}; tree3 "
              f"{r['class_tree3']['adaptive_pkg_bpp']:.3f} / {r['class_tree3']['static_pkg_bpp']:.3f}"
              f"  ({time.time()-t0:.0f}s)", flush=True)
    order = {(m, b, s): i for i, (m, b, s) in enumerate(all_cases())}
    rows.sort(key=lambda r: order[(r["model"], r["bits"], r["sparsity"])])
    jpath.write_text(json.dumps(rows, indent=1, default=float))


if __name__ == "__main__":
    main()
