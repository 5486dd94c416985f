"""The sync benchmarks with two locks side by side: two virtualenvs, one per lock, same code.

Runs are interleaved in rounds whose order alternates (before, after; after, before; ...), so a
change in the machine's load during the comparison falls on both sides alike. Every run is
printed and kept; the summary is the median and the range of each figure, with the load average
seen around the runs. `scripts/upgrade-deps` calls this after re-locking; `--record` puts the
comparison at the top of docs/benchmarks.md's "Dependency upgrades".

    .venv/bin/python bench/compare_locks.py --before ENV/bin/python --after .venv/bin/python \\
        --before-lock OLD/uv.lock --after-lock uv.lock [--rounds 3] [--record docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

REPO = Path(__file__).resolve().parents[1]
# bench script -> the figures compared, in table order
FIGURES = {
    "sync_latency": ["visible_p50_ms", "visible_p99_ms"],
    "initial_sync": ["initial_sync_s"],
}
MARKER = "<!-- upgrade-deps: newest comparison first, below this line -->"


@dataclass
class Run:
    side: str  # "before" or "after"
    round: int
    bench: str
    load: float  # the 1-minute load average when the run started
    figures: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(self.__dict__)


def lock_versions(lock: Path) -> dict[str, str]:
    """Package name -> version, for every package in a uv.lock."""
    data = tomllib.loads(lock.read_text(encoding="utf-8"))
    return {p["name"]: p["version"] for p in data["package"] if "version" in p}


def lock_id(lock: Path) -> str:
    """How a lock is named in docs/benchmarks.md: the start of its file's sha256."""
    return "uv.lock sha256:" + hashlib.sha256(lock.read_bytes()).hexdigest()[:12]


def lock_changes(before: Path, after: Path) -> list[str]:
    old, new = lock_versions(before), lock_versions(after)
    changes = []
    for name in sorted(old.keys() | new.keys()):
        if old.get(name) != new.get(name):
            changes.append(f"{name} {old.get(name, '(none)')} -> {new.get(name, '(none)')}")
    return changes


def run_once(python: str, bench: str) -> dict[str, float]:
    done = subprocess.run(
        [python, str(REPO / "bench" / f"{bench}.py")],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = done.stderr[-2000:]
        raise SystemExit(f"{bench} with {python} failed ({done.returncode}):\n{tail}")
    result = json.loads(lines[-1])
    return {name: float(result[name]) for name in FIGURES[bench]}


def measure(
    pythons: dict[str, str], benches: list[str], rounds: int, log: Path | None
) -> list[Run]:
    runs = []
    for number in range(1, rounds + 1):
        order = ["before", "after"] if number % 2 else ["after", "before"]
        for bench in benches:
            for side in order:
                run = Run(side, number, bench, round(os.getloadavg()[0], 2))
                run.figures = run_once(pythons[side], bench)
                runs.append(run)
                print(run.to_json(), flush=True)
                if log is not None:
                    with log.open("a", encoding="utf-8") as out:
                        out.write(run.to_json() + "\n")
    return runs


def _cell(values: list[float]) -> str:
    median = statistics.median(values)
    return f"{median:.2f} ({min(values):.2f}-{max(values):.2f})"


def summary(runs: list[Run], before_lock: Path, after_lock: Path, title: str) -> str:
    """The comparison as markdown: locks, what changed, load, table, and every run."""
    rounds = max(run.round for run in runs)
    loads = [run.load for run in runs]
    lines = [
        f"### {title}",
        "",
        f"- before: {lock_id(before_lock)}; after: {lock_id(after_lock)}",
        "- changed: " + (", ".join(lock_changes(before_lock, after_lock)) or "nothing"),
        f"- {rounds} interleaved round{'s' if rounds > 1 else ''} (order alternating), Python "
        f"{sys.version.split()[0]}, {os.cpu_count()} cores; 1-minute load average at the start"
        f" of a run {min(loads):.2f}-{max(loads):.2f} (the benchmarks' own processes included)",
        "",
        "| figure | before: median (range) | after: median (range) | after / before, each round:"
        " median (range) |",
        "|---|---|---|---|",
    ]
    details = []
    for bench, names in FIGURES.items():
        if not any(run.bench == bench for run in runs):
            continue
        for name in names:
            values = {
                side: [r.figures[name] for r in runs if r.bench == bench and r.side == side]
                for side in ("before", "after")
            }
            # Within a round both sides ran a few seconds apart, under much the same load.
            by_round = {(r.round, r.side): r.figures[name] for r in runs if r.bench == bench}
            ratios = [
                by_round[n, "after"] / by_round[n, "before"]
                for n in range(1, rounds + 1)
                if (n, "after") in by_round and (n, "before") in by_round
            ]
            lines.append(
                f"| `{bench}` `{name}` | {_cell(values['before'])} | {_cell(values['after'])} "
                f"| {_cell(ratios)} |"
            )
            for side in ("before", "after"):
                shown = ", ".join(f"{v:g}" for v in values[side])
                details.append(f"{name} {side}: {shown}")
    lines += ["", "Each run, in order of rounds: " + "; ".join(details) + "."]
    return "\n".join(lines) + "\n"


def record(doc: Path, text: str) -> None:
    content = doc.read_text(encoding="utf-8")
    if MARKER not in content:
        raise SystemExit(f"{doc} has no line {MARKER!r}")
    doc.write_text(content.replace(MARKER, f"{MARKER}\n\n{text.rstrip()}", 1), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="python of the venv of the old lock")
    parser.add_argument("--after", required=True, help="python of the venv of the new lock")
    parser.add_argument("--before-lock", type=Path, required=True)
    parser.add_argument("--after-lock", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--bench", action="append", choices=list(FIGURES), help="default: all")
    parser.add_argument("--title", default=f"{datetime.date.today()}: scripts/upgrade-deps")
    parser.add_argument("--log", type=Path, help="also append each run here, as JSON lines")
    parser.add_argument("--results", type=Path, help="summarise these runs (JSON lines) instead")
    parser.add_argument("--record", type=Path, help="insert the summary into this markdown file")
    args = parser.parse_args()
    if args.results:
        rows = args.results.read_text(encoding="utf-8").splitlines()
        runs = [Run(**json.loads(row)) for row in rows if row.strip()]
    else:
        pythons = {"before": args.before, "after": args.after}
        runs = measure(pythons, args.bench or list(FIGURES), args.rounds, args.log)
    text = summary(runs, args.before_lock, args.after_lock, args.title)
    print(text)
    if args.record:
        record(args.record, text)


if __name__ == "__main__":
    main()
