"""Work the chat window must not do on the Qt main thread, and its results as Qt signals.

- `AnswerWorker` (QRunnable): save a question (and picture), stream its answer; emits
  `saved`, `chunk`, `retrying`, `finished` on the owner's `AnswerSignals`, tagged with the id of
  its `AnswerRun` (the plain object the owner keeps to cancel it).
- `QueueRunner`: runs the `AnswerQueue` on its own thread and re-emits its callbacks.

Workers never touch widgets; they only emit signals, which Qt delivers to the main thread.
AnswerWorker is deleted by the pool as soon as it ends (autoDelete): PySide6 never frees one
whose autoDelete is off, nor what it holds (a capture's raw pixels, a PNG, an answer's text).
`Task`, the one-call worker, lives in `ui/workers.py`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from PySide6.QtCore import QObject, QRunnable, Signal

from snapask_desktop.ai.types import AIError
from snapask_desktop.answer_queue import AnswerQueue, Ask, Backoff, QueueCallbacks, QueuedQuestion
from snapask_desktop.chat import Answer, ChatService
from snapask_desktop.credentials import CredentialError
from snapask_desktop.store.errors import NotFound, StoreError, user_reason
from snapask_desktop.store.records import Message
from snapask_desktop.ui.chat.status import retry_text
from snapask_desktop.ui.workers import sentence

if TYPE_CHECKING:  # the store module imports SQLAlchemy, which the idle app does without
    from snapask_desktop.editor.marks import Mark
    from snapask_desktop.store.repository import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AnswerJob:
    """What to do: save `question` (starting a conversation when `conversation_id` is None),
    with `image` as its picture if given, then answer; with `question` None, answer the
    waiting one."""

    provider: str
    model: str
    conversation_id: str | None = None
    question: str | None = None
    image: bytes | None = None
    use_cache: bool = True
    title: str | None = None  # a new conversation's title (a quick action's name)
    local_read: bool = False  # "Extract text": read the picture on this device, no AI
    marks: tuple[Mark, ...] = ()  # redactions and mark-up drawn on `image`, painted in first
    keep_original: bool = False  # keep `image` as it came, on this device only
    trial: bool = False  # the user's own Retry: asked even while the provider rests (breaker)


@dataclass(frozen=True)
class AnswerOutcome:
    """How a job ended. `error` is an AI failure; `problem` any other, in plain words."""

    conversation_id: str | None
    status: Literal["final", "cancelled", "error"]
    text: str = ""
    error: AIError | None = None
    problem: str | None = None
    question_saved: bool = True
    from_cache: bool = False
    answer_saved: bool = True  # False: the answer (in `text`) arrived but could not be saved
    gone: bool = False  # the conversation was deleted (in History, by the CLI, elsewhere)
    read_by: str | None = None  # the local engine that read the picture (no AI asked)
    ocr_missing: bool = False  # a local read found no engine: `problem` says what to install
    redaction_failed: bool = False  # hiding secrets is on and failed: `problem` says why
    marks_failed: bool = False  # the user's redactions/marks could not be painted: not sent

    @property
    def reason(self) -> str:
        """Why it failed, fit to show (empty when it did not fail)."""
        if self.error is not None:
            return self.error.user_message
        return self.problem or ""


class AnswerSignals(QObject):
    """What AnswerWorkers report, each tagged with its AnswerRun's id.

    One object per owner, living on the main thread: the workers are deleted by the pool as
    soon as they end, while queued signals are still on their way to this object's thread.
    """

    saved = Signal(int, object)  # run id, Message: the question is in the store
    chunk = Signal(int, str)  # run id, text
    retrying = Signal(int, str)  # run id, plain text: why, and when the next try is
    finished = Signal(int, object)  # run id, AnswerOutcome
    redacted = Signal(int, object, int)  # run id, the picture as sent (bytes), secrets painted


class AnswerRun:
    """One job's shared state, kept by whoever started it: cancel it, see which conversation it
    answers. A plain object (not the QRunnable) so the pool can free the worker when done."""

    def __init__(self, run_id: int, job: AnswerJob) -> None:
        self.id = run_id
        self.job = job
        self._lock = threading.Lock()
        self._cancelled = False
        self._answer: Answer | None = None
        self._conversation_id = job.conversation_id

    @property
    def conversation_id(self) -> str | None:
        """The conversation answered (known once a new one's question is saved)."""
        return self._conversation_id

    @property
    def cancelled(self) -> bool:
        """True once `cancel()` was called."""
        with self._lock:
            return self._cancelled

    def cancel(self) -> None:
        """Stop: before sending nothing is sent; while streaming, what arrived is kept."""
        with self._lock:
            self._cancelled = True
            answer = self._answer
        if answer is not None:
            answer.cancel()

    def started_in(self, conversation_id: str) -> None:
        """The question is saved in this conversation (called by the worker)."""
        self._conversation_id = conversation_id

    def attach(self, answer: Answer | None) -> bool:
        """Track the answer streaming now (None: it ended); True if already cancelled."""
        with self._lock:
            self._answer = answer
            return self._cancelled


class AnswerWorker(QRunnable):
    """Saves a question and streams its answer on a pool thread; see AnswerJob and AnswerRun.

    The pool deletes it when `run()` returns (autoDelete): it holds nothing the caller needs.
    """

    def __init__(self, chat: ChatService, run: AnswerRun, signals: AnswerSignals) -> None:
        super().__init__()
        self._chat = chat
        self._run_state = run
        self._signals = signals
        self._question_saved = run.job.question is None  # nothing to save: counts as saved
        self._received: list[str] = []  # the answer so far, kept if anything goes wrong

    def run(self) -> None:
        """Do the job (on a pool thread); always ends with `finished`."""
        state = self._run_state
        try:
            outcome = self._run()
        except Exception as error:  # a worker must report, never die silently
            log.exception("answering failed")
            outcome = AnswerOutcome(
                state.conversation_id,
                "error",
                "".join(self._received),
                problem=sentence(f"Something went wrong: {error}"),
                question_saved=self._question_saved,
            )
        finally:
            state.attach(None)
        self._signals.finished.emit(state.id, outcome)

    def _run(self) -> AnswerOutcome:
        state = self._run_state
        job, conversation_id = state.job, state.job.conversation_id
        if job.question is not None:
            # Pillow: not at startup
            from snapask_desktop.redact.guard import MarksFailed, RedactionFailed

            try:
                message = self._save_question()
            except RedactionFailed as error:  # fail closed: nothing stored, nothing sent
                return AnswerOutcome(
                    conversation_id,
                    "error",
                    problem=sentence(str(error.__cause__ or error)),
                    question_saved=False,
                    redaction_failed=True,
                    marks_failed=isinstance(error, MarksFailed),
                )
            except StoreError as error:
                problem = f"Your question could not be saved: {user_reason(error)}"
                return AnswerOutcome(
                    conversation_id,
                    "error",
                    problem=sentence(problem),
                    question_saved=False,
                    gone=isinstance(error, NotFound) and conversation_id is not None,
                )
            self._question_saved = True
            conversation_id = message.conversation_id
            state.started_in(conversation_id)
            self._signals.saved.emit(state.id, message)
        assert conversation_id is not None
        if state.cancelled:
            return AnswerOutcome(conversation_id, "cancelled")
        if job.local_read:
            return self._read_locally(conversation_id)
        try:
            if job.trial:  # before the breaker's check: the user asked for a try now
                self._chat.allow_trial(job.provider)
            answer = self._chat.answer(
                conversation_id,
                provider=job.provider,
                model=job.model,
                use_cache=job.use_cache,
                on_retry=self._on_retry,
            )
        except AIError as error:  # the client could not be made (e.g. an unknown provider)
            return AnswerOutcome(conversation_id, "error", error=error)
        except (StoreError, CredentialError, ValueError) as error:
            gone = isinstance(error, NotFound)
            return AnswerOutcome(
                conversation_id, "error", problem=sentence(user_reason(error)), gone=gone
            )
        return self._stream(conversation_id, answer)

    def _read_locally(self, conversation_id: str) -> AnswerOutcome:
        """Read the picture's text here and keep it as the answer (Stop discards the reading:
        Tesseract cannot be interrupted, so it is dropped when it ends)."""
        from snapask_desktop.local_read import keep_reading, read_picture
        from snapask_desktop.ocr import OcrError, OcrUnavailable

        store = self._chat.store
        try:
            text, engine = read_picture(store, conversation_id)
        except OcrUnavailable as error:
            return AnswerOutcome(
                conversation_id, "error", problem=sentence(str(error)), ocr_missing=True
            )
        except (OcrError, ValueError) as error:
            problem = f"The text could not be read on this device: {error}"
            return AnswerOutcome(conversation_id, "error", problem=sentence(problem))
        except StoreError as error:
            gone = isinstance(error, NotFound)
            return AnswerOutcome(
                conversation_id, "error", problem=sentence(user_reason(error)), gone=gone
            )
        if self._run_state.cancelled:
            return AnswerOutcome(conversation_id, "cancelled")
        try:
            message = keep_reading(store, conversation_id, text, engine)
        except StoreError as error:
            problem = f"The text could not be saved: {user_reason(error)}"
            return AnswerOutcome(
                conversation_id,
                "error",
                text,
                problem=sentence(problem),
                answer_saved=False,
                read_by=engine,
            )
        return AnswerOutcome(conversation_id, "final", message.text, read_by=engine)

    def _save_question(self) -> Message:
        job = self._run_state.job
        assert job.question is not None
        if job.conversation_id is None:
            return self._chat.start_conversation(
                job.question,
                job.image,
                title=job.title,
                on_redacted=self._redacted,
                marks=job.marks,
                keep_original=job.keep_original,
            )
        return self._chat.add_question(
            job.conversation_id,
            job.question,
            job.image,
            on_redacted=self._redacted,
            marks=job.marks,
            keep_original=job.keep_original,
        )

    def _stream(self, conversation_id: str, answer: Answer) -> AnswerOutcome:
        state = self._run_state
        if state.attach(answer):
            answer.cancel()
        with contextlib.closing(iter(answer)) as chunks:  # anything raising ends it here
            for text in chunks:
                self._received.append(text)
                self._signals.chunk.emit(state.id, text)
        result = answer.result
        assert result is not None
        if result.save_error is not None:  # the text arrived; the store refused it
            return AnswerOutcome(
                conversation_id,
                "error",
                result.text,
                problem=result.save_problem,
                from_cache=result.from_cache,
                answer_saved=False,
            )
        return AnswerOutcome(
            conversation_id,
            result.status,
            result.text,
            error=result.error if result.status == "error" else None,
            from_cache=result.from_cache,
        )

    def _redacted(self, data: bytes, count: int) -> None:
        self._signals.redacted.emit(self._run_state.id, data, count)

    def _on_retry(self, attempt: int, error: AIError, wait_s: float) -> None:
        self._signals.retrying.emit(self._run_state.id, retry_text(attempt, error, wait_s))


class QueueRunner(QObject):
    """The answer queue on its own thread, reporting through Qt signals (see AnswerQueue)."""

    started = Signal(str)  # conversation id: an attempt began
    chunk = Signal(str, str)  # conversation id, text
    waiting = Signal(str, float, str)  # conversation id, seconds until the next try, reason
    answered = Signal(str, object)  # conversation id, AnswerResult
    failed = Signal(str, str, object)  # conversation id, plain reason, AIError | None: given up
    dropped = Signal(str)  # conversation id: nothing was left to answer
    changed = Signal()  # the set of waiting conversations changed

    def __init__(
        self,
        store: Store,
        ask: Ask,
        *,
        backoff: Backoff | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        callbacks = QueueCallbacks(
            started=self.started.emit,
            chunk=self.chunk.emit,
            waiting=self.waiting.emit,
            answered=self.answered.emit,
            failed=self.failed.emit,
            dropped=self.dropped.emit,
            changed=self.changed.emit,
        )
        self._queue = AnswerQueue(store, ask, callbacks, backoff=backoff)
        self._thread: threading.Thread | None = None

    # The queue's own methods are thread-safe: they may be called from the main thread while
    # its worker thread sends.
    def add(self, conversation_id: str, error: AIError | None = None) -> bool:
        """Queue a conversation whose question just failed; False when the queue is full."""
        return self._queue.add(conversation_id, error)

    def withdraw(self, conversation_id: str) -> bool:
        """Take a conversation back to answer it here; False while the queue is sending it."""
        return self._queue.withdraw(conversation_id)

    def cancel(self, conversation_id: str) -> bool:
        """Stop waiting for a conversation (and its answer, if being sent); False if absent."""
        return self._queue.cancel(conversation_id)

    def kick(self, conversation_id: str) -> bool:
        """Try a waiting conversation now; False when it is not waiting."""
        if conversation_id not in self._queue:
            return False
        self._queue.kick(conversation_id)
        return True

    def get(self, conversation_id: str) -> QueuedQuestion | None:
        """The snapshot of one waiting conversation, or None."""
        return self._queue.get(conversation_id)

    def count(self) -> int:
        """How many conversations wait."""
        return len(self._queue)

    @property
    def sending(self) -> str | None:
        """The conversation being sent right now, if any."""
        return self._queue.sending

    def start(self) -> None:
        """Start the worker thread (it first loads the questions saved by the last run)."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._queue.serve, name="snapask-answer-queue", daemon=True
            )
            self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> bool:
        """Stop the thread (an answer being sent stays queued); True once it has ended."""
        thread, self._thread = self._thread, None
        if thread is None:
            return True
        self._queue.stop()
        thread.join(timeout_s)
        return not thread.is_alive()
