"""The first-run welcome: shown only without a key; its two ways on into Settings."""

from __future__ import annotations

from pathlib import Path

import keyring
import keyring.backends.fail
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QDialog, QLabel
from pytestqt.qtbot import QtBot

from snapask_desktop import credentials
from snapask_desktop.config import Settings, SettingsStore
from snapask_desktop.ui.settings.dialog import GeneralPage, SettingsDialog
from snapask_desktop.ui.shell.welcome import WelcomeDialog, hotkey_lines, needs_welcome
from tests.support import waits


@pytest.fixture
def store() -> SettingsStore:
    return SettingsStore()


def test_needed_only_without_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings()
    assert needs_welcome(settings)
    credentials.set_api_key("gemini", "AIza-in-the-keyring")
    assert not needs_welcome(settings)
    credentials.delete_api_key("gemini")
    assert needs_welcome(settings)
    monkeypatch.setenv("GEMINI_API_KEY", "from-the-environment")
    assert not needs_welcome(settings)


def test_a_local_model_needs_no_key() -> None:
    assert not needs_welcome(Settings(provider="openai"))


def test_an_unusable_keyring_counts_as_no_key() -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    try:
        assert needs_welcome(Settings())
    finally:
        keyring.set_keyring(previous)


def test_welcome_lists_the_hotkeys_in_use(qtbot: QtBot, store: SettingsStore) -> None:
    settings = Settings(hotkeys={"capture_full": "", "reopen_last": "<ctrl>+<alt>+k"})
    assert hotkey_lines(settings, "linux") == [
        ("Ctrl+Alt+S", "Capture region"),
        ("Ctrl+Alt+K", "Reopen last conversation"),
    ]
    dialog = WelcomeDialog(settings, platform="linux")
    qtbot.addWidget(dialog)
    texts = [label.text() for label in dialog.findChildren(QLabel)]
    assert "<b>Ctrl+Alt+S</b>" in texts and "Capture region" in texts
    assert "Capture full screen" not in texts
    assert any("Gemini API key" in text for text in texts)


def test_open_settings_asks_for_the_api_key_page(qtbot: QtBot, store: SettingsStore) -> None:
    dialog = WelcomeDialog(Settings(), platform="linux")
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.settings_button.isDefault()
    with waits.signal(qtbot, dialog.open_settings) as opened:
        qtbot.mouseClick(dialog.settings_button, Qt.MouseButton.LeftButton)
    assert opened.args == ["api_key"]
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert not store.path.exists()  # nothing changed


def test_use_a_local_model_opens_general_unsaved_and_cancel_undoes_it(
    qtbot: QtBot, store: SettingsStore, tmp_path: Path
) -> None:
    dialog = WelcomeDialog(Settings(), platform="linux")
    qtbot.addWidget(dialog)
    dialog.show()
    with (
        qtbot.assertNotEmitted(dialog.open_settings),
        waits.signal(qtbot, dialog.local_model_chosen) as chosen,
    ):
        qtbot.mouseClick(dialog.local_button, Qt.MouseButton.LeftButton)
    assert chosen.args == ["openai"]
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert not store.path.exists()  # nothing saved yet: Settings' Save does that

    # What the app does next: Settings on the General page, the local server chosen.
    settings_dialog = SettingsDialog(Settings(), store, data_dir=tmp_path, platform="linux")
    qtbot.addWidget(settings_dialog)
    settings_dialog.show()
    settings_dialog.choose_provider(chosen.args[0])
    general = settings_dialog.stack.currentWidget()
    assert isinstance(general, GeneralPage)
    assert general.provider.currentData() == "openai"
    assert "(in use)" in general.openai_box.title()

    settings_dialog.reject()  # Cancel undoes the choice
    assert not store.path.exists()
    assert general.provider.currentData() == "gemini"

    settings_dialog.show()
    settings_dialog.choose_provider("openai")
    with waits.signal(qtbot, settings_dialog.settings_changed) as changed:
        settings_dialog.save_button.click()
    assert changed.args[0].provider == "openai"
    assert store.load().settings.provider == "openai"
    assert not needs_welcome(store.load().settings)
    settings_dialog.wait_for_work()


def test_later_closes_without_changes(qtbot: QtBot, store: SettingsStore) -> None:
    dialog = WelcomeDialog(Settings(), platform="linux")
    qtbot.addWidget(dialog)
    dialog.show()
    with qtbot.assertNotEmitted(dialog.open_settings):
        dialog.reject()
    assert dialog.result() == QDialog.DialogCode.Rejected
    assert not store.path.exists()


def test_welcome_says_where_the_app_now_lives(qtbot: QtBot, store: SettingsStore) -> None:
    in_tray = WelcomeDialog(Settings(), platform="linux")
    no_tray = WelcomeDialog(Settings(), platform="linux", in_tray=False)
    for dialog in (in_tray, no_tray):
        qtbot.addWidget(dialog)
    assert in_tray.home.text().startswith("SnapAsk now lives in the system tray")
    assert "no system tray" in no_tray.home.text()
    texts = [label.text() for label in in_tray.findChildren(QLabel)]
    assert in_tray.home.text() in texts


def _dark_palette() -> QPalette:
    palette = QPalette(QApplication.palette())
    for role, colour in {
        QPalette.ColorRole.Window: "#2b2b2b",
        QPalette.ColorRole.WindowText: "#e6e6e6",
        QPalette.ColorRole.Base: "#1e1e1e",
        QPalette.ColorRole.Text: "#e6e6e6",
        QPalette.ColorRole.Link: "#0000ff",  # a dark blue some dark themes keep
    }.items():
        palette.setColor(role, QColor(colour))
    return palette


def test_welcome_and_settings_follow_a_switch_to_dark(
    qtbot: QtBot, store: SettingsStore, tmp_path: Path
) -> None:
    welcome = WelcomeDialog(Settings(), platform="linux")
    settings = SettingsDialog(Settings(), store, data_dir=tmp_path, platform="linux")
    for window in (welcome, settings):
        qtbot.addWidget(window)
        window.show()
    light_link = welcome.need.text()
    light_nav = settings.nav.viewport().grab().toImage().pixelColor(4, 200)
    before = QApplication.palette()
    QApplication.setPalette(_dark_palette())
    try:
        QApplication.processEvents()
        assert welcome.need.text() != light_link  # the link lifted to read on dark
        shown = settings.nav.viewport().grab().toImage().pixelColor(4, 200)
        assert light_nav.lightnessF() > 0.5 and shown.lightnessF() < 0.3
    finally:
        QApplication.setPalette(before)
        settings.wait_for_work()
