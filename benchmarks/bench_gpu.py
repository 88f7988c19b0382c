"""GPU decoding speed (codec.cuda) against decode-on-CPU + copy and copying the raw integers.

    python3 benchmarks/bench_gpu.py [--models m1 ...] [--synthetic-params 67108864] [--repeat 10]
                                    [--no-synthetic] [--no-real]

Needs a CUDA GPU visible to numba (numba-cuda; numpy < 2.5 for it): exits with status 2 and a
message otherwise (the simulator is refused: its timings mean nothing).  For every model of
../shared/weights and a synthetic model (>= 64 M parameters, 16 int8 matrices), at every config
of REFERENCE.md, in one process:

  * decode: the decode kernels alone (package bytes and plans already on the device), G
    params/s, for the 'warp' kernel (32 threads a group, the default) and the first decoder's
    one-thread-a-group kernels 'global' and 'shared' (each after a prefill launch);
  * load: end to end, package bytes in host memory → tensors on the GPU (host checks and plans,
    host→device copy, kernels, status check): ``codec.cuda.unpack``;
  * cpu+copy: ``codec.unpack`` on the host, then every tensor copied to the device;
  * raw copy: the raw integers (int8/int16, one host buffer) copied to the device;
  * d2d: device-to-device copy bandwidth (GB/s, read + write), the memory-bound ceiling.

Times are the best of ``--repeat`` runs (CUDA events for the kernels, wall clock with a device
synchronisation for the end-to-end figures).  Writes benchmarks/results/gpu.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.recipe import CONFIGS, MODELS, quantize_tensor, quantized_model, weights_dir  # noqa: E402
from codec.bench import best_time  # noqa: E402


def need_gpu():
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        print("bench_gpu: NUMBA_ENABLE_CUDASIM=1 is set; the simulator's timings mean nothing. "
              "Unset it and run on a machine with a CUDA GPU.", file=sys.stderr)
        sys.exit(2)
    try:
        from numba import cuda
        ok = cuda.is_available()
    except Exception as exc:  # numba-cuda missing or broken driver
        print(f"bench_gpu: numba.cuda unusable: {exc}", file=sys.stderr)
        ok = False
    if not ok:
        print("bench_gpu: no CUDA GPU is visible to numba (need an NVIDIA GPU, its driver and "
              "numba-cuda; see docs/GPU.md). Nothing measured.", file=sys.stderr)
        sys.exit(2)
    return cuda


def best_events(cuda, fn, repeat: int) -> float:
    """Best device time of ``fn`` (asynchronous launches) by CUDA events, seconds."""
    t = float("inf")
    for _ in range(repeat):
        a, b = cuda.event(), cuda.event()
        a.record()
        fn()
        b.record()
        b.synchronize()
        t = min(t, max(a.elapsed_time(b), 1e-6) / 1e3)
    return t


def d2d_bandwidth(cuda, nbytes: int = 1 << 28, repeat: int = 10) -> dict:
    from codec.cuda import kernels as K
    n = nbytes // 8
    src = cuda.to_device(np.arange(n, dtype=np.uint64))
    dst = cuda.device_array(n, np.uint64)
    res = {}
    t = best_events(cuda, lambda: dst.copy_to_device(src), repeat)
    res["memcpy_GBps"] = 2 * nbytes / t / 1e9
    try:
        sms = cuda.get_current_device().MULTIPROCESSOR_COUNT
    except AttributeError:  # simulator
        sms = 1
    t = best_events(cuda, lambda: K.copy_words[sms * 8, 256](src, dst), repeat)
    res["kernel_GBps"] = 2 * nbytes / t / 1e9
    return res


def synthetic_model(params: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Float matrices of 4096 x 1024 (Laplacian-like weights, per-row scales), enough of them
    for ``params`` parameters: a stand-in for a large model's linear layers."""
    rng = np.random.default_rng(seed)
    rows, cols = 4096, 1024
    out = {}
    for i in range(-(-params // (rows * cols))):
        scale = rng.uniform(0.5, 2.0, (rows, 1)).astype(np.float32)
        out[f"layer{i}.weight"] = (rng.laplace(0, 0.02, (rows, cols)).astype(np.float32) * scale)
    return out


VARIANTS = ("auto", "warp", "global", "shared")


def time_variant(cuda, gp, plan, ref, variant, repeat, label):
    """Best kernel time of ``variant``, and the share of groups the warp kernel handed to the
    sequential fallback (codec.cuda.warp.PATH_UNSYNCED/REJECTED; None for other variants)."""
    from codec.cuda import warp
    out = gp.run(plan, variant)  # warm-up (JIT) and exactness
    for k, v in ref.items():
        if not np.array_equal(out[k].copy_to_host(), v):
            raise AssertionError(f"{label}: GPU decode ({variant}) differs on {k!r}")
    fb = None
    if variant == "warp":
        p = gp.paths(plan)
        fb = float(np.isin(p, (warp.PATH_UNSYNCED, warp.PATH_REJECTED)).mean()) if p.size else 0.0
    return best_events(cuda, lambda: gp.launch(plan, variant), repeat), fb


def measure(cuda, name: str, tensors: dict, bits: int, sparsity: float, repeat: int,
            sweep: list | None = None) -> dict:
    import codec
    import codec.cuda as gc
    from codec.cuda import api
    n = sum(int(v.size) for v in tensors.values())
    data = codec.pack(tensors)
    row = {"model": name, "bits": bits, "sparsity": sparsity, "params": n,
           "package_bytes": len(data), "bits_per_param": 8 * len(data) / n}
    ref = codec.unpack(data)
    gp = gc.GpuPackage(data)
    plan = gp.prepare()
    label = f"{name} {bits}/{sparsity}"
    for variant in VARIANTS:
        if variant == "shared" and any(len(set(L.host["tid"].tolist())) > 1
                                       for b in plan.batches for L in b.launches if L.gidx.size):
            continue  # needs one table per launch
        t, fb = time_variant(cuda, gp, plan, ref, variant, repeat, label)
        row[f"decode_{variant}_s"] = t
        row[f"decode_{variant}_Gparams_s"] = n / t / 1e9
        if fb is not None:
            row["warp_fallback_share"] = fb
    default = dict(api.WARP_CONFIG)
    for cfg in sweep or []:
        api.WARP_CONFIG.update(cfg)
        try:
            t, fb = time_variant(cuda, gp, plan, ref, "warp", repeat, label)
        finally:
            api.WARP_CONFIG.clear()
            api.WARP_CONFIG.update(default)
        key = ",".join(f"{k}={v}" for k, v in cfg.items())
        row.setdefault("sweep", {})[key] = (n / t / 1e9, fb)
    groups = sum(b.n for b in plan.batches)
    row["groups"] = groups

    def gpu_load():
        gc.unpack(data)
        cuda.synchronize()

    def gpu_load_noverify():  # the host's CRC32 pass over the package left out
        gc.unpack(data, verify=False)
        cuda.synchronize()

    def cpu_copy():
        host = codec.unpack(data)
        for v in host.values():
            cuda.to_device(v)
        cuda.synchronize()

    raw = np.concatenate([np.ascontiguousarray(v).reshape(-1).view(np.uint8)
                          for v in tensors.values()])

    def raw_copy():
        cuda.to_device(raw)
        cuda.synchronize()

    for key, fn in (("load_gpu", gpu_load), ("load_gpu_noverify", gpu_load_noverify),
                    ("load_cpu_copy", cpu_copy), ("load_raw_copy", raw_copy)):
        fn()
        t = best_time(fn, max(3, repeat // 2))
        row[f"{key}_s"] = t
        row[f"{key}_Mparams_s"] = n / t / 1e6
    t = best_time(lambda: codec.unpack(data), max(3, repeat // 2))
    row["cpu_decode_Mparams_s"] = n / t / 1e6
    row["load_phases_s"] = load_phases(cuda, data, repeat)
    return row


def load_phases(cuda, data: bytes, repeat: int) -> dict:
    """The steps of ``codec.cuda.unpack`` timed one at a time (best of), seconds:
    ``package`` (header parse), ``crc_zlib`` / ``crc_kernel`` (the host's chunk CRC pass with
    zlib.crc32 / kernels/crc.py on its threads, header parse included), ``copy_bytes`` (host
    -> device, byte swap), ``crc_device`` (the chunk CRCs on the device, compared on the
    host), ``plan`` (group plans), ``to_device`` (tables, outputs, plan arrays),
    ``launch_sync`` (kernels), ``check_results``; and whole loads with the CRCs on the device
    (the default from api.GPU_CRC_MIN_BYTES) and on the host (copied while the host checks)."""
    import codec
    import codec.cuda as gc
    from codec import package as P
    from codec.cuda import api
    from codec.kernels.parallel import run_chunks
    res = {}
    k = max(3, repeat // 2)

    def timed(key, fn):
        fn()
        res[key] = best_time(fn, k)

    def crc_modes():
        for mode, thr in (("zlib", 1 << 30), ("kernel", 1)):
            old = P.CRC_KERNEL_MIN_THREADS, P.CRC_KERNEL_MIN_CHUNKS
            P.CRC_KERNEL_MIN_THREADS, P.CRC_KERNEL_MIN_CHUNKS = thr, 0
            try:
                yield mode
            finally:
                P.CRC_KERNEL_MIN_THREADS, P.CRC_KERNEL_MIN_CHUNKS = old

    def crc_pass():
        q = codec.Package(data)
        jobs = q._chunk_jobs()
        if jobs is not None:
            parts, done = jobs
            run_chunks(lambda j: parts[j][1](), len(parts))
            assert done()

    timed("package", lambda: codec.Package(data))
    for mode in crc_modes():
        timed(f"crc_{mode}", crc_pass)
    gp = gc.GpuPackage(data)
    entries = gp._entries(None)
    lo, hi = gp._span(entries, True)
    timed("copy_bytes", lambda: (gp._copy_bytes(lo, hi), cuda.synchronize()))
    d = gp.package.directory
    if d.version == 2 and lo == 0 and hi >= d.directory_offset:
        words = gp._copy_bytes(lo, hi)
        timed("crc_device", lambda: gp._device_chunk_crcs(words, hi))
    timed("plan", lambda: gp._plan_all(entries, None, lo))
    batches = gp._plan_all(entries, None, lo)
    timed("to_device", lambda: (gp._to_device(batches), cuda.synchronize()))
    plan = gp.prepare()
    timed("launch_sync", lambda: (gp.launch(plan), cuda.synchronize()))
    timed("check_results", lambda: (gp.check(plan), gp.results(plan)))
    timed("load_crc_device", lambda: (gc.unpack(data), cuda.synchronize()))
    old = api.GPU_CRC_MIN_BYTES
    api.GPU_CRC_MIN_BYTES = 1 << 62
    try:
        timed("load_crc_host", lambda: (gc.unpack(data), cuda.synchronize()))
    finally:
        api.GPU_CRC_MIN_BYTES = old
    return res


# warp-kernel settings timed with --sweep (each differs from api.WARP_CONFIG in one or two)
SWEEP = [{"max_registers": 64}, {"warps": 4}, {"stage_bytes": 0}, {"overlap": 256},
         {"max_rounds": 32}, {"warps": 4, "stage_bytes": 0}]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", nargs="*", default=MODELS)
    ap.add_argument("--synthetic-params", type=int, default=64 * 1024 * 1024)
    ap.add_argument("--no-synthetic", action="store_true")
    ap.add_argument("--no-real", action="store_true")
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--sweep", action="store_true",
                    help="also time warp-kernel settings (benchmarks/bench_gpu.py SWEEP) on the "
                         "synthetic model")
    ap.add_argument("--out", default=str(HERE / "results" / "gpu.json"))
    args = ap.parse_args(argv)
    cuda = need_gpu()
    import numba

    import codec
    dev = cuda.get_current_device()
    info = {"device": dev.name.decode() if isinstance(dev.name, bytes) else str(dev.name),
            "compute_capability": list(dev.compute_capability),
            "numba": numba.__version__, "numpy": np.__version__, "codec": codec.__version__,
            "python": platform.python_version(), "date": time.strftime("%Y-%m-%d %H:%M:%S"),
            "repeat": args.repeat}
    info["d2d"] = d2d_bandwidth(cuda)
    print(f"device {info['device']}  d2d copy {info['d2d']['memcpy_GBps']:.0f} GB/s (memcpy), "
          f"{info['d2d']['kernel_GBps']:.0f} GB/s (kernel)", flush=True)
    rows = []
    jobs = []
    if not args.no_real:
        for m in args.models:
            if (weights_dir() / f"{m}.npz").exists():
                for bits, sp in CONFIGS:
                    jobs.append((m, bits, sp, None))
            else:
                print(f"skip {m}: no weights", file=sys.stderr)
    if not args.no_synthetic:
        floats = synthetic_model(args.synthetic_params)
        for bits, sp in CONFIGS:
            jobs.append((f"synthetic_{sum(v.size for v in floats.values()) // 2**20}M", bits, sp,
                         floats))
    hdr = (f"{'model':34} {'b':>2} {'sp':>4} {'params':>11} {'bpp':>5} {'groups':>7} "
           f"{'dec auto':>9} {'dec warp':>9} {'dec glob':>9} {'dec shar':>9} {'load GPU':>9} "
           f"{'(no CRC)':>9} {'CPU+copy':>9} {'raw copy':>9}")
    print(hdr)
    print(f"{'':34} {'':>2} {'':>4} {'':>11} {'':>5} {'':>7} " + f"{'Gparam/s':>9} " * 4
          + f"{'ms':>9} " * 4)
    for m, bits, sp, floats in jobs:
        if floats is None:
            t = quantized_model(m, bits, sp)
        else:
            t = {k: quantize_tensor(v, bits, sp) for k, v in floats.items()}
        r = measure(cuda, m, t, bits, sp, args.repeat,
                    SWEEP if (args.sweep and floats is not None) else None)
        rows.append(r)
        print(f"{m:34} {bits:>2} {sp:>4} {r['params']:>11,} {r['bits_per_param']:>5.2f} "
              f"{r['groups']:>7} {r['decode_auto_Gparams_s']:>9.1f} "
              f"{r['decode_warp_Gparams_s']:>9.1f} "
              f"{r['decode_global_Gparams_s']:>9.1f} "
              f"{r.get('decode_shared_Gparams_s', float('nan')):>9.1f} "
              f"{1e3 * r['load_gpu_s']:>9.2f} {1e3 * r['load_gpu_noverify_s']:>9.2f} "
              f"{1e3 * r['load_cpu_copy_s']:>9.2f} {1e3 * r['load_raw_copy_s']:>9.2f}", flush=True)
        ph = {key: 1e3 * v for key, v in r["load_phases_s"].items()}
        print("    load steps ms: " + ", ".join(f"{key} {v:.2f}" for key, v in ph.items()),
              flush=True)
        if "warp_fallback_share" in r:
            print(f"    warp: {r['decode_warp_Gparams_s']:.1f} G params/s, "
                  f"{100 * r['warp_fallback_share']:.2f} % of groups sequential", flush=True)
        for key, (v, fb) in r.get("sweep", {}).items():
            print(f"    warp {key}: {v:.1f} G params/s, {100 * fb:.2f} % sequential", flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"info": info, "rows": rows}, f, indent=1)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
