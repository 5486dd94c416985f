"""One running app per data folder: later launches hand over their request over a local socket."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from snapask_desktop import paths
from snapask_desktop.single_instance import (
    InstanceServer,
    Request,
    parse_request,
    runtime_dir,
    send,
    server_name,
)
from tests.support import waits
from tests.support.cli import REPO

CLIENT = """
import sys
from snapask_desktop.single_instance import Request, send
ok = send(Request(sys.argv[2], mode=sys.argv[3] or None), sys.argv[1])
print("sent" if ok else "no-server")
"""


def client(name: str, command: str, mode: str = "") -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CLIENT, name, command, mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={"PYTHONPATH": str(REPO), "QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"},
    )


def test_request_round_trip_and_validation() -> None:
    request = Request("capture", mode="full")
    assert parse_request(request.encode().strip()) == request
    assert (
        parse_request(b'{"command": "open", "conversation_id": "3f2a"}').conversation_id == "3f2a"
    )
    for bad, reason in [
        (b"not json", "not JSON"),
        (b'{"command": "format_disk"}', "unknown command"),
        (b'{"command": "capture"}', "mode"),
        (b'{"command": "capture", "mode": "everything"}', "mode"),
        (b'{"command": "open", "conversation_id": 7}', "short text"),
        (b"x" * 5000, "too large"),
    ]:
        with pytest.raises(ValueError, match=reason):
            parse_request(bad)


def test_name_depends_on_data_folder(tmp_path: Path) -> None:
    assert server_name(tmp_path / "a") != server_name(tmp_path / "b")
    assert server_name(tmp_path / "a") == server_name(tmp_path / "a")


def test_second_launch_hands_over_its_request(qtbot: QtBot, tmp_path: Path) -> None:
    name = server_name(tmp_path / "data")
    first = InstanceServer(name)
    assert first.claim()
    second = InstanceServer(name)
    assert not second.claim()  # the lock is held: this launch must hand over instead
    with waits.signal(qtbot, first.requested) as blocker:
        process = client(name, "capture", "region")
    out, err = process.communicate(timeout=waits.DEADLINE_S)
    assert out.strip() == "sent", err
    assert blocker.args == [Request("capture", mode="region")]
    first.close()


def test_bad_request_is_refused_and_server_keeps_serving(qtbot: QtBot, tmp_path: Path) -> None:
    name = server_name(tmp_path / "data")
    server = InstanceServer(name)
    assert server.claim()
    raw = client(name, "explode")
    waits.until(qtbot, lambda: raw.poll() is not None)  # the server needs the loop
    _, err = raw.communicate()
    assert "refused the request" in err and "unknown command" in err
    with waits.signal(qtbot, server.requested):
        good = client(name, "show")
    assert good.communicate(timeout=waits.DEADLINE_S)[0].strip() == "sent"
    server.close()


def test_no_server_means_no_instance(tmp_path: Path) -> None:
    assert send(Request("show"), server_name(tmp_path / "nobody")) is False


def test_socket_left_by_a_crash_is_replaced(qtbot: QtBot, tmp_path: Path) -> None:
    name = server_name(tmp_path / "data")
    Path(name).write_bytes(b"")  # a stale socket file from a killed instance
    server = InstanceServer(name)
    assert server.claim()
    with waits.signal(qtbot, server.requested):
        process = client(name, "show")
    assert process.communicate(timeout=waits.DEADLINE_S)[0].strip() == "sent"
    server.close()


def test_long_runtime_folder_falls_back_to_a_short_name(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deep = tmp_path / ("very-long-folder-name-" * 6)
    deep.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(deep))
    name = server_name(tmp_path / "data")
    assert "/" not in name
    server = InstanceServer(name)
    assert server.claim()
    with waits.signal(qtbot, server.requested):
        process = client(name, "show")
    assert process.communicate(timeout=waits.DEADLINE_S)[0].strip() == "sent"
    server.close()


def test_runtime_folder_owned_by_someone_else_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = tmp_path / "shared-runtime"
    (shared / "SnapAsk").mkdir(parents=True)
    shared.chmod(0o700)  # platformdirs only trusts a private XDG_RUNTIME_DIR
    os.chown(shared / "SnapAsk", 12345, 12345)  # another user got there first
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(shared))
    folder = runtime_dir()
    assert folder == paths.config_dir() / "run"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_runtime_folder_of_ours_that_is_too_open_is_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = tmp_path / "runtime"
    (mine / "SnapAsk").mkdir(parents=True, mode=0o777)
    os.chmod(mine / "SnapAsk", 0o777)
    mine.chmod(0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(mine))
    assert runtime_dir() == mine / "SnapAsk"
    assert stat.S_IMODE((mine / "SnapAsk").stat().st_mode) == 0o700
