"""Helpers shared by the store tests: real pictures and a plain view of the database file."""

from __future__ import annotations

import contextlib
import io
import json
import sqlite3
import uuid
from pathlib import Path
from typing import Any

from PIL import Image


def png_bytes(width: int = 320, height: int = 200, seed: int = 0, mode: str = "RGB") -> bytes:
    """A real PNG whose content depends on ``seed`` (different seeds -> different hashes)."""
    image = Image.new(mode, (width, height), _colour(mode, seed))
    for x in range(0, width, 7):
        image.putpixel((x, (x * 3 + seed) % height), _colour(mode, seed + x + 1))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _colour(mode: str, seed: int) -> tuple[int, ...]:
    rgb = ((seed * 37) % 256, (seed * 91) % 256, (seed * 53) % 256)
    return (*rgb, 128) if mode in ("RGBA", "LA") else rgb


def raw_sql(db_path: Path) -> sqlite3.Connection:
    """A plain sqlite3 connection to a database file, for checking what is really stored."""
    connection = sqlite3.connect(db_path)
    connection.row_factory = sqlite3.Row
    return connection


def add_pending_message(store: Any, conversation_id: str, text: str) -> str:
    """A "pending" message row, as a release before the pending lifecycle went could write it
    (never synced, no outbox op); returns its id. ``store`` is an open Store."""
    message_id = str(uuid.uuid4())
    with contextlib.closing(raw_sql(store.path)) as db, db:
        db.execute(
            "INSERT INTO message (id, conversation_id, role, text, model, status,"
            " screenshot_sha256, hlc, device_id, created_at)"
            " VALUES (?, ?, 'user', ?, NULL, 'pending', NULL, ?, ?, ?)",
            (message_id, conversation_id, text, store.clock.now(), store.device_id, 0),
        )
    return message_id


def rows(db_path: Path, sql: str, *params: Any) -> list[dict[str, Any]]:
    """All rows of a query as dicts (a fresh connection, closed afterwards)."""
    connection = raw_sql(db_path)
    try:
        return [dict(row) for row in connection.execute(sql, params)]
    finally:
        connection.close()


def outbox_payloads(db_path: Path, record_type: str) -> list[dict[str, Any]]:
    """Decoded payloads of the outbox entries of one record type, oldest first."""
    found = rows(
        db_path, "SELECT payload FROM outbox WHERE record_type = ? ORDER BY seq", record_type
    )
    return [json.loads(row["payload"]) for row in found]


# What a bad disk block leaves: bytes that are no b-tree page of any kind (the first byte, the
# page type, is none of SQLite's four).
JUNK = b"damaged disk block " * 4096


def page_size(db_path: Path) -> int:
    size = int.from_bytes(db_path.read_bytes()[16:18], "big")
    return 65536 if size == 1 else size


def damage_page(db_path: Path, page: int) -> bytes:
    """Overwrite one page (numbered from 1, as SQLite does) with junk; the file's new bytes."""
    size = page_size(db_path)
    with db_path.open("r+b") as handle:
        handle.seek((page - 1) * size)
        handle.write(JUNK[:size])
    return db_path.read_bytes()


def root_page(db_path: Path, name: str) -> int:
    """The root page of a table or index, from the schema."""
    (row,) = rows(db_path, "SELECT rootpage FROM sqlite_master WHERE name = ?", name)
    return int(row["rootpage"])


def leaf_pages(db_path: Path, table: str) -> list[int]:
    """The pages holding a table's rows, in rowid order, read from its b-tree."""
    data = db_path.read_bytes()
    size = page_size(db_path)

    def leaves(page: int) -> list[int]:
        start = (page - 1) * size + (100 if page == 1 else 0)
        kind = data[start]
        if kind == 0x0D:  # a table leaf
            return [page]
        assert kind == 0x05, f"page {page} is not a table b-tree page"
        cells = int.from_bytes(data[start + 3 : start + 5], "big")
        children = []
        for cell in range(cells):
            pointer = int.from_bytes(data[start + 12 + 2 * cell : start + 14 + 2 * cell], "big")
            offset = (page - 1) * size + pointer
            children.append(int.from_bytes(data[offset : offset + 4], "big"))
        children.append(int.from_bytes(data[start + 8 : start + 12], "big"))  # right-most
        return [leaf for child in children for leaf in leaves(child)]

    return leaves(root_page(db_path, table))
