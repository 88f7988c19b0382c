"""Markdown report of rans_bench.py's runs.

    cd /work/main && PYTHONPATH=/work/main python3 benchmarks/experiments/rans_bench.py            # chunk 4096
    cd /work/main && PYTHONPATH=/work/main python3 benchmarks/experiments/rans_bench.py --chunk 16384 --reps 3 --out-tag _c16k
    cd /work/main && PYTHONPATH=/work/main python3 benchmarks/experiments/rans_report.py

Reads benchmarks/results/experiments_rans.json (+ /tmp/rans/experiments_rans_c16k.json if
present, stored into the json as rows_chunk16384) and writes experiments_rans.md.
"""
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import ROOT, SHORT, competitors  # noqa: E402

R = ROOT / "benchmarks" / "results"
doc = json.loads((R / "experiments_rans.json").read_text())
if isinstance(doc, list):
    doc = {"rows": doc}
c16 = Path("/tmp/rans/experiments_rans_c16k.json")
if c16.exists():
    d16 = json.loads(c16.read_text())
    doc["rows_chunk16384"] = d16["rows"] if isinstance(d16, dict) else d16
rows = doc["rows"]
rows16 = {(r["model"], r["bits"], r["sparsity"]): r for r in doc.get("rows_chunk16384", [])}
SUM = {(r["model"], r["bits"], r["sparsity"]): r
       for r in json.loads((R / "experiments_summary.json").read_text())}
AD = {(r["model"], r["bits"], r["sparsity"]): r
      for r in json.loads((R / "experiments_adaptive.json").read_text())}


FINDINGS = """## Findings

**Real vs ideal.**  Both coders land close to the experiments' ideal figures once streams are
long enough: P3 split is +0.022..+0.046 b/p over `experiments_summary`'s P3 (of which ~0.015
is the 8-byte state flush + length field per 4096-value chunk (0.017 b/p on yolov8n 8/0, 0.021 on mtcnn),
the rest the v2 directory vs the experiment's lean one and the 12-bit renormalisation of the
class frequencies derived from the 8-bit node probabilities); 16384-value chunks take ~0.011
b/p off every config.  rANS on today's
alphabet is only as good as predicted when a stream spans several codec groups: on codec's
own groups (yolov8n: 5534 groups, 544 values on average) the per-stream flush (8 B with two
states, 4 B with one) eats the whole entropy gain and the package grows (+0.013..+0.089 b/p
on yolov8n); the gamma-coded 12-bit frequency tables are also larger than v1's Huffman tables
on sparse configs (yolov8n 4/0.9 3441 vs 2250 B).

**(a) rANS on today's (run, class) alphabet, merged streams** (the only variant that
saves bytes): -0.013..-0.032 b/p on 8-bit and dense 4-bit (0.3-1.1 %); on 4/0.9 yolov8n
-0.004, mtcnn +0.014, silero +0.017 b/p (16384-value streams: -0.013 / +0.004 / +0.006).
Decode 0.71-0.81x
codec's kernel on 8-bit (codec decodes run + value + sign from one whole-set LUT entry; rANS
needs the symbol step, its refill and a separate raw-bit read), 0.39-0.64x on dense 4-bit
(codec's multi-set entries decode 2-3 values per lookup, rANS one symbol per step), 0.60-0.83x
on 90 % sparse.  It beats brotli-11 / lzma-9 / NNCodec on no config.  Not worth a v3 mode on its own: it needs the random-access / parallel unit decoupled
from the table-choice group (a format change by itself), a new coder in the Numba, C and
CUDA decoders, and costs 20-60 % of the decode speed for <= 1.1 %.

**(b) P3 per-value class tree (static, left/above contexts)**: the real coder confirms the
size prediction where the experiments said it pays: yolov8n 4/0 **2.400** (-6.4 % vs codec's
2.563, 2 % under NNCodec's 2.450; 2.389 with 16384-value chunks), yolov8n 8/0 6.603 (-2.0 %;
brotli-11's 6.588 is beaten only by the per-tensor mix with 16384-value chunks, 6.578: a
0.15 % margin, not safe), silero 8/0 6.850 (-2.0 %), mtcnn 4/0 2.730 (-1.7 %, NNCodec 2.697
not reached: mix 2.704 at 16384).  It loses on sparse configs (mtcnn 8/0.5 +0.108, silero
4/0.9 +0.061) and on mtcnn 8/0.  Speed is the problem: 34-64 M params/s on dense configs
and 98-123 on 90 % sparse, i.e. **0.04-0.13x codec's kernel** (8-25x slower; 0.02-0.09x with
the per-tensor slot-table build of this implementation), between codec and NNCodec
(REFERENCE.md: 4.5-39 M params/s).  Interleaving does not rescue it: two chunks decoded in
turn (independent context chains, one state each) ran at 0.9-1.0x of the single-lane split
decoder when written out per lane and 0.2-0.8x as an inlined function (NRT reference-count
atomics per call); two interleaved states inside a chunk are already used.  The cost is the
value-serial chain (left value -> bucket -> context row -> state) plus 1-4 data-dependent
steps per value (class, mantissa, sign, raw bits), not the rANS arithmetic.

**Per-tensor mix** (each tensor takes the smaller of (a) merged and (b) P3): yolov8n 8/0 6.589
(-0.148), 4/0 2.397 (-0.166), 8/0.5 4.294 (-0.066), 4/0.9 0.746 (-0.016); silero 8/0 6.856,
mtcnn 4/0 2.716.  P3 takes 74-82 % of yolov8n's dense parameters, so the mix decodes at an
estimated 44-56 M params/s there (0.09-0.16x).

## Recommendation for format v3

1. **Keep the set-based Huffman payload as the default coder.**  Replacing it by static rANS
   on the same alphabet buys 0.3-1.1 % on dense configs (nothing on sparse) for a 20-60 %
   slower decoder and a stream/group redesign: not worth a format change.  (If v3 wants
   those bits, a tANS/FSE variant with 12-bit states, 1.5 B flush per state and table-driven
   multi-symbol decode might keep Huffman's speed: not measured here.)
2. **P3 only as an opt-in, per-tensor "dense context" block mode** (encoder picks it per
   tensor when it saves, e.g., >= 2 % of that tensor's block; off unless the user asks for
   maximum compression), documented as an 8-25x slower decode path for the tensors that use
   it.  Where it pays: dense conv-heavy models (yolov8n 4/0 -6.4 %, 8/0 -2.0 %, silero 8/0
   -2.0 %, mtcnn 4/0 -1.7 %); where it does not: sparse configs and fc/1x1-heavy tensors.
   Cost: a second entropy coder (rANS) with per-tensor context tables in every decoder
   (Numba, C, CUDA), whole-model decode falling from ~300-600 to ~45-60 M params/s per core
   on the configs where it is chosen.
3. If decode speed must stay within ~2x of today, neither mode qualifies; the earlier
   candidates that keep the fast path (compact directory, done in v2; sign context;
   |left| table splits) remain the options, and the only competitor win P3 secures
   (yolov8n 4/0 vs NNCodec) comes at NNCodec-class speed.

## Caveats

* Noisy shared 2-core VM: run-to-run spread of single timings was ~10-25 % (codec's kernel on
  yolov8n 4/0 measured 412-656 M params/s across runs); ratios are taken inside one run,
  best of 7, interleaved.  Rerun before quoting absolute rates.
* The rANS decoders have no corruption checks (codec's kernels check lengths, ranges and run
  overflow); real ones would be a few % slower.  Encoders are untuned Python/Numba and their
  speed was not measured.
* Sizes keep today's v2 directory and count, per tensor, fixed-width stream-length fields
  (bit length of the largest stream) and one mode byte (P3 / mix).  The P3 model table
  layout (4-bit max class per (left, above) context, one byte per used node, sign bitmap) is
  this experiment's; the (a) tables use `common.rans_table_bits`' layout.  Frequencies come
  from the same package's counts; codec's planner chose groups and tables for Huffman, and a
  planner aware of rANS (or P3) could do better.
* The P3 slot tables here are 73 x 4096 bytes per tensor (hence the slow 'with build'
  figure); a real decoder would build only used contexts or use a cumulative search.
* Models: mtcnn, yolov8n, silero (fer models not run); configs 8/0, 8/0.5, 4/0, 4/0.9.
"""


def key(r):
    return (r["model"], r["bits"], r["sparsity"])


def cfg(r):
    return f"{r['bits']}/{r['sparsity']:g}"


def best_other(r):
    c = competitors(r["model"], r["bits"], r["sparsity"])
    o = {k: c[k] for k in ("brotli-11", "lzma-9", "NNCodec") if c.get(k)}
    k = min(o, key=o.get)
    return k, o[k]


def mix_speed(r, rate_p3, rate_sets):
    n = r["params"]
    k = r["parts"]["mix_split_p3_params"]
    return n / (k / rate_p3 + (n - k) / rate_sets)


L = ["# Real static rANS coders vs codec's Huffman decoder (measured 2026-11-25)", "",
     "`benchmarks/experiments/rans_coder.py` (Numba encoders/decoders), `rans_bench.py` (driver), "
     "`rans_report.py` (this file).  Measurement only: nothing in `codec/` changed.  Integers: "
     "`benchmarks/recipe.quantized_model` (= REFERENCE.md recipe); package: today's `codec.pack` "
     "(format v2, default settings).  Every coder below was encoded for real and decoded, and the "
     "decode checked equal to the integers on all 12 model x config cases (assertions in "
     "`rans_bench.py`).", "",
     "**Sizes** are whole packages: today's package with its payload, group tables and Huffman "
     "tables replaced by the coder's streams (incl. flushed states), its length fields and its "
     "stored frequency / probability tables; the directory is today's v2 directory.  "
     "**Speed** is single-thread decode (NUMBA_NUM_THREADS=1), M params/s, best of 7, the coders "
     "and codec's decode kernels (`decode_groups` / `decode_groups_multi` replayed with exactly "
     "the arguments `codec.unpack` passes them) interleaved in one process on this noisy 2-core "
     "VM; *ratio* = coder / codec kernel in the same run.  Kernel times exclude table builds on "
     "both sides (codec's LUT build is in `codec.unpack`, shown separately; the rANS table builds "
     "are timed separately, see 'with build').", "",
     "## What the coders do", "",
     "* Common: 32-bit rANS state, 12-bit frequencies, 16-bit-word renormalisation (state in "
     "[2^16, 2^32), one branchless refill per op), 4-byte flushed state per state per stream.",
     "* **(a) rANS sets** = today's alphabet: codec's own groups, group -> table choice and "
     "(zero run, class) symbols (extracted with `common.extract_events`, checked bit-exact against "
     "the package's group lengths); each table's counts normalised to 2^12 (the experiments' "
     "`rans_table_bits` rule, table stored as gamma-gap symbol list + gamma frequencies).  The "
     "remainder and sign bits go to a separate raw MSB-first bit stream per stream (read with a "
     "64-bit window as codec does).  Variants: *per group* (one stream per codec group, two "
     "interleaved states, raw bits in the rANS state), *split* (per group, raw bits separate), "
     "**merged** (consecutive groups of a tensor share one stream of >= 4096 values: one state "
     "pair and one length field per stream; the end symbol still ends each group and switches "
     "the table).",
     "* **(b) P3** = `adaptive.py` `class_tree2_cost` static model (|left|, |above| log buckets "
     "inside the kernel patch, else the row; 8-bit quantised binary node probabilities, one byte "
     "per used node as the experiment counted, plus a 4-bit max class per (left, above) context "
     "and a sign-context bitmap) coded as multi-symbol rANS: class 0..m given (lb, ub) (frequencies "
     "= products of the binary node probabilities renormalised to 2^12), the top two mantissa bits "
     "given (class, coarse left) as one 2/4-ary symbol, the sign as a binary op (16 x the 8-bit "
     "probability), then class-3 raw bits in a separate bit stream (*P3 split*).  Chunks of "
     "~4096 values cut at patch / row boundaries, two interleaved states per chunk; left neighbour "
     "in a register, above read back from the output.  Variants: raw bits in the state (*P3 "
     "in-state*), two chunks decoded in turn with one state each (*P3 lanes*, as an inlined "
     "function and written out per lane).",
     "* **mix** = per tensor the smaller of (a) merged and (b) P3 split (+1 mode byte per tensor, "
     "all rANS-sets tables kept); its speed is an estimate from the two measured rates weighted "
     "by the parameters each mode gets (not measured as one kernel).", "",
     "## Main table (streams / chunks of >= 4096 values)", "",
     "| model | cfg | codec v2 b/p | codec kernel Mp/s | codec.unpack Mp/s | (a) merged b/p | Mp/s | ratio | (b) P3 b/p | P3 ideal (exp.) | Mp/s | ratio | mix b/p | mix Mp/s (est.) | best other |",
     "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
out_rows = []
for r in rows:
    b, m, rt = r["bpp"], r["mparams_s"], r["ratio_to_codec_kernel"]
    bo, bv = best_other(r)
    p3i = SUM[key(r)]["candidates"]["P3 per-value static binarized ctx (class tree), lean dir"]
    mx = mix_speed(r, m["rans_p3_split"], m["rans_sets_merged"])

    def mark(v):
        return f"**{v:.3f}**" if v < bv else f"{v:.3f}"
    L.append(f"| {SHORT[r['model']]} | {cfg(r)} | {b['codec']:.3f} | {m['codec_kernel']:.0f} | "
             f"{m['codec_unpack']:.0f} | {mark(b['rans_sets_merged'])} | {m['rans_sets_merged']:.0f} | "
             f"{rt['rans_sets_merged']:.2f} | {mark(b['rans_p3_split'])} | {p3i:.3f} | "
             f"{m['rans_p3_split']:.0f} | {rt['rans_p3_split']:.2f} | {mark(b['mix_split'])} | "
             f"{mx:.0f} | {bo} {bv:.3f} |")
    out_rows.append(dict(model=r["model"], bits=r["bits"], sparsity=r["sparsity"],
                         codec_bpp=b["codec"], sets_merged_bpp=b["rans_sets_merged"],
                         p3_bpp=b["rans_p3_split"], mix_bpp=b["mix_split"],
                         codec_kernel_mps=m["codec_kernel"], sets_merged_mps=m["rans_sets_merged"],
                         p3_mps=m["rans_p3_split"], mix_mps_estimate=mx))
L += ["", "Bold: smaller than the best of brotli-11 / lzma-9 / NNCodec (`benchmarks/results/codec.json`). "
      "'P3 ideal (exp.)' = `experiments_summary.md`'s P3 figure (ideal code length + lean "
      "directory), for comparison with the real coder.", "",
      "## All variants: bits/param and speed ratio to codec's kernel", "",
      "Each cell: bits/param / decode speed as a ratio to codec's kernel in the same run.", "",
      "| model | cfg | (a) per group, 2 states | (a) per group, 1 state, 2 lanes | (a) split | (a) merged | (a) merged with table build | P3 in-state | P3 split | P3 lanes (inlined) | P3 lanes (written out) | P3 split with LUT build |",
      "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
for r in rows:
    b, m, rt = r["bpp"], r["mparams_s"], r["ratio_to_codec_kernel"]
    ck = m["codec_kernel"]
    L.append(f"| {SHORT[r['model']]} | {cfg(r)} | {b['rans_sets']:.3f} / {rt['rans_sets']:.2f} | "
             f"{b['rans_sets_lanes']:.3f} / {rt['rans_sets_lanes']:.2f} | "
             f"{b['rans_sets_split']:.3f} / {rt['rans_sets_split']:.2f} | "
             f"{b['rans_sets_merged']:.3f} / {rt['rans_sets_merged']:.2f} | "
             f"{m['rans_sets_merged_with_build'] / ck:.2f} | "
             f"{b['rans_p3']:.3f} / {rt['rans_p3']:.2f} | {b['rans_p3_split']:.3f} / {rt['rans_p3_split']:.2f} | "
             f"{b['rans_p3_split_lanes']:.3f} / {rt['rans_p3_split_lanes']:.2f} | "
             f"{b['rans_p3_split_lanes']:.3f} / {rt['rans_p3_split_lanes2']:.2f} | "
             f"{m['rans_p3_split_with_build'] / ck:.2f} |")
L += ["", "'with build' adds the Numba fill of the decode tables from the stored frequencies (rANS sets: "
      "one 4096-entry uint64 table per table; P3: 73 x 4096 uint8 slot tables per tensor).", ""]
if rows16:
    L += ["## Stream / chunk size 16384 (sizes; speed unchanged within noise)", "",
          "| model | cfg | codec | (a) merged 4096 -> 16384 | P3 split 4096 -> 16384 | mix 4096 -> 16384 | best other |",
          "|---|---|---:|---:|---:|---:|---|"]
    for r in rows:
        s = rows16.get(key(r))
        if not s:
            continue
        bo, bv = best_other(r)
        L.append(f"| {SHORT[r['model']]} | {cfg(r)} | {r['bpp']['codec']:.3f} | "
                 f"{r['bpp']['rans_sets_merged']:.3f} -> {s['bpp']['rans_sets_merged']:.3f} | "
                 f"{r['bpp']['rans_p3_split']:.3f} -> {s['bpp']['rans_p3_split']:.3f} | "
                 f"{r['bpp']['mix_split']:.3f} -> {s['bpp']['mix_split']:.3f} | {bo} {bv:.3f} |")
    L.append("")
L += ["## Where the bytes go (yolov8n, chunk 4096)", "",
      "| cfg | Huffman tables | v1 payload + group tables | rANS-sets per-group payload (ideal) | groups | merged payload | merged streams | rANS freq tables | P3 payload (ideal) | P3 chunks | P3 model tables |",
      "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
for r in rows:
    if "yolov8n" not in r["model"]:
        continue
    p = r["parts"]
    L.append(f"| {cfg(r)} | {p['v1_tables']} | {p['v1_payload_and_group_tables']} | "
             f"{p['sets_payload']} ({p['sets_ideal_payload_bytes']:.0f}) | {p['sets_groups']} | "
             f"{p['merged_payload']} | {p['merged_streams']} | {p['sets_freq_tables']} | "
             f"{p['p3_payload']} ({p['p3_ideal_payload_bytes']:.0f}) | {p['p3_chunks']} | {p['p3_model_tables']} |")
L += ["", "Bytes.  'ideal' = sum of -log2(f / 2^12) (+ raw bits) over the coded ops, i.e. the "
      "stream without flushes and padding.", ""]
L += FINDINGS.splitlines()
(R / "experiments_rans.md").write_text("\n".join(L) + "\n")
doc["summary_rows"] = out_rows
(R / "experiments_rans.json").write_text(json.dumps(doc, indent=1, default=float))
print("\n".join(L[:60]))
