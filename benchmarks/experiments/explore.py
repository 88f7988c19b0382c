"""Per-tensor view: where do brotli-11 / lzma-9 beat our blocks?  For each tensor: our block
bits, brotli-11 and lzma-9 on the tensor's bytes alone, order-0 entropy, and empirical
conditional entropies (no table cost: lower bounds of static context models) given the output
channel, the left neighbour's value bucket, and |left| + |prev output channel| buckets.

    nice -n 15 python3 benchmarks/experiments/explore.py MODEL BITS SPARSITY [top]
"""
import lzma
import sys

import brotli
import numpy as np

from common import SHORT, cond_entropy, entropy_bits, get
from codec.format import read_directory


def bucket(a):
    a = np.abs(a)
    return np.minimum(np.floor(np.log2(a + 1)).astype(np.int64), 7)


m, bits, sp = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
top = int(sys.argv[4]) if len(sys.argv) > 4 else 12
q, pkg = get(m, bits, sp)
d = read_directory(np.frombuffer(pkg, np.uint8))
rows = []
T = dict(ours=0, br=0, lz=0, o0=0, hch=0, hl=0, hlo=0)
for e in d.tensors:
    x = q[e.name]
    f = x.reshape(-1).astype(np.int64)
    n = f.size
    raw = x.tobytes()
    br = 8 * len(brotli.compress(raw, quality=11))
    lz = 8 * len(lzma.compress(raw, preset=9 | lzma.PRESET_EXTREME))
    _, k = np.unique(f, return_counts=True)
    o0 = entropy_bits(k)
    rowlen = int(np.prod(x.shape[1:])) if x.ndim >= 2 else n
    ch = np.arange(n) // rowlen
    left = np.where(np.arange(n) % rowlen != 0, np.roll(f, 1), 0)
    up = np.where(np.arange(n) >= rowlen, np.roll(f, rowlen), 0)
    hch = cond_entropy(f, ch)
    hl = cond_entropy(f, bucket(left))
    hlo = cond_entropy(f, bucket(left) * 8 + bucket(up))
    ours = 8 * e.block_length
    for kk, vv in zip(T, (ours, br, lz, o0, hch, hl, hlo)):
        T[kk] += vv
    rows.append((min(br, lz) - ours, e.name, x.shape, n, ours / n, br / n, lz / n, o0 / n, hch / n, hl / n, hlo / n))
rows.sort()
print(f"{SHORT[m]} {bits}/{sp}: tensors where brotli/lzma (alone) beat our block most (bits):")
print("gain_bits name shape n | ours brotli lzma order0 H|channel H|left H|left,up  (b/p)")
for r in rows[:top]:
    print(f"{r[0]:9.0f} {r[1][:40]:40s} {str(r[2]):18s} {r[3]:8d} | " + " ".join(f"{v:.3f}" for v in r[4:]))
N = sum(v.size for v in q.values())
print("TOTAL (b/p, blocks only, per-tensor compressors): " + " ".join(f"{k} {v/N:.3f}" for k, v in T.items()))
