"""Which deleted conversations a device of an encrypted account confirms (12.12), pure."""

from __future__ import annotations

import uuid

from snapask_desktop.sync.device.confirm import FRAMES_PER_ROUND, DeleteConfirmations
from snapask_desktop.sync.limits import MAX_DELETED_CONVERSATIONS
from snapask_desktop.sync.protocol import Change, DeletedConversation
from snapask_desktop.sync.records import Payload, PurgeRecord
from tests.sync.factories import CONV, LAPTOP, OP, created, edited, message


def _changes(*payloads: Payload) -> list[Change]:
    return [Change(seq, OP, LAPTOP, p) for seq, p in enumerate(payloads, 1)]


def test_a_conversation_is_confirmed_at_its_stamp_after_a_change_of_it_and_then_not_again() -> None:
    deleted = edited(created(), LAPTOP, 10, deleted=True)
    stamp = deleted.field_hlc["deleted"].hlc
    confirms = DeleteConfirmations()
    confirms.start(())
    confirms.note(_changes(created(), deleted))
    [frame] = confirms.frames({CONV: stamp}, cursor=2)
    assert (frame.cursor, frame.conversations) == (2, (DeletedConversation(CONV, stamp),))
    assert confirms.frames({CONV: stamp}, cursor=2) == []  # said once per change
    confirms.note(_changes(message(at=3)))  # a message below the delete: said again
    assert [f.conversations for f in confirms.frames({CONV: stamp}, 3)] == [
        (DeletedConversation(CONV, stamp),)
    ]


def test_what_is_not_deleted_here_or_not_the_servers_newest_stamp_is_not_confirmed() -> None:
    deleted = edited(created(), LAPTOP, 10, deleted=True)
    stamp = deleted.field_hlc["deleted"].hlc
    confirms = DeleteConfirmations()
    confirms.start(())
    confirms.note(_changes(deleted))
    # Restored here (9.6.1 or 9.6.2): the store has no delete stamp for it.
    assert confirms.frames({}, cursor=1) == []
    assert confirms.pending == frozenset()
    # The newest state the page carried is not deleted, though an older stamp is held here.
    confirms.note(_changes(deleted, edited(deleted, LAPTOP, 20, deleted=False)))
    assert confirms.frames({CONV: stamp}, cursor=2) == []
    confirms.note(_changes(PurgeRecord(CONV, ())))  # collected: nothing more to say
    assert confirms.pending == frozenset()


def test_a_new_connection_confirms_everything_deleted_here_in_bounded_rounds() -> None:
    many = {str(uuid.uuid4()): 7 for _ in range(FRAMES_PER_ROUND * MAX_DELETED_CONVERSATIONS + 5)}
    confirms = DeleteConfirmations()
    confirms.start(many)
    first = confirms.frames(many, cursor=9)
    assert len(first) == FRAMES_PER_ROUND
    assert all(len(f.conversations) == MAX_DELETED_CONVERSATIONS for f in first)
    [rest] = confirms.frames(many, cursor=9)
    sent = {c.id for f in [*first, rest] for c in f.conversations}
    assert len(rest.conversations) == 5 and sent == set(many)
    assert confirms.frames(many, cursor=9) == []


def test_a_delete_newer_than_the_servers_newest_state_is_pushed_again_not_confirmed() -> None:
    older = created()
    deleted = edited(older, LAPTOP, 10, deleted=True)
    stamp = deleted.field_hlc["deleted"].hlc
    confirms = DeleteConfirmations()
    confirms.start(())
    confirms.note(_changes(deleted, older))  # an older state pushed after the delete
    assert confirms.frames({CONV: stamp}, cursor=2) == []
    assert confirms.stale({CONV: stamp}) == [CONV]
    assert confirms.stale({CONV: stamp}) == []  # once
    confirms.note(_changes(deleted))  # our state came back as the newest
    assert confirms.stale({CONV: stamp}) == []
    assert [f.conversations for f in confirms.frames({CONV: stamp}, 3)] == [
        (DeletedConversation(CONV, stamp),)
    ]
