"""Run the CUDA-simulator checks of tests/test_cuda_sim.py on a real GPU (device sessions).

The checks were written for the simulator (CI); here the same child script runs with the real
CUDA target, so every kernel path they reach (corrupt input, bad plans, the v3 mirror, the
v5 prediction rebuild, the device chunk CRCs) runs on the hardware.  Checks that lean on the simulator's launch settings
(small warp staging, 'auto' thresholds) may take other paths here: a failure is printed with
its traceback, to be read, not counted.  Usage (repository root, GPU machine):
    python3 benchmarks/gpu_simchecks.py OUT.json
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(out: str) -> int:
    spec = importlib.util.spec_from_file_location("tcs", ROOT / "tests" / "test_cuda_sim.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    child = mod.CHILD.replace("assert config.ENABLE_CUDASIM", "assert not config.ENABLE_CUDASIM")
    script = Path(out).with_suffix(".child.py")
    script.write_text(child)
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run([sys.executable, str(script), out], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    print(proc.stdout[-4000:], proc.stderr[-4000:])
    if not Path(out).exists():
        print("child wrote no results, rc", proc.returncode)
        return 1
    res = json.loads(Path(out).read_text())
    bad = {k: v for k, v in res.items() if v != "ok"}
    missing = sorted(set(mod.CHECKS) - set(res))
    print(f"GPU sim-checks: {len(res) - len(bad)}/{len(res)} ok; missing {missing}")
    for k, v in bad.items():
        print(f"--- {k}\n{v}")
    return 0 if not bad and not missing else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
