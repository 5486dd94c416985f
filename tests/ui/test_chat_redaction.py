"""Hiding secrets before sending, as the chat window shows it (real Tesseract, real store)."""

from __future__ import annotations

import dataclasses
import io
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QRect, Qt, QThreadPool
from PySide6.QtGui import QImage

from snapask_desktop.answer_queue import Backoff
from snapask_desktop.services import Services
from snapask_desktop.ui.chat.controller import ChatController
from snapask_desktop.ui.chat.window import ChatWindow
from snapask_desktop.ui.window_state import WindowStateStore
from tests.ocr.samples import font, render
from tests.support import waits
from tests.support.fake_gemini import FakeGemini
from tests.ui.test_chat_local_read import dialog_png


def open_window(services: Services, png: bytes, tmp_path: Path, qtbot) -> ChatWindow:
    # A pool of its own: fresh threads, so no Tesseract instance is cached from another test.
    controller = ChatController(
        services.chat,
        services.settings,
        pool=QThreadPool(),
        queue_backoff=Backoff(first_s=60, max_s=60),
    )
    built = ChatWindow(controller, WindowStateStore(tmp_path / "ui-state.ini"))
    qtbot.addWidget(built)
    controller.new_from_picture(png, QImage.fromData(png))
    built.show_near(QRect(20, 20, 100, 80))
    qtbot.waitExposed(built)
    return built


@pytest.fixture
def redacting(services: Services) -> Services:
    services.apply_settings(dataclasses.replace(services.settings, redact_secrets=True))
    return services


@pytest.fixture
def window(redacting: Services, tmp_path: Path, qtbot) -> Iterator[ChatWindow]:
    built = open_window(redacting, dialog_png(), tmp_path, qtbot)
    yield built
    built.controller.shutdown()


def ask(window: ChatWindow, qtbot, text: str) -> None:
    window.prompt.setFocus()
    qtbot.keyClicks(window.prompt, text)
    qtbot.keyClick(window.prompt, Qt.Key.Key_Return)


def settled(window: ChatWindow) -> bool:
    c = window.controller
    return not c.answering_here and c.status.kind in ("idle", "error")


def test_a_failed_redaction_says_nothing_was_sent_why_and_how_to_fix_it(
    window, redacting, gemini: FakeGemini, qtbot, monkeypatch: pytest.MonkeyPatch
):
    import tesserocr

    monkeypatch.setitem(sys.modules, "tesserocr", None)  # the [ocr] extra is not installed
    ask(window, qtbot, "what does it say?")
    waits.until(qtbot, lambda: settled(window))
    line = window.controller.status
    assert line.message.startswith("Nothing was sent:")
    assert "Something went wrong" not in line.message + line.detail
    assert "Install the OCR extra" in line.message and "Settings → General" in line.message
    assert "pip install 'snapask-desktop[ocr]'" in line.detail  # why, in the engine's words
    assert line.action == "retry" and line.settings_page == "general"
    assert window.status_row.settings_button.isVisibleTo(window)
    assert window.status_row.detail.isVisibleTo(window)
    assert gemini.generate_requests() == []
    assert window.controller.conversation_id is None  # nothing stored either
    assert redacting.store.list_conversations() == []

    # The extra installed: Retry sends the same question, redacted first.
    monkeypatch.setitem(sys.modules, "tesserocr", tesserocr)
    assert window.controller.retry()
    waits.until(qtbot, lambda: settled(window))
    assert window.controller.status.kind == "idle", window.controller.status
    assert len(gemini.generate_requests()) == 1


def secrets_png() -> bytes:
    lines = ["Deploy notes", "contact jane.doe@example.com", "db_password = Tr0ub4dor-horse"]
    out = io.BytesIO()
    render(lines, font("SansMono", 13)).save(out, "PNG")
    return out.getvalue()


def test_painted_secrets_are_told_and_the_picture_shown_is_the_one_sent(
    redacting, gemini: FakeGemini, tmp_path: Path, qtbot
):
    original = secrets_png()
    window = open_window(redacting, original, tmp_path, qtbot)
    try:
        ask(window, qtbot, "what is this?")
        waits.until(
            qtbot,
            lambda: settled(window) and "hidden" in window.picture_note.text(),
        )
        assert window.picture_note.text() == (
            "2 secrets were hidden before sending. The picture shows what was sent."
        )
        cid = window.controller.conversation_id
        sha = redacting.store.get_conversation(cid).messages[0].screenshot_sha256
        sent = redacting.store.screenshot_bytes(sha)
        assert sent != original  # painted
        assert len(gemini.generate_requests()) == 1
        window.show_picture()  # the viewer shows exactly the stored (and sent) picture
        assert window.viewer is not None
        assert window._image == QImage.fromData(sent)
    finally:
        window.controller.shutdown()


def test_a_picture_without_secrets_says_nothing(window, gemini: FakeGemini, qtbot):
    ask(window, qtbot, "what is this?")
    waits.until(qtbot, lambda: settled(window) and len(gemini.generate_requests()) == 1)
    waits.delivered(lambda: window.controller._pool.waitForDone(waits.DEADLINE_MS))
    assert window.picture_note.text() == ""


def test_secrets_in_a_picture_added_to_the_conversation_are_hidden_and_told_there(
    redacting, gemini: FakeGemini, tmp_path: Path, qtbot
):
    first = redacting.chat.start_conversation("hello", None)
    cid = first.conversation_id
    redacting.chat.answer(cid, provider="gemini", model="m").wait()
    window = open_window(redacting, dialog_png(), tmp_path, qtbot)
    controller = window.controller
    try:
        with waits.signal(qtbot, controller.transcript_loaded):
            controller.open_conversation(cid)
        original = secrets_png()
        controller.add_picture(original, QImage.fromData(original), picture_id=41)
        ask(window, qtbot, "and this?")
        follow_up = window.transcript.questions()[-1]
        waits.until(qtbot, lambda: settled(window) and bool(follow_up.picture_note.text()))
        assert follow_up.picture_note.text() == (
            "2 secrets were hidden before sending. The picture shows what was sent."
        )
        assert window.picture_note.text() == ""  # not the conversation's picture above
        sha = redacting.store.get_conversation(cid).messages[2].screenshot_sha256
        assert redacting.store.screenshot_bytes(sha) != original  # painted
    finally:
        controller.shutdown()
