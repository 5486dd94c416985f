"""The chat controller on real services and the fake Gemini: pictures, retries, the queue."""

from __future__ import annotations

import base64
import dataclasses
import gc
import hashlib
import weakref
from collections.abc import Iterator

import pytest
import shiboken6
from PySide6.QtCore import QRunnable, QThreadPool
from PySide6.QtGui import QImage

from snapask_desktop.actions import find_action
from snapask_desktop.answer_queue import Backoff
from snapask_desktop.services import Services
from snapask_desktop.ui.chat.answer_worker import AnswerRun
from snapask_desktop.ui.chat.controller import ChatController
from snapask_desktop.ui.chat.quick_actions import quick_actions
from snapask_desktop.ui.chat.status import ChatStatus
from snapask_desktop.ui.workers import Task
from tests.store.helpers import png_bytes
from tests.support import fake_gemini as fg
from tests.support import waits
from tests.support.fake_gemini import FakeGemini


class RecordingPool(QThreadPool):
    """A thread pool that remembers, weakly, every runnable started on it and the AnswerRun
    each one carries: what this test's controller made, and nothing of any other test's."""

    def __init__(self) -> None:
        super().__init__()
        self.started: list[weakref.ref] = []
        self.kinds: set[str] = set()  # the kinds of object recorded

    def start(self, runnable: QRunnable, priority: int = 0) -> None:
        held = [v for v in vars(runnable).values() if isinstance(v, AnswerRun)]
        self.started += [weakref.ref(o) for o in (runnable, *held)]
        self.kinds |= {type(o).__name__ for o in (runnable, *held)}
        super().start(runnable, priority)

    def alive(self) -> list[object]:
        """What was started here and still holds something: in memory, and not a finished
        Task's empty shell. (PySide6 now and then keeps the Python side of a Task whose C++ side
        the pool already deleted, at random under load; it holds no function and no data.)"""
        gc.collect()
        return [o for o in (ref() for ref in self.started) if o is not None and not _shell(o)]


def _shell(obj: object) -> bool:
    """A Task the pool deleted (its C++ side is gone) that holds no function any more."""
    return isinstance(obj, Task) and not shiboken6.isValid(obj) and obj._fn is None


@pytest.fixture
def controller(services: Services, qtbot) -> Iterator[ChatController]:
    pool = RecordingPool()
    built = ChatController(
        services.chat,
        services.settings,
        pool=pool,
        queue_backoff=Backoff(first_s=0.05, factor=1.0, max_s=0.05),
    )
    yield built
    built.shutdown()


class Seen:
    """Everything the controller told the window, in order."""

    def __init__(self, controller: ChatController) -> None:
        self.events: list[tuple] = []
        for name in (
            "question_added",
            "answer_started",
            "answer_chunk",
            "answer_finished",
            "status_changed",
            "picture_state_changed",
            "transcript_loaded",
            "conversation_changed",
            "answering_changed",
            "title_changed",
        ):
            getattr(controller, name).connect(
                lambda *args, name=name: self.events.append((name, *args))
            )

    def of(self, name: str) -> list[tuple]:
        return [e[1:] for e in self.events if e[0] == name]

    def statuses(self) -> list[ChatStatus]:
        return [e[0] for e in self.of("status_changed")]


def idle(controller: ChatController) -> bool:
    return not controller.answering_here and controller.status.kind in ("idle", "error")


def stored(services: Services, conversation_id: str | None) -> list[tuple[str, str, str]]:
    assert conversation_id is not None
    messages = services.store.get_conversation(conversation_id).messages
    return [(m.role, m.status, m.text) for m in messages]


def sent_texts(gemini: FakeGemini, index: int = -1) -> list[tuple[str, str]]:
    body = gemini.generate_requests()[index].body
    return [
        (turn["role"], " ".join(p["text"] for p in turn["parts"] if "text" in p))
        for turn in body["contents"]
    ]


def sent_images(gemini: FakeGemini, index: int = -1) -> list[bytes]:
    body = gemini.generate_requests()[index].body
    return [
        base64.urlsafe_b64decode(part["inlineData"]["data"])
        for turn in body["contents"]
        for part in turn["parts"]
        if "inlineData" in part
    ]


def test_picture_pending_then_ready_sends_the_held_question(controller, services, gemini, qtbot):
    seen = Seen(controller)
    png = png_bytes(64, 48, seed=3)
    controller.new_from_picture(None, QImage.fromData(png), picture_id=7)
    assert controller.picture_state == "pending"
    assert controller.send("what is this?")
    assert controller.status.kind == "preparing" and controller.answering_here
    assert controller.is_answering
    assert not controller.send("another")  # one question at a time
    assert not controller.set_picture_bytes(png_bytes(seed=9), picture_id=6)  # someone else's
    assert gemini.generate_requests() == []

    assert controller.set_picture_bytes(png, picture_id=7)
    waits.until(qtbot, lambda: idle(controller))
    cid = controller.conversation_id
    assert stored(services, cid) == [
        ("user", "final", "what is this?"),
        ("model", "final", "You asked: what is this? [1 image]."),
    ]
    first = services.store.get_conversation(cid).messages[0]
    assert first.screenshot_sha256 == hashlib.sha256(png).hexdigest()
    assert len(sent_images(gemini)) == 1
    assert seen.of("question_added") == [("what is this?",)]
    assert len(seen.of("answer_started")) == 1  # the held answer bubble is reused
    assert seen.of("answer_finished") == [("final", "You asked: what is this? [1 image].")]
    assert seen.of("title_changed")[-1] == ("what is this?",)
    assert (cid,) in seen.of("conversation_changed")
    assert seen.of("answering_changed") == [(True,), (False,)]


def test_picture_that_fails_lets_the_question_go_without_it(controller, services, gemini, qtbot):
    controller.new_from_picture(None, None, picture_id=1)
    controller.send("still there?")
    controller.picture_failed("The screenshot could not be saved (disk full).", picture_id=1)
    status = controller.status
    assert status.kind == "error" and status.action == "retry"
    assert "disk full" in status.message and "without the picture" in status.message
    assert not controller.answering_here
    assert controller.retry()
    waits.until(qtbot, lambda: idle(controller))
    assert stored(services, controller.conversation_id)[-1][1:] == (
        "final",
        "You asked: still there?.",
    )
    assert sent_images(gemini) == []


def test_png_without_image_is_decoded_for_the_thumbnail(controller, qtbot) -> None:
    pictures: list[QImage] = []
    controller.picture_changed.connect(pictures.append)
    controller.new_from_picture(png_bytes(40, 30))
    assert controller.picture_state == "ready"
    assert len(pictures) == 1 and pictures[0].isNull()  # nothing to show yet
    waits.until(qtbot, lambda: len(pictures) == 2)
    assert (pictures[1].width(), pictures[1].height()) == (40, 30)


def test_open_conversation_shows_it_and_follow_up_keeps_context(
    controller, services, gemini, qtbot
):
    png = png_bytes(50, 40, seed=5)
    question = services.chat.start_conversation("first question", png)
    cid = question.conversation_id
    services.chat.answer(cid, provider="gemini", model="gemini-2.5-flash").wait()
    pictures: list[QImage] = []
    controller.picture_changed.connect(pictures.append)
    with waits.signal(qtbot, controller.transcript_loaded) as loaded:
        controller.open_conversation(cid)
    assert [m.role for m in loaded.args[0]] == ["user", "model"]
    assert controller.title == "first question"
    assert controller.picture_state == "ready"
    assert (pictures[-1].width(), pictures[-1].height()) == (50, 40)

    gemini.script(fg.Reply(("second answer",)))
    assert controller.send("and the second?")
    waits.until(qtbot, lambda: idle(controller))
    assert sent_texts(gemini) == [
        ("user", "first question"),
        ("model", "You asked: first question [1 image]."),
        ("user", "and the second?"),
    ]
    assert len(sent_images(gemini)) == 1  # the picture of the first question, once
    assert stored(services, cid)[-1] == ("model", "final", "second answer")


def test_open_unanswered_conversation_offers_retry(controller, services, gemini, qtbot):
    cid = services.chat.start_conversation("left unanswered", None).conversation_id
    with waits.signal(qtbot, controller.transcript_loaded):
        controller.open_conversation(cid)
    assert controller.status == ChatStatus("error", "This question has no answer yet.", "retry")
    assert controller.retry()
    waits.until(qtbot, lambda: idle(controller))
    assert stored(services, cid)[-1] == ("model", "final", "You asked: left unanswered.")


def test_opening_a_missing_conversation_says_so(controller, qtbot) -> None:
    controller.open_conversation("0" * 32)
    waits.until(qtbot, lambda: controller.status.kind == "error")
    assert "could not be opened" in controller.status.message


def test_transient_failure_waits_in_the_queue_and_is_answered_once(
    controller, services, gemini, qtbot
):
    seen = Seen(controller)
    gemini.script(fg.overloaded(), fg.overloaded())  # the first try and one from the queue
    controller.new_conversation()
    assert controller.send("are you up?")
    waits.until(qtbot, lambda: bool(stored_final(services, controller.conversation_id)))
    waits.until(qtbot, lambda: idle(controller))
    kinds = [s.kind for s in seen.statuses()]
    assert "waiting" in kinds and kinds[-1] == "idle"
    waiting = next(s for s in seen.statuses() if s.kind == "waiting")
    assert (
        waiting.action == "send_now" and "overloaded" in waiting.detail
    )  # a 503, said without its code
    assert stored(services, controller.conversation_id) == [
        ("user", "final", "are you up?"),
        ("model", "final", "You asked: are you up?."),
    ]
    assert len(gemini.generate_requests()) == 3
    assert seen.of("answer_finished")[-1] == ("final", "You asked: are you up?.")
    assert controller.queue.count() == 0


def stored_final(services: Services, conversation_id: str | None) -> list[str]:
    if conversation_id is None:
        return []
    return [
        m.text
        for m in services.store.get_conversation(conversation_id).messages
        if m.role == "model" and m.status == "final"
    ]


def test_settings_change_the_chips(controller) -> None:
    labels = [a.label for a in controller.quick_actions()]
    assert labels == ["Extract text", "Explain", "Summarize", "Translate"]
    settings = dataclasses.replace(
        controller.settings,
        translate_to="German",
        prompt_templates=[{"label": "Fix grammar", "prompt": "Fix the grammar."}],
    )
    changed: list[bool] = []
    controller.actions_changed.connect(lambda: changed.append(True))
    controller.set_settings(settings)
    assert changed == [True]
    chips = quick_actions(settings)
    assert chips[-1].label == "Fix grammar" and not chips[-1].builtin
    assert chips[3].prompt == find_action("translate").render("German")
    controller.set_settings(settings)
    assert changed == [True]  # nothing new: no rebuild


# --- nothing is kept once done (H1) -----------------------------------------------------------


def test_finished_answers_and_tasks_leave_nothing_behind(controller, services, qtbot) -> None:
    pool = controller._pool
    assert isinstance(pool, RecordingPool)
    png = png_bytes(40, 30)
    controller.new_from_picture(png)  # decoded for the thumbnail by a Task
    assert controller.send("what is it?")
    waits.until(qtbot, lambda: idle(controller))
    cid = controller.conversation_id
    assert cid is not None
    with waits.signal(qtbot, controller.transcript_loaded):
        controller.open_conversation(cid)  # read by another Task
    assert pool.kinds == {"AnswerRun", "AnswerWorker", "Task"}  # what this test watches
    assert pool.waitForDone(waits.DEADLINE_MS)
    waits.until(qtbot, lambda: pool.alive() == [])


# --- a store that refuses the answer: the text stays (H2) ---------------------------------------


def test_an_answer_the_store_refuses_stays_on_screen_with_retry(
    controller, services, gemini, qtbot
) -> None:
    seen = Seen(controller)
    gemini.script(fg.Stall(chunks=("half of it",), seconds=30))
    controller.new_conversation()
    assert controller.send("slow one")
    waits.until(qtbot, lambda: bool(seen.of("answer_chunk")))
    cid = controller.conversation_id
    assert cid is not None
    services.store.delete_conversation(cid)  # e.g. from the History window, or by sync
    controller.stop()  # the partial answer is saved as stopped... into a deleted conversation
    waits.until(qtbot, lambda: idle(controller))
    assert seen.of("answer_finished") == [("unsaved", "half of it")]
    status = controller.status
    assert status.kind == "error" and status.action == "retry"
    assert status.message == "The answer could not be saved: the conversation was deleted."
    assert controller.conversation_id == cid


def test_a_queued_answer_the_store_refuses_stays_on_screen(
    controller, services, gemini, qtbot
) -> None:
    gemini.script(fg.overloaded(), fg.Stall(chunks=("partial",), seconds=30))
    seen = Seen(controller)
    controller.new_conversation()
    assert controller.send("are you up?")  # fails: the queue takes it and tries again
    waits.until(qtbot, lambda: bool(seen.of("answer_chunk")))
    assert controller.status.message == "Answering…" and controller.answering_here
    assert controller.queue.sending == controller.conversation_id
    cid = controller.conversation_id
    assert cid is not None
    services.store.delete_conversation(cid)
    controller.stop()
    waits.until(qtbot, lambda: len(seen.of("answer_finished")) == 2)
    assert seen.of("answer_finished") == [("error", ""), ("unsaved", "partial")]
    assert controller.status.kind == "error" and controller.status.action == "retry"
    assert "could not be saved" in controller.status.message
    assert controller.queue.sending is None and controller.queue.count() == 0


# --- nothing typed is lost when the conversation changes (M5) ---------------------------------


def test_a_held_question_is_saved_when_its_picture_arrives_after_a_switch(
    controller, services, gemini, qtbot
) -> None:
    png = png_bytes(64, 48, seed=4)
    controller.new_from_picture(None, QImage.fromData(png), picture_id=11)
    assert controller.send("what was that?")  # held: the PNG is still being encoded
    changed: list[str] = []
    controller.conversation_changed.connect(changed.append)
    controller.new_conversation()  # Ctrl+N (or another capture) before the PNG is ready
    assert controller.is_answering  # the tray still shows work under way
    seen = Seen(controller)
    assert controller.set_picture_bytes(png, picture_id=11)
    waits.until(qtbot, lambda: not controller.is_answering)
    [summary] = services.store.list_conversations()
    assert stored(services, summary.id) == [
        ("user", "final", "what was that?"),
        ("model", "final", "You asked: what was that? [1 image]."),
    ]
    first = services.store.get_conversation(summary.id).messages[0]
    assert first.screenshot_sha256 == hashlib.sha256(png).hexdigest()
    assert summary.id in changed  # the history shows it
    # ... without touching the chat now shown.
    assert controller.conversation_id is None
    assert seen.of("question_added") == [] and seen.of("answer_started") == []


def test_a_held_question_whose_picture_fails_after_a_switch_goes_back_to_the_prompt(
    controller, qtbot
) -> None:
    restored: list[str] = []
    controller.question_restored.connect(restored.append)
    controller.new_from_picture(None, None, picture_id=5)
    assert controller.send("about the picture")
    controller.new_conversation()
    assert restored == []  # still waiting for its picture
    controller.picture_failed("The screenshot could not be saved.", picture_id=5)
    assert restored == ["about the picture"]
    assert not controller.is_answering


def test_a_question_that_was_not_saved_goes_back_to_the_prompt(controller, qtbot) -> None:
    restored: list[str] = []
    controller.question_restored.connect(restored.append)
    controller.new_from_picture(b"not a picture at all")  # the store will refuse it
    assert controller.send("first try")
    waits.until(qtbot, lambda: idle(controller))
    assert "could not be saved" in controller.status.message
    assert controller.status.action == "retry" and restored == []  # Retry is offered here
    controller.new_conversation()
    assert restored == ["first try"]

    # Switched away before the failed save was even reported: it comes back too.
    controller.new_from_picture(b"still not a picture")
    assert controller.send("second try")
    controller.new_conversation()
    waits.until(qtbot, lambda: restored == ["first try", "second try"])


# --- a conversation being opened takes no question yet (M6) -----------------------------------


def test_send_while_a_conversation_loads_is_refused_until_it_is_read(
    controller, services, gemini, qtbot
) -> None:
    cid = services.chat.start_conversation("old question", None).conversation_id
    services.chat.answer(cid, provider="gemini", model="gemini-2.5-flash").wait()
    seen = Seen(controller)
    controller.open_conversation(cid)
    assert controller.loading
    assert not controller.send("new question")
    assert not controller.retry()
    waits.until(qtbot, lambda: not controller.loading)
    assert controller.send("new question")
    waits.until(qtbot, lambda: idle(controller))
    names = [e[0] for e in seen.events if e[0] in ("transcript_loaded", "question_added")]
    assert names == ["transcript_loaded", "question_added"]
    assert len(seen.of("answer_started")) == 1
    assert [m[0] for m in stored(services, cid)] == ["user", "model", "user", "model"]
    assert len(gemini.generate_requests()) == 2


def test_an_answer_from_before_a_switch_is_the_only_one_in_its_conversation(
    controller, services, gemini, qtbot
) -> None:
    gemini.script(fg.Stall(chunks=("still going",), seconds=30))
    controller.new_conversation()
    assert controller.send("slow one")
    waits.until(qtbot, lambda: controller.status.kind == "answering")
    cid = controller.conversation_id
    assert cid is not None
    controller.new_conversation()
    with waits.signal(qtbot, controller.transcript_loaded):
        controller.open_conversation(cid)
    assert controller.answering_here  # the earlier answer is shown here again
    assert not controller.send("another question")  # one party answers a conversation
    controller.stop()
    waits.until(qtbot, lambda: idle(controller))
    assert stored(services, cid) == [
        ("user", "final", "slow one"),
        ("model", "cancelled", "still going"),
    ]
    assert len(gemini.generate_requests()) == 1


# --- opening by a short id (L1) -------------------------------------------------------------


def test_open_by_id_prefix(controller, services, gemini, qtbot) -> None:
    cid = services.chat.start_conversation("by prefix", None).conversation_id
    with waits.signal(qtbot, controller.transcript_loaded):
        controller.open_conversation(cid[:8].upper())
    assert controller.conversation_id == cid and controller.title == "by prefix"
    assert controller.retry()  # its question has no answer yet
    waits.until(qtbot, lambda: idle(controller))
    assert stored(services, cid)[-1] == ("model", "final", "You asked: by prefix.")


def test_open_by_an_unknown_ambiguous_or_bad_prefix_says_why(controller, services, qtbot):
    ids = [services.chat.start_conversation(f"q{n}", None).conversation_id for n in range(17)]
    shared = next(c[0] for c in ids if sum(i[0] == c[0] for i in ids) > 1)  # 17 ids, 16 digits
    unused = next(d for d in "0123456789abcdef" if not any(i.startswith(d * 8) for i in ids))
    expected = {
        shared: "matches several conversations",
        unused * 8: f"No conversation id starts with '{unused * 8}'",
        "hello!": "is not an id or id prefix",
    }
    for prefix, reason in expected.items():
        controller.open_conversation(prefix)
        waits.until(qtbot, lambda: controller.status.kind == "error")
        assert controller.status.message.startswith("The conversation could not be opened.")
        assert reason in controller.status.message
        assert controller.conversation_id is None and not controller.loading


# --- quick actions show their name, not their prompt (issue 11, item 9) ----------------------


def test_a_quick_action_shows_its_name_and_titles_the_chat_from_its_answer(
    controller, services, gemini, qtbot
) -> None:
    seen = Seen(controller)
    # Summarize: Extract text is read on this device (tests/ui/test_chat_local_read.py).
    extract = next(a for a in quick_actions(services.settings) if a.label == "Summarize")
    gemini.script(fg.Reply(chunks=("## Invoice 2041\n\n", "Total: 12.00 EUR")))
    controller.new_from_picture(png_bytes(64, 48, seed=5))
    assert controller.send(extract.prompt)
    waits.until(qtbot, lambda: controller.title == "Summarize: Invoice 2041")
    cid = controller.conversation_id
    assert seen.of("question_added") == [("Summarize",)]  # the bubble: the action's name
    titles = [t for (t,) in seen.of("title_changed") if t != "New chat"]
    assert titles == ["Summarize", "Summarize: Invoice 2041"]  # never the prompt's words
    assert services.store.get_conversation(cid).conversation.title == "Summarize: Invoice 2041"
    assert stored(services, cid)[0] == ("user", "final", extract.prompt)  # what the AI was asked
    assert sent_texts(gemini)[0] == ("user", extract.prompt)

    with waits.signal(qtbot, controller.transcript_loaded) as loaded:
        controller.open_conversation(cid)  # reopened: still the name in the bubble
    assert [m.text for m in loaded.args[0] if m.role == "user"] == ["Summarize"]
    # What `snapask ask --action summarize "only the totals"` stores shows the same way.
    assert controller.shown_text(f"{extract.prompt}\n\nonly the totals") == (
        "Summarize: only the totals"
    )


def test_a_renamed_action_conversation_keeps_the_users_title(
    controller, services, gemini, qtbot
) -> None:
    explain = next(a for a in quick_actions(services.settings) if a.label == "Explain")
    gemini.script(fg.Reply(chunks=("A traceback from pip",)))

    def rename(title: str) -> None:  # the user renames it the moment it is saved
        if title == "Explain":
            services.store.update_conversation(controller.conversation_id, title="Mine")

    controller.title_changed.connect(rename)
    controller.new_from_picture(png_bytes(64, 48, seed=6))
    assert controller.send(explain.prompt)
    waits.until(qtbot, lambda: bool(stored_final(services, controller.conversation_id)))
    cid = controller.conversation_id
    waits.until(qtbot, lambda: idle(controller))
    waits.delivered(lambda: controller._pool.waitForDone(waits.DEADLINE_MS))
    assert services.store.get_conversation(cid).conversation.title == "Mine"


# --- the waiting queue: one countdown, Send now tries at once (issue 11, item 7) -------------


def test_send_now_asks_a_resting_provider_at_once_and_says_how_it_went(
    controller, services, gemini, qtbot
) -> None:
    gemini.script(*[fg.overloaded()] * 5)  # five failures in a row: the provider is rested
    controller.new_conversation()
    assert controller.send("are you up?")
    waits.until(qtbot, lambda: "rest" in controller.status.detail)
    status = controller.status
    assert status.kind == "waiting" and status.action == "send_now"
    assert status.next_try_s is not None and status.next_try_s > 5  # the rest, not the backoff
    assert "try again" not in status.detail.lower()  # the row's countdown is the only one
    tried = len(gemini.generate_requests())
    assert tried == 5

    assert controller.retry()  # Send now
    waits.until(qtbot, lambda: idle(controller) or controller.status.message.startswith("Tried"))
    assert len(gemini.generate_requests()) == tried + 1  # it really asked
    assert stored_final(services, controller.conversation_id) == ["You asked: are you up?."]


def test_a_providers_own_retry_advice_is_not_a_second_countdown() -> None:
    from snapask_desktop.ui.chat import status

    line = status.waiting("Gemini's quota is used up; try again in 30 s.", 29.0)
    assert line.detail == "Gemini's quota is used up." and line.next_try_s == 29.0
    line = status.waiting("Gemini had a problem (HTTP 503). Try again in a moment.", 4.0)
    assert line.detail == "Gemini had a problem (HTTP 503)."
