"""A capture added to the open conversation (real services, the fake Gemini): it goes with
the next question as that follow-up's own picture, marked up through the same path as a new
chat's, and the provider receives both pictures."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator

import pytest
from PIL import Image
from PySide6.QtCore import QRect, Qt, QThreadPool
from PySide6.QtGui import QImage

from snapask_desktop.answer_queue import Backoff
from snapask_desktop.capture.geometry import Rect
from snapask_desktop.editor.marks import EditList, Redaction
from snapask_desktop.redact.paint import FILL
from snapask_desktop.services import Services
from snapask_desktop.ui.chat.capture_flow import Picture
from snapask_desktop.ui.chat.controller import ChatController
from snapask_desktop.ui.chat.window import ChatUI, ChatWindow
from snapask_desktop.ui.window_state import WindowStateStore
from tests.capture.support.pattern import pattern_grab
from tests.store.helpers import png_bytes
from tests.support import waits
from tests.ui.test_chat_controller import idle, sent_images, stored


@pytest.fixture
def controller(services: Services, qtbot) -> Iterator[ChatController]:
    built = ChatController(
        services.chat,
        services.settings,
        pool=QThreadPool(),
        queue_backoff=Backoff(first_s=60, max_s=60),
    )
    yield built
    built.shutdown()


def opened(controller: ChatController, services: Services, qtbot) -> str:
    """A conversation with one picture, answered, open in the controller."""
    first = services.chat.start_conversation("what is this?", png_bytes(64, 48, seed=1))
    cid = first.conversation_id
    services.chat.answer(cid, provider="gemini", model="m").wait()
    with waits.signal(qtbot, controller.transcript_loaded):
        controller.open_conversation(cid)
    assert controller.can_add_picture
    return cid


def test_an_added_picture_goes_with_the_next_question(controller, services, gemini, qtbot):
    cid = opened(controller, services, qtbot)
    added: list[tuple[QImage, str]] = []
    sent: list[QImage] = []
    controller.attachment_changed.connect(lambda image, state: added.append((image, state)))
    controller.picture_sent.connect(sent.append)
    second = png_bytes(80, 60, seed=2)
    controller.add_picture(None, QImage.fromData(second), picture_id=11)
    assert controller.conversation_id == cid  # the same conversation, not a new chat
    assert controller.attachment_state == "pending" and added[-1][1] == "pending"
    assert controller.send("and this one?")  # held until its PNG is ready
    assert controller.answering_here and sent and sent[0].width() == 80
    assert controller.set_picture_bytes(second, picture_id=11)
    waits.until(qtbot, lambda: idle(controller) and controller.attachment_state == "none")

    messages = services.store.get_conversation(cid).messages
    assert [m.screenshot_sha256 is not None for m in messages] == [True, False, True, False]
    assert messages[2].screenshot_sha256 == hashlib.sha256(second).hexdigest()
    assert stored(services, cid)[-1] == ("model", "final", "You asked: and this one? [2 images].")
    assert len(sent_images(gemini)) == 2
    assert added[-1][1] == "none"  # in the thread now: the next question goes without it
    assert controller.send("and again?")
    waits.until(qtbot, lambda: idle(controller))
    assert services.store.get_conversation(cid).messages[-2].screenshot_sha256 is None


def test_an_added_picture_is_edited_like_a_new_chats(controller, services, gemini, qtbot):
    cid = opened(controller, services, qtbot)
    assert not controller.can_edit_picture  # the first picture is sent: it can't change
    second = png_bytes(80, 60, seed=2)
    shown: list[QImage] = []
    controller.attachment_changed.connect(lambda image, _state: shown.append(image))
    controller.add_picture(second, QImage.fromData(second), picture_id=12)
    assert controller.can_edit_picture and controller.unsent_picture == second
    edits = EditList()
    edits.add(Redaction((0, 0, 40, 30)))
    assert controller.set_marks(edits, controller.unsent_picture)
    waits.until(qtbot, lambda: len(shown) >= 2)  # shown as it will be sent
    assert QImage(shown[-1]).pixelColor(5, 5).getRgb()[:3] == FILL

    assert controller.send("what is hidden?")
    waits.until(qtbot, lambda: idle(controller))
    sha = services.store.get_conversation(cid).messages[2].screenshot_sha256
    kept = Image.open(io.BytesIO(services.store.screenshot_bytes(sha))).convert("RGB")
    assert kept.crop((0, 0, 40, 30)).getcolors() == [(40 * 30, FILL)]
    last = Image.open(io.BytesIO(sent_images(gemini)[-1])).convert("RGB")
    assert last.crop((0, 0, 40, 30)).getcolors() == [(40 * 30, FILL)]
    assert controller.marks == () and not controller.can_edit_picture


def test_removing_the_added_picture_sends_the_question_without_it(
    controller, services, gemini, qtbot
):
    cid = opened(controller, services, qtbot)
    controller.add_picture(png_bytes(seed=4), picture_id=13)
    controller.remove_picture()
    assert controller.attachment_state == "none" and controller.unsent_picture is None
    assert controller.send("no picture this time")
    waits.until(qtbot, lambda: idle(controller))
    assert services.store.get_conversation(cid).messages[-2].screenshot_sha256 is None
    assert len(sent_images(gemini)) == 1


def test_without_an_open_conversation_an_added_picture_starts_a_new_chat(
    controller, services, qtbot
):
    assert not controller.can_add_picture
    png = png_bytes(seed=5)
    controller.add_picture(png, picture_id=14)
    assert controller.conversation_id is None and controller.picture_state == "ready"
    assert controller.attachment_state == "none" and controller.unsent_picture == png


def test_a_question_held_for_an_added_picture_follows_it_when_the_chat_changes(
    controller, services, gemini, qtbot
):
    cid = opened(controller, services, qtbot)
    second = png_bytes(seed=6)
    controller.add_picture(None, QImage.fromData(second), picture_id=15)
    assert controller.send("held for the picture")
    controller.new_conversation()  # moved on before the PNG was ready
    assert controller.set_picture_bytes(second, picture_id=15)
    waits.until(
        qtbot,
        lambda: stored(services, cid)[-1][0] == "model" and len(stored(services, cid)) == 4,
    )
    messages = services.store.get_conversation(cid).messages
    assert messages[2].text == "held for the picture"
    assert messages[2].screenshot_sha256 == hashlib.sha256(second).hexdigest()
    assert len(services.store.list_conversations()) == 1  # no new chat was started


@pytest.fixture
def window(controller: ChatController, tmp_path, qtbot) -> Iterator[ChatWindow]:
    built = ChatWindow(controller, WindowStateStore(tmp_path / "ui-state.ini"))
    qtbot.addWidget(built)
    built.show_near(QRect(20, 20, 100, 80))
    qtbot.waitExposed(built)
    yield built
    if built.editor is not None:
        built.editor.reject()


def test_the_window_shows_the_added_picture_then_each_picture_in_the_thread(
    window: ChatWindow, controller, services, gemini, qtbot
):
    cid = opened(controller, services, qtbot)
    assert not window.attachment.isVisible() and not window.edit_button.isVisible()
    second = png_bytes(90, 50, seed=7)
    controller.add_picture(second, QImage.fromData(second), picture_id=21)
    assert window.attachment.isVisible() and window.attachment_edit.isVisible()
    assert "next question" in window.attachment_note.text()
    assert not window.edit_button.isVisible()  # the first picture is sent: not editable

    # Ctrl+E edits the added picture, not the conversation's first one.
    qtbot.keyClick(window.prompt, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    editor = window.editor
    assert editor is not None
    assert (editor.canvas.image.width(), editor.canvas.image.height()) == (90, 50)
    editor.reject()

    window.prompt.setFocus()
    qtbot.keyClicks(window.prompt, "and this?")
    qtbot.keyClick(window.prompt, Qt.Key.Key_Return)
    waits.until(qtbot, lambda: idle(controller))
    assert not window.attachment.isVisible()
    asked = window.transcript.questions()
    assert [not q.picture.isHidden() for q in asked] == [False, True]

    # Reopened, each follow-up's picture is in its bubble (the first stays above).
    controller.new_conversation()
    with waits.signal(qtbot, controller.transcript_loaded):
        controller.open_conversation(cid)
    waits.until(qtbot, lambda: len(window.transcript.questions()) == 2)
    asked = window.transcript.questions()
    assert [not q.picture.isHidden() for q in asked] == [False, True]
    assert asked[1].picture_key == hashlib.sha256(second).hexdigest()
    assert window.thumbnail.isVisible()


def test_removing_the_added_picture_in_the_window(window, controller, services, qtbot):
    opened(controller, services, qtbot)
    controller.add_picture(png_bytes(seed=8), picture_id=22)
    qtbot.mouseClick(window.attachment_remove, Qt.MouseButton.LeftButton)
    assert not window.attachment.isVisible() and controller.attachment_state == "none"


def test_a_picture_added_to_a_chat_without_one_enables_the_picture_actions(
    controller, services, qtbot
):
    first = services.chat.start_conversation("hello", None)
    services.chat.answer(first.conversation_id, provider="gemini", model="m").wait()
    with waits.signal(qtbot, controller.transcript_loaded):
        controller.open_conversation(first.conversation_id)
    assert not controller.has_picture
    controller.add_picture(png_bytes(seed=9), picture_id=31)
    assert controller.has_picture
    explain = next(a for a in controller.quick_actions() if a.key == "explain")
    assert controller.send(explain.prompt)  # refused without a picture
    waits.until(qtbot, lambda: idle(controller))
    assert services.store.get_conversation(first.conversation_id).messages[2].screenshot_sha256


def test_a_failed_added_picture_is_gone_once_the_question_goes_without_it(
    window, controller, services, gemini, qtbot
):
    cid = opened(controller, services, qtbot)
    controller.add_picture(None, QImage.fromData(png_bytes(seed=10)), picture_id=32)
    controller.picture_failed("The screenshot could not be saved (disk full).", picture_id=32)
    assert window.attachment.isVisibleTo(window) and "could not" in window.attachment_note.text()
    assert controller.send("go on")
    assert controller.attachment_state == "none" and not window.attachment.isVisibleTo(window)
    waits.until(qtbot, lambda: idle(controller))
    assert services.store.get_conversation(cid).messages[2].screenshot_sha256 is None


def test_an_added_picture_that_cannot_be_painted_stays_to_retry(
    window, controller, services, gemini, qtbot, monkeypatch
):
    import snapask_desktop.editor.render as render

    cid = opened(controller, services, qtbot)
    controller.add_picture(png_bytes(80, 60, seed=11), picture_id=33)
    edits = EditList()
    edits.add(Redaction((0, 0, 40, 30)))
    assert controller.set_marks(edits, controller.unsent_picture)
    real = render.paint_boxes

    def broken(*_args, **_kwargs):
        raise MemoryError("out of memory")

    monkeypatch.setattr(render, "paint_boxes", broken)
    assert controller.send("what is hidden?")
    waits.until(qtbot, lambda: idle(controller))
    assert controller.status.message.startswith("Nothing was sent"), controller.status
    assert len(services.store.get_conversation(cid).messages) == 2  # nothing stored
    assert len(gemini.generate_requests()) == 1  # only the first question's
    assert window.attachment.isVisibleTo(window) and controller.can_edit_picture

    monkeypatch.setattr(render, "paint_boxes", real)
    assert controller.retry()
    waits.until(qtbot, lambda: idle(controller) and controller.attachment_state == "none")
    sha = services.store.get_conversation(cid).messages[2].screenshot_sha256
    kept = Image.open(io.BytesIO(services.store.screenshot_bytes(sha))).convert("RGB")
    assert kept.crop((0, 0, 40, 30)).getcolors() == [(40 * 30, FILL)]


def test_a_new_capture_for_the_open_chat_closes_the_editor_of_the_one_it_replaces(
    services, tmp_path, qtbot
):
    chat = ChatUI(services, state=WindowStateStore(tmp_path / "ui.ini"))
    controller = chat.controller
    try:
        cid = opened(controller, services, qtbot)
        chat.window.show_near(None)
        qtbot.waitExposed(chat.window)
        assert chat.can_add_picture()
        area = Rect(0, 0, 80, 60)
        chat.add_to_open(Picture(1, pattern_grab(area), area, "region", True))
        chat.picture_encoded(1, png_bytes(80, 60, seed=1))
        waits.until(qtbot, lambda: controller.can_edit_picture)
        chat.window.edit_picture()
        editor = chat.window.editor
        assert editor is not None
        editor.edits.add(Redaction((0, 0, 10, 10)))

        chat.add_to_open(Picture(2, pattern_grab(area), area, "region", True))
        assert chat.window.editor is None and controller.marks == ()
        assert controller.attachment_state == "pending" and controller.conversation_id == cid

        services.store.delete_conversation(cid)  # in History, while the overlay was up
        controller.changed_elsewhere(cid)
        waits.until(qtbot, lambda: not controller.can_add_picture)
        chat.add_to_open(Picture(3, pattern_grab(area), area, "region", True))
        assert controller.conversation_id is None and controller.picture_state == "pending"
    finally:
        chat.shutdown()
        chat.window.hide()


def test_a_reopened_thread_keeps_thumbnails_and_shows_a_picture_at_full_size_on_click(
    window: ChatWindow, controller, services, qtbot
):
    cid = opened(controller, services, qtbot)
    big = png_bytes(1600, 900, seed=12)
    services.chat.add_question(cid, "and this big one?", big)
    controller.new_conversation()
    with waits.signal(qtbot, controller.transcript_loaded):
        controller.open_conversation(cid)
    sha = hashlib.sha256(big).hexdigest()
    kept = controller.thread_pictures[sha]
    assert kept is not None and kept.width() <= 576 and kept.height() <= 192
    waits.until(qtbot, lambda: len(window.transcript.questions()) == 2)
    bubble = window.transcript.questions()[1]
    with waits.signal(qtbot, controller.thread_picture_ready) as shown:
        qtbot.mouseClick(bubble.picture, Qt.MouseButton.LeftButton)
    assert (shown.args[0].width(), shown.args[0].height()) == (1600, 900)
    assert window.viewer is not None and window.viewer.isVisible()
    window.viewer.close()
