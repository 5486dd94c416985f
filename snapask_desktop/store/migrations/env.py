"""Alembic environment: always run on a connection handed in by snapask_desktop.store.migrate."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "run SnapAsk migrations through snapask_desktop.store.migrate.upgrade(), "
        "which opens the database file with the right settings"
    )
context.configure(connection=connection, target_metadata=None, transactional_ddl=True)
with context.begin_transaction():
    context.run_migrations()
