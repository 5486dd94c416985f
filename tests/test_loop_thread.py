"""LoopThread.stop is bounded: a task that will not end does not hang or break quitting."""

from __future__ import annotations

import asyncio
import threading
import time

from snapask_desktop.loop_thread import LoopThread


def test_stop_returns_even_when_a_task_ignores_cancellation() -> None:
    loop_thread = LoopThread("test-stubborn")
    release = threading.Event()

    async def stubborn() -> None:
        while not release.is_set():
            try:
                await asyncio.sleep(0.05)
            except asyncio.CancelledError:
                continue  # refuses to stop, like a close waiting on a dead network

    loop_thread.submit(stubborn())
    started = time.monotonic()
    loop_thread.stop(timeout_s=0.5)  # must not raise
    assert time.monotonic() - started < 5
    release.set()


def test_stop_cancels_running_work() -> None:
    loop_thread = LoopThread("test-plain")
    future = loop_thread.submit(asyncio.sleep(3600))
    loop_thread.stop(timeout_s=5)
    assert future.cancelled()
