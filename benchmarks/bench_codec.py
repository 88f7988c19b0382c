"""Size and speed of codec.pack against zstd-19, lzma-9, brotli-11, order-0 entropy and NNCodec.

    python3 benchmarks/bench_codec.py [--models m1 m2 ...] [--repeat 5] [--no-cold]

For every model of ../shared/weights and every config of REFERENCE.md, all codecs run on the
same integers in the same process (compare ratios: these machines are noisy).  NNCodec's
figures are REFERENCE.md's (measured 2026-11-23; NNCodec is not installed here).
Writes benchmarks/results/codec.json and codec.md.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.recipe import CONFIGS, MODELS, load_float, quantize_tensor  # noqa: E402
import codec  # noqa: E402
from codec.bench import best_time, compare  # noqa: E402

# REFERENCE.md: NNCodec bits/param and decode M params/s (same recipe), per (model, bits, sparsity)
NNCODEC_BPP = {
    ("mtcnn_facenet_pytorch", 8, 0.0): 6.957, ("mtcnn_facenet_pytorch", 8, 0.5): 4.456,
    ("mtcnn_facenet_pytorch", 4, 0.0): 2.697, ("mtcnn_facenet_pytorch", 4, 0.9): 0.704,
    ("nudenet_yolov8n_320", 8, 0.0): 6.702, ("nudenet_yolov8n_320", 8, 0.5): 4.323,
    ("nudenet_yolov8n_320", 4, 0.0): 2.450, ("nudenet_yolov8n_320", 4, 0.9): 0.717,
    ("silero_vad_16k", 8, 0.0): 6.858, ("silero_vad_16k", 8, 0.5): 4.441,
    ("silero_vad_16k", 4, 0.0): 2.639, ("silero_vad_16k", 4, 0.9): 0.689,
    ("fer_emotion_minixception", 8, 0.0): 7.585, ("fer_emotion_minixception", 8, 0.5): 4.933,
    ("fer_emotion_minixception", 4, 0.0): 3.189, ("fer_emotion_minixception", 4, 0.9): 0.998,
    ("fer_emotion_minixception_tflite", 8, 0.0): 7.868,
    ("fer_emotion_minixception_tflite", 8, 0.5): 5.014,
    ("fer_emotion_minixception_tflite", 4, 0.0): 3.567,
    ("fer_emotion_minixception_tflite", 4, 0.9): 0.933,
}
NNCODEC_DEC = {
    ("mtcnn_facenet_pytorch", 8, 0.0): 4.5, ("mtcnn_facenet_pytorch", 8, 0.5): 5.7,
    ("mtcnn_facenet_pytorch", 4, 0.0): 17.0, ("mtcnn_facenet_pytorch", 4, 0.9): 27.0,
    ("nudenet_yolov8n_320", 8, 0.0): 5.6, ("nudenet_yolov8n_320", 8, 0.5): 8.5,
    ("nudenet_yolov8n_320", 4, 0.0): 15.3, ("nudenet_yolov8n_320", 4, 0.9): 39.3,
    ("silero_vad_16k", 8, 0.0): 5.9, ("silero_vad_16k", 8, 0.5): 8.0,
    ("silero_vad_16k", 4, 0.0): 19.6, ("silero_vad_16k", 4, 0.9): 27.7,
}

COLD_DECODE = r"""
import time, sys
t0 = time.perf_counter()
import codec
t1 = time.perf_counter()
out = codec.load(sys.argv[1])
t2 = time.perf_counter()
print(f"{t1 - t0:.4f} {t2 - t1:.4f}")
"""
COLD_ENCODE = r"""
import time, sys
import numpy as np
t0 = time.perf_counter()
import codec
z = np.load(sys.argv[1])
t1 = time.perf_counter()
codec.pack({k: z[k] for k in z.files})
print(f"{t1 - t0:.4f} {time.perf_counter() - t1:.4f}")
"""


def cold_runs() -> dict:
    """Fresh processes on the bundled MTCNN (8-bit, 50 % sparse): ``import codec`` + decode of
    the package file, and import + encode, first with Numba's cache empty, then warm; and in a
    second empty cache after ``python -m codec warmup`` (its time is recorded too)."""
    import numpy as np

    import codec
    from codec.bench import demo_model, quantize_reference
    res = {}
    with tempfile.TemporaryDirectory() as tmp:
        q = {k: quantize_reference(v, 8, 0.5) for k, v in demo_model().items()}
        codec.save(Path(tmp) / "m.spkg", q)
        np.savez(Path(tmp) / "m.npz", **q)

        def run(label: str, cache: str) -> None:
            env = dict(os.environ, NUMBA_CACHE_DIR=str(Path(tmp) / cache),
                       PYTHONPATH=str(HERE.parent))
            row = {}
            if label == "after_warmup":
                t0 = time.perf_counter()
                subprocess.run([sys.executable, "-m", "codec", "warmup", "-q"], env=env,
                               check=True, capture_output=True)
                row["warmup_process_s"] = time.perf_counter() - t0
            for what, snippet, arg in (("decode", COLD_DECODE, "m.spkg"), ("encode", COLD_ENCODE, "m.npz")):
                t0 = time.perf_counter()
                out = subprocess.run([sys.executable, "-c", snippet, str(Path(tmp) / arg)], env=env,
                                     check=True, capture_output=True, text=True).stdout.split()
                row[f"{what}_process_s"] = time.perf_counter() - t0
                row[f"import_{what}_s"], row[f"first_{what}_s"] = float(out[0]), float(out[1])
            res[label] = row

        run("cache_empty", "cache")
        run("cache_warm", "cache")  # the runs above filled it
        run("after_warmup", "cache2")
    return res


def markdown(rows: list[dict], cold: dict | None) -> str:
    head = ("| model | bits | sp | params | order-0 | **codec** | zstd-19 | lzma-9 | brotli-11 | "
            "NNCodec | codec/order-0 | best other | codec enc M/s | codec dec M/s | zstd dec M/s "
            "| dec/zstd | dec/NNCodec | effort 0: enc M/s, size vs effort 1 |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        others = {k: r[k] for k in ("zstd-19", "lzma-9", "brotli-11", "NNCodec") if r.get(k)}
        best = min(others, key=others.get)
        lines.append(
            f"| {r['model']} | {r['bits']} | {r['sparsity']} | {r['params']:,} | {r['order0']:.3f} "
            f"| **{r['codec']:.3f}** | {r['zstd-19']:.3f} | {r['lzma-9']:.3f} | "
            f"{r.get('brotli-11', float('nan')):.3f} | {r.get('NNCodec', float('nan')):.3f} | "
            f"{r['codec'] / r['order0']:.4f} | {best} {others[best]:.3f} | {r['encode_Mps']:.1f} | "
            f"{r['decode_Mps']:.0f} | {r['zstd_decode_Mps']:.0f} | "
            f"{r['decode_Mps'] / r['zstd_decode_Mps']:.2f} | "
            + (f"{r['decode_Mps'] / r['NNCodec_decode_Mps']:.0f}x |" if r.get("NNCodec_decode_Mps") else "- |")
            + (f" {r['encode_effort0_Mps']:.1f}, {r['codec_effort0'] / r['codec'] - 1:+.2%} |"
               if "codec_effort0" in r else " - |"))
    out = "\n".join(lines)
    if cold:
        out += ("\n\nCold start, fresh process, bundled MTCNN 8-bit 50 % (`import codec` + "
                "`codec.load(file)`; import + `codec.pack`):\n\n| Numba cache | decode process s | "
                "import + decode s | encode process s | first pack s |\n|---|---|---|---|---|\n")
        for k, v in cold.items():
            label = k if "warmup_process_s" not in v else \
                f"{k} (`python -m codec warmup` first: {v['warmup_process_s']:.1f} s)"
            out += (f"| {label} | {v['decode_process_s']:.2f} | "
                    f"{v['import_decode_s'] + v['first_decode_s']:.3f} "
                    f"| {v['encode_process_s']:.2f} | {v['first_encode_s']:.2f} |\n")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="*", default=MODELS)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-cold", action="store_true")
    ap.add_argument("--out", default=str(HERE / "results"))
    a = ap.parse_args()
    rows = []
    for m in a.models:
        floats = load_float(m)
        for bits, sp in CONFIGS:
            q = {k: quantize_tensor(v, bits, sp) for k, v in floats.items()}
            r = compare(q, repeat=a.repeat)
            # effort 0 (the faster, coarser table search): its speed and what it costs in size
            d0 = codec.pack(q, effort=0)
            r["codec_effort0"] = 8 * len(d0) / r["params"]
            r["encode_effort0_Mps"] = r["params"] / best_time(lambda: codec.pack(q, effort=0),
                                                              max(1, a.repeat // 2)) / 1e6
            r.update(model=m, bits=bits, sparsity=sp)
            if (m, bits, sp) in NNCODEC_BPP:
                r["NNCodec"] = NNCODEC_BPP[(m, bits, sp)]
            if (m, bits, sp) in NNCODEC_DEC:
                r["NNCodec_decode_Mps"] = NNCODEC_DEC[(m, bits, sp)]
            rows.append(r)
            print(f"{m} {bits} {sp}: codec {r['codec']:.3f} b/p (order-0 {r['order0']:.3f}), "
                  f"dec {r['decode_Mps']:.0f} M/s, zstd dec {r['zstd_decode_Mps']:.0f} M/s", flush=True)
    cold = None if a.no_cold else cold_runs()
    md = markdown(rows, cold)
    print(md)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {"date": time.strftime("%Y-%m-%d %H:%M"), "cpu_count": os.cpu_count(),
            "numba_threads": __import__("numba").get_num_threads()}
    (out / "codec.json").write_text(json.dumps({"meta": meta, "rows": rows, "cold": cold}, indent=1))
    (out / "codec.md").write_text(
        f"Measured {meta['date']} on {meta['cpu_count']} cores.  Decode: `codec.unpack` and "
        "zstd's decompress of the same integers called in turn, best call of each over at "
        "least 5 rounds and 0.3 s (`codec.bench.best_times_interleaved`); encode: best of "
        f"{max(1, a.repeat // 2)} `codec.pack` calls.\n\n" + md + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
