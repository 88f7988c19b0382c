"""Writing and reading packages: many named integer tensors in one byte string or file."""
from __future__ import annotations

import io
import math
import os
import tempfile
import zlib
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .errors import ChecksumError, CodecError, CorruptError, TruncatedError
from . import format_v2 as v2
from . import format_v4 as v4
from .format import (DEFAULT_LIMITS, DTYPE_CODES, PREAMBLE_SIZE, VERSION, Directory,
                     Limits, Table, TensorEntry, footer, footer_size, preamble, read_directory,
                     value_range, write_directory)
from .huffman import LUT_BITS, canonical_codes
from .kernels.decode import LANES, decode_groups, decode_groups_multi, decode_groups_wide
from .kernels.encode import group_bits, group_tables, merge_first_bytes, pack_groups
from .kernels.crc import CRC_TABLES, crc_chunks
from .kernels.intrinsics import HAS_CLMUL
from .kernels.parallel import run_chunks, workers
from .kernels.status import STATUS_MESSAGES
from .kernels.directory import build_luts, build_multi, multi_value_bound, multi_worth
from .kernels.meta import check_metas
from .kernels.tables import P_FIELDS, fitting, plan_batch, table_order, work_cuts

PLAN_MESSAGES = {-5: "a group names a table that does not exist", -6: "a group has length 0",
                 -7: "group lengths do not add up to the payload size",
                 -8: "group table outside the package"}
from .meta import QuantMeta
from . import mirror as mir
from .planner import (FAST_SAMPLE_PAIRS, NRUN_CHOICES, SAMPLE_PAIRS, TABLE_PRICE, V4_TABLE_PRICE,
                      Groups, Prepared, Sampler, alphabet_fits, alphabet_krefs, build_tables,
                      coarsen, check_dtype, choose_alphabet, group_size_for, prepare,
                      prepare_many, run_ranges, tensor_hists, use_per_group)
from .kernels.symbols import num_classes
from .offsets import mirror_offset

DEFAULT_MAX_TABLES = 256
MIXED_MIN_GAIN = 1e-3  # effort 1: the per-tensor mixed candidate is planned when the
                       # candidates' blocks promise this share of the package or more
                       # (docs/DESIGN.md, session 14: 0.17 % on mtcnn 8/0, -686 B; yolov8n
                       # 8/0 promised 0.05 % and gave 326 B for +37 % encode time)
BIG_GROUP = 1 << 14  # effort 1, small models: the third grouping candidate's group size
SMALL_MODEL_PARAMS = 1 << 17  # effort 1, models below this many values also try BIG_GROUP and
                              # size the alphabet exactly (1.3-2.5x their encode time for up
                              # to 2.6 % fewer bytes; silero and mtcnn paid 1.3-1.8x for <=
                              # 0.56 %, so they keep the faster search: docs/DESIGN.md)
SEQ_PLAN_PARAMS = 1 << 19  # below this many parameters the candidates are planned on one
                           # thread (GIL-bound Python: fer 1.02-1.16x over two threads;
                           # 2026-11-26, best of 15 interleaved: silero (310 K) 0.85-0.97x
                           # the two-thread time, mtcnn (496 K) 0.85-1.07x, yolov8n (3 M)
                           # 1.04-1.22x, so it stays on two threads)
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
# encoding

def _native(name: str, arr) -> np.ndarray:
    if not isinstance(arr, np.ndarray):
        if isinstance(arr, (list, tuple, int)):
            raise TypeError(f"tensor {name!r}: expected a numpy array, got {type(arr).__name__}")
        arr = np.asarray(arr)
    check_dtype(name, arr)
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return arr


def _pack_bits(fields: list[tuple[np.ndarray, int]], n: int) -> bytes:
    """Interleave per-group fixed-width fields MSB-first and pad to a byte."""
    width = sum(w for _, w in fields)
    if n == 0 or width == 0:
        return b""
    cols = []
    for vals, w in fields:
        if w:
            shifts = np.arange(w - 1, -1, -1, dtype=np.uint64)
            cols.append(((vals.astype(np.uint64)[:, None] >> shifts) & np.uint64(1)).astype(np.uint8))
    bits = np.concatenate(cols, axis=1).reshape(-1)
    return np.packbits(bits).tobytes()


def _pair_work(ps: np.ndarray) -> np.ndarray:
    """Cumulative work of groups with pairs ``[ps[g], ps[g+1])``: their pairs plus one each."""
    return ps - ps[0] + np.arange(ps.size, dtype=np.int64)


class _Encoder:
    """Stateless per call: turns prepared tensors + tables into blocks."""

    def __init__(self, tables: list[Table]):
        self.tables = tables
        T = max(len(tables), 1)
        N = max((t.nsym for t in tables), default=2)
        self.krefs = np.array([t.kref for t in tables] or [0], np.int64)
        self.nruns = np.array([t.nrun for t in tables] or [1], np.int64)
        self.lens = np.zeros((T, N), np.uint8)
        self.codes = np.zeros((T, N), np.uint32)
        for i, t in enumerate(tables):
            self.lens[i, :t.nsym] = t.lengths
            self.codes[i, :t.nsym] = canonical_codes(t.lengths).astype(np.uint32)

    def lengths(self, runs, vals, ps, tid: np.ndarray) -> np.ndarray:
        """Exact coded bits of every group (pairs ``[ps[g], ps[g+1])``) under table tid[g]."""
        G = ps.size - 1
        bits = np.zeros(G, np.int64)
        st = run_ranges(group_bits, (runs, vals, ps, tid, self.krefs, self.nruns, self.lens, bits),
                        _pair_work(ps))
        if st or (bits < 0).any():  # cannot happen: tables cover the groups assigned to them
            raise AssertionError("encoder table does not cover its group")
        return bits

    def group_lengths(self, p: Prepared, tid: np.ndarray) -> np.ndarray:
        """Exact coded bits of every group of ``p`` under its table."""
        return self.lengths(p.runs, p.vals, p.ps, np.ascontiguousarray(tid, dtype=np.int64))

    def payload(self, runs, vals, ps, tid, gstart, bits, nbytes: int) -> np.ndarray:
        """Pack every group at its bit offset gstart[g] into one zero-filled byte array."""
        G = ps.size - 1
        out = np.zeros(nbytes, np.uint8)
        first = np.zeros(G, np.uint8)
        status = np.zeros(G, np.int64)
        args = (runs, vals, ps, tid, self.krefs, self.nruns, self.codes, self.lens,
                gstart, bits, out, first, status)
        st = run_ranges(pack_groups, args, _pair_work(ps))
        if status.any():
            raise AssertionError(f"encoder kernel failed: {STATUS_MESSAGES[int(status[status != 0][0])]}")
        if st or merge_first_bytes(out, first, gstart):
            raise AssertionError("encoder kernel failed: index outside a buffer")
        return out

    @staticmethod
    def header(tid: np.ndarray, bits: np.ndarray) -> tuple[bytes, int, int, int]:
        """(group table bytes, tid_base, tid_bits, len_bits) of one tensor's groups."""
        tid_base = int(tid.min())
        tid_bits = int(tid.max() - tid_base).bit_length()
        len_bits = int(bits.max()).bit_length()
        return _pack_bits([(tid - tid_base, tid_bits), (bits, len_bits)], tid.size), \
            tid_base, tid_bits, len_bits

    def block(self, p: Prepared, tid: np.ndarray, meta: QuantMeta | None,
              bits: np.ndarray | None = None, modes: bytes = b""):
        G = p.n_groups
        meta_bytes = (meta.to_bytes() if meta is not None else b"") + modes
        if G == 0:
            return meta_bytes, 0, 0, 0
        tid = np.ascontiguousarray(tid, dtype=np.int64)
        if bits is None:
            bits = self.group_lengths(p, tid)
        gtab, tid_base, tid_bits, len_bits = self.header(tid, bits)
        gstart = np.zeros(G, np.int64)
        np.cumsum(bits[:-1], out=gstart[1:])
        out = self.payload(p.runs, p.vals, p.ps, tid, gstart, bits, (int(bits.sum()) + 7) // 8)
        return meta_bytes + gtab + out.tobytes(), tid_base, tid_bits, len_bits


def _check_meta(meta, names) -> dict:
    if meta is None:
        return {}
    if not isinstance(meta, Mapping):
        raise TypeError("meta must be a mapping of tensor name -> QuantMeta")
    for k, v in meta.items():
        if k not in names:
            raise ValueError(f"meta given for unknown tensor {k!r}")
        if not isinstance(v, QuantMeta):
            raise TypeError(f"meta[{k!r}] must be a QuantMeta, got {type(v).__name__}")
    return dict(meta)


def _check_args(tensors, meta, effort, version: int | None = None) -> tuple[list, dict]:
    if (version is not None and version not in (1, 2, 3, 4)) or isinstance(version, bool):
        raise ValueError(f"version must be None, 1, 2, 3 or 4, got {version!r}")
    if not isinstance(tensors, Mapping):
        raise TypeError(f"tensors must be a mapping of name -> array, got {type(tensors).__name__}")
    names = list(tensors.keys())
    total = 0
    for k in names:
        if not isinstance(k, str):
            raise TypeError(f"tensor names must be str, got {type(k).__name__}")
        nb = len(k.encode("utf-8"))
        if nb > DEFAULT_LIMITS.max_name_bytes:
            raise ValueError(f"tensor name longer than {DEFAULT_LIMITS.max_name_bytes} bytes")
        total += nb
    if total > DEFAULT_LIMITS.max_names_bytes:  # what a default reader accepts (check E2b)
        raise ValueError(f"tensor names total {total} bytes > {DEFAULT_LIMITS.max_names_bytes}")
    meta = _check_meta(meta, set(names))
    if effort not in (0, 1):
        raise ValueError(f"effort must be 0 (fast) or 1 (smallest), got {effort!r}")
    return names, meta


class _Source:
    """Tensors after the run-length pass, for one grouping.  ``stream``: nothing is kept (a
    tensor is read from the mapping again on every pass), else the run-length pairs of all
    tensors are made at once (one kernel call per dtype, :func:`prepare_many`) and cached."""

    def __init__(self, tensors: Mapping, meta: dict, group, stream: bool,
                 mirrors: dict | None = None):
        self.tensors, self.meta, self.group, self.stream = tensors, meta, group, stream
        self.mirrors = mirrors or {}  # {name: (Mirror, value offset, mode string)}: format v3
        self.cache: dict[str, Prepared] = {}

    def _array(self, k: str) -> np.ndarray:
        arr = _native(k, self.tensors[k])
        if k in self.meta:
            self.meta[k].check_shape(arr.shape)
        m = self.mirrors.get(k)
        return arr if m is None else mir.forward(arr, m[0], m[1])

    def mirror(self, k: str) -> tuple[int, int, bytes]:
        """(period, skip, mode string) of tensor k's mirror; (0, 0, b"") without one."""
        m = self.mirrors.get(k)
        return (0, 0, b"") if m is None else (m[0].period, m[0].skip, m[2])

    def _offsets(self) -> dict:
        """{name: value offset} of the mirrored tensors (the transform was made around it)."""
        return {k: m[1] for k, m in self.mirrors.items()}

    def _groups(self, names: list):
        """The grouping option of ``names``: ``group``, or with a per-tensor ``group`` (a dict,
        :func:`_mixed_plan`) each tensor's, as :class:`codec.planner.Groups`."""
        if isinstance(self.group, dict):
            return Groups(self.group[k] for k in names)
        return self.group

    def prepare_all(self, names: list) -> None:
        if self.stream:
            return
        todo = [k for k in names if k not in self.cache]
        items = [(k, self._array(k)) for k in todo]
        for k, p in zip(todo, prepare_many(items, self._groups(todo), self._offsets())):
            self.cache[k] = p

    def derive(self, fine: "_Source", names: list) -> None:
        """Cache the pairs of ``names`` under this grouping from ``fine``'s (a finer grouping's,
        :func:`coarsen`) when it applies."""
        if self.stream or fine.stream or any(k not in fine.cache for k in names):
            return
        ps = coarsen([fine.cache[k] for k in names], self._groups(names))
        if ps is not None:
            self.cache.update(zip(names, ps))

    def get(self, k: str) -> Prepared:
        p = self.cache.get(k)
        if p is not None:
            return p
        m = self.mirrors.get(k)
        p = prepare(k, self._array(k), self._groups([k]), None if m is None else m[1])
        if not self.stream:
            self.cache[k] = p
        return p

    def shape(self, k: str) -> tuple:
        """Tensor k's shape (from the run-length pass when cached: a lazy mapping would read
        the array again)."""
        p = self.cache.get(k)
        return p.shape if p is not None else tuple(np.shape(self.tensors[k]))


class _Plan:
    """One grouping candidate, planned: tables and the table of every group; ``bits`` holds
    each tensor's exact group lengths once :func:`_size` has computed them (not streaming)."""

    def __init__(self, src: _Source, names: list, tables: list[Table], group_tables: list):
        self.src, self.names, self.tables, self.group_tables = src, names, tables, group_tables
        self.enc = _Encoder(tables)
        self.bits: dict[str, np.ndarray] = {}
        self.batch_bits: np.ndarray | None = None
        self.size: int | None = None
        self.version = VERSION
        self.chunk_log2 = v2.DEFAULT_CHUNK_LOG2
        self.names_cache: dict = {}  # the directory's name bytes (candidates share one)
        self.alphabet: tuple | None = None  # (kref, nrun, nclass) of the tables
        self.lengths: dict[str, int] = {}  # each tensor's block bytes (:func:`_size`)
        self._batch = None

    def batch(self):
        """(pairs, tid of every batch group) when every tensor is a view of one
        :class:`Pairs` batch that holds no other groups (then kernels run once for all);
        made once (sizing and writing ask for it)."""
        if self._batch is None:
            self._batch = (self._make_batch(),)
        return self._batch[0]

    def _make_batch(self):
        if self.src.stream or not self.names:
            return None
        ps = [self.src.get(k) for k in self.names]
        pairs = ps[0].pairs
        if pairs is None or any(p.pairs is not pairs for p in ps) or \
                sum(p.n_groups for p in ps) != pairs.ps.size - 1:
            return None
        tid = np.zeros(pairs.ps.size - 1, np.int64)
        for p, t in zip(ps, self.group_tables):
            tid[p.g0:p.g0 + p.n_groups] = t
        return pairs, tid


def _plan(src: _Source, names: list, *, max_tables: int, effort: int,
          alphabet: tuple | None = None) -> _Plan:
    """Passes 1 and 2: samples for the alphabet (unless ``alphabet`` = (kref, nrun, nclass)
    is given), then histograms for the tables."""
    src.prepare_all(names)
    gcount = np.array([src.get(k).n_groups for k in names], np.int64)
    if alphabet is None:
        sampler = Sampler(SAMPLE_PAIRS if effort >= 1 else FAST_SAMPLE_PAIRS,
                          views=not src.stream)
        for k in names:
            sampler.add(src.get(k))
        alphabet = choose_alphabet(sampler, effort)
        del sampler
    kref, nrun, nclass = alphabet
    per_group = use_per_group(int(gcount.sum()), kref, nrun, nclass, effort)
    hists = tensor_hists([src.get(k) for k in names], kref, nrun, nclass, per_group)
    tables, group_tables = build_tables(hists, gcount, per_group, kref, nrun, nclass, max_tables)
    plan = _Plan(src, names, tables, group_tables)
    plan.alphabet = alphabet
    gb = getattr(hists, "group_bits", None)  # exact group lengths, known to the planner
    batch = plan.batch() if gb is not None else None
    if batch is not None and gb.size == batch[1].size:
        plan.batch_bits = gb
        for k in names:
            p = src.get(k)
            plan.bits[k] = gb[p.g0:p.g0 + p.n_groups]
    return plan


def _entry(p: Prepared, m: QuantMeta | None, pos: int, length: int, crc: int, tbase: int,
           tbits: int, lbits: int, mirror: tuple = (0, 0, b""), glen: int = 0) -> TensorEntry:
    return TensorEntry(p.name, np.dtype(p.dtype.newbyteorder("=")), p.shape, p.group_mode,
                       p.group_size, p.value_offset, pos, length, crc,
                       len(m.to_bytes()) if m is not None else 0, tbase, tbits, lbits, m,
                       mirror[0], mirror[1], glen)


def _head_len(m: QuantMeta | None, mr: tuple) -> int:
    """Bytes before a block's group table: metadata and (v3) mirror modes."""
    return (len(m.to_bytes()) if m is not None else 0) + len(mr[2])


def _implicit(version: int, n_groups: int, tbits: int, lbits: int, gtab) -> tuple[int, int]:
    """Format v4 (§27): a one-group tensor's block has no group table.  Returns (the group's
    bits from its one-record group table ``gtab``, group table bytes to drop), or (0, 0)."""
    if version < 4 or n_groups != 1:
        return 0, 0
    nb = (tbits + lbits + 7) // 8
    rec = int.from_bytes(bytes(gtab[:nb]), "big") >> (8 * nb - tbits - lbits)
    return rec & ((1 << lbits) - 1), nb


def _batch_lengths(plan: _Plan, batch) -> None:
    """Every tensor's group lengths with one kernel call, into plan.bits."""
    pairs, tid = batch
    bits = plan.enc.lengths(pairs.runs, pairs.vals, pairs.ps, tid)
    plan.batch_bits = bits
    for k in plan.names:
        p = plan.src.get(k)
        plan.bits[k] = bits[p.g0:p.g0 + p.n_groups]


def _batch_layout(plan: _Plan, batch, tables: bool):
    """One batch's block layout, with :func:`group_tables` for all tensors at once (its sizes
    pass, then with ``tables`` its bytes): per tensor (names order) tid_base, tid_bits,
    len_bits, group table offsets and bytes, payload byte offset and size; and every group's
    absolute bit offset in the batch payload buffer."""
    pairs, tid = batch
    if plan.batch_bits is None:
        _batch_lengths(plan, batch)
    bits = plan.batch_bits
    ps = [plan.src.get(k) for k in plan.names]
    g0 = np.array([p.g0 for p in ps], np.int64)
    ng = np.array([p.n_groups for p in ps], np.int64)
    n = len(ps)
    tbase, tbits, lbits = (np.zeros(n, np.int64) for _ in range(3))
    boff = np.zeros(n + 1, np.int64)
    empty = np.zeros(0, np.uint8)
    if group_tables(tid, bits, g0, ng, tbase, tbits, lbits, boff, empty):
        raise AssertionError("group table kernel failed")
    gtabs = empty
    if tables:
        gtabs = np.zeros(int(boff[-1]), np.uint8)
        if group_tables(tid, bits, g0, ng, tbase, tbits, lbits, boff, gtabs):
            raise AssertionError("group table kernel failed")
    cs = np.zeros(bits.size + 1, np.int64)
    np.cumsum(bits, out=cs[1:])
    pbytes = (cs[g0 + ng] - cs[g0] + 7) // 8
    poff = np.zeros(n + 1, np.int64)
    np.cumsum(pbytes, out=poff[1:])
    order = np.argsort(g0, kind="stable")
    gstart = np.repeat((8 * poff[:-1] - cs[g0])[order], ng[order]) + cs[:-1]
    return tbase, tbits, lbits, boff, gtabs, poff, pbytes, gstart


def _size(plan: _Plan) -> int:
    """Exact size of the package ``plan`` writes, from its group lengths alone (no payload is
    packed): blocks are metadata + group table + ceil(bits / 8), the directory is written with
    placeholder CRCs (fixed width)."""
    src = plan.src
    batch = plan.batch()
    lay = _batch_layout(plan, batch, False) if batch is not None else None
    pos = PREAMBLE_SIZE
    entries = []
    for i, k in enumerate(plan.names):
        p = src.get(k)
        m = src.meta.get(k)
        tid = plan.group_tables[i]
        mr = src.mirror(k)
        mlen = _head_len(m, mr)
        glen = 0
        if p.n_groups == 0:
            length, tbase, tbits, lbits = mlen, 0, 0, 0
        elif lay is not None:
            tbase, tbits, lbits = int(lay[0][i]), int(lay[1][i]), int(lay[2][i])
            length = mlen + int(lay[3][i + 1] - lay[3][i]) + int(lay[6][i])
            if plan.version >= 4 and p.n_groups == 1:
                glen = int(plan.batch_bits[p.g0])
        else:
            bits = plan.enc.group_lengths(p, tid)
            tbase = int(tid.min())
            tbits = int(tid.max() - tbase).bit_length()
            lbits = int(bits.max()).bit_length()
            length = mlen + (p.n_groups * (tbits + lbits) + 7) // 8 + (int(bits.sum()) + 7) // 8
            if plan.version >= 4 and p.n_groups == 1:
                glen = int(bits[0])
        if glen:  # v4: no group table (§27)
            length -= (tbits + lbits + 7) // 8
            tbits = lbits = 0
        entries.append(_entry(p, m, pos, length, 0, tbase, tbits, lbits, mr, glen))
        pos += length
    plan.size = pos + _directory_size(plan, entries, pos) + footer_size(plan.version)
    plan.lengths = {e.name: e.block_length for e in entries}
    return plan.size


def _directory_size(plan: _Plan, entries: list[TensorEntry], end: int) -> int:
    """Bytes of :func:`_directory` (v4: counted, not written)."""
    if plan.version < 4:
        return len(_directory(plan, entries, end, None))
    cache = plan.names_cache.setdefault("v4 tables", {})
    return (v4.tables_size(plan.tables, cache) + v4._varint_len(len(entries))
            + len(_names_bytes(plan, entries)) + v4.entries_size(entries, DTYPE_CODES,
                                                                 len(plan.tables))
            + 1 + 4 * v2.chunk_count(end - PREAMBLE_SIZE, plan.chunk_log2))


def _names_bytes(plan: _Plan, entries: list[TensorEntry]) -> bytes:
    """The v2 name section (§17.1) of the package's names, computed once a pack."""
    names = plan.names_cache.get("v2")
    if names is None:
        buf = bytearray()
        v2.write_names(buf, [e.name for e in entries])
        names = plan.names_cache["v2"] = bytes(buf)
    return names


def _directory(plan: _Plan, entries: list[TensorEntry], end: int, crcs) -> bytes:
    """The directory of ``plan.version``; v2 with the data area's chunk CRCs (``crcs`` None:
    zeros, for sizing)."""
    if plan.version == 1:
        return write_directory(plan.tables, entries)
    n = v2.chunk_count(end - PREAMBLE_SIZE, plan.chunk_log2)
    names = _names_bytes(plan, entries)
    return v2.write_directory(plan.tables, entries, DTYPE_CODES, end - PREAMBLE_SIZE,
                              [0] * n if crcs is None else crcs, plan.chunk_log2, names,
                              plan.version, plan.names_cache.setdefault("v4 tables", {}))


def _emit(sink, plan: _Plan) -> int:
    """Pass 3: encode block by block into ``sink``, then the directory and footer.  With one
    batch, all payloads are packed by one kernel call into one buffer (each tensor's payload
    starts on a byte) and all group tables by another, then cut into blocks."""
    src = plan.src
    pre = preamble(version=plan.version)
    sink.write(pre)
    pos = len(pre)
    chunks = v2.ChunkCRC(plan.chunk_log2) if plan.version >= 2 else None
    entries = []
    batch = plan.batch()
    payload = None
    if batch is not None:
        pairs, tid = batch
        tb, tbits_, lbits_, boff, gtabs, poff, pbytes, gstart = _batch_layout(plan, batch, True)
        payload = plan.enc.payload(pairs.runs, pairs.vals, pairs.ps, tid, gstart, plan.batch_bits,
                                   int(poff[-1]))
    for i, k in enumerate(plan.names):
        p = src.get(k)
        m = src.meta.get(k)
        mr = src.mirror(k)
        if payload is not None and p.n_groups:
            tbase, tbits, lbits = int(tb[i]), int(tbits_[i]), int(lbits_[i])
            block = b"".join([m.to_bytes() if m is not None else b"", mr[2],
                              gtabs[boff[i]:boff[i + 1]].tobytes(),
                              payload[poff[i]:poff[i + 1]].tobytes()])
        else:
            block, tbase, tbits, lbits = plan.enc.block(p, plan.group_tables[i], m,
                                                        plan.bits.get(k), mr[2])
        h = _head_len(m, mr)
        glen, cut = _implicit(plan.version, p.n_groups, tbits, lbits, block[h:])
        if cut:  # v4: the one group's length moves to the entry (§27)
            block = block[:h] + block[h + cut:]
            tbits = lbits = 0
        src.cache.pop(k, None)
        plan.bits.pop(k, None)
        sink.write(block)
        if chunks is not None:
            chunks.feed(block)
        crc = zlib.crc32(block) if chunks is None else 0  # v2: chunk CRCs only
        entries.append(_entry(p, m, pos, len(block), crc, tbase, tbits, lbits, mr, glen))
        pos += len(block)
    d = _directory(plan, entries, pos, chunks.finish() if chunks is not None else None)
    sink.write(d)
    sink.write(footer(pos, d, pre))
    return pos + len(d) + footer_size(plan.version)


def _mirrors(tensors: Mapping, names: list, option, version: int | None) -> dict:
    """{name: (mirror.Mirror, value offset, mode string)}: the tensors that get format v3's
    mirror transform (docs/FORMAT.md §25).  ``option``: 'auto' (§25's rule), None / False
    (never), or {name: (period, skip)} (exactly those tensors, rows' modes by §25's rule)."""
    if isinstance(option, Mapping) and option and version in (1, 2):
        raise ValueError(f"a forced mirror needs format v3, not version={version}")
    if version in (1, 2) or option is None or option is False:
        return {}
    if isinstance(option, str) and option == "auto":
        todo = {k: None for k in names}
    elif isinstance(option, Mapping):
        todo = {}
        for k, v in option.items():
            if k not in tensors:
                raise ValueError(f"mirror given for unknown tensor {k!r}")
            if not (isinstance(v, tuple) and len(v) == 2
                    and all(isinstance(x, (int, np.integer)) and not isinstance(x, bool)
                            for x in v)):
                raise TypeError(f"mirror[{k!r}] must be a (period, skip) tuple of ints")
            todo[k] = (int(v[0]), int(v[1]))
    else:
        raise ValueError(f"mirror must be 'auto', None or a mapping name -> (period, skip), "
                         f"got {option!r}")
    out = {}
    for k, ps in todo.items():
        arr = _native(k, tensors[k])
        voff = mirror_offset(arr.reshape(-1))
        if ps is None:
            m = mir.choose(arr, voff)
        else:
            period, skip = ps
            if arr.size == 0 or period < 2 or arr.size % period or not 0 <= skip <= period - 2:
                raise ValueError(f"mirror[{k!r}] = {ps}: the period must divide the tensor's "
                                 f"{arr.size} values into rows of >= 2 and skip be <= period - 2")
            m = mir.Mirror(period, skip, mir.row_modes(arr, period, skip, voff))
        if m is None:
            continue
        stored = mir.forward(arr, m, voff)
        if arr.dtype.kind == "u" and mirror_offset(stored.reshape(-1)) != voff:
            if ps is not None:
                raise ValueError(f"mirror[{k!r}]: the mirrored tensor's most frequent value is "
                                 f"not the tensor's value offset {voff} (docs/FORMAT.md §25)")
            continue
        # §25's bits check: fewer nonzeros is not always fewer bits (a near-constant 4-bit BN
        # gamma trades cheap repeats for residuals: fer 4/0 came out 150 B larger without it)
        if ps is None and not mir.fewer_bits(arr, stored, m):
            continue
        out[k] = (m, voff, mir.mode_bytes(m.modes))
    return out


def _group_candidates(group, effort: int) -> list:
    """'auto' at effort 1 tries whole kernels of >= 4096 parameters and single kernels (with
    per-group table choice, one table per output channel often pays: yolov8n 8-bit 50 %
    4.476 -> 4.369 b/p) and keeps the smaller package; measured in docs/DESIGN.md.  A model
    below SMALL_MODEL_PARAMS parameters also tries whole kernels of >= BIG_GROUP parameters
    (:func:`_best_plan` drops that candidate for bigger ones): fewer groups, fewer end
    symbols and group-table records (fer 4/.9 -0.86 %, silero -0.05 to -0.54 %)."""
    if isinstance(group, str) and group == "auto" and effort >= 1:
        return ["auto", ("auto", BIG_GROUP), "kernel"]
    return [group]


def _best_plan(tensors, names, meta, cands, *, max_tables, effort, stream, version,
               mirror="auto") -> _Plan:
    """Plan every grouping candidate and keep the one whose package is smallest (the first on
    ties, in the order 'auto', 'kernel', ('auto', BIG_GROUP)), sized exactly without packing
    any payload.  A candidate that groups every tensor exactly as an earlier one would write
    the same package and is skipped; ('auto', BIG_GROUP), a model below SMALL_MODEL_PARAMS
    parameters' coarser 'auto', is planned only when 'auto' beats 'kernel' (when one group a
    kernel wins, fewer and bigger groups did not: mtcnn 8/0 and 8/.5 would pay 1.29x the
    encode time for the same bytes), and then that model's alphabet is sized exactly
    (:func:`_refine_alphabet`).  Not streaming,
    the run-length passes run first, then the candidates are planned and sized concurrently,
    one thread each (their kernels release the GIL and split their work over the shared
    pool, :func:`codec.planner.run_ranges`); a model below SEQ_PLAN_PARAMS parameters is
    planned on the calling thread (its time is Python's, which two threads only share)."""
    names_cache: dict = {}
    mirrors = _mirrors(tensors, names, mirror, version)
    if version is None:  # the newest version (§31)
        version = VERSION

    def plan_of(s, alphabet=None):
        pl = _plan(s, names, max_tables=max_tables, effort=effort, alphabet=alphabet)
        pl.version = version
        pl.names_cache = names_cache
        return pl
    srcs = [_Source(tensors, meta, g, stream, mirrors) for g in cands]
    if len(srcs) > 1:
        # (not streaming) the arrays are read once, here: the finest grouping's run-length
        # pass ('kernel', the last candidate), the others' pairs derived from it
        fine = srcs[-1]
        fine.prepare_all(names)
        shapes = [fine.shape(k) for k in names]
        n_values = sum(math.prod(sh) for sh in shapes)
        if n_values >= SMALL_MODEL_PARAMS:
            srcs = [s for s in srcs if s.group != ("auto", BIG_GROUP)]  # (small models only)
        kept, groupings = [], []
        for s in srcs:
            gr = [group_size_for(sh, s.group) for sh in shapes]
            if gr not in groupings:
                kept.append(s)
                groupings.append(gr)
        srcs = kept
        for s in srcs:
            if s is not fine and s.group != ("auto", BIG_GROUP):  # (that one: when planned)
                s.derive(fine, names)
    if len(srcs) == 1:
        return plan_of(srcs[0])
    if stream or n_values < SEQ_PLAN_PARAMS:
        plans, big = [], None
        for s in srcs:
            if s.group == ("auto", BIG_GROUP):
                big = s  # planned last, and only if 'auto' beats 'kernel'
                continue
            pl = plan_of(s)
            _size(pl)
            plans.append(pl)
        best = _smallest(plans)
        if big is not None and best.src.group == "auto":
            big.derive(fine, names)
            pl = plan_of(big)
            _size(pl)
            plans.append(pl)
            best = _smallest([best, pl])
        best = _mixed_plan(best, plans, fine, names, plan_of)
        if n_values < SMALL_MODEL_PARAMS:
            best = _refine_alphabet(best, plan_of)
            if version >= 4:
                best = _refine_tables(best, plan_of)
        return best
    else:
        for s in srcs:
            s.prepare_all(names)
        with ThreadPoolExecutor(len(srcs)) as ex:
            plans = list(ex.map(lambda s: _size_of(plan_of(s)), srcs))
    return _mixed_plan(_smallest(plans), plans, fine, names, plan_of)


def _mixed_plan(best: _Plan, plans: list, fine: _Source, names: list, plan_of) -> _Plan:
    """The per-tensor mixed candidate: every tensor grouped as in the candidate whose block
    for it is smallest (``plans``, sized; the first on ties), planned with ``best``'s
    alphabet and kept if its package is smaller than ``best``'s.  The format stores a
    grouping per tensor (FORMAT.md §7, §8.2); the candidates differ per tensor (mtcnn 8/0: one
    group a kernel for most tensors, whole kernels of >= 4096 values for others;
    docs/DESIGN.md, session 14).  Planned only when the candidates' blocks promise at least
    MIXED_MIN_GAIN of ``best``'s size."""
    if len(plans) < 2 or any(not pl.lengths for pl in plans):
        return best
    choice, gain = {}, 0
    for k in names:
        pick = min(plans, key=lambda pl: pl.lengths[k])
        choice[k] = pick.src.group
        gain += best.lengths[k] - pick.lengths[k]
    if gain < MIXED_MIN_GAIN * best.size or len({str(g) for g in choice.values()}) < 2:
        return best
    src = best.src
    mixed = _Source(src.tensors, src.meta, choice, src.stream, src.mirrors)
    mixed.derive(fine, names)
    pl = plan_of(mixed, best.alphabet)
    _size(pl)
    return _smallest([best, pl])


def _refine_alphabet(best: _Plan, plan_of) -> _Plan:
    """A small model's alphabet by exact size: the sampled estimate's (kref, nrun) and its
    neighbours (nrun one step either way in NRUN_CHOICES, kref +- 1), each planned and sized
    for the chosen grouping; the smallest package, the estimate's on ties (fer_tflite 4/0:
    nrun 2 instead of 1, -108 B; docs/DESIGN.md, session 11)."""
    kref, nrun, _ = best.alphabet
    i = NRUN_CHOICES.index(nrun) if nrun in NRUN_CHOICES else -1
    cands = [(kref, NRUN_CHOICES[j]) for j in (i - 1, i + 1)
             if i >= 0 and 0 <= j < len(NRUN_CHOICES)]
    maxmag = max((int(best.src.get(k).maxmag) for k in best.names), default=0)
    krefs = alphabet_krefs(maxmag)  # (choose_alphabet's)
    cands += [(k, nrun) for k in (kref - 1, kref + 1) if k in krefs]
    for k, r in cands:
        nclass = num_classes(maxmag, k)
        if not alphabet_fits(nclass, r):
            continue
        pl = plan_of(best.src, (k, r, nclass))
        _size(pl)
        best = _smallest([best, pl])
    return best


def _refine_tables(best: _Plan, plan_of) -> _Plan:
    """A small model in format v4: the chosen grouping and alphabet planned again with the
    clustering pricing tables as v4 writes them (planner.V4_TABLE_PRICE: more, smaller
    tables), kept if its package is smaller (fer 4/0 -49 B; for big models the cheaper price
    over-splits: yolov8n 4/.9 +3.4 %, docs/DESIGN.md)."""
    token = TABLE_PRICE.set(V4_TABLE_PRICE)
    try:
        pl = plan_of(best.src, best.alphabet)
    finally:
        TABLE_PRICE.reset(token)
    _size(pl)
    return _smallest([best, pl])


def _smallest(plans: list) -> _Plan:
    """The plan whose package is smallest, the first on ties."""
    best = plans[0]
    for pl in plans[1:]:
        if pl.size < best.size:
            best = pl
    return best


def _size_of(plan: _Plan) -> _Plan:
    _size(plan)
    return plan


def pack(tensors: Mapping[str, np.ndarray], /, *, group="auto", meta=None,
         max_tables: int = DEFAULT_MAX_TABLES, effort: int = 1, version: int | None = None,
         mirror="auto") -> bytes:
    """Compress named integer tensors into one package (bytes).

    ``group``: 'auto' (whole kernels of >= 4096 parameters, or at effort 1 also one group per
    kernel and, below 2**17 parameters, whole kernels of >= 16384, whichever is smallest, and
    then each tensor grouped as in the candidate where its block is smallest, if smaller),
    ('auto', n) (whole kernels of >= n parameters), 'kernel' (one output channel), ('kernels', k),
    ('count', n) or an int n, 'tensor' (one group).  ``meta``: optional
    ``{name: QuantMeta}`` stored exactly beside each tensor.  ``max_tables``: size of the
    Huffman table pool the encoder may use (1 = one shared table).  ``effort``: 1 (default)
    searches the alphabet and lets every group pick its table; 0 is a faster, coarser search.
    ``version``: format version to write: None (default) = 4 (docs/FORMAT.md §27-§31: the
    smallest directory), or 3, 2 (no mirror) or 1 for readers that only know those.
    ``mirror``: the mirror transform (v3, v4) for symmetric / antisymmetric rows (an STFT or
    DCT basis, linear-phase filters): 'auto' (default; docs/FORMAT.md §25), None (never), or
    ``{name: (period, skip)}`` (exactly those tensors).
    """
    names, meta = _check_args(tensors, meta, effort, version)
    plan = _best_plan(tensors, names, meta, _group_candidates(group, effort),
                      max_tables=max_tables, effort=effort, stream=False, version=version,
                      mirror=mirror)
    buf = io.BytesIO()
    _emit(buf, plan)
    return buf.getvalue()


def save(path, tensors: Mapping[str, np.ndarray], /, *, group="auto", meta=None,
         max_tables: int = DEFAULT_MAX_TABLES, effort: int = 1, version: int | None = None,
         mirror="auto") -> int:
    """Write a package to ``path`` atomically (temporary file, fsync, rename); returns its size.

    ``tensors`` may be a lazy mapping (e.g. ``np.load('x.npz')``): each tensor is read when
    needed and blocks are streamed to disk, so the package is never held in memory (with
    several grouping candidates, each is first planned and sized exactly without packing).
    ``version``, ``mirror``: as :func:`pack`.
    """
    names, meta = _check_args(tensors, meta, effort, version)
    plan = _best_plan(tensors, names, meta, _group_candidates(group, effort),
                      max_tables=max_tables, effort=effort, stream=True, version=version,
                      mirror=mirror)
    path = os.fspath(path)
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".codec-", suffix=".tmp", dir=d)
    try:
        with os.fdopen(fd, "wb") as f:
            n = _emit(f, plan)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return n


def encode(array: np.ndarray, /, *, group="auto", meta: QuantMeta | None = None,
           effort: int = 1, version: int | None = None, mirror="auto") -> bytes:
    """Compress one integer tensor (a package holding one tensor named '').  ``mirror``:
    'auto', None, or (period, skip) for this tensor (see :func:`pack`)."""
    if isinstance(mirror, tuple):
        mirror = {"": mirror}
    return pack({"": array}, group=group, meta=None if meta is None else {"": meta}, effort=effort,
                version=version, mirror=mirror)


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
               work: tuple[int, int] | None = None) -> tuple[int, np.ndarray, np.ndarray]:
    """Run the decode kernels of :func:`_kernel_parts`' ``parts`` over the groups of ``plan``
    = (glo, ghi, output start, count, value offset) into ``out``: on the calling thread, or
    for a big enough payload (:func:`_parallel`) in chunks on the pool together with the
    ``extra`` [(cost, job)] jobs (it then empties that list).  ``work``: (payload bits, values)
    of all the groups when the caller has them (else summed here).  Returns (first nonzero
    kernel return code or 0, each group's status, where each group stopped)."""
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
        calls.append((kern, (buf, np.int64(buf.size), *arrs, np.int64(vmin), np.int64(vmax),
                             luts, out, s_, w_), idx, s_, w_, (t.size + LANES - 1) // LANES))
    if not _parallel(total, values, n):  # this thread: no job list (~10 us on fer:
        # 3-9 % of its decode)
        rc = 0
        for kern, args, _, _, _, nq in calls:
            r = kern(*args, np.int64(0), np.int64(nq))
            rc = rc or r
    else:
        rc = _run_jobs(calls, ghi - glo, total, extra)
    for _, _, idx, s_, w_, _ in calls:
        if idx is not None:
            status[idx] = s_
            where[idx] = w_
    return rc, status, where


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
    for kern, args, idx, _, _, nq in calls:
        share = total if idx is None else int(bits[idx].sum())
        k = min(nq, max(1, round(CHUNKS_PER_WORKER * (nw + 1) * share / total)))
        # chunks of about equal parameters (cutting by bits + values was no better:
        # yolov8n 4/.9 2.97 vs 2.56 ms, 4/0 4.70 vs 4.58, two threads, loaded machine)
        cuts = work_cuts(args[6], np.int64(LANES), np.int64(k)) if k > 1 else (0, nq)
        jobs += [(share // k, kern, args, int(cuts[j]), int(cuts[j + 1])) for j in range(k)]
    if extra:
        jobs += [(c, fn, None, 0, 0) for c, fn in extra]
        extra.clear()
    jobs.sort(key=lambda j: -j[0])
    rcs = [0] * len(jobs)

    def job(j):
        _, kern, args, q0, q1 = jobs[j]
        if args is None:
            kern()
        else:
            rcs[j] = kern(*args, np.int64(q0), np.int64(q1))
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
