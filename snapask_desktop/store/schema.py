"""The schema revisions this version of SnapAsk knows: the one place the head id is written.

Kept free of Alembic imports so a normal start can compare the file's revision with plain SQL.
A test asserts this chain equals the Alembic scripts' chain.
"""

from __future__ import annotations

DB_FILENAME = "snapask.db"
REVISIONS: tuple[str, ...] = ("0001", "0002", "0003", "0004", "0005", "0006", "0007")
HEAD_REVISION = REVISIONS[-1]
