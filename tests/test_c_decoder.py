"""The portable C decoder (decoders/c) agrees byte for byte with codec.unpack.

Builds decoders/c with the system C compiler into a temporary directory (skipped, with the
reason, when no compiler is found) and checks, on format v1, v2, v3 and v4 packages alike:
  * hypothesis-generated packages (every dtype, grouping, metadata and table-pool option, empty
    and scalar shapes; v3, v4: some tensors with a forced mirror transform), the golden vectors
    tests/vectors/v1/*.bin, v2/*.bin (and v3/*.bin, v4/*.bin where present), and the real models
    in ../shared/weights quantized with benchmarks/recipe.py (v3, v4: silero, whose stft_conv
    gets the mirror), for both the 4096-entry-table build and the -DSPK_SMALL (canonical
    decoding) build;
  * v3 specifics (FORMAT.md §23-26): the worked example, every dtype with value offsets and
    extreme values (wrap-around), odd and even row halves, mirror_skip 0 and 1 and larger,
    groups that hold whole rows (streamed) or split them (SPK_E_LIMIT when streamed), mode 3
    (X4), forged X1-X3 violations, flag bit 7 in a v2 package;
  * v4 specifics (FORMAT.md §27-30): one-group tensors (no group table, the group's exact bit
    length in the entry), multi-group, empty, metadata and mirror tensors, dtype / shape
    repeats, the 12-byte footer, the table pool as one bit string (§28.1: the test's own pool
    writer reproduces codec's and the golden vectors; every table in each of the 20 list
    choices; T1v4-T6v4 forged in both list modes, same_alphabet, truncation inside the pool,
    with codec's error class), and directories forged field by field (every check of §30,
    also at random under the sanitizers, entry records and table fields);
  * v2 specifics: CRC chunks smaller and larger than blocks (a damaged chunk fails exactly the
    tensors whose blocks overlap it, also through spk_decode's remembered chunks), names of many
    tokens (SPK_MAX_NAME_TOKENS), the names-total limit (both versions);
  * the streaming API (one group at a time), spk_find and spk_tensor_at (cdecode --check-api);
  * an AddressSanitizer + UndefinedBehaviorSanitizer build fed truncated and bit-flipped packages,
    some with their CRCs recomputed so that the parser and the bitstream decoder see the damage:
    the decoder must exit 2, or 0 with exactly codec.unpack's output, and never crash;
  * the firmware-style example (decoders/c/example) built from a generated header;
  * a bounded libFuzzer run when CODEC_FUZZ=1 and clang is installed (CODEC_FUZZ_SECONDS, 30).
"""
from __future__ import annotations

import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import codec
from codec.format import read_directory

ROOT = Path(__file__).resolve().parent.parent
CDIR = ROOT / "decoders" / "c"


VERSIONS = (1, 2, 3, 4)  # the C decoder reads all four (FORMAT.md §1-15, §16-22, §23-26, §27-30)


def pack(*args, version: int, **kwargs) -> bytes:
    """``codec.pack`` writing format ``version``."""
    return codec.pack(*args, version=version, **kwargs)


VECTOR_FILES = sorted((ROOT / "tests" / "vectors").glob("v[1234]/*.bin"))
SAN_ENV = {"ASAN_OPTIONS": "detect_leaks=0:abort_on_error=0:exitcode=99",
           "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1:exitcode=98"}


def _compiler() -> str | None:
    for cc in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if cc and shutil.which(cc):
            return cc
    return None


CC = _compiler()
pytestmark = pytest.mark.skipif(CC is None or shutil.which("make") is None,
                                reason="no C compiler (cc/gcc/clang) or make on PATH")


def _make(build: Path, *targets: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "-s", "-C", str(CDIR), f"BUILD={build}", f"CC={CC}", *targets],
                          capture_output=True, text=True, env={**os.environ, **env})


@pytest.fixture(scope="session")
def cbuild(tmp_path_factory) -> Path:
    build = tmp_path_factory.mktemp("cbuild")
    r = _make(build, "all", "small", CFLAGS="-O2 -Werror")
    assert r.returncode == 0, r.stdout + r.stderr
    return build


@pytest.fixture(scope="session")
def mbuild(tmp_path_factory) -> Path:
    """The opt-in multi-set build (-DSPK_MULTI), -O2 and -Os (mbuild / "os")."""
    build = tmp_path_factory.mktemp("cmulti")
    r = _make(build, "all", "small", CFLAGS="-O2 -Werror -DSPK_MULTI")
    assert r.returncode == 0, r.stdout + r.stderr
    r = _make(build / "os", "all", CFLAGS="-Os -Werror -DSPK_MULTI")
    assert r.returncode == 0, r.stdout + r.stderr
    return build


def _asan(tmp_path_factory, name: str, **env) -> Path:
    build = tmp_path_factory.mktemp(name)
    r = _make(build, "asan", **env)
    if r.returncode != 0 and "sanitize" in (r.stderr + r.stdout):
        pytest.skip(f"the C compiler cannot build with sanitizers: {r.stderr[-300:]}")
    assert r.returncode == 0, r.stdout + r.stderr
    return build


@pytest.fixture(scope="session")
def asan_build(tmp_path_factory) -> Path:
    return _asan(tmp_path_factory, "casan")


@pytest.fixture(scope="session")
def asan_multi_build(tmp_path_factory) -> Path:
    return _asan(tmp_path_factory, "casanmulti", CPPFLAGS="-DSPK_MULTI")


def run_c(exe: Path, data: bytes, env=None) -> tuple[int, list[bytes] | None, str]:
    """Run ``cdecode`` on ``data``: (exit status, the .bin files in order, stderr)."""
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "in.spkg"
        src.write_bytes(data)
        out = Path(d) / "out"
        out.mkdir()
        r = subprocess.run([str(exe), str(src), str(out)], capture_output=True, text=True,
                           env={**os.environ, **(env or {})}, timeout=60)
        files = sorted(out.iterdir(), key=lambda p: int(p.stem))
        got = [p.read_bytes() for p in files] if r.returncode == 0 else None
        if r.returncode != 0:
            assert not files, "cdecode wrote tensors for a package it rejected"
        return r.returncode, got, r.stderr


def expected(data: bytes) -> list[bytes] | None:
    """codec.unpack's tensors as raw little-endian bytes, or None if it rejects the package."""
    try:
        ref = codec.unpack(data)
    except codec.CodecError:
        return None
    return [v.astype(v.dtype.newbyteorder("<")).tobytes() for v in ref.values()]


def meta_only_rejection(data: bytes) -> list[bytes] | None:
    """If codec.unpack rejects ``data`` only for its quantization metadata (which the C decoder
    skips by design: docs/C_DECODER.md), the tensors it decodes with metadata ignored."""
    from codec.package import Package
    try:
        d = read_directory(np.frombuffer(data, np.uint8))
    except codec.CodecError:
        return None
    try:
        codec.unpack(data)
    except codec.CodecError as exc:
        if exc.offset is None or not any(
                e.block_offset <= exc.offset < e.block_offset + e.meta_length for e in d.tensors):
            return None
    orig = Package._meta
    Package._meta = lambda self, e, parse=True: None
    try:
        return expected(data)
    finally:
        Package._meta = orig


SMALL_MAX_CODES = 1024  # SPK_SMALL_MAX_CODES in spkdec.h


def _max_codes(data: bytes) -> int:
    d = read_directory(np.frombuffer(data, np.uint8))
    return max((int((t.lengths > 0).sum()) for t in d.tables), default=0)


def check_agrees(build: Path, data: bytes, *, api: bool = False) -> None:
    exp = expected(data)
    assert exp is not None
    for exe in ("cdecode", "cdecode_small"):
        rc, got, err = run_c(build / exe, data)
        if exe == "cdecode_small" and rc == 2 and _max_codes(data) > SMALL_MAX_CODES:
            continue  # a documented limit of -DSPK_SMALL (SPK_E_LIMIT)
        assert rc == 0, f"{exe}: exit {rc}: {err}"
        assert len(got) == len(exp)
        for i, (g, e) in enumerate(zip(got, exp)):
            assert g == e, f"{exe}: tensor {i} differs"
    if api:
        with tempfile.NamedTemporaryFile(suffix=".spkg") as f:
            f.write(data)
            f.flush()
            for exe in ("cdecode", "cdecode_small"):
                r = subprocess.run([str(build / exe), "--check-api", f.name],
                                   capture_output=True, text=True, timeout=60)
                assert r.returncode == 0, f"{exe} --check-api: {r.stdout}{r.stderr}"


# --------------------------------------------------------------------------------- generated

DTYPES = ["int8", "uint8", "int16", "uint16", "int32", "uint32"]
GROUPS = ["auto", "kernel", ("kernels", 2), ("count", 1), ("count", 7), ("count", 300), "tensor"]
SHAPES = [(), (0,), (1,), (37,), (3, 0, 2), (6, 5), (4, 3, 3, 3), (2, 700), (9000,)]


@st.composite
def tensors(draw):
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    shape = draw(st.sampled_from(SHAPES))
    info = np.iinfo(dtype)
    n = int(np.prod(shape, dtype=np.int64))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    kind = draw(st.sampled_from(["sparse", "dense", "extreme", "const", "offset"]))
    density = draw(st.sampled_from([0.0, 0.02, 0.3, 0.9, 1.0]))
    if kind == "extreme":
        vals = rng.choice(np.array([info.min, info.max, 0, 1, -1 if info.min < 0 else 2]), n)
    elif kind == "const":
        vals = np.full(n, draw(st.integers(int(info.min), int(info.max))))
    else:
        bits = draw(st.integers(1, info.bits - 1))
        lo = max(int(info.min), -(1 << bits))
        hi = min(int(info.max), (1 << bits))
        vals = rng.integers(lo, hi, n, endpoint=True)
    zero = 0
    if kind == "offset":
        zero = draw(st.integers(int(info.min), int(info.max)))
    vals = np.where(rng.random(n) < density, vals, zero)
    return np.asarray(vals, dtype=np.int64).clip(info.min, info.max).astype(dtype).reshape(shape)


@st.composite
def packages(draw):
    k = draw(st.integers(1, 4))
    names = draw(st.lists(st.sampled_from(["w", "w.bias", "w.b", "conv1.weight", "conv1.w",
                                           "", "головa", "x" * 40]),
                          min_size=k, max_size=k, unique=True))
    ts = {nm: draw(tensors()) for nm in names}
    group = draw(st.sampled_from(GROUPS))
    max_tables = draw(st.sampled_from([1, 2, 1024]))
    meta = None
    if draw(st.booleans()):
        meta = {nm: codec.QuantMeta(bits=8, scale=np.float32([0.5])) for nm in names[:1]}
    version = draw(st.sampled_from(VERSIONS))
    mirror = {}
    if version >= 3:  # a forced mirror (P = the last dim or numel, a = 0 .. 2) on some tensors
        for nm, x in ts.items():
            cands = sorted({p for p in (x.shape[-1] if x.ndim else 0, x.size)
                            if p >= 2 and x.size % p == 0})
            if cands and draw(st.booleans()):
                period = draw(st.sampled_from(cands))
                mirror[nm] = (period, draw(st.integers(0, min(period - 2, 2))))
    try:
        return pack(ts, group=group, max_tables=max_tables, meta=meta, version=version,
                    mirror=mirror or "auto")
    except ValueError:  # a forced mirror that moves an unsigned tensor's most frequent value
        return pack(ts, group=group, max_tables=max_tables, meta=meta, version=version)


def _as_v3(data: bytes) -> bytes:
    """``data`` with preamble version 3 and the directory CRC recomputed (if it has a footer)."""
    b = bytearray(data)
    if len(b) >= 32:
        b[4] = 3
        dir_off, dir_len = struct.unpack_from("<QQ", b, len(b) - 24)
        if dir_off + dir_len == len(b) - 24:
            crc = zlib.crc32(bytes(b[dir_off:len(b) - 24]), zlib.crc32(bytes(b[:8])))
            struct.pack_into("<I", b, len(b) - 8, crc)
    return bytes(b)


@settings(max_examples=int(os.environ.get("CODEC_C_EXAMPLES", "40")), deadline=None)
@given(data=packages())
def test_generated_packages(cbuild, data):
    check_agrees(cbuild, data)


@pytest.mark.parametrize("version", VERSIONS)
def test_generated_api(cbuild, version):
    rng = np.random.default_rng(5)
    x = rng.integers(-50, 50, (16, 3, 5, 5)).astype(np.int16)
    x[rng.random(x.shape) < 0.7] = 0
    for group in GROUPS:
        data = pack({"a.weight": x, "a.bias": x[0, 0].astype(np.uint8),
                     "b": np.zeros((0, 4), np.int32), "s": np.array(7, np.uint32)},
                    group=group, version=version)
        check_agrees(cbuild, data, api=True)
    check_agrees(cbuild, _names_package(version), api=True)


def _names_package(version: int) -> bytes:
    """Names sharing tokens / prefixes in every way spk_find must follow (v2: token sequences;
    34 tokens, so spk_pkg's token-offset cache is strided)."""
    rng = np.random.default_rng(6)
    names = ["model.0.conv.weight", "model.0.conv.bias", "model.0.bn.weight", "model.1.conv.weight",
             "model.10.conv.weight", "model.1", "model.", "model", "", "x_y_z/w:0", "x_y_z/w:1",
             "x_y", "головa.weight", "a" * 300 + ".b", "a" * 300 + ".c"]
    names += [f"blk{i}.sub{i % 3}.w" for i in range(12)] + ["model.0.conv.weight.x"]
    ts = {nm: rng.integers(-3, 4, (i % 4 + 1, 5)).astype(np.int8) for i, nm in enumerate(names)}
    return pack(ts, version=version)


@pytest.mark.parametrize("version", VERSIONS)
def test_whole_set_entries(cbuild, tmp_path, version):
    """The decode table's whole-set entries (a value's code, remainder bits and sign within the
    12 looked-up bits, |value| < 2^14: docs/C_DECODER.md): magnitudes at that bound, zero runs
    of hundreds, value offsets, every 16/32-bit dtype; also the -DSPK_NO_WHOLE build."""
    r = _make(tmp_path, "all", CFLAGS="-O2 -Werror -DSPK_NO_WHOLE")
    assert r.returncode == 0, r.stdout + r.stderr
    rng = np.random.default_rng(11)
    n = 20000
    for center in (1, 100, 8191, 8192, 16383, 16384, 20000):
        for density in (1.0, 0.5, 0.001):
            v = (center + rng.integers(-3, 4, n)) * rng.choice([-1, 1], n)
            v[rng.random(n) >= density] = 0
            data = pack({"a": v.astype(np.int16), "b": (v + 30000).astype(np.int32),
                         "c": (v + 32768).astype(np.uint16),
                         "d": (v + 40000).astype(np.uint32)}, group="tensor", version=version)
            check_agrees(cbuild, data)
            rc, got, err = run_c(tmp_path / "cdecode", data)
            assert rc == 0 and got == expected(data), f"SPK_NO_WHOLE: exit {rc} {err}"


@pytest.mark.parametrize("version", VERSIONS)
def test_whole_set_longest_run(cbuild, version):
    """A whole-set entry with the longest zero run a value can have (nrun - 1 = 4095, which the
    encoder does not choose): decoded when it fits the group, rejected one value short."""
    from codec.format import Table, TensorEntry
    lengths = np.zeros(2 + 4096, np.uint8)
    lengths[[0, 2, 2 + 4095]] = (1, 2, 2)  # end '0', (run 0, +-1) '10', (run 4095, +-1) '11'

    def package(n: int, bits: str) -> bytes:
        pay = int(bits.ljust(-(-len(bits) // 8) * 8, "0"), 2).to_bytes(-(-len(bits) // 8), "big")
        if version >= 4:  # one group: no group table, its length in the entry
            e = TensorEntry("w", np.dtype(np.int16), (n,), "count", n, 0, 8, len(pay), 0, 0, 0,
                            0, 0, glen=len(bits))
            return _package([Table(0, 4096, 1, lengths)], [e], pay, version=version)
        block = bytes([len(bits)]) + pay  # group table: len_bits 8, one group
        e = TensorEntry("w", np.dtype(np.int16), (n,), "count", n, 0, 8, len(block),
                        zlib.crc32(block), 0, 0, 0, 8)
        return _package([Table(0, 4096, 1, lengths)], [e], block, version=version)

    for n, bits in ((4096, "1100"), (4096, "1110"), (4097, "1101000"), (4098, "1111010")):
        check_agrees(cbuild, package(n, bits))
    bad = package(4095, "1100")  # the run and its value reach past the group's end
    assert expected(bad) is None
    for exe in ("cdecode", "cdecode_small"):
        assert run_c(cbuild / exe, bad)[0] == 2


def _multi_states(exe: Path, data: bytes, env=None) -> list[tuple[int, int, int]]:
    """``cdecode --multi``: (index, spk_decode's return, spk_dec.multi after it) per tensor."""
    with tempfile.NamedTemporaryFile(suffix=".spkg") as f:
        f.write(data)
        f.flush()
        r = subprocess.run([str(exe), "--multi", f.name], capture_output=True, text=True,
                           env={**os.environ, **(env or {})}, timeout=60)
    assert r.returncode == 0, r.stderr
    return [tuple(map(int, ln.split())) for ln in r.stdout.splitlines()]


def _dense4_package(version: int, seed: int = 21, group="auto", max_tables: int = 1024) -> bytes:
    """Dense 4-bit weights (2-3 whole sets per 12 bits: multi-set entries, docs/C_DECODER.md),
    >= 64 Kbit a table: int8 around 0; int8 at the top of its range (value offset ~123, so a
    set's value can leave the dtype: the entry's range checks); uint8 from 0; int16 and
    uint32 with an offset; a sparse 4-bit tensor (its table is not worth them)."""
    rng = np.random.default_rng(seed)
    d4 = lambda shape: rng.integers(-8, 8, shape)  # noqa: E731
    sparse = d4(40000)
    sparse[rng.random(40000) < 0.9] = 0
    return pack({"conv.weight": d4((64, 64, 3, 3)).astype(np.int8),
                 "edge": (120 + rng.integers(0, 8, 40000)).astype(np.int8),
                 "u8": rng.integers(0, 16, 40000).astype(np.uint8),
                 "i16": (d4(30000) - 300).astype(np.int16),
                 "u32": (d4(30000) + 70000).astype(np.uint32),
                 "sparse": sparse.astype(np.int8),
                 "fc.weight": d4((8, 3000)).astype(np.int8)},
                group=group, max_tables=max_tables, version=version)


@pytest.mark.parametrize("version", VERSIONS)
def test_multi_set_entries(cbuild, mbuild, tmp_path, version):
    """Multi-set decode-table entries (opt-in, -DSPK_MULTI: up to three whole sets a lookup,
    for tables whose entries average >= 2 sets and tensors that decode >= 64 Kbit with them):
    used on dense 4-bit packages (cdecode --multi), values identical to codec.unpack and to
    the default build (no multi-set entries), with every grouping (groups of 7 values: many
    entries hold the end of the group, where the chain of sets stops) and table pool; also
    the -Os -DSPK_MULTI build (its own loops).  -DSPK_NO_MULTI overrides -DSPK_MULTI."""
    r = _make(tmp_path, "all", CFLAGS="-O2 -Werror -DSPK_MULTI -DSPK_NO_MULTI")
    assert r.returncode == 0, r.stdout + r.stderr
    os_build = mbuild / "os"
    used = 0
    for group, max_tables in (("auto", 1024), ("tensor", 1), (("count", 7), 2), ("kernel", 4)):
        data = _dense4_package(version, group=group, max_tables=max_tables)
        check_agrees(cbuild, data, api=True)
        check_agrees(mbuild, data, api=True)
        rc, got, err = run_c(os_build / "cdecode", data)
        assert rc == 0 and got == expected(data), f"-Os -DSPK_MULTI: exit {rc} {err}"
        assert _multi_states(os_build / "cdecode", data) == _multi_states(mbuild / "cdecode", data)
        states = _multi_states(mbuild / "cdecode", data)
        assert all(s[1] == 0 for s in states)
        used += sum(s[2] == 1 for s in states)
        for exe in (cbuild / "cdecode", cbuild / "cdecode_small", tmp_path / "cdecode"):
            assert {s[2] for s in _multi_states(exe, data)} == {-1}, exe  # no multi-set entries
    assert used >= 8  # the dense tensors of the larger groupings


@pytest.mark.parametrize("n", [999, 1000, 1001])
@pytest.mark.parametrize("version", VERSIONS)
def test_multi_set_group_end(cbuild, mbuild, n, version):
    """A group with one or two values too many (each value a 2-bit set, so the value at the
    group's end is the first, second or third set of a multi-set entry, as n % 3 varies) and
    its length covering them: rejected as by codec.unpack (the entry's check that its last
    set lies within the group, then the first set alone); the same groups without the extra
    values decode."""
    from codec.format import Table, TensorEntry
    # +-1: '0' sign, +-(2 + r): '10' r sign, end '110', escape '111' (2.2 sets a lookup)
    table = Table(0, 1, 2, np.array([3, 3, 1, 2], np.uint8))
    G = 40  # 40 groups of ~2000 bits: >= 64 Kbit with this table
    rng = np.random.default_rng(n)

    def tob(b: str) -> bytes:
        return int(b.ljust(-(-len(b) // 8) * 8, "0"), 2).to_bytes(-(-len(b) // 8), "big")

    def package(extra: dict[int, int]) -> bytes:
        gt, pay = [], []
        for g in range(G):
            bits = "".join("0" + str(s) for s in rng.integers(0, 2, n + extra.get(g, 0))) + "110"
            gt.append(format(len(bits), "016b"))
            pay.append(bits)
        block = tob("".join(gt)) + tob("".join(pay))
        e = TensorEntry("w", np.dtype(np.int8), (G * n,), "count", n, 0, 8, len(block),
                        zlib.crc32(block), 0, 0, 0, 16)
        return _package([table], [e], block, version=version)

    good = package({})
    check_agrees(cbuild, good)
    assert run_c(mbuild / "cdecode", good)[1] == expected(good)
    assert run_c(mbuild / "os" / "cdecode", good)[1] == expected(good)
    assert _multi_states(mbuild / "cdecode", good) == [(0, 0, 1)]
    for extra in ({0: 1}, {17: 2}, {G - 1: 1}, {G - 1: 2}, {5: 3}):
        bad = package(extra)
        assert expected(bad) is None
        for exe in (cbuild / "cdecode", cbuild / "cdecode_small", mbuild / "cdecode",
                    mbuild / "os" / "cdecode"):
            assert run_c(exe, bad)[0] == 2, (exe, extra)


@pytest.mark.parametrize("version", VERSIONS)
def test_sanitizers_on_multi_set_packages(asan_multi_build, version):
    """Damaged dense 4-bit packages (multi-set entries in use, -DSPK_MULTI: bits flipped and
    bytes replaced in the payload with the CRCs recomputed, so the damage reaches the symbol
    loop): the sanitizer builds exit 2 exactly where codec.unpack rejects, else give its
    values."""
    asan_build = asan_multi_build
    seed = _dense4_package(version, seed=5, group=("count", 40))
    assert any(s[2] == 1 for s in _multi_states(asan_build / "cdecode_asan", seed, SAN_ENV))
    d = read_directory(np.frombuffer(seed, np.uint8))
    pr = random.Random(77)
    stats = {"exit0": 0, "exit2": 0, "meta": 0}
    for _ in range(3 * int(os.environ.get("CODEC_C_EXAMPLES", "40"))):
        e = pr.choice([e for e in d.tensors if e.block_length > 64])
        b = bytearray(seed)
        k = pr.randrange(e.block_offset + e.block_length // 8, e.block_offset + e.block_length)
        if pr.random() < 0.7:
            b[k] ^= 1 << pr.randrange(8)
        else:
            b[k] = pr.randrange(256)
        _fix_crcs.orig = seed
        _check_sanitized(asan_build, bytes(_fix_crcs(b, k)), "multi", stats)
    assert stats["exit2"] > 0 and stats["exit0"] > 0


@pytest.mark.parametrize("cache", [1, 3])
@pytest.mark.parametrize("version", VERSIONS)
def test_small_table_offset_cache(tmp_path, cache, version):
    """More tables than SPK_TABLE_CACHE: spk_dec remembers every ceil(ntables / cache)-th
    table's offset and parses forward from there (docs/C_DECODER.md); groups switch between
    tables, consecutive tensors share some (the table still loaded goes first).  The same
    for v2 name tokens and SPK_TOKEN_CACHE."""
    r = _make(tmp_path, "all", "small",
              CFLAGS=f"-O2 -Werror -DSPK_TABLE_CACHE={cache} -DSPK_TOKEN_CACHE={cache}")
    assert r.returncode == 0, r.stdout + r.stderr
    rng = np.random.default_rng(3)
    ts = {}
    for k in range(3):
        rows = []
        for g in range(40):
            bits, dens = 1 + (g * 7 + k) % 14, (0.02, 0.3, 0.95)[g % 3]
            v = rng.integers(-(1 << bits), 1 << bits, 4096)
            v[rng.random(4096) > dens] = 0
            rows.append(v)
        ts[f"t{k}"] = np.concatenate(rows).astype(np.int16)
    data = pack(ts, group=("count", 4096), max_tables=1024, version=version)
    assert len(read_directory(np.frombuffer(data, np.uint8)).tables) > 3 * cache
    check_agrees(tmp_path, data, api=True)
    check_agrees(tmp_path, _names_package(version), api=True)  # and SPK_TOKEN_CACHE
    for p in VECTOR_FILES:
        vec = p.read_bytes()
        exp = expected(vec)
        for exe in ("cdecode", "cdecode_small"):
            rc, got, _ = run_c(tmp_path / exe, vec)
            assert (rc == 2) if exp is None else (rc == 0 and got == exp), f"{p.name}: {exe}"


@pytest.mark.parametrize("only", VERSIONS)
def test_single_version_builds(tmp_path, only):
    """-DSPK_ONLY_V1 .. -DSPK_ONLY_V4 (smaller firmware builds): packages of that version decode
    as codec.unpack decodes them, the other versions are SPK_E_UNSUPPORTED."""
    r = _make(tmp_path, "all", "small", CFLAGS=f"-O2 -Werror -DSPK_ONLY_V{only}")
    assert r.returncode == 0, r.stdout + r.stderr
    for p in VECTOR_FILES:
        data = p.read_bytes()
        exp = expected(data)
        for exe in ("cdecode", "cdecode_small"):
            rc, got, err = run_c(tmp_path / exe, data)
            if p.parent.name != f"v{only}":
                assert rc == 2 and "error -2" in err, (p, exe, rc, err)
            else:
                assert (rc == 2) if exp is None else (rc == 0 and got == exp), (p, exe, err)
    check_agrees(tmp_path, _names_package(only), api=True)
    for v in (3, 4):  # mirror tensors: the build of that version reads them, the others -2
        mp = _mirror_package(v)
        for exe in ("cdecode", "cdecode_small"):
            rc, got, err = run_c(tmp_path / exe, mp)
            if only == v:
                assert rc == 0 and got == expected(mp), (exe, err)
            else:
                assert rc == 2 and "error -2" in err, (exe, rc, err)
    if only == 4:
        check_agrees(tmp_path, _v4_package(), api=True)


# --------------------------------------------------------------------------------- vectors

def _agree_on_vectors(build: Path, files) -> int:
    """Both builds of ``build`` on the golden vectors ``files``: codec.unpack's values, or exit
    2 where it rejects one; returns how many decoded."""
    n = 0
    for p in files:
        data = p.read_bytes()
        exp = expected(data)
        for exe in ("cdecode", "cdecode_small"):
            rc, got, err = run_c(build / exe, data)
            if exp is None:
                assert rc == 2, f"{p.name}: codec.unpack rejects it, {exe} exit {rc}"
            else:
                assert rc == 0 and got == exp, f"{p.name}: {exe} exit {rc} {err}"
        n += exp is not None
    return n


@pytest.mark.skipif(not VECTOR_FILES, reason="no golden vectors in tests/vectors/v1 .. v4")
def test_golden_vectors(cbuild):
    assert {"v1", "v2"} <= {p.parent.name for p in VECTOR_FILES} <= {"v1", "v2", "v3", "v4"}
    _agree_on_vectors(cbuild, VECTOR_FILES)


# --------------------------------------------------------------------------------- real models

def _real_packages():
    from benchmarks.recipe import MODELS, quantized_model, weights_dir
    if not weights_dir().is_dir():
        pytest.skip(f"real weights not found at {weights_dir()} (set CODEC_WEIGHTS)")
    for m in MODELS:
        for bits, sp in ((8, 0.0), (4, 0.9)):
            q = quantized_model(m, bits, sp)
            for version in VERSIONS:
                if version == 3 and not m.startswith("silero"):
                    continue  # v3: silero, whose stft_conv.weight gets the mirror (§25)
                yield f"{m}-{bits}b-{sp}-v{version}", pack(q, version=version)


def test_real_models(cbuild, shared_weights):
    n = mirrors = 0
    for name, data in _real_packages():
        check_agrees(cbuild, data, api=name.startswith(("silero", "fer")))
        n += 1
        if name.endswith(("-v3", "-v4")):
            d = read_directory(np.frombuffer(data, np.uint8))
            mirrors += sum(e.mirror_period > 0 for e in d.tensors)
    assert n
    assert mirrors  # the silero STFT basis is stored mirrored


def test_groups_over_64_tables(cbuild, shared_weights):
    """yolov8n 8-bit 50 %: tensors whose groups pick among up to 128 tables (tid_bits 7) go
    through spk_decode's table-by-table path (since session 16; before, group by group with a
    decode-table build at every switch): the values are codec.unpack's, also through the
    streaming API (--check-api: group by group)."""
    from benchmarks.recipe import quantized_model
    data = pack(quantized_model("nudenet_yolov8n_320", 8, 0.5), version=4)
    d = read_directory(np.frombuffer(data, np.uint8))
    assert any(e.tid_bits == 7 for e in d.tensors)
    check_agrees(cbuild, data, api=True)


def test_decode_many_tensor_by_tensor_fallback(tmp_path_factory, shared_weights):
    """spk_decode_many past SPK_MANY_MAX_WORK (tables x groups) decodes tensor by tensor (a
    build with the bound 0 takes that path for every package): the values are still
    codec.unpack's, on real packages and on every v4 golden vector that decodes."""
    from benchmarks.recipe import quantized_model
    build = tmp_path_factory.mktemp("cmany0")
    r = _make(build, "all", "small", CFLAGS="-O2 -Werror -DSPK_MANY_MAX_WORK=0")
    assert r.returncode == 0, r.stdout + r.stderr
    for m, bits, sp in (("mtcnn_facenet_pytorch", 8, 0.5), ("silero_vad_16k", 4, 0.9)):
        check_agrees(build, pack(quantized_model(m, bits, sp), version=4), api=True)
    assert _agree_on_vectors(build, [p for p in VECTOR_FILES if p.parent.name == "v4"])


def _package(tables, entries, blocks=b"", *, version: int = 1, chunk_log2: int = 16) -> bytes:
    """A package of these tables, entries and data area (v2-v4: blocks back to back from offset
    8, chunk CRCs computed over ``blocks``; v4: an entry with ``glen`` has no group table)."""
    from codec import format_v2
    from codec.format import DTYPE_CODES, footer, preamble, write_directory
    pre = preamble(version=version)
    if version == 1:
        dirb = write_directory(tables, entries)
    else:
        dirb = format_v2.directory_over(tables, entries, DTYPE_CODES, blocks, chunk_log2,
                                        version=version)
    return pre + blocks + dirb + footer(len(pre) + len(blocks), dirb, pre)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("count, want", [
    (b"\xff" * 9 + b"\x01", 5),   # 2^64 - 1: a table count over the reader's limit
    (b"\xff" * 9 + b"\x02", 3),   # 2^64: no 64-bit field holds it
    (b"\x80" * 9 + b"\x7f", 3),   # 127 * 2^63
    (b"\xff" * 10 + b"\x00", 3),  # an 11th byte
], ids=["2^64-1", "2^64", "127*2^63", "11 bytes"])
def test_overlong_table_count(cbuild, version, count, want):
    """The directory's first field, n_tables, as a 10- or 11-byte varint: both decoders give
    the same verdict (FORMAT.md, varint: a value of 2^64 or more is corrupt whatever the
    field; up to 2^64 - 1 the field's bound decides), the reference parser too."""
    from codec.format import footer
    from codec.reference import decoder as ref
    data = pack({"w": np.arange(-20, 20, dtype=np.int8)}, version=version)
    _, off, dlen = _footer(data)
    raw = data[off:off + dlen]
    assert raw[0] < 0x80  # a one-byte n_tables
    forged = count + raw[1:]
    bad = data[:off] + forged + footer(off, forged, data[:8])
    assert _py_code(bad) == want
    assert _c_code(cbuild / "cdecode", bad) == want
    with pytest.raises(codec.LimitError if want == 5 else codec.CorruptError):
        ref.unpack(bad)


@pytest.mark.parametrize("version", VERSIONS)
def test_empty_tensor_with_stray_payload_is_rejected(cbuild, version):
    """Bytes after an empty tensor's metadata (FORMAT.md G3 with no groups): both reject."""
    data = pack({"e": np.zeros((0,), np.int8)},
                meta={"e": codec.QuantMeta(bits=8, scale=np.float32([1.0]))}, version=version)
    d = read_directory(np.frombuffer(data, np.uint8))
    e = d.tensors[0]
    block = data[e.block_offset:e.block_offset + e.block_length] + b"\x00"
    e.block_length += 1
    e.crc32 = zlib.crc32(block)
    pkg = _package(d.tables, d.tensors, block, version=version)
    assert expected(pkg) is None
    for exe in ("cdecode", "cdecode_small"):
        assert run_c(cbuild / exe, pkg)[0] == 2


@pytest.mark.parametrize("case", ["tables", "symbols"])
@pytest.mark.parametrize("version", VERSIONS)
def test_reader_limits(cbuild, case, version):
    """Limits.max_tables and Limits.max_table_symbols: both decoders reject, at the boundary
    both accept."""
    from codec.format import DEFAULT_LIMITS, Table
    if case == "tables":
        n, nrun, nclass = DEFAULT_LIMITS.max_tables, 1, 1
    else:
        nrun, nclass = 2047, 32  # 65506 symbols a table
        n = DEFAULT_LIMITS.max_table_symbols // (2 + nrun * nclass)
    for count, ok in ((n, True), (n + 1, False)):
        lengths = np.zeros(2 + nrun * nclass, np.uint8)
        lengths[0] = 1  # a lone end-of-group code
        pkg = _package([Table(0, nrun, nclass, lengths)] * count, [], version=version)
        assert (expected(pkg) is not None) == ok
        for exe in ("cdecode", "cdecode_small"):
            assert run_c(cbuild / exe, pkg)[0] == (0 if ok else 2), (exe, count)


# --------------------------------------------------------------------------------- v2 specifics

def _each(exe: Path, data: bytes) -> list[tuple[int, int]]:
    """``cdecode --each``: (index, spk_decode's return) in order, then in reverse order."""
    with tempfile.NamedTemporaryFile(suffix=".spkg") as f:
        f.write(data)
        f.flush()
        r = subprocess.run([str(exe), "--each", f.name], capture_output=True, text=True,
                           timeout=60)
    assert r.returncode == 0, r.stderr
    return [tuple(map(int, ln.split())) for ln in r.stdout.splitlines()]


@pytest.mark.parametrize("version", [2, 4])
@pytest.mark.parametrize("chunk_log2", [6, 9, 16])
def test_v2_chunks(cbuild, chunk_log2, version):
    """v2 chunk CRCs (FORMAT.md §19) with chunks smaller and larger than blocks: valid packages
    decode; a damaged data byte fails exactly the tensors whose blocks overlap its chunk (as
    codec's Package.read), through spk_decode alone (chunks spk_dec remembers as verified must
    not hide it: in order and in reverse order), and cdecode rejects the package."""
    from codec.package import Package
    rng = np.random.default_rng(7)
    sizes = [5, 300, 40, 2000, 1, 0, 700, 90, 3]
    ts = {f"t{i}": rng.integers(-20, 20, (n,)).astype(np.int8) for i, n in enumerate(sizes)}
    base = pack(ts, version=version, group=("count", 64))
    d = read_directory(np.frombuffer(base, np.uint8))
    area = base[8:d.directory_offset]
    pkg = _package(d.tables, d.tensors, area, version=version, chunk_log2=chunk_log2)
    check_agrees(cbuild, pkg, api=True)
    n = len(ts)
    assert _each(cbuild / "cdecode", pkg) == [(i, 0) for i in range(n)] + \
        [(i, 0) for i in reversed(range(n))]
    spots = sorted(set(rng.integers(8, d.directory_offset, 10).tolist()) | {8, d.directory_offset - 1})
    for at in spots:
        bad = bytearray(pkg)
        bad[at] ^= 0x10
        bad = bytes(bad)
        c = (at - 8) >> chunk_log2
        lo, hi = 8 + (c << chunk_log2), 8 + ((c + 1) << chunk_log2)
        fails = {i for i, e in enumerate(d.tensors)
                 if e.block_length and e.block_offset < hi and e.block_offset + e.block_length > lo}
        assert fails
        py = set()
        for i, e in enumerate(d.tensors):
            try:
                Package(bad).read(e.name)
            except codec.ChecksumError:
                py.add(i)
        assert py == fails, at
        for exe in ("cdecode", "cdecode_small"):
            got = _each(cbuild / exe, bad)
            assert {i for i, rc in got[:n] if rc} == fails, (exe, at)
            assert {i for i, rc in got[n:] if rc} == fails, (exe, at)
            assert all(rc in (0, -4) for _, rc in got)  # SPK_E_CHECKSUM
            assert run_c(cbuild / exe, bad)[0] == 2


def test_v2_name_tokens(cbuild):
    """v2 names are token sequences; the C decoder keeps the previous name's token ends in
    spk_tensor, so it reads names of up to SPK_MAX_NAME_TOKENS (64) tokens: a name of 65 tokens
    is SPK_E_LIMIT there (a documented limit of its own; codec.unpack decodes it, and v1 has no
    tokens).  Names sharing long token prefixes, and spk_find on them."""
    x = np.arange(6, dtype=np.int8)
    ok = pack({"a." * 63 + "w": x, "a." * 62 + "b.w": x, "a." * 63 + "v": x, "a.w": x},
              version=2)
    check_agrees(cbuild, ok, api=True)
    over = pack({"a.w": x, "a." * 64 + "w": x}, version=2)
    assert expected(over) is not None
    for exe in ("cdecode", "cdecode_small"):
        rc, _, err = run_c(cbuild / exe, over)
        assert rc == 2 and "error -5" in err, (exe, rc, err)
    check_agrees(cbuild, pack({"a.w": x, "a." * 64 + "w": x}, version=1))


@pytest.mark.parametrize("version", VERSIONS)
def test_names_total_limit(cbuild, version):
    """Limits.max_names_bytes (E2b: all names together <= 2^26 bytes), which front coding (v1)
    or shared tokens (v2: a few bits a name) can exceed with a small directory: 1024 names of
    64 KiB are accepted by both decoders, 1025 rejected by both."""
    import string
    from codec.format import DEFAULT_LIMITS, TensorEntry
    alphabet = string.ascii_letters + string.digits + "-+"
    prefix = "a" * (DEFAULT_LIMITS.max_name_bytes - 3) + "."
    for count, ok in ((1024, True), (1025, False)):
        names = [prefix + alphabet[i // 64] + alphabet[i % 64] for i in range(count)]
        if version >= 2:
            entries = [TensorEntry(nm, np.dtype(np.int8), (0,), "count", 1, 0, 8, 0, 0, 0, 0, 0,
                                   0) for nm in names]
            pkg = _package([], entries, version=version)
        else:  # (write_directory's prefix search is slow on 64 KiB names): the entries by hand
            from codec._bytes import put_varint
            from codec.format import footer, preamble
            dirb = bytearray(b"\x00")  # no tables
            put_varint(dirb, count)
            for i, nm in enumerate(names):
                shared = 0 if i == 0 else len(prefix) + (nm[-2] == names[i - 1][-2])
                put_varint(dirb, shared)
                put_varint(dirb, len(nm) - shared)
                dirb += nm[shared:].encode()
                # int8, 1 dim of 0, count, group size 1, offset 0, block 8+0, crc 0, meta 0, widths 0
                dirb += bytes([1, 1, 0, 0, 1, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0])
            pre = preamble(version=1)
            pkg = pre + bytes(dirb) + footer(8, bytes(dirb), pre)
        assert len(pkg) < 300_000
        assert (expected(pkg) is not None) == ok
        for exe in ("cdecode", "cdecode_small"):
            rc, got, err = run_c(cbuild / exe, pkg)
            assert rc == (0 if ok else 2), (exe, count, err)


@pytest.mark.parametrize("version", VERSIONS)
def test_empty_shape_limits(cbuild, version):
    """E7b (both versions): an empty tensor's shape with its zero dims read as 1 must fit
    max_output_bytes (2^31): (0, 2^15, 2^16) int8 passes, int16 does not; v2 E8: a
    kernel-coded empty tensor whose K (= 2^49, behind a zero first dim) exceeds 2^48."""
    from codec.format import TensorEntry
    cases = [((0, 1 << 15, 1 << 16), np.int8, "count", True),
             ((0, 1 << 15, 1 << 16), np.int16, "count", False),
             ((1 << 16, 0, 1 << 16), np.int16, "count", False),
             ((0, 1 << 24, 1 << 25), np.int8, "kernel", False)]
    for shape, dt, mode, ok in cases:
        gsize = int(np.prod(shape[1:])) if mode == "kernel" else 1
        e = TensorEntry("e", np.dtype(dt), shape, mode, gsize, 0, 8, 0, 0, 0, 0, 0, 0)
        pkg = _package([], [TensorEntry("a", np.dtype(np.int8), (0,), "count", 1, 0, 8, 0, 0,
                                        0, 0, 0, 0), e], version=version)
        assert (expected(pkg) is not None) == ok, (shape, dt)
        for exe in ("cdecode", "cdecode_small"):
            assert run_c(cbuild / exe, pkg)[0] == (0 if ok else 2), (exe, shape, dt, mode)


# --------------------------------------------------------------------------------- v3 specifics

def _wrap(v, dtype) -> np.ndarray:
    """int64 values modulo the dtype's width, into its range (FORMAT.md §23's wrap)."""
    info = np.iinfo(dtype)
    u = np.asarray(v, np.int64) & np.int64((1 << info.bits) - 1)
    if info.min < 0:
        u = np.where(u >= 1 << (info.bits - 1), u - (1 << info.bits), u)
    return u.astype(dtype)


def _mirror_rows(rng, dtype, n_rows: int, period: int, skip: int, zero: int = 0) -> np.ndarray:
    """``n_rows`` rows of ``period`` values, each symmetric, antisymmetric (about ``zero``,
    modulo the dtype's width: values at the dtype's extremes wrap) or neither, a few with one
    value off the symmetry; most values ``zero`` (so it stays an unsigned tensor's most
    frequent value)."""
    info = np.iinfo(dtype)
    x = rng.integers(int(info.min), int(info.max), (n_rows, period), endpoint=True)
    x = np.where(rng.random(x.shape) < 0.15, rng.choice([int(info.min), int(info.max)], x.shape), x)
    x = np.where(rng.random(x.shape) < 0.45, zero, x)
    h = (period - skip) // 2
    if h:
        mir = (x[:, skip:skip + h] - zero)[:, ::-1]
        kind = np.arange(n_rows) % 3
        x[kind == 1, period - h:] = zero + mir[kind == 1]
        x[kind == 2, period - h:] = zero - mir[kind == 2]
        off = (np.arange(n_rows) % 5 == 4)
        x[off, period - 1] += 1  # off the symmetry by one: a nonzero stored difference
    return _wrap(x, dtype)


def _mirror_package(version: int = 3) -> bytes:
    """A v3 (v4) package with mirror tensors of three dtypes and a plain one."""
    rng = np.random.default_rng(31)
    return pack({"stft": _mirror_rows(rng, np.int8, 10, 8, 1),
                 "u8": _mirror_rows(rng, np.uint8, 7, 9, 0, zero=131),
                 "i32": _mirror_rows(rng, np.int32, 4, 6, 0),
                 "plain": rng.integers(-5, 5, (3, 7)).astype(np.int16)},
                group="kernel", version=version,
                mirror={"stft": (8, 1), "u8": (9, 0), "i32": (6, 0)})


def _mirror_entries(data: bytes) -> dict:
    d = read_directory(np.frombuffer(data, np.uint8))
    return {e.name: (e.mirror_period, e.mirror_skip) for e in d.tensors if e.mirror_period}


@pytest.mark.parametrize("version", [3, 4])
def test_v3_worked_example(cbuild, version):
    """FORMAT.md §26: rows [0 | 1 2 | 3 | 2 1] (mode 1) and [0 | 4 0 | 0 | 0 -4] (mode 2),
    P = 6, a = 1: mode string 0x60, stored [[0, 1, 2, 3, 0, 0], [0, 4, 0, 0, 0, 0]]."""
    x = np.array([[0, 1, 2, 3, 2, 1], [0, 4, 0, 0, 0, -4]], np.int8)
    data = pack({"stft": x}, group="kernel", version=version, mirror={"stft": (6, 1)})
    assert data[4] == version and _mirror_entries(data) == {"stft": (6, 1)}
    e = read_directory(np.frombuffer(data, np.uint8)).tensors[0]
    assert data[e.block_offset + e.meta_length] == 0x60
    check_agrees(cbuild, data, api=True)
    assert run_c(cbuild / "cdecode", data)[1] == [x.tobytes()]


@pytest.mark.parametrize("version", [3, 4])
@pytest.mark.parametrize("dtype", DTYPES)
def test_v3_mirror_values(cbuild, dtype, version):
    """Mirror tensors of every dtype (unsigned ones with a value offset; values at the dtype's
    extremes, so the inverse wraps), even and odd row halves (M = P - a), a = 0, 1 and more,
    P = 2 (h = 1) and rows of one value pair; rows = kernels, part of a kernel (P = the last
    dim) or several groups' worth; groups that hold whole rows (streamed, cdecode --check-api)
    and groups that split rows (spk_stream_begin: SPK_E_LIMIT; spk_decode decodes them)."""
    dt = np.dtype(dtype)
    info = np.iinfo(dt)
    zero = {"uint8": 200, "uint16": 40000, "uint32": 3_000_000_000}.get(dtype, 0)
    rng = np.random.default_rng(41 + DTYPES.index(dtype))
    combos = [(6, 1), (7, 0), (7, 1), (8, 0), (8, 1), (2, 0), (3, 1), (9, 5), (5, 3)]
    ts, mirror = {}, {}
    for i, (period, skip) in enumerate(combos):
        rows = _mirror_rows(rng, dt, 12, period, skip, zero)
        ts[f"m{i}"] = rows.reshape(6, 2, period) if i % 2 else rows  # K = 2P or P
        mirror[f"m{i}"] = (period, skip)
    if info.min < 0:  # extremes against extremes: the inverse wraps in both directions
        ts["ext"] = _wrap(np.array([[info.min, info.max, 1, info.max, info.min],
                                    [info.max, info.min, 5, info.max, info.min],
                                    [info.min, -1, 0, 1, info.max]]), dt)
        mirror["ext"] = (5, 0)
    for group in ("kernel", "tensor", ("count", 36), ("count", 5), ("kernels", 2), "auto"):
        data = pack(ts, group=group, version=version, mirror=mirror)
        assert _mirror_entries(data) == mirror
        check_agrees(cbuild, data, api=True)


@pytest.mark.parametrize("version", [3, None])
def test_v3_auto_mirror(cbuild, version):
    """§25's automatic choice on an STFT-like basis (cosine and sine rows, symmetric and
    antisymmetric after the first value): the writer mirrors it, the C decoder agrees (v3 and
    codec.pack's default version, v4)."""
    n = np.arange(64)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * n / 64)  # periodic Hann: w[n] = w[64 - n]
    rows = [np.round(100 * window * f(2 * np.pi * k * n / 64))
            for k in range(16) for f in (np.cos, np.sin)]
    basis = np.array(rows).astype(np.int8).reshape(32, 1, 64)
    data = codec.pack({"stft_conv.weight": basis, "bias": np.arange(32, dtype=np.int16)},
                      version=version)
    assert data[4] == (version or 4) and _mirror_entries(data) == {"stft_conv.weight": (64, 1)}
    check_agrees(cbuild, data, api=True)


def _refix(data: bytes, at: int) -> bytes:
    """``data`` after a change at byte ``at`` of the data area, with its CRCs recomputed."""
    _fix_crcs.orig = data
    return bytes(_fix_crcs(bytearray(data), at))


@pytest.mark.parametrize("version", [3, 4])
def test_v3_damaged_modes(cbuild, version):
    """X4: a mode 3 in any row's field is CorruptError in codec and SPK_E_CORRUPT (-3) in C,
    through spk_decode and the streaming API alike; 3s in the padding bits after the last
    field are not checked (both decode); a valid mode changed decodes to the same values in
    both."""
    data = _mirror_package(version)
    d = read_directory(np.frombuffer(data, np.uint8))
    for e in d.tensors:
        if not e.mirror_period:
            continue
        rows = e.numel // e.mirror_period
        start = e.block_offset + e.meta_length
        for r in sorted({0, 1, rows // 2, rows - 1}):
            b = bytearray(data)
            b[start + r // 4] |= 3 << (6 - 2 * (r % 4))
            bad = _refix(bytes(b), start + r // 4)
            assert expected(bad) is None, (e.name, r)
            with pytest.raises(codec.CorruptError):
                codec.unpack(bad)
            for exe in ("cdecode", "cdecode_small"):
                rc, _, err = run_c(cbuild / exe, bad)
                assert rc == 2 and "error -3" in err, (exe, e.name, r, err)
            each = _each(cbuild / "cdecode", bad)
            assert {rc for i, rc in each if d.tensors[i].name == e.name} == {-3}
            assert {rc for i, rc in each if d.tensors[i].name != e.name} == {0}
        if rows % 4:  # padding: 3s there are not checked
            b = bytearray(data)
            b[start + rows // 4] |= 0xff >> (2 * (rows % 4))
            check_agrees(cbuild, _refix(bytes(b), start + rows // 4), api=True)
        b = bytearray(data)  # row 0's mode cycled 0 -> 1 -> 2 -> 0: other values, same in both
        m = (b[start] >> 6) & 3
        b[start] = (b[start] & 0x3f) | (((m + 1) % 3) << 6)
        check_agrees(cbuild, _refix(bytes(b), start), api=True)


def test_v3_forged_mirror_fields(cbuild):
    """X1-X3 (FORMAT.md §24) and E4 in v2: directories with a bad mirror_period (1, not
    dividing numel, above 2^48, an empty tensor), mirror_skip = P - 1, mode bytes that do not
    fit the block, and flag bit 7 in a v2 package: codec rejects, the C decoder says
    SPK_E_CORRUPT (-3)."""
    import copy
    from codec.format import TensorEntry
    data = _mirror_package()
    d = read_directory(np.frombuffer(data, np.uint8))
    area = data[8:d.directory_offset]
    i = next(k for k, e in enumerate(d.tensors) if e.name == "stft")
    e0 = d.tensors[i]

    def forged(version=3, **change) -> bytes:
        es = [copy.copy(e) for e in d.tensors]
        for k, v in change.items():
            setattr(es[i], k, v)
        return _package(d.tables, es, area, version=version)

    assert _mirror_entries(forged()) == _mirror_entries(data)  # the forger is faithful
    check_agrees(cbuild, forged())
    bad = {"P=1": forged(mirror_period=1),
           "P=7 (numel 80)": forged(mirror_period=7),
           "P=numel+1": forged(mirror_period=e0.numel + 1),
           "P=2^48+1": forged(mirror_period=(1 << 48) + 1),
           "a=P-1": forged(mirror_skip=e0.mirror_period - 1),
           "a=P": forged(mirror_skip=e0.mirror_period),
           "v2 flag bit 7": forged(version=2)}
    # an empty tensor with a mirror; a tensor whose mode bytes (P = 2: 1024 bytes) overrun
    empty = TensorEntry("e", np.dtype(np.int8), (0, 4), "count", 1, 0, 8, 0, 0, 0, 0, 0, 0,
                        mirror_period=2)
    bad["numel=0"] = _package([], [empty], version=3)
    z = pack({"z": np.zeros(4096, np.int8)}, group="tensor", version=3, mirror=None)
    dz = read_directory(np.frombuffer(z, np.uint8))
    ez = copy.copy(dz.tensors[0])
    ez.mirror_period = 2
    bad["X3: modes overrun the block"] = _package(dz.tables, [ez], z[8:dz.directory_offset],
                                                 version=3)
    for what, pkg in bad.items():
        assert expected(pkg) is None, what
        for exe in ("cdecode", "cdecode_small"):
            rc, _, err = run_c(cbuild / exe, pkg)
            assert rc == 2 and "error -3" in err, (what, exe, rc, err)


# --------------------------------------------------------------------------------- v4 specifics

def _v4_package(group=("count", 64), max_tables: int = 1024) -> bytes:
    """A v4 package with one-group tensors (no group table: the group's bit length is in the
    entry), multi-group ones, an empty tensor with metadata, a tensor with metadata, a mirror
    tensor, a value offset, a scalar, and consecutive entries of the same dtype and shape."""
    rng = np.random.default_rng(44)
    sp = lambda shape, dt, lo=-9, hi=9: (  # noqa: E731
        np.where(rng.random(shape) < 0.4, rng.integers(lo, hi, shape), 0).astype(dt))
    u8 = np.full((6, 7), 200, np.uint8)
    u8[rng.random(u8.shape) < 0.3] = 17
    ts = {"one.w": sp((40,), np.int16),                        # one group
          "multi.w": sp((8, 50), np.int16, -300, 300),        # 7 groups, same dtype
          "multi.v": sp((8, 50), np.int16),                   # same dtype and shape
          "empty": np.zeros((0, 3), np.uint8),                # empty, with metadata
          "meta.w": sp((5, 5), np.int8),                      # one group, with metadata
          "mirror.w": _mirror_rows(rng, np.int8, 12, 8, 1),   # mirror, 2 groups
          "offset": u8,                                       # value offset 200
          "s": np.array(-70000, np.int32),                    # scalar
          "big": sp((3000,), np.int8)}                        # 47 groups
    meta = {k: codec.QuantMeta(bits=8, scale=np.float32([0.5])) for k in ("empty", "meta.w")}
    return pack(ts, group=group, max_tables=max_tables, meta=meta, version=4,
                mirror={"mirror.w": (8, 1)})


def _eg(n: int, k: int = 0) -> str:
    """Order-k Exp-Golomb code of n >= 0 as a bit string (FORMAT.md §27)."""
    m = (n >> k) + 1
    return "0" * (m.bit_length() - 1) + format(m, "b") + (format(n & ((1 << k) - 1), f"0{k}b")
                                                           if k else "")


def _zz(v: int) -> int:
    return 2 * v if v >= 0 else -2 * v - 1


def _v4_fields(entries, ntab: int, params) -> list[list]:
    """The entry records of a v4 directory (FORMAT.md §28) as [entry index, field, kind, value,
    width or order] rows, written here from the spec, independently of codec's writer; kind
    'u' (value in width bits), 'eg' (Exp-Golomb of that order), 'seg' (signed), 'raw' (value
    a bit string)."""
    from codec.format import DTYPE_CODES
    from codec.format_v4 import group_code_v4, kernel_size
    len_k, voff_k, rate = params
    tw = (ntab - 1).bit_length() if ntab > 1 else 0
    rows = []
    prev_code, prev_shape = 1, ()
    for i, e in enumerate(entries):
        add = lambda name, kind, v, w: rows.append([i, name, kind, v, w])  # noqa: E731
        code = DTYPE_CODES[e.dtype]
        add("dtype_same", "u", int(code == prev_code), 1)
        if code != prev_code:
            add("dtype", "u", code, 3)
        shape = tuple(int(x) for x in e.shape)
        add("shape_same", "u", int(shape == prev_shape), 1)
        if shape != prev_shape:
            zero = int(0 in shape)
            add("nd", "eg", 2 * len(shape) + zero, 0)
            for x in shape:
                add("dim", "eg", x - 1 + zero, 0)
        prev_code, prev_shape = code, shape
        gc, gval = group_code_v4(e.group_mode, e.group_size, shape)
        assert gc != 2 or gval * kernel_size(shape) == e.group_size
        add("gc", "u", gc, 2)
        if gval is not None:
            add("gval", "eg", gval - 1, 0)
        add("voff_flag", "u", int(e.value_offset != 0), 1)
        if e.value_offset:
            add("voff", "seg", e.value_offset, voff_k)
        add("meta_flag", "u", int(e.meta_length != 0), 1)
        if e.meta_length:
            add("mlen", "eg", e.meta_length - 1, 0)
        add("mirror_flag", "u", int(e.mirror_period != 0), 1)
        if e.mirror_period:
            add("period", "eg", e.mirror_period - 2, 0)
            add("skip", "eg", e.mirror_skip, 0)
        if e.numel:
            add("tid_base", "u", e.tid_base, tw)
            pred = (e.numel * rate) >> 6
            if e.n_groups == 1:
                add("glen", "seg", e.glen - pred, len_k)
            else:
                add("tid_bits", "eg", e.tid_bits, 0)
                add("len_bits", "u", e.len_bits, 6)
                add("pb", "seg", e.payload_bytes - ((pred + 7) >> 3), max(len_k - 3, 0))
    return rows


def _v4_bits(rows) -> str:
    out = []
    for _, _, kind, v, w in rows:
        if kind == "u":
            out.append(format(v, f"0{w}b")[-w:] if w else "")
        elif kind == "eg":
            out.append(_eg(v, w))
        elif kind == "seg":
            out.append(_eg(_zz(v), w))
        else:
            out.append(v)
    return "".join(out)


def _max_classes(kref: int) -> int:
    """FORMAT.md §6.1: the classes of magnitudes up to 2^32 - 1."""
    return (2 << kref) - 1 + (31 - kref) * (1 << kref)


def _v4_table_fields(t, i: int, same: bool, choice) -> list[list]:
    """Table ``t`` (the ``i``-th of the pool) as FORMAT.md §28.1 fields, [table index, field,
    kind, value, width or order] rows as :func:`_v4_fields`'s, written here from the spec:
    ``same``: its alphabet repeats table i - 1's; ``choice``: (mode, gk, dk)."""
    mode, gk, dk = choice
    rows = []
    add = lambda name, kind, v, w: rows.append([i, name, kind, v, w])  # noqa: E731
    if i:
        add("same", "u", int(same), 1)
    if not same:
        add("kref", "u", t.kref, 3)
        add("nrun", "eg", t.nrun - 1, 0)
        add("nclass", "eg", t.nclass - 1, 0)
    add("mode", "u", mode, 1)
    add("gk", "u", gk, 2)
    lens = [int(x) for x in t.lengths]
    if mode == 0:
        codes = [(s, ln) for s, ln in enumerate(lens) if ln]
    else:
        codes = [[s for s, x in enumerate(lens) if x == ln] for ln in range(1, 13)]
    return rows + _code_rows(i, mode, gk, dk, codes)


def _code_rows(i: int, mode: int, gk: int, dk: int, codes) -> list[list]:
    """The code-length fields of table ``i`` (FORMAT.md §28.1, after ``gk``), from the spec:
    mode 0: ``codes`` = the (symbol, length) pairs in list order; mode 1: the 12 symbol lists
    of lengths 1..12.  Any values, so that forged tables can break every rule."""
    rows = []
    add = lambda name, kind, v, w: rows.append([i, name, kind, v, w])  # noqa: E731
    if mode == 0:
        add("ncodes", "eg", len(codes) - 1, 0)
        add("dk", "u", dk, 2)
        prev = pl = -1
        for s, ln in codes:
            add("gap", "eg", s - prev - 1, gk)
            if prev < 0:
                add("len", "u", ln, 4)
            else:
                add("dlen", "seg", ln - pl, dk)
            prev, pl = s, ln
    else:
        for lst in codes:
            add("count", "eg", len(lst), 0)
        for lst in codes:
            prev = -1
            for s in lst:
                add("gap", "eg", s - prev - 1, gk)
                prev = s
    return rows


def _recode(i: int, tables, fn):
    """A tchange for _v4_forge: table ``i``'s code lengths (as :func:`_code_rows` takes them,
    in the mode its rows have) replaced by ``fn(codes, nsym)``."""
    t = tables[i]
    lens = [int(x) for x in t.lengths]

    def change(rows):
        mine = [r for r in rows if r[0] == i]
        at = rows.index(mine[0])
        head = [r for r in mine if r[1] in ("same", "kref", "nrun", "nclass", "mode", "gk")]
        f = {r[1]: r[3] for r in mine}
        mode, gk, dk = f["mode"], f["gk"], f.get("dk", 0)
        if mode == 0:
            codes = [(s, ln) for s, ln in enumerate(lens) if ln]
        else:
            codes = [[s for s, x in enumerate(lens) if x == ln] for ln in range(1, 13)]
        rows[at:at + len(mine)] = head + _code_rows(i, mode, gk, dk, fn(codes, t.nsym))
    return change


def _tset(field: str, value, table: int = 0, nth: int = 0):
    """A tchange for _v4_forge: the nth field `field` of table `table` := value (a bit string
    for kind 'raw', or a function of the old value)."""
    def change(rows):
        r = [r for r in rows if r[0] == table and r[1] == field][nth]
        if isinstance(value, str):
            r[2] = "raw"
        r[3] = value(r[3]) if callable(value) else value
    return change


TABLE_CHOICES = [(0, g, d) for g in range(4) for d in range(4)] + [(1, g, 0) for g in range(4)]


def _v4_table_rows(tables, choices=None, same_ok: bool = True) -> list[list]:
    """The table pool's fields (FORMAT.md §28.1); each table's (mode, gk, dk) is
    ``choices[i]`` where given, else the writer's (§29): the shortest of the 20, ties the first
    in TABLE_CHOICES order; same_alphabet whenever it holds (and ``same_ok``)."""
    rows, prev = [], None
    for i, t in enumerate(tables):
        alpha = (t.kref, t.nrun, t.nclass)
        same = same_ok and i > 0 and alpha == prev
        prev = alpha
        choice = (choices or {}).get(i)
        if choice is None:
            choice = min(TABLE_CHOICES, key=lambda c: (
                len(_v4_bits(_v4_table_fields(t, i, same, c))), TABLE_CHOICES.index(c)))
        rows += _v4_table_fields(t, i, same, choice)
    return rows


def _v4_forge(data: bytes, change=None, *, params=None, extra_tables: int = 0, pad: str = "0",
              cut: int = 0, tchange=None, choices=None, same_ok: bool = True,
              ntab: int | None = None, dir_cut: int | None = None) -> bytes:
    """``data`` (a v4 package) with its directory written again from its tables by
    :func:`_v4_table_rows` and its entries by :func:`_v4_fields`, after ``tchange(rows)`` edits
    the table fields and ``change(rows)`` the entry records; ``params``: other (len_k, voff_k,
    rate); ``extra_tables``: copies of table 0 appended to the pool; ``choices``, ``same_ok``:
    as :func:`_v4_table_rows`; ``ntab``: another n_tables field; ``pad``: the padding bit after
    each bit string; ``cut``: bytes dropped from the end of the entry bit string; ``dir_cut``:
    the directory ends after that many bytes.  Chunk and directory CRCs are correct."""
    from codec import format_v2
    from codec._bytes import put_varint
    from codec.format import DTYPE_CODES, footer
    from codec.format_v4 import choose_params
    d = read_directory(np.frombuffer(data, np.uint8))
    tables = list(d.tables) + d.tables[:1] * extra_tables
    area = data[8:d.directory_offset]
    if params is None:
        params = choose_params(d.tensors, DTYPE_CODES, len(d.tables))
    rows = _v4_fields(d.tensors, len(tables), params)
    if change is not None:
        change(rows)
    bits = _v4_bits(rows)
    bits += pad * (-len(bits) % 8)
    trows = _v4_table_rows(tables, choices, same_ok)
    if tchange is not None:
        tchange(trows)
    tbits = _v4_bits(trows)
    tbits += pad * (-len(tbits) % 8)
    out = bytearray()
    put_varint(out, len(tables) if ntab is None else ntab)
    out += int(tbits, 2).to_bytes(len(tbits) // 8, "big") if tbits else b""
    put_varint(out, len(d.tensors))
    format_v2.write_names(out, [e.name for e in d.tensors])
    out += bytes(params[:2])
    put_varint(out, params[2])
    body = int(bits, 2).to_bytes(len(bits) // 8, "big") if bits else b""
    out += body[:len(body) - cut]
    out.append(d.chunk_log2)
    crc = format_v2.ChunkCRC(d.chunk_log2)
    crc.feed(area)
    out += np.asarray(crc.finish(), "<u4").tobytes()
    if dir_cut is not None:
        del out[dir_cut:]
    pre = data[:8]
    return pre + area + bytes(out) + footer(8 + len(area), bytes(out), pre)


def _set(field: str, value, entry: str | None = None, names=None, nth: int = 0):
    """A change for _v4_forge: the nth record `field` (of tensor `entry`) := value (a bit
    string for kind 'raw')."""
    def change(rows):
        hits = [r for r in rows if r[1] == field and (entry is None or names[r[0]] == entry)]
        assert hits, (field, entry)
        r = hits[nth]
        if isinstance(value, str):
            r[2] = "raw"
        r[3] = value(r[3]) if callable(value) else value
    return change


def _both(*changes):
    def change(rows):
        for c in changes:
            c(rows)
    return change


def test_v4_layout(cbuild):
    """codec.pack's default is v4 (preamble 4, 12-byte footer); one-group tensors have no group
    table (their payload follows the metadata and mirror modes directly), multi-group, empty,
    metadata and mirror tensors, repeated dtypes and shapes: the C decoder agrees with
    codec.unpack, whole and streamed (cdecode --check-api), with every grouping."""
    data = _v4_package()
    assert data[4] == 4 and data[-4:] == b"GKPS" and _footer(data)[0] == 12
    d = read_directory(np.frombuffer(data, np.uint8))
    es = {e.name: e for e in d.tensors}
    assert es["one.w"].glen and es["one.w"].n_groups == 1 and es["one.w"].tid_bits == 0
    assert es["one.w"].block_length == (es["one.w"].glen + 7) // 8
    assert es["meta.w"].glen and es["meta.w"].meta_length
    assert not es["multi.w"].glen and es["multi.w"].n_groups == 7
    assert es["empty"].numel == 0 and es["empty"].block_length == es["empty"].meta_length > 0
    assert es["mirror.w"].mirror_period == 8 and es["offset"].value_offset == 200
    check_agrees(cbuild, data, api=True)
    for group in GROUPS:
        for max_tables in (1, 3, 1024):
            check_agrees(cbuild, _v4_package(group, max_tables), api=True)
    plain = codec.pack({"w": np.arange(-20, 20, dtype=np.int8).reshape(5, 8)}, predict=None, floor=None, alias=None)
    assert plain[4] == 4
    check_agrees(cbuild, plain, api=True)


def test_v4_forger_is_faithful(cbuild):
    """The test's own v4 directory writer (from the spec) reproduces codec's byte for byte, and
    valid variations decode as codec.unpack decodes them: other coding parameters (len_k 0 and
    40, voff_k 0 and 32, rate 0 and 4096), explicit dtypes and shapes where the entry could
    repeat the previous one, extra tables (a table base on a copy of table 0, tid_w > 0), and
    padding bits of 1 after the bit string (codec does not check them)."""
    data = _v4_package()
    assert _v4_forge(data) == data
    names = [e.name for e in read_directory(np.frombuffer(data, np.uint8)).tensors]

    def explicit(rows):  # "multi.v": dtype and shape written out although they repeat
        i = names.index("multi.v")
        k = next(j for j, r in enumerate(rows) if r[0] == i and r[1] == "dtype_same")
        rows[k][3] = 0
        rows.insert(k + 1, [i, "dtype", "u", 3, 3])
        k = next(j for j, r in enumerate(rows) if r[0] == i and r[1] == "shape_same")
        rows[k][3] = 0
        rows[k + 1:k + 1] = [[i, "nd", "eg", 4, 0], [i, "dim", "eg", 7, 0],
                             [i, "dim", "eg", 49, 0]]

    def on_copy(rows):
        for r in rows:
            if r[1] == "tid_base" and r[3] == 0:
                r[3] = len(read_directory(np.frombuffer(data, np.uint8)).tables)

    variants = [_v4_forge(data, params=p) for p in
                ((0, 0, 0), (40, 32, 4096), (3, 0, 64), (2, 9, 1), (40, 0, 0), (0, 32, 4096))]
    variants += [_v4_forge(data, explicit), _v4_forge(data, on_copy, extra_tables=2),
                 _v4_forge(data, on_copy, extra_tables=5), _v4_forge(data, pad="1")]
    for v in variants:
        assert v != data
        assert expected(v) == expected(data)
        check_agrees(cbuild, v, api=True)


def test_v4_forged_entries(cbuild):
    """Every check of FORMAT.md §30 violated in a forged v4 directory (correct CRCs): codec
    rejects each, the C decoder exits 2 (SPK_E_CORRUPT / SPK_E_TRUNCATED in the directory;
    SPK_E_DATA where only the group's bit length is off)."""
    data = _v4_package()
    d = read_directory(np.frombuffer(data, np.uint8))
    names = [e.name for e in d.tensors]
    es = {e.name: e for e in d.tensors}
    S = lambda *a, **k: _set(*a, names=names, **k)  # noqa: E731
    # tables copied so that n_tables is no power of two: a table base field can hold n_tables
    extra = 1 if len(d.tables) + 1 & len(d.tables) else 2
    ntab = len(d.tables) + extra

    def empty_mirror(rows):
        k = next(j for j, r in enumerate(rows) if r[1] == "mirror_flag" and names[r[0]] == "empty")
        rows[k][3] = 1
        rows[k + 1:k + 1] = [[rows[k][0], "period", "eg", 0, 0], [rows[k][0], "skip", "eg", 0, 0]]
    cases = {
        "len_k 41": _v4_forge(data, params=(41, 0, 0)),
        "voff_k 33": _v4_forge(data, params=(0, 33, 0)),
        "rate 4097": _v4_forge(data, params=(0, 0, 4097)),
        "dtype 0": _v4_forge(data, S("dtype", 0)),
        "dtype 7": _v4_forge(data, S("dtype", 7)),
        "ndim 33": _v4_forge(data, S("nd", 66)),
        "zero flag, no zero dim": _v4_forge(data, S("nd", 5, "multi.w")),
        "dim 2^48 + 1": _v4_forge(data, S("dim", 1 << 48)),
        "group size 2^48 + 1": _v4_forge(data, S("gval", 1 << 48)),
        "kernels: 2^48 / K + 1 kernels": _v4_forge(
            data, _both(S("gc", 2, "multi.w"), S("gval", (1 << 48) // 50, "multi.w"))),
        "uint8 value offset 256": _v4_forge(data, S("voff", 256, "offset")),
        "uint8 value offset -1": _v4_forge(data, S("voff", -1, "offset")),
        "mirror period 9 (96 values)": _v4_forge(data, S("period", 7, "mirror.w")),
        "mirror period 97": _v4_forge(data, S("period", 95, "mirror.w")),
        "mirror skip P - 1": _v4_forge(data, S("skip", 7, "mirror.w")),
        "mirror on the empty tensor (P = 2)": _v4_forge(data, empty_mirror),
        "table base = n_tables": _v4_forge(data, S("tid_base", ntab), extra_tables=extra),
        "glen 0": _v4_forge(data, S("glen", lambda v: v - es["one.w"].glen, "one.w")),
        "glen -5": _v4_forge(data, S("glen", lambda v: v - es["one.w"].glen - 5, "one.w")),
        "glen + 8 (block past the next)": _v4_forge(data, S("glen", lambda v: v + 8, "one.w")),
        "glen + 8 (the last one-group tensor)": _v4_forge(data, S("glen", lambda v: v + 8,
                                                                  nth=-1)),
        "table id bits 13": _v4_forge(data, S("tid_bits", 13)),
        "length bits 0": _v4_forge(data, S("len_bits", 0)),
        "length bits 57": _v4_forge(data, S("len_bits", 57)),
        "payload bytes -1": _v4_forge(data, S("pb", lambda v: v - es["multi.w"].payload_bytes - 1,
                                              "multi.w")),
        "payload bytes 0 (7 groups)": _v4_forge(
            data, S("pb", lambda v: v - es["multi.w"].payload_bytes, "multi.w")),
        "payload one byte longer": _v4_forge(data, S("pb", lambda v: v + 1, "multi.w")),
        "Exp-Golomb prefix of 57 zeros": _v4_forge(data, S("mlen", "0" * 57 + "1" + "0" * 57)),
        "bit string cut by a byte": _v4_forge(data, cut=1),
        "bit string cut by 4 bytes": _v4_forge(data, cut=4),
    }
    # the one group's length off by one bit within the same bytes (the end-of-group symbol
    # then ends elsewhere): the directory parses, the group does not decode (G3 / SPK_E_DATA)
    g = es["one.w"].glen
    cases["glen - 1 (same bytes)" if g % 8 != 1 else "glen + 1 (same bytes)"] = _v4_forge(
        data, S("glen", lambda v: v - 1 if g % 8 != 1 else v + 1, "one.w"))
    for what, pkg in cases.items():
        if pkg is None:
            continue
        assert expected(pkg) is None, what
        for exe in ("cdecode", "cdecode_small"):
            rc, _, err = run_c(cbuild / exe, pkg)
            assert rc == 2 and any(f"error -{c}" in err for c in (1, 3, 5, 6)), \
                (what, exe, rc, err)


def _py_code(data: bytes) -> int:
    """codec.unpack's verdict as the C decoder's error number: 0 (decodes), 1 TruncatedError,
    3 CorruptError, 5 LimitError (the mapping of docs/C_DECODER.md)."""
    try:
        codec.unpack(data)
    except codec.TruncatedError:
        return 1
    except codec.LimitError:
        return 5
    except codec.CorruptError:
        return 3
    return 0


def _c_code(exe: Path, data: bytes) -> int:
    rc, _, err = run_c(exe, data)
    if rc == 0:
        return 0
    assert rc == 2, err
    return -int(err.rsplit("error ", 1)[1].split()[0])


def _v4_vectors() -> list[bytes]:
    out = []
    for p in VECTOR_FILES:
        if p.parent.name == "v4":
            data = p.read_bytes()
            if expected(data) is not None:
                out.append(data)
    return out


def _explicit(i: int, kref: int, nrun: int, nclass: int):
    """A tchange: table ``i`` (i >= 1) states its alphabet (same_alphabet = 0)."""
    def change(rows):
        k = next(j for j, r in enumerate(rows) if r[0] == i and r[1] == "same")
        rows[k][3] = 0
        if rows[k + 1][1] == "kref":
            del rows[k + 1:k + 4]
        rows[k + 1:k + 1] = [[i, "kref", "u", kref, 3], [i, "nrun", "eg", nrun - 1, 0],
                             [i, "nclass", "eg", nclass - 1, 0]]
    return change


def test_v4_table_pool(cbuild):
    """The table pool as one bit string (FORMAT.md §28.1): the test's own pool writer (from the
    spec, with §29's choice of mode, gk, dk) reproduces every v4 golden vector and codec's
    writer byte for byte; both list modes and same_alphabet occur; every table written in each
    of the 20 (mode, gk, dk) choices, and with its alphabet stated where it could be repeated,
    decodes in C exactly as in codec."""
    vectors = _v4_vectors()
    assert vectors
    seen = {"mode0": 0, "mode1": 0, "same": 0}
    for data in vectors + [_v4_package(), _dense4_package(4)]:
        assert _v4_forge(data) == data
        d = read_directory(np.frombuffer(data, np.uint8))
        for r in _v4_table_rows(d.tables):
            if r[1] == "mode":
                seen[f"mode{r[3]}"] += 1
            seen["same"] += r[1] == "same" and r[3]
    assert all(seen.values()), seen
    multi = next(v for v in vectors if len(read_directory(np.frombuffer(v, np.uint8)).tables) > 3)
    for data in (_v4_package(), multi, _dense4_package(4, group=("count", 500))):
        ntab = len(read_directory(np.frombuffer(data, np.uint8)).tables)
        want = expected(data)
        variants = [_v4_forge(data, same_ok=False)]
        variants += [_v4_forge(data, choices={i: c for i in range(ntab)}) for c in TABLE_CHOICES]
        for k, v in enumerate(variants):
            assert expected(v) == want
            check_agrees(cbuild, v, api=k % 7 == 0)


def test_v4_forged_tables(cbuild):
    """Every table check of FORMAT.md §30 (T1v4-T6v4, truncation inside the pool, Exp-Golomb
    prefixes) violated in a forged v4 table pool, in list mode 0 and mode 1 (correct CRCs): codec
    raises TruncatedError / CorruptError / LimitError and both C builds return the matching
    SPK_E_TRUNCATED / SPK_E_CORRUPT / SPK_E_LIMIT; same_alphabet repeats the previous table's
    (forged) alphabet, not the first one's."""
    data = _v4_package()
    d = read_directory(np.frombuffer(data, np.uint8))
    T = d.tables
    nsym, kref = T[0].nsym, T[0].kref
    M0, M1 = {0: (0, 0, 0), 2: (0, 1, 2)}, {0: (1, 0, 0), 1: (1, 2, 0)}
    F = lambda ch, **k: _v4_forge(data, tchange=ch, **k)  # noqa: E731

    def relen(j, ln):  # mode 0: the j-th code's length := ln
        return lambda c, n: [(s, ln if i == j else x) for i, (s, x) in enumerate(c)]

    def dup(first: bool):
        """mode 1: a symbol of a shorter length's list replaces one of a longer list (the Kraft
        sum unchanged, the lists ascending): listed twice."""
        def fn(c, n):
            for a in range(12):
                for b in range(a + 1, 12):
                    for j in ([0] if first else range(1, len(c[b]))):
                        if j >= len(c[b]) or c[b][j] == 0:
                            continue
                        lo = c[b][j - 1] if j else -1
                        hi = c[b][j + 1] if j + 1 < len(c[b]) else n
                        x = [s for s in c[a] if lo < s < hi]
                        if x:
                            out = [list(v) for v in c]
                            out[b][j] = x[0]
                            return out
            raise AssertionError("no duplicate to forge")
        return fn

    no_eob1 = lambda c, n: [[s for s in v if s] for v in c]  # noqa: E731
    cases = {
        "T1v4 n_tables 1025": (_v4_forge(data, ntab=1025), 5),
        "T2v4 kref 7": (F(_tset("kref", 7)), 3),
        "T2v4 nrun 4097": (F(_tset("nrun", 4096)), 3),
        "T2v4 nclass max_classes + 1": (F(_tset("nclass", _max_classes(kref))), 3),
        "T2v4 table 1 states kref 7": (F(_explicit(1, 7, 2, 32)), 3),
        "T3v4 nsym 69634": (F(_both(_tset("nrun", 4095), _tset("nclass", 16))), 5),
        "T4v4 mode 0: n_codes nsym + 1": (F(_tset("ncodes", nsym), choices=M0), 3),
        "T4v4 mode 1: sum count nsym + 1": (F(_tset("count", lambda v: v + nsym + 1 - sum(
            int(x > 0) for x in T[0].lengths), nth=11), choices=M1), 3),
        "T5v4 mode 0: symbol nsym": (F(_recode(0, T, lambda c, n: c[:-1] + [(n, c[-1][1])]),
                                      choices=M0), 3),
        "T5v4 mode 0: symbol 65537 (gk 1)": (F(_recode(0, T, lambda c, n: c + [(65537, 3)]),
                                               choices=M0), 3),
        "T5v4 mode 0: first length 0": (F(_tset("len", 0), choices=M0), 3),
        "T5v4 mode 0: first length 13": (F(_tset("len", 13), choices=M0), 3),
        "T5v4 mode 0: later length 0": (F(_recode(0, T, relen(3, 0)), choices=M0), 3),
        "T5v4 mode 0: later length 13": (F(_recode(0, T, relen(3, 13)), choices=M0), 3),
        "T5v4 mode 0: later length -20": (F(_recode(0, T, relen(2, -20)), choices=M0), 3),
        "T5v4 mode 1: symbol nsym": (F(_recode(0, T, lambda c, n: c[:11] + [c[11] + [n]]),
                                      choices=M1), 3),
        "T5v4 mode 1: listed twice (first of its list)": (F(_recode(0, T, dup(True)),
                                                            choices=M1), 3),
        "T5v4 mode 1: listed twice (later in its list)": (F(_recode(0, T, dup(False)),
                                                            choices=M1), 3),
        "T5v4 mode 1: listed twice (table 2)": (F(_recode(2, T, dup(False)), choices=M1), 3),
        "T6v4 mode 0: no end-of-group code": (F(_recode(0, T, lambda c, n: c[1:]),
                                               choices=M0), 3),
        "T6v4 mode 1: no end-of-group code": (F(_recode(0, T, no_eob1), choices=M1), 3),
        "T6v4 mode 0: Kraft (all length 1)": (F(_recode(0, T, lambda c, n: [
            (s, 1) for s, _ in c]), choices=M0), 3),
        "T6v4 mode 1: Kraft (all length 2)": (F(_recode(0, T, lambda c, n: [
            [], sorted(s for v in c for s in v)] + [[]] * 10), choices=M1), 3),
        "Exp-Golomb prefix of 57 zeros (nrun)": (F(_tset("nrun", "0" * 57 + "1" + "0" * 57)), 3),
        "Exp-Golomb z + k = 57 (gap, gk 3)": (F(_tset("gap", "0" * 54 + "1" + "0" * 60),
                                                choices={0: (0, 3, 0)}), 3),
        "Exp-Golomb z + k = 57 (mode 1 gap, gk 3)": (F(_tset("gap", "0" * 54 + "1" + "0" * 60),
                                                       choices={0: (1, 3, 0)}), 3),
        # same_alphabet: tables 2 and the 16 copies repeat table 1's alphabet, 65506 symbols
        # each: the running total exceeds max_table_symbols only if they do
        "T3v4 same_alphabet repeats table 1's alphabet": (
            F(_explicit(1, 0, 2047, 32), extra_tables=15), 5),
    }
    pool = len(_v4_bits(_v4_table_rows(T))) // 8 + 1
    for m, ch in (("mode 0", {i: (0, 1, 1) for i in range(3)}),
                  ("mode 1", {i: (1, 1, 0) for i in range(3)})):
        for cut in (2, 3, pool // 2, pool):
            cases[f"{m}: directory ends inside the pool ({cut} bytes)"] = (
                _v4_forge(data, choices=ch, dir_cut=cut), 1)
    for what, (pkg, code) in cases.items():
        assert _py_code(pkg) == code, what
        for exe in ("cdecode", "cdecode_small"):
            assert _c_code(cbuild / exe, pkg) == code, (what, exe)
    # valid or not, C and codec agree: same_alphabet after a stated alphabet of another nrun
    # (tables 1, 2 and the copies decode with nrun 3), and a stated copy of table 0's
    for pkg in (F(_explicit(1, kref, 3, 32), extra_tables=2), F(_explicit(1, kref, 2, 32)),
                F(_explicit(2, kref, 2, 40), extra_tables=1)):
        code, want = _py_code(pkg), expected(pkg)
        try:
            read_directory(np.frombuffer(pkg, np.uint8))
            dir_ok = True
        except codec.CodecError:
            dir_ok = False
        for exe in ("cdecode", "cdecode_small"):
            if want is not None:
                assert run_c(cbuild / exe, pkg)[1] == want
            elif dir_ok:  # the directory parses, a group does not decode (G1-G3, K1-K5)
                assert _c_code(cbuild / exe, pkg) in (3, 6)
            else:
                assert _c_code(cbuild / exe, pkg) == code


def test_v4_footer(cbuild):
    """The 12-byte footer (FORMAT.md §27): dir_length u32 must leave dir_offset >= 8 and the
    directory CRC covers preamble and directory; a v4 package with a v3-style 24-byte footer, a
    v3 package relabelled v4, and dir_length off by one are rejected by both decoders."""
    data = _v4_package()
    n = len(data)
    (dlen,) = struct.unpack_from("<I", data, n - 12)
    pre = data[:8]

    def refoot(b: bytes, dl: int) -> bytes:
        body = b[:n - 12]
        dirb = body[len(body) - dl:] if 0 < dl <= len(body) else b""
        crc = zlib.crc32(dirb, zlib.crc32(pre))
        return body + struct.pack("<II", dl, crc) + b"GKPS"

    assert refoot(data, dlen) == data
    bad = {"dir_length + 1": refoot(data, dlen + 1), "dir_length - 1": refoot(data, dlen - 1),
           "dir_length past the preamble": refoot(data, n - 12 - 7),
           "dir_length 2^32 - 1": refoot(data, (1 << 32) - 1),
           "crc": data[:-8] + bytes([data[-8] ^ 1]) + data[-7:],
           "v3 relabelled": _refix_version(_mirror_package(3), 4),
           "v4 relabelled v3": _refix_version(data, 3)}
    for k in (19, 20, 21, 8, 12):
        bad[f"first {k} bytes"] = data[:k]
    for what, pkg in bad.items():
        assert expected(pkg) is None, what
        for exe in ("cdecode", "cdecode_small"):
            assert run_c(cbuild / exe, pkg)[0] == 2, (what, exe)
    # the smallest v4 package: no tables, no tensors
    empty = codec.pack({}, version=4)
    assert empty[4] == 4
    check_agrees(cbuild, empty)


def _refix_version(data: bytes, version: int) -> bytes:
    """``data`` with another preamble version byte and its directory CRC recomputed."""
    b = bytearray(data)
    b[4] = version
    ft = _footer(data)
    if ft is not None:
        fsize, dir_off, _ = ft
        n = len(b)
        crc = zlib.crc32(bytes(b[dir_off:n - fsize]), zlib.crc32(bytes(b[:8])))
        struct.pack_into("<I", b, n - 8, crc)
    return bytes(b)


@st.composite
def forged_v4(draw):
    """A v4 package whose directory has 1-3 entry records or table fields (FORMAT.md §28.1; the
    tables in the writer's or drawn list modes and orders) set to arbitrary values (correct
    CRCs)."""
    seeds = _forge_seeds()
    data = draw(st.sampled_from(seeds))
    d = read_directory(np.frombuffer(data, np.uint8))
    ntab = len(d.tables) + draw(st.sampled_from([0, 0, 1, 3]))
    from codec.format import DTYPE_CODES
    from codec.format_v4 import choose_params
    params = choose_params(d.tensors, DTYPE_CODES, len(d.tables))
    if draw(st.integers(0, 4)) == 0:
        params = (draw(st.integers(0, 42)), draw(st.integers(0, 34)),
                  draw(st.sampled_from([0, 1, 63, 64, 65, 4096, 4097, params[2]])))
    nrows = len(_v4_fields(d.tensors, ntab, params))
    tables = list(d.tables) + d.tables[:1] * (ntab - len(d.tables))
    choices = None
    if tables and draw(st.integers(0, 2)) == 0:  # other list modes and orders
        choices = {i: draw(st.sampled_from(TABLE_CHOICES)) for i in range(len(tables))}
    ntrows = len(_v4_table_rows(tables, choices))
    # edits of entry records, or (third argument < 0) of table fields
    edits = draw(st.lists(st.tuples(st.integers(-ntrows, nrows - 1), st.integers(0, 9),
                                    st.integers(0, (1 << 20) - 1)), min_size=1, max_size=3))

    def tchange(rows):
        change(rows, True)

    def change(rows, table=False):
        for k, how, x in edits:
            if (k < 0) != table or not rows:
                continue
            r = rows[k % len(rows)]
            kind, v, w = r[2], r[3], r[4]
            if kind == "raw":  # (edited before)
                continue
            if kind == "u":
                r[3] = (v ^ (1 << (x % w))) if w and how < 7 else x & ((1 << w) - 1) if w else v
            elif how == 0:
                r[2], r[3] = "raw", "0" * (x % 60)  # a prefix that runs on into what follows
            elif kind == "eg":
                r[3] = [0, 1, v + 1, max(v - 1, 0), x, 1 << 48, (1 << 48) - 1, 1 << 56,
                        v * 2, v + 8][how]
            else:
                r[3] = [0, 1, v + 1, v - 1, x, -x, 1 << 40, -(1 << 40), v + 8, v - 8][how]

    return _v4_forge(data, change, params=params, extra_tables=ntab - len(d.tables),
                     tchange=tchange, choices=choices)


_FORGE_SEEDS: list = []


def _forge_seeds() -> list[bytes]:
    if not _FORGE_SEEDS:
        _FORGE_SEEDS.extend([_v4_package(), _v4_package("kernel", 3),
                             _mirror_package(4), _sanitizer_seeds(4)[0]])
    return _FORGE_SEEDS


# --------------------------------------------------------------------------------- sanitizers

def _footer(buf) -> tuple[int, int, int] | None:
    """(footer size, dir_offset, dir_length) of ``buf`` by its preamble's version (v4: 12-byte
    footer), or None if they do not fit together."""
    n = len(buf)
    if n >= 20 and buf[4] >= 4:
        (dir_len,) = struct.unpack_from("<I", buf, n - 12)
        f, dir_off = 12, n - 12 - dir_len
    elif n >= 32:
        f = 24
        dir_off, dir_len = struct.unpack_from("<QQ", buf, n - 24)
    else:
        return None
    return (f, dir_off, dir_len) if 8 <= dir_off and dir_off + dir_len == n - f else None


def _fix_crcs(buf: bytearray, flip_at: int) -> bytearray:
    """Recompute the CRC32s a damaged byte at ``flip_at`` breaks (v1: the block CRC in the
    directory; v2-v4: the chunk CRC at the directory's end; then the directory CRC in the
    footer), so the damage reaches the parser / decoder."""
    n = len(buf)
    ft = _footer(buf)
    if ft is None:
        return buf
    fsize, dir_off, dir_len = ft
    if flip_at < dir_off:
        orig = getattr(_fix_crcs, "orig")
        d = read_directory(orig)
        if d.version >= 2:
            if d.directory_offset == dir_off and flip_at >= 8:
                c = (flip_at - 8) >> d.chunk_log2
                lo = 8 + (c << d.chunk_log2)
                hi = min(lo + (1 << d.chunk_log2), dir_off)
                j = n - fsize - 4 * len(d.chunk_crcs) + 4 * c
                struct.pack_into("<I", buf, j, zlib.crc32(bytes(buf[lo:hi])))
        for e in d.tensors if d.version == 1 else ():
            if e.block_offset <= flip_at < e.block_offset + e.block_length:
                old = struct.pack("<I", e.crc32)
                new = struct.pack("<I", zlib.crc32(buf[e.block_offset:e.block_offset + e.block_length]))
                dirb = bytes(buf[dir_off:n - fsize])
                if dirb.count(old) == 1:
                    j = dir_off + dirb.index(old)
                    buf[j:j + 4] = new
    crc = zlib.crc32(bytes(buf[dir_off:n - fsize]), zlib.crc32(bytes(buf[:8])))
    struct.pack_into("<I", buf, n - 8, crc)
    return buf


def _mutants(data: bytes, rng: random.Random, count: int):
    n = len(data)
    fsize = 12 if data[4] >= 4 else 24
    cuts = sorted(set([0, 1, 7, 8, 9, 19, 20, 31, 32, n - 1, n - 11, n - 12, n - 13, n - 23,
                       n - 24, n - 25] + [rng.randrange(n) for _ in range(count // 4)]))
    for c in cuts:
        if 0 <= c < n:
            yield "trunc", data[:c]
    for _ in range(count):
        b = bytearray(data)
        k = rng.randrange(n)
        b[k] ^= 1 << rng.randrange(8)
        yield "flip", bytes(b)
        if k < n - fsize and k >= 8:
            _fix_crcs.orig = data
            yield "flip+crc", bytes(_fix_crcs(bytearray(b), k))
    for _ in range(count // 4):  # a byte of a group table or payload set to random
        b = bytearray(data)
        k = rng.randrange(8, n - fsize)
        b[k] = rng.randrange(256)
        _fix_crcs.orig = data
        yield "byte+crc", bytes(_fix_crcs(b, k))


def _sanitizer_seeds(version: int) -> list[bytes]:
    rng = np.random.default_rng(11)
    w = rng.integers(-9, 9, (6, 4, 3, 3)).astype(np.int8)
    w[rng.random(w.shape) < 0.6] = 0
    u = rng.integers(0, 3000, (50,)).astype(np.uint16)
    seeds = [
        pack({"conv.weight": w, "conv.bias": u, "s": np.array(-5, np.int32)}, group="kernel",
             version=version),
        pack({"a": w, "b": np.zeros((0,), np.uint32), "c": u}, group=("count", 5),
             max_tables=2, meta={"a": codec.QuantMeta(bits=4, scale=np.float32([0.1]))},
             version=version),
    ]
    if version >= 3:  # mirror tensors (FORMAT.md §23): modes, wrap-around, odd rows
        rng2 = np.random.default_rng(12)
        seeds.append(pack({"stft": _mirror_rows(rng2, np.int8, 9, 8, 1),
                           "u16": _mirror_rows(rng2, np.uint16, 6, 7, 0, zero=40000),
                           "i32": _mirror_rows(rng2, np.int32, 5, 5, 2)},
                          group="kernel", version=version,
                          mirror={"stft": (8, 1), "u16": (7, 0), "i32": (5, 2)}))
    if version == 4:  # one group (no group table), many groups, empty, metadata, mirror
        seeds.append(_v4_package())
    if version >= 2:  # 64-byte CRC chunks: blocks span chunks and chunks span blocks
        d = read_directory(np.frombuffer(seeds[-1], np.uint8))
        seeds.append(_package(d.tables, d.tensors, seeds[-1][8:d.directory_offset],
                              version=version, chunk_log2=6))
    return seeds


def _check_sanitized(asan_build: Path, m: bytes, kind: str, stats: dict) -> None:
    """Both sanitizer builds on ``m``: no report, exit 2 exactly where codec.unpack rejects
    (but for the documented differences), else exactly its values."""
    exp = expected(m)
    for exe in ("cdecode_asan", "cdecode_asan_small"):
        rc, got, err = run_c(asan_build / exe, m, env=SAN_ENV)
        assert "Sanitizer" not in err and "runtime error" not in err, f"{kind}: {err}"
        assert rc in (0, 2), f"{exe} {kind}: exit {rc}: {err}"
        if rc == 0:
            want = exp
            if want is None:  # allowed only when the metadata alone is malformed
                want = meta_only_rejection(m)
                stats["meta"] += 1
            assert want is not None, f"{exe} {kind}: accepted what codec.unpack rejects"
            assert got == want, f"{exe} {kind}: output differs from codec.unpack"
            stats["exit0"] += 1
        else:
            if exp is not None and exe.endswith("small") and _max_codes(m) > SMALL_MAX_CODES:
                continue  # SPK_SMALL's documented table-size limit
            assert exp is None, f"{exe} {kind}: rejected what codec.unpack decodes: {err}"
            stats["exit2"] += 1


@pytest.mark.parametrize("version", VERSIONS)
def test_sanitizers_on_damaged_packages(asan_build, version):
    seeds = _sanitizer_seeds(version)
    pr = random.Random(1234)
    stats = {"exit0": 0, "exit2": 0, "meta": 0}
    for seed in seeds:
        for kind, m in _mutants(seed, pr, 60):
            _check_sanitized(asan_build, m, kind, stats)
    assert stats["exit2"] > 100


@pytest.mark.parametrize("version", VERSIONS)
def test_sanitizers_on_forged_headers(asan_build, version):
    """tests/test_hostile.py's forged directories (any field value; correct footer CRC, usually
    correct block / chunk CRCs; over random or real blocks; v2: garbage, writer-made or
    arbitrary token dictionaries and name records; v4: forged_v4's entry bit strings): the
    sanitizer builds agree with codec.unpack on every one."""
    from hypothesis import HealthCheck
    import test_hostile
    stats = {"exit0": 0, "exit2": 0, "meta": 0}

    if version == 4:  # the entry bit string's records set to arbitrary values (forged_v4)
        strategy = forged_v4()
    elif version == 3 and hasattr(test_hostile, "forged_v3"):
        strategy = test_hostile.forged_v3()
    elif version == 3:  # forged v2 directories read as v3 (flag bit 7: mirror fields follow)
        strategy = test_hostile.forged_v2().map(_as_v3)
    else:
        strategy = test_hostile.forged() if version == 1 else test_hostile.forged_v2()

    @settings(max_examples=3 * int(os.environ.get("CODEC_C_EXAMPLES", "40")), deadline=None,
              database=None, suppress_health_check=[HealthCheck.too_slow,
                                                    HealthCheck.data_too_large])
    @given(data=strategy)
    def run(data):
        _check_sanitized(asan_build, data, "forged", stats)

    run()
    assert stats["exit2"] > 0


# --------------------------------------------------------------------------------- example

def _example_package(version: int = 2) -> bytes:
    rng = np.random.default_rng(3)
    w = rng.integers(-7, 8, (32, 16, 3, 3)).astype(np.int8)
    w[rng.random(w.shape) < 0.8] = 0
    b = rng.integers(-1000, 1000, (32,)).astype(np.int16)
    ts = {"conv1.weight": w, "conv1.bias": b, "fc.weight": w.reshape(64, -1)[:10]}
    if version >= 3:  # a mirror tensor (rows of 32 in groups of 2048: streamed row-whole)
        ts["stft.weight"] = _mirror_rows(rng, np.int16, 96, 32, 1).reshape(96, 1, 32)
        return pack(ts, group=("count", 2048), version=version,
                    mirror={"stft.weight": (32, 1)})
    return pack(ts, group=("count", 2048), version=version)


@pytest.mark.parametrize("generator", ["make_header", "export-c"])
@pytest.mark.parametrize("version", VERSIONS)
def test_firmware_example(tmp_path, generator, version):
    data = _example_package(version)
    pkg = tmp_path / "model.spkg"
    pkg.write_bytes(data)
    header = tmp_path / "model_pkg.h"
    if generator == "make_header":
        cmd = [sys.executable, str(CDIR / "example" / "make_header.py"), str(pkg), str(header),
               "--name", "model"]
    else:
        import importlib.util
        if importlib.util.find_spec("codec.cli") is None:
            pytest.skip("codec.cli (export-c) is not available")
        cmd = [sys.executable, "-m", "codec.cli", "export-c", str(pkg), "-o", str(header),
               "--symbol", "model"]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 0, r.stdout + r.stderr
    exe = tmp_path / "example"
    r = subprocess.run([CC, "-std=c99", "-Wall", "-Wextra", "-Werror", "-Os",
                        f"-I{CDIR}", f"-I{tmp_path}", "-o", str(exe),
                        str(CDIR / "example" / "example.c"), str(CDIR / "spkdec.c")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    ref = codec.unpack(data)
    lines = [ln.split() for ln in r.stdout.splitlines() if ln.startswith("tensor ")]
    assert len(lines) == len(ref)
    for (name, v), ln in zip(ref.items(), lines):
        le = v.astype(v.dtype.newbyteorder("<")).tobytes()
        assert ln[1] == name and int(ln[2]) == v.size
        assert int(ln[3], 16) == zlib.crc32(le), name


# --------------------------------------------------------------------------------- fuzz

@pytest.mark.skipif(os.environ.get("CODEC_FUZZ") != "1", reason="set CODEC_FUZZ=1 to fuzz")
def test_libfuzzer(tmp_path):
    clang = shutil.which(os.environ.get("FUZZCC", "clang"))
    if clang is None:
        pytest.skip("clang (libFuzzer) not found")
    build = tmp_path / "build"
    r = _make(build, "fuzz", FUZZCC=clang)
    assert r.returncode == 0, r.stdout + r.stderr
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i, p in enumerate(VECTOR_FILES):
        shutil.copy(p, corpus / f"v{i}")
    (corpus / "g0").write_bytes(_example_package(1))
    (corpus / "g1").write_bytes(_example_package(2))
    (corpus / "g2").write_bytes(_example_package(3))
    (corpus / "g3").write_bytes(_mirror_package())
    (corpus / "g4").write_bytes(_example_package(4))
    (corpus / "g5").write_bytes(_mirror_package(4))
    (corpus / "g6").write_bytes(_v4_package())
    secs = int(os.environ.get("CODEC_FUZZ_SECONDS", "30"))
    # half the time as shipped, half with CRC checks compiled out (mutations reach the parser)
    for target in ("fuzz_spkdec", "fuzz_spkdec_nocrc"):
        work = tmp_path / f"corpus_{target}"
        shutil.copytree(corpus, work)
        r = subprocess.run([str(build / target), str(work), f"-max_total_time={max(secs // 2, 1)}",
                            "-max_len=65536", "-timeout=10", "-rss_limit_mb=2048",
                            "-print_final_stats=1"],
                           capture_output=True, text=True, timeout=secs + 120,
                           env={**os.environ, **SAN_ENV})
        assert r.returncode == 0, f"{target}: {r.stderr[-4000:]}"
