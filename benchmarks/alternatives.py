"""Measured design alternatives (docs/DESIGN.md): table pool size, grouping, alphabet choice.

    python3 benchmarks/alternatives.py > benchmarks/results/alternatives.md
"""
from __future__ import annotations

import sys
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import codec  # noqa: E402
import codec.writer  # noqa: E402
import codec.planner as planner  # noqa: E402
from benchmarks.recipe import order0_bits, quantized_model  # noqa: E402

CASES = [("mtcnn_facenet_pytorch", 8, 0.0), ("mtcnn_facenet_pytorch", 4, 0.0),
         ("mtcnn_facenet_pytorch", 4, 0.9), ("nudenet_yolov8n_320", 8, 0.5),
         ("silero_vad_16k", 4, 0.9), ("fer_emotion_minixception", 8, 0.0)]


def fixed_alphabet(kref, nrun):
    def choose(sampler, effort=1):
        return kref, nrun, planner.num_classes(sampler.maxmag, kref)
    return choose


VARIANTS = {
    "default (auto groups, chosen alphabet, table pool, per-group choice)": ({}, None),
    "effort=0 (fast planning)": ({"effort": 0}, None),
    "one shared table (max_tables=1)": ({"max_tables": 1}, None),
    "group = kernel (one output channel)": ({"group": "kernel"}, None),
    "group = whole tensor": ({"group": "tensor"}, None),
    "patent plain levels (kref=0), nrun=16": ({}, fixed_alphabet(0, 16)),
    "kref=2, nrun=16 fixed": ({}, fixed_alphabet(2, 16)),
}


def main():
    print("| model | bits | sp | order-0 b/p | " + " | ".join(VARIANTS) + " |")
    print("|" + "---|" * (4 + len(VARIANTS)))
    for m, b, s in CASES:
        t = quantized_model(m, b, s)
        n = sum(v.size for v in t.values())
        cells = []
        for kw, choose in VARIANTS.values():
            if choose is None:
                data = codec.pack(t, **kw)
            else:
                with mock.patch.object(codec.writer, "choose_alphabet", choose):
                    data = codec.pack(t, **kw)
            cells.append(f"{8 * len(data) / n:.3f}")
        print(f"| {m} | {b} | {s} | {order0_bits(t) / n:.3f} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
