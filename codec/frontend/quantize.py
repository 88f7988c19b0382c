"""Weight and activation quantization (seed 000).

``quantize(w, bits=..., granularity=..., method=...)`` turns a float array into integers plus the
scales (and zero points) that give them back:  ``w ~= scale[k] * (q - zero_point[k])``, the rule
of :class:`codec.QuantMeta`.

Methods
  * ``"maxabs"``  scale = max|w| / (2**(bits-1) - 1) per group (asymmetric: min/max range);
  * ``"alpha"``   seed 000's refinement: alternate Q = clip(round(W/a)), a = <W,Q>/<Q,Q> per group
    until a converges (the L2 error never increases, so it is never worse than max-abs);
  * ``"fixed"``   power-of-two fixed point: scale = 2**-frac_bits, two's complement range,
    nearest rounding (ties to even), as in seed 000's worked examples.
One bit means sign times a: values are -1 / +1 (zero counts as +1).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "QuantizedTensor",
    "quantize",
    "quantize_activation",
    "fixed_point_frac_bits",
    "resolve_group_size",
    "GRANULARITIES",
    "METHODS",
]

GRANULARITIES = ("tensor", "channel", "group")
METHODS = ("maxabs", "alpha", "fixed")
ALPHA_TOL = 1e-7
ALPHA_MAX_ITER = 100


def _int_dtype(bits: int) -> np.dtype:
    if bits <= 8:
        return np.dtype(np.int8)
    if bits <= 16:
        return np.dtype(np.int16)
    return np.dtype(np.int32)


def _check_bits(bits, lo: int = 1, hi: int = 32, what: str = "bits") -> int:
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)):
        raise TypeError(f"{what} must be an int, got {type(bits).__name__}")
    bits = int(bits)
    if not lo <= bits <= hi:
        raise ValueError(f"{what} must be in {lo}..{hi}, got {bits}")
    return bits


def _float_array(w, what: str = "w") -> np.ndarray:
    arr = np.asarray(w)
    if arr.dtype.kind not in "fiu" or arr.dtype.kind == "b":
        raise TypeError(f"{what} must be a real numeric array, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if arr.size and not np.all(np.isfinite(arr)):
        raise ValueError(f"{what} contains NaN or infinity")
    return arr


def resolve_group_size(shape: tuple[int, ...], group_size) -> int:
    """Turn ``group_size`` into a count of consecutive (C-order) elements.

    Seed 002's groupings: ``"kernel"`` (one spatial kernel, prod(shape[2:]) of an OIHW/OIK
    tensor), an int (a fixed count; a multiple of the kernel size gives a kernel group).
    """
    if isinstance(group_size, str):
        if group_size != "kernel":
            raise ValueError(f"group_size must be an int or 'kernel', got {group_size!r}")
        if len(shape) < 3:
            raise ValueError(f"group_size='kernel' needs a tensor with >= 3 dims, got shape {shape}")
        return max(1, int(np.prod(shape[2:], dtype=np.int64)))
    if isinstance(group_size, bool) or not isinstance(group_size, (int, np.integer)):
        raise TypeError("group_size must be an int or 'kernel' when granularity='group'")
    if int(group_size) < 1:
        raise ValueError(f"group_size must be >= 1, got {group_size}")
    return int(group_size)


@dataclass(frozen=True, eq=False)
class QuantizedTensor:
    """Integers plus the scales that turn them back into floats.

    ``values`` has the smallest signed dtype holding ``bits`` (int8 / int16 / int32).
    ``scale`` is float32 (one per group), ``zero_point`` int64 or None (symmetric).
    """

    values: np.ndarray
    scale: np.ndarray
    zero_point: np.ndarray | None
    bits: int
    granularity: str = "tensor"
    axis: int | None = None
    group_size: int | None = None
    method: str = "maxabs"
    iterations: int = 0
    converged: bool = True
    rel_error: float = 0.0

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.values.shape)

    @property
    def frac_bits(self) -> np.ndarray | None:
        """For ``method="fixed"``: the fractional bits of each group (scale = 2**-frac_bits)."""
        if self.method != "fixed":
            return None
        return (-np.log2(self.scale.astype(np.float64))).round().astype(np.int64)

    @property
    def meta(self):
        """The :class:`codec.QuantMeta` describing ``values``."""
        from ..meta import QuantMeta
        return QuantMeta(bits=self.bits, scale=self.scale, zero_point=self.zero_point,
                         axis=self.axis if self.granularity == "channel" else None,
                         block=self.group_size if self.granularity == "group" else None)

    def dequantize(self, dtype=np.float32) -> np.ndarray:
        """Floats ``scale[k] * (values - zero_point[k])`` (computed in float64, then cast)."""
        from ..meta import dequantize_fast
        k = 1 if self.granularity == "tensor" else None  # per tensor: the first scale only
        zp = None if self.zero_point is None else self.zero_point[:k]
        fast = dequantize_fast(np.asarray(self.values), self.scale[:k], zp,
                               self.axis if self.granularity == "channel" else None,
                               self.group_size if self.granularity == "group" else None, dtype)
        if fast is not None:
            return fast
        q = self.values.astype(np.float64)
        s = self.scale.astype(np.float64)
        zp = None if self.zero_point is None else self.zero_point.astype(np.float64)
        if self.granularity == "tensor":
            out = (q - (zp[0] if zp is not None else 0.0)) * s[0]
        elif self.granularity == "channel":
            bshape = [1] * q.ndim
            bshape[self.axis] = -1
            out = (q - (zp.reshape(bshape) if zp is not None else 0.0)) * s.reshape(bshape)
        else:
            idx = np.arange(q.size) // self.group_size
            flat = q.reshape(-1)
            out = ((flat - (zp[idx] if zp is not None else 0.0)) * s[idx]).reshape(q.shape)
        return out.astype(dtype)

    def step(self) -> np.ndarray:
        """The quantization step of every element (broadcast scale), float64."""
        s = self.scale.astype(np.float64)
        if self.granularity == "tensor":
            return np.full(self.shape, s[0])
        if self.granularity == "channel":
            bshape = [1] * len(self.shape)
            bshape[self.axis] = -1
            return np.broadcast_to(s.reshape(bshape), self.shape).copy()
        idx = np.arange(self.values.size) // self.group_size
        return s[idx].reshape(self.shape)

    def value_range(self) -> tuple[int, int]:
        """The smallest and largest integer this tensor's grid allows."""
        if self.bits == 1 and self.zero_point is None:
            return -1, 1
        if self.zero_point is None and self.method in ("maxabs", "alpha"):
            return -(2 ** (self.bits - 1) - 1), 2 ** (self.bits - 1) - 1
        return -(2 ** (self.bits - 1)), 2 ** (self.bits - 1) - 1

    def requantize(self, w) -> "QuantizedTensor":
        """Round other floats ``w`` (same shape) onto this tensor's grid: same scales, clipped."""
        arr = _float_array(w)
        if arr.shape != self.shape:
            raise ValueError(f"w shape {arr.shape} != {self.shape}")
        if self.bits == 1 and self.zero_point is None:
            q = _sign_q(arr)
        else:
            lo, hi = self.value_range()
            q = np.clip(np.rint(arr / self.step()) + self._zp_full(), lo, hi)
        return self.with_values(q)

    def _zp_full(self):
        if self.zero_point is None:
            return 0.0
        zp = self.zero_point.astype(np.float64)
        if self.granularity == "tensor":
            return np.full(self.shape, zp[0])
        if self.granularity == "channel":
            bshape = [1] * len(self.shape)
            bshape[self.axis] = -1
            return np.broadcast_to(zp.reshape(bshape), self.shape)
        return zp[np.arange(self.values.size) // self.group_size].reshape(self.shape)

    def with_values(self, values: np.ndarray) -> "QuantizedTensor":
        """The same scales with other integers (e.g. after masking)."""
        values = np.asarray(values)
        if values.shape != self.values.shape:
            raise ValueError(f"values shape {values.shape} != {self.values.shape}")
        return QuantizedTensor(values.astype(self.values.dtype), self.scale, self.zero_point,
                               self.bits, self.granularity, self.axis, self.group_size,
                               self.method, self.iterations, self.converged, self.rel_error)


# ---------------------------------------------------------------- grouping helpers
def _to_rows(w: np.ndarray, granularity: str, axis: int | None, group: int | None):
    """View ``w`` as (groups, elements); padding zeros do not change any method's result."""
    if granularity == "tensor":
        return w.reshape(1, -1), None
    if granularity == "channel":
        moved = np.moveaxis(w, axis, 0)
        return moved.reshape(moved.shape[0], -1), moved.shape
    flat = w.reshape(-1)
    n_groups = max(1, -(-flat.size // group))
    padded = np.zeros(n_groups * group, dtype=flat.dtype)
    padded[: flat.size] = flat
    return padded.reshape(n_groups, group), None


def _from_rows(rows: np.ndarray, shape, granularity: str, axis: int | None, moved_shape):
    if granularity == "tensor":
        return rows.reshape(shape)
    if granularity == "channel":
        return np.moveaxis(rows.reshape(moved_shape), 0, axis)
    n = int(np.prod(shape, dtype=np.int64))
    return rows.reshape(-1)[:n].reshape(shape)


def _safe_scale(scale: np.ndarray) -> np.ndarray:
    """float32 scales, with 1.0 where a group is all zero (or the scale underflows)."""
    s32 = scale.astype(np.float32)
    low = s32.astype(np.float64) < scale  # round up: the largest value must stay on the grid
    s32[low] = np.nextafter(s32[low], np.float32(np.inf))
    bad = ~(s32 > 0) | ~np.isfinite(s32)
    s32[bad] = np.float32(1.0)
    return s32


def _sign_q(rows: np.ndarray) -> np.ndarray:
    return np.where(rows >= 0, 1.0, -1.0)


def _sym_q(rows: np.ndarray, scale: np.ndarray, qmax: int) -> np.ndarray:
    """Symmetric nearest-rounding quantization of each row with its float32 scale."""
    return np.clip(np.rint(rows / scale.astype(np.float64)[:, None]), -qmax, qmax)


def _sq_err(rows: np.ndarray, q: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Each row's squared error of ``q`` times its stored (float32) scale."""
    return ((q * scale.astype(np.float64)[:, None] - rows) ** 2).sum(axis=1)


def _alpha_refine(rows: np.ndarray, bits: int, qmax: int, *, tol: float, max_iter: int):
    """Seed 000: alternate Q = clip(round(W/a)) and a = <W,Q>/<Q,Q>, per row, until stable."""
    amax = np.abs(rows).max(axis=1)
    if bits == 1:
        alpha = np.abs(rows).mean(axis=1)  # the exact optimum for Q = sign(W)
        return alpha, 1, True
    alpha = amax / qmax
    active = alpha > 0
    iters = 0
    converged = True
    for iters in range(1, max_iter + 1):
        if not active.any():
            iters -= 1
            break
        a = alpha[active]
        w = rows[active]
        q = np.clip(np.rint(w / a[:, None]), -qmax, qmax)
        den = (q * q).sum(axis=1)
        num = (w * q).sum(axis=1)
        new = np.where(den > 0, num / np.where(den > 0, den, 1.0), a)
        done = np.abs(new - a) <= tol * np.abs(a)
        alpha[active] = new
        idx = np.flatnonzero(active)
        active[idx[done]] = False
    else:
        converged = not active.any()
    return alpha, iters, converged


def quantize(w, /, *, bits: int, granularity: str = "tensor", axis: int = 0, group_size=None,
             method: str = "maxabs", frac_bits=None, symmetric: bool = True,
             tol: float = ALPHA_TOL, max_iter: int = ALPHA_MAX_ITER) -> QuantizedTensor:
    """Quantize a float array to ``bits``-bit integers with per-tensor/channel/group scales.

    ``granularity="channel"`` gives one scale per index along ``axis``; ``"group"`` one per
    ``group_size`` consecutive C-order elements (an int, or ``"kernel"``).  ``method="fixed"``
    uses ``frac_bits`` fractional bits (an int, or None: the most that fit each group's max|w|).
    """
    bits = _check_bits(bits)
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity must be one of {GRANULARITIES}, got {granularity!r}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if not isinstance(symmetric, (bool, np.bool_)):
        raise TypeError("symmetric must be a bool")
    if not symmetric and method != "maxabs":
        raise ValueError(f"symmetric=False is only available with method='maxabs', not {method!r}")
    if frac_bits is not None and method != "fixed":
        raise ValueError("frac_bits is only meaningful with method='fixed'")
    if group_size is not None and granularity != "group":
        raise ValueError("group_size is only meaningful with granularity='group'")
    if not (isinstance(max_iter, (int, np.integer)) and max_iter >= 1):
        raise ValueError(f"max_iter must be a positive int, got {max_iter!r}")
    if not tol >= 0:
        raise ValueError(f"tol must be >= 0, got {tol!r}")
    arr = _float_array(w)
    shape = arr.shape
    ax = None
    grp = None
    if granularity == "channel":
        if arr.ndim == 0:
            raise ValueError("granularity='channel' needs an array with at least one dim")
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise TypeError("axis must be an int")
        if not -arr.ndim <= axis < arr.ndim:
            raise ValueError(f"axis {axis} out of range for shape {shape}")
        ax = int(axis) % arr.ndim
    elif granularity == "group":
        if group_size is None:
            raise ValueError("granularity='group' needs group_size")
        grp = resolve_group_size(shape, group_size)
    rows, moved = _to_rows(arr, granularity, ax, grp)
    if arr.size == 0:
        return QuantizedTensor(np.zeros(shape, _int_dtype(bits)), np.ones(rows.shape[0], np.float32),
                               None if symmetric else np.zeros(rows.shape[0], np.int64), bits,
                               granularity, ax, grp, method)
    qmax_sym = 2 ** (bits - 1) - 1
    zp_rows = None
    iterations, converged = 0, True

    if method == "fixed":
        lo, hi = (-1, 1) if bits == 1 else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
        if frac_bits is None:
            amax = np.abs(rows).max(axis=1)
            top = 1 if bits == 1 else hi
            with np.errstate(divide="ignore"):
                fb = np.floor(np.log2(top / np.where(amax > 0, amax, 1.0)))
            fb = np.where(amax > 0, fb, 0).astype(np.int64)
        else:
            fb = np.broadcast_to(np.asarray(frac_bits), (rows.shape[0],))
            if fb.dtype.kind not in "iu":
                raise TypeError("frac_bits must be an int (or one int per group)")
            fb = fb.astype(np.int64)
        if np.any(np.abs(fb) > 120):
            raise ValueError("frac_bits must be within -120..120")
        scale = np.ldexp(np.float32(1.0), -fb).astype(np.float32)
        x = rows / scale.astype(np.float64)[:, None]
        q = _sign_q(rows) if bits == 1 else np.clip(np.rint(x), lo, hi)
    elif not symmetric:
        lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
        mn = np.minimum(rows.min(axis=1), 0.0)
        mx = np.maximum(rows.max(axis=1), 0.0)
        scale = _safe_scale((mx - mn) / (2 ** bits - 1))
        s64 = scale.astype(np.float64)
        zp = np.clip(lo - np.rint(mn / s64), lo, hi)
        q = np.clip(np.rint(rows / s64[:, None]) + zp[:, None], lo, hi)
        zp_rows = zp.astype(np.int64)
    else:
        if method == "alpha":
            alpha, iterations, converged = _alpha_refine(rows, bits, qmax_sym, tol=tol,
                                                         max_iter=int(max_iter))
        elif bits == 1:
            alpha = np.abs(rows).mean(axis=1)
        else:
            alpha = np.abs(rows).max(axis=1) / qmax_sym
        scale = _safe_scale(alpha)
        if bits == 1:
            q = _sign_q(rows)
        else:
            q = _sym_q(rows, scale, qmax_sym)
            if method == "alpha":
                # each alternation lowers the error in exact arithmetic, but the stored float32
                # scale can undo a gain smaller than its rounding (at 16 bits): a row keeps
                # max-abs's scale where that one is the better of the two, as stored
                s0 = _safe_scale(np.abs(rows).max(axis=1) / qmax_sym)
                q0 = _sym_q(rows, s0, qmax_sym)
                worse = _sq_err(rows, q0, s0) < _sq_err(rows, q, scale)
                scale = np.where(worse, s0, scale)
                q[worse] = q0[worse]

    values = _from_rows(q, shape, granularity, ax, moved).astype(_int_dtype(bits))
    qt = QuantizedTensor(values, scale.astype(np.float32),
                         None if zp_rows is None else zp_rows, bits, granularity, ax, grp,
                         method, int(iterations), bool(converged), 0.0)
    deq = qt.dequantize(np.float64)
    norm = float(np.linalg.norm(arr))
    err = float(np.linalg.norm(arr - deq))
    rel = err / norm if norm > 0 else (0.0 if err == 0 else math.inf)
    object.__setattr__(qt, "rel_error", rel)
    return qt


# ---------------------------------------------------------------- activations
def fixed_point_frac_bits(max_abs: float, bits: int) -> int:
    """Most fractional bits such that ``max_abs`` fits a signed ``bits``-bit fixed-point number."""
    bits = _check_bits(bits)
    max_abs = float(max_abs)
    if not math.isfinite(max_abs) or max_abs < 0:
        raise ValueError(f"max_abs must be finite and >= 0, got {max_abs}")
    if max_abs == 0:
        return 0
    top = 1 if bits == 1 else 2 ** (bits - 1) - 1
    return int(max(-120, min(120, math.floor(math.log2(top / max_abs)))))


def quantize_activation(x, /, *, bits: int = 8, frac_bits: int | None = None) -> np.ndarray:
    """Fake-quantize activations (features) to signed ``bits``-bit fixed point (8..32 bits).

    Returns float32 values on the grid ``k * 2**-frac_bits``, clipped to the two's complement
    range; ``frac_bits=None`` picks the most that fit max|x| (seed 000 quantizes every layer's
    input except the first).
    """
    bits = _check_bits(bits, 8, 32, "activation bits")
    arr = _float_array(x, "x")
    if frac_bits is None:
        frac_bits = fixed_point_frac_bits(float(np.abs(arr).max()) if arr.size else 0.0, bits)
    elif isinstance(frac_bits, bool) or not isinstance(frac_bits, (int, np.integer)):
        raise TypeError("frac_bits must be an int or None")
    step = math.ldexp(1.0, -int(frac_bits))
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return (np.clip(np.rint(arr / step), lo, hi) * step).astype(np.float32)
