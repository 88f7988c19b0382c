"""Format v5 candidate "chained groups": the exact package sizes the planner would reach if a
multi-group tensor stored one bit length per chain of ``k`` consecutive groups instead of one
per group (measurement only: nothing in ``codec/`` changes, no package is written).

    nice -n 15 python3 benchmarks/experiments/chained_groups.py [--chains 4 8 16 0]

Today (format v4, §8.1) a tensor of two or more groups stores ``tid_bits + len_bits`` bits a
group: every group's exact bit length, so that every group starts at a known bit (random
access, parallel decoding).  In the candidate layout the group table holds every group's
table id and then one length per chain (``ceil(n_groups / k)`` lengths of the chains' summed
bits, ``len_bits`` = the bit length of the longest chain); a group of a chain starts where
the previous group's end symbol ended, so groups of one chain decode one after the other
and chains in parallel.  The entry gains ``k - 1`` as EG(0) (counted below, rounded up to
whole bytes per package).

For every model and config of REFERENCE.md (``codec.pack`` defaults) the planner runs as
``codec.pack`` does (grouping candidates, per-tensor mixed grouping, alphabet and tables)
with the group-table sizes of the chained layout, so groupings that pay for more groups are
chosen where that is now smaller; the package size is the planner's exact size
(``package._size``) plus the entry fields.  ``k = 0`` means one chain a tensor.

Writes benchmarks/results/experiments_chained_groups.{json,md}.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import codec.writer as P  # noqa: E402
from codec.kernels.pool_v4 import _eg_width  # noqa: E402
from benchmarks.recipe import CONFIGS, MODELS, order0_bits, quantized_model  # noqa: E402

_REAL = P.group_tables


def chained(k: int):
    """A stand-in for kernels.encode.group_tables' sizes pass with chains of ``k`` groups
    (0: one chain a tensor); it does not write tables (the experiment only sizes plans)."""
    def group_tables(tid, bits, g0, ng, tbase, tbits, lbits, boff, out):
        st = _REAL(tid, bits, g0, ng, tbase, tbits, lbits, boff, np.zeros(0, np.uint8))
        if st:
            return st
        if out.size:
            raise AssertionError("the experiment sizes plans only")
        boff[0] = 0
        for i in range(g0.size):
            G = int(ng[i])
            if G < 2:
                boff[i + 1] = boff[i] + (G * int(tbits[i] + lbits[i]) + 7) // 8
                continue
            c = G if k == 0 else min(k, G)
            b = bits[g0[i]:g0[i] + G]
            n_ch = -(-G // c)
            chain_bits = np.add.reduceat(b, np.arange(0, G, c))
            lb = int(chain_bits.max()).bit_length()
            lbits[i] = lb
            boff[i + 1] = boff[i] + (G * int(tbits[i]) + n_ch * lb + 7) // 8
        return 0
    return group_tables


def plan_size(q: dict, k: int | None) -> tuple[int, int]:
    """(package bytes, multi-group tensors) of the plan codec.pack would choose: today's
    (``k`` None) or with chains of ``k`` groups."""
    P.group_tables = _REAL if k is None else chained(k)
    try:
        names, meta = P._check_args(q, None, 1, None)
        plan = P._best_plan(q, names, meta, P._group_candidates("auto", 1),
                            max_tables=P.DEFAULT_MAX_TABLES, effort=1, stream=False,
                            version=None, mirror="auto")
    finally:
        P.group_tables = _REAL
    extra = 0
    multi = 0
    for name in plan.names:
        p = plan.src.get(name)
        if p.n_groups >= 2:
            multi += 1
            if k is not None:
                extra += int(_eg_width(np.int64((p.n_groups if k == 0 else min(k, p.n_groups)) - 1),
                                       np.int64(0)))
    return plan.size + (extra + 7) // 8, multi


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--chains", nargs="*", type=int, default=[4, 8, 16, 0])
    ap.add_argument("--models", nargs="*", default=MODELS)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    a = ap.parse_args(argv)
    rows = []
    for m in a.models:
        for bits, sp in CONFIGS:
            q = quantized_model(m, bits, sp)
            n = sum(v.size for v in q.values())
            o0 = order0_bits(q) / 8
            import codec
            today = len(codec.pack(q))
            base, multi = plan_size(q, None)
            assert base == today, (m, bits, sp, base, today)  # the sizing reproduces pack
            r = dict(model=m, bits=bits, sparsity=sp, params=n, order0_bytes=o0, today=today,
                     multi_group_tensors=multi, chained={})
            for k in a.chains:
                r["chained"][str(k)] = plan_size(q, k)[0]
            rows.append(r)
            print(f"{m[:24]:24s} {bits}/{sp}: today {today} B ({today / o0:.4f}x order-0); "
                  + ", ".join(f"k={k or 'tensor'} {s} B ({s - today:+d}, {s / o0:.4f}x)"
                              for k, s in ((int(k), s) for k, s in r["chained"].items())),
                  flush=True)
    out = Path(a.out)
    (out / "experiments_chained_groups.json").write_text(json.dumps(rows, indent=1))
    head = "| model | cfg | today B | x order-0 | " + " | ".join(
        f"k={k or 'tensor'} B (x order-0)" for k in a.chains) + " |"
    lines = ["# Chained groups (format v5 candidate): exact planned sizes", "",
             "`python3 benchmarks/experiments/chained_groups.py` (measurement only; see its "
             "docstring).  Bytes of the package `codec.pack` would write with one bit length a "
             "chain of k groups; order-0 as benchmarks/bench_codec.py.", "", head,
             "|" + "---|" * (4 + len(a.chains))]
    for r in rows:
        cells = [f"{s} ({s - r['today']:+d}; {s / r['order0_bytes']:.4f})"
                 for s in r["chained"].values()]
        lines.append(f"| {r['model']} | {r['bits']}/{r['sparsity']} | {r['today']} | "
                     f"{r['today'] / r['order0_bytes']:.4f} | " + " | ".join(cells) + " |")
    (out / "experiments_chained_groups.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
