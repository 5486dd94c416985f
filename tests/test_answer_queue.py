"""The answer queue on a real store and the real AI client against the fake Gemini."""

from __future__ import annotations

import math
import socket
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from snapask_desktop.ai.client import AIClient
from snapask_desktop.ai.gemini import GeminiProvider
from snapask_desktop.ai.resilience import RetryPolicy
from snapask_desktop.ai.types import AIError, ErrorKind
from snapask_desktop.answer_queue import (
    MAX_DELAY_S,
    MAX_WAITING,
    META_KEY,
    META_VALUE_CHARS,
    AnswerQueue,
    Backoff,
    QueueCallbacks,
    should_queue,
)
from snapask_desktop.chat import Answer, AnswerResult, ChatService
from snapask_desktop.store import Store
from tests.support import fake_gemini as fg
from tests.support.fake_gemini import FakeGemini

WAIT_S = 10.0


@pytest.fixture
def gemini() -> Iterator[FakeGemini]:
    with FakeGemini() as fake:
        yield fake


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "data") as opened:
        yield opened


def make_chat(store: Store, url: str) -> tuple[ChatService, AIClient]:
    client = AIClient(GeminiProvider("test-key", base_url=url), retry=RetryPolicy(max_attempts=1))
    return ChatService(store, lambda _name: client), client


@pytest.fixture
def chat(store: Store, gemini: FakeGemini) -> Iterator[ChatService]:
    service, client = make_chat(store, gemini.url)
    yield service
    client.close()


def ask_with(chat: ChatService):
    def ask(conversation_id: str) -> Answer:
        return chat.answer(conversation_id, provider="gemini", model="m")

    return ask


class Recorder:
    """Collects every callback (from whichever thread) and can wait for one kind."""

    def __init__(self) -> None:
        self.events: list[tuple] = []
        self._cond = threading.Condition()

    def callbacks(self) -> QueueCallbacks:
        return QueueCallbacks(
            started=lambda cid: self._add("started", cid),
            chunk=lambda cid, text: self._add("chunk", cid, text),
            waiting=lambda cid, delay, reason: self._add("waiting", cid, delay, reason),
            answered=lambda cid, result: self._add("answered", cid, result),
            failed=lambda cid, reason, error: self._add("failed", cid, reason, error),
            dropped=lambda cid: self._add("dropped", cid),
        )

    def _add(self, *event: object) -> None:
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def of(self, kind: str) -> list[tuple]:
        with self._cond:
            return [e for e in self.events if e[0] == kind]

    def wait_for(self, kind: str, count: int = 1) -> list[tuple]:
        with self._cond:
            ok = self._cond.wait_for(
                lambda: sum(e[0] == kind for e in self.events) >= count, WAIT_S
            )
        assert ok, f"no {count} x {kind!r} in {self.events}"
        return self.of(kind)


class FakeTime:
    """A clock that only moves when the queue sleeps; remembers every pause."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float | None] = []
        self.queue: AnswerQueue | None = None

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float | None) -> None:
        self.sleeps.append(seconds)
        if seconds is None:  # nothing left to wait for: end the run
            assert self.queue is not None
            self.queue.stop()
            return
        self.now += seconds


def failed_first(chat: ChatService, gemini: FakeGemini, question: str = "q") -> tuple[str, AIError]:
    """A conversation whose first answer failed with a 503, as the app would see it."""
    gemini.script(fg.overloaded())
    message = chat.start_conversation(question, None)
    result = chat.answer(message.conversation_id, provider="gemini", model="m").wait()
    assert result.status == "error" and result.error is not None
    return message.conversation_id, result.error


def answers(store: Store, conversation_id: str) -> list[tuple[str, str]]:
    messages = store.get_conversation(conversation_id).messages
    return [(m.status, m.text) for m in messages if m.role == "model"]


def test_backoff_grows_to_its_cap_and_honours_the_server() -> None:
    backoff = Backoff(first_s=2, factor=3, max_s=50)
    assert [backoff.delay(n) for n in (1, 2, 3, 4, 5)] == [2, 6, 18, 50, 50]
    assert backoff.delay(1, retry_after=30) == 30
    assert backoff.delay(4, retry_after=1) == 50


def test_only_transient_failures_are_queued() -> None:
    queued = {kind for kind in ErrorKind if should_queue(AIError(kind, "x"))}
    assert queued == {
        ErrorKind.OFFLINE,
        ErrorKind.UNAVAILABLE,
        ErrorKind.TIMEOUT,
        ErrorKind.SERVER,
        ErrorKind.QUOTA,
    }
    assert not should_queue(None)


def test_scripted_outage_then_answered_once_with_backoff(chat, store, gemini) -> None:
    cid, error = failed_first(chat, gemini, "what is it?")
    assert error.kind is ErrorKind.SERVER
    gemini.script(fg.overloaded(), fg.overloaded())  # still down for two more tries
    fake, seen = FakeTime(), Recorder()
    queue = AnswerQueue(
        store,
        ask_with(chat),
        seen.callbacks(),
        backoff=Backoff(first_s=5, factor=2, max_s=60),
        clock=fake.clock,
        sleep=fake.sleep,
    )
    fake.queue = queue
    assert queue.add(cid, error)
    queue.serve()

    assert fake.sleeps == [5.0, 10.0, 20.0, None]
    assert [e[2] for e in seen.of("waiting")] == [10.0, 20.0]
    assert "try again" in seen.of("waiting")[0][3].lower()
    [(_, answered_id, result)] = seen.of("answered")
    assert answered_id == cid and result.status == "final"
    assert answers(store, cid) == [("final", "You asked: what is it?.")]
    assert "".join(e[2] for e in seen.of("chunk")) == "You asked: what is it?."
    assert len(gemini.generate_requests()) == 4  # the first try and three from the queue
    assert len(queue) == 0 and cid not in queue
    assert '"items":[]' in (store.get_meta(META_KEY) or "")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class GeminiOnPort(FakeGemini):
    """The fake Gemini started later on a chosen port: the provider 'comes back'."""

    def start_on(self, port: int) -> None:
        self._stopping.clear()
        self._server = fg._Server(("127.0.0.1", port), fg._Handler)
        self._server.owner = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()


def test_offline_until_the_server_comes_back(store) -> None:
    port = closed_port()
    chat, client = make_chat(store, f"http://127.0.0.1:{port}")
    message = chat.start_conversation("are you there?", None)
    cid = message.conversation_id
    first = chat.answer(cid, provider="gemini", model="m").wait()
    assert first.error is not None and first.error.kind is ErrorKind.OFFLINE

    seen = Recorder()
    queue = AnswerQueue(
        store, ask_with(chat), seen.callbacks(), backoff=Backoff(first_s=0.02, max_s=0.1)
    )
    queue.add(cid, first.error)
    worker = threading.Thread(target=queue.serve, daemon=True)
    worker.start()
    server = GeminiOnPort()
    try:
        waiting = seen.wait_for("waiting", 2)
        assert "offline" in waiting[0][3]
        assert cid in queue and answers(store, cid) == []
        server.start_on(port)
        seen.wait_for("answered")
    finally:
        queue.stop()
        worker.join(WAIT_S)
        server.stop()
        client.close()
    assert not worker.is_alive()
    assert answers(store, cid) == [("final", "You asked: are you there?.")]
    assert len(server.generate_requests()) == 1
    assert cid not in queue and seen.of("failed") == []


def test_survives_a_restart(tmp_path, gemini) -> None:
    with Store.open(tmp_path / "data") as store:
        chat, client = make_chat(store, gemini.url)
        cid, error = failed_first(chat, gemini)
        queue = AnswerQueue(store, ask_with(chat), clock=lambda: 0.0)
        queue.load()
        queue.add(cid, error)
        queue.flush()
        client.close()

    with Store.open(tmp_path / "data") as store:
        chat, client = make_chat(store, gemini.url)
        seen = Recorder()
        queue = AnswerQueue(store, ask_with(chat), seen.callbacks())
        queue.load()
        [entry] = queue.entries()
        assert (entry.conversation_id, entry.failures, entry.due_in_s) == (cid, 1, 0.0)
        assert "try again" in entry.reason.lower()
        assert queue.run_due() is None
        client.close()
        assert answers(store, cid) == [("final", "You asked: q.")]
        assert len(queue) == 0

    with Store.open(tmp_path / "data") as store:
        reopened = AnswerQueue(store, ask_with(chat))
        reopened.load()
        assert reopened.entries() == []


def test_permanent_failure_is_reported_and_dropped(chat, store, gemini) -> None:
    cid, error = failed_first(chat, gemini)
    gemini.script(fg.invalid_key())
    seen = Recorder()
    queue = AnswerQueue(store, ask_with(chat), seen.callbacks(), clock=lambda: 0.0)
    queue.add(cid, error)
    queue.kick()
    queue.run_due()
    [(_, failed_id, reason, failure)] = seen.of("failed")
    assert failed_id == cid and "key" in reason.lower()
    assert failure is not None and failure.kind is ErrorKind.INVALID_KEY
    assert len(queue) == 0 and answers(store, cid) == []


def test_already_answered_is_dropped_not_answered_twice(chat, store, gemini) -> None:
    cid, error = failed_first(chat, gemini)
    chat.answer(cid, provider="gemini", model="m").wait()  # answered some other way
    seen = Recorder()
    queue = AnswerQueue(store, ask_with(chat), seen.callbacks(), clock=lambda: 0.0)
    queue.add(cid, error)
    queue.kick(cid)
    queue.run_due()
    assert seen.of("dropped") == [("dropped", cid)]
    assert len(answers(store, cid)) == 1 and len(queue) == 0


def test_cancel_while_sending_keeps_the_partial_answer(chat, store, gemini) -> None:
    cid, error = failed_first(chat, gemini)
    gemini.script(fg.Stall(chunks=("half ",), seconds=30))
    seen = Recorder()
    queue = AnswerQueue(store, ask_with(chat), seen.callbacks(), clock=lambda: 0.0)
    queue.add(cid, error)
    queue.kick()
    worker = threading.Thread(target=queue.run_due, daemon=True)
    worker.start()
    seen.wait_for("chunk")
    assert queue.sending == cid
    assert not queue.withdraw(cid)  # the queue owns it while sending
    assert queue.cancel(cid)
    worker.join(WAIT_S)
    [(_, _, result)] = seen.of("answered")
    assert isinstance(result, AnswerResult) and result.status == "cancelled"
    assert answers(store, cid) == [("cancelled", "half ")]
    assert len(queue) == 0 and queue.sending is None


def test_quitting_while_sending_keeps_it_queued(chat, store, gemini) -> None:
    cid, error = failed_first(chat, gemini)
    gemini.script(fg.Stall(chunks=("par",), seconds=30))
    seen = Recorder()
    queue = AnswerQueue(store, ask_with(chat), seen.callbacks())
    queue.add(cid, error)
    queue.kick()
    worker = threading.Thread(target=queue.serve, daemon=True)
    worker.start()
    seen.wait_for("chunk")
    queue.stop()
    worker.join(WAIT_S)
    assert not worker.is_alive()
    assert cid in (store.get_meta(META_KEY) or "")
    reopened = AnswerQueue(store, ask_with(chat))
    reopened.load()
    assert [e.conversation_id for e in reopened.entries()] == [cid]


def test_withdraw_and_cancel_a_waiting_question(chat, store, gemini) -> None:
    first, error = failed_first(chat, gemini, "one")
    second, _ = failed_first(chat, gemini, "two")
    queue = AnswerQueue(store, ask_with(chat))
    queue.load()
    queue.add(first, error)
    queue.add(second, error)
    assert queue.withdraw(first) and first not in queue
    assert queue.withdraw("not-queued")
    assert queue.cancel(second) and len(queue) == 0
    assert not queue.cancel(second)
    queue.flush()
    assert '"items":[]' in (store.get_meta(META_KEY) or "")


def test_a_second_failure_keeps_one_entry(chat, store, gemini) -> None:
    cid, error = failed_first(chat, gemini)
    queue = AnswerQueue(store, ask_with(chat), backoff=Backoff(first_s=1, factor=2))
    queue.add(cid, error)
    queue.add(cid, error)
    [entry] = queue.entries()
    assert entry.failures == 2 and 1.0 < entry.due_in_s <= 2.0


def test_damaged_saved_queue_starts_empty(chat, store, gemini) -> None:
    cid, error = failed_first(chat, gemini)
    store.set_meta(META_KEY, "{not json")
    queue = AnswerQueue(store, ask_with(chat))
    queue.load()
    assert queue.entries() == []
    store.set_meta(META_KEY, '{"v":1,"items":[{"id":42},{"id":"' + cid + '","failures":"x"},7]}')
    queue = AnswerQueue(store, ask_with(chat))
    queue.load()
    assert queue.entries() == []
    store.set_meta(META_KEY, '{"v":1,"items":[{"id":"' + cid + '","failures":2}]}')
    queue = AnswerQueue(store, ask_with(chat))
    queue.load()
    assert [(e.conversation_id, e.failures) for e in queue.entries()] == [(cid, 2)]
    assert error.kind is ErrorKind.SERVER


# --- failures around the queue must never end its thread or wedge a conversation -------------


def serve_in_thread(queue: AnswerQueue) -> threading.Thread:
    worker = threading.Thread(target=queue.serve, daemon=True)
    worker.start()
    return worker


def test_a_conversation_deleted_while_answering_is_dropped_and_the_queue_goes_on(
    chat, store, gemini
) -> None:
    gone, error = failed_first(chat, gemini, "deleted soon")
    kept, _ = failed_first(chat, gemini, "kept")
    seen = Recorder()
    callbacks = seen.callbacks()

    def chunk(cid: str, text: str) -> None:
        if cid == gone:  # deleted (here or by sync) while its answer streams
            store.delete_conversation(cid)
        seen._add("chunk", cid, text)

    callbacks.chunk = chunk
    queue = AnswerQueue(store, ask_with(chat), callbacks)
    queue.add(gone, error)
    queue.add(kept, error)
    queue.kick()
    worker = serve_in_thread(queue)
    try:
        seen.wait_for("answered")
        assert seen.of("dropped") == [("dropped", gone)]
        assert worker.is_alive() and queue.sending is None
        assert queue.withdraw(gone) and len(queue) == 0
    finally:
        queue.stop()
        worker.join(WAIT_S)
    assert [e[1] for e in seen.of("answered")] == [kept]
    assert answers(store, kept) == [("final", "You asked: kept.")]


def test_an_answer_the_store_refuses_is_handed_over_not_retried(chat, store, gemini) -> None:
    cid, error = failed_first(chat, gemini)
    gemini.script(fg.Reply(("bad \ud800 text",)))  # a lone surrogate: the store refuses it
    seen = Recorder()
    queue = AnswerQueue(store, ask_with(chat), seen.callbacks(), clock=lambda: 0.0)
    queue.add(cid, error)
    queue.kick()
    assert queue.run_due() is None
    [(_, answered_id, result)] = seen.of("answered")
    assert answered_id == cid and result.text == "bad \ud800 text"
    assert "could not be saved" in result.save_problem and "Unicode" in result.save_problem
    assert len(queue) == 0 and queue.sending is None and answers(store, cid) == []


def test_a_failing_callback_is_reported_and_the_next_question_still_goes(
    chat, store, gemini
) -> None:
    first, error = failed_first(chat, gemini, "one")
    second, _ = failed_first(chat, gemini, "two")
    gemini.script(fg.Stall(chunks=("par",), seconds=30), fg.Reply(("fine",)))
    seen = Recorder()
    callbacks = seen.callbacks()

    def chunk(cid: str, text: str) -> None:
        if cid == first:
            raise RuntimeError("the window went away")
        seen._add("chunk", cid, text)

    callbacks.chunk = chunk
    queue = AnswerQueue(store, ask_with(chat), callbacks, clock=lambda: 0.0)
    queue.add(first, error)
    queue.add(second, error)
    queue.kick()
    assert queue.run_due() is None
    [(_, failed_id, reason, _)] = seen.of("failed")
    assert failed_id == first and "the window went away" in reason
    assert [e[1] for e in seen.of("answered")] == [second]
    assert queue.sending is None and len(queue) == 0
    assert answers(store, second) == [("final", "fine")]
    assert answers(store, first) == [("cancelled", "par")]  # ended at once, what arrived kept


def test_a_round_that_fails_is_tried_again_after_a_pause(tmp_path, chat) -> None:
    from snapask_desktop.services import LazyStore

    data = tmp_path / "other-data"
    # Another program's database where the store should be: the store refuses to touch it.
    # (A folder or a damaged file there no longer fails: the store recovers or starts anew.)
    data.mkdir()
    lazy = LazyStore(data)
    with sqlite3.connect(lazy.path) as foreign:
        foreign.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    fake = FakeTime()

    def sleep(seconds: float | None) -> None:
        if len(fake.sleeps) == 1:
            lazy.path.unlink()  # the user moved it away
        fake.sleep(seconds)

    queue = AnswerQueue(
        lazy,
        ask_with(chat),
        backoff=Backoff(first_s=5, factor=2, max_s=60),
        clock=fake.clock,
        sleep=sleep,
    )
    fake.queue = queue
    queue.serve()
    assert fake.sleeps == [5.0, 10.0, None]
    assert queue.entries() == []
    lazy.close()


# --- no number from a server (or a setting) can overflow the queue's timers -----------------


def test_backoff_is_bounded_whatever_it_is_asked() -> None:
    backoff = Backoff(first_s=5, factor=2, max_s=300)
    assert backoff.delay(1, retry_after=1e12) == MAX_DELAY_S
    assert backoff.delay(1, retry_after=math.inf) == 5.0
    assert backoff.delay(1, retry_after=math.nan) == 5.0
    assert backoff.delay(1, retry_after=-30.0) == 5.0
    assert backoff.delay(100_000) == 300.0  # 2.0 ** 99_999 overflows a float
    for bad in (
        {"first_s": 0},
        {"first_s": math.nan},
        {"first_s": 10, "max_s": 5},
        {"max_s": math.inf},
        {"factor": 0.5},
        {"factor": math.inf},
    ):
        with pytest.raises(ValueError, match="backoff"):
            Backoff(**bad)


def test_a_huge_retry_after_does_not_end_the_queue(chat, store, gemini) -> None:
    cid, _ = failed_first(chat, gemini)
    seen = Recorder()
    queue = AnswerQueue(store, ask_with(chat), seen.callbacks())
    worker = serve_in_thread(queue)
    try:
        assert queue.add(cid, AIError(ErrorKind.QUOTA, "Over quota.", retry_after=1e12))
        [entry] = queue.entries()
        assert entry.due_in_s <= MAX_DELAY_S
        queue.kick(cid)  # "Send now"
        seen.wait_for("answered")
        assert worker.is_alive()
    finally:
        queue.stop()
        worker.join(WAIT_S)
    assert answers(store, cid) == [("final", "You asked: q.")]


# --- the saved list always fits the store's meta value limit ----------------------------------


def test_a_full_queue_with_long_non_ascii_reasons_is_saved(store) -> None:
    queue = AnswerQueue(store, ask_with_nothing)
    queue.load()
    reason = "Der KI-Anbieter ist überlastet – später erneut versuchen. " * 6  # > 300 chars
    ids = [str(uuid.uuid4()) for _ in range(MAX_WAITING)]
    for cid in ids:
        assert queue.add(cid, AIError(ErrorKind.UNAVAILABLE, reason))
    assert not queue.add(str(uuid.uuid4()))  # full
    queue.flush()
    saved = store.get_meta(META_KEY)
    assert saved is not None and len(saved) <= META_VALUE_CHARS
    reopened = AnswerQueue(store, ask_with_nothing)
    reopened.load()
    entries = reopened.entries()
    assert sorted(e.conversation_id for e in entries) == sorted(ids)
    assert entries[0].reason.startswith("Der KI-Anbieter ist überlastet")


def test_reasons_full_of_escapes_are_shortened_to_fit(store) -> None:
    queue = AnswerQueue(store, ask_with_nothing)
    queue.load()
    reason = '"\\\x01' * 100  # every character escaped in JSON (2 to 6 characters each)
    for _ in range(MAX_WAITING):
        queue.add(str(uuid.uuid4()), AIError(ErrorKind.OFFLINE, reason))
    queue.flush()
    saved = store.get_meta(META_KEY)
    assert saved is not None and len(saved) <= META_VALUE_CHARS
    reopened = AnswerQueue(store, ask_with_nothing)
    reopened.load()
    assert len(reopened) == MAX_WAITING


def ask_with_nothing(conversation_id: str) -> Answer:
    raise AssertionError(f"nothing is sent in this test ({conversation_id})")
