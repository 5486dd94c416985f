"""The tray menu and the no-tray launcher: entries, hotkey labels, recent list, states."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from snapask_desktop.resources import resource_path
from snapask_desktop.ui.shell.launcher import LauncherWindow
from snapask_desktop.ui.shell.tray import (
    NO_KEY_NOTICE,
    Tray,
    TrayState,
    menu_text,
    tooltip,
    tray_icon,
)
from tests.support import waits


def texts(tray: Tray) -> list[str]:
    return [a.text() for a in tray.menu.actions() if not a.isSeparator()]


def test_menu_has_every_entry_in_order(qtbot: QtBot) -> None:
    tray = Tray()
    assert texts(tray) == [
        "Capture region",
        "Capture full screen",
        "New chat without picture",
        "Recent conversations",
        "History…",
        "Settings…",
        "Sync: not set up",
        "Sync now",  # hidden until sync is set up
        "Hotkeys are off — turn them on again",  # shown instead of Pause when they stop
        "Pause hotkeys",
        "Quit SnapAsk",
    ]
    tray.set_hotkey_labels({"capture_region": "Ctrl+Alt+S", "capture_full": ""})
    assert texts(tray)[:2] == ["Capture region\tCtrl+Alt+S", "Capture full screen"]


def test_menu_entries_emit_their_signals(qtbot: QtBot) -> None:
    tray = Tray()
    for key, signal in (
        ("capture_region", tray.capture_region),
        ("capture_full", tray.capture_full),
        ("new_chat", tray.new_chat),
        ("history", tray.show_history),
        ("settings", tray.show_settings),
        ("quit", tray.quit_requested),
    ):
        with waits.signal(qtbot, signal):
            tray.actions[key].trigger()
    with waits.signal(qtbot, tray.pause_toggled) as paused:
        tray.actions["pause"].trigger()
    assert paused.args == [True]


def test_recent_conversations_open_by_id(qtbot: QtBot) -> None:
    tray = Tray()
    assert not tray.actions["recent"].isEnabled()
    rows = [(f"id-{n}", f"Question {n} & more") for n in range(7)]
    rows[0] = ("id-0", "x" * 80)
    tray.set_recent(rows)
    submenu = tray.actions["recent"].menu()
    entries = submenu.actions()
    assert len(entries) == 5 and tray.actions["recent"].isEnabled()
    assert entries[0].text().endswith("…") and len(entries[0].text()) == 48
    assert entries[1].text() == "Question 1 && more"  # a literal &, not a mnemonic
    with waits.signal(qtbot, tray.open_conversation) as opened:
        entries[2].trigger()
    assert opened.args == ["id-2"]
    tray.set_hotkey_labels({"reopen_last": "Ctrl+Alt+R"})  # reopen-last opens the newest
    entries = submenu.actions()
    assert entries[0].text().endswith("\tCtrl+Alt+R") and "\t" not in entries[1].text()


def test_state_icons_exist_for_every_state_and_theme(qtbot: QtBot) -> None:
    tray = Tray()
    for state in TrayState:
        for theme in ("light", "dark"):
            assert resource_path("icons", f"tray-{state.value}-{theme}.svg").stat().st_size > 0
            assert not tray_icon(state, theme).isNull()
        tray.set_state(state, "detail")
        assert tray.state is state


def test_menu_text_and_launcher(qtbot: QtBot) -> None:
    assert menu_text("Capture", "") == "Capture"
    launcher = LauncherWindow()
    qtbot.addWidget(launcher)
    launcher.set_hotkey_labels({"capture_region": "Ctrl+Alt+S"})
    assert launcher.buttons["capture_region"].text() == "Capture region   (Ctrl+Alt+S)"
    with waits.signal(qtbot, launcher.show_history):
        launcher.buttons["history"].click()
    launcher.show()
    launcher.close()  # closing only hides: the app keeps running for its hotkeys
    assert not launcher.isVisible()


def _readable_pixels(state: TrayState, theme: str, panel: str) -> int:
    """Pixels of the glyph (the badge corner left out) that stand out from the panel."""
    from PySide6.QtGui import QColor, QImage, QPainter

    size = 32
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(QColor(panel))
    painter = QPainter(image)
    painter.drawPixmap(0, 0, tray_icon(state, theme).pixmap(size, size))
    painter.end()
    ground = QColor(panel).lightness()
    return sum(
        abs(image.pixelColor(x, y).lightness() - ground) > 80
        for x in range(size)
        for y in range(size)
        if x < 18 or y < 18
    )


def test_every_tray_icon_reads_on_a_light_and_a_dark_panel(qtbot: QtBot) -> None:
    """The app's theme need not be the panel's (a dark app theme on a light panel): each
    variant must stand out on both."""
    for state in TrayState:
        for theme in ("light", "dark"):
            for panel in ("#f3f3f3", "#ffffff", "#2b2b2b", "#000000"):
                assert _readable_pixels(state, theme, panel) > 60, (state, theme, panel)


def test_the_tooltip_says_when_no_api_key_is_set(qtbot: QtBot) -> None:
    assert tooltip(TrayState.IDLE) == "SnapAsk"
    assert tooltip(TrayState.WAITING, "1 question waiting to send", NO_KEY_NOTICE) == (
        "SnapAsk — waiting for the AI provider\n1 question waiting to send\n" + NO_KEY_NOTICE
    )
    tray = Tray()
    tray.set_notice(NO_KEY_NOTICE)
    assert tray.tooltip() == f"SnapAsk\n{NO_KEY_NOTICE}"
    tray.set_state(TrayState.ANSWERING)  # the notice holds whatever the state
    assert tray.tooltip().endswith(NO_KEY_NOTICE)
    tray.set_notice("")
    assert tray.tooltip() == "SnapAsk — answering…"
