"""Scale-out figures: sync server instances on PostgreSQL and Redis behind HAProxy (issue 10).

Each part starts its own local cluster (server/cluster.py: `snapask-sync-server serve`
subprocesses on 127.0.0.1, a throwaway PostgreSQL database, a redis-server of its own, Debian's
HAProxy in front) and prints one JSON line:

- ``latency``: a change on device A visible in device B's store, A and B real devices
  (bench/sync_latency.py's) connected through the balancer to different instances, so every
  change crosses Redis.
- ``ops``: ops applied per second by pushing devices through the balancer with 1, 2, ... N
  instances (one pusher and one listener per user; each op fans out to the listener).
- ``failover``: 3 instances holding ``--devices`` connections (light clients that act as the
  app does: hello with their cursor, pull until up to date, then live); the instance holding
  the most is SIGKILLed while one device of each user keeps pushing (a change every
  ``--push-every`` s); for every device it held, the time from the kill until it is connected
  again through the balancer and has every change its user's devices had acknowledged; and
  how many acknowledged changes a device never got.
- ``reconnect``: the CPU one reconnect costs each part (the instance, PostgreSQL, Redis,
  this process as the devices), without the rest of a failover: ``--devices`` devices of one
  instance connect (hello, welcome, pull until up to date) 100 at a time, twice; CPU seconds
  per part divided by the devices. Independent of the machine's load, unlike wall times.

    .venv/bin/python bench/cluster.py [--only latency|ops|failover|reconnect] [--instances 3]
                                      [--devices 3000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make `bench` and the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from bench import server_load, sync_latency
from bench._common import emit, percentile
from snapask_desktop.server.cli import raise_open_files_limit
from snapask_desktop.server.cluster import Cluster, ClusterState, free_ports
from snapask_desktop.server.testing import http_request
from snapask_desktop.store import Store
from snapask_desktop.sync.clock import COUNTER_BITS
from snapask_desktop.sync.device.client import SyncEvents
from snapask_desktop.sync.device.runner import SyncRunner
from snapask_desktop.sync.session import retry_delay_ms
from tests.support.postgres import fresh_database  # the tests' throwaway databases
from tests.support.redis_server import redis_server


@contextlib.contextmanager
def running_cluster(root: Path, instances: int) -> Iterator[Cluster]:
    """``instances`` servers on a fresh database and Redis behind HAProxy, torn down after."""
    with fresh_database() as url, redis_server() as redis:
        lb_port, *ports = free_ports(instances + 1)
        cluster = Cluster(root / "cluster", ClusterState(lb_port, ports, url, redis.url))
        cluster.up()
        try:
            yield cluster
        finally:
            cluster.down()


def ws_url(cluster: Cluster) -> str:
    return cluster.url.replace("http://", "ws://") + "/v1/sync"


def connections(cluster: Cluster) -> dict[str, int]:
    """Open sync connections per live instance, from each one's /metrics."""
    found = {}
    for name in cluster.names:
        if name in cluster.state.pids:
            _, text = http_request("GET", cluster.instance_url(name) + "/metrics")
            line = next(x for x in str(text).splitlines() if x.startswith("snapask_connections "))
            found[name] = int(float(line.split()[1]))
    return found


def cpu_times(cluster: Cluster) -> dict[str, float]:
    """CPU seconds (user + system) used so far by each part of the cluster: every instance,
    HAProxy, Redis, the PostgreSQL backends serving the cluster's database (by pid: backends
    come and go) and this process, which holds every device."""
    tick = os.sysconf("SC_CLK_TCK")

    def cpu(pid: int | str) -> float:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / tick

    found = {name: cpu(pid) for name, pid in cluster.state.pids.items()}
    found["bench"] = cpu("self")
    database = f" {cluster.state.database_url.rpartition('/')[2]} "
    redis = f"127.0.0.1:{cluster.state.redis_url.rpartition(':')[2].partition('/')[0]}"
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                line = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                if line.startswith("postgres:") and database in line:
                    found[f"pg{entry.name}"] = cpu(entry.name)
                elif line.partition(" ")[0].endswith("redis-server") and redis in line.split():
                    found["redis"] = cpu(entry.name)
    return found


def cpu_used(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds each part used between two ``cpu_times``; PostgreSQL's backends summed."""
    used: Counter[str] = Counter()
    for name, seconds in after.items():
        used["postgres" if name.startswith("pg") else name] += seconds - before.get(name, 0.0)
    return {name: round(seconds, 2) for name, seconds in sorted(used.items())}


# ---------------------------------------------------------------------------- latency


def bench_latency(root: Path, instances: int, changes: int, gap_ms: int) -> dict[str, Any]:
    with running_cluster(root, max(2, instances)) as cluster:
        a = Store.open(root / "a")
        with Store.open(root / "b") as b_store:
            b_id = b_store.device_id
        token_a, token_b = sync_latency.tokens(
            cluster.state.database_url, [a.device_id, b_id], None
        )
        runner_a = SyncRunner(a, ws_url(cluster), lambda: token_a, SyncEvents(), poll_s=1.0)
        b = None
        try:
            runner_a.start()
            sync_latency.wait_live(runner_a)
            b = sync_latency.spawn_b(root / "b", ws_url(cluster), token_b, None)
            held = sorted(connections(cluster).values())
            if held.count(1) != 2:  # leastconn puts the second device on another instance
                raise SystemExit(f"A and B are not on different instances: {held}")
            latencies = sync_latency.measure(a, b, changes, gap_ms)
        finally:
            runner_a.stop()
            if b is not None:
                b.communicate("done\n", timeout=30)
            a.close()
    return {
        "cross_instance_p50_ms": round(percentile(latencies, 50), 2),
        "cross_instance_p99_ms": round(percentile(latencies, 99), 2),
        "cross_instance_max_ms": round(max(latencies), 2),
        "changes_count": len(latencies),
    }


# ---------------------------------------------------------------------------- ops/s


async def _ops_run(url: str, devices: list[tuple[int, str, str]], seconds: float) -> float:
    bench = server_load.Bench(per_user=2)
    gate = asyncio.Semaphore(50)
    opened = await asyncio.gather(
        *(server_load.open_device(url, u, d, t, bench, gate) for u, d, t in devices)
    )
    conns = [c for c in opened if c is not None]
    pushers = [c for i, c in enumerate(conns) if i % 2 == 0]  # the first device of each user
    until = time.perf_counter() + seconds
    started = time.perf_counter()
    # As fast as acks come back, under the per-device frame limit (50/s).
    applied = await asyncio.gather(*(server_load.pusher(p, bench, until, 0.025) for p in pushers))
    elapsed = time.perf_counter() - started
    for conn in conns:
        await conn.ws.close()
    return sum(applied) / elapsed


def bench_ops(root: Path, instances: int, pushers: int, seconds: float) -> dict[str, Any]:
    figures: dict[str, Any] = {"pushers_count": pushers}
    for count in range(1, instances + 1):
        with running_cluster(root / f"ops{count}", count) as cluster:
            devices = server_load.provision(cluster.state.database_url, pushers, 2)
            rate = asyncio.run(_ops_run(ws_url(cluster), devices, seconds))
        figures[f"ops_per_s_{count}_instances"] = round(rate, 1)
    return figures


# ---------------------------------------------------------------------------- reconnect


async def _reconnect_round(
    url: str, devices: list[tuple[int, str, str]], at_once: int
) -> list[Any]:
    gate = asyncio.Semaphore(at_once)
    opened: list[Any] = []

    async def one(device_id: str, token: str) -> None:
        async with gate:
            ws = await connect(url, additional_headers={"Authorization": f"Bearer {token}"},
                               open_timeout=60, ping_interval=None, compression=None,
                               max_size=None)  # fmt: skip
            opened.append(ws)
            await ws.send(json.dumps({"type": "hello", "id": "h", "protocol": 1,
                                      "device_id": device_id, "cursor": 0}))  # fmt: skip
            if json.loads(await ws.recv()).get("type") != "welcome":
                raise OSError("no welcome")
            await ws.send(json.dumps({"type": "pull", "id": "p", "since": 0}))
            while json.loads(await ws.recv()).get("id") != "p":
                pass

    await asyncio.gather(*(one(d, t) for _, d, t in devices))
    return opened


def bench_reconnect(root: Path, devices_count: int, rounds: int) -> dict[str, Any]:
    per_user = 20
    with running_cluster(root, 1) as cluster:
        devices = server_load.provision(cluster.state.database_url, -(-devices_count // per_user),
                                        per_user)[:devices_count]  # fmt: skip
        url = cluster.instance_url(cluster.names[0]).replace("http://", "ws://") + "/v1/sync"

        async def run() -> dict[str, Any]:
            figures: dict[str, Any] = {}
            for n in range(rounds):
                before, started = cpu_times(cluster), time.perf_counter()
                opened = await _reconnect_round(url, devices, 100)
                wall = time.perf_counter() - started
                used = cpu_used(before, cpu_times(cluster))
                per = {k: round(v * 1000 / len(devices), 2) for k, v in used.items()}
                figures[f"round{n + 1}_cpu_ms_per_reconnect"] = json.dumps(per)
                figures[f"round{n + 1}_wall_s"] = round(wall, 1)
                await asyncio.gather(*(ws.close() for ws in opened))
                await asyncio.sleep(2)  # the closes' own work, outside the next round
            return figures

        return {"devices_count": len(devices), **asyncio.run(run())}


# ---------------------------------------------------------------------------- failover


FAILURES: Counter[str] = Counter()  # why connections ended or failed after the fleet was up


def _reason(exc: BaseException) -> str:
    status = getattr(getattr(exc, "response", None), "status_code", None)
    return f"{type(exc).__name__}{f' {status}' if status else ''}: {str(exc)[:60]}"


class LightDevice:
    """One device as the app behaves on the wire: hello with its cursor, pull until up to date,
    then live; after a lost connection, reconnect after the app's backoff and do it again."""

    def __init__(self, user: int, device_id: str, token: str, url: str) -> None:
        self.user, self.device_id, self.token, self.url = user, device_id, token, url
        self.cursor = 0
        self.seen: set[str] = set()  # op ids received
        self.live = asyncio.Event()
        self.lost_at: float | None = None
        self.noticed_at: float | None = None  # when the loss was seen
        self.steps: list[float] = []
        self.recovered_s: float | None = None  # lost -> connected and up to date again
        self.stopping = False
        self._n = 0

    async def run(self) -> None:
        attempt = 0
        while not self.stopping:
            try:
                await self._session()
            except (OSError, TimeoutError, ConnectionClosed, InvalidHandshake) as exc:
                if self.live.is_set() or self.lost_at is not None:
                    FAILURES[_reason(exc)] += 1
            if self.stopping:
                return
            if self.live.is_set():  # as the app: a connection that worked starts backoff over
                attempt = 0
            if self.lost_at is None:
                self.lost_at = self.noticed_at = time.perf_counter()
            self.live.clear()
            await asyncio.sleep(retry_delay_ms(min(attempt, 3), random.random()) / 1000)
            attempt += 1

    async def _session(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        self.steps = [time.perf_counter()]  # started, connected, welcomed, pulled
        async with connect(self.url, additional_headers=headers, open_timeout=30,
                           ping_interval=None, compression=None, max_size=None) as ws:  # fmt: skip
            hello = {"type": "hello", "id": "h", "protocol": 1, "device_id": self.device_id,
                     "cursor": self.cursor}  # fmt: skip
            self.steps.append(time.perf_counter())
            await ws.send(json.dumps(hello))
            welcome = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if welcome.get("type") != "welcome":
                raise OSError(f"refused: {welcome}")
            self.steps.append(time.perf_counter())
            await self._pull_all(ws)
            self.steps.append(time.perf_counter())
            self.live.set()
            if self.lost_at is not None and self.recovered_s is None:
                self.recovered_s = time.perf_counter() - self.lost_at
            async for text in ws:
                frame = json.loads(text)
                if frame.get("type") == "changes" and "id" not in frame:
                    if frame["since"] > self.cursor:  # a gap: pull what is missing
                        await self._pull_all(ws)
                    else:
                        self._take(frame)

    async def _pull_all(self, ws: Any) -> None:
        behind = 0  # the newest cursor of a live frame that came ahead of our pulls
        while True:
            self._n += 1
            request_id = f"p{self._n}"
            await ws.send(json.dumps({"type": "pull", "id": request_id, "since": self.cursor}))
            while True:  # live frames may arrive before the reply
                frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
                if frame.get("id") == request_id:
                    break
                if frame.get("type") == "changes":
                    if frame["since"] <= self.cursor:
                        self._take(frame)
                    else:
                        behind = max(behind, frame["cursor"])
            if frame.get("type") != "changes":
                raise OSError(f"pull refused: {frame}")
            self._take(frame)
            if not frame["has_more"] and self.cursor >= behind:
                return

    def _take(self, frame: dict[str, Any]) -> None:
        for change in frame["changes"]:
            if change["seq"] > self.cursor:
                self.seen.add(change["op_id"])
        self.cursor = max(self.cursor, frame["cursor"])


async def _push_loop(
    url: str, device_id: str, token: str, acked: set[str], stop: asyncio.Event, every_s: float
) -> None:
    """One device of a user pushing a message every ``every_s``, reconnecting as the app would."""
    conversation, n = str(uuid.uuid4()), 0
    headers = {"Authorization": f"Bearer {token}"}
    while not stop.is_set():
        try:
            async with connect(url, additional_headers=headers, open_timeout=30,
                               ping_interval=None, compression=None) as ws:  # fmt: skip
                hello = {"type": "hello", "id": "h", "protocol": 1, "device_id": device_id,
                         "cursor": 0}  # fmt: skip
                await ws.send(json.dumps(hello))
                await asyncio.wait_for(ws.recv(), 30)
                while not stop.is_set():
                    n += 1
                    wall = time.time_ns() // 1_000_000
                    op_id = str(uuid.uuid4())
                    payload = {
                        "type": "message", "id": str(uuid.uuid4()),
                        "conversation_id": conversation, "role": "user", "text": f"m{n}",
                        "model": None, "status": "final", "screenshot_sha256": None,
                        "hlc": wall << COUNTER_BITS, "device": device_id, "created_at": wall,
                    }  # fmt: skip
                    frame = {"type": "push", "id": f"p{n}",
                             "ops": [{"op_id": op_id, "payload": payload}]}  # fmt: skip
                    await ws.send(json.dumps(frame))
                    while True:
                        reply = json.loads(await asyncio.wait_for(ws.recv(), 30))
                        if reply.get("id") == f"p{n}":
                            break
                    if reply.get("type") == "ack":
                        acked.add(op_id)  # only what the server acknowledged counts
                    await asyncio.sleep(every_s)
        except (OSError, TimeoutError, ConnectionClosed, InvalidHandshake):
            await asyncio.sleep(retry_delay_ms(0, random.random()) / 1000)


async def _failover_run(cluster: Cluster, devices: list[tuple[int, str, str]], users: int,
                        per_user: int, push_every_s: float) -> dict[str, Any]:  # fmt: skip
    url = ws_url(cluster)
    # The first device of each user pushes; the others listen (and are measured).
    listeners = [LightDevice(u, d, t, url) for i, (u, d, t) in enumerate(devices) if i % per_user]
    pushing = [(u, d, t) for i, (u, d, t) in enumerate(devices) if i % per_user == 0]
    tasks = []
    started = time.perf_counter()
    for index, device in enumerate(listeners):
        tasks.append(asyncio.create_task(device.run()))
        if index % 100 == 99:
            await asyncio.sleep(0.05)  # a fleet coming online, not a single burst
    await asyncio.wait_for(asyncio.gather(*(d.live.wait() for d in listeners)), 600)
    connect_s = time.perf_counter() - started
    acked: dict[int, set[str]] = {u: set() for u in range(users)}
    stop = asyncio.Event()
    pushers = [
        asyncio.create_task(_push_loop(url, d, t, acked[u], stop, push_every_s))
        for u, d, t in pushing
    ]
    steady_from = cpu_times(cluster), time.perf_counter()
    await asyncio.sleep(2)
    steady = cpu_used(steady_from[0], cpu_times(cluster))
    steady_s = time.perf_counter() - steady_from[1]
    held = connections(cluster)
    victim = max(held, key=lambda name: held[name])
    dropped_before = sum(d.lost_at is not None for d in listeners)
    live = [d for d in listeners if d.live.is_set()]
    for device in live:  # measure from the kill: forget earlier reconnects
        device.lost_at = device.noticed_at = device.recovered_s = None
    lags: list[float] = []
    lag_task = asyncio.create_task(_loop_lag(lags))
    cpu_before = cpu_times(cluster)
    killed_at = time.perf_counter()
    cluster.kill_instance(victim)
    await asyncio.sleep(1)
    affected = [d for d in live if d.lost_at is not None]
    for device in affected:  # time from the kill, not from when each noticed it
        device.lost_at = killed_at
    deadline = time.monotonic() + 120
    while any(d.recovered_s is None for d in affected) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    recovery_s = time.perf_counter() - killed_at
    cpu = cpu_used(cpu_before, cpu_times(cluster))
    lag_task.cancel()
    await asyncio.sleep(2)  # pushers keep going after the recovery
    stop.set()
    await asyncio.gather(*pushers)
    # Every acknowledged change must reach every listener: wait for the last live frames (on
    # an overloaded machine they can be seconds late), then count what never came.
    stopped_at = time.monotonic()
    while time.monotonic() < stopped_at + 30:
        lost = sum(len(acked[d.user] - d.seen) for d in listeners)
        if not lost:
            break
        await asyncio.sleep(0.5)
    lost = sum(len(acked[d.user] - d.seen) for d in listeners)
    all_landed_s = time.monotonic() - stopped_at
    for device in listeners:
        device.stopping = True
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    recovered = [d.recovered_s for d in affected if d.recovered_s is not None]
    noticed = [d.noticed_at - killed_at for d in affected if d.noticed_at is not None]
    back = [d for d in affected if d.recovered_s is not None and len(d.steps) == 4]
    steps = (
        {
            name: round(
                percentile([d.steps[i] - (d.steps[i - 1] if i else killed_at) for d in back], 50), 2
            )
            for i, name in enumerate(("retry_at", "connect", "welcome", "pull"))
        }
        if back
        else {}
    )
    return {
        "devices_count": len(listeners) + len(pushing),
        "connect_all_s": round(connect_s, 1),
        "held_by_victim_count": held[victim],
        "dropped_before_kill_count": dropped_before,
        "not_live_at_kill_count": len(listeners) - len(live),
        "reconnected_count": len(recovered),
        "not_reconnected_count": len(affected) - len(recovered),
        "recovery_steps_p50_s": json.dumps(steps),
        # CPU each part used from the kill until the last device was back (2 cores: at most
        # twice the wall time in all); "bench" holds every device, PostgreSQL is its backends.
        "recovery_wall_s": round(recovery_s, 2),
        "recovery_cpu_s": json.dumps(cpu),
        # The same parts' CPU per second before the kill (the pushes and their live frames),
        # which goes on during the recovery too.
        "steady_cpu_s_per_s": json.dumps({k: round(v / steady_s, 2) for k, v in steady.items()}),
        # This process's own delay in running a ready task during the recovery: every step
        # above includes it (the bench holds all 3,000 WebSockets on the same two cores).
        "bench_loop_lag_p50_s": round(percentile(lags, 50), 2) if lags else -1,
        "bench_loop_lag_max_s": round(max(lags), 2) if lags else -1,
        "noticed_p50_s": round(percentile(noticed, 50), 2) if noticed else -1,
        "caught_up_p50_s": round(percentile(recovered, 50), 2) if recovered else -1,
        "caught_up_p99_s": round(percentile(recovered, 99), 2) if recovered else -1,
        "caught_up_max_s": round(max(recovered), 2) if recovered else -1,
        "acked_ops_count": sum(len(s) for s in acked.values()),
        "lost_count": lost,
        "last_change_landed_s": round(all_landed_s, 1),  # after the pushers stopped
        "failures": "; ".join(f"{n} x {why}" for why, n in FAILURES.most_common(4)),
    }


async def _loop_lag(lags: list[float]) -> None:
    """How late a 50 ms sleep wakes, every 50 ms, until cancelled."""
    while True:
        started = time.perf_counter()
        await asyncio.sleep(0.05)
        lags.append(time.perf_counter() - started - 0.05)


def bench_failover(root: Path, devices_count: int, push_every_s: float) -> dict[str, Any]:
    per_user = 20
    users = -(-devices_count // per_user)
    with running_cluster(root, 3) as cluster:
        devices = server_load.provision(cluster.state.database_url, users, per_user)
        devices = devices[:devices_count]
        figures = asyncio.run(_failover_run(cluster, devices, users, per_user, push_every_s))
        return {"push_every_s": push_every_s, **figures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("latency", "ops", "failover", "reconnect"))
    parser.add_argument("--instances", type=int, default=3)
    parser.add_argument("--changes", type=int, default=200, help="latency: changes measured")
    parser.add_argument("--gap-ms", type=int, default=20, help="latency: pause between changes")
    parser.add_argument("--pushers", type=int, default=40, help="ops: pushing devices")
    parser.add_argument("--seconds", type=float, default=10.0, help="ops: push time per run")
    parser.add_argument(
        "--devices", type=int, default=None, help="failover: devices held (3000); reconnect: 1000"
    )
    parser.add_argument(
        "--push-every", type=float, default=1.0, help="failover: seconds between a user's pushes"
    )
    args = parser.parse_args()
    raise_open_files_limit()
    with tempfile.TemporaryDirectory(prefix="snapask-cluster-bench-") as tmp:
        root = Path(tmp)
        if args.only in (None, "latency"):
            figures = bench_latency(root / "latency", args.instances, args.changes, args.gap_ms)
            emit("cluster_latency", instances_count=max(2, args.instances), **figures)
        if args.only in (None, "ops"):
            figures = bench_ops(root / "ops", args.instances, args.pushers, args.seconds)
            emit("cluster_ops", seconds_s=args.seconds, **figures)
        if args.only in (None, "failover"):
            emit(
                "cluster_failover",
                **bench_failover(root / "failover", args.devices or 3000, args.push_every),
            )
        if args.only == "reconnect":  # not part of the default run: it repeats failover's work
            emit(
                "cluster_reconnect", **bench_reconnect(root / "reconnect", args.devices or 1000, 2)
            )


if __name__ == "__main__":
    main()
