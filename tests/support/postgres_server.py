"""A PostgreSQL server of the test's own (Debian's binaries), to stop and start mid-traffic.

The machine's PostgreSQL on 5432 is shared by every test, so a test that restarts the
database runs its own: initdb into a temporary folder, trust auth, loopback only, a free
port. PostgreSQL refuses to run as root; under root the server runs as the ``postgres`` user.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _binaries() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise RuntimeError("PostgreSQL's server binaries are not installed (Debian: postgresql)")
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    """One PostgreSQL server in ``root`` on 127.0.0.1:``port``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.port = _free_port()
        self.bin = _binaries()

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *command: str) -> None:
        if os.geteuid() == 0:  # initdb and postgres refuse root
            command = ("runuser", "-u", "postgres", "--", *command)
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)}: {done.stderr.strip()}")

    def init(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U",
                  "postgres", "--no-sync")  # fmt: skip

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options,
                  "-l", str(self.root / "log"), "-w", "start")  # fmt: skip

    def stop(self, mode: str = "immediate") -> None:
        """``immediate``: every backend killed at once, as in a crash (recovery on start)."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """A started server of its own, removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="snapask-pg-"))
    os.chmod(root, 0o755)
    server = PostgresServer(root)
    try:
        server.init()
        server.start()
        yield server
    finally:
        with contextlib.suppress(RuntimeError):  # already stopped
            server.stop("fast")
        shutil.rmtree(root, ignore_errors=True)
