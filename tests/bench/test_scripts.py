"""Every bench script still runs, on a small size, and prints its one JSON line of figures.

The figures themselves are never asserted (timings belong in docs/benchmarks.md); what is
tested is that a script someone will run to reproduce a table has not rotted behind the code
it drives. Left out: hotkey_latency.py (its own Xvfb and the whole app, ~1 min),
answer_render.py and store.py (fixed sizes of ~15 s), compare_locks.py (two venvs).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SMALL_RUNS = [
    ("initial_sync", ["--conversations", "20", "--messages-per", "2"]),
    ("initial_sync", ["--conversations", "20", "--messages-per", "2", "--postgres", "--encrypted"]),
    ("sync_latency", ["--changes", "5"]),
    ("sync_latency", ["--changes", "5", "--postgres", "--encrypted"]),
    ("server_load", ["--devices", "20", "--seconds", "1"]),
    ("parse_pages", ["--conversations", "20", "--messages-per", "2", "--rounds", "1"]),
    ("cluster_latency", ["--only", "latency", "--instances", "2", "--changes", "5"]),
    ("cluster_ops", ["--only", "ops", "--seconds", "1", "--pushers", "4"]),
    ("cluster_failover", ["--only", "failover", "--devices", "30"]),
    ("cluster_reconnect", ["--only", "reconnect", "--devices", "20"]),
    ("ocr", ["--runs", "1", "--no-redact"]),
    ("e2ee", []),
    ("image_prep", []),
    ("ai_cache", []),
]


def script_for(bench: str) -> Path:
    """The cluster benches are parts of one script, chosen with ``--only``."""
    return ROOT / "bench" / ("cluster.py" if bench.startswith("cluster_") else f"{bench}.py")


def numbers(figures: dict[str, object]) -> list[float]:
    return [v for v in figures.values() if isinstance(v, int | float) and not isinstance(v, bool)]


@pytest.mark.parametrize(
    ("bench", "args"), SMALL_RUNS, ids=[" ".join([b, *a]) for b, a in SMALL_RUNS]
)
def test_the_bench_script_prints_its_figures(bench: str, args: list[str]) -> None:
    run = subprocess.run(
        [sys.executable, str(script_for(bench)), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    figures = json.loads(run.stdout.strip().splitlines()[-1])
    assert figures["bench"] == bench
    values = numbers(figures)
    assert values, figures
    assert all(math.isfinite(v) and v >= 0 for v in values), figures
