"""Probe (session 22): what format v7 (row floors, tensor aliases, the v7 name merge) gains in
size and costs the decoder.

For every model and config, the same integers packed with ``floor=None, alias=None`` (what
the v6 writer wrote) and by default (v7 where a tensor is floored or an alias) are decoded
with ``codec.unpack``, interleaved (best call of each over 7 rounds of ``k`` calls).  Prints
a markdown table and writes JSON.

    python3 benchmarks/experiments/floor_ab.py [--models M ...] [--out results.json]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import codec  # noqa: E402
from benchmarks.experiments.predict_ab import best  # noqa: E402
from benchmarks.recipe import quantized_model  # noqa: E402

MODELS = ["mtcnn_facenet_pytorch", "nudenet_yolov8n_320", "silero_vad_16k",
          "fer_emotion_minixception", "fer_emotion_minixception_tflite"]
CONFIGS = [(8, 0.0), (8, 0.5), (4, 0.0), (4, 0.9)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", nargs="*", default=MODELS)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    rows = []
    print("| model | cfg | before bytes | v7 bytes | change | version | floored | aliases | "
          "before µs | v7 µs | v7/before time |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for m in args.models:
        for bits, sp in CONFIGS:
            t = quantized_model(m, bits, sp)
            d0 = codec.pack(t, floor=None, alias=None)
            d7 = codec.pack(t)
            es = codec.inspect(d7).tensors
            nf = sum(1 for e in es if e.floors and e.alias is None)
            na = sum(1 for e in es if e.alias is not None)
            codec.unpack(d0)
            codec.unpack(d7)
            k = max(3, int(0.05 / max(best(lambda: codec.unpack(d0), 2), 1e-4)))
            r = {"before": 1e9, "v7": 1e9}
            for _ in range(7):
                r["before"] = min(r["before"], best(lambda: codec.unpack(d0), k))
                r["v7"] = min(r["v7"], best(lambda: codec.unpack(d7), k))
            rows.append(dict(model=m, bits=bits, sparsity=sp, before_bytes=len(d0),
                             v7_bytes=len(d7), version=d7[4], floored=nf, aliases=na,
                             **{f"{k}_us": v * 1e6 for k, v in r.items()}))
            print(f"| {m} | {bits}/{sp:g} | {len(d0):,} | {len(d7):,} | "
                  f"{len(d7) / len(d0) - 1:+.2%} | {d7[4]} | {nf} | {na} | "
                  f"{r['before'] * 1e6:.0f} | {r['v7'] * 1e6:.0f} | "
                  f"{r['v7'] / r['before']:.3f} |", flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
