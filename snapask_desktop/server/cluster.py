"""A local cluster for development and tests: N sync server instances behind HAProxy.

Every instance runs ``snapask-sync-server serve`` on 127.0.0.1 with the same PostgreSQL
database, the same Redis and the same blob folder (on several machines: a shared file system
mounted at the same path); HAProxy (Debian's ``haproxy``) listens in front, configured by
``server/haproxy.py``. ``scripts/cluster up|down|status`` drives it; the state (pids, ports,
logs) lives in one folder so that ``down`` works from another shell.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

from snapask_desktop.server.haproxy import Backend, haproxy_config

HOST = "127.0.0.1"
STATE_FILE = "cluster.json"


@dataclass
class ClusterState:
    """What is running: ports and pids (saved as ``cluster.json`` in the state folder)."""

    lb_port: int
    ports: list[int]
    database_url: str
    redis_url: str
    pids: dict[str, int] = field(default_factory=dict)  # "haproxy" or "s1".."sN" -> pid


class Cluster:
    """Start, stop, kill and restart the instances and the balancer of one local cluster."""

    def __init__(self, state_dir: Path, state: ClusterState) -> None:
        self.state_dir = state_dir
        self.state = state

    # ------------------------------------------------------------------ naming

    @property
    def names(self) -> list[str]:
        return [f"s{i + 1}" for i in range(len(self.state.ports))]

    @property
    def url(self) -> str:
        """The balancer's HTTP URL (what devices sign in to)."""
        return f"http://{HOST}:{self.state.lb_port}"

    def instance_url(self, name: str) -> str:
        return f"http://{HOST}:{self.state.ports[self.names.index(name)]}"

    # ------------------------------------------------------------------ lifecycle

    def up(self) -> None:
        """Start every instance, wait until each is healthy, then start the balancer."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        for name in self.names:
            self.start_instance(name)
        for name in self.names:
            wait_healthy(self.instance_url(name))
        self._start_haproxy()
        wait_healthy(self.url)
        self.save()

    def down(self, timeout_s: float = 30) -> None:
        """SIGTERM everything (instances drain and exit 0), then forget the state."""
        for name in [*self.names, "haproxy"]:
            self._terminate(name, timeout_s)
        (self.state_dir / STATE_FILE).unlink(missing_ok=True)

    def start_instance(self, name: str) -> None:
        port = self.state.ports[self.names.index(name)]
        log = open(self.state_dir / f"{name}.log", "ab")  # noqa: SIM115 - the child keeps it
        proc = subprocess.Popen(
            [sys.executable, "-m", "snapask_desktop.server.cli", "serve",
             "--host", HOST, "--port", str(port), "--instance", name,
             "--data-dir", str(self.state_dir / "data"),
             "--database-url", self.state.database_url, "--redis-url", self.state.redis_url,
             "--drain-seconds", "2", "--trusted-proxy", HOST],
            stdout=log, stderr=log, start_new_session=True,
        )  # fmt: skip
        log.close()
        self.state.pids[name] = proc.pid
        self.save()

    def kill_instance(self, name: str) -> None:
        """SIGKILL: the instance dies mid-whatever, as after a crash."""
        pid = self.state.pids.pop(name, None)
        if pid is not None:
            _signal(pid, signal.SIGKILL)
            _reap(pid, 30)
        self.save()

    def terminate_instance(self, name: str, timeout_s: float = 30) -> None:
        """SIGTERM: the instance drains and exits (a rolling restart's first half)."""
        self._terminate(name, timeout_s)
        self.save()

    def save(self) -> None:
        (self.state_dir / STATE_FILE).write_text(json.dumps(asdict(self.state), indent=2))

    @classmethod
    def load(cls, state_dir: Path) -> Cluster:
        state = ClusterState(**json.loads((state_dir / STATE_FILE).read_text()))
        return cls(state_dir, state)

    # ------------------------------------------------------------------ internals

    def _start_haproxy(self) -> None:
        binary = shutil.which("haproxy")
        if binary is None:
            raise RuntimeError("haproxy is not installed (Debian: apt-get install haproxy)")
        backends = [Backend(n, HOST, p) for n, p in zip(self.names, self.state.ports, strict=True)]
        config = self.state_dir / "haproxy.cfg"
        config.write_text(haproxy_config(f"{HOST}:{self.state.lb_port}", backends))
        log = open(self.state_dir / "haproxy.log", "ab")  # noqa: SIM115 - the child keeps it
        proc = subprocess.Popen([binary, "-db", "-f", str(config)], stdout=log, stderr=log,
                                start_new_session=True)  # fmt: skip
        log.close()
        self.state.pids["haproxy"] = proc.pid

    def _terminate(self, name: str, timeout_s: float) -> None:
        pid = self.state.pids.pop(name, None)
        if pid is None:
            return
        _signal(pid, signal.SIGTERM)
        if not _reap(pid, timeout_s):
            _signal(pid, signal.SIGKILL)
            _reap(pid, 10)


def wait_healthy(url: str, timeout_s: float = 30) -> None:
    """Poll ``url/healthz`` until it answers 200."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as reply:
                if reply.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not become healthy within {timeout_s:g} s")
        time.sleep(0.1)


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _reap(pid: int, timeout_s: float) -> bool:
    """Wait for ``pid`` to end (reaping it if it is our child); False on timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                return True
        except ChildProcessError:  # not our child (another shell started it)
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
        time.sleep(0.05)
    return False


DEFAULT_DATABASE = "postgresql://postgres@127.0.0.1:5432/snapask_cluster"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


def ensure_database(url: str) -> None:
    """Create the PostgreSQL database of ``url`` if it does not exist (psycopg, [server])."""
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    admin = parsed.set(drivername="postgresql", database="postgres")
    dsn = admin.render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (parsed.database,))
        if found.fetchone() is None:
            conn.execute(f'CREATE DATABASE "{parsed.database}"')


def free_ports(count: int) -> list[int]:
    """Ports free on 127.0.0.1 now (the kernel's choice, so parallel runs do not collide)."""
    import socket

    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind((HOST, 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def main(argv: list[str] | None = None) -> int:
    """``scripts/cluster up|down|status``."""
    import argparse

    parser = argparse.ArgumentParser(prog="scripts/cluster", description=__doc__)
    parser.add_argument("--state-dir", type=Path, default=Path(".cluster"))
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start N instances and HAProxy in front")
    up.add_argument("--instances", type=int, default=3)
    up.add_argument("--port", type=int, default=8765, help="the balancer's port (default 8765)")
    up.add_argument("--database-url", default=DEFAULT_DATABASE)
    up.add_argument("--redis-url", default=DEFAULT_REDIS)
    commands.add_parser("down", help="stop everything (instances drain, exit 0)")
    commands.add_parser("status", help="what runs, and whether each instance is healthy")
    args = parser.parse_args(argv)
    state_dir: Path = args.state_dir
    if args.command == "up":
        if (state_dir / STATE_FILE).exists():
            print(f"a cluster is already up ({state_dir / STATE_FILE}); `down` first")
            return 1
        if not 1 <= args.instances <= 16:
            parser.error("--instances: 1 to 16")
        ensure_database(args.database_url)
        state = ClusterState(args.port, free_ports(args.instances), args.database_url,
                             args.redis_url)  # fmt: skip
        cluster = Cluster(state_dir, state)
        try:
            cluster.up()
        except Exception as exc:
            cluster.down()
            print(f"cluster: {exc} (logs in {state_dir})", file=sys.stderr)
            return 1
        print(f"up: {cluster.url} -> {', '.join(cluster.instance_url(n) for n in cluster.names)}")
        return 0
    if not (state_dir / STATE_FILE).exists():
        print("no cluster is up")
        return 0 if args.command == "status" else 1
    cluster = Cluster.load(state_dir)
    if args.command == "down":
        cluster.down()
        print("down")
        return 0
    for name in [*cluster.names]:
        healthy = _healthy(cluster.instance_url(name))
        print(f"{name}  {cluster.instance_url(name)}  pid {cluster.state.pids.get(name, '-')}  "
              f"{'healthy' if healthy else 'DOWN'}")  # fmt: skip
    print(f"balancer  {cluster.url}  {'healthy' if _healthy(cluster.url) else 'DOWN'}")
    return 0


def _healthy(url: str) -> bool:
    try:
        wait_healthy(url, timeout_s=0)
    except RuntimeError:
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
