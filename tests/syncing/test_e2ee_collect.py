"""Real devices of an encrypted account confirm their deleted conversations, and the server
collects one only once every device has (docs/sync-protocol.md 12.12)."""

from __future__ import annotations

from sqlalchemy import select

from snapask_desktop.server import schema
from snapask_desktop.server.accounts import now_ms
from snapask_desktop.server.testing import RunningServer
from snapask_desktop.sync.limits import TOMBSTONE_MIN_AGE_MS
from tests.syncing.conftest import Device, Fleet, converge, snapshot, wait_for
from tests.syncing.test_e2ee import SQLITE_ONLY, encrypt, unlock


def _collect(server: RunningServer) -> int:
    old_enough = now_ms() + TOMBSTONE_MIN_AGE_MS + 1000
    return int(server.call(lambda: server.server.collect(old_enough)))


def _ids(device: Device) -> set[str]:
    return {row[0] for row in snapshot(device.store)["conversations"]}


def _confirmed(server: RunningServer, conversation_id: str) -> set[tuple[str, int]]:
    dc = schema.deleted_confirmations
    with server.server.db.read() as conn:
        rows = conn.execute(
            select(dc.c.device_id, dc.c.deleted_at).where(dc.c.conversation_id == conversation_id)
        )
        return {(row.device_id, row.deleted_at) for row in rows}


def test_a_conversation_deleted_everywhere_is_collected_once_both_devices_confirmed_it(
    fleet: Fleet, server: RunningServer
) -> None:
    a, b = fleet.device(), fleet.device()
    encrypt(a)
    unlock(b)
    doomed, _ = a.store.start_conversation("Doomed", "a question")
    kept, _ = a.store.start_conversation("Kept", "another question")
    converge([a, b])

    a.store.delete_conversation(doomed.id)
    a.sync()
    stamp = a.store.deleted_stamps([doomed.id])[doomed.id]
    # The frame has no reply: the pass may end before the server has stored it.
    mine = (a.store.device_id, stamp)
    wait_for(lambda: _confirmed(server, doomed.id) == {mine}, what="a's confirmation")
    assert _collect(server) == 0  # b has neither applied nor confirmed the delete
    b.sync()
    assert b.store.deleted_stamps() == {doomed.id: stamp}
    both = {mine, (b.store.device_id, stamp)}
    wait_for(lambda: _confirmed(server, doomed.id) == both, what="b's confirmation")
    assert _collect(server) == 1
    converge([a, b])
    assert doomed.id not in _ids(a) | _ids(b) and kept.id in _ids(a) & _ids(b)

    c = fleet.device()  # a device joining later never sees it
    unlock(c)
    c.sync()
    assert _ids(c) == {kept.id}
    assert snapshot(c.store) == snapshot(a.store)


@SQLITE_ONLY
def test_a_delete_a_newer_message_cancelled_is_never_confirmed_or_collected(
    fleet: Fleet, server: RunningServer
) -> None:
    a, b = fleet.device(), fleet.device()
    encrypt(a)
    unlock(b)
    chat, _ = a.store.start_conversation("Busy", "a question")
    converge([a, b])
    a.store.delete_conversation(chat.id)
    stamp = a.store.deleted_stamps()[chat.id]
    # b has not seen the delete and adds a message stamped after it: rule 9.6.1 cancels the
    # delete on every device, with no op, so the newest conversation op stays the delete.
    b.store.add_message(chat.id, "user", "one more thing")
    a.sync()  # a still holds the delete, and confirms it (made before b's message arrived)
    wait_for(lambda: _confirmed(server, chat.id) == {(a.store.device_id, stamp)}, what="a's")
    b.sync()
    converge([a, b])
    assert a.store.deleted_stamps() == {} and b.store.deleted_stamps() == {}
    # Neither holds it as deleted, so neither confirms it again (what a device confirms is
    # what deleted_stamps says); a's confirmation predates the message and does not count.
    assert _collect(server) == 0
    assert chat.id in _ids(a) & _ids(b)
    assert snapshot(a.store) == snapshot(b.store)


@SQLITE_ONLY
def test_an_older_state_sent_after_the_delete_is_outdone_by_a_device_pushing_its_own_again(
    fleet: Fleet, server: RunningServer
) -> None:
    a, b = fleet.device(), fleet.device()
    encrypt(a)
    unlock(b)
    chat, _ = a.store.start_conversation("Outdated", "a question")
    converge([a, b])
    a.store.delete_conversation(chat.id)
    a.sync()
    stamp = a.store.deleted_stamps()[chat.id]
    # b sends every record again before it has seen the delete (as after a first unlock):
    # the server's newest op of the conversation is now b's older, undeleted state.
    b.store.requeue_records()
    b.sync()
    assert b.store.deleted_stamps() == {chat.id: stamp}  # the delete dominates b's state
    converge([a, b])
    both = {(a.store.device_id, stamp), (b.store.device_id, stamp)}
    wait_for(lambda: _confirmed(server, chat.id) == both, what="both confirmations")
    assert _collect(server) == 1
    converge([a, b])
    assert chat.id not in _ids(a) | _ids(b)
