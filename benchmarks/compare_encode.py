"""Encode speed of two checkouts side by side, interleaved (for a noisy, shared machine).

``python3 benchmarks/compare_encode.py BASE_DIR NEW_DIR [--repeat 5] [--rounds 2] [--version 1]``: one
worker process per checkout (``PYTHONPATH=<dir>``); for every model x config x effort the
driver asks each worker in turn for ``codec.pack``'s best-of-``repeat`` time, ``rounds``
times, and keeps each side's best.  Prints a table of sizes, M params/s and the speed ratio.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks._ab import ask, finish, parser, start_workers  # noqa: E402
from benchmarks.recipe import CONFIGS  # noqa: E402

WORKER = r'''
import sys, json, time, inspect, numpy as np, codec
from codec.bench import quantize_reference
W = sys.argv[1]
VERSION = int(sys.argv[2])
# the format version to write, where this checkout's pack takes one (older ones write v1)
kw = {"version": VERSION} if VERSION and "version" in inspect.signature(codec.pack).parameters else {}
cache = {}
for line in sys.stdin:
    m, bits, sp, eff, rep = line.split()
    key = (m, bits, sp)
    if key not in cache:
        z = np.load(f"{W}/{m}.npz")
        cache.clear()
        cache[key] = {k: quantize_reference(z[k], int(bits), float(sp)) for k in z.files}
    q = cache[key]
    d = codec.pack(q, effort=int(eff), **kw)
    best = float("inf")
    for _ in range(int(rep)):
        t0 = time.perf_counter(); codec.pack(q, effort=int(eff), **kw); best = min(best, time.perf_counter() - t0)
    n = sum(v.size for v in q.values())
    print(json.dumps({"bytes": len(d), "s": best, "params": n}), flush=True)
'''

def main(argv=None):
    ap = parser(rounds=2)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--efforts", nargs="*", type=int, default=[0, 1])
    ap.add_argument("--version", type=int, default=0,
                    help="format version both sides write where their pack() takes one "
                         "(0: each side's default; a checkout without the option writes v1)")
    a = ap.parse_args(argv)
    procs = start_workers(WORKER, a.base, a.new, a.weights, str(a.version))
    rows = []
    print("| model | bits | sp | effort | base bytes | new bytes | size change | base M/s | new M/s | speed-up |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for m in a.models:
        for bits, sp in CONFIGS:
            for eff in a.efforts:
                res = {"base": [], "new": []}
                for _ in range(a.rounds):
                    for side in ("base", "new"):
                        res[side].append(ask(procs[side], f"{m} {bits} {sp} {eff} {a.repeat}"))
                b = min(res["base"], key=lambda r: r["s"])
                n = min(res["new"], key=lambda r: r["s"])
                r = dict(model=m, bits=bits, sp=sp, effort=eff, base_bytes=b["bytes"], new_bytes=n["bytes"],
                         base_Mps=b["params"] / b["s"] / 1e6, new_Mps=n["params"] / n["s"] / 1e6)
                rows.append(r)
                print(f"| {m} | {bits} | {sp} | {eff} | {r['base_bytes']} | {r['new_bytes']} | "
                      f"{100 * (r['new_bytes'] / r['base_bytes'] - 1):+.3f} % | {r['base_Mps']:.1f} | "
                      f"{r['new_Mps']:.1f} | {r['new_Mps'] / r['base_Mps']:.2f}x |", flush=True)
    finish(procs, rows, a.json)


if __name__ == "__main__":
    main()
