"""A thread-friendly handle on one streaming answer: iterate chunks, cancel from any thread."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import enum
import queue
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass

from snapask_desktop.ai import errors
from snapask_desktop.ai.types import AIError


class Outcome(enum.Enum):
    """How an answer ended."""

    COMPLETED = "completed"
    CANCELLED = "cancelled"
    ERROR = "error"


@dataclass
class StreamStatus:
    """Filled in while an answer streams; `from_cache` is known before the first chunk."""

    from_cache: bool = False


_END = object()


class AnswerStream:
    """Runs an async chunk stream on a background loop; the caller iterates it from its thread.

    `for chunk in stream:` yields text as it arrives and, unless the answer completed,
    ends by raising the AIError (CANCELLED after `cancel()`). `cancel()` wakes a waiting
    reader at once, whatever the server is doing, and cancels the network task.
    """

    def __init__(
        self,
        start: Callable[[StreamStatus], AsyncIterator[str]],
        submit: Callable[..., concurrent.futures.Future[None]],
    ) -> None:
        self._status = StreamStatus()
        self._chunks: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._parts: list[str] = []
        self._outcome: Outcome | None = None
        self._error: AIError | None = None
        self._future = submit(self._run(start))

    # the caller's side -------------------------------------------------------------------
    def __iter__(self) -> Iterator[str]:
        while True:
            item = self._chunks.get()
            if item is _END:
                self._chunks.put(_END)  # later iterations end at once too
                break
            assert isinstance(item, str)
            yield item
        if self._error is not None:
            raise self._error

    def result(self) -> str:
        """Wait for the whole answer and return it (raises the AIError if it did not complete)."""
        for _ in self:
            pass
        return self.text

    def cancel(self) -> None:
        """Stop the answer now (from any thread); a no-op once it has ended."""
        if self._finish(Outcome.CANCELLED, errors.cancelled()):
            self._future.cancel()

    def join(self, timeout_s: float | None = None) -> bool:
        """Wait until the background task has really finished (connection closed); True if so."""
        with contextlib.suppress(concurrent.futures.CancelledError, TimeoutError):
            self._future.result(timeout_s)
        return self._future.done()

    @property
    def text(self) -> str:
        """The text received so far (all of it once completed)."""
        with self._lock:
            return "".join(self._parts)

    @property
    def outcome(self) -> Outcome | None:
        """None while running, then how it ended."""
        return self._outcome

    @property
    def error(self) -> AIError | None:
        """Why it did not complete (None while running or when completed)."""
        return self._error

    @property
    def from_cache(self) -> bool:
        """True when the answer came from the answer cache instead of the provider."""
        return self._status.from_cache

    @property
    def done(self) -> bool:
        """True once an outcome is known."""
        return self._outcome is not None

    # the loop's side ---------------------------------------------------------------------
    async def _run(self, start: Callable[[StreamStatus], AsyncIterator[str]]) -> None:
        try:
            async with contextlib.aclosing(start(self._status)) as chunks:
                async for chunk in chunks:
                    with self._lock:
                        if self._outcome is not None:
                            return  # cancelled while this chunk was in flight
                        self._parts.append(chunk)
                    self._chunks.put(chunk)
        except asyncio.CancelledError:
            self._finish(Outcome.CANCELLED, errors.cancelled())
            raise
        except AIError as error:
            self._finish(Outcome.ERROR, error)
        except Exception as exc:
            self._finish(Outcome.ERROR, errors.unexpected("the AI provider", exc))
        else:
            self._finish(Outcome.COMPLETED, None)

    def _finish(self, outcome: Outcome, error: AIError | None) -> bool:
        """Record the first outcome only; True if this call decided it."""
        with self._lock:
            if self._outcome is not None:
                return False
            self._outcome, self._error = outcome, error
        self._chunks.put(_END)
        return True
