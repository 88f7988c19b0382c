"""The portable C decoder (decoders/c) on format v5 packages (docs/FORMAT.md §32: the prediction
transform over a tensor's last two dimensions).

Builds decoders/c as tests/test_c_decoder.py does (skipped without a C compiler or make) and
checks, for the default (4096-entry table) and -DSPK_SMALL builds:
  * every pred_mode 0-7 on int8, int16, int32 (and the unsigned dtypes, which the writer can be
    told to transform) with values that make ``r + pred`` wrap both ways, 4-D / 3-D / 2-D
    tensors, H = 1 and W = 1 images, the smallest image (H * W = 2), eligible tensors without
    the transform (has_pred = 0), ineligible ones (1-D, H * W = 1, empty, scalar) and a mirror
    tensor (no has_pred field), under four groupings: the values are the original arrays and
    codec.unpack's, the pred_mode the C library reports (``cdecode --list``) is the
    directory's, and ``cdecode --check-api`` agrees (spk_decode, spk_decode_many, streaming:
    groups holding whole images are rebuilt group by group, groups splitting an image must be
    SPK_E_LIMIT for spk_stream_begin);
  * the writer's own choice (``predict='auto'``), the FORMAT.md §33 example and the golden
    vectors tests/vectors/v5/*.bin;
  * directories forged with every pred_mode (and none) over the same blocks, and version bytes
    4 / 5 swapped: the C decoder accepts / rejects and decodes exactly as codec.unpack;
  * the real models of ../shared/weights at 8-bit and 4-bit dense (benchmarks/recipe.py);
  * -DSPK_ONLY_V5 (reads v5 alone), -DSPK_ONLY_V4 (v5 is SPK_E_UNSUPPORTED) and an -Os build
    (the rebuild's size-optimized path);
  * an ASan + UBSan build fed truncated, bit-flipped and CRC-fixed v5 packages: exit 2 or
    exactly codec.unpack's values, never a crash or a sanitizer report.
"""
from __future__ import annotations

import copy
import random
import shutil
import struct
import subprocess
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pytest

import codec
from codec import format_v2
from codec.format import DTYPE_CODES, footer, preamble, read_directory
from test_c_decoder import (CC, ROOT, _asan, _check_sanitized, _make, _mutants, check_agrees,
                            expected, run_c)

pytestmark = pytest.mark.skipif(CC is None or shutil.which("make") is None,
                                reason="no C compiler (cc/gcc/clang) or make on PATH")

V5_VECTORS = sorted((ROOT / "tests" / "vectors" / "v5").glob("*.bin"))
DTYPES = (np.int8, np.int16, np.int32, np.uint8, np.uint16, np.uint32)
GROUPINGS = ("auto", "kernel", ("count", 18), ("count", 7))


@pytest.fixture(scope="session")
def cbuild5(tmp_path_factory) -> Path:
    build = tmp_path_factory.mktemp("cbuild5")
    r = _make(build, "-j2", "all", "small", CFLAGS="-O2 -Werror")
    assert r.returncode == 0, r.stdout + r.stderr
    return build


@pytest.fixture(scope="session")
def asan5(tmp_path_factory) -> Path:
    return _asan(tmp_path_factory, "casan5")


# --------------------------------------------------------------------------------- helpers

def _values(rng, shape, dtype) -> np.ndarray:
    """Images of ``shape`` (last two dims): half of them smooth planes with noise, half
    uniformly random over the whole dtype range, all wrapped into it (so ``r + pred`` wraps
    both ways when they are rebuilt)."""
    info = np.iinfo(dtype)
    lo, span = int(info.min), int(info.max) - int(info.min) + 1
    n = int(np.prod(shape))
    if n == 0:
        return np.zeros(shape, dtype)
    if len(shape) < 2:
        return rng.integers(info.min, int(info.max) + 1, shape, dtype=np.int64).astype(dtype)
    H, W = shape[-2], shape[-1]
    lead = shape[:-2]
    i = np.arange(H).reshape(H, 1)
    j = np.arange(W).reshape(1, W)
    step = max(1, span // (4 * (H + W)))
    a = rng.integers(lo, lo + span, lead + (1, 1), dtype=np.int64)
    bi = rng.integers(-step, step + 1, lead + (1, 1), dtype=np.int64)
    bj = rng.integers(-step, step + 1, lead + (1, 1), dtype=np.int64)
    smooth = a + bi * i + bj * j + rng.integers(-3, 4, shape, dtype=np.int64)
    rand = rng.integers(lo, lo + span, shape, dtype=np.int64)
    pick = rng.random(lead + (1, 1)) < 0.5
    v = np.where(pick, smooth, rand)
    return ((v - lo) % span + lo).astype(dtype)


# name: (shape, forced pred mode or None); modes 0-7 on 3x3 kernels, then edge shapes
SHAPES = {**{f"k{m}": ((5, 3, 3, 3), m) for m in range(8)},
          "c1d": ((4, 3, 7), 3),     # 3-D: H = 3, W = 7
          "mat": ((6, 10), 5),       # 2-D: one image of 60 values
          "row": ((2, 1, 9), 6),     # H = 1
          "col": ((2, 9, 1), 1),     # W = 1
          "pair": ((3, 1, 2), 4),    # H * W = 2, the smallest image
          "plain": ((4, 3, 3), None),  # eligible, has_pred = 0
          "vec": ((12,), None),      # not eligible: 1-D
          "unit": ((3, 1, 1), None),  # not eligible: H * W = 1
          "empty": ((0, 3, 3), None),  # not eligible: numel 0
          "s": ((), None),           # scalar
          "mir": ((4, 8), None)}     # a mirror (forced): no has_pred field


def _package(dtype, group, seed: int = 0) -> tuple[bytes, dict]:
    rng = np.random.default_rng(seed)
    arrays = {k: _values(rng, shp, dtype) for k, (shp, _) in SHAPES.items()}
    modes = {k: m for k, (_, m) in SHAPES.items() if m is not None}
    data = codec.pack(arrays, group=group, predict=modes, mirror={"mir": (8, 0)})
    return data, arrays


def _c_pred_modes(exe: Path, data: bytes) -> list[int]:
    """The pred_mode of every tensor as the C library reports it (``cdecode --list``)."""
    with tempfile.NamedTemporaryFile(suffix=".spkg") as f:
        f.write(data)
        f.flush()
        r = subprocess.run([str(exe), "--list", f.name], capture_output=True, text=True,
                           timeout=60)
    assert r.returncode == 0, r.stderr
    out = []
    for line in r.stdout.splitlines():
        tok = line.split(" :")[0].split()
        out.append(int(tok[tok.index("pred") + 1]) if "pred" in tok else -1)
    return out


def _agree_or_reject(build: Path, data: bytes, exes=("cdecode", "cdecode_small")) -> bool:
    """Both builds: exit 2 where codec.unpack rejects ``data``, else exactly its values.
    Returns whether it decodes."""
    exp = expected(data)
    for exe in exes:
        rc, got, err = run_c(build / exe, data)
        if exp is None:
            assert rc == 2, f"{exe}: codec.unpack rejects it, exit {rc}"
        else:
            assert rc == 0 and got == exp, f"{exe}: exit {rc} {err}"
    return exp is not None


def _rewrite(data: bytes, entries, version: int = 5, chunk_log2: int | None = None) -> bytes:
    """``data``'s blocks under a directory written from ``entries`` (chunk and directory CRCs
    recomputed; ``chunk_log2``: the package's unless given), with preamble ``version``."""
    d = read_directory(np.frombuffer(data, np.uint8))
    blocks = data[8:d.directory_offset]
    pre = preamble(version=version)
    dirb = format_v2.directory_over(d.tables, entries, DTYPE_CODES, blocks,
                                    d.chunk_log2 if chunk_log2 is None else chunk_log2,
                                    version=version)
    return pre + blocks + dirb + footer(len(pre) + len(blocks), dirb, pre)


def _with_version_byte(data: bytes, version: int) -> bytes:
    """``data`` with another preamble version byte and the directory CRC fixed (v4 / v5: the
    same 12-byte footer)."""
    b = bytearray(data)
    b[4] = version
    n = len(b)
    (dlen,) = struct.unpack_from("<I", b, n - 12)
    off = n - 12 - dlen
    struct.pack_into("<I", b, n - 8, zlib.crc32(bytes(b[off:n - 12]), zlib.crc32(bytes(b[:8]))))
    return bytes(b)


# --------------------------------------------------------------------------------- tests

@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_v5_every_mode(cbuild5, dtype):
    split = streamed = 0
    for k, group in enumerate(GROUPINGS):
        data, arrays = _package(dtype, group, seed=k)
        assert data[4] == 5
        d = read_directory(np.frombuffer(data, np.uint8))
        want = [SHAPES[e.name][1] if SHAPES[e.name][1] is not None else -1 for e in d.tensors]
        assert [e.pred_mode for e in d.tensors] == want
        assert any(e.mirror_period for e in d.tensors)
        for e in d.tensors:
            if e.pred_mode >= 0 and e.n_groups > 1:
                hw = int(e.shape[-1]) * int(e.shape[-2])
                split += e.group_size % hw != 0
                streamed += e.group_size % hw == 0
        check_agrees(cbuild5, data, api=True)  # spk_decode, spk_decode_many, streaming
        for exe in ("cdecode", "cdecode_small"):
            assert _c_pred_modes(cbuild5 / exe, data) == want
            rc, got, err = run_c(cbuild5 / exe, data)
            assert rc == 0, err
            for e, g in zip(d.tensors, got):
                a = arrays[e.name]
                assert g == a.astype(a.dtype.newbyteorder("<")).tobytes(), (exe, e.name, group)
    assert split and streamed  # both streaming cases: SPK_E_LIMIT and group-by-group rebuild


def test_v5_writer_choice(cbuild5):
    """codec.pack's own choice (predict='auto') on smooth kernels writes v5 with the transform;
    predict=None gives v4 with the same values; FORMAT.md §33's example (mode 7 forced)."""
    k = np.array([[[[10, 12, 13], [11, 13, 15], [12, 14, 16]]]], np.int8)
    rng = np.random.default_rng(5)
    smooth = (k.reshape(1, 1, 3, 3) * 3 + rng.integers(-1, 2, (40, 4, 3, 3))).astype(np.int8)
    for arrays in ({"k": np.repeat(k, 40, axis=0) * 3},
                   {"conv.weight": smooth, "conv.bias": np.arange(40, dtype=np.int16)}):
        data = codec.pack(arrays, version=5)  # (without: v6 may predict down dim 0, §34)
        assert data[4] == 5
        d = read_directory(np.frombuffer(data, np.uint8))
        assert any(e.pred_mode >= 0 for e in d.tensors)
        check_agrees(cbuild5, data, api=True)
        v4 = codec.pack(arrays, predict=None, floor=None, alias=None)
        assert v4[4] == 4
        assert run_c(cbuild5 / "cdecode", data)[1] == run_c(cbuild5 / "cdecode", v4)[1]
    ex = codec.pack({"k": k}, predict={"k": 7})  # §33
    assert ex[4] == 5 and _c_pred_modes(cbuild5 / "cdecode", ex) == [7]
    check_agrees(cbuild5, ex, api=True)
    assert run_c(cbuild5 / "cdecode", ex)[1] == [k.tobytes()]


@pytest.mark.skipif(not V5_VECTORS, reason="no golden vectors in tests/vectors/v5")
def test_v5_golden_vectors(cbuild5):
    assert sum(_agree_or_reject(cbuild5, p.read_bytes()) for p in V5_VECTORS)


def test_v5_forged_pred_fields(cbuild5):
    """The same blocks under directories that give a tensor every pred_mode, or none, and a
    transform to a tensor stored without one: valid packages with other values, which C decodes
    exactly as codec.unpack; a v5 package read as v4 and a v4 package read as v5 (version byte
    swapped, directory CRC fixed: the entry bits then shift): same accept / reject and values."""
    data, _ = _package(np.int8, ("count", 18), seed=7)
    d = read_directory(np.frombuffer(data, np.uint8))
    names = [e.name for e in d.tensors]
    n = 0
    for target in ("k3", "c1d", "plain", "pair"):
        i = names.index(target)
        for mode in range(-1, 8):
            ents = [copy.copy(e) for e in d.tensors]
            ents[i].pred_mode = mode
            forged = _rewrite(data, ents)
            assert read_directory(np.frombuffer(forged, np.uint8)).tensors[i].pred_mode == mode
            n += _agree_or_reject(cbuild5, forged)
            assert _c_pred_modes(cbuild5 / "cdecode", forged)[i] == mode
    assert n == 4 * 9
    v4 = codec.pack({"k": np.ones((4, 3, 3), np.int8), "v": np.arange(9, dtype=np.int8)},
                    predict=None, floor=None, alias=None)
    assert v4[4] == 4
    for forged in (_with_version_byte(data, 4), _with_version_byte(v4, 5)):
        _agree_or_reject(cbuild5, forged)


def test_v5_real_models(cbuild5, shared_weights):
    from benchmarks.recipe import MODELS, quantized_model
    preds = 0
    for m in MODELS:
        for bits in (8, 4):
            data = codec.pack(quantized_model(m, bits, 0.0))
            d = read_directory(np.frombuffer(data, np.uint8))
            preds += sum(e.pred_mode >= 0 for e in d.tensors)
            check_agrees(cbuild5, data, api=True)
    assert preds  # the writer transforms some kernels of every model here


def test_v5_single_version_and_size_builds(tmp_path):
    """-DSPK_ONLY_V5 reads v5 and rejects v4 (SPK_E_UNSUPPORTED); -DSPK_ONLY_V4 rejects v5; the
    -Os build (rebuild without the per-item-size loops) decodes v5 as codec.unpack."""
    pk = {dt: _package(dt, "auto", seed=3)[0] for dt in (np.int8, np.uint16, np.int32)}
    v4 = codec.pack({"k": np.ones((4, 3, 3), np.int8)}, predict=None, floor=None, alias=None)
    for flags in ("-O2 -DSPK_ONLY_V5", "-O2 -DSPK_ONLY_V4", "-Os"):
        build = tmp_path / flags.split()[-1].lstrip("-")
        r = _make(build, "all", CFLAGS=f"{flags} -Werror")
        assert r.returncode == 0, r.stdout + r.stderr
        for data in pk.values():
            if "ONLY_V4" in flags:
                rc, _, err = run_c(build / "cdecode", data)
                assert rc == 2 and "error -2" in err
            else:
                assert _agree_or_reject(build, data, exes=("cdecode",))
        rc, got, err = run_c(build / "cdecode", v4)
        if "ONLY_V5" in flags:
            assert rc == 2 and "error -2" in err
        else:
            assert rc == 0 and got == expected(v4)


def test_v5_sanitizers_on_damaged_packages(asan5):
    rng = np.random.default_rng(9)
    seeds = [codec.pack({"conv.weight": _values(rng, (6, 2, 3, 3), np.int8),
                         "mat": _values(rng, (5, 7), np.int16),
                         "c1d": _values(rng, (3, 2, 5), np.int32),
                         "u": _values(rng, (4, 3, 3), np.uint8),
                         "bias": _values(rng, (6,), np.int8)},
                        group=("count", 18),
                        predict={"conv.weight": 7, "mat": 0, "c1d": 5, "u": 2})]
    d = read_directory(np.frombuffer(seeds[0], np.uint8))
    assert _rewrite(seeds[0], d.tensors) == seeds[0]  # (_rewrite is faithful)
    seeds.append(_rewrite(seeds[0], d.tensors, chunk_log2=6))  # blocks span 64-byte chunks
    pr = random.Random(55)
    stats = {"exit0": 0, "exit2": 0, "meta": 0}
    for seed in seeds:
        assert seed[4] == 5
        for kind, m in _mutants(seed, pr, 40):
            _check_sanitized(asan5, m, kind, stats)
    assert stats["exit2"] > 50 and stats["exit0"] > 0
