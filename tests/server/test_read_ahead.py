"""Pull pages read ahead (server/session.py): while the device parses a page with has_more,
the server reads the next one; it serves it only for exactly that since and limit, never as
the last page, and a failed read ahead is read again."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest

from snapask_desktop.server import changes as server_changes
from snapask_desktop.server.testing import RunningServer
from tests.server.conftest import DeviceFactory
from tests.server.helpers import WAIT_S, Conn, conversation, message, new_id


def _raw_pull(conn: Conn, request_id: Any, since: int, limit: int) -> str:
    """The reply's exact text (live frames before it are kept in ``conn.live``)."""
    conn.send({"type": "pull", "id": request_id, "since": since, "limit": limit})
    while True:
        text = conn.ws.recv(timeout=WAIT_S)
        assert isinstance(text, str)
        frame = json.loads(text)
        if frame.get("id") == request_id:
            return text
        assert frame["type"] == "changes" and "id" not in frame, frame
        conn.live.append(frame)


def _read_ahead_done(srv: RunningServer) -> None:
    """Wait until every connection's read ahead (if any) has finished."""

    async def settle() -> None:
        tasks = [s._ahead[2] for s in srv.server.sessions if s._ahead is not None]
        if tasks:
            await asyncio.wait(tasks)

    srv.call(settle)


def _read_ahead_count(srv: RunningServer) -> float:
    value = srv.server.metrics.registry.get_sample_value("snapask_pull_pages_read_ahead_total")
    return value or 0.0


def _push_titles(conn: Conn, device_id: str, count: int) -> None:
    results = conn.push_payloads(*(conversation(device_id, f"c{i}") for i in range(count)))
    assert {r["status"] for r in results} == {"applied"}


def test_a_multi_page_pull_returns_the_pages_a_fresh_read_gives(
    srv: RunningServer, device: DeviceFactory
) -> None:
    laptop, _, conn = device()
    _push_titles(conn, laptop, 30)
    texts = []
    cursor, page = 0, 0
    while True:
        text = _raw_pull(conn, f"q{page}", cursor, 7)
        texts.append((cursor, text))
        frame = json.loads(text)
        cursor, page = frame["cursor"], page + 1
        if not frame["has_more"]:
            break
    assert cursor == 30 and len(texts) == 5
    for n, (since, text) in enumerate(texts):
        assert text == server_changes.read_page(srv.server.db, 1, since, 7, f"q{n}")[0]
    # Pages 2-4 came from reads ahead; the last (6 changes, no has_more) was read again.
    assert _read_ahead_count(srv) == 3


def test_a_page_read_ahead_is_cut_for_its_request_id_as_a_fresh_read(
    srv: RunningServer, device: DeviceFactory
) -> None:
    """Pages filled by bytes: a long request id leaves room for fewer changes, so the page read
    ahead (without knowing the id) is cut to what the real reply holds."""
    laptop, _, conn = device()
    conv_id = new_id()
    for _ in range(3):
        results = conn.push_payloads(*(message(laptop, conv_id, "x" * 40_000) for _ in range(90)))
        assert {r["status"] for r in results} == {"applied"}
    long_id = "i" * 64
    pages = []
    cursor = 0
    while True:
        text = _raw_pull(conn, long_id, cursor, 1000)
        assert text == server_changes.read_page(srv.server.db, 1, cursor, 1000, long_id)[0]
        frame = json.loads(text)
        pages.append(len(frame["changes"]))
        cursor = frame["cursor"]
        if not frame["has_more"]:
            break
    assert cursor == 270 and len(pages) >= 3 and _read_ahead_count(srv) >= 1


def test_a_change_committed_during_a_catch_up_arrives(
    srv: RunningServer, device: DeviceFactory
) -> None:
    _, _, conn = device()
    phone, _, other = device()
    _push_titles(other, phone, 20)
    first = json.loads(_raw_pull(conn, "a", 0, 5))
    assert first["has_more"] is True and first["cursor"] == 5
    _read_ahead_done(srv)  # the page (5, 10] is read ahead
    _push_titles(other, phone, 1)  # seq 21
    seqs = [c["seq"] for c in first["changes"]]
    cursor, n = 5, 0
    while True:
        frame = json.loads(_raw_pull(conn, f"b{n}", cursor, 5))
        seqs += [c["seq"] for c in frame["changes"]]
        cursor, n = frame["cursor"], n + 1
        if not frame["has_more"]:
            break
    assert seqs == list(range(1, 22)) and cursor == 21


def test_a_change_committed_while_the_last_page_is_read_ahead_arrives(
    srv: RunningServer, device: DeviceFactory
) -> None:
    """The page after the first is the last when read ahead: it is read again when asked for,
    so it has more, and the device catches up to the new change (not stopping before it)."""
    _, _, conn = device()
    phone, _, other = device()
    _push_titles(other, phone, 10)
    first = json.loads(_raw_pull(conn, "a", 0, 5))
    assert first["has_more"] is True and first["cursor"] == 5
    _read_ahead_done(srv)  # (5, 10] was read as the last page, head 10
    _push_titles(other, phone, 1)  # seq 11, live to conn before its next reply
    second = json.loads(_raw_pull(conn, "b", 5, 5))
    assert [c["seq"] for c in second["changes"]] == [6, 7, 8, 9, 10]
    assert second["has_more"] is True and second["cursor"] == 10
    third = json.loads(_raw_pull(conn, "c", 10, 5))
    assert [c["seq"] for c in third["changes"]] == [11]
    assert third["has_more"] is False and third["cursor"] == 11
    assert _read_ahead_count(srv) == 0
    # Caught up now: the next change comes live.
    conn.live.clear()
    _push_titles(other, phone, 1)
    assert conn.next_live()["cursor"] == 12


def test_a_pull_of_another_range_than_the_one_read_ahead(
    srv: RunningServer, device: DeviceFactory
) -> None:
    laptop, _, conn = device()
    _push_titles(conn, laptop, 30)
    conn.live.clear()
    asked = [(0, 5), (3, 4), (7, 5), (7, 6), (13, 6), (19, 6)]
    for n, (since, limit) in enumerate(asked):
        text = _raw_pull(conn, n, since, limit)
        _read_ahead_done(srv)
        assert text == server_changes.read_page(srv.server.db, 1, since, limit, n)[0]
    # Only the last two asked for the page read ahead ((13, 6) after (7, 6), then (19, 6)).
    assert _read_ahead_count(srv) == 2


def test_a_failed_read_ahead_is_read_again(
    srv: RunningServer, device: DeviceFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    laptop, _, conn = device()
    _push_titles(conn, laptop, 15)
    real = server_changes.read_rows
    calls = 0
    lock = threading.Lock()

    def flaky(*args: Any, **kwargs: Any) -> server_changes.PageRows:
        nonlocal calls
        with lock:
            calls += 1
            failing = calls == 2  # the read ahead after the first page
        if failing:
            raise RuntimeError("database went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(server_changes, "read_rows", flaky)
    first = json.loads(_raw_pull(conn, "a", 0, 5))
    _read_ahead_done(srv)
    second = _raw_pull(conn, "b", 5, 5)
    _read_ahead_done(srv)
    monkeypatch.setattr(server_changes, "read_rows", real)
    assert first["cursor"] == 5
    assert second == server_changes.read_page(srv.server.db, 1, 5, 5, "b")[0]
    assert calls == 4 and _read_ahead_count(srv) == 0
    third = json.loads(_raw_pull(conn, "c", 10, 5))  # still connected, the chain goes on
    assert third["cursor"] == 15 and third["has_more"] is False


def test_closing_with_a_page_read_ahead_forgets_it(
    srv: RunningServer, device: DeviceFactory
) -> None:
    laptop, _, conn = device()
    _push_titles(conn, laptop, 12)
    assert json.loads(_raw_pull(conn, "a", 0, 5))["has_more"] is True
    conn.close()
    _, _, again = device()
    assert [c["seq"] for c in again.pull_all()[0]] == list(range(1, 13))

    async def forgotten() -> None:
        while any(s._ahead is not None or s.closing for s in srv.server.sessions):
            await asyncio.sleep(0.01)

    srv.call(forgotten, timeout=WAIT_S)
