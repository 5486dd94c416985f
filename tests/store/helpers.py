"""Helpers shared by the store tests: real pictures and a plain view of the database file."""

from __future__ import annotations

import io
import json
import sqlite3
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
