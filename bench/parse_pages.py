"""A device reading the pull pages of an initial sync: CPU time of ``parse_server_frame``.

The pages are the ones `bench/initial_sync.py` pulls (10,000 conversations + 50,000 messages
in pages of 1,000), built in memory as the server writes them (``changes.changes_frame``), so
neither a server nor a store is involved. CPU time, not wall time: it stays comparable while
other work loads the machine.

    .venv/bin/python bench/parse_pages.py [--conversations 10000] [--messages-per 5] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `bench` and the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import emit
from bench.initial_sync import WRITER, _ops
from snapask_desktop.server.changes import ChangeRow, changes_frame
from snapask_desktop.sync.limits import MAX_PAGE_CHANGES
from snapask_desktop.sync.protocol import Changes, parse_server_frame
from snapask_desktop.sync.wire import encode_json


def _pages(conversations: int, per: int) -> list[str]:
    rows = []
    for seq, op in enumerate(_ops(conversations, per), start=1):
        text = encode_json(op.payload.to_wire())
        rows.append(ChangeRow(seq, op.op_id, WRITER, text, len(text.encode("utf-8"))))
    pages = []
    for start in range(0, len(rows), MAX_PAGE_CHANGES):
        part = rows[start : start + MAX_PAGE_CHANGES]
        more = start + len(part) < len(rows)
        pages.append(changes_frame(start, part[-1].seq, more, part, request_id=len(pages) + 2))
    return pages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--messages-per", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    pages = _pages(args.conversations, args.messages_per)
    times = []
    for _ in range(args.rounds):
        started = time.process_time()
        frames = [parse_server_frame(page) for page in pages]
        times.append(time.process_time() - started)
    count = sum(len(frame.changes) for frame in frames if isinstance(frame, Changes))
    with open("/proc/loadavg") as loadavg:
        load = float(loadavg.read().split()[0])
    emit(
        "parse_pages",
        parse_cpu_s=round(statistics.median(times), 3),
        parse_cpu_min_s=round(min(times), 3),
        changes_count=count,
        pages_count=len(pages),
        page_mb=round(sum(len(p) for p in pages) / len(pages) / 1e6, 2),
        load_average_1m=load,
    )


if __name__ == "__main__":
    main()
