"""The chat window's brain: between the window and ChatService, with all blocking work in workers.

The controller keeps what the window shows (one conversation, its picture, its state) and
reports changes as signals; the window only draws them and calls the methods here.

Flow of a question: `send()` -> AnswerWorker saves it (and starts the conversation with its
picture) -> chunks stream -> the answer is saved. A transient failure (offline, provider down)
hands the conversation to the answer queue, which sends it again by itself; the window shows it
as waiting. A picture still being encoded is "pending": a question typed meanwhile is held and
sent as soon as `set_picture_bytes()` delivers the PNG, even if another conversation is shown by
then. Nothing typed is dropped: a question that could not be saved goes back into the prompt.
A conversation being opened takes no question until it is read (`loading`).

Sync: `sync_applied()` re-reads the shown conversation when another device changed it (the
title and conflict banner at once; the transcript once no answer streams here, so a streaming
or unsaved answer is never wiped). A synced picture whose bytes are not here yet is "missing":
the blob fetcher is asked for it and the picture appears when `blob_arrived()` reports it.

What the status line says is chosen from `status.py`; what is read from the store is in
`reads.py` (both without Qt). The answer queue is reached only through QueueRunner's methods.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import Property, QObject, QThreadPool, Signal
from PySide6.QtGui import QImage

from snapask_desktop.answer_queue import Backoff
from snapask_desktop.chat import ChatService
from snapask_desktop.config import Settings
from snapask_desktop.store.records import ConversationDetail
from snapask_desktop.ui.chat import status
from snapask_desktop.ui.chat.answer_worker import AnswerSignals, QueueRunner
from snapask_desktop.ui.chat.answers import Answers
from snapask_desktop.ui.chat.asking import Asking, HeldQuestion, RunningAnswer
from snapask_desktop.ui.chat.decoding import LoadedConversation, with_pictures
from snapask_desktop.ui.chat.follow_ups import FollowUps
from snapask_desktop.ui.chat.picture_arrival import PictureArrival, PictureState
from snapask_desktop.ui.chat.queued_answers import QueuedAnswers
from snapask_desktop.ui.chat.quick_actions import (
    QuickAction,
    action_labels,
    quick_actions,
    shown_messages,
    shown_question,
)
from snapask_desktop.ui.chat.reads import read_conversation, reread_conversation
from snapask_desktop.ui.chat.status import ChatStatus
from snapask_desktop.ui.chat.unsent_picture import UnsentPicture
from snapask_desktop.ui.workers import TaskRunner

if TYPE_CHECKING:
    from snapask_desktop.store.records import ApplyReport, ConflictRecord

NEW_CHAT_TITLE = "New chat"


class ChatController(
    Asking, Answers, QueuedAnswers, PictureArrival, FollowUps, UnsentPicture, QObject
):
    """One conversation at a time for the chat window; see the module docstring."""

    # What the window draws.
    conversation_reset = Signal()  # a different conversation: clear the transcript
    title_changed = Signal(str)
    picture_changed = Signal(QImage)  # null image: no picture
    picture_state_changed = Signal(str)  # PictureState
    transcript_loaded = Signal(object)  # tuple[Message, ...] of an opened conversation
    question_added = Signal(str)  # a question to show (it is being saved and sent)
    answer_started = Signal()  # an answer bubble begins
    answer_chunk = Signal(str)
    answer_finished = Signal(str, str)  # status (final/cancelled/error/unsaved), the whole text
    answer_read_here = Signal(str)  # the engine that read the answer on this device (before
    # answer_finished): no AI was asked
    question_restored = Signal(str)  # a question that was not saved: back into the prompt box
    answer_discarded = Signal()  # Regenerate: the stopped answer's bubble goes
    status_changed = Signal(object)  # ChatStatus
    actions_changed = Signal()  # the quick actions changed (settings)
    transcript_refreshed = Signal(object)  # tuple[Message, ...]: changed by another device
    conflicts_changed = Signal(object)  # tuple[ConflictRecord, ...] of the shown conversation
    # What the rest of the app watches.
    conversation_changed = Signal(str)  # its stored content changed (history refreshes)
    answering_changed = Signal(bool)  # any answer streaming (tray icon)
    waiting_count_changed = Signal(int)  # questions waiting for the provider
    secrets_hidden = Signal(int)  # this many suspected secrets were painted out before sending
    # The picture editor (redactions and mark-up before the first question).
    marks_changed = Signal()  # the marks to paint into the unsent picture changed
    suggestions_ready = Signal(object)  # Suggestions for the unsent picture
    preview_ready = Signal(int, object)  # token, PreparedImage: exactly what would be sent
    preview_failed = Signal(int, str)  # token, why nothing would be sent
    review_requested = Signal(str)  # "always ask": the question waits for the picture's review
    review_passed = Signal(str)  # ... nothing suggested: send the question now
    original_available = Signal(bool)  # the shown picture's original is kept on this device
    original_ready = Signal(QImage)  # `show_original`: the kept original, decoded
    # A capture added to the open conversation: the next question's picture.
    attachment_changed = Signal(QImage, str)  # the picture as it will be sent (null: none),
    # its PictureState ("none", "pending", "ready", "failed")
    picture_sent = Signal(QImage)  # the picture of the question just asked, for its bubble
    thread_picture_ready = Signal(QImage)  # `show_thread_picture`: one at full size
    follow_up_secrets_hidden = Signal(int)  # ... painted: this many suspected secrets
    # (after picture_changed has shown the picture as it was sent)

    def __init__(
        self,
        chat: ChatService,
        settings: Settings,
        *,
        pool: QThreadPool | None = None,
        queue: QueueRunner | None = None,
        queue_backoff: Backoff | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._chat = chat
        self._settings = settings
        self._pool = pool or QThreadPool.globalInstance()
        self._view = 0  # bumped on every conversation switch; stale results are ignored
        self._tokens = itertools.count(1)
        self._runs: dict[int, RunningAnswer] = {}  # answers under way, by run id
        self._answer_signals = AnswerSignals(self)
        self._connect_answers()
        self._tasks = TaskRunner(self._pool, self._task_failed, tokens=self._tokens, parent=self)
        # picture id -> a question held for it when its conversation was switched away from
        self._held_elsewhere: OrderedDict[int, HeldQuestion] = OrderedDict()
        self._answering = False
        self._queue_sending = False
        self._waiting = 0
        self._kicked: str | None = None  # the waiting conversation Send now just tried
        # Conversations Send now asked for: tried even if the provider is resting (queue thread).
        self._trial_for: set[str] = set()
        self._blob_fetcher: Callable[[str], None] | None = None
        self._device_id = ""
        self._reset_fields()
        self._queue = queue or QueueRunner(chat.store, self._ask_queued, backoff=queue_backoff)
        self._owns_queue = queue is None
        self._connect_queue()
        if self._owns_queue:
            self._queue.start()

    def _reset_fields(self) -> None:
        self._cid: str | None = None
        self._title = NEW_CHAT_TITLE
        self._png: bytes | None = None
        self._picture_id: int | None = None
        self._picture_state: PictureState = "none"
        self._held_question: str | None = None  # typed while the picture was pending
        self._unsaved_question: str | None = None  # its save failed; Retry saves it again
        self._status = status.IDLE
        self._ready = True  # False while a saved conversation is being read
        self._queue_streaming = False  # the queue is answering the shown conversation
        self._picture_task = 0  # token of the picture being decoded
        self._load_task = 0  # token of the conversation being read
        self._refresh_task = 0  # token of a re-read after a synced change
        self._refresh_pending = False  # re-read once the answer streaming here ends
        self._reload_after_load = False  # a synced change arrived while it was being opened
        self._unsaved_shown = False  # an answer the store refused is on screen (Retry)
        self._missing_sha: str | None = None  # the shown picture, not downloaded yet
        self._conflicts: tuple[ConflictRecord, ...] = ()
        self._gone = False  # the shown conversation was deleted (Restore brings it back)
        self._forget_edits()  # the unsent picture's edits (unsent_picture.py)
        self._original_sha: str | None = None  # the shown picture, whose original is kept
        # A capture added to the shown conversation (`add_picture`): asked with the next question.
        self._attach_png: bytes | None = None
        self._attach_id: int | None = None
        self._attach_state: PictureState = "none"
        self._attach_image = QImage()  # shown in the window, as it will be sent
        self._attach_task = 0
        self._thread: dict[str, QImage | None] = {}  # the follow-ups' own pictures (reads.py)
        self._first_sha: str | None = None

    def _connect_answers(self) -> None:
        a = self._answer_signals
        a.saved.connect(self._saved)
        a.chunk.connect(self._chunk)
        a.retrying.connect(self._retrying)
        a.finished.connect(self._finished)
        a.redacted.connect(self._redacted)
        self.answer_started.connect(self._answer_began)
        self.answer_finished.connect(self._answer_ended)

    def _connect_queue(self) -> None:
        q = self._queue
        q.started.connect(self._queue_started)
        q.chunk.connect(self._queue_chunk)
        q.waiting.connect(self._queue_waiting)
        q.answered.connect(self._queue_answered)
        q.failed.connect(self._queue_failed)
        q.dropped.connect(self._queue_dropped)
        q.changed.connect(self._queue_changed)

    # --- properties ------------------------------------------------------------------------
    def _get_answering(self) -> bool:
        return self._answering

    is_answering = Property(bool, _get_answering, notify=answering_changed)

    @property
    def conversation_id(self) -> str | None:
        """The conversation shown (None until its first question is saved)."""
        return self._cid

    @property
    def title(self) -> str:
        """The shown conversation's title."""
        return self._title

    @property
    def status(self) -> ChatStatus:
        """The current status line."""
        return self._status

    @property
    def answering_here(self) -> bool:
        """True while the shown conversation's answer is being saved, sent or streamed."""
        mine = any(running.view == self._view for running in self._runs.values())
        return mine or self._queue_streaming or self._held_question is not None

    @property
    def loading(self) -> bool:
        """True while a saved conversation is being read (it takes no question meanwhile)."""
        return not self._ready

    @property
    def settings(self) -> Settings:
        """The settings answers are made with."""
        return self._settings

    @property
    def conflicts(self) -> tuple[ConflictRecord, ...]:
        """The shown conversation's conflict records (edits made on two devices at once)."""
        return self._conflicts

    @property
    def device_id(self) -> str:
        """This device's id (known once a conversation has been read)."""
        return self._device_id

    def set_settings(self, settings: Settings) -> None:
        """Use new settings (provider, model, templates) from now on."""
        old, self._settings = self._settings, settings
        if quick_actions(old) != quick_actions(settings):
            self.actions_changed.emit()

    def quick_actions(self) -> list[QuickAction]:
        """The chips to show: built-in actions, then the user's templates."""
        return quick_actions(self._settings)

    def shown_text(self, question: str) -> str:
        """A question as its bubble shows it (a quick action's name, not its prompt)."""
        return shown_question(question, self._action_labels())

    def _action_labels(self) -> dict[str, str]:
        return action_labels(self._settings)

    # --- which conversation ----------------------------------------------------------------
    def new_conversation(self) -> None:
        """An empty chat without a picture."""
        self._switch()
        self._emit_picture(QImage(), "none")

    def open_conversation(self, conversation_id: str) -> None:
        """Show a saved conversation, by its id or a short prefix of it (read in a worker)."""
        self._switch()
        self._ready = False
        self._set_status(status.OPENING)
        store = self._chat.store
        self._load_task = self._tasks.run(
            lambda: with_pictures(read_conversation(store, conversation_id)),
            self._conversation_loaded,
        )

    def _switch(self) -> None:
        self._keep_typed_questions()
        self._view += 1
        had_conflicts = bool(self._conflicts)
        self._reset_fields()
        self.conversation_reset.emit()
        if had_conflicts:
            self.conflicts_changed.emit(())
        self.title_changed.emit(self._title)
        self._set_status(status.IDLE)
        self._update_answering()

    def _conversation_loaded(self, token: int, loaded: LoadedConversation) -> None:
        if token != self._load_task:
            return
        detail = loaded.detail
        self._cid = detail.conversation.id  # the full id, also when opened by a prefix
        self._ready = True
        self._title = detail.conversation.title or NEW_CHAT_TITLE
        self.title_changed.emit(self._title)
        self._device_id = loaded.device_id or self._device_id  # before: the transcript uses it
        self._set_thread(loaded)
        self.transcript_loaded.emit(shown_messages(detail.messages, self._action_labels()))
        picture = loaded.picture
        self._emit_picture(picture or QImage(), "ready" if picture is not None else "none")
        self._conflicts = loaded.conflicts
        self.conflicts_changed.emit(loaded.conflicts)
        self._status_for_loaded(detail)
        if loaded.missing and loaded.picture_sha:
            self._picture_missing(loaded.picture_sha)
        if loaded.picture_sha:
            self._find_original(loaded.picture_sha)
        if self._reload_after_load:
            self._reload_after_load = False
            self.reload()

    def _status_for_loaded(self, detail: ConversationDetail) -> None:
        cid = detail.conversation.id
        unanswered = bool(detail.messages) and detail.messages[-1].role == "user"
        entry = self._queue.get(cid)
        running = [r for r in self._runs.values() if r.run.conversation_id == cid]
        if running:  # still answering from before the switch: show it here again
            running[0].view = self._view
            self._update_answering()
            self.answer_started.emit()
            self._set_status(status.ANSWERING)
        elif entry is not None and entry.sending:
            self._queue_streaming = True
            self._update_answering()
            self.answer_started.emit()
            self._set_status(status.SENDING_WAITING)
        elif entry is not None:
            self._set_status(status.waiting(entry.reason, entry.due_in_s))
        elif unanswered:
            self._set_status(status.UNANSWERED)
        else:
            self._set_status(status.IDLE)

    def _task_failed(self, token: int, reason: str) -> None:
        """A task failed that was run without its own `on_error`."""
        if token == self._load_task:
            self._ready = True
            self._cid = None  # nothing is shown: a question starts a new chat
            self._set_status(status.could_not_open(reason))
        elif token == self._picture_task:
            self._set_status(status.picture_not_shown(reason))

    # --- sync: changes from other devices, conflicts, pictures downloaded later ------------
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

    # --- helpers ---------------------------------------------------------------------------
    def _shown(self, conversation_id: str) -> bool:
        return conversation_id == self._cid and self._ready

    def _update_answering(self, queue_sending: bool | None = None) -> None:
        if queue_sending is not None:
            self._queue_sending = queue_sending
        answering = (
            bool(self._runs)
            or self._queue_sending
            or self._held_question is not None
            or bool(self._held_elsewhere)
        )
        if answering != self._answering:
            self._answering = answering
            self.answering_changed.emit(answering)

    def _set_status(self, line: ChatStatus) -> None:
        if line != self._status:
            self._status = line
            self.status_changed.emit(line)
