"""Work the chat window must not do on the Qt main thread, and its results as Qt signals.

- `AnswerWorker` (QRunnable): save a question (and picture), stream its answer; emits
  `saved`, `chunk`, `retrying`, `finished`; `cancel()` from the main thread.
- `Task` (QRunnable): run one blocking call (load a conversation, decode a picture) and emit
  `done` / `failed` with a token, so a stale result can be told apart and ignored.
- `QueueRunner`: runs the `AnswerQueue` on its own thread and re-emits its callbacks.

Workers never touch widgets; they only emit signals, which Qt delivers to the main thread.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from PySide6.QtCore import QObject, QRunnable, Signal

from snapask_desktop.ai.types import AIError
from snapask_desktop.answer_queue import AnswerQueue, Ask, Backoff, QueueCallbacks
from snapask_desktop.chat import Answer, ChatService
from snapask_desktop.credentials import CredentialError
from snapask_desktop.store.errors import StoreError
from snapask_desktop.store.records import Message

if TYPE_CHECKING:  # the store module imports SQLAlchemy, which the idle app does without
    from snapask_desktop.store.repository import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AnswerJob:
    """What to do: save `question` (starting a conversation when `conversation_id` is None,
    with `image` as its picture), then answer; with `question` None, answer the waiting one."""

    provider: str
    model: str
    conversation_id: str | None = None
    question: str | None = None
    image: bytes | None = None
    use_cache: bool = True


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

    @property
    def reason(self) -> str:
        """Why it failed, fit to show (empty when it did not fail)."""
        if self.error is not None:
            return self.error.user_message
        return self.problem or ""


class AnswerSignals(QObject):
    """The signals of one AnswerWorker (a QRunnable is not a QObject)."""

    saved = Signal(object)  # Message: the question is in the store
    chunk = Signal(str)
    retrying = Signal(str)  # plain text: why, and when the next try is
    finished = Signal(object)  # AnswerOutcome


class AnswerWorker(QRunnable):
    """Saves a question and streams its answer on a pool thread; see AnswerJob."""

    def __init__(self, chat: ChatService, job: AnswerJob) -> None:
        super().__init__()
        self.setAutoDelete(False)  # the controller keeps it until `finished` is handled
        self.job = job
        self.signals = AnswerSignals()
        self._chat = chat
        self._lock = threading.Lock()
        self._cancelled = False
        self._answer: Answer | None = None
        self._conversation_id = job.conversation_id

    @property
    def conversation_id(self) -> str | None:
        """The conversation answered (known once a new one's question is saved)."""
        return self._conversation_id

    def cancel(self) -> None:
        """Stop: before sending nothing is sent; while streaming, what arrived is kept."""
        with self._lock:
            self._cancelled = True
            answer = self._answer
        if answer is not None:
            answer.cancel()

    def run(self) -> None:
        """Do the job (on a pool thread); always ends with `finished`."""
        try:
            outcome = self._run()
        except Exception as error:  # a worker must report, never die silently
            log.exception("answering failed")
            outcome = AnswerOutcome(
                self.job.conversation_id, "error", problem=f"Something went wrong: {error}"
            )
        self.signals.finished.emit(outcome)

    def _run(self) -> AnswerOutcome:
        job, conversation_id = self.job, self.job.conversation_id
        if job.question is not None:
            try:
                message = self._save_question()
            except StoreError as error:
                problem = f"Your question could not be saved: {error}"
                return AnswerOutcome(
                    conversation_id, "error", problem=problem, question_saved=False
                )
            conversation_id = self._conversation_id = message.conversation_id
            self.signals.saved.emit(message)
        assert conversation_id is not None
        with self._lock:
            if self._cancelled:
                return AnswerOutcome(conversation_id, "cancelled")
        try:
            answer = self._chat.answer(
                conversation_id,
                provider=job.provider,
                model=job.model,
                use_cache=job.use_cache,
                on_retry=self._on_retry,
            )
        except (StoreError, CredentialError, ValueError) as error:
            return AnswerOutcome(conversation_id, "error", problem=_sentence(str(error)))
        return self._stream(conversation_id, answer)

    def _save_question(self) -> Message:
        job = self.job
        assert job.question is not None
        if job.conversation_id is None:
            return self._chat.start_conversation(job.question, job.image)
        return self._chat.add_question(job.conversation_id, job.question)

    def _stream(self, conversation_id: str, answer: Answer) -> AnswerOutcome:
        with self._lock:
            self._answer = answer
            cancelled = self._cancelled
        if cancelled:
            answer.cancel()
        for text in answer:
            self.signals.chunk.emit(text)
        result = answer.result
        assert result is not None
        return AnswerOutcome(
            conversation_id,
            result.status,
            result.text,
            error=result.error if result.status == "error" else None,
            from_cache=result.from_cache,
        )

    def _on_retry(self, attempt: int, error: AIError, wait_s: float) -> None:
        self.signals.retrying.emit(retry_text(attempt, error, wait_s))


def retry_text(attempt: int, error: AIError, wait_s: float) -> str:
    """The line shown while an answer is retried: what happened and when the next try is."""
    seconds = max(1, math.ceil(wait_s))
    return f"{error.user_message} Retrying in {seconds} s… (try {attempt + 1})"


def _sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


class TaskSignals(QObject):
    """The signals of one Task."""

    done = Signal(int, object)  # token, result
    failed = Signal(int, str)  # token, plain reason


class Task(QRunnable):
    """Runs `fn()` on a pool thread and emits `done(token, result)` or `failed(token, reason)`."""

    def __init__(self, token: int, fn: Callable[[], Any]) -> None:
        super().__init__()
        self.setAutoDelete(False)
        self.token = token
        self.signals = TaskSignals()
        self._fn = fn

    def run(self) -> None:
        """Call the function (on a pool thread)."""
        try:
            result = self._fn()
        except Exception as error:
            log.info("background task failed: %s", error)
            self.signals.failed.emit(self.token, _sentence(str(error)))
            return
        self.signals.done.emit(self.token, result)


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
        self.queue = AnswerQueue(store, ask, callbacks, backoff=backoff)
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the worker thread (it first loads the questions saved by the last run)."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self.queue.serve, name="snapask-answer-queue", daemon=True
            )
            self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> bool:
        """Stop the thread (an answer being sent stays queued); True once it has ended."""
        thread, self._thread = self._thread, None
        if thread is None:
            return True
        self.queue.stop()
        thread.join(timeout_s)
        return not thread.is_alive()
