"""Items 1 + 3: where the bytes of today's packages go, and the Huffman redundancy of today's
static tables (same tables, same symbol counts) against their entropy and a static rANS/tANS.

    nice -n 15 python3 benchmarks/experiments/breakdown.py

Writes benchmarks/results/experiments_breakdown.{json,md}.  All byte counts are exact (read
from the v1 packages; payload parts from the event streams, which reproduce every stored group
length bit for bit).
"""
import json

import numpy as np

from codec._bytes import put_svarint, put_varint
from common import (ROOT, SHORT, all_cases, competitors, entropy_bits, get, package_events,
                    rans_table_bits)


def varint_len(v):
    b = bytearray()
    put_varint(b, v)
    return len(b)


def entry_parts(d):
    """Bytes of names (prefix varints + tails), per-tensor fields (without CRC), CRCs."""
    names = fields = crcs = 0
    prev = b""
    for e in d.tensors:
        nm = e.name.encode()
        k = 0
        while k < min(len(nm), len(prev)) and nm[k] == prev[k]:
            k += 1
        names += varint_len(k) + varint_len(len(nm) - k) + len(nm) - k
        prev = nm
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
        fields += len(b)
        crcs += 4
    return names, fields, crcs


def table_bytes(t):
    b = bytearray()
    t.to_bytes(b)
    return len(b)


rows = []
for m, bits, sp in all_cases():
    q, pkg = get(m, bits, sp)
    n = sum(v.size for v in q.values())
    d, evs = package_events(q, pkg)
    tb = [table_bytes(t) for t in d.tables]
    names, fields, crcs = entry_parts(d)
    dirlen = d.directory_length
    counts_len = varint_len(len(d.tables)) + varint_len(len(d.tensors))
    assert counts_len + sum(tb) + names + fields + crcs == dirlen
    gtab = sum(e.group_table_bytes for e in d.tensors)
    pay = sum(e.payload_bytes for e in d.tensors)
    meta = sum(e.meta_length for e in d.tensors)
    assert 32 + dirlen + gtab + pay + meta == len(pkg)
    # payload split (bits)
    sym_val = sym_esc = sym_eob = rem = sign = 0
    per_tab = {}
    o0 = 0.0
    lens = [t.lengths.astype(np.int64) for t in d.tables]
    for e, ev in zip(d.tensors, evs):
        _, c = np.unique(q[e.name], return_counts=True)
        o0 += entropy_bits(c)
        if ev is None:
            continue
        for t in np.unique(ev["tab"]):
            sel = ev["tab"] == t
            cnt = np.bincount(ev["sym"][sel], minlength=d.tables[t].nsym)
            per_tab[t] = per_tab.get(t, 0) + cnt
        L = np.concatenate([lens[t] for t in range(len(lens))])
        off = np.cumsum([0] + [x.size for x in lens])[:-1]
        code = L[off[ev["tab"]] + ev["sym"]]
        k = ev["kind"]
        sym_val += int(code[k == 2].sum())
        sym_esc += int(code[k == 1].sum())
        sym_eob += int(code[k == 0].sum())
        rem += int(ev["ebits"].sum())
        sign += int((k == 2).sum())
    pad = 8 * pay - (sym_val + sym_esc + sym_eob + rem + sign)
    # item 3: same tables, same counts
    huff = ent = rans_pay = rans_tab = 0.0
    for t, cnt in per_tab.items():
        huff += float((cnt * lens[t]).sum())
        ent += entropy_bits(cnt)
        p, tt = rans_table_bits(cnt)
        rans_pay += p
        rans_tab += tt
    code_bits = sym_val + sym_esc + sym_eob
    assert abs(huff - code_bits) < 1e-6
    c = competitors(m, bits, sp)
    tab_bits = 8 * sum(tb)
    rans_pkg_bits = 8 * len(pkg) - code_bits - tab_bits + rans_pay + rans_tab
    ent_pkg_bits = 8 * len(pkg) - code_bits + ent   # ideal, tables free of charge (lower bound)
    rows.append(dict(
        model=m, bits=bits, sparsity=sp, params=n, package_bytes=len(pkg),
        bpp=8 * len(pkg) / n, order0_bpp=o0 / n,
        preamble_footer=32, dir_counts=counts_len, tables_bytes=sum(tb), n_tables=len(tb),
        names_bytes=names, fields_bytes=fields, crc_bytes=crcs, n_tensors=len(d.tensors),
        meta_bytes=meta, group_table_bytes=gtab, payload_bytes=pay,
        payload_bits=dict(value_codes=sym_val, esc_codes=sym_esc, eob_codes=sym_eob,
                          remainder=rem, sign=sign, padding=pad),
        order0_bits=o0, payload_over_order0=8 * pay / o0 if o0 else None,
        huffman_code_bits=huff, entropy_same_tables=ent, huffman_redundancy_pct=100 * (huff / ent - 1),
        rans12_code_bits=rans_pay, rans12_table_bits=rans_tab, huffman_table_bits=tab_bits,
        bpp_with_rans=rans_pkg_bits / n, bpp_entropy_free_tables=ent_pkg_bits / n,
        competitors=c))
    r = rows[-1]
    print(f"{SHORT[m]:10s} {bits}/{sp}: {r['bpp']:.3f} b/p; dir {dirlen} B (tables {sum(tb)}, names "
          f"{names}, fields {fields}, crc {crcs}); gtab {gtab}; payload {pay} = {8*pay/o0:.4f} x o0; "
          f"huff/ent {huff/ent:.4f}; rANS pkg {r['bpp_with_rans']:.3f}", flush=True)

out = ROOT / "benchmarks" / "results"
(out / "experiments_breakdown.json").write_text(json.dumps(rows, indent=1, default=float))

L = ["# Where the bytes go today, and Huffman vs entropy on today's tables",
     "", "`nice -n 15 python3 benchmarks/experiments/breakdown.py` (format v1 packages from "
     "`codec.pack`, default settings).  Bytes are exact.", "",
     "## Package bytes by part", "",
     "| model | cfg | params | bytes | b/p | preamble+footer | tables (n) | names | fields | CRCs | group tables | payload | payload / order-0 |",
     "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
for r in rows:
    L.append(f"| {SHORT[r['model']]} | {r['bits']}/{r['sparsity']} | {r['params']:,} | {r['package_bytes']:,} | "
             f"{r['bpp']:.3f} | 32 | {r['tables_bytes']:,} ({r['n_tables']}) | {r['names_bytes']:,} | "
             f"{r['fields_bytes']:,} | {r['crc_bytes']} | {r['group_table_bytes']:,} | {r['payload_bytes']:,} | "
             f"{r['payload_over_order0']:.4f} |")
L += ["", "## Payload bits by part (fraction of payload)", "",
      "| model | cfg | value codes | ESC codes | EOB codes | remainder | sign | byte padding |",
      "|---|---|---:|---:|---:|---:|---:|---:|"]
for r in rows:
    pb = r["payload_bits"]
    tot = sum(pb.values())
    L.append(f"| {SHORT[r['model']]} | {r['bits']}/{r['sparsity']} | " + " | ".join(
        f"{100*pb[k]/tot:.1f} %" for k in ("value_codes", "esc_codes", "eob_codes", "remainder", "sign", "padding")) + " |")
L += ["", "## Item 3: Huffman redundancy of today's tables (no context change)", "",
      "Same tables, same symbol counts.  *rANS-12*: static rANS/tANS with frequencies normalized to "
      "2^12, its frequency table counted (gamma-gap symbol list + gamma frequency per symbol).",
      "", "| model | cfg | Huffman code bits | entropy | Huffman / entropy | Huffman tables B | rANS-12 tables B | b/p today | b/p with rANS-12 | b/p ideal (entropy, free tables) | best other |",
      "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
for r in rows:
    c = {k: v for k, v in r["competitors"].items() if k in ("zstd-19", "lzma-9", "brotli-11", "NNCodec") and v}
    b = min(c, key=c.get)
    L.append(f"| {SHORT[r['model']]} | {r['bits']}/{r['sparsity']} | {r['huffman_code_bits']:,.0f} | "
             f"{r['entropy_same_tables']:,.0f} | {r['huffman_code_bits']/r['entropy_same_tables']:.4f} | "
             f"{r['huffman_table_bits']/8:,.0f} | {r['rans12_table_bits']/8:,.0f} | {r['bpp']:.3f} | "
             f"{r['bpp_with_rans']:.3f} | {r['bpp_entropy_free_tables']:.3f} | {b} {c[b]:.3f} |")
(out / "experiments_breakdown.md").write_text("\n".join(L) + "\n")
