"""The ``codec`` command line (also ``python -m codec``).

Exit status: 0 success, 1 user error (bad arguments, missing or unreadable files, wrong
formats, missing optional packages), 2 corrupt input (a package that fails its checks), 130
interrupted.  Errors are one line on stderr (``CODEC_DEBUG=1`` shows the traceback).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

import numpy as np

from .errors import CodecError
from .warmup import DTYPE_NAMES

PROG = "codec"
EXIT_OK, EXIT_USER, EXIT_CORRUPT, EXIT_INTERRUPT = 0, 1, 2, 130


class UsageError(Exception):
    """A user error: reported as one line, exit status 1."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse would exit with status 2: that is ours for corrupt input
        raise UsageError(f"{message} (see '{self.prog} --help')")


# ---------------------------------------------------------------------------------------------
# helpers

def _say(args, *lines) -> None:
    if not getattr(args, "quiet", False):
        for line in lines:
            print(line)


def _note(args, msg: str) -> None:
    if not getattr(args, "quiet", False):
        print(f"{PROG}: {msg}", file=sys.stderr)


def _progress(args, it, total: int, desc: str):
    """tqdm on stderr for multi-tensor work, only when stderr is a terminal and not -q."""
    if getattr(args, "quiet", False) or total < 2 or not sys.stderr.isatty():
        return it
    try:
        from tqdm import tqdm
    except ImportError:
        return it
    return tqdm(it, total=total, desc=desc, file=sys.stderr, leave=False, unit="tensor")


def _check_input(path: str) -> str:
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file")
    if os.path.isdir(path):
        raise UsageError(f"{path}: is a directory, not a file")
    return path


def _check_output(inp: str, out: str) -> None:
    from .io import same_file
    if same_file(inp, out):
        raise UsageError(f"refusing to write the output over the input file {out!r}")


def _require_package(path: str) -> bytes:
    """The bytes of a package file; a known non-package model format is a user error."""
    from .io import FormatError, detect_format
    _check_input(path)
    try:
        fmt = detect_format(path)
    except FormatError:
        fmt = "package"  # unknown bytes: let the package reader say what is wrong (exit 2)
    if fmt != "package":
        from .io import NAMES
        raise UsageError(f"{path}: is {NAMES[fmt]} file, not a codec package "
                         f"(make one with 'codec compress')")
    with open(path, "rb") as f:
        return f.read()


def _parse_group(s: str):
    s = s.strip().lower()
    if s in ("auto", "kernel", "tensor"):
        return s
    if s.isdigit():
        return int(s)
    for mode in ("kernels", "count"):
        if s.startswith(mode + ":") and s[len(mode) + 1:].isdigit():
            return (mode, int(s[len(mode) + 1:]))
    raise argparse.ArgumentTypeError(
        f"invalid group {s!r}: use auto, kernel, tensor, N, kernels:K or count:N")


def _parse_group_size(s: str):
    if s == "kernel":
        return s
    try:
        n = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid group size {s!r}: an int or 'kernel'") from None
    if n < 1:
        raise argparse.ArgumentTypeError("group size must be >= 1")
    return n


def _bits(s: str) -> int:
    try:
        b = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid bits {s!r}: an integer 1..32") from None
    if not 1 <= b <= 32:
        raise argparse.ArgumentTypeError(f"bits must be in 1..32, got {b}")
    return b


def _sparsity(s: str) -> float:
    try:
        v = float(s.rstrip("%")) / (100.0 if s.endswith("%") else 1.0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid sparsity {s!r}: a fraction 0..1 or N%") from None
    if not 0.0 <= v < 1.0:
        raise argparse.ArgumentTypeError(f"sparsity must be in [0, 1), got {s}")
    return v


def _list_of(conv):
    def parse(s: str):
        return [conv(x) for x in s.split(",") if x.strip()]
    parse.__name__ = conv.__name__ + " list"
    return parse


def _fmt_int(n: int) -> str:
    return f"{n:,}"


def _fmt_shape(shape) -> str:
    return "(" + ",".join(str(int(d)) for d in shape) + ")"


def _table(rows: list[list[str]], right: set[int] = frozenset()) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for r in rows:
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))]
        out.append("  ".join(cells).rstrip())
    return "\n".join(out)


def _jsonable(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (tuple, set)):
        return list(o)
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


def _dumps(obj) -> str:
    def clean(x):
        if isinstance(x, float) and not math.isfinite(x):
            return None
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [clean(v) for v in x]
        return x
    return json.dumps(clean(json.loads(json.dumps(obj, default=_jsonable))), indent=2)


# ---------------------------------------------------------------------------------------------
# model -> integers + QuantMeta (shared by compress and bench)

def _float_bits(a: np.ndarray):
    from .meta import QuantMeta
    if a.dtype == np.float64:
        a = a.astype(np.float32)
    if a.dtype == np.float16:
        return np.asarray(a, order="C").view(np.uint16), QuantMeta(bits=16, kind="float-bits")
    return np.asarray(a, dtype=np.float32, order="C").view(np.uint32), \
        QuantMeta(bits=32, kind="float-bits")


def _quantize_model(args, model, *, bits: int, sparsity: float, progress: bool = True):
    """``(arrays, metas, counts)`` ready for ``codec.pack`` from a :class:`codec.io.Model`."""
    from .frontend import quantize_model

    floats = {k: v for k, v in model.tensors.items() if v.dtype.kind == "f"}
    keep = set(args.keep or ())
    unknown = keep - set(model.names)
    if unknown:
        raise UsageError(f"--keep names unknown tensors: {', '.join(sorted(unknown))}")
    exact = {k for k in floats if k in keep or (args.keep_vectors and floats[k].ndim <= 1)}
    todo = {k: v for k, v in floats.items() if k not in exact}
    opts = dict(bits=bits, granularity=args.granularity, method=args.method, axis=args.axis,
                group_size=args.group_size if args.granularity == "group" else None,
                symmetric=not args.asymmetric)
    if args.group_size is not None and args.granularity != "group":
        raise UsageError("--group-size needs --granularity group")
    if args.granularity == "group" and args.group_size is None:
        raise UsageError("--granularity group needs --group-size N (or 'kernel')")
    q = {}
    if args.scope == "global" and sparsity > 0 and todo:
        q = quantize_model(todo, sparsity=sparsity, scope="global", **opts)
    else:
        it = _progress(args, todo.items(), len(todo), "quantize") if progress else todo.items()
        for k, v in it:
            try:
                q.update(quantize_model({k: v}, sparsity=sparsity, **opts))
            except (ValueError, TypeError) as exc:
                raise UsageError(f"tensor {k!r} {_fmt_shape(v.shape)}: {exc}") from None
    arrays, metas = {}, {}
    counts = {"quantized": 0, "exact": 0, "integer": 0, "prequantized": 0}
    for k in model.names:
        if k in model.quantized:
            arrays[k], metas[k] = model.quantized[k]
            counts["prequantized"] += 1
        elif k in q:
            arrays[k], metas[k] = q[k].values, q[k].meta
            counts["quantized"] += 1
        elif k in exact:
            arrays[k], metas[k] = _float_bits(floats[k])
            counts["exact"] += 1
        else:
            arrays[k] = model.tensors[k]
            counts["integer"] += 1
    return arrays, metas, counts


def _read_model(args, path):
    from .io import read_model
    _check_input(path)
    model = read_model(path)
    for n in model.notes:
        _note(args, f"{path}: {n}")
    return model


# ---------------------------------------------------------------------------------------------
# commands

def cmd_compress(args) -> int:
    from .io import atomic_write_bytes
    from .writer import pack
    _check_input(args.input)
    _check_output(args.input, args.output)
    model = _read_model(args, args.input)
    if not model.names:
        raise UsageError(f"{args.input}: the model has no tensors")
    arrays, metas, counts = _quantize_model(args, model, bits=args.bits, sparsity=args.sparsity)
    data = pack(arrays, meta=metas, group=args.group, version=args.format_version,
                mirror=None if args.mirror == "off" else "auto",
                predict=None if args.predict == "off" else "auto",
                floor=None if args.floor == "off" else "auto",
                alias=None if args.alias == "off" else "auto")
    atomic_write_bytes(args.output, data, protect=[args.input])
    numel = model.numel
    parts = [f"{v} {k}" for k, v in counts.items() if v]
    _say(args, f"{args.output}: {_fmt_int(len(data))} bytes, {len(arrays)} tensors "
               f"({', '.join(parts)}), {_fmt_int(numel)} params, "
               f"{8 * len(data) / max(numel, 1):.3f} bits/param "
               f"({32 * numel / max(8 * len(data), 1):.1f}x smaller than float32)")
    return EXIT_OK


def cmd_decompress(args) -> int:
    from .frontend import decompress_model
    from .info import inspect
    from .io import WRITE_FORMATS, join_quantized, write_tensors
    from .package import Package
    ext = os.path.splitext(args.output)[1].lower()
    if ext not in WRITE_FORMATS:
        raise UsageError(f"{args.output}: output must end in .npz or .safetensors")
    if ext == ".safetensors":
        from .io._util import require
        require("safetensors", "safetensors", "writing .safetensors files")
    _check_output(args.input, args.output)
    data = _require_package(args.input)
    if args.integers:
        metas = {t.name: t.meta for t in inspect(data).tensors}
        p = Package(data)
        out = {}
        for n in _progress(args, p.names, len(p), "decode"):
            v = p.read(n)
            m = metas[n]
            if m is None:
                parts = {n: v}
            elif m.kind == "float-bits":
                parts = {n: m.dequantize(v, dtype=np.float16 if m.bits == 16 else np.float32)}
            else:
                parts = join_quantized(n, v, m)
            for k, a in parts.items():
                if k in out or (k != n and k in metas):
                    raise UsageError(f"tensor name {k!r} appears twice in the --integers output")
                out[k] = a
    else:
        out = decompress_model(data)
    write_tensors(args.output, out, protect=[args.input])
    _say(args, f"{args.output}: {len(out)} tensors, "
               f"{_fmt_int(sum(int(np.asarray(a).size) for a in out.values()))} values")
    return EXIT_OK


def _info_package(args, data) -> int:
    from .info import inspect
    info = inspect(data)
    if args.json:
        d = info.to_dict()
        d = {"path": args.input, "format": "package", **d}
        print(_dumps(d))
        return EXIT_OK
    print(f"{args.input}: codec package, format v{info.version}, {len(info.tensors)} tensors, "
          f"{_fmt_int(info.numel)} params, {_fmt_int(info.total_bytes)} bytes, "
          f"{info.bits_per_param:.3f} bits/param ({len(info.tables)} Huffman tables, "
          f"header {_fmt_int(info.header_bytes)} bytes"
          + (f", {info.crc_chunks} CRC chunk{'s' if info.crc_chunks != 1 else ''} of "
             f"{_fmt_int(info.crc_chunk_bytes)} bytes" if info.version >= 2 else "") + ")")
    rows = [["tensor", "dtype", "shape", "params", "groups", "bytes", "bits/param", "quant"]]
    for t in info.tensors:
        m = t.meta
        if m is None:
            quant = "-"
        elif m.kind == "float-bits":
            quant = f"exact float{m.bits}"
        else:
            where = (f"axis {m.axis}" if m.axis is not None else
                     f"block {m.block}" if m.block is not None else "tensor")
            quant = f"{m.bits}b, {m.scale.size} scale{'s' if m.scale.size > 1 else ''} ({where})" \
                    + (", zero points" if m.zero_point is not None else "")
        groups = f"{t.n_groups} x {t.group_mode}" if t.n_groups else "0"
        if t.mirror is not None:
            groups += f", mirror rows of {t.mirror[0]}"
        if t.pred_mode >= 0:
            groups += f", predicted ({'plane' if t.pred_mode >> 2 else 'average'} "\
                      f"{(t.pred_mode & 3) + 1}/4" + (f", shift {t.pred_shift})" if t.pred_shift
                                                      else ")")
        if t.floors:
            groups += f", {len(t.floors)} row floor{'s' if len(t.floors) > 1 else ''}"
        if t.alias is not None:
            groups = f"alias of {t.alias}"
        rows.append([t.name, t.dtype, _fmt_shape(t.shape), _fmt_int(t.numel), groups,
                     _fmt_int(t.block_bytes), f"{t.bits_per_param:.3f}", quant])
    print(_table(rows, right={3, 5, 6}))
    return EXIT_OK


def cmd_info(args) -> int:
    from .io import FormatError, detect_format
    _check_input(args.input)
    try:
        fmt = detect_format(args.input)
    except FormatError:
        fmt = "package"
    if fmt == "package":
        with open(args.input, "rb") as f:
            return _info_package(args, f.read())
    model = _read_model(args, args.input)
    rows_j = []
    for k in model.names:
        if k in model.quantized:
            v, m = model.quantized[k]
            q = {"bits": m.bits, "n_scales": int(m.scale.size), "axis": m.axis}
        else:
            v, q = model.tensors[k], None
        rows_j.append({"name": k, "dtype": str(v.dtype), "shape": list(v.shape),
                       "numel": int(v.size), "bytes": int(v.nbytes), "quantized": q})
    total = sum(r["bytes"] for r in rows_j)
    if args.json:
        print(_dumps({"path": args.input, "format": fmt, "numel": model.numel,
                      "total_bytes": total, "tensors": rows_j}))
        return EXIT_OK
    print(f"{args.input}: {fmt} model, {len(rows_j)} tensors, {_fmt_int(model.numel)} params, "
          f"{_fmt_int(total)} bytes of tensor data")
    rows = [["tensor", "dtype", "shape", "params", "bytes", "quant"]]
    for r in rows_j:
        q = r["quantized"]
        rows.append([r["name"], r["dtype"], _fmt_shape(r["shape"]), _fmt_int(r["numel"]),
                     _fmt_int(r["bytes"]), f"{q['bits']}b, {q['n_scales']} scales" if q else "-"])
    print(_table(rows, right={3, 4}))
    return EXIT_OK


def cmd_verify(args) -> int:
    from .info import inspect
    from .package import Package
    data = _require_package(args.input)
    info = inspect(data)  # header + directory CRC
    p = Package(data, verify=True)
    if args.quiet or len(p) < 2 or not sys.stderr.isatty():
        p.read_all()  # checks every block CRC, then decodes everything
    else:
        for n in _progress(args, p.names, len(p), "verify"):
            p.read(n)
    _say(args, f"{args.input}: OK ({len(info.tensors)} tensors, {_fmt_int(info.numel)} params, "
               f"{_fmt_int(info.total_bytes)} bytes; every checksum matches and every tensor "
               f"decodes)")
    return EXIT_OK


# --------------------------------------------------------------------------------- bench

def _best(fn, repeat: int):
    best, res = math.inf, None
    for _ in range(repeat):
        t = time.perf_counter()
        res = fn()
        best = min(best, time.perf_counter() - t)
    return res, best


def _baselines(names):
    import lzma
    out = {}
    missing = []
    for n in names:
        if n == "zstd-19":
            try:
                import zstandard
            except ImportError:
                missing.append(n)
                continue
            out[n] = (lambda b, z=zstandard: z.ZstdCompressor(level=19).compress(b),
                      lambda c, z=zstandard: z.ZstdDecompressor().decompress(c))
        elif n == "lzma-9":
            out[n] = (lambda b: lzma.compress(b, preset=9), lzma.decompress)
        elif n == "brotli-11":
            try:
                import brotli
            except ImportError:
                missing.append(n)
                continue
            out[n] = (lambda b, br=brotli: br.compress(b, quality=11), brotli.decompress)
    return out, missing


BASELINES = ("zstd-19", "lzma-9", "brotli-11")


def cmd_bench(args) -> int:
    from .bench import order0_bits
    from .package import unpack
    from .writer import pack
    if args.plot and not args.plot.lower().endswith(".png"):
        raise UsageError(f"--plot {args.plot}: the plot file must end in .png")
    if args.plot:
        from .io._util import require
        require("matplotlib", "plot", "--plot")
        _check_output(args.input, args.plot)
    model = _read_model(args, args.input)
    if not model.names:
        raise UsageError(f"{args.input}: the model has no tensors")
    base, missing = _baselines(args.baselines)
    for n in missing:
        _note(args, f"{n} skipped: its package is missing (pip install 'codec[bench]')")
    numel = max(model.numel, 1)
    results = []
    configs = [(b, s) for s in args.sparsity for b in args.bits]
    for i, (bits, sp) in enumerate(configs):
        arrays, metas, _ = _quantize_model(args, model, bits=bits, sparsity=sp, progress=False)
        if i == 0:  # warm the kernels (JIT compile / cache load) before anything is timed
            unpack(pack(arrays, meta=metas, group=args.group))
        raw = b"".join(np.ascontiguousarray(a).tobytes() for a in arrays.values()) + \
            b"".join(m.to_bytes() for m in metas.values())
        data, t_enc = _best(lambda: pack(arrays, meta=metas, group=args.group), args.repeat)
        dec, t_dec = _best(lambda: unpack(data), args.repeat)
        for k, a in arrays.items():
            if not np.array_equal(dec[k], a):
                raise CodecError(f"round trip mismatch in tensor {k!r}")
        nz = sum(int(np.count_nonzero(a)) for k, a in arrays.items()
                 if metas.get(k) is None or metas[k].kind == "linear")
        row = {"bits": bits, "sparsity": sp, "params": model.numel,
               "nonzero_fraction": nz / numel, "raw_bytes": len(raw),
               "codecs": {"codec": {"bytes": len(data), "bits_per_param": 8 * len(data) / numel,
                                    "encode_s": t_enc, "decode_s": t_dec}}}
        for name, (enc, decf) in base.items():
            c, te = _best(lambda: enc(raw), args.repeat)
            _, td = _best(lambda: decf(c), args.repeat)
            row["codecs"][name] = {"bytes": len(c), "bits_per_param": 8 * len(c) / numel,
                                   "encode_s": te, "decode_s": td}
        ent = order0_bits(arrays)
        row["codecs"]["order-0"] = {"bytes": math.ceil(ent / 8), "bits_per_param": ent / numel}
        results.append(row)
        if not args.json and not args.quiet and sys.stderr.isatty():
            print(f"  {bits} bits, sparsity {sp:g}: done", file=sys.stderr)
    names = ["codec", *base, "order-0"]
    if args.json:
        print(_dumps({"path": args.input, "format": model.format, "params": model.numel,
                      "results": results}))
    else:
        print(f"{args.input}: {model.format}, {len(model.names)} tensors, "
              f"{_fmt_int(model.numel)} params; sizes in bits/param (raw = the integers as stored "
              f"dtypes + scales; order-0 = per-tensor entropy of the integers)")
        rows = [["bits", "sparsity", "nonzero", "raw", *names]]
        for r in results:
            rows.append([str(r["bits"]), f"{r['sparsity']:g}", f"{r['nonzero_fraction']:.3f}",
                         f"{8 * r['raw_bytes'] / numel:.3f}",
                         *[f"{r['codecs'][n]['bits_per_param']:.3f}" for n in names]])
        print(_table(rows, right=set(range(2, len(rows[0])))))
        print()
        print("speeds in Mparam/s (encode / decode, best of "
              f"{args.repeat}):")
        rows = [["bits", "sparsity", *names[:-1]]]
        for r in results:
            cells = []
            for n in names[:-1]:
                c = r["codecs"][n]
                cells.append(f"{model.numel / max(c['encode_s'], 1e-9) / 1e6:.1f} / "
                             f"{model.numel / max(c['decode_s'], 1e-9) / 1e6:.1f}")
            rows.append([str(r["bits"]), f"{r['sparsity']:g}", *cells])
        print(_table(rows, right=set(range(2, len(rows[0])))))
    if args.plot:
        _plot(args, results, names)
        _note(args, f"wrote {args.plot}")
    return EXIT_OK


def _plot(args, results, names) -> None:
    from .io import atomic_path
    import matplotlib
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    labels = [f"{r['bits']}b" + (f"\n{r['sparsity']:.0%} sparse" if r["sparsity"] else "")
              for r in results]
    x = np.arange(len(results))
    w = 0.8 / len(names)
    fig, ax = plt.subplots(figsize=(max(5.0, 1.3 * len(results) + 2), 4))
    try:
        for i, n in enumerate(names):
            ax.bar(x + (i - (len(names) - 1) / 2) * w,
                   [r["codecs"][n]["bits_per_param"] for r in results], w, label=n)
        ax.set_xticks(x, labels)
        ax.set_ylabel("bits / parameter")
        ax.set_title(os.path.basename(args.input))
        ax.legend(fontsize="small")
        ax.grid(axis="y", alpha=0.3)
        fig.tight_layout()
        with atomic_path(args.plot, protect=[args.input]) as tmp:
            with open(tmp, "wb") as f:
                fig.savefig(f, format="png", dpi=120)
    finally:
        plt.close(fig)


# --------------------------------------------------------------------------------- export-c

def _c_ident(s: str) -> str:
    import re
    s = re.sub(r"[^0-9A-Za-z_]", "_", s)
    return s if s and not s[0].isdigit() else "_" + s


_C_KEYWORDS = set("""auto break case char const continue default do double else enum extern float
for goto if inline int long register restrict return short signed sizeof static struct switch
typedef union unsigned void volatile while _Bool _Complex _Imaginary _Alignas _Alignof _Atomic
_Generic _Noreturn _Static_assert _Thread_local""".split())


def render_c_header(data: bytes, *, symbol: str, section: str | None, align: int,
                    source: str = "", guard: str | None = None) -> str:
    """A C header holding ``data`` as ``const uint8_t symbol[]`` (see ``codec export-c``)."""
    from .info import inspect
    info = inspect(data)
    M = symbol.upper()
    guard = guard or f"{M}_H_"
    attrs = [f"aligned({align})"]
    if section:
        attrs.append(f'section("{section}")')
    attr = f"__attribute__(({', '.join(attrs)}))"
    hexes = [f"0x{b:02x}" for b in range(256)]
    lines = []
    for i in range(0, len(data), 16):
        lines.append("    " + ", ".join(hexes[b] for b in data[i:i + 16]) + ",")
    body = "\n".join(lines) if lines else "    0x00,"
    src = os.path.basename(source) if source else "a codec package"
    return f"""/* {symbol}: {src} as a C array ({len(info.tensors)} tensors, {info.numel} parameters,
 * {len(data)} bytes).  Generated by `codec export-c`; do not edit.
 *
 * Include this header in ONE .c file to define the array; elsewhere, define
 * {M}_DECLARE_ONLY before including it to get only the declaration.
 */
#ifndef {guard}
#define {guard}

#include <stdint.h>

#define {M}_SIZE {len(data)}u
#define {M}_FORMAT_VERSION {info.version}
#define {M}_ALIGN {align}

#ifdef __cplusplus
extern "C" {{
#endif

extern const uint8_t {symbol}[{M}_SIZE];

#ifndef {M}_DECLARE_ONLY
#if defined(__GNUC__) || defined(__clang__)
#define {M}_ATTR {attr}
#else
#define {M}_ATTR
#endif
{M}_ATTR const uint8_t {symbol}[{M}_SIZE] = {{
{body}
}};
#endif /* {M}_DECLARE_ONLY */

#ifdef __cplusplus
}}
#endif

#endif /* {guard} */
"""


def cmd_export_c(args) -> int:
    from .io import atomic_write_bytes
    if not args.output.endswith((".h", ".hpp", ".hh", ".c", ".inc")):
        raise UsageError(f"{args.output}: the output should be a C header (.h)")
    _check_output(args.input, args.output)
    symbol = args.symbol or _c_ident(os.path.splitext(os.path.basename(args.output))[0])
    import re
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", symbol) or symbol in _C_KEYWORDS:
        raise UsageError(f"--symbol {symbol!r} is not a valid C identifier")
    if args.align < 1 or args.align & (args.align - 1) or args.align > 4096:
        raise UsageError(f"--align {args.align}: must be a power of two, 1..4096")
    if args.section is not None and not re.fullmatch(r"[A-Za-z0-9_.$]+", args.section):
        raise UsageError(f"--section {args.section!r}: use letters, digits, '_', '.' and '$'")
    data = _require_package(args.input)
    text = render_c_header(data, symbol=symbol, section=args.section, align=args.align,
                           source=args.input)
    atomic_write_bytes(args.output, text.encode("ascii"), protect=[args.input])
    _say(args, f"{args.output}: {symbol}[{_fmt_int(len(data))}] "
               f"(format v{data[4]}, aligned {args.align})")
    return EXIT_OK


def cmd_warmup(args) -> int:
    from .warmup import warmup
    total = 0.0
    for name, sec in warmup(args.dtypes, encode=not args.decode_only):
        total += sec
        _say(args, f"{name:7s} {sec:6.2f} s")
    _say(args, f"kernels ready in {total:.1f} s (Numba cache: later processes load them)")
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# parser

DESCRIPTION = """\
Sparse-parameter entropy codec for quantized, pruned neural-network weights.

Models in: .npz, .safetensors, .onnx (initializers), .pt/.pth (PyTorch state_dict) and codec
packages.  Exit status: 0 success, 1 user error, 2 corrupt input.
"""

EXAMPLES = {
    "compress": """examples:
  codec compress model.safetensors -o model.spkg                  # 8-bit, per-channel scales
  codec compress model.npz -o model.spkg --bits 4 --sparsity 0.5  # prune half, 4-bit
  codec compress model.pt -o model.spkg --granularity group --group-size kernel --method alpha
  codec compress tflite_int8.npz -o model.spkg   # int8 + K_scale/K_zero_point kept as they are
""",
    "decompress": """examples:
  codec decompress model.spkg -o model.npz              # float32 tensors
  codec decompress model.spkg -o model.safetensors
  codec decompress model.spkg -o ints.npz --integers    # integers + K_scale, K_zero_point, ...
""",
    "info": """examples:
  codec info model.spkg
  codec info model.spkg --json | python -m json.tool
  codec info model.onnx                                 # tensors of any supported model file
""",
    "verify": """examples:
  codec verify model.spkg && echo intact     # exit 0 intact, 2 corrupt, 1 not a package
""",
    "bench": """examples:
  codec bench model.npz                                  # 8-bit, no pruning
  codec bench model.npz --bits 8,6,4 --sparsity 0,0.5 --plot bench.png
  codec bench model.npz --baselines zstd-19,lzma-9 --json
""",
    "export-c": """examples:
  codec export-c model.spkg -o model_blob.h
  codec export-c model.spkg -o weights.h --symbol g_weights --section .rodata.weights --align 32
""",
    "warmup": """examples:
  codec warmup                      # e.g. in a Dockerfile, after pip install
  codec warmup --dtypes int8 --decode-only
""",
}


def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    fmt = argparse.RawDescriptionHelpFormatter
    p = _Parser(prog=PROG, description=DESCRIPTION, formatter_class=fmt,
                epilog="run 'codec COMMAND --help' for a command's options and examples")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    common = _Parser(add_help=False)
    common.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                        help="print nothing but errors (and the requested output)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    def add(name, help_, func):
        sp = sub.add_parser(name, help=help_, description=help_, epilog=EXAMPLES[name],
                            formatter_class=fmt, parents=[common])
        sp.set_defaults(func=func)
        return sp

    def quant_opts(sp, *, many: bool):
        if many:
            sp.add_argument("--bits", type=_list_of(_bits), default=[8], metavar="N[,N...]",
                            help="quantization bits, comma-separated (default 8)")
            sp.add_argument("--sparsity", type=_list_of(_sparsity), default=[0.0],
                            metavar="S[,S...]", help="fractions pruned, e.g. 0,0.5 (default 0)")
        else:
            sp.add_argument("--bits", type=_bits, default=8, metavar="N",
                            help="quantization bits for float tensors, 1..32 (default 8)")
            sp.add_argument("--sparsity", type=_sparsity, default=0.0, metavar="S",
                            help="fraction of each float tensor pruned by magnitude, e.g. 0.5 or "
                                 "50%% (default 0)")
        sp.add_argument("--granularity", choices=("tensor", "channel", "group"), default="channel",
                        help="one scale per tensor, per channel (along --axis) or per group of "
                             "--group-size elements (default channel)")
        sp.add_argument("--method", choices=("maxabs", "alpha", "fixed"), default="maxabs",
                        help="scale choice: max-abs, alpha (least-squares refinement) or fixed "
                             "point (default maxabs)")
        sp.add_argument("--group-size", type=_parse_group_size, metavar="N|kernel",
                        help="elements per scale with --granularity group")
        sp.add_argument("--axis", type=int, default=0,
                        help="channel axis for --granularity channel (default 0: OIHW; "
                             "-1 for Keras HWIO)")
        sp.add_argument("--asymmetric", action="store_true",
                        help="min/max range with zero points (maxabs only)")
        sp.add_argument("--scope", choices=("tensor", "global"), default="tensor",
                        help="prune each tensor to --sparsity, or the model as a whole")
        sp.add_argument("--keep-vectors", action="store_true",
                        help="keep 1-D float tensors (biases, norms) exact instead of quantizing")
        sp.add_argument("--keep", action="append", metavar="NAME",
                        help="keep this float tensor exact (repeatable)")
        sp.add_argument("--group", type=_parse_group, default="auto",
                        metavar="auto|kernel|tensor|N|kernels:K|count:N",
                        help="entropy-coding groups (random-access units) (default auto)")

    sp = add("compress", "compress a model file into a codec package", cmd_compress)
    sp.add_argument("input", metavar="IN", help="model file (.npz .safetensors .onnx .pt .pth)")
    sp.add_argument("-o", "--output", required=True, metavar="OUT", help="package file to write")
    sp.add_argument("--format-version", type=int, choices=(1, 2, 3, 4, 5, 6, 7), default=None,
                    help="package format to write (default: 4, 5 when a tensor gets the "
                         "prediction transform, 6 when over other dims than its last two, 7 "
                         "with row floors or aliases); 1-6 for readers that only know those "
                         "(1 and 2 never use the mirror transform, 1-4 never the prediction, 5 "
                         "only over the last two dims, 1-6 no floors or aliases)")
    sp.add_argument("--mirror", choices=("auto", "off"), default="auto",
                    help="the mirror transform (v3-v5) for symmetric rows (STFT/DCT bases, "
                         "linear-phase filters): auto (default) or off")
    sp.add_argument("--predict", choices=("auto", "off"), default="auto",
                    help="the prediction transform (v5; v6 over other dims than the last "
                         "two, e.g. TFLite's (out, kh, kw, in)) over a kernel's taps: auto "
                         "(default) or off")
    sp.add_argument("--floor", choices=("auto", "off"), default="auto",
                    help="row floors (v7) for magnitude-pruned tensors, whose rows have a "
                         "dead zone of small magnitudes: auto (default) or off")
    sp.add_argument("--alias", choices=("auto", "off"), default="auto",
                    help="store a tensor equal to an earlier one once (v7 aliases): auto "
                         "(default) or off")
    quant_opts(sp, many=False)

    sp = add("decompress", "decode a package to .npz or .safetensors", cmd_decompress)
    sp.add_argument("input", metavar="IN", help="codec package")
    sp.add_argument("-o", "--output", required=True, metavar="OUT",
                    help="output file; .npz or .safetensors by extension")
    sp.add_argument("--integers", action="store_true",
                    help="write the stored integers with TFLite-style companions "
                         "(K_scale, K_zero_point, K_quantized_dimension, K_group_size, K_bits) "
                         "instead of floats")

    sp = add("info", "show a package's tensors, groups, sizes and bits/param (no decoding)",
             cmd_info)
    sp.add_argument("input", metavar="IN", help="codec package (or any supported model file)")
    sp.add_argument("--json", action="store_true", help="machine-readable JSON on stdout")

    sp = add("verify", "check every checksum and decode every tensor", cmd_verify)
    sp.add_argument("input", metavar="IN", help="codec package")

    sp = add("bench", "compare package sizes against zstd-19, lzma-9, brotli-11 and entropy",
             cmd_bench)
    sp.add_argument("input", metavar="IN", help="model file or package")
    quant_opts(sp, many=True)
    sp.add_argument("--baselines", type=_list_of(str), default=list(BASELINES),
                    metavar="NAME[,NAME...]", help="general-purpose compressors to compare "
                    f"(default {','.join(BASELINES)})")
    sp.add_argument("--repeat", type=int, default=1, metavar="N",
                    help="timing runs per measurement, best kept (default 1)")
    sp.add_argument("--json", action="store_true", help="machine-readable JSON on stdout")
    sp.add_argument("--plot", metavar="FILE.png",
                    help="bar chart of bits/param per config and codec (needs codec[plot])")

    sp = add("export-c", "write a package as a C header for firmware", cmd_export_c)
    sp.add_argument("input", metavar="IN", help="codec package")
    sp.add_argument("-o", "--output", required=True, metavar="OUT.h", help="header to write")
    sp.add_argument("--symbol", metavar="NAME",
                    help="array name (default: the output file's stem, e.g. model_blob)")
    sp.add_argument("--section", metavar="NAME",
                    help="linker section for the array, e.g. .rodata.model (GCC/Clang)")
    sp.add_argument("--align", type=int, default=16, metavar="N",
                    help="array alignment in bytes, a power of two (default 16)")

    sp = add("warmup", "compile the kernels into Numba's cache now, not on first use", cmd_warmup)
    sp.add_argument("--dtypes", type=_list_of(_dtype_name), default=list(DTYPE_NAMES),
                    metavar="T[,T...]", help=f"stored dtypes (default all: {','.join(DTYPE_NAMES)})")
    sp.add_argument("--decode-only", action="store_true",
                    help="the decoder's kernels and the fastest encoder search only")
    return p


def _dtype_name(text: str) -> str:
    if text not in DTYPE_NAMES:
        raise argparse.ArgumentTypeError(f"{text!r}: choose from {', '.join(DTYPE_NAMES)}")
    return text


def _one_line(msg) -> str:
    return " ".join(str(msg).split()) or "unknown error"


def main(argv=None) -> int:
    parser = build_parser()
    try:
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # --help / --version
            return int(exc.code or 0) if not isinstance(exc.code, str) else EXIT_USER
        if getattr(args, "command", None) == "bench":
            bad = [b for b in args.baselines if b not in BASELINES]
            if bad:
                raise UsageError(f"unknown baseline {bad[0]!r}; choose from {', '.join(BASELINES)}")
            if args.repeat < 1:
                raise UsageError("--repeat must be >= 1")
        return args.func(args)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPT
    except BrokenPipeError:
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return EXIT_OK
    except Exception as exc:
        if os.environ.get("CODEC_DEBUG"):
            raise
        code, msg = _classify(exc, getattr(locals().get("args"), "input", None))
        print(f"{PROG}: error: {_one_line(msg)}", file=sys.stderr)
        return code


def _classify(exc, inp) -> tuple[int, str]:
    from .io import FormatError, MissingExtraError
    if isinstance(exc, CodecError):
        where = f"{inp}: " if inp else ""
        return EXIT_CORRUPT, f"{where}corrupt or unsupported package: {exc}"
    if isinstance(exc, (UsageError, FormatError, MissingExtraError)):
        return EXIT_USER, str(exc)
    if isinstance(exc, FileNotFoundError):
        return EXIT_USER, str(exc) if not exc.filename else f"{exc.filename}: no such file"
    if isinstance(exc, PermissionError):
        return EXIT_USER, f"{exc.filename or ''}: permission denied".lstrip(": ")
    if isinstance(exc, OSError):
        return EXIT_USER, f"{exc.filename + ': ' if exc.filename else ''}{exc.strerror or exc}"
    if isinstance(exc, (ValueError, TypeError, MemoryError)):
        return EXIT_USER, f"{type(exc).__name__}: {exc}" if isinstance(exc, MemoryError) else str(exc)
    return EXIT_USER, f"internal error: {type(exc).__name__}: {exc} (CODEC_DEBUG=1 for details)"


if __name__ == "__main__":
    sys.exit(main())
