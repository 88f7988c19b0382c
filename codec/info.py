"""``codec.inspect``: the header as structured data, without decoding any payload."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .format import DEFAULT_LIMITS, PREAMBLE_SIZE, Limits, footer_size
from .meta import QuantMeta


@dataclass(frozen=True)
class TableInfo:
    index: int
    kref: int
    nrun: int
    nclass: int
    codes: int
    max_code_len: int


@dataclass(frozen=True)
class TensorInfo:
    name: str
    dtype: str
    shape: tuple
    numel: int
    group_mode: str
    group_size: int
    n_groups: int
    tables: tuple
    value_offset: int
    block_offset: int
    block_bytes: int
    payload_bytes: int
    bits_per_param: float
    crc32: int             # v1: the block's CRC32; v2: 0 (the data area has chunk CRCs)
    meta: QuantMeta | None = field(default=None, compare=False)
    mirror: tuple | None = None  # v3: (period, skip) of the mirror transform, None without
    pred_mode: int = -1          # v5: the prediction transform's mode 0-7 (§32), -1 without
    pred_shift: int = 0          # v6: its images in dims ndim - 2 - shift and the next (§34)
    floors: tuple = ()           # v7: each row's floor (§36), () without
    alias: str | None = None     # v7: the tensor whose block this one shares (§36; its own
    #                              block_bytes, payload_bytes and bits_per_param are then 0)


@dataclass(frozen=True)
class PackageInfo:
    version: int
    flags: int
    total_bytes: int
    header_bytes: int
    numel: int
    bits_per_param: float
    tables: tuple
    tensors: tuple
    crc_chunk_bytes: int = 0   # v2: size of a CRC chunk of the data area (v1: 0)
    crc_chunks: int = 0        # v2: number of chunk CRCs

    def tensor(self, name: str) -> TensorInfo:
        for t in self.tensors:
            if t.name == name:
                return t
        raise KeyError(name)

    def to_dict(self) -> dict:
        d = asdict(self)
        for t, src in zip(d["tensors"], self.tensors):
            m = src.meta
            t["meta"] = None if m is None else {
                "kind": m.kind, "bits": m.bits, "axis": m.axis, "block": m.block,
                "n_scales": int(m.scale.size), "has_zero_point": m.zero_point is not None}
        return d


def inspect(data, /, *, limits: Limits = DEFAULT_LIMITS) -> PackageInfo:
    """Read a package's header (checked by its CRC) and return it as a :class:`PackageInfo`."""
    from .package import Package, _guard
    p = _guard(Package)(data, limits=limits, verify=True)
    d = p.directory
    tables = tuple(TableInfo(i, t.kref, t.nrun, t.nclass, int((t.lengths > 0).sum()),
                             int(t.lengths.max())) for i, t in enumerate(d.tables))
    tensors = []
    total = len(p._buf)
    numel = 0
    for e in d.tensors:
        tids = tuple(range(e.tid_base, e.tid_base + (1 << e.tid_bits))) if e.n_groups else ()
        own = e.alias < 0
        blen = e.block_length if own else 0
        tensors.append(TensorInfo(
            e.name, str(e.dtype), e.shape, e.numel, e.group_mode, e.group_size, e.n_groups,
            tids, e.value_offset, e.block_offset, blen, e.payload_bytes if own else 0,
            (8.0 * blen / e.numel) if e.numel else 0.0, e.crc32, p.meta(e.name),
            (e.mirror_period, e.mirror_skip) if e.mirror_period else None, e.pred_mode,
            e.pred_shift, e.floors, None if own else d.tensors[e.alias].name))
        numel += e.numel
    chunks = 0 if d.chunk_crcs is None else int(d.chunk_crcs.size)
    return PackageInfo(d.version, d.flags, total, PREAMBLE_SIZE + d.directory_length + footer_size(d.version),
                       numel, (8.0 * total / numel) if numel else 0.0, tables, tuple(tensors),
                       (1 << d.chunk_log2) if d.version >= 2 else 0, chunks)
