"""A change on device A visible in device B's store: both devices live on one server.

The server runs as its own process on 127.0.0.1. A renames a conversation (store write +
outbox op in one transaction) and wakes its sync engine, as the app does after a local edit;
the clock stops when B's engine has committed the change to B's store (its ``applied``
callback). 200 changes, one at a time.

    .venv/bin/python bench/sync_latency.py [--changes 200]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `bench` and the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import emit, percentile
from snapask_desktop.server import accounts
from snapask_desktop.server.config import sqlite_url
from snapask_desktop.server.database import Database
from snapask_desktop.server.passwords import hash_password, new_token
from snapask_desktop.server.testing import ServerProcess
from snapask_desktop.store import Store
from snapask_desktop.sync.client import SyncEvents
from snapask_desktop.sync.runner import SyncRunner
from snapask_desktop.sync.status import SyncState

WAIT_S = 10.0


def _tokens(server_dir: Path, device_ids: list[str]) -> list[str]:
    db = Database(sqlite_url(server_dir))
    user_id = accounts.add_user(db, "ada", "", password_hash=hash_password("bench"))
    tokens = []
    for index, device_id in enumerate(device_ids):
        tokens.append(new_token())
        accounts.issue_token(db, user_id, device_id, f"device {index}", tokens[-1])
    db.dispose()
    return tokens


class Watcher:
    """B's applied callback: notes when a conversation's change has landed in B's store."""

    def __init__(self) -> None:
        self.seen = threading.Event()
        self.target = ""
        self.at = 0.0

    def applied(self, report: object) -> None:
        if self.target in getattr(report, "changed_conversations", ()):
            self.at = time.perf_counter()
            self.seen.set()


def _wait_live(runner: SyncRunner) -> None:
    deadline = time.monotonic() + WAIT_S
    while runner.status.state is not SyncState.UP_TO_DATE:
        if time.monotonic() > deadline:
            raise SystemExit(f"device not live: {runner.status.message}")
        time.sleep(0.01)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="snapask-bench-") as tmp:
        root = Path(tmp)
        a, b = Store.open(root / "a"), Store.open(root / "b")
        token_a, token_b = _tokens(root / "server", [a.device_id, b.device_id])
        server = ServerProcess(root / "server")
        watcher = Watcher()
        # The idle poll only finds changes written by another process; A is woken directly.
        runner_a = SyncRunner(a, server.ws_url, lambda: token_a, SyncEvents(), poll_s=1.0)
        runner_b = SyncRunner(b, server.ws_url, lambda: token_b,
                              SyncEvents(applied=watcher.applied), poll_s=1.0)  # fmt: skip
        try:
            runner_a.start()
            runner_b.start()
            _wait_live(runner_a)
            _wait_live(runner_b)
            conversation = a.create_conversation("latency")
            watcher.target = conversation.id
            latencies = []
            for index in range(args.changes + 1):
                watcher.seen.clear()
                started = time.perf_counter()
                a.update_conversation(conversation.id, title=f"latency {index}")
                runner_a.sync_now()
                if not watcher.seen.wait(WAIT_S):
                    raise SystemExit(f"change {index} never reached B")
                if index:  # the first one also pays for warm-up
                    latencies.append((watcher.at - started) * 1000)
            final = b.get_conversation(conversation.id).conversation.title
        finally:
            runner_a.stop()
            runner_b.stop()
            server.terminate()
            a.close()
            b.close()
    if final != f"latency {args.changes}":
        raise SystemExit(f"B ended with {final!r}")
    emit(
        "sync_latency",
        visible_p50_ms=round(percentile(latencies, 50), 2),
        visible_p99_ms=round(percentile(latencies, 99), 2),
        visible_max_ms=round(max(latencies), 2),
        changes_count=len(latencies),
    )


if __name__ == "__main__":
    main()
