"""Abandoned uploads are removed and each user's pictures have a quota (issue 17, item 2)."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from sqlalchemy import func, select

from snapask_desktop.server import schema
from snapask_desktop.server.accounts import now_ms
from snapask_desktop.server.config import BlobQuota
from snapask_desktop.server.testing import RunningServer, running_server
from tests.server.conftest import PASSWORD, DeviceFactory
from tests.server.helpers import Conn, connect_device, new_id

MIB = 1024 * 1024
HOUR_MS = 3600 * 1000


def _put(conn: Conn, sha: str, size: int, offset: int, data: bytes) -> dict[str, object]:
    return conn.request({"type": "blob_put", "sha256": sha, "size": size, "offset": offset,
                         "data": base64.b64encode(data).decode()})  # fmt: skip


def _blob_rows(srv: RunningServer) -> int:
    with srv.server.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(schema.blobs)).scalar_one())


def _partials(srv: RunningServer) -> list[Path]:
    return sorted(p for p in (srv.data_dir / "blobs" / "partial").glob("*/*") if p.is_file())


def _start_upload(conn: Conn, declared: int, sent: int) -> str:
    """An upload of ``declared`` bytes left after ``sent`` bytes; returns its hash."""
    sha = hashlib.sha256(os.urandom(32)).hexdigest()
    ack = _put(conn, sha, declared, 0, os.urandom(sent))
    assert ack["type"] == "blob_ack" and ack["received"] == sent, ack
    return sha


def test_status_probes_for_new_hashes_keep_nothing(tmp_path: Path) -> None:
    with running_server(tmp_path / "s", frames_per_second=1000, frame_burst=1000) as srv:
        srv.add_user("ada", PASSWORD)
        device_id = new_id()
        conn = connect_device(srv, srv.sign_in("ada", PASSWORD, device_id), device_id)
        for _ in range(300):
            sha = hashlib.sha256(os.urandom(16)).hexdigest()
            ack = _put(conn, sha, 1000, 0, b"")
            assert (ack["type"], ack["received"], ack["complete"]) == ("blob_ack", 0, False)
        assert _blob_rows(srv) == 0
        conn.close()


def test_abandoned_uploads_are_removed_after_an_idle_hour(
    srv: RunningServer, device: DeviceFactory
) -> None:
    device_id, token, conn = device()
    abandoned = [_start_upload(conn, 3 * MIB, MIB) for _ in range(4)]
    complete = os.urandom(1000)
    done = hashlib.sha256(complete).hexdigest()
    assert _put(conn, done, len(complete), 0, complete)["complete"] is True
    conn.close()
    srv.restart()  # they stay across a restart...
    assert len(_partials(srv)) == 4 and _blob_rows(srv) == 5
    stray = srv.data_dir / "blobs" / "partial" / "1" / ("f" * 64)  # a crash's leftover
    stray.write_bytes(b"x" * 100)
    # ...an hour is not over yet...
    assert srv.call(lambda: srv.server.collect_uploads(now_ms() + HOUR_MS // 2)) == (0, 0)
    # ...then they go, rows and bytes, and the complete picture stays.
    removed, freed = srv.call(lambda: srv.server.collect_uploads(now_ms() + HOUR_MS + 1000))
    assert (removed, freed) == (4, 4 * MIB + 100)
    assert _partials(srv) == [] and _blob_rows(srv) == 1
    again = connect_device(srv, token, device_id)
    got = again.request({"type": "blob_get", "sha256": done, "offset": 0})
    assert base64.b64decode(got["data"]) == complete
    restarted = _put(again, abandoned[0], 3 * MIB, 0, b"")
    assert restarted["received"] == 0  # the device uploads it again from the start
    again.close()


def test_unfinished_uploads_and_stored_bytes_have_a_quota(tmp_path: Path) -> None:
    quota = BlobQuota(stored_bytes=6 * MIB, in_flight_bytes=5 * MIB, incomplete_uploads=2)
    with running_server(tmp_path / "s", blob_quota=quota) as srv:
        conns = {}
        for name in ("ada", "bob", "eve"):
            srv.add_user(name, PASSWORD)
            device_id = new_id()
            conns[name] = connect_device(srv, srv.sign_in(name, PASSWORD, device_id), device_id)
        ada, bob, eve = conns["ada"], conns["bob"], conns["eve"]
        # Unfinished uploads: at most 2.
        _start_upload(ada, MIB, 1000)
        _start_upload(ada, MIB, 1000)
        third = _put(ada, "a" * 64, 100, 0, b"x" * 10)
        assert third["type"] == "error" and third["code"] == "quota_exceeded"
        assert third["message"] == "upload not started: 2 uploads are unfinished (at most 2)"
        # Declared bytes in flight: at most 5 MiB.
        _start_upload(bob, 2 * MIB, 1000)
        big = _put(bob, "b" * 64, 4 * MIB, 0, b"x" * 10)
        assert big["code"] == "quota_exceeded"
        assert "unfinished uploads would hold 6 MiB (at most 5 MiB)" in str(big["message"])
        # Stored bytes, unfinished ones included: at most 6 MiB.
        answers = []
        for _ in range(3):
            blob = os.urandom(MIB + MIB // 2)
            answers.append(_put(bob, hashlib.sha256(blob).hexdigest(), len(blob), 0, blob))
        assert [a.get("complete") for a in answers[:2]] == [True, True]
        assert answers[2]["code"] == "quota_exceeded"
        assert "pictures would take 6.5 MiB of the account's 6 MiB" in str(answers[2]["message"])
        # Another user is not affected.
        blob = os.urandom(MIB)
        assert _put(eve, hashlib.sha256(blob).hexdigest(), MIB, 0, blob)["complete"] is True
        for conn in conns.values():
            conn.close()
