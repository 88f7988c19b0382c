"""Shared plumbing of the two-checkout comparisons (compare_encode.py, compare_decode.py):
one worker process per checkout, each importing that checkout's ``codec``."""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from benchmarks.recipe import MODELS


def parser(rounds: int) -> argparse.ArgumentParser:
    """The arguments both comparisons take: BASE_DIR NEW_DIR, --rounds, --models, --weights,
    --json."""
    ap = argparse.ArgumentParser()
    ap.add_argument("base")
    ap.add_argument("new")
    ap.add_argument("--rounds", type=int, default=rounds)
    ap.add_argument("--models", nargs="*", default=MODELS)
    ap.add_argument("--weights",
                    default=str(Path(__file__).resolve().parents[2] / "shared" / "weights"))
    ap.add_argument("--json")
    return ap


def start_workers(worker: str, base: str, new: str, *args: str) -> dict:
    """{"base": process, "new": process}: ``python -c worker *args`` with PYTHONPATH = that
    checkout, text lines on stdin and stdout."""
    procs = {}
    for side, d in (("base", base), ("new", new)):
        env = dict(os.environ, PYTHONPATH=os.path.abspath(d))
        procs[side] = subprocess.Popen([sys.executable, "-c", worker, *args],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                       env=env, cwd="/")
    return procs


def ask(p, line: str) -> dict:
    """Send one request line to worker ``p``; its one-line JSON answer."""
    p.stdin.write(line + "\n")
    p.stdin.flush()
    return json.loads(p.stdout.readline())


def finish(procs: dict, rows: list, json_path: str | None) -> None:
    """Stop the workers; write ``rows`` to ``json_path`` if given."""
    for p in procs.values():
        p.stdin.close()
        p.wait()
    if json_path:
        Path(json_path).write_text(json.dumps(rows, indent=1))
