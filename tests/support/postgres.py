"""A throwaway PostgreSQL database on the local server (127.0.0.1:5432, trust auth).

`scripts/setup --test` starts the server when it is down; a test that needs it fails with a
plain message if it is not there (never skips: the scale-out code must be tested for real).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


@contextmanager
def fresh_database() -> Iterator[str]:
    """Create an empty database; yields its SQLAlchemy URL; drops it afterwards."""
    name = f"snapask_t_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(ADMIN_DSN, autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as exc:
        raise RuntimeError(
            f"PostgreSQL is not reachable at 127.0.0.1:5432 ({exc}); run scripts/setup --test"
        ) from None
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
