"""Changing the sync passphrase and rotating the items keys from a device (sync-protocol.md
12.5), with real devices and the real server on 127.0.0.1 (its embedded SQLite: each unlock
derives a 256 MiB Argon2id key, and the crypto does not depend on the server's database)."""

from __future__ import annotations

import asyncio
import base64
import json
import sqlite3

import pytest

from snapask_desktop.server.testing import RunningServer
from snapask_desktop.sync.crypto import WrongPassphrase, blob_id_of_sha256, sealed_key_id
from snapask_desktop.sync.device.client import EncryptionError, Locked
from snapask_desktop.sync.device.status import SyncState
from tests.syncing.conftest import Device, Fleet, converge, snapshot, wait_for
from tests.syncing.test_e2ee import PASSPHRASE, _png, encrypt, unlock

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
NEW_PASSPHRASE = "the second sync passphrase"


def _head(server: RunningServer) -> int:
    with sqlite3.connect(server.data_dir / "server.db") as db:
        return int(db.execute("SELECT head FROM user_counters").fetchone()[0])


def _newest_key_ids(server: RunningServer) -> dict[tuple[str, str], bytes]:
    """The items key id each record's newest sealed copy on the server names."""
    newest: dict[tuple[str, str], bytes] = {}
    with sqlite3.connect(server.data_dir / "server.db") as db:
        for (payload,) in db.execute("SELECT payload FROM changes ORDER BY seq"):
            obj = json.loads(payload)
            if obj["type"] != "sealed":
                continue
            newest[(obj["kind"], obj["id"])] = sealed_key_id(base64.b64decode(obj["data"]))
    return newest


def _keys_version(device: Device) -> int:
    held = device.keystore().load()
    assert held is not None
    return held.version


def test_changing_the_passphrase_seals_nothing_again_and_locks_the_others(
    fleet: Fleet, server: RunningServer
) -> None:
    a, b = fleet.device(), fleet.device()
    encrypt(a)
    unlock(b)
    conversation, _ = a.store.start_conversation("Before the change", "question")
    converge([a, b])
    head, version = _head(server), _keys_version(a)
    keys_before = {k.key_id for k in a.keystore().load().keys}  # type: ignore[union-attr]

    asyncio.run(a.engine().change_passphrase(NEW_PASSPHRASE))
    assert _head(server) == head  # no record was sealed again or sent
    assert a.store.outbox_count() == 0
    held = a.keystore().load()
    assert held is not None and held.version > version
    assert {k.key_id for k in held.keys} == keys_before  # the same items keys, re-wrapped
    a.sync()  # a syncs on with the keys it kept, asking nothing
    with pytest.raises(Locked, match="changed on another device"):
        b.sync()
    with pytest.raises(WrongPassphrase):
        unlock(b)  # the old passphrase no longer opens the keys
    unlock(b, NEW_PASSPHRASE)
    assert _keys_version(b) == held.version
    b.store.add_message(conversation.id, "user", "from b after the change")
    a.store.add_message(conversation.id, "model", "from a after the change", model="m")
    converge([a, b])
    assert snapshot(a.store) == snapshot(b.store)
    assert len(a.store.get_conversation(conversation.id).messages) == 3
    assert a.store.sync_problems() == [] and b.store.sync_problems() == []


def test_a_live_device_locks_when_the_passphrase_changes_and_unlocks_with_the_new_one(
    fleet: Fleet,
) -> None:
    a, b = fleet.device(), fleet.device()
    encrypt(a)
    unlock(b)
    runner = b.start()
    wait_for(lambda: runner.status.state is SyncState.UP_TO_DATE, what="b live")
    asyncio.run(a.engine().change_passphrase(NEW_PASSPHRASE))
    wait_for(lambda: runner.status.locked, what="b locked by the live keys frame")
    with pytest.raises(WrongPassphrase):
        runner.unlock(PASSPHRASE).result(30)
    runner.unlock(NEW_PASSPHRASE).result(30)
    a.store.start_conversation("After the change", "question")
    a.sync()
    wait_for(
        lambda: [c.title for c in b.store.list_conversations()] == ["After the change"],
        what="b syncing with the new passphrase",
    )
    assert not runner.status.locked
    b.stop()


def test_rotating_keys_reseals_every_record_in_the_background(
    fleet: Fleet, server: RunningServer
) -> None:
    a, b = fleet.device(), fleet.device()
    encrypt(a)
    unlock(b)
    shot = a.store.add_screenshot(_png((0, 90, 200)))
    first, _ = a.store.start_conversation("First", "a question", screenshot_sha256=shot.sha256)
    a.store.set_screenshot_text(shot.sha256, "read from the picture", "tesseract 5")
    second, _ = a.store.start_conversation("Second", "another question")
    converge([a, b])
    old = a.keystore().load()
    assert old is not None
    old_id = old.keys.current.key_id
    assert set(_newest_key_ids(server).values()) == {old_id}

    queued = asyncio.run(a.engine().rotate_keys())
    assert queued == a.store.outbox_count() > 0  # every record, queued again
    rotated = a.keystore().load()
    assert rotated is not None and rotated.keys.current.generation == 1
    new_id = rotated.keys.current.key_id
    assert len(rotated.keys) == 2 and rotated.keys.get(old_id) == old.keys.current

    a.store.add_message(second.id, "user", "sealed with the new key")
    head = _head(server)
    a.sync()  # the background resend and the new message go out
    assert a.store.outbox_count() == 0
    newest = _newest_key_ids(server)
    # Every conversation's and message's newest copy names the new key. A picture's records
    # are named by a keyed hash of the picture: the new key's copies come under new names
    # (the picture uploaded again), and the old names keep their old copies.
    records = {name: key for name, key in newest.items() if name[0] in ("conversation", "message")}
    assert len(records) == 5 and set(records.values()) == {new_id}
    pictures = {name: key for name, key in newest.items() if name not in records}
    new_name = blob_id_of_sha256(rotated.keys.current, shot.sha256)
    old_name = blob_id_of_sha256(old.keys.current, shot.sha256)
    assert pictures == {
        ("screenshot", old_name): old_id,
        ("picture_text", old_name): old_id,
        ("screenshot", new_name): new_id,
        ("picture_text", new_name): new_id,
    }
    with sqlite3.connect(server.data_dir / "server.db") as db:
        row = db.execute("SELECT payload FROM changes WHERE seq = ?", (_head(server),))
        (payload,) = row.fetchone()
    assert _head(server) > head and json.loads(payload)["type"] == "sealed"

    b.sync()  # the new key opens with the root key b holds: no passphrase asked
    held = b.keystore().load()
    assert held is not None and held.keys.current.key_id == new_id
    texts = [m.text for m in b.store.get_conversation(second.id).messages]
    assert texts == ["another question", "sealed with the new key"]
    assert b.store.screenshot_text(shot.sha256) == "read from the picture"
    assert b.store.sync_problems() == []

    # A device joining after the rotation opens old and new copies with the passphrase.
    c = fleet.device()
    unlock(c)
    c.sync()
    assert snapshot(c.store) == snapshot(a.store) == snapshot(b.store)
    runner = c.start()  # the picture comes sealed with the new key, under its new name
    wait_for(lambda: runner.status.state is SyncState.UP_TO_DATE, what="c live")
    assert runner.fetch_blob(shot.sha256).result(20) is True
    assert c.store.screenshot_bytes(shot.sha256, verify=True) == _png((0, 90, 200))
    c.stop()
    assert [m.text for m in c.store.get_conversation(first.id).messages] == ["a question"]
    assert c.store.sync_problems() == []


def test_a_live_device_takes_a_rotated_key_without_asking(
    fleet: Fleet, server: RunningServer
) -> None:
    a, b = fleet.device(), fleet.device()
    encrypt(a)
    unlock(b)
    runner = b.start()
    wait_for(lambda: runner.status.state is SyncState.UP_TO_DATE, what="b live")
    asyncio.run(a.engine().rotate_keys())
    rotated = a.keystore().load()
    assert rotated is not None
    wait_for(  # the live keys frame: b refreshes with the root key it holds
        lambda: (held := b.keystore().load()) is not None and held.version == rotated.version,
        what="b holding the rotated key",
    )
    conversation, _ = a.store.start_conversation("After the rotation", "question")
    a.sync()
    newest = _newest_key_ids(server)
    assert newest[("conversation", conversation.id)] == rotated.keys.current.key_id
    wait_for(
        lambda: [c.title for c in b.store.list_conversations()] == ["After the rotation"],
        what="b opening what the new key sealed",
    )
    assert not runner.status.locked and b.store.sync_problems() == []
    b.stop()


def test_a_rotation_racing_a_passphrase_change_is_taken_in(fleet: Fleet) -> None:
    """The change derives its key for about 0.5 s; the rotation lands meanwhile, so the
    change's put meets keys_conflict and is made again from the rotated record."""
    a, b = fleet.device(), fleet.device()
    encrypt(a)
    unlock(b)

    async def both() -> None:
        change = asyncio.ensure_future(a.engine().change_passphrase(NEW_PASSPHRASE))
        await b.engine().rotate_keys()
        await change

    asyncio.run(both())
    held = a.keystore().load()
    assert held is not None and held.keys.current.generation == 1 and len(held.keys) == 2
    c = fleet.device()
    unlock(c, NEW_PASSPHRASE)  # the rotated key is wrapped under the new passphrase too
    joined = c.keystore().load()
    assert joined is not None and {k.key_id for k in joined.keys} == {k.key_id for k in held.keys}
    with pytest.raises(Locked, match="changed on another device"):
        b.sync()


def test_two_passphrase_changes_at_once_one_wins_and_the_other_is_told(fleet: Fleet) -> None:
    a, b = fleet.device(), fleet.device()
    encrypt(a)
    unlock(b)

    async def both() -> list[BaseException | None]:
        results = await asyncio.gather(
            a.engine().change_passphrase("a's new sync passphrase"),
            b.engine().change_passphrase("b's new sync passphrase"),
            return_exceptions=True,
        )
        return list(results)

    results = asyncio.run(both())
    assert sorted(r is None for r in results) == [False, True]
    failed = next(r for r in results if r is not None)
    assert isinstance(failed, EncryptionError) and "changed on another device" in str(failed)
    winner, loser = (a, b) if results[0] is None else (b, a)
    winning = "a's new sync passphrase" if winner is a else "b's new sync passphrase"
    with pytest.raises(Locked):
        loser.sync()
    unlock(loser, winning)
    winner.store.start_conversation("After the race", "question")
    converge([a, b])
    assert [c.title for c in loser.store.list_conversations()] == ["After the race"]


def test_changing_keys_needs_the_device_unlocked(fleet: Fleet) -> None:
    a, b = fleet.device(), fleet.device()
    encrypt(a)
    with pytest.raises(EncryptionError, match="Unlock this device"):
        asyncio.run(b.engine().rotate_keys())
    with pytest.raises(EncryptionError, match="Unlock this device"):
        asyncio.run(b.engine().change_passphrase(NEW_PASSPHRASE))
