"""Host side of the GPU decoder: checks, group plans and decode tables on the host (small),
package bytes copied to the device once, kernels decode straight into device arrays.

The header, CRCs, metadata and group tables are read by :class:`codec.Package` (the same code,
so the same checks and errors as :func:`codec.unpack`); only the payload decoding runs on the
device.  See docs/GPU.md.
"""
from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from numba import config, cuda

from ..errors import CorruptError
from ..format import DEFAULT_LIMITS, PREAMBLE_SIZE, Limits, TensorEntry, value_range
from ..kernels.crc import CRC_TABLES, crc_shift_tables
from ..kernels.status import STATUS_MESSAGES
from ..kernels.parallel import start_chunks
from ..package import Package, _decode_luts, _guard
from . import kernels as K
from .warp import warp_kernel

__all__ = ["unpack", "read_tensor", "is_available", "GpuPackage", "DecodePlan"]

SIMULATOR = bool(config.ENABLE_CUDASIM)
if not SIMULATOR:
    from numba.cuda.cudadrv.devicearray import DeviceNDArray
# launch shapes (the simulator runs every thread as a Python thread: keep it small there)
DECODE_THREADS = 32 if SIMULATOR else 128
FILL_THREADS = 32 if SIMULATOR else 256
FILL_BLOCKS = 4 if SIMULATOR else 16384
SWAP_THREADS = 32 if SIMULATOR else 256
SWAP_BLOCKS = 2 if SIMULATOR else 4096
MIRROR_THREADS = 32 if SIMULATOR else 256   # kernels.mirror_inverse: a thread a (row, k) pair
MIRROR_BLOCKS = 2 if SIMULATOR else 16384   # grid-stride beyond this
# v5/v6 prediction (kernels.pred_images / pred_wavefront): a tensor whose images (H * W
# values, §34) are at most ``image_values`` gets a thread an image, a larger one a block an
# image (an anti-diagonal wavefront: H + W - 1 steps instead of H * W); ``threads`` a block of the
# former, at most ``wave_threads`` (a multiple of 32 covering the longest diagonal) of the
# latter, grids of at most ``blocks`` blocks (grid-stride beyond).  Not yet timed on a GPU.
PRED_CONFIG = {"image_values": 16 if SIMULATOR else 1024, "threads": 32 if SIMULATOR else 256,
               "wave_threads": 32 if SIMULATOR else 256, "blocks": 2 if SIMULATOR else 16384}
# v7 row floors (kernels.unfloor_values): a thread a value, grid-stride beyond FLOOR_BLOCKS
FLOOR_THREADS = 32 if SIMULATOR else 256
FLOOR_BLOCKS = 2 if SIMULATOR else 16384
# warp kernel (codec/cuda/warp.py): groups (warps) per block, shared staging bytes per warp,
# synchronisation rounds before the sequential fallback, overlap bits of the speculative
# walks, register cap (0: none).  'auto' uses the one-thread-a-group kernels only for launches
# of at least ``min_groups`` groups averaging under ``min_bits`` bits (enough threads to fill
# the GPU, too few symbols a lane for the warp kernel): measured on an H200, docs/GPU.md.
# The simulator (slow: every thread a Python thread) keeps 4 rounds and sends every launch
# of short groups to the one-thread kernels (its checks ask for variant='warp' explicitly);
# its small staging buffer sends groups of more than 64 values down the direct-write path,
# so its tests see both.
WARP_CONFIG = {"warps": 2 if SIMULATOR else 8, "stage_bytes": 64 if SIMULATOR else 4096,
               "max_rounds": 4 if SIMULATOR else 32, "overlap": 128, "max_registers": 0,
               "min_bits": 4096, "min_groups": 0 if SIMULATOR else 32768}
VARIANTS = ("auto", "warp", "global", "shared")
# a whole v2 package's chunk CRCs are computed on the device (kernels.crc_chunks, a warp
# a chunk) from this much data on, instead of on the host before the copy (GPU.md); the
# simulator (every thread a Python thread) keeps them on the host unless a test asks
GPU_CRC_MIN_BYTES = (1 << 62) if SIMULATOR else (1 << 18)
# bytes copied after the last needed block when only some tensors are read (see docs/GPU.md)
TAIL_BYTES = 1 << 16

# a launch's per-group int64 plan arrays (copied to the device as rows of one matrix)
_GROUP_ROWS = ("glo", "ghi", "tid", "ostart", "ocount", "voff", "gten")

_FLOATS = {np.dtype(np.float16): np.dtype(np.uint16), np.dtype(np.float32): np.dtype(np.uint32)}


def is_available() -> bool:
    """True if numba.cuda sees a GPU (or the simulator is enabled)."""
    try:
        return bool(cuda.is_available())
    except Exception:  # pragma: no cover - driver problems
        return False


def _out_dtype(dequantize) -> np.dtype | None:
    if dequantize is None:
        return None
    try:
        dt = np.dtype(dequantize)
    except TypeError:
        dt = None
    if dt not in _FLOATS:
        raise ValueError(f"dequantize must be None, 'float16' or 'float32', got {dequantize!r}")
    return dt


@dataclass
class _Launch:
    """One output buffer and the groups decoded into it (one prefill + one decode launch)."""
    out_dtype: np.dtype
    entries: list[TensorEntry]
    bases: list[int]
    total: int
    gidx: np.ndarray              # indices of the launch's groups in the dtype's plan
    host: dict = field(default_factory=dict)    # per-group and per-tensor arrays (host)
    dev: dict = field(default_factory=dict)     # the same on the device
    out: object = None
    outbits: object = None
    status: object = None
    where: object = None
    status_where: object = None   # status and where: two rows of one device array
    path: object = None           # warp kernel: how each group was decoded (warp.PATH_*)
    one_table: bool = True        # every group of the launch uses one decode table
    bits: int = 0                 # payload bits of the launch's groups
    # v3 mirror (kernels.mirror_inverse): the launch's mirrored tensors (rows of its mirror
    # table), their (row, k) pairs, the table and per-tensor status on the device
    mir_entries: list = field(default_factory=list)
    npairs: int = 0
    mir: object = None
    mir_status: object = None
    # dequantized tensors with a mirror, a prediction or row floors are decoded as integers
    # (``out``), the transform undone there, then stored as ``final_dtype`` into ``final``
    # (kernels.store_values)
    final_dtype: np.dtype | None = None
    final: object = None
    store_status: object = None
    # v5/v6 prediction (kernels.pred_images / pred_wavefront): at most two rebuild passes
    preds: list = field(default_factory=list)
    # v7 row floors (kernels.unfloor_values): the launch's floored tensors (rows of its floor
    # table, host["fl"], their floors host["floors"]), their values, per-tensor status
    floor_entries: list = field(default_factory=list)
    nfloor: int = 0
    fl: object = None
    floors: object = None
    floor_status: object = None
    # v7 aliases whose target is decoded by the same launch: (alias base, target base, numel)
    # in ``out``, copied on the device after the target's passes (before the store)
    copies: list = field(default_factory=list)


@dataclass
class _PredPass:
    """One rebuild launch of a launch's predicted tensors (v5/v6, FORMAT.md §32, §34):
    ``wave`` (a block an image) or not (a thread an image), its table (kernels.PRED_*
    columns), the tensors' images, per-tensor status (0 or -1) on the device."""
    wave: bool
    entries: list
    table: np.ndarray
    nimg: int
    threads: int = 32
    dev: object = None
    status: object = None


@dataclass
class _DtypeBatch:
    """Tensors of one stored dtype: one group plan (as the CPU decoder's ``_decode_flat``)."""
    dtype: np.dtype
    entries: list[TensorEntry]
    live: list[TensorEntry]
    G: np.ndarray
    n: int
    launches: list[_Launch]


@dataclass
class DecodePlan:
    """Everything :meth:`GpuPackage.run` needs: device bytes, tables, per-launch arrays."""
    entries: list[TensorEntry]
    batches: list[_DtypeBatch]
    base_byte: int
    words: object
    nbits: int
    luts: object


class GpuPackage:
    """A package opened for decoding on the GPU.

    ``prepare`` does the host work and the host→device copy, ``run`` launches the kernels and
    checks their status; ``load`` does both.  Decode tables are copied once per package.
    """

    def __init__(self, data, *, limits: Limits = DEFAULT_LIMITS, verify: bool = True):
        self.package = data if isinstance(data, Package) else Package(data, limits=limits,
                                                                        verify=verify)
        self._d_luts = None

    # --- host side ------------------------------------------------------------------------
    def _start_checks(self, names, device: bool = True):
        """(entries, finish): the requested entries, and ``finish(words, nbytes)``, called once
        the package bytes [0, nbytes) are on the device (``words``), which completes the
        checks (CRCs unless all known good, then metadata) and raises their errors.  A v2
        package read whole has its chunk CRCs computed on the device (``device`` and from
        GPU_CRC_MIN_BYTES of data: :meth:`_device_chunk_crcs`) or, else, by a pass that starts
        here on the host's pool threads (kernels/crc.py's nogil kernel on many-thread hosts)
        and runs while the caller copies the bytes; on a mismatch the per-tensor checks name
        the tensor, as without either."""
        p = self.package
        d = p.directory
        entries = [p.entry(n) for n in (p.names if names is None else names)]
        if names is None and p.verify and d.version >= 2:
            if device and d.directory_offset - PREAMBLE_SIZE >= GPU_CRC_MIN_BYTES:
                return entries, lambda words, nbytes: p._check(
                    entries, nbytes >= d.directory_offset
                    and self._device_chunk_crcs(words, nbytes))
            jobs = p._chunk_jobs()
            if jobs is not None:
                parts, done = jobs
                wait = start_chunks(lambda k: parts[k][1](), len(parts))

                def finish(words, nbytes):
                    wait()
                    p._check(entries, done())
                return entries, finish
        return entries, lambda words, nbytes: p._check(entries, False)

    def _entries(self, names) -> list[TensorEntry]:
        """The requested entries, checked on the host (:meth:`_start_checks`)."""
        entries, finish = self._start_checks(names, device=False)
        finish(None, 0)
        return entries

    def _device_chunk_crcs(self, words, nbytes: int) -> bool:
        """True if every v2 data chunk's CRC-32, computed on the device from the copied
        package (bytes [0, nbytes)), matches the directory's (then remembered as checked)."""
        p = self.package
        d = p.directory
        n = len(d.chunk_crcs)
        got = cuda.device_array(n, np.int64)
        blocks = (n + K.CRC_WARPS - 1) // K.CRC_WARPS
        K.crc_chunks[blocks, 32 * K.CRC_WARPS](
            words, np.int64(nbytes), np.int64(PREAMBLE_SIZE), np.int64(d.directory_offset),
            np.int64(d.chunk_log2), cuda.to_device(_crc_tables(d.chunk_log2)), got)
        ok = np.array_equal(got.copy_to_host(), np.asarray(d.chunk_crcs, np.int64))
        if ok:
            p._chunk_ok.update(range(n))
        return ok

    def _copy_bytes(self, lo: int, hi: int):
        """Package bytes [lo, hi) to the device, zero-padded to whole uint64 words plus one,
        byte-swapped there into big-endian words (asynchronous kernel)."""
        nbytes = hi - lo
        nw = nbytes // 8 + 2
        raw = cuda.device_array(nw * 8, np.uint8)
        if nbytes:
            raw[:nbytes].copy_to_device(np.ascontiguousarray(self.package._buf[lo:hi]))
        raw[nbytes:].copy_to_device(np.zeros(nw * 8 - nbytes, np.uint8))
        words = raw.view(np.uint64)
        K.bswap_words[SWAP_BLOCKS, SWAP_THREADS](words)
        return words

    def _span(self, entries, whole: bool) -> tuple[int, int]:
        buf = self.package._buf
        live = [e for e in entries if e.n_groups]
        if whole or not live:
            return (0, buf.size) if live else (0, 0)
        lo = min(e.block_offset for e in live)
        hi = max(e.block_offset + e.block_length for e in live) + TAIL_BYTES
        if hi >= self.package.directory.directory_offset:
            hi = buf.size
        return lo, min(hi, buf.size)

    def _plan_dtype(self, dtype, es: list[TensorEntry], out_dt, base_byte: int) -> _DtypeBatch:
        """Group plan of one dtype's tensors (the CPU decoder's ``_decode_flat``), split into
        launches by output dtype (dequantized tensors / tensors kept as integers)."""
        # launch keys (decode dtype, final dtype): a dequantized tensor with a v3 mirror, a
        # v5 prediction or v7 row floors is decoded as integers, the transform undone, then
        # dequantized (a pass of its own)
        keys = [(e.dtype, None) if out_dt is None or e.meta is None
                else (e.dtype, out_dt) if e.mirror_period or e.pred_mode >= 0 or e.floors
                else (out_dt, None) for e in es]
        order: list = []
        for k in keys:
            if k not in order:
                order.append(k)
        launches = {k: _Launch(np.dtype(k[0]), [], [], 0, np.zeros(0, np.int64),
                               final_dtype=None if k[1] is None else np.dtype(k[1]))
                    for k in order}
        base_of = {}
        for e, k in zip(es, keys):
            L = launches[k]
            L.entries.append(e)
            L.bases.append(L.total)
            base_of[id(e)] = L.total
            L.total += e.numel
        # v7 aliases decoded as a device copy of their target's values (not planned: no
        # groups, no passes of their own)
        copy_of = self._alias_copies(es, keys)
        for e, k in zip(es, keys):
            if id(e) in copy_of:
                launches[k].copies.append((base_of[id(e)], base_of[id(copy_of[id(e)])],
                                           e.numel))
        live = [e for e in es if e.n_groups and id(e) not in copy_of]
        G = np.array([e.n_groups for e in live], np.int64)
        n = int(G.sum())
        batch = _DtypeBatch(dtype, es, live, G, n, [launches[k] for k in order])
        if not live:
            return batch
        # the CPU decoder's plan, checks and messages
        _, glo, ghi, tid, st, cn, voff = self.package._plan(
            [(e, 0, e.n_groups, base_of[id(e)]) for e in live], {})
        glo -= 8 * base_byte
        ghi -= 8 * base_byte
        # per live tensor: its launch and its row among that launch's live tensors (the
        # launch's per-tensor store parameters), repeated over its groups
        key_of = {id(e): order.index(k) for e, k in zip(es, keys)}
        live_key = [key_of[id(e)] for e in live]
        seen = [0] * len(order)
        live_row = []
        for k in live_key:
            live_row.append(seen[k])
            seen[k] += 1
        tkey = np.repeat(np.array(live_key, np.int64), G)
        grow = np.repeat(np.array(live_row, np.int64), G)
        for li, L in enumerate(batch.launches):
            sel = np.flatnonzero(tkey == li)
            L.gidx = sel
            lives = [e for e in L.entries if e.n_groups and id(e) not in copy_of]
            dqi, scales, zps = _dq_params(lives, [base_of[id(e)] for e in lives], L.out_dtype)
            L.host = dict(glo=glo[sel], ghi=ghi[sel], tid=tid[sel], ostart=st[sel],
                          ocount=cn[sel], voff=voff[sel], gten=grow[sel], dqi=dqi,
                          scales=scales, zps=zps)
            t_sel = tid[sel]
            L.one_table = bool(t_sel.size == 0 or (t_sel == t_sel[0]).all())
            L.bits = int((ghi[sel] - glo[sel]).sum())
            if L.final_dtype is not None:
                # the store covers the copies too (kernels.store_values: a row per tensor)
                stored = [e for e in L.entries if e.n_groups]
                L.host.update(zip(("fdqi", "fscales", "fzps"), _dq_params(
                    stored, [base_of[id(e)] for e in stored], L.final_dtype)))
            rows = []
            for e in lives:
                if e.mirror_period:
                    P, a = e.mirror_period, e.mirror_skip
                    # the mode string follows the metadata (FORMAT.md §23)
                    rows.append((base_of[id(e)], e.numel, P, a,
                                 e.block_offset + e.meta_length - base_byte, e.value_offset,
                                 L.npairs))
                    L.mir_entries.append(e)
                    L.npairs += e.numel // P * ((P - a) // 2)
            if rows:
                L.host["mir"] = np.array(rows, np.int64).reshape(-1, K.MIR_COLS)
            L.preds = _pred_passes(lives, [base_of[id(e)] for e in lives])
            frows, floors = [], []
            for e in lives:
                if e.floors:
                    R = len(e.floors)
                    frows.append((base_of[id(e)], e.numel, R, sum(map(len, floors)),
                                  L.nfloor))
                    floors.append(e.floors)
                    L.floor_entries.append(e)
                    L.nfloor += e.numel
            if frows:
                L.host["fl"] = np.array(frows, np.int64).reshape(-1, K.FL_COLS)
                L.host["floors"] = np.concatenate(
                    [np.asarray(f, np.int64) for f in floors])
        return batch

    def _alias_copies(self, es: list[TensorEntry], keys: list) -> dict:
        """{id(alias): target} for the v7 aliases among ``es`` (one dtype) whose target comes
        before them in ``es`` and decodes into the same launch (same key): those are copied
        on the device instead of decoded again (FORMAT.md §36: an alias decodes to exactly
        its target's values).  An alias read without its target, or before it, is decoded
        from the shared block as any tensor (so errors name the first tensor, as the CPU)."""
        tensors = self.package.directory.tensors
        first: dict = {}
        res = {}
        for i, e in enumerate(es):
            if e.alias >= 0 and e.n_groups and e.alias < len(tensors):
                t = tensors[e.alias]
                j = first.get(id(t))
                if j is not None and keys[j] == keys[i] and t.numel == e.numel \
                        and t.block_offset == e.block_offset:
                    res[id(e)] = t
                    continue
            first.setdefault(id(e), i)
        return res

    def prepare(self, names: Iterable[str] | None = None, dequantize=None) -> DecodePlan:
        """Checks (CRCs, metadata, group tables) and plans on the host, then copies the needed
        bytes, tables and plans to the device.  The bytes are copied before the CRC checks end
        (:meth:`_start_checks`); nothing is launched before they pass, and the errors are
        those of checking first."""
        out_dt = _out_dtype(dequantize)
        whole = names is None
        entries, finish = self._start_checks(None if names is None else list(names))
        lo, hi = self._span(entries, whole)
        words = self._copy_bytes(lo, hi)
        finish(words, hi if lo == 0 else 0)
        batches = self._plan_all(entries, out_dt, lo)
        self._to_device(batches)
        return DecodePlan(entries, batches, lo, words, (hi - lo) * 8, self._d_luts)

    def _plan_all(self, entries, out_dt, lo: int) -> list[_DtypeBatch]:
        by_dtype: dict = {}
        for e in entries:
            by_dtype.setdefault(e.dtype, []).append(e)
        return [self._plan_dtype(dt, es, out_dt, lo) for dt, es in by_dtype.items()]

    def _to_device(self, batches: list[_DtypeBatch]) -> None:
        """Decode tables (once per package), output arrays and per-launch plan arrays."""
        if self._d_luts is None:
            self._d_luts = cuda.to_device(_decode_luts(self.package.directory.tables, whole=False))
        for b in batches:
            for L in b.launches:
                L.out = cuda.device_array(L.total, L.out_dtype)
                L.outbits = (L.out.view(_FLOATS[L.out_dtype]) if L.out_dtype in _FLOATS
                             else L.out)
                if L.gidx.size:
                    # the per-group int64 arrays, status and error position as rows of one
                    # matrix: one allocation and one copy (each separate copy cost ~0.1 ms)
                    rows = [L.host[k] for k in _GROUP_ROWS]
                    zero = np.zeros(L.gidx.size, np.int64)
                    dall = cuda.to_device(np.stack(rows + [zero, zero]))
                    L.dev = {k: dall[i] for i, k in enumerate(_GROUP_ROWS)}
                    L.dev.update((k, cuda.to_device(L.host[k])) for k in L.host
                                 if k not in L.dev)
                    L.status = dall[len(rows)]
                    L.where = dall[len(rows) + 1]
                    L.status_where = dall[len(rows):]
                    L.path = cuda.to_device(np.zeros(L.gidx.size, np.int8))
                if "mir" in L.host:
                    L.mir = cuda.to_device(L.host["mir"])
                    L.mir_status = cuda.to_device(np.full(len(L.mir_entries), K.MIR_OK,
                                                          np.int64))
                for pp in L.preds:
                    pp.dev = cuda.to_device(pp.table)
                    pp.status = cuda.to_device(np.zeros(len(pp.entries), np.int64))
                if "fl" in L.host:  # (copied with the launch's other host arrays above)
                    L.fl = L.dev["fl"]
                    L.floors = L.dev["floors"]
                    L.floor_status = cuda.to_device(np.full(len(L.floor_entries),
                                                            K.FLOOR_OK, np.int64))
                if L.final_dtype is not None:
                    L.final = cuda.device_array(L.total, L.final_dtype)
                    L.store_status = cuda.to_device(np.zeros(1, np.int64))
                    for k in ("fdqi", "fscales", "fzps"):
                        L.dev[k] = cuda.to_device(L.host[k])

    # --- device side ----------------------------------------------------------------------
    def launch(self, plan: DecodePlan, variant: str = "auto") -> None:
        """Launch the decode kernels of every launch (asynchronous).

        ``variant``: 'warp' (32 threads a group, codec/cuda/warp.py), 'global' or 'shared'
        (one thread a group after a prefill launch: the first decoder, faster for many short
        groups and the baseline of benchmarks/bench_gpu.py), or 'auto': per launch, the
        one-thread kernels for at least WARP_CONFIG['min_groups'] groups averaging under
        WARP_CONFIG['min_bits'] bits, else the warp kernel."""
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
        for b in plan.batches:
            for L in b.launches:
                if L.gidx.size:
                    self._launch_decode(plan, b, L, variant)
                    self._launch_mirror(plan, b, L)
                    self._launch_pred(b, L)
                    self._launch_floor(b, L)
                    self._launch_copies(L)
                    self._launch_store(L)

    @staticmethod
    def _launch_decode(plan: DecodePlan, b: _DtypeBatch, L: _Launch, variant: str) -> None:
        """One launch's decode kernels (``variant`` as :meth:`launch`)."""
        vmin, vmax = value_range(b.dtype)
        n = int(L.gidx.size)
        d = L.dev
        # float16 results are always written as bits: the kernels never see a float16
        # array (no dependence on the target's half-precision support)
        kout = L.outbits if L.out_dtype == np.dtype(np.float16) else L.out
        tids = L.host["tid"]
        one_table = L.one_table
        args = (plan.words, np.int64(plan.nbits), d["glo"], d["ghi"], d["tid"],
                d["ostart"], d["ocount"], d["voff"], d["gten"], np.int64(vmin),
                np.int64(vmax), plan.luts, d["dqi"], d["scales"], d["zps"], kout,
                L.outbits, L.status, L.where)
        c = WARP_CONFIG
        v = variant
        if v == "auto":  # many short groups: one thread a group (docs/GPU.md)
            short = n >= c["min_groups"] and L.bits < c["min_bits"] * n
            v = ("shared" if one_table else "global") if short else "warp"
        if v == "warp":
            kern = warp_kernel(c["warps"], c["stage_bytes"], c["max_rounds"],
                               c["overlap"], L.out_dtype not in _FLOATS,
                               c["max_registers"])
            blocks = (n + c["warps"] - 1) // c["warps"]
            kern[blocks, 32 * c["warps"]](*args, np.int64(b.dtype.itemsize == 1), L.path)
            return
        if v == "shared" and not one_table:
            raise ValueError("variant 'shared' needs every group to use one table")
        K.prefill[min(n, FILL_BLOCKS), FILL_THREADS](
            d["glo"], d["ghi"], d["tid"], d["ostart"], d["ocount"], d["voff"], d["gten"],
            d["dqi"], plan.luts, d["scales"], d["zps"], kout, L.outbits,
            np.int64(plan.nbits))
        blocks = (n + DECODE_THREADS - 1) // DECODE_THREADS
        if v == "shared":
            K.decode_shared[blocks, DECODE_THREADS](*args, np.int64(tids[0]))
        else:
            K.decode_global[blocks, DECODE_THREADS](*args)

    @staticmethod
    def _launch_mirror(plan: DecodePlan, b: _DtypeBatch, L: _Launch) -> None:
        """Undo the v3 mirror of the launch's mirrored tensors in its integer output, after
        (same stream) its decode (kernels.mirror_inverse, a thread a (row, k) pair)."""
        if L.mir is None or L.npairs == 0:
            return
        blocks = min((L.npairs + MIRROR_THREADS - 1) // MIRROR_THREADS, MIRROR_BLOCKS)
        K.mirror_inverse[blocks, MIRROR_THREADS](
            plan.words, np.int64(plan.nbits // 8), L.mir, np.int64(L.npairs),
            np.int64(8 * b.dtype.itemsize), np.int64(b.dtype.kind == "i"), L.out, L.mir_status)

    @staticmethod
    def _launch_pred(b: _DtypeBatch, L: _Launch) -> None:
        """Rebuild the v5/v6 predicted tensors of the launch from their residuals in its
        integer output, after (same stream) its decode (FORMAT.md §32, §34: kernels.pred_images,
        a thread an image, or pred_wavefront, a block an image)."""
        bits = np.int64(8 * b.dtype.itemsize)
        signed = np.int64(b.dtype.kind == "i")
        cap = PRED_CONFIG["blocks"]
        for pp in L.preds:
            if pp.wave:
                K.pred_wavefront[min(pp.nimg, cap), pp.threads](
                    pp.dev, np.int64(pp.nimg), bits, signed, L.out, pp.status)
            else:
                blocks = min((pp.nimg + pp.threads - 1) // pp.threads, cap)
                K.pred_images[blocks, pp.threads](pp.dev, np.int64(pp.nimg), bits, signed,
                                                  L.out, pp.status)

    @staticmethod
    def _launch_floor(b: _DtypeBatch, L: _Launch) -> None:
        """Add the v7 row floors of the launch's floored tensors back in its integer output,
        after (same stream) its decode (FORMAT.md §36: kernels.unfloor_values, a thread a
        value)."""
        if L.fl is None or L.nfloor == 0:
            return
        vmin, vmax = value_range(b.dtype)
        blocks = min((L.nfloor + FLOOR_THREADS - 1) // FLOOR_THREADS, FLOOR_BLOCKS)
        K.unfloor_values[blocks, FLOOR_THREADS](L.fl, np.int64(L.nfloor), L.floors,
                                                np.int64(vmin), np.int64(vmax), L.out,
                                                L.floor_status)

    @staticmethod
    def _launch_copies(L: _Launch) -> None:
        """The v7 aliases of the launch decoded by its targets: device-to-device copies of the
        targets' values (after every pass over them, before the store)."""
        for dst, src, n in L.copies:
            L.out[dst:dst + n].copy_to_device(L.out[src:src + n])

    @staticmethod
    def _launch_store(L: _Launch) -> None:
        """Dequantize a launch decoded as integers (its tensors have a v3 mirror, a v5/v6
        prediction or v7 row floors) into ``final``."""
        if L.final is None or L.total == 0:
            return
        bits = L.final.view(_FLOATS[L.final_dtype])
        kout = bits if L.final_dtype == np.dtype(np.float16) else L.final
        blocks = min((L.total + FILL_THREADS - 1) // FILL_THREADS, FILL_BLOCKS)
        d = L.dev
        K.store_values[blocks, FILL_THREADS](L.out, d["fdqi"], d["fscales"], d["fzps"], kout,
                                             bits, L.store_status)

    def check(self, plan: DecodePlan) -> None:
        """Copy the per-group status back and raise the CPU decoder's error for the first bad
        group (dtype by dtype in package order, groups in package order)."""
        for b in plan.batches:
            if b.n == 0:
                continue
            status = np.zeros(b.n, np.int64)
            where = np.zeros(b.n, np.int64)
            for L in b.launches:
                if L.gidx.size:
                    sw = L.status_where.copy_to_host()
                    status[L.gidx] = sw[0]
                    # at most the group's end, as the CPU decoder (codec/package.py): a
                    # damaged group can read on past it before a check fails
                    where[L.gidx] = np.minimum(sw[1], L.host["ghi"])
            if not status.any():
                continue
            g = int(np.flatnonzero(status)[0])
            for e, first in zip(b.live, np.cumsum(b.G) - b.G):
                if g < first + e.n_groups:
                    break
            code = int(status[g])
            raise CorruptError(f"tensor {e.name!r} group {g - int(first)}: "
                               f"{STATUS_MESSAGES.get(code, code)}",
                               offset=(int(where[g]) + 8 * plan.base_byte) // 8, value=code)
        # then the mirror and prediction passes and the stores after them (none fails on a
        # package that passed the host's checks: X4, a mode 3, is the CPU reader's,
        # Package._meta, run by prepare before any launch); then the v7 row floors (R3: a
        # stored value that its floor takes out of range; the first such tensor of the
        # dtype, as the CPU's unpack)
        for b in plan.batches:
            for L in b.launches:
                if L.mir_status is not None:
                    st = L.mir_status.copy_to_host()
                    for e, code in zip(L.mir_entries, st.tolist()):
                        if code == K.MIR_OK:
                            continue
                        if code >= 0:
                            raise _mode_error(e, code)
                        raise CorruptError(f"tensor {e.name!r}: mirror: "
                                           f"{STATUS_MESSAGES[K.ERR_BUFFER]}",
                                           offset=e.block_offset, value=K.ERR_BUFFER)
                for pp in L.preds:
                    st = pp.status.copy_to_host()
                    for e, code in zip(pp.entries, st.tolist()):
                        if code:
                            raise CorruptError(f"tensor {e.name!r}: prediction: "
                                               f"{STATUS_MESSAGES[K.ERR_BUFFER]}",
                                               offset=e.block_offset, value=K.ERR_BUFFER)
            self._check_floors(b)
            for L in b.launches:
                if L.store_status is not None:
                    code = int(L.store_status.copy_to_host()[0])
                    if code:
                        e = L.entries[0]
                        raise CorruptError(f"tensor {e.name!r}: dequantize: "
                                           f"{STATUS_MESSAGES.get(code, code)}",
                                           offset=e.block_offset, value=code)

    @staticmethod
    def _check_floors(b: _DtypeBatch) -> None:
        """Raise the CPU decoder's error (codec/floor.py inverse) for the first floored tensor
        of ``b`` (in the order asked for, as the CPU decoder) whose floor pass failed."""
        bad = []
        for L in b.launches:
            if L.floor_status is None:
                continue
            st = L.floor_status.copy_to_host()
            for r, code in enumerate(st.tolist()):
                if code != K.FLOOR_OK:
                    bad.append((next(i for i, e in enumerate(b.entries)
                                     if e is L.floor_entries[r]), L, r, code))
        if not bad:
            return
        _, L, r, code = min(bad, key=lambda x: x[0])
        e = L.floor_entries[r]
        if code < 0:
            raise CorruptError(f"tensor {e.name!r}: row floors: "
                               f"{STATUS_MESSAGES[K.ERR_BUFFER]}",
                               offset=e.block_offset, value=K.ERR_BUFFER)
        # the offending value is left as stored (kernels.unfloor_values)
        p = int(L.host["fl"][r, K.FL_BASE]) + code
        v = int(L.out[p:p + 1].copy_to_host()[0])
        raise CorruptError(f"tensor {e.name!r}: stored value {v} at index {code} leaves the "
                           f"dtype's range with its row floor (§36)", offset=e.block_offset,
                           value=v)

    @staticmethod
    def paths(plan: DecodePlan) -> np.ndarray:
        """How each group was decoded by the last warp-kernel launch of this plan
        (codec.cuda.warp.PATH_*; 0 where no warp kernel has run), package order per dtype: a
        diagnostic for tests and benchmarks/bench_gpu.py."""
        res = []
        for b in plan.batches:
            p = np.zeros(b.n, np.int8)
            for L in b.launches:
                if L.gidx.size:
                    p[L.gidx] = L.path.copy_to_host()
            res.append(p)
        return np.concatenate(res) if res else np.zeros(0, np.int8)

    @staticmethod
    def results(plan: DecodePlan) -> dict:
        res = {}
        for b in plan.batches:
            for L in b.launches:
                out = L.out if L.final is None else L.final
                for e, base in zip(L.entries, L.bases):
                    res[e.name] = _view(out, base, e.numel, e.shape)
        return {e.name: res[e.name] for e in plan.entries}

    def run(self, plan: DecodePlan, variant: str = "auto") -> dict:
        self.launch(plan, variant)
        self.check(plan)
        return self.results(plan)

    def load(self, names: Iterable[str] | None = None, dequantize=None,
             variant: str = "auto") -> dict:
        return self.run(self.prepare(names, dequantize), variant)


def _mode_error(e: TensorEntry, r: int) -> CorruptError:
    """Check X4's error (as codec.Package's): row ``r`` of tensor ``e`` has mirror mode 3."""
    off = e.block_offset + e.meta_length
    return CorruptError(f"tensor {e.name!r}: mirror mode 3 (invalid) at row {r}",
                        offset=off + r // 4, value=r)


@functools.lru_cache(maxsize=8)
def _crc_tables(log2: int) -> np.ndarray:
    """kernels.crc_chunks' tables for chunks of 2**log2 bytes: the slicing tables (rows 0-7)
    and the shift over a 32nd of a chunk (rows 8-11), one array (one copy a load)."""
    return np.ascontiguousarray(np.concatenate(
        [CRC_TABLES[:8], crc_shift_tables(max(log2 - 5, 0))]).astype(np.uint32))


def _view(out, base: int, numel: int, shape: tuple):
    """out[base:base + numel].reshape(shape) of a 1-D device array: on a GPU one device array
    built on a view of its memory (slicing then reshaping builds two: ~35 us a tensor, 5 ms
    of a 151-tensor model's load); in the simulator, the slice and reshape."""
    if SIMULATOR or numel == 0 or not shape:
        return out[base:base + numel].reshape(shape)
    item = out.dtype.itemsize
    strides = _c_strides(shape, item)
    return DeviceNDArray(shape, strides, out.dtype,
                         gpu_data=out.gpu_data.view(base * item, (base + numel) * item))


def _c_strides(shape: tuple, item: int) -> tuple:
    strides = []
    acc = item
    for d in reversed(shape):
        strides.append(acc)
        acc *= max(d, 1)
    return tuple(reversed(strides))


def _pred_passes(lives: list[TensorEntry], bases: list[int]) -> list[_PredPass]:
    """The rebuild passes of a launch's predicted tensors (v5, v6): tensors of images up to
    PRED_CONFIG['image_values'] values in a thread-an-image pass, larger ones in a wavefront
    pass; each pass's table rows in launch order (kernels.PRED_* columns).  §34: a tensor's
    images lie in dims h = ndim - 2 - pred_shift and h + 1 (H x W), C the product of the dims
    after them, A * C images of H * W values (v5 and shift 0: C = 1)."""
    small: list = []
    large: list = []
    for e, base in zip(lives, bases):
        if e.pred_mode < 0:
            continue
        shape = tuple(int(d) for d in e.shape)
        if len(shape) < 2:
            raise CorruptError(f"prediction mode {e.pred_mode} does not fit shape {shape}",
                               value=e.pred_mode)
        h = len(shape) - 2 - int(e.pred_shift)
        if e.pred_shift < 0 or h < 0 or shape[h] * shape[h + 1] < 2:
            # the host's directory reader refuses these (§34); as the CPU's rebuild
            raise CorruptError(f"prediction shift {e.pred_shift} does not fit shape {shape}",
                               value=e.pred_shift)
        H, W = shape[h], shape[h + 1]
        C = int(np.prod(shape[h + 2:], dtype=np.int64))
        if e.numel % (H * W * C):
            raise CorruptError(f"prediction mode {e.pred_mode} does not fit shape {shape}",
                               value=e.pred_mode)
        (small if H * W <= PRED_CONFIG["image_values"] else large).append((e, base, H, W, C))
    passes = []
    for wave, sel in ((False, small), (True, large)):
        if not sel:
            continue
        rows = []
        nimg = 0
        for e, base, H, W, C in sel:
            rows.append((base, e.numel, H, W, e.pred_mode, nimg, C))
            nimg += e.numel // (H * W)
        if wave:
            diag = max(min(H, W) for _, _, H, W, _ in sel)
            threads = min(PRED_CONFIG["wave_threads"], max(32, (diag + 31) // 32 * 32))
        else:
            threads = PRED_CONFIG["threads"]
        passes.append(_PredPass(wave, [x[0] for x in sel],
                                np.array(rows, np.int64).reshape(-1, K.PRED_COLS), nimg, threads))
    return passes


def _dq_params(lives: list[TensorEntry], bases: list[int], out_dtype: np.dtype):
    """Per-tensor store parameters (kernels.DQ_* columns), concatenated scales/zero points."""
    dqi = np.zeros((max(len(lives), 1), K.DQ_COLS), np.int64)
    dqi[:, K.DQ_ZOFF] = -1
    scales: list[np.ndarray] = []
    zps: list[np.ndarray] = []
    ns = nz = 0
    f16 = out_dtype == np.dtype(np.float16)
    for r, (e, base) in enumerate(zip(lives, bases)):
        row = dqi[r]
        row[K.DQ_BASE] = base
        m = e.meta
        if out_dtype not in _FLOATS:
            row[K.DQ_MODE] = K.MODE_INT
            continue
        row[K.DQ_F16] = int(f16)
        if m.kind == "float-bits":
            if m.bits not in (16, 32):
                raise ValueError(f"tensor {e.name!r}: float-bits metadata with {m.bits} bits "
                                 f"cannot be dequantized (16 or 32)")
            width = 16 if f16 else 32
            if m.bits == width:
                row[K.DQ_MODE] = K.MODE_BITS
                row[K.DQ_MASK] = (1 << width) - 1
            else:
                row[K.DQ_MODE] = K.MODE_F16_TO_F32 if m.bits == 16 else K.MODE_F32_TO_F16
            continue
        row[K.DQ_MODE] = K.MODE_LINEAR
        s = np.asarray(m.scale, np.float64).reshape(-1)
        if m.axis is not None:
            ax = m.axis % len(e.shape)
            row[K.DQ_SMODE] = 1
            row[K.DQ_AXLEN] = e.shape[ax]
            row[K.DQ_INNER] = int(np.prod(e.shape[ax + 1:], dtype=np.int64))
        elif m.block is not None:
            row[K.DQ_SMODE] = 2
            row[K.DQ_BLOCK] = int(m.block)
        row[K.DQ_SOFF] = ns
        row[K.DQ_NSC] = s.size
        scales.append(s)
        ns += s.size
        if m.zero_point is not None:
            row[K.DQ_ZOFF] = nz
            zps.append(m.zero_point.astype(np.float64))
            nz += m.zero_point.size
    cat = lambda xs: np.concatenate(xs) if xs else np.zeros(1, np.float64)  # noqa: E731
    return dqi, cat(scales), cat(zps)


@_guard
def unpack(data, /, *, names: Iterable[str] | None = None, dequantize=None,
           limits: Limits = DEFAULT_LIMITS, verify: bool = True, variant: str = "auto") -> dict:
    """Decode tensors of a package on the GPU: ``{name: numba device array}`` in order.

    ``data``: bytes-like, a uint8 array or a :class:`codec.Package`.  ``names``: the tensors
    to decode (all by default; then the whole package is copied to the device, else only the
    span of the needed blocks).  ``dequantize``: None (integers as stored), 'float16' or
    'float32': tensors with quantization metadata come back dequantized with their stored
    scales (fused into the decode); tensors without metadata stay integers.  ``variant``:
    decode kernel, 'auto', 'warp', 'global' or 'shared' (:meth:`GpuPackage.launch`).
    """
    return GpuPackage(data, limits=limits, verify=verify).load(names, dequantize, variant)


@_guard
def read_tensor(data, name: str, /, *, dequantize=None, limits: Limits = DEFAULT_LIMITS,
                verify: bool = True, variant: str = "auto"):
    """Decode one named tensor on the GPU (only the span of its block is copied)."""
    return GpuPackage(data, limits=limits, verify=verify).load([name], dequantize, variant)[name]
