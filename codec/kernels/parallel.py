"""Chunked work on a small thread pool, for the decoder's and the encoder's nogil kernels.
"""
from __future__ import annotations

import os
import queue
import threading
import time
from concurrent.futures import Future

import numba

# ----------------------------------------------------------------------------------------------
#
# A prange kernel ends at a barrier that waits for every team thread: when another process
# holds a core, a descheduled thread stalls the whole call for a scheduler time slice (an
# 0.5 ms decode took 4-7 ms on this 2-core machine under load).  run_chunks() instead lets
# the calling thread and the pool's threads take chunks from a shared counter and waits only
# for chunks that were taken: a thread that starts late finds nothing left and is not waited
# for.  The work function must release the GIL (a nogil kernel) to run in parallel.

_POOL = None
_POOL_LOCK = threading.Lock()


_CPUS = os.cpu_count() or 1  # (os.cpu_count reads /sys on every call: ~6 us)


def workers() -> int:
    """Pool threads besides the caller: numba's thread count (NUMBA_NUM_THREADS) minus one."""
    return max(0, min(numba.get_num_threads(), _CPUS) - 1)


LINGER_S = 0.002  # a pool thread stays runnable this long after a task (see _Pool)


class _Pool:
    """Daemon threads taking tasks from a queue.  After a task a thread lingers (polling the
    queue, GIL released between polls) for LINGER_S before it blocks: on this VM a blocked
    thread's idle vCPU took ~1.5 ms to wake, longer than a whole decode of a 300 K-parameter
    model, so back-to-back calls found no helper (silero 8-bit: pool 308 vs serial 329 M
    params/s).  OpenMP's worker threads spin after a region for the same reason."""

    def __init__(self, n: int):
        self._max_workers = n
        self._q: queue.SimpleQueue = queue.SimpleQueue()
        for i in range(n):
            threading.Thread(target=self._loop, name=f"codec-{i}", daemon=True).start()

    def submit(self, fn) -> Future:
        fut: Future = Future()
        self._q.put((fn, fut))
        return fut

    def _loop(self) -> None:
        q = self._q
        while True:
            item = q.get()
            while item is not None:
                fn, fut = item
                try:
                    fut.set_result(fn())
                except BaseException as exc:  # noqa: BLE001 - stored in the future
                    fut.set_exception(exc)
                fn = fut = item = None
                deadline = time.perf_counter() + LINGER_S
                while item is None and time.perf_counter() < deadline:
                    try:
                        item = q.get_nowait()
                    except queue.Empty:
                        time.sleep(0)


def _pool(n: int) -> _Pool:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None or _POOL._max_workers < n:
            _POOL = _Pool(n)
        return _POOL


def run_chunks(work, n: int) -> None:
    """Call ``work(k)`` for k in range(n), on the calling thread and up to workers() pool
    threads; returns when every chunk has run; re-raises the first exception."""
    start_chunks(work, n, caller=True)()


def start_chunks(work, n: int, *, caller: bool = False):
    """Start ``work(k)`` for k in range(n) on up to workers() pool threads and return
    ``finish()``, which runs on the calling thread the chunks no pool thread has taken, waits
    for the ones taken and re-raises the first exception.  ``caller``: the calling thread
    takes chunks at once (``run_chunks``); else it is free until ``finish()`` (e.g. to copy
    to a GPU while the pool computes checksums)."""
    w = min(workers(), n - 1 if caller else n)
    if w <= 0:
        def serial():
            for k in range(n):
                work(k)
        if caller:
            serial()
            return lambda: None
        return serial
    lock = threading.Lock()
    # ``work`` is reached through ``box`` only, and dropped when the call returns: a pool
    # thread that starts late must not keep the caller's arrays alive (measured: the next
    # decode batch's plan arrays then doubled the peak memory)
    box = [work]
    state = {"next": 0, "done": 0}
    errors: list[BaseException] = []
    finished = threading.Event()

    def drain():
        while True:
            with lock:
                k = state["next"]
                if k >= n:
                    return
                state["next"] = k + 1
                fn = box[0]
            try:
                fn(k)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller below
                errors.append(exc)
            fn = None
            with lock:
                state["done"] += 1
                if state["done"] == n:
                    finished.set()

    def finish():
        drain()
        finished.wait()
        box[0] = None
        if errors:
            raise errors[0]

    pool = _pool(w)
    for _ in range(w):
        pool.submit(drain)
    if caller:
        finish()
        return lambda: None
    return finish
