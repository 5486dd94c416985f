"""The chat's pool workers on real services and the fake Gemini: freed when done, never silent."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QThreadPool

from snapask_desktop.services import Services
from snapask_desktop.ui.chat.answer_worker import (
    AnswerJob,
    AnswerOutcome,
    AnswerRun,
    AnswerSignals,
    AnswerWorker,
)
from snapask_desktop.ui.workers import Task, TaskSignals
from tests.store.helpers import png_bytes
from tests.support import waits


class Payload:
    """Stands for what a task's function holds (a capture's pixels): weakly referenceable."""


def freed(ref: weakref.ref) -> Callable[[], bool]:
    def check() -> bool:
        gc.collect()
        return ref() is None

    return check


def test_a_finished_task_and_what_it_holds_are_freed(qtbot) -> None:
    pool, signals = QThreadPool(), TaskSignals()
    results: list[tuple[int, Any]] = []
    signals.done.connect(lambda token, result: results.append((token, result)))
    payload = Payload()
    task = Task(7, lambda held=payload: type(held).__name__, signals)
    task_ref, payload_ref = weakref.ref(task), weakref.ref(payload)
    pool.start(task)
    del task, payload
    waits.until(qtbot, lambda: results == [(7, "Payload")])
    assert pool.waitForDone(waits.DEADLINE_MS)
    waits.until(qtbot, freed(task_ref))
    waits.until(qtbot, freed(payload_ref))


def test_a_failed_task_reports_and_is_freed(qtbot) -> None:
    pool, signals = QThreadPool(), TaskSignals()
    failures: list[tuple[int, str]] = []
    signals.failed.connect(lambda token, reason: failures.append((token, reason)))

    def broken() -> None:
        raise ValueError("the picture could not be read")

    task = Task(3, broken, signals)
    task_ref = weakref.ref(task)
    pool.start(task)
    del task
    waits.until(qtbot, lambda: failures == [(3, "The picture could not be read.")])
    assert pool.waitForDone(waits.DEADLINE_MS)
    waits.until(qtbot, freed(task_ref))


def run_job(services: Services, job: AnswerJob, qtbot) -> tuple[AnswerOutcome, weakref.ref]:
    """Run one AnswerWorker to its end; returns its outcome and a weak reference to it."""
    pool, signals = QThreadPool(), AnswerSignals()
    outcomes: list[AnswerOutcome] = []
    signals.finished.connect(lambda _run_id, outcome: outcomes.append(outcome))
    run = AnswerRun(1, job)
    worker = AnswerWorker(services.chat, run, signals)
    worker_ref = weakref.ref(worker)
    pool.start(worker)
    del worker
    waits.until(qtbot, lambda: bool(outcomes))
    assert pool.waitForDone(waits.DEADLINE_MS)
    return outcomes[0], worker_ref


def test_a_finished_answer_worker_is_freed_with_its_picture(services, qtbot) -> None:
    job = AnswerJob("gemini", "gemini-2.5-flash", question="what is it?", image=png_bytes())
    outcome, worker_ref = run_job(services, job, qtbot)
    assert outcome.status == "final" and outcome.conversation_id is not None
    waits.until(qtbot, freed(worker_ref))


def test_a_client_that_cannot_be_built_names_the_new_conversation(services, qtbot) -> None:
    # A provider the app does not know: found out only after the new chat's question was
    # saved, so the outcome must name that conversation (Retry and the history need it).
    job = AnswerJob("mistral", "large", question="hi")
    outcome, _ = run_job(services, job, qtbot)
    assert outcome.status == "error" and outcome.question_saved
    assert outcome.error is not None and "unknown provider 'mistral'" in outcome.reason
    [summary] = services.store.list_conversations()
    assert outcome.conversation_id == summary.id
    messages = services.store.get_conversation(summary.id).messages
    assert [(m.role, m.text) for m in messages] == [("user", "hi")]
