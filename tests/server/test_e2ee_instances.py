"""An encrypted account across two server instances (one PostgreSQL database, one Redis, one
shared data folder): the key record reaches the other instance's devices live, an old client
there is closed with 4005, and sealed records and pictures pass through both unchanged."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

from snapask_desktop.server.testing import RunningServer, running_server
from tests.server.conftest import PASSWORD, wait_redis
from tests.server.helpers import Conn, connect_device, conversation, message, new_id, op
from tests.server.sealing import E2EE, key_record, opened, sealed, sealed_picture
from tests.server.test_e2ee_sync import get_blob, put_blob
from tests.support.postgres import fresh_database
from tests.support.redis_server import RedisServer


def _device(srv: RunningServer, features: tuple[str, ...] = E2EE) -> tuple[str, Conn]:
    device_id = new_id()
    conn = connect_device(srv, srv.sign_in("ada", PASSWORD, device_id), device_id,
                          features=features)  # fmt: skip
    page = conn.pull(0)  # caught up: from now on the device is live
    assert page["type"] == "changes" and page["has_more"] is False
    return device_id, conn


def test_an_encrypted_account_through_two_instances(tmp_path: Path, redis: RedisServer) -> None:
    shared = tmp_path / "shared"  # one folder for both, as a shared file system mount
    with fresh_database() as url, ExitStack() as stack:
        one, two = (
            stack.enter_context(
                running_server(shared, database_url=url, redis_url=redis.url, instance=name)
            )
            for name in ("one", "two")
        )
        for srv in (one, two):
            wait_redis(srv, healthy=True)
        one.add_user("ada", PASSWORD)
        laptop_id, laptop = _device(one)
        _, phone = _device(two)
        _, old = _device(two, features=("picture_text",))

        record = key_record()
        reply = laptop.request({"type": "keys_put", "expect_version": 0, "record": record})
        assert reply["version"] == 1
        live = phone.recv()
        assert (live["type"], live["version"], live["record"]) == ("keys", 1, record)
        code, frames = old.closed()
        assert code == 4005 and [f["code"] for f in frames] == ["encryption_required"]

        chat = conversation(laptop_id, "Sealed on one")
        ops = [op(sealed(chat)), op(sealed(message(laptop_id, chat.id, "Seen on two?")))]
        assert [r["seq"] for r in laptop.push(*ops)["results"]] == [1, 2]
        relayed = phone.next_live()
        assert [c["payload"] for c in relayed["changes"]] == [o["payload"] for o in ops]
        assert opened(relayed["changes"][0]["payload"]) == chat.to_wire()

        blob_id, data = sealed_picture(b"\x89PNG" + bytes(range(256)) * 40)
        assert put_blob(laptop, blob_id, data, chunk=4096)["complete"] is True
        assert get_blob(phone, blob_id) == data
        for conn in (laptop, phone, old):
            conn.close()
