"""Session 18's encoder-side measurements for the size targets (measurement only: nothing in
``codec/`` changes; prints its figures).

    nice -n 15 python3 benchmarks/experiments/tables_search.py models   # per-tensor model tables
    nice -n 15 python3 benchmarks/experiments/tables_search.py deltas   # table pool as deltas
    nice -n 15 python3 benchmarks/experiments/tables_search.py search   # more planner search
    nice -n 15 python3 benchmarks/experiments/tables_search.py kernels  # ('kernels', k) candidates

* ``models``: each tensor's values costed (ideal code lengths) under a discretized generalized
  Gaussian fitted by exact cost over a grid (shape 0.5-4, scale 0.3-3x the RMS, mean 0 or the
  mean; with pruning the zero is a separate event), against the per-tensor empirical entropy
  and one distribution for the whole model: what a per-tensor table described by 2-3 bytes
  could reach.
* ``deltas``: today's table pool (format v4, §28.1, sized by ``kernels.pool_v4.table_choice``)
  against each table coded as sEG(k) differences of its code lengths from the best earlier table
  of the same alphabet (plus a reference index, a 2-bit k and a mode bit), whichever is shorter.
* ``search``: ``codec.pack`` with the planner's Lloyd steps 6 / 4 instead of 2 / 2, then also no
  minimum split gain, then 64 splits instead of 32.
* ``kernels``: ('kernels', 2) and ('kernels', 4) added to effort 1's grouping candidates (the
  per-tensor mixed plan picks among all), every package decoded back and compared.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import codec  # noqa: E402
import codec.package as P  # noqa: E402
import codec.writer as W  # noqa: E402
import codec.planner as PL  # noqa: E402
from codec.kernels.pool_v4 import _eg_width, _zigzag, table_choice  # noqa: E402
from benchmarks.recipe import CONFIGS, MODELS, quantized_model  # noqa: E402


def _entropy_bits(counts: np.ndarray) -> float:
    c = counts[counts > 0]
    return float(-(c * np.log2(c / c.sum())).sum())


def models() -> None:
    for m in ["fer_emotion_minixception_tflite", "fer_emotion_minixception", "mtcnn_facenet_pytorch"]:
        for bits, sp in [(8, 0.0), (8, 0.5), (4, 0.0)]:
            q = quantized_model(m, bits, sp)
            half = 1 << (bits - 1)
            xs = np.arange(-half, half)
            emp = fit = 0.0
            whole = np.zeros(2 * half)
            for v in q.values():
                c = np.bincount(v.ravel().astype(np.int64) + half, minlength=2 * half).astype(float)
                whole += c
                emp += _entropy_bits(c)
                nz = c.copy()
                zero_bits = 0.0
                if sp > 0:  # the zero as its own event, the rest from the model
                    z, n = nz[half], c.sum()
                    nz[half] = 0
                    if 0 < z < n:
                        zero_bits = -(z * np.log2(z / n) + (n - z) * np.log2((n - z) / n))
                n_nz = max(nz.sum(), 1.0)
                rms = np.sqrt((nz * xs ** 2).sum() / n_nz) + 1e-9
                mean = (nz * xs).sum() / n_nz
                best = np.inf
                for shape in (0.5, 0.75, 1, 1.25, 1.5, 1.75, 2, 2.5, 3, 4):
                    for scale in rms * np.geomspace(0.3, 3, 40):
                        for mu in (0.0, mean):
                            lp = -np.abs((xs - mu) / scale) ** shape
                            if sp > 0:
                                lp[half] = -np.inf
                            p = np.exp(lp - lp.max())
                            p /= p.sum()
                            used = nz > 0
                            best = min(best, float(-(nz[used] * np.log2(p[used])).sum()))
                fit += best + zero_bits
            print(f"{m[:24]:24s} {bits}/{sp}: {len(q)} tensors; per-tensor empirical "
                  f"{emp / 8:.0f} B, fitted model {fit / 8:.0f} B ({(fit - emp) / 8:+.0f}), one "
                  f"distribution {_entropy_bits(whole) / 8:.0f} B", flush=True)


def _seg_width(d: int, k: int) -> int:
    """Bits of sEG(k) of ``d`` (format v4's, kernels/pool_v4)."""
    return int(_eg_width(_zigzag(np.int64(d)), np.int64(k)))


def deltas() -> None:
    for m in MODELS:
        for bits, sp in CONFIGS:
            tabs = P.Package(codec.pack(quantized_model(m, bits, sp))).directory.tables
            lens = [np.asarray(t.lengths, np.int64) for t in tabs]
            today = alt = 0
            for i, t in enumerate(tabs):
                same = i > 0 and (tabs[i - 1].kref, tabs[i - 1].nrun, tabs[i - 1].nclass) == \
                    (t.kref, t.nrun, t.nclass)
                c = table_choice(np.asarray(t.lengths, np.uint8), same, t.nrun, t.nclass)
                own = int(c[0]) if hasattr(c, "__len__") else int(c)
                today += own
                best = own
                ref_bits = max(i - 1, 0).bit_length()
                for j in range(i):
                    if lens[j].size == lens[i].size:
                        d = (lens[i] - lens[j]).tolist()
                        best = min(best, min(1 + ref_bits + 2 + sum(_seg_width(x, k) for x in d)
                                             for k in range(3)))
                alt += best + (1 if i else 0)
            print(f"{m[:24]:24s} {bits}/{sp}: {len(tabs)} tables, pool ~{today / 8:.0f} B, with "
                  f"deltas ~{alt / 8:.0f} B ({(alt - today) / 8:+.0f})", flush=True)


def _sizes(cfgs, label: str) -> None:
    out = []
    for c in cfgs:
        q = quantized_model(*c)
        t = time.perf_counter()
        n = len(codec.pack(q))
        out.append(f"{c[0][:10]} {c[1]}/{c[2]} {n} B ({(time.perf_counter() - t) * 1e3:.0f} ms)")
    print(f"{label:28s} " + "; ".join(out), flush=True)


def search() -> None:
    cfgs = [("mtcnn_facenet_pytorch", 4, 0.0), ("fer_emotion_minixception_tflite", 8, 0.0),
            ("fer_emotion_minixception_tflite", 4, 0.0), ("fer_emotion_minixception_tflite", 8, 0.5)]
    for c in cfgs:  # (compile first)
        codec.pack(quantized_model(*c))
    _sizes(cfgs, "today")
    PL.GROUP_LLOYD, PL.SPLIT_LLOYD = 6, 4
    _sizes(cfgs, "Lloyd 6 / 4")
    PL.SPLIT_MIN_GAIN = 0
    _sizes(cfgs, "+ no minimum gain")
    PL.GROUP_SPLITS = 64
    _sizes(cfgs, "+ 64 splits")


def kernels() -> None:
    real = W._group_candidates

    def more(group, effort):
        c = real(group, effort)
        return c[:1] + [("kernels", 2), ("kernels", 4)] + c[1:] if len(c) > 1 else c
    for m in MODELS:
        for bits, sp in CONFIGS:
            q = quantized_model(m, bits, sp)
            W._group_candidates = real
            t = time.perf_counter()
            a = codec.pack(q)
            ta = time.perf_counter() - t
            W._group_candidates = more
            t = time.perf_counter()
            b = codec.pack(q)
            tb = time.perf_counter() - t
            W._group_candidates = real
            got = codec.unpack(b)
            assert all(np.array_equal(got[k], q[k]) for k in q)
            print(f"{m[:24]:24s} {bits}/{sp}: {len(a)} -> {len(b)} B ({len(b) - len(a):+d}), "
                  f"encode {ta * 1e3:.0f} -> {tb * 1e3:.0f} ms", flush=True)


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else ""
    jobs = {"models": models, "deltas": deltas, "search": search, "kernels": kernels}
    if what not in jobs:
        raise SystemExit(f"usage: tables_search.py {{{'|'.join(jobs)}}}")
    jobs[what]()
