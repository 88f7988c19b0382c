"""``unpack``'s fast path: a v2 / v3 package decoded from the directory kernel's arrays, with
no per-tensor objects.

``codec.unpack`` (and ``codec.load``) decode every tensor of a package.  The general path
(:class:`codec.package.Package`) builds a ``TensorEntry`` per tensor, plans each tensor's
groups from it and checks each tensor on its own; on small models that per-tensor Python is
most of the time (fer, 80 tensors of 58 K parameters: ~60 % of a 0.5 ms decode).  Here the
directory kernel's entry array is planned by one kernel call per dtype
(``kernels.directory.whole_rows`` + ``kernels.tables.plan_batch``) and decoded by the same
kernels, through the general path's job runner (``package._run_parts``): on the calling
thread, or (``package._parallel``) on the pool's threads too, with a big data area's
chunk CRC check among the decode's jobs (``package._crc_jobs``, as ``Package.read_all``).

It is an optimistic path: it runs every check the general path runs (directory CRC and
kernel, E3 on names, E7b, every chunk CRC, the quantization metadata (kernels/meta.py), the
group tables, the decode kernels' statuses, the mirror modes (X4, in the inverse) and
transform), and it returns ``None`` as soon as any of them fails, or when the package is
outside its scope (format v1, non-ASCII names, more than PLAN_BATCH groups of a dtype).  The
caller then runs the general path, which raises the exact error or decodes.  So the values,
names, order, dtypes and shapes it returns are the general path's (tests/test_fastpath.py
compares both on valid and damaged packages).  (A damaged package may have been decoded, in
vain, before its CRC check failed: the decode kernels check every index, whatever the bytes.)
"""
from __future__ import annotations

import numpy as np

from .errors import CodecError
from .format import (DTYPES, Limits, directory_arrays_v2, directory_bytes,
                     empty_shape_fits, value_range)
from .format_v2 import chunk_crc
from .huffman import LUT_BITS
from .kernels.directory import (F_BOFF, F_DTYPE, F_MLEN, F_NAME_LEN, F_NAME_OFF, F_NDIM,
                                F_FLOOR, F_NUMEL, F_PRED, F_SHAPE_OFF, whole_rows)
from .kernels.meta import check_metas
from .kernels.floor import group_floors
from .kernels.mirror import inverse_entries
from .kernels.predict import group_preds, rebuild_entries
from .kernels.tables import P_FIELDS, plan_batch, table_bits
from .package import (MULTI_MIN_BITS, PLAN_BATCH, _crc_jobs, _kernel_parts, _luts_of,
                      _multi_tables, _run_parts)


def unpack_fast(buf: np.ndarray, limits: Limits, verify: bool) -> dict[str, np.ndarray] | None:
    """``{name: array}`` of every tensor of package ``buf`` (uint8 array), or None: the
    general path decides (see the module doc)."""
    try:
        version, _flags, dir_off, _dir_len, raw = directory_bytes(buf, check_crc=True)
    except CodecError:
        return None
    if version < 2:
        return None
    got = directory_arrays_v2(raw, dir_off, limits, version)
    if got is None:
        return None
    st, tabs, lens, ents, shapes, names, crcs = got
    keys = _names(ents, names)
    if keys is None or not _empty_shapes_fit(ents, shapes, limits):
        return None
    crc = None  # a big data area's CRC check runs beside the decode, on the pool's threads
    if verify:
        def chunk_ok(c):  # B1v2: chunk c's CRC matches
            return chunk_crc(buf, c, st, dir_off)[2] == int(crcs[c])
        crc = _crc_jobs(buf, dir_off, st, crcs, chunk_ok, lambda c0, c1: None)
        if crc is None and not all(chunk_ok(c) for c in range(crcs.size)):
            return None
    if not _metas_ok(buf, ents, shapes):
        return None
    ntab = tabs.shape[0]
    try:
        luts, wbound = _luts_of(tabs, lens)
    except CodecError:
        return None
    codes = ents[:, F_DTYPE]
    flats = {}
    extra = crc[0] if crc is not None else None
    for code in dict.fromkeys(codes.tolist()):  # dtypes in order of first use
        out = _decode_dtype(buf, ents, shapes, code, luts, wbound, ntab, extra)
        if out is None:
            return None
        flats[code] = out
    if crc is not None and not crc[1]():  # (runs the CRC jobs no decode took)
        return None
    result = _assemble(keys, ents, shapes, flats)
    return result if len(result) == len(keys) else None  # E3: a name used twice


def _names(ents: np.ndarray, names: np.ndarray) -> list[str] | None:
    """The names, when all are ASCII (else None: the general path decodes UTF-8 name by
    name); E3's uniqueness is checked on :func:`_assemble`'s result (its dict would drop a
    name used twice)."""
    nb = names.tobytes()
    if not nb.isascii():
        return None
    text = nb.decode("ascii")
    return [text[o:o + n] for o, n in zip(ents[:, F_NAME_OFF].tolist(),
                                          ents[:, F_NAME_LEN].tolist())]


def _empty_shapes_fit(ents: np.ndarray, shapes: np.ndarray, limits: Limits) -> bool:
    """E7b (format.check_shapes) for the empty tensors."""
    empty = ents[:, F_NUMEL] == 0
    if not empty.any():
        return True
    for i in np.flatnonzero(empty).tolist():
        a = int(ents[i, F_SHAPE_OFF])
        if not empty_shape_fits(DTYPES[int(ents[i, F_DTYPE])].itemsize,
                                shapes[a:a + int(ents[i, F_NDIM])].tolist(), limits):
            return False
    return True


def _metas_ok(buf: np.ndarray, ents: np.ndarray, shapes: np.ndarray) -> bool:
    """M1 for every metadata block, by kernels/meta.py (conservative: a block it declines
    goes to the general path, which parses it)."""
    has = np.flatnonzero(ents[:, F_MLEN] > 0)
    if not has.size:
        return True
    e = ents[has].T.copy()  # contiguous columns
    return check_metas(buf, e[F_BOFF], e[F_BOFF] + e[F_MLEN], e[F_NDIM], e[F_SHAPE_OFF], shapes,
                       e[F_NUMEL]) == -1


# no multi-set tables: (row of each table, tables, bounds); read-only (rows is indexed
# only when there are tables)
_NO_MULTI = (np.full(0, -1, np.int64), np.zeros((0, 1 << LUT_BITS), np.uint64),
             np.zeros(0, np.int64))


def _dtype_plan(buf: np.ndarray, ents: np.ndarray, shapes: np.ndarray, code: int,
                luts: np.ndarray, ntab: int):
    """The plan of dtype ``code``'s groups: (plan_batch rows, values, (glo, ghi, tid, output
    start, count, value offset) or None when no tensor has groups, payload bits, multi-set
    tables as :func:`package._kernel_parts` takes them, v5's per-group (mode, H, W) rows or
    None), or None (the general path decides)."""
    rows = np.empty((ents.shape[0], P_FIELDS), np.int64)
    k, total, n = whole_rows(ents, np.int64(code), rows)
    if k < 0 or n > PLAN_BATCH:
        return None
    if not k:
        return rows[:0], total, None, 0, _NO_MULTI, None, None
    glo, ghi, tid, ost, cnt, voff = np.empty((6, n), np.int64)
    ends = np.zeros(k, np.int64)
    st, _ = plan_batch(buf, rows[:k], np.int64(ntab), glo, ghi, tid, ost, cnt, voff, ends)
    if st != 0:
        return None
    pred = None  # v5: each group's (mode, H, W, C) where the groups are whole images
    if ents[:, F_PRED].any():
        pred = np.empty((4, n), np.int64)
        if group_preds(ents, shapes, np.int64(code), pred[0], pred[1], pred[2], pred[3]) < 0:
            return None
    floors = None  # v7: each group's (L, tensor start, floor offset) and the floors (§36)
    if ents[:, F_FLOOR].any():
        fg = np.empty((3, n), np.int64)
        if group_floors(ents, np.int64(code), fg[0], fg[1], fg[2]) < 0:
            return None
        floors = (fg[0], fg[1], fg[2], shapes)
    ts, bits = table_bits(glo, ghi, tid, np.int64(ntab), np.int64(MULTI_MIN_BITS))
    multi = _NO_MULTI
    if ts.size:
        try:
            ts, block, bound = _multi_tables(luts, ts)
        except CodecError:
            return None
        multi = (np.full(ntab, -1, np.int64), block, bound)
        multi[0][ts] = np.arange(ts.size)
    return rows[:k], total, (glo, ghi, tid, ost, cnt, voff), int(bits), multi, pred, floors


def _decode_dtype(buf: np.ndarray, ents: np.ndarray, shapes: np.ndarray, code: int,
                  luts: np.ndarray, wbound: np.ndarray, ntab: int,
                  extra: list | None) -> np.ndarray | None:
    """The tensors of dtype ``code``, back to back in one flat array (mirrors undone,
    predictions rebuilt), or
    None.  A big payload (package._parallel) decodes on the pool's threads, with the
    ``extra`` jobs (package._run_parts)."""
    got = _dtype_plan(buf, ents, shapes, code, luts, ntab)
    if got is None:
        return None
    _rows, total, plan, bits, multi, pred, floors = got
    dtype = DTYPES[code]
    out = np.empty(total, dtype)
    if plan is not None:
        glo, ghi, tid, ost, cnt, voff = plan
        vmin, vmax = value_range(dtype)
        parts = _kernel_parts(luts, wbound, multi, tid, voff, vmin, vmax)
        rc, status, _ = _run_parts(buf, parts, (glo, ghi, ost, cnt, voff), vmin, vmax, out,
                                   extra, (bits, int(total)),
                                   None if pred is None else tuple(pred), floors)
        if rc != 0 or status.any():
            return None
    # v3: undo the mirrors (inverse fails on a mode 3: X4); nothing to do without one
    if inverse_entries(out, ents, np.int64(code), buf, np.int64(8 * dtype.itemsize),
                       dtype.kind == "i") != 0:
        return None
    # v5: rebuild the predicted tensors whose groups split images (§32; the others were
    # rebuilt group by group in the decode jobs)
    if ents[:, F_PRED].any() and rebuild_entries(out, ents, shapes, np.int64(code), True,
                                                 dtype.kind == "i") != 0:
        return None
    return out


def _assemble(keys: list[str], ents: np.ndarray, shapes: np.ndarray,
              flats: dict) -> dict[str, np.ndarray]:
    """{name: view of its dtype's flat array, shaped}, in package order."""
    dims = shapes.tolist()
    view = np.ndarray  # one call a view (slice + reshape: 1.3x the time)
    soffs = ents[:, F_SHAPE_OFF].tolist()
    ndims = ents[:, F_NDIM].tolist()
    numel = ents[:, F_NUMEL]
    if len(flats) == 1:  # one dtype (the usual case): byte offsets by one cumsum
        flat = next(iter(flats.values()))
        offs = ((np.cumsum(numel) - numel) * flat.itemsize).tolist()
        dt = flat.dtype
        return {key: view(dims[s:s + n], dt, flat, o)
                for key, s, n, o in zip(keys, soffs, ndims, offs)}
    bases = dict.fromkeys(flats, 0)
    result = {}
    for key, code, n_, soff, ndim in zip(keys, ents[:, F_DTYPE].tolist(), numel.tolist(),
                                         soffs, ndims):
        b = bases[code]
        flat = flats[code]
        result[key] = view(dims[soff:soff + ndim], flat.dtype, flat, b * flat.itemsize)
        bases[code] = b + n_
    return result
