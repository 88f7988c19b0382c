"""Reading packages: :class:`Package` (header parsed once, tensors decoded on demand, in
parallel on the pool's threads), ``unpack``, ``read_tensor``, ``decode``, ``load``,
``open_package`` and ``check``.  The writer (``pack``, ``save``, ``encode``) is
:mod:`codec.writer`; this module does not import it."""
from __future__ import annotations

import os
import zlib
from collections.abc import Iterable

import numpy as np

from . import floor
from . import format_v2 as v2
from . import mirror as mir
from . import predict as pred
from .kernels.floor import unfloor_groups
from .kernels.predict import rebuild_groups
from .errors import ChecksumError, CodecError, CorruptError, TruncatedError
from .format import (DEFAULT_LIMITS, PREAMBLE_SIZE, Directory, Limits, Table, TensorEntry,
                     read_directory, value_range)
from .huffman import LUT_BITS
from .kernels.crc import CRC_TABLES, crc_chunks
from .kernels.decode import LANES, decode_groups, decode_groups_multi, decode_groups_wide
from .kernels.directory import build_luts, build_multi, multi_value_bound, multi_worth
from .kernels.intrinsics import HAS_CLMUL
from .kernels.meta import check_metas
from .kernels.parallel import run_chunks, workers
from .kernels.status import STATUS_MESSAGES
from .kernels.tables import P_FIELDS, fitting, plan_batch, table_order, work_cuts
from .meta import QuantMeta

PLAN_MESSAGES = {-5: "a group names a table that does not exist", -6: "a group has length 0",
                 -7: "group lengths do not add up to the payload size",
                 -8: "group table outside the package"}

PLAN_BATCH = 1 << 16  # groups planned and decoded per kernel call
CHUNKS_PER_WORKER = 4  # decode chunks per thread (taken dynamically: balance vs call overhead)
PAR_MIN_WORK = 3 << 18  # payload bits + half the values below which a decode batch runs on
                        # the calling thread (session 12, two threads against one, best of
                        # 5 x 40 interleaved: silero 8/0 (2.1 M) 1.25-1.28x, 8/.5 1.17x,
                        # mtcnn 8/.5 (2.5 M) 1.40x, 4/0 (1.6 M) 1.10-1.16x; below 1 M no
                        # gain (silero 4/0, 0.9 M: 0.96-1.00x; mtcnn 4/.9 0.88x; fer 0.70-0.83x):
                        # benchmarks/results/session12_par_min_work_ab.md.  Session 15, with
                        # less fixed work a decode: silero 4/0 (0.9 M) 1.11-1.18x on two
                        # threads, mtcnn 4/.9 (0.63 M) still no gain at 512 K: 1 << 20 -> 3 << 18.
                        # 3 << 20 before session 12 (par_min_bits_ab.md, when the CRC pass and
                        # the pool were slower)
# data area (bytes) from which read_all's v2 chunk CRC pass runs among the chunks of a
# parallel decode (zlib.crc32 releases the GIL) instead of on its own before decoding: a
# pass of >= ~100 us (0.25 ns a byte); below, the gain is within the cost of handing jobs
# over (yolov8n 4/.9, 287 KB: 0.84-1.04x in alternating A/B runs on the loaded machine)
CRC_OVERLAP_MIN_BYTES = 3 << 17
# threads (pool + caller) from which that pass runs as kernels/crc.py's nogil kernel instead
# of zlib.crc32 (faster per core, but it needs the GIL after every 64 KiB chunk)
CRC_KERNEL_MIN_THREADS = 4
# ... and from this many chunks a thread: on the H200 host (16 threads) the kernel pass took
# 3.2 vs 7.7 ms (zlib) on 580 chunks, but 2.1-3.5 vs 1.6-2.9 ms on yolov8n's 15-38 chunks
CRC_KERNEL_MIN_CHUNKS = 4
# payload bits a table must decode in one batch before its multi-set entries are built.
# Building one takes ~14 us; against the plain kernel's four-symbol rounds (session 12) the
# multi-set kernel saves ~0.1 ns a bit on dense 4-bit tables, more where sets are longer (a
# fer_tflite 8/.5 table: 81 us on 221 Kbit), so dense 4-bit tables under ~150-250 Kbit lost
# time.  Session 14, 64 Kbit -> 200 Kbit, interleaved: fer_tflite 4/0 1.28x, fer 4/0 1.15x,
# mtcnn 4/0 1.09x, yolov8n 4/0 1.07x, silero 4/0 1.05x, fer 8/.5 0.95x (its 118 Kbit table's
# multi-set entries paid), the others 0.99-1.03x (docs/DESIGN.md)
MULTI_MIN_BITS = 200 << 10
# payload bits of a decode batch from which its groups are decoded table by table (_run_parts;
# session 17, interleaved against group order on the same bytes: one thread yolov8n dense
# 1.14-1.16x, mtcnn 1.04-1.07x; two threads 1.02-1.08x, benchmarks/results/
# session17_decode_ab.md; the packages under ~1 Mbit lost 3-7 % to the sort's fixed cost),
# and only at >= ORDER_MIN_RATE bits a value (a sparse batch's time goes to writing its
# zeros, best in output order: yolov8n 4/.9, 0.76 bits a value, was 0.85x on one thread)
ORDER_MIN_BITS = 1 << 20
ORDER_MIN_RATE = 2
# multi-set decode tables are built on the pool's threads too from this many tables a thread
MULTI_PAR_MIN_TABLES = 6
# decode tables (build_luts, ~1.5-3 us a table) are built on the pool from this many tables a
# job (yolov8n 8/.5: 77 tables)
LUT_PAR_MIN_TABLES = 24


# ---------------------------------------------------------------------------------------------
# decoding

def _decode_luts(tables: list[Table], whole: bool = True) -> np.ndarray:
    """One fused uint32 decode table per Huffman table (see kernels/decode.py), built by one
    kernel call for all tables; ``whole``: with whole-set entries (the CPU decoder's layout;
    codec.cuda uses the plain one)."""
    return _decode_luts_bounds(tables, whole)[0]


def _decode_luts_bounds(tables: list[Table], whole: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(:func:`_decode_luts`, each table's largest whole-set |value|)."""
    rows = np.zeros((len(tables), 4), np.int64)
    off = 0
    for i, t in enumerate(tables):
        rows[i] = (t.kref, t.nrun, t.nclass, off)
        off += t.lengths.size
    return _luts_of(rows, np.concatenate([np.asarray(t.lengths, np.uint8) for t in tables]
                                         or [np.zeros(0, np.uint8)]), whole)


def _luts_of(rows: np.ndarray, lengths: np.ndarray,
             whole: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(:func:`_decode_luts`, each table's largest whole-set |value|) from the tables' arrays
    (rows kref, nrun, nclass, offset into ``lengths``: the directory kernel's layout); one
    all-invalid table when there is none."""
    if not rows.shape[0]:
        return np.zeros((1, 1 << LUT_BITS), np.uint32), np.zeros(1, np.int64)
    T = rows.shape[0]
    luts = np.empty((T, 1 << LUT_BITS), np.uint32)  # (build_luts fills them)
    bound = np.empty(T, np.int64)

    def build(a, b):  # tables [a, b): the first bad one (pool index) or -1
        bad = build_luts(rows[a:b], lengths, luts[a:b], whole, bound[a:b])
        return bad + a if bad >= 0 else -1
    bad = next((b for b in _table_jobs(T, LUT_PAR_MIN_TABLES, build) if b >= 0), -1)
    if bad >= 0:
        raise CorruptError(f"table {bad}: a symbol does not fit the decode table", value=bad)
    return luts, bound


def _table_jobs(n: int, per_job: int, build) -> list:
    """[build(a, b)] over consecutive ranges [a, b) of ``n`` tables, at least ``per_job``
    tables a range, at most one range a thread; on the pool's threads when there are several
    (``build`` must release the GIL: a nogil kernel)."""
    k = max(1, min(n // per_job, workers() + 1))
    cuts = [n * j // k for j in range(k + 1)]
    out = [None] * k

    def job(j):
        out[j] = build(cuts[j], cuts[j + 1])
    if k > 1:
        run_chunks(job, k)
    else:
        job(0)
    return out


def _multi_tables(luts: np.ndarray, ts: np.ndarray):
    """(tables, uint64 multi-set decode tables, value bounds) for those of tables ``ts`` whose
    entries average >= 2 sets (kernels/directory.py multi_worth, build_multi,
    multi_value_bound)."""
    worth = np.zeros(ts.size, np.int64)
    if multi_worth(luts, ts, worth) != 0:
        raise CorruptError("decode tables do not fit their layout")
    if not worth.any():  # (8-bit tables: one set a lookup)
        return ts[:0], np.zeros((0, luts.shape[1]), np.uint64), np.zeros(0, np.int64)
    ts = ts[worth == 1]
    block = np.empty((ts.size, luts.shape[1]), np.uint64)  # (build_multi writes every entry)
    bound = np.zeros(ts.size, np.int64)

    def build(a, b):  # both kernels release the GIL (yolov8n 4/0's 31 tables: ~13 us each)
        return build_multi(luts, ts[a:b], block[a:b]) or multi_value_bound(block[a:b], bound[a:b])
    if any(_table_jobs(ts.size, MULTI_PAR_MIN_TABLES, build)):
        raise CorruptError("decode tables do not fit their layout")
    return ts, block, bound


def _kernel_parts(luts: np.ndarray, wbound: np.ndarray, multi, tid: np.ndarray,
                  voff: np.ndarray, vmin: int, vmax: int) -> list:
    """[(kernel, its tables, group slots or None for all, table of each)]: groups whose table
    has multi-set entries (``multi`` = (row of each table or < 0, multi-set tables, bounds))
    go to decode_groups_multi, the others to decode_groups_wide or decode_groups.

    Neither decode_groups_multi nor decode_groups_wide range-checks whole-set values: a group
    goes to one of them only if its value offset +- its table's largest whole-set |value|
    (``bounds``; ``wbound`` for the plain tables: build_luts) stays in the dtype's range."""
    rows, mluts, bounds = multi
    parts = []
    rest = None  # the group slots not sent to the multi-set kernel (None: all)
    lo, hi = np.int64(vmin), np.int64(vmax)
    if mluts.shape[0]:
        sel = rows[tid]
        m = np.empty(tid.size, np.bool_)
        if fitting(bounds, sel, voff, lo, hi, m):
            im = np.flatnonzero(m)
            parts.append((decode_groups_multi, mluts, im, sel[im]))
            rest = np.flatnonzero(~m)
    t = tid if rest is None else tid[rest]
    if t.size:
        v = voff if rest is None else voff[rest]
        w = np.empty(t.size, np.bool_)
        fit = fitting(wbound, t, v, lo, hi, w)
        if fit == t.size:
            parts.append((decode_groups_wide, luts, rest, t))
        elif fit == 0:
            parts.append((decode_groups, luts, rest, t))
        else:
            iw, ic = np.flatnonzero(w), np.flatnonzero(~w)
            if rest is not None:
                iw, ic = rest[iw], rest[ic]
            parts.append((decode_groups_wide, luts, iw, tid[iw]))
            parts.append((decode_groups, luts, ic, tid[ic]))
    return parts


def _parallel(bits: int, values: int, groups: int) -> bool:
    """Whether a decode of ``groups`` groups (``bits`` payload bits, ``values`` values) runs
    in chunks on the pool: from PAR_MIN_WORK of payload bits plus half the values, with a
    pool thread and more groups than one call's lanes.  A sparse package's time goes with
    its values too (zero runs written): yolov8n 4/.9 (2.3 Mbit, 3.0 M values) 1.2-1.3x on two
    threads; mtcnn 4/0 (1.4 Mbit, 0.5 M values) was 0.9x in session 9 and is 1.10-1.16x since
    the faster CRC pass (docs/DESIGN.md, session 12)."""
    return groups > LANES and bits + values // 2 >= PAR_MIN_WORK and workers() > 0


def _run_parts(buf: np.ndarray, parts: list, plan: tuple, vmin: int, vmax: int,
               out: np.ndarray, extra: list | None,
               work: tuple[int, int] | None = None,
               pred_groups: tuple | None = None,
               floor_groups: tuple | None = None) -> tuple[int, np.ndarray, np.ndarray]:
    """Run the decode kernels of :func:`_kernel_parts`' ``parts`` over the groups of ``plan``
    = (glo, ghi, output start, count, value offset) into ``out``: on the calling thread, or
    for a big enough payload (:func:`_parallel`) in chunks on the pool together with the
    ``extra`` [(cost, job)] jobs (it then empties that list).  ``work``: (payload bits, values)
    of all the groups when the caller has them (else summed here).  ``pred_groups``: format v5's
    (mode, H, W, C) of every group (kernels/predict.py group_preds), whose groups are rebuilt
    from their residuals right after they decode, by the same job (their values are still in
    the cache, and the rebuild is spread over the threads with the decode).  ``floor_groups``:
    format v7's (L, tensor start, floor offset) of every group and the floors array
    (kernels/floor.py group_floors), whose groups get their row floors back the same way.
    Returns (first nonzero kernel return code or 0, each group's status, where each group
    stopped)."""
    glo, ghi, st, cn, voff = plan
    n = glo.size
    status = np.zeros(n, np.int64)
    where = np.zeros(n, np.int64)
    total, values = work if work is not None else (int((ghi - glo).sum()), int(cn.sum()))
    # a big, dense batch (ORDER_MIN_BITS, ORDER_MIN_RATE) decodes each part's groups table by
    # table (in order within a table): the lanes then share one decode table at a time, which
    # stays in the L1 cache (yolov8n 8/0 has 32 tables of 16 KiB; docs/DESIGN.md, session
    # 17).  The values do not depend on the order (each group writes its own output range)
    # and the statuses go back to their slots.
    by_table = total >= ORDER_MIN_BITS and total >= ORDER_MIN_RATE * values
    calls = []  # each part: (kernel, its arguments but the lane range, slots, statuses, lanes)
    for kern, luts, idx, t in parts:
        if by_table:
            perm = np.empty(t.size, np.int64)
            if table_order(t, np.int64(luts.shape[0]), perm) == 1:
                idx, t = (perm if idx is None else idx[perm]), t[perm]
        if idx is None:
            arrs, s_, w_ = (glo, ghi, t, st, cn, voff), status, where
        else:
            arrs = (glo[idx], ghi[idx], t, st[idx], cn[idx], voff[idx])
            s_, w_ = np.zeros(idx.size, np.int64), np.zeros(idx.size, np.int64)
        posts = _posts(out, arrs[3], arrs[4], idx, pred_groups, floor_groups, vmin, vmax)
        calls.append((kern, (buf, np.int64(buf.size), *arrs, np.int64(vmin), np.int64(vmax),
                             luts, out, s_, w_), idx, s_, w_, (t.size + LANES - 1) // LANES,
                      posts))
    if not _parallel(total, values, n):  # this thread: no job list (~10 us on fer:
        # 3-9 % of its decode)
        rc = 0
        for kern, args, _, _, _, nq, posts in calls:
            r = kern(*args, np.int64(0), np.int64(nq))
            for post in posts:
                r = r or post(np.int64(0), np.int64(args[2].size))
            rc = rc or r
    else:
        rc = _run_jobs(calls, ghi - glo, total, extra)
    for _, _, idx, s_, w_, _, _ in calls:
        if idx is not None:
            status[idx] = s_
            where[idx] = w_
    return rc, status, where


def _posts(out: np.ndarray, o_start: np.ndarray, o_count: np.ndarray, idx,
           pred_groups: tuple | None, floor_groups: tuple | None, vmin: int, vmax: int) -> list:
    """A part's steps after its groups decode, each ``post(g0, g1) -> status`` over the
    part's groups [g0, g1) (values still in the cache, on the thread that decoded them):
    v5's rebuild of predicted groups, v7's row floors."""
    posts = []
    if pred_groups is not None:
        pm = pred_groups if idx is None else tuple(a[idx] for a in pred_groups)
        if (pm[0] >= 0).any():
            signed = out.dtype.kind == "i"
            posts.append(lambda a, b: rebuild_groups(out, o_start, o_count, *pm, a, b, signed))
    if floor_groups is not None:
        fm, floors = floor_groups[:3], floor_groups[3]
        if idx is not None:
            fm = tuple(a[idx] for a in fm)
        if (fm[0] > 0).any():
            lo, hi = np.int64(vmin), np.int64(vmax)
            posts.append(lambda a, b: unfloor_groups(out, o_start, o_count, *fm, floors, a, b,
                                                     lo, hi))
    return posts


def _run_jobs(calls: list, bits: np.ndarray, total: int, extra: list | None) -> int:
    """:func:`_run_parts`' ``calls`` in chunks on the pool, with the ``extra`` jobs; the
    first nonzero kernel return code or 0.

    The payload is big enough to pay for waking threads (time goes with the bits read more
    than with the values written: 4-bit 90 % sparse mtcnn, 50 KB: 1.0-1.3 G params/s on two
    threads vs 1.6 G on one).  All parts share one job list, each cut into chunks in
    proportion to its bits (not a fixed count each: yolov8n 8/0's 65-group multi-set part
    made 8 jobs of ~50 us), taken dynamically by the pool, the biggest first."""
    nw = workers()
    jobs = []
    for kern, args, idx, _, _, nq, posts in calls:
        share = total if idx is None else int(bits[idx].sum())
        k = min(nq, max(1, round(CHUNKS_PER_WORKER * (nw + 1) * share / total)))
        # chunks of about equal parameters (cutting by bits + values was no better:
        # yolov8n 4/.9 2.97 vs 2.56 ms, 4/0 4.70 vs 4.58, two threads, loaded machine)
        cuts = work_cuts(args[6], np.int64(LANES), np.int64(k)) if k > 1 else (0, nq)
        jobs += [(share // k, kern, args, int(cuts[j]), int(cuts[j + 1]), posts)
                 for j in range(k)]
    if extra:
        jobs += [(c, fn, None, 0, 0, None) for c, fn in extra]
        extra.clear()
    jobs.sort(key=lambda j: -j[0])
    rcs = [0] * len(jobs)

    def job(j):
        _, kern, args, q0, q1, posts = jobs[j]
        if args is None:
            kern()
        else:
            rcs[j] = kern(*args, np.int64(q0), np.int64(q1))
            n = args[2].size
            for post in posts:  # this job's groups, while they are in the cache
                rcs[j] = rcs[j] or post(np.int64(min(LANES * q0, n)),
                                        np.int64(min(LANES * q1, n)))
    run_chunks(job, len(jobs))
    return next((r for r in rcs if r), 0)


def _crc_jobs(buf: np.ndarray, dir_off: int, log2: int, crcs, chunk_ok, mark_ok):
    """A v2 data area's chunk CRC check cut into jobs for a parallel decode to run beside its
    own chunks (:func:`_run_parts`' ``extra``): ([(cost, job)], all_ok), ``all_ok()`` running
    the jobs no thread took and returning True if every chunk matched; or None with no pool
    thread or a data area under CRC_OVERLAP_MIN_BYTES (its decode would not run in
    parallel).  ``chunk_ok(c)``: chunk c matches (zlib.crc32); ``mark_ok(c0, c1)``: chunks
    [c0, c1) matched (the kernel pass)."""
    if dir_off - PREAMBLE_SIZE < CRC_OVERLAP_MIN_BYTES:
        return None
    nw = workers()
    if nw == 0:
        return None
    n = len(crcs)
    k = min(n, 2 * (nw + 1))
    cuts = [n * j // k for j in range(k + 1)]
    ok: list = [None] * k
    if HAS_CLMUL or (nw + 1 >= CRC_KERNEL_MIN_THREADS and n >= CRC_KERNEL_MIN_CHUNKS * (nw + 1)):
        # one nogil kernel call a job (kernels/crc.py: zlib.crc32 takes the GIL back
        # after every 64 KiB chunk, and many threads then queue on it; the folding kernel,
        # where the host has it, is also 2x zlib's speed)
        got = np.zeros(n, np.uint32)
        stored = np.asarray(crcs, np.uint32)

        def run(j):
            if ok[j] is None:
                c0, c1 = cuts[j], cuts[j + 1]
                rc = crc_chunks(buf, np.int64(PREAMBLE_SIZE), np.int64(dir_off), np.int64(log2),
                                np.int64(c0), np.int64(c1), got, CRC_TABLES)
                ok[j] = rc == 0 and bool(np.array_equal(got[c0:c1], stored[c0:c1]))
                if ok[j]:
                    mark_ok(c0, c1)
    else:
        def run(j):
            if ok[j] is None:
                ok[j] = all(chunk_ok(c) for c in range(cuts[j], cuts[j + 1]))

    # cost in the decode's units (payload bits, ~0.5 ns each): zlib.crc32 ~0.25 ns a byte
    cost = (dir_off - PREAMBLE_SIZE) // (2 * k)

    def all_ok():
        for j in range(k):
            run(j)
            if not ok[j]:
                return False
        return True
    return [(cost, lambda j=j: run(j)) for j in range(k)], all_ok


def _as_buffer(data) -> np.ndarray:
    if isinstance(data, np.ndarray):
        if data.dtype != np.uint8 or data.ndim != 1:
            raise TypeError("a package array must be 1-D uint8")
        return data
    if isinstance(data, (bytes, bytearray, memoryview)):
        return np.frombuffer(data, dtype=np.uint8)
    raise TypeError(f"expected bytes-like package data, got {type(data).__name__}")


class Package:
    """A parsed package: header read and checked, tensors decoded on demand.

    ``Package(data)`` accepts bytes, a memoryview or a uint8 array (e.g. a memory map);
    :func:`open_package` maps a file.  Nothing is decoded until asked for.
    """

    def __init__(self, data, *, limits: Limits = DEFAULT_LIMITS, verify: bool = True):
        self._buf = _as_buffer(data)
        self.limits = limits
        self.verify = verify
        self.directory: Directory = read_directory(self._buf, limits)
        self._entries = {e.name: e for e in self.directory.tensors}
        self._luts_cache = None  # built on first decode: inspect() never pays for them
        self._multi_cache = None
        self._crc_ok: set[str] = set()
        self._chunk_ok: set[int] = set()  # v2 chunks verified
        self._modes_ok: set[str] = set()  # v3 tensors whose mirror modes passed X4
        self._meta_valid: set[str] = set()  # metadata checked by kernels/meta.py (not parsed)

    @property
    def names(self) -> list[str]:
        return [e.name for e in self.directory.tensors]

    def __contains__(self, name) -> bool:
        return name in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def entry(self, name: str) -> TensorEntry:
        try:
            return self._entries[name]
        except KeyError:
            raise KeyError(f"no tensor named {name!r} in the package") from None

    @property
    def _luts(self) -> np.ndarray:
        return self._luts_bounds[0]

    @property
    def _luts_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """(decode tables, each one's largest whole-set |value|): :func:`_luts_of`."""
        if self._luts_cache is None:
            self._luts_cache = _decode_luts_bounds(self.directory.tables)
        return self._luts_cache

    def _multi(self, tid: np.ndarray, bits: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rows, tables, bounds): multi-set decode tables (kernels/directory.py) for the tables
        that decode enough bits here to pay for building them (MULTI_MIN_BITS) and whose
        entries average >= 2 sets; rows[t] = their row, -1 for a table without, -2 for one
        not considered yet; bounds[row] = the largest |value| its whole-set entries store
        (multi_value_bound).  Built once per table per Package."""
        T = len(self.directory.tables)
        if self._multi_cache is None:
            self._multi_cache = (np.full(T, -2, np.int64), np.zeros((0, 1 << LUT_BITS), np.uint64),
                                 np.zeros(0, np.int64))
        rows, mluts, bounds = self._multi_cache
        if T and int(bits.sum()) >= MULTI_MIN_BITS and (rows == -2).any():
            per = np.bincount(tid, weights=bits, minlength=T)
            ts = np.flatnonzero((per >= MULTI_MIN_BITS) & (rows == -2))
            if ts.size:
                rows[ts] = -1
                ts, block, bound = _multi_tables(self._luts, ts)
                rows[ts] = np.arange(mluts.shape[0], mluts.shape[0] + ts.size)
                mluts = np.concatenate([mluts, block]) if mluts.shape[0] else block
                bounds = np.concatenate([bounds, bound])
                self._multi_cache = rows, mluts, bounds
        return rows, mluts, bounds

    def _meta(self, e: TensorEntry, parse: bool = True) -> QuantMeta | None:
        """The tensor's quantization metadata, parsed only after its block CRC matched; then
        (v3) its mirror modes checked (X4).  ``parse=False``: a block that
        :meth:`_check_metas` accepted is not parsed (the result is then None)."""
        meta = e.meta_length and e.meta is None and (parse or e.name not in self._meta_valid)
        modes = e.mirror_period and e.name not in self._modes_ok
        if (meta or modes) and self.verify:
            self._check_crc(e)
        if meta:
            e.meta = QuantMeta.from_bytes(self._buf, e.block_offset, e.block_offset + e.meta_length,
                                          shape=e.shape)
        if modes:
            off = e.block_offset + e.meta_length
            r = int(mir.check_modes(self._buf, np.int64(off), np.int64(e.numel // e.mirror_period)))
            if r != -1:
                raise _mirror_error(e, off, r, r, "mirror modes outside the package")
            self._modes_ok.add(e.name)
        return e.meta

    def _check_crc(self, e: TensorEntry) -> None:
        """Check a block's CRC32 (v1) or the CRC32s of the chunks its block overlaps (v2),
        once per Package (metadata and values share the block; tensors share chunks)."""
        if e.name in self._crc_ok:
            return
        d = self.directory
        if d.version == 1:
            blk = self._buf[e.block_offset:e.block_offset + e.block_length]
            crc = zlib.crc32(blk)
            if crc != e.crc32:
                raise ChecksumError(f"tensor {e.name!r}: block CRC32 mismatch (stored "
                                    f"{e.crc32:08x}, computed {crc:08x})", offset=e.block_offset,
                                    value=e.name)
        elif e.block_length:
            k = d.chunk_log2
            c0 = (e.block_offset - PREAMBLE_SIZE) >> k
            c1 = (e.block_offset + e.block_length - 1 - PREAMBLE_SIZE) >> k
            for c in range(c0, c1 + 1):
                bad = self._chunk_mismatch(c)
                if bad is not None:
                    lo, hi, stored, crc = bad
                    raise ChecksumError(f"tensor {e.name!r}: CRC32 mismatch in data chunk {c} "
                                        f"[{lo}, {hi}) (stored {stored:08x}, computed {crc:08x})",
                                        offset=lo, value=e.name)
        self._crc_ok.add(e.name)

    def _chunk_mismatch(self, c: int):
        """v2 data chunk c checked once per Package: None if its CRC32 matches (remembered),
        else (start, end, stored, computed)."""
        if c in self._chunk_ok:
            return None
        d = self.directory
        lo, hi, crc = v2.chunk_crc(self._buf, c, d.chunk_log2, d.directory_offset)
        stored = int(d.chunk_crcs[c])
        if crc != stored:
            return lo, hi, stored, crc
        self._chunk_ok.add(c)
        return None

    def _check_all_chunks(self) -> bool:
        """v2, every tensor wanted: check every chunk once, in order; True if all match.  On a
        mismatch the per-tensor checks then name the first tensor whose block overlaps a bad
        chunk, as they would have without this pass."""
        return all(self._chunk_mismatch(c) is None for c in range(len(self.directory.chunk_crcs)))

    def _decode_flat(self, entries: list[TensorEntry], out: np.ndarray | None = None,
                     extra: list | None = None) -> np.ndarray:
        """Decode tensors of one dtype, back to back, into one flat buffer.

        Groups are planned and decoded in batches of at most PLAN_BATCH groups (one kernel call
        each), so the per-group bookkeeping (~80 bytes a group) stays bounded whatever the
        group size of the input.
        """
        dtype = entries[0].dtype
        total = sum(e.numel for e in entries)
        if out is None:
            out = np.empty(total, dtype)
        segs, batch, count, base = [], [], 0, 0
        for e in entries:
            ng = e.n_groups
            if 0 < ng and count + ng <= PLAN_BATCH:  # the whole tensor joins the batch
                batch.append((e, 0, ng, base))
                count += ng
                base += e.numel
                continue
            for g0 in range(0, ng, PLAN_BATCH):
                g1 = min(e.n_groups, g0 + PLAN_BATCH)
                if count + (g1 - g0) > PLAN_BATCH and batch:
                    segs.append(batch)
                    batch, count = [], 0
                batch.append((e, g0, g1, base))
                count += g1 - g0
            base += e.numel
        if batch:
            segs.append(batch)
        bitpos: dict[int, int] = {}
        for batch in segs:
            self._decode_batch(batch, out, bitpos, extra)
        if any(e.mirror_period for e in entries):
            self._unmirror(entries, out)
        if any(e.pred_mode >= 0 for e in entries):
            _unpredict(entries, out)
        if any(e.floors for e in entries):
            _unfloor(entries, out)
        return out

    def _unmirror(self, entries: list[TensorEntry], out: np.ndarray) -> None:
        """Format v3: undo the mirror transform of the tensors that have one, in place
        (``entries`` back to back in ``out``)."""
        bits = 8 * out.dtype.itemsize
        base = 0
        for e in entries:
            if e.mirror_period:
                off = e.block_offset + e.meta_length
                st = int(mir.inverse(out, np.int64(base), np.int64(e.numel),
                                     np.int64(e.mirror_period), np.int64(e.mirror_skip),
                                     self._buf, np.int64(off), np.int64(e.value_offset),
                                     np.int64(bits), out.dtype.kind == "i"))
                if st != 0:
                    raise _mirror_error(e, off, -2 - st, st, "mirror transform does not fit")
            base += e.numel

    def _plan(self, batch, bitpos: dict):
        """Group plan of ``batch`` = [(entry, g0, g1, output base)]: the decode kernel's per-group
        arrays (bit range, table, output start and count, value offset), one kernel call.
        ``bitpos`` carries where a tensor's next group starts between batches."""
        n = sum(g1 - g0 for _, g0, g1, _ in batch)
        glo, ghi, tid, st, cn, voff = (np.empty(n, np.int64) for _ in range(6))
        rows: list[int] = []  # flat: np.fromiter reads it ~2x faster than a list of tuples
        add = rows.extend
        for e, g0, g1, base in batch:
            gt0 = e.block_offset + e.meta_length + e.mirror_bytes
            pay0 = gt0 + e.group_table_bytes
            add((gt0, e.tid_bits, e.len_bits, e.tid_base, bitpos.get(id(e), pay0 * 8),
                 g0, g1, e.group_size, e.numel, base, e.value_offset, pay0,
                 e.payload_bytes if g1 == e.n_groups else -1, e.glen))
        items = np.fromiter(rows, np.int64, len(rows)).reshape(len(batch), P_FIELDS)
        ends = np.zeros(len(batch), np.int64)
        status, k = plan_batch(self._buf, items, np.int64(len(self.directory.tables)), glo, ghi,
                               tid, st, cn, voff, ends)
        if status != 0:
            e = batch[k][0]
            raise CorruptError(f"tensor {e.name!r}: group table: {PLAN_MESSAGES[status]}",
                               offset=int(items[k, 0]), value=status)
        for (e, _, _, _), end in zip(batch, ends.tolist()):
            bitpos[id(e)] = end
        return n, glo, ghi, tid, st, cn, voff

    def _decode_batch(self, batch, out: np.ndarray, bitpos: dict, extra: list | None) -> None:
        """Decode one batch; a parallel batch also runs the ``extra`` [(cost, job)] jobs (and
        empties the list), among its chunks in order of cost."""
        vmin, vmax = value_range(out.dtype)
        n, glo, ghi, tid, st, cn, voff = self._plan(batch, bitpos)
        # groups whose table has multi-set entries go to decode_groups_multi, the rest to
        # decode_groups(_wide) (plan_batch checked every table id)
        luts, wbound = self._luts_bounds
        parts = _kernel_parts(luts, wbound, self._multi(tid, ghi - glo), tid, voff, vmin, vmax)
        rc, status, where = _run_parts(self._buf, parts, (glo, ghi, st, cn, voff), vmin, vmax,
                                       out, extra)
        if rc != 0 and not status.any():
            raise CorruptError("decoder kernel rejected its arguments", value=rc)
        if status.any():
            g = int(np.flatnonzero(status)[0])
            k = 0
            for e, g0, g1, _ in batch:  # the tensor that owns slot g
                if g < k + (g1 - g0):
                    break
                k += g1 - g0
            code = int(status[g])
            # a damaged group can read on past its end (bits there read as the next group's
            # or as zeros past the payload) before a check fails: its error is reported at
            # most at the group's end, which lies within the input
            raise CorruptError(f"tensor {e.name!r} group {g0 + g - k}: "
                               f"{STATUS_MESSAGES.get(code, code)}",
                               offset=min(int(where[g]), int(ghi[g])) // 8, value=code)

    def read(self, name: str, /, *, out: np.ndarray | None = None) -> np.ndarray:
        """Decode one tensor (its CRC is checked first); ``out`` receives it if given."""
        e = self.entry(name)
        if self.verify:
            self._check_crc(e)
        self._meta(e)  # a tensor is returned only if its whole block is valid
        if out is not None:
            if not isinstance(out, np.ndarray) or out.dtype != e.dtype or out.size != e.numel \
                    or not out.flags.c_contiguous or not out.flags.writeable:
                raise ValueError(f"out must be a writeable C-contiguous {e.dtype} array of "
                                 f"{e.numel} elements")
            self._decode_flat([e], out.reshape(-1))
            return out
        return self._decode_flat([e]).reshape(e.shape)

    def read_all(self, names: Iterable[str] | None = None) -> dict[str, np.ndarray]:
        """Decode tensors (all by default), one parallel kernel call per dtype.

        A v2 package's one-pass chunk check joins the first parallel decode's job list
        (:meth:`_chunk_jobs`; chunks nobody took run here after the decode); its errors, then
        the metadata's, are raised before any error of the decode: exactly the errors, in
        the order, of checking first."""
        entries = [self.entry(n) for n in (self.names if names is None else names)]
        crc = self._chunk_jobs() if names is None else None
        if crc is None:
            self._check(entries, self.verify and names is None
                        and self.directory.version >= 2 and self._check_all_chunks(), False)
            return self._assemble(entries, self._decode_dtypes(entries, []))
        err = None
        try:
            flats = self._decode_dtypes(entries, crc[0])
        except CodecError as exc:  # raised below, after the checks that come first
            flats, err = None, exc
        self._check(entries, crc[1](), False)
        if err is not None:
            raise err
        return self._assemble(entries, flats)

    def _chunk_jobs(self):
        """read_all's one-pass chunk check (v2, verify) cut into jobs for a parallel decode
        batch to run beside its own chunks: ([(cost, job)], all_ok), ``all_ok()`` running the
        jobs no thread took and returning True if every chunk matched (as
        :meth:`_check_all_chunks`); or None with no pool thread or a data area under
        CRC_OVERLAP_MIN_BYTES (its decode would not run in parallel)."""
        d = self.directory
        if not self.verify or d.version < 2:
            return None
        return _crc_jobs(self._buf, d.directory_offset, d.chunk_log2, d.chunk_crcs,
                         lambda c: self._chunk_mismatch(c) is None,
                         lambda c0, c1: self._chunk_ok.update(range(c0, c1)))

    def _check(self, entries: list[TensorEntry], all_chunks_ok: bool, parse: bool = True) -> None:
        """CRCs (all of them known good when ``all_chunks_ok``), then metadata, of ``entries``
        (``parse=False``: checked by :meth:`_check_metas`, for callers that return values only,
        and parsed only if it declines)."""
        if self.verify:
            if all_chunks_ok:
                self._crc_ok.update(self._entries)
            else:
                for e in entries:
                    self._check_crc(e)
        if not parse:
            self._check_metas(entries)
        for e in entries:
            if e.meta_length or e.mirror_period:
                self._meta(e, parse=parse)

    def _check_metas(self, entries: list[TensorEntry]) -> None:
        """M1 for the entries' metadata blocks not parsed yet, by one kernel call
        (kernels/meta.py, which accepts only what QuantMeta.from_bytes accepts): the blocks
        join ``_meta_valid`` when it accepts them all, else every one is left to
        :meth:`_meta` (parsed, exact errors).  Call it after the blocks' CRCs."""
        todo = [e for e in entries if e.meta_length and e.meta is None
                and e.name not in self._meta_valid]
        if not todo:
            return
        dims = [d for e in todo for d in e.shape]
        ndims = np.fromiter((len(e.shape) for e in todo), np.int64, len(todo))
        starts = np.fromiter((e.block_offset for e in todo), np.int64, len(todo))
        ends = starts + np.fromiter((e.meta_length for e in todo), np.int64, len(todo))
        numels = np.fromiter((e.numel for e in todo), np.int64, len(todo))
        if check_metas(self._buf, starts, ends, ndims, np.cumsum(ndims) - ndims,
                       np.array(dims, np.int64), numels) == -1:
            self._meta_valid.update(e.name for e in todo)

    def _decode_dtypes(self, entries: list[TensorEntry], extra: list) -> dict:
        """{dtype: (entries, flat buffer)}: each dtype's tensors decoded back to back;
        ``extra`` as :meth:`_decode_batch`."""
        by_dtype: dict[np.dtype, list[TensorEntry]] = {}
        for e in entries:
            by_dtype.setdefault(e.dtype, []).append(e)
        return {dt: (es, self._decode_flat(es, extra=extra)) for dt, es in by_dtype.items()}

    @staticmethod
    def _assemble(entries: list[TensorEntry], flats: dict) -> dict[str, np.ndarray]:
        result: dict[str, np.ndarray] = {}
        for es, flat in flats.values():
            base = 0
            for e in es:
                result[e.name] = flat[base:base + e.numel].reshape(e.shape)
                base += e.numel
        return {e.name: result[e.name] for e in entries}

    def meta(self, name: str) -> QuantMeta | None:
        return self._meta(self.entry(name))


def _unpredict(entries: list[TensorEntry], out: np.ndarray) -> None:
    """Format v5: rebuild the values of the tensors that have a prediction mode (§32) from
    their residuals, in place (``entries`` back to back in ``out``)."""
    base = 0
    for e in entries:
        if e.pred_mode >= 0:
            pred.rebuild(out, base, e.shape, e.pred_mode, e.pred_shift)
        base += e.numel


def _unfloor(entries: list[TensorEntry], out: np.ndarray) -> None:
    """Format v7: add the row floors of the floored tensors back (§36), in place."""
    base = 0
    for e in entries:
        if e.floors:
            floor.inverse(out, base, e.numel, e.floors, e.name, e.block_offset)
        base += e.numel


def _mirror_error(e: TensorEntry, off: int, row: int, value: int, other: str) -> CorruptError:
    """A v3 mode string's error (mode string at ``off``): a mode 3 at ``row`` (>= 0), else
    ``other``."""
    msg = f"mirror mode 3 (invalid) at row {row}" if row >= 0 else other
    return CorruptError(f"tensor {e.name!r}: {msg}", offset=off + max(row, 0) // 4, value=value)


def _guard(fn):
    """Turn any stray low-level exception from bad bytes into a CodecError (defence in depth)."""
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (CodecError, TypeError, KeyError):
            raise
        except (IndexError, OverflowError, MemoryError, struct_error, UnicodeError) as exc:
            raise CorruptError(f"malformed package: {type(exc).__name__}: {exc}") from exc
    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    wrapper.__qualname__ = fn.__qualname__
    return wrapper


from struct import error as struct_error  # noqa: E402


@_guard
def unpack(data, /, *, limits: Limits = DEFAULT_LIMITS, verify: bool = True) -> dict[str, np.ndarray]:
    """Decode every tensor of a package: ``{name: array}`` in package order.

    Arrays of the same dtype are views of one buffer (decoded by one parallel kernel call).
    Small and mid-size v2 / v3 packages take :mod:`codec.fastpath` (no per-tensor objects);
    anything it declines, errors included, the general path decodes or rejects exactly.
    """
    return _unpack_buf(_as_buffer(data), limits, verify)


def _unpack_buf(buf: np.ndarray, limits: Limits, verify: bool) -> dict[str, np.ndarray]:
    """:mod:`codec.fastpath` first, the general path for what it declines."""
    out = unpack_fast(buf, limits, verify)
    return out if out is not None else Package(buf, limits=limits, verify=verify).read_all()


@_guard
def read_tensor(data, name: str, /, *, out: np.ndarray | None = None,
                limits: Limits = DEFAULT_LIMITS) -> np.ndarray:
    """Decode one named tensor without decoding the others."""
    return Package(data, limits=limits).read(name, out=out)


@_guard
def decode(data, /, *, out: np.ndarray | None = None, limits: Limits = DEFAULT_LIMITS) -> np.ndarray:
    """Decode a single-tensor package made by :func:`encode`."""
    p = Package(data, limits=limits)
    if len(p) != 1:
        raise CorruptError(f"decode() expects a single-tensor package, this one has {len(p)} "
                           f"tensors (use unpack)", offset=p.directory.directory_offset)
    return p.read(p.names[0], out=out)


def _map(path) -> np.ndarray:
    if os.path.getsize(path) == 0:
        raise TruncatedError("file is empty", offset=0)
    return np.memmap(path, dtype=np.uint8, mode="r")


def open_package(path, /, *, limits: Limits = DEFAULT_LIMITS, verify: bool = True) -> Package:
    """Memory-map a package file; tensors are decoded on demand (``.read(name)``)."""
    return _guard(Package)(_map(path), limits=limits, verify=verify)


def load(path, /, *, limits: Limits = DEFAULT_LIMITS) -> dict[str, np.ndarray]:
    """Decode every tensor of a package file (read through a memory map; small and mid-size
    packages through :mod:`codec.fastpath`, as :func:`unpack`)."""
    return _guard(lambda: _unpack_buf(_map(path), limits, True))()


def check(data, /) -> bool:
    """True if ``data`` starts like a package of a supported version (no decoding)."""
    try:
        b = bytes(memoryview(data)[:PREAMBLE_SIZE])
    except TypeError:
        return False
    from .format import MAGIC, SUPPORTED_VERSIONS
    return len(b) == PREAMBLE_SIZE and b[:4] == MAGIC and b[4] in SUPPORTED_VERSIONS


from .fastpath import unpack_fast  # noqa: E402  (it imports this module's helpers)
