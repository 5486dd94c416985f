"""SIGKILL at random moments while writing: the database must always open whole and consistent.

The invariant checked after every kill (each public call is one transaction, so a kill can
only land between transactions as far as the file is concerned):

1. ``PRAGMA integrity_check`` is "ok", ``foreign_key_check`` is empty and both FTS indexes
   pass their 'integrity-check'; the store opens without treating the file as damaged.
2. No half-written conversation: the messages of each conversation are a gap-free prefix
   m0..mk of what the writer writes, each with its complete text.
3. Record <-> outbox: every final message has exactly one message op whose payload equals the
   record; a pending message has none; every conversation's newest op equals its current
   state; every screenshot row has exactly one op equal to it; no op points at a missing record.
4. Every screenshot row has its blob (content hashes to its name) and a thumbnail, and no
   file under a final blob name is partial.
5. Every message present is found by full-text search on its unique token.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from snapask_desktop.store import Store, convert
from tests.store.crash_writer import MESSAGES_PER_CONVERSATION, message_text
from tests.store.helpers import rows
from tests.store.sync_fixtures import store_states

ROOT = Path(__file__).resolve().parents[2]
ROUNDS = 5
NAME = re.compile(r"^r(\d+)c(\d+)m(\d+) ")


def run_and_kill(data_dir: Path, round_no: int, rng: random.Random) -> None:
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.store.crash_writer", str(data_dir), str(round_no)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.02, 0.4))
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL


def check_sqlite_level(db_path: Path) -> None:
    connection = sqlite3.connect(db_path)
    try:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert connection.execute("PRAGMA foreign_key_check").fetchall() == []
        for table in ("message_fts", "conversation_fts"):
            connection.execute(f"INSERT INTO {table} ({table}) VALUES ('integrity-check')")
    finally:
        connection.close()


def ops_by_record(db_path: Path) -> dict[tuple[str, str], list[dict[str, Any]]]:
    found: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for op in rows(db_path, "SELECT record_type, record_id, payload FROM outbox ORDER BY seq"):
        found[(op["record_type"], op["record_id"])].append(json.loads(op["payload"]))
    return found


def check_conversations(store: Store, ops: dict[tuple[str, str], list[dict[str, Any]]]) -> int:
    """Checks 2, 3 (conversations and messages) and 5; returns how many messages were seen."""
    seen = 0
    states = store_states(store)
    for summary in store.list_conversations(limit=1000, include_archived=True):
        detail = store.get_conversation(summary.id)
        conversation = detail.conversation
        assert ops[("conversation", conversation.id)][-1] == states[conversation.id].to_wire()
        names = [NAME.match(m.text) for m in detail.messages]
        assert all(names), [m.text for m in detail.messages]
        numbers = [(int(n[1]), int(n[2]), int(n[3])) for n in names if n]
        assert len({(r, c) for r, c, _ in numbers}) <= 1  # one writer conversation each
        assert [j for _, _, j in numbers] == list(range(len(numbers)))  # gap-free prefix
        assert len(numbers) <= MESSAGES_PER_CONVERSATION
        for message, (r, c, j) in zip(detail.messages, numbers, strict=True):
            assert message.text == message_text(r, c, j)
            expected = [convert.message_record(message).to_wire()]
            assert ops.get(("message", message.id), []) == expected
            [hit] = store.search(f"tok{r}x{c}x{j}")
            assert hit.summary.id == conversation.id
        seen += len(detail.messages)
    return seen


def check_screenshots(store: Store, ops: dict[tuple[str, str], list[dict[str, Any]]]) -> None:
    for row in rows(store.path, "SELECT sha256 FROM screenshot"):
        info = store.screenshot_info(row["sha256"])
        assert ops[("screenshot", info.sha256)] == [convert.screenshot_record(info).to_wire()]
        assert store.screenshot_bytes(info.sha256, verify=True)
        assert store.thumbnail_path(info.sha256).stat().st_size > 0
    for blob in (store.data_dir / "blobs").glob("*/*.*"):
        if not blob.name.startswith(".tmp-"):
            assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.stem


def check_no_orphan_ops(store: Store, ops: dict[tuple[str, str], list[dict[str, Any]]]) -> None:
    tables = {"conversation": "id", "message": "id", "screenshot": "sha256"}
    for record_type, record_id in ops:
        key = tables[record_type]
        found = rows(store.path, f"SELECT 1 FROM {record_type} WHERE {key} = ?", record_id)
        assert found, (record_type, record_id)


def test_sigkill_while_writing_never_leaves_a_half_written_conversation(data_dir: Path) -> None:
    rng = random.Random(20261122)
    Store.open(data_dir).close()
    total_messages = 0
    for round_no in range(ROUNDS):
        run_and_kill(data_dir, round_no, rng)
        check_sqlite_level(data_dir / "snapask.db")
        with Store.open(data_dir) as store:
            assert store.recovered is None
            ops = ops_by_record(store.path)
            total_messages = check_conversations(store, ops)
            check_screenshots(store, ops)
            check_no_orphan_ops(store, ops)
    # the writers really wrote: several conversations per round survived
    assert total_messages >= ROUNDS * MESSAGES_PER_CONVERSATION
