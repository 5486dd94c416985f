"""Sending the outbox: blobs before the screenshot ops that name them, ops in frame-sized
batches, and acknowledgements applied to the store (section 5.2 and 5.5). For an encrypted
account each op and picture is sealed here, at send time: the outbox stays clear on the
device (section 12)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from snapask_desktop.sync.clock import too_far_ahead
from snapask_desktop.sync.device.connection import Connection, ServerError
from snapask_desktop.sync.errors import ErrorCode, ProtocolError
from snapask_desktop.sync.protocol import (
    FEATURE_PICTURE_TEXT,
    Ack,
    BlobAck,
    BlobPut,
    Limits,
    Op,
    Push,
)
from snapask_desktop.sync.records import Payload, ScreenshotRecord, parse_payload, payload_hlc
from snapask_desktop.sync.wire import encode_json

if TYPE_CHECKING:
    from snapask_desktop.store import Store
    from snapask_desktop.store.records import OutboxOp
    from snapask_desktop.sync.crypto import ItemsKeys

log = logging.getLogger(__name__)

FRAME_SLACK_BYTES = 4096  # room for the push envelope around the ops


@dataclass
class PushOutcome:
    """What one round of pushing did."""

    sent: int = 0
    acknowledged: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (code, message)
    # a stamp too far ahead of the server's clock: refused by the server (clock_skew), or for
    # an encrypted account held back here, unsent (the server cannot read the stamps)
    clock_ahead: bool = False
    # encrypted_account / not_encrypted: the account was turned encrypted (or is not) since
    # the session began; the ops stay queued and the session starts over to learn which.
    encryption_changed: bool = False


class Outgoing:
    """Pushes a store's outbox over one connection."""

    def __init__(
        self,
        store: Store,
        conn: Connection,
        limits: Limits,
        server_features: frozenset[str] = frozenset(),
        keys: ItemsKeys | None = None,
        server_now_ms: Callable[[], int] | None = None,
    ) -> None:
        self._store = store
        self._keys = keys  # an encrypted account's: every op and picture is sealed
        # The server's clock as estimated since welcome: an encrypted account's ops are judged
        # against it here (section 12.11), as the server judges a clear account's.
        self._server_now_ms = server_now_ms
        self._conn = conn
        self._limits = limits
        # An older server refuses picture_text ops: they are dropped instead (the text is a
        # convenience; every device reads the pictures it receives itself).
        self._sends_text = FEATURE_PICTURE_TEXT in server_features
        self.held: set[str] = set()  # op ids held for clock skew: kept, not resent yet

    async def push_all(self) -> PushOutcome:
        """Send every pending op (oldest first) until the outbox holds only held ops."""
        outcome = PushOutcome()
        while True:
            ops = await self._next_ops()
            if not ops:
                return outcome
            for batch in self._batches(await self._wire_ops(ops, outcome)):
                await self._upload_blobs(batch)
                ack = await self._conn.request(Push(tuple(item[0] for item in batch)))
                assert isinstance(ack, Ack)
                await self._settle(ack, outcome)
                outcome.sent += len(batch)
                if outcome.encryption_changed:
                    return outcome

    async def _next_ops(self) -> list[OutboxOp]:
        limit = self._limits.max_ops_per_push + len(self.held)
        # Read on the loop thread: it is a quick indexed read, and a worker thread would add
        # two thread wake-ups to every local edit's way to the server.
        ops = self._store.outbox_pending(limit)
        return [op for op in ops if op.op_id not in self.held]

    async def _wire_ops(self, ops: Iterable[OutboxOp], outcome: PushOutcome) -> list[_Ready]:
        ready: list[_Ready] = []
        unsent: list[str] = []
        for op in ops:
            if not self._sends_text and op.payload.get("type") == "picture_text":
                unsent.append(op.op_id)
                continue
            try:
                payload = parse_payload(op.payload, from_device=True)
            except ProtocolError as error:
                # Our own store wrote something the protocol refuses (a bug): drop it visibly
                # rather than let it block every later change.
                await asyncio.to_thread(
                    self._store.outbox_reject, op.op_id, str(error.code), error.message
                )
                outcome.rejected.append((str(error.code), error.message))
                continue
            picture = payload.sha256 if isinstance(payload, ScreenshotRecord) else None
            if self._keys is not None and self._stamped_ahead(payload):
                # What the server's clock_skew does for a clear account: kept, sent later.
                self.held.add(op.op_id)
                outcome.clock_ahead = True
                continue
            if self._keys is not None:
                from snapask_desktop.sync import e2ee  # libsodium: only for encrypted accounts

                payload = e2ee.seal_payload(self._keys.current, payload)
            wire = Op(op.op_id, payload)
            ready.append((wire, len(encode_json(wire.to_wire()).encode("utf-8")), picture))
        if unsent:
            await asyncio.to_thread(self._store.outbox_ack, unsent)
        return ready

    def _stamped_ahead(self, payload: Payload) -> bool:
        """Whether the payload's stamp is too far ahead of the server's clock (9.8): the server
        cannot see an encrypted account's stamps, so the device holds such an op back itself
        rather than let every other device stop at it."""
        hlc = payload_hlc(payload)
        if hlc is None or self._server_now_ms is None:
            return False
        return too_far_ahead(hlc, self._server_now_ms(), self._limits.max_drift_ms)

    def _batches(self, ready: list[_Ready]) -> list[list[_Ready]]:
        budget = self._limits.max_frame_bytes - FRAME_SLACK_BYTES
        batches: list[list[_Ready]] = []
        current: list[_Ready] = []
        size = 0
        for item in ready:
            full = len(current) >= self._limits.max_ops_per_push or size + item[1] > budget
            if current and full:
                batches.append(current)
                current, size = [], 0
            current.append(item)
            size += item[1]
        if current:
            batches.append(current)
        return batches

    async def _settle(self, ack: Ack, outcome: PushOutcome) -> None:
        done = [r.op_id for r in ack.results if r.status in ("applied", "duplicate")]
        await asyncio.to_thread(self._store.outbox_ack, done)
        outcome.acknowledged += len(done)
        for result in ack.results:
            if result.status != "rejected":
                continue
            code, message = result.code or "internal", result.message or ""
            if code == ErrorCode.CLOCK_SKEW:
                self.held.add(result.op_id)
                outcome.clock_ahead = True
                continue
            if code in (ErrorCode.ENCRYPTED_ACCOUNT, ErrorCode.NOT_ENCRYPTED):
                self.held.add(result.op_id)
                outcome.encryption_changed = True
                continue
            await asyncio.to_thread(self._store.outbox_reject, result.op_id, code, message)
            outcome.rejected.append((code, message))

    async def _upload_blobs(self, batch: list[_Ready]) -> None:
        for _op, _size, picture in batch:
            if picture is not None:
                await self.upload_blob(picture)

    async def upload_blob(self, sha256: str) -> bool:
        """Upload one picture's bytes (resuming where the server is); False if it stays local."""
        try:
            data = await asyncio.to_thread(self._store.screenshot_bytes, sha256)
        except Exception as error:  # a picture we never downloaded, or a damaged file
            log.info("sync: picture %s… not uploaded: %s", sha256[:12], error)
            return False
        name = sha256
        if self._keys is not None:
            # Sealed afresh for each upload (new nonces): an upload always starts at offset 0,
            # which restarts any partial one (5.5), so two sealings never mix.
            from snapask_desktop.sync import e2ee
            from snapask_desktop.sync.crypto import CryptoError

            key = self._keys.current
            try:
                name, data = await asyncio.to_thread(e2ee.seal_picture, key, sha256, data)
            except CryptoError as error:  # the stored file does not hash to its name
                log.warning("sync: picture %s… not uploaded: %s", sha256[:12], error)
                return False
        chunk = self._limits.blob_chunk_bytes
        offset = 0
        while True:
            frame = BlobPut(name, len(data), offset, data[offset : offset + chunk])
            try:
                ack = await self._conn.request(frame)
            except ServerError as error:
                # too_large, blob_mismatch or quota_exceeded: the picture stays on this device.
                log.warning("sync: picture %s… stays local: %s", sha256[:12], error)
                if error.frame.code == ErrorCode.QUOTA_EXCEEDED:
                    await asyncio.to_thread(
                        self._store.note_upload_problem,
                        sha256,
                        error.frame.code,
                        quota_message(error.frame.message),
                    )
                return False
            assert isinstance(ack, BlobAck)
            if ack.complete:
                return True
            if ack.received <= offset and offset != 0:
                raise ConnectionError(f"the server keeps refusing picture {sha256[:12]}…")
            offset = ack.received


def quota_message(detail: str) -> str:
    """The user's words for a ``quota_exceeded`` answer to an upload."""
    detail = detail.removeprefix("upload not started: ")
    return (
        f"Not uploaded: your account's space on the sync server is full ({detail}). The "
        "picture stays on this device; delete old conversations, or ask whoever runs the "
        "server for more room."
    )


_Ready = tuple[Op, int, str | None]  # an op, its encoded size, a screenshot's SHA-256

__all__ = ["Outgoing", "PushOutcome"]
