"""Answers coming back to the window: what this window's `AnswerWorker`s report.

Part of `ChatController` (a mixin over its state and signals, see controller.py). Each result
carries its run's id; a run remembers the view (the conversation shown) it was started in, so
an answer to a conversation the window moved away from finishes in the background (and shows
again if that conversation is reopened). `_finished` decides what the status line says, hands
a transient failure to the answer queue, and retitles a quick action's new conversation.
"""

from __future__ import annotations

from PySide6.QtGui import QImage

from snapask_desktop.ai.types import AIError
from snapask_desktop.answer_queue import should_queue
from snapask_desktop.chat import make_title
from snapask_desktop.store.records import Message
from snapask_desktop.ui.chat import status
from snapask_desktop.ui.chat.answer_worker import AnswerJob, AnswerOutcome
from snapask_desktop.ui.chat.decoding import decode_png
from snapask_desktop.ui.chat.status import ChatStatus
from snapask_desktop.ui.chat.titles import action_title


class Answers:
    """ChatController's handling of AnswerWorker results; see the module docstring."""

    def _view_of(self, run_id: int) -> int | None:
        running = self._runs.get(run_id)
        return None if running is None else running.view

    def _saved(self, run_id: int, message: Message) -> None:
        self.conversation_changed.emit(message.conversation_id)
        if self._view_of(run_id) != self._view:
            return
        running = self._runs.get(run_id)
        sent = None if running is None else running.run.job
        if self._cid is None:
            self._cid = message.conversation_id
            self._title = self._action_labels().get(message.text) or make_title(message.text)
            self.title_changed.emit(self._title)
            if sent is not None and sent.keep_original and sent.marks:
                self._set_original(message.screenshot_sha256)
        # The added picture is stored with the question: it is in the thread now.
        added = self._attach_png
        # (The same object, not only the same bytes: a picture added after it stays.)
        if added is not None and sent is not None and sent.conversation_id and sent.image is added:
            self._clear_attachment()

    def _redacted(self, run_id: int, data: bytes, count: int) -> None:
        """Secrets were painted out before sending: show the picture as sent, and say so."""
        if self._view_of(run_id) != self._view:
            return
        running = self._runs.get(run_id)
        if running is not None and running.run.job.conversation_id is not None:
            # A follow-up's picture: its bubble shows it as it was sent.
            def sent(_token: int, image: QImage) -> None:
                if self._view_of(run_id) == self._view:
                    self.picture_sent.emit(image)
                    self.follow_up_secrets_hidden.emit(count)

            self._tasks.run(lambda: decode_png(data), sent)
            return
        self._png = data

        def shown(token: int, image: QImage) -> None:
            if token == self._picture_task:
                self.picture_changed.emit(image)
                self.secrets_hidden.emit(count)

        self._picture_task = self._tasks.run(lambda: decode_png(data), shown)

    def _chunk(self, run_id: int, text: str) -> None:
        if self._view_of(run_id) == self._view:
            self._show_chunk(text)

    def _show_chunk(self, text: str) -> None:
        if self._status.kind != "answering":
            self._set_status(status.ANSWERING)
        self.answer_chunk.emit(text)

    def _retrying(self, run_id: int, text: str) -> None:
        if self._view_of(run_id) == self._view:
            self._set_status(status.retrying(text))

    def _finished(self, run_id: int, outcome: AnswerOutcome) -> None:
        running = self._runs.pop(run_id, None)
        if running is None:
            return
        job = running.run.job
        self._update_answering()
        queued = (
            outcome.status == "error"
            and outcome.conversation_id is not None
            and should_queue(outcome.error)
            and self._queue.add(outcome.conversation_id, outcome.error)
        )
        if outcome.status != "error" and outcome.conversation_id is not None:
            self.conversation_changed.emit(outcome.conversation_id)
        if outcome.status == "final" and job.title and outcome.conversation_id is not None:
            self._retitle(outcome.conversation_id, job.title, outcome.text)
        unsaved_question = job.question if not outcome.question_saved else None
        if running.view != self._view:
            if unsaved_question is not None:  # asked in a conversation no longer shown
                self.question_restored.emit(unsaved_question)
            return
        self._show_finished(job, outcome, unsaved_question, queued=queued)

    def _show_finished(
        self, job: AnswerJob, outcome: AnswerOutcome, unsaved_question: str | None, *, queued: bool
    ) -> None:
        """An answer asked in the shown conversation ended: close its bubble, say how."""
        if outcome.gone:  # deleted meanwhile: the question goes back to the box, Restore offered
            self._gone = True
            if unsaved_question is not None:
                self.question_restored.emit(unsaved_question)
            self.answer_finished.emit("error", "")
            self._set_status(status.GONE_ELSEWHERE)
            return
        if unsaved_question is not None:
            self._unsaved_question = unsaved_question  # Retry saves it again
            if job.image is not None and job.image is self._attach_png:
                # Not stored: the added picture is still to send (and to edit), so show it.
                self.attachment_changed.emit(self._attach_image, self._attach_state)
        if outcome.redaction_failed:  # the question stays, unsent: Retry, or fix in Settings
            self.answer_finished.emit("error", "")
            failed = status.marks_failed if outcome.marks_failed else status.redaction_failed
            self._set_status(failed(outcome.reason))
            return
        if not outcome.answer_saved:  # the text stays on screen; Retry asks (and saves) again
            if outcome.read_by is not None:
                self.answer_read_here.emit(outcome.read_by)
            self.answer_finished.emit("unsaved", outcome.text)
            self._set_status(status.with_retry(outcome.reason))
            return
        if outcome.read_by is not None:
            self.answer_read_here.emit(outcome.read_by)
        self.answer_finished.emit(outcome.status, outcome.text)
        if job.local_read and outcome.status != "final" and outcome.question_saved:
            self._set_status(
                status.local_read_failed(
                    outcome.reason,
                    stopped=outcome.status == "cancelled",
                    engine_missing=outcome.ocr_missing,
                )
            )
        else:
            self._set_status(self._finished_status(job, outcome, queued=queued))

    def _finished_status(
        self, job: AnswerJob, outcome: AnswerOutcome, *, queued: bool
    ) -> ChatStatus:
        """The status line once an answer asked here ended: answered, stopped, waiting in the
        answer queue, or why it failed."""
        if outcome.status == "final":
            return status.answered(from_cache=outcome.from_cache)
        if outcome.status == "cancelled":
            return status.STOPPED
        if queued:
            entry = self._queue.get(outcome.conversation_id or "")
            due = entry.due_in_s if entry else None
            return status.waiting(outcome.reason, due, tried_now=job.trial)
        if job.trial:  # the user's Retry went out and failed: say so, not the same words
            return status.tried_again(self._failure_status(outcome.error, outcome.reason))
        return self._failure_status(outcome.error, outcome.reason)

    def _retitle(self, cid: str, label: str, answer: str) -> None:
        """A quick action's conversation, titled by the action's name so far, takes a few
        words of its first answer (unless it was renamed meanwhile)."""
        title = action_title(label, answer)
        if title == label:
            return
        store = self._chat.store

        def work() -> bool:
            if store.get_conversation(cid).conversation.title != label:
                return False  # the user (or another device) named it already
            store.update_conversation(cid, title=title)
            return True

        def done(_token: int, changed: object) -> None:
            if not changed:
                return
            self.conversation_changed.emit(cid)
            if cid == self._cid:
                self._title = title
                self.title_changed.emit(title)

        self._tasks.run(work, done, lambda _reason: None)  # the name stays: nothing lost

    def _failure_status(self, error: AIError | None, reason: str) -> ChatStatus:
        provider = self._settings.provider
        model = self._settings.model_for(provider)
        return status.failure(error, reason, provider=provider, model=model)
