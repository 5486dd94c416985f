"""The random-schedule property test of tests/syncing, played through HAProxy in front of
three instances on PostgreSQL and Redis (issue 10): each device pass may land on another
instance, and connection cuts hit the balancer's front."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from sqlalchemy import create_engine, text

from snapask_desktop.server.cluster import Cluster
from tests.cluster.helpers import Balanced, add_user, running_cluster
from tests.support.postgres import fresh_database
from tests.support.redis_server import redis_server
from tests.syncing.conftest import PASSWORD
from tests.syncing.schedules import play_and_check, steps

_users = itertools.count(1)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("cluster")
    with (
        fresh_database() as url,
        redis_server() as redis,
        running_cluster(root, url, redis.url) as made,
    ):
        yield made


def _accepted(cluster: Cluster, user: str) -> list[dict[str, Any]]:
    engine = create_engine(cluster.state.database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT c.payload FROM changes c JOIN users u ON u.id = c.user_id"
                     " WHERE u.name = :name ORDER BY c.seq"),
                {"name": user},
            )  # fmt: skip
            return [json.loads(row[0]) for row in rows]
    finally:
        engine.dispose()


@settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=steps)
def test_random_edits_and_schedules_converge_through_the_balancer(
    cluster: Cluster,
    tmp_path_factory: pytest.TempPathFactory,
    plan: list[tuple[str, int, int, int]],
) -> None:
    user = f"user{next(_users)}"  # a user of its own per example, on the one cluster
    add_user(cluster, user, PASSWORD)
    root = tmp_path_factory.mktemp("property")
    play_and_check(Balanced(cluster), root, plan, lambda: _accepted(cluster, user), user)
