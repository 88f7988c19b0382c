"""Encode and decode speed of codec against zstd's decode, by thread count.

    python3 benchmarks/bench_threads.py [--threads 1 2 4 8 16] [--models m1 ...] [--out DIR]

The issue's decode target is "using all cores"; this project's VM has two, so
benchmarks/bench_codec.py measures two.  This script measures the same packages (REFERENCE.md's
recipe, ``codec.pack`` defaults) at several thread counts in one process: for each count
(``numba.set_num_threads``, which also sizes codec's decode pool, ``kernels.parallel.workers``)
the best of 3 ``codec.pack`` calls, then ``codec.unpack`` and zstd's decompress of the same
integers called in turn (``codec.bench.best_times_interleaved``, as bench_codec).  zstd's
decoder is single-threaded: its column is the same work at every count (a noise gauge).
Thread counts above the machine's cores are skipped.  Writes threads.json and threads.md
(--out, default benchmarks/results), rewritten after every model so that a run cut short
leaves what it measured.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.recipe import CONFIGS, MODELS, quantized_model  # noqa: E402


def measure(tensors: dict, threads: list[int], repeat: int) -> dict:
    """{params, bytes, threads: {n: {encode_Mps, decode_Mps, zstd_decode_Mps}}}."""
    import numba
    import numpy as np
    import zstandard

    import codec
    from codec.bench import best_time, best_times_interleaved

    n = sum(int(v.size) for v in tensors.values())
    raw = b"".join(np.ascontiguousarray(v).tobytes() for v in tensors.values())
    data = codec.pack(tensors)
    out = codec.unpack(data)
    if any(not np.array_equal(out[k], v) for k, v in tensors.items()):
        raise AssertionError("round trip failed")
    zc = zstandard.ZstdCompressor(level=19).compress(raw)
    d = zstandard.ZstdDecompressor()
    row: dict = {"params": n, "bytes": len(data), "zstd_bytes": len(zc), "threads": {}}
    for k in threads:
        numba.set_num_threads(k)
        enc = best_time(lambda: codec.pack(tensors), 3)
        dec, zdec = best_times_interleaved([lambda: codec.unpack(data),
                                            lambda: d.decompress(zc)], repeat)
        row["threads"][k] = {"encode_Mps": n / enc / 1e6, "decode_Mps": n / dec / 1e6,
                             "zstd_decode_Mps": n / zdec / 1e6}
    numba.set_num_threads(max(threads))
    return row


def table(rows: list[dict], threads: list[int]) -> str:
    head = "| model | b/sp | params | " + " | ".join(
        f"enc M/s {k}t | dec M/s {k}t | dec/zstd {k}t" for k in threads) + " |"
    lines = [head, "|" + "---|" * (3 + 3 * len(threads))]
    for r in rows:
        cells = []
        for k in threads:
            t = r["threads"].get(str(k)) or r["threads"].get(k)
            cells += ([f"{t['encode_Mps']:.1f}", f"{t['decode_Mps']:.0f}",
                       f"{t['decode_Mps'] / t['zstd_decode_Mps']:.2f}"] if t else ["-"] * 3)
        lines.append(f"| {r['model']} | {r['bits']}/{r['sparsity']} | {r['params']:,} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    import numba

    import codec
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", nargs="*", type=int, default=[1, 2, 4, 8, 16])
    ap.add_argument("--models", nargs="*", default=MODELS)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--out", default=str(HERE / "results"))
    a = ap.parse_args(argv)
    cores = min(os.cpu_count() or 1, numba.config.NUMBA_NUM_THREADS)
    threads = [k for k in a.threads if 1 <= k <= cores] or [1]
    info = {"date": time.strftime("%Y-%m-%d %H:%M:%S"), "cpus": os.cpu_count(),
            "numba_threads": numba.config.NUMBA_NUM_THREADS, "threads": threads,
            "machine": platform.processor() or platform.machine(),
            "codec": codec.__version__, "numba": numba.__version__}
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    print(info, flush=True)
    for m in a.models:
        for bits, sp in CONFIGS:
            r = measure(quantized_model(m, bits, sp), threads, a.repeat)
            r.update(model=m, bits=bits, sparsity=sp)
            rows.append(r)
            print(m, bits, sp, {k: {c: round(x, 2) for c, x in v.items()}
                                for k, v in r["threads"].items()}, flush=True)
        (out / "threads.json").write_text(json.dumps({"info": info, "rows": rows}, indent=1))
        (out / "threads.md").write_text(
            f"Measured {info['date']} on {info['cpus']} CPUs ({info['machine']}); "
            f"`python3 benchmarks/bench_threads.py`.\n\n" + table(rows, threads) + "\n")
    print(table(rows, threads))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
