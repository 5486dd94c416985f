"""One asyncio event loop in a daemon thread, for callers that are threads (CLI, Qt workers)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


class LoopThread:
    """Runs coroutines on a private event loop started on first use; `stop()` ends it."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule `coro` on the loop; the returned future's cancel() cancels the task."""
        return asyncio.run_coroutine_threadsafe(coro, self._ensure_loop())

    def stop(
        self,
        timeout_s: float = 5.0,
        finalizer: Callable[[], Coroutine[Any, Any, None]] | None = None,
    ) -> None:
        """Cancel what still runs, run `finalizer` (closing pools), stop the loop, join it."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(_cancel_all(), loop).result(timeout_s)
        except TimeoutError:
            # A task that does not finish on cancel must not make quitting fail or hang: the
            # thread is a daemon, so stop the loop regardless and say so.
            log.warning("%s: tasks still running after %.0f s; stopping anyway", self._name,
                        timeout_s)  # fmt: skip
        if finalizer is not None:
            with contextlib.suppress(Exception):  # best effort: the loop is going away anyway
                asyncio.run_coroutine_threadsafe(finalizer(), loop).result(timeout_s)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout_s)
        if not thread.is_alive():
            loop.close()

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()
                self._thread = threading.Thread(
                    target=_run, args=(loop, ready), name=self._name, daemon=True
                )
                self._thread.start()
                ready.wait()
                self._loop = loop
            return self._loop


def _run(loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
    asyncio.set_event_loop(loop)
    loop.call_soon(ready.set)
    loop.run_forever()


async def _cancel_all() -> None:
    current = asyncio.current_task()
    tasks = [t for t in asyncio.all_tasks() if t is not current]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
