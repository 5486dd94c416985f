""" "Extract text" read on this device (real Tesseract, real store, the fake Gemini)."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QRect, QThreadPool
from PySide6.QtGui import QGuiApplication, QImage

from snapask_desktop.answer_queue import Backoff
from snapask_desktop.config import Settings
from snapask_desktop.local_read import NO_TEXT
from snapask_desktop.services import Services
from snapask_desktop.store.records import Message
from snapask_desktop.ui.chat.controller import ChatController
from snapask_desktop.ui.chat.widgets import Transcript
from snapask_desktop.ui.chat.window import ChatWindow
from snapask_desktop.ui.window_state import WindowStateStore
from tests.ocr.samples import DIALOG, cer, font, render
from tests.store.helpers import png_bytes
from tests.support import waits
from tests.support.fake_gemini import FakeGemini

MAX_CER = 0.02  # the bar for clear text (tests/ocr)


def dialog_png() -> bytes:
    out = io.BytesIO()
    render(DIALOG, font("Sans", 13)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def window(services: Services, tmp_path: Path, qtbot) -> Iterator[ChatWindow]:
    # A pool of its own: fresh threads, so no Tesseract instance is cached from another test.
    controller = ChatController(
        services.chat,
        services.settings,
        pool=QThreadPool(),
        queue_backoff=Backoff(first_s=60, max_s=60),
    )
    built = ChatWindow(controller, WindowStateStore(tmp_path / "ui-state.ini"))
    qtbot.addWidget(built)
    png = dialog_png()
    controller.new_from_picture(png, QImage.fromData(png))
    built.show_near(QRect(20, 20, 100, 80))
    qtbot.waitExposed(built)
    yield built
    controller.shutdown()


def chip(window: ChatWindow, label: str):
    return next(c for c in window.chip_buttons() if c.text() == label)


def settled(window: ChatWindow) -> bool:
    c = window.controller
    return not c.answering_here and c.status.kind in ("idle", "error")


def stored(services: Services, window: ChatWindow) -> list[tuple[str, str | None, str]]:
    cid = window.controller.conversation_id
    assert cid is not None
    messages = services.store.get_conversation(cid).messages
    return [(m.role, m.model, m.text) for m in messages]


def test_extract_text_is_read_here_without_the_ai(window, services, gemini: FakeGemini, qtbot):
    finished: list[tuple[str, str]] = []
    window.controller.answer_finished.connect(lambda *args: finished.append(args))
    chip(window, "Extract text").click()
    # Read on a worker: the click returned before any result could reach the window.
    assert window.controller.answering_here and finished == []
    assert window.controller.status.message.startswith("Reading the text on this device")
    assert window.busy.isVisibleTo(window) and window.send_button.text() == "Stop"
    assert window.transcript.answers()[-1].waiting.text() == "Reading the text on this device…"
    waits.until(qtbot, lambda: settled(window))

    assert gemini.generate_requests() == []  # no provider, no network
    (question, answer) = stored(services, window)
    assert question[0] == "user" and answer[0] == "model"
    assert answer[1] is not None and answer[1].startswith("local:tesseract")
    assert cer("\n".join(DIALOG), answer[2]) <= MAX_CER, answer[2]
    assert window.controller.status.kind == "idle"
    bubble = window.transcript.answers()[-1]
    assert bubble.note.text().startswith("Read on this device (tesseract")
    bubble.copy()  # the plain text, line breaks and all (not Markdown, not a code fence)
    assert QGuiApplication.clipboard().text() == answer[2]
    # The picture's text is kept for search too.
    sha = services.store.get_conversation(window.controller.conversation_id).messages[0]
    assert sha.screenshot_sha256 is not None
    assert services.store.screenshot_text(sha.screenshot_sha256) == answer[2]

    with waits.signal(qtbot, window.controller.transcript_loaded):
        window.controller.open_conversation(window.controller.conversation_id)
    reopened = window.transcript.answers()[-1]
    assert reopened.note.text().startswith("Read on this device")
    assert reopened.text() == answer[2]


def test_without_the_engine_it_says_what_to_install_and_offers_the_ai(
    window, services, gemini: FakeGemini, qtbot, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setitem(sys.modules, "tesserocr", None)  # the [ocr] extra is not installed
    chip(window, "Extract text").click()
    waits.until(qtbot, lambda: settled(window))
    line = window.controller.status
    assert line.kind == "error" and line.action == "ask_ai"
    assert "OCR engine is missing" in line.message
    assert "pip install 'snapask-desktop[ocr]'" in line.detail
    assert window.status_row.button.text() == "Ask the AI"
    assert gemini.generate_requests() == []
    assert [m[0] for m in stored(services, window)] == ["user"]  # kept, unanswered

    window.status_row.button.click()
    waits.until(qtbot, lambda: settled(window) and len(stored(services, window)) == 2)
    assert len(gemini.generate_requests()) == 1  # the picture went to the AI, as asked
    answer = stored(services, window)[-1]
    assert answer[0] == "model" and not (answer[1] or "").startswith("local:")
    assert window.transcript.answers()[-1].note.text() == ""


def test_stop_drops_the_reading(window, services, gemini: FakeGemini, qtbot):
    chip(window, "Extract text").click()
    window.controller.stop()  # before the reading can have ended (it takes 100s of ms)
    waits.until(qtbot, lambda: settled(window))
    assert [m[0] for m in stored(services, window)] == ["user"]
    assert window.controller.status.message == "Stopped: the text was not read."
    assert window.transcript.answers() == [] or not window.transcript.answers()[-1].text()
    assert gemini.generate_requests() == []


def test_extract_text_needs_no_provider_key_and_no_network(
    tmp_path: Path, qtbot, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)  # no key at all
    # A provider address nothing listens on: any request would fail.
    settings = Settings(gemini_base_url="http://127.0.0.1:9", max_retries=0)
    with Services(settings, data_dir=tmp_path / "data") as services:
        controller = ChatController(services.chat, settings, pool=QThreadPool())
        try:
            png = dialog_png()
            controller.new_from_picture(png, QImage.fromData(png))
            extract = next(a for a in controller.quick_actions() if a.key == "extract")
            assert controller.send(extract.prompt)
            waits.until(qtbot, lambda: not controller.answering_here)
            assert controller.status.kind == "idle", controller.status
            messages = services.store.get_conversation(controller.conversation_id).messages
            assert [m.role for m in messages] == ["user", "model"]
            assert cer("\n".join(DIALOG), messages[1].text) <= MAX_CER
        finally:
            controller.shutdown()


def reading(device_id: str, text: str = "Total: 12.00") -> Message:
    return Message(
        id=f"m-{device_id}",
        conversation_id="c",
        role="model",
        text=text,
        model="local:tesseract 5.5.4",
        status="final",
        screenshot_sha256=None,
        hlc=1,
        device_id=device_id,
        created_at=0,
    )


def test_a_synced_reading_says_which_device_read_it(qtbot) -> None:
    transcript = Transcript()
    qtbot.addWidget(transcript)
    transcript.device_id = "laptop"
    transcript.show_messages((reading("laptop"), reading("desktop", "*not Markdown*")))
    here, there = transcript.answers()
    assert here.note.text() == "Read on this device (tesseract 5.5.4), not by an AI"
    assert there.note.text() == "Read on another device (tesseract 5.5.4), not by an AI"
    assert there.text() == "*not Markdown*"  # kept verbatim, shown as a code block
    assert "*not Markdown*" in there.view.toPlainText()  # Markdown would drop the stars


def test_a_picture_without_text_is_said_plainly(services, gemini: FakeGemini, tmp_path, qtbot):
    controller = ChatController(services.chat, services.settings, pool=QThreadPool())
    try:
        blank = png_bytes(200, 80, seed=0)  # a plain colour and a few dots, no letters
        controller.new_from_picture(blank, QImage.fromData(blank))
        extract = next(a for a in controller.quick_actions() if a.key == "extract")
        assert controller.send(extract.prompt)
        waits.until(qtbot, lambda: not controller.answering_here)
        messages = services.store.get_conversation(controller.conversation_id).messages
        assert messages[-1].text == NO_TEXT
        assert gemini.generate_requests() == []
    finally:
        controller.shutdown()
