"""Run a real sync server for tests: in-process on a background thread, or as a subprocess.

    with running_server(tmp_path / "server") as srv:
        srv.add_user("ada", "pw")
        token = srv.sign_in("ada", "pw", device_id)
        ... connect to srv.ws_url with Authorization: Bearer <token> ...
        srv.restart()          # same port, same data: a server restart mid-sync

The server listens on 127.0.0.1 with an ephemeral port (kept across restarts).
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import os
import subprocess
import sys
import threading
import time
import traceback
import urllib.error
import urllib.request
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from snapask_desktop.server import accounts
from snapask_desktop.server.app import SyncServer
from snapask_desktop.server.config import ServerConfig

T = TypeVar("T")
HOST = "127.0.0.1"


class RunningServer:
    """A SyncServer on its own event-loop thread; start/stop/restart from any thread."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.port = config.port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None
        self._server: SyncServer | None = None

    # ------------------------------------------------------------------ addresses

    @property
    def data_dir(self) -> Path:
        return self.config.data_dir

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (the server URL a device is configured with)."""
        return f"http://{HOST}:{self.port}"

    @property
    def ws_url(self) -> str:
        """``ws://127.0.0.1:PORT/v1/sync``."""
        return f"ws://{HOST}:{self.port}/v1/sync"

    @property
    def server(self) -> SyncServer:
        """The running SyncServer (for white-box checks)."""
        if self._server is None:
            raise RuntimeError("the server is not running")
        return self._server

    @property
    def running(self) -> bool:
        return self._server is not None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> RunningServer:
        """Start (again) on the same port and data folder; returns when listening."""
        if self._thread is not None:
            raise RuntimeError("already running")
        ready = threading.Event()
        failure: list[BaseException] = []
        config = dataclasses.replace(self.config, port=self.port)

        async def main() -> None:
            server = SyncServer(config)
            self._stop = asyncio.Event()
            try:
                self.port = await _start_with_retry(server)
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                return
            self._server = server
            ready.set()
            await self._stop.wait()
            await server.shutdown()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(main())
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name="snapask-test-server", daemon=True)
        self._thread.start()
        if not ready.wait(30):
            raise RuntimeError("the test server did not start within 30 s")
        if failure:
            self._thread.join(10)
            self._thread = None
            raise failure[0]
        return self

    def stop(self) -> None:
        """Shut down like SIGTERM (connections get ``shutting_down`` and 1001); idempotent."""
        if self._thread is None:
            return
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stop.set)
        self._thread.join(60)
        if self._thread.is_alive():
            raise RuntimeError(
                "the test server did not stop within 60 s\n" + _stuck_report(self._thread, loop)
            )
        self._thread = None
        self._server = None
        self._loop = None

    def restart(self) -> None:
        """Stop, then start again on the same port with the same data."""
        self.stop()
        self.start()

    def call(self, fn: Callable[[], Coroutine[Any, Any, T]], timeout: float = 30) -> T:
        """Run a coroutine on the server's loop and return its result."""
        if self._loop is None:
            raise RuntimeError("the server is not running")
        return asyncio.run_coroutine_threadsafe(fn(), self._loop).result(timeout)

    # ------------------------------------------------------------------ accounts

    def add_user(self, name: str, password: str) -> int:
        """Create a user (as ``snapask-sync-server user add`` does); returns its id."""
        return accounts.add_user(self.server.db, name, password)

    def sign_in(
        self, user: str, password: str, device_id: str, device_name: str = "test device"
    ) -> str:
        """``POST /v1/devices`` over real HTTP; returns the token (HTTPError on refusal)."""
        status, body = http_request(
            "POST",
            self.url + "/v1/devices",
            {
                "user": user,
                "password": password,
                "device_id": device_id,
                "device_name": device_name,
            },
        )
        if status != 201:
            raise RuntimeError(f"sign-in refused: {status} {body}")
        return str(body["token"])

    def revoke(self, device_id: str) -> bool:
        """Revoke a device as an admin would; its open connection closes with 4001 at once."""
        return self.call(lambda: self.server.revoke(device_id))


async def _start_with_retry(server: SyncServer) -> int:
    # A restart on the same port may briefly find it still held by closing sockets.
    deadline = time.monotonic() + 10
    while True:
        try:
            return await server.start()
        except OSError:
            if server.config.port == 0 or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


@contextmanager
def running_server(data_dir: Path, **config: Any) -> Iterator[RunningServer]:
    """A started in-process server on 127.0.0.1 (port 0 unless given); stopped on exit.

    Keyword arguments are ServerConfig fields (e.g. ``hello_timeout_ms=500``).
    """
    config.setdefault("port", 0)
    server = RunningServer(ServerConfig(data_dir=data_dir, host=HOST, **config)).start()
    try:
        yield server
    finally:
        server.stop()


def http_request(
    method: str,
    url: str,
    body: Any = None,
    *,
    token: str | None = None,
    raw: bytes | None = None,
    timeout: float = 30,
) -> tuple[int, Any]:
    """A plain HTTP request; returns (status, parsed JSON body or None)."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, payload = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, payload = exc.code, exc.read()
    if not payload:
        return status, None
    try:
        return status, json.loads(payload)
    except ValueError:
        return status, payload.decode("utf-8", "replace")


class ServerProcess:
    """``snapask-sync-server serve --port 0`` as a child process (for SIGTERM/CLI tests)."""

    def __init__(self, data_dir: Path, *extra_args: str, env: dict[str, str] | None = None):
        self.data_dir = data_dir
        cmd = [
            sys.executable,
            "-m",
            "snapask_desktop.server.cli",
            "serve",
            "--data-dir",
            str(data_dir),
            "--host",
            HOST,
            "--port",
            "0",
            *extra_args,
        ]
        self.proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )
        self.port = self._read_port()

    def _read_port(self) -> int:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # the server prints it first, flushed
        prefix = f"listening on http://{HOST}:"
        if not line.startswith(prefix):
            self.proc.kill()
            _, err = self.proc.communicate(timeout=30)
            raise RuntimeError(f"server did not start: {line!r} {err[-2000:]}")
        return int(line.strip().removeprefix(prefix))

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{HOST}:{self.port}/v1/sync"

    def terminate(self, timeout: float = 60) -> tuple[int, str]:
        """SIGTERM and wait; returns (exit code, stderr)."""
        self.proc.terminate()
        _, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, err

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate(timeout=30)


def _stuck_report(thread: threading.Thread, loop: asyncio.AbstractEventLoop | None) -> str:
    """Where a server that would not stop is stuck: its loop's tasks and every thread's stack
    (a shutdown that hangs once in a long run must say why the first time)."""
    lines = []
    if loop is not None and not loop.is_closed():
        try:  # read from another thread: a set that changes meanwhile is not worth a retry
            tasks = list(asyncio.all_tasks(loop))
        except RuntimeError:
            tasks = []
        for task in tasks:
            where = io.StringIO()
            task.print_stack(limit=8, file=where)
            lines.append(where.getvalue())
    names = {t.ident: t.name for t in threading.enumerate()}
    for ident, frame in sys._current_frames().items():
        if ident == threading.get_ident():
            continue
        marker = " (the server's loop)" if ident == thread.ident else ""
        stack = "".join(traceback.format_stack(frame))
        lines.append(f"thread {names.get(ident, ident)}{marker}:\n{stack}")
    return "\n".join(lines)
