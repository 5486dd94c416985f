"""A TCP relay on 127.0.0.1 that tests can cut: connections drop mid-frame, like a bad network.

It runs its own asyncio loop in a thread, so sync tests can place it between a real client
and the real server without either knowing.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator


class TcpProxy:
    """Relays 127.0.0.1:<port> to ``target``; ``cut()`` drops every open connection."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.client_bytes = 0  # bytes relayed from clients to the server so far
        self.cut_after_client_bytes: int | None = None  # drop once clients sent this much
        self.refuse = False  # while True, new connections are closed at once
        # Once clients have sent this many bytes, nothing more from the server reaches them
        # (requests still arrive): an ack lost on the way back.
        self.hold_replies_after_client_bytes: int | None = None
        self._loop = asyncio.new_event_loop()
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def start(self) -> TcpProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(10)
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cut(self) -> None:
        """Drop every open connection now (both directions, no close handshake)."""
        asyncio.run_coroutine_threadsafe(self._cut(), self._loop).result(10)

    def stop(self) -> None:
        async def close() -> None:
            await self._cut()
            if self._server is not None:
                self._server.close()
            current = asyncio.current_task()
            relays = [task for task in asyncio.all_tasks() if task is not current]
            for task in relays:
                task.cancel()
            await asyncio.gather(*relays, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refuse:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}
        await asyncio.gather(
            self._pipe(reader, up_writer, count=True),
            self._pipe(up_reader, writer, count=False),
            return_exceptions=True,
        )
        self._writers -= {writer, up_writer}

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, count: bool
    ) -> None:
        try:
            while data := await reader.read(65536):
                if count:
                    self.client_bytes += len(data)
                    limit = self.cut_after_client_bytes
                    if limit is not None and self.client_bytes >= limit:
                        self.cut_after_client_bytes = None
                        writer.write(data[: max(0, len(data) - (self.client_bytes - limit))])
                        await self._cut()
                        return
                while not count and self._holding():
                    await asyncio.sleep(0.01)
                writer.write(data)
                await writer.drain()
        finally:
            writer.transport.abort()

    def _holding(self) -> bool:
        limit = self.hold_replies_after_client_bytes
        return limit is not None and self.client_bytes >= limit

    async def _cut(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()


@contextlib.contextmanager
def tcp_proxy(target_port: int) -> Iterator[TcpProxy]:
    """A started proxy in front of ``target_port``, stopped afterwards."""
    proxy = TcpProxy(target_port).start()
    try:
        yield proxy
    finally:
        proxy.stop()
