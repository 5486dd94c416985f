"""The ``snapask-sync-server`` program: admin commands, and serve with a clean SIGTERM."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from snapask_desktop.server.testing import ServerProcess, http_request
from tests.server.helpers import (
    Conn,
    connect_device,
    conversation,
    new_id,
    open_ws,
    refused_status,
)
from tests.support.postgres import fresh_database

PASSWORD = "s3cret pass"


def cli(data_dir: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "snapask_desktop.server.cli", *args, "--data-dir", str(data_dir)],
        input=stdin, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def _sign_in(server: ServerProcess, user: str, device_id: str) -> str:
    status, body = http_request("POST", server.url + "/v1/devices", {
        "user": user, "password": PASSWORD, "device_id": device_id, "device_name": "cli test",
    })  # fmt: skip
    assert status == 201, body
    return str(body["token"])


def test_user_add_list_and_errors(tmp_path: Path) -> None:
    data = tmp_path / "server"
    added = cli(data, "user", "add", "ada", stdin=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    assert "added user ada" in added.stdout and PASSWORD not in added.stdout + added.stderr
    again = cli(data, "user", "add", "ada", stdin=PASSWORD + "\n")
    assert again.returncode == 1 and "already exists" in again.stderr
    empty = cli(data, "user", "add", "bob", stdin="")
    assert empty.returncode == 1 and "empty" in empty.stderr
    bad_name = cli(data, "user", "add", " spaced ", stdin="pw\n")
    assert bad_name.returncode == 1
    listed = cli(data, "user", "list")
    assert listed.returncode == 0
    assert [line.split()[0] for line in listed.stdout.splitlines()[1:]] == ["ada"]
    assert listed.stdout.splitlines()[0].split()[-1] == "ENCRYPTED"
    assert listed.stdout.splitlines()[1].split()[-1] == "no"
    assert cli(data, "device", "list").stdout.strip() == "no devices"
    unknown = cli(data, "device", "list", "--user", "zed")
    assert unknown.returncode == 1 and "zed" in unknown.stderr
    assert cli(data, "device", "revoke", "nope").returncode == 1


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    for args in ([], ["user"], ["frobnicate"], ["serve", "--port", "x"]):
        result = subprocess.run(
            [sys.executable, "-m", "snapask_desktop.server.cli", *args],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert result.returncode == 2, args


def test_data_dir_from_the_environment(tmp_path: Path) -> None:
    env = {**os.environ, "SNAPASK_SERVER_DIR": str(tmp_path / "env-dir")}
    result = subprocess.run(
        [sys.executable, "-m", "snapask_desktop.server.cli", "user", "add", "eve"],
        input="pw\n", capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "env-dir" / "server.db").exists()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    data = tmp_path / "server"
    assert cli(data, "user", "add", "ada", stdin=PASSWORD + "\n").returncode == 0
    proc = ServerProcess(data, "--housekeeping-interval", "0.2")
    yield proc
    proc.kill()


def test_revoke_from_the_cli_closes_the_connection_4001(server: ServerProcess) -> None:
    laptop, phone = new_id(), new_id()
    laptop_conn = connect_device(server, _sign_in(server, "ada", laptop), laptop)
    phone_token = _sign_in(server, "ada", phone)
    phone_conn = connect_device(server, phone_token, phone)
    listed = cli(server.data_dir, "device", "list", "--user", "ada")
    assert listed.returncode == 0
    assert laptop in listed.stdout and phone in listed.stdout and "active" in listed.stdout
    revoked = cli(server.data_dir, "device", "revoke", phone)
    assert revoked.returncode == 0, revoked.stderr
    code, frames = phone_conn.closed()
    assert [f["code"] for f in frames] == ["unauthorized"] and code == 4001
    assert refused_status(server, phone_token)[0] == 401
    assert laptop_conn.pull(0)["type"] == "changes"  # the other device is untouched
    assert "revoked" in cli(server.data_dir, "device", "list").stdout
    laptop_conn.close()


def test_sigterm_closes_connections_1001_and_exits_0(server: ServerProcess) -> None:
    laptop = new_id()
    token = _sign_in(server, "ada", laptop)
    conn = connect_device(server, token, laptop)
    idle = Conn(open_ws(server, token))  # upgraded, no hello yet
    code, err = server.terminate()
    assert code == 0, err
    close_code, frames = conn.closed()
    assert [f["code"] for f in frames] == ["shutting_down"] and close_code == 1001
    assert idle.closed()[0] == 1001
    assert "stopped" in err and token not in err and PASSWORD not in err
    assert "open: user ada device " + laptop in err


def test_serve_takes_the_metrics_token_from_the_environment(tmp_path: Path) -> None:
    proc = ServerProcess(tmp_path / "server", env={"SNAPASK_METRICS_TOKEN": "from-env"})
    try:
        assert http_request("GET", proc.url + "/metrics")[0] == 401
        assert http_request("GET", proc.url + "/metrics", token="from-env")[0] == 200
    finally:
        code, err = proc.terminate()
    assert code == 0 and "from-env" not in err


def test_revoking_a_device_id_two_users_share_needs_the_user(tmp_path: Path) -> None:
    data = tmp_path / "server"
    for user in ("ada", "bob"):
        assert cli(data, "user", "add", user, stdin=PASSWORD + "\n").returncode == 0
    proc = ServerProcess(data)
    try:
        shared = new_id()
        _sign_in(proc, "ada", shared)
        _sign_in(proc, "bob", shared)
    finally:
        proc.kill()
    ambiguous = cli(data, "device", "revoke", shared)
    assert ambiguous.returncode == 1 and "say whose with --user" in ambiguous.stderr
    assert cli(data, "device", "revoke", shared, "--user", "bob").returncode == 0
    listed = cli(data, "device", "list").stdout.splitlines()[1:]
    assert sorted((line.split()[1], line.split()[-1]) for line in listed) == [
        ("ada", "active"),
        ("bob", "revoked"),
    ]


def test_serve_on_postgresql_and_a_missing_driver_said_plainly(tmp_path: Path) -> None:
    missing = subprocess.run(
        [sys.executable, "-m", "snapask_desktop.server.cli", "serve", "--port", "0",
         "--data-dir", str(tmp_path / "x"),
         "--database-url", "postgresql+psycopg2://postgres@127.0.0.1/none"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert missing.returncode == 1
    assert "install the server extra: pip install 'snapask-desktop[server]'" in missing.stderr
    with fresh_database() as url:
        plain_url = url.replace("postgresql+psycopg://", "postgresql://")  # as a user types it
        data = tmp_path / "server"
        added = cli(data, "user", "add", "ada", "--database-url", plain_url, stdin=PASSWORD + "\n")
        assert added.returncode == 0, added.stderr
        proc = ServerProcess(data, "--database-url", plain_url)
        try:
            laptop = new_id()
            conn = connect_device(proc, _sign_in(proc, "ada", laptop), laptop)
            assert conn.push_payloads(conversation(laptop))[0]["status"] == "applied"
            assert conn.pull(0)["cursor"] == 1
            conn.close()
        finally:
            code, err = proc.terminate()
        assert code == 0, err
        assert "alembic.runtime" not in err  # migrated by `user add`; nothing noisy here


def test_the_log_has_one_line_per_connection_opened_and_closed(server: ServerProcess) -> None:
    """websockets' own INFO line per connection ("connection open", without user or device)
    doubled the server's, and its formatting was ~3 % of a reconnect's CPU; its warnings and
    errors still reach the log."""
    laptop = new_id()
    connect_device(server, _sign_in(server, "ada", laptop), laptop).close()
    code, err = server.terminate()
    assert code == 0, err
    assert f"open: user ada device {laptop}" in err and f"close: user ada device {laptop}" in err
    assert "INFO websockets" not in err and "connection open" not in err, err
