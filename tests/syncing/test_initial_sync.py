"""A new device pulling a long history: the pages that arrive while the store writes are
applied together (sync/device/pages.py), each group one transaction with its cursor, so a
device killed between two of them keeps what was committed and pulls only the rest."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from snapask_desktop.server import accounts, changes
from snapask_desktop.server.testing import RunningServer
from snapask_desktop.store import Store
from snapask_desktop.store.records import ApplyReport
from snapask_desktop.sync.clock import HybridClock, wall_clock_ms
from snapask_desktop.sync.device.client import SyncEngine, SyncEvents
from snapask_desktop.sync.limits import MAX_DRIFT_MS, MAX_OPS_PER_PUSH, MAX_PAGE_CHANGES
from snapask_desktop.sync.merge import new_conversation
from snapask_desktop.sync.protocol import Op
from snapask_desktop.sync.records import MessageRecord
from tests.support.cli import REPO
from tests.syncing.conftest import PASSWORD, Fleet, snapshot

# The device side is what is tested: the server's database does not matter here.
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
WRITER = "0f0f0f0f-0000-4000-8000-00000000abcd"  # the device that wrote the history
PER = 4  # messages per conversation: each conversation and its messages are 5 changes


def _fill_log(server: RunningServer, conversations: int) -> int:
    """Write a history straight into the server's log (as the device WRITER pushed it);
    message ``n`` of conversation ``i`` says ``tok{i}x{n}``. Returns the number of changes."""
    db = server.server.db
    user_id = accounts.user_id_by_name(db, "ada")
    assert user_id is not None
    clock, now, ops = HybridClock(), wall_clock_ms(), []
    for index in range(conversations):
        cid = str(uuid.uuid4())
        state = new_conversation(cid, f"history {index}", device_id=WRITER, hlc=clock.now(),
                                 now_ms=now)  # fmt: skip
        ops.append(Op(str(uuid.uuid4()), state))
        for number in range(PER):
            message = MessageRecord(
                id=str(uuid.uuid4()), conversation_id=cid, role="user",
                text=f"question tok{index}x{number} about the dialog", model=None,
                status="final", screenshot_sha256=None, hlc=clock.now(), device=WRITER,
                created_at=now,
            )  # fmt: skip
            ops.append(Op(str(uuid.uuid4()), message))
    for start in range(0, len(ops), MAX_OPS_PER_PUSH):
        changes.apply_push(db, user_id, WRITER, ops[start : start + MAX_OPS_PER_PUSH],
                           now_ms=wall_clock_ms(), max_drift_ms=MAX_DRIFT_MS)  # fmt: skip
    return len(ops)


def _conversations(store: Store) -> int:
    with sqlite3.connect(f"file:{store.path}?mode=ro", uri=True) as db:
        return int(db.execute("SELECT count(*) FROM conversation").fetchone()[0])


@SQLITE_ONLY
def test_pages_that_arrive_during_a_write_are_applied_together(
    fleet: Fleet, server: RunningServer
) -> None:
    total = _fill_log(server, 1000)  # 5,000 changes: five pages
    b = fleet.device()
    reports: list[ApplyReport] = []
    engine = SyncEngine(
        b.store, b.ws_url, lambda: b.token, events=SyncEvents(applied=reports.append)
    )
    # Another program holds the store's write lock: the first page waits in its write (the
    # busy timeout) while the next pages are pulled.
    holder = sqlite3.connect(b.store.path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    outcome: list[object] = []
    thread = threading.Thread(target=lambda: outcome.append(asyncio.run(engine.sync_once()).pulled))
    thread.start()
    time.sleep(2.0)
    holder.execute("ROLLBACK")
    holder.close()
    thread.join(60)
    assert outcome and outcome[0] == total
    cursors = [report.cursor for report in reports]
    assert cursors[0] == MAX_PAGE_CHANGES  # the first page, alone
    assert cursors[-1] == total
    assert len(cursors) < total // MAX_PAGE_CHANGES  # later pages applied together
    assert all(cursor % MAX_PAGE_CHANGES == 0 for cursor in cursors)  # whole pages
    assert sum(report.applied for report in reports) == total
    assert _conversations(b.store) == 1000
    assert b.store.search_backlog() == 0
    [hit] = b.store.search("tok999x3 ")
    assert hit.summary.title == "history 999"


@SQLITE_ONLY
def test_a_device_killed_mid_initial_sync_keeps_what_it_committed_and_resumes(
    fleet: Fleet, server: RunningServer, tmp_path: Path
) -> None:
    total = _fill_log(server, 1600)  # 8,000 changes: more than two groups
    crash_dir = tmp_path / "crashy"
    with Store.open(crash_dir) as store:
        device_id = store.device_id
    token = server.sign_in("ada", PASSWORD, device_id, "crashy")
    env = dict(os.environ, SNAPASK_TEST_TOKEN=token, PYTHONPATH=str(REPO))
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.syncing.pull_worker", str(crash_dir), server.ws_url, "2"],
        env=env, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert worker.stdout is not None
        lines = [worker.stdout.readline() for _ in range(2)]
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(20)
    assert [line.split()[0] for line in lines] == ["applied", "applied"], lines
    committed = int(lines[1].split()[1])
    assert MAX_PAGE_CHANGES < committed < total
    with Store.open(crash_dir) as store:
        assert store.sync_cursor() == committed
        # Every change up to the cursor is there, none after it (5 changes a conversation).
        assert _conversations(store) == committed // (PER + 1)
        # Messages left for the search index after the sync: found meanwhile all the same.
        assert store.search_backlog() > 0
        [hit] = store.search("tok1x2 ")
        assert hit.summary.title == "history 1"
    restarted = fleet.device("crashy again", data_dir=crash_dir)
    result = restarted.sync()
    assert result.pulled == total - committed
    assert restarted.store.search_backlog() == 0
    reference = fleet.device()
    reference.sync()
    assert snapshot(restarted.store) == snapshot(reference.store)
    [hit] = restarted.store.search("tok1599x3 ")
    assert hit.summary.title == "history 1599"
