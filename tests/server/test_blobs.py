"""Blob upload and download in chunks, resumed uploads, mismatches, limits, isolation."""

from __future__ import annotations

import base64
import hashlib
import os

from snapask_desktop.server.testing import RunningServer
from snapask_desktop.sync.limits import BLOB_CHUNK_BYTES, MAX_BLOB_BYTES
from tests.server.conftest import DeviceFactory
from tests.server.helpers import Conn, connect_device

CHUNK = 1 << 20


def _put(conn: Conn, sha: str, size: int, offset: int, data: bytes) -> dict[str, object]:
    return conn.request({"type": "blob_put", "sha256": sha, "size": size, "offset": offset,
                         "data": base64.b64encode(data).decode()})  # fmt: skip


def _get_all(conn: Conn, sha: str) -> bytes:
    out = b""
    while True:
        reply = conn.request({"type": "blob_get", "sha256": sha, "offset": len(out)})
        assert reply["type"] == "blob", reply
        out += base64.b64decode(reply["data"])
        if len(out) == reply["size"]:
            return out


def test_chunked_upload_and_download(srv: RunningServer, device: DeviceFactory) -> None:
    _, _, conn = device()
    data = os.urandom(5 * CHUNK + 123)
    sha = hashlib.sha256(data).hexdigest()
    probe = _put(conn, sha, len(data), 0, b"")
    assert (probe["received"], probe["complete"]) == (0, False)
    offset = 0
    while offset < len(data):
        ack = _put(conn, sha, len(data), offset, data[offset : offset + 2 * CHUNK])
        assert ack["type"] == "blob_ack"
        offset = ack["received"]
    assert ack["complete"] is True and ack["size"] == len(data)
    assert _get_all(conn, sha) == data
    # Content-addressed on disk, once.
    assert (srv.data_dir / "blobs" / sha[:2] / sha).read_bytes() == data
    # Uploading it again: the first ack says it is complete.
    again = _put(conn, sha, len(data), 0, b"")
    assert again["complete"] is True and again["received"] == len(data)
    # A download chunk never exceeds BLOB_CHUNK_BYTES.
    reply = conn.request({"type": "blob_get", "sha256": sha, "offset": 0})
    assert len(base64.b64decode(reply["data"])) == BLOB_CHUNK_BYTES
    beyond = conn.request({"type": "blob_get", "sha256": sha, "offset": len(data)})
    assert beyond["type"] == "error" and beyond["code"] == "bad_field"


def test_an_upload_resumes_after_reconnecting(srv: RunningServer, device: DeviceFactory) -> None:
    device_id, token, conn = device()
    data = os.urandom(3 * CHUNK)
    sha = hashlib.sha256(data).hexdigest()
    assert _put(conn, sha, len(data), 0, data[:CHUNK])["received"] == CHUNK
    conn.close()
    conn = connect_device(srv, token, device_id)
    probe = _put(conn, sha, len(data), 0, b"")
    assert probe["received"] == CHUNK and probe["complete"] is False
    # A chunk at the wrong offset is not stored; the ack says where to go on.
    assert _put(conn, sha, len(data), 2 * CHUNK, data[2 * CHUNK :])["received"] == CHUNK
    assert _put(conn, sha, len(data), CHUNK, data[CHUNK : 2 * CHUNK])["received"] == 2 * CHUNK
    assert _put(conn, sha, len(data), 2 * CHUNK, data[2 * CHUNK :])["complete"] is True
    assert _get_all(conn, sha) == data
    conn.close()


def test_bytes_that_do_not_match_the_hash_are_discarded(device: DeviceFactory) -> None:
    _, _, conn = device()
    data = b"real bytes"
    wrong_sha = hashlib.sha256(b"other bytes").hexdigest()
    reply = _put(conn, wrong_sha, len(data), 0, data)
    assert reply["type"] == "error" and reply["code"] == "blob_mismatch"
    assert conn.request({"type": "blob_get", "sha256": wrong_sha})["type"] == "blob_missing"
    assert _put(conn, wrong_sha, len(data), 0, b"")["received"] == 0
    # A different size than the upload in progress is a mismatch too.
    sha = hashlib.sha256(b"0123456789").hexdigest()
    assert _put(conn, sha, 10, 0, b"01234")["received"] == 5
    reply = _put(conn, sha, 11, 5, b"56789")
    assert reply["code"] == "blob_mismatch"


def test_size_limits_are_too_large(device: DeviceFactory) -> None:
    _, _, conn = device()
    sha = "cd" * 32
    reply = _put(conn, sha, MAX_BLOB_BYTES + 1, 0, b"")
    assert reply["type"] == "error" and reply["code"] == "too_large"
    chunk = b"\0" * (BLOB_CHUNK_BYTES + 1)
    reply = _put(conn, sha, MAX_BLOB_BYTES, 0, chunk)
    assert reply["type"] == "error" and reply["code"] == "too_large"
    assert conn.pull(0)["type"] == "changes"  # still connected


def test_missing_blobs_and_other_users_blobs(srv: RunningServer, device: DeviceFactory) -> None:
    _, _, ada = device()
    srv.add_user("bob", "pw-bob")
    _, _, bob = device("bob", "pw-bob")
    data = b"ada's picture"
    sha = hashlib.sha256(data).hexdigest()
    reply = ada.request({"type": "blob_get", "id": "g", "sha256": sha})
    assert reply == {"type": "blob_missing", "id": "g", "sha256": sha}
    assert _put(ada, sha, len(data), 0, data)["complete"] is True
    # Bob cannot read ada's blob, nor learn that it exists.
    assert bob.request({"type": "blob_get", "sha256": sha})["type"] == "blob_missing"
    probe = _put(bob, sha, len(data), 0, b"")
    assert (probe["received"], probe["complete"]) == (0, False)
    # Once bob uploads the same bytes he can read them; one copy stays on disk.
    assert _put(bob, sha, len(data), 0, data)["complete"] is True
    assert _get_all(bob, sha) == data
    assert len(list((srv.data_dir / "blobs").glob(f"*/{sha}"))) == 1
