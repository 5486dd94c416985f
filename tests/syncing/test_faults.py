"""Faults between real devices and the real server: cuts, restarts, crashes, old backups,
wrong clocks and tokens. Nothing may be lost and nothing duplicated."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from snapask_desktop import credentials
from snapask_desktop.server import schema
from snapask_desktop.server.testing import RunningServer, running_server
from snapask_desktop.store import Store
from snapask_desktop.sync.clock import HybridClock, wall_clock_ms
from snapask_desktop.sync.device.client import ClockBehind
from snapask_desktop.sync.device.connection import Closed
from snapask_desktop.sync.device.status import SyncState
from tests.support.cli import REPO
from tests.support.tcp_proxy import tcp_proxy
from tests.syncing.conftest import PASSWORD, Fleet, converge, snapshot, wait_for
from tests.syncing.schedules import share_keys

# The upgrade request and hello are well under this; a push of the test's ops is far over it.
AFTER_HELLO_BYTES = 3000


def _ws(port: int) -> str:
    return f"ws://127.0.0.1:{port}/v1/sync"


def server_payloads(server: RunningServer, op_id: str) -> list[str]:
    """The payload text the server stores for the op ``op_id`` (none if it holds no such op)."""
    changes = schema.changes
    with server.server.db.read() as conn:
        query = select(changes.c.payload).where(changes.c.op_id == op_id)
        return [str(payload) for (payload,) in conn.execute(query)]


def server_change_log(server: RunningServer) -> list[tuple[int, str]]:
    """(seq, op id) of every change the server holds, read from its database."""
    changes = schema.changes
    with server.server.db.read() as conn:
        query = select(changes.c.seq, changes.c.op_id).order_by(changes.c.seq)
        return [(int(seq), str(op_id)) for seq, op_id in conn.execute(query)]


@pytest.fixture(params=[False, True], ids=["clear", "encrypted"])
def encrypted(request: pytest.FixtureRequest) -> bool:
    """The fault tests that matter most run on an end-to-end encrypted account too."""
    return bool(request.param)


def _fill(store: Store, count: int, text_chars: int = 200) -> None:
    for index in range(count):
        conversation, _ = store.start_conversation(f"topic {index}", "q" * text_chars)
        store.add_message(conversation.id, "model", f"answer {index} " + "a" * text_chars)


def test_a_connection_cut_mid_push_loses_and_duplicates_nothing(
    fleet: Fleet, server: RunningServer, encrypted: bool
) -> None:
    a, b = fleet.device(), fleet.device()
    if encrypted:
        share_keys([a, b])
    _fill(a.store, 120, text_chars=2000)  # 360 ops: several push frames
    written = a.store.outbox_count()
    with tcp_proxy(server.port) as proxy:
        proxy.cut_after_client_bytes = 400_000  # somewhere inside the second push frame
        with pytest.raises((Closed, OSError)):
            a.sync(_ws(proxy.port))
        assert 0 < a.store.outbox_count() < written  # the first frames were acknowledged
        a.sync(_ws(proxy.port))
    assert a.store.outbox_count() == 0
    log = server_change_log(server)
    assert [seq for seq, _ in log] == list(range(1, written + 1))  # no holes
    assert len({op for _, op in log}) == written  # every op applied exactly once
    b.sync()
    assert snapshot(b.store) == snapshot(a.store)


def test_replies_lost_before_the_ack_are_resent_as_duplicates(
    fleet: Fleet, server: RunningServer, encrypted: bool
) -> None:
    a, b = fleet.device(), fleet.device()
    if encrypted:
        share_keys([a, b])
    _fill(a.store, 10)
    written = a.store.outbox_count()
    with tcp_proxy(server.port) as proxy:
        # The server applies the push but its ack never arrives; then the connection dies.
        proxy.hold_replies_after_client_bytes = AFTER_HELLO_BYTES
        a.start(_ws(proxy.port))
        wait_for(lambda: len(server_change_log(server)) == written, what="the push applied")
        proxy.cut()
        a.stop()
    assert a.store.outbox_count() > 0
    result = a.sync()
    assert a.store.outbox_count() == 0 and result.rejected == []
    assert len(server_change_log(server)) == written  # the resends were duplicates
    b.sync()
    assert snapshot(b.store) == snapshot(a.store)


def test_a_device_killed_mid_push_recovers_without_loss_or_duplicates(
    fleet: Fleet, server: RunningServer, tmp_path: Path, encrypted: bool
) -> None:
    b = fleet.device()
    keys = ""
    if encrypted:  # the worker process gets b's keys, as its own keyring would hold them
        share_keys([b])
        keys = credentials.get_secret(b.keystore().account) or ""
        assert keys
    crash_dir = tmp_path / "crashy"
    with Store.open(crash_dir) as store:
        device_id = store.device_id
    token = server.sign_in("ada", PASSWORD, device_id, "crashy")
    env = dict(os.environ, SNAPASK_TEST_TOKEN=token, PYTHONPATH=str(REPO), SNAPASK_TEST_KEYS=keys)
    with tcp_proxy(server.port) as proxy:
        proxy.hold_replies_after_client_bytes = AFTER_HELLO_BYTES  # the push arrives, no ack
        worker = subprocess.Popen(
            [sys.executable, "-m", "tests.syncing.push_worker", str(crash_dir),
             _ws(proxy.port), "40"],
            env=env, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert worker.stdout is not None and worker.stdout.readline() == "pushing\n"
            wait_for(lambda: len(server_change_log(server)) >= 80, what="the push applied")
        finally:
            worker.send_signal(signal.SIGKILL)
            worker.wait(20)
    applied = len(server_change_log(server))
    # Restarted: the same process code, same data folder; it finds its outbox intact.
    restarted = subprocess.run(
        [sys.executable, "-m", "tests.syncing.push_worker", str(crash_dir), server.ws_url, "0"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert restarted.returncode == 0, restarted.stderr
    with Store.open(crash_dir) as store:
        assert store.outbox_count() == 0
        b.sync()
        assert snapshot(b.store) == snapshot(store)
    log = server_change_log(server)
    assert 0 < applied < 120  # killed between the first push frame and its ack
    assert len(log) == 120  # 40 x (conversation, question, answer), each once
    assert len({op for _, op in log}) == 120


def test_the_server_restarting_mid_sync_is_survived(
    fleet: Fleet, server: RunningServer, encrypted: bool
) -> None:
    a, b = fleet.device(), fleet.device()
    if encrypted:
        share_keys([a, b])
    a.start()
    b.start()
    first = a.store.create_conversation("before the restart")
    wait_for(lambda: b.store.list_conversations(), what="the first conversation on b")
    server.restart()
    second = a.store.create_conversation("after the restart")
    b.store.update_conversation(first.id, title="renamed on b after the restart")
    wait_for(lambda: len(b.store.list_conversations()) == 2, what="the second on b")
    wait_for(
        lambda: a.store.get_conversation(first.id).conversation.title.startswith("renamed"),
        what="b's rename on a",
    )
    assert b.store.get_conversation(second.id).conversation.title == "after the restart"
    states = [s.state for s in a.statuses]
    assert SyncState.OFFLINE in states or SyncState.CONNECTING in states[2:]


def test_a_device_restored_from_an_old_backup_converges(
    fleet: Fleet, server: RunningServer, tmp_path: Path, encrypted: bool
) -> None:
    a, b = fleet.device(), fleet.device()
    if encrypted:
        share_keys([a, b])  # the keys are in the keyring, not in the restored file
    old, _ = a.store.start_conversation("old", "old question")
    a.sync()
    backup = tmp_path / "backup"
    backup.mkdir()
    with (
        sqlite3.connect(a.store.path) as source,
        sqlite3.connect(backup / a.store.path.name) as target,
    ):
        source.backup(target)
    a.store.start_conversation("newer", "asked after the backup")
    a.store.update_conversation(old.id, pinned=True)
    pending_at_backup = a.store.outbox_count()
    assert pending_at_backup > 0  # an unsynced change that the backup does not hold either
    a.sync()
    b.sync()
    a.stop()
    a.store.close()

    restored = Store.open(backup)
    assert (
        restored.device_id == a.store.device_id and restored.sync_cursor() < b.store.sync_cursor()
    )
    a.store = restored
    restored.add_message(old.id, "user", "written on the restored device")
    converge([a, b])
    assert snapshot(a.store) == snapshot(b.store)
    titles = {s.title for s in restored.list_conversations()}
    assert titles == {"old", "newer"}
    assert restored.get_conversation(old.id).conversation.pinned is True
    texts = [m.text for m in restored.get_conversation(old.id).messages]
    assert texts == ["old question", "written on the restored device"]


def test_a_clock_far_ahead_is_refused_and_the_change_kept(
    fleet: Fleet, server: RunningServer, encrypted: bool
) -> None:
    """A clear account's server refuses the stamp (clock_skew). An encrypted account's server
    cannot read it: the device judges its own ops against the server's clock (from welcome) and
    holds the op back the same way, rather than send it for every other device to stop at."""
    a, b = fleet.device(), fleet.device()
    if encrypted:
        share_keys([a, b])
    a.store.clock = HybridClock(now_ms=lambda: wall_clock_ms() + 10 * 60_000)
    a.store.create_conversation("from the future")
    result = a.sync()
    assert result.rejected == []  # clock_skew is not a rejection: the op waits
    assert a.store.outbox_count() == 1
    assert any("clock is ahead" in notice for notice in a.notices)
    assert server_change_log(server) == []  # refused there, or never sent
    b.sync()  # nothing stamped ahead reached b: it does not stop at it
    assert b.store.list_conversations() == []


def test_the_servers_announced_drift_limit_is_the_devices_too(
    fleet: Fleet, server: RunningServer, encrypted: bool
) -> None:
    """The server tightened its drift limit after accepting a change stamped 3 min ahead:
    a device applies nothing stamped further ahead than the ``welcome`` allows."""
    a, b = fleet.device(), fleet.device()
    if encrypted:  # the stamps are inside the sealed payload: b judges them after opening
        share_keys([a, b])
    a.store.clock = HybridClock(now_ms=lambda: wall_clock_ms() + 3 * 60_000)
    a.store.create_conversation("three minutes early")
    a.sync()  # accepted under the default limit of 5 minutes
    assert a.store.outbox_count() == 0
    server.stop()
    server.config = dataclasses.replace(server.config, max_drift_ms=60_000)
    server.start()
    with pytest.raises(ClockBehind, match="ahead of this computer's clock"):
        b.sync()
    assert b.store.list_conversations() == []
    assert b.store.sync_cursor() == 0


def test_a_wrong_or_revoked_token_stops_syncing_and_says_sign_in(
    fleet: Fleet, server: RunningServer, encrypted: bool
) -> None:
    a, b = fleet.device(), fleet.device()
    if encrypted:
        share_keys([a, b])
    a.token = "not-a-token"
    runner = a.start()
    wait_for(lambda: runner.status.state is SyncState.PROBLEM, what="a's problem state")
    assert "sign in again" in runner.status.message
    live = b.start()
    wait_for(lambda: live.status.state is SyncState.UP_TO_DATE, what="b live")
    assert server.revoke(b.store.device_id)
    wait_for(lambda: live.status.state is SyncState.PROBLEM, what="b's problem state")
    assert "sign in again" in live.status.message


def test_users_never_see_each_other(
    fleet: Fleet, server: RunningServer, tmp_path: Path, encrypted: bool
) -> None:
    server.add_user("bob", PASSWORD)
    bobs = Fleet(server, tmp_path / "bob", user="bob")
    try:
        ada, bob = fleet.device(), bobs.device()
        if encrypted:  # one account encrypted, the other clear
            share_keys([ada])
        ada.store.create_conversation("ada's")
        bob.store.create_conversation("bob's")
        converge([ada, bob])
        assert [s.title for s in ada.store.list_conversations()] == ["ada's"]
        assert [s.title for s in bob.store.list_conversations()] == ["bob's"]
    finally:
        bobs.close()


BAD_OP = "0b5e0c8a-3a38-4c8e-9d3c-6f0e9c1f2a11"


def test_a_rejected_change_leaves_the_queue_and_is_shown(
    fleet: Fleet, server: RunningServer, encrypted: bool
) -> None:
    """A clear account's server rejects a message that changed (message_mismatch). An
    encrypted account's server cannot compare ciphertexts and takes it: every device that
    receives it keeps its own copy, skips that one change, and keeps and tells the problem."""
    a, b = fleet.device(), fleet.device()
    if encrypted:
        share_keys([a, b])
    conversation, question = a.store.start_conversation("Topic", "the original text")
    a.sync()
    # A damaged op (the same message id with other text, as a buggy older version might have
    # written) sits in the outbox in front of a good change. The outbox is clear on every
    # device: an encrypted account's ops, this one too, are sealed when they are pushed.
    stored = a.store.get_conversation(conversation.id).messages[0]
    payload = {
        "type": "message", "id": question.id, "conversation_id": conversation.id,
        "role": "user", "text": "tampered", "model": None, "status": "final",
        "screenshot_sha256": None, "hlc": question.hlc, "device": question.device_id,
        "created_at": question.created_at,
    }  # fmt: skip
    assert stored.text == "the original text"
    with sqlite3.connect(a.store.path) as db:
        db.execute(
            "INSERT INTO outbox (op_id, record_type, record_id, payload, created_at, attempts)"
            " VALUES (?, 'message', ?, ?, 0, 0)",
            (BAD_OP, question.id, json.dumps(payload)),
        )
    a.store.update_conversation(conversation.id, title="Renamed after the bad op")
    result = a.sync()

    assert a.store.outbox_count() == 0  # one bad op never blocks the queue
    problem = [("message_mismatch", question.id, BAD_OP)]
    assert [(p.code, p.record_id, p.op_id) for p in a.store.sync_problems()] == problem
    b.sync()
    detail = b.store.get_conversation(conversation.id)
    assert detail.conversation.title == "Renamed after the bad op"  # the rest of the page
    assert [m.text for m in detail.messages] == ["the original text"]
    assert [m.text for m in a.store.get_conversation(conversation.id).messages] == [
        "the original text"
    ]
    log = server_change_log(server)
    assert b.store.sync_cursor() == len(log)  # b went past the bad change
    if encrypted:
        assert result.rejected == []  # the server took it: it cannot compare ciphertexts
        assert BAD_OP in {op for _, op in log}
        [stored] = [json.loads(p) for p in server_payloads(server, BAD_OP)]
        assert stored["type"] == "sealed" and "tampered" not in json.dumps(stored)
        # a met it when its own change came back, b when it arrived: each kept its own copy
        # and the problem once (a second pass applies nothing again), and told its user.
        b.sync()
        for device in (a, b):
            problems = [(p.code, p.record_id, p.op_id) for p in device.store.sync_problems()]
            assert problems == problem
            assert any(
                n.startswith("A synced change was refused: A synced copy of this message")
                for n in device.notices
            )
    else:
        assert [code for code, _ in result.rejected] == ["message_mismatch"]
        assert BAD_OP not in {op for _, op in log}
        assert any("could not be synced" in notice for notice in a.notices)
        assert b.store.sync_problems() == []  # b never saw it


def test_a_device_over_the_frame_rate_waits_and_resends_without_disconnecting(
    tmp_path: Path, encrypted: bool
) -> None:
    with running_server(tmp_path / "server", frames_per_second=5, frame_burst=5) as server:
        server.add_user("ada", PASSWORD)
        fleet = Fleet(server, tmp_path / "devices")
        try:
            a, b = fleet.device(), fleet.device()
            if encrypted:
                share_keys([a, b])
            runner = a.start()
            wait_for(lambda: runner.status.state is SyncState.UP_TO_DATE, what="a live")
            live_from = len(a.statuses)  # (turning encryption on connected once before)
            for index in range(15):  # a push frame each: far more than 5 a second
                a.store.create_conversation(f"fast {index}")
                runner.sync_now()
                wait_for(lambda: a.store.outbox_count() == 0, timeout_s=60, what="the push")
            b.sync()
            assert len(b.store.list_conversations()) == 15
            # The refusals were waited out on the same connection: never offline, no reconnect.
            assert SyncState.OFFLINE not in {s.state for s in a.statuses}
            after = [s.state for s in a.statuses[live_from:]]
            assert SyncState.CONNECTING not in after and len(after) > 0
        finally:
            fleet.close()


def test_sync_survives_a_store_locked_by_another_program(fleet: Fleet, encrypted: bool) -> None:
    a, b = fleet.device(), fleet.device()
    if encrypted:
        share_keys([a, b])
    runner = a.start()
    wait_for(lambda: runner.status.state is SyncState.UP_TO_DATE, what="a live")
    blocker = sqlite3.connect(a.store.path, isolation_level=None)
    try:
        blocker.execute("BEGIN EXCLUSIVE")  # another program holds a's database
        conversation = b.store.create_conversation("while a was locked")
        b.sync()
        # a's write waits out the store's 10 s busy timeout, fails, and is reported.
        wait_for(lambda: runner.status.state is SyncState.PROBLEM, timeout_s=30, what="problem")
        assert "try again" in runner.status.message
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    runner.sync_now()
    wait_for(
        lambda: [s.id for s in a.store.list_conversations()] == [conversation.id],
        timeout_s=30,
        what="the change on a once the lock is gone",
    )
    wait_for(lambda: runner.status.state is SyncState.UP_TO_DATE, what="a up to date again")
