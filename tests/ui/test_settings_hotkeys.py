"""The Hotkeys page and its key recorder: record, refuse, clash, default/off, save."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from snapask_desktop.app import hotkey_bindings, hotkey_labels
from snapask_desktop.capture.hotkey_defaults import default_hotkeys
from snapask_desktop.capture.hotkey_spec import parse_hotkey
from snapask_desktop.config import Settings, SettingsStore
from snapask_desktop.ui.settings.dialog import SettingsDialog
from snapask_desktop.ui.settings.hotkey_recorder import HotkeyRecorder, modifiers_label, read_key
from snapask_desktop.ui.settings.hotkeys_page import HotkeysPage
from tests.support import waits

Mod = Qt.KeyboardModifier
CTRL_ALT = Mod.ControlModifier | Mod.AltModifier


@pytest.fixture(autouse=True)
def xdg_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))


@pytest.fixture
def store() -> SettingsStore:
    return SettingsStore()


@pytest.fixture
def dialog(qtbot: QtBot, store: SettingsStore, tmp_path: Path) -> Iterator[SettingsDialog]:
    made = SettingsDialog(Settings(), store, data_dir=tmp_path, platform="linux")
    qtbot.addWidget(made)
    made.show()
    made.show_page("hotkeys")
    made.activateWindow()
    waits.until(qtbot, lambda: QApplication.activeWindow() is made)
    yield made
    made.wait_for_work()


def _page(dialog: SettingsDialog) -> HotkeysPage:
    page = dialog.page("hotkeys")
    assert isinstance(page, HotkeysPage)
    return page


def _recorder(dialog: SettingsDialog, action: str) -> HotkeyRecorder:
    recorder = _page(dialog).rows[action].recorder
    recorder.setFocus()
    return recorder


def test_rows_show_the_defaults(dialog: SettingsDialog) -> None:
    page = _page(dialog)
    shown = {action: row.recorder.text() for action, row in page.rows.items()}
    assert shown == {
        "capture_region": "Ctrl+Alt+S",
        "capture_full": "Ctrl+Alt+W",
        "reopen_last": "Ctrl+Alt+R",
    }


def test_recorder_records_a_combination_and_it_is_saved(
    dialog: SettingsDialog, store: SettingsStore, qtbot: QtBot
) -> None:
    recorder = _recorder(dialog, "capture_region")
    with waits.signal(qtbot, recorder.hotkey_changed) as changed:
        QTest.keyClick(recorder, Qt.Key.Key_K, CTRL_ALT)
    assert changed.args == [parse_hotkey("Ctrl+Alt+K")]
    assert recorder.text() == "Ctrl+Alt+K" and not recorder.listening
    with waits.signal(qtbot, dialog.settings_changed) as saved:
        dialog.save()
    assert saved.args[0].hotkeys == {"capture_region": "<ctrl>+<alt>+k"}
    assert store.load().settings.hotkeys == {"capture_region": "<ctrl>+<alt>+k"}


def test_a_clash_with_another_action_is_refused(dialog: SettingsDialog, qtbot: QtBot) -> None:
    recorder = _recorder(dialog, "capture_full")
    row = _page(dialog).rows["capture_full"]
    with waits.signal(qtbot, recorder.refused) as refused:
        QTest.keyClick(recorder, Qt.Key.Key_S, CTRL_ALT)  # Capture region's
    assert refused.args == [
        "Ctrl+Alt+S is already set for Capture region: give one of them another key."
    ]
    assert recorder.hotkey == parse_hotkey("Ctrl+Alt+W")
    assert recorder.listening and recorder.text() == ""  # listens on for another try
    assert row.message.text() == refused.args[0]
    assert not row.message.isHidden()


def test_keys_that_cannot_work_are_refused_with_a_reason(
    dialog: SettingsDialog, qtbot: QtBot
) -> None:
    recorder = _recorder(dialog, "reopen_last")
    with waits.signal(qtbot, recorder.refused) as refused:
        QTest.keyClick(recorder, Qt.Key.Key_A)
    assert "would fire while you type" in refused.args[0]
    with waits.signal(qtbot, recorder.refused) as refused:
        QTest.keyClick(recorder, Qt.Key.Key_Exclam, Mod.ControlModifier | Mod.ShiftModifier)
    assert "Shift" in refused.args[0]
    assert recorder.hotkey == parse_hotkey("Ctrl+Alt+R")


def _send(recorder: HotkeyRecorder, kind: QEvent.Type, key: Qt.Key, mods: Mod) -> None:
    QApplication.sendEvent(recorder, QKeyEvent(kind, key, mods))


def test_holding_modifiers_shows_them_and_letting_go_restores(dialog: SettingsDialog) -> None:
    recorder = _recorder(dialog, "capture_region")
    press, release = QEvent.Type.KeyPress, QEvent.Type.KeyRelease
    # As X11 reports them: a modifier's own press lacks it, its own release still has it.
    _send(recorder, press, Qt.Key.Key_Control, Mod.NoModifier)
    assert recorder.text() == "Ctrl+…"
    _send(recorder, press, Qt.Key.Key_Alt, Mod.ControlModifier)
    assert recorder.text() == "Ctrl+Alt+…"
    _send(recorder, release, Qt.Key.Key_Alt, CTRL_ALT)
    assert recorder.text() == "Ctrl+…"
    _send(recorder, release, Qt.Key.Key_Control, Mod.ControlModifier)
    assert recorder.text() == "" and recorder.listening  # let go: still listening
    assert recorder.hotkey == parse_hotkey("Ctrl+Alt+S")


def test_the_recorder_gets_window_shortcuts_first(dialog: SettingsDialog, qtbot: QtBot) -> None:
    # Ctrl+S saves the dialog, but pressed in a recorder it is the hotkey being recorded.
    recorder = _recorder(dialog, "reopen_last")
    with qtbot.assertNotEmitted(dialog.settings_changed):
        QTest.keyClick(recorder, Qt.Key.Key_S, Mod.ControlModifier)
        waits.delivered(dialog.wait_for_work)  # a save the shortcut started would have ended
    assert recorder.hotkey == parse_hotkey("Ctrl+S")
    assert dialog.isVisible()


def test_tab_still_moves_focus(dialog: SettingsDialog) -> None:
    recorder = _recorder(dialog, "capture_region")
    QTest.keyClick(recorder, Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is not recorder
    assert recorder.hotkey == parse_hotkey("Ctrl+Alt+S")


def test_off_and_default_buttons(
    dialog: SettingsDialog, store: SettingsStore, qtbot: QtBot
) -> None:
    page = _page(dialog)
    full = page.rows["capture_full"]
    qtbot.mouseClick(full.off, Qt.MouseButton.LeftButton)
    assert full.recorder.hotkey is None and full.recorder.text() == "Off"
    region = page.rows["capture_region"]
    QTest.keyClick(_recorder(dialog, "capture_region"), Qt.Key.Key_W, CTRL_ALT)  # free now
    assert region.recorder.hotkey == parse_hotkey("Ctrl+Alt+W")
    with waits.signal(qtbot, dialog.settings_changed) as saved:
        dialog.save()
    assert saved.args[0].hotkeys == {"capture_full": "", "capture_region": "<ctrl>+<alt>+w"}


def test_reset_to_default_stores_nothing(
    qtbot: QtBot, store: SettingsStore, tmp_path: Path
) -> None:
    store.update(hotkeys={"capture_region": "<ctrl>+<alt>+k"})
    dialog = SettingsDialog(store.load().settings, store, data_dir=tmp_path, platform="linux")
    qtbot.addWidget(dialog)
    row = _page(dialog).rows["capture_region"]
    assert row.recorder.text() == "Ctrl+Alt+K"
    row.reset.click()
    assert row.recorder.text() == "Ctrl+Alt+S"
    with waits.signal(qtbot, dialog.settings_changed) as saved:
        dialog.save()
    assert saved.args[0].hotkeys == {}
    dialog.wait_for_work()


def test_os_shortcut_clash_is_a_warning_that_does_not_block(
    dialog: SettingsDialog, qtbot: QtBot
) -> None:
    row = _page(dialog).rows["reopen_last"]
    QTest.keyClick(_recorder(dialog, "reopen_last"), Qt.Key.Key_T, CTRL_ALT)
    assert row.recorder.hotkey == parse_hotkey("Ctrl+Alt+T")
    assert "terminal" in row.message.text()
    assert row.message.property("role") == "warning"
    with waits.signal(qtbot, dialog.settings_changed):
        dialog.save()


def test_a_clash_loaded_from_the_file_blocks_saving(
    qtbot: QtBot, store: SettingsStore, tmp_path: Path
) -> None:
    clashing = Settings(hotkeys={"capture_full": "<ctrl>+<alt>+s"})
    dialog = SettingsDialog(clashing, store, data_dir=tmp_path, platform="linux")
    qtbot.addWidget(dialog)
    row = _page(dialog).rows["capture_full"]
    assert "Ctrl+Alt+S is set for both" in row.message.text()
    with qtbot.assertNotEmitted(dialog.settings_changed):
        dialog.save()
        waits.delivered(dialog.wait_for_work)
    assert dialog.stack.currentWidget() is _page(dialog)


def test_recording_state_is_reported(dialog: SettingsDialog, qtbot: QtBot) -> None:
    with waits.signal(qtbot, dialog.hotkey_recording) as recording:
        _recorder(dialog, "capture_region")
    assert recording.args == [True]
    with waits.signal(qtbot, dialog.hotkey_recording) as recording:
        dialog.buttons.setFocus()
        dialog.nav.setFocus()
    assert recording.args == [False]


@pytest.mark.parametrize(
    ("key", "mods", "platform", "expected"),
    [
        (Qt.Key.Key_S, CTRL_ALT, "linux", "<ctrl>+<alt>+s"),
        (Qt.Key.Key_S, Mod.ControlModifier | Mod.MetaModifier, "linux", "<ctrl>+<cmd>+s"),
        # macOS: Qt calls Command "Control" and Control "Meta".
        (Qt.Key.Key_S, Mod.ControlModifier, "darwin", "<cmd>+s"),
        (Qt.Key.Key_S, Mod.MetaModifier, "darwin", "<ctrl>+s"),
        (Qt.Key.Key_F13, Mod.NoModifier, "linux", "<f13>"),
        (Qt.Key.Key_Print, Mod.NoModifier, "linux", "<print_screen>"),
        (Qt.Key.Key_PageDown, Mod.AltModifier, "linux", "<alt>+<page_down>"),
        (Qt.Key.Key_Slash, Mod.ControlModifier, "linux", "<ctrl>+/"),
        (Qt.Key.Key_7, CTRL_ALT, "linux", "<ctrl>+<alt>+7"),
        (
            Qt.Key.Key_Backtab,
            Mod.ControlModifier | Mod.ShiftModifier,
            "linux",
            "<ctrl>+<shift>+<tab>",
        ),
    ],
)
def test_read_key(key: Qt.Key, mods: Qt.KeyboardModifier, platform: str, expected: str) -> None:
    reading = read_key(key, mods, platform)
    assert reading.problem is None and reading.key is not None
    assert parse_hotkey(expected) == parse_hotkey(
        "+".join([*(f"<{m}>" for m in sorted(reading.modifiers)), reading.key])
    )


def test_read_key_problems_and_modifier_only() -> None:
    assert read_key(Qt.Key.Key_Control, Mod.ControlModifier, "linux").key is None
    assert read_key(Qt.Key.Key_Control, Mod.ControlModifier, "linux").problem is None
    assert "AltGr" in (read_key(Qt.Key.Key_AltGr, Mod.NoModifier, "linux").problem or "")
    assert "Shift" in (read_key(Qt.Key.Key_At, Mod.ShiftModifier, "linux").problem or "")
    assert read_key(Qt.Key.Key_VolumeUp, Mod.ControlModifier, "linux").problem
    assert modifiers_label(frozenset({"alt", "ctrl"}), "linux") == "Ctrl+Alt+…"
    assert modifiers_label(frozenset({"cmd", "ctrl"}), "macos") == "⌃⌘…"
    assert modifiers_label(frozenset(), "linux") == ""


def test_the_app_listens_for_what_settings_shows(dialog: SettingsDialog) -> None:
    """Blank and unreadable overrides mean the same in the app as on the Hotkeys page: spaces
    turn the action off, an unreadable text keeps the default. (The app used to register "  "
    and fail on the unreadable one, while Settings showed off and the default.)"""
    settings = Settings(hotkeys={"capture_full": "  ", "reopen_last": "Ctrl+Alt+"})
    dialog.load(settings)
    shown = _page(dialog).bindings()
    defaults = default_hotkeys()
    assert shown == {
        "capture_region": defaults["capture_region"],
        "capture_full": None,
        "reopen_last": defaults["reopen_last"],
    }
    listened = hotkey_bindings(settings)
    assert listened == {action: hotkey for action, hotkey in shown.items() if hotkey}
    assert hotkey_labels(listened) == {a: h.label() for a, h in listened.items()}


def test_a_focused_field_says_it_is_listening(dialog: SettingsDialog) -> None:
    other = _page(dialog).rows["capture_full"].recorder
    recorder = _recorder(dialog, "capture_region")
    assert recorder.listening and recorder.text() == ""
    assert recorder.placeholderText() == "Press the keys… (Esc cancels)"
    assert "listening" in recorder.accessibleName()
    tinted = recorder.palette().color(recorder.palette().ColorRole.Base)
    assert tinted != other.palette().color(other.palette().ColorRole.Base)
    assert not other.listening and other.text() == "Ctrl+Alt+W"


def test_esc_cancels_recording_and_keeps_the_hotkey_then_closes_the_dialog(
    dialog: SettingsDialog, qtbot: QtBot
) -> None:
    recorder = _recorder(dialog, "capture_region")
    QTest.keyClick(recorder, Qt.Key.Key_Control, Mod.NoModifier)
    with waits.signal(qtbot, dialog.hotkey_recording) as recording:
        QTest.keyClick(recorder, Qt.Key.Key_Escape)
    assert recording.args == [False]
    assert not recorder.listening and recorder.text() == "Ctrl+Alt+S"
    assert recorder.hotkey == parse_hotkey("Ctrl+Alt+S")
    assert dialog.isVisible()  # the first Esc was the recording's
    QTest.keyClick(recorder, Qt.Key.Key_Return)  # Enter listens again
    assert recorder.listening
    QTest.keyClick(recorder, Qt.Key.Key_Escape)
    QTest.keyClick(recorder, Qt.Key.Key_Escape)  # not listening: Esc is the dialog's again
    waits.until(qtbot, lambda: not dialog.isVisible())


def test_after_a_recording_the_field_rests_until_asked_again(
    dialog: SettingsDialog, qtbot: QtBot
) -> None:
    recorder = _recorder(dialog, "reopen_last")
    message = _page(dialog).rows["reopen_last"].message
    QTest.keyClick(recorder, Qt.Key.Key_Y, CTRL_ALT)
    assert not recorder.listening and recorder.text() == "Ctrl+Alt+Y"
    assert message.text() == "Set to Ctrl+Alt+Y. Save to keep it." and not message.isHidden()
    QTest.keyClick(recorder, Qt.Key.Key_J, CTRL_ALT)  # not listening: taken for nothing
    assert recorder.hotkey == parse_hotkey("Ctrl+Alt+Y")
    qtbot.mouseClick(recorder, Qt.MouseButton.LeftButton)
    assert recorder.listening and recorder.text() == ""
    assert message.isHidden()  # the last result goes when it listens again
