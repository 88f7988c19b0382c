#!/usr/bin/env bash
# Bounded coverage-guided fuzzing of the Python decoder (atheris/libFuzzer).
#   tests/fuzz/run.sh SECONDS      (default 60)
# Half the time with the Numba kernels compiled (fast, Python-level coverage), half with
# NUMBA_DISABLE_JIT=1 (the kernels run as instrumented Python, so coverage reaches them).
# Corpus: tests/fuzz/corpus (created, seeded from tests/vectors/v1/*.bin and the harness samples);
# crashes are saved under tests/fuzz/crashes/.  Summary: benchmarks/results/fuzz.json.
# Exit status: 0 if no input crashed, 1 otherwise.
set -uo pipefail
cd "$(dirname "$0")/../.."
SECONDS_TOTAL="${1:-60}"
PY="${PYTHON:-python3}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if ! "$PY" -c "import atheris" 2>/dev/null; then
    "$PY" -m pip install -q --disable-pip-version-check atheris || { echo "atheris unavailable"; exit 1; }
fi
CORPUS=tests/fuzz/corpus
SEEDS=tests/fuzz/seeds.tmp
CRASH=tests/fuzz/crashes
mkdir -p "$CORPUS" "$CRASH"
rm -rf "$SEEDS"
"$PY" tests/fuzz/fuzz_codec.py --write-seeds "$SEEDS"
half=$(( SECONDS_TOTAL / 2 )); [ "$half" -lt 1 ] && half=1
status=0
logs=()
for mode in jit nojit; do
    log="tests/fuzz/last-$mode.log"
    logs+=("$log")
    if [ "$mode" = nojit ]; then export NUMBA_DISABLE_JIT=1; else unset NUMBA_DISABLE_JIT; fi
    rm -f "tests/fuzz/last-$mode.stats.json"
    CODEC_FUZZ_STATS_FILE="tests/fuzz/last-$mode.stats.json" \
    "$PY" tests/fuzz/fuzz_codec.py "$CORPUS" "$SEEDS" -max_total_time="$half" -timeout=60 \
        -rss_limit_mb=3072 -max_len=16384 -artifact_prefix="$CRASH/$mode-" \
        -print_final_stats=1 >"$log" 2>&1
    rc=$?
    grep -E "^#[0-9]+ +(INITED|DONE)|Done [0-9]+ runs|ERROR|OracleFailure" "$log" | tail -6
    if [ $rc -ne 0 ]; then status=1; echo "fuzz[$mode]: FAILED (rc=$rc), see $log and $CRASH/"; fi
done
unset NUMBA_DISABLE_JIT
rm -rf "$SEEDS"
"$PY" - "$SECONDS_TOTAL" "$status" "${logs[@]}" <<'PYEOF'
import json, re, sys, pathlib
secs, status, logs = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
out = {"seconds": secs, "crashes": 0 if status == 0 else 1, "modes": {}}
for log in logs:
    text = pathlib.Path(log).read_text(errors="replace")
    mode = log.rsplit("-", 1)[1].split(".")[0]
    runs = [int(x) for x in re.findall(r"Done (\d+) runs", text)] or \
           [int(x) for x in re.findall(r"stat::number_of_executed_units: (\d+)", text)]
    cov = [int(x) for x in re.findall(r"cov: (\d+)", text)]
    ft = [int(x) for x in re.findall(r"ft: (\d+)", text)]
    corp = [int(x) for x in re.findall(r"corp: (\d+)", text)]
    sf = pathlib.Path(log.replace(".log", ".stats.json"))
    stats = [sf.read_text()] if sf.exists() else []
    out["modes"][mode] = {"inputs": runs[-1] if runs else None, "coverage_edges": max(cov, default=None),
                          "features": max(ft, default=None), "corpus": corp[-1] if corp else None,
                          "oracle": json.loads(stats[-1]) if stats else None,
                          "crashed": "OracleFailure" in text or "==ERROR" in text}
out["inputs"] = sum((m["inputs"] or 0) for m in out["modes"].values())
pathlib.Path("benchmarks/results").mkdir(parents=True, exist_ok=True)
pathlib.Path("benchmarks/results/fuzz.json").write_text(json.dumps(out, indent=1) + "\n")
print("fuzz summary:", json.dumps(out))
PYEOF
exit $status
