"""Runs the Alembic migrations; imported only when the file is behind the head revision."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from snapask_desktop.store.engine import BEGIN_IMMEDIATE, BEGIN_OPTION, make_engine
from snapask_desktop.store.schema import HEAD_REVISION

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config() -> Config:
    """An Alembic configuration built in code: no alembic.ini is needed at run time."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    return config


def script_revisions() -> list[str]:
    """The revision chain of the shipped scripts, oldest first."""
    script = ScriptDirectory.from_config(alembic_config())
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


def upgrade(path: Path, target: str = HEAD_REVISION) -> None:
    """Upgrade the file in place to ``target`` in ONE transaction (SQLite DDL is transactional).

    The write lock is taken before Alembic reads the current revision, so two processes that
    open an old file at once don't both migrate it.
    """
    _run(path, lambda config: command.upgrade(config, target))


def downgrade(path: Path, target: str) -> None:
    """Downgrade the file to ``target`` (for development and tests; the app never does this)."""
    _run(path, lambda config: command.downgrade(config, target))


def _run(path: Path, action: Callable[[Config], None]) -> None:
    config = alembic_config()
    engine = make_engine(path, pooled=False)
    try:
        with engine.connect() as connection:
            connection.execution_options(**{BEGIN_OPTION: BEGIN_IMMEDIATE})
            with connection.begin():
                config.attributes["connection"] = connection
                action(config)
    finally:
        engine.dispose()
