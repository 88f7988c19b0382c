"""Numba kernels.  No Python objects inside; every index is checked; status codes out.

Status codes (per group, 0 = ok) are turned into exceptions by :mod:`codec.package`.
"""
from .status import STATUS_MESSAGES  # noqa: F401
