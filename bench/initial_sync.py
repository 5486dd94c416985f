"""A new device pulls 10,000 conversations with 50,000 messages into its empty store.

The server runs as its own process (`snapask-sync-server serve`) on 127.0.0.1; its change log
is filled beforehand through its storage API (not measured). The figure is the wall time of
one `SyncEngine.sync_once()` on a fresh store until it says "up to date": connect, pull every
page, apply, acknowledge. `search_indexed_s` goes on until the pass returns, the pulled messages
then in the full-text index too (store/backlog.py).

    .venv/bin/python bench/initial_sync.py [--conversations 10000] [--messages-per 5] [--postgres]
        [--encrypted]

`--postgres`: the server on the local PostgreSQL (a throwaway database) instead of SQLite.
`--encrypted`: an end-to-end encrypted account (sync-protocol.md 12): the log holds sealed
records and the device, whose keys are already kept (in an in-memory keyring), opens each.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sqlite3
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import keyring

if __package__ in (None, ""):  # run as a file: make `bench` and the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import MemoryKeyring, bench_keys, emit, server_database
from snapask_desktop.server import accounts, changes
from snapask_desktop.server.database import Database
from snapask_desktop.server.passwords import hash_password, new_token
from snapask_desktop.server.testing import ServerProcess
from snapask_desktop.store import Store
from snapask_desktop.sync.clock import HybridClock, wall_clock_ms
from snapask_desktop.sync.limits import MAX_DRIFT_MS, MAX_OPS_PER_PUSH
from snapask_desktop.sync.merge import new_conversation
from snapask_desktop.sync.protocol import Op
from snapask_desktop.sync.records import MessageRecord

if TYPE_CHECKING:
    from snapask_desktop.sync.e2ee import Unlocked
    from snapask_desktop.sync.keyrecord import KeyRecord

WRITER = "0f0f0f0f-0000-4000-8000-000000000001"  # the device that "wrote" the history


def _ops(conversations: int, per: int) -> list[Op]:
    clock, ops = HybridClock(), []
    now = wall_clock_ms()
    for index in range(conversations):
        cid = str(uuid.uuid4())
        state = new_conversation(cid, f"Conversation {index} about a screenshot",
                                 device_id=WRITER, hlc=clock.now(), now_ms=now)  # fmt: skip
        ops.append(Op(str(uuid.uuid4()), state))
        for turn in range(per):
            role = "user" if turn % 2 == 0 else "model"
            question = f"Question {turn} about the error dialog in picture {index}?"
            answer = f"Answer {turn}: the installer lacks permission; run it as admin. " * 3
            text = question if role == "user" else answer
            message = MessageRecord(
                id=str(uuid.uuid4()), conversation_id=cid, role=role, text=text,
                model=None if role == "user" else "gemini-2.5-flash", status="final",
                screenshot_sha256=None, hlc=clock.now(), device=WRITER, created_at=now,
            )  # fmt: skip
            ops.append(Op(str(uuid.uuid4()), message))
    return ops


def _fill_server(
    database_url: str,
    device_dir: Path,
    conversations: int,
    per: int,
    keys: tuple[KeyRecord, Unlocked] | None,
) -> tuple[str, int]:
    db = Database(database_url)
    user_id = accounts.add_user(db, "ada", "", password_hash=hash_password("bench"))
    ops = _ops(conversations, per)
    if keys is not None:
        from snapask_desktop.server.keys import put_keys
        from snapask_desktop.sync.e2ee import seal_payload

        record, unlocked = keys
        put_keys(db, user_id, 0, record, wall_clock_ms())
        current = unlocked.keys.current
    for start in range(0, len(ops), MAX_OPS_PER_PUSH):
        batch = ops[start : start + MAX_OPS_PER_PUSH]
        if keys is not None:  # batch by batch: the peak memory figure is the device's
            batch = [Op(op.op_id, seal_payload(current, op.payload)) for op in batch]
        changes.apply_push(db, user_id, WRITER, batch, now_ms=wall_clock_ms(),
                           max_drift_ms=MAX_DRIFT_MS)  # fmt: skip
    token = new_token()
    with Store.open(device_dir) as store:
        accounts.issue_token(db, user_id, store.device_id, "new laptop", token)
    db.dispose()
    return token, len(ops)


def _process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a running process (its /proc stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _count_conversations(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT count(*) FROM conversation").fetchone()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--messages-per", type=int, default=5)
    parser.add_argument("--postgres", action="store_true", help="server on local PostgreSQL")
    parser.add_argument("--encrypted", action="store_true", help="an encrypted account")
    args = parser.parse_args()
    keys: tuple[KeyRecord, Unlocked] | None = None
    if args.encrypted:
        keys = bench_keys()
        keyring.set_keyring(MemoryKeyring())
    with (
        tempfile.TemporaryDirectory(prefix="snapask-bench-") as tmp,
        server_database(Path(tmp) / "server", postgres=args.postgres) as database_url,
    ):
        root = Path(tmp)
        started = time.perf_counter()
        token, total = _fill_server(
            database_url, root / "device", args.conversations, args.messages_per, keys
        )
        fill_s = time.perf_counter() - started
        server = ServerProcess(root / "server", "--database-url", database_url)
        try:
            from snapask_desktop.sync.device.client import SyncEngine, SyncEvents
            from snapask_desktop.sync.device.status import SyncState, SyncStatus

            store = Store.open(root / "device")
            keystore = None
            if keys is not None:
                from snapask_desktop.sync.device.keystore import KeyStore

                keystore = KeyStore("sync-keys:bench")
                keystore.save(keys[1])
            reached: list[tuple[float, float]] = []  # wall and CPU time at "up to date"

            def status(now: SyncStatus) -> None:
                if now.state is SyncState.UP_TO_DATE and not reached:
                    reached.append((time.perf_counter(), time.process_time()))

            engine = SyncEngine(
                store, server.ws_url, lambda: token, events=SyncEvents(status), keystore=keystore
            )
            server_cpu_started = _process_cpu_s(server.proc.pid)
            started, cpu_started = time.perf_counter(), time.process_time()
            result = asyncio.run(engine.sync_once())
            server_cpu_s = _process_cpu_s(server.proc.pid) - server_cpu_started
            indexed_s = time.perf_counter() - started
            indexed_cpu_s = time.process_time() - cpu_started
            elapsed, cpu_s = reached[0][0] - started, reached[0][1] - cpu_started
            unindexed = store.search_backlog()
            count = _count_conversations(store.path)
            store.close()
        finally:
            server.terminate()
    if result.pulled != total or count != args.conversations or unindexed:
        raise SystemExit(
            f"incomplete: pulled {result.pulled} of {total}, {count} conversations, "
            f"{unindexed} messages not indexed for search"
        )
    emit(
        "initial_sync",
        initial_sync_s=round(elapsed, 2),
        changes_count=total,
        changes_per_s=round(total / elapsed),
        # the device's CPU time (parse on its loop thread, apply on a worker): comparable under
        # load, when wall time is mostly waiting for a core
        client_cpu_s=round(cpu_s, 2),
        # until sync_once returns: the full-text index of the pulled messages made too (a large
        # sync indexes them after "up to date"; search reads them unindexed meanwhile)
        search_indexed_s=round(indexed_s, 2),
        search_indexed_client_cpu_s=round(indexed_cpu_s, 2),
        # the server process's CPU time over the same pass (both share the machine's cores)
        server_cpu_s=round(server_cpu_s, 2),
        conversations_count=count,
        client_peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        server_fill_s=round(fill_s, 1),
        database="postgresql" if args.postgres else "sqlite",
        encrypted=args.encrypted,
        load_average_1m=float(Path("/proc/loadavg").read_text().split()[0]),
    )


if __name__ == "__main__":
    main()
