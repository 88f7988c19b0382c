"""Format v5 candidate "chained groups": what decoding chains costs the CPU decoder
(measurement only: nothing in ``codec/`` changes).

    nice -n 15 python3 benchmarks/experiments/chained_decode.py [--chain 8] [--rounds 7]

A chained package's payload is bit for bit today's (chained_groups.py: only the group table
changes), so this script takes the packages ``codec.pack`` writes, plans them as the fast path
does (``codec.fastpath``), and decodes the same groups two ways into two outputs:

* **today**: ``package._run_parts`` with today's kernels and plan (every group's start known;
  big dense batches ordered table by table);
* **chained**: groups cut into chains of ``--chain`` consecutive groups of a tensor; a member
  after a chain's first group has no start (``glo = -1``), every group of a chain ends at the
  chain's end (``ghi``).  Kernel variants made from the real kernels' source
  (``_groups``, ``decode_groups_multi``) by two edits: a lane whose group ended at its end
  symbol, with the next slot a member of its chain, goes on with that member at the bit where
  it stopped (``pos <= chain end``; the chain's last group must end exactly there), and the
  lanes' group picker skips members.  A chain goes to one kernel (the multi-set kernel only if
  all its groups' tables have multi-set entries and fit, as ``package._kernel_parts`` decides
  per group); big dense batches order chains by their first group's table.

Both outputs must be equal (checked).  Also timed: today's groups and kernels without the
table-by-table order (``unordered``).  Timing: ``--rounds`` interleaved rounds, the best call
of each over ~0.2 s, on one thread and on the machine's threads.  Writes
benchmarks/results/experiments_chained_decode.{json,md}.
"""
from __future__ import annotations

import argparse
import inspect
import json
import sys
import textwrap
import time
from pathlib import Path

import numba
import numpy as np
from numba import njit

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import codec  # noqa: E402
import codec.package as P  # noqa: E402
from codec.format import DTYPES, directory_bytes, directory_arrays_v2, value_range  # noqa: E402
from codec.kernels import decode as D  # noqa: E402
from codec.fastpath import _dtype_plan  # noqa: E402
from codec.kernels.directory import F_DTYPE  # noqa: E402
from codec.kernels.tables import P_G0, P_G1, fitting  # noqa: E402
from benchmarks.recipe import quantized_model  # noqa: E402

_ENDED = """                status[{x}] = _ended(s{x}, p{x}, e{x})
                where[{x}] = p{x}
                {x} = -1
"""
_CONTINUE = """                if s{x} == 1 and {x} + 1 < G and glo[{x} + 1] < 0 and p{x} <= e{x}:
                    status[{x}] = OK
                    where[{x}] = p{x}
                    {x} += 1
                    i{x} = o_start[{x}]
                    h{x}, v{x} = i{x} + o_count[{x}], voff[{x}]
                    if tid[{x}] < 0 or tid[{x}] >= T:
                        s{x} = ERR_BUFFER
                    else:
                        l{x} = np.uint64(tid[{x}])
                        s{x} = _start(buf, hi, p{x}, e{x}, i{x}, h{x}, v{x}, vmin, vmax, out)
                    if s{x} != 0:
                        status[{x}] = s{x}
                        where[{x}] = p{x}
                        {x} = -1
                    {OPEN}
                else:
{ENDED}"""
_PICK = """                ln[0] = {x} + 1
"""
_SKIP = """                if glo[{x}] < 0:
                    {x} = -1
                    continue
"""
_OPEN = """else:
                        b{x}, n{x}, q{x} = _open(buf, hi, p{x})"""


def _chain_kernel(fn, name: str, opens: bool):
    """``fn``'s source with the two edits above, compiled in the decode module's namespace."""
    src = inspect.getsource(fn.py_func)
    src = src[src.index("def "):]
    for x in ("a", "b"):
        ended, pick = _ENDED.format(x=x), _PICK.format(x=x)
        assert src.count(ended) == 1 and src.count(pick) == 1, (name, x)
        src = src.replace(ended, _CONTINUE.format(
            x=x, OPEN=_OPEN.format(x=x) if opens else "pass",
            ENDED=textwrap.indent(ended, "    ")))
        src = src.replace(pick, pick + _SKIP.format(x=x))
    src = src.replace(f"def {fn.py_func.__name__}(", f"def {name}(", 1)
    ns = dict(vars(D))
    exec(compile(src, f"<{name}>", "exec"), ns)
    return njit(nogil=True)(ns[name])


_groups_chain = _chain_kernel(D._groups, "_groups_chain", True)
multi_chain = _chain_kernel(D.decode_groups_multi, "multi_chain", False)


@njit(nogil=True)
def plain_chain(buf, hi, glo, ghi, tid, o_start, o_count, voff, vmin, vmax, luts, out, status,
                where, q0, q1):
    return _groups_chain(buf, hi, glo, ghi, tid, o_start, o_count, voff, vmin, vmax, luts, out,
                         status, where, q0, q1, True)


@njit(nogil=True)
def wide_chain(buf, hi, glo, ghi, tid, o_start, o_count, voff, vmin, vmax, luts, out, status,
               where, q0, q1):
    return _groups_chain(buf, hi, glo, ghi, tid, o_start, o_count, voff, vmin, vmax, luts, out,
                         status, where, q0, q1, None)


def _prepare(data: bytes):
    """The fast path's plan of a one-dtype package (``fastpath._dtype_plan``), as a dict."""
    buf = np.frombuffer(data, np.uint8)
    version, _f, dir_off, _l, raw = directory_bytes(buf, check_crc=True)
    st, tabs, lens, ents, shapes, names, crcs = directory_arrays_v2(raw, dir_off,
                                                                    P.DEFAULT_LIMITS, version)
    luts, wbound = P._luts_of(tabs, lens)
    codes = set(ents[:, F_DTYPE].tolist())
    assert len(codes) == 1, "one dtype"
    code = codes.pop()
    got = _dtype_plan(buf, ents, shapes, code, luts, tabs.shape[0])
    assert got is not None and got[2] is not None, "the fast path plans this package"
    rows, total, plan, bits, multi, _pred, _floors = got
    vmin, vmax = value_range(DTYPES[code])
    return dict(buf=buf, plan=plan, rows=rows, luts=luts, wbound=wbound, multi=multi,
                bits=bits, total=int(total), vmin=vmin, vmax=vmax, dtype=DTYPES[code],
                ntab=tabs.shape[0])


def _chain_plan(pr: dict, chain: int):
    """(plan arrays with chains, chain starts): slots of each tensor cut into chains; members
    get glo = -1; every slot of a chain gets ghi = the chain's end."""
    glo, ghi, tid, ost, cnt, voff = (a.copy() for a in pr["plan"])
    heads = []
    slot = 0
    for g0, g1 in pr["rows"][:, [P_G0, P_G1]].tolist():
        n = g1 - g0
        if n >= 2:
            for c0 in range(slot, slot + n, chain):
                c1 = min(c0 + chain, slot + n)
                ghi[c0:c1] = ghi[c1 - 1]
                glo[c0 + 1:c1] = -1
                heads.append(c0)
        else:
            heads += list(range(slot, slot + n))
        slot += n
    return (glo, ghi, tid, ost, cnt, voff), np.array(heads + [slot], np.int64)


def _chain_parts(pr: dict, plan, heads: np.ndarray) -> list:
    """package._kernel_parts with one kernel a chain (the weakest any of its groups needs),
    chains ordered by their first group's table when the batch is big and dense (as
    package._run_parts orders groups)."""
    glo, ghi, tid, ost, cnt, voff = plan
    lo, hi = np.int64(pr["vmin"]), np.int64(pr["vmax"])
    rows, mluts, bounds = pr["multi"]
    n = tid.size
    kind = np.zeros(n, np.int64)
    w = np.empty(n, np.bool_)
    fitting(pr["wbound"], tid, voff, lo, hi, w)
    kind[w] = 1
    if mluts.shape[0]:
        sel = rows[tid]
        m = np.empty(n, np.bool_)
        fitting(bounds, sel, voff, lo, hi, m)
        kind[m & (sel >= 0)] = 2
    length = np.diff(heads)
    ck = np.minimum.reduceat(kind, heads[:-1])
    order = np.arange(length.size)
    if pr["bits"] >= P.ORDER_MIN_BITS and pr["bits"] >= P.ORDER_MIN_RATE * pr["total"]:
        order = np.argsort(tid[heads[:-1]], kind="stable")
    parts = []
    for k_, kern, luts in ((2, multi_chain, mluts), (1, wide_chain, pr["luts"]),
                           (0, plain_chain, pr["luts"])):
        sel_c = order[ck[order] == k_]
        if not sel_c.size:
            continue
        idx = np.concatenate([np.arange(heads[c], heads[c + 1]) for c in sel_c])
        t = rows[tid[idx]] if k_ == 2 else tid[idx]
        parts.append((kern, luts, idx, t))
    return parts


_RUN_JOBS = P._run_jobs


def _run(pr: dict, parts, plan, order: bool):
    out = np.empty(pr["total"], pr["dtype"])
    keep = P.ORDER_MIN_BITS
    if not order:
        P.ORDER_MIN_BITS = 1 << 62  # (chains come ordered already)
        # _run_jobs shares the work by each slot's bits, ghi - glo: a member's glo is -1, so
        # it gets its group's real bit count (today's plan's) instead
        real = pr["plan"][1] - pr["plan"][0]
        P._run_jobs = lambda calls, bits, total, extra: _RUN_JOBS(calls, real, total, extra)
    try:
        glo, ghi, _tid, ost, cnt, voff = plan
        rc, status, where = P._run_parts(pr["buf"], parts, (glo, ghi, ost, cnt, voff), pr["vmin"],
                                         pr["vmax"], out,
                                         None, (pr["bits"], pr["total"]))
    finally:
        P.ORDER_MIN_BITS = keep
        P._run_jobs = _RUN_JOBS
    assert rc == 0 and not status.any(), (rc, np.flatnonzero(status)[:5], status[status != 0][:5])
    return out


def _best(fn, budget: float = 0.2) -> float:
    best = float("inf")
    t_end = time.perf_counter() + budget
    while True:
        t = time.perf_counter()
        fn()
        t = time.perf_counter() - t
        best = min(best, t)
        if time.perf_counter() > t_end:
            return best


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--chain", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--models", nargs="*", default=["mtcnn_facenet_pytorch", "nudenet_yolov8n_320",
                                                    "silero_vad_16k"])
    ap.add_argument("--configs", nargs="*", default=["8/0.0", "8/0.5", "4/0.0", "4/0.9"])
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    a = ap.parse_args(argv)
    threads = numba.get_num_threads()
    rows = []
    for m in a.models:
        for cfg in a.configs:
            bits_, sp = cfg.split("/")
            q = quantized_model(m, int(bits_), float(sp))
            pr = _prepare(codec.pack(q))
            today = P._kernel_parts(pr["luts"], pr["wbound"], pr["multi"], pr["plan"][2],
                                    pr["plan"][5], pr["vmin"], pr["vmax"])
            cplan, heads = _chain_plan(pr, a.chain)
            cparts = _chain_parts(pr, cplan, heads)
            ref = _run(pr, today, pr["plan"], True)
            got = _run(pr, cparts, cplan, False)
            assert np.array_equal(ref, got), (m, cfg)
            r = dict(model=m, config=cfg, chain=a.chain, groups=int(pr["plan"][0].size),
                     chains=int(heads.size - 1), values=pr["total"])
            for nt in sorted({1, threads}):
                numba.set_num_threads(nt)
                tt, tu, tc = [], [], []
                for _ in range(a.rounds):
                    tt.append(_best(lambda: _run(pr, today, pr["plan"], True)))
                    tu.append(_best(lambda: _run(pr, today, pr["plan"], False)))
                    tc.append(_best(lambda: _run(pr, cparts, cplan, False)))
                r[f"today_us_{nt}"] = min(tt) * 1e6
                r[f"unordered_us_{nt}"] = min(tu) * 1e6
                r[f"chained_us_{nt}"] = min(tc) * 1e6
            numba.set_num_threads(threads)
            rows.append(r)
            print(f"{m[:22]:22s} {cfg}: {r['groups']} groups -> {r['chains']} chains; " + ", ".join(
                f"{nt} thr: today {r[f'today_us_{nt}']:.0f} us, unordered "
                f"{r[f'unordered_us_{nt}']:.0f}, chained {r[f'chained_us_{nt}']:.0f} "
                f"us ({r[f'today_us_{nt}'] / r[f'chained_us_{nt}']:.3f}x)" for nt in sorted({1, threads})),
                flush=True)
    out = Path(a.out)
    (out / "experiments_chained_decode.json").write_text(json.dumps(rows, indent=1))
    ts = sorted({1, threads})
    lines = ["# Chained groups (format v5 candidate): decode kernels, today vs chained", "",
             f"`python3 benchmarks/experiments/chained_decode.py --chain {a.chain} --rounds "
             f"{a.rounds}` (measurement only; see its docstring).  Kernel phase only "
             "(`package._run_parts` on the fast path's plan), best call; speed = today's time / "
             "chained time (> 1: chains faster); unordered = today's groups and kernels without "
             "the table-by-table order (what chains of mixed tables mostly lose).", "",
             "| model | cfg | groups | chains | " + " | ".join(
                 f"{t} thread(s): today µs, unordered µs, chained µs, speed" for t in ts) + " |",
             "|" + "---|" * (4 + len(ts))]
    for r in rows:
        lines.append(f"| {r['model']} | {r['config']} | {r['groups']} | {r['chains']} | " + " | ".join(
            f"{r[f'today_us_{t}']:.0f}, {r[f'unordered_us_{t}']:.0f}, {r[f'chained_us_{t}']:.0f}, "
            f"{r[f'today_us_{t}'] / r[f'chained_us_{t}']:.3f}x" for t in ts) + " |")
    (out / "experiments_chained_decode.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
