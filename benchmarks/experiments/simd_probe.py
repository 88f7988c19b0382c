"""Probe (session 18, measurement only): can the decoder go faster by decoding several groups in
one instruction stream?  Two kernels over the same fake 12-bit table (whole-set entries of 10
bits, run 0, random values) and random payload bits:

* ``lockstep``: 16 lanes in a branch-free loop over the lanes, left to Numba's LLVM to
  vectorize (it prints how many gather / scatter instructions the machine code has);
* ``lockstep8``: 8 lanes with explicit ``llvm.masked.gather`` of each lane's 8-byte window and
  table entry, and ``llvm.masked.scatter`` of its value (an intrinsic), checked to write the
  same values as ``scalar``, the same decode one lane at a time.

    python3 benchmarks/experiments/simd_probe.py
"""
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import numpy as np  # noqa: E402
from llvmlite import ir  # noqa: E402
from numba import njit, types  # noqa: E402
from numba.core import cgutils  # noqa: E402
from numba.extending import intrinsic  # noqa: E402
from codec.kernels.intrinsics import load_be64  # noqa: E402
from codec.kernels.directory import WHOLE_FLAG, WHOLE_MAX  # noqa: E402

L = 16  # lanes of the auto-vectorization probe

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

N = 8
i1, i8, i32, i64 = ir.IntType(1), ir.IntType(8), ir.IntType(32), ir.IntType(64)
V64 = ir.VectorType(i64, N)

def splat(b, val, vt):
    v = b.insert_element(ir.Constant(vt, None), val, ir.Constant(i32, 0))
    return b.shuffle_vector(v, ir.Constant(vt, None), ir.Constant(ir.VectorType(i32, N), [0] * N))

def vconst(c):
    return ir.Constant(V64, [c] * N)

@intrinsic
def step8(typingctx, buf, lut, pos, oi, ohi, out, voff):
    sig = types.int64(buf, lut, pos, oi, ohi, out, voff)
    def codegen(context, builder, signature, args):
        b = builder
        A = [context.make_array(signature.args[k])(context, b, args[k]) for k in range(6)]
        bufa, luta, posa, oia, ohia, outa = A
        vptr = lambda arr: b.bitcast(arr.data, V64.as_pointer())
        p = b.load(vptr(posa), align=8)
        o = b.load(vptr(oia), align=8)
        oh = b.load(vptr(ohia), align=8)
        base = splat(b, b.ptrtoint(bufa.data, i64), V64)
        addr = b.add(base, b.lshr(p, vconst(3)))
        ptrs = b.inttoptr(addr, ir.VectorType(i64.as_pointer(), N))
        mask = ir.Constant(ir.VectorType(i1, N), [1] * N)
        gfn = cgutils.get_or_insert_function(b.module, ir.FunctionType(V64, [ir.VectorType(i64.as_pointer(), N), i32, ir.VectorType(i1, N), V64]), "llvm.masked.gather.v8i64.v8p0")
        w = b.call(gfn, [ptrs, ir.Constant(i32, 1), mask, ir.Constant(V64, None)])
        bs = cgutils.get_or_insert_function(b.module, ir.FunctionType(V64, [V64]), "llvm.bswap.v8i64")
        w = b.call(bs, [w])
        w = b.shl(w, b.and_(p, vconst(7)))
        idx = b.lshr(w, vconst(52))
        lbase = splat(b, b.ptrtoint(luta.data, i64), V64)
        lptrs = b.inttoptr(b.add(lbase, b.shl(idx, vconst(2))), ir.VectorType(i32.as_pointer(), N))
        V32 = ir.VectorType(i32, N)
        gfn32 = cgutils.get_or_insert_function(b.module, ir.FunctionType(V32, [ir.VectorType(i32.as_pointer(), N), i32, ir.VectorType(i1, N), V32]), "llvm.masked.gather.v8i32.v8p0")
        e = b.zext(b.call(gfn32, [lptrs, ir.Constant(i32, 4), mask, ir.Constant(V32, None)]), V64)
        whole = b.icmp_unsigned(">=", e, vconst(WHOLE_FLAG))
        run = b.and_(b.lshr(e, vconst(4)), vconst(8191))
        j = b.add(o, run)
        inr = b.icmp_signed("<", j, oh)
        act = b.and_(whole, inr)
        vo = splat(b, args[6], V64)
        v = b.add(b.sub(b.and_(b.lshr(e, vconst(17)), vconst(16383)), vconst(WHOLE_MAX)), vo)
        V8 = ir.VectorType(i8, N)
        v8 = b.trunc(v, V8)
        obase = splat(b, b.ptrtoint(outa.data, i64), V64)
        optrs = b.inttoptr(b.add(obase, j), ir.VectorType(i8.as_pointer(), N))
        sfn = cgutils.get_or_insert_function(b.module, ir.FunctionType(ir.VoidType(), [V8, ir.VectorType(i8.as_pointer(), N), i32, ir.VectorType(i1, N)]), "llvm.masked.scatter.v8i8.v8p0")
        b.call(sfn, [v8, optrs, ir.Constant(i32, 1), act])
        o2 = b.select(act, b.add(j, vconst(1)), o)
        p2 = b.select(act, b.add(p, b.and_(e, vconst(15))), p)
        b.store(o2, vptr(oia), align=8)
        b.store(p2, vptr(posa), align=8)
        # number of active lanes
        bits = b.bitcast(act, ir.IntType(N))
        pc = cgutils.get_or_insert_function(b.module, ir.FunctionType(ir.IntType(N), [ir.IntType(N)]), f"llvm.ctpop.i{N}")
        return b.zext(b.call(pc, [bits]), i64)
    return sig, codegen

@njit(nogil=True)
def lockstep8(buf, lut, pos, oi, ohi, out, voff, steps):
    n = 0
    for _ in range(steps):
        k = step8(buf, lut, pos, oi, ohi, out, voff)
        n += k
        if k == 0:
            break
    return n

@njit(nogil=True)
def scalar(buf, lut, pos, oi, ohi, out, voff, steps):
    # the same work one lane at a time (2 lanes interleaved would be today's kernel's shape)
    n = 0
    for l in range(pos.size):
        p = pos[l]; o = oi[l]
        for _ in range(steps):
            w = np.uint64(0)
            q = p >> 3
            for k in range(8):
                w = (w << np.uint64(8)) | np.uint64(buf[q + k])
            w = w << np.uint64(p & 7)
            e = np.uint64(lut[w >> np.uint64(52)])
            j = o + np.int64((e >> np.uint64(4)) & np.uint64(8191))
            if e < np.uint64(WHOLE_FLAG) or j >= ohi[l]:
                break
            out[j] = voff + np.int64((e >> np.uint64(17)) & np.uint64(16383)) - WHOLE_MAX
            o = j + 1
            p += np.int64(e & np.uint64(15))
            n += 1
        pos[l] = p; oi[l] = o
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

pos0 = (np.arange(N) * (buf.size * 8 // N // 2)).astype(np.int64)
oi0 = (np.arange(N) * (out.size // N)).astype(np.int64)
ohi0 = oi0 + out.size // N
out[:] = 0
out2 = np.zeros_like(out)
lockstep8(buf, lut, pos0.copy(), oi0.copy(), ohi0, out, 0, 10)
asm = list(lockstep8.inspect_asm().values())[0]
print("explicit, 8 lanes: gathers:", asm.count("gather"), "scatters:", asm.count("scatter"))
n1 = lockstep8(buf, lut, pos0.copy(), oi0.copy(), ohi0, out, 0, 40000)
n2 = scalar(buf, lut, pos0.copy(), oi0.copy(), ohi0, out2, 0, 40000)
assert n1 == n2 and np.array_equal(out, out2)


def best(f):
    b = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        f()
        b = min(b, time.perf_counter() - t0)
    return b


t1 = best(lambda: lockstep8(buf, lut, pos0.copy(), oi0.copy(), ohi0, out, 0, 40000))
t2 = best(lambda: scalar(buf, lut, pos0.copy(), oi0.copy(), ohi0, out2, 0, 40000))
print(f"{n1} values: explicit gathers {n1 / t1 / 1e6:.0f} M values/s, one lane at a time "
      f"{n2 / t2 / 1e6:.0f} M values/s (same values)")
