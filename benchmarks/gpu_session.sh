#!/bin/sh
# One device session's checks, in one command (see docs/GPU.md "Measuring on a GPU machine").
# Run from the repository root on the GPU machine, with the wheels of .whl/ (numpy < 2.5 for
# numba-cuda, bitarray) and ../shared/weights copied to shared/weights:
#   sh benchmarks/gpu_session.sh [bench_gpu.py options]
# Writes its logs and benchmarks/results/gpu.json to $OUT (or to /tmp/gpu_session).
OUT=${OUT:-/tmp/gpu_session}
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/numpy-*.whl .whl/bitarray-*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD CODEC_WEIGHTS=$PWD/shared/weights PYTHONUNBUFFERED=1
if ! python3 -c "from numba import cuda; assert cuda.is_available()" 2>"$OUT/cuda_import.log"; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/numba_cuda-*.whl || exit 1
fi
python3 - <<'PY' 2>&1 | tee "$OUT/env.log"
import os, numpy, numba
from numba import cuda
from codec.kernels.parallel import workers
d = cuda.get_current_device()
print("numpy", numpy.__version__, "numba", numba.__version__, "device", d.name,
      "cc", d.compute_capability, "SMs", d.MULTIPROCESSOR_COUNT, "cpus", os.cpu_count(),
      "affinity", len(os.sched_getaffinity(0)), "numba threads", numba.get_num_threads(),
      "pool workers", workers())
PY
if [ "${GPU_SESSION_TESTS:-1}" = 1 ]; then  # GPU_SESSION_TESTS=0: benchmark only
    python3 -m pytest -q -p no:cacheprovider tests/test_cuda_sim.py -k "real_models or ptx" \
        2>&1 | tee "$OUT/pytest.log"
fi
if [ "${GPU_SESSION_SIMCHECKS:-1}" = 1 ]; then  # the simulator's checks on the real GPU
    timeout "${GPU_SESSION_SIMCHECKS_TIMEOUT:-240}" python3 benchmarks/gpu_simchecks.py \
        "$OUT/simchecks.json" 2>&1 | tee "$OUT/simchecks.log"
fi
if [ "${GPU_SESSION_PROFILE:-0}" = 1 ]; then  # Nsight Compute on one launch of each kernel
    NCU=$(command -v ncu || ls -d /opt/nvidia/nsight-compute/*/ncu | head -1)
    for k in decode_warp decode_global; do
        v=warp; [ $k = decode_global ] && v=global
        timeout 240 "$NCU" --kernel-name regex:$k --launch-skip 1 --launch-count 1 \
            --section LaunchStats --section Occupancy --section SpeedOfLight \
            --section WarpStateStats --section SchedulerStats --section InstructionStats \
            --section MemoryWorkloadAnalysis --section SourceCounters \
            python3 benchmarks/gpu_profile.py --variant $v > "$OUT/ncu_$k.txt" 2>&1
        tail -n 5 "$OUT/ncu_$k.txt"
    done
fi
python3 benchmarks/bench_gpu.py --out "$OUT/gpu.json" "$@" 2>&1 | tee "$OUT/bench.log"
