"""Probe (session 19, measurement only): where a first load's time goes with an empty Numba
cache.  Runs ``import codec`` + ``codec.load`` of the bundled MTCNN (8-bit, 50 % sparse, as the
benchmark's cold run) in a fresh process with an empty ``NUMBA_CACHE_DIR`` and records
Numba's compile events (``numba.core.event``, "numba:compile"): each function's compile time,
inclusive of what it compiled inside it.

    python3 benchmarks/experiments/compile_times.py [--top 25]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CHILD = r"""
import sys, time
from numba.core import event as ev
t0 = time.perf_counter()
with ev.install_recorder("numba:compile") as rec:
    import codec
    t1 = time.perf_counter()
    codec.load(sys.argv[1])
    t2 = time.perf_counter()
starts, tot = {}, {}
for ts, e in rec.buffer:
    d = e.data.get("dispatcher")
    key = f"{d.py_func.__module__}.{d.py_func.__name__}" if d is not None else "?"
    if e.is_start:
        starts.setdefault(key, []).append(ts)
    else:
        tot[key] = tot.get(key, 0.0) + ts - starts[key].pop()
print(f"import {t1 - t0:.2f} s, load {t2 - t1:.2f} s, {len(tot)} functions compiled")
for k, v in sorted(tot.items(), key=lambda x: -x[1])[:int(sys.argv[2])]:
    print(f"{v:7.2f} s  {k}")
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--top", type=int, default=25)
    a = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    import codec
    from codec.bench import demo_model, quantize_reference
    with tempfile.TemporaryDirectory() as tmp:
        q = {k: quantize_reference(v, 8, 0.5) for k, v in demo_model().items()}
        codec.save(Path(tmp) / "m.spkg", q)
        env = dict(os.environ, NUMBA_CACHE_DIR=str(Path(tmp) / "cache"), PYTHONPATH=str(ROOT))
        subprocess.run([sys.executable, "-c", CHILD, str(Path(tmp) / "m.spkg"), str(a.top)],
                       env=env, check=True)


if __name__ == "__main__":
    main()
