"""Combine the measured parts into predicted package sizes per candidate and rank them.

    nice -n 15 python3 benchmarks/experiments/summary.py

Reads benchmarks/results/experiments_{breakdown,contexts,adaptive,directory}.json (run
breakdown.py, contexts.py, adaptive.py, directory.py first) and writes
benchmarks/results/experiments_summary.{json,md}.  Every candidate's figure is a measured code
length of today's integers with today's package around it; the combinations add parts that act
on disjoint bits (symbol codes + tables / sign bits / directory bytes), so they add exactly.
"""
import json

from common import ROOT, SHORT, all_cases

R = ROOT / "benchmarks" / "results"
load = lambda k: {(r["model"], r["bits"], r["sparsity"]): r for r in json.loads((R / f"experiments_{k}.json").read_text())}
BR, CX, AD, DI = load("breakdown"), load("contexts"), load("adaptive"), load("directory")
LZ = load("lz_fallback")

rows = []
for key in all_cases():
    b, c, a, d = BR[key], CX[key], AD[key], DI[key]
    n = b["params"]
    comp = b["competitors"]
    dir_save = d["bytes_saved"] * 8 / n
    nm = d["names"]
    deflate_extra = (nm[d["best_names"]] - nm["ref_deflate9"]) * 8 / n
    sign_save = max(0.0, c["sign_binary_bpp_saved"]["static_left_x_class"])
    sign_save_ad = max(0.0, c["sign_binary_bpp_saved"]["adaptive_left_x_class"])
    M = c["models"]
    within = ["left", "prev_set4", "nb_row", "prev4_x_nb_row", "spatial", "first_in_group"]
    best_ctx = min(within, key=lambda k: M[k]["rans_bpp"])
    # overhead of a per-value (tensor-stream) coder: preamble/footer + directory without the
    # Huffman tables and without group tables (one adaptive stream per tensor), compact directory
    lean = (32 + b["dir_counts"] + b["names_bytes"] + b["fields_bytes"] + b["crc_bytes"]) * 8 / n - dir_save
    pv_ad = min(a["class_tree"]["adaptive_payload_bpp"], a["class_tree2"]["adaptive_payload_bpp"],
                c["cabac"]["adaptive_payload_bpp"])
    pv_st = min(a["class_tree"]["static_payload_bpp"], a["class_tree2"]["static_payload_bpp"])
    # per-tensor mode choice: each tensor keeps its v1 block (tables kept in full for everyone:
    # conservative) or takes a per-value block (tree / tree2, adaptive or static) or, for P5+F,
    # a brotli-11 block; + 1 mode byte per tensor; lean directory as above
    pt = a["per_tensor_bits"]
    lzp = LZ[key]["per_tensor_bytes"]
    tabs = b["tables_bytes"] * 8
    def choose(opts):
        tot = 0.0
        for name, (ours, zs, bro) in lzp.items():
            cands = [8 * ours]
            v = pt.get(name)
            if v is not None:
                cands += [v[i] for i in opts]
            tot += min(cands) + 8
        return tot
    p5s = (choose([1, 3]) + tabs) / n + lean
    p5 = (choose([0, 1, 2, 3]) + tabs) / n + lean
    def choose_lz(opts):
        tot = 0.0
        for name, (ours, zs, bro) in lzp.items():
            cands = [8 * ours, 8 * bro]
            v = pt.get(name)
            if v is not None:
                cands += [v[i] for i in opts]
            tot += min(cands) + 8
        return tot
    p5f = (choose_lz([0, 1, 2, 3]) + tabs) / n + lean
    cand = {
        "today (v1)": b["bpp"],
        "A  rANS-12, same tables": b["bpp_with_rans"],
        "B  compact directory": b["bpp"] - dir_save,
        "C  sign bit, static ctx (left sign x class)": b["bpp"] - sign_save,
        "D  rANS + |left| ctx split": M["left"]["rans_bpp"],
        "E  Huffman, joint (symbol,sign) | signed left": M["joint_left_signed"]["huffman_bpp"],
        "P1 static fast: D + C + B": M["left"]["rans_bpp"] - sign_save - dir_save,
        "P1' P1 with best within-group ctx": M[best_ctx]["rans_bpp"] - sign_save - dir_save,
        "P2 Huffman-only: best of (v1, E, |left| split) + B": min(b["bpp"], M["joint_left_signed"]["huffman_bpp"], M["left"]["huffman_bpp"]) - dir_save,
        "P3 per-value static binarized ctx (class tree), lean dir": pv_st + lean,
        "P4 per-value adaptive binarized (CABAC-like), lean dir": pv_ad + lean,
        "P4' P4 + deflate names": pv_ad + lean - deflate_extra,
        "F  per-tensor brotli-11 fallback (v1 blocks otherwise)": LZ[key]["bpp_brotli_fallback"],
        "P5s per tensor: v1 block or static per-value block, lean dir": p5s,
        "P5 per tensor: v1 block or static/adaptive per-value block, lean dir": p5,
        "P5+F P5 + brotli-11 block mode": p5f,
    }
    best = min(cand, key=cand.get)
    others = {k: comp[k] for k in ("lzma-9", "brotli-11", "NNCodec") if comp.get(k)}
    rows.append(dict(model=key[0], bits=key[1], sparsity=key[2], params=n, candidates=cand,
                     best_ctx=best_ctx, competitors=comp,
                     beats={k: {o: v < ov for o, ov in others.items()} for k, v in cand.items()}))

# markdown
L = ["# Format v2 candidates: predicted bits/param (measured parts, 2026-11-25)", "",
     "`nice -n 15 python3 benchmarks/experiments/summary.py` (after breakdown.py, contexts.py, "
     "adaptive.py, directory.py).  Bold = beats brotli-11, lzma-9 and NNCodec on that config; "
     "'<b' / '<l' / '<N' = beats brotli / lzma / NNCodec.", ""]
names = list(rows[0]["candidates"])
L.append("| candidate | " + " | ".join(f"{SHORT[r['model']]} {r['bits']}/{r['sparsity']}" for r in rows) + " |")
L.append("|---|" + "---:|" * len(rows))
for k in names:
    cells = []
    for r in rows:
        v = r["candidates"][k]
        bt = r["beats"][k]
        tag = "".join(t for t, o in (("b", "brotli-11"), ("l", "lzma-9"), ("N", "NNCodec")) if bt.get(o))
        s = f"{v:.3f}"
        if all(bt.values()):
            s = f"**{s}**"
        elif tag:
            s += f" <{tag}"
        cells.append(s)
    L.append(f"| {k} | " + " | ".join(cells) + " |")
for o in ("brotli-11", "lzma-9", "NNCodec"):
    L.append(f"| *{o}* | " + " | ".join(f"*{r['competitors'][o]:.3f}*" for r in rows) + " |")
L += ["", "Best within-group context for P1' per config: " + ", ".join(
    f"{SHORT[r['model']]} {r['bits']}/{r['sparsity']}: {r['best_ctx']}" for r in rows), ""]
# transpose for readability: one row per config
L += ["## Per config: best candidate vs best competitor", "",
      "| model | cfg | today | best static (P1/P1'/P2) | per-value static P3 | per-value adaptive P4/P4' | per-tensor mix P5s / P5 / P5+F | best other |",
      "|---|---|---:|---:|---:|---:|---:|---|"]
for r in rows:
    cd = r["candidates"]
    comp = {k: r["competitors"][k] for k in ("zstd-19", "lzma-9", "brotli-11", "NNCodec")}
    bo = min(comp, key=comp.get)
    st = min(cd["P1 static fast: D + C + B"], cd["P1' P1 with best within-group ctx"],
             cd["P2 Huffman-only: best of (v1, E, |left| split) + B"])
    L.append(f"| {SHORT[r['model']]} | {r['bits']}/{r['sparsity']} | {cd['today (v1)']:.3f} | {st:.3f} | "
             f"{cd['P3 per-value static binarized ctx (class tree), lean dir']:.3f} | "
             f"{min(cd['P4 per-value adaptive binarized (CABAC-like), lean dir'], cd[chr(80)+'4'+chr(39)+' P4 + deflate names']):.3f} | "
             f"{cd['P5s per tensor: v1 block or static per-value block, lean dir']:.3f} / {cd['P5 per tensor: v1 block or static/adaptive per-value block, lean dir']:.3f} / {cd['P5+F P5 + brotli-11 block mode']:.3f} | {bo} {comp[bo]:.3f} |")
(R / "experiments_summary.md").write_text("\n".join(L) + "\n")
(R / "experiments_summary.json").write_text(json.dumps(rows, indent=1, default=float))
print("\n".join(L[-22:]))
