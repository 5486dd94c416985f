"""One device's WebSocket connection: hello, then frames strictly in order (section 5).

Everything sent to the device goes through one queue drained by a writer task, so replies
and live frames reach the device in the order they were queued (an ``ack`` before the live
frame of the same push) and a slow device never blocks anyone else.

The queue is bounded in bytes, not frames (a blob chunk is 5.6 MB of text, a small ack 100
bytes): while it holds ``send_buffer_bytes`` or more, the device's next request is not read,
so a device that asks and never reads holds at most that plus one reply; a live frame that
would take it past twice that drops the connection instead; and a connection whose device takes
nothing for ``send_stall_s`` is dropped by ``check_stall`` (websockets' keepalive ping waits
behind a full socket buffer, so it cannot notice).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from websockets.exceptions import ConnectionClosed

from snapask_desktop.server import changes, keys, tombstones
from snapask_desktop.server.accounts import Identity, now_ms
from snapask_desktop.server.catchup import frame_cursor
from snapask_desktop.server.changes import without_picture_text
from snapask_desktop.sync.errors import CLOSES_WITH, CloseCode, ErrorCode, ProtocolError
from snapask_desktop.sync.limits import MAX_ERROR_MESSAGE_CHARS, MAX_PAGE_CHANGES
from snapask_desktop.sync.protocol import (
    FEATURE_E2EE,
    FEATURE_PICTURE_TEXT,
    Ack,
    Applied,
    BlobGet,
    BlobPut,
    ClientFrame,
    Deleted,
    Error,
    Hello,
    Keys,
    KeysGet,
    KeysPut,
    Pull,
    Push,
    Welcome,
    encode_frame,
    parse_client_frame,
)
from snapask_desktop.sync.ratelimit import BucketState, TokenBucket
from snapask_desktop.sync.wire import RequestId, decode_json

if TYPE_CHECKING:
    from snapask_desktop.server.app import SyncServer
    from snapask_desktop.server.httpbody import SyncConnection

log = logging.getLogger("snapask.server")

# Frames bigger than this are parsed on a worker thread, not on the event loop.
_PARSE_OFF_LOOP_CHARS = 256 * 1024
# What a queued frame costs beyond its text (the queue entry and its objects), so that many
# tiny frames count too.
_FRAME_OVERHEAD_BYTES = 100
# How long a stalled connection is given to take a close frame before its socket is aborted.
_STALLED_CLOSE_S = 1.0
# How a live ``keys`` frame (section 12.9) starts, as encode_frame writes it.
_KEYS_FRAME = '{"type":"keys",'
_KEYS_VERSION = re.compile(r'"version":(\d+)[,}]')
_ENCRYPTED = "this account is end-to-end encrypted; update SnapAsk to sync it"


@dataclass(frozen=True, slots=True)
class _Frame:
    text: str
    committed_at: float | None  # a live frame's commit time, for the fanout latency metric
    size: int


@dataclass(frozen=True, slots=True)
class _ReadAhead:
    page: changes.PageRows
    seconds: float  # the read's own time (pull_seconds)


@dataclass(frozen=True, slots=True)
class _Close:
    code: int
    reason: str


class Session:
    """The server side of one sync connection."""

    def __init__(self, server: SyncServer, ws: SyncConnection, identity: Identity) -> None:
        self.server = server
        self.ws = ws
        self.identity = identity
        self.user_id = identity.user_id
        self.device_id = identity.device_id
        self.key = (identity.user_id, identity.device_id)
        config = server.config
        self._bucket = TokenBucket(now_ms(), config.frames_per_second, config.frame_burst)
        self._queue: asyncio.Queue[_Frame | _Close] = asyncio.Queue()
        self._queued_bytes = 0
        self._frames_sent = 0
        self._room = asyncio.Event()  # set while the queue is under send_buffer_bytes
        self._room.set()
        self._stall: tuple[tuple[int, int], float] | None = None  # (progress mark, since)
        self._drop_task: asyncio.Future[None] | None = None
        # The cursor of the last changes frame queued to the device, and whether it has caught
        # up once (a pull reply without has_more): then it counts as live (server/catchup.py).
        self.sent_cursor = 0
        # Whether the device said it reads picture_text records (5.1); an older one is never
        # sent one: its pull pages leave them out and its live frames are filtered.
        self.picture_text = False
        # Whether the device speaks encrypted accounts (12.9), and the key record version it
        # put last (its own live keys frame is not sent back to it).
        self.e2ee = False
        self._put_keys_version = 0
        self.caught_up = False
        self.hello_done = False
        self.closing = False
        self._busy = False
        self._shutdown = False
        self.opened = time.monotonic()
        # While this connection publishes its push: its own live frames, held for its ack.
        self._held: list[tuple[str, float]] | None = None
        # The next page of a pull, read while the device parses the one before it: (since,
        # limit, the read). At most one; a page that would be the last is never kept.
        self._ahead: tuple[int, int, asyncio.Task[_ReadAhead | None]] | None = None

    # ------------------------------------------------------------------ sending

    def deliver(self, frame: str, committed_at: float) -> None:
        """A live ``changes`` frame (Fanout subscriber)."""
        if self.closing or not self.hello_done:
            return
        if frame.startswith(_KEYS_FRAME):
            self._deliver_keys(frame)
            return
        if self._held is not None:
            self._held.append((frame, committed_at))
            return
        budget = self.server.config.send_buffer_bytes
        if self._queued_bytes and self._queued_bytes + len(frame) > 2 * budget:
            # The device reads slower than its user writes: drop it; it reconnects and pulls.
            log.warning("connection of device %s is not reading; closing it", self.device_id)
            self.server.metrics.errors.labels("too_slow").inc()
            self._close_now(CloseCode.POLICY_VIOLATION, "too slow")
            return
        self.sent_cursor = max(self.sent_cursor, frame_cursor(frame))
        if not self.picture_text:
            frame = without_picture_text(frame)
        self._enqueue(frame, committed_at)

    def _deliver_keys(self, frame: str) -> None:
        """A live ``keys`` frame: the account's key record was replaced or first stored."""
        self._drop_ahead()  # read before the key record changed: read the page again
        if not self.e2ee:  # the account just turned encrypted: an old client must stop
            self.close_with(ErrorCode.ENCRYPTION_REQUIRED, _ENCRYPTED)
            return
        found = _KEYS_VERSION.search(frame)
        if found is not None and int(found[1]) == self._put_keys_version:
            return  # this connection put it and had the reply
        self._enqueue(frame, None)

    async def catch_up(self) -> None:
        """Queue, as a live frame, what the log holds after what this connection was sent."""
        if self.closing or not self.caught_up:
            return
        text, count = await self.server.run_read(
            changes.read_page,
            self.server.db,
            self.user_id,
            self.sent_cursor,
            MAX_PAGE_CHANGES,
            picture_text=self.picture_text,
        )
        if count:
            self.deliver(text, time.perf_counter())

    def _send(self, text: str) -> None:
        if not self.closing:
            self._enqueue(text, None)

    def _enqueue(self, text: str, committed_at: float | None) -> None:
        # Characters stand for bytes: JSON text here is nearly all ASCII (base64, ids, digits).
        size = len(text) + _FRAME_OVERHEAD_BYTES
        self._queued_bytes += size
        if self._queued_bytes >= self.server.config.send_buffer_bytes:
            self._room.clear()
        self._queue.put_nowait(_Frame(text, committed_at, size))

    def _sent(self, frame: _Frame) -> None:
        self._frames_sent += 1
        self._queued_bytes -= frame.size
        if self._queued_bytes < self.server.config.send_buffer_bytes:
            self._room.set()

    def _send_frame(self, frame: Any) -> None:
        self._send(encode_frame(frame))

    def _error(
        self,
        code: ErrorCode,
        message: str,
        request_id: RequestId | None = None,
        retry_after_ms: int | None = None,
    ) -> None:
        self.server.metrics.errors.labels(str(code)).inc()
        frame = Error(str(code), message[:MAX_ERROR_MESSAGE_CHARS], retry_after_ms, request_id)
        self._send_frame(frame)
        close = CLOSES_WITH.get(code)
        if close is not None:
            self._close_now(close, str(code))

    def close_with(self, code: ErrorCode, message: str) -> None:
        """Send ``error code`` and close with the code the error table gives."""
        if not self.closing:
            self._error(code, message)

    def _close_now(self, code: int, reason: str) -> None:
        if not self.closing:
            self.closing = True
            self._room.set()  # wake a request loop waiting for room: it sees closing
            self._queue.put_nowait(_Close(code, reason))

    def check_stall(self, now: float) -> None:
        """Drop the connection if frames have waited ``send_stall_s`` with none taken."""
        # Also while closing: a close frame queued behind unread frames waits just as long.
        if self._drop_task is not None or not self._queued_bytes:
            self._stall = None
            return
        # Progress: a frame handed over, or the socket's own buffer shrinking.
        mark = (self._frames_sent, self.ws.transport.get_write_buffer_size())
        if self._stall is None or self._stall[0] != mark:
            self._stall = (mark, now)
            return
        waited = now - self._stall[1]
        if waited >= self.server.config.send_stall_s:
            log.warning(
                "device %s took none of %d queued bytes for %.0f s; dropping its connection",
                self.device_id,
                self._queued_bytes,
                waited,
            )
            self.server.metrics.errors.labels("too_slow").inc()
            self.closing = True
            self._room.set()
            self._drop_task = asyncio.ensure_future(self._drop_stalled())

    async def _drop_stalled(self) -> None:
        # The close frame waits behind everything the device did not read: give it a moment,
        # then abort the socket (which also frees the buffered bytes and ends the writer).
        try:
            await asyncio.wait_for(self.ws.close(CloseCode.POLICY_VIOLATION, "too slow"),
                                   _STALLED_CLOSE_S)  # fmt: skip
        except (TimeoutError, ConnectionClosed):
            pass
        finally:
            self.ws.transport.abort()

    async def _writer(self) -> None:
        metrics = self.server.metrics
        try:
            while True:
                item = await self._queue.get()
                if isinstance(item, _Close):
                    await self.ws.close(item.code, item.reason)
                    return
                await self.ws.send(item.text)
                self._sent(item)
                metrics.frames_out.inc()
                if item.committed_at is not None:
                    metrics.fanout_latency.observe(time.perf_counter() - item.committed_at)
        except ConnectionClosed:
            return

    # ------------------------------------------------------------------ lifecycle

    def request_shutdown(self) -> None:
        """Server stopping: close after the frame in progress (``shutting_down``, 1001)."""
        self._shutdown = True
        if not self._busy:
            self.close_with(ErrorCode.SHUTTING_DOWN, "the server is stopping; reconnect later")

    async def run(self) -> None:
        """Serve the connection until it closes."""
        writer = asyncio.create_task(self._writer())
        try:
            if await self._hello():
                await self._frames()
        except ConnectionClosed:
            pass
        finally:
            self.closing = True
            self._drop_ahead()
            self.server.forget(self)
            if not writer.done():
                # Let the writer flush a queued error and close frame, then stop it.
                self._queue.put_nowait(_Close(CloseCode.NORMAL, ""))
                try:
                    await asyncio.wait_for(writer, timeout=10)
                except (TimeoutError, asyncio.CancelledError):
                    writer.cancel()

    async def _receive(self, timeout: float | None = None) -> str | bytes | None:
        """The next message, or None when the connection is closing or the timeout passed."""
        try:
            async with asyncio.timeout(timeout):
                # Backpressure: the next request waits until the device took its replies.
                await self._room.wait()
                if self.closing:
                    await self.ws.wait_closed()
                    return None
                return await self.ws.recv()
        except TimeoutError:
            return None

    def resume_frames(self, state: BucketState | None) -> None:
        """Take up the device's frame bucket as its previous connection left it."""
        if state is not None:
            self._bucket.resume(state.tokens, state.at_ms)

    def frames_left(self) -> tuple[BucketState, int]:
        """The frame bucket now, and in how many ms it is full again."""
        now = now_ms()
        return BucketState(self._bucket.tokens(now), now), self._bucket.full_in_ms(now)

    def _admit(self, message: str | bytes) -> bool:
        """Apply the frame rate limit; False (and a ``rate_limited`` error) when over it."""
        wait_ms = self._bucket.take(now_ms())
        if wait_ms == 0:
            return True
        self._error(
            ErrorCode.RATE_LIMITED,
            f"more than {self.server.config.frames_per_second} frames per second; "
            "this frame was not processed",
            _cheap_request_id(message),
            retry_after_ms=wait_ms,
        )
        return False

    async def _parse(self, message: str | bytes) -> ClientFrame | None:
        try:
            if len(message) > _PARSE_OFF_LOOP_CHARS:
                frame = await self.server.run_read(parse_client_frame, message)
            else:
                frame = parse_client_frame(message)
        except ProtocolError as exc:
            code = exc.code
            if code is ErrorCode.UNSUPPORTED_PROTOCOL and self.hello_done:
                code = ErrorCode.BAD_SEQUENCE  # a second hello, whatever its version
            self._error(code, exc.message, exc.request_id)
            return None
        self.server.metrics.frames_in.labels(type(frame).__name__.lower()).inc()
        return frame

    async def _hello(self) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.server.config.hello_timeout_ms / 1000
        while not self.closing:
            remaining = deadline - loop.time()
            message = await self._receive(max(remaining, 0.0)) if remaining > 0 else None
            if message is None:
                if not self.closing:
                    seconds = self.server.config.hello_timeout_ms / 1000
                    self.close_with(ErrorCode.HELLO_TIMEOUT, f"no hello within {seconds:g} s")
                return False
            if self._shutdown or not self._admit(message):
                continue
            frame = await self._parse(message)
            if frame is None:
                continue
            if not isinstance(frame, Hello):
                self._error(ErrorCode.BAD_SEQUENCE, "send hello first", frame.id)
                continue
            if frame.device_id != self.device_id:
                self._error(
                    ErrorCode.DEVICE_MISMATCH,
                    "device_id: is not the device this token belongs to; sign in again",
                    frame.id,
                )
                return False
            # Subscribe first, and (with Redis) wait until the subscription holds: every change
            # committed later then arrives live, and every earlier one is at or below the head
            # the device pulls to. Frames delivered before the welcome are dropped (they are
            # at or below that head).
            features = self.server.features
            self.picture_text = FEATURE_PICTURE_TEXT in frame.features and (
                FEATURE_PICTURE_TEXT in features
            )
            self.e2ee = FEATURE_E2EE in frame.features and FEATURE_E2EE in features
            self.server.hello_done(self, frame)
            await self.server.live_ready(self.user_id)
            head, keys_version = await self.server.read_account(self.user_id)
            if keys_version and not self.e2ee:
                # An old client must neither take ciphertext for damage nor write clear data.
                self._error(ErrorCode.ENCRYPTION_REQUIRED, _ENCRYPTED, frame.id)
                return False
            self._send_frame(
                Welcome(
                    device_id=self.device_id,
                    head=head,
                    server_time_ms=now_ms(),
                    limits=self.server.limits,
                    id=frame.id,
                    features=features,
                    keys_version=keys_version,
                )
            )
            self.hello_done = True
            return True
        return False

    async def _frames(self) -> None:
        while not self.closing:
            message = await self._receive()
            if message is None:
                return
            if self._shutdown:
                return  # not started: the device resends it after reconnecting
            if not self._admit(message):
                continue
            frame = await self._parse(message)
            if frame is None:
                continue
            self._busy = True
            try:
                await self._handle(frame)
            except ProtocolError as exc:
                self._error(exc.code, exc.message, frame.id)
            except Exception:
                log.exception(
                    "failed handling a %s frame of device %s", type(frame).__name__, self.device_id
                )
                self._error(ErrorCode.INTERNAL, "the server failed handling this frame", frame.id)
            finally:
                self._busy = False
            if self._shutdown:
                self.close_with(ErrorCode.SHUTTING_DOWN, "the server is stopping; reconnect later")

    async def _handle(self, frame: ClientFrame) -> None:
        server = self.server
        if isinstance(frame, Push):
            outcome = await server.run_write(
                changes.apply_push,
                server.db,
                self.user_id,
                self.device_id,
                frame.ops,
                now_ms=now_ms(),
                max_drift_ms=server.config.max_drift_ms,
            )
            # The live frames go to the user's other connections first, so that their writers
            # send them before this one's sends the ack (each send is ~0.1-0.4 ms of a
            # change's way to the other devices); this connection's own live frames wait for
            # its ack. Publishing never yields: every connection's frames stay in commit order.
            self._held = []
            try:
                for live in outcome.live_frames:
                    await server.fanout.publish(self.user_id, live, outcome.committed_at)
            finally:
                held, self._held = self._held, None
            self._send_frame(Ack(outcome.results, id=frame.id))
            server.count_results(outcome.results, outcome.applied)
            for text, committed_at in held:
                self.deliver(text, committed_at)
        elif isinstance(frame, Pull):
            await self._pull(frame)
        elif isinstance(frame, Applied):
            server.note_applied(self.key, frame.cursor)
        elif isinstance(frame, Deleted):
            if not self.e2ee:
                raise ProtocolError(
                    ErrorCode.BAD_SEQUENCE, f"announce {FEATURE_E2EE!r} in hello's features first"
                )
            # No reply, like applied: a device says it again on every connection (12.12).
            await server.run_write(tombstones.confirm_deleted, server.db, self.user_id,
                                   self.device_id, frame.cursor, frame.conversations)  # fmt: skip
        elif isinstance(frame, BlobPut):
            self._send_frame(await server.run_write(server.blobs.put, self.user_id, frame))
        elif isinstance(frame, BlobGet):
            self._send_frame(await server.run_read(server.blobs.get, self.user_id, frame))
        elif isinstance(frame, KeysGet | KeysPut):
            await self._keys(frame)
        elif isinstance(frame, Hello):
            self._error(
                ErrorCode.BAD_SEQUENCE, "hello was already sent on this connection", frame.id
            )

    async def _pull(self, frame: Pull) -> None:
        server = self.server
        ahead = await self._take_ahead(frame.since, frame.limit)
        started = time.perf_counter()
        if ahead is None:
            text, _count, has_more, cursor = await server.run_read(self._read_frame, frame)
            server.metrics.pull_seconds.observe(time.perf_counter() - started)
        else:
            text, _count, has_more, cursor = ahead.page.frame(frame.id)
            # The page's own read and encoding, not how long the device waited for it.
            server.metrics.pull_seconds.observe(ahead.seconds + time.perf_counter() - started)
            server.metrics.pull_read_ahead.inc()
        self.sent_cursor = max(self.sent_cursor, cursor)
        self.caught_up = self.caught_up or not has_more
        self._send(text)
        if has_more and not (self.closing or self._shutdown):
            # The device asks for the next page once it parsed this one: read it meanwhile.
            read = asyncio.ensure_future(self._read_ahead(cursor, frame.limit))
            self._ahead = (cursor, frame.limit, read)

    def _read_frame(self, frame: Pull) -> tuple[str, int, bool, int]:
        """A pull's reply read now (on a reader thread)."""
        page = changes.read_rows(self.server.db, self.user_id, frame.since, frame.limit,
                                 picture_text=self.picture_text)  # fmt: skip
        return page.frame(frame.id)

    async def _read_ahead(self, since: int, limit: int) -> _ReadAhead | None:
        """The page after ``since``, read before it is asked for; None if it would be the last
        page (its head must be read when it is asked for: ``caught_up`` and the live frames
        depend on it) or the read failed (it is read again when asked for)."""
        started = time.perf_counter()
        try:
            page = await self.server.run_read(
                changes.read_rows, self.server.db, self.user_id, since, limit,
                picture_text=self.picture_text,
            )  # fmt: skip
        except Exception:
            log.debug("reading ahead for device %s failed", self.device_id, exc_info=True)
            return None
        return _ReadAhead(page, time.perf_counter() - started) if page.more else None

    async def _take_ahead(self, since: int, limit: int) -> _ReadAhead | None:
        """The page read ahead if it is the one asked for (else it is dropped)."""
        ahead, self._ahead = self._ahead, None
        if ahead is None:
            return None
        if (ahead[0], ahead[1]) != (since, limit):
            ahead[2].cancel()
            return None
        try:
            return await ahead[2]
        except asyncio.CancelledError:
            if ahead[2].cancelled():
                return None
            raise

    def _drop_ahead(self) -> None:
        if self._ahead is not None:
            self._ahead[2].cancel()
            self._ahead = None

    async def _keys(self, frame: KeysGet | KeysPut) -> None:
        server = self.server
        if not self.e2ee:
            raise ProtocolError(
                ErrorCode.BAD_SEQUENCE, f"announce {FEATURE_E2EE!r} in hello's features first"
            )
        if isinstance(frame, KeysGet):
            version, record = await server.run_read(keys.read_keys, server.db, self.user_id)
            self._send_frame(Keys(version, record, id=frame.id))
            return
        put = await server.put_keys(self.user_id, frame.expect_version, frame.record)
        # No await between the reply and the live frame: the reply goes first, and this
        # connection knows to skip its own live frame.
        self._put_keys_version = put.version
        self._send_frame(Keys(put.version, put.record, id=frame.id))
        await server.publish_keys(self.user_id, put)


def _cheap_request_id(message: str | bytes) -> RequestId | None:
    """The frame's ``id`` if it is cheap to read (small frames only), for pairing the error."""
    if not isinstance(message, str) or len(message) > 4096:
        return None
    try:
        value = decode_json(message).get("id")
    except (ProtocolError, AttributeError):  # deep nesting too: never a traceback
        return None
    if isinstance(value, str) and 1 <= len(value) <= 64:
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None
