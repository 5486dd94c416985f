"""Algebraic laws of the merge on arbitrary valid states (hypothesis)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from snapask_desktop.sync.clock import Order, vv_compare
from snapask_desktop.sync.merge import (
    FIELDS,
    ConversationState,
    FieldStamp,
    edit_conversation,
    merge_conversation,
    merge_states,
)
from snapask_desktop.sync.records import check_conversation
from tests.sync.factories import CONV

DEVICES = ("a", "b", "c")
LAWS = settings(max_examples=150, deadline=None)


@st.composite
def states(draw: st.DrawFn) -> ConversationState:
    """Any state that passes validation; small pools so that ties and equal stamps happen."""
    devices = draw(st.lists(st.sampled_from(DEVICES), min_size=1, max_size=3, unique=True))
    vv = {device: draw(st.integers(1, 3)) for device in devices}
    stamp = st.builds(FieldStamp, st.integers(0, 4), st.sampled_from(devices))
    field_hlc: dict[str, FieldStamp] = {name: draw(stamp) for name in FIELDS}
    newest = max(field_hlc.values())
    record = draw(
        st.one_of(
            st.just(newest),
            st.builds(
                FieldStamp, st.integers(newest.hlc + 1, newest.hlc + 2), st.sampled_from(devices)
            ),
        )
    )
    state = ConversationState(
        id=CONV,
        title=draw(st.sampled_from(["", "x", "y"])),
        pinned=draw(st.booleans()),
        archived=draw(st.booleans()),
        deleted=draw(st.booleans()),
        created_at=draw(st.integers(0, 2)),
        updated_at=draw(st.integers(0, 2)),
        vv=vv,
        hlc=record.hlc,
        field_hlc=field_hlc,
        device=record.device,
    )
    check_conversation(state)
    return state


@LAWS
@given(states(), states())
def test_merge_is_commutative(a: ConversationState, b: ConversationState) -> None:
    assert merge_states(a, b) == merge_states(b, a)


@LAWS
@given(states(), states(), states())
def test_merge_is_associative(
    a: ConversationState, b: ConversationState, c: ConversationState
) -> None:
    assert merge_states(merge_states(a, b), c) == merge_states(a, merge_states(b, c))


@LAWS
@given(states(), states())
def test_merge_is_idempotent_and_absorbs(a: ConversationState, b: ConversationState) -> None:
    assert merge_states(a, a) == a
    ab = merge_states(a, b)
    assert merge_states(ab, b) == ab
    assert merge_states(ab, a) == ab
    assert merge_states(ab, ab) == ab


@LAWS
@given(states(), states())
def test_the_merge_is_a_valid_upper_bound(a: ConversationState, b: ConversationState) -> None:
    merged = merge_states(a, b)
    check_conversation(merged)
    for side in (a, b):
        assert vv_compare(side.vv, merged.vv) in (Order.BEFORE, Order.EQUAL)
        assert side.stamp <= merged.stamp
        for name in FIELDS:
            assert side.field_hlc[name] <= merged.field_hlc[name]


@LAWS
@given(states(), states())
def test_both_sides_report_the_same_conflicts(a: ConversationState, b: ConversationState) -> None:
    forward, backward = merge_conversation(a, b), merge_conversation(b, a)
    assert forward.state == backward.state
    assert forward.conflicts == backward.conflicts
    assert forward.delete_cancelled == backward.delete_cancelled
    for conflict in forward.conflicts:
        assert conflict.losing_value != conflict.winning_value
        assert conflict.winning_value == forward.state.value(conflict.field)
        assert conflict.losing_stamp <= conflict.winning_stamp


@LAWS
@given(states(), states())
def test_a_surviving_delete_knew_everything(a: ConversationState, b: ConversationState) -> None:
    merged = merge_states(a, b)
    if merged.deleted:
        carriers = [s for s in (a, b) if s.field_hlc["deleted"] == merged.field_hlc["deleted"]]
        assert carriers and all(s.deleted and s.vv == merged.vv for s in carriers)


edits = st.dictionaries(
    st.sampled_from(FIELDS),
    st.booleans(),
    min_size=1,
).map(lambda changes: {k: ("z" if v else "x") if k == "title" else v for k, v in changes.items()})


@LAWS
@given(
    states(), edits, st.sampled_from(DEVICES), st.integers(1, 3), st.integers(0, 3), st.booleans()
)
def test_a_local_edit_only_moves_the_state_up(
    state: ConversationState,
    changes: dict[str, str | bool],
    device: str,
    later: int,
    wall: int,
    force: bool,
) -> None:
    hlc = max([state.hlc, *(s.hlc for s in state.field_hlc.values())]) + later
    edited = edit_conversation(state, changes, device_id=device, hlc=hlc, now_ms=wall, force=force)
    check_conversation(edited)
    assert merge_states(state, edited) == edited  # the old state adds nothing to the new one
    for name, value in changes.items():
        assert edited.value(name) == value
