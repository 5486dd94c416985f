"""Token checks and heads of many devices connecting at once are read in batches
(server/batched_reads.py): fewer queries, and every answer still read after its request."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from snapask_desktop.server import accounts
from snapask_desktop.server.batched_reads import BatchedReads
from snapask_desktop.server.passwords import new_token
from snapask_desktop.server.testing import RunningServer
from tests.server.conftest import PASSWORD
from tests.server.helpers import Conn, connect_device, new_id, refused_status

# ---------------------------------------------------------------------------- the batcher


class Source:
    """A data source whose reads can be held open, to make requests arrive mid-read."""

    def __init__(self) -> None:
        self.values: dict[str, int] = {}
        self.reads: list[list[str]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.failing_reads = 0  # how many reads from now on fail

    async def fetch(self, keys: Sequence[str]) -> dict[str, int]:
        self.reads.append(list(keys))
        snapshot = {k: self.values[k] for k in keys if k in self.values}  # read when it starts
        fail = self.failing_reads > 0
        self.failing_reads -= fail
        await self.gate.wait()
        if fail:
            raise OSError("database down")
        return snapshot


async def settle() -> None:
    """Let every task that can run do so (a read starts one loop turn after its request)."""
    for _ in range(5):
        await asyncio.sleep(0)


def test_requests_made_while_a_read_runs_share_the_next_read() -> None:
    async def main() -> None:
        source = Source()
        source.values = {f"k{i}": i for i in range(100)}
        reads = BatchedReads(source.fetch, parallel=1)
        source.gate.clear()
        first = asyncio.create_task(reads.get("k0"))
        await settle()
        rest = [asyncio.create_task(reads.get(f"k{i}")) for i in range(1, 100)]
        rest.append(asyncio.create_task(reads.get("k5")))  # asked twice: read once
        await settle()
        source.gate.set()
        assert await first == 0
        assert await asyncio.gather(*rest) == [*range(1, 100), 5]
        assert source.reads == [["k0"], [f"k{i}" for i in range(1, 100)]]
        assert await reads.get("missing") is None

    asyncio.run(main())


def test_an_answer_is_never_read_before_its_request() -> None:
    """A request arriving while a read is under way does not take that read's answer: the
    value may have changed after the read started (a token revoked, a push committed)."""

    async def main() -> None:
        source = Source()
        source.values = {"token": 1}
        reads = BatchedReads(source.fetch, parallel=1)
        source.gate.clear()
        early = asyncio.create_task(reads.get("token"))
        await settle()
        source.values["token"] = 2  # changed after the first read started
        late = asyncio.create_task(reads.get("token"))
        await settle()
        source.gate.set()
        assert (await early, await late) == (1, 2)
        assert source.reads == [["token"], ["token"]]

    asyncio.run(main())


def test_a_quiet_request_is_read_at_once_and_reads_run_side_by_side() -> None:
    async def main() -> None:
        source = Source()
        source.values = {"a": 1, "b": 2, "c": 3}
        reads = BatchedReads(source.fetch, parallel=2)
        source.gate.clear()
        a = asyncio.create_task(reads.get("a"))
        await settle()
        b = asyncio.create_task(reads.get("b"))
        await settle()
        c = asyncio.create_task(reads.get("c"))
        await settle()
        assert source.reads == [["a"], ["b"]]  # two at once; "c" waits for one of them
        source.gate.set()
        assert await asyncio.gather(a, b, c) == [1, 2, 3]
        assert source.reads == [["a"], ["b"], ["c"]]

    asyncio.run(main())


def test_a_failed_read_fails_its_requests_only_and_a_gone_request_is_skipped() -> None:
    async def main() -> None:
        source = Source()
        source.values = {"a": 1, "b": 2}
        reads = BatchedReads(source.fetch, parallel=1)
        source.gate.clear()
        source.failing_reads = 1
        a = asyncio.create_task(reads.get("a"))
        await settle()
        b = asyncio.create_task(reads.get("b"))
        gone = asyncio.create_task(reads.get("b"))
        await settle()
        gone.cancel()  # its connection closed while it waited
        source.gate.set()
        with pytest.raises(OSError, match="database down"):
            await a
        assert await b == 2  # read after a's failed read: not part of it
        assert gone.cancelled()
        assert await reads.get("a") == 1

    asyncio.run(main())


def test_limits_are_checked() -> None:
    with pytest.raises(ValueError):
        BatchedReads(Source().fetch, parallel=0)


# ---------------------------------------------------------------------------- the server


@contextmanager
def statements(srv: RunningServer) -> Iterator[list[str]]:
    """The SQL text of every statement the server runs meanwhile."""
    seen: list[str] = []
    lock = threading.Lock()

    def note(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        with lock:
            seen.append(" ".join(sql.split()))

    engine = srv.server.db.engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


def devices_of(srv: RunningServer, users: int, per_user: int) -> list[tuple[str, str]]:
    """(device id, token) of new devices, straight into the database (no sign-in limits)."""
    made = []
    for n in range(users):
        user_id = srv.add_user(f"user{n}", PASSWORD)
        for _ in range(per_user):
            device_id, token = new_id(), new_token()
            accounts.issue_token(srv.server.db, user_id, device_id, "a device", token)
            made.append((device_id, token))
    return made


def test_devices_connecting_together_share_token_checks_and_head_reads(
    srv: RunningServer,
) -> None:
    devices = devices_of(srv, users=3, per_user=16)
    with statements(srv) as seen, ThreadPoolExecutor(len(devices)) as pool:
        conns: list[Conn] = list(pool.map(lambda d: connect_device(srv, d[1], d[0]), devices))
    for conn in conns:
        conn.close()
    token_checks = [s for s in seen if "FROM devices JOIN users" in s and "token_hash" in s]
    head_reads = [s for s in seen if s.startswith("SELECT user_counters.")]
    # One statement per device before: 48 token checks and 48 head reads.
    assert 1 <= len(token_checks) <= len(devices) // 2, len(token_checks)
    assert 1 <= len(head_reads) <= len(devices) // 2, len(head_reads)


def test_revoked_and_unknown_tokens_among_many_are_refused_and_the_rest_keep_their_device(
    srv: RunningServer,
) -> None:
    """Each connection gets its own identity out of a shared token check: a mix-up would
    fail the hello (device_mismatch) or let a revoked token in."""
    devices = devices_of(srv, users=2, per_user=12)
    revoked = devices[::4]
    for device_id, _ in revoked:
        assert srv.revoke(device_id)
    unknown = [(new_id(), new_token()) for _ in range(4)]

    def attempt(device: tuple[str, str]) -> int | Conn:
        if device in revoked or device in unknown:
            return refused_status(srv, device[1])[0]
        return connect_device(srv, device[1], device[0])  # hello checks the device id

    with ThreadPoolExecutor(len(devices) + len(unknown)) as pool:
        outcomes = list(pool.map(attempt, devices + unknown))
    refused = [o for o in outcomes if not isinstance(o, Conn)]
    assert refused == [401] * (len(revoked) + len(unknown))
    for outcome in outcomes:
        if isinstance(outcome, Conn):
            outcome.close()
