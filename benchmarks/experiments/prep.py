"""Build the cache (quantize + codec.pack, 20 model x config) and check that the event
extraction reproduces every group length of every package exactly.

    nice -n 15 python3 benchmarks/experiments/prep.py
"""
import time

from common import all_cases, competitors, get, package_events

for m, b, s in all_cases():
    t0 = time.time()
    q, pkg = get(m, b, s)
    n = sum(v.size for v in q.values())
    d, evs = package_events(q, pkg, check=True)
    c = competitors(m, b, s)
    print(f"{m} {b}/{s}: {len(pkg)} B {8*len(pkg)/n:.3f} b/p (codec.json {c['codec']:.3f}), "
          f"{len(d.tables)} tables, events ok, {time.time()-t0:.1f}s", flush=True)
