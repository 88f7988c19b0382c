"""Candidate F: a per-tensor fallback block mode "bytes compressed by a general-purpose LZ
codec" (zstd-19 or brotli-11 of the tensor's raw int bytes), chosen per tensor when smaller than
our block.  Measures the package size with today's blocks replaced where the fallback wins
(+1 byte per tensor for the mode).  Targets structured tensors such as silero's STFT basis.

    nice -n 15 python3 benchmarks/experiments/lz_fallback.py

Writes benchmarks/results/experiments_lz_fallback.json.
"""
import json

import brotli
import numpy as np
import zstandard

from codec.format import read_directory
from common import ROOT, SHORT, all_cases, get

rows = []
zc = zstandard.ZstdCompressor(level=19)
for m, b, s in all_cases():
    q, pkg = get(m, b, s)
    n = sum(v.size for v in q.values())
    d = read_directory(np.frombuffer(pkg, np.uint8))
    save_z = save_b = 0
    won = []
    per = {}
    for e in d.tensors:
        raw = q[e.name].tobytes()
        ours = e.block_length
        z = len(zc.compress(raw))
        br = len(brotli.compress(raw, quality=11))
        per[e.name] = [ours, z, br]
        save_z += max(0, ours - z)
        save_b += max(0, ours - br)
        if br < ours - 16:
            won.append((e.name, ours, br))
    nt = len(d.tensors)
    rows.append(dict(model=m, bits=b, sparsity=s, params=n, bpp_today=8 * len(pkg) / n,
                     bpp_zstd_fallback=8 * (len(pkg) - save_z + nt) / n,
                     bpp_brotli_fallback=8 * (len(pkg) - save_b + nt) / n,
                     per_tensor_bytes=per,   # name: [our block, zstd-19, brotli-11]
                     brotli_wins=[w for w in sorted(won, key=lambda w: w[2] - w[1])[:5]]))
    r = rows[-1]
    print(f"{SHORT[m]:10s} {b}/{s}: today {r['bpp_today']:.3f} zstd-fallback {r['bpp_zstd_fallback']:.3f} "
          f"brotli-fallback {r['bpp_brotli_fallback']:.3f}  {[(w[0][:24], w[1], w[2]) for w in r['brotli_wins'][:3]]}", flush=True)
(ROOT / "benchmarks" / "results" / "experiments_lz_fallback.json").write_text(json.dumps(rows, indent=1))
