"""Hiding parts of a picture and marking it up in the chat window before sending (real
Tesseract, real store, the fake Gemini endpoint): what the provider receives and what is
stored hold no pixel of a hidden part, and a failure sends nothing."""

from __future__ import annotations

import base64
import dataclasses
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import QPoint, QPointF, QRect, Qt, QThreadPool
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication

from snapask_desktop.answer_queue import Backoff
from snapask_desktop.editor.marks import Arrow, Frame, Highlight, Label, Redaction
from snapask_desktop.redact.paint import FILL, png_bytes
from snapask_desktop.services import Services
from snapask_desktop.ui.chat.controller import ChatController
from snapask_desktop.ui.chat.editor import EditorCanvas, PictureEditor, size_text
from snapask_desktop.ui.chat.window import ChatWindow
from snapask_desktop.ui.window_state import WindowStateStore
from tests.redact.screens import SecretScreen, secret_screen
from tests.support import waits
from tests.support.fake_gemini import FakeGemini

USER_BOX = (14, 14, 90, 26)  # drawn by hand over the start of the first line ("OPENAI_KEY")


@pytest.fixture(scope="module")
def screen() -> SecretScreen:
    return secret_screen(13)


def open_window(services: Services, png: bytes, tmp_path: Path, qtbot) -> ChatWindow:
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
def window(services: Services, screen: SecretScreen, tmp_path: Path, qtbot) -> Iterator[ChatWindow]:
    built = open_window(services, png_bytes(screen.image), tmp_path, qtbot)
    yield built
    if built.editor is not None:
        built.editor.reject()
    built.controller.shutdown()


def drag(qtbot, canvas: EditorCanvas, box: tuple[int, int, int, int]) -> None:
    """Drag over the image pixels of `box` (left, top, right, bottom) with the mouse."""
    view = canvas.view()
    start = QPointF(*view.to_widget(box[0], box[1]))
    end = QPointF(*view.to_widget(box[2], box[3]))
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=start.toPoint())
    qtbot.mouseMove(canvas, pos=((start + end) / 2).toPoint())
    qtbot.mouseMove(canvas, pos=end.toPoint())
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=end.toPoint())


def open_editor(window: ChatWindow, qtbot) -> PictureEditor:
    waits.until(qtbot, lambda: window.edit_button.isVisible())
    qtbot.keyClick(window.prompt, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    editor = window.editor
    assert editor is not None
    qtbot.waitExposed(editor)
    editor.resize(1000, 800)  # room for the picture at its own size: one pixel per pixel
    waits.until(qtbot, lambda: QApplication.activeWindow() is editor)  # its keys work
    waits.until(qtbot, lambda: editor.canvas.view().scale == 1)
    return editor


def ask(window: ChatWindow, qtbot, text: str) -> None:
    window.prompt.setFocus()
    qtbot.keyClicks(window.prompt, text)
    qtbot.keyClick(window.prompt, Qt.Key.Key_Return)


def settled(window: ChatWindow) -> bool:
    c = window.controller
    return not c.answering_here and c.status.kind in ("idle", "error")


def sent_pictures(gemini: FakeGemini) -> list[tuple[str, Image.Image]]:
    out = []
    for request in gemini.generate_requests():
        for content in request.body["contents"]:
            for part in content.get("parts", []):
                if "inlineData" in part:
                    data = base64.urlsafe_b64decode(part["inlineData"]["data"])
                    picture = Image.open(io.BytesIO(data)).convert("RGB")
                    inline = part["inlineData"]
                    out.append((inline.get("mimeType") or inline.get("mime_type"), picture))
    return out


def unpainted(image: Image.Image, box: tuple[int, int, int, int]) -> list[tuple[int, int]]:
    left, top, right, bottom = box
    return [
        (x, y)
        for y in range(top, bottom)
        for x in range(left, right)
        if image.getpixel((x, y)) != FILL
    ]


def test_hidden_parts_never_reach_the_provider_or_the_store(
    window: ChatWindow, services: Services, screen: SecretScreen, gemini: FakeGemini, qtbot
):
    original = png_bytes(screen.image)
    editor = open_editor(window, qtbot)
    waits.until(qtbot, lambda: editor.accept_button.isVisible())  # suggestions found
    assert "like a secret" in editor.suggestion_note.text()
    qtbot.keyClick(editor, Qt.Key.Key_Return)  # one key hides them all
    assert not editor.canvas.pending and not editor.accept_button.isVisible()
    qtbot.keyClick(editor, Qt.Key.Key_R)
    drag(qtbot, editor.canvas, USER_BOX)
    assert editor.edits.marks[-1] == Redaction(USER_BOX)
    assert not editor.keep_original.isChecked()  # the original is not kept unless asked
    qtbot.keyClick(editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)  # Done
    assert window.editor is None
    hidden = len(editor.edits.marks)
    assert window.picture_note.text() == f"{hidden} hidden. Shown as it will be sent."

    ask(window, qtbot, "what is on this screen?")
    waits.until(qtbot, lambda: settled(window) and len(gemini.generate_requests()) == 1)
    assert window.controller.status.kind == "idle", window.controller.status

    ((mime, sent),) = sent_pictures(gemini)
    assert mime == "image/png" and sent.size == screen.image.size  # exact pixels to compare
    for kind, secret, ink in [*screen.secrets, ("hand-drawn", "OPENAI_KEY", USER_BOX)]:
        leaked = unpainted(sent, ink)
        assert not leaked, f"{kind} {secret!r}: {len(leaked)} pixels sent, e.g. {leaked[:3]}"
    # Only the hidden parts changed: a pixel outside every box is the original's.
    assert sent.getpixel((screen.image.width - 2, 2)) == screen.image.getpixel(
        (screen.image.width - 2, 2)
    )

    store = services.store
    (message,) = [
        m
        for m in store.get_conversation(window.controller.conversation_id).messages
        if m.screenshot_sha256
    ]
    kept = store.screenshot_bytes(message.screenshot_sha256)
    assert Image.open(io.BytesIO(kept)).convert("RGB").tobytes() == sent.tobytes()
    # The original is nowhere in the data folder (the blob store and the database).
    data_dir = services.data_dir
    files = [p for p in Path(data_dir).rglob("*") if p.is_file()]
    assert files and not any(original in p.read_bytes() for p in files)


def test_always_ask_opens_the_editor_with_suggestions_and_sends_after_review(
    services: Services, screen: SecretScreen, gemini: FakeGemini, tmp_path: Path, qtbot
):
    services.apply_settings(
        dataclasses.replace(services.settings, ask_before_suggested_redaction=True)
    )
    window = open_window(services, png_bytes(screen.image), tmp_path, qtbot)
    try:
        ask(window, qtbot, "is this safe to share?")
        waits.until(qtbot, lambda: window.editor is not None)
        editor = window.editor
        assert editor is not None and editor.done_button.text() == "Send as shown"
        assert gemini.generate_requests() == []  # nothing went out
        assert window.prompt.toPlainText() == "is this safe to share?"  # still in the box
        waits.until(qtbot, lambda: editor.accept_button.isVisible())
        qtbot.keyClick(editor, Qt.Key.Key_Return)  # hide the suggested parts
        qtbot.keyClick(editor, Qt.Key.Key_Return)  # nothing left to hide: Send
        waits.until(qtbot, lambda: settled(window) and len(gemini.generate_requests()) == 1)
        ((_mime, sent),) = sent_pictures(gemini)
        for kind, secret, ink in screen.secrets:
            assert not unpainted(sent, ink), f"{kind} {secret!r} was sent"
        assert window.prompt.toPlainText() == ""
    finally:
        window.controller.shutdown()


def test_cancelling_the_review_sends_nothing_and_keeps_the_question(
    services: Services, screen: SecretScreen, gemini: FakeGemini, tmp_path: Path, qtbot
):
    services.apply_settings(
        dataclasses.replace(services.settings, ask_before_suggested_redaction=True)
    )
    window = open_window(services, png_bytes(screen.image), tmp_path, qtbot)
    try:
        ask(window, qtbot, "and this?")
        waits.until(qtbot, lambda: window.editor is not None)
        editor = window.editor
        qtbot.keyClick(editor, Qt.Key.Key_Escape)
        waits.until(qtbot, lambda: window.editor is None)
        assert window.controller.status.message.startswith("Not sent.")
        assert window.prompt.toPlainText() == "and this?"
        assert gemini.generate_requests() == [] and services.store.list_conversations() == []
    finally:
        window.controller.shutdown()


def test_without_suggestions_always_ask_sends_at_once(
    services: Services, gemini: FakeGemini, tmp_path: Path, qtbot
):
    services.apply_settings(
        dataclasses.replace(services.settings, ask_before_suggested_redaction=True)
    )
    plain = png_bytes(Image.new("RGB", (200, 80), "white"))
    window = open_window(services, plain, tmp_path, qtbot)
    try:
        ask(window, qtbot, "anything here?")
        waits.until(qtbot, lambda: settled(window) and len(gemini.generate_requests()) == 1)
        assert window.editor is None
    finally:
        window.controller.shutdown()


def test_what_will_be_sent_is_the_exact_picture_and_its_size(
    window: ChatWindow, services: Services, screen: SecretScreen, qtbot
):
    editor = open_editor(window, qtbot)
    drag(qtbot, editor.canvas, USER_BOX)
    prepared = services.chat.picture_to_send(
        png_bytes(screen.image), editor.edits.marks, services.settings.provider
    )
    expected = size_text(prepared.width, prepared.height, len(prepared.data), prepared.mime)
    waits.until(qtbot, lambda: editor.sent_size.text() == expected)
    assert editor.sent_bytes == prepared.data  # shown: the very bytes the provider gets
    assert not editor.sent_image.pixmap().isNull()
    assert f"{screen.image.width} × {screen.image.height} px" in expected
    decoded = Image.open(io.BytesIO(prepared.data)).convert("RGB")
    assert not unpainted(decoded, USER_BOX)
    assert not window.original_button.isVisible()  # nothing was kept


def test_tools_undo_and_redo_by_key(window: ChatWindow, qtbot):
    editor = open_editor(window, qtbot)
    canvas = editor.canvas
    for key, box in ((Qt.Key.Key_B, (20, 40, 80, 70)), (Qt.Key.Key_H, (100, 40, 160, 60))):
        qtbot.keyClick(editor, key)
        drag(qtbot, canvas, box)
    qtbot.keyClick(editor, Qt.Key.Key_A)
    drag(qtbot, canvas, (200, 100, 150, 60))
    qtbot.keyClick(editor, Qt.Key.Key_T)
    view = canvas.view()
    qtbot.mouseClick(
        canvas, Qt.MouseButton.LeftButton, pos=QPoint(*map(round, view.to_widget(30, 120)))
    )
    assert canvas.tool == "label", canvas.tool
    assert canvas.label_edit.isVisible()
    qtbot.keyClicks(canvas.label_edit, "this one?")
    qtbot.keyClick(canvas.label_edit, Qt.Key.Key_Return)
    assert editor.isVisible()  # Enter in the label only commits the label
    kinds = [type(mark) for mark in editor.edits.marks]
    assert kinds == [Frame, Highlight, Arrow, Label]
    assert editor.edits.marks[-1].text == "this one?"
    assert editor.edits.marks[0].box == (20, 40, 80, 70)
    qtbot.keyClick(editor, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(editor, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert [type(m) for m in editor.edits.marks] == [Frame, Highlight]
    qtbot.keyClick(editor, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert [type(m) for m in editor.edits.marks] == [Frame, Highlight, Arrow]
    qtbot.keyClick(editor, Qt.Key.Key_Escape)  # Cancel: the chat's marks stay as they were
    waits.until(qtbot, lambda: window.editor is None)
    assert window.controller.marks == ()


def test_a_picture_that_cannot_be_painted_sends_nothing(
    window: ChatWindow, services: Services, gemini: FakeGemini, qtbot, monkeypatch
):
    import snapask_desktop.editor.render as render

    editor = open_editor(window, qtbot)
    drag(qtbot, editor.canvas, USER_BOX)
    qtbot.keyClick(editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    waits.delivered(lambda: window.controller._pool.waitForDone(waits.DEADLINE_MS))

    def broken(*_args, **_kwargs):
        raise MemoryError("out of memory")

    monkeypatch.setattr(render, "paint_boxes", broken)
    ask(window, qtbot, "what is this?")
    waits.until(qtbot, lambda: settled(window))
    line = window.controller.status
    assert line.message.startswith("Nothing was sent: your redactions"), line
    assert "out of memory" in line.detail.lower() and line.action == "retry"
    assert gemini.generate_requests() == [] and services.store.list_conversations() == []
    assert window.controller.conversation_id is None


def test_a_new_capture_while_editing_closes_the_editor_and_its_marks_stay_with_their_picture(
    window: ChatWindow, screen: SecretScreen, qtbot
):
    editor = open_editor(window, qtbot)
    drag(qtbot, editor.canvas, USER_BOX)
    other = png_bytes(Image.new("RGB", (300, 200), "white"))
    window.controller.new_from_picture(other, QImage.fromData(other))  # the next capture
    assert window.editor is None and not editor.isVisible()
    editor.accept()  # even if it were accepted now, the new picture takes no old marks
    assert window.controller.marks == ()
    assert window.controller.unsent_picture == other


def test_always_ask_waits_for_a_picture_still_being_prepared(
    services: Services, screen: SecretScreen, gemini: FakeGemini, tmp_path: Path, qtbot
):
    services.apply_settings(
        dataclasses.replace(services.settings, ask_before_suggested_redaction=True)
    )
    controller = ChatController(services.chat, services.settings, pool=QThreadPool())
    window = ChatWindow(controller, WindowStateStore(tmp_path / "ui-state.ini"))
    qtbot.addWidget(window)
    png = png_bytes(screen.image)
    controller.new_from_picture(None, QImage.fromData(png), picture_id=7)  # PNG on its way
    window.show_near(QRect(20, 20, 100, 80))
    try:
        ask(window, qtbot, "what is this?")
        assert window.prompt.toPlainText() == "what is this?"  # held back, not sent
        assert controller.status.message.startswith("Looking for secrets")
        controller.set_picture_bytes(png, picture_id=7)
        waits.until(qtbot, lambda: window.editor is not None)
        assert gemini.generate_requests() == [] and services.store.list_conversations() == []
    finally:
        if window.editor is not None:
            window.editor.reject()
        controller.shutdown()


def test_enter_on_a_focused_button_presses_that_button(window: ChatWindow, qtbot):
    editor = open_editor(window, qtbot)
    drag(qtbot, editor.canvas, USER_BOX)
    editor.cancel_button.setFocus()
    qtbot.keyClick(editor.cancel_button, Qt.Key.Key_Return)
    waits.until(qtbot, lambda: window.editor is None)
    assert window.controller.marks == ()  # cancelled, not done


def test_the_original_is_kept_here_when_asked(
    window: ChatWindow, services: Services, screen: SecretScreen, gemini: FakeGemini, qtbot
):
    editor = open_editor(window, qtbot)
    drag(qtbot, editor.canvas, USER_BOX)
    qtbot.keyClick(editor, Qt.Key.Key_K)
    assert editor.keep_original.isChecked()
    qtbot.keyClick(editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert window.controller.keep_original
    ask(window, qtbot, "what is this?")
    waits.until(qtbot, lambda: settled(window) and len(gemini.generate_requests()) == 1)
    store = services.store
    message = store.get_conversation(window.controller.conversation_id).messages[0]
    assert store.original_bytes(message.screenshot_sha256) == png_bytes(screen.image)
    ((_mime, sent),) = sent_pictures(gemini)
    assert not unpainted(sent, USER_BOX)  # what was sent is still the painted picture

    # It can be seen again here, also when the conversation is reopened.
    waits.until(qtbot, lambda: window.original_button.isVisible())
    qtbot.mouseClick(window.original_button, Qt.MouseButton.LeftButton)
    waits.until(qtbot, lambda: window.original_viewer is not None)
    shown = window.original_viewer.label.pixmap().toImage()
    assert (shown.width(), shown.height()) == screen.image.size
    cid = window.controller.conversation_id
    window.controller.new_conversation()
    assert not window.original_button.isVisible()
    window.controller.open_conversation(cid)
    waits.until(qtbot, lambda: window.original_button.isVisible())
