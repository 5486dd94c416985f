"""Random edits on three real devices, random sync schedules and connection cuts, through the
real server: afterwards every store is identical and holds every change the server accepted.

(tests/store/test_replica_convergence.py explores far more schedules against a simulated
server log; this one keeps the real WebSocket client and server in the loop.)
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from snapask_desktop.server.testing import running_server
from tests.syncing.conftest import PASSWORD
from tests.syncing.schedules import play_and_check, steps


def _accepted(server_dir: Path) -> list[dict[str, object]]:
    with sqlite3.connect(f"file:{server_dir / 'server.db'}?mode=ro", uri=True) as db:
        return [
            json.loads(row[0]) for row in db.execute("SELECT payload FROM changes ORDER BY seq")
        ]


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=steps)
def test_random_edits_and_schedules_converge(
    tmp_path_factory: pytest.TempPathFactory, plan: list[tuple[str, int, int, int]]
) -> None:
    root = tmp_path_factory.mktemp("property")
    with running_server(root / "server") as server:
        server.add_user("ada", PASSWORD)
        play_and_check(server, root, plan, lambda: _accepted(server.data_dir))


@settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=steps)
def test_random_edits_and_schedules_converge_on_an_encrypted_account(
    tmp_path_factory: pytest.TempPathFactory, plan: list[tuple[str, int, int, int]]
) -> None:
    """The same with every record sealed: the devices merge what the server cannot read."""
    root = tmp_path_factory.mktemp("property-e2ee")
    with running_server(root / "server") as server:
        server.add_user("ada", PASSWORD)
        play_and_check(server, root, plan, lambda: _accepted(server.data_dir), encrypted=True)
