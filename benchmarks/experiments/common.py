"""Shared helpers for the format-v2 experiments: cached packages, symbol-stream extraction,
cost functions (Huffman, static rANS with a counted frequency table, adaptive models).

Everything here only *reads* packages written by today's codec.pack (format v1); nothing in
codec/ is changed.  Packages and quantized integers are cached in $EXP_CACHE
(default /tmp/codec_exp_cache) so that each experiment script runs in seconds.
"""
from __future__ import annotations

import math
import os
import sys
import zlib
from pathlib import Path

import numpy as np
from numba import njit

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

import codec  # noqa: E402
from benchmarks.recipe import MODELS, load_float  # noqa: E402
from codec.bench import quantize_reference  # noqa: E402
from codec.format import read_directory  # noqa: E402
from codec.huffman import huffman_lengths  # noqa: E402

CONFIGS = [(8, 0.0), (8, 0.5), (4, 0.0), (4, 0.9)]
SHORT = {"mtcnn_facenet_pytorch": "mtcnn", "nudenet_yolov8n_320": "yolov8n",
         "silero_vad_16k": "silero", "fer_emotion_minixception": "fer",
         "fer_emotion_minixception_tflite": "fer_tflite"}
CACHE = Path(os.environ.get("EXP_CACHE", "/tmp/codec_exp_cache"))

# benchmarks/results/codec.json (bits/param, same integers) + REFERENCE.md's NNCodec figures
COMPETITORS = {}


def _load_competitors():
    import json
    rows = json.loads((ROOT / "benchmarks" / "results" / "codec.json").read_text())
    rows = rows["rows"] if isinstance(rows, dict) and "rows" in rows else rows
    from benchmarks.bench_codec import NNCODEC_BPP
    for r in rows:
        key = (r["model"], int(r["bits"]), float(r["sparsity"]))
        COMPETITORS[key] = {k: r[k] for k in ("order0", "codec", "zstd-19", "lzma-9", "brotli-11")
                            if k in r}
        COMPETITORS[key]["NNCodec"] = NNCODEC_BPP.get(key)


def competitors(model, bits, sp):
    if not COMPETITORS:
        _load_competitors()
    return COMPETITORS[(model, bits, float(sp))]


def get(model: str, bits: int, sp: float):
    """(quantized tensors dict, package bytes) for one model x config, cached on disk."""
    CACHE.mkdir(parents=True, exist_ok=True)
    tag = f"{model}_{bits}_{sp}"
    fq, fp = CACHE / f"{tag}.npz", CACHE / f"{tag}.spkg"
    if fq.exists() and fp.exists():
        z = np.load(fq)
        return {k: z[k] for k in z.files}, fp.read_bytes()
    q = {k: quantize_reference(v, bits, sp) for k, v in load_float(model).items()}
    pkg = codec.pack(q)
    np.savez(fq, **q)
    fp.write_bytes(pkg)
    return q, pkg


def all_cases(models=None, configs=None):
    for m in models or MODELS:
        for b, s in configs or CONFIGS:
            yield m, b, s


# ---------------------------------------------------------------------------------------------
# symbol streams

def group_table(buf: bytes, e):
    """(table index per group, coded bit length per group) of one tensor entry (§8.1)."""
    n = e.n_groups
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    a = e.block_offset + e.meta_length
    bits = np.unpackbits(np.frombuffer(buf, np.uint8, e.group_table_bytes, a))
    w = e.tid_bits + e.len_bits
    rec = bits[:n * w].reshape(n, w).astype(np.int64)
    pw = 1 << np.arange(w - 1, -1, -1, dtype=np.int64)
    tid = (rec[:, :e.tid_bits] * pw[w - e.tid_bits:] if e.tid_bits else np.zeros((n, 0), np.int64)).sum(1)
    ln = (rec[:, e.tid_bits:] * pw[e.tid_bits:]).sum(1) if e.tid_bits else (rec * pw).sum(1)
    return tid + e.tid_base, ln


@njit(cache=True)
def _bitlen(x):
    n = 0
    while x:
        n += 1
        x >>= 1
    return n


@njit(cache=True)
def extract_events(d, gsize, gtab, krefs, nruns):
    """Events of one tensor's payload in coding order.

    d: flat int64 values minus value_offset; gtab: table per group.
    Returns arrays (kind 0 EOB/1 ESC/2 value, group, table, symbol, start position s (first
    position the event's run covers), value position p (-1 if none), magnitude, sign, class,
    extra-bit count e, extra value).
    """
    n = d.size
    cap = n + 2 * ((n + gsize - 1) // gsize) + 16
    kind = np.empty(cap, np.int8)
    grp = np.empty(cap, np.int64)
    tab = np.empty(cap, np.int64)
    sym = np.empty(cap, np.int64)
    spos = np.empty(cap, np.int64)
    ppos = np.empty(cap, np.int64)
    mag = np.zeros(cap, np.int64)
    sgn = np.zeros(cap, np.int8)
    cls = np.zeros(cap, np.int64)
    ebits = np.zeros(cap, np.int64)
    k = 0
    ng = (n + gsize - 1) // gsize
    for g in range(ng):
        t = gtab[g]
        kref = krefs[t]
        nrun = nruns[t]
        lo = g * gsize
        hi = min(n, lo + gsize)
        s = lo
        for i in range(lo, hi):
            v = d[i]
            if v == 0:
                continue
            r = i - s
            while r >= nrun:
                if k >= cap - 2:
                    # grow
                    cap2 = cap * 2
                    kind = np.concatenate((kind, np.empty(cap2 - cap, np.int8)))
                    grp = np.concatenate((grp, np.empty(cap2 - cap, np.int64)))
                    tab = np.concatenate((tab, np.empty(cap2 - cap, np.int64)))
                    sym = np.concatenate((sym, np.empty(cap2 - cap, np.int64)))
                    spos = np.concatenate((spos, np.empty(cap2 - cap, np.int64)))
                    ppos = np.concatenate((ppos, np.empty(cap2 - cap, np.int64)))
                    mag = np.concatenate((mag, np.zeros(cap2 - cap, np.int64)))
                    sgn = np.concatenate((sgn, np.zeros(cap2 - cap, np.int8)))
                    cls = np.concatenate((cls, np.zeros(cap2 - cap, np.int64)))
                    ebits = np.concatenate((ebits, np.zeros(cap2 - cap, np.int64)))
                    cap = cap2
                kind[k] = 1; grp[k] = g; tab[k] = t; sym[k] = 1; spos[k] = s; ppos[k] = -1
                mag[k] = 0; sgn[k] = 0; cls[k] = -1; ebits[k] = 0
                k += 1
                s += nrun
                r -= nrun
            m = v if v > 0 else -v
            if m < (1 << (kref + 1)):
                c = m - 1
                e = 0
            else:
                L = _bitlen(m)
                e = L - 1 - kref
                top = (m >> e) - (1 << kref)
                c = (1 << (kref + 1)) - 1 + (L - kref - 2) * (1 << kref) + top
            kind[k] = 2; grp[k] = g; tab[k] = t; sym[k] = 2 + c * nrun + r; spos[k] = s
            ppos[k] = i; mag[k] = m; sgn[k] = 1 if v < 0 else 0; cls[k] = c; ebits[k] = e
            k += 1
            s = i + 1
        kind[k] = 0; grp[k] = g; tab[k] = t; sym[k] = 0; spos[k] = s; ppos[k] = -1
        mag[k] = 0; sgn[k] = 0; cls[k] = -1; ebits[k] = 0
        k += 1
    return (kind[:k], grp[:k], tab[:k], sym[:k], spos[:k], ppos[:k], mag[:k], sgn[:k],
            cls[:k], ebits[:k])


EV_FIELDS = ("kind", "grp", "tab", "sym", "spos", "ppos", "mag", "sgn", "cls", "ebits")


def package_events(q: dict, pkg: bytes, check: bool = True):
    """Directory + per-tensor event dicts; with check, the event bits must reproduce every
    group's stored length exactly (validates the extraction against the real package)."""
    d = read_directory(np.frombuffer(pkg, np.uint8))
    krefs = np.array([t.kref for t in d.tables] or [0], np.int64)
    nruns = np.array([t.nrun for t in d.tables] or [1], np.int64)
    lens = [t.lengths.astype(np.int64) for t in d.tables]
    out = []
    for e in d.tensors:
        x = q[e.name].reshape(-1).astype(np.int64) - e.value_offset
        gt, gl = group_table(pkg, e)
        if e.n_groups == 0:
            out.append(None)
            continue
        ev = dict(zip(EV_FIELDS, extract_events(x, e.group_size, gt, krefs, nruns)))
        ev["gtab"], ev["glen"] = gt, gl
        if check:
            code = np.zeros(ev["sym"].size, np.int64)
            for t in np.unique(ev["tab"]):
                sel = ev["tab"] == t
                code[sel] = lens[t][ev["sym"][sel]]
            assert (code > 0).all(), e.name
            bits = code + ev["ebits"] + (ev["kind"] == 2)
            per = np.bincount(ev["grp"], weights=bits, minlength=e.n_groups)
            assert np.array_equal(per.astype(np.int64), gl), (e.name, per[:5], gl[:5])
        out.append(ev)
    return d, out


# ---------------------------------------------------------------------------------------------
# cost functions

def entropy_bits(counts) -> float:
    c = np.asarray(counts, np.float64)
    c = c[c > 0]
    if c.size == 0:
        return 0.0
    return float((c * np.log2(c.sum() / c)).sum())


def cond_entropy(v, c) -> float:
    """Empirical conditional entropy of values ``v`` given contexts ``c`` (bits): the sum over
    contexts of the order-0 entropy of the values in that context."""
    tot = 0.0
    order = np.argsort(c, kind="stable")
    cs, vs = c[order], v[order]
    cuts = np.flatnonzero(np.diff(cs)) + 1
    for part in np.split(vs, cuts):
        _, k = np.unique(part, return_counts=True)
        tot += entropy_bits(k)
    return tot


def gamma_len(x) -> int:
    return 2 * int(x).bit_length() - 1


def huffman_table_bits(counts) -> tuple[float, float]:
    """(payload bits, table bits) of a v1 Huffman table built on counts (12-bit limit).

    Table bits = the v1 serialization (u8 kref, varint nrun, varint nclass, 12 varint counts,
    gamma-gap symbol list padded to a byte) with nrun/nclass 1 byte each: exact for v1."""
    counts = np.asarray(counts, np.int64)
    if counts.sum() == 0:
        return 0.0, 0.0
    L = huffman_lengths(counts)
    pay = float((counts * L).sum())
    tb = 3 * 8
    per_len = np.bincount(L[L > 0], minlength=13)[1:13]
    tb += sum(8 * (1 + (int(c) >= 128)) for c in per_len)
    nbits = 0
    for ln in range(1, 13):
        syms = np.flatnonzero(L == ln)
        prev = -1
        for s in syms:
            nbits += gamma_len(s - prev)
            prev = s
    tb += 8 * ((nbits + 7) // 8)
    return pay, float(tb)


def rans_table_bits(counts, prec: int = 12) -> tuple[float, float]:
    """(payload bits, table bits) of a static rANS/tANS table with frequencies normalized to
    2^prec (every used symbol >= 1): payload = sum count * -log2(f / 2^prec); table = gamma-gap
    symbol list (as v1) + Elias-gamma of each frequency + 3 bytes of alphabet header."""
    counts = np.asarray(counts, np.int64)
    tot = int(counts.sum())
    if tot == 0:
        return 0.0, 0.0
    used = np.flatnonzero(counts)
    M = 1 << prec
    if used.size == 1:
        return 0.0, 8.0 * 3 + gamma_len(used[0] + 1) + 1
    f = np.maximum(1, np.round(counts[used] * M / tot)).astype(np.int64)
    # fix the sum to M: adjust the largest frequencies
    diff = M - int(f.sum())
    order = np.argsort(-f)
    i = 0
    while diff != 0:
        j = order[i % order.size]
        step = 1 if diff > 0 else -1
        if f[j] + step >= 1:
            f[j] += step
            diff -= step
        i += 1
    pay = float((counts[used] * (prec - np.log2(f))).sum())
    tb = 24
    prev = -1
    for s, fr in zip(used, f):
        tb += gamma_len(s - prev) + gamma_len(fr)
        prev = s
    tb = 8 * ((tb + 7) // 8)
    return pay, float(tb)


def best_static(counts, coder: str) -> tuple[float, float]:
    return huffman_table_bits(counts) if coder == "huffman" else rans_table_bits(counts)


def bpp(bits: float, n: int) -> float:
    return bits / n


def fmt(x, nd=3):
    return f"{x:.{nd}f}"
