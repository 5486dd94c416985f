"""Real devices of an end-to-end encrypted account syncing through the real server on
127.0.0.1 (sync-protocol.md section 12): they converge, the server keeps nothing readable,
and a change the server altered is refused by the device, which keeps its data and says so."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import sqlite3
import subprocess
import uuid

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from snapask_desktop.server.testing import RunningServer
from snapask_desktop.sync.crypto import Tampered, WrongPassphrase, derive_root_key, new_params
from snapask_desktop.sync.crypto.keys import rewrap_items_keys
from snapask_desktop.sync.device.client import Locked
from snapask_desktop.sync.device.connection import Connection, ServerError
from snapask_desktop.sync.device.outgoing import Outgoing, PushOutcome
from snapask_desktop.sync.device.status import SyncState
from snapask_desktop.sync.e2ee import params_of
from snapask_desktop.sync.errors import CloseCode, ErrorCode
from snapask_desktop.sync.keyrecord import KeyRecord
from snapask_desktop.sync.protocol import (
    DEFAULT_LIMITS,
    FEATURE_E2EE,
    FEATURE_PICTURE_TEXT,
    Hello,
    Keys,
    KeysGet,
    KeysPut,
)
from tests.syncing.conftest import Device, Fleet, converge, snapshot, wait_for

PASSPHRASE = "a long sync passphrase"
# The crypto does not depend on the server's database: one test runs on both, the rest on the
# embedded SQLite (each unlock derives a 256 MiB Argon2id key).
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
SECRET = "ZEBRA-SECRET-7731"


def _png(color: tuple[int, int, int], words: str = "") -> bytes:
    info = PngInfo()
    if words:
        info.add_text("Comment", words)  # the words sit in the file's bytes as they are
    out = io.BytesIO()
    Image.new("RGB", (40, 30), color).save(out, "PNG", pnginfo=info)
    return out.getvalue()


def encrypt(device: Device, passphrase: str = PASSPHRASE) -> None:
    asyncio.run(device.engine().encrypt(passphrase))


def unlock(device: Device, passphrase: str = PASSPHRASE) -> None:
    asyncio.run(device.engine().unlock(passphrase))


def _server_bytes(server: RunningServer, database_url: str | None) -> list[tuple[str, bytes]]:
    """Every file of the server's data folder (SQLite database, WAL, blob files) and, on
    PostgreSQL, a dump of its database."""
    found = [(str(p), p.read_bytes()) for p in server.data_dir.rglob("*") if p.is_file()]
    if database_url is not None:
        name = database_url.rsplit("/", 1)[1]
        dump = subprocess.run(
            ["pg_dump", "-h", "127.0.0.1", "-U", "postgres", "--data-only", name],
            capture_output=True,
            check=True,
            timeout=60,
        )
        found.append(("pg_dump", dump.stdout))
        assert b"COPY public.changes" in dump.stdout  # the dump holds the data
    return found


def _no_plaintext(server: RunningServer, database_url: str | None, *secrets: bytes) -> None:
    for where, data in _server_bytes(server, database_url):
        for secret in secrets:
            assert secret not in data, f"{secret!r} is readable in {where}"


def test_an_encrypted_account_converges_and_the_server_keeps_nothing_readable(
    fleet: Fleet, server: RunningServer, database_url: str | None
) -> None:
    a, b = fleet.device(), fleet.device()
    encrypt(a)  # a new account, encrypted before anything was synced
    png = _png((200, 30, 30), f"picture {SECRET}")
    shot = a.store.add_screenshot(png)
    conversation, _ = a.store.start_conversation(
        f"Title {SECRET}", f"Question {SECRET}?", screenshot_sha256=shot.sha256
    )
    a.store.add_message(conversation.id, "model", f"Answer {SECRET}.", model="m")
    a.store.set_screenshot_text(shot.sha256, f"read {SECRET}", "tesseract 5")
    a.sync()

    with pytest.raises(Locked, match=r"(?i)enter the sync passphrase"):
        b.sync()
    unlock(b)
    b.sync()
    b.store.add_message(conversation.id, "user", f"More {SECRET} from b")
    converge([a, b])
    assert snapshot(b.store) == snapshot(a.store)
    assert len(snapshot(a.store)["messages"]) == 3
    assert b.store.screenshot_text(shot.sha256) == f"read {SECRET}"

    runner = b.start()  # the picture comes sealed and is opened on download
    wait_for(lambda: runner.status.state is SyncState.UP_TO_DATE, what="b live")
    assert runner.status.encrypted and not runner.status.locked
    assert runner.fetch_blob(shot.sha256).result(20) is True
    assert b.store.screenshot_bytes(shot.sha256, verify=True) == png
    b.stop()

    _no_plaintext(server, database_url, SECRET.encode(), shot.sha256.encode())
    assert b.store.sync_problems() == [] and a.store.sync_problems() == []


@SQLITE_ONLY
def test_a_device_signed_in_before_encryption_keeps_its_records(fleet: Fleet) -> None:
    a, b = fleet.device(), fleet.device()
    conversation, _ = a.store.start_conversation("Shared before", "question")
    converge([a, b])
    own, _ = b.store.start_conversation("b's, not yet sent", "b's question")  # offline on b

    encrypt(a)  # the server drops its clear copies; a sends everything again, sealed
    a.sync()
    with pytest.raises(Locked):
        b.sync()
    assert b.store.outbox_count() > 0  # b's unsent record waits, kept
    with pytest.raises(WrongPassphrase):
        unlock(b, "not the passphrase at all")
    with pytest.raises(Locked):
        b.sync()
    unlock(b)
    converge([a, b])

    assert snapshot(a.store) == snapshot(b.store)
    assert {c.id for c in a.store.list_conversations()} == {conversation.id, own.id}

    c = fleet.device()  # a new device joins: locked until it has the passphrase
    with pytest.raises(Locked):
        c.sync()
    unlock(c)
    c.sync()
    assert snapshot(c.store) == snapshot(a.store)


@SQLITE_ONLY
def test_a_live_device_locks_when_encryption_is_turned_on_and_unlocks(fleet: Fleet) -> None:
    a, b = fleet.device(), fleet.device()
    conversation, _ = a.store.start_conversation("Live", "question")
    converge([a, b])
    runner = b.start()
    wait_for(lambda: runner.status.state is SyncState.UP_TO_DATE, what="b live")

    encrypt(a)
    wait_for(lambda: runner.status.locked, what="b locked")
    assert runner.status.state is SyncState.PROBLEM
    assert "passphrase" in runner.status.message
    with pytest.raises(WrongPassphrase):
        runner.unlock("not the passphrase at all").result(30)
    runner.unlock(PASSPHRASE).result(30)
    wait_for(
        lambda: runner.status.state is SyncState.UP_TO_DATE and runner.status.encrypted,
        what="b unlocked and up to date",
    )
    a.store.add_message(conversation.id, "user", "sealed on its way")
    a.sync()
    wait_for(
        lambda: len(b.store.get_conversation(conversation.id).messages) == 2,
        what="a's message on b",
    )
    b.stop()
    a.sync()
    assert snapshot(a.store) == snapshot(b.store)


@SQLITE_ONLY
def test_a_passphrase_changed_elsewhere_asks_for_the_new_one(fleet: Fleet) -> None:
    a, b = fleet.device(), fleet.device()
    encrypt(a)
    unlock(b)
    a.store.start_conversation("Before the change", "question")
    converge([a, b])

    async def change_passphrase() -> None:  # as another device would (12.5): re-wrap only
        conn = await Connection.open(a.ws_url, a.token)
        try:
            await conn.request(Hello(a.store.device_id, 0, features=(FEATURE_E2EE,)))
            current = await conn.request(KeysGet())
            assert isinstance(current, Keys) and current.record is not None
            old = derive_root_key(PASSPHRASE, params_of(current.record))
            new = derive_root_key("the new sync passphrase", new_params())
            record = KeyRecord(
                salt=new.params.salt,
                opslimit=new.params.opslimit,
                memlimit=new.params.memlimit,
                wrapped_keys=tuple(rewrap_items_keys(old, new, current.record.wrapped_keys)),
            )
            await conn.request(KeysPut(record, current.version))
        finally:
            await conn.close()

    asyncio.run(change_passphrase())
    with pytest.raises(Locked, match="changed on another device"):
        b.sync()
    with pytest.raises(WrongPassphrase):
        unlock(b)  # the old one no longer opens the keys
    pending = b.store.outbox_count()
    unlock(b, "the new sync passphrase")
    assert b.store.outbox_count() == pending  # same keys: nothing is sent again
    b.store.start_conversation("After the change", "question")
    b.sync()
    unlock(a, "the new sync passphrase")
    converge([a, b])
    assert snapshot(a.store) == snapshot(b.store)
    assert len(snapshot(a.store)["conversations"]) == 2


@SQLITE_ONLY
def test_an_old_client_is_refused_by_an_encrypted_account(fleet: Fleet) -> None:
    a = fleet.device()
    encrypt(a)

    async def old_hello() -> tuple[str, int | None]:
        conn = await Connection.open(a.ws_url, a.token)
        try:
            with pytest.raises(ServerError) as refused:
                await conn.request(Hello(a.store.device_id, 0, features=(FEATURE_PICTURE_TEXT,)))
            await asyncio.wait_for(conn.activity.wait(), 10)  # the close follows the error
            return refused.value.frame.code, conn.closed.code if conn.closed else None
        finally:
            await conn.close()

    code, closed = asyncio.run(old_hello())
    assert code == ErrorCode.ENCRYPTION_REQUIRED
    assert closed == CloseCode.ENCRYPTION_REQUIRED


# a server that alters what it holds ------------------------------------------------------


def _payloads(server: RunningServer, after_seq: int) -> list[tuple[int, dict[str, object]]]:
    with sqlite3.connect(server.data_dir / "server.db") as db:
        rows = db.execute(
            "SELECT seq, payload FROM changes WHERE seq > ? ORDER BY seq", (after_seq,)
        ).fetchall()
    return [(seq, json.loads(text)) for seq, text in rows]


def _rewrite(server: RunningServer, seq: int, payload: dict[str, object]) -> None:
    text = json.dumps(payload, separators=(",", ":"))
    with sqlite3.connect(server.data_dir / "server.db") as db:
        db.execute("UPDATE changes SET payload = ? WHERE seq = ?", (text, seq))


def _flip(data_b64: str, byte: int) -> str:
    import base64

    raw = bytearray(base64.b64decode(data_b64))
    raw[byte] ^= 0x10
    return base64.b64encode(bytes(raw)).decode()


@SQLITE_ONLY
def test_records_the_server_altered_are_refused_and_the_device_keeps_its_data(
    fleet: Fleet, server: RunningServer
) -> None:
    a, b = fleet.device(), fleet.device()
    encrypt(a)
    unlock(b)
    conversation, _ = a.store.start_conversation("Original title", "first question")
    doomed = a.store.create_conversation("To delete")
    converge([a, b])
    cursor = b.store.sync_cursor()

    a.store.update_conversation(conversation.id, title="Renamed")
    first = a.store.add_message(conversation.id, "user", "second question")
    second = a.store.add_message(conversation.id, "model", "second answer", model="m")
    a.store.delete_conversation(doomed.id)
    a.sync()
    changes = {p["id"]: (seq, p) for seq, p in _payloads(server, cursor)}
    assert all(p["type"] == "sealed" for _seq, p in changes.values())

    # The operator flips a bit, swaps two messages' ciphertexts, and hides a delete.
    seq, renamed = changes[conversation.id]
    _rewrite(server, seq, {**renamed, "data": _flip(str(renamed["data"]), 60)})
    (seq_1, one), (seq_2, two) = changes[first.id], changes[second.id]
    _rewrite(server, seq_1, {**one, "data": two["data"]})
    _rewrite(server, seq_2, {**two, "data": one["data"]})
    seq, deleted = changes[doomed.id]
    _rewrite(server, seq, {k: v for k, v in deleted.items() if k != "deleted_at"})

    b.sync()
    kept = b.store.get_conversation(conversation.id)
    assert kept.conversation.title == "Original title"
    assert [m.text for m in kept.messages] == ["first question"]
    assert not b.store.get_conversation(doomed.id).conversation.deleted
    problems = {(p.record_id, p.code) for p in b.store.sync_problems()}
    assert problems == {
        (conversation.id, "tampered"),
        (first.id, "tampered"),
        (second.id, "tampered"),
        (doomed.id, "tampered"),
    }
    assert any("was altered" in notice for notice in b.notices)

    # Honest changes after them still arrive.
    a.store.add_message(conversation.id, "user", "third question")
    a.sync()
    b.sync()
    texts = [m.text for m in b.store.get_conversation(conversation.id).messages]
    assert texts == ["first question", "third question"]


@SQLITE_ONLY
def test_a_picture_the_server_altered_is_refused_and_stays_missing(
    fleet: Fleet, server: RunningServer
) -> None:
    a, b = fleet.device(), fleet.device()
    encrypt(a)
    unlock(b)
    png = _png((30, 200, 30), "a picture")
    shot = a.store.add_screenshot(png)
    a.store.start_conversation("Green", "what?", screenshot_sha256=shot.sha256)
    converge([a, b])
    sealed = [p for p in (server.data_dir / "blobs" / "sealed").rglob("*") if p.is_file()]
    assert len(sealed) == 1 and png not in sealed[0].read_bytes()
    data = bytearray(sealed[0].read_bytes())
    data[100] ^= 0x01  # one bit of the stored picture
    sealed[0].write_bytes(bytes(data))

    runner = b.start()
    wait_for(lambda: runner.status.state is SyncState.UP_TO_DATE, what="b live")
    with pytest.raises(Tampered):
        runner.fetch_blob(shot.sha256).result(20)
    b.stop()
    assert b.store.missing_blob(shot.sha256)
    assert [(p.record_id, p.code) for p in b.store.sync_problems()] == [(shot.sha256, "tampered")]
    assert any("was altered" in notice for notice in b.notices)


@SQLITE_ONLY
def test_an_old_state_the_server_replays_changes_nothing(
    fleet: Fleet, server: RunningServer
) -> None:
    """Authentic but old (12.7): it opens, and the merge keeps the newer state it lost to."""
    a, b = fleet.device(), fleet.device()
    encrypt(a)
    unlock(b)
    conversation = a.store.create_conversation("First title")
    a.sync()
    (_seq, first), *_ = _payloads(server, 0)
    a.store.update_conversation(conversation.id, title="Newer title")
    converge([a, b])
    with sqlite3.connect(server.data_dir / "server.db") as db:  # the old change, sent again
        user_id, head = db.execute("SELECT user_id, head FROM user_counters").fetchone()
        db.execute(
            "INSERT INTO changes (user_id, seq, op_id, device_id, conversation_id, payload, size)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (user_id, head + 1, str(uuid.uuid4()), a.store.device_id, conversation.id,
             json.dumps(first), len(json.dumps(first))),
        )  # fmt: skip
        db.execute("UPDATE user_counters SET head = ? WHERE user_id = ?", (head + 1, user_id))
    b.sync()
    assert b.store.sync_cursor() == head + 1  # applied: it opened
    assert b.store.get_conversation(conversation.id).conversation.title == "Newer title"
    assert b.store.sync_problems() == []


@SQLITE_ONLY
def test_rotating_keys_and_changing_the_passphrase_from_a_device(fleet: Fleet) -> None:
    a, b = fleet.device(), fleet.device()
    encrypt(a)
    unlock(b)
    conversation, _ = a.store.start_conversation("Before the rotation", "question")
    converge([a, b])
    before = b.keystore().load()
    assert before is not None and before.keys.current.generation == 0

    asyncio.run(a.engine().rotate_keys())
    a.store.add_message(conversation.id, "user", "sealed with the new key")
    a.sync()
    b.sync()  # a newer key record: b opens the new key with the root key it holds, no asking
    after = b.keystore().load()
    assert after is not None and after.keys.current.generation == 1 and len(after.keys) == 2
    texts = [m.text for m in b.store.get_conversation(conversation.id).messages]
    assert texts == ["question", "sealed with the new key"]

    # A record naming a key b lacks (its keyring lost it): b fetches the key record, then opens.
    b.keystore().save(dataclasses.replace(before, version=after.version))
    a.store.add_message(conversation.id, "model", "another one", model="m")
    a.sync()
    b.sync()
    assert len(b.store.get_conversation(conversation.id).messages) == 3
    assert b.store.sync_problems() == []

    asyncio.run(a.engine().change_passphrase("the second sync passphrase"))
    with pytest.raises(Locked, match="changed on another device"):
        b.sync()
    unlock(b, "the second sync passphrase")
    b.store.add_message(conversation.id, "user", "from b after the change")
    converge([a, b])
    assert snapshot(a.store) == snapshot(b.store)
    assert a.store.sync_problems() == [] and b.store.sync_problems() == []


@SQLITE_ONLY
def test_a_clear_push_to_an_encrypted_account_keeps_the_op(fleet: Fleet) -> None:
    """A device that has not yet heard of the turn-on pushes clear: refused, and kept."""
    a, b = fleet.device(), fleet.device()
    encrypt(a)
    b.store.start_conversation("Written before b knew", "question")
    queued = b.store.outbox_count()

    async def push_clear() -> PushOutcome:
        conn = await Connection.open(b.ws_url, b.token)
        try:
            await conn.request(Hello(b.store.device_id, 0, features=(FEATURE_E2EE,)))
            return await Outgoing(b.store, conn, DEFAULT_LIMITS).push_all()
        finally:
            await conn.close()

    outcome = asyncio.run(push_clear())
    assert outcome.encryption_changed and outcome.rejected == []
    assert b.store.outbox_count() == queued and b.store.sync_problems() == []
    with pytest.raises(Locked):  # the next session learns why, and the ops wait for the keys
        b.sync()
    unlock(b)
    converge([a, b])
    assert [c.title for c in a.store.list_conversations()] == ["Written before b knew"]


@SQLITE_ONLY
def test_unlocking_after_the_passphrase_changed_again_while_locked(fleet: Fleet) -> None:
    a, b = fleet.device(), fleet.device()
    encrypt(a)
    unlock(b)
    a.store.start_conversation("Shared", "question")
    converge([a, b])
    runner = b.start()
    wait_for(lambda: runner.status.state is SyncState.UP_TO_DATE, what="b live")
    asyncio.run(a.engine().change_passphrase("the second sync passphrase"))
    wait_for(lambda: runner.status.locked, what="b locked")
    asyncio.run(a.engine().change_passphrase("the third sync passphrase"))
    # b kept the record it saw when it locked; the newest passphrase still opens the keys.
    runner.unlock("the third sync passphrase").result(30)
    wait_for(lambda: runner.status.state is SyncState.UP_TO_DATE, what="b unlocked")
    with pytest.raises(WrongPassphrase):
        runner.unlock("not any of them at all").result(30)
    b.stop()


@SQLITE_ONLY
def test_a_pull_of_several_pages_is_opened_page_by_page(
    fleet: Fleet, server: RunningServer
) -> None:
    """Pages over 1,000 changes: the next page is opened while this one is applied."""
    a, b = fleet.device(), fleet.device()
    encrypt(a)
    for index in range(700):  # 1,400 changes: two pages
        a.store.start_conversation(f"topic {index}", f"question {index}")
    a.sync()
    rows = _payloads(server, 0)
    assert len(rows) == 1400
    seq, late = rows[1200]  # in the second page
    _rewrite(server, seq, {**late, "data": _flip(str(late["data"]), 70)})

    unlock(b)
    result = b.sync()
    assert result.pulled == 1400
    assert len(b.store.list_conversations(limit=1000)) == 700 - (late["kind"] == "conversation")
    assert [(p.record_id, p.code) for p in b.store.sync_problems()] == [(late["id"], "tampered")]
