"""Asking a question: sending it, asking again, stopping, and the questions held meanwhile.

Part of `ChatController` (a mixin over its state and signals, see controller.py). `send()`
hands a question to an `AnswerWorker` (which saves it, with the unsent picture and its marks,
then streams the answer; `answers.py` takes its results); a question typed while the picture
is still being encoded is held until its PNG arrives (`picture_arrival.py`), and follows it
to its conversation if the window moved on (`HeldQuestion`). A conversation the answer queue
holds is withdrawn from it first; Retry on a waiting one kicks the queue instead. "Extract
text" goes out as a local read (`quick_actions.extract_prompt`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from snapask_desktop.chat import Answer
from snapask_desktop.editor.marks import Mark
from snapask_desktop.ui.chat import status
from snapask_desktop.ui.chat.answer_worker import AnswerJob, AnswerRun, AnswerWorker
from snapask_desktop.ui.chat.quick_actions import extract_prompt

# Questions held for pictures of conversations no longer shown (their PNG is still on its way).
MAX_HELD_ELSEWHERE = 8
ELSEWHERE = -1  # the view of answers to conversations that were never shown (never current)


@dataclass
class RunningAnswer:
    """An answer under way and the view it shows in (moved when its conversation is reopened)."""

    run: AnswerRun
    view: int


@dataclass(frozen=True)
class HeldQuestion:
    """A question typed while its picture was being encoded, whose conversation is no longer
    shown: saved when the PNG arrives (a new chat, or a follow-up in `conversation_id`)."""

    question: str
    conversation_id: str | None = None
    marks: tuple[Mark, ...] = ()


class Asking:
    """ChatController's sending side; see the module docstring."""

    def _keep_typed_questions(self) -> None:
        """Before leaving a conversation: what the user typed there must not be lost."""
        held, unsaved = self._held_question, self._unsaved_question
        if held is not None:
            # Saved with its picture once the PNG is ready: a new chat, or a follow-up.
            if self._attach_id is not None:
                there = HeldQuestion(held, self._cid, self._marks)
                self._held_elsewhere[self._attach_id] = there
            elif self._picture_id is not None:
                self._held_elsewhere[self._picture_id] = HeldQuestion(held)
            if self._attach_id is not None or self._picture_id is not None:
                while len(self._held_elsewhere) > MAX_HELD_ELSEWHERE:
                    _, oldest = self._held_elsewhere.popitem(last=False)
                    self.question_restored.emit(oldest.question)
            else:
                self.question_restored.emit(held)
        if unsaved is not None:
            self.question_restored.emit(unsaved)

    def send(self, text: str) -> bool:
        """Ask `text` in the shown conversation; False when it can't be sent now (an answer
        is under way here, or the conversation is still being opened)."""
        question = text.strip()
        if not question or self.answering_here or not self._ready:
            return False
        if self._gone:  # it would fail to save: say why, the text stays in the box
            self._set_status(status.GONE_ELSEWHERE)
            return False
        action = next((a for a in self.quick_actions() if a.prompt == question), None)
        if action is not None and action.needs_picture and not self.has_picture:
            self._set_status(status.needs_picture(action.label))
            return False
        if self._reviewing is not None or self._review_after_png is not None:
            return False  # the picture is being looked at for secrets
        if self._must_review(pending=True):
            self._review_after_png = question  # looked at once its PNG is ready
            self._set_status(status.CHECKING_PICTURE)
            return False
        pending = self._attach_state == "pending" and self._cid is not None
        if pending and not self._queue.withdraw(self._cid or ""):
            return False  # the queue is sending this conversation right now
        if (self._cid is None and self._picture_state == "pending") or pending:
            self._held_question = question
            self.question_added.emit(self.shown_text(question))
            if pending:
                self.picture_sent.emit(self._attach_image)
            self.answer_started.emit()
            self._set_status(status.PREPARING_PICTURE)
            self._update_answering()
            return True
        if self._must_review():
            self._review(question)
            return False  # the question stays in the box until the picture was reviewed
        if self._cid is not None and not self._queue.withdraw(self._cid):
            return False  # the queue is sending this conversation right now
        self._unsaved_question = None
        if self._attach_state == "failed":  # said so when it failed: the question goes alone
            self._clear_attachment()
        self.question_added.emit(self.shown_text(question))
        if self._cid is not None and self._attach_png is not None:
            self.picture_sent.emit(self._attach_image)
        self._start(question=question)
        return True

    def retry(self) -> bool:
        """Ask again after a failure (or send a waiting question now)."""
        if self.answering_here or not self._ready:
            return False
        if not self._status.action:
            return False  # answered, or nothing asked: Ctrl+R has nothing to do again
        if self._gone:
            self.restore()
            return True
        if self._cid is not None:
            self._trial_for.add(self._cid)  # before the kick wakes the queue's thread
        if self._cid is not None and self._queue.kick(self._cid):
            self._kicked = self._cid  # its outcome is told in so many words
            self._set_status(status.TRYING_NOW)
            return True
        self._trial_for.discard(self._cid or "")  # not waiting: nothing to try
        # The user's own Retry tries at once, even while the provider rests after failures.
        if self._unsaved_question is not None:
            question, self._unsaved_question = self._unsaved_question, None
            self._start(question=question, trial=True)
            return True
        if self._cid is None:
            return False
        if self._status.action == "regenerate":  # the new answer replaces the stopped one
            self.answer_discarded.emit()
        self._start(question=None, trial=True)
        return True

    def stop(self) -> None:
        """Stop the answer (what arrived is kept, marked stopped) or stop waiting to send."""
        for running in self._runs.values():
            if running.view == self._view:
                running.run.cancel()
                return
        if self._held_question is not None:
            self._unsaved_question, self._held_question = self._held_question, None
            self._update_answering()
            self.answer_finished.emit("cancelled", "")
            self._set_status(status.NOT_SENT)
        elif (
            self._cid is not None
            and self._queue.cancel(self._cid)
            and not self._queue_streaming  # streaming: its `answered` signal reports the stop
        ):
            self._set_status(status.NOT_SENT)

    def shutdown(self, timeout_s: float = 5.0) -> None:
        """Stop every answer and the queue's thread (on quit); unsent questions stay queued."""
        for running in list(self._runs.values()):
            running.run.cancel()
        if self._owns_queue:
            self._queue.stop(timeout_s)
        self._pool.waitForDone(int(timeout_s * 1000))

    def _start(self, question: str | None, announce: bool = True, trial: bool = False) -> None:
        # A follow-up's question takes the picture added to the conversation, if any.
        follow_up = self._attach_png if question is not None else None
        png = self._png if self._cid is None else follow_up
        job = self._job(self._cid, question, png)
        if png is not None:
            job = dataclasses.replace(job, marks=self._marks, keep_original=self._keep_original)
        if trial:
            job = dataclasses.replace(job, trial=True)
        self._launch(job)
        if announce:
            self.answer_started.emit()
        self._set_status(status.READING_HERE if job.local_read else status.SENDING)
        self._update_answering()

    def _start_elsewhere(self, held: HeldQuestion, png: bytes) -> None:
        """Ask a held question whose picture just arrived, while another conversation is shown:
        a new conversation, or a follow-up in the one the picture was added to (it answers in
        the background, like any switched-away answer, and shows up in the history)."""
        job = self._job(held.conversation_id, held.question, png)
        self._launch(dataclasses.replace(job, marks=held.marks), view=ELSEWHERE)
        self._update_answering()

    def _job(
        self, conversation_id: str | None, question: str | None, png: bytes | None
    ) -> AnswerJob:
        settings = self._settings
        label = self._action_labels().get(question or "") if conversation_id is None else None
        return AnswerJob(
            provider=settings.provider,
            model=settings.model_for(settings.provider),
            conversation_id=conversation_id,
            question=question,
            image=png,
            title=label,
            local_read=question is not None and question == extract_prompt(settings),
        )

    def _launch(self, job: AnswerJob, view: int | None = None) -> None:
        run = AnswerRun(next(self._tokens), job)
        self._runs[run.id] = RunningAnswer(run, self._view if view is None else view)
        # The pool deletes the worker when it ends; the run stays here until `finished`.
        self._pool.start(AnswerWorker(self._chat, run, self._answer_signals))

    def _ask_queued(self, conversation_id: str) -> Answer:  # runs on the queue's thread
        settings = self._settings  # one read: the dataclass is immutable
        provider = settings.provider
        if conversation_id in self._trial_for:
            self._trial_for.discard(conversation_id)
            self._chat.allow_trial(provider)
        return self._chat.answer(
            conversation_id, provider=provider, model=settings.model_for(provider)
        )
