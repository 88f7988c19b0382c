"""Re-entrancy and thread safety: many threads decoding different packages at once (issue 6).

Packages whose payload bits plus half their values exceed ``PAR_MIN_WORK`` are decoded in chunks on the thread pool
(codec.kernels.parallel.run_chunks), smaller ones on the calling thread; both kinds run
concurrently here, together with corrupt inputs whose errors must stay in their own thread.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import codec
from codec.package import PAR_MIN_WORK

ROOT = Path(__file__).resolve().parent.parent
THREADS = 8


def _model(seed: int, big: bool) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = PAR_MIN_WORK // 64 // 2 if big else 300  # big: ~3.5 bits a value, > PAR_MIN_WORK
    w = rng.integers(-40, 41, size=(64, n)).astype(np.int8)
    w[rng.random(w.shape) < 0.6] = 0
    out = {f"m{seed}.w": w,
           f"m{seed}.b": rng.integers(-3000, 3000, size=64).astype(np.int16),
           f"m{seed}.u": rng.integers(0, 1 << 20, size=(7, seed + 1)).astype(np.uint32)}
    return out


@pytest.fixture(scope="module")
def packages():
    pk = []
    for seed in range(6):
        arrays = _model(seed, big=seed % 2 == 0)
        pk.append((codec.pack(arrays, group=("count", 512 + 97 * seed)), arrays))
        info = codec.inspect(pk[-1][0]).tensors
        work = sum(t.payload_bytes for t in info) * 8 + sum(t.numel for t in info) // 2
        assert (work >= PAR_MIN_WORK) == (seed % 2 == 0), work  # both paths are covered
    return pk


def _same(got: dict, want: dict) -> bool:
    return list(got) == list(want) and all(
        got[k].dtype == want[k].dtype and got[k].shape == want[k].shape
        and np.array_equal(got[k], want[k]) for k in want)


def test_many_threads_different_packages(packages):
    barrier = threading.Barrier(THREADS)

    def job(i):
        barrier.wait()
        bad = 0
        for r in range(6):
            data, want = packages[(i + r) % len(packages)]
            if not _same(codec.unpack(data), want):
                bad += 1
            name = list(want)[r % 3]
            if not np.array_equal(codec.read_tensor(data, name), want[name]):
                bad += 1
        return bad

    with ThreadPoolExecutor(THREADS) as ex:
        assert sum(ex.map(job, range(THREADS))) == 0


def test_threads_share_one_package(packages):
    data, want = packages[0]
    pkg = codec.Package(data)
    names = list(want)
    barrier = threading.Barrier(THREADS)

    def job(i):
        barrier.wait()
        ok = True
        for r in range(8):
            name = names[(i + r) % len(names)]
            ok &= bool(np.array_equal(pkg.read(name), want[name]))
            if r % 4 == 0:
                ok &= _same(pkg.read_all(), want)
            ok &= pkg.meta(name) is None
        return ok

    with ThreadPoolExecutor(THREADS) as ex:
        assert all(ex.map(job, range(THREADS)))


def test_errors_stay_in_their_thread(packages):
    """Corrupt inputs decoded beside good ones: errors in the bad threads only."""
    corrupt = []
    for data, want in packages[:3]:
        bad = bytearray(data)
        info = codec.inspect(data)
        t = info.tensors[0]
        bad[t.block_offset + t.block_bytes // 2] ^= 0x5A
        corrupt.append(bytes(bad))
    barrier = threading.Barrier(THREADS)

    def job(i):
        barrier.wait()
        res = []
        for r in range(6):
            if (i + r) % 2:
                data = corrupt[(i + r) % len(corrupt)]
                try:
                    codec.unpack(data)
                    res.append("no-error")
                except codec.ChecksumError:
                    res.append("ok")
                try:  # the same bytes, checksum off: a CodecError or some result, no crash
                    codec.unpack(data, verify=False)
                except codec.CodecError:
                    pass
            else:
                data, want = packages[(i + r) % len(packages)]
                res.append("ok" if _same(codec.unpack(data), want) else "wrong")
        return res

    with ThreadPoolExecutor(THREADS) as ex:
        results = [x for r in ex.map(job, range(THREADS)) for x in r]
    assert set(results) == {"ok"}, results


_WORKQUEUE_SCRIPT = r"""
import threading, sys
import numpy as np
import codec
rng = np.random.default_rng(0)
pk = []
for s in range(4):
    w = rng.integers(-9, 10, size=(64, 4096)).astype(np.int8)
    pk.append((codec.pack({"w": w}), w))
barrier = threading.Barrier(8)
bad = []
def job(i):
    barrier.wait()
    for r in range(10):
        d, w = pk[(i + r) % 4]
        if not np.array_equal(codec.unpack(d)["w"], w):
            bad.append(i)
ts = [threading.Thread(target=job, args=(i,)) for i in range(8)]
[t.start() for t in ts]
[t.join() for t in ts]
print("bad", len(bad))
sys.exit(1 if bad else 0)
"""


# Regression: with Numba's workqueue layer, concurrent prange kernels aborted the process
# (the kernels now run on codec.kernels.parallel's own pool, and this must stay so).
def test_concurrent_decoding_with_workqueue_layer():
    env = dict(os.environ, NUMBA_THREADING_LAYER="workqueue",
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, "-c", _WORKQUEUE_SCRIPT], capture_output=True,
                       text=True, env=env, timeout=300)
    assert r.returncode == 0, (r.returncode, r.stderr[-500:])


# --- the decoder's chunk runner (codec.kernels.parallel.run_chunks) ----------------------------

def test_run_chunks_runs_every_chunk_once_on_several_threads():
    from codec.kernels.parallel import run_chunks, workers
    seen: list[tuple[int, str]] = []
    lock = threading.Lock()

    def work(k):
        with lock:
            seen.append((k, threading.current_thread().name))

    run_chunks(work, 50)
    assert sorted(k for k, _ in seen) == list(range(50))
    if workers() == 0:
        assert {t for _, t in seen} == {threading.current_thread().name}


def test_run_chunks_reraises_and_still_finishes_the_other_chunks():
    from codec.kernels.parallel import run_chunks
    done = []

    def work(k):
        if k == 3:
            raise ValueError("chunk 3")
        done.append(k)

    with pytest.raises(ValueError, match="chunk 3"):
        run_chunks(work, 8)
    assert sorted(done) == [0, 1, 2, 4, 5, 6, 7]


def test_run_chunks_does_not_wait_for_an_idle_pool():
    """The caller may do every chunk itself: a pool thread that starts late must not be
    waited for (that is what a prange barrier does under load)."""
    from codec.kernels import parallel
    if parallel.workers() == 0:
        pytest.skip("one thread: nothing runs on the pool")
    block = threading.Event()
    pool = parallel._pool(parallel.workers())
    blockers = [pool.submit(block.wait) for _ in range(pool._max_workers)]
    try:
        seen = []
        parallel.run_chunks(seen.append, 6)  # the pool is busy: the caller runs all six
        assert sorted(seen) == list(range(6))
    finally:
        block.set()
        for b in blockers:
            b.result()


def test_start_chunks_runs_on_the_pool_until_finish():
    """start_chunks: the caller is free until finish(), which runs what no pool thread took,
    waits for the rest and re-raises the first exception."""
    from codec.kernels.parallel import start_chunks
    seen = []
    lock = threading.Lock()

    def work(k):
        with lock:
            seen.append(k)
        if k == 5:
            raise ValueError("chunk 5")

    finish = start_chunks(work, 12)
    with pytest.raises(ValueError, match="chunk 5"):
        finish()
    assert sorted(seen) == list(range(12))
    seen.clear()
    start_chunks(seen.append, 0)()
    assert seen == []
