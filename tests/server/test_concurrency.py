"""Many connections of one user pushing at once: seqs without holes, and no cursor skips."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from snapask_desktop.server.testing import RunningServer
from tests.server.conftest import PASSWORD
from tests.server.helpers import WAIT_S, conversation, message, new_id, op

WRITERS = 8
PUSHES = 15
OPS = 5


async def _open(srv: RunningServer, device_id: str) -> ClientConnection:
    token = await asyncio.to_thread(srv.sign_in, "ada", PASSWORD, device_id)
    ws = await connect(srv.ws_url, additional_headers={"Authorization": f"Bearer {token}"},
                       open_timeout=WAIT_S, max_size=None)  # fmt: skip
    await ws.send(json.dumps({"type": "hello", "id": "h", "protocol": 1,
                              "device_id": device_id, "cursor": 0}))  # fmt: skip
    assert json.loads(await ws.recv())["type"] == "welcome"
    return ws


async def _reply(ws: ClientConnection, request_id: str) -> dict[str, Any]:
    while True:
        frame: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), WAIT_S))
        if frame.get("id") == request_id:
            return frame


async def _writer(ws: ClientConnection, device_id: str, n: int) -> list[int]:
    seqs: list[int] = []
    conv = conversation(device_id)
    for i in range(PUSHES):
        ops = [op(message(device_id, conv.id, f"{n}/{i}/{k}")) for k in range(OPS)]
        await ws.send(json.dumps({"type": "push", "id": f"p{i}", "ops": ops}))
        ack = await _reply(ws, f"p{i}")
        assert [r["status"] for r in ack["results"]] == ["applied"] * OPS
        seqs.extend(r["seq"] for r in ack["results"])
    return seqs


async def _reader(ws: ClientConnection, done: asyncio.Event, total: int) -> list[int]:
    """Pull from its cursor over and over while the writers push; check every page."""
    cursor = 0
    seen: list[int] = []
    i = 0
    while cursor < total:
        i += 1
        await ws.send(json.dumps({"type": "pull", "id": f"q{i}", "since": cursor, "limit": 37}))
        page = await _reply(ws, f"q{i}")
        if page["type"] == "error":  # pulling in a tight loop may hit the frame rate limit
            assert page["code"] == "rate_limited", page
            await asyncio.sleep(page["retry_after_ms"] / 1000)
            continue
        got = [c["seq"] for c in page["changes"]]
        # The page covers (since, cursor] completely: exactly these seqs, in order.
        assert got == list(range(cursor + 1, page["cursor"] + 1)), (cursor, page["cursor"], got)
        seen.extend(got)
        cursor = page["cursor"]
        if not got and not done.is_set():
            await asyncio.sleep(0.01)
    return seen


async def _run(srv: RunningServer) -> None:
    devices = [new_id() for _ in range(WRITERS + 1)]
    conns = [await _open(srv, d) for d in devices]
    total = WRITERS * PUSHES * OPS
    done = asyncio.Event()
    reader = asyncio.create_task(_reader(conns[-1], done, total))
    results = await asyncio.gather(
        *(_writer(ws, d, n) for n, (ws, d) in enumerate(zip(conns[:-1], devices[:-1], strict=True)))
    )
    done.set()
    seen = await asyncio.wait_for(reader, 120)
    acked = sorted(s for seqs in results for s in seqs)
    assert acked == list(range(1, total + 1)), "seqs have holes or repeats"
    for seqs in results:
        assert seqs == sorted(seqs), "one connection's ops get increasing seqs"
    assert seen == list(range(1, total + 1)), "the reader skipped or repeated a change"
    for ws in conns:
        await ws.close()


def test_concurrent_pushes_get_contiguous_seqs_and_pulls_never_skip(srv: RunningServer) -> None:
    asyncio.run(_run(srv))
