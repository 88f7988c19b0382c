"""Format v7 (docs/FORMAT.md §36) in the reference: row floors and tensor aliases.

Row floors: a floored tensor stores each nonzero value ``v`` of row ``r`` as
``sign(v) * (|v| - f_r)``; a row is ``L = numel / R`` consecutive values in C order, ``R`` =
``shape[0]`` with two or more dims, else 1.  Only a *floor-eligible* tensor carries the
``has_floor`` bit (and only when the directory's ``floors_on`` is 1): ``numel > 0``, a signed
dtype, value offset 0, no mirror and no prediction mode.

Tensor aliases: the ``n_alias`` alias records at the start of the entry bit string, each
``EG(0) gap`` and ``EG(0) back - 1``; an alias has no entry record and no block.

Reader side: :func:`read_v7_field` (A1), :func:`read_aliases` (A2, A3), :func:`read_floors`
(R1, R2), :func:`unfloor` (R3).  Writer side: :func:`forward`, :func:`floor_order`,
:func:`row_floors` (the writer's floors), and the bit strings :func:`alias_bits` and
:func:`floor_bits` (the entry writer appends them).  Plain Python, one value at a time;
shares no code with ``codec.floor`` or ``codec.format_v4``.
"""
from __future__ import annotations

from ..errors import CorruptError
from .decoder import dtype_range

MAX_FLOOR_K = 30          # R1: the Exp-Golomb order of the floors
SIGNED = ("int8", "int16", "int32")


# --- shared rules ------------------------------------------------------------------------------

def rows_of(shape) -> int:
    """``R``: ``shape[0]`` when ``ndim >= 2``, else 1."""
    return int(shape[0]) if len(shape) >= 2 else 1


def eligible(dtype: str, numel: int, voff: int, mirrored: bool, pred_mode: int) -> bool:
    """May this tensor carry ``has_floor`` (when ``floors_on`` = 1)?"""
    return numel > 0 and dtype in SIGNED and voff == 0 and not mirrored and pred_mode < 0


def floor_max(dtype: str) -> int:
    """R2: the largest floor of ``dtype``, ``vmax - 1``."""
    return dtype_range(dtype)[1] - 1


def eg_len(n: int, k: int) -> int:
    """Bits of ``n >= 0`` as Exp-Golomb of order ``k``: 2 z + 1 + k, z = bit length of
    ``(n >> k) + 1`` less 1."""
    z = ((n >> k) + 1).bit_length() - 1
    return 2 * z + 1 + k


def floor_order(floors) -> int:
    """``floor_k``: the order in 0 ... 30 that makes the floors shortest (ties: the lower)."""
    sizes = [sum(eg_len(int(f), k) for f in floors) for k in range(MAX_FLOOR_K + 1)]
    return sizes.index(min(sizes))


# --- reader ------------------------------------------------------------------------------------

def read_v7_field(r, count: int) -> tuple[int, bool]:
    """The ``v7`` varint after ``rate``: ``(n_alias, floors_on)``; A1 ``n_alias <=
    max(count - 1, 0)`` (CorruptError, ``value`` = ``n_alias``)."""
    at = r.pos
    v7 = r.varint("v7 (aliases and floors)")
    n_alias, floors_on = v7 >> 1, bool(v7 & 1)
    if n_alias > max(count - 1, 0):
        raise CorruptError(f"{n_alias} aliases among {count} tensors (A1)", offset=at,
                           value=n_alias)
    return n_alias, floors_on


def read_aliases(br, n_alias: int, count: int) -> dict[int, int]:
    """The alias records: ``{i_a: j_a}``.  A2: ``i_a <= count - 1`` (``value`` = gap); A3:
    ``back <= i_a`` and ``j_a`` not itself an alias (``value`` = back)."""
    out: dict[int, int] = {}
    i = -1
    for _ in range(n_alias):
        at = br.offset
        gap = br.eg(0, "alias gap")
        i = i + 1 + gap
        if i > count - 1:
            raise CorruptError(f"alias names tensor {i} of {count} (A2)", offset=at, value=gap)
        at = br.offset
        back = br.eg(0, "alias back - 1") + 1
        if back > i or (i - back) in out:
            raise CorruptError(f"alias {i}: target {i - back} is not an earlier tensor with an "
                               f"entry of its own (A3)", offset=at, value=back)
        out[i] = i - back
    return out


def read_floors(br, name: str, shape, dtype: str) -> tuple:
    """``floor_k`` (5 bits, R1 ``<= 30``) and ``R`` floors as EG(``floor_k``) (R2 each
    ``<= vmax - 1``); CorruptError with ``value`` = the field."""
    at = br.offset
    k = br.u(5, "floor order")
    if k > MAX_FLOOR_K:
        raise CorruptError(f"tensor {name!r}: floor order {k} > {MAX_FLOOR_K} (R1)", offset=at,
                           value=k)
    top = floor_max(dtype)
    floors = []
    for _ in range(rows_of(shape)):
        at = br.offset
        f = br.eg(k, "row floor")
        if f > top:
            raise CorruptError(f"tensor {name!r}: row floor {f} > {top} (R2)", offset=at,
                               value=f)
        floors.append(f)
    return tuple(floors)


def unfloor(values: list[int], floors, dtype: str, name: str, offset: int) -> None:
    """In place: ``x = s + f_r`` for ``s > 0``, ``s - f_r`` for ``s < 0``; a result outside
    the dtype's range is R3 (CorruptError, ``value`` = the stored ``s``)."""
    lo, hi = dtype_range(dtype)
    L = len(values) // len(floors)
    for i, s in enumerate(values):
        if s == 0:
            continue
        f = floors[i // L]
        x = s + f if s > 0 else s - f
        if not lo <= x <= hi:
            raise CorruptError(f"tensor {name!r}: stored value {s} at index {i} leaves the "
                               f"dtype's range with its row floor {f} (R3)", offset=offset,
                               value=s)
        values[i] = x


# --- writer ------------------------------------------------------------------------------------

def row_floors(flat: list[int], shape) -> list[int]:
    """The writer's floors: per row, its smallest nonzero magnitude - 1 (0 for a row without
    a nonzero value)."""
    R = rows_of(shape)
    L = len(flat) // R if R else 0
    out = []
    for r in range(R):
        mags = [abs(v) for v in flat[r * L:(r + 1) * L] if v]
        out.append(min(mags) - 1 if mags else 0)
    return out


def forward(flat: list[int], shape, floors, dtype: str) -> list[int]:
    """The stored values ``sign(v) * (|v| - f_r)``; ValueError where the floors do not fit
    (count, negative, above ``vmax - 1``, or not below a row's nonzero magnitude)."""
    floors = [int(f) for f in floors]
    R = rows_of(shape)
    if len(floors) != R or not flat:
        raise ValueError(f"{len(floors)} floors for {R} rows of {len(flat)} values")
    if dtype not in SIGNED:
        raise ValueError(f"row floors need a signed dtype, not {dtype}")
    if any(not 0 <= f <= floor_max(dtype) for f in floors):
        raise ValueError(f"a floor outside [0, {floor_max(dtype)}]")
    L = len(flat) // R
    out = []
    for i, v in enumerate(flat):
        f = floors[i // L]
        if v and abs(v) <= f:
            raise ValueError(f"value {v} at index {i}: not above its row floor {f}")
        out.append(0 if v == 0 else v - f if v > 0 else v + f)
    return out


def alias_bits(aliases, eg) -> list:
    """The alias records of ``aliases`` = ``[(i_a, j_a), ...]`` (ascending ``i_a``) as the
    bit strings ``eg(gap, 0)``, ``eg(back - 1, 0)``."""
    out = []
    last = -1
    for i, j in aliases:
        if not (last < i and 0 <= j < i):
            raise ValueError(f"alias record ({i}, {j}) out of order or not backwards")
        out += [eg(i - last - 1, 0), eg(i - j - 1, 0)]
        last = i
    return out


def floor_bits(floors, bits_of, eg) -> list:
    """``floor_k`` (5 bits) and the floors as EG(``floor_k``): the fields after
    ``has_floor = 1``."""
    k = floor_order(floors)
    return [bits_of(k, 5)] + [eg(int(f), k) for f in floors]
