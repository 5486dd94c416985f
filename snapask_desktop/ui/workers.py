"""Helpers that run blocking work off the Qt main thread and report on it.

- `Job`: a QRunnable around a plain callable.
- `BackgroundCalls`: blocking calls (store writes, keyring, settings file) one at a time on a
  worker; the result is delivered on the main thread.
- `Task` (QRunnable): one blocking call (load a conversation, decode a picture) that emits
  `done` / `failed` with a token, so a stale result can be told apart and ignored.
- `TaskRunner`: runs Tasks for one owner and calls its callbacks with their results.

Workers only emit signals of objects living on the main thread: Qt queues them there. The
QRunnables are deleted by the pool as soon as they end (autoDelete): PySide6 never frees one
whose autoDelete is off, nor what it holds.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterator
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal, Slot

from snapask_desktop.store.errors import user_reason

log = logging.getLogger(__name__)


class Job(QRunnable):
    """A QRunnable around a plain callable (the pool deletes it when done)."""

    def __init__(self, work: Callable[[], None]) -> None:
        super().__init__()
        self._work = work

    def run(self) -> None:
        self._work()


def sentence(text: str) -> str:
    """`text` as a sentence: stripped, capitalised, ending with a full stop."""
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


class TaskSignals(QObject):
    """What Tasks report; one object per owner, living on the main thread (see AnswerSignals)."""

    done = Signal(int, object)  # token, result
    failed = Signal(int, str)  # token, plain reason


class Task(QRunnable):
    """Runs `fn()` on a pool thread and emits `done(token, result)` or `failed(token, reason)`
    on `signals`. The pool deletes it when it ends, and with it `fn` and what `fn` holds."""

    def __init__(self, token: int, fn: Callable[[], Any], signals: TaskSignals) -> None:
        super().__init__()
        self.token = token
        self._signals = signals
        self._fn: Callable[[], Any] | None = fn

    def run(self) -> None:
        """Call the function (on a pool thread)."""
        fn, self._fn = self._fn, None  # e.g. a full-size picture: not kept a moment longer
        if fn is None:
            return
        try:
            result = fn()
        except Exception as error:
            log.info("background task failed: %s", error)
            self._signals.failed.emit(self.token, sentence(user_reason(error)))
            return
        self._signals.done.emit(self.token, result)


class TaskRunner(QObject):
    """Runs one-call Tasks for an owner on the main thread and calls back there: `run(fn,
    on_done, on_error)` returns the Task's token, and `on_done(token, result)` or
    `on_error(reason)` follows. A failure without `on_error` goes to `unhandled(token,
    reason)`, where the owner tells a stale token from the one it waits for."""

    def __init__(
        self,
        pool: QThreadPool,
        unhandled: Callable[[int, str], None],
        *,
        tokens: Iterator[int] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._pool = pool
        self._unhandled = unhandled
        self._tokens = tokens if tokens is not None else itertools.count(1)
        self._on_done: dict[int, Callable[[int, Any], None]] = {}
        self._on_error: dict[int, Callable[[str], None]] = {}  # optional, by token
        self._signals = TaskSignals(self)
        self._signals.done.connect(self._done)
        self._signals.failed.connect(self._failed)

    def run(
        self,
        fn: Callable[[], object],
        on_done: Callable[[int, Any], None],
        on_error: Callable[[str], None] | None = None,
    ) -> int:
        """Run `fn()` on the pool; the token given to `on_done` (returned here)."""
        token = next(self._tokens)
        self._on_done[token] = on_done
        if on_error is not None:
            self._on_error[token] = on_error
        self._pool.start(Task(token, fn, self._signals))  # the pool deletes it when done
        return token

    def _done(self, token: int, result: object) -> None:
        self._on_error.pop(token, None)
        on_done = self._on_done.pop(token, None)
        if on_done is not None:
            on_done(token, result)

    def _failed(self, token: int, reason: str) -> None:
        if self._on_done.pop(token, None) is None:
            return
        on_error = self._on_error.pop(token, None)
        if on_error is not None:
            on_error(reason)
        else:
            self._unhandled(token, reason)


class BackgroundCalls(QObject):
    """Runs blocking calls in order on one worker thread; `on_done(result)` or
    `on_error(exception)` is then called on the thread this object lives on (the main one)."""

    _finished = Signal(int, bool, object)
    busy_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)  # one at a time, in the order they were asked
        self._ids = itertools.count(1)
        self._callbacks: dict[int, tuple[Callable[[Any], None], Callable[[Exception], None]]] = {}
        self._finished.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    @property
    def busy(self) -> bool:
        """Whether a call is waiting or running."""
        return bool(self._callbacks)

    def call(
        self,
        work: Callable[[], Any],
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[Exception], None] | None = None,
    ) -> None:
        """Run `work()` on the worker thread."""
        job_id = next(self._ids)
        self._callbacks[job_id] = (on_done or _ignore, on_error or _log_error)
        if len(self._callbacks) == 1:
            self.busy_changed.emit(True)

        def run() -> None:
            try:
                result = work()
            except Exception as error:  # delivered to on_error on the main thread
                self._finished.emit(job_id, False, error)
            else:
                self._finished.emit(job_id, True, result)

        self._pool.start(Job(run))

    def wait(self, timeout_ms: int = -1) -> bool:
        """Block until every call has run (tests and shutdown); results still arrive by event."""
        return self._pool.waitForDone(timeout_ms)

    @Slot(int, bool, object)
    def _deliver(self, job_id: int, ok: bool, value: object) -> None:
        on_done, on_error = self._callbacks.pop(job_id, (_ignore, _log_error))
        if not self._callbacks:
            self.busy_changed.emit(False)
        if ok:
            on_done(value)
        else:
            on_error(value)  # type: ignore[arg-type]  # always an Exception here


def _ignore(_value: Any) -> None:
    return None


def _log_error(error: Exception) -> None:
    log.error("background call failed: %s", error)
