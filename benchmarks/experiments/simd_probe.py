"""Probe (session 18, measurement only): 16 groups decoded in lockstep by a branch-free loop
over the lanes (whole-set entries of one 12-bit table only, on random bits): does Numba's LLVM
vectorize it into gathers and scatters, and how fast is it?  Prints the count of gather /
scatter instructions in the kernel's machine code and its speed.

    python3 benchmarks/experiments/simd_probe.py
"""
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import numpy as np  # noqa: E402
from numba import njit  # noqa: E402
from codec.kernels.intrinsics import load_be64  # noqa: E402
from codec.kernels.directory import WHOLE_FLAG, WHOLE_MAX  # noqa: E402

L = 16

@njit(nogil=True, fastmath=True, boundscheck=False)
def lockstep(buf, lut, pos, oi, ohi, voff, out, steps):
    """pos, oi, ohi: int64[L]; decodes whole-set symbols in all lanes until every lane stops
    (a non-whole entry or its group's end).  Returns the values decoded."""
    n = 0
    act = np.ones(L, np.int64)
    for _ in range(steps):
        live = 0
        for l in range(L):
            p = np.uint64(pos[l])
            w = load_be64(buf, p >> np.uint64(3)) << (p & np.uint64(7))
            e = np.uint64(lut[w >> np.uint64(52)])
            run = np.int64((e >> np.uint64(4)) & np.uint64(8191))
            j = oi[l] + run
            ok = (e >= np.uint64(WHOLE_FLAG)) & (j < ohi[l]) & (act[l] != 0)
            v = voff + np.int64((e >> np.uint64(17)) & np.uint64(16383)) - WHOLE_MAX
            jj = np.uint64(j) if ok else np.uint64(0)
            out[jj] = v if ok else out[jj]
            oi[l] = j + 1 if ok else oi[l]
            pos[l] = np.int64(p) + np.int64(e & np.uint64(15)) if ok else np.int64(p)
            act[l] = 1 if ok else 0
            live += 1 if ok else 0
        n += live
        if live == 0:
            break
    return n

buf = np.random.randint(0, 256, 1 << 20).astype(np.uint8)
lut = np.zeros(4096, np.uint32)
# a fake whole-set table: 8-bit-ish codes of 10 bits, run 0, values random
rng = np.random.default_rng(0)
vals = rng.integers(-100, 100, 4096)
lut[:] = (np.uint64(WHOLE_FLAG) | np.uint64(10) | ((vals + WHOLE_MAX).astype(np.uint64) << np.uint64(17))).astype(np.uint32)
out = np.zeros(1 << 22, np.int8)
pos = (np.arange(L) * (buf.size * 8 // L // 2)).astype(np.int64)
oi = (np.arange(L) * (out.size // L)).astype(np.int64)
ohi = oi + out.size // L
lockstep(buf, lut, pos.copy(), oi.copy(), ohi, 0, out, 10)
asm = list(lockstep.inspect_asm().values())[0]
print("gathers:", asm.count("gather"), "scatters:", asm.count("scatter"), "zmm:", asm.count("zmm"), "ymm:", asm.count("ymm"))
steps = 20000
t = time.perf_counter(); n = lockstep(buf, lut, pos.copy(), oi.copy(), ohi, 0, out, steps); t = time.perf_counter() - t
print(f"{n} values in {t*1e6:.0f} us: {n/t/1e6:.0f} M values/s")
