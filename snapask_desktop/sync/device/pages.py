"""The pages of a catch-up pulled ahead of the store's write, to be applied several at once.

An initial sync is 60 pages of 1,000 changes. Each page applied in its own transaction wrote
the random-UUID index pages it touched to the WAL at every commit (~3 MB a page); applying
pages together writes each of those index pages once per group, not once per page (the
device's CPU for the store's write about a third less). So while one group is written on a
worker thread, ``PageReader`` keeps pulling (and, on the loop thread, parsing) the next pages
until ``max_changes`` wait; ``take`` hands them over then, or when the last page (no
``has_more``) has come. The first page after ``start`` goes alone, so the history shows
something at once. A pull of one page is applied as before.

A crash loses only the uncommitted group, pulled again from the stored cursor.
"""

from __future__ import annotations

import asyncio
import contextlib

from snapask_desktop.sync.device.connection import Connection
from snapask_desktop.sync.protocol import Changes, Pull

# Changes waiting to be applied at most (four pages of 1,000): the reader pauses there. One
# group's transaction holds the store's write lock about 0.1 s on a quiet machine.
GROUP_CHANGES = 4_000


class PageReader:
    """Pulls pages from a cursor, each from the last one's cursor while ``has_more``."""

    def __init__(self, conn: Connection, limit: int, max_changes: int = GROUP_CHANGES) -> None:
        self._conn = conn
        self._limit = limit
        self._max_changes = max_changes
        self._frames: list[Changes] = []
        self._waiting = 0  # changes in _frames
        self._arrived = asyncio.Event()  # a frame (or the end) since the last take
        self._room = asyncio.Event()  # fewer than max_changes waiting
        self._task: asyncio.Task[None] | None = None
        self._next_since: int | None = None  # the since of the next frame take returns
        self._first = True  # nothing taken since start

    def start(self, cursor: int) -> None:
        """Pull from ``cursor`` on; whatever an earlier start pulled is dropped."""
        self.close()
        self._frames, self._waiting = [], 0
        self._arrived.clear()
        self._room.set()
        self._next_since = cursor
        self._first = True
        self._task = asyncio.get_running_loop().create_task(self._run(cursor))

    def continues_from(self, cursor: int) -> bool:
        """Whether the next frame ``take`` returns is the one pulled from ``cursor``."""
        return self._task is not None and self._next_since == cursor

    async def take(self) -> list[Changes]:
        """Every frame pulled and not yet taken, in order: the first page alone (shown at
        once), then a full group, or what came before the last page or a failed pull (raised
        at the next take)."""
        task = self._task
        if task is None:
            raise RuntimeError("PageReader.take before start")
        while not self._frames or not (
            self._first or self._waiting >= self._max_changes or task.done()
        ):
            if task.done():
                task.result()  # the pull's error
                raise RuntimeError("PageReader.take after the last page")
            self._arrived.clear()
            await self._arrived.wait()
        self._first = False
        frames, self._frames, self._waiting = self._frames, [], 0
        # Still pulling (from the last frame's cursor), or failed: the next take goes on from
        # there (and raises the failure). Ended normally: nothing follows these frames.
        ended = task.done() and not task.cancelled() and task.exception() is None
        self._next_since = None if ended else frames[-1].cursor
        self._room.set()
        return frames

    def close(self) -> None:
        """Stop pulling (a request in flight is abandoned)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                self._task.exception()  # a finished task's error is not "never retrieved"
            self._task = None

    async def _run(self, since: int) -> None:
        try:
            while True:
                await self._room.wait()
                reply = await self._conn.request(Pull(since, self._limit))
                if not isinstance(reply, Changes):
                    raise TypeError(f"a pull was answered by {type(reply).__name__}")
                self._frames.append(reply)
                self._waiting += len(reply.changes)
                self._arrived.set()
                if self._waiting >= self._max_changes:
                    self._room.clear()
                # Nothing awaited between here and the return: a task still running at a
                # take pulls from the cursor of the last frame taken.
                if not (reply.has_more and reply.since <= since < reply.cursor):
                    return
                since = reply.cursor
        finally:
            self._arrived.set()


__all__ = ["GROUP_CHANGES", "PageReader"]
