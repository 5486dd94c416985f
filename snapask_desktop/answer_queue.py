"""Questions waiting for the AI provider to come back: retried with backoff, kept across restarts.

A conversation joins the queue when its latest question could not be answered for a transient
reason (offline, provider down or busy, timeout, quota). `serve()` (on a worker thread) asks again
with growing pauses until the answer lands or the failure turns out to be permanent, and reports
through callbacks. The list of waiting conversations lives in the store's meta table, so it
survives a restart. No Qt here: the desktop app turns the callbacks into Qt signals.

One conversation is answered by one party at a time: while it waits here the queue owns it; a
caller that wants to answer it itself first takes it back with `withdraw()`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from snapask_desktop.ai.types import AIError, ErrorKind
from snapask_desktop.chat import Answer, AnswerResult
from snapask_desktop.store import peek
from snapask_desktop.store.errors import InvalidInput, NotFound, StoreError

if TYPE_CHECKING:  # the store module imports SQLAlchemy; loading the queue must not
    from snapask_desktop.store.repository import Store

log = logging.getLogger(__name__)

META_KEY = "answer_queue"
FORMAT_VERSION = 1
MAX_WAITING = 300
MAX_REASON_CHARS = 300
# The store refuses longer meta values (Store.set_meta); the saved list always fits, with its
# reasons shortened (or, in the worst case, its newest entries left out) if it must.
META_VALUE_CHARS = 100_000
_SAVED_REASON_CHARS = (MAX_REASON_CHARS, 120, 40, 0)
# No pause is longer than a day, whatever a server or a setting asks for (a huge wait would
# overflow the platform's timers and end the queue's thread).
MAX_DELAY_S = 86_400.0

# Failures that say "not now" rather than "not like this": worth sending again later.
TRANSIENT_KINDS = frozenset(
    {ErrorKind.OFFLINE, ErrorKind.UNAVAILABLE, ErrorKind.TIMEOUT, ErrorKind.SERVER, ErrorKind.QUOTA}
)

Ask = Callable[[str], Answer]
"""Starts answering a conversation's waiting question (e.g. ChatService.answer with settings)."""


def should_queue(error: AIError | None) -> bool:
    """True when a failed answer is worth sending again later by itself."""
    return error is not None and error.kind in TRANSIENT_KINDS


@dataclass(frozen=True)
class Backoff:
    """Pauses between attempts: `first_s`, then times `factor` each failure, at most `max_s`."""

    first_s: float = 5.0
    factor: float = 2.0
    max_s: float = 300.0

    def __post_init__(self) -> None:
        if not 0 < self.first_s <= self.max_s <= MAX_DELAY_S:
            raise ValueError(
                f"backoff needs 0 < first_s <= max_s <= {MAX_DELAY_S:g} s, "
                f"not first_s={self.first_s!r}, max_s={self.max_s!r}"
            )
        if not 1 <= self.factor < math.inf:
            raise ValueError(f"backoff factor must be at least 1, not {self.factor!r}")

    def delay(self, failures: int, retry_after: float | None = None) -> float:
        """Seconds to wait after `failures` failed attempts in a row; a server's ask wins, up to
        MAX_DELAY_S (a negative, infinite or NaN ask is ignored)."""
        exponent = max(0, failures - 1)
        try:
            grown = self.first_s * self.factor**exponent
        except OverflowError:  # thousands of failures in a row
            grown = math.inf
        base = min(self.max_s, grown)
        asked = retry_after if retry_after is not None and math.isfinite(retry_after) else 0.0
        return clamp_delay(max(base, asked))


def clamp_delay(seconds: float) -> float:
    """`seconds` as a pause the queue can keep: between 0 and MAX_DELAY_S (NaN: MAX_DELAY_S)."""
    if math.isnan(seconds):
        return MAX_DELAY_S
    return min(max(seconds, 0.0), MAX_DELAY_S)


@dataclass(frozen=True)
class QueuedQuestion:
    """A snapshot of one waiting conversation."""

    conversation_id: str
    failures: int  # failed attempts so far
    queued_at_ms: int
    due_in_s: float  # until the next attempt (0 when due or being sent)
    reason: str  # why the last attempt failed, in plain words
    sending: bool  # an attempt is running now


def _ignore(*_args: object) -> None:
    return None


@dataclass
class QueueCallbacks:
    """What the queue reports, always from the thread that runs `serve()` / `run_due()`."""

    started: Callable[[str], None] = _ignore  # an attempt for this conversation began
    chunk: Callable[[str, str], None] = _ignore  # (conversation id, text) as it streams
    waiting: Callable[[str, float, str], None] = _ignore  # failed again: (id, next in s, reason)
    answered: Callable[[str, AnswerResult], None] = _ignore  # saved (or stopped by the user)
    dropped: Callable[[str], None] = _ignore  # nothing left to answer (answered elsewhere, deleted)
    # Gave up for good: (id, plain reason, the AI error if it was one).
    failed: Callable[[str, str, AIError | None], None] = _ignore
    changed: Callable[[], None] = _ignore  # the set of waiting conversations changed


@dataclass
class _Entry:
    conversation_id: str
    failures: int
    queued_at_ms: int
    due: float
    reason: str
    cancelled: bool = False  # withdrawn by the user while being sent


@dataclass
class _State:
    entries: dict[str, _Entry] = field(default_factory=dict)
    sending: str | None = None
    answer: Answer | None = None
    dirty: bool = False
    loaded: bool = False


class AnswerQueue:
    """Conversations whose latest question waits for the provider; see the module docstring.

    `clock` (monotonic seconds) and `sleep` (wait up to N seconds, None = until woken) are
    injectable so tests can drive the backoff without waiting.
    """

    def __init__(
        self,
        store: Store,
        ask: Ask,
        callbacks: QueueCallbacks | None = None,
        *,
        backoff: Backoff | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float | None], None] | None = None,
    ) -> None:
        self._store = store
        self._ask = ask
        self.callbacks = callbacks or QueueCallbacks()
        self.backoff = backoff or Backoff()
        self._clock = clock
        self._sleep = sleep or self._wait_for_wake
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._state = _State()

    # --- called from any thread ------------------------------------------------------------
    def add(self, conversation_id: str, error: AIError | None = None) -> bool:
        """Queue a conversation whose question just failed; False when the queue is full."""
        reason = _reason(error)
        with self._lock:
            state = self._state
            entry = state.entries.get(conversation_id)
            if entry is None and len(state.entries) >= MAX_WAITING:
                return False
            failures = (entry.failures if entry else 0) + 1
            delay = self.backoff.delay(failures, error.retry_after if error else None)
            state.entries[conversation_id] = _Entry(
                conversation_id,
                failures,
                entry.queued_at_ms if entry else _now_ms(),
                self._clock() + delay,
                reason,
            )
            state.dirty = True
        self._changed()
        return True

    def withdraw(self, conversation_id: str) -> bool:
        """Take a waiting conversation back (the caller answers it itself).

        True when it is not (or no longer) in the queue; False while it is being sent.
        """
        with self._lock:
            state = self._state
            if state.sending == conversation_id:
                return False
            removed = state.entries.pop(conversation_id, None) is not None
            state.dirty |= removed
        if removed:
            self._changed()
        return True

    def cancel(self, conversation_id: str) -> bool:
        """Stop waiting for this conversation, stopping its answer if it is being sent now."""
        with self._lock:
            state = self._state
            entry = state.entries.get(conversation_id)
            if entry is None:
                return False
            answer = None
            if state.sending == conversation_id:
                entry.cancelled = True  # removed when the attempt ends
                answer = state.answer
            else:
                del state.entries[conversation_id]
                state.dirty = True
        if answer is not None:
            answer.cancel()
        self._changed()
        return True

    def kick(self, conversation_id: str | None = None) -> None:
        """Try now: make one conversation (or all) due at once and wake the worker."""
        now = self._clock()
        with self._lock:
            for entry in self._state.entries.values():
                if conversation_id is None or entry.conversation_id == conversation_id:
                    entry.due = min(entry.due, now)
        self._wake.set()

    def stop(self) -> None:
        """Make `serve()` return soon; an answer being sent is stopped and stays queued."""
        self._stopping.set()
        with self._lock:
            answer = self._state.answer
        if answer is not None:
            answer.cancel()
        self._wake.set()

    def entries(self) -> list[QueuedQuestion]:
        """The waiting conversations, oldest first."""
        now = self._clock()
        with self._lock:
            sending = self._state.sending
            rows = sorted(self._state.entries.values(), key=lambda e: e.queued_at_ms)
            return [
                QueuedQuestion(
                    e.conversation_id,
                    e.failures,
                    e.queued_at_ms,
                    max(0.0, e.due - now) if sending != e.conversation_id else 0.0,
                    e.reason,
                    sending == e.conversation_id,
                )
                for e in rows
            ]

    def get(self, conversation_id: str) -> QueuedQuestion | None:
        """The snapshot of one waiting conversation, or None."""
        return next((q for q in self.entries() if q.conversation_id == conversation_id), None)

    def __contains__(self, conversation_id: object) -> bool:
        with self._lock:
            return conversation_id in self._state.entries

    def __len__(self) -> int:
        with self._lock:
            return len(self._state.entries)

    @property
    def sending(self) -> str | None:
        """The conversation being sent right now, if any."""
        with self._lock:
            return self._state.sending

    # --- the worker's side -----------------------------------------------------------------
    def serve(self) -> None:
        """Run until `stop()`: send what is due, then sleep until the next is due or a wake.

        A round that fails unexpectedly (e.g. the store cannot be opened) is logged and tried
        again after a backoff pause: the queue's thread never ends before `stop()`.
        """
        failed_rounds = 0
        while not self._stopping.is_set():
            try:
                delay = self.run_due()
                failed_rounds = 0
            except StoreError as error:  # e.g. the store cannot be opened: said plainly
                failed_rounds += 1
                log.warning("the answer queue could not use the store: %s; trying again", error)
                delay = self.backoff.delay(failed_rounds)
            except Exception:
                failed_rounds += 1
                log.exception("the answer queue failed; trying again")
                delay = self.backoff.delay(failed_rounds)
            if self._stopping.is_set():
                break
            self._sleep(delay)
        self.flush()

    def run_due(self) -> float | None:
        """Send every question that is due now; returns seconds until the next (None: empty)."""
        self.load()
        self.flush()
        while not self._stopping.is_set():
            conversation_id = self._take_due()
            if conversation_id is None:
                break
            self._attempt(conversation_id)
            self.flush()
        return self._next_delay()

    def load(self) -> None:
        """Read the persisted list once (later calls do nothing); bad data is logged and dropped."""
        with self._lock:
            if self._state.loaded:
                return
        raw = self._saved_text()  # a StoreError ends the round: serve() tries again later
        loaded = _parse(raw, self._clock())
        with self._lock:
            state = self._state
            for entry in loaded:
                state.entries.setdefault(entry.conversation_id, entry)
            state.loaded = True
            state.dirty = state.dirty or len(state.entries) != len(loaded)
        if loaded:
            self._changed()

    def _saved_text(self) -> str | None:
        # Read with plain sqlite3 first: at start-up the store is usually not open yet, and an
        # empty queue then never opens it (nor imports SQLAlchemy). A file that must be upgraded
        # or recovered first goes through the store.
        try:
            return peek.meta_value(self._store.path, META_KEY)
        except peek.PeekUnavailable as error:
            log.info("reading the answer queue through the store: %s", error)
            return self._store.get_meta(META_KEY)

    def flush(self) -> None:
        """Persist the list if it changed (from the worker thread: it writes to the store)."""
        with self._lock:
            state = self._state
            if not state.dirty or not state.loaded:
                return
            data = _dump(state.entries.values())
            state.dirty = False
        try:
            self._store.set_meta(META_KEY, data)
        except Exception as error:  # kept dirty: saved on a later round
            if isinstance(error, StoreError):
                log.warning("could not save the answer queue: %s", error)
            else:
                log.exception("could not save the answer queue")
            with self._lock:
                self._state.dirty = True

    def _take_due(self) -> str | None:
        now = self._clock()
        with self._lock:
            state = self._state
            due = [e for e in state.entries.values() if e.due <= now]
            if not due:
                return None
            entry = min(due, key=lambda e: (e.due, e.queued_at_ms))
            state.sending = entry.conversation_id
            return entry.conversation_id

    def _next_delay(self) -> float | None:
        with self._lock:
            dues = [e.due for e in self._state.entries.values()]
        return clamp_delay(min(dues) - self._clock()) if dues else None

    def _attempt(self, conversation_id: str) -> None:
        try:
            self._try_once(conversation_id)
        except Exception as error:  # a bug or an unexpected failure: report it, never wedge
            log.exception("answer queue: sending %s failed", conversation_id)
            self._settle(conversation_id)
            self.callbacks.failed(conversation_id, f"Something went wrong: {error}", None)
        finally:  # whatever happened, this conversation is no longer being sent
            with self._lock:
                state = self._state
                state.answer = None
                if state.sending == conversation_id:
                    state.sending = None

    def _try_once(self, conversation_id: str) -> None:
        self.callbacks.started(conversation_id)
        try:
            answer = self._ask(conversation_id)
        except (ValueError, NotFound) as error:
            # Nothing left to answer (answered elsewhere, or the conversation was deleted).
            log.info("answer queue: dropping %s (%s)", conversation_id, error)
            self._settle(conversation_id)
            self.callbacks.dropped(conversation_id)
            return
        except StoreError as error:
            self._reschedule(conversation_id, None, str(error))
            return
        except Exception as error:  # e.g. no keyring for the API key: the user must act
            log.warning("answer queue: %s failed for good: %s", conversation_id, error)
            self._settle(conversation_id)
            self.callbacks.failed(conversation_id, str(error), None)
            return
        self._stream(conversation_id, answer)

    def _stream(self, conversation_id: str, answer: Answer) -> None:
        with self._lock:
            self._state.answer = answer
            entry = self._state.entries.get(conversation_id)
            stop_now = self._stopping.is_set() or (entry is not None and entry.cancelled)
        if stop_now:
            answer.cancel()
        with contextlib.closing(iter(answer)) as chunks:  # a failing callback ends it here
            for text in chunks:
                self.callbacks.chunk(conversation_id, text)
        result = answer.result
        assert result is not None
        with self._lock:
            self._state.answer = None
            entry = self._state.entries.get(conversation_id)
            by_user = entry is not None and entry.cancelled
        if result.save_error is not None:
            self._not_saved(conversation_id, result, by_user)
        elif result.status == "final" or (result.status == "cancelled" and by_user):
            self._settle(conversation_id)
            self.callbacks.answered(conversation_id, result)
        elif result.status == "cancelled":  # stopped because the app is quitting: keep it
            self._reschedule(conversation_id, None, "SnapAsk was closed while sending.", 0.0)
        elif should_queue(result.error):
            assert result.error is not None
            self._reschedule(conversation_id, result.error, _reason(result.error))
        else:
            self._settle(conversation_id)
            self.callbacks.failed(conversation_id, _reason(result.error), result.error)

    def _not_saved(self, conversation_id: str, result: AnswerResult, by_user: bool) -> None:
        """The answer arrived but the store refused it (see AnswerResult.save_error)."""
        error = result.save_error
        if by_user or isinstance(error, InvalidInput):
            # Stopped, or saving it again would fail the same way: hand the text over (it is
            # shown, not saved).
            self._settle(conversation_id)
            self.callbacks.answered(conversation_id, result)
        elif isinstance(error, NotFound):  # the conversation was deleted meanwhile
            self._settle(conversation_id)
            self.callbacks.dropped(conversation_id)
        else:  # disk full, database busy: worth another try later
            self._reschedule(conversation_id, None, result.save_problem)

    def _settle(self, conversation_id: str) -> None:
        with self._lock:
            state = self._state
            state.sending = None
            state.dirty |= state.entries.pop(conversation_id, None) is not None
        self._changed()

    def _reschedule(
        self,
        conversation_id: str,
        error: AIError | None,
        reason: str,
        delay: float | None = None,
    ) -> None:
        with self._lock:
            state = self._state
            state.sending = None
            entry = state.entries.get(conversation_id)
            if entry is None:
                return
            if entry.cancelled:
                del state.entries[conversation_id]
                state.dirty = True
                return
            entry.failures += 1
            if delay is None:
                delay = self.backoff.delay(entry.failures, error.retry_after if error else None)
            delay = clamp_delay(delay)
            entry.due = self._clock() + delay
            entry.reason = _clean_reason(reason)
            state.dirty = True
        self.callbacks.waiting(conversation_id, delay, reason)
        self._changed()

    def _changed(self) -> None:
        self._wake.set()
        self.callbacks.changed()

    def _wait_for_wake(self, seconds: float | None) -> None:
        # Bounded twice over: Event.wait overflows beyond the platform's timer range.
        timeout = None if seconds is None else min(clamp_delay(seconds), threading.TIMEOUT_MAX)
        self._wake.wait(timeout)
        self._wake.clear()


def _reason(error: AIError | None) -> str:
    if error is None:
        return "The AI provider could not be reached."
    return _clean_reason(error.user_message)


def _clean_reason(text: str) -> str:
    """A reason as kept and saved: valid Unicode (a provider's text may not be), shortened."""
    return text.encode("utf-8", "replace").decode("utf-8")[:MAX_REASON_CHARS]


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _dump(entries: Iterable[_Entry]) -> str:
    """The list as saved: always within META_VALUE_CHARS (reasons shortened first if needed)."""
    kept = sorted((e for e in entries if not e.cancelled), key=lambda e: e.queued_at_ms)
    for reason_chars in _SAVED_REASON_CHARS:
        text = _dump_items(kept, reason_chars)
        if len(text) <= META_VALUE_CHARS:
            return text
    # Only reachable with pathological ids (at most 100 characters each, but full of escapes):
    # keep the oldest entries that fit rather than saving nothing.
    while kept:
        kept.pop()
        text = _dump_items(kept, 0)
        if len(text) <= META_VALUE_CHARS:
            log.warning("the saved answer queue leaves out its newest entries (too long)")
            return text
    return _dump_items([], 0)


def _dump_items(entries: list[_Entry], reason_chars: int) -> str:
    items = [
        {
            "id": e.conversation_id,
            "failures": e.failures,
            "queued_at_ms": e.queued_at_ms,
            "reason": e.reason[:reason_chars],
        }
        for e in entries
    ]
    # ensure_ascii=False: a non-ASCII reason costs one character per letter, not six.
    data = {"v": FORMAT_VERSION, "items": items}
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def _parse(raw: str | None, now: float) -> list[_Entry]:
    """Entries from the persisted text; everything becomes due at once (a fresh start)."""
    if not raw:
        return []
    try:
        data = json.loads(raw)
        items = data["items"] if isinstance(data, dict) and data.get("v") == FORMAT_VERSION else []
    except (ValueError, KeyError, TypeError):
        log.warning("the saved answer queue is not readable; starting with an empty queue")
        return []
    entries: list[_Entry] = []
    for item in items if isinstance(items, list) else []:
        try:
            entry = _Entry(
                conversation_id=_text(item["id"]),
                failures=int(item.get("failures", 1)),
                queued_at_ms=int(item.get("queued_at_ms", 0)),
                due=now,
                reason=_clean_reason(str(item.get("reason", ""))),
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            log.warning("skipping a damaged answer queue entry: %r", item)
            continue
        entries.append(entry)
    return entries[:MAX_WAITING]


def _text(value: object) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 100:
        raise ValueError("not an id")
    return value
