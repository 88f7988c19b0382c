"""Encoder speed and size per model x config, effort 0 and 1 (``codec.pack``, best of N, warm JIT).

``python3 benchmarks/bench_encode.py [--json out.json] [--repeat 5] [--models a b]``.  Which
``codec`` is timed is whatever ``import codec`` finds: to compare against another checkout, run
it twice with ``PYTHONPATH=<checkout>`` (or use ``--compare DIR``, which times both in one
process run, interleaved, so a noisy machine affects both alike).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

WEIGHTS = Path(__file__).resolve().parents[2] / "shared" / "weights"
MODELS = ["nudenet_yolov8n_320", "mtcnn_facenet_pytorch", "silero_vad_16k",
          "fer_emotion_minixception", "fer_emotion_minixception_tflite"]
CONFIGS = [(8, 0.0), (8, 0.5), (4, 0.0), (4, 0.9)]


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", nargs="*", default=MODELS)
    ap.add_argument("--efforts", nargs="*", type=int, default=[0, 1])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json")
    ap.add_argument("--no-time", action="store_true")
    a = ap.parse_args(argv)
    import codec
    from codec.bench import best_time as best, quantize_reference
    rows = []
    for m in a.models:
        z = np.load(WEIGHTS / f"{m}.npz")
        floats = {k: z[k] for k in z.files}
        n = sum(v.size for v in floats.values())
        for bits, sp in CONFIGS:
            q = {k: quantize_reference(v, bits, sp) for k, v in floats.items()}
            for eff in a.efforts:
                data = codec.pack(q, effort=eff)
                t = float("nan") if a.no_time else best(lambda: codec.pack(q, effort=eff), a.repeat)
                r = dict(model=m, bits=bits, sp=sp, effort=eff, params=n, bytes=len(data),
                         s=t, Mps=n / t / 1e6)
                rows.append(r)
                print(f"{m:28s} {bits} {sp:.1f} e{eff} {len(data):9d} B {t*1e3:9.1f} ms "
                      f"{n/t/1e6:7.2f} M/s", flush=True)
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
