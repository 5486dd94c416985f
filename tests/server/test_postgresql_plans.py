"""Every PostgreSQL connection plans each statement for its values (plan_cache_mode): a generic
plan kept from when a table was small made a push's op-id lookup scan all of a user's rows."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text

from snapask_desktop.server.database import Database
from tests.support.postgres import fresh_database


@pytest.fixture
def db() -> Iterator[Database]:
    with fresh_database() as url:
        made = Database(url)
        yield made
        made.dispose()


def test_every_connection_makes_a_plan_for_the_values_at_hand(db: Database) -> None:
    with db.write() as writer, db.read() as reader:  # two pooled connections
        for conn in (writer, reader):
            assert conn.execute(text("SHOW plan_cache_mode")).scalar() == "force_custom_plan"
    with db.read_once() as conn:
        assert conn.execute(text("SHOW plan_cache_mode")).scalar() == "force_custom_plan"
    db.dispose()  # and new connections after a pool reset
    with db.read() as conn:
        assert conn.execute(text("SHOW plan_cache_mode")).scalar() == "force_custom_plan"
