"""Brings a server database to the newest schema with Alembic, in the startup transaction.

A new database runs every revision from 0001; one made before migrations existed (schema 1,
recorded only in ``server_meta``) is stamped 0001 first. On PostgreSQL an advisory lock makes
instances that start at once take turns, so one migrates and the others find it done.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text

from snapask_desktop.server.schema import HEAD_REVISION

log = logging.getLogger("snapask.server")
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# pg_advisory_xact_lock key: "snapask" as a number, so it is not mistaken for another app's.
_LOCK_KEY = 0x736E61706173_6B


class SchemaTooNew(RuntimeError):
    """The database was written by a newer server."""


def alembic_config() -> Config:
    """An Alembic configuration built in code: no alembic.ini is needed at run time."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    return config


def current_revision(conn: Connection) -> str | None:
    """The database's revision (None: no Alembic table yet)."""
    return MigrationContext.configure(conn).get_current_revision()


def upgrade(conn: Connection, target: str = HEAD_REVISION) -> None:
    """Upgrade the database behind ``conn`` (inside its open transaction) to ``target``."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    config = alembic_config()
    config.attributes["connection"] = conn
    revision = current_revision(conn)
    known = {rev.revision for rev in ScriptDirectory.from_config(config).walk_revisions()}
    if revision is not None and revision not in known:
        raise SchemaTooNew(
            f"the database is at schema revision {revision}, written by a newer server; "
            f"this one knows up to {HEAD_REVISION}"
        )
    if revision is None and "server_meta" in inspect(conn).get_table_names():
        command.stamp(config, "0001")  # made before migrations existed: schema 1
    if revision != target:
        log.info("database schema: %s -> %s", revision or "new", target)
        command.upgrade(config, target)


def downgrade(conn: Connection, target: str) -> None:
    """Downgrade to ``target`` (development and tests only)."""
    config = alembic_config()
    config.attributes["connection"] = conn
    command.downgrade(config, target)
