"""Coverage-guided fuzz target (atheris / libFuzzer) for unpack, read_tensor, decode and inspect.

Run through ``tests/fuzz/run.sh SECONDS``.  An input is one of

* ``b"\\x00" + bytes``: raw bytes, checked as they are and with their checksums repaired
  (``check_consistent``: a CodecError or results consistent with the header, single-tensor
  reads and, now and then, the pure-Python reference reader);
* ``b"\\x01" + k + edits``: an edit script applied to base package ``k`` (the golden vectors in
  tests/vectors/v1 and the harness samples), checked against the known original with
  ``check_exact`` (exact data or a CodecError) and, repaired, with ``check_consistent``.

Any other outcome raises :class:`OracleFailure`, which libFuzzer reports as a crash and saves.
With ``NUMBA_DISABLE_JIT=1`` the kernels run as Python, so atheris also sees their branches.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
for p in (str(ROOT), str(HERE.parent)):
    if p not in sys.path:
        sys.path.insert(0, p)

try:
    import atheris
except ImportError:  # the smoke test in tests/test_hostile.py runs the target without atheris
    atheris = None

if atheris is not None and os.environ.get("CODEC_FUZZ_INSTRUMENT", "1") == "1":
    nojit = os.environ.get("NUMBA_DISABLE_JIT") == "1"
    # Numba cannot compile instrumented bytecode: leave the kernels alone unless JIT is off.
    # Every module of codec/kernels, found on disk (a new kernel module must not be missed).
    kernels = sorted(f"codec.kernels.{p.stem}" for p in
                     (Path(__file__).resolve().parents[2] / "codec" / "kernels").glob("*.py")
                     if p.stem != "__init__")
    with atheris.instrument_imports(include=["codec"],
                                    exclude=[] if nojit else ["codec.kernels"] + kernels):
        import codec  # noqa: F401
        import codec.format  # noqa: F401
        import codec.package  # noqa: F401
        import codec.reference  # noqa: F401
        import numpy as np
        from fuzz import harness
else:
    import codec  # noqa: F401
    import numpy as np
    from fuzz import harness



VECTORS = [ROOT / "tests" / "vectors" / "v1", ROOT / "tests" / "vectors" / "v2",
           ROOT / "tests" / "vectors" / "v3", ROOT / "tests" / "vectors" / "v4",
           ROOT / "tests" / "vectors" / "v5"]
REFERENCE_EVERY = int(os.environ.get("CODEC_FUZZ_REFERENCE_EVERY", "8"))


def load_bases() -> list[tuple[str, bytes, dict]]:
    """(label, package bytes, original arrays): golden vectors, then the harness samples."""
    bases = []
    for b in sorted(p for v in VECTORS for p in v.glob("*.bin")):
        try:
            order = json.loads(b.with_suffix(".json").read_text())["order"]
            z = np.load(b.with_suffix(".npz"))
            arrays = {k: z[k] for k in order}
        except (OSError, KeyError, ValueError):
            continue
        data = b.read_bytes()
        if len(data) <= 8192:
            harness.register(data, arrays)
            bases.append((b.stem, data, arrays))
    for s in (harness.sample_packages(7) + harness.sample_packages(6) + harness.sample_packages(5)
              + harness.sample_packages(4) + harness.sample_packages(2)
              + harness.sample_packages(1) + harness.sample_packages(3)[-1:]):
        bases.append((s.name, s.data, s.arrays))
    return bases


BASES = load_bases()
# inputs: calls; exact_ok / errors: edit-script mutants that gave back the original / raised a
# CodecError everywhere; decoded: inputs whose checksum-repaired form decoded without error
STATS = {"inputs": 0, "exact_ok": 0, "errors": 0, "decoded": 0}


def apply_edits(data: bytes, script: bytes) -> bytes:
    """Interpret ``script`` as edits: [op, pos hi, pos lo, arg] records (pos modulo length)."""
    buf = bytearray(data)
    for i in range(0, len(script) - 3, 4):
        op, p1, p2, arg = script[i:i + 4]
        n = len(buf)
        if n == 0:
            break
        p = ((p1 << 8) | p2) % n
        op %= 8
        if op == 0:
            buf[p] ^= 1 << (arg & 7)
        elif op == 1:
            buf[p] = arg
        elif op == 2:
            buf[p:p] = bytes([arg])
        elif op == 3:
            del buf[p:p + 1 + arg % 16]
        elif op == 4:
            del buf[p:]
        elif op == 5:
            k = 1 + arg % 32
            buf[p + k:p + k] = buf[p:p + k]
        elif op == 6:
            donor = BASES[arg % len(BASES)][1]
            buf[p:] = donor[p:]
        else:
            w = 1 << (arg & 3)
            v = (0, 1, 0x7F, 0x80, 0xFF, 0xFFFFFFFF, (1 << 63) - 1, n)[(arg >> 2) & 7]
            buf[p:p + w] = (v % (1 << (8 * w))).to_bytes(w, "little")
    return bytes(buf)


STATS_FILE = os.environ.get("CODEC_FUZZ_STATS_FILE")


def _dump_stats() -> None:
    if STATS_FILE:
        Path(STATS_FILE).write_text(json.dumps(STATS))


def TestOneInput(data: bytes) -> None:  # noqa: N802 - atheris' name
    STATS["inputs"] += 1
    if STATS["inputs"] % 500 == 0:  # libFuzzer ends with _exit(): no atexit hook runs
        _dump_stats()
    if not data:
        return
    if data[0] & 1 and len(data) >= 2:
        label, base, arrays = BASES[data[1] % len(BASES)]
        mutant = apply_edits(base, data[2:])
        outcome = harness.check_exact(mutant, arrays)
        STATS["exact_ok" if outcome == "ok" else "errors"] += 1
    else:
        mutant = data[1:]
        harness.check_consistent(mutant)
    repaired = harness.fix_all_crcs(mutant)
    if harness.check_consistent(repaired) == "ok":
        STATS["decoded"] += 1
    if REFERENCE_EVERY and STATS["inputs"] % REFERENCE_EVERY == 0:
        harness.check_reference(repaired)


def seeds() -> list[bytes]:
    """Seed inputs: every base raw, and every base as an empty edit script."""
    out = []
    for i, (_, data, _) in enumerate(BASES):
        out.append(b"\x00" + data)
        out.append(bytes([1, i]))
    return out


def write_seeds(d: Path) -> None:
    d.mkdir(parents=True, exist_ok=True)
    for i, s in enumerate(seeds()):
        (d / f"seed-{i:03d}").write_bytes(s)


def main() -> None:
    if "--write-seeds" in sys.argv:
        write_seeds(Path(sys.argv[sys.argv.index("--write-seeds") + 1]))
        return
    for _, data, _ in BASES:  # compile the kernels now, not inside the first (timed) input
        codec.unpack(data)
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
