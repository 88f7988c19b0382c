"""Reliability figures for docs/RELIABILITY.md (issue 6): decoder memory, limits, fuzzing.

    PYTHONPATH=. python3 benchmarks/reliability.py [--model nudenet_yolov8n_320] [--quick]

Writes benchmarks/results/reliability.json and prints the figures.  Each measurement runs in a
fresh subprocess (so peaks are not polluted by earlier work):

* ``decode``: the largest model in ../shared/weights quantized with REFERENCE's recipe
  (``quantized_model(model, 8, 0.5)``) is packed to a file; the child reads it and decodes it
  with ``codec.unpack`` (bytes in memory) and ``codec.load`` (memory map).  Figures: output
  bytes, the tracemalloc peak of the decode call (NumPy reports its buffers to tracemalloc),
  the peak minus the output (the working set) and the growth of the process' peak RSS
  (VmHWM, reset through /proc/self/clear_refs just before the call).
* ``inspect``: the same package, header only.
* ``many_groups``: 4 Mi zero int8 in groups of one element (a package ``pack`` writes): the
  per-group plan makes the working set grow with the group count (RELIABILITY.md, open issue).
* ``table_pool_over``: a forged ~70 KB header of 4096 tables of 2**16 symbols (cost ~330 MiB
  and ~4 s before the cap on total table symbols; now a LimitError);
  ``table_pool_max``: the costliest table pool the default limits accept (max_tables tables
  sharing max_table_symbols symbols), header only.
* the latest fuzz summary (benchmarks/results/fuzz.json, from tests/fuzz/run.sh) is copied in.
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

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"

_CHILD = r"""
import json, sys, time, tracemalloc
import numpy as np
import codec
mode, path = sys.argv[1], sys.argv[2]
data = open(path, "rb").read()
# compile/load the kernels first, serial and parallel, bytes and memory map (JIT memory is
# not decoding memory)
from codec.planner import PAR_MIN_WORK
dts = ["int8"] if mode == "table_pool" else sorted({t.dtype for t in codec.inspect(data).tensors})
warm = codec.pack({d: (np.arange(2 * PAR_MIN_WORK) % 50 - 3).astype(d) for d in dts})
small = codec.pack({d: np.arange(-3, 60).astype(d) for d in dts})
for w in (warm, small):
    codec.unpack(w)
    codec.inspect(w)
    with open(path + ".warm", "wb") as f:
        f.write(w)
    codec.load(path + ".warm")
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    return 0
try:  # reset the RSS high-water mark (Linux >= 4.0) so VmHWM measures the decode alone
    open("/proc/self/clear_refs", "w").write("5")
    hwm_reset = True
except OSError:
    hwm_reset = False
rss0 = status("VmRSS")
tracemalloc.start()
t = time.perf_counter()
if mode == "unpack":
    out = codec.unpack(data)
elif mode == "load":
    out = codec.load(path)
elif mode in ("inspect", "table_pool"):
    err = None
    try:
        info = codec.inspect(data)
    except codec.CodecError as exc:
        err = f"{type(exc).__name__}: {exc}"
    out = {}
wall = time.perf_counter() - t
cur, peak = tracemalloc.get_traced_memory()
tracemalloc.stop()
out_bytes = sum(int(a.nbytes) for a in out.values())
print(json.dumps({"mode": mode, "input_bytes": len(data), "output_bytes": out_bytes,
                  "traced_peak_bytes": peak, "working_set_bytes": peak - out_bytes,
                  "peak_rss_growth_bytes": (status("VmHWM") - rss0) if hwm_reset else None,
                  "rss_before_bytes": rss0, "seconds": round(wall, 4),
                  "error": err if mode in ("inspect", "table_pool") else None}))
"""


def _child(mode: str, path: str) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, "-c", _CHILD, mode, path], capture_output=True, text=True,
                       env=env, timeout=900)
    if r.returncode != 0:
        raise RuntimeError(f"{mode} child failed: {r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def table_pool_package(ntables: int | None = None, nsym: int = 1 << 16) -> bytes:
    """A header of only tables: ``ntables`` (default: max_tables) tables of about ``nsym``
    symbols each, every one with a single end-of-group code (~17 bytes a table)."""
    import numpy as np

    from codec.format import DEFAULT_LIMITS, Table, footer, preamble, write_directory
    from codec.kernels.symbols import max_classes
    ntables = DEFAULT_LIMITS.max_tables if ntables is None else ntables
    kref = 6
    nrun = min(4096, max(1, nsym - 2))
    nclass = max(1, min(max_classes(kref), (nsym - 2) // nrun))
    lengths = np.zeros(2 + nclass * nrun, np.uint8)
    lengths[0] = 1
    d = write_directory([Table(kref, nrun, nclass, lengths)] * ntables, [])
    pre = preamble()
    return pre + d + footer(len(pre), d, pre)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None, help="model in ../shared/weights (default: largest)")
    ap.add_argument("--quick", action="store_true", help="skip the table-pool measurement")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    import codec
    from benchmarks.recipe import quantized_model, weights_dir
    wd = weights_dir()
    if args.model:
        model = args.model
    else:
        cands = [p for p in wd.glob("*.npz") if "int8" not in p.stem]
        model = max(cands, key=lambda p: p.stat().st_size).stem
    result = {"model": model, "recipe": "quantized_model(model, 8, 0.5)",
              "codec_version": codec.__version__, "python": sys.version.split()[0],
              "cpus": os.cpu_count(), "limits_default": codec.Limits().__dict__}
    with tempfile.TemporaryDirectory() as tmp:
        q = quantized_model(model, 8, 0.5)
        path = os.path.join(tmp, f"{model}.spk")
        t = time.perf_counter()
        size = codec.save(path, q)
        result["pack_seconds"] = round(time.perf_counter() - t, 3)
        result["package_bytes"] = size
        result["tensors"] = len(q)
        result["params"] = int(sum(a.size for a in q.values()))
        info = codec.inspect(Path(path).read_bytes())
        result["tables"] = len(info.tables)
        result["groups"] = int(sum(t.n_groups for t in info.tensors))
        for mode in ("unpack", "load", "inspect"):
            result[mode] = _child(mode, path)
        if not args.quick:
            import numpy as np
            mg = os.path.join(tmp, "many_groups.spk")  # valid: what pack(group=1) writes
            codec.save(mg, {"z": np.zeros(1 << 22, np.int8)}, group=("count", 1))
            result["many_groups"] = _child("unpack", mg)
            lim = codec.Limits()
            cases = {"table_pool_over": table_pool_package(4096, 1 << 16),
                     "table_pool_max": table_pool_package(
                         lim.max_tables, getattr(lim, "max_table_symbols", 1 << 26) // lim.max_tables)}
            for label, blob in cases.items():
                tp = os.path.join(tmp, f"{label}.spk")
                Path(tp).write_bytes(blob)
                result[label] = _child("table_pool", tp)
    fz = RESULTS / "fuzz.json"
    if fz.exists():
        result["fuzz"] = json.loads(fz.read_text())
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "reliability.json").write_text(json.dumps(result, indent=1) + "\n")
    mib = 1 << 20
    print(f"model {model}: {result['params']} params in {result['tensors']} tensors, "
          f"{result['tables']} tables, {result['groups']} groups, package {size / mib:.2f} MiB")
    for mode in ("unpack", "load", "inspect", "many_groups", "table_pool_over", "table_pool_max"):
        r = result.get(mode)
        if not r:
            continue
        ratio = r["traced_peak_bytes"] / r["output_bytes"] if r["output_bytes"] else float("nan")
        print(f"  {mode:10s} input {r['input_bytes'] / mib:7.2f} MiB  output "
              f"{r['output_bytes'] / mib:7.2f} MiB  traced peak {r['traced_peak_bytes'] / mib:8.2f} "
              f"MiB (x{ratio:.3f} of output)  working set {r['working_set_bytes'] / mib:7.2f} MiB  "
              f"peak-RSS growth {(r['peak_rss_growth_bytes'] or 0) / mib:7.2f} MiB  {r['seconds']:.3f} s"
              + (f"  -> {r['error'][:70]}" if r.get("error") else ""))
    if "fuzz" in result:
        f = result["fuzz"]
        print(f"  fuzz: {f.get('inputs')} inputs in {f.get('seconds')} s, crashes {f.get('crashes')}, "
              + ", ".join(f"{m}: cov {v.get('coverage_edges')} ft {v.get('features')}"
                          for m, v in f.get("modes", {}).items()))
    return result


if __name__ == "__main__":
    main()
