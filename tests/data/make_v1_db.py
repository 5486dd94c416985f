"""Makes tests/data/snapask-v1.db: a database at schema revision 0001 with a few rows.

Run from the repository root: ``.venv/bin/python tests/data/make_v1_db.py``. The rows are fixed
(ids, times, stamps) so the file is reproducible; the upgrade test checks them by value.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from snapask_desktop.store import migrate  # noqa: E402

OUT = Path(__file__).resolve().parent / "snapask-v1.db"
DEVICE = "5a1c0de5-0000-4000-8000-00000000d001"
T0 = 1_760_000_000_000  # 2025-10-09, unix ms
SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

# id, title, pinned, archived, deleted, created_at
CONVERSATIONS = [
    ("c0000001-0000-4000-8000-000000000001", "Café receipt: total?", 0, 0, 0, T0),
    ("c0000002-0000-4000-8000-000000000002", "Stack trace in übersicht", 1, 0, 0, T0 + 60_000),
    ("c0000003-0000-4000-8000-000000000003", "Old chart question", 0, 1, 0, T0 + 120_000),
    ("c0000004-0000-4000-8000-000000000004", "Deleted secret plan", 0, 0, 1, T0 + 180_000),
]
# id, conversation index, role, text, model, screenshot, created offset (ms after conversation)
MESSAGES = [
    (
        "d0000001-0000-4000-8000-000000000001",
        0,
        "user",
        "What is the total on this reçu?",
        None,
        SHA,
        1_000,
    ),
    (
        "d0000002-0000-4000-8000-000000000002",
        0,
        "model",
        "The total is 42,50 € including VAT.",
        "gemini-2.5-flash",
        None,
        5_000,
    ),
    (
        "d0000003-0000-4000-8000-000000000003",
        1,
        "user",
        "Why does this traceback say KeyError?",
        None,
        None,
        1_000,
    ),
    (
        "d0000004-0000-4000-8000-000000000004",
        1,
        "model",
        "The dictionary has no key 'naïve'; check the spelling.",
        "gemini-2.5-pro",
        None,
        9_000,
    ),
    (
        "d0000005-0000-4000-8000-000000000005",
        2,
        "user",
        "Explain this quarterly chart",
        None,
        None,
        1_000,
    ),
    ("d0000006-0000-4000-8000-000000000006", 3, "user", "zanzibar launch codes", None, None, 1_000),
]
FIELDS = ("title", "pinned", "archived", "deleted")


def hlc(ms: int) -> int:
    return ms << 16


def build(path: Path) -> None:
    """Create the file at revision 0001 and fill it with the fixed rows."""
    path.unlink(missing_ok=True)
    migrate.upgrade(path, "0001")
    connection = sqlite3.connect(path)
    with connection:
        connection.execute("INSERT INTO meta (key, value) VALUES ('device_id', ?)", (DEVICE,))
        connection.execute("INSERT INTO meta (key, value) VALUES ('sync_cursor', '17')")
        connection.execute(
            "INSERT INTO screenshot VALUES (?, 2789, 800, 600, 'image/png', ?)", (SHA, T0)
        )
        for cid, title, pinned, archived, deleted, created in CONVERSATIONS:
            _conversation(connection, cid, title, pinned, archived, deleted, created)
        for seq, (mid, index, role, text, model, sha, offset) in enumerate(MESSAGES, 1):
            created = CONVERSATIONS[index][5] + offset
            connection.execute(
                "INSERT INTO message (id, conversation_id, role, text, model, status,"
                " screenshot_sha256, hlc, device_id, created_at)"
                " VALUES (?, ?, ?, ?, ?, 'final', ?, ?, ?, ?)",
                (
                    mid,
                    CONVERSATIONS[index][0],
                    role,
                    text,
                    model,
                    sha,
                    hlc(created),
                    DEVICE,
                    created,
                ),
            )
            payload = {
                "type": "message",
                "id": mid,
                "conversation_id": CONVERSATIONS[index][0],
                "role": role,
                "text": text,
                "model": model,
                "status": "final",
                "screenshot_sha256": sha,
                "hlc": hlc(created),
                "device": DEVICE,
                "created_at": created,
            }
            _outbox(connection, seq, "message", mid, payload, created)
    connection.execute("VACUUM")
    connection.close()


def _conversation(
    connection: sqlite3.Connection,
    cid: str,
    title: str,
    pinned: int,
    archived: int,
    deleted: int,
    created: int,
) -> None:
    stamp = hlc(created)
    field_hlc = {name: [stamp, DEVICE] for name in FIELDS}
    connection.execute(
        "INSERT INTO conversation (id, title, pinned, archived, deleted, created_at, updated_at,"
        " vv, hlc, field_hlc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            cid,
            title,
            pinned,
            archived,
            deleted,
            created,
            created,
            json.dumps({DEVICE: 1}),
            stamp,
            json.dumps(field_hlc),
        ),
    )


def _outbox(
    connection: sqlite3.Connection,
    seq: int,
    kind: str,
    record_id: str,
    payload: dict[str, object],
    created: int,
) -> None:
    connection.execute(
        "INSERT INTO outbox (op_id, record_type, record_id, payload, created_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (f"e{seq:07d}-0000-4000-8000-000000000000", kind, record_id, json.dumps(payload), created),
    )


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else OUT
    build(target)
    print(f"wrote {target}")
