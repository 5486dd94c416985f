"""Reads that many connections need at once, made as one query per batch.

When an instance dies, each surviving instance takes hundreds of its devices within a second,
and every one of them needs its token checked (the upgrade) and its user's head read (the
welcome). One query each meant hundreds of worker-thread hand-offs and database round trips,
most of the CPU of a reconnect storm on the instances and PostgreSQL alike (docs/benchmarks.md,
"Scale-out"). Here a request that arrives while ``parallel`` batches are already being read
waits for the next batch, which reads every key asked for meanwhile with one query; when the
server is quiet a request starts its own batch at once, so nothing waits on purpose.

A batch starts only after every request in it was made, so each answer is read after its
request: a token revoked before the upgrade is refused, and a head read after the subscription
was confirmed (session.py) is at least every change the subscription may have missed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

Fetch = Callable[[Sequence[K]], Awaitable[dict[K, V]]]


class BatchedReads(Generic[K, V]):
    """``await get(key)``: the value ``fetch`` read for ``key`` in a batch (None if absent)."""

    def __init__(self, fetch: Fetch[K, V], *, parallel: int = 2, max_batch: int = 500) -> None:
        if parallel < 1 or max_batch < 1:
            raise ValueError("parallel and max_batch must be at least 1")
        self._fetch = fetch
        self._parallel = parallel
        self._max_batch = max_batch
        self._waiting: dict[K, list[asyncio.Future[V | None]]] = {}
        self._running = 0
        self._tasks: set[asyncio.Task[None]] = set()  # held: the loop keeps only weak references
        self.batches = 0  # batches read so far (for tests and the benchmark's notes)

    async def get(self, key: K) -> V | None:
        """The value for ``key``, read no earlier than this call."""
        future: asyncio.Future[V | None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, []).append(future)
        self._start()
        return await future

    def _start(self) -> None:
        while self._waiting and self._running < self._parallel:
            keys = list(self._waiting)[: self._max_batch]
            batch = {key: self._waiting.pop(key) for key in keys}
            self._running += 1
            self.batches += 1
            task = asyncio.create_task(self._read(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _read(self, batch: dict[K, list[asyncio.Future[V | None]]]) -> None:
        try:
            found = await self._fetch(list(batch))
        except Exception as exc:  # every request of the batch gets the error
            for futures in batch.values():
                for future in futures:
                    if not future.done():
                        future.set_exception(exc)
        else:
            for key, futures in batch.items():
                value = found.get(key)
                for future in futures:
                    if not future.done():  # a request whose connection went away meanwhile
                        future.set_result(value)
        finally:
            self._running -= 1
            self._start()
