"""Compression tables: this codec against zstd-19, lzma-9, brotli-11 and order-0 entropy.

``python -m codec.bench --demo`` runs the main job on the bundled real model (MTCNN, MIT):
REFERENCE.md's quantization recipe at (8, 0), (8, .5), (4, 0), (4, .9), then bits per
parameter and speeds, side by side in one run.  Library code returns data; only ``main`` prints.
"""
from __future__ import annotations

import argparse
import json
import lzma
import sys
import time
from importlib import resources
from pathlib import Path

import numpy as np

CONFIGS = [(8, 0.0), (8, 0.5), (4, 0.0), (4, 0.9)]


def quantize_reference(w, bits: int, sparsity: float) -> np.ndarray:
    """REFERENCE.md's fixed recipe: per-row max-abs scale, magnitude pruning by quantile."""
    w = np.asarray(w, dtype=np.float32)
    rows = w.reshape(w.shape[0], -1) if w.ndim >= 2 else w.reshape(1, -1)
    if sparsity > 0:
        thr = np.quantile(np.abs(rows), sparsity)
        rows = np.where(np.abs(rows) < thr, 0.0, rows)
    qmax = 2 ** (bits - 1) - 1
    scale = np.abs(rows).max(axis=1, keepdims=True) / qmax
    scale[scale == 0] = 1.0
    q = np.round(rows / scale).astype(np.int8 if bits <= 8 else np.int16)
    return q.reshape(w.shape)


def order0_bits(tensors) -> float:
    """Sum over tensors of count * empirical value entropy (no header: a lower bound)."""
    total = 0.0
    for q in tensors.values():
        if q.size == 0:
            continue
        _, c = np.unique(q, return_counts=True)
        total += float((c * np.log2(c.sum() / c)).sum())
    return total


def best_time(fn, repeat: int) -> float:
    """Best wall time of ``repeat`` calls of ``fn`` (seconds)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def best_times_interleaved(fns, repeat: int, min_time: float = 0.3,
                           max_calls: int = 5000) -> list[float]:
    """Best wall time of each of ``fns`` (seconds), their calls interleaved (one of each in
    turn), at least ``repeat`` rounds and until ``min_time`` has passed (at most
    ``max_calls`` rounds): on a noisy machine a handful of sub-millisecond calls is mostly
    noise, and two codecs timed one after the other see different noise."""
    best = [float("inf")] * len(fns)
    t_end = time.perf_counter() + min_time
    k = 0
    while k < repeat or (time.perf_counter() < t_end and k < max_calls):
        for i, fn in enumerate(fns):
            t0 = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - t0)
        k += 1
    return best


def compare(tensors: dict, *, repeat: int = 5, speed: bool = True) -> dict:
    """Sizes (bits/param) and speeds (M params/s) of every codec on the same integers."""
    import codec
    n = sum(int(v.size) for v in tensors.values())
    raw = b"".join(np.ascontiguousarray(v).tobytes() for v in tensors.values())
    row: dict = {"params": n}
    data = codec.pack(tensors)
    out = codec.unpack(data)
    if any(not np.array_equal(out[k], v) for k, v in tensors.items()):
        raise AssertionError("round trip failed")
    row["codec"] = 8 * len(data) / n
    row["codec_bytes"] = len(data)
    row["order0"] = order0_bits(tensors) / n
    row["lzma-9"] = 8 * len(lzma.compress(raw, preset=9 | lzma.PRESET_EXTREME)) / n
    try:
        import zstandard
        zc = zstandard.ZstdCompressor(level=19).compress(raw)
        row["zstd-19"] = 8 * len(zc) / n
    except ImportError:
        zstandard = None
    try:
        import brotli
        row["brotli-11"] = 8 * len(brotli.compress(raw, quality=11)) / n
    except ImportError:
        pass
    if speed:
        row["encode_Mps"] = n / best_time(lambda: codec.pack(tensors), max(1, repeat // 2)) / 1e6
        fns = [lambda: codec.unpack(data)]
        if zstandard is not None:
            d = zstandard.ZstdDecompressor()
            fns.append(lambda: d.decompress(zc))
        times = best_times_interleaved(fns, repeat)
        row["decode_Mps"] = n / times[0] / 1e6
        if zstandard is not None:
            row["zstd_decode_Mps"] = n / times[1] / 1e6
    return row


def demo_model() -> dict:
    with resources.as_file(resources.files("codec") / "data" / "mtcnn_facenet_pytorch.npz") as p:
        z = np.load(p)
        return {k: z[k] for k in z.files}


COLUMNS = ["order0", "codec", "zstd-19", "lzma-9", "brotli-11"]


def table(rows: list[dict]) -> str:
    cols = [c for c in COLUMNS if any(c in r for r in rows)]
    speed = [c for c in ("encode_Mps", "decode_Mps", "zstd_decode_Mps") if any(c in r for r in rows)]
    head = ["model", "bits", "sparsity", "params"] + [f"{c} b/p" for c in cols] + \
        ["codec/order0"] + [c.replace("_Mps", " M/s") for c in speed]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        vals = [r["model"], str(r["bits"]), f"{r['sparsity']:.1f}", f"{r['params']:,}"]
        vals += [f"{r[c]:.3f}" if c in r else "-" for c in cols]
        vals.append(f"{r['codec'] / r['order0']:.4f}" if r["order0"] else "-")
        vals += [f"{r[c]:.0f}" if c in r else "-" for c in speed]
        lines.append("| " + " | ".join(vals) + " |")
    return "\n".join(lines)


def run(models: dict[str, dict], configs=CONFIGS, *, repeat: int = 5, speed: bool = True) -> list[dict]:
    rows = []
    for name, floats in models.items():
        for bits, sp in configs:
            q = {k: quantize_reference(v, bits, sp) for k, v in floats.items()}
            r = compare(q, repeat=repeat, speed=speed)
            r.update(model=name, bits=bits, sparsity=sp)
            rows.append(r)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m codec.bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="*", help=".npz files of float tensors")
    ap.add_argument("--demo", action="store_true", help="use the bundled MTCNN model")
    ap.add_argument("--json", help="write the rows as JSON here")
    ap.add_argument("--no-speed", action="store_true")
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args(argv)
    models = {}
    if a.demo or not a.models:
        models["mtcnn_facenet_pytorch (bundled)"] = demo_model()
    for m in a.models:
        z = np.load(m)
        models[Path(m).stem] = {k: z[k] for k in z.files}
    rows = run(models, repeat=a.repeat, speed=not a.no_speed)
    print(table(rows))
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
