"""Alembic environment: always run on a connection handed in by server.migrate."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "run the sync server's migrations through snapask_desktop.server.migrate.upgrade(), "
        "which opens the database with the right settings"
    )
context.configure(connection=connection, target_metadata=None, transactional_ddl=True)
with context.begin_transaction():
    context.run_migrations()
