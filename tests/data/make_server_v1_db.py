"""Makes tests/data/server-v1.db: a sync server database written at schema 1 (before Alembic).

The file must come from the server code of that time (commit 1ca5a20, the last one whose
``schema.SCHEMA_VERSION`` is 1 and which had no server migrations), so run this script with
that code first on the path, from the repository root::

    mkdir /tmp/server-v1 && git archive 1ca5a20 snapask_desktop | tar -x -C /tmp/server-v1
    PYTHONPATH=/tmp/server-v1 .venv/bin/python tests/data/make_server_v1_db.py

It drives a real server over its real protocol (users, devices, a revoked device, pushes, a
picture, an unfinished upload, applied cursors), so the rows are what an operator's file holds.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "server-v1.db"


def build(target: Path) -> None:
    """Write the file with the server of that time (refuses to run with a later one)."""
    from snapask_desktop.server import schema
    from snapask_desktop.server.testing import running_server

    if schema.SCHEMA_VERSION != 1 or hasattr(schema, "HEAD_REVISION"):
        raise SystemExit("run this with the schema-1 server code on PYTHONPATH")
    from tests.server.helpers import connect_device, conversation, message

    with tempfile.TemporaryDirectory() as tmp, running_server(Path(tmp) / "s") as srv:
        for user in ("ada", "bob"):
            srv.add_user(user, f"pw-{user}")
        devices = {
            "ada-laptop": ("ada", "6f1c2b8e-0d4a-4c5e-9a41-3b7d2e9f1a01"),
            "ada-phone": ("ada", "6f1c2b8e-0d4a-4c5e-9a41-3b7d2e9f1a02"),
            "bob-laptop": ("bob", "0b0b0b0b-1111-4222-8333-444455556666"),
        }
        conns = {}
        for name, (user, device_id) in devices.items():
            token = srv.sign_in(user, f"pw-{user}", device_id, name)
            conns[name] = connect_device(srv, token, device_id)
        laptop = devices["ada-laptop"][1]
        chat = conversation(laptop, "Traceback in build.py")
        conns["ada-laptop"].push_payloads(chat, message(laptop, chat.id, "what is this?"))
        bob = devices["bob-laptop"][1]
        conns["bob-laptop"].push_payloads(conversation(bob, "Bob's chat"))
        picture = b"\x89PNG picture bytes" * 10
        sha = hashlib.sha256(picture).hexdigest()
        conns["ada-laptop"].request(
            {
                "type": "blob_put",
                "sha256": sha,
                "size": len(picture),
                "offset": 0,
                "data": base64.b64encode(picture).decode(),
            }
        )
        conns["ada-phone"].request(
            {
                "type": "blob_put",
                "sha256": "c" * 64,
                "size": 100,
                "offset": 0,
                "data": base64.b64encode(b"x" * 10).decode(),
            }
        )
        conns["ada-phone"].send({"type": "applied", "cursor": 2})
        time.sleep(1.5)  # one housekeeping round saves the applied cursor
        for conn in conns.values():
            conn.close()
        srv.revoke(devices["ada-phone"][1])
        srv.stop()
        shutil.copyfile(srv.data_dir / "server.db", target)
    with sqlite3.connect(target) as db:
        db.execute("PRAGMA journal_mode=DELETE")  # one self-contained file


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    OUT.unlink(missing_ok=True)
    build(OUT)
    print(f"wrote {OUT}")
