"""The tray app's store reads: the recent list and reopen-last come from the file without
opening the store; History waits for the store to open on a worker; a capture's chat window
warms it. The real Desktop on real services, offscreen."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget
from pytestqt.qtbot import QtBot

from snapask_desktop.app import Desktop
from snapask_desktop.config import Settings
from snapask_desktop.services import Services
from snapask_desktop.single_instance import Request
from snapask_desktop.store import Store
from tests.store.helpers import damage_page, root_page
from tests.support import waits


@pytest.fixture(autouse=True)
def no_windows_left(qapp: QApplication) -> Iterator[None]:
    """Each test sees only the windows it opened itself."""
    yield
    for widget in QApplication.topLevelWidgets():
        widget.hide()


@pytest.fixture
def saved_titles(isolated_env: Path) -> list[str]:
    """Three conversations saved by an earlier run, newest first."""
    with Store.open(isolated_env / "data") as store:
        for title in ("oldest", "middle", "newest"):
            store.start_conversation(title, f"question about {title}")
    return ["newest", "middle", "oldest"]


@pytest.fixture
def desktop(qapp: QApplication, settings: Settings, saved_titles: list[str]) -> Iterator[Desktop]:
    services = Services(settings)
    built = Desktop(qapp, services, [])
    try:
        yield built
    finally:
        built.shutdown()
        built.deleteLater()  # its start-up timers must not fire in later tests


def recent_titles(desktop: Desktop) -> list[str]:
    # The newest one also shows the reopen-last hotkey after a tab.
    menu = desktop.tray.actions["recent"].menu()
    return [action.text().split("\t")[0] for action in menu.actions()]


def shown(title: str) -> list[QWidget]:
    return [w for w in QApplication.topLevelWidgets() if w.isVisible() and w.windowTitle() == title]


def test_start_fills_the_recent_list_without_opening_the_store(
    desktop: Desktop, saved_titles: list[str], qtbot: QtBot
) -> None:
    desktop.start()
    waits.until(qtbot, lambda: recent_titles(desktop) == saved_titles)
    assert desktop.reads.wait(waits.DEADLINE_MS)
    assert not desktop.services.lazy_store.is_open


def test_reopen_last_opens_the_newest_conversation(desktop: Desktop, qtbot: QtBot) -> None:
    newest = desktop.services.lazy_store.recent(1)[0]
    desktop.handle(Request("open"))  # what the reopen-last hotkey does too
    waits.until(qtbot, lambda: desktop.chat.controller.title == "newest")
    assert desktop.chat.controller.conversation_id == newest.id
    assert desktop.chat.window.isVisible()


def test_history_is_shown_once_the_store_has_opened_on_the_worker(
    desktop: Desktop, qtbot: QtBot
) -> None:
    desktop.show_history()
    assert not shown("SnapAsk — History")  # not built on this thread before the store is open
    desktop.show_history()  # asked twice while opening: still one window
    waits.until(qtbot, lambda: bool(shown("SnapAsk — History")))
    assert desktop.reads.wait(waits.DEADLINE_MS)
    QApplication.processEvents()
    assert len(shown("SnapAsk — History")) == 1
    assert desktop.services.lazy_store.is_open


def test_a_foreign_database_is_reported_when_history_is_asked_for(
    qapp: QApplication, settings: Settings, isolated_env: Path, qtbot: QtBot
) -> None:
    data_dir = isolated_env / "data"
    data_dir.mkdir(parents=True)
    connection = sqlite3.connect(data_dir / "snapask.db")
    connection.execute("CREATE TABLE invoices (n INTEGER)")
    connection.commit()
    connection.close()
    desktop = Desktop(qapp, Services(settings), [])
    try:
        desktop.show_history()  # no tray here: the app tells it in a message box
        waits.until(qtbot, lambda: bool(shown("Your conversations could not be opened")))
        box = shown("Your conversations could not be opened")[0]
        assert isinstance(box, QMessageBox) and "not a SnapAsk one" in box.text()
        assert not shown("SnapAsk — History")
    finally:
        desktop.shutdown()
        desktop.deleteLater()


def test_a_store_damaged_on_page_2_shows_every_conversation_and_says_so(
    qapp: QApplication, settings: Settings, isolated_env: Path, qtbot: QtBot
) -> None:
    data_dir = isolated_env / "data"
    with Store.open(data_dir) as store:
        for n in range(25):
            store.start_conversation(f"conversation {n}", f"question {n}")
    path = data_dir / "snapask.db"
    assert root_page(path, "alembic_version") == 2
    damage_page(path, 2)  # the probe's "damage on page 2 only": all of it still readable
    desktop = Desktop(qapp, Services(settings), [])
    try:
        desktop.show_history()  # no tray here: the app tells it in a message box
        title = "Your conversation store was repaired"
        waits.until(qtbot, lambda: bool(shown(title)) and bool(shown("SnapAsk — History")))
        box = shown(title)[0]
        assert isinstance(box, QMessageBox)
        assert box.text().startswith(f"the database file {path} was damaged")
        assert box.text().endswith("everything in it was read into a new one: "
                                   "25 conversations and 25 messages")  # fmt: skip
        history = desktop._history
        assert history is not None
        waits.until(qtbot, lambda: history.model.rowCount() == 25)
    finally:
        desktop.shutdown()
        desktop.deleteLater()


def test_a_new_chat_window_warms_the_store_after_a_pause(desktop: Desktop, qtbot: QtBot) -> None:
    desktop.tray.new_chat.emit()
    assert desktop.chat.window.isVisible()
    assert not desktop.services.lazy_store.is_open  # not on the window's own path
    waits.until(qtbot, lambda: desktop.services.lazy_store.is_open)


def test_pinned_conversations_come_first_in_the_tray(
    desktop: Desktop, isolated_env: Path, qtbot: QtBot
) -> None:
    with Store.open(isolated_env / "data") as store:
        oldest = store.list_conversations()[-1]
        store.update_conversation(oldest.id, pinned=True)
    desktop.start()  # read from the file, the store not open
    waits.until(qtbot, lambda: recent_titles(desktop) == ["oldest", "newest", "middle"])
    menu = desktop.tray.actions["recent"].menu()
    hotkey = {a.text().split("\t")[0]: a.text().partition("\t")[2] for a in menu.actions()}
    assert hotkey["newest"] and not hotkey["oldest"]  # reopen-last opens the newest
    assert desktop.reads.wait(waits.DEADLINE_MS)
    desktop.services.lazy_store.get()  # the same order once the store is open
    desktop.tray.set_recent([])
    desktop._refresh_recent()
    waits.until(qtbot, lambda: recent_titles(desktop) == ["oldest", "newest", "middle"])
