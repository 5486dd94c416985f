"""The rules of a push without a database (snapask_desktop/server/push.py)."""

from __future__ import annotations

import dataclasses
import uuid

from snapask_desktop.server.push import Holdings, plan_push
from snapask_desktop.sync.errors import ErrorCode
from snapask_desktop.sync.protocol import InvalidOp, Op, OpResult
from snapask_desktop.sync.sealed import SealedRecord
from tests.sync.factories import CONV, PHONE, W, created, edited, message, screenshot


def _op(payload: object) -> Op:
    return Op(str(uuid.uuid4()), payload)  # type: ignore[arg-type]


def _codes(results: list[OpResult]) -> list[str | None]:
    return [r.code for r in results]


def test_accepted_ops_take_the_next_seqs_in_order() -> None:
    ops = [_op(screenshot()), _op(created()), _op(message())]
    plan = plan_push(ops, Holdings(), head=7, now_ms=W, max_drift_ms=300_000)
    assert [r.seq for r in plan.results] == [8, 9, 10]
    assert [a.seq for a in plan.accepted] == [8, 9, 10] and plan.head == 10
    assert [a.new_record for a in plan.accepted] == [True, False, True]
    assert [a.conversation_id for a in plan.accepted] == [None, CONV, CONV]
    assert plan.states == {CONV: created()}
    assert plan.newest == {CONV: message().hlc}


def test_a_repeated_op_id_is_a_duplicate_with_its_first_seq() -> None:
    op = _op(created())
    plan = plan_push([op, op], Holdings(op_seqs={}), head=0, now_ms=W, max_drift_ms=300_000)
    assert [(r.status, r.seq) for r in plan.results] == [("applied", 1), ("duplicate", 1)]
    again = plan_push([op], Holdings(op_seqs={op.op_id: 4}), head=9, now_ms=W, max_drift_ms=1)
    assert (again.results[0].status, again.results[0].seq, again.accepted) == ("duplicate", 4, [])


def test_refusals_leave_no_change_and_take_no_seq() -> None:
    stored = message()
    held = Holdings(
        collected={CONV},
        messages={stored.id: stored},
        screenshots={screenshot().sha256: screenshot()},
    )
    other_conversation = str(uuid.uuid4())
    ops = [
        InvalidOp(str(uuid.uuid4()), {}, ErrorCode.BAD_PAYLOAD, "title: too long"),
        _op(message(at=10 * 60_000, conversation_id=other_conversation)),  # 10 min ahead
        _op(created()),  # its conversation was collected
        _op(dataclasses.replace(stored, text="edited", conversation_id=other_conversation)),
        _op(dataclasses.replace(screenshot(), width=2)),
        _op(screenshot()),  # the same metadata again: applied, nothing new stored
    ]
    plan = plan_push(ops, held, head=0, now_ms=W, max_drift_ms=300_000)
    assert _codes(plan.results) == [
        ErrorCode.BAD_PAYLOAD,
        ErrorCode.CLOCK_SKEW,
        ErrorCode.GONE,
        ErrorCode.MESSAGE_MISMATCH,
        ErrorCode.SCREENSHOT_MISMATCH,
        None,
    ]
    assert "600 s ahead" in plan.results[1].message
    assert [(a.seq, a.new_record) for a in plan.accepted] == [(1, False)]


def test_states_of_one_conversation_merge_with_the_stored_one() -> None:
    stored = created()
    renamed = edited(stored, PHONE, 1_000, title="Renamed")
    pinned = edited(stored, PHONE, 2_000, pinned=True)
    held = Holdings(states={CONV: stored})
    plan = plan_push([_op(renamed), _op(pinned)], held, head=0, now_ms=W, max_drift_ms=300_000)
    merged = plan.states[CONV]
    assert (merged.title, merged.pinned) == ("Renamed", True)


def test_a_sealed_op_for_an_account_that_is_not_encrypted_is_refused() -> None:
    sealed = SealedRecord("conversation", CONV, bytes(57))
    plan = plan_push([_op(sealed)], Holdings(), head=3, now_ms=W, max_drift_ms=300_000)
    assert _codes(plan.results) == [ErrorCode.NOT_ENCRYPTED]
    assert plan.accepted == [] and plan.head == 3


def test_an_encrypted_account_takes_sealed_ops_without_judging_their_contents() -> None:
    msg = str(uuid.uuid4())
    ops = [
        _op(created()),  # clear: refused, whatever it holds
        _op(message()),
        _op(SealedRecord("conversation", CONV, bytes(57), deleted_at=W << 16)),
        _op(SealedRecord("message", msg, bytes(60), conversation_id=CONV)),
        _op(SealedRecord("message", msg, bytes(61), conversation_id=CONV)),  # other content
        _op(SealedRecord("screenshot", "ab" * 32, bytes(57))),
    ]
    plan = plan_push(ops, Holdings(encrypted=True), head=4, now_ms=W, max_drift_ms=1)
    assert _codes(plan.results) == [ErrorCode.ENCRYPTED_ACCOUNT] * 2 + [None] * 4
    assert [r.seq for r in plan.results[2:]] == [5, 6, 7, 8]
    assert [(a.conversation_id, a.new_record) for a in plan.accepted] == [
        (CONV, False), (CONV, False), (CONV, False), (None, False),
    ]  # fmt: skip
    assert plan.states == {} and plan.newest == {}  # nothing merged, nothing kept in clear


def test_a_sealed_op_for_a_collected_conversation_is_gone() -> None:
    held = Holdings(encrypted=True, collected={CONV})
    ops = [
        _op(SealedRecord("conversation", CONV, bytes(57))),
        _op(SealedRecord("message", str(uuid.uuid4()), bytes(57), conversation_id=CONV)),
    ]
    plan = plan_push(ops, held, head=0, now_ms=W, max_drift_ms=300_000)
    assert _codes(plan.results) == [ErrorCode.GONE, ErrorCode.GONE] and plan.accepted == []
