"""Markdown tables for the context / adaptive / fallback experiments, and decoder work counts.

    nice -n 15 python3 benchmarks/experiments/report.py

Reads benchmarks/results/experiments_{contexts,adaptive,lz_fallback}.json; writes
experiments_contexts.md, experiments_adaptive.md, experiments_lz_fallback.md and
experiments_decoder_ops.{json,md} (decoding steps per parameter, counted on the real streams).
"""
import json

import numpy as np

from common import ROOT, SHORT, all_cases, get, package_events

R = ROOT / "benchmarks" / "results"
rd = lambda k: json.loads((R / f"experiments_{k}.json").read_text())


def cfg(r):
    return f"{SHORT[r['model']]} {r['bits']}/{r['sparsity']}"


# ---- contexts
cx = rd("contexts")
names = list(cx[0]["models"])
L = ["# Context-conditioned coding of the (run, class) symbols (item 2)", "",
     "`nice -n 15 python3 benchmarks/experiments/contexts.py`.  Today's symbol stream (same "
     "tables, same per-group table choice) re-costed with each table split by a context of "
     "already-decoded values; a table is split only where that pays (1 flag bit per table).  "
     "Whole-package bits/param: H = static Huffman per (table, context), v1 table bytes counted; "
     "R = static rANS, 12-bit frequencies, frequency table counted; A = adaptive multi-symbol "
     "counts per (table, context), reset per tensor, no tables; I = ideal entropy per (table, "
     "context), tables free (a bound, not a codec).  `joint_*`: the sign bit is folded into the "
     "symbol (alphabet x2).  Context definitions in contexts.py (`tensor_contexts`).", ""]
for metric, lab in (("huffman_bpp", "H"), ("rans_bpp", "R"), ("adaptive_bpp", "A"), ("ideal_entropy_bpp", "I")):
    L += [f"## {lab}: " + {"H": "static Huffman", "R": "static rANS-12", "A": "adaptive multi-symbol",
                           "I": "ideal, free tables"}[lab], "",
          "| context | " + " | ".join(cfg(r) for r in cx) + " |", "|---|" + "---:|" * len(cx)]
    for c in names:
        L.append(f"| {c} | " + " | ".join(f"{r['models'][c][metric]:.3f}" for r in cx) + " |")
    L.append("")
L += ["## Sign bits: bits per sign under contexts", "",
      "Empirical conditional entropy (no model cost) and binary coders with their cost: static = "
      "per-tensor probability per context quantized to 1/256 + 1 byte per context; adaptive = "
      "two-rate (VVC-like) binary estimator.  left = sign of x[p-1] inside the kernel patch "
      "(else inside the row), class = own magnitude class (min 3).", "",
      "| config | H(sign) | H(sign given left sign) | H(given left + prev-out-channel sign) | H(given prev set sign) | static left x class | adaptive left x class | b/p saved (static) |",
      "|---|---:|---:|---:|---:|---:|---:|---:|"]
for r in cx:
    sg, sb = r["sign"], r["sign_binary"]
    L.append(f"| {cfg(r)} | {sg['none']:.3f} | {sg['left_sign']:.3f} | {sg['out_sign']:.3f} | {sg['prev_set_sign']:.3f} | "
             f"{sb['static_left_x_class']:.3f} | {sb['adaptive_left_x_class']:.3f} | {r['sign_binary_bpp_saved']['static_left_x_class']:.4f} |")
L += ["", "## Remainder bits", "",
      "Raw remainder bits vs the empirical entropy of the remainder value per (table, class) "
      "(no model cost: an upper bound on the saving); top remainder bit alone.", "",
      "| config | raw bits | entropy | b/p saved (bound) | top bit raw | top bit entropy |", "|---|---:|---:|---:|---:|---:|"]
for r in cx:
    rm = r["remainder"]
    L.append(f"| {cfg(r)} | {rm['raw_bits']:.0f} | {rm['entropy_per_class']:.0f} | "
             f"{(rm['raw_bits'] - rm['entropy_per_class']) / r['params']:.4f} | {rm['top_bit_raw']:.0f} | {rm['top_bit_entropy']:.0f} |")
L += ["", "## DeepCABAC-like per-value model (unary greater-k flags, adaptive binary contexts)", "",
      "Payload only (no directory / group tables).  ngt = greater-k flags before Exp-Golomb.", "",
      "| config | adaptive payload b/p | static payload b/p (1 byte per context) | NNCodec (whole bitstream) |", "|---|---:|---:|---:|"]
for r in cx:
    L.append(f"| {cfg(r)} | {r['cabac']['adaptive_payload_bpp']:.3f} | {r['cabac']['static_payload_bpp']:.3f} | {r['competitors']['NNCodec']:.3f} |")
(R / "experiments_contexts.md").write_text("\n".join(L) + "\n")

# ---- adaptive
ad = rd("adaptive")
keys = list(ad[0]["prior_adaptive"])
L = ["# Adaptive models (item 2c)", "",
     "`nice -n 15 python3 benchmarks/experiments/adaptive.py`.  Whole-package bits/param.", "",
     "## Prior-initialized adaptive multi-symbol (today's tables as priors, per (table, context), reset per tensor)", "",
     "| context, W = prior weight, inc | " + " | ".join(cfg(r) for r in ad) + " |", "|---|" + "---:|" * len(ad)]
for k in keys:
    L.append(f"| {k} | " + " | ".join(f"{r['prior_adaptive'][k]:.3f}" for r in ad) + " |")
L += ["", "## Per-value binarized models (package = payload + today's directory without tables + group tables)", "",
      "class_tree: sig (|left| x prev-out-channel state), unary bit-length class (index x |left|), 1 ctx mantissa bit, sign (sign(left) x class).  "
      "class_tree2: + the value above in the patch (x[i-W]) in sig/class/sign contexts, 2 ctx mantissa bits.  "
      "class_tree3: class_tree2 + a per-output-channel magnitude bucket (3 bits side info per row).", "",
      "| model | " + " | ".join(cfg(r) for r in ad) + " |", "|---|" + "---:|" * len(ad)]
for t in ("class_tree", "class_tree2", "class_tree3"):
    for kind in ("adaptive", "static"):
        L.append(f"| {t} {kind} | " + " | ".join(f"{r[t][kind + '_pkg_bpp']:.3f}" for r in ad) + " |")
L.append("| *today* | " + " | ".join(f"*{r['bpp_today']:.3f}*" for r in ad) + " |")
for o in ("brotli-11", "lzma-9", "NNCodec"):
    L.append(f"| *{o}* | " + " | ".join(f"*{r['competitors'][o]:.3f}*" for r in ad) + " |")
(R / "experiments_adaptive.md").write_text("\n".join(L) + "\n")

# ---- lz fallback
lz = rd("lz_fallback")
L = ["# Per-tensor LZ fallback mode (candidate F)", "",
     "`nice -n 15 python3 benchmarks/experiments/lz_fallback.py`.  Each tensor keeps its v1 block "
     "or is stored as zstd-19 / brotli-11 of its raw bytes when smaller (+1 byte mode per tensor).", "",
     "| config | today | zstd-19 fallback | brotli-11 fallback | biggest brotli wins (tensor: our block B -> brotli B) |",
     "|---|---:|---:|---:|---|"]
for r in lz:
    w = "; ".join(f"{a[:28]}: {b} -> {c}" for a, b, c in r["brotli_wins"][:3])
    L.append(f"| {cfg(r)} | {r['bpp_today']:.3f} | {r['bpp_zstd_fallback']:.3f} | {r['bpp_brotli_fallback']:.3f} | {w} |")
(R / "experiments_lz_fallback.md").write_text("\n".join(L) + "\n")

# ---- decoder work counts
rows = []
for m, b, s in all_cases():
    q, pkg = get(m, b, s)
    n = sum(v.size for v in q.values())
    d, evs = package_events(q, pkg, check=False)
    nev = sum(ev["sym"].size for ev in evs if ev is not None)
    nval = sum(int((ev["kind"] == 2).sum()) for ev in evs if ev is not None)
    rem = sum(int(ev["ebits"].sum()) for ev in evs if ev is not None)
    bins = 0
    for x in q.values():
        a = np.abs(x.astype(np.int64)).ravel()
        nz = a[a > 0]
        c = np.floor(np.log2(nz)).astype(np.int64) + 1 if nz.size else nz
        maxc = int(c.max()) if nz.size else 1
        bins += a.size + int(np.minimum(c, maxc - 1).sum()) + int(np.minimum(np.maximum(c - 1, 0), 2).sum()) + nz.size
    rows.append(dict(model=m, bits=b, sparsity=s, params=n, set_symbols_per_param=nev / n,
                     nonzeros_per_param=nval / n, remainder_bits_per_param=rem / n,
                     class_tree2_binary_decisions_per_param=bins / n))
(R / "experiments_decoder_ops.json").write_text(json.dumps(rows, indent=1))
L = ["# Decoder work per parameter, counted on the real streams (item 5)", "",
     "`nice -n 15 python3 benchmarks/experiments/report.py`.  Set-based modes (v1, rANS, context "
     "tables) decode one table step per set symbol (value, ESC or EOB) + one sign (+ remainder "
     "bits); a context-coded sign adds one binary decode per nonzero; the per-value binarized "
     "models (P3/P4, CABAC-like) decode one binary decision per bin.", "",
     "| config | set symbols / param | nonzeros / param | remainder bits / param | class_tree2 binary decisions / param |",
     "|---|---:|---:|---:|---:|"]
for r in rows:
    L.append(f"| {SHORT[r['model']]} {r['bits']}/{r['sparsity']} | {r['set_symbols_per_param']:.3f} | "
             f"{r['nonzeros_per_param']:.3f} | {r['remainder_bits_per_param']:.3f} | {r['class_tree2_binary_decisions_per_param']:.2f} |")
(R / "experiments_decoder_ops.md").write_text("\n".join(L) + "\n")
print("\n".join(L))
