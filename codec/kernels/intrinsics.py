"""LLVM intrinsics the decoder needs and Numba does not expose.

``load_be64(buf, p)``: the 8 bytes ``buf[p:p+8]`` as a big-endian uint64, with one unaligned
load and a byte swap (the caller guarantees ``0 <= p`` and ``p + 8 <= buf.size``).
``load_le64(buf, p)``: the same bytes little-endian (one load on a little-endian host).
``clmul64(a, b)``: the carry-less product of two uint64 as (low, high) uint64 words
(x86's PCLMULQDQ); only where :data:`HAS_CLMUL` (kernels/crc.py's folding CRC-32).
"""
from __future__ import annotations

import platform
import sys

import numpy as np
from llvmlite import ir
from numba import config, njit, types
from numba.core import cgutils
from numba.extending import intrinsic

LITTLE_ENDIAN = sys.byteorder == "little"


def _load64(buf, p, swap: bool):
    """(signature, codegen) of one unaligned 8-byte load of ``buf[p:p+8]`` (a uint8 array),
    byte-swapped when ``swap``; None for other argument types."""
    if not (isinstance(buf, types.Array) and buf.dtype == types.uint8
            and isinstance(p, types.Integer)):
        return None
    sig = types.uint64(buf, p)

    def codegen(context, builder, signature, args):
        arr = context.make_array(signature.args[0])(context, builder, args[0])
        idx = context.cast(builder, args[1], signature.args[1], types.intp)
        i64 = ir.IntType(64)
        val = builder.load(builder.bitcast(builder.gep(arr.data, [idx]), i64.as_pointer()),
                           align=1)
        if swap:
            fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(i64, [i64]),
                                                "llvm.bswap.i64")
            val = builder.call(fn, [val])
        return val

    return sig, codegen


@intrinsic
def load_be64(typingctx, buf, p):
    return _load64(buf, p, LITTLE_ENDIAN)


if config.DISABLE_JIT:  # NUMBA_DISABLE_JIT=1: kernels run as Python, so must this
    def load_be64(buf, p):  # noqa: F811
        return np.uint64(int.from_bytes(bytes(buf[p:p + 8]), "big"))


@intrinsic
def _ctlz64(typingctx, x):
    if not isinstance(x, types.Integer):
        return None
    sig = types.int64(x)

    def codegen(context, builder, signature, args):
        i64 = ir.IntType(64)
        v = context.cast(builder, args[0], signature.args[0], types.int64)
        fn = cgutils.get_or_insert_function(builder.module,
                                            ir.FunctionType(i64, [i64, ir.IntType(1)]),
                                            "llvm.ctlz.i64")
        return builder.call(fn, [v, ir.Constant(ir.IntType(1), 0)])

    return sig, codegen


if config.DISABLE_JIT:
    def bit_length64(x):
        return int(x).bit_length()
else:
    @njit(inline="always")
    def bit_length64(x):
        """Number of bits of a non-negative integer (0 for 0): 64 - count of leading zeros."""
        return 64 - _ctlz64(x)


@njit(cache=True, inline="always")
def window_be64(buf, p, hi):
    """:func:`load_be64` at byte ``p`` where bytes at or past ``hi`` read as 0 (``hi <=
    buf.size`` is checked by the callers)."""
    # 0 <= p <= hi - 8 as one unsigned compare (a negative p or one past hi - 8 wraps to a
    # large value); hi >= 8 first (loop-invariant in the decoder), so that hi - 8 >= 0 also
    # as plain Python (NUMBA_DISABLE_JIT: np.uint64 of a negative number raises)
    if hi >= 8 and np.uint64(p) <= np.uint64(hi - 8):
        return load_be64(buf, p)
    w = np.uint64(0)
    for k in range(8):
        w <<= np.uint64(8)
        if p + k < hi:
            w |= np.uint64(buf[p + k])
    return w


@intrinsic
def load_le64(typingctx, buf, p):
    return _load64(buf, p, not LITTLE_ENDIAN)


@intrinsic
def clmul64(typingctx, a, b):
    if not (isinstance(a, types.Integer) and isinstance(b, types.Integer)):
        return None
    sig = types.UniTuple(types.uint64, 2)(a, b)

    def codegen(context, builder, signature, args):
        i64, i32 = ir.IntType(64), ir.IntType(32)
        v2 = ir.VectorType(i64, 2)
        zero = ir.Constant(i32, 0)
        va = builder.insert_element(ir.Constant(v2, None), args[0], zero)
        vb = builder.insert_element(ir.Constant(v2, None), args[1], zero)
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(v2, [v2, v2, ir.IntType(8)]), "llvm.x86.pclmulqdq")
        r = builder.call(fn, [va, vb, ir.Constant(ir.IntType(8), 0)])
        lo = builder.extract_element(r, zero)
        hi = builder.extract_element(r, ir.Constant(i32, 1))
        return context.make_tuple(builder, signature.return_type, [lo, hi])

    return sig, codegen


def _has_clmul() -> bool:
    """x86-64 with PCLMULQDQ and compiled kernels (NUMBA_DISABLE_JIT runs no intrinsic)."""
    if config.DISABLE_JIT:
        return False
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    try:
        from llvmlite import binding
        return bool(binding.get_host_cpu_features().get("pclmul", False))
    except Exception:  # noqa: BLE001 - no feature list: the portable path
        return False


HAS_CLMUL = _has_clmul()
