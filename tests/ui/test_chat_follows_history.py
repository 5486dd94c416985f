"""The chat window follows what happens to its conversation elsewhere: renamed or deleted in
History (through the app's wiring), deleted by another process; Restore brings it back."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from snapask_desktop.app import Desktop
from snapask_desktop.config import Settings
from snapask_desktop.services import Services
from snapask_desktop.ui.chat.controller import ChatController
from tests.support import waits
from tests.support.fake_gemini import FakeGemini

ID = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}")


@pytest.fixture
def desktop(qapp: QApplication, settings: Settings) -> Iterator[Desktop]:
    built = Desktop(qapp, Services(settings), [])
    try:
        yield built
    finally:
        built.shutdown()
        built.deleteLater()
        for widget in QApplication.topLevelWidgets():
            widget.hide()


def _open(qtbot: QtBot, controller: ChatController, open_it) -> None:
    with waits.signal(qtbot, controller.transcript_loaded):
        open_it()


def test_a_rename_and_a_delete_in_history_show_in_the_chat_window(
    qtbot: QtBot, desktop: Desktop
) -> None:
    store = desktop.services.lazy_store.get()
    cid = desktop.services.chat.start_conversation("what is this?", None).conversation_id
    controller = desktop.chat.controller
    _open(qtbot, controller, lambda: desktop.chat.open_conversation(cid))
    desktop.show_history()
    history = desktop._history
    assert history is not None and history.select(cid)
    history._rename(cid, "Invoice total")
    waits.until(qtbot, lambda: controller.title == "Invoice total")
    assert desktop.chat.window.windowTitle() == "SnapAsk — Invoice total"

    history._delete_current()
    waits.until(qtbot, lambda: controller.status.action == "restore")
    row = desktop.chat.window.status_row
    assert row.button.isVisible() and row.button.text() == "Restore"
    assert "deleted" in row.label.text() and not ID.search(row.label.text())
    assert not controller.send("and the tax?")  # refused with the reason, not an id
    assert controller.status.action == "restore"

    row.button.click()
    waits.until(qtbot, lambda: controller.status.action != "restore")
    assert store.get_conversation(cid).conversation.title == "Invoice total"
    assert controller.send("and the tax?")
    waits.until(qtbot, lambda: len(store.get_conversation(cid).messages) == 3)


def test_a_question_in_a_conversation_deleted_by_another_process_offers_restore(
    qtbot: QtBot, services: Services, gemini: FakeGemini
) -> None:
    controller = ChatController(services.chat, services.settings)
    try:
        cid = services.chat.start_conversation("first", None).conversation_id
        _open(qtbot, controller, lambda: controller.open_conversation(cid))
        services.store.delete_conversation(cid)  # e.g. `snapask` in a terminal: no signal
        restored: list[str] = []
        controller.question_restored.connect(restored.append)
        assert controller.send("second")
        waits.until(qtbot, lambda: controller.status.action == "restore")
        assert restored == ["second"]  # back in the box, nothing lost
        assert "deleted" in controller.status.message
        assert not ID.search(controller.status.message)
        assert controller.retry()  # Ctrl+R / the button: Restore
        waits.until(qtbot, lambda: controller.status.action != "restore")
        assert services.store.get_conversation(cid).conversation.id == cid
    finally:
        controller.shutdown()
