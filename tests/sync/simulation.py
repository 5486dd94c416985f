"""A model of the sync protocol for property tests: a server log and replicas talking frames.

Everything a real client and server would compute comes from the code under test (merge rules,
cursor rules, frame parsing and encoding); only storage and transport are modelled, as Python
objects. Frames travel as JSON text through ``encode_frame``/``parse_*_frame``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from snapask_desktop.sync.clock import HybridClock
from snapask_desktop.sync.merge import (
    Conflict,
    ConversationState,
    MessageRecord,
    cancel_delete_for_messages,
    edit_conversation,
    keep_other_version,
    merge_conversation,
    merge_states,
    message_added,
    message_restores,
    new_conversation,
)
from snapask_desktop.sync.protocol import (
    Ack,
    Change,
    Changes,
    Op,
    OpResult,
    Pull,
    Push,
    encode_frame,
    parse_client_frame,
    parse_server_frame,
)
from snapask_desktop.sync.session import plan_changes

W = 1_795_000_000_000


class Wall:
    """Simulated time shared by everyone; each replica reads it with its own clock error."""

    def __init__(self) -> None:
        self.ms = W


@dataclass
class Server:
    """The user's change log, op-id table and merged records (one user)."""

    log: list[Change] = field(default_factory=list)
    op_seqs: dict[str, int] = field(default_factory=dict)
    conversations: dict[str, ConversationState] = field(default_factory=dict)
    messages: dict[str, MessageRecord] = field(default_factory=dict)

    def handle_push(self, text: str, device_id: str) -> str:
        """Apply a push frame, answer an ack frame (section 5.2)."""
        push = parse_client_frame(text)
        assert isinstance(push, Push)
        results = [self._apply(op, device_id) for op in push.ops if isinstance(op, Op)]
        assert len(results) == len(push.ops), "the model never sends invalid payloads"
        return encode_frame(Ack(tuple(results), id=push.id))

    def _apply(self, op: Op, device_id: str) -> OpResult:
        if op.op_id in self.op_seqs:
            return OpResult.duplicate(op.op_id, self.op_seqs[op.op_id])
        payload = op.payload
        if isinstance(payload, ConversationState):
            known = self.conversations.get(payload.id)
            merged = payload if known is None else merge_states(known, payload)
            self.conversations[payload.id] = kept_by_messages(merged, self.messages)
        elif isinstance(payload, MessageRecord):
            message_added(self.messages.get(payload.id), payload)  # raises on a mismatch
            self.messages[payload.id] = payload
            state = self.conversations.get(payload.conversation_id)
            if state is not None:
                self.conversations[state.id] = kept_by_messages(state, self.messages)
        seq = len(self.log) + 1
        self.log.append(Change(seq, op.op_id, device_id, payload))
        self.op_seqs[op.op_id] = seq
        return OpResult.applied(op.op_id, seq)

    def page(self, text: str) -> str:
        """Answer a pull frame with one page (section 5.3)."""
        pull = parse_client_frame(text)
        assert isinstance(pull, Pull)
        after = [c for c in self.log if c.seq > pull.since]
        page = tuple(after[: pull.limit])
        has_more = len(after) > pull.limit
        cursor = page[-1].seq if has_more else max(pull.since, len(self.log))
        return encode_frame(Changes(pull.since, cursor, has_more, page, id=pull.id))

    def live(self, since: int, cursor: int) -> str | None:
        """A live frame covering (since, cursor], clipped to the log (None if empty)."""
        cursor = min(cursor, len(self.log))
        if cursor <= since:
            return None
        return encode_frame(Changes(since, cursor, False, tuple(self.log[since:cursor])))


def kept_by_messages(
    state: ConversationState, messages: dict[str, MessageRecord]
) -> ConversationState:
    """Rule 9.6.1 on a replica holding ``messages``."""
    stamps = [m.hlc for m in messages.values() if m.conversation_id == state.id]
    return cancel_delete_for_messages(state, max(stamps, default=None))


@dataclass
class DeleteRecord:
    """What a device knew when it wrote a delete (checked at the end)."""

    vv: dict[str, int]
    messages: frozenset[str]


@dataclass
class Replica:
    """One device: its store, outbox, cursor, clock and the conflicts it recorded."""

    device: str
    wall: Wall
    skew_ms: int
    conversations: dict[str, ConversationState] = field(default_factory=dict)
    messages: dict[str, MessageRecord] = field(default_factory=dict)
    outbox: list[Op] = field(default_factory=list)
    cursor: int = 0
    conflicts: list[Conflict] = field(default_factory=list)
    acked: dict[str, Op] = field(default_factory=dict)
    deletes: dict[tuple[str, int], DeleteRecord] = field(default_factory=dict)
    clock: HybridClock = field(init=False)
    requests: int = 0
    online: bool = True

    def __post_init__(self) -> None:
        self.clock = HybridClock(now_ms=lambda: self.wall.ms + self.skew_ms)

    # ------------------------------------------------------------------ local changes

    def _now(self) -> tuple[int, int]:
        return self.clock.now(), self.wall.ms + self.skew_ms

    def _write(self, state: ConversationState) -> None:
        before = self.conversations.get(state.id)
        if before == state:
            return
        self.conversations[state.id] = state
        self.outbox.append(Op(str(uuid.uuid4()), state))
        if state.deleted and (before is None or before.field_hlc != state.field_hlc):
            stamp = state.field_hlc["deleted"]
            known = frozenset(m.id for m in self.messages.values() if m.conversation_id == state.id)
            self.deletes[(state.id, stamp.hlc)] = DeleteRecord(dict(state.vv), known)

    def create(self, conversation_id: str, title: str) -> None:
        hlc, now = self._now()
        self._write(
            new_conversation(conversation_id, title, device_id=self.device, hlc=hlc, now_ms=now)
        )

    def edit(self, conversation_id: str, **changes: str | bool) -> None:
        state = self.conversations.get(conversation_id)
        if state is None:
            return
        hlc, now = self._now()
        self._write(edit_conversation(state, changes, device_id=self.device, hlc=hlc, now_ms=now))

    def append(self, conversation_id: str, text: str) -> None:
        state = self.conversations.get(conversation_id)
        if state is None:
            return
        if state.deleted:  # appending to a deleted conversation restores it (section 9.6)
            self.edit(conversation_id, deleted=False)
        hlc, now = self._now()
        record = MessageRecord(
            str(uuid.uuid4()), conversation_id, "user", text, None, "final", None, hlc,
            self.device, now,
        )  # fmt: skip
        self.messages[record.id] = record
        self.outbox.append(Op(str(uuid.uuid4()), record))

    def keep_other(self) -> None:
        if not self.conflicts:
            return
        conflict = self.conflicts.pop(0)
        state = self.conversations[conflict.conversation_id]
        hlc, now = self._now()
        self._write(keep_other_version(state, conflict, device_id=self.device, hlc=hlc, now_ms=now))

    # ------------------------------------------------------------------ talking to the server

    def _request_id(self) -> int:
        self.requests += 1
        return self.requests

    def push(self, server: Server, count: int, lose_ack: bool) -> None:
        """Send the oldest ``count`` ops; a lost ack leaves them queued (resent later)."""
        ops = tuple(self.outbox[:count])
        if not ops:
            return
        reply = server.handle_push(encode_frame(Push(ops, id=self._request_id())), self.device)
        if lose_ack:
            return
        ack = parse_server_frame(reply)
        assert isinstance(ack, Ack)
        done = set()
        for op, result in zip(ops, ack.results, strict=True):
            assert result.op_id == op.op_id and result.status in ("applied", "duplicate")
            self.acked[op.op_id] = op
            done.add(op.op_id)
        self.outbox = [op for op in self.outbox if op.op_id not in done]

    def pull(self, server: Server, limit: int) -> bool:
        """One pull round trip; True if the server has more."""
        reply = server.page(encode_frame(Pull(self.cursor, limit, id=self._request_id())))
        return self.receive(reply)

    def receive(self, text: str) -> bool:
        """Apply a changes frame by the cursor rule; True if a further pull is due."""
        frame = parse_server_frame(text)
        assert isinstance(frame, Changes)
        plan = plan_changes(self.cursor, frame)
        for change in plan.apply:
            self._apply(change)
        self.cursor = plan.new_cursor
        return plan.pull_next

    def _apply(self, change: Change) -> None:
        payload = change.payload
        if isinstance(payload, ConversationState):
            self.clock.observe(payload.hlc)
            local = self.conversations.get(payload.id)
            if local is None:
                self.conversations[payload.id] = kept_by_messages(payload, self.messages)
                return
            result = merge_conversation(local, payload)
            self.conversations[payload.id] = kept_by_messages(result.state, self.messages)
            self.conflicts.extend(result.conflicts)
        elif isinstance(payload, MessageRecord):
            self.clock.observe(payload.hlc)
            known = payload.id in self.messages
            message_added(self.messages.get(payload.id), payload)
            self.messages[payload.id] = payload
            state = self.conversations.get(payload.conversation_id)
            if state is None:  # its conversation arrives later: nothing else to do
                return
            if message_restores(state, payload, device_id=self.device, already_stored=known):
                self.edit(payload.conversation_id, deleted=False)
            else:
                self.conversations[state.id] = kept_by_messages(state, self.messages)

    def catch_up(self, server: Server, page: int = 7) -> None:
        """Pull until the server has nothing more."""
        while self.pull(server, page):
            pass
