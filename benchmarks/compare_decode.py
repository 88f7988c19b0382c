"""Decode speed of two checkouts side by side, on the same bytes, interleaved (for a noisy,
shared machine).

``python3 benchmarks/compare_decode.py BASE_DIR NEW_DIR [--rounds 3] [--min-time 0.3]``: one
worker process per checkout (``PYTHONPATH=<dir>``).  For every model x config the base
worker packs REFERENCE.md's integers (format v4 where its ``pack`` takes a version) and
both workers decode those same bytes with ``codec.unpack``: each side in turn takes the best
of its calls over ``min-time`` seconds, ``rounds`` times, and keeps its best.  A decoder
change is measured on identical packages; the two sides must decode them to the same values
(checked by a digest).  Prints a markdown table; ``--json`` writes the rows.
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks._ab import ask, finish, parser, start_workers  # noqa: E402
from benchmarks.recipe import CONFIGS  # noqa: E402

WORKER = r'''
import sys, json, time, hashlib, inspect, numpy as np, codec
from codec.bench import quantize_reference
W = sys.argv[1]
kw = {"version": 4} if "version" in inspect.signature(codec.pack).parameters else {}
for line in sys.stdin:
    cmd, *args = line.split()
    if cmd == "pack":  # model bits sparsity path: write the package, answer its size
        m, bits, sp, path = args
        z = np.load(f"{W}/{m}.npz")
        q = {k: quantize_reference(z[k], int(bits), float(sp)) for k in z.files}
        data = codec.pack(q, **kw)
        open(path, "wb").write(data)
        print(json.dumps({"bytes": len(data), "params": sum(v.size for v in q.values())}),
              flush=True)
    else:  # time path min_time: best codec.unpack call over min_time seconds (>= 5 calls)
        path, min_time = args[0], float(args[1])
        data = open(path, "rb").read()
        out = codec.unpack(data)
        h = hashlib.sha256()
        for k, v in out.items():
            h.update(k.encode()); h.update(np.ascontiguousarray(v).tobytes())
        best, n, t_end = float("inf"), 0, time.perf_counter() + min_time
        while n < 5 or time.perf_counter() < t_end:
            t0 = time.perf_counter(); codec.unpack(data); best = min(best, time.perf_counter() - t0)
            n += 1
        print(json.dumps({"s": best, "calls": n, "digest": h.hexdigest()}), flush=True)
'''

def main(argv=None):
    ap = parser(rounds=3)
    ap.add_argument("--min-time", type=float, default=0.3)
    a = ap.parse_args(argv)
    procs = start_workers(WORKER, a.base, a.new, a.weights)
    rows = []
    print("| model | bits | sp | bytes | base µs | new µs | speed-up |")
    print("|---|---|---|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for m in a.models:
            for bits, sp in CONFIGS:
                path = os.path.join(tmp, "p.spk")
                info = ask(procs["base"], f"pack {m} {bits} {sp} {path}")
                res = {"base": [], "new": []}
                for r in range(a.rounds):
                    for side in (("base", "new") if r % 2 == 0 else ("new", "base")):
                        res[side].append(ask(procs[side], f"time {path} {a.min_time}"))
                if res["base"][0]["digest"] != res["new"][0]["digest"]:
                    raise SystemExit(f"{m} {bits}/{sp}: the two checkouts decode different values")
                b = min(x["s"] for x in res["base"])
                n = min(x["s"] for x in res["new"])
                row = dict(model=m, bits=bits, sp=sp, bytes=info["bytes"], params=info["params"],
                           base_us=b * 1e6, new_us=n * 1e6, speedup=b / n)
                rows.append(row)
                print(f"| {m} | {bits} | {sp} | {info['bytes']:,} | {b * 1e6:.0f} | {n * 1e6:.0f} | "
                      f"{b / n:.3f}x |", flush=True)
    finish(procs, rows, a.json)


if __name__ == "__main__":
    main()
