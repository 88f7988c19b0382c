"""Shared pieces of the hostile-input tests and the atheris fuzz targets.

* :func:`sample_packages` builds a few small, valid packages (every dtype, group modes, metadata,
  empty and all-zero tensors, several Huffman tables) together with the arrays they hold.
* :func:`check_exact` is the oracle for a mutated package whose checksums were *not* repaired:
  every API either returns exactly the original data or raises a :class:`codec.CodecError`.
* :func:`check_consistent` is the oracle for inputs with repaired checksums or random headers
  (no "original" exists): a ``CodecError`` or results that agree with the header and with each
  other (whole-package decode == tensor-by-tensor decode), never another exception.
* Both flag a ``CodecError`` that ``codec.package._guard`` made out of a stray low-level exception
  (``IndexError`` ...): that means a missing validation (or, under ``NUMBA_BOUNDSCHECK=1``, an
  out-of-bounds access in a kernel) rather than an error "naming the problem".
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

import numpy as np

import codec
from codec.format import FOOTER_SIZE, PREAMBLE_SIZE

# The fuzzers keep outputs small so that every input is cheap; the limit is part of the contract.
FUZZ_LIMITS = codec.Limits(max_output_bytes=1 << 22, max_tensors=64, max_tables=64)


class OracleFailure(AssertionError):
    """An outcome the contract forbids (crash type, silent corruption, inconsistency)."""

    def __init__(self, kind: str, detail: str):
        self.kind = kind
        super().__init__(f"{kind}: {detail}")


@dataclass
class Sample:
    name: str
    data: bytes
    arrays: dict
    meta: dict = field(default_factory=dict)


def _sparse(rng, shape, dtype, density, spread):
    info = np.iinfo(dtype)
    lo, hi = max(info.min, -spread), min(info.max, spread)
    v = rng.integers(lo, hi + 1, size=shape)
    v = np.where(rng.random(shape) < density, v, 0)
    return v.astype(dtype)


def sample_arrays(seed: int = 0) -> list[tuple[str, dict, dict, object]]:
    """(label, arrays, meta, group) for the sample packages; deterministic."""
    rng = np.random.default_rng(seed)
    out = []
    conv = _sparse(rng, (8, 3, 3, 3), np.int8, 0.45, 7)
    bias = _sparse(rng, (8,), np.int16, 0.9, 300)
    fc = _sparse(rng, (10, 24), np.int8, 0.3, 127)
    out.append(("conv+meta", {"conv.w": conv, "conv.b": bias, "fc.w": fc},
                {"conv.w": codec.QuantMeta(8, rng.random(8).astype(np.float32) + 0.01, axis=0),
                 "fc.w": codec.QuantMeta(4, np.float64([0.5]), zero_point=[3])}, ("count", 16)))
    out.append(("all-dtypes", {
        "i8": _sparse(rng, (40,), np.int8, 0.5, 128),
        "u8": _sparse(rng, (6, 7), np.uint8, 0.5, 255),
        "i16": _sparse(rng, (33,), np.int16, 0.6, 32768),
        "u16": _sparse(rng, (5, 5), np.uint16, 0.6, 65535),
        "i32": _sparse(rng, (17,), np.int32, 0.7, 1 << 31),
        "u32": _sparse(rng, (3, 4), np.uint32, 0.7, (1 << 32) - 1),
    }, {}, ("count", 8)))
    out.append(("edge", {"empty": np.zeros((0, 3), np.int8), "zeros": np.zeros((9, 9), np.int8),
                         "scalar": np.array(-5, np.int16), "const": np.full(50, 7, np.uint8),
                         "é/ünï": _sparse(rng, (4, 4), np.int8, 0.5, 3)}, {}, "tensor"))
    out.append(("kernel-groups", {"a": _sparse(rng, (16, 2, 3, 3), np.int8, 0.2, 2),
                                  "b": _sparse(rng, (16, 2, 3, 3), np.int8, 0.8, 60)}, {}, "kernel"))
    out.append(("single", {"": _sparse(rng, (12, 12), np.int8, 0.35, 15)}, {}, ("count", 7)))
    # format v3's mirror (written as v3 by sample_packages(3); v1/v2 write it plainly): rows
    # symmetric, antisymmetric and plain, a = 1 (the head value), a value offset
    sym = _sparse(rng, (6, 2, 11), np.int16, 0.8, 900)
    sym[:, :, 6:] = sym[:, :, 1:6][:, :, ::-1] * np.array([1, -1, 1, 0, -1, 1])[:, None, None]
    u = np.full((5, 8), 200, np.uint8)
    u[:, :4] = _sparse(rng, (5, 4), np.uint8, 0.6, 40) + 180
    u[:, 4:] = u[:, :4][:, ::-1]
    u[1:] = np.where(u[1:] == 180, 200, u[1:])
    out.append(("mirror", {"sym": sym, "u": u, "meta.w": sym[0, 0].copy()},
                {"sym": codec.QuantMeta(8, np.float32([0.25]))}, "kernel"))
    return out


_CACHE: dict = {}


KNOWN_HEADERS: dict = {}


def footer_len(data: bytes) -> int:
    """Footer bytes of ``data`` by its version byte: 12 for v4 (§27), else 24."""
    return 12 if len(data) > 4 and data[4] >= 4 else FOOTER_SIZE


def locate(data: bytes) -> tuple[int, int] | None:
    """(dir_offset, dir_length) as the footer states them (v4: from the length), or None."""
    n = len(data)
    fs = footer_len(data)
    if n < PREAMBLE_SIZE + fs:
        return None
    if fs == 12:
        (ln,) = struct.unpack_from("<I", data, n - 12)
        return n - 12 - ln, ln
    return struct.unpack_from("<QQ", data, n - fs)


def header_bytes(data: bytes) -> bytes | None:
    """Preamble + directory as located by the footer (the bytes the header CRC covers)."""
    n = len(data)
    got = locate(data)
    if got is None:
        return None
    off, ln = got
    fs = footer_len(data)
    if not (PREAMBLE_SIZE <= off and off + ln == n - fs):
        return None
    return data[:PREAMBLE_SIZE] + data[off:n - fs]


def register(data: bytes, arrays: dict) -> None:
    """Remember a valid package's header and contents: a splice of two packages can carry one
    package's whole header (and some of its blocks), and then *that* package is the original."""
    KNOWN_HEADERS[header_bytes(data)] = arrays


SAMPLE_CHUNK_LOG2 = 6  # v2 samples use 64-byte CRC chunks: several chunks per package


def _forced_preds(arrays: dict, mirror, version: int):
    """Format v5 samples: every eligible tensor (§32) without a forced mirror gets a
    prediction mode (0 ... 7 in turn), whatever it saves; v6 also a shift (§34: its allowed
    shifts in turn, the largest first); other versions: none."""
    if version < 5:
        return None
    from codec.predict import shifts
    out = {}
    for k, a in arrays.items():
        if (a.ndim >= 2 and a.size and a.shape[-1] * a.shape[-2] >= 2
                and not (isinstance(mirror, dict) and k in mirror)):
            mode = len(out) % 8
            sh = shifts(a.shape)[::-1]
            out[k] = (mode, sh[len(out) % len(sh)]) if version >= 6 else mode
    return out


def _forced_floors(arrays: dict, mirror, preds) -> dict:
    """Format v7 samples: every non-empty signed tensor without a forced mirror or a
    prediction mode gets row floors (§36: the writer's, whatever they save)."""
    return {k: True for k, a in arrays.items()
            if a.size and a.dtype.kind == "i" and not (preds and k in preds)
            and not (isinstance(mirror, dict) and k in mirror)}


def _v7_arrays(arrays: dict) -> dict:
    """Format v7 samples: the arrays plus an alias of the first non-empty one (§36)."""
    first = next((k for k, a in arrays.items() if a.size), None)
    return arrays if first is None else {**arrays, first + "~alias": arrays[first].copy()}


def sample_packages(version: int = 2) -> list[Sample]:
    """The samples written as format ``version`` (v2 and v3 with 64-byte CRC chunks, so that
    chunk boundaries fall inside blocks; labels end in "-v1" for v1, "-v3" for v3; v7 samples
    have every other eligible tensor predicted, the rest floored, and an alias)."""
    key = f"samples{version}"
    if key not in _CACHE:
        import codec.format_v2 as fv2
        samples = []
        saved = fv2.DEFAULT_CHUNK_LOG2
        fv2.DEFAULT_CHUNK_LOG2 = SAMPLE_CHUNK_LOG2
        try:
            for label, arrays, meta, group in sample_arrays():
                mirror = ({"sym": (11, 1), "u": (8, 0)} if label == "mirror" and version >= 3
                          else "auto")
                preds = _forced_preds(arrays, mirror, version)
                floors = None
                if version >= 7:
                    arrays = _v7_arrays(arrays)
                    preds = {k: v for i, (k, v) in enumerate(preds.items()) if i % 2 == 0}
                    floors = _forced_floors(arrays, mirror, preds)
                    if meta and next(iter(arrays)) in meta:
                        meta = {**meta, next(iter(arrays)) + "~alias": meta[next(iter(arrays))]}
                data = codec.pack(arrays, group=group, meta=meta or None, version=version,
                                  mirror=mirror, predict=preds, floor=floors,
                                  alias="auto" if version >= 7 else None)
                register(data, arrays)
                samples.append(Sample(label + {1: "-v1", 3: "-v3", 4: "-v4", 5: "-v5", 6: "-v6",
                                               7: "-v7"}.get(version, ""), data, arrays, meta))
        finally:
            fv2.DEFAULT_CHUNK_LOG2 = saved
        _CACHE[key] = samples
    return _CACHE[key]


# ---------------------------------------------------------------------------------------------
# layout helpers

def sections(data: bytes) -> list[tuple[str, int, int]]:
    """(kind, start, end) of preamble, each block, directory and footer of a *valid* package."""
    info = codec.inspect(data)
    n = len(data)
    secs = [("preamble", 0, PREAMBLE_SIZE)]
    for t in info.tensors:
        if t.block_bytes:
            secs.append((f"block:{t.name}", t.block_offset, t.block_offset + t.block_bytes))
    dir_off = locate(data)[0]
    fs = footer_len(data)
    secs.append(("directory", dir_off, n - fs))
    secs.append(("footer", n - fs, n))
    return secs


def fix_footer(data: bytes) -> bytes:
    """Repair the header CRC (if the footer still locates a directory) so mutations reach
    the directory parser instead of stopping at the checksum."""
    header = header_bytes(data)
    if header is None:
        return data
    buf = bytearray(data)
    struct.pack_into("<I", buf, len(data) - 8, zlib.crc32(header))
    return bytes(buf)


def assemble(directory: bytes, blocks: bytes = b"", flags: int = 0, version: int = 1) -> bytes:
    """A package from raw directory bytes (any content) with a correct footer and CRC."""
    pre = codec.MAGIC + bytes([version, flags, 0, 0])
    dir_off = len(pre) + len(blocks)
    crc = zlib.crc32(directory, zlib.crc32(pre))
    if version >= 4:
        return pre + blocks + directory + struct.pack("<II", len(directory), crc) \
            + codec.FOOTER_MAGIC
    return pre + blocks + directory + struct.pack("<QQI", dir_off, len(directory), crc) \
        + codec.FOOTER_MAGIC


# ---------------------------------------------------------------------------------------------
# oracles

def _flag_guarded(exc: BaseException, where: str) -> None:
    cause = exc.__cause__
    if cause is not None and not isinstance(cause, codec.CodecError):
        raise OracleFailure("guard-converted", f"{where}: {type(cause).__name__} turned into "
                            f"{type(exc).__name__}: {exc}") from exc


def _call(where: str, fn, *args, **kw):
    """(result, None) or (None, CodecError); anything else is an oracle failure."""
    size = len(args[0]) if args and isinstance(args[0], (bytes, bytearray)) else None
    try:
        return fn(*args, **kw), None
    except codec.CodecError as exc:
        _flag_guarded(exc, where)
        if not str(exc):
            raise OracleFailure("unnamed-error", f"{where}: {type(exc).__name__} without message")
        if size is not None and exc.offset is not None and not 0 <= exc.offset <= size:
            raise OracleFailure("bad-offset", f"{where}: offset {exc.offset} outside the "
                                f"{size}-byte input: {exc}")
        return None, exc
    except OracleFailure:
        raise
    except Exception as exc:  # noqa: BLE001 - the point of the oracle
        raise OracleFailure("crash", f"{where}: {type(exc).__name__}: {exc}") from exc


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)


def check_exact(data: bytes, arrays: dict, *, limits: codec.Limits = FUZZ_LIMITS,
                read_names: bool = True) -> str:
    """Oracle for a mutation of a valid package (checksums left as they are).

    Returns "ok" (the exact original came back) or "error" (every API raised a CodecError).
    The original is the package whose (CRC-protected) header ``data`` carries, if it is a
    registered one (splices), else ``arrays``.
    """
    arrays = KNOWN_HEADERS.get(header_bytes(data), arrays)
    outcomes = set()
    res, err = _call("unpack", codec.unpack, data, limits=limits)
    if res is not None:
        if list(res) != list(arrays) or not all(_same(res[k], arrays[k]) for k in arrays):
            raise OracleFailure("silent-corruption", "unpack returned different tensors")
        outcomes.add("ok")
    else:
        outcomes.add("error")
    info, err = _call("inspect", codec.inspect, data, limits=limits)
    if info is not None:
        got = [(t.name, t.dtype, tuple(t.shape)) for t in info.tensors]
        want = [(k, str(v.dtype), v.shape) for k, v in arrays.items()]
        if got != want:
            raise OracleFailure("silent-corruption", f"inspect header differs: {got} != {want}")
    if len(arrays) == 1:
        (only,) = arrays.values()
        r, err = _call("decode", codec.decode, data, limits=limits)
        if r is not None and not _same(r, only):
            raise OracleFailure("silent-corruption", "decode returned a different tensor")
    if read_names:
        pkg, err = _call("Package", codec.package._guard(codec.Package), data, limits=limits)
        present = None if info is None else {t.name for t in info.tensors}
        for name, want in arrays.items():
            if present is not None and name not in present:  # another package's header
                try:
                    codec.read_tensor(data, name, limits=limits)
                except (KeyError, codec.CodecError):
                    continue
                raise OracleFailure("inconsistent", f"read_tensor({name!r}) found a tensor "
                                    "inspect does not list")
            r, err = _call(f"read_tensor({name!r})", codec.read_tensor, data, name, limits=limits)
            if r is not None and not _same(r, want):
                raise OracleFailure("silent-corruption", f"read_tensor({name!r}) differs")
            if pkg is not None:
                r, err = _call(f"Package.read({name!r})", codec.package._guard(pkg.read), name)
                if r is not None and not _same(r, want):
                    raise OracleFailure("silent-corruption", f"Package.read({name!r}) differs")
    return "ok" if outcomes == {"ok"} else "error"


def check_consistent(data: bytes, *, limits: codec.Limits = FUZZ_LIMITS) -> str:
    """Oracle for inputs with no known original (repaired CRCs, random headers).

    Decoding is done with ``verify=False`` so that the payload bits reach the kernels.
    """
    info, err = _call("inspect", codec.inspect, data, limits=limits)
    pkg, perr = _call("Package", codec.package._guard(codec.Package), data, limits=limits,
                      verify=False)
    # inspect also parses every tensor's metadata, so it may reject what Package() accepts
    # (a corrupt metadata block must not stop reading the other tensors), never the reverse
    if info is not None and pkg is None:
        raise OracleFailure("inconsistent", f"inspect passed but Package() failed: {perr}")
    res, err = _call("unpack", codec.unpack, data, limits=limits, verify=False)
    if pkg is None:
        if res is not None:
            raise OracleFailure("inconsistent", "unpack succeeded on a package Package() rejects")
        return "error"
    names = pkg.names
    header = [(n, str(pkg.entry(n).dtype), tuple(pkg.entry(n).shape)) for n in names]
    if info is not None:
        got = [(t.name, t.dtype, tuple(t.shape)) for t in info.tensors]
        if got != header:
            raise OracleFailure("inconsistent", f"inspect {got} != Package {header}")
    if res is not None:
        if list(res) != names:
            raise OracleFailure("inconsistent", f"unpack names {list(res)} != header {names}")
        total = 0
        for name, dt, shape in header:
            a = res[name]
            total += a.nbytes
            if str(a.dtype) != dt or tuple(a.shape) != shape:
                raise OracleFailure("inconsistent", f"{name!r}: {a.dtype}{a.shape} vs header "
                                    f"{dt}{shape}")
        if total > limits.max_output_bytes:
            raise OracleFailure("limit", f"decoded {total} bytes > max_output_bytes")
    # unpack (codec/fastpath.py where it applies) must answer as Package.read_all does
    full, _ = _call("Package.read_all", codec.package._guard(pkg.read_all))
    if (res is None) != (full is None):
        raise OracleFailure("inconsistent", f"unpack {'failed' if res is None else 'passed'} "
                            f"but Package.read_all {'failed' if full is None else 'passed'}")
    if res is not None and any(not _same(res[n], full[n]) for n in names):
        raise OracleFailure("inconsistent", "unpack and Package.read_all decode differently")
    # one tensor at a time must agree with the batched decode (shared kernel call per dtype)
    ok_single = True
    for name in names:
        r, err = _call(f"Package.read({name!r})", codec.package._guard(pkg.read), name)
        if r is None:
            ok_single = False
        elif res is not None and not _same(r, res[name]):
            raise OracleFailure("inconsistent", f"{name!r}: batched and single decode differ")
    if res is not None and not ok_single:
        raise OracleFailure("inconsistent", "unpack succeeded but a single tensor read failed")
    return "ok" if res is not None else "error"


# ---------------------------------------------------------------------------------------------
# mutations (deterministic given a numpy Generator; hypothesis drives its own versions)

def mutate(rng: np.random.Generator, data: bytes, donors: list[bytes]) -> bytes:
    buf = bytearray(data)
    op = int(rng.integers(9))
    n = len(buf)
    if n == 0:
        return bytes(rng.integers(0, 256, size=int(rng.integers(1, 64)), dtype=np.uint8))
    if op == 0:  # truncate
        return bytes(buf[:int(rng.integers(n))])
    if op == 1:  # bit flips
        for _ in range(int(rng.integers(1, 4))):
            p = int(rng.integers(n))
            buf[p] ^= 1 << int(rng.integers(8))
    elif op == 2:  # byte overwrites, biased to interesting values
        for _ in range(int(rng.integers(1, 4))):
            buf[int(rng.integers(n))] = int(rng.choice([0, 1, 0x7F, 0x80, 0xFF, rng.integers(256)]))
    elif op == 3:  # insert random bytes
        p = int(rng.integers(n + 1))
        buf[p:p] = bytes(rng.integers(0, 256, size=int(rng.integers(1, 9)), dtype=np.uint8))
    elif op == 4:  # delete a range
        p = int(rng.integers(n))
        del buf[p:p + int(rng.integers(1, 9))]
    elif op == 5:  # splice with another package
        d = donors[int(rng.integers(len(donors)))]
        a, b = sorted(int(x) for x in rng.integers(0, min(n, len(d)) + 1, size=2))
        buf[a:b] = d[a:b]
    elif op == 6:  # duplicate a range
        a = int(rng.integers(n))
        b = min(n, a + int(rng.integers(1, 33)))
        buf[b:b] = buf[a:b]
    elif op == 7:  # swap two ranges of equal length
        k = int(rng.integers(1, 9))
        if n > 2 * k:
            a = int(rng.integers(n - k))
            b = int(rng.integers(n - k))
            buf[a:a + k], buf[b:b + k] = bytes(buf[b:b + k]), bytes(buf[a:a + k])
    else:  # overwrite a 4/8-byte little-endian integer with a boundary value
        w = int(rng.choice([4, 8]))
        if n >= w:
            p = int(rng.integers(n - w + 1))
            v = int(rng.choice([0, 1, (1 << 31) - 1, 1 << 31, (1 << 32) - 1, (1 << 63) - 1,
                                (1 << 64) - 1, n, n - 1]))
            buf[p:p + w] = (v % (1 << (8 * w))).to_bytes(w, "little")
    return bytes(buf)


def _directory_bytes(d, tensors, data: bytes, chunk_crcs=None) -> bytes:
    """Directory of ``d.version`` for ``tensors`` (v2: chunk CRCs as given, else recomputed
    over ``data``'s data area)."""
    from codec.format import DTYPE_CODES, write_directory
    import codec.format_v2 as fv2
    if d.version == 1:
        return write_directory(d.tables, tensors)
    if chunk_crcs is not None:
        return fv2.write_directory(d.tables, tensors, DTYPE_CODES,
                                   d.directory_offset - PREAMBLE_SIZE, list(chunk_crcs),
                                   d.chunk_log2, version=d.version)
    return fv2.directory_over(d.tables, tensors, DTYPE_CODES,
                              data[PREAMBLE_SIZE:d.directory_offset], d.chunk_log2, d.version)


def fix_all_crcs(data: bytes) -> bytes:
    """Repair the header CRC and, if the directory parses and re-serializes to the same bytes,
    every block (v1) or chunk (v2) CRC too: the result reaches the payload decoder of *any*
    reader."""
    from codec.format import read_directory
    data = fix_footer(data)
    try:
        d = read_directory(np.frombuffer(data, np.uint8), codec.Limits(), check_crc=False)
    except Exception:  # noqa: BLE001 - a directory that does not parse stays as it is
        return data
    dir_off, end = d.directory_offset, len(data) - footer_len(data)
    if _directory_bytes(d, d.tensors, data, d.chunk_crcs) != data[dir_off:end]:
        return data
    for e in d.tensors:
        e.crc32 = zlib.crc32(data[e.block_offset:e.block_offset + e.block_length])
    return fix_footer(data[:dir_off] + _directory_bytes(d, d.tensors, data) + data[end:])


def _unpack_with_meta(data, *, limits):
    """``codec.unpack`` plus every tensor's metadata (the reference reader parses both)."""
    res = codec.unpack(data, limits=limits)
    pkg = codec.Package(data, limits=limits)
    for name in pkg.names:
        pkg.meta(name)
    return res


def check_reference(data: bytes) -> str:
    """Differential oracle: ``codec.unpack`` and the pure-Python ``codec.reference`` reader agree
    (same arrays, or both raise a CodecError).  Skipped ("n/a") if the reference is missing."""
    try:
        from codec import reference
    except ImportError:
        return "n/a"
    fields = getattr(reference.RefLimits, "__dataclass_fields__", {})
    lim = reference.RefLimits(**{k: getattr(FUZZ_LIMITS, k) for k in fields
                                 if hasattr(FUZZ_LIMITS, k)})
    ref, rerr = _call("reference.unpack", reference.unpack, data, limits=lim)
    res, err = _call("unpack", _unpack_with_meta, data, limits=FUZZ_LIMITS)
    if (ref is None) != (res is None) and known_discrepancy(data):
        return "known"
    if (ref is None) != (res is None):
        if res is None and isinstance(err, codec.LimitError):
            return "error"  # the reference may have looser limits
        raise OracleFailure("reference-mismatch", f"codec {'raised ' + repr(err) if res is None else 'decoded'}"
                            f", reference {'raised ' + repr(rerr) if ref is None else 'decoded'}")
    if res is None:
        return "error"
    if list(res) != list(ref) or not all(_same(res[k], np.asarray(ref[k])) for k in res):
        raise OracleFailure("reference-mismatch", "codec and reference decoded different values")
    return "ok"


def known_discrepancy(data: bytes) -> str | None:
    """Reported core bugs the differential oracle tolerates until they are fixed (each has a
    strict-xfail test in tests/test_hostile.py that starts passing when the core is fixed)."""
    from codec.format import read_directory
    try:
        d = read_directory(np.frombuffer(data, np.uint8), FUZZ_LIMITS)
    except Exception:  # noqa: BLE001
        return None
    for e in d.tensors:
        if e.n_groups == 0 and e.payload_bytes != 0:  # test_empty_tensor_with_payload_rejected
            return "empty tensor with a non-empty payload"
    return None


def rewrite_directory(data: bytes, tables, tensors) -> bytes:
    """``data`` with its directory replaced by one written from (possibly edited) entries, in
    ``data``'s version (v2: chunk CRCs recomputed over the data area)."""
    from codec.format import footer, read_directory
    d = read_directory(np.frombuffer(data, np.uint8), codec.Limits(), check_crc=False)
    d.tables = tables
    dir_off = d.directory_offset
    dd = _directory_bytes(d, tensors, data)
    return data[:dir_off] + dd + footer(dir_off, dd, data[:PREAMBLE_SIZE])


# ---------------------------------------------------------------------------------------------
# helpers shared by the directory-kernel tests and the golden-vector tests

def draw_edits(data, raw: bytes) -> bytes:
    """``raw`` with 1-4 hypothesis-drawn edits (bit flip, byte set, cut, insert)."""
    from hypothesis import strategies as st
    buf = bytearray(raw)
    for _ in range(data.draw(st.integers(1, 4), label="edits")):
        kind = data.draw(st.sampled_from(["flip", "set", "cut", "insert"]))
        if not buf:
            break
        i = data.draw(st.integers(0, len(buf) - 1))
        if kind == "flip":
            buf[i] ^= 1 << data.draw(st.integers(0, 7))
        elif kind == "set":
            buf[i] = data.draw(st.integers(0, 255))
        elif kind == "cut":
            del buf[i:]
        else:
            buf[i:i] = bytes([data.draw(st.integers(0, 255))])
    return bytes(buf)


def golden_vector(folder, name: str) -> tuple[dict, dict, bytes]:
    """(JSON, {name: array} in package order, package bytes) of golden vector ``name`` in
    ``folder`` (a pathlib.Path: tests/vectors/vN)."""
    import json
    js = json.loads((folder / f"{name}.json").read_text(encoding="utf-8"))
    z = np.load(folder / f"{name}.npz")
    return js, {k: z[k] for k in js["order"]}, (folder / f"{name}.bin").read_bytes()


def golden_options(js: dict, version: int) -> dict:
    """``codec.pack`` options of a golden vector's JSON (group, max_tables, exact QuantMeta,
    mirror), written as ``version``."""
    meta = {k: codec.QuantMeta(bits=m["bits"], kind=m["kind"], axis=m["axis"], block=m["block"],
                               scale=np.frombuffer(bytes.fromhex(m["scale_hex"]),
                                                   "<f4" if m["scale_dtype"] == "float32"
                                                   else "<f8"),
                               zero_point=m["zero_point"])
            for k, m in js["meta"].items()}
    mirror = js.get("mirror")
    if isinstance(mirror, dict):
        mirror = {k: tuple(v) for k, v in mirror.items()}
    group = tuple(js["group"]) if isinstance(js["group"], list) else js["group"]
    opts = dict(group=group, max_tables=js["max_tables"], meta=meta or None, version=version,
                mirror=mirror)
    if "predict" in js:  # format v5 (§32); v6: [mode, shift] pairs (§34)
        pr = js["predict"]
        opts["predict"] = ({k: tuple(v) if isinstance(v, list) else v for k, v in pr.items()}
                           if isinstance(pr, dict) else pr)
    if "floor" in js:  # format v7 (§36): {name: true | floors}, 'auto' or null
        opts["floor"], opts["alias"] = js["floor"], js["alias"]
    return opts


# ---------------------------------------------------------------------------------------------
# the per-version sample tests (tests/test_format_v5.py, v6, v7)

def fast_path_takes_v4_sample(i: int) -> bool:
    """Whether the fast path decodes sample ``i`` written as v4 (a later version's sample is
    taken exactly when that one is)."""
    from codec.fastpath import unpack_fast
    from codec.format import DEFAULT_LIMITS
    s4 = sample_packages(4)[i]
    return unpack_fast(np.frombuffer(s4.data, np.uint8), DEFAULT_LIMITS, True) is not None


def check_sample_mutation(seed: int, samples: list, i: int, repaired: bool = False) -> None:
    """Sample ``i`` mutated (``mutate``, donors: the other samples): the exact arrays or a
    CodecError; with ``repaired`` CRCs, every reader consistent with the others and with
    the reference decoder."""
    s = samples[i]
    bad = mutate(np.random.default_rng(seed), s.data, [t.data for t in samples])
    if not repaired:
        check_exact(bad, s.arrays)
        return
    bad = fix_all_crcs(bad)
    check_consistent(bad)
    check_reference(bad)
