"""numba.cuda kernels of the GPU decoder (see docs/GPU.md).

The decode loop is :func:`codec.kernels.decode._step` ported to the device, with the same fused
uint32 decode-table entries (layout in codec/kernels/decode.py) and the same status codes
(codec/kernels/status.py), so the host reports the same errors as the CPU decoder.

Device buffers:
  * ``words``: the package bytes (or the copied span of them) as big-endian uint64 words (the
    host copies the raw bytes, :func:`bswap_words` swaps them once on the device), zero-padded
    with at least one word.  Bit ``p`` of the copied span is bit ``63 - p % 64`` of word
    ``p // 64``; a window read past the last word reads zeros (as the CPU decoder reads zeros
    past its buffer end).
  * per group (one slot per group of a launch): ``glo``/``ghi`` bit range relative to the
    copied span, ``tid`` table, ``ostart``/``ocount`` output range, ``voff`` zero value,
    ``gten`` row of the group's tensor in ``dqi``.
  * ``dqi[t]``: per-tensor int64 parameters of the store (``DQ_*`` columns below); ``scales``
    and ``zps`` the concatenated float64 scales and zero points of all tensors of the launch.
  * ``out``: the flat output of the launch; ``outbits``: the same memory seen as unsigned
    integers of the output's width (float outputs are written bit-exactly through it).

Every index is checked: a group whose ranges fall outside its buffers gets ``ERR_BUFFER`` and
writes nothing; decoding errors get the CPU decoder's codes.
"""
from __future__ import annotations

import math

import numpy as np
from numba import cuda

from ..kernels.status import (ERR_BUFFER, ERR_INVALID_CODE, ERR_LENGTH_MISMATCH, ERR_OVERRUN,
                              ERR_RANGE, ERR_RUN_OVERFLOW, OK)

LUT_BITS = 12
LUT_SIZE = 1 << LUT_BITS
_SHIFT = np.uint64(64 - LUT_BITS)

# store modes (dqi column DQ_MODE)
MODE_INT = 0         # integers as decoded
MODE_LINEAR = 1      # (q - zero_point[k]) * scale[k] in float64, then to the output float
MODE_BITS = 2        # float-bits, output width = bits: the integer's low bits are the float
MODE_F16_TO_F32 = 3  # float-bits 16 → float32 output (exact, integer arithmetic)
MODE_F32_TO_F16 = 4  # float-bits 32 → float16 output (round to nearest even)

# dqi columns
DQ_MODE = 0
DQ_SMODE = 1   # 0 per tensor, 1 per axis, 2 per block
DQ_BASE = 2    # flat index of the tensor's first value in ``out``
DQ_INNER = 3   # per axis: product of the dims after the axis
DQ_AXLEN = 4   # per axis: the axis' length
DQ_BLOCK = 5   # per block: values per scale
DQ_SOFF = 6    # first scale of the tensor in ``scales``
DQ_NSC = 7     # number of scales
DQ_ZOFF = 8    # first zero point in ``zps``, -1 if none
DQ_F16 = 9     # 1: the output is float16 (written through ``outbits``)
DQ_MASK = 10   # MODE_BITS: mask of the output width
DQ_COLS = 11


@cuda.jit
def bswap_words(words):
    """Byte-swap every uint64 in place (raw little-endian loads → big-endian stream words)."""
    i = cuda.grid(1)
    stride = cuda.gridsize(1)
    m8 = np.uint64(0x00FF00FF00FF00FF)
    m16 = np.uint64(0x0000FFFF0000FFFF)
    while i < words.size:
        x = words[i]
        x = ((x & m8) << np.uint64(8)) | ((x >> np.uint64(8)) & m8)
        x = ((x & m16) << np.uint64(16)) | ((x >> np.uint64(16)) & m16)
        words[i] = (x << np.uint64(32)) | (x >> np.uint64(32))
        i += stride


@cuda.jit(device=True)
def _last_row_le(table, col, rows, x):
    """The last of the first ``rows`` rows of ``table`` whose column ``col`` is <= x (the
    column ascends; row 0 when none is, or ``rows`` <= 1): a binary search."""
    lo = np.int64(0)
    hi = np.int64(rows)
    while hi - lo > 1:
        mid = (lo + hi) >> 1
        if table[mid, col] <= x:
            lo = mid
        else:
            hi = mid
    return lo


@cuda.jit(device=True)
def _window(words, pos):
    """The 64 stream bits starting at bit ``pos`` (zeros past the last word)."""
    wi = pos >> 6
    s = pos & 63
    n = words.size
    a = np.uint64(0)
    if wi >= 0 and wi < n:
        a = words[wi]
    if s == 0:
        return a
    b = np.uint64(0)
    if wi + 1 >= 0 and wi + 1 < n:
        b = words[wi + 1]
    return (a << np.uint64(s)) | (b >> np.uint64(64 - s))


@cuda.jit(device=True)
def _f64_to_f16_bits(x):
    """IEEE binary16 bits of float64 ``x``, rounded to nearest even (numpy's astype)."""
    if x != x:
        return np.int64(0x7E00)
    sign = np.int64(0)
    if x < 0.0 or (x == 0.0 and math.copysign(1.0, x) < 0.0):
        sign = np.int64(0x8000)
        x = -x
    if x == 0.0:
        return sign
    if x >= 65520.0:  # rounds to infinity (max finite 65504, halfway 65520)
        return sign | np.int64(0x7C00)
    m, e = math.frexp(x)  # x = m * 2**e, 0.5 <= m < 1
    if e - 1 >= -14:
        t = math.ldexp(m, 11)       # in [1024, 2048): 1.mantissa * 2**10
        ex = np.int64(e - 1 + 15)
    else:
        t = math.ldexp(x, 24)       # subnormal: units of 2**-24
        ex = np.int64(0)
    f = math.floor(t)
    r = np.int64(f)
    frac = t - f
    if frac > 0.5 or (frac == 0.5 and (r & 1) == 1):
        r += 1
    if ex == 0:
        bits = r                     # r == 1024 is the smallest normal: same bits
    else:
        bits = (ex << 10) + r - 1024  # r == 2048 carries into the exponent
    if bits >= 0x7C00:
        bits = np.int64(0x7C00)
    return sign | bits


@cuda.jit(device=True)
def _f32_bits_value(u):
    """The float64 value of IEEE binary32 bits ``u`` (int64 in [0, 2**32))."""
    sign = (u >> 31) & 1
    ex = (u >> 23) & 0xFF
    man = u & 0x7FFFFF
    if ex == 0xFF:
        v = math.inf if man == 0 else math.nan
    elif ex == 0:
        v = math.ldexp(float(man), -149)
    else:
        v = math.ldexp(float(man | 0x800000), int(ex - 150))
    if sign:
        return -v
    return v


@cuda.jit(device=True)
def _f16_to_f32_bits(h):
    """IEEE binary32 bits of binary16 bits ``h`` (exact, NaN payloads kept)."""
    sign = (h & 0x8000) << 16
    ex = (h >> 10) & 0x1F
    man = h & 0x3FF
    if ex == 0x1F:
        return sign | 0x7F800000 | (man << 13)
    if ex == 0:
        if man == 0:
            return sign
        e = np.int64(113)  # 127 - 14
        while (man & 0x400) == 0:
            man <<= 1
            e -= 1
        return sign | (e << 23) | ((man & 0x3FF) << 13)
    return sign | ((ex + 112) << 23) | (man << 13)


@cuda.jit(device=True)
def _store(out, outbits, i, v, t, dqi, scales, zps):
    """Write decoded integer ``v`` at flat index ``i`` of tensor row ``t``; status."""
    if i < 0 or i >= out.size or i >= outbits.size:
        return ERR_BUFFER
    mode = dqi[t, DQ_MODE]
    if mode == MODE_INT:
        out[i] = v
        return OK
    if mode == MODE_BITS:
        outbits[i] = v & dqi[t, DQ_MASK]
        return OK
    if mode == MODE_F16_TO_F32:
        outbits[i] = _f16_to_f32_bits(v & 0xFFFF)
        return OK
    if mode == MODE_F32_TO_F16:
        outbits[i] = _f64_to_f16_bits(_f32_bits_value(v & 0xFFFFFFFF))
        return OK
    if mode != MODE_LINEAR:
        return ERR_BUFFER
    j = i - dqi[t, DQ_BASE]
    smode = dqi[t, DQ_SMODE]
    k = np.int64(0)
    if smode == 1:
        inner = dqi[t, DQ_INNER]
        axlen = dqi[t, DQ_AXLEN]
        if inner < 1 or axlen < 1:
            return ERR_BUFFER
        k = (j // inner) % axlen
    elif smode == 2:
        blk = dqi[t, DQ_BLOCK]
        if blk < 1:
            return ERR_BUFFER
        k = j // blk
    if j < 0 or k < 0 or k >= dqi[t, DQ_NSC]:
        return ERR_BUFFER
    si = dqi[t, DQ_SOFF] + k
    if si < 0 or si >= scales.size:
        return ERR_BUFFER
    x = float(v)
    zo = dqi[t, DQ_ZOFF]
    if zo >= 0:
        zi = zo + k
        if zi >= zps.size:
            return ERR_BUFFER
        x = x - zps[zi]
    x = x * scales[si]
    if dqi[t, DQ_F16]:
        outbits[i] = _f64_to_f16_bits(x)
    else:
        out[i] = x
    return OK


@cuda.jit(device=True)
def _group_ok(g, G, glo, ghi, tid, ostart, ocount, voff, gten, dqi, luts, out, nbits):
    """Status of a group's arguments before decoding (the CPU decoder's ``_start`` checks)."""
    if g >= glo.size or g >= ghi.size or g >= ostart.size or g >= ocount.size \
            or g >= voff.size or g >= gten.size:
        return ERR_BUFFER
    t = tid[g]
    if t < 0 or t >= luts.shape[0] or luts.shape[1] != LUT_SIZE:
        return ERR_BUFFER
    r = gten[g]
    if r < 0 or r >= dqi.shape[0] or dqi.shape[1] != DQ_COLS:
        return ERR_BUFFER
    o_lo = ostart[g]
    o_hi = o_lo + ocount[g]
    start = glo[g]
    end = ghi[g]
    if o_lo < 0 or o_hi > out.size or o_lo > o_hi or end > nbits or start < 0 or start >= end:
        return ERR_BUFFER
    return OK


@cuda.jit(device=True)
def _set_value(w, ent, ln, eb):
    """The signed value of a value entry ``ent`` (code length ``ln``, ``eb`` remainder bits)
    from the 64 stream bits ``w`` at its code: base magnitude, remainder bits, sign bit."""
    rest = w << np.uint64(ln)
    m = (np.int64(np.uint64(ent) >> np.uint64(24)) << eb) \
        + np.int64((rest >> np.uint64(1)) >> np.uint64(63 - eb))
    neg = -np.int64((rest << np.uint64(eb)) >> np.uint64(63))
    return (m ^ neg) - neg


@cuda.jit(device=True)
def _decode_group(words, lut, start, end, o_lo, o_hi, v0, vmin, vmax, out, outbits, t, dqi,
                  scales, zps):
    """Decode one group's nonzero values (zeros were pre-filled); returns (status, bit pos)."""
    if v0 < vmin or v0 > vmax:
        return ERR_RANGE, start
    pos = start
    i = o_lo
    span = np.uint64(vmax - vmin)
    while True:
        w = _window(words, pos)
        ent = np.uint64(lut[np.int64(w >> _SHIFT)])
        ln = np.int64(ent & np.uint64(15))
        kind = np.int64((ent >> np.uint64(4)) & np.uint64(3))
        r = np.int64((ent >> np.uint64(11)) & np.uint64(8191))
        if kind == 1:
            i += r
            if i >= o_hi:
                return ERR_RUN_OVERFLOW, pos
            eb = np.int64((ent >> np.uint64(6)) & np.uint64(31))
            v = v0 + _set_value(w, ent, ln, eb)
            if np.uint64(v - vmin) > span:
                return ERR_RANGE, pos
            st = _store(out, outbits, i, v, t, dqi, scales, zps)
            if st != OK:
                return st, pos
            pos += ln + eb + 1
            i += 1
        elif kind == 2:
            i += r
            if i > o_hi:
                return ERR_RUN_OVERFLOW, pos
            pos += ln
        elif kind == 3:
            pos += ln
            if pos != end:
                if pos < end:
                    return ERR_LENGTH_MISMATCH, pos
                return ERR_OVERRUN, pos
            return OK, pos
        else:
            return ERR_INVALID_CODE, pos


@cuda.jit
def prefill(glo, ghi, tid, ostart, ocount, voff, gten, dqi, luts, scales, zps, out, outbits,
            nbits):
    """Write every group's zero value over its output range (coalesced: a block per group).

    Groups whose ranges are invalid are skipped (the decode kernel reports them)."""
    G = tid.size
    g = cuda.blockIdx.x
    while g < G:
        if _group_ok(g, G, glo, ghi, tid, ostart, ocount, voff, gten, dqi, luts, out, nbits) == OK:
            o = ostart[g]
            n = ocount[g]
            v = voff[g]
            t = gten[g]
            j = cuda.threadIdx.x
            while j < n:
                _store(out, outbits, o + j, v, t, dqi, scales, zps)
                j += cuda.blockDim.x
        g += cuda.gridDim.x


@cuda.jit
def decode_global(words, nbits, glo, ghi, tid, ostart, ocount, voff, gten, vmin, vmax, luts,
                  dqi, scales, zps, out, outbits, status, where):
    """One thread per group, decode tables read from global memory (cached in L1/L2)."""
    g = cuda.grid(1)
    G = tid.size
    if g >= G or g >= status.size or g >= where.size:
        return
    st = _group_ok(g, G, glo, ghi, tid, ostart, ocount, voff, gten, dqi, luts, out, nbits)
    if st != OK:
        status[g] = st
        where[g] = glo[g] if g < glo.size else 0
        return
    o_lo = ostart[g]
    st, pos = _decode_group(words, luts[tid[g]], glo[g], ghi[g], o_lo, o_lo + ocount[g], voff[g],
                            vmin, vmax, out, outbits, gten[g], dqi, scales, zps)
    status[g] = st
    where[g] = pos


@cuda.jit
def decode_shared(words, nbits, glo, ghi, tid, ostart, ocount, voff, gten, vmin, vmax, luts,
                  dqi, scales, zps, out, outbits, status, where, table):
    """One thread per group, every group of the launch uses table ``table``: the block loads
    its decode table (16 KiB) into shared memory first."""
    lut = cuda.shared.array(LUT_SIZE, np.uint32)
    tab_ok = table >= 0 and table < luts.shape[0] and luts.shape[1] == LUT_SIZE
    k = cuda.threadIdx.x
    while k < LUT_SIZE:
        lut[k] = luts[table, k] if tab_ok else np.uint32(0)
        k += cuda.blockDim.x
    cuda.syncthreads()
    g = cuda.grid(1)
    G = tid.size
    if g >= G or g >= status.size or g >= where.size:
        return
    st = _group_ok(g, G, glo, ghi, tid, ostart, ocount, voff, gten, dqi, luts, out, nbits)
    if st == OK and (not tab_ok or tid[g] != table):
        st = ERR_BUFFER
    if st != OK:
        status[g] = st
        where[g] = glo[g] if g < glo.size else 0
        return
    o_lo = ostart[g]
    st, pos = _decode_group(words, lut, glo[g], ghi[g], o_lo, o_lo + ocount[g], voff[g],
                            vmin, vmax, out, outbits, gten[g], dqi, scales, zps)
    status[g] = st
    where[g] = pos


@cuda.jit
def copy_words(src, dst):
    """dst[:] = src[:] (uint64, grid-stride): the device-to-device bandwidth reference."""
    i = cuda.grid(1)
    stride = cuda.gridsize(1)
    n = src.size
    if dst.size < n:
        n = dst.size
    while i < n:
        dst[i] = src[i]
        i += stride


CRC_WARPS = 4  # chunks (warps) a block of crc_chunks


@cuda.jit(device=True)
def _byte(words, i):
    """Byte i of the stream (words byte-swapped by bswap_words: the first byte is a word's
    top byte); the caller checked i < 8 * words.size."""
    return (words[i >> 3] >> np.uint64(56 - 8 * (i & 7))) & np.uint64(0xFF)


@cuda.jit(device=True)
def _crc_run(words, p, b, crc, T):
    """The reflected CRC-32 register after stream bytes [p, b) from register ``crc`` (no
    pre/post inversion): bytes one at a time up to a word boundary, then slicing-by-8 over
    whole words, then the tail.  The caller checked 0 <= p <= b <= 8 * words.size."""
    m = np.uint32(0xFF)
    while p < b and (p & 7) != 0:
        crc = T[0, (crc ^ np.uint32(_byte(words, p))) & m] ^ (crc >> np.uint32(8))
        p += 1
    while p + 8 <= b:
        w = words[p >> 3]
        x = crc ^ np.uint32(((w >> np.uint64(56)) & np.uint64(0xFF))
                            | (((w >> np.uint64(48)) & np.uint64(0xFF)) << np.uint64(8))
                            | (((w >> np.uint64(40)) & np.uint64(0xFF)) << np.uint64(16))
                            | (((w >> np.uint64(32)) & np.uint64(0xFF)) << np.uint64(24)))
        crc = (T[7, x & m] ^ T[6, (x >> np.uint32(8)) & m] ^ T[5, (x >> np.uint32(16)) & m]
               ^ T[4, x >> np.uint32(24)]
               ^ T[3, np.uint32((w >> np.uint64(24)) & np.uint64(0xFF))]
               ^ T[2, np.uint32((w >> np.uint64(16)) & np.uint64(0xFF))]
               ^ T[1, np.uint32((w >> np.uint64(8)) & np.uint64(0xFF))]
               ^ T[0, np.uint32(w & np.uint64(0xFF))])
        p += 8
    while p < b:
        crc = T[0, (crc ^ np.uint32(_byte(words, p))) & m] ^ (crc >> np.uint32(8))
        p += 1
    return crc


@cuda.jit
def crc_chunks(words, nbytes, lo, end, log2, T, out):
    """out[c] = CRC-32 (zlib's) of stream bytes [lo + c * 2**log2, min(lo + (c + 1) * 2**log2,
    end)), or -1 (nothing computed) when the chunk or the tables do not fit the buffers; one
    warp a chunk, CRC_WARPS chunks a block (blockDim.x = 32 * CRC_WARPS).  Lane j computes
    the register of sub-slice j (2**(log2 - 5) bytes) from zero; lane 0 then folds them:
    R = shift(R) ^ r_j, where shift (the register after 2**(log2 - 5) zero bytes, linear:
    T[8:12], codec.kernels.crc.crc_shift_tables) carries R over the sub-slice, and continues
    byte-wise through a last, shorter sub-slice.  Chunks under 256 bytes: lane 0 alone.
    T[0:8]: codec.kernels.crc's slicing tables (api.GpuPackage stacks the two)."""
    part = cuda.shared.array((CRC_WARPS, 32), np.uint32)
    lane = cuda.threadIdx.x & 31
    wi = cuda.threadIdx.x >> 5
    c = cuda.blockIdx.x * CRC_WARPS + wi
    valid = wi < CRC_WARPS and c < out.size
    a = lo + (c << log2)
    b = a + (np.int64(1) << log2)
    if b > end:
        b = end
    ok = valid and not (lo < 0 or a < 0 or a >= b or b > nbytes or nbytes > 8 * words.size
                        or log2 < 0 or log2 > 40 or T.shape[0] != 12 or T.shape[1] != 256)
    split = log2 >= 8
    size = np.int64(1) << (log2 - 5) if split else np.int64(0)
    r = np.uint32(0)
    if ok and split:
        s0 = a + lane * size
        s1 = s0 + size
        if s1 <= b:  # a whole sub-slice (a shorter last one is lane 0's below)
            r = _crc_run(words, s0, s1, np.uint32(0), T)
    if wi < CRC_WARPS:
        part[wi, lane] = r
    cuda.syncthreads()
    if lane != 0 or not valid:
        return
    if not ok:
        out[c] = -1
        return
    m = np.uint32(0xFF)
    R = np.uint32(0xFFFFFFFF)
    if not split:
        R = _crc_run(words, a, b, R, T)
    else:
        for j in range(32):
            s0 = a + j * size
            s1 = s0 + size
            if s1 <= b:
                R = (T[8, R & m] ^ T[9, (R >> np.uint32(8)) & m] ^ T[10, (R >> np.uint32(16)) & m]
                     ^ T[11, R >> np.uint32(24)]) ^ part[wi, j]
            elif s0 < b:
                R = _crc_run(words, s0, b, R, T)
    out[c] = np.int64(R ^ np.uint32(0xFFFFFFFF))


# --- format v3's mirror transform (docs/FORMAT.md §23), undone after a launch's decode -------
# mirror table columns: one row per mirrored tensor of a launch, rows in ascending MIR_PAIR0
MIR_BASE = 0    # flat index of the tensor's first value in ``out``
MIR_NUMEL = 1   # the tensor's values
MIR_PERIOD = 2  # P: values per mirror row
MIR_SKIP = 3    # a: leading values of a row outside the mirror
MIR_MODES = 4   # byte offset of the tensor's mode string in the copied span
MIR_VOFF = 5    # z: the tensor's value offset
MIR_PAIR0 = 6   # first (row, k) pair of the tensor: the pairs of the rows before it
MIR_COLS = 7
MIR_OK = np.iinfo(np.int64).max  # mirror_inverse's status of a tensor without a problem


@cuda.jit
def mirror_inverse(words, nbytes, mir, npairs, bits, signed, out, status):
    """Undo the mirror in place: for pair q = (tensor t, row r, k) with mode m in {1, 2} read
    from the package bytes on the device (2 bits a row, MSB first, at byte ``mir[t,
    MIR_MODES]`` of the copied span), ``x[b + M - 1 - k] = wrap(x[b + M - 1 - k] + s * (x[b +
    k] - z))`` with ``b = base + r * P + a``, ``M = P - a``, ``h = M // 2``, ``s = +1 / -1``,
    arithmetic modulo 2**bits (two's complement when ``signed``).  One thread a pair
    (grid-stride over ``npairs`` = the sum of each tensor's rows * h); a pair reads only
    first-half values and writes only its second-half value, so no order is needed.

    ``status[t]`` (MIR_OK from the caller) is lowered with ``cuda.atomic.min``: to -1 for a
    bad argument or index (nothing written by that thread), else to r for a mode 3 at row r
    (so the smallest such r: the host's own check X4 rejects such a package first)."""
    T = mir.shape[0]
    q = cuda.grid(1)
    stride = cuda.gridsize(1)
    if mir.shape[1] != MIR_COLS or T > status.size:  # a table of the wrong shape: all refused
        while q < status.size:
            status[q] = -1
            q += stride
        return
    mask = (np.int64(1) << bits) - 1
    half = (np.int64(1) << (bits - 1)) if signed else np.int64(0)
    while q < npairs:
        # the tensor of pair q: the last row whose first pair is <= q
        t = _last_row_le(mir, MIR_PAIR0, T, q)
        if T == 0:
            return
        base = mir[t, MIR_BASE]
        numel = mir[t, MIR_NUMEL]
        P = mir[t, MIR_PERIOD]
        a = mir[t, MIR_SKIP]
        if P < 2 or a < 0 or a > P - 2 or numel <= 0 or numel % P != 0 or base < 0 \
                or base + numel > out.size or bits < 8 or bits > 32:
            cuda.atomic.min(status, t, np.int64(-1))
            q += stride
            continue
        M = P - a
        h = M >> 1
        local = q - mir[t, MIR_PAIR0]
        r = local // h
        k = local - r * h
        if local < 0 or r >= numel // P:
            cuda.atomic.min(status, t, np.int64(-1))
            q += stride
            continue
        mb = mir[t, MIR_MODES] + (r >> 2)
        if mb < 0 or mb >= nbytes or mb >= 8 * words.size:
            cuda.atomic.min(status, t, np.int64(-1))
            q += stride
            continue
        mode = np.int64(_byte(words, mb) >> np.uint64(6 - 2 * (r & 3))) & 3
        if mode == 3:
            cuda.atomic.min(status, t, r)
        elif mode != 0:
            b = base + r * P + a
            i = b + k
            j = b + M - 1 - k
            if mode == 1:
                v = np.int64(out[j]) + (np.int64(out[i]) - mir[t, MIR_VOFF])
            else:
                v = np.int64(out[j]) - (np.int64(out[i]) - mir[t, MIR_VOFF])
            v = v & mask
            if half != 0 and v >= half:
                v -= mask + 1
            out[j] = v
        q += stride


@cuda.jit
def store_values(src, dqi, scales, zps, out, outbits, status):
    """out[i] = stored integer src[i] through :func:`_store` (dequantization of a launch decoded
    as integers first: the mirror is undone on the integers, api.py), i over ``src``; the
    tensor row of i is the last ``dqi`` row whose DQ_BASE is <= i.  ``status[0]`` (zeroed by
    the caller) gets the first failing store's code (ERR_BUFFER: an index outside a buffer)."""
    T = dqi.shape[0]
    i = cuda.grid(1)
    stride = cuda.gridsize(1)
    while i < src.size:
        lo = _last_row_le(dqi, DQ_BASE, T, i)
        st = ERR_BUFFER
        if T > 0 and dqi.shape[1] == DQ_COLS:
            st = _store(out, outbits, i, np.int64(src[i]), lo, dqi, scales, zps)
        if st != OK and status.size > 0:
            cuda.atomic.min(status, 0, np.int64(st))
        i += stride


# --- format v5/v6's prediction transform (docs/FORMAT.md §32, §34), rebuilt after a launch's
# decode ---
# The decode leaves a predicted tensor's residuals r (value offset included) in the launch's
# integer output; these kernels turn them into the values x in place, image by image, exactly
# as the CPU's codec.kernels.predict.rebuild.  §34: the images lie in dims h = ndim - 2 -
# pred_shift and h + 1 (H x W), C the product of the dims after them (1 for v5 and shift 0),
# A = numel / (H * W * C): the tensor holds A * C images, image k = a * C + c's position (i, j)
# at flat index ((a * H + i) * W + j) * C + c of the tensor, so an image's left neighbour is C
# values back and its up neighbour W * C.  Prediction table columns: one row per predicted
# tensor of one rebuild launch, rows in ascending PRED_IMG0.
PRED_BASE = 0   # flat index of the tensor's first value in ``out``
PRED_NUMEL = 1  # the tensor's values (a multiple of H * W * C)
PRED_H = 2      # H = shape[h]
PRED_W = 3      # W = shape[h + 1]
PRED_MODE = 4   # §32's pred_mode 0-7: kind = mode >> 2, c = (mode & 3) + 1
PRED_IMG0 = 5   # first image of the tensor: the images of the rows before it
PRED_C = 6      # C = product of the dims after h + 1 (§34; 1 with pred_shift 0)
PRED_COLS = 7


@cuda.jit(device=True)
def _pred_at(out, p, i, j, W, kind, c, C):
    """§32's prediction of position (i, j) of an image, ``p`` its flat index in ``out``, its
    positions ``C`` values apart along a row and ``W * C`` down a column (§34; positions
    (i, j-1), (i-1, j), (i-1, j-1) already rebuilt): int64, floor shifts."""
    WC = W * C
    if kind == 0:
        if i == 0:
            s = np.int64(0)
            if j > 0:
                s = 2 * np.int64(out[p - C])
        elif j == 0:
            s = 2 * np.int64(out[p - WC])
        else:
            s = np.int64(out[p - C]) + np.int64(out[p - WC])
        return (c * s + 4) >> 3
    if i == 0:
        s = np.int64(0)
        if j > 0:
            s = np.int64(out[p - C])
    elif j == 0:
        s = np.int64(out[p - WC])
    else:
        s = np.int64(out[p - C]) + np.int64(out[p - WC]) - np.int64(out[p - WC - C])
    return (c * s + 2) >> 2


@cuda.jit(device=True)
def _pred_wrap(v, mask, signed):
    """``v`` modulo 2**bits (``mask`` = 2**bits - 1), two's complement when ``signed``."""
    u = v & mask
    if signed != 0 and u > (mask >> 1):
        u -= mask + 1
    return u


@cuda.jit(device=True)
def _pred_cols_ok(pred):
    """Whether ``pred`` has a prediction table's columns (PRED_COLS)."""
    return pred.shape[1] == PRED_COLS


@cuda.jit(device=True)
def _pred_row(pred, T, q, out, bits):
    """(row, ok, b, C) for image ``q`` of prediction table ``pred`` (``T`` rows): its
    tensor's row, ok when the row's arguments fit (the index invariant of every rebuild:
    base + numel <= out.size, numel a multiple of H * W * C >= 1, mode 0-7, the image inside
    the tensor; the products checked against numel before they are formed), the flat index
    in ``out`` of the image's position (0, 0) and its stride C (§34)."""
    t = _last_row_le(pred, PRED_IMG0, T, q)
    base = pred[t, PRED_BASE]
    numel = pred[t, PRED_NUMEL]
    H = pred[t, PRED_H]
    W = pred[t, PRED_W]
    mode = pred[t, PRED_MODE]
    C = pred[t, PRED_C]
    b = np.int64(0)
    ok = not (H < 1 or W < 1 or C < 1 or base < 0 or numel <= 0 or base + numel > out.size
              or mode < 0 or mode > 7 or bits < 8 or bits > 32)
    if ok:
        ok = H <= numel and W <= numel // H and C <= numel // (H * W)
    if ok:
        HW = H * W
        k = q - pred[t, PRED_IMG0]
        ok = numel % (HW * C) == 0 and k >= 0 and k < numel // HW
        if ok:
            a = k // C
            b = base + a * (HW * C) + (k - a * C)
    return t, ok, b, C


@cuda.jit
def pred_images(pred, nimg, bits, signed, out, status):
    """Rebuild in place, one thread an image (grid-stride over the ``nimg`` images of the
    table's tensors: small images, many of them).  ``status[t]`` (0 from the caller) is set to
    -1 (``cuda.atomic.min``) when row t's arguments do not fit (nothing written there)."""
    T = pred.shape[0]
    q = cuda.grid(1)
    stride = cuda.gridsize(1)
    if not _pred_cols_ok(pred) or T > status.size or T == 0:
        while q < status.size:
            status[q] = -1
            q += stride
        return
    mask = (np.int64(1) << bits) - 1
    while q < nimg:
        t, ok, b, C = _pred_row(pred, T, q, out, bits)
        if not ok:
            cuda.atomic.min(status, t, np.int64(-1))
            q += stride
            continue
        H = pred[t, PRED_H]
        W = pred[t, PRED_W]
        mode = pred[t, PRED_MODE]
        kind = mode >> 2
        c = (mode & 3) + 1
        for i in range(H):
            for j in range(W):
                p = b + (i * W + j) * C
                out[p] = _pred_wrap(np.int64(out[p]) + _pred_at(out, p, i, j, W, kind, c, C),
                                    mask, signed)
        q += stride


@cuda.jit
def pred_wavefront(pred, nimg, bits, signed, out, status):
    """Rebuild in place, one block an image (grid-stride over the ``nimg`` images: large
    images, few of them).  Position (i, j) needs only (i, j-1), (i-1, j) and (i-1, j-1), all
    on earlier anti-diagonals, so the block rebuilds anti-diagonal d = i + j = 0, 1, ...,
    H + W - 2 in turn, its threads sharing each diagonal's positions, a ``syncthreads``
    between diagonals (global writes before it are visible to the block after it).  Every
    loop count is block-uniform (the image, its row and its checks are the block's), so every
    thread reaches every ``syncthreads``.  ``status`` as :func:`pred_images`."""
    T = pred.shape[0]
    q = cuda.blockIdx.x
    tx = cuda.threadIdx.x
    nt = cuda.blockDim.x
    if not _pred_cols_ok(pred) or T > status.size or T == 0:
        if q == 0:
            k = tx
            while k < status.size:
                status[k] = -1
                k += nt
        return
    mask = (np.int64(1) << bits) - 1
    while q < nimg:
        t, ok, b, C = _pred_row(pred, T, q, out, bits)
        if not ok:
            if tx == 0:
                cuda.atomic.min(status, t, np.int64(-1))
            q += cuda.gridDim.x
            continue
        H = pred[t, PRED_H]
        W = pred[t, PRED_W]
        mode = pred[t, PRED_MODE]
        kind = mode >> 2
        c = (mode & 3) + 1
        for d in range(H + W - 1):
            i1 = d
            if i1 > H - 1:
                i1 = H - 1
            i = d - (W - 1)
            if i < 0:
                i = np.int64(0)
            i += tx
            while i <= i1:
                j = d - i
                p = b + (i * W + j) * C
                out[p] = _pred_wrap(np.int64(out[p]) + _pred_at(out, p, i, j, W, kind, c, C),
                                    mask, signed)
                i += nt
            cuda.syncthreads()
        q += cuda.gridDim.x


# --- format v7's row floors (docs/FORMAT.md §36), added back after a launch's decode ---------
# The decode leaves a floored tensor's stored values s in the launch's integer output; this
# kernel turns them into x = s + f_r (s > 0), s - f_r (s < 0), 0 (s = 0) in place, exactly as
# the CPU's codec.kernels.floor.unfloor.  A tensor is R rows of L = numel / R values in C order
# (row r at base + r * L).  Floor table columns: one row per floored tensor of a launch, rows
# in ascending FL_V0; ``floors`` the concatenated floors of the launch's floored tensors.
FL_BASE = 0    # flat index of the tensor's first value in ``out``
FL_NUMEL = 1   # the tensor's values (a multiple of R)
FL_ROWS = 2    # R: rows (shape[0] when ndim >= 2, else 1)
FL_FOFF = 3    # the tensor's first floor in ``floors``
FL_V0 = 4      # first value of the tensor in the pass: the values of the rows before it
FL_COLS = 5
FLOOR_OK = np.iinfo(np.int64).max  # unfloor_values' status of a tensor without a problem


@cuda.jit
def unfloor_values(fl, nvals, floors, vmin, vmax, out, status):
    """Add the row floors back in place, one thread a value (grid-stride over the ``nvals``
    values of the table's tensors); ``vmin``, ``vmax``: the dtype's range.  Each value is
    read and written by its own thread only, so no order is needed.

    ``status[t]`` (FLOOR_OK from the caller) is lowered with ``cuda.atomic.min``: to -1 when
    row t's arguments do not fit (the index invariant: base + numel <= out.size, numel a
    multiple of R >= 1, foff + R <= floors.size, the value inside the tensor, a floor >= 0;
    nothing written by that thread), else to k for a stored value at index k of the tensor
    whose rebuilt value leaves the dtype's range (§36 R3; that value is left as stored, so the
    smallest such k and its value are the CPU decoder's report)."""
    T = fl.shape[0]
    i = cuda.grid(1)
    stride = cuda.gridsize(1)
    if fl.shape[1] != FL_COLS or T > status.size or T == 0:  # a wrong table: all refused
        while i < status.size:
            status[i] = -1
            i += stride
        return
    while i < nvals:
        t = _last_row_le(fl, FL_V0, T, i)
        base = fl[t, FL_BASE]
        numel = fl[t, FL_NUMEL]
        R = fl[t, FL_ROWS]
        foff = fl[t, FL_FOFF]
        k = i - fl[t, FL_V0]
        if R < 1 or numel <= 0 or numel % R != 0 or base < 0 or base + numel > out.size \
                or foff < 0 or foff + R > floors.size or k < 0 or k >= numel:
            cuda.atomic.min(status, t, np.int64(-1))
            i += stride
            continue
        f = np.int64(floors[foff + k // (numel // R)])
        if f < 0:
            cuda.atomic.min(status, t, np.int64(-1))
        elif f > 0:
            p = base + k
            s = np.int64(out[p])
            if s > 0:
                if s > vmax - f:
                    cuda.atomic.min(status, t, k)
                else:
                    out[p] = s + f
            elif s < 0:
                if s < vmin + f:
                    cuda.atomic.min(status, t, k)
                else:
                    out[p] = s - f
        i += stride
