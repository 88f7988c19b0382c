"""Probe (session 19, measurement only): would the group tables' bit lengths code shorter
against a per-tensor base?  Today a tensor with two or more groups stores each group's exact
bit length in ``len_bits`` bits (FORMAT.md §8.1, §28.2).  For the packages ``codec.pack``
writes today (REFERENCE.md's integers), per multi-group tensor:

* ``min + width``: the smallest length in the entry (EG of order bitlen - 3, plus a 6-bit
  width), each group ``bitlen(max - min)`` bits;
* ``mean + sEG(k)``: the rounded mean in the entry, each group ``sEG(k)`` of its difference
  (the best k of the tensor, 4 bits to name it).

    python3 benchmarks/experiments/group_lengths.py [--models mtcnn_facenet_pytorch ...]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import numpy as np  # noqa: E402

import codec  # noqa: E402
from codec.kernels.pool_v4 import _eg_width, _zigzag  # noqa: E402
from codec.package import Package  # noqa: E402
from benchmarks.recipe import CONFIGS, MODELS, quantized_model  # noqa: E402


def bitlen(x: int) -> int:
    return int(x).bit_length()


def seg(s: int, k: int) -> int:
    """Bits of sEG(k) of s (FORMAT.md §28)."""
    return int(_eg_width(_zigzag(s), k))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", nargs="+", default=MODELS[:3])
    a = ap.parse_args()
    print("| model | bits | sparsity | package B | multi-group groups | lengths B | tid fields B "
          "| min + width B | mean + sEG(k) B |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    for m in a.models:
        for b, s in CONFIGS:
            d = codec.pack(quantized_model(m, b, s))
            p = Package(d)
            cur = tidb = ng = alt_a = alt_b = 0
            for e in p.directory.tensors:
                if e.n_groups < 2:
                    continue
                _, glo, ghi, _, _, _, _ = p._plan([(e, 0, e.n_groups, 0)], {})
                lens = (ghi - glo).astype(np.int64)
                ng += e.n_groups
                cur += e.n_groups * e.len_bits
                tidb += e.n_groups * e.tid_bits
                lo, hi = int(lens.min()), int(lens.max())
                alt_a += 6 + int(_eg_width(lo, max(bitlen(lo) - 3, 0))) + e.n_groups * bitlen(hi - lo)
                mu = int(round(float(lens.mean())))
                best = min(sum(seg(int(x) - mu, k) for x in lens) for k in range(14))
                alt_b += 4 + int(_eg_width(mu, max(bitlen(mu) - 3, 0))) + best
            print(f"| {m} | {b} | {s} | {len(d):,} | {ng:,} | {cur // 8:,} | {tidb // 8:,} | "
                  f"{alt_a // 8:,} ({(alt_a - cur) // 8:+,}) | {alt_b // 8:,} ({(alt_b - cur) // 8:+,}) |",
                  flush=True)


if __name__ == "__main__":
    main()
