"""The chat window's brain: between the window and ChatService, with all blocking work in workers.

`ChatController` keeps what the window shows (one conversation, its picture, its state) and
reports changes as signals; the window only draws them and calls the methods here. It is the one
object the window and app.py use. Its work is done by parts, one module each, mixed into it:
they share its state (set in `__init__` and `_reset_fields`) and its signals.

- `asking.py`: send, retry, stop; a question held while its picture is being encoded.
- `answers.py`: what the AnswerWorkers report (saved, chunks, redacted, finished).
- `queued_answers.py`: what the answer queue sends by itself, shown like an answer asked here.
- `picture_arrival.py`: a picture whose bytes come later (encoded after the capture, or
  downloaded after a sync).
- `follow_ups.py`: a capture added to the open conversation; the thread's pictures.
- `unsent_picture.py`: redactions, mark-up and the secrets review before sending.
- `changes_elsewhere.py`: re-reads after a sync or an edit in History, deletes and restores,
  conflicts.

This module holds the signals, the state, which conversation is shown (new, opened, switched
away from) and what every part reports through (the status line, "answering"). Flow of a
question: `send()` -> AnswerWorker saves it (and starts the conversation with its picture) ->
chunks stream -> the answer is saved. A transient failure (offline, provider down) hands the
conversation to the answer queue, which sends it again by itself; the window shows it as
waiting. Nothing typed is dropped: a question that could not be saved goes back into the
prompt. A conversation being opened takes no question until it is read (`loading`).

Without Qt: `status.py` (what the status line says), `reads.py` (what is read from the store),
`quick_actions.py`, `titles.py`. Pictures are decoded on workers (`decoding.py`); one-call work
runs through `ui/workers.TaskRunner`. The answer queue is reached only through QueueRunner's
methods.
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
from snapask_desktop.ui.chat.changes_elsewhere import ChangesElsewhere
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
from snapask_desktop.ui.chat.reads import read_conversation
from snapask_desktop.ui.chat.status import ChatStatus
from snapask_desktop.ui.chat.titles import NEW_CHAT_TITLE
from snapask_desktop.ui.chat.unsent_picture import UnsentPicture
from snapask_desktop.ui.workers import TaskRunner

if TYPE_CHECKING:
    from snapask_desktop.store.records import ConflictRecord


class ChatController(
    Asking,
    Answers,
    QueuedAnswers,
    PictureArrival,
    FollowUps,
    UnsentPicture,
    ChangesElsewhere,
    QObject,
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
