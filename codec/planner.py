"""Encoder decisions: grouping, value offsets, the alphabet (kref, nrun) and the table pool.

Everything here is a *choice*; the decoder never needs it.  Choices are made from measured
costs (entropy estimates on the actual symbols), so a model gets the settings that are
smallest for it.  See docs/DESIGN.md for the alternatives that were measured.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .format import MAX_KREF, Table, value_range
from .huffman import MAX_CODE_LEN, huffman_lengths
from .kernels.encode import config_stats, count_pairs, fill_pairs, table_stats
from .kernels.symbols import SYM_FIRST, num_classes

MIN_GROUP = 4096          # "auto" grouping: whole kernels, at least this many parameters a group
SAMPLE_PAIRS = 1 << 17    # pairs used to choose (kref, nrun)
NRUN_CHOICES = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256)
MAX_PLAN_SYMBOLS = 4096   # a length-12 code has room for at most 4096 codes
TABLE_FIXED_BITS = 12 * 8 + 24  # counts per length + kref/nrun/nclass, roughly
TABLE_BITS_PER_CODE = 7.0       # gamma-coded symbol gap, roughly (estimate for planning only)


@dataclass
class Prepared:
    """One tensor after the run-length pass."""
    name: str
    dtype: np.dtype
    shape: tuple
    group_mode: str
    group_size: int
    value_offset: int
    gb: np.ndarray      # group bounds, int64[G+1]
    ps: np.ndarray      # pair bounds per group, int64[G+1]
    runs: np.ndarray    # int32[P]
    vals: np.ndarray    # int64[P]
    maxmag: int

    @property
    def n_groups(self) -> int:
        return self.gb.size - 1


def group_size_for(shape: tuple, group) -> tuple[str, int]:
    """Resolve the ``group`` option to (mode, parameters per group)."""
    numel = int(np.prod(shape, dtype=np.int64))
    kernel = int(np.prod(shape[1:], dtype=np.int64)) if len(shape) >= 2 else max(numel, 1)
    if group == "auto":
        k = max(1, -(-MIN_GROUP // max(kernel, 1)))
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
    raise ValueError(f"group must be 'auto', 'kernel', 'tensor', ('kernels', k), ('count', n) "
                     f"or an int; got {group!r}")


def value_offset_for(flat: np.ndarray) -> int:
    """Stored values are x - offset.  Signed: 0.  Unsigned: the most frequent value."""
    if flat.dtype.kind == "i" or flat.size == 0:
        return 0
    if flat.dtype.itemsize <= 2:
        return int(np.argmax(np.bincount(flat.reshape(-1))))
    vals, counts = np.unique(flat, return_counts=True)
    return int(vals[np.argmax(counts)])


def prepare(name: str, arr: np.ndarray, group) -> Prepared:
    flat = np.ascontiguousarray(arr).reshape(-1)
    mode, gsize = group_size_for(arr.shape, group)
    n = flat.size
    G = -(-n // gsize) if n else 0
    gb = np.minimum(np.arange(G + 1, dtype=np.int64) * gsize, n)
    voff = value_offset_for(flat)
    counts = np.zeros(G, np.int64)
    count_pairs(flat, np.int64(voff), gb, counts)
    ps = np.zeros(G + 1, np.int64)
    np.cumsum(counts, out=ps[1:])
    P = int(ps[-1])
    runs = np.empty(P, np.int32)
    vals = np.empty(P, np.int64)
    maxmag = np.zeros(G, np.int64)
    fill_pairs(flat, np.int64(voff), gb, ps, runs, vals, maxmag)
    return Prepared(name, arr.dtype, tuple(int(d) for d in arr.shape), mode, gsize, voff,
                    gb, ps, runs, vals, int(maxmag.max()) if G else 0)


def _entropy_bits(hist: np.ndarray) -> float:
    h = hist[hist > 0].astype(np.float64)
    tot = h.sum()
    return float((h * np.log2(tot / h)).sum()) if tot else 0.0


def choose_alphabet(prepared: list[Prepared]) -> tuple[int, int, int]:
    """(kref, nrun, nclass) minimizing estimated bits on a sample of the pairs."""
    maxmag = max((p.maxmag for p in prepared), default=0)
    G = sum(p.n_groups for p in prepared)
    runs = [p.runs for p in prepared]
    vals = [p.vals for p in prepared]
    runs = np.concatenate(runs) if runs else np.zeros(0, np.int32)
    vals = np.concatenate(vals) if vals else np.zeros(0, np.int64)
    scale = 1.0
    if runs.size > SAMPLE_PAIRS:
        step = runs.size / SAMPLE_PAIRS
        idx = (np.arange(SAMPLE_PAIRS) * step).astype(np.int64)
        scale = runs.size / SAMPLE_PAIRS
        runs, vals = runs[idx], vals[idx]
    n_groups_s = max(1, int(round(G / scale)))
    best = None
    for kref in range(0, MAX_KREF + 1):
        if kref > 0 and (1 << kref) > max(maxmag, 1):
            break  # more refinement than the magnitudes have: identical to kref - 1
        nclass = num_classes(maxmag, kref)
        for nrun in NRUN_CHOICES:
            nsym = SYM_FIRST + nclass * nrun
            if nsym > MAX_PLAN_SYMBOLS and nrun > 1:
                break
            hist, extra = config_stats(runs, vals, np.int64(n_groups_s), np.int64(kref),
                                       np.int64(nrun), np.int64(nsym))
            used = int(np.count_nonzero(hist))
            cost = (_entropy_bits(hist) + extra) * scale + used * TABLE_BITS_PER_CODE
            if best is None or cost < best[0]:
                best = (cost, kref, nrun, nclass)
    if best is None:
        return 0, 1, 1
    return best[1], best[2], best[3]


def _table_bits(hist_rows: np.ndarray) -> np.ndarray:
    return TABLE_FIXED_BITS + TABLE_BITS_PER_CODE * np.count_nonzero(hist_rows, axis=-1)


def _assign(H: np.ndarray, P: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cost (bits) of each tensor under each table model P (probabilities), inf if uncovered."""
    with np.errstate(divide="ignore"):
        logp = -np.log2(P)
    covered = (H > 0).astype(np.float64) @ (P == 0).astype(np.float64).T == 0
    finite = np.where(np.isfinite(logp), logp, 0.0)
    cost = H @ finite.T
    cost[~covered] = np.inf
    return cost.argmin(axis=1), cost


def _normalize(S: np.ndarray) -> np.ndarray:
    tot = S.sum(axis=1, keepdims=True)
    return S / np.maximum(tot, 1)


def cluster(H: np.ndarray, max_tables: int) -> np.ndarray:
    """Assign each row (a tensor's symbol histogram) to one of k tables; returns assignment.

    Greedy growth: start from one shared table; repeatedly seed a new table with the tensor
    that would gain most from its own, run a few Lloyd iterations, keep the best total.
    """
    n = H.shape[0]
    assign = np.zeros(n, np.int64)
    if n <= 1 or max_tables <= 1:
        return assign

    def total(assign):
        k = int(assign.max()) + 1
        S = np.zeros((k, H.shape[1]))
        np.add.at(S, assign, H)
        P = _normalize(S)
        _, cost = _assign(H, P)
        return float(cost[np.arange(n), assign].sum() + _table_bits(S).sum()), S

    best_cost, S = total(assign)
    best = assign.copy()
    own = np.array([_entropy_bits(h) for h in H]) + _table_bits(H)
    stale = 0
    for _k in range(2, min(max_tables, n) + 1):
        P = _normalize(S)
        _, cost = _assign(H, P)
        cur = cost[np.arange(n), best]
        gain = cur - own
        seed = int(np.argmax(gain))
        assign = best.copy()
        assign[seed] = S.shape[0]
        for _it in range(4):
            k = int(assign.max()) + 1
            S2 = np.zeros((k, H.shape[1]))
            np.add.at(S2, assign, H)
            new, _ = _assign(H, _normalize(S2))
            # keep tables non-empty: a table that lost all members disappears
            _, new = np.unique(new, return_inverse=True)
            if np.array_equal(new, assign):
                break
            assign = new
        c, S2 = total(assign)
        if c < best_cost - 1e-9:
            best_cost, best, S = c, assign, S2
            stale = 0
        else:
            stale += 1
            if stale >= 2:
                break
    return best


def build_tables(prepared: list[Prepared], kref: int, nrun: int, nclass: int,
                 max_tables: int) -> tuple[list[Table], np.ndarray]:
    """Huffman tables for the package and the table index of every tensor."""
    nsym = SYM_FIRST + nclass * nrun
    nt = len(prepared)
    H = np.zeros((nt, nsym), np.int64)
    for i, p in enumerate(prepared):
        if p.n_groups == 0:
            continue
        hist = np.zeros((1, nsym), np.int64)
        extra = np.zeros(1, np.int64)
        table_stats(p.runs, p.vals, p.ps, np.zeros(p.n_groups, np.int64), np.int64(1),
                    np.int64(kref), np.int64(nrun), np.int64(nsym), hist, extra)
        H[i] = hist[0]
    live = np.flatnonzero(H.sum(axis=1) > 0)
    tensor_table = np.zeros(nt, np.int64)
    if live.size == 0:
        return [], tensor_table
    assign = cluster(H[live].astype(np.float64), max_tables)
    # exact Huffman tables, then one exact reassignment pass restricted to covering tables
    for _ in range(2):
        k = int(assign.max()) + 1
        S = np.zeros((k, nsym), np.int64)
        np.add.at(S, assign, H[live])
        lens = np.stack([huffman_lengths(S[j], MAX_CODE_LEN) for j in range(k)]).astype(np.float64)
        Hl = H[live].astype(np.float64)
        cover = (Hl > 0) @ (lens == 0).T == 0
        cost = Hl @ lens.T
        cost[~cover] = np.inf
        new = cost.argmin(axis=1)
        _, new = np.unique(new, return_inverse=True)
        if np.array_equal(new, assign):
            break
        assign = new
    k = int(assign.max()) + 1
    S = np.zeros((k, nsym), np.int64)
    np.add.at(S, assign, H[live])
    tables = [Table(kref, nrun, nclass, huffman_lengths(S[j], MAX_CODE_LEN)) for j in range(k)]
    tensor_table[live] = assign
    return tables, tensor_table


def check_dtype(name: str, arr: np.ndarray) -> None:
    from .format import DTYPE_CODES
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"tensor {name!r}: expected a numpy array, got {type(arr).__name__}")
    if arr.dtype.newbyteorder("=") not in DTYPE_CODES and np.dtype(arr.dtype.str.replace(">", "<")) not in DTYPE_CODES:
        raise TypeError(f"tensor {name!r}: dtype {arr.dtype} is not supported; quantize first "
                        f"(supported: int8, uint8, int16, uint16, int32, uint32)")
    value_range(arr.dtype)
