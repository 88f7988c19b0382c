"""Encoder decisions: grouping, value offsets, the alphabet (kref, nrun) and the table pool.

Everything here is a *choice*; the decoder never needs it.  Choices are made from measured
costs (entropy estimates on the actual symbols), so a model gets the settings that are
smallest for it.  See docs/DESIGN.md for the alternatives that were measured.
"""
from __future__ import annotations

import contextvars

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .format import Table, value_range
from .offsets import value_offset_for
from .huffman import MAX_CODE_LEN
from .kernels.parallel import run_chunks, workers
from .kernels.encode import coarsen_runs, count_pairs, fill_pairs
from .kernels.symbols import MAX_KREF, SYM_FIRST, num_classes
from .kernels.plan import (class_triples, code_len_matrix, cost_assigned, cost_pool_cols,
                           cost_pool_range, csr_compact, csr_move_rows, csr_table_sums,
                           dedup_pairs, dedup_parts, group_hist_csr, group_hist_slots,
                           huffman_lengths_rows, model_cost_kernel, pool_argmin, pool_gather,
                           row_entropy_csr, sample_model_cost, tensor_hist_row, tensor_hist_rows)

PAR_MIN_WORK = 1 << 16    # below this many parameters kernels run on the calling thread
MIN_GROUP = 4096          # "auto" grouping: whole kernels, at least this many parameters a group
SAMPLE_PAIRS = 1 << 18    # pairs used to choose (kref, nrun)
FAST_SAMPLE_PAIRS = 1 << 14  # the same at effort 0
NRUN_CHOICES = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)
MAX_PLAN_SYMBOLS = 4096   # a length-12 code has room for at most 4096 codes
TABLE_FIXED_BITS = 12 * 8 + 24  # counts per length + kref/nrun/nclass, roughly
TABLE_BITS_PER_CODE = 7.0       # gamma-coded symbol gap, roughly (estimate for planning only)


@dataclass
class Prepared:
    """One tensor after the run-length pass (its pairs: views of a :class:`Pairs` batch)."""
    name: str
    dtype: np.dtype
    shape: tuple
    group_mode: str
    group_size: int
    value_offset: int
    numel: int
    n_groups: int
    runs: np.ndarray    # int32[P]
    vals: np.ndarray    # int64[P]
    maxmag: int
    pairs: "Pairs"      # the batch's pair arrays this tensor's pairs are a view of
    g0: int = 0         # index of the tensor's first group in ``pairs``

    @cached_property
    def gb(self) -> np.ndarray:
        """Group bounds, int64[G+1] (made when asked: the batch kernels do not need them)."""
        return np.minimum(np.arange(self.n_groups + 1, dtype=np.int64) * self.group_size,
                          self.numel)

    @cached_property
    def ps(self) -> np.ndarray:
        """Pair bounds per group, int64[G+1], from the tensor's first pair."""
        ps = self.pairs.ps[self.g0:self.g0 + self.n_groups + 1]
        return ps - ps[0]


@dataclass
class Pairs:
    """Run-length pairs of a batch of tensors, back to back: group g (batch index) has pairs
    ``[ps[g], ps[g+1])`` of ``runs`` / ``vals``."""
    ps: np.ndarray
    runs: np.ndarray
    vals: np.ndarray


class Groups(list):
    """Grouping options, one per tensor (the encoder's per-tensor mixed candidate,
    writer._mixed_plan); a plain list is not a grouping option."""


def group_size_for(shape: tuple, group) -> tuple[str, int]:
    """Resolve the ``group`` option to (mode, parameters per group)."""
    numel = math.prod(int(d) for d in shape)
    kernel = math.prod(int(d) for d in shape[1:]) if len(shape) >= 2 else max(numel, 1)
    if group == "auto" or (isinstance(group, tuple) and len(group) == 2 and group[0] == "auto"):
        least = MIN_GROUP if group == "auto" else int(group[1])
        if least < 1:
            raise ValueError(f"group size must be >= 1, got {least}")
        k = max(1, -(-least // max(kernel, 1)))
        return ("kernel" if k == 1 else "kernels"), max(1, kernel * k)
    if group == "kernel":
        return "kernel", max(1, kernel)
    if group == "tensor":
        return "count", max(1, numel)
    if isinstance(group, tuple) and len(group) == 2 and group[0] in ("kernels", "count"):
        n = int(group[1])
        if n < 1:
            raise ValueError(f"group count must be >= 1, got {n}")
        return (group[0], max(1, kernel * n)) if group[0] == "kernels" else ("count", n)
    if isinstance(group, (int, np.integer)) and not isinstance(group, bool):
        if group < 1:
            raise ValueError(f"group size must be >= 1, got {group}")
        return "count", int(group)
    raise ValueError(f"group must be 'auto', ('auto', n), 'kernel', 'tensor', ('kernels', k), "
                     f"('count', n) or an int; got {group!r}")


def prepare(name: str, arr: np.ndarray, group, offset: int | None = None) -> Prepared:
    return prepare_many([(name, arr)], group, {name: offset} if offset is not None else None)[0]


def prepare_many(items: list, group, offsets: dict | None = None) -> list[Prepared]:
    """The run-length pass of several tensors ``[(name, array), ...]`` at once: per dtype, one
    kernel call counts and one fills the pairs of all their groups (instead of two calls per
    tensor), into one :class:`Pairs` batch that every returned tensor views.  ``offsets``:
    {name: value offset} for tensors whose offset is fixed (format v3's mirrored tensors:
    their transform was made around it), the others' are chosen (codec/offsets.py).
    ``group``: one grouping option, or :class:`Groups` (one per item)."""
    n_items = len(items)
    flats, modes, gsizes, ngroups, voffs = [], [], [], [], []
    groups = group if isinstance(group, Groups) else [group] * n_items
    for (name, arr), grp in zip(items, groups):
        flat = np.ascontiguousarray(arr).reshape(-1)
        mode, gsize = group_size_for(arr.shape, grp)
        flats.append(flat)
        modes.append(mode)
        gsizes.append(gsize)
        ngroups.append(-(-flat.size // gsize) if flat.size else 0)
        fixed = offsets.get(name) if offsets else None
        voffs.append(value_offset_for(flat) if fixed is None else fixed)
    ng = np.array(ngroups, np.int64)
    sizes = np.array([f.size for f in flats], np.int64)
    gs_arr = np.array(gsizes, np.int64)
    # groups are numbered per dtype partition (each partition's groups are contiguous)
    parts: dict = {}
    for i, f in enumerate(flats):
        parts.setdefault(f.dtype.str, []).append(i)
    order = np.array([i for idx in parts.values() for i in idx], np.int64)
    gstart = np.zeros(n_items, np.int64)
    if n_items:
        gstart[order] = np.cumsum(ng[order]) - ng[order]
    G = int(ng.sum())
    base = np.zeros(n_items, np.int64)  # a tensor's first value in its partition's array
    xs = []
    for idx in parts.values():
        base[idx] = np.cumsum(sizes[idx]) - sizes[idx]
        xs.append(flats[idx[0]] if len(idx) == 1 else np.concatenate([flats[i] for i in idx]))
    # every group's value range and offset, vectorised over the groups (in batch order)
    t = np.repeat(order, ng[order])                 # tensor of each group
    j = np.arange(G, dtype=np.int64) - gstart[t]    # group index within its tensor
    glo = base[t] + j * gs_arr[t]
    ghi = base[t] + np.minimum((j + 1) * gs_arr[t], sizes[t])
    gvoff = np.array(voffs, np.int64)[t] if G else np.zeros(0, np.int64)
    counts = np.zeros(G, np.int64)
    maxmag = np.zeros(G, np.int64)
    ps = np.zeros(G + 1, np.int64)
    st = 0
    spans = []
    for (idx, x) in zip(parts.values(), xs):
        a = int(gstart[idx[0]])
        b = a + int(ng[idx].sum())
        cum = np.zeros(b - a + 1, np.int64)
        np.cumsum(ghi[a:b] - glo[a:b], out=cum[1:])
        spans.append((x, a, cum))
        st |= run_ranges(count_pairs, (x, gvoff, glo, ghi, counts), cum, a)
    np.cumsum(counts, out=ps[1:])
    P = int(ps[-1])
    runs = np.empty(P, np.int32)
    vals = np.empty(P, np.int64)
    for x, a, cum in spans:
        st |= run_ranges(fill_pairs, (x, gvoff, glo, ghi, ps, runs, vals, maxmag), cum, a)
    if st:
        raise AssertionError(f"run-length kernel failed with status {st}")
    pairs = Pairs(ps, runs, vals)
    tmax = np.zeros(n_items, np.int64)  # each tensor's largest |value|
    live = np.flatnonzero(ng > 0)
    if live.size:
        by_start = live[np.argsort(gstart[live], kind="stable")]
        tmax[by_start] = np.maximum.reduceat(maxmag, gstart[by_start])
    p0s = ps[gstart].tolist()
    p1s = ps[gstart + ng].tolist()
    gl, ngl, tml, szl = gstart.tolist(), ng.tolist(), tmax.tolist(), sizes.tolist()
    out = []
    for i, (name, arr) in enumerate(items):
        p0, p1 = p0s[i], p1s[i]
        out.append(Prepared(name, arr.dtype, tuple(int(d) for d in arr.shape), modes[i], gsizes[i],
                            voffs[i], szl[i], ngl[i], runs[p0:p1], vals[p0:p1], tml[i], pairs,
                            gl[i]))
    return out


def coarsen(fine: list[Prepared], group) -> list[Prepared] | None:
    """:func:`prepare_many` of the same tensors grouped by ``group``, derived from their
    pairs under a finer grouping whose groups tile every coarse group (``fine``: one batch,
    e.g. 'kernel' for 'auto'): a pair per nonzero either way, in the same order, so the values
    are shared and only the first run of each fine group inside a coarse one changes
    (:func:`codec.kernels.encode.coarsen_runs`, one pass over the runs instead of a
    run-length pass over the values).  ``group``: one grouping option for all, or
    :class:`Groups` (one per tensor of ``fine``).  None where it does not apply."""
    pairs = fine[0].pairs if fine else None
    if pairs is None or any(p.pairs is not pairs for p in fine) or \
            sum(p.n_groups for p in fine) != pairs.ps.size - 1:
        return None
    G = pairs.ps.size - 1
    modes, gsizes = [], []
    groups = group if isinstance(group, Groups) else [group] * len(fine)
    for p, grp in zip(fine, groups):
        mode, gs = group_size_for(p.shape, grp)
        if gs % p.group_size and gs < p.numel:
            return None  # a coarse group would cut a fine one
        modes.append(mode)
        gsizes.append(gs)
    ordered = sorted(range(len(fine)), key=lambda i: fine[i].g0)
    numel = np.array([fine[i].numel for i in ordered], np.int64)
    gs_f = np.array([fine[i].group_size for i in ordered], np.int64)
    ng_f = np.array([fine[i].n_groups for i in ordered], np.int64)
    g0_f = np.array([fine[i].g0 for i in ordered], np.int64)
    gs_c = np.array([gsizes[i] for i in ordered], np.int64)
    ng_c = np.where(numel > 0, -(-numel // np.maximum(gs_c, 1)), 0)
    if not np.array_equal(g0_f, np.cumsum(ng_f) - ng_f):
        return None
    g0_c = np.cumsum(ng_c) - ng_c
    Gc = int(ng_c.sum())
    step = np.maximum(gs_c // gs_f, 1)  # fine groups per coarse group
    t = np.repeat(np.arange(len(fine)), ng_c)
    cf = np.empty(Gc + 1, np.int64)
    cf[:Gc] = g0_f[t] + (np.arange(Gc, dtype=np.int64) - g0_c[t]) * step[t]
    cf[Gc] = G
    tf = np.repeat(np.arange(len(fine)), ng_f)
    jf = np.arange(G, dtype=np.int64) - g0_f[tf]
    glen = np.minimum(gs_f[tf], numel[tf] - jf * gs_f[tf])
    runs = np.empty_like(pairs.runs)
    ps_c = pairs.ps[cf]
    if run_ranges(coarsen_runs, (pairs.runs, pairs.ps, glen, cf, runs),
                  ps_c - ps_c[0] + np.arange(Gc + 1, dtype=np.int64)):
        return None
    batch = Pairs(ps_c, runs, pairs.vals)
    g0_of = np.empty(len(fine), np.int64)
    g0_of[ordered] = g0_c
    ngc_of = np.empty(len(fine), np.int64)
    ngc_of[ordered] = ng_c
    out = []
    for i, p in enumerate(fine):
        p0 = int(ps_c[g0_of[i]])
        p1 = p0 + p.runs.size
        out.append(Prepared(p.name, p.dtype, p.shape, modes[i], gsizes[i], p.value_offset,
                            p.numel, int(ngc_of[i]), runs[p0:p1], p.vals, p.maxmag, batch,
                            int(g0_of[i])))
    return out


CHUNKS_PER_WORKER = 4  # chunks per thread, taken dynamically (balance vs. call overhead)


def run_ranges(kernel, args: tuple, cum: np.ndarray, g0: int = 0) -> int:
    """``kernel(*args, a, b)`` over chunks ``[a, b)`` of ``[g0, g0 + n)`` of about equal work
    (``cum``: cumulative work, n + 1 entries), on the calling thread and the shared pool
    (:func:`codec.kernels.parallel.run_chunks`: a thread that starts late is not waited for,
    unlike a ``prange`` barrier); returns the OR of the kernels' statuses.  Small work runs
    in one call."""
    n = cum.size - 1
    total = int(cum[-1])
    nw = workers()
    if nw == 0 or n < 2 or total < PAR_MIN_WORK:
        return int(kernel(*args, g0, g0 + n))
    k = min(n, CHUNKS_PER_WORKER * (nw + 1))
    cuts = np.searchsorted(cum, total * np.arange(1, k) / k, side="left")
    cuts = np.unique(np.concatenate(([0], np.clip(cuts, 0, n), [n]))) + g0
    sts = [0] * (cuts.size - 1)

    def work(j):
        sts[j] = kernel(*args, cuts[j], cuts[j + 1])

    run_chunks(work, cuts.size - 1)
    st = 0
    for v in sts:
        st |= int(v)
    return st


def _code_len(P: np.ndarray) -> np.ndarray:
    """Estimated Huffman code length of symbols of probability P: -log2 P, but at least 1 bit
    (the entropy alone would let a 90 %-likely symbol cost 0.15 bit, which no prefix code can)."""
    return np.maximum(1.0, -np.log2(np.where(P > 0, P, 1.0)))


def _row_entropy(H: np.ndarray) -> np.ndarray:
    """Estimated bits of each row of a histogram matrix coded with its own table."""
    H = H.astype(np.float64)
    return (H * _code_len(H / np.maximum(H.sum(axis=1, keepdims=True), 1))).sum(axis=1)


# the table price the clustering uses (fixed bits, bits a code); a context variable so that
# pack can plan a small model a second time with format v4's cheaper tables (package.py
# _refine_tables) without touching other threads' packs
TABLE_PRICE: contextvars.ContextVar = contextvars.ContextVar("table_price", default=None)
V4_TABLE_PRICE = (40.0, 5.0)  # format v4's table pool (§28.1): ~20 bits + 3-7 a code


def _table_bits(H: np.ndarray) -> np.ndarray:
    fixed, per = TABLE_PRICE.get() or (TABLE_FIXED_BITS, TABLE_BITS_PER_CODE)
    return fixed + per * np.count_nonzero(H, axis=-1)


def model_cost(H: np.ndarray, X: np.ndarray, w: np.ndarray | None = None) -> float:
    """Estimated bits with the best of (own table, one shared table) per tensor.

    ``H`` holds sample counts, ``w`` the factor from sample to tensor; the plug-in entropy of a
    sample underestimates large alphabets, so the Miller-Madow term (K - 1) / (2 ln 2) per
    sample is added (scaled by ``w``) to keep the choice honest.  (One kernel pass:
    :func:`codec.kernels.plan.model_cost_kernel`.)
    """
    w = np.ones(H.shape[0]) if w is None else np.ascontiguousarray(w, dtype=np.float64)
    st, bits = model_cost_kernel(np.ascontiguousarray(H), np.ascontiguousarray(X), w,
                                 float(TABLE_FIXED_BITS), float(TABLE_BITS_PER_CODE))
    if st:
        raise AssertionError(f"model cost kernel failed with status {st}")
    return float(bits)


class Sampler:
    """A bounded sample of (run, value) pairs over all tensors, built one tensor at a time.

    Every tensor is sampled at the same rate; when the sample outgrows twice its budget the
    rate halves and the kept samples are thinned, so memory stays bounded for any model.
    With ``views`` (the caller keeps every tensor's pairs anyway) nothing is copied: the
    tensors' pair arrays are held and sliced once, at the final rate, by :meth:`arrays` (the
    same sample: thinning ``x[::a]`` by 2 is ``x[::2 a]``).
    """

    def __init__(self, budget: int, views: bool = False):
        self.budget = budget
        self.views = views
        self.stride = 1
        self.parts: list[list] = []   # [runs, vals, n_pairs, n_groups]
        self.maxmag = 0
        self.kept = 0                 # sampled pairs held

    def add(self, p: Prepared) -> None:
        self.maxmag = max(self.maxmag, p.maxmag)
        if self.views:
            self.parts.append([p.runs, p.vals, p.runs.size, p.n_groups, p.pairs,
                               int(p.pairs.ps[p.g0]) if p.pairs is not None else -1])
            self.kept += -(-p.runs.size // self.stride)
            while self.kept > 2 * self.budget:
                self.stride *= 2
                self.kept = sum(-(-q[2] // self.stride) for q in self.parts)
            return
        self.parts.append([p.runs[::self.stride].copy(), p.vals[::self.stride].copy(),
                           p.runs.size, p.n_groups])
        self.kept += self.parts[-1][0].size
        while self.kept > 2 * self.budget:
            self.stride *= 2
            for q in self.parts:
                q[0], q[1] = q[0][::2].copy(), q[1][::2].copy()
            self.kept = sum(q[0].size for q in self.parts)

    def weights(self):
        """(eob, w): end-of-block counts in sample units and the sample-to-tensor factor of
        every tensor."""
        kept = np.array([-(-q[2] // self.stride) for q in self.parts], np.float64)
        n = np.array([q[2] for q in self.parts], np.float64)
        w = np.where(kept > 0, n / np.maximum(kept, 1), 0.0)
        eob = np.round(np.array([q[3] for q in self.parts]) / np.maximum(w, 1)).astype(np.int64)
        return eob, w

    def triples(self, rcap: int, mcap: int):
        """Distinct (tensor, run, |value|) triples of the sample with counts (runs >= rcap or
        magnitudes >= mcap are not merged): :func:`codec.kernels.plan.dedup_pairs`, or, when
        the sample is views of one batch, :func:`codec.kernels.plan.dedup_parts` straight
        from the batch (no sample arrays).  Returns (owner, run, |value|, count) arrays."""
        batch = self.parts[0][4] if self.views else None
        if batch is not None and all(q[4] is batch for q in self.parts):
            lo = np.array([q[5] for q in self.parts], np.int64)
            hi = lo + np.array([q[2] for q in self.parts], np.int64)
            size = int(sum(-(-q[2] // self.stride) for q in self.parts))
            o3, r3, m3, c3 = (np.empty(size, np.int64) for _ in range(4))
            st, n3 = dedup_parts(batch.runs, batch.vals, lo, hi, np.int64(self.stride),
                                 np.int64(rcap), np.int64(mcap), o3, r3, m3, c3)
        else:
            runs, vals, owner, _eob, _w = self.arrays()
            rcap = int(min(int(runs.max()) + 1 if runs.size else 1, rcap))
            o3, r3, m3, c3 = (np.empty(runs.size, np.int64) for _ in range(4))
            st, n3 = dedup_pairs(owner, runs, vals, np.int64(rcap), np.int64(mcap), o3, r3, m3, c3)
        if st:
            raise AssertionError(f"pair dedup kernel failed with status {st}")
        return o3[:n3], r3[:n3], m3[:n3], c3[:n3]

    def arrays(self):
        step = self.stride if self.views else 1
        runs = np.concatenate([q[0][::step] for q in self.parts])
        vals = np.concatenate([q[1][::step] for q in self.parts])
        kept = np.array([-(-q[2] // self.stride) for q in self.parts], np.int64)
        owner = np.repeat(np.arange(len(self.parts), dtype=np.int64), kept)
        kept = kept.astype(np.float64)
        n = np.array([q[2] for q in self.parts], np.float64)
        w = np.where(kept > 0, n / np.maximum(kept, 1), 0.0)
        eob = np.round(np.array([q[3] for q in self.parts]) / np.maximum(w, 1)).astype(np.int64)
        return runs, vals, owner, eob, w


def alphabet_krefs(maxmag: int) -> list[int]:
    """The krefs worth trying for magnitudes up to ``maxmag`` (a finer one than the
    magnitudes codes the same classes)."""
    return [k for k in range(MAX_KREF + 1) if k == 0 or (1 << k) <= max(maxmag, 1)]


def alphabet_fits(nclass: int, nrun: int) -> bool:
    """Whether a (run, class) alphabet has room in a planned table (MAX_PLAN_SYMBOLS)."""
    return SYM_FIRST + nclass * nrun <= MAX_PLAN_SYMBOLS or nrun == 1


def choose_alphabet(sampler: Sampler, effort: int = 1) -> tuple[int, int, int]:
    """(kref, nrun, nclass) minimizing estimated bits on the sampled pairs.

    effort 1 scans every kref with a rising nrun; effort 0 scans nrun at kref 2, then kref at
    that nrun.
    """
    maxmag = sampler.maxmag
    if not sampler.parts or sum(q[2] for q in sampler.parts) == 0:
        return 0, 1, 1
    eob, w = sampler.weights()
    n_owner = eob.size
    # distinct (owner, run, |value|) triples with counts: the same histograms, far fewer steps
    o3, r3, m3, c3 = sampler.triples(1024, int(min(max(maxmag, 0) + 1, 1 << 12)))
    cache: dict = {}
    classes: dict = {}  # kref -> (owner, run, class, count) triples, extra bits per owner

    def cost_of(kref, nrun):
        if (kref, nrun) not in cache:
            nclass = num_classes(maxmag, kref)
            nsym = SYM_FIRST + nclass * nrun
            if not alphabet_fits(nclass, nrun):
                cache[kref, nrun] = (float("inf"), kref, nrun, nclass)
            else:
                # model_cost(weighted_owner_stats(...)) in one sparse pass (same bits)
                if kref not in classes:
                    o4, r4, k4, c4 = (np.empty(o3.size, np.int64) for _ in range(4))
                    X = np.empty(n_owner, np.int64)
                    st, n4 = class_triples(o3, r3, m3, c3, np.int64(n_owner), np.int64(kref),
                                           np.int64(nclass), np.int64(1024), o4, r4, k4, c4, X)
                    if st:
                        raise AssertionError(f"magnitude class kernel failed with status {st}")
                    classes[kref] = o4[:n4], r4[:n4], k4[:n4], c4[:n4], X
                o4, r4, k4, c4, X = classes[kref]
                st, bits = sample_model_cost(o4, r4, k4, c4, np.int64(n_owner), eob, X,
                                             np.int64(nrun), np.int64(nsym), w,
                                             float(TABLE_FIXED_BITS), float(TABLE_BITS_PER_CODE))
                if st:
                    raise AssertionError(f"sample cost kernel failed with status {st}")
                cache[kref, nrun] = (float(bits), kref, nrun, nclass)
        return cache[kref, nrun]

    def scan_nrun(kref):
        best, prev, worse = None, None, 0
        for nrun in NRUN_CHOICES:
            c = cost_of(kref, nrun)
            if c[0] == float("inf"):
                break
            if best is None or c[0] < best[0]:
                best = c
            worse = worse + 1 if prev is not None and c[0] > prev else 0
            prev = c[0]
            if worse >= 2:
                break  # the cost is rising with nrun
        return best

    krefs = alphabet_krefs(maxmag)
    if effort >= 1:
        # coarse-to-fine: nrun at kref 2, every kref at that nrun, then a full nrun scan for
        # the two best krefs (the cost surface is smooth in both)
        k0 = min(2, krefs[-1])
        first = scan_nrun(k0)
        by_kref = sorted(cost_of(k, first[2]) for k in krefs)
        best = min([first] + [scan_nrun(c[1]) for c in by_kref[:2]])
    else:
        k0 = min(2, krefs[-1])
        best = scan_nrun(k0)
        best = min([best] + [cost_of(k, best[2]) for k in krefs])
    return best[1], best[2], best[3]


class Costs:
    """Costs of every row under each table of one :meth:`Csr.model_costs` call: table t's
    costs are row ``slots[t]`` of ``pool`` (kept there for later calls to reuse)."""

    def __init__(self, pool: np.ndarray, slots: np.ndarray):
        self.pool, self.slots = pool, slots

    @property
    def shape(self) -> tuple:
        return self.pool.shape[1], self.slots.size

    def at(self, assign: np.ndarray) -> np.ndarray:
        """cost[g, assign[g]] for every row g."""
        out = np.empty(self.pool.shape[1])
        if pool_gather(self.pool, self.slots, np.ascontiguousarray(assign, dtype=np.int64), out):
            raise AssertionError("cost gather kernel failed")
        return out

    def argmin(self) -> np.ndarray:
        """The cheapest table of every row (the first on ties: numpy's argmin)."""
        out = np.empty(self.pool.shape[1], np.int64)
        if pool_argmin(self.pool, self.slots, out):
            raise AssertionError("argmin kernel failed")
        return out

    def dense(self) -> np.ndarray:
        """cost[row, table] as a (rows x tables) matrix (a transposed copy)."""
        return self.pool[self.slots].T


class Csr:
    """A histogram matrix (rows: tensors or groups, columns: symbols) in CSR form, with
    ascending columns per row: rows are sparse (a group uses a small part of the alphabet)."""

    def __init__(self, indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, ncols: int):
        self.indptr = np.ascontiguousarray(indptr, dtype=np.int64)
        self.indices = np.ascontiguousarray(indices, dtype=np.int64)
        self.data = np.ascontiguousarray(data, dtype=np.float64)
        self.ncols = int(ncols)
        self.xbits: np.ndarray | None = None       # per row: sign and extra bits of its pairs
        self.group_bits: np.ndarray | None = None  # per row: exact coded bits (build_tables)
        # cost rows of tables seen in earlier model_costs calls: key -> pool row
        self._pool = np.empty((0, self.n))  # (rows beyond self._rows: not handed out yet)
        self._rows = 0
        self._index: dict = {}
        self._key_of: list = []      # pool row -> key (None: free)
        self._free: list = []        # free pool rows (taken from the end)
        self._last = np.zeros(0, np.int64)  # pool row -> last call that used it
        self._call = 0

    @classmethod
    def from_dense(cls, H: np.ndarray) -> "Csr":
        mask = H != 0
        indptr = np.concatenate([[0], np.cumsum(mask.sum(axis=1))]).astype(np.int64)
        r, c = np.nonzero(mask)
        return cls(indptr, c, H[r, c], H.shape[1])

    @property
    def n(self) -> int:
        return self.indptr.size - 1

    def sums(self, assign: np.ndarray, k: int | None = None) -> np.ndarray:
        """Row sums per assigned table (tables 0..k-1, default max(assign) + 1), dense float."""
        k = int(assign.max()) + 1 if k is None else int(k)
        st, out = csr_table_sums(self.indptr, self.indices, self.data,
                                 np.ascontiguousarray(assign, dtype=np.int64), np.int64(k),
                                 np.int64(self.ncols))
        if st:
            raise AssertionError(f"table sums kernel failed with status {st}")
        return out

    def costs(self, LT: np.ndarray) -> np.ndarray:
        """costT[t, row] = sum of w * LT[s, t] over the row's nonzeros (s, w)."""
        costT = np.empty((LT.shape[1], self.n))
        self._costs_into(LT, costT, np.arange(LT.shape[1], dtype=np.int64))
        return costT

    def _costs_into(self, LT: np.ndarray, pool: np.ndarray, slots: np.ndarray) -> None:
        """pool[slots[t], row] = sum of w * LT[s, t] over the row's nonzeros (s, w)."""
        work = self.indices.size * LT.shape[1]
        args = (self.indptr, self.indices, self.data, LT, pool, slots)
        kernel = cost_pool_cols if LT.shape[1] <= FEW_TABLES else cost_pool_range
        if work >= PAR_MIN_COST and self.n > 1:
            # row chunks of about equal nonzeros, on the calling thread and the pool
            st = run_ranges(kernel, args, self.indptr * LT.shape[1])
        else:
            st = kernel(*args, 0, self.n)
        if st:
            raise AssertionError(f"cost kernel failed with status {st}")

    def _free_rows(self, need: int, T: int) -> np.ndarray:
        """``need`` pool rows for new cost rows: free ones, then (while the pool holds at
        least 3 T rows) the least recently used ones not used by the current call."""
        free = self._free
        if need <= 0:
            return np.zeros(0, np.int64)
        if len(free) < need and self._rows >= 3 * T:
            old = np.flatnonzero(self._last < self._call)
            old = old[np.argsort(self._last[old], kind="stable")]
            for r in old.tolist():
                if len(free) >= need:
                    break
                key = self._key_of[r]
                if key is not None:
                    del self._index[key]
                    self._key_of[r] = None
                    free.append(r)
        if len(free) < need:
            # grow by doubling, up to the 3 T rows at which rows are evicted instead (the
            # old two-generation cache held as many)
            R = self._rows
            grow = max(need - len(free), min(max(R, 8), 3 * T - R))
            if R + grow > self._pool.shape[0]:
                # room for 4 T rows at once: no copy per doubling (pages are touched only
                # when a cost row is written)
                pool = np.empty((max(R + grow, 4 * T, 2 * self._pool.shape[0]), self.n))
                pool[:R] = self._pool[:R]
                self._pool = pool
            self._rows = R + grow
            self._key_of += [None] * grow
            self._last = np.concatenate([self._last, np.zeros(grow, np.int64)])
            free.extend(range(R + grow - 1, R - 1, -1))
        rows = np.array(free[-need:][::-1], np.int64)
        del free[-need:]
        return rows

    def model_costs(self, M: np.ndarray, use_lens: int) -> Costs:
        """Costs of every row under each table model t: rows of M are table symbol sums
        (``use_lens`` 0) or Huffman code lengths (1).  A table met in an earlier call (Lloyd
        steps and splits change a few tables at a time) reuses its cost row; only the others
        are computed."""
        slots, new = self._lookup(M, use_lens)
        if new:
            rows = self._free_rows(len(new), M.shape[0])
            for (key, ts), r in zip(new.items(), rows):
                self._index[key] = int(r)
                self._key_of[r] = key
                self._last[r] = self._call
                slots[ts] = r
            miss = [ts[0] for ts in new.values()]
            self._costs_into(_model_lt(np.ascontiguousarray(M[miss]), use_lens), self._pool, rows)
        return Costs(self._pool, slots)

    def _lookup(self, M: np.ndarray, use_lens: int) -> tuple[np.ndarray, dict]:
        """A new call's look-up of table models M in the pool: (the pool row of every table
        found, else 0; key -> the tables with that key, for the tables not found)."""
        self._call += 1
        slots = np.zeros(M.shape[0], np.int64)
        new: dict = {}
        for t in range(M.shape[0]):
            key = (use_lens, M[t].tobytes())
            r = self._index.get(key)
            if r is not None:
                slots[t] = r
                self._last[r] = self._call
            else:
                new.setdefault(key, []).append(t)
        return slots, new

    def assigned_costs(self, M: np.ndarray, use_lens: int, assign: np.ndarray) -> np.ndarray:
        """``model_costs(M, use_lens).at(assign)`` (the same numbers) without the rest of the
        matrix: a table's costs in the pool are gathered, the others are computed for the
        rows assigned to it only (a last Lloyd step needs no argmin: its full matrix is used
        again only when the next split trial starts from it, which computes the columns)."""
        assign = np.ascontiguousarray(assign, dtype=np.int64)
        slots, new = self._lookup(M, use_lens)
        col = np.full(M.shape[0], -1, np.int64)  # table -> its column of LT below (-1: pooled)
        for j, ts in enumerate(new.values()):
            col[ts] = j
        out = np.zeros(self.n)
        g_col = col[assign]
        if self._pool.shape[0] and (g_col < 0).any():
            # (rows of computed tables get a pool row's value here, replaced below)
            if pool_gather(self._pool, slots, assign, out):
                raise AssertionError("cost gather kernel failed")
        if new:
            LT = _model_lt(np.ascontiguousarray(M[[ts[0] for ts in new.values()]]), use_lens)
            st = run_ranges(cost_assigned, (self.indptr, self.indices, self.data, LT, g_col, out),
                            self.indptr)
            if st:
                raise AssertionError(f"assigned cost kernel failed with status {st}")
        return out

    def row_entropy(self) -> np.ndarray:
        out = np.empty(self.n)
        if row_entropy_csr(self.indptr, self.indices, self.data, out):
            raise AssertionError("row entropy kernel failed")
        return out


FEW_TABLES = 3  # up to this many tables, costs are computed a table at a time (cost_pool_cols)
PAR_MIN_COST = 1 << 20  # nonzeros x tables above which cost matrices are computed in parallel
_NO_LENS = np.zeros((1, 1), np.uint8)
_NO_SUMS = np.zeros((1, 1))


def _model_lt(sub: np.ndarray, use_lens: int) -> np.ndarray:
    """The code-length matrix LT[sym, t] of table models ``sub`` (:func:`code_len_matrix`)."""
    if use_lens:
        return code_len_matrix(_NO_SUMS, sub.astype(np.uint8), 1)
    return code_len_matrix(sub.astype(np.float64), _NO_LENS, 0)


def _costs_from_sums(rows: Csr, S: np.ndarray) -> Costs:
    """Cost of each row under each table model estimated from table sums S (inf: uncovered)."""
    return rows.model_costs(S, 0)


def _costs_from_lens(rows: Csr, lens: np.ndarray) -> Costs:
    """Exact cost of each row under each table's Huffman lengths (inf: uncovered)."""
    return rows.model_costs(lens, 1)


def _argmin(cost: Costs) -> np.ndarray:
    """The cheapest table of every row (the first on ties)."""
    return cost.argmin()


def _relabel(a: np.ndarray) -> np.ndarray:
    """Labels renumbered 0, 1, ... in ascending order of the old labels (what
    ``np.unique(a, return_inverse=True)[1]`` gives, for small non-negative labels)."""
    used = np.bincount(a) > 0
    return (np.cumsum(used) - 1)[a]


def cluster(H: np.ndarray, max_tables: int) -> np.ndarray:
    """Assign each row (a tensor's symbol histogram) to a table; returns the assignment.

    A tensor may have a table of its own or share one.  Start from one shared table; then
    alternate: every tensor moves to the cheapest existing table that covers its symbols, or
    to a new table of its own when its entropy plus that table's bits is cheaper still (at most
    ``max_tables`` tables, biggest gains first); tables are rebuilt from their members.
    """
    n = H.shape[0]
    if n <= 1 or max_tables <= 1:
        return np.zeros(n, np.int64)
    rows = Csr.from_dense(H)
    own = rows.row_entropy() + _table_bits(H)
    assign = np.zeros(n, np.int64)
    best_total = None
    best_assign = assign
    for _it in range(8):
        S = rows.sums(assign)
        cost = _costs_from_sums(rows, S).dense()
        total = float(cost[np.arange(n), assign].sum() + _table_bits(S).sum())
        if best_total is None or total < best_total - 1e-6:
            best_total, best_assign = total, assign
        elif _it > 1:
            break
        members = np.bincount(assign, minlength=S.shape[0])
        # a tensor alone in its table would also save that table's bits by moving
        alone = members[assign] == 1
        saving = np.where(alone, _table_bits(S)[assign], 0.0)
        cost_move = cost - saving[:, None]
        cost_move[np.arange(n), assign] = cost[np.arange(n), assign]
        best_t = cost_move.argmin(axis=1)
        best_c = cost_move[np.arange(n), best_t]
        new = best_t.copy()
        want_own = np.flatnonzero((own < best_c - 1e-9) & ~alone)
        room = max(0, max_tables - len(set(best_t.tolist())))
        if want_own.size > room:
            want_own = want_own[np.argsort(-(best_c[want_own] - own[want_own]))][:room]
        new[want_own] = S.shape[0] + np.arange(want_own.size)
        new = _relabel(new)
        if np.array_equal(new, assign):
            break
        assign = new
    return best_assign


MAX_GROUP_MATRIX = 1 << 24  # entries of the groups x symbols histogram for group-level choice


def _lengths(S: np.ndarray, memo: dict | None = None) -> np.ndarray:
    """Huffman code lengths of each table from its symbol sums (``memo``: by sums, so a
    table unchanged since the last call is not rebuilt); the new ones in one kernel call
    (:func:`codec.kernels.plan.huffman_lengths_rows`: ``huffman_lengths`` of each)."""
    memo = {} if memo is None else memo
    keys = [S[j].tobytes() for j in range(S.shape[0])]
    todo: dict = {}
    for j, key in enumerate(keys):
        if key not in memo:
            todo.setdefault(key, j)
    if todo:
        out = np.empty((len(todo), S.shape[1]), np.uint8)
        st = huffman_lengths_rows(np.ascontiguousarray(S, dtype=np.float64),
                                  np.array(list(todo.values()), np.int64), MAX_CODE_LEN, out)
        if st:
            raise ValueError(f"Huffman lengths kernel failed with status {st}")
        for i, key in enumerate(todo):
            memo[key] = out[i]
    return np.stack([memo[key] for key in keys])


def _huffman_refine(rows: Csr, assign: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact Huffman tables from an assignment, then move rows to the cheapest covering table
    (twice at most).  Returns (assignment, code lengths per table, in ``rows``' columns)."""
    memo: dict = {}
    for _ in range(3):
        lens = _lengths(rows.sums(assign), memo)
        new = _argmin(_costs_from_lens(rows, lens))
        new = _relabel(new)
        if np.array_equal(new, assign):
            return assign, lens
        assign = new
    return assign, _lengths(rows.sums(assign), memo)


GROUP_SPLITS = 32  # new tables the group-level refinement may seed
GROUP_LLOYD = 2   # Lloyd steps before the split trials: 6 steps found 0.0063 % less on the
                  # worst of 20 configs and cost 20 % more columns
SPLIT_LLOYD = 2   # Lloyd steps of each split trial (3 until session 14: the same sizes within
                  # 0.01 % at half the trial's time)
SPLIT_MIN_GAIN = 1e-5  # a kept split that saves less than this share of the estimated bits
                       # ends the trials.  Session 14 (was 8 splits, 5e-5, 3 steps): yolov8n
                       # 8/.5 -1,920 B (-0.12 %: below lzma-9), -45..-94 B on its other
                       # configs, mtcnn -28..+6 B, silero and fer unchanged; +33 % encode time
                       # on yolov8n 8/.5, +7 % summed over the 20 configs


def _moved_sums(rows: Csr, S: np.ndarray, ga: np.ndarray, new: np.ndarray) -> np.ndarray:
    """Table sums after rows move from tables ``ga`` to ``new`` (labels < len(S)), updated
    from S by the moved rows only (exact: the sums are integer counts)."""
    S = S.copy()
    moved = np.flatnonzero(new != ga)
    if moved.size and csr_move_rows(rows.indptr, rows.indices, rows.data, moved,
                                    np.ascontiguousarray(ga, dtype=np.int64),
                                    np.ascontiguousarray(new, dtype=np.int64), S):
        raise AssertionError("table sums update kernel failed")
    return S


def _lloyd(rows: Csr, ga: np.ndarray, iters: int = 6, S: np.ndarray | None = None):
    """Alternate table rebuild / cheapest-table reassignment (``S``: the table sums of ``ga``
    when the caller has them).

    Returns (assignment, est. bits, each row's cost under its table, the tables' sums)."""
    best, best_total, best_at, best_S = ga, None, None, None
    for _it in range(iters):
        if S is None:
            S = rows.sums(ga)
        if _it == iters - 1:
            at = rows.assigned_costs(S, 0, ga)  # (no argmin follows)
        else:
            cost = _costs_from_sums(rows, S)
            at = cost.at(ga)
        total = float(at.sum() + _table_bits(S).sum())
        if best_total is None or total < best_total - 1e-6:
            best, best_total, best_at, best_S = ga, total, at, S
        else:
            break
        if _it == iters - 1:
            break  # (the next assignment would not be evaluated)
        pre = _argmin(cost)
        new = _relabel(pre)
        if np.array_equal(new, ga):
            break
        used = np.bincount(pre, minlength=S.shape[0]) > 0
        S = _moved_sums(rows, S, ga, pre)[used]
        ga = new
    return best, best_total, best_at, best_S


def _refine_groups(rows: Csr, ga: np.ndarray, max_tables: int) -> np.ndarray:
    """Per-group table choice: Lloyd iterations, then try seeding new tables from the groups
    that fit their current table worst (kept only when the estimated total shrinks; the
    trials end at the first that fails or saves less than SPLIT_MIN_GAIN)."""
    best, best_total, at, S = _lloyd(rows, ga, iters=GROUP_LLOYD)
    own = rows.row_entropy()
    for _s in range(GROUP_SPLITS):
        k = int(best.max()) + 1
        if k >= max_tables:
            break
        gain = at - own
        seed = int(np.argmax(gain))
        trial = best.copy()
        trial[seed] = k
        S_trial = _moved_sums(rows, np.vstack([S, np.zeros((1, S.shape[1]))]), best, trial)
        trial, total, tat, tS = _lloyd(rows, trial, iters=SPLIT_LLOYD, S=S_trial)
        if total < best_total - 1e-6:
            gain = best_total - total
            best, best_total, at, S = trial, total, tat, tS
            if gain < SPLIT_MIN_GAIN * total:
                break
        else:
            break
    return best


def tensor_hist(p: Prepared, kref: int, nrun: int, nclass: int, per_group: bool):
    """Symbol histogram of a tensor: per group as :class:`Csr` rows (``per_group``), or one
    dense row (int64[1, nsym]) for the whole tensor."""
    nsym = SYM_FIRST + nclass * nrun
    G = p.n_groups
    if per_group:
        cap = min(p.runs.size + 2 * G, G * nsym)
        indptr = np.empty(G + 1, np.int64)
        indices = np.empty(cap, np.int64)
        data = np.empty(cap, np.float64)
        st, nnz = group_hist_csr(p.runs, p.vals, p.ps, np.int64(kref), np.int64(nrun),
                                 np.int64(nsym), indptr, indices, data)
        if st:
            raise AssertionError(f"group histogram kernel failed with status {st}")
        return Csr(indptr, indices[:nnz], data[:nnz], nsym)
    H = np.zeros((1, nsym), np.int64)
    X = np.zeros(1, np.int64)
    if tensor_hist_row(p.runs, p.vals, np.int64(G), np.int64(kref), np.int64(nrun),
                       np.int64(nsym), H[0], X):
        raise AssertionError("tensor histogram kernel failed")
    return H


def tensor_hists(ps: list[Prepared], kref: int, nrun: int, nclass: int, per_group: bool) -> list:
    """:func:`tensor_hist` of every tensor (a list); tensors of one batch without per-group
    rows take one kernel call for all and come back as one matrix, a row per tensor; with
    per-group rows, tensors whose groups lie back to back in one batch (in order) come back
    as one :class:`Csr` of all their groups, made by one threaded kernel call (after
    :func:`build_tables`, its ``group_bits`` are the groups' exact coded lengths)."""
    if not ps or any(p.pairs is None or p.pairs is not ps[0].pairs for p in ps):
        return [tensor_hist(p, kref, nrun, nclass, per_group) for p in ps]
    nsym = SYM_FIRST + nclass * nrun
    pairs = ps[0].pairs
    g0 = np.array([p.g0 for p in ps], np.int64)
    ng = np.array([p.n_groups for p in ps], np.int64)
    if per_group:
        if not np.array_equal(g0[1:], g0[:-1] + ng[:-1]):
            return [tensor_hist(p, kref, nrun, nclass, per_group) for p in ps]
        return _batch_group_hist(pairs, int(g0[0]), int(g0[-1] + ng[-1]), kref, nrun, nsym)
    H = np.zeros((len(ps), nsym), np.int64)
    X = np.zeros(len(ps), np.int64)
    st = tensor_hist_rows(pairs.runs, pairs.vals, pairs.ps[g0], pairs.ps[g0 + ng], ng,
                          np.int64(kref), np.int64(nrun), np.int64(nsym), H, X)
    if st:
        raise AssertionError(f"tensor histogram kernel failed with status {st}")
    return H  # one row per tensor (a tensor without groups has a zero row)


def _batch_group_hist(pairs: Pairs, a: int, b: int, kref: int, nrun: int, nsym: int) -> Csr:
    """Per-group histograms of batch groups [a, b) as one :class:`Csr` (rows in chunks of
    about equal pairs on the calling thread and the pool, each chunk's rows back to back in a
    buffer with room for every group, then the gaps between chunks closed in place: the rows
    :func:`group_hist_csr` writes)."""
    ps = pairs.ps[a:b + 1]
    G = b - a
    room = np.minimum(np.diff(ps) + 2, nsym)
    off = np.zeros(G + 1, np.int64)
    np.cumsum(room, out=off[1:])
    start = np.zeros(G, np.int64)
    cnt = np.zeros(G, np.int64)
    xbits = np.zeros(G, np.int64)
    indices = np.empty(int(off[-1]), np.int64)
    data = np.empty(int(off[-1]), np.float64)
    st = run_ranges(group_hist_slots, (pairs.runs, pairs.vals, ps, np.int64(kref), np.int64(nrun),
                                       np.int64(nsym), off, start, cnt, xbits, indices, data),
                    _pairs_work(ps))
    if st:
        raise AssertionError(f"group histogram kernel failed with status {st}")
    indptr = np.empty(G + 1, np.int64)
    if csr_compact(start, cnt, indices, data, indptr):
        raise AssertionError("histogram compaction kernel failed")
    nnz = int(indptr[-1])
    H = Csr(indptr, indices[:nnz], data[:nnz], nsym)
    H.xbits = xbits  # each group's sign and extra bits (see build_tables: group_bits)
    return H


def _pairs_work(ps: np.ndarray) -> np.ndarray:
    """Cumulative work of groups with pairs ``[ps[g], ps[g+1])``: their pairs plus one each."""
    return ps - ps[0] + np.arange(ps.size, dtype=np.int64)


def use_per_group(gtot: int, kref: int, nrun: int, nclass: int, effort: int) -> bool:
    return effort >= 1 and gtot * (SYM_FIRST + nclass * nrun) <= MAX_GROUP_MATRIX


def _concat_csr(parts: list[Csr], ncols: int) -> Csr:
    if not parts:
        return Csr(np.zeros(1, np.int64), np.zeros(0, np.int64), np.zeros(0), ncols)
    nnz = np.array([q.indices.size for q in parts], np.int64)
    base = np.concatenate([[0], np.cumsum(nnz)[:-1]])
    indptr = np.concatenate([np.zeros(1, np.int64)] + [q.indptr[1:] + b for q, b in zip(parts, base)])
    return Csr(indptr, np.concatenate([q.indices for q in parts]),
               np.concatenate([q.data for q in parts]), ncols)


def build_tables(hists: list, gcount: np.ndarray, per_group: bool, kref: int,
                 nrun: int, nclass: int, max_tables: int) -> tuple[list[Table], list[np.ndarray]]:
    """Huffman tables for the package and the table index of every group of every tensor.

    ``hists[i]`` is tensor i's histogram from :func:`tensor_hist`.  First tensors are clustered
    (own or shared tables); then, with per-group histograms, every group may move to another
    table of the pool (per-group choice, stored in the group table), which adapts to channels
    of different sparsity or scale.
    """
    nsym = SYM_FIRST + nclass * nrun
    nt = len(gcount)
    gtot = int(gcount.sum())
    if gtot == 0:
        return [], [np.zeros(0, np.int64) for _ in range(nt)]
    goff = np.concatenate([[0], np.cumsum(gcount)])
    if per_group:
        Hg = hists if isinstance(hists, Csr) else \
            _concat_csr([h for h, g in zip(hists, gcount) if g > 0], nsym)
        tensor_of = np.repeat(np.arange(nt), gcount)
        Ht = Hg.sums(tensor_of, nt)
    else:
        if isinstance(hists, np.ndarray):  # already one matrix (tensor_hists, one batch)
            Ht = hists.astype(np.float64)
        else:
            Ht = np.vstack([h if g > 0 else np.zeros((1, nsym), np.int64)
                            for h, g in zip(hists, gcount)]).astype(np.float64)
    live = np.flatnonzero(gcount > 0)
    cols = np.flatnonzero(Ht.sum(axis=0))  # cluster on the symbols that occur
    tassign = cluster(Ht[live][:, cols], max_tables)
    t_of_tensor = np.zeros(nt, np.int64)
    t_of_tensor[live] = tassign
    if per_group:
        colmap = np.full(nsym, -1, np.int64)
        colmap[cols] = np.arange(cols.size)
        Hc = Csr(Hg.indptr, colmap[Hg.indices], Hg.data, cols.size)
        best = _refine_groups(Hc, t_of_tensor[tensor_of], max_tables)
        ga, lens_c = _huffman_refine(Hc, best)
        if Hg.xbits is not None:
            # exact coded bits of every group: its symbols' code lengths (integer sums: the
            # costs under the final lengths are exact, and usually already in the pool) plus
            # its sign and extra bits -- what codec.kernels.encode.group_bits computes
            at = Hc.assigned_costs(lens_c, 1, ga)
            if np.isfinite(at).all():
                Hg.group_bits = at.astype(np.int64) + Hg.xbits
        tids = [ga[goff[i]:goff[i + 1]] for i in range(nt)]
    else:
        ta, lens_c = _huffman_refine(Csr.from_dense(Ht[live][:, cols]), tassign)
        t_of_tensor[live] = ta
        tids = [np.full(int(gcount[i]), t_of_tensor[i], np.int64) for i in range(nt)]
    lens = np.zeros((lens_c.shape[0], nsym), np.uint8)
    lens[:, cols] = lens_c
    tables = [Table(kref, nrun, nclass, lens[j]) for j in range(lens.shape[0])]
    return tables, tids


_DTYPES_OK: set = set()  # dtypes check_dtype accepted (the checks below are ~10 us a tensor)


def check_dtype(name: str, arr: np.ndarray) -> None:
    from .format import DTYPE_CODES
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"tensor {name!r}: expected a numpy array, got {type(arr).__name__}")
    if arr.dtype in _DTYPES_OK:
        return
    if arr.dtype.newbyteorder("=") not in DTYPE_CODES and np.dtype(arr.dtype.str.replace(">", "<")) not in DTYPE_CODES:
        raise TypeError(f"tensor {name!r}: dtype {arr.dtype} is not supported; quantize first "
                        f"(supported: int8, uint8, int16, uint16, int32, uint32)")
    value_range(arr.dtype)
    _DTYPES_OK.add(arr.dtype)
