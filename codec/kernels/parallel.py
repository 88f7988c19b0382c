"""One parallel kernel at a time per process.

Numba's default ``workqueue`` threading layer aborts the process if two Python threads launch
parallel kernels at once.  Callers take :func:`parallel_slot`: the thread that gets it runs the
``prange`` kernel; any other thread meanwhile runs the serial (``nogil``) form, so concurrent
decoders stay correct and still use several cores.
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

_LOCK = threading.Lock()


@contextmanager
def parallel_slot():
    got = _LOCK.acquire(blocking=False)
    try:
        yield got
    finally:
        if got:
            _LOCK.release()


# --- chunked work on a small thread pool (the decoder) ----------------------------------------
#
# A prange kernel ends at a barrier that waits for every team thread: when another process
# holds a core, a descheduled thread stalls the whole call for a scheduler time slice (an
# 0.5 ms decode took 4-7 ms on this 2-core machine under load).  run_chunks() instead lets
# the calling thread and the pool's threads take chunks from a shared counter and waits only
# for chunks that were taken: a thread that starts late finds nothing left and is not waited
# for.  The work function must release the GIL (a nogil kernel) to run in parallel.

_POOL = None
_POOL_LOCK = threading.Lock()


def workers() -> int:
    """Pool threads besides the caller: numba's thread count (NUMBA_NUM_THREADS) minus one."""
    import numba
    return max(0, min(numba.get_num_threads(), os.cpu_count() or 1) - 1)


def _pool(n: int):
    global _POOL
    with _POOL_LOCK:
        if _POOL is None or _POOL._max_workers < n:
            _POOL = ThreadPoolExecutor(max_workers=n, thread_name_prefix="codec")
        return _POOL


def run_chunks(work, n: int) -> None:
    """Call ``work(k)`` for k in range(n), on the calling thread and up to workers() pool
    threads; returns when every chunk has run; re-raises the first exception."""
    w = min(workers(), n - 1)
    if w <= 0:
        for k in range(n):
            work(k)
        return
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

    pool = _pool(w)
    for _ in range(w):
        pool.submit(drain)
    drain()
    finished.wait()
    box[0] = None
    if errors:
        raise errors[0]
