"""Benchmark: one sync server process holding thousands of devices with live fanout.

Creates the users and device tokens through the server's own storage API (signing 5,000
devices in over HTTP would spend minutes in scrypt, which is not what this measures), starts
``snapask-sync-server serve`` as a subprocess on 127.0.0.1, opens N WebSocket connections from
this process (each says hello), then for a bounded time lets some devices push messages while
every connection listens. Reports ops applied per second, fanout latency (push sent -> the live
frame received on every *other* device of that user), how many connections stayed open and
answered a final pull, and the server's memory. Whole run well under 2 minutes.

Run: ``python -m bench.server_load [--devices 5000] [--per-user 20] [--seconds 10]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make `bench` and the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from websockets.asyncio.client import ClientConnection, connect

from bench._common import emit, percentile
from snapask_desktop.server import accounts
from snapask_desktop.server.cli import raise_open_files_limit
from snapask_desktop.server.config import sqlite_url
from snapask_desktop.server.database import Database
from snapask_desktop.server.passwords import hash_password, new_token
from snapask_desktop.sync.clock import COUNTER_BITS

HOST = "127.0.0.1"


def provision(database_url: str, users: int, per_user: int) -> list[tuple[int, str, str]]:
    """Users and devices with tokens, straight into the server's database."""
    db = Database(database_url)
    password_hash = hash_password("bench")  # one scrypt, shared: sign-in is not measured
    devices: list[tuple[int, str, str]] = []
    for u in range(users):
        user_id = accounts.add_user(db, f"user{u}", "", password_hash=password_hash)
        for d in range(per_user):
            device_id, token = str(uuid.uuid4()), new_token()
            accounts.issue_token(db, user_id, device_id, f"device {d}", token)
            devices.append((u, device_id, token))
    db.dispose()
    return devices


def _rss_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) of a process in MiB."""
    fields: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return fields.get("VmRSS", 0.0), fields.get("VmHWM", 0.0)


class Device:
    """One open connection; a reader task records when live frames arrive."""

    def __init__(self, user: int, device_id: str, ws: ClientConnection, bench: Bench) -> None:
        self.user, self.device_id, self.ws, self.bench = user, device_id, ws, bench
        self.replies: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.task = asyncio.create_task(self._read())
        self.alive = True

    async def _read(self) -> None:
        try:
            async for text in self.ws:
                arrived = time.perf_counter()
                frame = json.loads(text)
                request_id = frame.get("id")
                if request_id is not None:
                    future = self.replies.pop(request_id, None)
                    if future is not None and not future.done():
                        future.set_result(frame)
                elif frame.get("type") == "changes":
                    for change in frame["changes"]:
                        self.bench.received(change["op_id"], self.device_id, arrived)
        except Exception:
            pass
        self.alive = False

    async def request(self, frame: dict[str, Any], timeout: float = 30) -> dict[str, Any]:
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.replies[frame["id"]] = future
        await self.ws.send(json.dumps(frame))
        return await asyncio.wait_for(future, timeout)


class Bench:
    def __init__(self, per_user: int) -> None:
        self.per_user = per_user
        self.sent: dict[str, tuple[float, str]] = {}  # op id -> (push sent at, pushing device)
        self.latencies: list[float] = []
        self.deliveries = 0

    def received(self, op_id: str, device_id: str, arrived: float) -> None:
        sent = self.sent.get(op_id)
        if sent is not None and sent[1] != device_id:
            self.latencies.append((arrived - sent[0]) * 1000)
            self.deliveries += 1


async def open_device(url: str, user: int, device_id: str, token: str, bench: Bench,
                gate: asyncio.Semaphore) -> Device | None:  # fmt: skip
    async with gate:
        for _attempt in range(3):
            try:
                ws = await connect(
                    url, additional_headers={"Authorization": f"Bearer {token}"},
                    open_timeout=60, ping_interval=None, max_size=None, compression=None,
                )  # fmt: skip
                break
            except (OSError, TimeoutError):
                await asyncio.sleep(0.5)
        else:
            return None
        device = Device(user, device_id, ws, bench)
        hello = {"type": "hello", "id": "h", "protocol": 1, "device_id": device_id, "cursor": 0}
        welcome = await device.request(hello, timeout=60)
        return device if welcome["type"] == "welcome" else None


async def pusher(device: Device, bench: Bench, until: float, interval: float) -> int:
    """Push one new message per ``interval`` until ``until``; returns ops applied."""
    applied = 0
    conversation = str(uuid.uuid4())
    n = 0
    while time.perf_counter() < until:
        n += 1
        wall = time.time_ns() // 1_000_000
        op_id = str(uuid.uuid4())
        payload = {
            "type": "message", "id": str(uuid.uuid4()), "conversation_id": conversation,
            "role": "user", "text": f"message {n} from {device.device_id}", "model": None,
            "status": "final", "screenshot_sha256": None, "hlc": wall << COUNTER_BITS,
            "device": device.device_id, "created_at": wall,
        }  # fmt: skip
        started = time.perf_counter()
        bench.sent[op_id] = (started, device.device_id)
        ack = await device.request(
            {"type": "push", "id": f"p{n}", "ops": [{"op_id": op_id, "payload": payload}]}
        )
        applied += sum(r["status"] == "applied" for r in ack.get("results", ()))
        await asyncio.sleep(max(0.0, interval - (time.perf_counter() - started)))
    return applied


async def _run(args: argparse.Namespace, url: str, devices: list[tuple[int, str, str]],
               server_pid: int) -> dict[str, Any]:  # fmt: skip
    bench = Bench(args.per_user)
    gate = asyncio.Semaphore(args.connect_parallel)
    started = time.perf_counter()
    opened = await asyncio.gather(*(open_device(url, u, d, t, bench, gate) for u, d, t in devices))
    conns = [c for c in opened if c is not None]
    connect_s = time.perf_counter() - started
    rss_idle, _ = _rss_mb(server_pid)

    # One pusher per user for the first `pushers` users: each op fans out to per_user - 1.
    pushers: list[Device] = []
    seen_users: set[int] = set()
    for conn in conns:
        if conn.user not in seen_users and len(pushers) < args.pushers:
            seen_users.add(conn.user)
            pushers.append(conn)
    until = time.perf_counter() + args.seconds
    push_started = time.perf_counter()
    applied = await asyncio.gather(*(pusher(p, bench, until, 1 / args.rate) for p in pushers))
    push_s = time.perf_counter() - push_started
    await asyncio.sleep(1.0)  # the last live frames land

    held = 0
    replies = await asyncio.gather(
        *(c.request({"type": "pull", "id": "final", "since": 0, "limit": 1}, timeout=60)
          for c in conns if c.alive),
        return_exceptions=True,
    )  # fmt: skip
    held = sum(isinstance(r, dict) and r.get("type") == "changes" for r in replies)
    rss, peak = _rss_mb(server_pid)
    for conn in conns:
        await conn.ws.close()
    expected = sum(applied) * (args.per_user - 1)
    return {
        "devices_requested_count": len(devices),
        "devices_connected_count": len(conns),
        "devices_held_count": held,
        "connect_all_s": round(connect_s, 2),
        "pushers_count": len(pushers),
        "ops_applied_count": sum(applied),
        "ops_per_s": round(sum(applied) / push_s, 1),
        "fanout_deliveries_count": bench.deliveries,
        "fanout_missing_count": expected - bench.deliveries,
        "fanout_p50_ms": round(percentile(bench.latencies, 50), 2) if bench.latencies else -1,
        "fanout_p99_ms": round(percentile(bench.latencies, 99), 2) if bench.latencies else -1,
        "server_rss_idle_mb": round(rss_idle, 1),
        "server_rss_mb": round(rss, 1),
        "server_rss_peak_mb": round(peak, 1),
    }


def _profiler() -> list[str]:
    """``-m cProfile -o FILE`` for the server when BENCH_SERVER_PROFILE=FILE is set."""
    target = os.environ.get("BENCH_SERVER_PROFILE")
    return ["-m", "cProfile", "-o", target] if target else []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devices", type=int, default=5000)
    parser.add_argument("--per-user", type=int, default=20, help="at most 20 (the per-user limit)")
    parser.add_argument("--pushers", type=int, default=20, help="pushing devices (1 per user)")
    parser.add_argument("--rate", type=float, default=10.0, help="pushes per second per pusher")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connect-parallel", type=int, default=200)
    args = parser.parse_args()
    raise_open_files_limit()
    with tempfile.TemporaryDirectory(prefix="snapask-server-load-") as tmp:
        data_dir = Path(tmp) / "server"
        users = -(-args.devices // args.per_user)
        devices = provision(sqlite_url(data_dir), users, args.per_user)[: args.devices]
        log_level = os.environ.get("BENCH_SERVER_LOG")  # e.g. INFO: server logs to stderr
        command = [
            sys.executable, *_profiler(), "-m", "snapask_desktop.server.cli", "serve",
            "--data-dir", str(data_dir), "--host", HOST, "--port", "0",
            "--log-level", log_level or "WARNING",
        ]  # fmt: skip
        proc = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=None if log_level else subprocess.DEVNULL,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline().strip()
            port = int(line.rsplit(":", 1)[1])
            figures = asyncio.run(_run(args, f"ws://{HOST}:{port}/v1/sync", devices, proc.pid))
        finally:
            proc.terminate()
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
    emit("server_load", per_user_count=args.per_user, seconds_s=args.seconds, **figures)


if __name__ == "__main__":
    main()
