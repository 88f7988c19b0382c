"""Multi-set decode tables with 32-bit entries (16 KiB a table instead of 32): does the
multi-set kernel get faster when its table takes half the L1 data cache?  (Measurement only:
nothing in ``codec/`` changes; the package bytes are today's.)

    nice -n 15 python3 benchmarks/experiments/compact_multi.py

``kernels/directory.build_multi``'s uint64 entries hold up to three whole sets (run up to
8191, values up to +-127).  Here an entry is 29 bits: flag, bits used, then three sets of a
4-bit run advance and a 4-bit value in -8 .. 7 (all of a 4-bit tensor's whole-set entries fit:
the script counts them); an entry that does not fit, and a prefix whose sets overrun the group,
read the plain decode table, stored as the second half of the same array (a second array
argument of the inlined step costs an NRT reference count per symbol).  Two kernels, made
from ``decode_groups_multi``'s source with its step replaced:

* ``compact``: exact (every fallback);
* ``probe``: no fallback (an overrun is reported as an error): a bound on what the smaller
  table can give, valid where it decodes the same values (checked, else not shown).

Multi-set part of each package only, one thread, groups table by table, best call of 7
interleaved rounds of ~0.25 s each.  Writes benchmarks/results/experiments_compact_multi.md.
"""
from __future__ import annotations

import inspect
import sys
from pathlib import Path

import numba
import numpy as np
from numba import njit

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import codec  # noqa: E402
import codec.package as P  # noqa: E402
from codec.kernels import decode as D  # noqa: E402
from codec.kernels.directory import WHOLE_FLAG, WHOLE_MAX  # noqa: E402
from benchmarks.experiments.chained_decode import _best, _prepare  # noqa: E402
from benchmarks.recipe import quantized_model  # noqa: E402

_SHIFT = D._SHIFT


@njit(nogil=True)
def build_compact(mluts, out):
    """out[r, p] = the 29-bit form of mluts[r, p] (a plain entry as it is; a whole-set entry
    that does not fit: flag with 0 bits used, the plain table decides).  Returns the entries
    that fit."""
    n_ok = 0
    for r in range(mluts.shape[0]):
        for p in range(mluts.shape[1]):
            e = mluts[r, p]
            if e & np.uint64(WHOLE_FLAG) == 0:
                out[r, p] = np.uint32(e)
                continue
            b = np.int64(e & np.uint64(15))
            r1 = np.int64((e >> np.uint64(4)) & np.uint64(8191))
            v1 = np.int64((e >> np.uint64(17)) & np.uint64(16383)) - WHOLE_MAX
            a2 = np.int64((e >> np.uint64(32)) & np.uint64(63))
            v2 = np.int64((e >> np.uint64(38)) & np.uint64(255)) - 128
            a3 = np.int64((e >> np.uint64(46)) & np.uint64(63))
            v3 = np.int64((e >> np.uint64(52)) & np.uint64(255)) - 128
            if r1 <= 15 and a2 <= 15 and a3 <= 15 and -8 <= v1 <= 7 and -8 <= v2 <= 7 \
                    and -8 <= v3 <= 7:
                out[r, p] = np.uint32((1 << 31) | b | (r1 << 4) | ((v1 + 8) << 8) | (a2 << 12)
                                      | ((v2 + 8) << 16) | (a3 << 20) | ((v3 + 8) << 24))
                n_ok += 1
            else:
                out[r, p] = np.uint32(1 << 31)
    return n_ok


@njit(inline="always")
def _sets(ent, i, voff):
    """The three sets of a 29-bit entry: (j1, j2, j3, v1, v2, v3)."""
    j1 = i + np.int64((ent >> np.uint64(4)) & np.uint64(15))
    j2 = j1 + np.int64((ent >> np.uint64(12)) & np.uint64(15))
    j3 = j2 + np.int64((ent >> np.uint64(20)) & np.uint64(15))
    return (j1, j2, j3, voff + np.int64((ent >> np.uint64(8)) & np.uint64(15)) - 8,
            voff + np.int64((ent >> np.uint64(16)) & np.uint64(15)) - 8,
            voff + np.int64((ent >> np.uint64(24)) & np.uint64(15)) - 8)


@njit(inline="always")
def _step_variant(buf, hi, luts, t, pos, i, o_hi, voff, vmin, vmax, exact):
    """The step of both kernels; ``exact`` None (a type: Numba compiles the fallback out) is
    the probe's."""
    w = D._window(buf, pos >> 3, hi) << np.uint64(pos & 7)
    ent = np.uint64(luts[t, w >> _SHIFT])
    if ent & np.uint64(1 << 31):
        j1, j2, j3, v1, v2, v3 = _sets(ent, i, voff)
        if exact is None:
            if j3 < o_hi:
                return pos + np.int64(ent & np.uint64(15)), j3 + 1, 0, j3, v3, j2, v2, j1, v1
            return pos, j1, D.ERR_RUN_OVERFLOW, j1, voff, j1, voff, j1, voff
        if j3 < o_hi and ent & np.uint64(15):
            return pos + np.int64(ent & np.uint64(15)), j3 + 1, 0, j3, v3, j2, v2, j1, v1
        ent = np.uint64(luts[t + np.uint64(luts.shape[0] >> 1), w >> _SHIFT])  # plain table
        if ent & np.uint64(WHOLE_FLAG):
            j1 = i + np.int64((ent >> np.uint64(4)) & np.uint64(8191))
            if j1 >= o_hi:
                return pos, j1, D.ERR_RUN_OVERFLOW, j1, voff, j1, voff, j1, voff
            v1 = voff + np.int64((ent >> np.uint64(17)) & np.uint64(16383)) - WHOLE_MAX
            if np.uint64(v1 - vmin) > np.uint64(vmax - vmin):
                return pos, j1, D.ERR_RANGE, j1, voff, j1, voff, j1, voff
            return pos + np.int64(ent & np.uint64(15)), j1 + 1, 0, j1, v1, j1, v1, j1, v1
    c, i, st, j, v = D._plain_call(w, ent, i, o_hi, voff, vmin, vmax)
    return pos + c, i, st, j, v, j, v, j, v


@njit(inline="always")
def _step_compact(buf, hi, luts, t, pos, i, o_hi, voff, vmin, vmax):
    return _step_variant(buf, hi, luts, t, pos, i, o_hi, voff, vmin, vmax, True)


@njit(inline="always")
def _step_probe(buf, hi, luts, t, pos, i, o_hi, voff, vmin, vmax):
    return _step_variant(buf, hi, luts, t, pos, i, o_hi, voff, vmin, vmax, None)


def _kernel(step, name: str):
    """decode_groups_multi with ``step`` for its step (and a finish loop using it)."""
    fin = f"""
def _finish_{name}(buf, hi, luts, t, pos, i, o_hi, voff, vmin, vmax, out):
    st = np.int64(0)
    while st == 0:
        pos, i, st, k, x, j2, x2, j, y = _step_{name}(buf, hi, luts, t, pos, i, o_hi, voff,
                                                      vmin, vmax)
        if st == 0:
            out[np.uint64(k)] = x
            out[np.uint64(j2)] = x2
            out[np.uint64(j)] = y
    return pos, i, st
"""
    src = inspect.getsource(D.decode_groups_multi.py_func)
    src = src[src.index("def "):].replace("def decode_groups_multi(", f"def {name}(", 1)
    src = src.replace("_step_multi(", f"_step_{name}(").replace("_finish_multi(", f"_finish_{name}(")
    ns = dict(vars(D))
    ns[f"_step_{name}"] = step
    exec(compile(fin, f"<finish_{name}>", "exec"), ns)
    ns[f"_finish_{name}"] = njit(nogil=True)(ns[f"_finish_{name}"])
    exec(compile(src, f"<{name}>", "exec"), ns)
    return njit(nogil=True)(ns[name])


def main() -> int:
    numba.set_num_threads(1)
    kernels = {"compact": _kernel(_step_compact, "compact"), "probe": _kernel(_step_probe, "probe")}
    lines = ["# Multi-set decode tables with 32-bit entries (measurement only)", "",
             "`python3 benchmarks/experiments/compact_multi.py` (see its docstring): the "
             "multi-set part of each package, one thread, best call; speed = today's time / "
             "the variant's (> 1: faster); `-`: the probe did not decode the same values.", "",
             "| model | cfg | groups | tables | entries that fit | today µs | compact µs (speed) "
             "| probe µs (speed) |", "|---|---|---|---|---|---|---|---|"]
    for m, cfg in [("mtcnn_facenet_pytorch", (4, 0.0)), ("nudenet_yolov8n_320", (4, 0.0)),
                   ("silero_vad_16k", (4, 0.0))]:
        pr = _prepare(codec.pack(quantized_model(m, *cfg)))
        rows, mluts, _bounds = pr["multi"]
        glo, ghi, tid, ost, cnt, voff = pr["plan"]
        parts = P._kernel_parts(pr["luts"], pr["wbound"], pr["multi"], tid, voff, pr["vmin"],
                                pr["vmax"])
        kern, _ml, idx, t = parts[0]
        assert kern is D.decode_groups_multi
        idx = np.arange(tid.size) if idx is None else idx
        perm = np.argsort(t, kind="stable")
        idx, t = idx[perm], t[perm]
        arrs = (glo[idx], ghi[idx], t, ost[idx], cnt[idx], voff[idx])
        comp = np.zeros(mluts.shape, np.uint32)
        n_ok = build_compact(mluts, comp)
        n_whole = int((mluts & np.uint64(WHOLE_FLAG) != 0).sum())
        prow = np.full(mluts.shape[0], -1, np.int64)
        prow[rows[rows >= 0]] = np.flatnonzero(rows >= 0)
        both = np.vstack([comp, pr["luts"][prow]])
        buf, nq = pr["buf"], (idx.size + 1) // 2
        outs = {}

        def call(k, tab, out):
            s = np.zeros(idx.size, np.int64)
            w = np.zeros(idx.size, np.int64)
            rc = k(buf, np.int64(buf.size), *arrs, np.int64(pr["vmin"]), np.int64(pr["vmax"]),
                   tab, out, s, w, np.int64(0), np.int64(nq))
            return rc == 0 and not s.any()
        runs = {"today": (D.decode_groups_multi, mluts), "compact": (kernels["compact"], both),
                "probe": (kernels["probe"], comp)}
        for name, (k, tab) in runs.items():
            outs[name] = np.zeros(pr["total"], pr["dtype"])
            ok = call(k, tab, outs[name])
            if name != "today" and not (ok and np.array_equal(outs[name], outs["today"])):
                if name == "compact":
                    raise AssertionError(f"compact kernel not exact on {m} {cfg}")
                runs[name] = None
        best = {name: float("inf") for name in runs}
        for _ in range(7):
            for name, r in runs.items():
                if r is not None:
                    best[name] = min(best[name], _best(lambda: call(r[0], r[1], outs[name]), 0.25))
        cell = {n: ("-" if runs[n] is None else
                    f"{best[n] * 1e6:.0f} ({best['today'] / best[n]:.3f}x)") for n in runs}
        lines.append(f"| {m} | {cfg[0]}/{cfg[1]} | {idx.size} | {mluts.shape[0]} | {n_ok} / "
                     f"{n_whole} | {best['today'] * 1e6:.0f} | {cell['compact']} | "
                     f"{cell['probe']} |")
        print(lines[-1], flush=True)
    (ROOT / "benchmarks" / "results" / "experiments_compact_multi.md").write_text(
        "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
