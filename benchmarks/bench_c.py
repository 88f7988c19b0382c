"""Decode speed of the portable C decoder (decoders/c, -O2) against codec.unpack (Numba), both
single-threaded, on the same packages; and the decoder's code size at -Os.

    python3 benchmarks/bench_c.py [--models m1 m2 ...] [--repeat 7] [--configs 8:0.0 4:0.9]
                                  [--versions 1 2] [--baseline REV [--rounds 3]]

Packages: every model of benchmarks/recipe.py MODELS under every REFERENCE config (CONFIGS),
quantized with recipe.quantized_model and packed with codec.pack defaults, in each format
version of --versions (default 1 and 2: same payload, only the directory and the CRC layout
differ, so decode speed should not).  Both decoders do the whole job each repetition: parse
and check the directory, check every CRC32 (v1: each block's; v2: each data chunk's), decode
every tensor (C: ``cdecode --bench``, timing in-process around the library calls; Python:
``codec.unpack`` on bytes, warm JIT).  Best of --repeat runs.  C builds: -O2 (4096-entry decode
table, slice-by-8 CRC tables, 8-byte refills), -O2 -DSPK_SMALL (canonical decoding), and the same
two at -Os (firmware builds: 16-entry CRC table, byte-wise refills); and -O2 -DSPK_MULTI (the
opt-in multi-set decode-table entries, 32 KiB table: not the default, reported beside it).
With --baseline REV (a git revision), the same five builds of decoders/c as of REV are timed
too, alternating with the current ones on each package (--rounds alternations of --repeat runs,
best of all): an A/B run on the same packages and machine; it prints before/after per package
and per config and stores both (rows: "<variant>_base_s", sizes: "text_size_Os_base").
Writes benchmarks/results/c_decoder.json and prints a table.
"""
from __future__ import annotations

import os

os.environ["NUMBA_NUM_THREADS"] = "1"  # before numba is imported

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

import codec  # noqa: E402
from benchmarks.recipe import CONFIGS, MODELS, quantized_model  # noqa: E402

CDIR = ROOT / "decoders" / "c"
VARIANTS = {"c_O2": "-O2", "c_O2_small": "-O2 -DSPK_SMALL", "c_Os": "-Os", "c_Os_small": "-Os -DSPK_SMALL",
            "c_O2_multi": "-O2 -DSPK_MULTI"}  # multi-set entries: opt-in


def build(tmp: Path, cdir: Path = CDIR, suffix: str = "") -> dict[str, Path]:
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        sys.exit("bench_c.py: no C compiler found")
    exes = {}
    for name, flags in VARIANTS.items():
        exe = tmp / (name + suffix)
        subprocess.run([cc, "-std=c99", *flags.split(), "-o", str(exe), str(cdir / "cdecode.c"),
                        str(cdir / "spkdec.c")], check=True)
        exes[name] = exe
    return exes


def baseline_source(rev: str, dest: Path) -> Path:
    """decoders/c as of git revision ``rev`` (the files make and build() need) in ``dest``."""
    dest.mkdir(parents=True)
    for f in ("Makefile", "spkdec.c", "spkdec.h", "cdecode.c"):
        r = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:decoders/c/{f}"],
                           capture_output=True, check=True)
        (dest / f).write_bytes(r.stdout)
    return dest


def text_sizes(tmp: Path, cdir: Path = CDIR) -> dict[str, dict[str, int]]:
    out = {}
    r = subprocess.run(["make", "-s", "-C", str(cdir), f"BUILD={tmp / 'size'}", "size"],
                       capture_output=True, text=True, check=True)
    for line in r.stdout.splitlines():  # "spkdec.o (LUT, v2 only, -Os) .text 7987"
        parts = line.split()
        variant = ("lut_multi" if "SPK_MULTI" in line else "lut" if "LUT" in line else "small") + (
            "_v1" if "v1 only" in line else "_v2" if "v2 only" in line else "")
        out.setdefault(variant, {})[parts[-2]] = int(parts[-1])
    return out


def time_c(exe: Path, pkg: Path, repeat: int) -> float:
    r = subprocess.run([str(exe), "--bench", str(repeat), str(pkg)], capture_output=True,
                       text=True, check=True)
    return float(r.stdout.split()[1])


def time_numba(data: bytes, repeat: int) -> float:
    codec.unpack(data)  # JIT warm-up
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        codec.unpack(data)
        best = min(best, time.perf_counter() - t)
    return best


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="*", default=MODELS)
    ap.add_argument("--configs", nargs="*", default=[f"{b}:{s}" for b, s in CONFIGS],
                    help="bits:sparsity pairs")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--versions", nargs="*", type=int, default=[1, 2],
                    help="format versions to pack each model in")
    ap.add_argument("--baseline", default=None,
                    help="git revision whose decoders/c to time against the current one (A/B)")
    ap.add_argument("--rounds", type=int, default=3,
                    help="with --baseline: alternations of current and baseline per package")
    ap.add_argument("--out", default=str(HERE / "results" / "c_decoder.json"))
    a = ap.parse_args(argv)
    configs = [(int(c.split(":")[0]), float(c.split(":")[1])) for c in a.configs]
    rows = []
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        exes = build(tmp)
        sizes = text_sizes(tmp)
        base_exes, base_sizes = {}, {}
        if a.baseline:
            bdir = baseline_source(a.baseline, tmp / "base_src")
            base_exes = build(tmp, bdir, "_base")
            base_sizes = text_sizes(tmp / "base", bdir)
        for m in a.models:
            for bits, sp in configs:
                q = quantized_model(m, bits, sp)
                for version in a.versions:
                    data = codec.pack(q, version=version)
                    pkg = tmp / "pkg.spkg"
                    pkg.write_bytes(data)
                    params = sum(v.size for v in codec.unpack(data).values())
                    row = {"model": m, "bits": bits, "sparsity": sp, "version": version,
                           "params": params, "package_bytes": len(data)}
                    row["numba_s"] = time_numba(data, a.repeat)
                    for name, exe in exes.items():
                        if name in base_exes:  # A/B: alternate, best of all rounds
                            ts, tb = [], []
                            for _ in range(a.rounds):
                                ts.append(time_c(exe, pkg, a.repeat))
                                tb.append(time_c(base_exes[name], pkg, a.repeat))
                            row[f"{name}_s"], row[f"{name}_base_s"] = min(ts), min(tb)
                            row[f"{name}_base_mparams_s"] = params / min(tb) / 1e6
                        else:
                            row[f"{name}_s"] = time_c(exe, pkg, a.repeat)
                    for k in ["numba", *exes]:
                        row[f"{k}_mparams_s"] = params / row[f"{k}_s"] / 1e6
                    rows.append(row)
                    print(f"{m:34s} {bits}b {sp:<4} v{version} {params:>9,d} params  numba "
                          f"{row['numba_mparams_s']:7.1f}  C -O2 {row['c_O2_mparams_s']:7.1f}  "
                          f"small {row['c_O2_small_mparams_s']:7.1f}  "
                          f"C -Os {row['c_Os_mparams_s']:7.1f}  "
                          f"small {row['c_Os_small_mparams_s']:7.1f}  "
                          f"-O2 MULTI {row['c_O2_multi_mparams_s']:7.1f} M params/s"
                          + ("  after/before: " + " ".join(
                              f"{row[f'{k}_base_s'] / row[f'{k}_s']:.3f}" for k in base_exes)
                             if base_exes else ""), flush=True)
    tot = {}
    for version in a.versions:
        rs = [r for r in rows if r["version"] == version]
        tot[f"v{version}"] = {k: sum(r["params"] for r in rs) / sum(r[f"{k}_s"] for r in rs) / 1e6
                              for k in ["numba", *VARIANTS]}
    print()
    print("M params/s over all packages (total params / total time), single thread:")
    for version, t in tot.items():
        print(f"  format {version}: " + "  ".join(f"{k} {v:.1f}" for k, v in t.items()))
    ratios = {k: [] for k in ["numba", *VARIANTS]}
    by = {(r["model"], r["bits"], r["sparsity"], r["version"]): r for r in rows}
    for (m, b, sp, ver), r in by.items():
        if ver == 2 and (m, b, sp, 1) in by:
            for k in ratios:
                ratios[k].append(r[f"{k}_s"] / by[(m, b, sp, 1)][f"{k}_s"])
    if ratios["numba"]:
        print("decode time v2 / v1 per package (median, min, max):")
        for k, xs in ratios.items():
            xs.sort()
            print(f"  {k:12s} {xs[len(xs) // 2]:.3f}  {xs[0]:.3f}  {xs[-1]:.3f}")
    ab = {}
    if base_exes:
        print(f"A/B against {a.baseline}: speed after / before (total params / total time), "
              "per config over its packages:")
        cfgs = sorted({(r["bits"], r["sparsity"]) for r in rows}, key=lambda c: (-c[0], c[1]))
        for version in a.versions:
            for b, sp in cfgs + [(None, None)]:
                rs = [r for r in rows if r["version"] == version
                      and (b is None or (r["bits"], r["sparsity"]) == (b, sp))]
                key = f"v{version} " + (f"{b}-bit {sp}" if b is not None else "all")
                ab[key] = {k: sum(r[f"{k}_base_s"] for r in rs) / sum(r[f"{k}_s"] for r in rs)
                           for k in base_exes}
                print(f"  {key:14s} " + "  ".join(f"{k} {v:.3f}" for k, v in ab[key].items()))
    print("decoder code size at -Os (x86-64):")
    for variant, secs in sizes.items():
        print(f"  {variant:10s} " + "  ".join(f"{s} {n} B" for s, n in secs.items())
              + ("  (before: " + "  ".join(f"{s} {n} B" for s, n in
                                            base_sizes.get(variant, {}).items()) + ")"
                 if base_sizes else ""))
    result = {
        "what": "decode speed, C decoder vs codec.unpack (Numba), single thread; best of repeat",
        "date": time.strftime("%Y-%m-%d"), "machine": platform.processor() or platform.machine(),
        "cc_version": subprocess.run([os.environ.get("CC", "cc"), "--version"], capture_output=True,
                                     text=True).stdout.splitlines()[0],
        "numba_threads": os.environ["NUMBA_NUM_THREADS"], "repeat": a.repeat,
        "versions": a.versions,
        "variants": {"numba": "codec.unpack", **VARIANTS},
        "text_size_Os": sizes, "mparams_s_total": tot, "rows": rows,
        **({"baseline": a.baseline, "rounds": a.rounds, "text_size_Os_base": base_sizes,
            "after_over_before_speed": ab} if a.baseline else {}),
    }
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    tmp_out = Path(a.out).with_suffix(".json.tmp")
    tmp_out.write_text(json.dumps(result, indent=1) + "\n")
    os.replace(tmp_out, a.out)
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
