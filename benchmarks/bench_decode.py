"""Decode time per call (codec.unpack) of two code trees, interleaved, on 1 and 2 threads.

    python3 benchmarks/bench_decode.py --base /path/to/other/checkout [--rounds 15] [--reps 3]

For every model of benchmarks/recipe.py and every config (bits, sparsity), the package is
packed once (cached in --cache); then one worker process per (tree, thread count) decodes it:
the driver asks each worker in turn for ``--reps`` calls, for ``--rounds`` rounds, and keeps
each worker's best call (the machines are noisy: only interleaved figures compare; each
package's turn waits for the CPUs to be otherwise idle, up to 1 s).  Only one
worker runs at a time.  Writes benchmarks/results/decode_overhead.json and .md (--out).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def worker(code: str, paths: list[str]) -> None:
    """Serve 'index reps' requests on stdin: best microseconds of ``reps`` unpack calls."""
    sys.path.insert(0, code)
    import codec
    datas = [Path(p).read_bytes() for p in paths]
    for d in datas:  # compile / warm caches
        codec.unpack(d)
    print("ready", flush=True)
    for line in sys.stdin:
        i, reps = map(int, line.split())
        best = 1e9
        for _ in range(reps):
            t0 = time.perf_counter()
            codec.unpack(datas[i])
            best = min(best, time.perf_counter() - t0)
        print(f"{best * 1e6:.1f}", flush=True)


def _busy() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs so far (/proc/stat)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return v[0] + v[1] + v[2] + v[5] + v[6], sum(v)


def wait_quiet(max_s: float = 1.0, window: float = 0.05) -> None:
    """Wait (up to max_s) for a window in which other processes kept the CPUs under 5 %
    busy: on a shared machine, 2-thread timings mean nothing while a core is taken."""
    if not os.path.exists("/proc/stat"):
        return
    end = time.monotonic() + max_s
    while time.monotonic() < end:
        b0, t0 = _busy()
        time.sleep(window)
        b1, t1 = _busy()
        if t1 > t0 and (b1 - b0) < 0.05 * (t1 - t0):
            return


def packages(cache: Path) -> list[tuple[str, Path]]:
    sys.path.insert(0, str(ROOT))
    from benchmarks.recipe import CONFIGS, MODELS, quantized_model
    import codec
    cache.mkdir(parents=True, exist_ok=True)
    out = []
    for m in MODELS:
        for bits, sp in CONFIGS:
            label = f"{m} {bits}/{sp:g}"
            p = cache / f"{m}_{bits}_{sp:g}.pkg"
            if not p.exists():
                p.write_bytes(codec.pack(quantized_model(m, bits, sp)))
            out.append((label, p))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True, help="checkout to compare against (e.g. main)")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--cache", default="/tmp/codec-bench-packages")
    ap.add_argument("--only", default="", help="packages whose label contains this")
    ap.add_argument("--out", default="decode_overhead", help="results file name (no suffix)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("paths", nargs="*", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        return worker(a.worker, a.paths)
    pk = [x for x in packages(Path(a.cache)) if a.only in x[0]]
    trees = {"base": str(Path(a.base).resolve()), "new": str(ROOT)}
    procs = {}
    for name, code in trees.items():
        for th in (1, 2):
            env = dict(os.environ, NUMBA_NUM_THREADS=str(th))
            procs[name, th] = subprocess.Popen(
                [sys.executable, __file__, "--base", "-", "--worker", code,
                 *[str(p) for _, p in pk]], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                text=True, env=env, cwd="/")
            assert procs[name, th].stdout.readline().strip() == "ready"
    best = {(k, i): 1e9 for k in procs for i in range(len(pk))}
    for _ in range(a.rounds):
        for i in range(len(pk)):
            wait_quiet()
            for k, p in procs.items():
                p.stdin.write(f"{i} {a.reps}\n")
                p.stdin.flush()
                best[k, i] = min(best[k, i], float(p.stdout.readline()))
                time.sleep(0.005)  # the worker's pool threads stop lingering
    for p in procs.values():
        p.stdin.close()
        p.wait()
    rows = []
    for i, (label, _) in enumerate(pk):
        r = {"package": label}
        for th in (1, 2):
            b, n = best[("base", th), i], best[("new", th), i]
            r[f"base_{th}t_us"], r[f"new_{th}t_us"], r[f"speedup_{th}t"] = b, n, round(b / n, 3)
        rows.append(r)
    res = HERE / "results"
    meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "base": trees["base"],
            "rounds": a.rounds, "reps": a.reps, "cpus": os.cpu_count()}
    (res / f"{a.out}.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    lines = [f"# codec.unpack per call, base vs new ({meta['date']}, best of "
             f"{a.rounds}x{a.reps}, interleaved)", "",
             "| package | base 1t µs | new 1t µs | 1t x | base 2t µs | new 2t µs | 2t x |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['package']} | {r['base_1t_us']:.0f} | {r['new_1t_us']:.0f} | "
                     f"{r['speedup_1t']:.2f} | {r['base_2t_us']:.0f} | {r['new_2t_us']:.0f} | "
                     f"{r['speedup_2t']:.2f} |")
    (res / f"{a.out}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
