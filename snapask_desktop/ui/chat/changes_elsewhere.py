"""The shown conversation changed elsewhere: on another device (sync), in History or by
the CLI (renamed, deleted, restored), or edited on two devices at once (a conflict).

Part of `ChatController` (a mixin over its state and signals, see controller.py). `reload()`
re-reads the shown conversation in a worker: the title and the conflict banner follow at
once, the transcript once no answer streams here (a streaming or unsaved answer is never
wiped; the re-read waits for `answer_finished`). A conversation deleted elsewhere stays on
screen with Restore offered; a conflict's other value can be kept or the record dismissed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from snapask_desktop.ui.chat import status
from snapask_desktop.ui.chat.decoding import LoadedConversation, with_pictures
from snapask_desktop.ui.chat.quick_actions import shown_messages
from snapask_desktop.ui.chat.reads import reread_conversation
from snapask_desktop.ui.chat.titles import NEW_CHAT_TITLE

if TYPE_CHECKING:
    from snapask_desktop.store.records import ApplyReport, ConflictRecord


class ChangesElsewhere:
    """ChatController's following of changes made elsewhere; see the module docstring."""

    @property
    def conflicts(self) -> tuple[ConflictRecord, ...]:
        """The shown conversation's conflict records (edits made on two devices at once)."""
        return self._conflicts

    def sync_applied(self, report: ApplyReport) -> None:
        """Changes from other devices are in the store: re-read the shown conversation if it
        is among them."""
        cid = self._cid
        if cid is None:
            return
        if (
            cid in report.changed_conversations
            or cid in report.restored
            or any(conflict.conversation_id == cid for conflict in report.conflicts)
        ):
            self.reload()

    def changed_elsewhere(self, conversation_id: str) -> None:
        """Another window or process renamed, deleted or restored a conversation: follow it
        if it is the one shown."""
        if conversation_id == self._cid:
            self.reload()

    def restore(self) -> None:
        """Bring back the shown conversation after it was deleted (in History, elsewhere)."""
        cid = self._cid
        if cid is None or not self._gone:
            return
        store = self._chat.store

        def done(_token: int, _result: object) -> None:
            self.conversation_changed.emit(cid)
            if cid == self._cid:
                self.reload()

        def failed(reason: str) -> None:
            if cid == self._cid:
                self._set_status(status.did_not_work(reason))

        self._tasks.run(lambda: store.restore_conversation(cid), done, failed)

    def reload(self) -> None:
        """Re-read the shown conversation (title, messages, conflicts, picture) in a worker;
        what the user typed, a streaming answer and an unsaved one stay as they are."""
        cid = self._cid
        if cid is None:
            return
        if not self._ready:
            self._reload_after_load = True  # its read may have started before the change
            return
        decode = self._picture_state in ("none", "missing", "downloading")
        store = self._chat.store

        def reread() -> LoadedConversation | None:
            read = reread_conversation(store, cid, with_picture=decode)
            return None if read is None else with_pictures(read)

        self._refresh_task = self._tasks.run(reread, self._conversation_refreshed)

    def keep_other_version(self, conflict_id: int) -> None:
        """Write a conflict's other value back as a new edit that wins on every device."""
        self._resolve_conflict(conflict_id, keep=True)

    def dismiss_conflict(self, conflict_id: int) -> None:
        """Keep things as they are and forget the conflict record."""
        self._resolve_conflict(conflict_id, keep=False)

    def _conversation_refreshed(self, token: int, loaded: LoadedConversation | None) -> None:
        if token != self._refresh_task or not self._ready:
            return
        if loaded is None:
            self._gone = True
            self._set_status(status.GONE_ELSEWHERE)
            if self._conflicts:
                self._conflicts = ()
                self.conflicts_changed.emit(())
            return
        detail = loaded.detail
        if detail.conversation.id != self._cid:
            return
        self._gone = False  # restored (here, in History or on another device)
        title = detail.conversation.title or NEW_CHAT_TITLE
        if title != self._title:
            self._title = title
            self.title_changed.emit(title)
        if loaded.conflicts != self._conflicts:
            self._conflicts = loaded.conflicts
            self.conflicts_changed.emit(loaded.conflicts)
        if self._can_refresh_transcript():
            self._set_thread(loaded)
            self.transcript_refreshed.emit(shown_messages(detail.messages, self._action_labels()))
            if status.stale_after_sync(self._status):
                self._status_for_loaded(detail)  # e.g. another device answered it meanwhile
        else:
            self._refresh_pending = True
        if self._picture_state in ("none", "missing", "downloading"):
            if loaded.picture is not None:
                self._missing_sha = None
                self._emit_picture(loaded.picture, "ready")
            elif loaded.missing and loaded.picture_sha and self._picture_state == "none":
                self._picture_missing(loaded.picture_sha)

    def _can_refresh_transcript(self) -> bool:
        return not self.answering_here and not self._unsaved_shown

    def _answer_began(self) -> None:
        self._unsaved_shown = False

    def _answer_ended(self, how: str, _text: str) -> None:
        # Connected before the window: the re-read is queued, its result lands after the
        # window has finished the answer bubble.
        self._unsaved_shown = how == "unsaved"
        if self._refresh_pending and self._can_refresh_transcript():
            self._refresh_pending = False
            self.reload()

    def _resolve_conflict(self, conflict_id: int, *, keep: bool) -> None:
        cid = self._cid
        if cid is None:
            return
        store = self._chat.store

        def work() -> object:
            if keep:
                return store.keep_other_version(conflict_id)
            store.dismiss_conflict(conflict_id)
            return None

        def done(_token: int, result: object) -> None:
            self.conversation_changed.emit(cid)
            if cid != self._cid:
                return
            if keep and getattr(result, "deleted", False):
                self.new_conversation()
                self._set_status(status.DELETED_HERE)
            else:
                self.reload()

        def failed(reason: str) -> None:
            if cid == self._cid:
                self.conflicts_changed.emit(self._conflicts)  # the banner's buttons work again
                self._set_status(status.did_not_work(reason))

        self._tasks.run(work, done, failed)
