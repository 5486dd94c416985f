"""Questions waiting in the answer queue, as the window shows them.

Part of `ChatController` (a mixin over its state and signals, see controller.py). A question
that failed for a transient reason (offline, provider down) waits in the answer queue, which
`QueueRunner` sends again by itself on its own thread; its signals arrive here on the main
thread, and the shown conversation's answer streams and ends as one asked here would.
"""

from __future__ import annotations

from snapask_desktop.ai.types import AIError
from snapask_desktop.chat import AnswerResult
from snapask_desktop.ui.chat import status
from snapask_desktop.ui.chat.answer_worker import QueueRunner


class QueuedAnswers:
    """ChatController's view of the answer queue; see the module docstring."""

    @property
    def waiting_count(self) -> int:
        """How many questions wait for the provider to come back."""
        return self._waiting

    @property
    def queue(self) -> QueueRunner:
        """The answer queue (the app may show its count)."""
        return self._queue

    def _queue_started(self, conversation_id: str) -> None:
        self._update_answering(queue_sending=True)
        if self._shown(conversation_id) and not self._queue_streaming:
            self._queue_streaming = True
            self._update_answering()
            self.answer_started.emit()
            self._set_status(status.SENDING_WAITING)

    def _queue_chunk(self, conversation_id: str, text: str) -> None:
        if self._shown(conversation_id) and self._queue_streaming:
            self._show_chunk(text)

    def _queue_waiting(self, conversation_id: str, delay_s: float, reason: str) -> None:
        self._update_answering(queue_sending=False)
        tried_now = self._kicked == conversation_id
        if tried_now:
            self._kicked = None
        if self._shown(conversation_id):
            if self._queue_streaming:
                self._queue_streaming = False
                self._update_answering()
                self.answer_finished.emit("error", "")
            self._set_status(status.waiting(reason, delay_s, tried_now=tried_now))

    def _queue_answered(self, conversation_id: str, result: AnswerResult) -> None:
        self._update_answering(queue_sending=False)
        self.conversation_changed.emit(conversation_id)
        if self._shown(conversation_id):
            if not self._queue_streaming:
                self.answer_started.emit()
            self._queue_streaming = False
            self._update_answering()
            if result.save_error is not None:  # shown, not saved: Retry asks again
                self.answer_finished.emit("unsaved", result.text)
                self._set_status(status.with_retry(result.save_problem))
                return
            self.answer_finished.emit(result.status, result.text)
            self._set_status(status.answered(stopped=result.status == "cancelled"))

    def _queue_failed(self, conversation_id: str, reason: str, error: AIError | None) -> None:
        self._update_answering(queue_sending=False)
        if self._shown(conversation_id):
            if self._queue_streaming:
                self._queue_streaming = False
                self._update_answering()
                self.answer_finished.emit("error", "")
            self._set_status(self._failure_status(error, reason))

    def _queue_dropped(self, conversation_id: str) -> None:
        self._update_answering(queue_sending=False)
        self.conversation_changed.emit(conversation_id)
        if self._shown(conversation_id):
            self.open_conversation(conversation_id)  # answered elsewhere: show what is saved

    def _queue_changed(self) -> None:
        count = self._queue.count()
        if count != self._waiting:
            self._waiting = count
            self.waiting_count_changed.emit(count)
