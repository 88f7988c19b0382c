"""Probe (session 20): what format v5's prediction transform costs the decoder.

For every dense config (the ones where ``codec.pack`` uses the transform), the same integers
packed with ``predict=None`` (v4) and by default (v5) are decoded with ``codec.unpack``,
interleaved with zstd's decompress of the raw integers: best call of each over 7 rounds.
Prints a markdown table and writes JSON.

    python3 benchmarks/experiments/predict_ab.py [--out results.json]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import numpy as np  # noqa: E402
import zstandard  # noqa: E402

import codec  # noqa: E402
from benchmarks.recipe import quantized_model  # noqa: E402

MODELS = ["mtcnn_facenet_pytorch", "nudenet_yolov8n_320", "silero_vad_16k",
          "fer_emotion_minixception_tflite"]


def best(f, n: int) -> float:
    b = 1e9
    for _ in range(n):
        t = time.perf_counter()
        f()
        b = min(b, time.perf_counter() - t)
    return b


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    rows = []
    print("| model | cfg | v4 bytes | v5 bytes | v4 µs | v5 µs | zstd µs | v5/v4 time | "
          "dec/zstd v4 | dec/zstd v5 |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for m in MODELS:
        for bits in (8, 4):
            t = quantized_model(m, bits, 0.0)
            d4 = codec.pack(t, predict=None)
            d5 = codec.pack(t)
            raw = b"".join(np.ascontiguousarray(v).tobytes() for v in t.values())
            z = zstandard.ZstdCompressor(level=19).compress(raw)
            dz = zstandard.ZstdDecompressor()
            codec.unpack(d4)
            codec.unpack(d5)
            k = max(3, int(0.05 / max(best(lambda: codec.unpack(d4), 2), 1e-4)))
            r = {"v4": 1e9, "v5": 1e9, "zstd": 1e9}
            for _ in range(7):
                r["v4"] = min(r["v4"], best(lambda: codec.unpack(d4), k))
                r["v5"] = min(r["v5"], best(lambda: codec.unpack(d5), k))
                r["zstd"] = min(r["zstd"], best(lambda: dz.decompress(z), k))
            rows.append(dict(model=m, bits=bits, v4_bytes=len(d4), v5_bytes=len(d5),
                             v5_version=d5[4], **{f"{k}_us": v * 1e6 for k, v in r.items()}))
            print(f"| {m} | {bits}/0 | {len(d4):,} | {len(d5):,} | {r['v4'] * 1e6:.0f} | "
                  f"{r['v5'] * 1e6:.0f} | {r['zstd'] * 1e6:.0f} | {r['v5'] / r['v4']:.3f} | "
                  f"{r['zstd'] / r['v4']:.2f} | {r['zstd'] / r['v5']:.2f} |", flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
