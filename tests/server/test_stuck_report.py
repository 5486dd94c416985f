"""A test server that will not stop says where it is stuck (server/testing.py)."""

from __future__ import annotations

import asyncio
import threading

from snapask_desktop.server.testing import _stuck_report


def test_the_report_names_the_loops_thread_and_its_pending_tasks() -> None:
    loop = asyncio.new_event_loop()
    blocked, release = threading.Event(), threading.Event()

    async def waiting_on_redis() -> None:
        await asyncio.sleep(3600)

    def run() -> None:
        task = loop.create_task(waiting_on_redis(), name="fanout")
        loop.run_until_complete(asyncio.sleep(0))  # the task starts and waits
        blocked.set()
        release.wait(10)  # the loop's thread held in a blocking call
        task.cancel()
        loop.run_until_complete(asyncio.gather(task, return_exceptions=True))

    thread = threading.Thread(target=run, name="server-loop")
    thread.start()
    try:
        assert blocked.wait(10)
        report = _stuck_report(thread, loop)
    finally:
        release.set()
        thread.join(10)
        loop.close()
    assert "name='fanout'" in report and "waiting_on_redis" in report
    assert "thread server-loop (the server's loop):" in report
    assert "release.wait(10)" in report
