"""The rules of a push (sync-protocol.md 5.2, steps 2-5), pure: what each op does, given what
the server holds of the records the push names.

``changes.apply_push`` reads those records under the user's lock, asks ``plan_push`` and
writes the plan, so the SQL stays thin and every rule is here, testable without a database.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from snapask_desktop.sync.clock import ahead_ms, too_far_ahead
from snapask_desktop.sync.errors import ErrorCode, ProtocolError
from snapask_desktop.sync.merge import merge_states, message_added, screenshot_added
from snapask_desktop.sync.protocol import InvalidOp, Op, OpResult
from snapask_desktop.sync.records import (
    ConversationState,
    MessageRecord,
    Payload,
    ScreenshotRecord,
    payload_hlc,
)
from snapask_desktop.sync.sealed import SealedRecord
from snapask_desktop.sync.wire import encode_json


@dataclass
class Holdings:
    """What the server holds of the records a push names (read under the user's lock)."""

    encrypted: bool = False  # the account has a key record: sealed payloads only (12.9)
    op_seqs: dict[str, int] = field(default_factory=dict)  # op ids applied before -> seq
    collected: set[str] = field(default_factory=set)  # conversations collected (section 10)
    states: dict[str, ConversationState] = field(default_factory=dict)
    messages: dict[str, MessageRecord] = field(default_factory=dict)
    screenshots: dict[str, ScreenshotRecord] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Accepted:
    """An op that becomes a change with the next seq."""

    seq: int
    op_id: str
    payload: Payload
    text: str  # the payload's JSON, as stored and sent
    conversation_id: str | None
    new_record: bool  # a message or screenshot the server did not hold yet


@dataclass
class PushPlan:
    """What a push does: a result per op, the changes, and the merged conversation states."""

    head: int
    results: list[OpResult] = field(default_factory=list)
    accepted: list[Accepted] = field(default_factory=list)
    states: dict[str, ConversationState] = field(default_factory=dict)  # merged, to save
    newest: dict[str, int] = field(default_factory=dict)  # newest message stamp per conversation


def conversation_of(payload: object) -> str | None:
    """The conversation a conversation or message payload belongs to, sealed or clear (else
    None)."""
    if isinstance(payload, ConversationState):
        return payload.id
    if isinstance(payload, MessageRecord):
        return payload.conversation_id
    if isinstance(payload, SealedRecord):
        return payload.id if payload.kind == "conversation" else payload.conversation_id
    return None


def plan_push(
    ops: Sequence[Op | InvalidOp],
    held: Holdings,
    *,
    head: int,
    now_ms: int,
    max_drift_ms: int,
) -> PushPlan:
    """Judge every op in order; ``held`` is updated as ops are accepted (a later op of the
    same push sees the earlier ones)."""
    plan = PushPlan(head)
    for op in ops:
        plan.results.append(_judge(op, held, plan, now_ms, max_drift_ms))
    return plan


def _judge(
    op: Op | InvalidOp, held: Holdings, plan: PushPlan, now_ms: int, max_drift_ms: int
) -> OpResult:
    if op.op_id in held.op_seqs:
        return OpResult.duplicate(op.op_id, held.op_seqs[op.op_id])
    if isinstance(op, InvalidOp):
        return OpResult.rejected(op.op_id, op.code, op.message)
    payload = op.payload
    try:
        _check(payload, held, now_ms, max_drift_ms)
        new_record = _take(payload, held, plan)
    except ProtocolError as refused:
        return OpResult.rejected(op.op_id, refused.code, refused.message)
    plan.head += 1
    held.op_seqs[op.op_id] = plan.head
    text = encode_json(payload.to_wire())
    cid = conversation_of(payload)
    plan.accepted.append(Accepted(plan.head, op.op_id, payload, text, cid, new_record))
    return OpResult.applied(op.op_id, plan.head)


def _check(payload: Payload, held: Holdings, now_ms: int, max_drift_ms: int) -> None:
    """Refusals that do not depend on the record's kind: a payload sealed or clear against the
    account's kind (12.9), clock skew, a collected conversation. A sealed payload's stamps are
    inside the ciphertext: its devices judge clock skew."""
    sealed = isinstance(payload, SealedRecord)
    if sealed and not held.encrypted:
        raise ProtocolError(
            ErrorCode.NOT_ENCRYPTED, "this account is not end-to-end encrypted; send it clear"
        )
    if held.encrypted and not sealed:
        raise ProtocolError(
            ErrorCode.ENCRYPTED_ACCOUNT,
            "this account is end-to-end encrypted: the server takes only sealed records",
        )
    hlc = payload_hlc(payload)
    if hlc is not None and too_far_ahead(hlc, now_ms, max_drift_ms):
        raise ProtocolError(
            ErrorCode.CLOCK_SKEW,
            f"the record's clock stamp is {ahead_ms(hlc, now_ms) // 1000:,} s ahead of the "
            "server's clock; check this device's system time",
        )
    cid = conversation_of(payload)
    if cid is not None and cid in held.collected:
        raise ProtocolError(
            ErrorCode.GONE, f"conversation {cid} was deleted everywhere and collected"
        )


def _take(payload: Payload, held: Holdings, plan: PushPlan) -> bool:
    """Add the payload to what the server holds; True if it is a record new to its table. A
    sealed payload is kept only in the change log: the server cannot merge or compare it."""
    if isinstance(payload, MessageRecord):
        added = message_added(held.messages.get(payload.id), payload)
        held.messages[payload.id] = payload
        cid = payload.conversation_id
        plan.newest[cid] = max(payload.hlc, plan.newest.get(cid, payload.hlc))
        return added
    if isinstance(payload, ScreenshotRecord):
        added = screenshot_added(held.screenshots.get(payload.sha256), payload)
        held.screenshots[payload.sha256] = payload
        return added
    if isinstance(payload, ConversationState):
        current = plan.states.get(payload.id) or held.states.get(payload.id)
        plan.states[payload.id] = payload if current is None else merge_states(current, payload)
    return False
