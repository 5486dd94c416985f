"""The floating chat window with real services on the fake Gemini (offscreen Qt)."""

from __future__ import annotations

import base64
import dataclasses
import gc
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QRect, QSize, Qt, QThreadPool
from PySide6.QtGui import QGuiApplication, QImage
from PySide6.QtWidgets import QApplication

from snapask_desktop.actions import find_action
from snapask_desktop.answer_queue import Backoff
from snapask_desktop.capture.geometry import Rect
from snapask_desktop.capture.grab import Grab
from snapask_desktop.services import Services
from snapask_desktop.ui.chat.capture_flow import Picture
from snapask_desktop.ui.chat.controller import ChatController
from snapask_desktop.ui.chat.widgets import AnswerBubble, PromptEdit, QuestionBubble
from snapask_desktop.ui.chat.window import ChatUI, ChatWindow, thumbnail_size
from snapask_desktop.ui.window_state import WindowStateStore
from tests.store.helpers import png_bytes
from tests.support import fake_gemini as fg
from tests.support import waits
from tests.support.fake_gemini import FakeGemini


def make_controller(services: Services, backoff: Backoff) -> ChatController:
    return ChatController(
        services.chat, services.settings, pool=QThreadPool(), queue_backoff=backoff
    )


@pytest.fixture
def controller(services: Services) -> Iterator[ChatController]:
    built = make_controller(services, Backoff(first_s=60, max_s=60))  # retried by hand here
    yield built
    built.shutdown()


@pytest.fixture
def state(tmp_path: Path) -> WindowStateStore:
    return WindowStateStore(tmp_path / "ui-state.ini")


@pytest.fixture
def window(controller: ChatController, state: WindowStateStore, qtbot) -> ChatWindow:
    built = ChatWindow(controller, state)
    qtbot.addWidget(built)
    png = png_bytes(120, 80, seed=2)
    controller.new_from_picture(png, QImage.fromData(png))
    built.show_near(QRect(20, 20, 100, 80))
    qtbot.waitExposed(built)
    return built


def ask(window: ChatWindow, qtbot, text: str) -> None:
    window.prompt.setFocus()
    qtbot.keyClicks(window.prompt, text)
    qtbot.keyClick(window.prompt, Qt.Key.Key_Return)


def settled(window: ChatWindow) -> bool:
    c = window.controller
    return not c.answering_here and c.status.kind in ("idle", "error", "waiting")


def answers(window: ChatWindow) -> list[AnswerBubble]:
    return [a for a in window.transcript.answers() if a.isVisibleTo(window)]


def saved(services: Services, window: ChatWindow) -> list[tuple[str, str, str]]:
    cid = window.controller.conversation_id
    assert cid is not None
    return [(m.role, m.status, m.text) for m in services.store.get_conversation(cid).messages]


def test_answer_streams_in_order_and_is_saved(window, services, gemini, qtbot) -> None:
    chunks = ("The picture ", "shows **a chart**.\n\n", "```py\nprint(1)\n```\n", "Done.")
    gemini.script(fg.Reply(chunks, delay_s=0.02))
    shown: list[str] = []
    window.controller.answer_chunk.connect(lambda _text: shown.append(answers(window)[-1].text()))
    ask(window, qtbot, "What is it?")
    assert window.prompt.toPlainText() == ""
    assert window.send_button.text() == "Stop" and not window.chip_buttons()[0].isEnabled()
    waits.until(qtbot, lambda: settled(window))
    # After each chunk the view holds exactly the text so far: in order, nothing lost.
    assert shown == ["".join(chunks[: n + 1]) for n in range(len(chunks))]
    bubble = answers(window)[-1]
    assert bubble.status == "final" and bubble.view.code_blocks() == ("print(1)",)
    assert "shows a chart" in bubble.view.toPlainText()
    assert saved(services, window) == [
        ("user", "final", "What is it?"),
        ("model", "final", "".join(chunks)),
    ]
    assert [q.label.text() for q in window.transcript.questions()] == ["What is it?"]
    assert window.send_button.text() == "Send" and window.chip_buttons()[0].isEnabled()
    assert window.windowTitle() == "SnapAsk — What is it?"


def test_stop_during_a_stall_keeps_the_partial_answer(window, services, gemini, qtbot) -> None:
    gemini.script(fg.Stall(chunks=("half of it",), seconds=30))
    ask(window, qtbot, "slow one")
    waits.until(qtbot, lambda: bool(answers(window)) and answers(window)[-1].text() != "")
    assert window.controller.is_answering
    qtbot.mouseClick(window.send_button, Qt.MouseButton.LeftButton)  # "Stop"
    waits.until(qtbot, lambda: settled(window))
    bubble = answers(window)[-1]
    assert bubble.status == "cancelled" and bubble.note.text() == "Stopped"
    assert bubble.text() == "half of it"
    assert saved(services, window)[-1] == ("model", "cancelled", "half of it")
    # One "Stopped" (on the answer), and a visible way to answer again.
    row = window.status_row
    assert "Stopped" not in row.label.text()
    assert row.button.isVisibleTo(window) and row.button.text() == "Regenerate"

    qtbot.keyClick(window.prompt, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    waits.until(qtbot, lambda: settled(window) and answers(window)[-1].status == "final")
    # The new answer takes the stopped one's place, on screen and when reopened.
    assert [a.status for a in answers(window)] == ["final"]
    assert len(window.transcript.bubbles()) == 2
    assert [m[1] for m in saved(services, window)] == ["final", "cancelled", "final"]
    cid = window.controller.conversation_id
    window.controller.open_conversation(cid)
    waits.until(qtbot, lambda: not window.controller.loading)
    waits.until(qtbot, lambda: len(window.transcript.bubbles()) == 2)
    assert [a.status for a in window.transcript.answers()] == ["final"]


def test_retry_after_an_error(window, services, gemini, qtbot) -> None:
    gemini.script(fg.invalid_key())
    ask(window, qtbot, "try me")
    waits.until(qtbot, lambda: window.controller.status.kind == "error")
    row = window.status_row
    assert row.isVisibleTo(window) and row.button.text() == "Retry"
    assert row.label.text() == "Gemini rejected the API key. Fix it in Settings, then press Retry."
    assert row.settings_button.isVisibleTo(window)
    with waits.signal(qtbot, window.settings_requested) as opened:
        qtbot.mouseClick(row.settings_button, Qt.MouseButton.LeftButton)
    assert opened.args == ["api_key"]  # the page with the key, not the last one visited
    assert answers(window) == []  # nothing arrived: no empty answer bubble
    assert saved(services, window) == [("user", "final", "try me")]
    qtbot.mouseClick(row.button, Qt.MouseButton.LeftButton)
    waits.until(qtbot, lambda: settled(window) and bool(answers(window)))
    assert saved(services, window)[-1] == ("model", "final", "You asked: try me [1 image].")
    assert not row.isVisibleTo(window) and not row.settings_button.isVisibleTo(window)
    assert len(gemini.generate_requests()) == 2


def test_retrying_feedback_is_shown(services, state, gemini, qtbot) -> None:
    settings = dataclasses.replace(services.settings, max_retries=1)
    with Services(settings, services.data_dir / "other") as retrying_services:
        controller = make_controller(retrying_services, Backoff(first_s=60))
        window = ChatWindow(controller, state)
        qtbot.addWidget(window)
        controller.new_conversation()
        window.show_near(None)
        gemini.script(fg.quota_exceeded(retry_delay_s=0.2))
        texts: list[str] = []
        controller.status_changed.connect(
            lambda s: texts.append(window.status_row.label.text()) if s.kind == "retrying" else None
        )
        ask(window, qtbot, "busy?")
        waits.until(qtbot, lambda: settled(window) and bool(answers(window)))
        controller.shutdown()
    assert texts and "Retrying in 1 s" in texts[0]
    assert answers(window)[-1].text() == "You asked: busy?."


class GeminiAgain(FakeGemini):
    """The same fake brought back on the port it had (the provider comes back)."""

    def start_on(self, port: int) -> None:
        self._stopping.clear()
        self._server = fg._Server(("127.0.0.1", port), fg._Handler)
        self._server.owner = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()


def test_offline_question_waits_and_goes_out_when_back(services, state, gemini, qtbot) -> None:
    controller = make_controller(services, Backoff(first_s=0.3, factor=1.0, max_s=0.3))
    window = ChatWindow(controller, state)
    qtbot.addWidget(window)
    controller.new_conversation()
    window.show_near(None)
    port = gemini.port
    gemini.stop()  # offline: nothing listens there any more
    back = GeminiAgain()
    try:
        ask(window, qtbot, "anyone?")
        waits.until(qtbot, lambda: controller.status.kind == "waiting")
        row = window.status_row
        assert "Waiting to send" in row.label.text() and "offline" in row.detail.text()
        assert row.button.text() == "Send now"
        question = window.transcript.questions()[-1]
        assert question.note.isVisibleTo(window) and "Waiting to send" in question.note.text()
        assert answers(window) == []
        back.start_on(port)
        waits.until(qtbot, lambda: bool(answers(window)) and settled(window))
    finally:
        controller.shutdown()
        back.stop()
    assert answers(window)[-1].text() == "You asked: anyone?."
    assert [m for m in saved(services, window) if m[0] == "model"] == [
        ("model", "final", "You asked: anyone?.")
    ]
    assert len(back.generate_requests()) == 1
    assert not question.note.isVisibleTo(window)


def test_send_now_tries_a_waiting_question_at_once(window, services, gemini, qtbot) -> None:
    gemini.script(fg.overloaded())
    ask(window, qtbot, "now?")
    waits.until(qtbot, lambda: window.controller.status.kind == "waiting")
    assert "Next try in" in window.status_row.detail.text()
    assert window.controller.waiting_count == 1
    qtbot.mouseClick(window.status_row.button, Qt.MouseButton.LeftButton)  # "Send now"
    waits.until(qtbot, lambda: bool(answers(window)) and settled(window))
    assert answers(window)[-1].text() == "You asked: now? [1 image]."
    assert window.controller.waiting_count == 0
    assert [m[0] for m in saved(services, window)] == ["user", "model"]


def test_enter_shift_enter_and_up(window, gemini, qtbot) -> None:
    prompt = window.prompt
    prompt.setFocus()
    qtbot.keyClicks(prompt, "line one")
    qtbot.keyClick(prompt, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(prompt, "line two")
    assert prompt.toPlainText() == "line one\nline two"
    assert gemini.generate_requests() == []
    qtbot.keyClick(prompt, Qt.Key.Key_Return)
    assert prompt.toPlainText() == ""
    assert window.transcript.questions()[-1].label.text() == "line one\nline two"
    waits.until(qtbot, lambda: settled(window))
    qtbot.keyClick(prompt, Qt.Key.Key_Up)
    assert prompt.toPlainText() == "line one\nline two"
    qtbot.keyClick(prompt, Qt.Key.Key_Down)  # a recalled two-line prompt: to its last line
    assert prompt.toPlainText() == "line one\nline two"
    qtbot.keyClick(prompt, Qt.Key.Key_Down)  # past the last line: back to the (empty) draft
    assert prompt.toPlainText() == ""


def test_prompt_history_walks_back_and_forth(qtbot) -> None:
    prompt = PromptEdit()
    qtbot.addWidget(prompt)
    for text in ("first", "second", "second"):
        prompt.remember(text)
    assert prompt.history() == ["first", "second"]
    qtbot.keyClicks(prompt, "draft")
    qtbot.keyClick(prompt, Qt.Key.Key_Up)  # cursor at the end of a draft: a normal Up
    assert prompt.toPlainText() == "draft"
    prompt.moveCursor(prompt.textCursor().MoveOperation.Start)
    qtbot.keyClick(prompt, Qt.Key.Key_Up)
    assert prompt.toPlainText() == "second"
    qtbot.keyClick(prompt, Qt.Key.Key_Up)
    assert prompt.toPlainText() == "first"
    qtbot.keyClick(prompt, Qt.Key.Key_Up)  # the oldest: stays
    assert prompt.toPlainText() == "first"
    prompt.moveCursor(prompt.textCursor().MoveOperation.End)
    qtbot.keyClick(prompt, Qt.Key.Key_Down)
    assert prompt.toPlainText() == "second"
    qtbot.keyClick(prompt, Qt.Key.Key_Down)
    assert prompt.toPlainText() == "draft"  # back to what was being typed
    submitted: list[str] = []
    prompt.submitted.connect(submitted.append)
    qtbot.keyClick(prompt, Qt.Key.Key_Enter)  # the keypad Enter sends too
    assert submitted == ["draft"]


def test_escape_hides_the_window(window, qtbot) -> None:
    window.activateWindow()
    waits.until(qtbot, lambda: QApplication.activeWindow() is window)
    qtbot.keyClick(window.prompt, Qt.Key.Key_Escape)
    assert not window.isVisible()
    window.show_near(None)
    assert window.isVisible()
    window.close()  # closing hides too: the app lives on in the tray
    assert not window.isVisible()


def test_window_flags(window) -> None:
    flags = window.windowFlags()
    assert flags & Qt.WindowType.FramelessWindowHint
    assert flags & Qt.WindowType.WindowStaysOnTopHint
    assert (flags & Qt.WindowType.Tool) == Qt.WindowType.Tool


def test_chip_starts_the_conversation_with_its_prompt(window, services, gemini, qtbot) -> None:
    explain = next(c for c in window.chip_buttons() if c.text() == "Explain")
    qtbot.mouseClick(explain, Qt.MouseButton.LeftButton)
    waits.until(qtbot, lambda: settled(window) and bool(answers(window)))
    prompt = find_action("explain").render("English")
    [turn] = gemini.generate_requests()[-1].body["contents"]
    assert [p["text"] for p in turn["parts"] if "text" in p] == [prompt]
    assert sum("inlineData" in p for p in turn["parts"]) == 1
    assert saved(services, window)[0] == ("user", "final", prompt)


def test_template_and_translate_chips_follow_the_settings(window, gemini, qtbot) -> None:
    settings = dataclasses.replace(
        window.controller.settings,
        translate_to="Japanese",
        prompt_templates=[{"label": "Make a table", "prompt": "Turn this into a table."}],
    )
    window.controller.set_settings(settings)
    labels = [c.text() for c in window.chip_buttons()]
    assert labels == ["Extract text", "Explain", "Summarize", "Translate", "Make a table"]
    qtbot.mouseClick(window.chip_buttons()[-1], Qt.MouseButton.LeftButton)
    waits.until(qtbot, lambda: settled(window) and bool(answers(window)))
    qtbot.mouseClick(window.chip_buttons()[3], Qt.MouseButton.LeftButton)
    waits.until(qtbot, lambda: settled(window) and len(answers(window)) == 2)
    first, second = (
        [p["text"] for p in r.body["contents"][-1]["parts"] if "text" in p]
        for r in gemini.generate_requests()
    )
    assert first == ["Turn this into a table."]
    assert second == [find_action("translate").render("Japanese")]
    assert "Japanese" in second[0]


def test_follow_up_sends_the_history(window, gemini, qtbot) -> None:
    gemini.script(fg.Reply(("It is a cat.",)))
    ask(window, qtbot, "What animal?")
    waits.until(qtbot, lambda: settled(window) and bool(answers(window)))
    ask(window, qtbot, "What colour is it?")
    waits.until(qtbot, lambda: settled(window) and len(answers(window)) == 2)
    body = gemini.generate_requests()[-1].body
    turns = [
        (c["role"], [p.get("text") for p in c["parts"] if "text" in p], len(c["parts"]))
        for c in body["contents"]
    ]
    assert turns == [
        ("user", ["What animal?"], 2),  # the question and its picture
        ("model", ["It is a cat."], 1),
        ("user", ["What colour is it?"], 1),
    ]
    image = body["contents"][0]["parts"]
    assert any(
        "inlineData" in p and base64.urlsafe_b64decode(p["inlineData"]["data"]) for p in image
    )


def test_copy_buttons(window, gemini, qtbot) -> None:
    gemini.script(fg.Reply(("Use:\n\n```sh\nls -la\n```\n",)))
    ask(window, qtbot, "how to list?")
    waits.until(qtbot, lambda: settled(window) and bool(answers(window)))
    bubble = answers(window)[-1]
    clipboard = QGuiApplication.clipboard()
    clipboard.clear()
    qtbot.mouseClick(bubble.copy_button, Qt.MouseButton.LeftButton)
    assert clipboard.text() == "Use:\n\n```sh\nls -la\n```\n"
    assert bubble.copy_button.text() == "Copied ✓"
    bubble.view.copy_code(0)
    assert clipboard.text() == "ls -la"
    clipboard.clear()
    window.copy_last_answer()
    assert clipboard.text().startswith("Use:")


def test_thumbnail_opens_the_viewer(window, qtbot) -> None:
    assert window.thumbnail.isVisibleTo(window)
    waits.until(qtbot, lambda: window._thumb_smooth)  # smooth one in
    qtbot.mouseClick(window.thumbnail, Qt.MouseButton.LeftButton)
    viewer = window.viewer
    assert viewer is not None and viewer.isVisible()
    qtbot.addWidget(viewer)
    pixmap = viewer.label.pixmap()
    assert (pixmap.width(), pixmap.height()) == (120, 80)
    waits.until(qtbot, lambda: QApplication.activeWindow() is viewer)
    qtbot.keyClick(viewer, Qt.Key.Key_Escape)
    assert not viewer.isVisible() and window.isVisible()


def test_drag_header_moves_and_edge_resizes(window, state, controller, qtbot) -> None:
    start = window.pos()
    header = window.header
    grab_at = QPoint(40, header.height() // 2)
    qtbot.mousePress(header, Qt.MouseButton.LeftButton, pos=grab_at)
    qtbot.mouseMove(header, grab_at + QPoint(30, 25))
    qtbot.mouseRelease(header, Qt.MouseButton.LeftButton, pos=grab_at + QPoint(30, 25))
    assert window.pos() == start + QPoint(30, 25)

    size = window.size()
    edge = QPoint(window.width() - 2, window.height() // 2)
    qtbot.mousePress(window, Qt.MouseButton.LeftButton, pos=edge)
    qtbot.mouseMove(window, edge + QPoint(-60, 0))
    qtbot.mouseRelease(window, Qt.MouseButton.LeftButton, pos=edge + QPoint(-60, 0))
    assert window.width() == size.width() - 60 and window.height() == size.height()

    moved = window.geometry()
    window.hide()  # remembered at once on hide
    state.sync()
    again = ChatWindow(controller, WindowStateStore(state.path))
    qtbot.addWidget(again)
    again.show_near(None)
    assert again.geometry() == moved


def test_opens_beside_the_region_and_on_screen(window, qtbot) -> None:
    area = window.screen().availableGeometry()
    region = QRect(area.left() + 10, area.top() + 10, 60, 40)
    window.show_near(region)
    assert area.contains(window.geometry()) and not window.geometry().intersects(region)
    window.show_near(area)  # a full-screen capture: still wholly on screen
    assert area.contains(window.geometry())


def test_opened_conversation_renders_its_messages(window, services, qtbot) -> None:
    cid = services.chat.start_conversation("saved question", png_bytes(30, 20)).conversation_id
    services.store.add_message(cid, "model", "A **saved** answer.", status="final")
    services.chat.add_question(cid, "second")
    services.store.add_message(cid, "model", "partial", status="cancelled")
    window.controller.open_conversation(cid)
    waits.until(qtbot, lambda: len(window.transcript.bubbles()) == 4)
    kinds = [type(b) for b in window.transcript.bubbles()]
    assert kinds == [QuestionBubble, AnswerBubble, QuestionBubble, AnswerBubble]
    first, second = window.transcript.answers()
    assert first.view.toPlainText().strip() == "A saved answer."
    assert second.note.text() == "Stopped"
    assert window.header.title.text() == "saved question"
    waits.until(qtbot, lambda: window.thumbnail.isVisibleTo(window))


def picture_of(capture_id: int, region: Rect) -> Picture:
    """A capture as the capture flow hands it on: raw BGRA pixels and their place."""
    pixels = bytes([30, 60, 200, 255]) * (region.width * region.height)
    grab = Grab(pixels, region.width, region.height, region, (region,), 1.0, "test")
    return Picture(capture_id, grab, region, "region")


def test_chat_ui_shows_a_capture_at_once_and_sends_when_encoded(
    services, state, gemini, qtbot
) -> None:
    ui = ChatUI(services, state=state)
    ui.prepare()  # built ahead, not shown
    qtbot.addWidget(ui.window)
    assert not ui.window.isVisible() and not ui.hide_windows()
    changed: list[str] = []
    ui.conversation_changed.connect(changed.append)
    area = QGuiApplication.primaryScreen().availableGeometry()
    region = Rect(area.x() + 20, area.y() + 30, 64, 48)
    ui.new_from_picture(picture_of(5, region))
    window = ui.window
    assert window.isVisible() and window.thumbnail.isVisibleTo(window)
    anchor = QRect(region.x, region.y, region.width, region.height)
    assert not window.geometry().intersects(anchor)
    assert area.contains(window.geometry())
    ask(window, qtbot, "colour?")
    assert ui.is_answering and gemini.generate_requests() == []  # the PNG is not ready yet
    ui.picture_encoded(4, png_bytes(seed=1))  # an older capture's PNG: ignored
    ui.picture_encoded(5, png_bytes(64, 48, seed=4))
    waits.until(qtbot, lambda: settled(window) and bool(answers(window)))
    assert answers(window)[-1].text() == "You asked: colour? [1 image]."
    assert changed and changed[-1] == window.controller.conversation_id
    assert not ui.is_answering and ui.waiting_count == 0

    assert ui.hide_windows() and not window.isVisible()
    assert not ui.hide_windows()
    ui.open_conversation(None)  # the most recent conversation
    waits.until(qtbot, lambda: len(window.transcript.bubbles()) == 2)
    assert window.isVisible() and window.header.title.text() == "colour?"
    ui.new_chat()
    assert window.transcript.bubbles() == [] and window.header.title.text() == "New chat"
    ui.shutdown()


def test_chat_ui_reports_a_failed_encoding(services, state, qtbot) -> None:
    ui = ChatUI(services, state=state)
    ui.new_from_picture(picture_of(9, Rect(0, 0, 10, 10)))  # builds the window on first use
    qtbot.addWidget(ui.window)
    assert ui.window.thumbnail.isVisibleTo(ui.window)
    ui.picture_failed("The screenshot could not be saved (disk full).")  # the pending one
    assert ui.controller.status.kind == "error"
    assert ui.window.picture_note.text() == "The picture could not be saved."
    ui.shutdown()


def test_thumbnail_sizes_stay_in_their_box() -> None:
    assert thumbnail_size(QSize(1920, 1080)) == QSize(199, 112)
    assert thumbnail_size(QSize(3000, 100)) == QSize(336, 11)
    assert thumbnail_size(QSize(100, 3000)) == QSize(3, 112)
    assert thumbnail_size(QSize(50, 40)) == QSize(50, 40)  # small pictures are not enlarged


def test_tab_order_runs_from_the_prompt_through_every_control(window, qtbot) -> None:
    window.activateWindow()
    waits.until(qtbot, lambda: QApplication.activeWindow() is window)
    window.prompt.setFocus()
    order = []
    for _ in range(12):
        widget = QApplication.focusWidget()
        label = getattr(widget, "text", None)
        order.append(type(widget).__name__ if widget is window.prompt else label())
        qtbot.keyClick(widget, Qt.Key.Key_Tab)
        if QApplication.focusWidget() is window.prompt:
            break
    assert order == [
        "PromptEdit",
        "Send",
        "Extract text",
        "Explain",
        "Summarize",
        "Translate",
        "",  # the picture
        "Hide / mark up…",  # not sent yet: it can be edited
        "New",
        "✕",
    ]


def test_a_capture_is_let_go_once_the_next_one_shows(services, state, qtbot) -> None:
    ui = ChatUI(services, state=state)
    qtbot.addWidget(ui.window)
    region = Rect(0, 0, 400, 300)
    first = picture_of(1, region)
    pixels = first.grab.pixels
    unused = sys.getrefcount(pixels)
    ui.new_from_picture(first)
    assert sys.getrefcount(pixels) > unused  # shown: the window draws from these pixels
    waits.until(qtbot, lambda: ui.window._thumb_smooth)
    ui.new_from_picture(picture_of(2, region))  # the next capture
    assert QThreadPool.globalInstance().waitForDone(waits.DEADLINE_MS)

    def let_go() -> bool:
        gc.collect()
        return sys.getrefcount(pixels) == unused

    waits.until(qtbot, let_go)
    ui.shutdown()


def test_an_answer_the_store_refuses_stays_in_the_window(window, services, gemini, qtbot):
    gemini.script(fg.Stall(chunks=("half of it",), seconds=30))
    ask(window, qtbot, "slow one")
    waits.until(qtbot, lambda: bool(answers(window)) and answers(window)[-1].text() != "")
    cid = window.controller.conversation_id
    assert cid is not None
    services.store.delete_conversation(cid)  # e.g. from the History window meanwhile
    qtbot.mouseClick(window.send_button, Qt.MouseButton.LeftButton)  # "Stop"
    waits.until(qtbot, lambda: settled(window))
    bubble = answers(window)[-1]
    assert bubble.text() == "half of it" and bubble.note.text() == "Not saved"
    assert window.status_row.label.text().startswith("The answer could not be saved")
    assert window.status_row.button.isVisibleTo(window)
    assert window.status_row.button.text() == "Retry"


def test_a_question_that_could_not_be_saved_comes_back_into_the_prompt(
    window, services, qtbot
) -> None:
    window.controller.new_from_picture(b"not a picture")  # the store refuses the picture
    ask(window, qtbot, "what is it?")
    waits.until(qtbot, lambda: settled(window))
    assert window.prompt.toPlainText() == ""
    assert "could not be saved" in window.status_row.label.text()
    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)  # a new chat
    assert window.prompt.toPlainText() == "what is it?"
    assert window.prompt.history()[-1] == "what is it?"


def test_the_prompt_waits_while_a_conversation_is_opened(window, services, qtbot) -> None:
    picture = png_bytes(40, 30, seed=4)  # its quick actions need one
    cid = services.chat.start_conversation("saved question", picture).conversation_id
    services.store.add_message(cid, "model", "saved answer", status="final")
    window.controller.open_conversation(cid)
    assert window.prompt.isReadOnly() and not window.send_button.isEnabled()
    assert not any(chip.isEnabled() for chip in window.chip_buttons())
    waits.until(qtbot, lambda: len(window.transcript.bubbles()) == 2)
    assert not window.prompt.isReadOnly() and window.send_button.isEnabled()
    assert all(chip.isEnabled() for chip in window.chip_buttons())


def test_focus_returns_to_the_input_when_the_focused_retry_goes(window, gemini, qtbot) -> None:
    gemini.script(fg.invalid_key())
    ask(window, qtbot, "try me")
    waits.until(qtbot, lambda: window.status_row.button.isVisibleTo(window))
    retry = window.status_row.button
    retry.setFocus()  # reached with Tab
    qtbot.keyClick(retry, Qt.Key.Key_Space)  # pressed from the keyboard
    waits.until(qtbot, lambda: settled(window) and bool(answers(window)))
    assert not retry.isVisibleTo(window)
    assert window.focusWidget() is window.prompt  # typing goes on in the input


def test_focus_returns_to_the_input_when_a_focused_quick_action_greys_out(
    window, gemini, qtbot
) -> None:
    gemini.script(fg.Stall(chunks=("thinking",), seconds=30))
    chip = window.chip_buttons()[0]
    chip.setFocus()
    qtbot.keyClick(chip, Qt.Key.Key_Space)
    waits.until(qtbot, lambda: window.controller.answering_here)
    assert not chip.isEnabled()
    assert window.focusWidget() is window.prompt
    window.controller.stop()


def test_waiting_shows_one_countdown_and_send_now_says_it_tried(window, gemini, qtbot) -> None:
    gemini.script(*(fg.overloaded() for _ in range(20)))  # the provider stays down
    ask(window, qtbot, "now?")
    waits.until(qtbot, lambda: window.controller.status.kind == "waiting")
    row = window.status_row
    shown = f"{row.label.text()} {row.detail.text()}"
    assert shown.count(" s.") == 1 and "Next try in" in shown  # one live countdown
    sent = len(gemini.generate_requests())
    qtbot.mouseClick(row.button, Qt.MouseButton.LeftButton)  # "Send now"
    waits.until(qtbot, lambda: len(gemini.generate_requests()) > sent)
    waits.until(qtbot, lambda: window.controller.status.kind == "waiting")
    assert row.label.text().startswith("Tried just now, without success.")
    assert row.button.text() == "Send now"
    window.controller.shutdown()


def test_the_breaker_message_has_no_countdown_of_its_own() -> None:
    from snapask_desktop.ai import errors

    message = errors.unavailable("gemini", 5, 29.2).user_message
    assert " s." not in message and "29" not in message


# --- a new chat without a picture (issue 11, item 10) ----------------------------------------


def test_a_chat_without_a_picture_says_so_and_greys_out_picture_actions(
    window: ChatWindow, services: Services, gemini: FakeGemini, qtbot
) -> None:
    def words() -> str:
        return window.prompt.placeholderText() + " " + window.transcript.hint.text()

    chips = {chip.text(): chip for chip in window.chip_buttons()}
    assert all(chip.isEnabled() for chip in chips.values())  # a capture: every action works
    assert "picture" in words()

    window.controller.new_conversation()
    assert "the picture" not in words()
    assert not chips["Extract text"].isEnabled() and not chips["Translate"].isEnabled()
    extract = find_action("extract").render(services.settings.translate_to)
    assert not window.controller.send(extract)  # by the keyboard too: nothing goes out
    assert "capture" in window.controller.status.message
    ask(window, qtbot, "what is a monad?")  # a plain question still works
    waits.until(qtbot, lambda: settled(window))
    assert [len(sent_images_of(gemini, i)) for i in range(len(gemini.generate_requests()))] == [0]
    assert window.prompt.placeholderText() == "Ask a follow-up…"


def sent_images_of(gemini: FakeGemini, index: int) -> list[str]:
    body = gemini.generate_requests()[index].body
    return [p for turn in body["contents"] for p in turn["parts"] if "inlineData" in p]


def test_ctrl_r_after_a_full_answer_adds_nothing(window, services, gemini, qtbot) -> None:
    ask(window, qtbot, "once")
    waits.until(qtbot, lambda: settled(window) and bool(answers(window)))
    qtbot.keyClick(window.prompt, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    waits.delivered(lambda: window.controller._pool.waitForDone(waits.DEADLINE_MS))
    assert len(gemini.generate_requests()) == 1 and len(answers(window)) == 1
    assert window.controller.status.kind == "idle"


def _retry_shown(window: ChatWindow) -> bool:
    return settled(window) and window.status_row.button.isVisibleTo(window)


def test_retry_outside_the_queue_tries_at_once_past_the_providers_rest(
    window: ChatWindow, gemini: FakeGemini, qtbot
) -> None:
    # Five unreadable replies in a row (not worth queueing) make the provider rest for 30 s.
    gemini.script(*(fg.Malformed() for _ in range(6)))
    ask(window, qtbot, "what now?")
    for _failure in range(5):
        waits.until(qtbot, lambda: _retry_shown(window))
        assert window.status_row.button.text() == "Retry"
        qtbot.mouseClick(window.status_row.button, Qt.MouseButton.LeftButton)
    waits.until(qtbot, lambda: _retry_shown(window) and len(gemini.generate_requests()) == 6)
    # The sixth try went out at once (the user asked) and the line says it was tried.
    assert window.status_row.label.text().startswith("Tried again just now, without success.")
    gemini.script(fg.Reply(("Back again.",)))
    qtbot.mouseClick(window.status_row.button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: settled(window), timeout=3000)  # not after the 30 s rest
    assert len(gemini.generate_requests()) == 7
    assert answers(window)[-1].text() == "Back again."
    assert window.controller.status.kind == "idle"


def test_the_input_asks_for_a_follow_up_once_something_was_asked(
    window: ChatWindow, services: Services, gemini: FakeGemini, qtbot
) -> None:
    window.controller.new_from_picture(png_bytes(40, 30, seed=6))
    waits.until(qtbot, lambda: window.controller.has_picture)
    assert window.prompt.placeholderText() == "Ask about the picture…"
    ask(window, qtbot, "what is it?")
    assert window.prompt.placeholderText() == "Ask a follow-up…"  # at once, not at the end
    waits.until(qtbot, lambda: settled(window))
    assert window.prompt.placeholderText() == "Ask a follow-up…"
    cid = window.controller.conversation_id
    window.controller.new_conversation()
    assert window.prompt.placeholderText() == "Ask anything…"
    assert cid is not None
    window.controller.open_conversation(cid)  # reopened from History or the tray
    waits.until(qtbot, lambda: len(window.transcript.bubbles()) == 2)
    waits.until(qtbot, lambda: not window.prompt.isReadOnly())
    assert window.prompt.placeholderText() == "Ask a follow-up…"
