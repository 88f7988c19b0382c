"""Format v3's mirror transform: what it saves and what it costs, per model and config.

    python3 benchmarks/bench_mirror.py [--models m1 ...] [--rounds 5]

For every model of ../shared/weights and every config of REFERENCE.md: package bytes with
``mirror='auto'`` (the default) and ``mirror=None`` (what v2 writes), the tensors that got the
mirror, and encode / decode times of both, interleaved in the same process (best of
``--rounds``; compare the ratios: these machines are noisy).  Writes
benchmarks/results/mirror.json and mirror.md.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import codec  # noqa: E402
from codec.bench import best_time as best  # noqa: E402
from benchmarks.recipe import CONFIGS, MODELS, quantized_model  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="*", default=MODELS)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    rows = []
    for m in args.models:
        for bits, sp in CONFIGS:
            q = quantized_model(m, bits, sp)
            n = sum(v.size for v in q.values())
            on = codec.pack(q)
            off = codec.pack(q, mirror=None)
            assert all((codec.unpack(on)[k] == v).all() for k, v in q.items())
            mirrored = [e.name for e in codec.Package(on).directory.tensors if e.mirror_period]
            enc_on = enc_off = dec_on = dec_off = float("inf")
            for _ in range(3):  # interleaved: each side's best of 3 x rounds, encodes first
                enc_on = min(enc_on, best(lambda: codec.pack(q), args.rounds))
                enc_off = min(enc_off, best(lambda: codec.pack(q, mirror=None), args.rounds))
            codec.unpack(on), codec.unpack(off)  # (warm: the first decode after packing is slow)
            for _ in range(3):
                dec_on = min(dec_on, best(lambda: codec.unpack(on), args.rounds))
                dec_off = min(dec_off, best(lambda: codec.unpack(off), args.rounds))
            rows.append(dict(model=m, bits=bits, sparsity=sp, params=n, version=on[4],
                             bytes_mirror=len(on), bytes_plain=len(off),
                             bpp_mirror=8 * len(on) / n, bpp_plain=8 * len(off) / n,
                             mirrored=mirrored, encode_ms_mirror=1e3 * enc_on,
                             encode_ms_plain=1e3 * enc_off, decode_ms_mirror=1e3 * dec_on,
                             decode_ms_plain=1e3 * dec_off))
            r = rows[-1]
            print(f"{m:32s} {bits}/{sp:<4} v{r['version']} {r['bpp_mirror']:.3f} "
                  f"(plain {r['bpp_plain']:.3f}) enc {enc_on / enc_off:.2f}x "
                  f"dec {dec_on / dec_off:.2f}x {','.join(mirrored) or '-'}", flush=True)
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "mirror.json").write_text(json.dumps(rows, indent=1) + "\n")
    lines = ["# Format v3 mirror transform: size and cost (`benchmarks/bench_mirror.py`)", "",
             "Package bits/param with `mirror='auto'` (default) and `mirror=None` (v2); encode "
             "and decode time ratios auto / None (interleaved, best of 3 x rounds, same process).",
             "", "| model | cfg | version | b/p auto | b/p None | saved B | enc auto/None | "
             "dec auto/None | mirrored |", "|---|---|---|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['bits']}/{r['sparsity']} | {r['version']} | "
                     f"{r['bpp_mirror']:.3f} | {r['bpp_plain']:.3f} | "
                     f"{r['bytes_plain'] - r['bytes_mirror']} | "
                     f"{r['encode_ms_mirror'] / r['encode_ms_plain']:.2f} | "
                     f"{r['decode_ms_mirror'] / r['decode_ms_plain']:.2f} | "
                     f"{', '.join(r['mirrored']) or '-'} |")
    (out / "mirror.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
