"""The tray app's own rules, on the real Desktop offscreen: hotkey pausing, our windows hidden
while capturing, a damaged store reported, message boxes kept."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from snapask_desktop.app import Desktop
from snapask_desktop.config import Settings
from snapask_desktop.services import Services
from snapask_desktop.ui.shell.tray import TrayState
from tests.support import fake_gemini as fg
from tests.support import waits
from tests.ui.fresh_app import run_fresh_app


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


def test_recording_a_hotkey_does_not_undo_the_users_pause(desktop: Desktop) -> None:
    desktop.tray.actions["pause"].trigger()  # the user pauses from the tray
    assert desktop.hotkeys.paused and desktop.tray.actions["pause"].isChecked()
    desktop._recording_changed(True)
    desktop._recording_changed(False)  # recording ends: the user's pause must stay
    assert desktop.hotkeys.paused
    desktop.tray.actions["pause"].trigger()
    assert not desktop.hotkeys.paused and not desktop.tray.actions["pause"].isChecked()
    desktop._recording_changed(True)
    assert desktop.hotkeys.paused  # while recording, the old combination must not capture
    desktop._recording_changed(False)
    assert not desktop.hotkeys.paused


def test_our_windows_are_hidden_for_a_capture_and_come_back(qtbot: QtBot, desktop: Desktop) -> None:
    other = QWidget()
    other.setWindowTitle("SnapAsk — History")
    qtbot.addWidget(other)
    desktop._history = other  # stands in for the History window
    other.show()
    bystander = QWidget()  # not ours to hide (like Qt's own X11 tray icon window)
    qtbot.addWidget(bystander)
    bystander.show()
    assert desktop._hide_own_windows() is True
    assert not other.isVisible() and bystander.isVisible()
    desktop.capture.cancelled.emit()  # the capture ended (here: cancelled)
    assert other.isVisible()
    assert desktop._hidden_for_capture == []
    desktop._history = None  # the stand-in has no shutdown()


def test_damaged_store_is_reported_when_it_opens(
    qtbot: QtBot, desktop: Desktop, isolated_env: Path
) -> None:
    data = isolated_env / "data"
    data.mkdir(parents=True, exist_ok=True)
    (data / "snapask.db").write_bytes(b"not a database" * 100)
    told: list[tuple[str, str]] = []
    desktop._tell = lambda title, message, problem=False: told.append((title, message))
    desktop.services.lazy_store.get()  # opening happens on whichever thread asks first
    waits.until(qtbot, lambda: bool(told))
    title, message = told[0]
    assert "damaged" in title and "kept as" in message


def test_every_message_box_stays_until_closed(desktop: Desktop) -> None:
    desktop.tray.hide()  # no tray: problems are shown in boxes
    for n in range(3):
        desktop._tell(f"Problem {n}", "details", problem=True)
    titles = [b.windowTitle() for b in desktop._boxes if b.isVisible()]
    assert titles == ["Problem 0", "Problem 1", "Problem 2"]
    desktop._boxes[0].done(0)
    assert [b.windowTitle() for b in desktop._boxes] == ["Problem 1", "Problem 2"]


def test_an_unusable_environment_override_is_told_not_fatal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from snapask_desktop.app import load_settings
    from snapask_desktop.config import SettingsStore

    SettingsStore().update(openai_model="qwen2.5vl")
    monkeypatch.setenv("SNAPASK_OPENAI_BASE_URL", "localhost:11434")  # no scheme: unusable
    settings, problems = load_settings()
    assert settings.openai_model == "qwen2.5vl"  # the file's settings still apply
    assert settings.openai_base_url == Settings().openai_base_url
    assert len(problems) == 1 and "SNAPASK_OPENAI_BASE_URL" in problems[0]


def test_the_tray_menu_and_the_launcher_do_the_same(desktop: Desktop) -> None:
    desktop._show_launcher()  # as on a desktop without a system tray
    launcher = desktop.launcher
    assert launcher is not None
    for new_chat, settings in (
        (desktop.tray.actions["new_chat"].trigger, desktop.tray.actions["settings"].trigger),
        (launcher.buttons["new_chat"].click, launcher.buttons["settings"].click),
    ):
        new_chat()
        assert desktop.chat.window.isVisible()
        settings()
        assert desktop._settings_dialog is not None and desktop._settings_dialog.isVisible()
        desktop.chat.hide_windows()
        desktop._settings_dialog.hide()


def test_hotkeys_that_stop_are_shown_in_the_tray_with_a_way_back(desktop: Desktop) -> None:
    told: list[str] = []
    desktop._tell = lambda title, message, problem=False: told.append(message)
    retry = desktop.tray.actions["hotkeys_retry"]
    assert not retry.isVisible() and desktop.tray.actions["pause"].isVisible()
    desktop.hotkeys.failed.emit("Global hotkeys stopped working (ConnectionClosedError).")
    assert desktop.tray.state is TrayState.PROBLEM
    assert "stopped working" in desktop.tray.detail
    assert told == ["Global hotkeys stopped working (ConnectionClosedError)."]
    assert retry.isVisible() and not desktop.tray.actions["pause"].isVisible()
    assert "turn them on again" in retry.text()
    # Here (no X server) starting again fails too: the menu keeps saying so, with the new reason.
    retry.trigger()
    assert retry.isVisible() and "X display" in desktop.tray.detail
    desktop._hotkeys_failed("", quiet=True)  # what a successful start does
    assert not retry.isVisible() and desktop.tray.state is TrayState.IDLE


@pytest.mark.parametrize("ending", ["cancelled", "failed"])
def test_a_capture_without_a_picture_brings_the_chat_window_back(
    qtbot: QtBot, desktop: Desktop, ending: str
) -> None:
    desktop.chat.new_chat()
    window = desktop.chat.window
    waits.until(qtbot, window.isVisible)
    assert desktop._hide_own_windows() is True
    assert not window.isVisible()
    if ending == "cancelled":
        desktop.capture.cancelled.emit()  # Esc in the overlay
    else:
        desktop.capture.failed.emit("The screen could not be read.")
    assert window.isVisible()


def test_settings_from_a_key_error_opens_the_api_key_page(desktop: Desktop) -> None:
    desktop.show_settings()
    dialog = desktop._settings_dialog
    dialog.show_page("hotkeys")  # the page visited last
    dialog.hide()
    desktop.chat.settings_requested.emit("api_key")  # "Settings…" beside "rejected the API key"
    assert dialog.isVisible()
    assert dialog.stack.currentWidget() is dialog.page("api_key")


def test_the_tray_tooltip_says_when_no_api_key_is_set(
    qtbot: QtBot, desktop: Desktop, monkeypatch: pytest.MonkeyPatch
) -> None:
    from snapask_desktop import credentials
    from snapask_desktop.ui.shell.tray import NO_KEY_NOTICE

    monkeypatch.delenv("GEMINI_API_KEY")
    desktop.start()  # the keyring is asked on a worker: the tray is up before the answer
    waits.until(qtbot, lambda: desktop.tray.tooltip().endswith(NO_KEY_NOTICE))
    assert desktop._welcome is not None and desktop._welcome.isVisible()  # and the welcome
    credentials.set_api_key("gemini", "AIza-typed-in-settings")
    desktop._key_changed("gemini")  # what Settings' API key page signals
    waits.until(qtbot, lambda: NO_KEY_NOTICE not in desktop.tray.tooltip())


def test_an_answer_done_while_the_chat_is_hidden_is_told_by_the_tray_and_a_click_opens_it(
    qtbot: QtBot, desktop: Desktop, gemini: fg.FakeGemini
) -> None:
    gemini.script(fg.Reply(("## Shapes\n\nThe picture shows **a blue square**.",)))
    desktop.tray.show()  # the offscreen platform has no tray; the icon still takes messages
    desktop.chat.new_chat()
    window = desktop.chat.window
    waits.until(qtbot, window.isVisible)
    window.prompt.setPlainText("What is it?")
    window.send_button.click()
    window.hide()  # before the worker's result can be delivered: it finishes while hidden
    waits.until(qtbot, lambda: desktop.tray.last_message is not None)
    assert desktop.tray.last_message == (
        "Answer ready: What is it?",
        "Shapes The picture shows a blue square.",
    )
    cid = desktop.chat.controller.conversation_id
    assert cid is not None

    desktop.chat.new_chat()  # the user moved on; the message still opens its conversation
    window.hide()
    desktop.tray._icon.messageClicked.emit()  # what Qt sends when the message is clicked
    waits.until(
        qtbot, lambda: window.isVisible() and desktop.chat.controller.conversation_id == cid
    )


def test_an_answer_seen_in_the_open_chat_is_not_notified(
    qtbot: QtBot, desktop: Desktop, gemini: fg.FakeGemini
) -> None:
    gemini.script(fg.Reply(("Seen.",)))
    desktop.tray.show()
    desktop.chat.new_chat()
    window = desktop.chat.window
    waits.until(qtbot, window.isVisible)
    window.prompt.setPlainText("Visible?")
    window.send_button.click()
    controller = desktop.chat.controller
    waits.until(
        qtbot,
        lambda: (
            not controller.answering_here
            and [a.status for a in window.transcript.answers()] == ["final"]
        ),
    )
    assert desktop.tray.last_message is None


def test_the_tray_shows_before_the_chat_windows_are_built_and_they_follow_at_once(
    tmp_path: Path,
) -> None:
    # A fresh interpreter: what the start-up path imported before the first turn of the loop.
    then = (
        "desktop.start()\n"
        "before = 'snapask_desktop.ui.chat.window' in sys.modules\n"
        "app.processEvents()\n"
        "after = 'snapask_desktop.ui.chat.window' in sys.modules\n"
        "built = desktop._chat is not None\n"
        "desktop.shutdown()\n"
        "print(before, after, built)\n"
    )
    env = {**os.environ, "SNAPASK_DATA_DIR": str(tmp_path / "data"),
           "SNAPASK_CONFIG_DIR": str(tmp_path / "config"), "GEMINI_API_KEY": "x"}  # fmt: skip
    assert run_fresh_app(then, env) == "False True True"
