"""A new device pulling a long history: its pages are applied in groups (sync/device/pages.py),
each group one transaction with its cursor, so a device killed between two of them keeps what
was committed and pulls only the rest."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from snapask_desktop.server import accounts, changes
from snapask_desktop.server.testing import RunningServer
from snapask_desktop.store import Store
from snapask_desktop.store.records import ApplyReport
from snapask_desktop.sync.clock import HybridClock, wall_clock_ms
from snapask_desktop.sync.device.client import SyncEngine, SyncEvents
from snapask_desktop.sync.device.pages import GROUP_CHANGES
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
def test_the_pages_of_a_long_pull_are_applied_in_groups(
    fleet: Fleet, server: RunningServer
) -> None:
    total = _fill_log(server, 1200)  # 6,000 changes: six pages
    b = fleet.device()
    reports: list[ApplyReport] = []
    engine = SyncEngine(
        b.store, b.ws_url, lambda: b.token, events=SyncEvents(applied=reports.append)
    )
    assert asyncio.run(engine.sync_once()).pulled == total
    # The first page alone (the history shows at once), then four pages in one transaction,
    # then what came before the last page.
    assert [report.cursor for report in reports] == [1000, 5000, 6000]
    assert [report.applied for report in reports] == [1000, 4000, 1000]
    assert GROUP_CHANGES == 4 * MAX_PAGE_CHANGES
    assert _conversations(b.store) == 1200
    assert b.store.search_backlog() == 0
    [hit] = b.store.search("tok1199x3 ")
    assert hit.summary.title == "history 1199"


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
    assert lines == ["applied 1000\n", "applied 5000\n"]  # the first page, then a group
    committed = 5000
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
