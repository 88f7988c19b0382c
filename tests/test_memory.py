"""Decoder memory: output size plus a bounded working set (issue 6).

Peaks are measured with tracemalloc (NumPy reports its buffers to it).  The working set of a
decode is bounded by the header, not by the payload:

    peak - output  <=  LUT_BYTES * tables + GROUP_BYTES * min(groups, PLAN_BATCH) + SLACK

(one fused 4096-entry decode table per Huffman table, at most 32 KiB; per group about 8 int64
of plan and status, for at most PLAN_BATCH groups at a time).  The full-size figure on the
largest model comes from benchmarks/reliability.py (and the slow test below, CODEC_SLOW=1).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import codec
from codec.huffman import LUT_BITS

ROOT = Path(__file__).resolve().parent.parent
LUT_BYTES = 8 << LUT_BITS          # 32 KiB per table
GROUP_BYTES = 8 * 8 + 16           # plan columns + status/where, per group
try:
    from codec.package import PLAN_BATCH
except ImportError:  # before batched decoding: no bound on the groups in flight
    PLAN_BATCH = 1 << 62
SLACK = 1 << 20


def _peak(fn):
    tracemalloc.start()
    try:
        res = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return res, peak


def _bound(data: bytes) -> int:
    info = codec.inspect(data)
    groups = sum(t.n_groups for t in info.tensors)
    return LUT_BYTES * max(len(info.tables), 1) + GROUP_BYTES * min(groups, PLAN_BATCH) + SLACK


@pytest.fixture(scope="module")
def model():
    rng = np.random.default_rng(11)
    arrays = {}
    for i, (shape, dt) in enumerate([((256, 128, 3, 3), np.int8), ((512, 512), np.int8),
                                     ((64, 64, 3, 3), np.int16), ((1000,), np.int32),
                                     ((128, 3, 7, 7), np.uint8)]):
        lim = min(np.iinfo(dt).max, 200)
        a = rng.integers(0 if np.iinfo(dt).min == 0 else -lim, lim, size=shape)
        a[rng.random(shape) < 0.5] = 0
        arrays[f"t{i}"] = a.astype(dt)
    data = codec.pack(arrays)
    codec.unpack(data)  # warm the kernels
    return data, arrays


def test_unpack_peak_is_output_plus_bounded_working_set(model):
    data, arrays = model
    out, peak = _peak(lambda: codec.unpack(data))
    out_bytes = sum(a.nbytes for a in out.values())
    assert out_bytes == sum(a.nbytes for a in arrays.values())
    assert peak - out_bytes <= _bound(data), (peak, out_bytes, _bound(data))


def test_read_tensor_allocates_only_that_tensor(model):
    data, arrays = model
    pkg = codec.Package(data)
    small = min(arrays, key=lambda k: arrays[k].nbytes)
    _, peak = _peak(lambda: pkg.read(small))
    assert peak <= arrays[small].nbytes + GROUP_BYTES * 64 + SLACK
    out = np.empty_like(arrays["t1"])
    _, peak = _peak(lambda: pkg.read("t1", out=out))  # into the caller's buffer
    assert np.array_equal(out, arrays["t1"])
    assert peak <= GROUP_BYTES * pkg.entry("t1").n_groups + SLACK


def test_load_maps_the_file(model, tmp_path):
    data, arrays = model
    p = tmp_path / "m.spk"
    p.write_bytes(data)
    out, peak = _peak(lambda: codec.load(p))
    out_bytes = sum(a.nbytes for a in out.values())
    assert peak - out_bytes <= _bound(data)  # the input is mapped, not copied


def test_inspect_allocates_no_output(model):
    data, arrays = model
    _, peak = _peak(lambda: codec.inspect(data))
    assert peak <= _bound(data)


def test_all_zero_output_is_explicitly_limited():
    """A tiny package may legitimately decode to a big all-zero tensor; only the limit stops it."""
    data = codec.pack({"z": np.zeros((1024, 1024), np.int8)}, group="tensor")
    assert len(data) < 100
    out, peak = _peak(lambda: codec.unpack(data))
    assert not out["z"].any() and peak <= out["z"].nbytes + SLACK
    with pytest.raises(codec.LimitError):
        codec.unpack(data, limits=codec.Limits(max_output_bytes=(1 << 20) - 1))


def test_table_pool_cannot_amplify_a_tiny_header():
    """Tables cost memory by their alphabet size, not by their bytes: a header of only tables
    must stay cheap.  (Was a core bug: 4096 tables of 2**16 symbols, ~70 KB, cost ~330 MiB.)"""
    sys.path.insert(0, str(ROOT))
    from benchmarks.reliability import table_pool_package
    lim = codec.Limits()
    over = table_pool_package(4096, 1 << 16)
    assert len(over) < 100_000
    try:
        _, peak = _peak(lambda: codec.inspect(over))
        assert peak <= 64 * len(over) + SLACK, f"{peak >> 20} MiB for a {len(over)}-byte header"
    except codec.LimitError:
        pass
    per = getattr(lim, "max_table_symbols", 1 << 20) // lim.max_tables
    worst = table_pool_package(lim.max_tables, per)  # the costliest pool the defaults accept
    _, peak = _peak(lambda: codec.inspect(worst))
    assert peak <= 4 * lim.max_tables * per + SLACK, f"{peak >> 20} MiB"


def test_working_set_does_not_grow_with_group_count():
    """Group size 1 (a package pack itself writes): the working set must not scale with the
    group count.  (Was a core bug: 1 MiB package -> 4 MiB output -> 260 MiB peak.)"""
    n = 1 << 20
    data = codec.pack({"z": np.zeros(n, np.int8)}, group=("count", 1))
    assert codec.inspect(data).tensors[0].n_groups == n
    out, peak = _peak(lambda: codec.unpack(data))
    assert not out["z"].any()
    assert peak - n <= 8 * SLACK + LUT_BYTES, f"{peak >> 20} MiB peak for a {n >> 20} MiB output"


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("CODEC_SLOW") != "1", reason="set CODEC_SLOW=1")
def test_largest_model_peak_memory(shared_weights):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "reliability.py"), "--quick"],
                       capture_output=True, text=True, env=env, timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads((ROOT / "benchmarks" / "results" / "reliability.json").read_text())
    for mode in ("unpack", "load"):
        m = res[mode]
        bound = LUT_BYTES * res["tables"] + GROUP_BYTES * min(res["groups"], PLAN_BATCH) + SLACK
        assert m["working_set_bytes"] <= bound, (mode, m, bound)
