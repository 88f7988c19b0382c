"""Probe (session 19, measurement only): how much of the gap to brotli-11 and lzma-9 on dense
weights is the sign's dependence on the previous value?

For one model and config (REFERENCE.md's integers), per tensor: today's block bytes
(``codec.inspect``), brotli-11 and lzma-9 (raw LZMA2, preset 9e) of the tensor's own bytes,
and ideal order-0 entropies (bytes, no table cost):

* ``H0``: of the values;
* ``H(flip)``: of ``v * sign(previous value)`` (C order; a zero previous value counts as +),
  the "sign-flip transform" a decoder would undo with one multiply a value;
* ``H(sign | prev sign)``: the nonzero values' sign bits given the previous value's sign,
  against one raw bit a sign (today's coding: a raw sign bit after each set's symbol).

The flip only pays inside a Huffman symbol that carries the sign (a format change: today's
sign is a raw bit); the sums say what it could reach at best.

    python3 benchmarks/experiments/sign_flip.py nudenet_yolov8n_320 8 0.0 [--top 10]
"""
from __future__ import annotations

import argparse
import lzma
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import brotli  # noqa: E402
import numpy as np  # noqa: E402

import codec  # noqa: E402
from codec.bench import order0_bits  # noqa: E402
from benchmarks.recipe import quantized_model  # noqa: E402
from common import cond_entropy  # noqa: E402  (benchmarks/experiments/common.py)

LZMA = [{"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME}]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("bits", type=int)
    ap.add_argument("sparsity", type=float)
    ap.add_argument("--top", type=int, default=10)
    a = ap.parse_args()
    q = quantized_model(a.model, a.bits, a.sparsity)
    data = codec.pack(q)
    rows = []
    for t in codec.inspect(data).tensors:
        f = q[t.name].astype(np.int64).ravel()
        prev = np.concatenate([[0], f[:-1]])
        ps = np.where(prev < 0, -1, 1)
        nz = f != 0
        raw = q[t.name].tobytes()
        rows.append(dict(
            name=t.name, numel=t.numel, codec=t.block_bytes,
            brotli=len(brotli.compress(raw, quality=11)),
            lzma=len(lzma.compress(raw, format=lzma.FORMAT_RAW, filters=LZMA)),
            h0=order0_bits({"v": f}) / 8, hflip=order0_bits({"v": f * ps}) / 8,
            sign_raw=int(nz.sum()) / 8, sign_ctx=cond_entropy(np.sign(f[nz]), ps[nz]) / 8))
    tot = {k: sum(r[k] for r in rows) for k in rows[0] if k != "name"}
    print(f"{a.model} {a.bits}/{a.sparsity}: package {len(data):,} B; sums over tensors: blocks "
          f"{tot['codec']:,.0f}, brotli-11 {tot['brotli']:,.0f}, lzma-9 {tot['lzma']:,.0f}, "
          f"H0 {tot['h0']:,.0f}, H(flip) {tot['hflip']:,.0f} ({tot['hflip'] / tot['h0'] - 1:+.2%}), "
          f"sign bits {tot['sign_raw']:,.0f} -> H(sign | prev sign) {tot['sign_ctx']:,.0f}")
    print(f"\nthe {a.top} tensors where today's block is furthest above min(brotli, lzma):\n")
    print("| tensor | values | block B | brotli-11 | lzma-9 | H0 | H(flip) | sign bits B | "
          "H(sign given prev sign) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    rows.sort(key=lambda r: min(r["brotli"], r["lzma"]) - r["codec"])
    for r in rows[:a.top]:
        print(f"| {r['name']} | {r['numel']:,} | {r['codec']:,} | {r['brotli']:,} | {r['lzma']:,} | "
              f"{r['h0']:,.0f} | {r['hflip']:,.0f} | {r['sign_raw']:,.0f} | {r['sign_ctx']:,.0f} |")


if __name__ == "__main__":
    main()
