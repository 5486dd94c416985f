"""Which deleted conversations an encrypted account's device confirms (sync-protocol.md 12.12).

Pure: the client feeds it the opened changes it applied and the store's delete stamps, and
sends the ``deleted`` frames it makes. The server collects a sealed tombstone only once every
device confirmed its stamp with a cursor past the conversation's newest change, so a device
says it again after every change of a conversation it holds as deleted, and for all of them on
every connection (the frame has no reply: one lost only waits for the next connection).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from snapask_desktop.sync.limits import MAX_DELETED_CONVERSATIONS
from snapask_desktop.sync.protocol import Change, Deleted, DeletedConversation
from snapask_desktop.sync.records import ConversationState, MessageRecord, PurgeRecord

FRAMES_PER_ROUND = 4  # at most this many frames each time ``applied`` goes out


class DeleteConfirmations:
    """The conversations to confirm on this connection, and what its pages said of them."""

    def __init__(self) -> None:
        self._pending: set[str] = set()
        # The delete stamp (None: not deleted) of each conversation's newest state seen on
        # this connection: a local stamp that differs from it is not what the server holds.
        self._newest: dict[str, int | None] = {}

    def start(self, deleted_here: Iterable[str]) -> None:
        """A new connection: confirm every conversation deleted here (the last word may have
        been lost with the previous connection)."""
        self._pending = set(deleted_here)
        self._newest = {}

    def note(self, changes: Sequence[Change]) -> None:
        """Opened changes that were applied: their conversations are due again."""
        for change in changes:
            payload = change.payload
            if isinstance(payload, ConversationState):
                deleted = payload.field_hlc["deleted"].hlc if payload.deleted else None
                self._newest[payload.id] = deleted
                self._pending.add(payload.id)
            elif isinstance(payload, MessageRecord):
                self._pending.add(payload.conversation_id)
            elif isinstance(payload, PurgeRecord):
                self._pending.discard(payload.conversation_id)
                self._newest.pop(payload.conversation_id, None)

    @property
    def pending(self) -> frozenset[str]:
        return frozenset(self._pending)

    def stale(self, deleted_here: Mapping[str, int]) -> list[str]:
        """The pending conversations deleted here whose newest state this connection brought
        carries another stamp or none (an older state pushed after the delete, e.g. by a
        device re-sending everything on unlocking): the server holds no op with this delete
        as newest and would never collect it. The device pushes its state again (always safe);
        it comes back, and the conversation is confirmed then."""
        found = sorted(
            cid
            for cid, stamp in deleted_here.items()
            if cid in self._pending and self._newest.get(cid, stamp) != stamp
        )
        self._pending -= set(found)
        return found

    def frames(self, deleted_here: Mapping[str, int], cursor: int) -> list[Deleted]:
        """The frames for this round, given the delete stamps of the pending conversations
        that are deleted here (a conversation not deleted here, restored by 9.6.1 or 9.6.2,
        is never confirmed); what does not fit waits for the next round."""
        ready = sorted(
            (cid, stamp)
            for cid, stamp in deleted_here.items()
            if cid in self._pending and self._newest.get(cid, stamp) == stamp
        )
        ready = ready[: FRAMES_PER_ROUND * MAX_DELETED_CONVERSATIONS]
        self._pending -= {cid for cid, _ in ready}
        self._pending &= set(deleted_here)  # the rest is not deleted here: nothing to say
        step = MAX_DELETED_CONVERSATIONS
        return [
            Deleted(cursor, tuple(DeletedConversation(c, s) for c, s in ready[i : i + step]))
            for i in range(0, len(ready), step)
        ]
