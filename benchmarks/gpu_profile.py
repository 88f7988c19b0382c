"""Launch the GPU decode kernels on one synthetic package, for a profiler (docs/GPU.md).

    ncu --kernel-name regex:decode_warp --launch-skip 1 --launch-count 1 \\
        python3 benchmarks/gpu_profile.py [--params 16777216] [--bits 8] [--sparsity 0.5]
          [--variant warp] [--set key=value ...]

Packs a synthetic model (benchmarks/bench_gpu.py's), decodes it twice with ``variant`` (the
first launch compiles; profile the second) and checks it against the CPU decoder.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.bench_gpu import need_gpu, synthetic_model  # noqa: E402
from benchmarks.recipe import quantize_tensor  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--params", type=int, default=16 * 1024 * 1024)
    ap.add_argument("--bits", type=int, default=8)
    ap.add_argument("--sparsity", type=float, default=0.5)
    ap.add_argument("--variant", default="warp")
    ap.add_argument("--set", nargs="*", default=[], help="WARP_CONFIG overrides, key=int")
    args = ap.parse_args(argv)
    cuda = need_gpu()
    import codec
    import codec.cuda as gc
    from codec.cuda import api
    for kv in args.set:
        k, v = kv.split("=")
        api.WARP_CONFIG[k] = int(v)
    t = {k: quantize_tensor(v, args.bits, args.sparsity)
         for k, v in synthetic_model(args.params).items()}
    data = codec.pack(t)
    gp = gc.GpuPackage(data)
    plan = gp.prepare()
    for _ in range(2):
        out = gp.run(plan, args.variant)
        cuda.synchronize()
    for k, v in codec.unpack(data).items():
        assert np.array_equal(out[k].copy_to_host(), v), k
    print("profiled", args.variant, api.WARP_CONFIG, "params", args.params)
    return 0


if __name__ == "__main__":
    sys.exit(main())
