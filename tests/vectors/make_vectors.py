"""Write the golden vectors.  Run ONCE by hand per format version; never regenerate.

    cd /work/main && PYTHONPATH=. python3 tests/vectors/make_vectors.py          # v1 (done)
    cd /work/main && PYTHONPATH=. python3 tests/vectors/make_vectors.py --v2     # v2 (done)
    cd /work/main && PYTHONPATH=. python3 tests/vectors/make_vectors.py --v3     # v3 (done)
    cd /work/main && PYTHONPATH=. python3 tests/vectors/make_vectors.py --v4     # v4 (done)
    cd /work/main && PYTHONPATH=. python3 tests/vectors/make_vectors.py --v5     # v5 (done)
    cd /work/main && PYTHONPATH=. python3 tests/vectors/make_vectors.py --v6     # v6 (done)
    cd /work/main && PYTHONPATH=. python3 tests/vectors/make_vectors.py --v7     # v7 (done)

``--v7`` writes ``v7_cases`` (docs/FORMAT.md §36-§37: row floors, tensor aliases) under
tests/vectors/v7/ with ``version`` 7 and the ``floor`` and ``alias`` options in the JSON
(``floor``: {name: true (the writer's floors) or a list}, 'auto' or null).

``--v6`` writes ``v6_cases`` (docs/FORMAT.md §34-§35: prediction over any two adjacent
dims) under tests/vectors/v6/ with ``version`` 6; ``predict`` values are a mode or
[mode, shift].

``--v5`` writes ``V5_CASES`` (docs/FORMAT.md §32-§33: the prediction transform) under
tests/vectors/v5/ with ``version`` 5 and the ``predict`` and ``mirror`` options in the JSON.

``--v4`` writes ``V4_CASES`` (docs/FORMAT.md §27-§31: the entry bit string, one-group tensors
without a group table, the 12-byte footer) under tests/vectors/v4/ with ``version`` 4 and the
``mirror`` option in the JSON; the v1, v2 and v3 cases are re-written there as v4 too.

``--v3`` writes ``V3_CASES`` (the mirror transform, docs/FORMAT.md §23-§26) under
tests/vectors/v3/; its JSON also records ``version`` 3 and the ``mirror`` option ('auto' or
{name: [period, skip]}).

``--v2`` writes the same cases plus v2-only ones (``V2_CASES``) as format v2 under
tests/vectors/v2/ and never touches tests/vectors/v1/; its JSON also records ``version`` 2 and
the ``chunk_log2`` the writer used.

For each case ``<name>`` it writes, under tests/vectors/v1/:
  * ``<name>.npz``  the input tensors (keys in package order; see ``order`` in the JSON),
  * ``<name>.json`` the ``codec.pack`` options (group, max_tables, per-tensor QuantMeta with
    scales as exact little-endian hex) and a description,
  * ``<name>.bin``  the package bytes ``codec.pack`` produced.

The script refuses to run if any of those files already exists: the vectors are a frozen
record of format v1 and of the encoder's decisions, and tests/test_reference.py checks that
today's ``codec.pack`` still produces exactly these bytes.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

import codec

OUT = Path(__file__).resolve().parent / "v1"
OUT_V2 = Path(__file__).resolve().parent / "v2"
OUT_V3 = Path(__file__).resolve().parent / "v3"
OUT_V4 = Path(__file__).resolve().parent / "v4"
OUT_V5 = Path(__file__).resolve().parent / "v5"
OUT_V6 = Path(__file__).resolve().parent / "v6"
OUT_V7 = Path(__file__).resolve().parent / "v7"


def meta_to_json(m: codec.QuantMeta) -> dict:
    dt = "float32" if m.scale.dtype == np.float32 else "float64"
    return {"bits": int(m.bits), "kind": m.kind, "axis": m.axis, "block": m.block,
            "scale_dtype": dt, "scale_hex": m.scale.astype("<f4" if dt == "float32" else "<f8").tobytes().hex(),
            "zero_point": None if m.zero_point is None else [int(z) for z in m.zero_point]}


def group_to_json(group):
    return list(group) if isinstance(group, tuple) else group


def refuse_existing(out: Path, cs: dict) -> bool:
    """True (and a message) if any file of the cases ``cs`` already exists under ``out``: the
    vectors are frozen."""
    targets = [out / f"{n}{ext}" for n in cs for ext in (".npz", ".json", ".bin")]
    existing = [str(p) for p in targets if p.exists()]
    if existing:
        print("refusing to overwrite golden vectors (they are frozen):", *existing, sep="\n  ",
              file=sys.stderr)
    return bool(existing)


def write_case(out: Path, name: str, tensors: dict, js: dict, data: bytes) -> int:
    """Write one vector's .npz, .json and .bin under ``out``; their bytes on disk."""
    np.savez_compressed(out / f"{name}.npz", **tensors)
    (out / f"{name}.json").write_text(json.dumps(js, indent=1, ensure_ascii=False) + "\n",
                                      encoding="utf-8")
    (out / f"{name}.bin").write_bytes(data)
    return sum((out / f"{name}{ext}").stat().st_size for ext in (".npz", ".json", ".bin"))


def cases() -> dict:
    rng = np.random.default_rng(20240711)
    c = {}

    def sparse(shape, dtype, density, lo, hi, zero=0):
        x = rng.integers(lo, hi, size=shape, endpoint=True).astype(dtype)
        x[rng.random(shape) >= density] = zero
        return x

    c["int8_1d_auto"] = dict(
        desc="1-D int8, 30% dense, values in [-20, 20], group='auto'",
        tensors={"w": sparse((500,), np.int8, 0.3, -20, 20)}, group="auto")
    c["uint8_4d_kernel"] = dict(
        desc="4-D uint8 conv weight around zero point 128 (value offset 128), group='kernel'",
        tensors={"conv": sparse((8, 3, 3, 3), np.uint8, 0.5, 100, 160, zero=128)}, group="kernel")
    c["int16_4d_kernels2"] = dict(
        desc="4-D int16, magnitudes up to 3000, group=('kernels', 2) with a partial last group",
        tensors={"conv": sparse((5, 4, 3, 3), np.int16, 0.4, -3000, 3000)}, group=("kernels", 2))
    c["uint16_count100"] = dict(
        desc="2-D uint16 spanning 0..65535, group=('count', 100), 1000 elements",
        tensors={"fc": sparse((40, 25), np.uint16, 0.25, 0, 65535)}, group=("count", 100))
    x = sparse((64,), np.int32, 0.5, -(1 << 31), (1 << 31) - 1)
    x[:4] = [-(1 << 31), (1 << 31) - 1, -(1 << 31), (1 << 31) - 1]
    c["int32_minmax_tensor"] = dict(
        desc="int32 with int32 min and max, full-range values, group='tensor' (one group)",
        tensors={"x": x}, group="tensor")
    y = sparse((4, 33), np.uint32, 0.3, 0, (1 << 32) - 1)
    y[0, :3] = [0, (1 << 32) - 1, 1]
    c["uint32_minmax_auto"] = dict(
        desc="2-D uint32 with 0 and 2**32-1, group='auto'", tensors={"x": y}, group="auto")
    c["empty_and_scalar"] = dict(
        desc="empty tensors (shapes (0,) and (3, 0, 2)) and scalars (shape ()) of several dtypes",
        tensors={"empty": np.zeros((0,), np.int8), "empty3d": np.zeros((3, 0, 2), np.uint16),
                 "scalar": np.array(-7, np.int16), "scalar0": np.array(0, np.int32),
                 "scalar_u": np.array(200, np.uint8)},
        group="auto")
    c["empty_only"] = dict(
        desc="a package whose only tensor is empty: no tables at all",
        tensors={"e": np.zeros((2, 0), np.int32)}, group="kernel")
    c["all_zero"] = dict(
        desc="all-zero 4-D int8 tensor, group='kernel': every group is a lone end symbol",
        tensors={"z": np.zeros((16, 4, 3, 3), np.int8)}, group="kernel")
    nz = rng.integers(-100, 100, size=(12, 50), endpoint=True).astype(np.int8)
    nz[nz == 0] = 1
    c["no_zeros"] = dict(
        desc="int8 without a single zero, group=('count', 64)",
        tensors={"d": nz}, group=("count", 64))
    c["pm1"] = dict(
        desc="only -1, 0 and +1 (1-bit magnitudes), int8, group='kernel'",
        tensors={"t": sparse((10, 40), np.int8, 0.5, -1, 1)}, group="kernel")
    lr = np.zeros(30000, np.int8)
    lr[[0, 5000, 5001, 17000, 29999]] = [3, -2, 1, -90, 7]
    c["long_zero_runs"] = dict(
        desc="1-D int8 with zero runs > 4096 (escape symbols), group='tensor'",
        tensors={"r": lr}, group="tensor")
    c["long_zero_runs_count"] = dict(
        desc="the same runs cut by group=('count', 7000): runs cross group ends",
        tensors={"r": lr.copy()}, group=("count", 7000))
    w = sparse((6, 4, 3, 3), np.uint8, 0.6, 0, 15, zero=8)
    c["multi_meta"] = dict(
        desc="multi-tensor package with quantization metadata: per-axis float32 scales and zero "
             "points, per-tensor, per-block float64 scales, float-bits; names sharing prefixes "
             "and a non-ASCII name",
        tensors={"layer1.weight": w,
                 "layer1.bias": sparse((6,), np.int16, 0.9, -500, 500),
                 "layer2.weight": sparse((3, 6), np.int8, 0.7, -7, 7),
                 "layer2.scale_bits": np.array([15360, 0, 48128, 16384], np.uint16),
                 "головa": sparse((10,), np.int8, 0.5, -3, 3)},
        meta={"layer1.weight": codec.QuantMeta(
                  bits=4, scale=(rng.random(6).astype(np.float32) * 0.01 + 1e-4),
                  zero_point=np.array([8, 8, 7, 9, 8, 8]), axis=0),
              "layer1.bias": codec.QuantMeta(bits=16, scale=np.array([0.00123], np.float32)),
              "layer2.weight": codec.QuantMeta(
                  bits=4, scale=np.array([0.1, 0.25, 1 / 3], np.float64),
                  zero_point=np.array([0, -1, 2]), block=6),
              "layer2.scale_bits": codec.QuantMeta(bits=16, kind="float-bits")},
        group="kernel")
    a = rng.integers(-1, 2, size=(20, 200)).astype(np.int8)
    b = rng.integers(-100, 101, size=(20, 200)).astype(np.int8)
    b[rng.random(b.shape) < 0.9] = 0
    c["multi_table"] = dict(
        desc="tensors with different statistics: the encoder gives them separate Huffman tables "
             "(table base > 0) and shares one between two of them",
        tensors={"a": a, "b": b, "c": rng.integers(-3, 4, size=(4000,)).astype(np.int8),
                 "d": np.array([1, 0, 0, -1], np.int8)}, group="kernel")
    from benchmarks.recipe import load_float, quantize_tensor
    fl = load_float("mtcnn_facenet_pytorch")
    names = ["onet.conv2.weight", "onet.conv3.weight", "rnet.conv2.weight", "onet.conv1.bias",
             "pnet.conv3.weight"]
    c["mtcnn_4bit_90"] = dict(
        desc="real weights: tensors of mtcnn_facenet_pytorch quantized to 4 bits, 90% sparse "
             "(benchmarks/recipe.py quantize_tensor), group='auto', default table pool",
        tensors={k: quantize_tensor(fl[k], 4, 0.9) for k in names}, group="auto")
    c["mtcnn_4bit_90_shared"] = dict(
        desc="the same tensors, per-kernel groups and one shared table (max_tables=1)",
        tensors={k: quantize_tensor(fl[k], 4, 0.9) for k in names}, group="kernel", max_tables=1)
    return c


def v2_cases() -> dict:
    """Cases for v2 only: chunk boundaries inside blocks, names with many shared tokens (every
    group code: ``main_v2``'s group_* cases)."""
    rng = np.random.default_rng(20261125)
    c = {}
    base = cases()
    c["multi_meta_chunks64"] = dict(base["multi_meta"], chunk_log2=6,
                                    desc="multi_meta with 64-byte CRC chunks (chunk_log2 = 6): "
                                         "chunks cross block boundaries")
    c["multi_table_chunks64"] = dict(base["multi_table"], chunk_log2=6,
                                     desc="multi_table with 64-byte CRC chunks")
    layers = {}
    for i in range(12):
        for part in ("conv.weight", "conv.bias", "bn.weight", "bn.running_mean"):
            shape = (4, 3, 3, 3) if part == "conv.weight" else (4,)
            x = rng.integers(-5, 6, size=shape).astype(np.int8)
            x[rng.random(shape) < 0.5] = 0
            layers[f"model.{i}.cv{i % 3}.{part}"] = x
    c["many_names"] = dict(
        desc="48 tensors named model.<i>.cv<j>.<part>: a token dictionary with id_bits > 1 and "
             "names sharing token prefixes", tensors=layers, group="kernel")
    return c


def main_v2() -> int:
    OUT_V2.mkdir(parents=True, exist_ok=True)
    cs = dict(cases())
    cs.update(v2_cases())
    extra = {"g_kernels3": ("kernels", 3), "g_count13": ("count", 13), "g_tensor": "tensor"}
    for name, g in extra.items():
        x = np.random.default_rng(len(name)).integers(-9, 10, size=(7, 5, 2)).astype(np.int16)
        cs[f"group_{name[2:]}"] = dict(desc=f"int16 (7, 5, 2) with group={g!r}",
                                       tensors={"k": x, "e": np.zeros((0, 5), np.int16)}, group=g)
    if refuse_existing(OUT_V2, cs):
        return 1
    import codec.format_v2 as fv2
    total = 0
    for name, c in cs.items():
        tensors = c["tensors"]
        opts = {"group": c["group"], "max_tables": c.get("max_tables", codec.writer.DEFAULT_MAX_TABLES)}
        meta = c.get("meta")
        log2 = c.get("chunk_log2", fv2.DEFAULT_CHUNK_LOG2)
        saved, fv2.DEFAULT_CHUNK_LOG2 = fv2.DEFAULT_CHUNK_LOG2, log2
        try:
            data = codec.pack(tensors, group=opts["group"], meta=meta,
                              max_tables=opts["max_tables"], version=2)
        finally:
            fv2.DEFAULT_CHUNK_LOG2 = saved
        assert data[4] == 2
        back = codec.unpack(data)
        assert list(back) == list(tensors)
        for k, v in tensors.items():
            assert back[k].dtype == v.dtype and back[k].shape == v.shape
            assert np.array_equal(back[k], v)
        js = {"description": c["desc"], "order": list(tensors), "group": group_to_json(c["group"]),
              "max_tables": opts["max_tables"],
              "meta": {k: meta_to_json(m) for k, m in (meta or {}).items()},
              "codec_version": codec.__version__, "bytes": len(data), "version": 2,
              "chunk_log2": log2}
        size = write_case(OUT_V2, name, tensors, js, data)
        total += size
        print(f"{name:24s} {len(data):7d} package bytes, {size:7d} on disk")
    print(f"total {total} bytes")
    return 0


def v3_cases() -> dict:
    """Cases for v3 (the mirror transform): every mode, a = 0 and 1, odd and even halves,
    wrap-around at the dtype's extremes, a value offset, metadata before the mode string."""
    rng = np.random.default_rng(20261126)
    c = {}
    n = np.arange(32)
    win = np.sin(np.pi * n / 32) ** 2                       # periodic Hann: symmetric about 16
    rows = [np.cos(2 * np.pi * k * n / 32) * win for k in range(9)]
    rows += [np.sin(2 * np.pi * k * n / 32) * win for k in range(9)]
    stft = np.round(np.array(rows) * 60).astype(np.int8).reshape(18, 1, 32)
    c["stft_auto"] = dict(desc="int8 (18, 1, 32) windowed cos/sin rows (an STFT basis), mirror "
                               "'auto': P = 32, a = 1, modes 1 and 2", tensors={"stft": stft},
                          group="auto", mirror="auto")
    c["worked_example"] = dict(desc="docs/FORMAT.md §26", tensors={
        "stft": np.array([[0, 1, 2, 3, 2, 1], [0, 4, 0, 0, 0, -4]], np.int8)},
        group="kernel", mirror={"stft": [6, 1]})
    x = rng.integers(-300, 301, size=(6, 10)).astype(np.int16)
    x[:, 5:] = x[:, :5][:, ::-1] * np.array([1, -1, 0, 1, -1, 1])[:, None]
    x[0, 7] += 1                                             # one broken symmetry
    c["int16_forced_a0"] = dict(desc="int16 (6, 10), forced (10, 0): rows symmetric, "
                                     "antisymmetric, plain, one off by one", tensors={"w": x},
                                group="kernel", mirror={"w": [10, 0]})
    u = np.full((8, 9), 128, np.uint8)
    half = rng.integers(120, 137, size=(8, 4)).astype(np.uint8)
    half[rng.random((8, 4)) < 0.5] = 128                     # the zero point: most frequent
    u[:, :4] = half
    u[:, 5:] = half[:, ::-1]
    u[::2, 5:] = (256 - half[::2, ::-1].astype(np.int64)).astype(np.uint8)  # 2*128 - v
    c["uint8_voff_odd"] = dict(desc="uint8 (8, 9) around zero point 128 (value offset 128), "
                                    "odd M = 9 (a middle value), modes 1 and 2, auto",
                               tensors={"u": u}, group="kernel", mirror="auto")
    lo, hi = np.iinfo(np.int32).min, np.iinfo(np.int32).max
    w = np.array([[7, lo, hi, 5, -hi, hi, lo], [7, hi, lo, 0, lo, hi, 3]], np.int32)
    c["int32_wrap"] = dict(desc="int32 (2, 7) with the extremes, forced (7, 1): residuals "
                                "wrap modulo 2^32", tensors={"w": w}, group="kernel",
                           mirror={"w": [7, 1]})
    sym = np.round(np.cos(np.linspace(-2, 2, 64))[None, :] * rng.integers(1, 9, (4, 1))
                   ).astype(np.int8)
    meta = codec.QuantMeta(bits=4, scale=np.array([0.5, 0.25, 0.125, 1.0], np.float32), axis=0)
    c["meta_and_plain"] = dict(desc="a mirrored int8 (4, 64) tensor with QuantMeta (metadata, "
                                    "then the mode string), a plain tensor and an empty one",
                               tensors={"sym": sym,
                                        "plain": rng.integers(-3, 4, (5, 7)).astype(np.int8),
                                        "empty": np.zeros((0, 3), np.int8)},
                               meta={"sym": meta}, group="kernel", mirror="auto")
    c["v3_no_mirror"] = dict(desc="version=3 with no mirrored tensor (only the version byte "
                                  "differs from v2)", tensors={"w": x[:, :7].copy()},
                             group="kernel", mirror=None)
    return c


def main_v3() -> int:
    OUT_V3.mkdir(parents=True, exist_ok=True)
    cs = v3_cases()
    if refuse_existing(OUT_V3, cs):
        return 1
    total = 0
    for name, c in cs.items():
        tensors, meta, mirror = c["tensors"], c.get("meta"), c["mirror"]
        mopt = {k: tuple(v) for k, v in mirror.items()} if isinstance(mirror, dict) else mirror
        data = codec.pack(tensors, group=c["group"], meta=meta, version=3, mirror=mopt)
        assert data[4] == 3
        d = codec.Package(data).directory
        if mirror is not None:
            assert any(e.mirror_period for e in d.tensors), name
        back = codec.unpack(data)
        assert list(back) == list(tensors)
        for k, v in tensors.items():
            assert back[k].dtype == v.dtype and back[k].shape == v.shape
            assert np.array_equal(back[k], v)
        js = {"description": c["desc"], "order": list(tensors), "group": group_to_json(c["group"]),
              "max_tables": codec.writer.DEFAULT_MAX_TABLES,
              "meta": {k: meta_to_json(m) for k, m in (meta or {}).items()},
              "codec_version": codec.__version__, "bytes": len(data), "version": 3,
              "chunk_log2": 16, "mirror": mirror,
              "mirrored": {e.name: [e.mirror_period, e.mirror_skip] for e in d.tensors
                           if e.mirror_period}}
        size = write_case(OUT_V3, name, tensors, js, data)
        total += size
        print(f"{name:24s} {len(data):7d} package bytes, {size:7d} on disk, mirrored "
              f"{js['mirrored']}")
    print(f"total {total} bytes")
    return 0


def v4_cases() -> dict:
    """Cases for v4: every entry field (same / new dtype and shape, every group code, value
    offsets of both signs, metadata, mirror), one-group and multi-group tensors, empty tensors
    with a zero dim first, last and alone, length residuals of both signs, several tables."""
    rng = np.random.default_rng(20261127)
    c = {}
    bn = {}
    for i, ch in enumerate((8, 8, 16, 32)):
        bn[f"bn{i}/beta:0"] = rng.integers(-60, 60, ch).astype(np.int8)
        bn[f"bn{i}/gamma:0"] = rng.integers(70, 127, ch).astype(np.int8)      # value offset > 0
        bn[f"bn{i}/mean:0"] = rng.integers(-128, -60, ch).astype(np.int8)     # value offset < 0
        bn[f"bn{i}/var:0"] = rng.integers(0, 127, ch).astype(np.int8)
        w = rng.integers(-40, 41, size=(3, 3, ch, 2 * ch)).astype(np.int8)
        w[rng.random(w.shape) < 0.3] = 0
        bn[f"conv{i}/kernel:0"] = w
    c["bn_layers"] = dict(desc="four conv + batch-norm layers (TF names and layout): repeated "
                               "shapes, value offsets of both signs, one-group tensors",
                          tensors=bn, group="auto", mirror="auto")
    mixed = {"a": rng.integers(-3, 4, (6, 50)).astype(np.int16),
             "b": np.zeros((0,), np.int16), "c": np.zeros((3, 0, 2), np.uint8),
             "d": np.zeros((4, 5, 0), np.int32), "e": np.array(7, np.int32),
             "f": rng.integers(0, 2 ** 31 - 1, 9).astype(np.uint32),
             "g": np.zeros((300,), np.int8), "h": rng.integers(-2, 3, (2, 2, 2, 2, 2)).astype(np.int8)}
    c["mixed_dtypes_empty"] = dict(desc="every dtype change, empty tensors with a zero dim first, "
                                        "middle and last, a scalar, an all-zero tensor, 5-D",
                                   tensors=mixed, group="kernel", mirror="auto")
    big = rng.integers(-100, 101, (64, 600)).astype(np.int16)
    big[rng.random(big.shape) < 0.6] = 0
    big[:8] //= 20
    c["multi_group_tables"] = dict(desc="int16 (64, 600), kernel groups of different scale "
                                        "(per-group tables), beside one-group tensors",
                                   tensors={"w": big, "b": rng.integers(-9, 10, 64).astype(np.int16),
                                            "s": rng.integers(-1, 2, (64, 600)).astype(np.int16)},
                                   group="kernel", mirror="auto")
    sym = np.round(np.cos(np.linspace(-2, 2, 64))[None, :] * rng.integers(1, 9, (1, 1))
                   ).astype(np.int8)
    meta = codec.QuantMeta(bits=4, scale=np.array([0.5], np.float32), axis=0)
    c["meta_mirror_one_group"] = dict(desc="a one-group mirrored tensor with metadata (metadata, "
                                           "mode string, then the payload: no group table)",
                                      tensors={"sym": sym}, meta={"sym": meta}, group="tensor",
                                      mirror={"sym": [64, 0]})
    c["count_and_kernels"] = dict(desc="group codes 0 and 2 with one and several groups",
                                  tensors={"k3": rng.integers(-9, 10, (7, 5, 2)).astype(np.int16),
                                           "one": rng.integers(-9, 10, (2, 3)).astype(np.int16)},
                                  group=("kernels", 3), mirror=None)
    return c


def main_v4() -> int:
    OUT_V4.mkdir(parents=True, exist_ok=True)
    cs = {}
    for name, cc in cases().items():
        cs[name] = dict(cc, mirror=None)
    for name, cc in v2_cases().items():
        cs[name] = dict(cc, mirror=None)
    for name, cc in v3_cases().items():
        cs[name] = dict(cc, desc=cc["desc"].replace("§26", "§26, as v4"))
    cs["worked_example_s31"] = dict(desc="docs/FORMAT.md §31", tensors={
        "fc.weight": np.array([[0, 0, 3], [0, -1, 0]], np.int8),
        "fc.bias": np.array([0, 0, 0, 0], np.int8)}, group="kernel", mirror="auto")
    cs.update(v4_cases())
    if refuse_existing(OUT_V4, cs):
        return 1
    import codec.format_v2 as fv2
    total = 0
    for name, c in cs.items():
        tensors, meta, mirror = c["tensors"], c.get("meta"), c.get("mirror", "auto")
        mopt = {k: tuple(v) for k, v in mirror.items()} if isinstance(mirror, dict) else mirror
        log2 = c.get("chunk_log2", 16)
        mt = c.get("max_tables", codec.writer.DEFAULT_MAX_TABLES)
        saved, fv2.DEFAULT_CHUNK_LOG2 = fv2.DEFAULT_CHUNK_LOG2, log2
        try:
            data = codec.pack(tensors, group=c["group"], meta=meta, max_tables=mt, version=4,
                              mirror=mopt)
        finally:
            fv2.DEFAULT_CHUNK_LOG2 = saved
        assert data[4] == 4
        d = codec.Package(data).directory
        back = codec.unpack(data)
        assert list(back) == list(tensors)
        for k, v in tensors.items():
            assert back[k].dtype == v.dtype and back[k].shape == v.shape
            assert np.array_equal(back[k], v)
        js = {"description": c["desc"], "order": list(tensors), "group": group_to_json(c["group"]),
              "max_tables": mt, "meta": {k: meta_to_json(m) for k, m in (meta or {}).items()},
              "codec_version": codec.__version__, "bytes": len(data), "version": 4,
              "chunk_log2": log2, "mirror": mirror,
              "mirrored": {e.name: [e.mirror_period, e.mirror_skip] for e in d.tensors
                           if e.mirror_period},
              "one_group_without_table": [e.name for e in d.tensors if e.glen]}
        size = write_case(OUT_V4, name, tensors, js, data)
        total += size
        print(f"{name:24s} {len(data):7d} package bytes, {size:7d} on disk")
    print(f"total {total} bytes")
    return 0


def v5_cases() -> dict:
    """Cases for v5: every prediction mode (forced) on int8 kernels, wrap-around at the
    int16 / int32 / uint8 ranges, eligible and ineligible tensors side by side (1-D, 1 x 1
    kernels, a mirrored tensor, an empty one), one-group and multi-group predicted tensors,
    metadata, the automatic choice, real MTCNN (bundled) kernels, the worked example."""
    rng = np.random.default_rng(20261128)
    c = {}

    def smooth(shape, dtype=np.int8, amp=40):
        o = int(np.prod(shape[:-2]))
        H, W = shape[-2:]
        i, j = np.meshgrid(np.arange(H), np.arange(W), indexing="ij")
        a, b, z = (rng.integers(-amp // 4, amp // 4 + 1, (o, 1, 1)) for _ in range(3))
        x = a * i + b * j + 2 * z + rng.integers(-1, 2, (o, H, W))
        info = np.iinfo(dtype)
        return np.clip(x, info.min, info.max).astype(dtype).reshape(shape)

    modes = {f"conv{m}.weight": smooth((6, 4, 3, 3)) for m in range(8)}
    modes["conv8.weight"] = smooth((6, 4, 3, 3))            # eligible, not predicted
    modes["bias"] = rng.integers(-9, 10, 6).astype(np.int8)  # 1-D: no field
    modes["pw.weight"] = rng.integers(-9, 10, (6, 4, 1, 1)).astype(np.int8)  # 1 x 1: no field
    c["every_mode"] = dict(desc="modes 0-7 forced on int8 (6, 4, 3, 3) kernels, one eligible "
                                "tensor without, 1-D and 1 x 1 tensors (no field)",
                           tensors=modes, group="kernel", mirror=None,
                           predict={f"conv{m}.weight": m for m in range(8)})
    wrap = {"i16": rng.integers(-32768, 32768, (3, 5, 4)).astype(np.int16),
            "i32": rng.integers(-(1 << 31), 1 << 31, (2, 3, 3), dtype=np.int64).astype(np.int32),
            "u8": rng.integers(0, 256, (4, 2, 3)).astype(np.uint8),
            "i8": np.tile(np.array([[127, -128], [-128, 127]], np.int8), (5, 1, 1))}
    wrap["i32"].reshape(-1)[:4] = [-(1 << 31), (1 << 31) - 1, -(1 << 31), (1 << 31) - 1]
    c["wrap_dtypes"] = dict(desc="full-range int16, int32 (min and max), uint8 and int8 "
                                 "extremes, forced modes: residuals wrap at the dtype's width",
                            tensors=wrap, group="auto", mirror=None,
                            predict={"i16": 1, "i32": 7, "u8": 2, "i8": 4})
    sym = np.round(np.cos(np.linspace(-2, 2, 64))[None, :] * rng.integers(3, 9, (20, 1))
                   ).astype(np.int8)
    meta = codec.QuantMeta(bits=8, scale=np.linspace(0.01, 0.02, 32).astype(np.float32), axis=0)
    mixed = {"k.weight": smooth((32, 16, 3, 3)), "k.bias": rng.integers(-5, 6, 32).astype(np.int8),
             "sym": sym, "empty": np.zeros((0, 3, 3), np.int8),
             "k2.weight": smooth((32, 16, 3, 3)), "fc": smooth((40, 30), np.int16, 400),
             "noise": rng.integers(-50, 51, (16, 8, 3, 3)).astype(np.int8)}
    c["auto_mixed"] = dict(desc="the automatic choice: smooth kernels (repeated shape, "
                                "metadata), a 2-D int16 matrix, noise (not predicted), a "
                                "mirrored tensor (no field), an empty tensor",
                           tensors=mixed, meta={"k.weight": meta}, group="auto", mirror="auto",
                           predict="auto")
    one = {"t": smooth((8, 8, 5, 5)), "u": smooth((8, 8, 5, 5), np.int16, 200)}
    c["one_group_tensor"] = dict(desc="predicted one-group tensors (group='tensor')",
                                 tensors=one, group="tensor", mirror=None, predict="auto")
    demo = codec.bench.demo_model()
    from codec.bench import quantize_reference
    real = {k: quantize_reference(demo[k], 8, 0.0) for k in ("pnet.conv1.weight",
                                                             "pnet.conv2.weight",
                                                             "pnet.conv3.weight")}
    real.update({k + "@4": quantize_reference(demo[k], 4, 0.0) for k in ("rnet.conv1.weight",)})
    c["mtcnn_pnet"] = dict(desc="bundled MTCNN pnet kernels at 8 bits and an rnet kernel at 4 "
                                "bits (REFERENCE.md's recipe), automatic choice",
                           tensors=real, group="auto", mirror="auto", predict="auto")
    c["worked_example_s33"] = dict(desc="docs/FORMAT.md §33", tensors={
        "k": np.array([[[[10, 12, 13], [11, 13, 15], [12, 14, 16]]]], np.int8)},
        group="auto", mirror="auto", predict={"k": 7})
    return c


def main_v5() -> int:
    import codec.bench  # noqa: F401  (v5_cases reads the bundled model)
    OUT_V5.mkdir(parents=True, exist_ok=True)
    cs = v5_cases()
    if refuse_existing(OUT_V5, cs):
        return 1
    total = 0
    for name, c in cs.items():
        tensors, meta, mirror, predict = c["tensors"], c.get("meta"), c["mirror"], c["predict"]
        mt = c.get("max_tables", codec.writer.DEFAULT_MAX_TABLES)
        data = codec.pack(tensors, group=c["group"], meta=meta, max_tables=mt, version=5,
                          mirror=mirror, predict=predict)
        assert data[4] == 5
        d = codec.Package(data).directory
        back = codec.unpack(data)
        assert list(back) == list(tensors)
        for k, v in tensors.items():
            assert back[k].dtype == v.dtype and back[k].shape == v.shape
            assert np.array_equal(back[k], v)
        predicted = {e.name: e.pred_mode for e in d.tensors if e.pred_mode >= 0}
        assert predicted, name
        js = {"description": c["desc"], "order": list(tensors), "group": group_to_json(c["group"]),
              "max_tables": mt, "meta": {k: meta_to_json(m) for k, m in (meta or {}).items()},
              "codec_version": codec.__version__, "bytes": len(data), "version": 5,
              "chunk_log2": 16, "mirror": mirror, "predict": predict,
              "mirrored": {e.name: [e.mirror_period, e.mirror_skip] for e in d.tensors
                           if e.mirror_period},
              "predicted": predicted,
              "one_group_without_table": [e.name for e in d.tensors if e.glen]}
        size = write_case(OUT_V5, name, tensors, js, data)
        total += size
        print(f"{name:24s} {len(data):7d} package bytes, {size:7d} on disk, predicted {predicted}")
    print(f"total {total} bytes")
    return 0


def v6_cases() -> dict:
    """Format v6 (docs/FORMAT.md §34-§35): prediction over other dims than the last two."""
    rng = np.random.default_rng(606)
    c = {}

    def smooth(shape, axes, dtype=np.int8, amp=40):
        """A tensor whose taps along dims ``axes`` (h, h + 1) are planes plus noise."""
        h = axes
        H, W = shape[h], shape[h + 1]
        i = np.arange(H).reshape([-1 if d == h else 1 for d in range(len(shape))])
        j = np.arange(W).reshape([-1 if d == h + 1 else 1 for d in range(len(shape))])
        rest = [1 if d in (h, h + 1) else n for d, n in enumerate(shape)]
        a, b, z = (rng.integers(-amp // 4, amp // 4 + 1, rest) for _ in range(3))
        x = a * i + b * j + 2 * z + rng.integers(-1, 2, shape)
        info = np.iinfo(dtype)
        return np.clip(x, info.min, info.max).astype(dtype)

    tfl = {f"ohwi{m}": smooth((6, 3, 3, 4), 1) for m in range(8)}
    tfl["hwio"] = smooth((3, 3, 4, 6), 0)
    tfl["dw"] = smooth((1, 3, 3, 16), 1)
    tfl["oihw"] = smooth((6, 4, 3, 3), 2)
    tfl["bias"] = rng.integers(-9, 10, 6).astype(np.int8)
    pr = {f"ohwi{m}": [m, 1] for m in range(8)}
    pr.update({"hwio": [3, 2], "dw": [6, 1], "oihw": 5})
    c["every_mode_shift"] = dict(
        desc="modes 0-7 forced with shift 1 on TFLite (O, kh, kw, I) int8 kernels; shift 2 on "
             "a Keras (kh, kw, I, O) kernel, shift 1 on a depthwise (1, kh, kw, C), shift 0 "
             "on a PyTorch (O, I, kh, kw) kernel; a 1-D bias (no field)",
        tensors=tfl, group="kernel", mirror=None, predict=pr)
    wrap = {"i16": rng.integers(-32768, 32768, (3, 4, 5, 2)).astype(np.int16),
            "i32": rng.integers(-(1 << 31), 1 << 31, (2, 3, 3, 2), dtype=np.int64
                                ).astype(np.int32),
            "u8": rng.integers(0, 256, (4, 2, 3, 3)).astype(np.uint8)}
    wrap["i32"].reshape(-1)[:4] = [-(1 << 31), (1 << 31) - 1, -(1 << 31), (1 << 31) - 1]
    c["wrap_dtypes_shift"] = dict(
        desc="full-range int16, int32 (min and max) and uint8, forced modes with shifts 1 and "
             "2: residuals wrap at the dtype's width",
        tensors=wrap, group="auto", mirror=None,
        predict={"i16": [1, 1], "i32": [7, 2], "u8": [2, 1]})
    split = {"t": smooth((8, 3, 3, 12), 1), "k": smooth((3, 3, 12, 8), 0)}
    c["groups_and_slices"] = dict(
        desc="groups of 54 values: whole (3, 3, 12) a-slices of 't' are 2 groups each, and "
             "'k' (one a-slice of 864 values) is split across 16 groups",
        tensors=split, group=("count", 54), mirror=None,
        predict={"t": [4, 1], "k": [7, 2]})
    demo = np.load(Path(codec.__file__).parent / "data" /
                   "fer_emotion_minixception_tflite_int8.npz")
    real = {k: demo[k] for k in demo.files if demo[k].dtype == np.int8 and demo[k].ndim == 4
            and demo[k].shape[1] == 3}
    c["tflite_int8_auto"] = dict(
        desc="the bundled TFLite int8 model's 3 x 3 kernels (O, kh, kw, I and depthwise "
             "1, kh, kw, C), automatic choice",
        tensors=real, group="auto", mirror="auto", predict="auto")
    c["worked_example_s35"] = dict(desc="docs/FORMAT.md §35", tensors={
        "k": np.array([[[[10, 20], [12, 22], [13, 23]], [[11, 21], [13, 23], [15, 25]],
                        [[12, 22], [14, 24], [16, 26]]]], np.int8)},
        group="auto", mirror="auto", predict={"k": [7, 1]})
    return c


def main_v6() -> int:
    OUT_V6.mkdir(parents=True, exist_ok=True)
    cs = v6_cases()
    if refuse_existing(OUT_V6, cs):
        return 1
    total = 0
    for name, c in cs.items():
        tensors, meta, mirror = c["tensors"], c.get("meta"), c["mirror"]
        predict = c["predict"]
        opt = ({k: tuple(v) if isinstance(v, list) else v for k, v in predict.items()}
               if isinstance(predict, dict) else predict)
        mt = c.get("max_tables", codec.writer.DEFAULT_MAX_TABLES)
        data = codec.pack(tensors, group=c["group"], meta=meta, max_tables=mt, version=6,
                          mirror=mirror, predict=opt)
        assert data[4] == 6
        d = codec.Package(data).directory
        back = codec.unpack(data)
        assert list(back) == list(tensors)
        for k, v in tensors.items():
            assert back[k].dtype == v.dtype and back[k].shape == v.shape
            assert np.array_equal(back[k], v)
        predicted = {e.name: [e.pred_mode, e.pred_shift] for e in d.tensors if e.pred_mode >= 0}
        assert any(sh for _, sh in predicted.values()), name
        js = {"description": c["desc"], "order": list(tensors), "group": group_to_json(c["group"]),
              "max_tables": mt, "meta": {k: meta_to_json(m) for k, m in (meta or {}).items()},
              "codec_version": codec.__version__, "bytes": len(data), "version": 6,
              "chunk_log2": 16, "mirror": mirror, "predict": predict,
              "mirrored": {e.name: [e.mirror_period, e.mirror_skip] for e in d.tensors
                           if e.mirror_period},
              "predicted": predicted,
              "one_group_without_table": [e.name for e in d.tensors if e.glen]}
        size = write_case(OUT_V6, name, tensors, js, data)
        total += size
        print(f"{name:24s} {len(data):7d} package bytes, {size:7d} on disk, predicted {predicted}")
    print(f"total {total} bytes")
    return 0


def v7_cases() -> dict:
    """Format v7 (docs/FORMAT.md §36-§37): row floors and tensor aliases."""
    rng = np.random.default_rng(707)
    c = {}

    def pruned(shape, sparsity=0.5, bits=8, dtype=np.int8):
        """REFERENCE.md's recipe: magnitude pruning, then a scale per first-dim row."""
        w = rng.normal(size=shape)
        rows = w.reshape(shape[0], -1) if len(shape) >= 2 else w.reshape(1, -1)
        thr = np.quantile(np.abs(rows), sparsity)
        rows = np.where(np.abs(rows) < thr, 0.0, rows)
        qmax = 2 ** (bits - 1) - 1
        scale = np.abs(rows).max(axis=1, keepdims=True) / qmax
        scale[scale == 0] = 1.0
        return np.round(rows / scale).astype(dtype).reshape(shape)

    t = {"conv": pruned((8, 3, 3, 4)), "fc": pruned((6, 40)), "bias": pruned((8,))}
    c["floors_int8_kernel"] = dict(
        desc="per-row scaled 50 % pruned int8 (O, kh, kw, I), dense and 1-D tensors, floors "
             "forced (the writer's), one group per output channel",
        tensors=t, group="kernel", floor={"conv": True, "fc": True, "bias": True},
        alias=None)
    i16 = pruned((5, 24), 0.7, 16, np.int16)
    i32 = pruned((3, 2, 8), 0.5, 32, np.int32)
    i32.reshape(-1)[np.flatnonzero(i32.reshape(-1))[:2]] = [(1 << 31) - 1, -(1 << 31)]
    c["floors_wide_groups"] = dict(
        desc="int16 and int32 (with its max and min) floored, groups of 25 values crossing "
             "rows; int16's floors below the writer's",
        tensors={"i16": i16, "i32": i32}, group=("count", 25),
        floor={"i16": [int(f) // 2 for f in codec.floor.row_floors(i16)], "i32": True},
        alias=None)
    emb = rng.integers(-40, 41, (16, 8)).astype(np.int8)
    m = codec.QuantMeta(bits=8, kind="linear", axis=0,
                        scale=rng.random(16).astype(np.float32) + 0.5)
    c["aliases"] = dict(
        desc="tied weights: 'out' equals 'emb' (same metadata), 'b2' equals 'b1'; 'emb2' has "
             "emb's values but other metadata (no alias)",
        tensors={"emb": emb, "b1": np.arange(-3, 5, dtype=np.int8), "out": emb.copy(),
                 "b2": np.arange(-3, 5, dtype=np.int8), "emb2": emb.copy()},
        meta={"emb": m, "out": m, "emb2": codec.QuantMeta(bits=8, kind="linear", axis=0,
                                                          scale=m.scale * 2)},
        group="auto", floor=None, alias="auto")
    conv = pruned((6, 3, 3, 4))
    mixed = {"bn_1/beta:0": rng.integers(-9, 10, 6).astype(np.int8),
             "bn_1/gamma:0": rng.integers(-9, 10, 6).astype(np.int8),
             "conv_1/kernel:0": conv, "conv_2/kernel:0": conv.copy(),
             "bn_2/beta:0": rng.integers(-9, 10, 6).astype(np.int8),
             "bn_2/gamma:0": rng.integers(-9, 10, 6).astype(np.int8)}
    c["alias_of_floored_names"] = dict(
        desc="an alias of a floored tensor, TensorFlow names (the v7 writer's token merge "
             "'beta:' '0'), automatic floors and aliases",
        tensors=mixed, group="auto", floor={"conv_1/kernel:0": True}, alias="auto")
    c["worked_example_s37"] = dict(desc="docs/FORMAT.md §37", tensors={
        "x": np.array([[0, 5, -4, 0], [6, 0, 0, -7]], np.int8),
        "y": np.array([[0, 5, -4, 0], [6, 0, 0, -7]], np.int8)},
        group="auto", floor={"x": True}, alias="auto")
    return c


def main_v7() -> int:
    OUT_V7.mkdir(parents=True, exist_ok=True)
    cs = v7_cases()
    if refuse_existing(OUT_V7, cs):
        return 1
    total = 0
    for name, c in cs.items():
        tensors, meta = c["tensors"], c.get("meta")
        mt = c.get("max_tables", codec.writer.DEFAULT_MAX_TABLES)
        data = codec.pack(tensors, group=c["group"], meta=meta, max_tables=mt, version=7,
                          floor=c["floor"], alias=c["alias"])
        assert data[4] == 7
        d = codec.Package(data).directory
        back = codec.unpack(data)
        assert list(back) == list(tensors)
        for k, v in tensors.items():
            assert back[k].dtype == v.dtype and back[k].shape == v.shape
            assert np.array_equal(back[k], v)
        floored = {e.name: list(e.floors) for e in d.tensors if e.floors and e.alias < 0}
        aliases = {e.name: d.tensors[e.alias].name for e in d.tensors if e.alias >= 0}
        assert floored or aliases, name
        fl = c["floor"]
        js = {"description": c["desc"], "order": list(tensors), "group": group_to_json(c["group"]),
              "max_tables": mt, "meta": {k: meta_to_json(m) for k, m in (meta or {}).items()},
              "codec_version": codec.__version__, "bytes": len(data), "version": 7,
              "chunk_log2": 16, "mirror": "auto", "predict": "auto",
              "floor": fl, "alias": c["alias"], "floored": floored, "aliases": aliases,
              "one_group_without_table": [e.name for e in d.tensors if e.glen]}
        size = write_case(OUT_V7, name, tensors, js, data)
        total += size
        print(f"{name:24s} {len(data):7d} package bytes, {size:7d} on disk, floored "
              f"{list(floored)}, aliases {aliases}")
    print(f"total {total} bytes")
    return 0


def main() -> int:
    if "--v7" in sys.argv[1:]:
        return main_v7()
    if "--v6" in sys.argv[1:]:
        return main_v6()
    if "--v5" in sys.argv[1:]:
        return main_v5()
    if "--v4" in sys.argv[1:]:
        return main_v4()
    if "--v3" in sys.argv[1:]:
        return main_v3()
    if "--v2" in sys.argv[1:]:
        return main_v2()
    OUT.mkdir(parents=True, exist_ok=True)
    cs = cases()
    if refuse_existing(OUT, cs):
        return 1
    total = 0
    for name, c in cs.items():
        tensors = c["tensors"]
        opts = {"group": c["group"], "max_tables": c.get("max_tables", codec.writer.DEFAULT_MAX_TABLES)}
        meta = c.get("meta")
        data = codec.pack(tensors, group=opts["group"], meta=meta, max_tables=opts["max_tables"],
                          version=1)
        back = codec.unpack(data)
        assert list(back) == list(tensors)
        for k, v in tensors.items():
            assert back[k].dtype == v.dtype and back[k].shape == v.shape
            assert np.array_equal(back[k], v)
        js = {"description": c["desc"], "order": list(tensors), "group": group_to_json(c["group"]),
              "max_tables": opts["max_tables"],
              "meta": {k: meta_to_json(m) for k, m in (meta or {}).items()},
              "codec_version": codec.__version__, "bytes": len(data)}
        # npz keys are the tensor names in order; np.savez keeps them (non-ASCII included)
        size = write_case(OUT, name, tensors, js, data)
        total += size
        print(f"{name:24s} {len(data):7d} package bytes, {size:7d} on disk")
    print(f"total {total} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
