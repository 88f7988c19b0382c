"""Chunked work on a small thread pool, for the decoder's and the encoder's nogil kernels.
"""
from __future__ import annotations

import os
import queue
import threading
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


class _Pool:
    """Daemon threads taking tasks from a queue; an idle thread blocks on it.

    (Until session 9 a thread lingered for 2 ms after a task, polling the queue with the GIL
    taken and released between polls, so that back-to-back calls found a helper awake: on
    this VM a blocked thread's idle vCPU took up to ~1.5 ms to wake.  But the polls took the
    GIL from the caller's Python between its kernel calls, and each hand-back costs a wake
    too: without the linger two-thread decodes were 1-9 % faster, none slower (mtcnn 4/0
    forced onto the pool 838 -> 769 µs, yolov8n 4/.9 1507 -> 1384, 8/0 5251 -> 5222;
    docs/DESIGN.md, session 9).  A caller never waits for a late thread: run_chunks.)"""

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
            fn, fut = q.get()
            try:
                fut.set_result(fn())
            except BaseException as exc:  # noqa: BLE001 - stored in the future
                fut.set_exception(exc)
            fn = fut = None  # (drop the work's references before blocking)


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
