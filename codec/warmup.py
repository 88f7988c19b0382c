"""Compile every kernel once, ahead of first use (``codec warmup``).

Numba compiles a kernel the first time it meets a new argument type and keeps the machine
code in its on-disk cache (next to the package, or in ``NUMBA_CACHE_DIR``).  A fresh install
therefore pays ~10 s of compilation on its first decode (docs/DESIGN.md); a container image,
firmware build host or device image can pay it at build time instead by running
``python -m codec warmup`` once, after which a fresh process imports codec and decodes in
well under a second.

Each stored dtype gets one package whose tensors reach the decode kernels (a dense
low-magnitude tensor, wide ones of several
sparsities for the plain kernel and the encoder's table pool, symmetric rows for format v3's
mirror transform, smooth kernels for v5's prediction), written as v5 (v4 for the unsigned
dtypes) and as v1, read whole and by name (v5's rebuild kernels on empty input too); the
kernels the samples do not reach (the multi-set kernel and its table builders: tables of
>= 200 Kbit) are compiled on empty input; plus the parallel decoder's chunk planner and the
big decodes' table order.
"""
from __future__ import annotations

import time

import numpy as np

from .format import DTYPES

DTYPE_NAMES = tuple(str(d) for d in DTYPES.values())


def _sample(dtype: np.dtype) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    info = np.iinfo(dtype)
    mid = 0 if info.min < 0 else (info.max + 1) // 2  # unsigned data sits around a zero point
    lo, hi = max(info.min, -127 + mid), min(info.max, 127 + mid)
    out = {"dense": np.clip(np.round(rng.laplace(0, 0.6, (40, 1000))), -3, 3)}
    # wide 8-bit-like tensors of several sparsities: long codes (length limiting), a pool of
    # tables and per-group table choice in the encoder
    for k, sp in enumerate((0.0, 0.3, 0.6, 0.8, 0.95)):
        w = np.round(rng.laplace(0, 12 + 8 * k, (64, 3, 3, 16)))
        w[rng.random(w.shape) < sp] = 0
        out[f"wide{k}"] = w
    # rows symmetric and antisymmetric: format v3's mirror (its scan, modes and inverse)
    sym = np.round(rng.laplace(0, 20, (160, 16)))
    sym[:, 8:] = sym[:, :8][:, ::-1] * np.where(np.arange(160) % 2, 1, -1)[:, None]
    out["mirror"] = sym
    # kernels whose taps follow a plane: format v5's prediction transform (signed dtypes)
    i, j = np.meshgrid(np.arange(3), np.arange(3), indexing="ij")
    a, b, c = (rng.integers(-8, 9, (64, 1, 1)) for _ in range(3))
    out["pred"] = (a * i + b * j + 2 * c + rng.integers(-1, 2, (64, 3, 3))).reshape(16, 4, 3, 3)
    return {k: np.clip(v + mid, lo, hi).astype(dtype) for k, v in out.items()}


def _decode_kernels(dtype: np.dtype) -> None:
    """Compile the three decode kernels for ``dtype`` (no groups: nothing runs), with a
    read-only package buffer, as ``unpack(bytes)`` passes, and the multi-set table builders
    (a package reaches those only with a table of >= MULTI_MIN_BITS, 200 Kbit: the samples
    here are smaller)."""
    from .huffman import LUT_BITS
    from .kernels.decode import decode_groups, decode_groups_multi, decode_groups_wide
    from .kernels.directory import build_multi, multi_value_bound, multi_worth
    z = np.zeros(0, np.int64)
    buf = np.frombuffer(bytes(8), np.uint8)
    luts = np.zeros((1, 1 << LUT_BITS), np.uint32)
    mluts = np.zeros((1, 1 << LUT_BITS), np.uint64)
    for kern, tabs in ((decode_groups, luts), (decode_groups_wide, luts),
                       (decode_groups_multi, mluts)):
        kern(buf, np.int64(8), z, z, z, z, z, z, np.int64(0), np.int64(0), tabs,
             np.empty(0, dtype), z, z, np.int64(0), np.int64(0))
    ts = np.zeros(1, np.int64)
    multi_worth(luts, ts, np.zeros(1, np.int64))
    build_multi(luts, ts, mluts)
    multi_value_bound(mluts, np.zeros(1, np.int64))


def _rebuild_kernels(dtype: np.dtype) -> None:
    """Format v5's rebuild kernels for ``dtype`` on empty input (the writer never predicts
    unsigned tensors, another writer may)."""
    from .kernels.directory import N_FIELDS
    from .kernels.predict import rebuild, rebuild_entries, rebuild_groups, rebuild_strided
    out = np.empty(0, dtype)
    z = np.zeros(0, np.int64)
    signed = dtype.kind == "i"
    rebuild(out, np.int64(0), np.int64(0), np.int64(1), np.int64(2), np.int64(0), signed)
    rebuild_strided(out, np.int64(0), np.int64(0), np.int64(1), np.int64(2), np.int64(2),
                    np.int64(0), signed)
    rebuild_groups(out, z, z, z, z, z, z, np.int64(0), np.int64(0), signed)
    rebuild_entries(out, np.zeros((0, N_FIELDS), np.int64), z, np.int64(1), True, signed)


def warmup(dtypes=DTYPE_NAMES, *, encode: bool = True) -> list[tuple[str, float]]:
    """Compile (or load from Numba's cache) the kernels for each stored dtype in ``dtypes``:
    [(dtype name, seconds)].  With ``encode=False`` only the decoder's kernels are made
    ready (the packages it decodes are still written here, so the encoder compiles too, but
    only for the smallest search)."""
    from .kernels.crc import CRC_TABLES, crc_chunks, crc_range
    from .kernels.offsets import choose_offset
    from .kernels.dequant import dequantize_linear
    from .kernels.tables import table_order, work_cuts
    from .package import Package, unpack
    from .writer import pack
    out = []
    for name in dtypes:
        dtype = np.dtype(name)
        if dtype not in DTYPES.values():
            raise ValueError(f"{name!r} is not a stored dtype ({', '.join(DTYPE_NAMES)})")
        t0 = time.perf_counter()
        tensors = _sample(dtype)
        for version in (None, 1):  # None: v4 (with a mirror), v1
            data = pack(tensors, version=version, effort=1 if encode else 0)
            ents = Package(data).directory.tensors
            if version is None and not any(e.mirror_period for e in ents):
                raise AssertionError(f"warm-up sample for {name} got no mirror")  # pragma: no cover
            if version is None and dtype.kind == "i" and not any(e.pred_mode >= 0 for e in ents):
                raise AssertionError(f"warm-up sample for {name} got no prediction")  # pragma: no cover
            got = unpack(data)
            one = Package(data).read("wide4")
            if not (all(np.array_equal(got[k], v) for k, v in tensors.items())
                    and np.array_equal(one, tensors["wide4"])):
                raise AssertionError(f"warm-up round trip failed for {name}")  # pragma: no cover
        # the decode kernels, whichever the packages above reached (decode_groups_wide takes
        # the groups whose values cannot leave the dtype, decode_groups the others,
        # decode_groups_multi those of tables with multi-set entries)
        _decode_kernels(dtype)
        _rebuild_kernels(dtype)
        # decompress_model's dequantization (float32 out; float64 for the front-end's error)
        for fdt in (np.float32, np.float64) if encode else (np.float32,):
            dequantize_linear(np.zeros(8, dtype), np.ones(2), np.zeros(2), 4, 2, 0,
                              np.empty(8, fdt))
        out.append((name, time.perf_counter() - t0))
    work_cuts(np.ones(4, np.int64), np.int64(2), np.int64(2))  # parallel decodes (>= PAR_MIN_WORK)
    table_order(np.ones(2, np.int64), np.int64(2), np.empty(2, np.int64))  # >= ORDER_MIN_BITS
    # the chunk CRC kernels (slices of chunks: hosts with >= CRC_KERNEL_MIN_THREADS threads
    # or PCLMULQDQ; one chunk: format_v2.chunk_crc with PCLMULQDQ)
    crc_chunks(np.zeros(64, np.uint8), np.int64(0), np.int64(64), np.int64(6), np.int64(0),
               np.int64(1), np.zeros(1, np.uint32), CRC_TABLES)
    crc_range(np.zeros(64, np.uint8), np.int64(0), np.int64(64), CRC_TABLES)
    # the encoder's value-offset choice (packs above may not reach it: off-centre tensors)
    choose_offset(np.array([1, 0, 3], np.int64), np.int64(5), np.int64(2), 16.0, 0.03)
    return out
