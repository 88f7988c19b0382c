"""One parallel kernel at a time per process.

Numba's default ``workqueue`` threading layer aborts the process if two Python threads launch
parallel kernels at once.  Callers take :func:`parallel_slot`: the thread that gets it runs the
``prange`` kernel; any other thread meanwhile runs the serial (``nogil``) form, so concurrent
decoders stay correct and still use several cores.
"""
from __future__ import annotations

import threading
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
