"""The documented production layout works as written: the systemd unit's command line is one
the server accepts, and the HAProxy configuration the server prints is one HAProxy accepts."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from snapask_desktop.server import cli
from snapask_desktop.server.config import METRICS_TOKEN_ENV

LAYOUT = Path(__file__).resolve().parents[2] / "packaging" / "server"


def _settings() -> dict[str, str]:
    settings = {}
    for line in (LAYOUT / "sync-server.env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            settings[key] = value
    return settings


def _exec_start() -> list[str]:
    unit = (LAYOUT / "snapask-sync-server.service").read_text()
    [line] = [x for x in unit.splitlines() if x.startswith("ExecStart=")]
    return shlex.split(line.removeprefix("ExecStart="))


def test_the_units_command_line_is_accepted_by_the_server() -> None:
    settings = _settings()
    words = _exec_start()
    used = {name for word in words for name in re.findall(r"\$\{(\w+)\}", word)}
    assert used <= settings.keys(), (
        f"the unit uses settings the example lacks: {used - settings.keys()}"
    )
    expanded = [
        re.sub(r"\$\{(\w+)\}", lambda m: settings[m.group(1)], word).replace("%H", "db1")
        for word in words
    ]
    assert expanded[0].endswith("/snapask-sync-server")
    args = cli._parser("snapask-sync-server").parse_args(expanded[1:])
    assert args.command == "serve"
    assert args.database_url.startswith("postgresql+psycopg://")
    assert args.redis_url.startswith("redis://") and args.instance == "db1"
    assert args.drain_seconds > 0  # a rolling restart drains
    assert METRICS_TOKEN_ENV in settings


def test_the_printed_haproxy_configuration_is_valid(tmp_path: Path) -> None:
    haproxy = shutil.which("haproxy")
    assert haproxy is not None, "haproxy is not installed; run scripts/setup --test"
    printed = subprocess.run(
        [sys.executable, "-m", "snapask_desktop.server.cli", "haproxy-config",
         "--bind", "127.0.0.1:8765", "--instance", "s1=10.0.0.11:8765",
         "--instance", "s2=10.0.0.12:8765"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert printed.returncode == 0, printed.stderr
    assert "server s1 10.0.0.11:8765 check" in printed.stdout
    config = tmp_path / "haproxy.cfg"
    config.write_text(printed.stdout)
    checked = subprocess.run([haproxy, "-c", "-f", str(config)], capture_output=True,
                             text=True, timeout=60)  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_malformed_instance_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["haproxy-config", "--instance", "s1=10.0.0.11"])
    assert exited.value.code == 2
    assert "expected NAME=HOST:PORT, got 's1=10.0.0.11'" in capsys.readouterr().err
