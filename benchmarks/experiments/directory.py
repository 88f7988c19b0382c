"""Item 4: directory compaction (names, per-tensor fields, CRCs) — exact byte counts.

    nice -n 15 python3 benchmarks/experiments/directory.py

Names coded as (a) today's front coding, (b) front coding against the most similar earlier
name, (c) tokens on '/', '.', '_', ':' with a token dictionary, (d) a tiny LZ77 (LZ4-style byte
tokens, written here) over the names joined by NUL, plus deflate/brotli/lzma as references;
fields as today vs a compact v2 entry (packed flags, implicit block offset and group size,
no per-tensor CRC32 but one package CRC32).  Every candidate is a concrete byte layout whose
size is computed by serializing it (decodability argued in the comments).

Writes benchmarks/results/experiments_directory.{json,md}.
"""
import json
import lzma
import re
import zlib

import brotli
import numpy as np

from codec._bytes import put_svarint, put_varint
from common import MODELS, ROOT, SHORT, all_cases, competitors, get
from codec.format import read_directory
from common import group_table


def rice_group_table_bits(gt_len, tid_bits, n_groups):
    """Group lengths as Rice codes of zigzag(len_g - len_{g-1}) with the best k per tensor
    (5 bits to store k), table ids as today (tid_bits each).  Byte-padded per tensor."""
    if n_groups == 0:
        return 0
    dlt = np.diff(np.concatenate(([0], gt_len)))
    z = np.where(dlt >= 0, 2 * dlt, -2 * dlt - 1)
    best = min(int(((z >> k) + 1 + k).sum()) for k in range(0, 30))
    return 8 * ((best + 5 + tid_bits * n_groups + 7) // 8)


def vlen(v):
    b = bytearray()
    put_varint(b, v)
    return len(b)


def common_prefix(a, b):
    k = 0
    while k < min(len(a), len(b)) and a[k] == b[k]:
        k += 1
    return k


def common_suffix(a, b, limit):
    k = 0
    while k < limit and a[-1 - k] == b[-1 - k]:
        k += 1
    return k


def names_front(names):
    """(a) today: varint shared prefix with previous, varint tail length, tail."""
    tot, prev = 0, b""
    for nm in names:
        k = common_prefix(nm, prev)
        tot += vlen(k) + vlen(len(nm) - k) + len(nm) - k
        prev = nm
    return tot


def names_best_ref(names, window=64):
    """(b) per name: varint back-distance of a reference name among the last `window` (0 = none),
    varint prefix, varint suffix (shared with the reference), varint middle length, middle."""
    tot = 0
    for i, nm in enumerate(names):
        best = 1 + vlen(len(nm)) + len(nm)          # no reference
        for j in range(max(0, i - window), i):
            r = names[j]
            p = common_prefix(nm, r)
            s = common_suffix(nm, r, min(len(nm), len(r)) - p)
            mid = len(nm) - p - s
            c = vlen(i - j) + vlen(p) + vlen(s) + vlen(mid) + mid
            best = min(best, c)
        tot += best
    return tot


TOK = re.compile(rb"[^/._:]+|[/._:]")


def names_tokens(names):
    """(c) token dictionary: tokens = maximal runs without '/', '.', '_', ':' and those
    delimiters themselves.  Dictionary: varint count + (varint len, bytes) per token in first-use
    order.  Per name: token-level front coding against the previous name (varint shared tokens,
    varint new-token count) then each new token's dictionary index as a varint (variant
    'varint') or as ceil(log2 D) bits packed over the whole name list (variant 'bits')."""
    toks = [TOK.findall(nm) for nm in names]
    dic = {}
    for t in toks:
        for x in t:
            dic.setdefault(x, len(dic))
    dict_bytes = vlen(len(dic)) + sum(vlen(len(x)) + len(x) for x in dic)
    per_v = 0
    idx_bits = 0
    head = 0
    prev = []
    w = max(1, (len(dic) - 1).bit_length())
    for t in toks:
        k = 0
        while k < min(len(t), len(prev)) and t[k] == prev[k]:
            k += 1
        head += vlen(k) + vlen(len(t) - k)
        per_v += sum(vlen(dic[x]) for x in t[k:])
        idx_bits += w * (len(t) - k)
        prev = t
    return dict(varint=dict_bytes + head + per_v, bits=dict_bytes + head + (idx_bits + 7) // 8,
                dict_tokens=len(dic), dict_bytes=dict_bytes)


def lz77_bytes(data: bytes, min_match=3):
    """(d) LZ4-style sequences: token byte (4-bit literal count, 4-bit match length - 3, each
    with 255-extension bytes), literals, 2-byte offset.  Greedy longest match over the whole
    window (names are a few KB: brute force is fine).  Returns the compressed size in bytes."""
    n = len(data)
    i = 0
    lit = 0
    out = 0

    def ext(v):
        return 0 if v < 15 else 1 + (v - 15) // 255

    while i < n:
        best_l, best_off = 0, 0
        lo = max(0, i - 65535)
        # candidate starts: positions with the same 3 bytes
        key = data[i:i + min_match]
        j = data.find(key, lo, i + len(key) - 1) if len(key) == min_match else -1
        while 0 <= j < i:
            ln = 0
            while i + ln < n and data[j + ln] == data[i + ln]:
                ln += 1
            if ln > best_l:
                best_l, best_off = ln, i - j
            j = data.find(key, j + 1, i + len(key) - 1)
        if best_l >= min_match:
            out += 1 + ext(lit) + lit + 2 + ext(best_l - min_match)
            lit = 0
            i += best_l
        else:
            lit += 1
            i += 1
    out += 1 + ext(lit) + lit   # last literals
    return out


def fields_v1(e):
    b = bytearray()
    b.append(0)
    put_varint(b, len(e.shape))
    for x in e.shape:
        put_varint(b, x)
    b.append(0)
    put_varint(b, e.group_size)
    put_svarint(b, e.value_offset)
    put_varint(b, e.block_offset)
    put_varint(b, e.block_length)
    put_varint(b, e.meta_length)
    put_varint(b, e.tid_base)
    b += b"\0\0"
    return len(b)


def fields_v2(e, prev_tid_base, kernel_size):
    """Compact entry: u8 flags = dtype (3 bits) | group mode implicit-kernel / implicit-tensor /
    explicit (2 bits) | has_meta | has_value_offset | multi-table; ndim + dims varints; group size
    only when explicit; value offset only if flagged; block offset implicit (blocks back to back,
    in entry order); block length varint; meta length only if flagged; table base as svarint
    delta to the previous tensor's; one byte = tid_bits (4) | (len_bits-1 packed in next) -> we
    write tid_bits<<? as: if multi-table: u8 tid_bits; always u8 len_bits.  No CRC."""
    b = bytearray()
    b.append(0)
    put_varint(b, len(e.shape))
    for x in e.shape:
        put_varint(b, x)
    numel = int(np.prod(e.shape)) if e.shape else 1
    if not (e.group_size == kernel_size or e.group_size == max(1, numel)):
        put_varint(b, e.group_size)
    if e.value_offset:
        put_svarint(b, e.value_offset)
    put_varint(b, e.block_length)
    if e.meta_length:
        put_varint(b, e.meta_length)
    put_svarint(b, e.tid_base - prev_tid_base)
    if e.tid_bits:
        b.append(e.tid_bits)
    b.append(e.len_bits)
    return len(b)


rows = []
name_cache = {}
for m, bits, sp in all_cases():
    q, pkg = get(m, bits, sp)
    n = sum(v.size for v in q.values())
    d = read_directory(np.frombuffer(pkg, np.uint8))
    names = [e.name.encode() for e in d.tensors]
    if m not in name_cache:
        joined = b"\0".join(names)
        tk = names_tokens(names)
        name_cache[m] = dict(
            raw=sum(len(x) for x in names), count=len(names),
            a_front=names_front(names), b_best_ref=names_best_ref(names),
            c_tokens_varint=tk["varint"], c_tokens_bits=tk["bits"], c_dict_tokens=tk["dict_tokens"],
            d_lz77=vlen(len(joined)) + lz77_bytes(joined))
        co = zlib.compressobj(9, zlib.DEFLATED, -15, 9)
        name_cache[m]["ref_deflate9"] = vlen(len(joined)) + len(co.compress(joined) + co.flush())
        name_cache[m]["ref_brotli11"] = vlen(len(joined)) + len(brotli.compress(joined, quality=11))
        name_cache[m]["ref_lzma9_raw"] = vlen(len(joined)) + len(lzma.compress(
            joined, format=lzma.FORMAT_RAW, filters=[{"id": lzma.FILTER_LZMA2, "preset": 9}]))
    nm = name_cache[m]
    f1 = sum(fields_v1(e) for e in d.tensors)
    f2, prev_tb = 0, 0
    for e in d.tensors:
        ks = max(1, int(np.prod(e.shape[1:]))) if len(e.shape) >= 2 else max(1, int(np.prod(e.shape) if e.shape else 1))
        f2 += fields_v2(e, prev_tb, ks)
        prev_tb = e.tid_base
    crc = 4 * len(d.tensors)
    gt_today = sum(e.group_table_bytes for e in d.tensors)
    gt_rice = 0
    for e in d.tensors:
        if e.n_groups:
            _, gl = group_table(pkg, e)
            gt_rice += rice_group_table_bits(gl, e.tid_bits, e.n_groups) // 8
    best_names = min(nm[k] for k in ("a_front", "b_best_ref", "c_tokens_varint", "c_tokens_bits", "d_lz77"))
    best_kind = min(("a_front", "b_best_ref", "c_tokens_varint", "c_tokens_bits", "d_lz77"), key=lambda k: nm[k])
    # package CRC: the footer's dir CRC32 stays; one CRC32 over all blocks is +4 bytes
    saved = (nm["a_front"] - best_names) + (f1 - f2) + crc - 4
    c = competitors(m, bits, sp)
    rows.append(dict(model=m, bits=bits, sparsity=sp, params=n, package_bytes=len(pkg),
                     bpp_today=8 * len(pkg) / n, names=nm, fields_v1=f1, fields_v2=f2, crc_v1=crc,
                     best_names=best_kind, bytes_saved=saved, group_tables_v1=gt_today,
                     group_tables_rice=gt_rice,
                     bpp_compact=8 * (len(pkg) - saved) / n, competitors=c))
    r = rows[-1]
    print(f"{SHORT[m]:10s} {bits}/{sp}: names {nm['raw']} raw, a {nm['a_front']} b {nm['b_best_ref']} "
          f"c {nm['c_tokens_varint']}/{nm['c_tokens_bits']} d {nm['d_lz77']} deflate {nm['ref_deflate9']} "
          f"brotli {nm['ref_brotli11']}; fields {f1}->{f2}; crc {crc}->4; saved {saved} B: "
          f"{r['bpp_today']:.3f} -> {r['bpp_compact']:.3f} (zstd {c['zstd-19']:.3f} lzma {c['lzma-9']:.3f} "
          f"brotli {c['brotli-11']:.3f}); group tables {gt_today} -> rice {gt_rice}", flush=True)

out = ROOT / "benchmarks" / "results"
(out / "experiments_directory.json").write_text(json.dumps(rows, indent=1, default=float))

L = ["# Directory compaction (item 4)", "",
     "`nice -n 15 python3 benchmarks/experiments/directory.py`.  Exact bytes of concrete layouts.", "",
     "## Tensor names (bytes; same for every config of a model)", "",
     "| model | tensors | raw | (a) front coding (v1) | (b) best earlier reference | (c) tokens, varint ids | (c) tokens, packed ids | (d) LZ77 (LZ4-style) | ref: deflate-9 | ref: brotli-11 | ref: lzma-9 raw |",
     "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
seen = set()
for r in rows:
    if r["model"] in seen:
        continue
    seen.add(r["model"])
    nm = r["names"]
    L.append(f"| {SHORT[r['model']]} | {nm['count']} | {nm['raw']} | {nm['a_front']} | {nm['b_best_ref']} | "
             f"{nm['c_tokens_varint']} | {nm['c_tokens_bits']} | {nm['d_lz77']} | {nm['ref_deflate9']} | "
             f"{nm['ref_brotli11']} | {nm['ref_lzma9_raw']} |")
L += ["", "## Whole directory: v1 vs compact (best name coder + compact fields + one package CRC)", "",
      "| model | cfg | b/p today | fields v1 -> compact | CRCs v1 -> 1 | names v1 -> best | bytes saved | b/p compact | group tables v1 -> Rice (B) | zstd-19 | lzma-9 | brotli-11 | NNCodec |",
      "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
for r in rows:
    c = r["competitors"]
    nm = r["names"]
    L.append(f"| {SHORT[r['model']]} | {r['bits']}/{r['sparsity']} | {r['bpp_today']:.3f} | {r['fields_v1']} -> {r['fields_v2']} | "
             f"{r['crc_v1']} -> 4 | {nm['a_front']} -> {nm[r['best_names']]} ({r['best_names']}) | {r['bytes_saved']} | "
             f"**{r['bpp_compact']:.3f}** | {r['group_tables_v1']} -> {r['group_tables_rice']} | {c['zstd-19']:.3f} | {c['lzma-9']:.3f} | "
             f"{c['brotli-11']:.3f} | {c['NNCodec']:.3f} |")
(out / "experiments_directory.md").write_text("\n".join(L) + "\n")
