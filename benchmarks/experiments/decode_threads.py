"""Probe (session 19, measurement only): what a second thread buys ``codec.unpack`` on this
machine, and where the two-thread decode loses time.

* one vs two threads (``numba.set_num_threads``; the pool's workers follow it), interleaved
  with zstd's decompress of the same integers: best call of each over ``--rounds``;
* the two-thread decode's job timeline (``codec.package.run_chunks`` wrapped: when each job
  starts and ends, on the calling thread or the pool's, from the moment the jobs are handed
  over): medians over the calls.  The wrapper sees every ``run_chunks`` call of an unpack;
  for these four packages that is one call, the decode's (checked: their decode and
  multi-set tables are too few to be built on the pool);
* what handing a task to a sleeping pool thread costs the caller (``_Pool.submit``).

    python3 benchmarks/experiments/decode_threads.py [--rounds 300]
"""
from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import numba  # noqa: E402
import numpy as np  # noqa: E402
import zstandard  # noqa: E402

import codec  # noqa: E402
import codec.package as P  # noqa: E402
from codec.kernels import parallel  # noqa: E402
from benchmarks.recipe import quantized_model  # noqa: E402

CASES = [("mtcnn_facenet_pytorch", 8, 0.0), ("mtcnn_facenet_pytorch", 8, 0.5),
         ("mtcnn_facenet_pytorch", 4, 0.0), ("nudenet_yolov8n_320", 8, 0.0)]


def timeline(data: bytes, calls: int) -> dict:
    """Medians over ``calls`` two-thread unpacks of: the caller's and the pool's first job
    start (us after run_chunks was called), the pool's share of the job time."""
    real = P.run_chunks
    log: list = []

    def wrapped(work, n):
        t0 = time.perf_counter()
        main = threading.get_ident()
        rec: list = []

        def job(k):
            a = time.perf_counter()
            work(k)
            rec.append((threading.get_ident() == main, a - t0, time.perf_counter() - t0))
        real(job, n)
        log.append(rec)
    P.run_chunks = wrapped
    try:
        for _ in range(calls):
            codec.unpack(data)
    finally:
        P.run_chunks = real
    if not log:
        return {}
    first_main = [min([r[1] for r in rec if r[0]] or [np.nan]) for rec in log]
    first_pool = [min([r[1] for r in rec if not r[0]] or [np.nan]) for rec in log]
    share = [sum(r[2] - r[1] for r in rec if not r[0]) / sum(r[2] - r[1] for r in rec)
             for rec in log]
    return {"caller_first_us": 1e6 * np.nanmedian(first_main),
            "pool_first_us": 1e6 * np.nanmedian(first_pool), "pool_share": float(np.median(share))}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=300)
    a = ap.parse_args()
    nt = numba.get_num_threads()
    print(f"numba threads {nt}, pool workers {parallel.workers()}")
    print("| model | bits | sparsity | zstd us | one thread us | two threads us | 2 vs 1 | "
          "caller's first job us | pool's first job us | pool's share |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for m, b, s in CASES:
        q = quantized_model(m, b, s)
        data = codec.pack(q)
        z = zstandard.ZstdCompressor(level=19).compress(b"".join(v.tobytes() for v in q.values()))
        dz = zstandard.ZstdDecompressor()
        best = {"z": 1e9, 1: 1e9, 2: 1e9}
        for _ in range(a.rounds):
            for k in (1, 2):
                numba.set_num_threads(min(k, nt))
                codec.unpack(data)
                t = time.perf_counter()
                codec.unpack(data)
                best[k] = min(best[k], time.perf_counter() - t)
            t = time.perf_counter()
            dz.decompress(z)
            best["z"] = min(best["z"], time.perf_counter() - t)
        numba.set_num_threads(nt)
        tl = timeline(data, a.rounds)
        print(f"| {m} | {b} | {s} | {best['z'] * 1e6:.0f} | {best[1] * 1e6:.0f} | "
              f"{best[2] * 1e6:.0f} | {best[1] / best[2]:.2f}x | "
              f"{tl.get('caller_first_us', float('nan')):.0f} | "
              f"{tl.get('pool_first_us', float('nan')):.0f} | {tl.get('pool_share', float('nan')):.2f} |",
              flush=True)
    pool = parallel._pool(max(1, parallel.workers()))
    ts = []
    for _ in range(300):
        t = time.perf_counter()
        f = pool.submit(lambda: None)
        ts.append(time.perf_counter() - t)
        f.result()
        time.sleep(0.001)  # (the thread goes back to sleep)
    print(f"\n_Pool.submit to a sleeping thread: median {np.median(ts) * 1e6:.1f} us, "
          f"p90 {np.percentile(ts, 90) * 1e6:.1f} us")


if __name__ == "__main__":
    main()
