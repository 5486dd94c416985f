"""``snapask-sync-server``: run the sync server and administer its accounts.

Exit codes: 0 done, 1 failed (the message says why), 2 usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import getpass
import logging
import os
import signal
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

from snapask_desktop.server import accounts
from snapask_desktop.server.config import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    METRICS_TOKEN_ENV,
    ServerConfig,
)
from snapask_desktop.server.config import default_data_dir as _default_data_dir
from snapask_desktop.server.database import Database
from snapask_desktop.server.forwarded import trusted_networks
from snapask_desktop.server.haproxy import Backend, haproxy_config

log = logging.getLogger("snapask.server")


class CliError(Exception):
    """A failure to report in one line (exit code 1)."""


def _parser(prog: str) -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="server data folder (default: $SNAPASK_SERVER_DIR or the user data folder)",
    )
    common.add_argument(
        "--database-url",
        default=None,
        help="SQLAlchemy database URL (default: SQLite file DATA_DIR/server.db)",
    )
    parser = argparse.ArgumentParser(
        prog=prog, description="SnapAsk sync server and its administration."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    serve = commands.add_parser("serve", parents=[common], help="run the server")
    serve.add_argument("--host", default=DEFAULT_HOST, help=f"address (default {DEFAULT_HOST})")
    serve.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port, 0 for any (default {DEFAULT_PORT})"
    )
    serve.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING"])
    serve.add_argument(
        "--hello-timeout-ms", type=int, default=None, help="time allowed for hello (tests)"
    )
    serve.add_argument(
        "--housekeeping-interval",
        type=float,
        default=None,
        help="seconds between revoked-token checks (default 1)",
    )
    serve.add_argument(
        "--redis-url",
        default=None,
        help="Redis for live changes between several instances (the [server] extra); "
        "default: one process, no Redis",
    )
    serve.add_argument(
        "--trusted-proxy",
        action="append",
        default=[],
        metavar="ADDRESS",
        help="a reverse proxy (address or CIDR) whose X-Forwarded-For names the client; "
        "repeat for several",
    )
    serve.add_argument(
        "--instance",
        default=None,
        help="this instance's name in logs and metrics (default: host:port)",
    )
    serve.add_argument(
        "--send-stall-seconds",
        type=float,
        default=None,
        help="drop a connection whose device reads none of its waiting frames this long "
        "(default 20)",
    )
    serve.add_argument(
        "--drain-seconds",
        type=float,
        default=0.0,
        help="on SIGTERM, answer /healthz with 503 this long before closing (default 0)",
    )

    user = commands.add_parser("user", help="manage users").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    add = user.add_parser(
        "add",
        parents=[common],
        help="create a user (password from a prompt "
        "or, when stdin is not a terminal, its first line)",
    )
    add.add_argument("name")
    user.add_parser("list", parents=[common], help="list users")

    device = commands.add_parser("device", help="manage devices").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    dlist = device.add_parser("list", parents=[common], help="list devices")
    dlist.add_argument("--user", default=None, help="only this user's devices")
    revoke = device.add_parser("revoke", parents=[common], help="sign a device out")
    revoke.add_argument("device_id")
    revoke.add_argument("--user", default=None, help="whose device (when several users have it)")

    commands.add_parser("collect", parents=[common], help="collect old deleted conversations now")

    proxy = commands.add_parser(
        "haproxy-config", help="print the HAProxy configuration for instances behind it"
    )
    proxy.add_argument("--bind", default="0.0.0.0:8765", help="what HAProxy listens on")
    proxy.add_argument(
        "--instance",
        action="append",
        required=True,
        type=_backend,
        metavar="NAME=HOST:PORT",
        help="one server instance; repeat for each",
    )
    proxy.add_argument("--check-interval-ms", type=int, default=1000)
    proxy.add_argument("--maxconn", type=int, default=8000, help="connections HAProxy holds")
    return parser


def _backend(text: str) -> Backend:
    """``NAME=HOST:PORT`` as a ``Backend`` (argparse reports a ValueError as a usage error)."""
    name, _, address = text.partition("=")
    host, _, port = address.rpartition(":")
    if not name or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected NAME=HOST:PORT, got {text!r}")
    if not name.replace("-", "").replace("_", "").isalnum():
        raise argparse.ArgumentTypeError(f"an instance name is letters, digits, - and _: {name!r}")
    return Backend(name, host.strip("[]"), int(port))


def main(argv: Sequence[str] | None = None, prog: str = "snapask-sync-server") -> int:
    """Entry point; returns the exit code (``prog`` names the program in usage lines)."""
    args = _parser(prog).parse_args(argv)
    if args.command == "haproxy-config":
        print(haproxy_config(args.bind, args.instance, check_interval_ms=args.check_interval_ms,
                             maxconn=args.maxconn), end="")  # fmt: skip
        return 0
    data_dir: Path = args.data_dir if args.data_dir is not None else _default_data_dir()
    try:
        if args.command == "serve":
            return _serve(args, data_dir)
        config = ServerConfig(data_dir=data_dir, database_url=args.database_url)
        if args.command == "user" and args.action == "add":
            return _user_add(config, args.name)
        if args.command == "user" and args.action == "list":
            return _user_list(config)
        if args.command == "device" and args.action == "list":
            return _device_list(config, args.user)
        if args.command == "device" and args.action == "revoke":
            return _device_revoke(config, args.device_id, args.user)
        if args.command == "collect":
            return _collect(config)
    except (CliError, accounts.AccountError) as exc:
        print(f"snapask-sync-server: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("snapask-sync-server: interrupted", file=sys.stderr)
        return 1
    raise AssertionError("unreachable: argparse requires a command")


def _open(config: ServerConfig) -> Database:
    try:
        config.data_dir.mkdir(parents=True, exist_ok=True)
        return Database(config.url)
    except Exception as exc:
        raise CliError(f"cannot open the database {config.url}: {exc}") from None


def _read_password() -> str:
    if sys.stdin is not None and sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        second = getpass.getpass("Password again: ")
        if first != second:
            raise CliError("the two passwords differ; nothing was changed")
        password = first
    else:
        line = sys.stdin.readline() if sys.stdin is not None else ""
        password = line.removesuffix("\n").removesuffix("\r")
    if not password:
        raise CliError("the password is empty; nothing was changed")
    return password


def _user_add(config: ServerConfig, name: str) -> int:
    accounts.check_user_name(name)
    db = _open(config)
    try:
        if accounts.user_id_by_name(db, name) is not None:
            raise CliError(f"the user {name!r} already exists")
        accounts.add_user(db, name, _read_password())
    finally:
        db.dispose()
    print(f"added user {name}")
    return 0


def _when(ms: int | None) -> str:
    if ms is None:
        return "never"
    return dt.datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M:%S")


def _user_list(config: ServerConfig) -> int:
    db = _open(config)
    try:
        users = accounts.list_users(db)
    finally:
        db.dispose()
    if not users:
        print("no users yet: add one with `snapask-sync-server user add NAME`")
        return 0
    print(f"{'USER':<24} {'CREATED':<19} {'DEVICES':<7} ENCRYPTED")
    for user in users:
        encrypted = f"yes (keys v{user.keys_version})" if user.keys_version else "no"
        print(f"{user.name:<24} {_when(user.created_at):<19} {user.devices:<7} {encrypted}")
    return 0


def _device_list(config: ServerConfig, user: str | None) -> int:
    db = _open(config)
    try:
        user_id = None
        if user is not None:
            user_id = accounts.user_id_by_name(db, user)
            if user_id is None:
                raise CliError(f"no user named {user!r}")
        devices = accounts.list_devices(db, user_id)
    finally:
        db.dispose()
    if not devices:
        print("no devices")
        return 0
    print(f"{'DEVICE ID':<36}  {'USER':<16} {'NAME':<20} {'LAST SEEN':<19} STATUS")
    for d in devices:
        status = "revoked" if d.revoked else "active"
        print(
            f"{d.device_id:<36}  {d.user:<16} {d.device_name:<20} "
            f"{_when(d.last_seen_at):<19} {status}"
        )
    return 0


def _device_revoke(config: ServerConfig, device_id: str, user: str | None) -> int:
    db = _open(config)
    try:
        user_id = None
        if user is not None:
            user_id = accounts.user_id_by_name(db, user)
            if user_id is None:
                raise CliError(f"no user named {user!r}")
        if not accounts.revoke_device(db, device_id, user_id=user_id):
            raise CliError(f"no device {device_id!r}" + (f" of {user!r}" if user else ""))
    finally:
        db.dispose()
    # A running server notices within a second and closes the device's connection (4001).
    print(f"revoked device {device_id}")
    return 0


def _collect(config: ServerConfig) -> int:
    from snapask_desktop.server.blobs import BlobStore
    from snapask_desktop.server.tombstones import collect_tombstones

    db = _open(config)
    try:
        blobs = BlobStore(db, config.blob_dir, config.blob_quota)
        purges = collect_tombstones(db, blobs, accounts.now_ms())
        uploads, freed = blobs.collect_abandoned(accounts.now_ms())
    finally:
        db.dispose()
    print(f"collected {len(purges)} deleted conversation(s)")
    print(f"removed {uploads} abandoned upload(s), {freed:,} bytes")
    return 0


def raise_open_files_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit (many connections); returns it."""
    try:
        import resource
    except ImportError:  # not on Windows
        return -1
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        return hard
    return soft


def _serve(args: argparse.Namespace, data_dir: Path) -> int:
    logging.basicConfig(
        level=args.log_level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Alembic names every plugin it loads at INFO; an upgrade it runs is logged by us.
    logging.getLogger("alembic").setLevel(
        max(logging.WARNING, logging.getLevelName(args.log_level))
    )
    raise_open_files_limit()
    extra: dict[str, object] = {"drain_s": args.drain_seconds}
    if args.hello_timeout_ms is not None:
        extra["hello_timeout_ms"] = args.hello_timeout_ms
    if args.housekeeping_interval is not None:
        extra["housekeeping_interval_s"] = args.housekeeping_interval
    if args.redis_url is not None:
        extra["redis_url"] = args.redis_url
    if args.trusted_proxy:
        try:
            trusted_networks(args.trusted_proxy)
        except ValueError as exc:
            raise CliError(f"--trusted-proxy: {exc}") from None
        extra["trusted_proxies"] = tuple(args.trusted_proxy)
    extra["instance"] = args.instance or f"{socket.gethostname()}:{args.port}"
    if args.send_stall_seconds is not None:
        extra["send_stall_s"] = args.send_stall_seconds
    metrics_token = os.environ.get(METRICS_TOKEN_ENV, "").strip()
    if metrics_token:
        extra["metrics_token"] = metrics_token
    config = ServerConfig(
        data_dir=data_dir,
        host=args.host,
        port=args.port,
        database_url=args.database_url,
        **extra,  # type: ignore[arg-type]
    )
    return asyncio.run(_run(config))


async def _run(config: ServerConfig) -> int:
    from snapask_desktop.server.app import SyncServer

    try:
        server = SyncServer(config)
    except Exception as exc:
        raise CliError(f"cannot start: {exc}") from None
    try:
        port = await server.start()
    except OSError as exc:
        raise CliError(f"cannot listen on {config.host}:{config.port}: {exc.strerror}") from None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        # Windows has no add_signal_handler: Ctrl+C raises KeyboardInterrupt instead.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    # One flushed line with the real port (tests and scripts read it when --port 0).
    print(f"listening on http://{config.host}:{port}", flush=True)
    try:
        await stop.wait()
    finally:
        await server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
