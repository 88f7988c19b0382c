"""Numba kernels.  No Python objects inside; every index is checked; status codes out.

Status codes (per group, 0 = ok) are turned into exceptions by :mod:`codec.package`.

In hot loops, index with ``a[np.uint64(i)]`` once ``i`` is checked against the buffer:
Numba compiles a signed index with Python's negative-index wrap, and a loop with it does
not vectorise (the dequantization loop 7x, decode-table fill 7x, run counting 5x slower;
docs/DESIGN.md, session 9).  Keep the index arithmetic itself in int64: Numba types
uint64 + int64 as float64.
"""
from .status import STATUS_MESSAGES  # noqa: F401
