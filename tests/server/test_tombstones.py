"""Collecting deleted conversations once every device has applied them (section 10)."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import time

from snapask_desktop.server import accounts
from snapask_desktop.server.testing import RunningServer
from snapask_desktop.sync.limits import TOMBSTONE_MIN_AGE_MS
from snapask_desktop.sync.merge import edit_conversation
from tests.server.conftest import DeviceFactory
from tests.server.helpers import WAIT_S, conversation, message, now_hlc, screenshot

LATER = 1000  # ms after the tombstone's minimum age


def _wait_applied(srv: RunningServer, device_id: str, cursor: int) -> None:
    """Wait until the server saved the device's ``applied`` cursor (housekeeping)."""
    deadline = time.monotonic() + WAIT_S
    while True:
        saved = {d.device_id: d.applied_cursor for d in accounts.list_devices(srv.server.db)}
        if saved[device_id] >= cursor:
            return
        assert time.monotonic() < deadline, "the applied cursor was not saved"
        time.sleep(0.05)


def test_a_deleted_conversation_is_collected_when_every_device_applied_it(
    srv: RunningServer, device: DeviceFactory
) -> None:
    laptop, _, a = device()
    phone, _, b = device()
    data = b"picture bytes"
    sha = hashlib.sha256(data).hexdigest()
    put = {"type": "blob_put", "sha256": sha, "size": len(data), "offset": 0,
           "data": base64.b64encode(data).decode()}  # fmt: skip
    assert a.request(put)["complete"] is True
    conv = conversation(laptop)
    kept = conversation(laptop, "kept")
    a.push_payloads(screenshot(sha, len(data)), conv, message(laptop, conv.id, screenshot=sha),
                    kept)  # fmt: skip
    deleted = edit_conversation(conv, {"deleted": True}, device_id=laptop, hlc=now_hlc(),
                                now_ms=0)  # fmt: skip
    head = a.push_payloads(deleted)[0]["seq"]
    old_enough = time.time_ns() // 1_000_000 + TOMBSTONE_MIN_AGE_MS + LATER

    # Not old enough yet: nothing happens.
    assert srv.call(lambda: srv.server.collect()) == 0
    # Old enough, but device b has not acknowledged the delete yet.
    a.send({"type": "applied", "cursor": head})
    _wait_applied(srv, laptop, head)
    assert srv.call(lambda: srv.server.collect(old_enough)) == 0
    b.send({"type": "applied", "cursor": head - 1})  # not far enough
    _wait_applied(srv, phone, head - 1)
    assert srv.call(lambda: srv.server.collect(old_enough)) == 0
    b.send({"type": "applied", "cursor": head})
    _wait_applied(srv, phone, head)
    assert srv.call(lambda: srv.server.collect(old_enough)) == 1

    purge = b.next_live() if not b.live else b.live[-1]
    while purge["changes"][0]["payload"]["type"] != "purge":
        purge = b.next_live()
    change = purge["changes"][0]
    assert change["device_id"] is None and change["seq"] == head + 1
    assert change["payload"] == {"type": "purge", "conversation_id": conv.id,
                                 "screenshots": [sha]}  # fmt: skip
    # The conversation's changes are gone from the log; the rest stays.
    remaining, cursor = a.pull_all(0)
    assert cursor == head + 1
    kinds = [(c["payload"]["type"], c["payload"].get("id")) for c in remaining]
    assert kinds == [("screenshot", None), ("conversation", kept.id), ("purge", None)]
    # Its picture is dropped, and later ops for it are gone.
    assert a.request({"type": "blob_get", "sha256": sha})["type"] == "blob_missing"
    assert not (srv.data_dir / "blobs" / sha[:2] / sha).exists()
    late = edit_conversation(deleted, {"title": "too late"}, device_id=laptop, hlc=now_hlc(),
                             now_ms=0)  # fmt: skip
    results = a.push_payloads(late, message(laptop, conv.id, "late message"))
    assert [r["code"] for r in results] == ["gone", "gone"]
    # Collecting again finds nothing more.
    assert srv.call(lambda: srv.server.collect(old_enough)) == 0


def test_a_revoked_device_does_not_hold_collection_back(
    srv: RunningServer, device: DeviceFactory
) -> None:
    laptop, _, a = device()
    stale_id, _, _ = device()
    conv = conversation(laptop)
    a.push_payloads(conv)
    deleted = edit_conversation(conv, {"deleted": True}, device_id=laptop, hlc=now_hlc(),
                                now_ms=0)  # fmt: skip
    head = a.push_payloads(deleted)[0]["seq"]
    a.send({"type": "applied", "cursor": head})
    _wait_applied(srv, laptop, head)
    old_enough = time.time_ns() // 1_000_000 + TOMBSTONE_MIN_AGE_MS + LATER
    assert srv.call(lambda: srv.server.collect(old_enough)) == 0  # the stale device holds it
    assert srv.revoke(stale_id)
    assert srv.call(lambda: srv.server.collect(old_enough)) == 1


def test_a_message_newer_than_the_delete_keeps_the_conversation(
    srv: RunningServer, device: DeviceFactory
) -> None:
    """Rule 9.6.1 on the server's copy: no device writes a restore for such a message (it
    is derived state), so the server must see the delete as cancelled and never collect it."""
    laptop, _, a = device()
    phone, _, b = device()
    conv = conversation(laptop)
    a.push_payloads(conv)
    deleted = edit_conversation(conv, {"deleted": True}, device_id=laptop, hlc=now_hlc(),
                                now_ms=0)  # fmt: skip
    a.push_payloads(deleted)
    # The phone, offline since before the delete, writes into the conversation.
    late = message(phone, conv.id, "one more thing", offset_ms=5)
    assert late.hlc > deleted.field_hlc["deleted"].hlc
    head = b.push_payloads(late)[0]["seq"]
    for device_id, conn in ((laptop, a), (phone, b)):
        conn.send({"type": "applied", "cursor": head})
        _wait_applied(srv, device_id, head)
    old_enough = time.time_ns() // 1_000_000 + TOMBSTONE_MIN_AGE_MS + LATER
    assert srv.call(lambda: srv.server.collect(old_enough)) == 0
    # The server's copy says so (and the messages are still pulled by a new device).
    with srv.server.db.read() as conn:
        from snapask_desktop.server import schema

        row = conn.execute(schema.conversations.select()).one()
    assert row.deleted is False
    # A delete written after seeing the message is collected as usual.
    kept = dataclasses.replace(deleted, deleted=False)  # the laptop's derived state
    again = edit_conversation(kept, {"deleted": True}, device_id=laptop, hlc=now_hlc(10),
                              now_ms=0)  # fmt: skip
    head = a.push_payloads(again)[0]["seq"]
    for device_id, conn in ((laptop, a), (phone, b)):
        conn.send({"type": "applied", "cursor": head})
        _wait_applied(srv, device_id, head)
    assert srv.call(lambda: srv.server.collect(old_enough + 10)) == 1
