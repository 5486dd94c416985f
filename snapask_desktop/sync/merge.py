"""Pure merge rules for synced records (docs/sync-protocol.md section 9).

``merge_states`` is a join: commutative, associative and idempotent for *any* valid states, so
every replica that has seen the same set of states computes the same result. Conversations merge
field by field, last writer wins on (hlc, device); vectors take the pointwise maximum; a delete
survives only if the states carrying it knew everything the merge knows (else it is cancelled:
a concurrent edit keeps the conversation). Messages and screenshots are grow-only sets of
immutable records (``message_added``, ``screenshot_added``), shared by the server and devices.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass

from snapask_desktop.sync.clock import HybridClock, Order, vv_bump, vv_compare, vv_merge
from snapask_desktop.sync.errors import ErrorCode, ProtocolError
from snapask_desktop.sync.limits import MAX_TITLE_CHARS
from snapask_desktop.sync.records import (
    FIELDS,
    Conflict,
    ConversationState,
    FieldName,
    FieldStamp,
    MessageRecord,
    PurgeRecord,
    ScreenshotRecord,
    check_conversation,
)

__all__ = [
    "FIELDS",
    "Conflict",
    "ConversationState",
    "FieldStamp",
    "MergeResult",
    "MessageRecord",
    "PurgeRecord",
    "ScreenshotRecord",
    "cancel_delete_for_messages",
    "edit_conversation",
    "edit_stamp",
    "edit_updates",
    "keep_other_version",
    "keeps_text",
    "merge_conversation",
    "merge_states",
    "message_added",
    "message_restores",
    "new_conversation",
    "newest_stamp",
    "screenshot_added",
]

Value = str | bool


@dataclass(frozen=True, slots=True)
class MergeResult:
    """The merged state plus what the local replica should know about it."""

    state: ConversationState
    order: Order  # how the local vector relates to the remote one
    changed: bool  # the merged state differs from the local one in any way
    changed_fields: frozenset[FieldName]  # synced fields whose *value* differs from local
    conflicts: tuple[Conflict, ...]  # sorted by field; see section 9.2
    delete_cancelled: bool  # a delete lost to a concurrent change (also in conflicts)


# ---------------------------------------------------------------------- the join


def merge_states(a: ConversationState, b: ConversationState) -> ConversationState:
    """The join of two states of one conversation (section 9.1)."""
    if a.id != b.id:
        raise ValueError(f"cannot merge conversation {a.id} with {b.id}")
    vv = dict(sorted(vv_merge(a.vv, b.vv).items()))
    title, title_stamp = _lww(a, b, "title")
    pinned, pinned_stamp = _lww(a, b, "pinned")
    archived, archived_stamp = _lww(a, b, "archived")
    deleted, deleted_stamp = _merge_deleted(a, b, vv)
    stamp = max(a.stamp, b.stamp)
    return ConversationState(
        id=a.id,
        title=str(title),
        pinned=bool(pinned),
        archived=bool(archived),
        deleted=deleted,
        created_at=min(a.created_at, b.created_at),
        updated_at=max(a.updated_at, b.updated_at),
        vv=vv,
        hlc=stamp.hlc,
        field_hlc={
            "title": title_stamp,
            "pinned": pinned_stamp,
            "archived": archived_stamp,
            "deleted": deleted_stamp,
        },
        device=stamp.device,
    )


def _lww(a: ConversationState, b: ConversationState, field: str) -> tuple[Value, FieldStamp]:
    # Equal stamps with different values only come from a faulty peer; the JSON text of the
    # value breaks that tie so the result stays deterministic (and commutative).
    key_a = (a.field_hlc[field], json.dumps(a.value(field)))
    key_b = (b.field_hlc[field], json.dumps(b.value(field)))
    winner = a if key_a >= key_b else b
    return winner.value(field), winner.field_hlc[field]


def _merge_deleted(
    a: ConversationState, b: ConversationState, merged_vv: Mapping[str, int]
) -> tuple[bool, FieldStamp]:
    top = max(a.field_hlc["deleted"], b.field_hlc["deleted"])
    holders = [s for s in (a, b) if s.field_hlc["deleted"] == top]
    if any(not s.deleted for s in holders):
        return False, top
    # The delete holds only if every state carrying it knew all the merge knows; otherwise
    # some change it never saw exists, and the delete is cancelled at the same stamp.
    if all(vv_compare(s.vv, merged_vv) is Order.EQUAL for s in holders):
        return True, top
    return False, top


# ---------------------------------------------------------------------- reporting


def merge_conversation(local: ConversationState, remote: ConversationState) -> MergeResult:
    """Merge a received state into the local one and report changes and conflicts."""
    merged = merge_states(local, remote)
    order = vv_compare(local.vv, remote.vv)
    cancelled = _delete_cancelled(local, remote, merged)
    conflicts: list[Conflict] = []
    if cancelled:
        stamp = merged.field_hlc["deleted"]
        conflicts.append(Conflict(local.id, "deleted", True, stamp, False, stamp))
    if order is Order.CONCURRENT:
        for field in FIELDS:
            if field == "deleted" and cancelled:
                continue
            conflict = _field_conflict(local, remote, merged, field)
            if conflict is not None:
                conflicts.append(conflict)
    conflicts.sort(key=lambda c: FIELDS.index(c.field))
    return MergeResult(
        state=merged,
        order=order,
        changed=merged != local,
        changed_fields=frozenset(f for f in FIELDS if merged.value(f) != local.value(f)),
        conflicts=tuple(conflicts),
        delete_cancelled=cancelled,
    )


def _delete_cancelled(
    a: ConversationState, b: ConversationState, merged: ConversationState
) -> bool:
    stamp = merged.field_hlc["deleted"]
    return not merged.deleted and any(s.deleted and s.field_hlc["deleted"] == stamp for s in (a, b))


def _field_conflict(
    local: ConversationState, remote: ConversationState, merged: ConversationState, field: FieldName
) -> Conflict | None:
    if local.value(field) == remote.value(field):
        return None
    local_won = local.field_hlc[field] == merged.field_hlc[field] and local.value(
        field
    ) == merged.value(field)
    winner, loser = (local, remote) if local_won else (remote, local)
    if _seen_by(winner, loser, loser.field_hlc[field]):
        return None
    return Conflict(
        conversation_id=local.id,
        field=field,
        losing_value=loser.value(field),
        losing_stamp=loser.field_hlc[field],
        winning_value=winner.value(field),
        winning_stamp=winner.field_hlc[field],
    )


def _seen_by(winner: ConversationState, loser: ConversationState, write: FieldStamp) -> bool:
    """Whether ``winner`` surely knew the losing ``write`` (section 9.2; may say no wrongly)."""
    known_by_winner = winner.vv.get(write.device, 0)
    known_by_loser = loser.vv.get(write.device, 0)
    if known_by_winner >= known_by_loser:
        return True
    # If the loser's newest write is by the same device but is not this one, this write came
    # earlier, so its counter is at most known_by_loser - 1.
    return (
        loser.device == write.device
        and write != loser.stamp
        and known_by_winner >= known_by_loser - 1
    )


# ---------------------------------------------------------------------- local edits


def new_conversation(
    conversation_id: str, title: str, *, device_id: str, hlc: int, now_ms: int
) -> ConversationState:
    """A new conversation: all four fields stamped with the creation stamp (section 9.4)."""
    _check_title(title)
    stamp = FieldStamp(hlc, device_id)
    state = ConversationState(
        id=conversation_id,
        title=title,
        pinned=False,
        archived=False,
        deleted=False,
        created_at=now_ms,
        updated_at=now_ms,
        vv={device_id: 1},
        hlc=hlc,
        field_hlc=dict.fromkeys(FIELDS, stamp),
        device=device_id,
    )
    check_conversation(state)
    return state


def edit_conversation(
    state: ConversationState,
    changes: Mapping[str, Value],
    *,
    device_id: str,
    hlc: int,
    now_ms: int,
    force: bool = False,
) -> ConversationState:
    """A local edit (section 9.4); unchanged values are skipped unless ``force``.

    ``hlc`` must be past every stamp in ``state``: take it with ``edit_stamp``. Editing
    title/pinned/archived of a deleted conversation restores it (or, if the edit also says
    ``deleted=True``, writes the delete again).
    """
    updates = edit_updates(state, changes, force=force)
    if not updates:
        return state
    if state.deleted and "deleted" not in updates:
        # This edit is a change the standing delete never saw: restore the conversation, or
        # (if the edit asks to stay deleted) re-stamp the delete so that it knows the edit.
        updates["deleted"] = "deleted" in changes
    newest = newest_stamp(state)
    if hlc <= newest:
        raise ValueError(f"stale HLC stamp {hlc}: the state already holds {newest}")
    stamp = FieldStamp(hlc, device_id)
    field_hlc = {**state.field_hlc, **dict.fromkeys(updates, stamp)}
    return dataclasses.replace(
        state,
        **updates,  # type: ignore[arg-type]  # names and types checked above
        field_hlc=field_hlc,
        vv=vv_bump(state.vv, device_id),
        hlc=hlc,
        device=device_id,
        # Never backwards (another device's clock may be ahead): a local edit must produce a
        # state >= the old one, or replicas that merged the old one would keep a larger value.
        updated_at=max(state.updated_at, now_ms),
    )


def edit_updates(
    state: ConversationState, changes: Mapping[str, Value], *, force: bool = False
) -> dict[str, Value]:
    """The fields a local edit writes (checked): those whose value changes, or all with
    ``force``. Empty means the edit is a no-op: no stamp, no op."""
    _check_changes(changes)
    return {k: v for k, v in changes.items() if force or state.value(k) != v}


def newest_stamp(state: ConversationState) -> int:
    """The newest HLC stamp a state holds (its own or a field's)."""
    return max(state.hlc, *(stamp.hlc for stamp in state.field_hlc.values()))


def edit_stamp(clock: HybridClock, state: ConversationState, newest_message_hlc: int = 0) -> int:
    """The stamp of a local edit of ``state``: past every stamp in it (a state merged from a
    device whose clock ran ahead included), past its newest message (a delete stamped below
    a message it saw would be cancelled by it, 9.6 rule 1) and past the clock's last stamp."""
    return clock.observe(max(newest_stamp(state), newest_message_hlc))


def keep_other_version(
    state: ConversationState, conflict: Conflict, *, device_id: str, hlc: int, now_ms: int
) -> ConversationState:
    """Override a conflict with its losing value: a new edit that dominates both sides."""
    if conflict.conversation_id != state.id:
        raise ValueError(f"conflict is about {conflict.conversation_id}, not {state.id}")
    return edit_conversation(
        state,
        {conflict.field: conflict.losing_value},
        device_id=device_id,
        hlc=hlc,
        now_ms=now_ms,
        force=True,
    )


def _check_changes(changes: Mapping[str, Value]) -> None:
    for name, value in changes.items():
        if name not in FIELDS:
            raise ValueError(f"{name!r} is not a synced conversation field")
        if name == "title":
            _check_title(value)
        elif not isinstance(value, bool):
            raise ValueError(f"{name} must be True or False, not {value!r}")


def _check_title(value: object) -> None:
    if not isinstance(value, str) or len(value) > MAX_TITLE_CHARS:
        raise ValueError(f"a title is a string of at most {MAX_TITLE_CHARS} characters")


# ---------------------------------------------------------------------- messages, screenshots


def message_added(known: MessageRecord | None, incoming: MessageRecord) -> bool:
    """Whether ``incoming`` adds to the grow-only set of messages (9.7): True for an id not
    ``known`` yet, False for the same message again; the same id with other content raises
    ProtocolError ``message_mismatch`` (messages never change). The server rejects such an
    op; a device keeps its own copy."""
    if known is None:
        return True
    if known != incoming:
        raise ProtocolError(
            ErrorCode.MESSAGE_MISMATCH,
            f"message {incoming.id} exists with different content; messages never change",
        )
    return False


def keeps_text(kept: str | None, incoming: str) -> bool:
    """Whether a picture's `incoming` text replaces the one `kept` (None: none yet). Every
    reading of the same bytes is valid; the longer one (more was read), then the greater,
    wins, so devices that received the readings in any order keep the same one."""
    return kept is None or (len(incoming), incoming) > (len(kept), kept)


def screenshot_added(known: ScreenshotRecord | None, incoming: ScreenshotRecord) -> bool:
    """As ``message_added`` for screenshot metadata, a function of the picture's bytes: equal
    or ProtocolError ``screenshot_mismatch``."""
    if known is None:
        return True
    if known != incoming:
        raise ProtocolError(
            ErrorCode.SCREENSHOT_MISMATCH,
            f"screenshot {incoming.sha256[:12]}… exists with different metadata",
        )
    return False


def message_restores(
    conversation: ConversationState,
    message: MessageRecord,
    *,
    device_id: str,
    already_stored: bool,
) -> bool:
    """Whether applying a synced ``message`` calls for a restoring local edit (9.6, rule 2).

    True only on the device that wrote the standing delete, for a message new to it and
    stamped below the delete: only that device knows it had not seen the message. A message
    stamped at or above the delete needs no edit: it cancels the delete on every replica
    (``cancel_delete_for_messages``).
    """
    if message.conversation_id != conversation.id:
        raise ValueError(f"message {message.id} belongs to {message.conversation_id}")
    if already_stored or not conversation.deleted:
        return False
    delete = conversation.field_hlc["deleted"]
    return delete.device == device_id and message.hlc < delete.hlc


def cancel_delete_for_messages(
    state: ConversationState, newest_message_hlc: int | None
) -> ConversationState:
    """``state`` with its delete cancelled if a message of it is not older than the delete
    (9.6, rule 1); ``newest_message_hlc`` is the newest stamp of its messages (None: none).

    Derived state, not an edit: the delete's stamp stays (``deleted: false`` at the same
    stamp is a cancelled delete, 9.1.3), no vector entry moves and nothing is pushed. So it
    commutes with the join: replicas holding the same states and messages agree whatever
    the order, and a later delete stamped above the message still wins.
    """
    if not state.deleted or newest_message_hlc is None:
        return state
    if newest_message_hlc < state.field_hlc["deleted"].hlc:
        return state
    return dataclasses.replace(state, deleted=False)
