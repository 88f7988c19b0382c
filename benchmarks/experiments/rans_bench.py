"""Real rANS coders vs codec's Huffman decoder: sizes and single-thread decode speed.

    cd /work/main && PYTHONPATH=/work/main nice -n 15 python3 benchmarks/experiments/rans_bench.py \
        [--models m ...] [--configs 8/0 4/0.9 ...] [--reps 7] [--chunk 4096]

For each model x config: quantize (benchmarks/recipe.quantized_model), codec.pack (today's
default writer), then
  (a) rans_sets: codec's own groups and table choice, (run, class) symbols with rANS-12
  (b) rans_p3:   per-value class-tree model (adaptive.py class_tree2) with rANS, chunks of
                 about --chunk values cut at kernel-patch (or row) boundaries
are encoded for real (rans_coder.py), decoded, and checked equal to the integers.  Sizes:
today's package with its payload, group tables and Huffman tables replaced by the coder's
streams, length fields and frequency tables.  Speed: codec's serial decode kernels replayed
with the exact arguments codec.unpack gives them (NUMBA_NUM_THREADS=1), and the two rANS
decoders, interleaved in one process, best of --reps; codec.unpack (whole call) as well.

Writes benchmarks/results/experiments_rans.{json,md} (with --out-tag, a variant file).
"""
import os

os.environ["NUMBA_NUM_THREADS"] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from common import ROOT, SHORT, package_events, rans_table_bits  # noqa: E402
import codec  # noqa: E402
import codec.package as cpkg  # noqa: E402
from benchmarks.recipe import quantized_model  # noqa: E402
import rans_coder as rc  # noqa: E402

MODELS = ["mtcnn_facenet_pytorch", "nudenet_yolov8n_320", "silero_vad_16k"]
CONFIGS = [(8, 0.0), (8, 0.5), (4, 0.0), (4, 0.9)]


def codec_kernel_jobs(pkg):
    """Run codec.unpack once with the decode kernels wrapped; return the (kernel, args, q0,
    q1) calls it made (serial: NUMBA_NUM_THREADS=1) and the unpacked dict."""
    calls = []
    real = {}

    def wrap(name):
        k = getattr(cpkg, name)
        real[name] = k

        def w(*a):
            calls.append((k, a[:-2], a[-2], a[-1]))
            return k(*a)
        return w
    for nm in ("decode_groups", "decode_groups_multi"):
        setattr(cpkg, nm, wrap(nm))
    try:
        res = codec.unpack(pkg)
    finally:
        for nm, k in real.items():
            setattr(cpkg, nm, k)
    return calls, res


def time_codec_kernels(calls):
    t0 = time.perf_counter()
    for k, a, q0, q1 in calls:
        k(*a, q0, q1)
    return time.perf_counter() - t0


def entry_geom(shape, n):
    nd = len(shape)
    row = int(np.prod(shape[1:])) if nd >= 2 else n
    kk = int(np.prod(shape[2:])) if nd >= 3 else 1
    unit = kk if kk > 1 else row
    W = shape[-1] if (nd >= 3 and kk > 1) else 0
    return max(unit, 1), W


def ideal_bits(of, os_, k):
    f = of[:k].astype(np.float64)
    return float((os_[:k] - np.log2(f)).sum())


def run_case(m, bits, sp, reps, chunk):
    q = quantized_model(m, bits, sp)
    pkg = codec.pack(q)
    d, evs = package_events(q, pkg, check=True)
    n = sum(v.size for v in q.values())
    v1_tab = 0
    for t in d.tables:
        b = bytearray()
        t.to_bytes(b)
        v1_tab += len(b)
    removed = v1_tab + sum(e.payload_bytes + e.group_table_bytes for e in d.tensors)
    flat_ref = np.concatenate([q[e.name].reshape(-1) for e in d.tensors])
    dtype = flat_ref.dtype
    ents = list(d.tensors)

    # ---------------- (a) rANS on today's (run, class) symbols --------------------------------
    T = len(d.tables)
    nsym_max = max(t.nsym for t in d.tables)
    counts = np.zeros((T, nsym_max), np.int64)
    for ev in evs:
        if ev is not None:
            np.add.at(counts, (ev["tab"], ev["sym"]), 1)
    freqs = np.zeros((T, nsym_max), np.int64)
    cums = np.zeros((T, nsym_max), np.int64)
    luts_a = np.zeros((T, rc.PROB_SCALE), np.uint64)
    tab_bits_a = 0.0
    for t, tb in enumerate(d.tables):
        if counts[t].sum() == 0:
            continue
        freqs[t] = rc.normalize_counts(counts[t])
        luts_a[t], cums[t] = rc.build_sets_table(freqs[t], tb.kref, tb.nrun)
        tab_bits_a += rans_table_bits(counts[t])[1]
    glo_l, tid_l, ost_l, ocn_l, vo_l = [], [], [], [], []
    outbuf = np.zeros(16 + 2 * len(pkg) + 64 * sum(e.n_groups for e in ents), np.uint8)
    outbuf1 = np.zeros_like(outbuf)
    opos = 0
    opos1 = 0
    glo1_l = []
    gt_bytes_a = 0
    gt_bytes_a1 = 0
    ideal_a = 0.0
    per_tensor_a = {}
    base = 0
    for e, ev in zip(ents, evs):
        if ev is None:
            base += e.numel
            per_tensor_a[e.name] = 0
            continue
        ne = ev["kind"].size
        of = np.empty(2 * ne, np.int64)
        oc = np.empty(2 * ne, np.int64)
        os_ = np.empty(2 * ne, np.int64)
        k = rc.sets_ops(ev["kind"], ev["sym"], ev["tab"], ev["mag"], ev["sgn"].astype(np.int64),
                        ev["ebits"], freqs, cums, of, oc, os_)
        ideal_a += ideal_bits(of, os_, k)
        nops = 1 + (ev["kind"] == 2)
        gops = np.bincount(ev["grp"], weights=nops, minlength=e.n_groups).astype(np.int64)
        gb = np.concatenate(([0], np.cumsum(gops)))
        t_start = opos
        glen = []
        glen1 = []
        for g in range(e.n_groups):
            glo_l.append(opos)
            p2 = rc.encode_ops(of, oc, os_, gb[g], gb[g + 1], outbuf, opos, 2)
            glen.append(p2 - opos)
            opos = p2
            glo1_l.append(opos1)
            p2 = rc.encode_ops(of, oc, os_, gb[g], gb[g + 1], outbuf1, opos1, 1)
            glen1.append(p2 - opos1)
            opos1 = p2
            tid_l.append(ev["gtab"][g])
            lo = g * e.group_size
            ost_l.append(base + lo)
            ocn_l.append(min(e.numel, lo + e.group_size) - lo)
            vo_l.append(e.value_offset)
        lb = max(1, int(max(glen)).bit_length())
        gtb = (e.n_groups * (e.tid_bits + lb) + 7) // 8
        gt_bytes_a += gtb
        gt_bytes_a1 += (e.n_groups * (e.tid_bits + max(1, int(max(glen1)).bit_length())) + 7) // 8
        per_tensor_a[e.name] = opos - t_start + gtb
        base += e.numel
    stream_a = outbuf[:opos + 16].copy()
    pay_a = opos
    ga = [np.array(z, np.int64) for z in (glo_l, tid_l, ost_l, ocn_l, vo_l)]
    out_a = np.zeros(n, dtype)
    rc.decode_sets(stream_a, *ga, luts_a, out_a)
    assert np.array_equal(out_a, flat_ref), "rans_sets round trip"
    size_a = len(pkg) - removed + pay_a + gt_bytes_a + math.ceil(tab_bits_a / 8)
    # (a') split: rANS symbols + raw bit stream per group
    outs = np.zeros(16 + 2 * len(pkg) + 64 * sum(e.n_groups for e in ents), np.uint8)
    pos_s = 0
    glo_s, rlo_s = [], []
    gt_bytes_s = 0
    for e, ev in zip(ents, evs):
        if ev is None:
            continue
        ne = ev["kind"].size
        of, oc, os_, rv, rn = (np.empty(ne, np.int64) for _ in range(5))
        rc.sets_ops_split(ev["kind"], ev["sym"], ev["tab"], ev["mag"], ev["sgn"].astype(np.int64),
                          ev["ebits"], freqs, cums, of, oc, os_, rv, rn)
        gb = np.concatenate(([0], np.cumsum(np.bincount(ev["grp"], minlength=e.n_groups))))
        glen = []
        for g in range(e.n_groups):
            glo_s.append(pos_s)
            p2 = rc.encode_ops(of, oc, os_, gb[g], gb[g + 1], outs, pos_s, 2)
            rlo_s.append(p2)
            p3 = rc.pack_bits(rv, rn, gb[g], gb[g + 1], outs, p2)
            glen.append(p3 - pos_s)
            pos_s = p3
        gt_bytes_s += (e.n_groups * (e.tid_bits + max(1, int(max(glen)).bit_length())) + 7) // 8
    stream_s = outs[:pos_s + 16].copy()
    gs = [np.array(glo_s, np.int64), np.array(rlo_s, np.int64)] + ga[1:]
    out_s = np.zeros(n, dtype)
    rc.decode_sets_split(stream_s, *gs, luts_a, out_s)
    assert np.array_equal(out_s, flat_ref), "rans_sets split round trip"
    size_s = len(pkg) - removed + pos_s + gt_bytes_s + math.ceil(tab_bits_a / 8)
    # (a'') merged: consecutive groups of a tensor share one stream of >= chunk values (one
    # state pair flush + one length field per stream; table id still per group)
    outm = np.zeros(16 + 2 * len(pkg) + 64 * sum(e.n_groups for e in ents), np.uint8)
    pos_m = 0
    slo, srlo, sg0, sg1 = [], [], [], []
    gt_bytes_m = 0
    gbase = 0
    per_tensor_m = {}
    for e, ev in zip(ents, evs):
        if ev is None:
            per_tensor_m[e.name] = 0
            continue
        ne = ev["kind"].size
        of, oc, os_, rv, rn = (np.empty(ne, np.int64) for _ in range(5))
        rc.sets_ops_split(ev["kind"], ev["sym"], ev["tab"], ev["mag"], ev["sgn"].astype(np.int64),
                          ev["ebits"], freqs, cums, of, oc, os_, rv, rn)
        gb = np.concatenate(([0], np.cumsum(np.bincount(ev["grp"], minlength=e.n_groups))))
        per = max(1, -(-chunk // e.group_size))
        slen = []
        t_start = pos_m
        for g0 in range(0, e.n_groups, per):
            g1 = min(e.n_groups, g0 + per)
            slo.append(pos_m); sg0.append(gbase + g0); sg1.append(gbase + g1)
            p2 = rc.encode_ops(of, oc, os_, gb[g0], gb[g1], outm, pos_m, 2)
            srlo.append(p2)
            p3 = rc.pack_bits(rv, rn, gb[g0], gb[g1], outm, p2)
            slen.append(p3 - pos_m)
            pos_m = p3
        gtb = (e.n_groups * e.tid_bits + (len(slen) * max(1, int(max(slen)).bit_length()) if len(slen) > 1 else 0) + 7) // 8
        gt_bytes_m += gtb
        per_tensor_m[e.name] = pos_m - t_start + gtb
        gbase += e.n_groups
    stream_m = outm[:pos_m + 16].copy()
    gm = [np.array(z, np.int64) for z in (slo, srlo, sg0, sg1)] + ga[1:]
    out_m = np.zeros(n, dtype)
    rc.decode_sets_merged(stream_m, *gm, luts_a, out_m)
    assert np.array_equal(out_m, flat_ref), "rans_sets merged round trip"
    size_m = len(pkg) - removed + pos_m + gt_bytes_m + math.ceil(tab_bits_a / 8)
    stream_a1 = outbuf1[:opos1 + 16].copy()
    ga1 = [np.array(glo1_l, np.int64)] + ga[1:]
    out_a1 = np.zeros(n, dtype)
    rc.decode_sets_lanes(stream_a1, *ga1, luts_a, out_a1)
    assert np.array_equal(out_a1, flat_ref), "rans_sets lanes round trip"
    size_a1 = len(pkg) - removed + opos1 + gt_bytes_a1 + math.ceil(tab_bits_a / 8)

    # ---------------- (b) P3 per-value class tree ---------------------------------------------
    cls_f, cls_c, man_f, man_c, sgn_f1, lut_l, unit_l, w_l = [], [], [], [], [], [], [], []
    p3_tabs = []
    clo_l, ctid_l, cst_l, ccn_l, cvo_l = [], [], [], [], []
    outbuf = np.zeros(16 + 2 * len(pkg) + 64 * n // 256 + 64 * 1024, np.uint8)
    outbuf1 = np.zeros_like(outbuf)
    opos = 0
    opos1 = 0
    clo1_l = []
    ct_bytes_b1 = 0
    tab_bits_b = 0
    ct_bytes_b = 0
    ideal_b = 0.0
    per_tensor_b = {}
    base = 0
    for ti, e in enumerate(ents):
        x = q[e.name].reshape(-1).astype(np.int64) - e.value_offset
        unit, W = entry_geom(e.shape, x.size)
        assert x.size == 0 or int(np.abs(x).max()) < 128
        tabs = rc.P3Tables(x, unit, W) if x.size else None
        if tabs is None:
            tabs = rc.P3Tables(np.zeros(1, np.int64), 1, 0)
        p3_tabs.append(tabs)
        cls_f.append(tabs.cls_f); cls_c.append(tabs.cls_c); man_f.append(tabs.man_f)
        man_c.append(tabs.man_c); sgn_f1.append(tabs.sgn_f1); lut_l.append(tabs.luts())
        unit_l.append(unit); w_l.append(W)
        if x.size == 0:
            per_tensor_b[e.name] = 0
            continue
        tab_bits_b += tabs.table_bits
        csz = unit * max(1, chunk // unit)
        of = np.empty(4 * x.size + 4, np.int64)
        oc = np.empty(4 * x.size + 4, np.int64)
        os_ = np.empty(4 * x.size + 4, np.int64)
        t_start = opos
        clen = []
        clen1 = []
        for lo in range(0, x.size, csz):
            hi = min(x.size, lo + csz)
            k = rc.p3_ops(x, unit, W, lo, hi, tabs.cls_f, tabs.cls_c, tabs.man_f, tabs.man_c,
                          tabs.sgn_f1, of, oc, os_, 0)
            ideal_b += ideal_bits(of, os_, k)
            clo_l.append(opos)
            p2 = rc.encode_ops(of, oc, os_, 0, k, outbuf, opos, 2)
            clen.append(p2 - opos)
            opos = p2
            clo1_l.append(opos1)
            p2 = rc.encode_ops(of, oc, os_, 0, k, outbuf1, opos1, 1)
            clen1.append(p2 - opos1)
            opos1 = p2
            ctid_l.append(ti); cst_l.append(base + lo); ccn_l.append(hi - lo)
            cvo_l.append(e.value_offset)
        ctb = (len(clen) * max(1, int(max(clen)).bit_length()) + 7) // 8 if len(clen) > 1 else 0
        ct_bytes_b += ctb
        ct_bytes_b1 += (len(clen1) * max(1, int(max(clen1)).bit_length()) + 7) // 8 if len(clen1) > 1 else 0
        per_tensor_b[e.name] = opos - t_start + ctb + (tabs.table_bits + 7) // 8
        base += e.numel
    stream_b = outbuf[:opos + 16].copy()
    pay_b = opos
    gb_ = [np.array(z, np.int64) for z in (clo_l, ctid_l, cst_l, ccn_l, cvo_l)]
    P3args = (np.array(unit_l, np.int64), np.array(w_l, np.int64), np.concatenate(lut_l),
              np.concatenate(cls_f), np.concatenate(cls_c), np.concatenate(man_f),
              np.concatenate(man_c), np.concatenate(sgn_f1))
    out_b = np.zeros(n, dtype)
    rc.decode_p3(stream_b, *gb_, *P3args, out_b)
    assert np.array_equal(out_b, flat_ref), "rans_p3 round trip"
    size_b = len(pkg) - removed + pay_b + ct_bytes_b + math.ceil(tab_bits_b / 8) + len(ents)
    # (b') P3 split: raw low bits in a separate stream per chunk
    outs = np.zeros(16 + 2 * len(pkg) + 64 * n // 256 + 64 * 1024, np.uint8)
    pos_s = 0
    clo_s, rlo_s = [], []
    ct_bytes_ps = 0
    per_tensor_ps = {}
    for ti, e in enumerate(ents):
        x = q[e.name].reshape(-1).astype(np.int64) - e.value_offset
        if x.size == 0:
            per_tensor_ps[e.name] = 0
            continue
        unit, W = int(P3args[0][ti]), int(P3args[1][ti])
        tabs = p3_tabs[ti]
        csz = unit * max(1, chunk // unit)
        of, oc, os_ = (np.empty(4 * x.size + 4, np.int64) for _ in range(3))
        rv, rn = (np.empty(x.size + 1, np.int64) for _ in range(2))
        clen = []
        t_start = pos_s
        for lo in range(0, x.size, csz):
            hi = min(x.size, lo + csz)
            k, r = rc.p3_ops_split(x, unit, W, lo, hi, tabs.cls_f, tabs.cls_c, tabs.man_f,
                                   tabs.man_c, tabs.sgn_f1, of, oc, os_, rv, rn)
            clo_s.append(pos_s)
            p2 = rc.encode_ops(of, oc, os_, 0, k, outs, pos_s, 2)
            rlo_s.append(p2)
            p3 = rc.pack_bits(rv, rn, 0, r, outs, p2)
            clen.append(p3 - pos_s)
            pos_s = p3
        ctb = (len(clen) * max(1, int(max(clen)).bit_length()) + 7) // 8 if len(clen) > 1 else 0
        ct_bytes_ps += ctb
        per_tensor_ps[e.name] = pos_s - t_start + ctb + (tabs.table_bits + 7) // 8
    stream_ps = outs[:pos_s + 16].copy()
    gps = [np.array(clo_s, np.int64), np.array(rlo_s, np.int64)] + gb_[1:]
    out_ps = np.zeros(n, dtype)
    rc.decode_p3_split(stream_ps, *gps, *P3args, out_ps)
    assert np.array_equal(out_ps, flat_ref), "rans_p3 split round trip"
    size_ps = len(pkg) - removed + pos_s + ct_bytes_ps + math.ceil(tab_bits_b / 8) + len(ents)
    # (b'') same with one state per chunk, two chunks in turn
    outl = np.zeros_like(outs)
    pos_l = 0
    clo_l2, rlo_l2 = [], []
    ct_bytes_pl = 0
    for ti, e in enumerate(ents):
        x = q[e.name].reshape(-1).astype(np.int64) - e.value_offset
        if x.size == 0:
            continue
        unit, W = int(P3args[0][ti]), int(P3args[1][ti])
        tabs = p3_tabs[ti]
        csz = unit * max(1, chunk // unit)
        of, oc, os_ = (np.empty(4 * x.size + 4, np.int64) for _ in range(3))
        rv, rn = (np.empty(x.size + 1, np.int64) for _ in range(2))
        clen = []
        for lo in range(0, x.size, csz):
            hi = min(x.size, lo + csz)
            k, r = rc.p3_ops_split(x, unit, W, lo, hi, tabs.cls_f, tabs.cls_c, tabs.man_f,
                                   tabs.man_c, tabs.sgn_f1, of, oc, os_, rv, rn)
            clo_l2.append(pos_l)
            p2 = rc.encode_ops(of, oc, os_, 0, k, outl, pos_l, 1)
            rlo_l2.append(p2)
            p3 = rc.pack_bits(rv, rn, 0, r, outl, p2)
            clen.append(p3 - pos_l)
            pos_l = p3
        ct_bytes_pl += (len(clen) * max(1, int(max(clen)).bit_length()) + 7) // 8 if len(clen) > 1 else 0
    stream_pl = outl[:pos_l + 16].copy()
    gpl = [np.array(clo_l2, np.int64), np.array(rlo_l2, np.int64)] + gb_[1:]
    out_pl = np.zeros(n, dtype)
    rc.decode_p3_split_lanes(stream_pl, *gpl, *P3args, out_pl)
    assert np.array_equal(out_pl, flat_ref), "rans_p3 split lanes round trip"
    out_pl2 = np.zeros(n, dtype)
    rc.decode_p3_split_lanes2(stream_pl, *gpl, *P3args, out_pl2)
    assert np.array_equal(out_pl2, flat_ref), "rans_p3 split lanes2 round trip"
    size_pl = len(pkg) - removed + pos_l + ct_bytes_pl + math.ceil(tab_bits_b / 8) + len(ents)
    # per-tensor mix of the merged-sets and split-P3 coders
    mix_s = len(pkg) - removed + math.ceil(tab_bits_a / 8) + len(ents) + sum(
        min(per_tensor_m[k], per_tensor_ps[k]) if per_tensor_m[k] else per_tensor_ps[k]
        for k in per_tensor_a)
    stream_b1 = outbuf1[:opos1 + 16].copy()
    gb1 = [np.array(clo1_l, np.int64)] + gb_[1:]
    out_b1 = np.zeros(n, dtype)
    rc.decode_p3_lanes(stream_b1, *gb1, *P3args, out_b1)
    assert np.array_equal(out_b1, flat_ref), "rans_p3 lanes round trip"
    size_b1 = len(pkg) - removed + opos1 + ct_bytes_b1 + math.ceil(tab_bits_b / 8) + len(ents)
    # per-tensor mix: each tensor takes its smaller block (sets tables kept whole, 1 mode byte)
    mix = len(pkg) - removed + math.ceil(tab_bits_a / 8) + len(ents) + sum(
        min(per_tensor_a[k], per_tensor_b[k]) if per_tensor_a[k] else per_tensor_b[k]
        for k in per_tensor_a)
    n_p3_split_tensors = sum(1 for k in per_tensor_m if per_tensor_m[k] and per_tensor_ps[k] < per_tensor_m[k])
    p3_params = sum(q[k].size for k in per_tensor_m if not per_tensor_m[k] or per_tensor_ps[k] < per_tensor_m[k])
    n_p3_tensors = sum(1 for k in per_tensor_a if per_tensor_a[k] and per_tensor_b[k] < per_tensor_a[k])

    # ---------------- timing: interleaved, best of reps ----------------------------------------
    # table builds: sets LUTs from frequencies + per-symbol meaning; P3 slot->symbol LUTs
    meta_a = luts_a & ~np.uint64((1 << 25) - 1)          # kind / run / e / base of each slot
    meta_sym = np.zeros((T, nsym_max), np.uint64)
    for t in range(T):
        nz = np.flatnonzero(freqs[t])
        if nz.size:
            meta_sym[t, nz] = meta_a[t, cums[t, nz]]
    luts_chk = np.zeros_like(luts_a)
    rc.fill_sets_luts(freqs, meta_sym, luts_chk)
    assert np.array_equal(luts_chk, luts_a)
    lut_p3 = P3args[2]
    f_p3 = np.zeros((lut_p3.shape[0], 10), np.int64)
    NL = rc.NCLS + rc.NMAN
    for ti in range(len(ents)):
        f_p3[ti * NL:ti * NL + rc.NCLS] = P3args[3][ti * rc.NCLS:(ti + 1) * rc.NCLS]
        f_p3[ti * NL + rc.NCLS:(ti + 1) * NL, :4] = P3args[5][ti * rc.NMAN:(ti + 1) * rc.NMAN]
    lut_chk = np.zeros_like(lut_p3)
    rc.fill_u8_luts(f_p3, lut_chk)
    assert np.array_equal(lut_chk, lut_p3)
    calls, res = codec_kernel_jobs(pkg)
    for k_ in q:
        assert np.array_equal(res[k_], q[k_])
    tm = {"codec_kernel": [], "codec_unpack": [], "rans_sets": [], "rans_p3": [],
          "rans_sets_lanes": [], "rans_p3_lanes": [], "rans_sets_split": [], "rans_p3_split": [],
          "rans_sets_merged": [], "rans_p3_split_lanes": [], "rans_p3_split_lanes2": [],
          "build_sets_luts": [], "build_p3_luts": []}
    for _ in range(reps):
        tm["codec_kernel"].append(time_codec_kernels(calls))
        t0 = time.perf_counter()
        rc.decode_sets(stream_a, *ga, luts_a, out_a)
        tm["rans_sets"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        rc.decode_p3(stream_b, *gb_, *P3args, out_b)
        tm["rans_p3"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        rc.decode_sets_split(stream_s, *gs, luts_a, out_s)
        tm["rans_sets_split"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        rc.decode_p3_split(stream_ps, *gps, *P3args, out_ps)
        tm["rans_p3_split"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        rc.decode_sets_merged(stream_m, *gm, luts_a, out_m)
        tm["rans_sets_merged"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        rc.decode_p3_split_lanes(stream_pl, *gpl, *P3args, out_pl)
        tm["rans_p3_split_lanes"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        rc.decode_p3_split_lanes2(stream_pl, *gpl, *P3args, out_pl2)
        tm["rans_p3_split_lanes2"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        rc.decode_sets_lanes(stream_a1, *ga1, luts_a, out_a1)
        tm["rans_sets_lanes"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        rc.decode_p3_lanes(stream_b1, *gb1, *P3args, out_b1)
        tm["rans_p3_lanes"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        rc.fill_sets_luts(freqs, meta_sym, luts_chk)
        tm["build_sets_luts"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        rc.fill_u8_luts(f_p3, lut_chk)
        tm["build_p3_luts"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        codec.unpack(pkg)
        tm["codec_unpack"].append(time.perf_counter() - t0)
    for o in (out_a, out_b, out_a1, out_b1, out_s, out_ps, out_m, out_pl, out_pl2):
        assert np.array_equal(o, flat_ref)
    best = {k: min(v) for k, v in tm.items()}
    mps = {k: n / v / 1e6 for k, v in best.items() if not k.startswith("build")}
    mps["rans_sets_merged_with_build"] = n / (best["rans_sets_merged"] + best["build_sets_luts"]) / 1e6
    mps["rans_p3_split_with_build"] = n / (best["rans_p3_split"] + best["build_p3_luts"]) / 1e6
    return dict(
        model=m, bits=bits, sparsity=sp, params=n, reps=reps, chunk=chunk,
        bpp={"codec": 8 * len(pkg) / n, "rans_sets": 8 * size_a / n, "rans_p3": 8 * size_b / n,
             "rans_sets_lanes": 8 * size_a1 / n, "rans_p3_lanes": 8 * size_b1 / n,
             "rans_sets_split": 8 * size_s / n, "rans_p3_split": 8 * size_ps / n,
             "mix_split": 8 * mix_s / n, "rans_sets_merged": 8 * size_m / n,
             "rans_p3_split_lanes": 8 * size_pl / n,
             "mix_sets_p3": 8 * mix / n},
        bytes={"codec": len(pkg), "rans_sets": size_a, "rans_p3": size_b,
               "rans_sets_lanes": size_a1, "rans_p3_lanes": size_b1, "rans_sets_split": size_s,
               "rans_p3_split": size_ps, "mix_split": mix_s, "rans_sets_merged": size_m,
               "rans_p3_split_lanes": size_pl,
               "mix_sets_p3": mix},
        parts={"v1_tables": v1_tab, "v1_payload_and_group_tables": removed - v1_tab,
               "sets_payload": pay_a, "sets_group_tables": gt_bytes_a,
               "sets_freq_tables": math.ceil(tab_bits_a / 8), "sets_ideal_payload_bytes": ideal_a / 8,
               "sets_groups": len(glo_l),
               "p3_payload": pay_b, "p3_chunk_tables": ct_bytes_b,
               "p3_model_tables": math.ceil(tab_bits_b / 8), "p3_ideal_payload_bytes": ideal_b / 8,
               "p3_chunks": len(clo_l), "mix_p3_tensors": n_p3_tensors, "mix_split_p3_tensors": n_p3_split_tensors, "mix_split_p3_params": p3_params,
               "merged_streams": len(slo), "merged_payload": pos_m, "merged_group_tables": gt_bytes_m, "tensors": len(ents)},
        decode_s=best, mparams_s=mps,
        ratio_to_codec_kernel={k: mps[k] / mps["codec_kernel"] for k in mps},
        round_trip_ok=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", nargs="*", default=MODELS)
    ap.add_argument("--configs", nargs="*", default=[f"{b}/{s:g}" for b, s in CONFIGS])
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--chunk", type=int, default=4096)
    ap.add_argument("--out-tag", default="")
    a = ap.parse_args()
    cfgs = [(int(c.split("/")[0]), float(c.split("/")[1])) for c in a.configs]
    jpath = ROOT / "benchmarks" / "results" / "experiments_rans.json"
    if a.out_tag:  # scratch runs stay out of the repository
        os.makedirs("/tmp/rans", exist_ok=True)
        jpath = type(jpath)(f"/tmp/rans/experiments_rans{a.out_tag}.json")
    doc = json.loads(jpath.read_text()) if jpath.exists() else {}
    if isinstance(doc, list):
        doc = {"rows": doc}
    rows = doc.get("rows", [])
    for m in a.models:
        for b, s in cfgs:
            t0 = time.time()
            r = run_case(m, b, s, a.reps, a.chunk)
            rows = [x for x in rows if (x["model"], x["bits"], x["sparsity"]) != (m, b, s)]
            rows.append(r)
            bp, mp = r["bpp"], r["mparams_s"]
            print(f"{SHORT[m]:8s} {b}/{s}: b/p codec {bp['codec']:.3f} sets {bp['rans_sets']:.3f} "
                  f"p3 {bp['rans_p3']:.3f} mix {bp['mix_sets_p3']:.3f} | Mp/s codec-kernel "
                  f"{mp['codec_kernel']:.0f} unpack {mp['codec_unpack']:.0f} sets {mp['rans_sets']:.0f}"
                  f"/{mp['rans_sets_lanes']:.0f} p3 {mp['rans_p3']:.0f}/{mp['rans_p3_lanes']:.0f}"
                  f"  [lanes b/p sets {bp['rans_sets_lanes']:.3f} p3 {bp['rans_p3_lanes']:.3f}]"
                  f" split {bp['rans_sets_split']:.3f} {mp['rans_sets_split']:.0f} Mp/s"
                  f" p3split {bp['rans_p3_split']:.3f} {mp['rans_p3_split']:.0f} Mp/s mix {bp['mix_split']:.3f}"
                  f" merged {bp['rans_sets_merged']:.3f} {mp['rans_sets_merged']:.0f} Mp/s"
                  f" p3splitlanes {bp['rans_p3_split_lanes']:.3f} {mp['rans_p3_split_lanes']:.0f}/{mp['rans_p3_split_lanes2']:.0f} Mp/s"
                  f" +build: merged {mp['rans_sets_merged_with_build']:.0f} p3 {mp['rans_p3_split_with_build']:.0f}"
                  f"  ({time.time() - t0:.0f}s)", flush=True)
            order = {(mm, bb, ss): i for i, (mm, (bb, ss)) in
                     enumerate((mm, c) for mm in MODELS for c in CONFIGS)}
            rows.sort(key=lambda x: order.get((x["model"], x["bits"], x["sparsity"]), 99))
            doc["rows"] = rows
            jpath.write_text(json.dumps(doc, indent=1, default=float))


if __name__ == "__main__":
    main()
