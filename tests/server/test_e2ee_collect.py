"""Collecting an encrypted account's tombstones once every device confirmed them (12.12)."""

from __future__ import annotations

from typing import Any

from snapask_desktop.server import schema
from snapask_desktop.server.accounts import now_ms
from snapask_desktop.server.testing import RunningServer
from snapask_desktop.sync.limits import MAX_DELETED_CONVERSATIONS, TOMBSTONE_MIN_AGE_MS
from snapask_desktop.sync.merge import edit_conversation
from snapask_desktop.sync.records import ConversationState
from tests.server.helpers import Conn, conversation, message, new_id, now_hlc, op, screenshot
from tests.server.sealing import sealed, sealed_picture
from tests.server.test_e2ee_sync import Connect, connect, count, get_blob, put_blob, turn_on
from tests.server.test_tombstones import _wait_applied

__all__ = ["connect"]  # the fixture


def _edit(state: ConversationState, device_id: str, **fields: Any) -> ConversationState:
    return edit_conversation(state, fields, device_id=device_id, hlc=now_hlc(), now_ms=0)


def _applied(srv: RunningServer, device_id: str, conn: Conn, cursor: int) -> None:
    conn.send({"type": "applied", "cursor": cursor})
    _wait_applied(srv, device_id, cursor)


def _confirm(conn: Conn, cursor: int, *items: tuple[str, int]) -> None:
    conversations = [{"id": cid, "deleted_at": at} for cid, at in items]
    conn.send({"type": "deleted", "cursor": cursor, "conversations": conversations})
    conn.pull(cursor)  # frames are handled in order: the confirmation is stored by now


def _collect(srv: RunningServer) -> int:
    old_enough = now_ms() + TOMBSTONE_MIN_AGE_MS + 1000
    return int(srv.call(lambda: srv.server.collect(old_enough)))


def test_a_sealed_tombstone_goes_once_every_device_applied_and_confirmed_its_stamp(
    srv: RunningServer, connect: Connect
) -> None:
    laptop_id, laptop = connect()
    phone_id, phone = connect()
    turn_on(laptop)
    assert phone.recv()["type"] == "keys"
    blob_id, data = sealed_picture(b"a picture" * 300)
    assert put_blob(laptop, blob_id, data)["complete"] is True
    chat = conversation(laptop_id, "Doomed")
    kept = conversation(laptop_id, "Kept")
    deleted = _edit(chat, laptop_id, deleted=True)
    stamp = deleted.field_hlc["deleted"].hlc
    ops = [op(sealed(screenshot("cd" * 32))), op(sealed(chat)),
           op(sealed(message(laptop_id, chat.id, screenshot="cd" * 32))), op(sealed(kept)),
           op(sealed(deleted))]  # fmt: skip
    head = laptop.push(*ops)["results"][-1]["seq"]
    assert head == 5
    assert _collect(srv) == 0  # nobody confirmed
    _applied(srv, laptop_id, laptop, head)
    _applied(srv, phone_id, phone, head - 1)
    _confirm(laptop, head, (chat.id, stamp))
    assert _collect(srv) == 0  # the phone has not confirmed
    _confirm(phone, head, (chat.id, stamp - 1))  # another stamp: stale, ignored
    assert _collect(srv) == 0
    _confirm(phone, head - 1, (chat.id, stamp))  # made before it saw the newest change
    assert _collect(srv) == 0
    _confirm(phone, head, (chat.id, stamp))
    assert count(srv, schema.deleted_confirmations, conversation_id=chat.id) == 2
    assert _collect(srv) == 0  # the phone has not applied (and pushed) past the delete yet
    _applied(srv, phone_id, phone, head)
    assert _collect(srv) == 1

    purge = phone.next_live()
    while purge["changes"][0]["payload"]["type"] != "purge":
        purge = phone.next_live()
    change = purge["changes"][0]
    assert change["seq"] == head + 1 and change["device_id"] is None
    # No pictures named: which message shows a sealed picture is inside the ciphertext.
    assert change["payload"] == {"type": "purge", "conversation_id": chat.id, "screenshots": []}
    assert get_blob(laptop, blob_id) == data
    assert count(srv, schema.deleted_confirmations) == 0
    # A device signing in later never sees the conversation; later ops for it are gone.
    _, newcomer = connect()
    changes, cursor = newcomer.pull_all()
    assert cursor == head + 1
    assert [(c["payload"]["type"], c["payload"].get("kind"), c["payload"].get("id"))
            for c in changes] == [("sealed", "screenshot", ops[0]["payload"]["id"]),
                                  ("sealed", "conversation", kept.id),
                                  ("purge", None, None)]  # fmt: skip
    late = laptop.push(op(sealed(message(laptop_id, chat.id, "too late"))))["results"][0]
    assert (late["status"], late["code"]) == ("rejected", "gone")


def test_a_later_op_voids_the_confirmations_and_a_new_delete_needs_new_ones(
    srv: RunningServer, connect: Connect
) -> None:
    device_id, conn = connect()
    turn_on(conn)
    chat = conversation(device_id, "Back and forth")
    deleted = _edit(chat, device_id, deleted=True)
    first = deleted.field_hlc["deleted"].hlc
    head = conn.push(op(sealed(chat)), op(sealed(deleted)))["results"][-1]["seq"]
    _confirm(conn, head, (chat.id, first))
    # A message after the confirmation: a device may find the delete cancelled (9.6.1).
    head = conn.push(op(sealed(message(device_id, chat.id))))["results"][0]["seq"]
    _applied(srv, device_id, conn, head)
    assert _collect(srv) == 0
    # Restored: the newest conversation op is not a delete; confirmations do not count.
    restored = _edit(deleted, device_id, deleted=False)
    head = conn.push(op(sealed(restored)))["results"][0]["seq"]
    _applied(srv, device_id, conn, head)
    _confirm(conn, head, (chat.id, first))
    assert _collect(srv) == 0
    # Deleted again: only a confirmation of the new stamp counts.
    again = _edit(restored, device_id, deleted=True)
    second = again.field_hlc["deleted"].hlc
    head = conn.push(op(sealed(again)))["results"][0]["seq"]
    _applied(srv, device_id, conn, head)
    assert _collect(srv) == 0
    _confirm(conn, head, (chat.id, second))
    assert _collect(srv) == 1


def test_the_deleted_frame_needs_e2ee_and_counts_only_on_an_encrypted_account(
    srv: RunningServer, connect: Connect
) -> None:
    device_id, conn = connect()
    chat = conversation(device_id, "Clear")
    deleted = _edit(chat, device_id, deleted=True)
    head = conn.push(op(chat), op(deleted))["results"][-1]["seq"]
    item = {"id": chat.id, "deleted_at": deleted.field_hlc["deleted"].hlc}
    _confirm(conn, head, (item["id"], item["deleted_at"]))
    assert count(srv, schema.deleted_confirmations) == 0  # a clear account: the server judges
    _, old_client = connect(features=())
    reply = old_client.request(
        {"type": "deleted", "id": 7, "cursor": head, "conversations": [item]}
    )
    assert (reply["type"], reply["code"]) == ("error", "bad_sequence")
    too_many = [item] * (MAX_DELETED_CONVERSATIONS + 1)
    reply = conn.request({"type": "deleted", "id": 8, "cursor": head, "conversations": too_many})
    assert (reply["type"], reply["code"]) == ("error", "too_large")
    reply = conn.request({"type": "deleted", "id": 9, "cursor": head,
                          "conversations": [{"id": "nope", "deleted_at": 1}]})  # fmt: skip
    assert (reply["type"], reply["code"]) == ("error", "bad_field")
    # Unknown conversations are not stored on an encrypted account either.
    turn_on(conn)
    _confirm(conn, head, (new_id(), 1))
    assert count(srv, schema.deleted_confirmations) == 0


def test_a_revoked_device_neither_holds_a_sealed_tombstone_back_nor_counts(
    srv: RunningServer, connect: Connect
) -> None:
    device_id, conn = connect()
    silent_id, _ = connect()  # never confirms anything
    turn_on(conn)
    chat = conversation(device_id, "Gone soon")
    deleted = _edit(chat, device_id, deleted=True)
    stamp = deleted.field_hlc["deleted"].hlc
    head = conn.push(op(sealed(chat)), op(sealed(deleted)))["results"][-1]["seq"]
    _applied(srv, device_id, conn, head)
    _confirm(conn, head, (chat.id, stamp))
    assert _collect(srv) == 0  # the silent device holds it
    assert srv.revoke(silent_id)
    assert _collect(srv) == 1
