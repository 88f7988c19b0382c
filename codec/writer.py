"""Writing packages: ``pack``, ``save`` and ``encode`` (plan the grouping, the alphabet and the
Huffman tables of a model, then emit the blocks and the directory; FORMAT.md §13, §21, §25,
§29 say what is written).  :mod:`codec.package` reads them back."""
from __future__ import annotations

import hashlib
import io
import math
import os
import tempfile
import zlib
from collections.abc import Mapping
from dataclasses import replace
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import floor
from . import format_v2 as v2
from . import format_v4 as v4
from . import mirror as mir
from . import predict as pred
from .format import (DEFAULT_LIMITS, DTYPE_CODES, PREAMBLE_SIZE, SUPPORTED_VERSIONS, VERSION, Table,
                     TensorEntry, footer, footer_size, preamble, write_directory)
from .huffman import canonical_codes
from .kernels.encode import group_bits, group_tables, merge_first_bytes, pack_groups
from .kernels.status import STATUS_MESSAGES
from .kernels.symbols import num_classes
from .meta import QuantMeta
from .offsets import mirror_offset
from .planner import (FAST_SAMPLE_PAIRS, NRUN_CHOICES, SAMPLE_PAIRS, TABLE_PRICE, V4_TABLE_PRICE,
                      Groups, Prepared, Sampler, alphabet_fits, alphabet_krefs, build_tables,
                      coarsen, check_dtype, choose_alphabet, group_size_for, prepare,
                      prepare_many, run_ranges, tensor_hists, use_per_group)

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
    if (version is not None and version not in SUPPORTED_VERSIONS) or isinstance(version, bool):
        raise ValueError(f"version must be None, 1, 2, 3, 4, 5 or 6, got {version!r}")
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
                 mirrors: dict | None = None, preds: dict | None = None,
                 floors: dict | None = None):
        self.tensors, self.meta, self.group, self.stream = tensors, meta, group, stream
        self.mirrors = mirrors or {}  # {name: (Mirror, value offset, mode string)}: format v3
        self.preds = preds or {}      # {name: (prediction mode, shift)}: format v5 (§32), v6
        self.floors = floors or {}    # {name: int64 row floors}: format v7 (§36)
        self.cache: dict[str, Prepared] = {}

    def _array(self, k: str) -> np.ndarray:
        arr = _native(k, self.tensors[k])
        if k in self.meta:
            self.meta[k].check_shape(arr.shape)
        m = self.mirrors.get(k)
        if m is not None:
            return mir.forward(arr, m[0], m[1])
        mp = self.preds.get(k)
        if mp is not None:
            return pred.residuals(arr, mp[0], mp[1])
        f = self.floors.get(k)
        return arr if f is None else floor.forward(arr, f)

    def floor(self, k: str) -> tuple:
        """Tensor k's row floors (§36), () without."""
        f = self.floors.get(k)
        return () if f is None else tuple(int(x) for x in f)

    def mirror(self, k: str) -> tuple[int, int, bytes]:
        """(period, skip, mode string) of tensor k's mirror; (0, 0, b"") without one."""
        m = self.mirrors.get(k)
        return (0, 0, b"") if m is None else (m[0].period, m[0].skip, m[2])

    def _offsets(self) -> dict:
        """{name: value offset} of the mirrored tensors (the transform was made around it) and
        of the floored ones (0, §36)."""
        return {**{k: m[1] for k, m in self.mirrors.items()}, **dict.fromkeys(self.floors, 0)}

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
        p = prepare(k, self._array(k), self._groups([k]),
                    m[1] if m is not None else 0 if k in self.floors else None)
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
        self.all_names = names  # every tensor, in package order (v7: aliases too)
        self.aliases: dict[str, str] = {}  # v7: {alias: target} (§36)
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
           tbits: int, lbits: int, mirror: tuple = (0, 0, b""), glen: int = 0,
           pred: tuple = (-1, 0), floors: tuple = ()) -> TensorEntry:
    return TensorEntry(p.name, np.dtype(p.dtype.newbyteorder("=")), p.shape, p.group_mode,
                       p.group_size, p.value_offset, pos, length, crc,
                       len(m.to_bytes()) if m is not None else 0, tbase, tbits, lbits, m,
                       mirror[0], mirror[1], glen, pred[0], pred[1], floors)


def _with_aliases(plan: "_Plan", entries: list[TensorEntry]) -> list[TensorEntry]:
    """The entries of every tensor in package order: each alias (§36) its target's entry
    under its own name."""
    if not plan.aliases:
        return entries
    own = {e.name: e for e in entries}
    index = {k: i for i, k in enumerate(plan.all_names)}
    return [own[k] if k not in plan.aliases else
            replace(own[plan.aliases[k]], name=k, alias=index[plan.aliases[k]])
            for k in plan.all_names]


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
        entries.append(_entry(p, m, pos, length, 0, tbase, tbits, lbits, mr, glen,
                              src.preds.get(k, (-1, 0)), src.floor(k)))
        pos += length
    plan.lengths = {e.name: e.block_length for e in entries}
    entries = _with_aliases(plan, entries)
    plan.size = pos + _directory_size(plan, entries, pos) + footer_size(plan.version)
    return plan.size


def _directory_size(plan: _Plan, entries: list[TensorEntry], end: int) -> int:
    """Bytes of :func:`_directory` (v4: counted, not written)."""
    if plan.version < 4:
        return len(_directory(plan, entries, end, None))
    cache = plan.names_cache.setdefault("v4 tables", {})
    return (v4.tables_size(plan.tables, cache) + v4._varint_len(len(entries))
            + len(_names_bytes(plan, entries)) + v4.entries_size(entries, DTYPE_CODES,
                                                                 len(plan.tables), plan.version)
            + 1 + 4 * v2.chunk_count(end - PREAMBLE_SIZE, plan.chunk_log2))


def _names_bytes(plan: _Plan, entries: list[TensorEntry]) -> bytes:
    """The v2 name section (§17.1) of the package's names, computed once a pack."""
    names = plan.names_cache.get("v2")
    if names is None:
        buf = bytearray()
        v2.write_names(buf, [e.name for e in entries], plan.version)
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
        entries.append(_entry(p, m, pos, len(block), crc, tbase, tbits, lbits, mr, glen,
                              src.preds.get(k, (-1, 0)), src.floor(k)))
        pos += len(block)
    entries = _with_aliases(plan, entries)
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


def _preds(tensors: Mapping, names: list, option, version: int | None, mirrors: dict,
           effort: int = 1, skip=()) -> dict:
    """{name: (mode, shift)}: the tensors that get format v5's prediction transform
    (docs/FORMAT.md §32; a shift > 0, v6's images in other dims than the last two: §34).
    ``option``: 'auto' (§32 / §34's rule, :func:`codec.predict.choose`; shift 0 only when
    ``version`` is 5), None / False (never), or {name: mode or (mode, shift)} (exactly those
    tensors, each eligible and without a mirror).  'auto' passes over ``skip`` (the tensors
    given row floors)."""
    if isinstance(option, Mapping) and option and version is not None and version < 5:
        raise ValueError(f"a prediction mode needs format v5, not version={version}")
    if (version is not None and version < 5) or option is None or option is False:
        return {}
    if isinstance(option, str) and option == "auto":
        out = {}
        for k in names:
            if k in mirrors or k in skip:
                continue
            mode, shift = pred.choose(_native(k, tensors[k]), pred.MAX_SAMPLED_VALUES if effort
                                      else pred.FAST_SAMPLED_VALUES,
                                      any_axes=version is None or version >= 6)
            if mode >= 0:
                out[k] = (mode, shift)
        return out
    if not isinstance(option, Mapping):
        raise ValueError(f"predict must be 'auto', None or a mapping name -> mode, "
                         f"got {option!r}")
    out = {}
    for k, v in option.items():
        if k not in tensors:
            raise ValueError(f"predict given for unknown tensor {k!r}")
        mode, shift = v if isinstance(v, tuple) and len(v) == 2 else (v, 0)
        if not _small_int(mode, 7):
            raise TypeError(f"predict[{k!r}] must be a mode 0 ... 7 or (mode, shift), got {v!r}")
        if not _small_int(shift, 64):
            raise TypeError(f"predict[{k!r}]: the shift must be an int >= 0, got {shift!r}")
        shape = np.shape(tensors[k])
        if k in mirrors or not pred.eligible(shape, math.prod(shape)):
            raise ValueError(f"predict[{k!r}]: the tensor of shape {shape} cannot take the "
                             f"prediction transform (docs/FORMAT.md §32)")
        if shift not in pred.shifts(shape):
            raise ValueError(f"predict[{k!r}]: shift {shift} does not fit shape {shape} "
                             f"(docs/FORMAT.md §34)")
        if shift and version is not None and version < 6:
            raise ValueError(f"predict[{k!r}]: a shift > 0 needs format v6, not "
                             f"version={version}")
        out[k] = (int(mode), int(shift))
    return out


def _aliases(tensors: Mapping, names: list, option, version: int | None, meta: dict,
             skip=()) -> dict:
    """{alias: target}: format v7's tensor aliases (§36), each non-empty tensor whose dtype,
    shape, values and metadata equal an earlier tensor's (the first such), except those in
    ``skip`` (given row floors: they keep their block); ``option`` 'auto' or None (never)."""
    if option is None or option is False:
        return {}
    if option != "auto":
        raise ValueError(f"alias must be 'auto' or None, got {option!r}")
    if version is not None and version < 7:
        return {}
    seen: dict = {}
    out = {}
    for k in names:
        arr = _native(k, tensors[k])
        m = meta.get(k)
        key = (arr.dtype.str, arr.shape, hashlib.blake2b(np.ascontiguousarray(arr).tobytes(),
                                                         digest_size=16).digest(),
               None if m is None else m.to_bytes())
        first = seen.setdefault(key, k)
        if first != k and arr.size and k not in skip \
                and np.array_equal(arr, _native(first, tensors[first])):
            out[k] = first
    return out


def _floors(tensors: Mapping, names: list, option, version: int | None, mirrors: dict,
            preds: dict) -> dict:
    """{name: int64 row floors}: the tensors that get format v7's row floors (§36).
    ``option``: 'auto' (§36's rule, :func:`codec.floor.choose`), None (never), or ``{name:
    True | floors}`` (exactly those tensors: True = the writer's floors).  Only signed
    tensors without a mirror or a prediction mode (their value offset becomes 0)."""
    if option is None or option is False:
        return {}
    if option == "auto":
        if version is not None and version < 7:
            return {}
        out = {}
        for k in names:
            if k in mirrors or k in preds:
                continue
            f = floor.choose(_native(k, tensors[k]))
            if f is not None:
                out[k] = f
        return out
    if not isinstance(option, Mapping):
        raise ValueError(f"floor must be 'auto', None or a mapping name -> True | floors, "
                         f"got {option!r}")
    if version is not None and version < 7:
        raise ValueError(f"row floors need format v7, not version={version}")
    out = {}
    for k, v in option.items():
        if k not in tensors:
            raise ValueError(f"floor given for unknown tensor {k!r}")
        arr = _native(k, tensors[k])
        if k in mirrors or k in preds or arr.dtype.kind != "i" or arr.size == 0:
            raise ValueError(f"floor[{k!r}]: only a non-empty signed tensor without a mirror or "
                             f"a prediction mode takes row floors (docs/FORMAT.md §36)")
        f = floor.row_floors(arr) if v is True else np.asarray(v, np.int64).reshape(-1)
        if f.size != v4.floor_rows(arr.shape):
            raise ValueError(f"floor[{k!r}]: {f.size} floors for {v4.floor_rows(arr.shape)} rows")
        floor.forward(arr, f)  # (raises if a floor does not fit its row)
        if (f > np.iinfo(arr.dtype).max - 1).any():
            raise ValueError(f"floor[{k!r}]: a floor above {np.iinfo(arr.dtype).max - 1}")
        out[k] = f
    return out


def _small_int(v, top: int) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool) and 0 <= v <= top


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
               mirror="auto", predict="auto", floor="auto", alias="auto") -> _Plan:
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
    aliases = _aliases(tensors, names, alias, version, meta,
                       floor if isinstance(floor, Mapping) else ())
    all_names, names = names, [k for k in names if k not in aliases]
    mirrors = _mirrors(tensors, names, mirror, version)
    preds = _preds(tensors, names, predict, version, mirrors, effort,
                   floor if isinstance(floor, Mapping) else ())
    floors = _floors(tensors, names, floor, version, mirrors, preds)
    if version is None:  # v4 (§31), v5 when a tensor gets the prediction transform (§32),
        # v6 when one gets it over other dims than its last two (§34), v7 with row floors or
        # aliases (§36)
        version = (7 if floors or aliases else VERSION if not preds else
                   6 if any(sh for _, sh in preds.values()) else 5)

    def plan_of(s, alphabet=None):
        pl = _plan(s, names, max_tables=max_tables, effort=effort, alphabet=alphabet)
        pl.version = version
        pl.names_cache = names_cache
        pl.all_names, pl.aliases = all_names, aliases
        return pl
    srcs = [_Source(tensors, meta, g, stream, mirrors, preds, floors) for g in cands]
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
    mixed = _Source(src.tensors, src.meta, choice, src.stream, src.mirrors, src.preds,
                    src.floors)
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
         mirror="auto", predict="auto", floor="auto", alias="auto") -> bytes:
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
    smallest directory), 5 or 6 when a tensor gets the prediction transform (§32, §34), 7
    when one gets row floors or is an alias (§36); or 6, 5, 4, 3, 2 (no mirror) or 1 for
    readers that only know those (below 7: no floors or aliases, below 5: no prediction).
    ``mirror``: the mirror transform (v3, v4) for symmetric / antisymmetric rows (an STFT or
    DCT basis, linear-phase filters): 'auto' (default; docs/FORMAT.md §25), None (never), or
    ``{name: (period, skip)}`` (exactly those tensors).  ``predict``: format v5's prediction
    transform over a kernel's taps (docs/FORMAT.md §32): 'auto' (default: each signed tensor
    of >= 2 dims whose estimated size it lowers), None (never), or ``{name: mode}`` or
    ``{name: (mode, shift)}`` (exactly those tensors, modes 0 ... 7; §34's shift).
    ``floor``: format v7's row floors for magnitude-pruned tensors (§36): 'auto' (default:
    each signed tensor whose estimated size they lower), None (never), or ``{name: True |
    floors}``.  ``alias``: 'auto' (default: a tensor equal to an earlier one is stored once,
    §36) or None.
    """
    names, meta = _check_args(tensors, meta, effort, version)
    plan = _best_plan(tensors, names, meta, _group_candidates(group, effort),
                      max_tables=max_tables, effort=effort, stream=False, version=version,
                      mirror=mirror, predict=predict, floor=floor, alias=alias)
    buf = io.BytesIO()
    _emit(buf, plan)
    return buf.getvalue()


def save(path, tensors: Mapping[str, np.ndarray], /, *, group="auto", meta=None,
         max_tables: int = DEFAULT_MAX_TABLES, effort: int = 1, version: int | None = None,
         mirror="auto", predict="auto", floor="auto", alias="auto") -> int:
    """Write a package to ``path`` atomically (temporary file, fsync, rename); returns its size.

    ``tensors`` may be a lazy mapping (e.g. ``np.load('x.npz')``): each tensor is read when
    needed and blocks are streamed to disk, so the package is never held in memory (with
    several grouping candidates, each is first planned and sized exactly without packing).
    ``version``, ``mirror``, ``predict``, ``floor``, ``alias``: as :func:`pack`.
    """
    names, meta = _check_args(tensors, meta, effort, version)
    plan = _best_plan(tensors, names, meta, _group_candidates(group, effort),
                      max_tables=max_tables, effort=effort, stream=True, version=version,
                      mirror=mirror, predict=predict, floor=floor, alias=alias)
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
           effort: int = 1, version: int | None = None, mirror="auto",
           predict="auto", floor="auto") -> bytes:
    """Compress one integer tensor (a package holding one tensor named '').  ``mirror``:
    'auto', None, or (period, skip) for this tensor; ``predict``: 'auto', None, or a mode
    0 ... 7 (or (mode, shift)) for this tensor; ``floor``: 'auto', None, True or the row
    floors for this tensor (see :func:`pack`)."""
    if isinstance(mirror, tuple):
        mirror = {"": mirror}
    if (isinstance(predict, (int, np.integer)) and not isinstance(predict, bool)) \
            or isinstance(predict, tuple):
        predict = {"": predict}
    if floor is True or isinstance(floor, (list, tuple, np.ndarray)):
        floor = {"": floor}
    return pack({"": array}, group=group, meta=None if meta is None else {"": meta}, effort=effort,
                version=version, mirror=mirror, predict=predict, floor=floor)
