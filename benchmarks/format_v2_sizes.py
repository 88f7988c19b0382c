"""Format v2 (compact directory) vs v1: package sizes and directory breakdown, and the measured
alternatives behind the v2 layout choices (docs/DESIGN.md "Format v2: the compact directory").

    cd /work/v2 && PYTHONPATH=. nice -n 15 python3 benchmarks/format_v2_sizes.py

5 models x 4 configs (benchmarks/recipe.py), ``codec.pack`` at its defaults with version=1 and
version=2 (sizes only, no speed).  Writes benchmarks/results/format_v2_sizes.{json,md}.
"""
from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import codec  # noqa: E402
from benchmarks.recipe import MODELS, quantized_model  # noqa: E402
from codec import format_v2 as v2  # noqa: E402
from codec._bytes import put_svarint, put_varint  # noqa: E402
from codec.format import DTYPE_CODES, read_directory  # noqa: E402

CONFIGS = [(8, 0.0), (8, 0.5), (4, 0.0), (4, 0.9)]
SHORT = {"mtcnn_facenet_pytorch": "mtcnn", "nudenet_yolov8n_320": "yolov8n",
         "silero_vad_16k": "silero", "fer_emotion_minixception": "fer",
         "fer_emotion_minixception_tflite": "fer_tflite"}
CACHE = Path(os.environ.get("EXP_CACHE", "/tmp/codec_exp_cache"))


def quantized(model, bits, sp) -> dict:
    f = CACHE / f"{model}_{bits}_{sp}.npz"
    if f.exists():
        z = np.load(f)
        return {k: z[k] for k in z.files}
    return quantized_model(model, bits, sp)


def vlen(v: int) -> int:
    b = bytearray()
    put_varint(b, v)
    return len(b)


def svlen(v: int) -> int:
    b = bytearray()
    put_svarint(b, v)
    return len(b)


# --- names: the candidates (bytes of the whole names section) --------------------------------

def names_front(names: list[bytes]) -> int:
    """v1: varint shared byte prefix, varint tail length, tail."""
    tot, prev = 0, b""
    for n in names:
        k = 0
        while k < min(len(n), len(prev)) and n[k] == prev[k]:
            k += 1
        tot += vlen(k) + vlen(len(n) - k) + len(n) - k
        prev = n
    return tot


ALONE = re.compile(rb"[^/._:;]+|[/._:;]")   # delimiters as tokens of their own
ATTACHED = v2.TOKEN                          # delimiter attached to the token before it (chosen)


def names_tokens(names: list[bytes], rx, prefix: bool, packed: bool) -> int:
    """Dictionary (varint count, varint length + bytes each) + per name: [shared tokens] and
    fresh count then token ids; ``packed``: counts and ids as fixed-width bits (the v2 layout
    when ``prefix`` and ATTACHED), else varints."""
    toks = [rx.findall(n) for n in names]
    dic: dict[bytes, int] = {}
    for t in toks:
        for x in t:
            dic.setdefault(x, len(dic))
    size = vlen(len(dic)) + sum(vlen(len(x)) + len(x) for x in dic)
    w = (len(dic) - 1).bit_length() if len(dic) > 1 else 0
    recs, prev = [], []
    for t in toks:
        k = 0
        if prefix:
            while k < min(len(t), len(prev)) and t[k] == prev[k]:
                k += 1
        recs.append((k, len(t) - k))
        prev = t
    if packed:
        cw = max((max(a, b) for a, b in recs), default=0).bit_length()
        bits = sum((2 if prefix else 1) * cw + b * w for a, b in recs)
        return size + 1 + (bits + 7) // 8
    return size + sum((vlen(a) if prefix else 0) + vlen(b) + b * vlen(max(len(dic) - 1, 0))
                      for a, b in recs)


# --- entries: v2 chosen layout and variants ----------------------------------------------------

def entry_v1(e) -> int:
    """v1 entry without name and CRC."""
    return (1 + vlen(len(e.shape)) + sum(vlen(d) for d in e.shape) + 1 + vlen(e.group_size)
            + svlen(e.value_offset) + vlen(e.block_offset) + vlen(e.block_length)
            + vlen(e.meta_length) + vlen(e.tid_base) + 2)


def entries_v2(entries, *, implicit_group=True, delta_tid=True, packed_widths=True,
               implicit_offset=True) -> int:
    tot, prev = 0, 0
    for e in entries:
        n = 1 + vlen(len(e.shape)) + sum(vlen(d) for d in e.shape)
        if implicit_group:
            _, gval = v2.group_code(e.group_mode, e.group_size, e.shape)
            n += vlen(gval) if gval is not None else 0
        else:
            n += vlen(e.group_size)
        n += svlen(e.value_offset) if e.value_offset else 0
        n += vlen(e.block_length) + (vlen(e.meta_length) if e.meta_length else 0)
        if not implicit_offset:
            n += vlen(e.block_offset)
        if e.numel:
            n += svlen(e.tid_base - prev) if delta_tid else vlen(e.tid_base)
            prev = e.tid_base
            n += vlen(e.tid_bits * 64 + e.len_bits) if packed_widths else 2
        tot += n
    return tot


def table_bytes(tables) -> int:
    total = 0
    for t in tables:
        b = bytearray()
        t.to_bytes(b)
        total += len(b)
    return total


def main() -> int:
    rows, names_rows = [], {}
    for m in MODELS:
        for bits, sp in CONFIGS:
            q = quantized(m, bits, sp)
            n = sum(int(a.size) for a in q.values())
            d1 = codec.pack(q, version=1)
            d2 = codec.pack(q, version=2)
            back = codec.unpack(d2)
            assert list(back) == list(q) and all(np.array_equal(back[k], q[k]) for k in q)
            dir1 = read_directory(np.frombuffer(d1, np.uint8))
            dir2 = read_directory(np.frombuffer(d2, np.uint8))
            names = [e.name.encode() for e in dir2.tensors]
            nb = bytearray()
            v2.write_names(nb, [e.name for e in dir2.tensors])
            tb = table_bytes(dir2.tables)
            crc2 = 1 + 4 * int(dir2.chunk_crcs.size)
            ent2 = entries_v2(dir2.tensors)
            assert (vlen(len(dir2.tables)) + tb + vlen(len(dir2.tensors)) + len(nb) + ent2 + crc2
                    == dir2.directory_length)
            r = dict(model=SHORT[m], bits=bits, sparsity=sp, params=n, tensors=len(names),
                     v1_bytes=len(d1), v2_bytes=len(d2), saved=len(d1) - len(d2),
                     v1_bpp=8 * len(d1) / n, v2_bpp=8 * len(d2) / n,
                     v1_dir=dir1.directory_length, v2_dir=dir2.directory_length, tables=tb,
                     v1_names=names_front(names), v2_names=len(nb),
                     v1_entries=sum(entry_v1(e) for e in dir1.tensors), v2_entries=ent2,
                     v1_crcs=4 * len(names), v2_crcs=crc2,
                     v2_entries_explicit_group=entries_v2(dir2.tensors, implicit_group=False),
                     v2_entries_absolute_tid=entries_v2(dir2.tensors, delta_tid=False),
                     v2_entries_two_width_bytes=entries_v2(dir2.tensors, packed_widths=False),
                     v2_entries_explicit_offset=entries_v2(dir2.tensors, implicit_offset=False))
            rows.append(r)
            if r["model"] not in names_rows:
                names_rows[r["model"]] = dict(
                    tensors=len(names), raw=sum(len(x) for x in names), front=names_front(names),
                    alone_varint=names_tokens(names, ALONE, False, False),
                    alone_prefix_varint=names_tokens(names, ALONE, True, False),
                    alone_prefix_bits=names_tokens(names, ALONE, True, True),
                    attached_varint=names_tokens(names, ATTACHED, False, False),
                    attached_bits=names_tokens(names, ATTACHED, False, True),
                    attached_prefix_varint=names_tokens(names, ATTACHED, True, False),
                    attached_prefix_bits=names_tokens(names, ATTACHED, True, True))
                assert names_rows[r["model"]]["attached_prefix_bits"] == len(nb)
            print(f"{r['model']:10s} {bits}/{sp}: {len(d1)} -> {len(d2)} B "
                  f"({r['v1_bpp']:.3f} -> {r['v2_bpp']:.3f} b/p), directory {r['v1_dir']} -> "
                  f"{r['v2_dir']}", flush=True)
    out = ROOT / "benchmarks" / "results"
    (out / "format_v2_sizes.json").write_text(json.dumps(dict(rows=rows, names=names_rows),
                                                         indent=1))
    L = ["# Format v2 (compact directory) vs v1", "",
         "`PYTHONPATH=. python3 benchmarks/format_v2_sizes.py`: `codec.pack` defaults, "
         "`version=1` vs `version=2` (the same blocks; only the directory differs).", "",
         "| model | cfg | params | tensors | v1 bytes | v2 bytes | saved | v1 b/p | v2 b/p | "
         "directory v1 -> v2 | names | entries | CRCs |",
         "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|---|---|"]
    for r in rows:
        L.append(f"| {r['model']} | {r['bits']}/{r['sparsity']} | {r['params']} | {r['tensors']} | "
                 f"{r['v1_bytes']} | {r['v2_bytes']} | {r['saved']} | {r['v1_bpp']:.3f} | "
                 f"**{r['v2_bpp']:.3f}** | {r['v1_dir']} -> {r['v2_dir']} | "
                 f"{r['v1_names']} -> {r['v2_names']} | {r['v1_entries']} -> {r['v2_entries']} | "
                 f"{r['v1_crcs']} -> {r['v2_crcs']} |")
    L += ["", "## Names section candidates (bytes; same for every config)", "",
          "tokens split at `/ . _ : ;`; *alone*: delimiters are tokens; *attached*: a delimiter "
          "ends the token before it; *prefix*: shared token prefix with the previous name; "
          "*bits*: counts and ids as fixed-width bits (ids `ceil(log2 D)` bits), else varints.", "",
          "| model | tensors | raw | front coding (v1) | alone | alone+prefix | alone+prefix, bits | "
          "attached | attached, bits | attached+prefix | **attached+prefix, bits (v2)** |",
          "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    tot = {}
    for mname, nr in names_rows.items():
        keys = ["front", "alone_varint", "alone_prefix_varint", "alone_prefix_bits",
                "attached_varint", "attached_bits", "attached_prefix_varint",
                "attached_prefix_bits"]
        for k in keys:
            tot[k] = tot.get(k, 0) + nr[k]
        L.append(f"| {mname} | {nr['tensors']} | {nr['raw']} | "
                 + " | ".join(str(nr[k]) for k in keys) + " |")
    L.append("| **total** | | | " + " | ".join(str(tot[k]) for k in tot) + " |")
    L += ["", "## Entry layout variants (bytes of all entries; fer / yolov8n at 8/0)", "",
          "| model | v1 fields (no name, no CRC) | v2 chosen | explicit group size | absolute "
          "tid_base | tid/len bits as 2 bytes | explicit block offset |",
          "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if (r["bits"], r["sparsity"]) == (8, 0.0):
            L.append(f"| {r['model']} | {r['v1_entries']} | {r['v2_entries']} | "
                     f"{r['v2_entries_explicit_group']} | {r['v2_entries_absolute_tid']} | "
                     f"{r['v2_entries_two_width_bytes']} | {r['v2_entries_explicit_offset']} |")
    (out / "format_v2_sizes.md").write_text("\n".join(L) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
