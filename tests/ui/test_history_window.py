"""The history window on a real store: paging, search, edits, delete + undo, keys, thumbnails."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QColor, QImage, QPalette
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QLineEdit, QMenu
from pytestqt.qtbot import QtBot

from snapask_desktop.services import Services
from snapask_desktop.store.repository import Store
from snapask_desktop.ui.history.model import (
    CONFLICT_ROLE,
    ID_ROLE,
    ROW_ROLE,
    THUMB_PENDING_ROLE,
    HistoryRow,
)
from snapask_desktop.ui.history.window import HistoryWindow, split_highlights
from tests.store.sync_fixtures import ServerLog, StoreFactory
from tests.support import waits


def _png(seed: int, size: tuple[int, int] = (640, 400)) -> bytes:
    image = Image.new("RGB", size, ((seed * 40) % 256, 90, 160))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def store(services: Services) -> Store:
    return services.store


@pytest.fixture
def window(store: Store, qtbot: QtBot) -> Iterator[HistoryWindow]:
    shown = HistoryWindow(store, page_size=50, undo_seconds=30)
    qtbot.addWidget(shown)
    shown.show()
    qtbot.waitExposed(shown)
    yield shown
    shown.shutdown()


def _ids(window: HistoryWindow) -> list[str]:
    model = window.model
    return [model.data(model.index(row), ID_ROLE) for row in range(model.rowCount())]


def _activate(window: HistoryWindow, qtbot: QtBot) -> None:
    window.activateWindow()
    waits.until(qtbot, lambda: QApplication.activeWindow() is window)


def test_history_loads_pages_on_demand_newest_first(store: Store, qtbot: QtBot) -> None:
    created = [store.create_conversation(f"Conversation {n}").id for n in range(300)]
    window = HistoryWindow(store, page_size=50)
    qtbot.addWidget(window)
    try:
        model = window.model
        assert model.rowCount() == 50
        assert model.pages_loaded == 1
        assert model.canFetchMore()
        assert _ids(window) == created[::-1][:50]

        window.resize(600, 400)
        window.show()
        qtbot.waitExposed(window)
        window.view.scrollToBottom()  # the view asks for the next page when it reaches the end
        waits.until(qtbot, lambda: model.rowCount() > 50)
        assert model.rowCount() < 300  # one page at a time, not everything

        while model.canFetchMore():
            model.fetchMore()
        assert model.rowCount() == 300
        assert _ids(window) == created[::-1]
        assert model.pages_loaded == 7  # six full pages, then an empty one ends the list
    finally:
        window.shutdown()


def test_refresh_shows_changes_made_elsewhere_and_keeps_the_selection(
    store: Store, window: HistoryWindow
) -> None:
    first = store.create_conversation("first").id
    window.refresh()
    assert window.select(first)
    second = store.create_conversation("second").id
    window.refresh()
    assert _ids(window) == [second, first]
    assert window.current_id() == first


def test_search_as_you_type_shows_hits_with_highlights(
    store: Store, window: HistoryWindow, qtbot: QtBot
) -> None:
    invoice, _ = store.start_conversation("Invoice", "what is the total on this invoice?")
    store.start_conversation("Chart", "summarize the chart")
    other, _ = store.start_conversation("Receipt", "the totals do not add up")
    window.refresh()
    assert window.model.rowCount() == 3

    qtbot.keyClicks(window.search, "tota")
    waits.until(qtbot, lambda: window.model.search_text == "tota")
    assert set(_ids(window)) == {invoice.id, other.id}
    rows = [window.model.data(window.model.index(n), ROW_ROLE) for n in range(2)]
    for row in rows:
        assert isinstance(row, HistoryRow)
        assert row.matched_in == "message"
        [(start, end)] = row.detail_highlights
        assert row.detail[start:end].lower().startswith("tota")
    assert window.status.text() == "2 conversations found"

    window.search.clear()
    waits.until(qtbot, lambda: window.model.search_text == "")
    assert window.model.rowCount() == 3

    qtbot.keyClicks(window.search, "nothing-like-this")
    waits.until(qtbot, lambda: window.model.search_text == "nothing-like-this")
    assert window.model.rowCount() == 0
    assert window.stack.currentWidget() is window.empty
    assert "nothing-like-this" in window.empty.text()


def test_title_matches_highlight_the_title(store: Store, window: HistoryWindow) -> None:
    store.create_conversation("Quarterly revenue chart")
    window.search.setText("revenue")
    window._run_search()
    row = window.model.data(window.model.index(0), ROW_ROLE)
    assert row.matched_in == "title"
    [(start, end)] = row.title_highlights
    assert row.title[start:end] == "revenue"


def test_rename_with_f2_edits_inline_and_saves(
    store: Store, window: HistoryWindow, qtbot: QtBot
) -> None:
    conversation = store.create_conversation("Old title")
    window.refresh()
    _activate(window, qtbot)
    window.select(conversation.id)
    window.view.setFocus()
    QTest.keyClick(window.view, Qt.Key.Key_F2)
    editor = QApplication.focusWidget()
    assert isinstance(editor, QLineEdit) and editor.text() == "Old title"
    editor.selectAll()
    qtbot.keyClicks(editor, "Build failure  explained")
    QTest.keyClick(editor, Qt.Key.Key_Return)
    waits.until(
        qtbot,
        lambda: (
            store.get_conversation(conversation.id).conversation.title == "Build failure explained"
        ),
    )
    waits.until(qtbot, lambda: not window.calls.busy)
    assert window.model.data(window.model.index(0)) == "Build failure explained"


def test_an_emptied_title_is_not_saved(store: Store, window: HistoryWindow) -> None:
    conversation = store.create_conversation("Keep me")
    window.refresh()
    assert not window.model.setData(window.model.index(0), "   ")
    window.calls.wait()
    assert store.get_conversation(conversation.id).conversation.title == "Keep me"


def test_pin_and_archive_round_trip_through_the_store(
    store: Store, window: HistoryWindow, qtbot: QtBot
) -> None:
    keep = store.create_conversation("keep").id
    target = store.create_conversation("target").id
    window.refresh()
    _activate(window, qtbot)
    window.select(target)
    window.view.setFocus()

    QTest.keyClick(window.view, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)
    waits.until(qtbot, lambda: store.get_conversation(target).conversation.pinned)
    waits.until(qtbot, lambda: window.model.row_at(0).summary.pinned)
    window.pin_action.trigger()  # again: unpin
    waits.until(qtbot, lambda: not store.get_conversation(target).conversation.pinned)

    QTest.keyClick(window.view, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    waits.until(qtbot, lambda: store.get_conversation(target).conversation.archived)
    waits.until(qtbot, lambda: _ids(window) == [keep])
    assert window.current_id() == keep

    window.show_archived.setChecked(True)
    assert _ids(window) == [target, keep]
    assert window.model.row_at(0).summary.archived
    window.select(target)
    window.archive_action.trigger()  # unarchive
    waits.until(qtbot, lambda: not store.get_conversation(target).conversation.archived)
    window.show_archived.setChecked(False)
    assert _ids(window) == [target, keep]


def test_delete_with_the_key_then_undo_restores_it(
    store: Store, window: HistoryWindow, qtbot: QtBot
) -> None:
    older = store.create_conversation("older").id
    doomed = store.create_conversation("doomed").id
    window.refresh()
    _activate(window, qtbot)
    window.select(doomed)
    window.view.setFocus()

    QTest.keyClick(window.view, Qt.Key.Key_Delete)
    assert _ids(window) == [older]  # gone from the list at once
    assert window.undo_bar.isVisible()
    assert "doomed" in window.undo_bar.label.text()
    waits.until(qtbot, lambda: [s.id for s in store.list_conversations()] == [older])

    qtbot.mouseClick(window.undo_bar.undo_button, Qt.MouseButton.LeftButton)
    waits.until(qtbot, lambda: [s.id for s in store.list_conversations()] == [doomed, older])
    waits.until(qtbot, lambda: _ids(window) == [doomed, older])
    assert window.current_id() == doomed
    assert not window.undo_bar.isVisible()


def test_archive_shows_the_undo_bar_and_undo_brings_it_back(
    store: Store, window: HistoryWindow, qtbot: QtBot
) -> None:
    older = store.create_conversation("older").id
    target = store.create_conversation("filed away").id
    window.refresh()
    _activate(window, qtbot)
    window.select(target)
    window.view.setFocus()

    QTest.keyClick(window.view, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    assert window.undo_bar.isVisible()
    assert window.undo_bar.label.text() == "Archived “filed away”"
    assert "archive" in window.undo_bar.undo_button.toolTip()
    waits.until(qtbot, lambda: store.get_conversation(target).conversation.archived)
    waits.until(qtbot, lambda: _ids(window) == [older])

    qtbot.mouseClick(window.undo_bar.undo_button, Qt.MouseButton.LeftButton)
    waits.until(qtbot, lambda: not store.get_conversation(target).conversation.archived)
    waits.until(qtbot, lambda: _ids(window) == [target, older])
    assert window.current_id() == target
    assert not window.undo_bar.isVisible()

    # A delete after an archive: the bar offers the delete only; the archive stays.
    window.archive_action.trigger()
    waits.until(qtbot, lambda: _ids(window) == [older])
    window.select(older)
    window.delete_action.trigger()
    assert window.undo_bar.label.text() == "Deleted “older”"
    QTest.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    waits.until(qtbot, lambda: _ids(window) == [older])
    window.calls.wait()
    assert store.get_conversation(target).conversation.archived


def test_undo_with_ctrl_z_restores_several_deletes(
    store: Store, window: HistoryWindow, qtbot: QtBot
) -> None:
    ids = [store.create_conversation(f"c{n}").id for n in range(3)]
    window.refresh()
    _activate(window, qtbot)
    window.view.setFocus()
    window.select(ids[2])
    window.delete_action.trigger()
    window.delete_action.trigger()  # the next row moved up into the selection
    assert _ids(window) == [ids[0]]
    assert window.undo_bar.label.text() == "Deleted 2 conversations"
    QTest.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    waits.until(qtbot, lambda: len(store.list_conversations()) == 3)
    waits.until(qtbot, lambda: _ids(window) == ids[::-1])


def test_the_undo_bar_goes_away_and_the_delete_stays(store: Store, qtbot: QtBot) -> None:
    doomed = store.create_conversation("doomed").id
    window = HistoryWindow(store, undo_seconds=0.2)
    qtbot.addWidget(window)
    window.show()
    try:
        window.select(doomed)
        window.delete_action.trigger()
        assert window.undo_bar.isVisible()
        waits.until(qtbot, lambda: not window.undo_bar.isVisible())
        window.calls.wait()
        assert store.list_conversations() == []
        assert window.undo_bar.pending == []
    finally:
        window.shutdown()


def test_enter_and_double_click_ask_to_open(
    store: Store, window: HistoryWindow, qtbot: QtBot
) -> None:
    first = store.create_conversation("first").id
    second = store.create_conversation("second").id
    window.refresh()
    _activate(window, qtbot)
    window.select(first)
    window.view.setFocus()
    with waits.signal(qtbot, window.open_requested) as opened:
        QTest.keyClick(window.view, Qt.Key.Key_Return)
    assert opened.args == [first]

    rect = window.view.visualRect(window.model.index(0))
    viewport = window.view.viewport()
    with waits.signal(qtbot, window.open_requested) as opened:
        # An item view opens on a double click that follows a press on the same row.
        QTest.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=rect.center())
        QTest.mouseDClick(viewport, Qt.MouseButton.LeftButton, pos=rect.center())
    assert opened.args == [second]


def test_keyboard_search_flow(store: Store, window: HistoryWindow, qtbot: QtBot) -> None:
    target, _ = store.start_conversation("Wifi password", "what is the password on the sticker")
    store.create_conversation("something else")
    window.refresh()
    _activate(window, qtbot)
    window.view.setFocus()
    QTest.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert QApplication.focusWidget() is window.search
    qtbot.keyClicks(window.search, "sticker")
    # Enter runs the pending search at once and opens the first hit.
    with waits.signal(qtbot, window.open_requested) as opened:
        QTest.keyClick(window.search, Qt.Key.Key_Return)
    assert opened.args == [target.id]
    QTest.keyClick(window.search, Qt.Key.Key_Down)
    assert QApplication.focusWidget() is window.view
    assert window.current_id() == target.id
    window.search.setFocus()
    QTest.keyClick(window.search, Qt.Key.Key_Escape)  # clears the search first
    assert window.search.text() == ""
    assert window.model.rowCount() == 2


def test_context_menu_offers_every_action_with_its_shortcut(
    store: Store, window: HistoryWindow
) -> None:
    store.create_conversation("x")
    window.refresh()
    window.select(window.model.row_at(0).summary.id)
    shortcuts = {
        action.text().replace("&", ""): action.shortcut().toString()
        for action in window.view.actions()
    }
    assert shortcuts == {
        "Open": "Return",
        "Rename": "F2",
        "Pin": "Ctrl+P",
        "Archive": "Ctrl+E",
        "Delete": "Del",
        "Actions menu": "Menu",
    }
    assert all(action.isShortcutVisibleInContextMenu() for action in window.view.actions())
    assert window.find_action.shortcut().toString() == "Ctrl+F"
    assert "(F2)" in window.rename_action.toolTip()


def test_thumbnails_load_in_the_background(
    store: Store, window: HistoryWindow, qtbot: QtBot
) -> None:
    shot = store.add_screenshot(_png(1))
    store.start_conversation("with picture", "what is this?", screenshot_sha256=shot.sha256)
    store.create_conversation("no picture")
    window.refresh()
    pictured = window.model.index(1)
    plain = window.model.index(0)
    assert window.model.data(plain, Qt.ItemDataRole.DecorationRole) is None
    with waits.signal(qtbot, window.thumbnails.loaded) as loaded:
        # Nothing was decoded yet: the placeholder shows while a worker loads the picture.
        assert window.model.data(pictured, Qt.ItemDataRole.DecorationRole) is None
        assert window.model.data(pictured, THUMB_PENDING_ROLE) is True
    assert loaded.args == [shot.sha256]
    image = window.model.data(pictured, Qt.ItemDataRole.DecorationRole)
    assert isinstance(image, QImage) and not image.isNull()
    assert (image.width(), image.height()) == (64, 48)  # fills the box, the sides cropped
    assert window.model.data(pictured, THUMB_PENDING_ROLE) is False


def test_a_conversation_with_several_pictures_says_so(
    store: Store, window: HistoryWindow, qtbot: QtBot
) -> None:
    first = store.add_screenshot(_png(3))
    conversation, _ = store.start_conversation("two", "what?", screenshot_sha256=first.sha256)
    second = store.add_screenshot(_png(4))
    store.add_message(conversation.id, "user", "and this?", screenshot_sha256=second.sha256)
    store.start_conversation("one", "q", screenshot_sha256=first.sha256)
    window.refresh()
    model = window.model
    rows = {model.data(model.index(r), ID_ROLE): model.index(r) for r in range(model.rowCount())}
    two = rows[conversation.id]
    assert "2 messages · 2 pictures" in model.data(two, Qt.ItemDataRole.ToolTipRole)
    assert "2 pictures" in model.data(two, Qt.ItemDataRole.AccessibleTextRole)
    (one,) = [index for cid, index in rows.items() if cid != conversation.id]
    assert "picture" not in model.data(one, Qt.ItemDataRole.ToolTipRole)
    # A dark "+1" pill is painted over the thumbnail's corner (the same picture, alone in
    # the other row, has none).
    for index in (two, one):
        waits.until(qtbot, lambda i=index: model.data(i, Qt.ItemDataRole.DecorationRole))
    window.view.viewport().update()
    qtbot.wait(50)
    shot = window.view.viewport().grab().toImage()

    def dark(index) -> int:
        box = window.view.visualRect(index)
        return sum(
            shot.pixelColor(x, y).lightness() < 60
            for x in range(box.left(), box.left() + 76)
            for y in range(box.top(), box.bottom())
        )

    assert dark(two) > dark(one) + 100, (dark(two), dark(one))


def test_a_missing_picture_keeps_the_placeholder(
    store: Store, window: HistoryWindow, qtbot: QtBot
) -> None:
    shot = store.add_screenshot(_png(2))
    store.start_conversation("lost picture", "q", screenshot_sha256=shot.sha256)
    for folder in ("blobs", "thumbs"):
        for path in (store.data_dir / folder).rglob(f"{shot.sha256}*"):
            path.unlink()
    window.refresh()
    index = window.model.index(0)
    with waits.signal(qtbot, window.thumbnails.loaded):
        window.model.data(index, Qt.ItemDataRole.DecorationRole)
    assert window.model.data(index, Qt.ItemDataRole.DecorationRole) is None
    assert not window.thumbnails.is_pending(shot.sha256)  # not retried on every paint


def test_split_highlights() -> None:
    assert split_highlights("find the total here", ((9, 14),)) == [
        ("find the ", False),
        ("total", True),
        (" here", False),
    ]
    assert split_highlights("ab", ((0, 1), (0, 1), (5, 9))) == [("a", True), ("b", False)]
    assert split_highlights("", ()) == []


def test_no_row_is_a_no_op(window: HistoryWindow) -> None:
    assert window.model.rowCount() == 0
    assert window.stack.currentWidget() is window.empty
    window.delete_action.trigger()
    window.rename_action.trigger()
    window.pin_action.trigger()
    assert not window.undo_bar.isVisible()
    assert window.model.data(QModelIndex()) is None


def test_refresh_waits_for_an_open_title_editor(
    store: Store, window: HistoryWindow, qtbot: QtBot
) -> None:
    conversation = store.create_conversation("Draft")
    window.refresh()
    _activate(window, qtbot)
    window.select(conversation.id)
    window.view.setFocus()
    QTest.keyClick(window.view, Qt.Key.Key_F2)
    editor = QApplication.focusWidget()
    assert isinstance(editor, QLineEdit)
    qtbot.keyClicks(editor, "Half typed")
    newcomer = store.create_conversation("arrived meanwhile").id
    window.refresh()  # e.g. a message arrived elsewhere
    assert QApplication.focusWidget() is editor and editor.text() == "Half typed"
    assert newcomer not in _ids(window)
    QTest.keyClick(editor, Qt.Key.Key_Return)
    waits.until(qtbot, lambda: newcomer in _ids(window))
    assert store.get_conversation(conversation.id).conversation.title == "Half typed"


def test_refresh_waits_for_our_own_writes(
    store: Store, window: HistoryWindow, qtbot: QtBot
) -> None:
    keep = store.create_conversation("keep").id
    doomed = store.create_conversation("doomed").id
    window.refresh()
    gate = threading.Event()
    window.calls.call(gate.wait)  # the worker is busy: the delete below has to wait
    window.select(doomed)
    window.delete_action.trigger()
    window.refresh()  # the store still has it: a reload now would bring it back
    assert _ids(window) == [keep]
    gate.set()
    waits.until(qtbot, lambda: not window.calls.busy)
    waits.until(qtbot, lambda: not window._refresh_pending)
    assert _ids(window) == [keep]
    assert [s.id for s in store.list_conversations()] == [keep]


def test_refresh_keeps_the_scroll_position(store: Store, qtbot: QtBot) -> None:
    for n in range(120):
        store.create_conversation(f"c{n}")
    window = HistoryWindow(store, page_size=60)
    qtbot.addWidget(window)
    window.resize(600, 500)
    window.show()
    qtbot.waitExposed(window)
    try:
        while window.model.canFetchMore():
            window.model.fetchMore()
        bar = window.view.verticalScrollBar()
        bar.setValue(bar.maximum() // 2)
        middle = bar.value()
        assert middle > 0
        window.refresh()
        waits.delivered()  # what the reset posted (the view's delayed layout among it)
        window.view.doItemsLayout()  # and the layout itself, now rather than on a timer
        assert window.model.rowCount() == 120
        assert bar.value() == middle
    finally:
        window.shutdown()


def test_the_menu_key_opens_the_context_menu_for_the_current_row(
    store: Store, window: HistoryWindow, qtbot: QtBot
) -> None:
    ids = [store.create_conversation(f"c{n}").id for n in range(3)]
    store.update_conversation(ids[0], pinned=True)
    window.refresh()
    _activate(window, qtbot)
    window.select(ids[0])  # the last row: not under the middle of the list
    window.view.setFocus()
    QTest.keyClick(window.view, Qt.Key.Key_F10, Qt.KeyboardModifier.ShiftModifier)
    waits.until(qtbot, lambda: isinstance(QApplication.activePopupWidget(), QMenu))
    menu = QApplication.activePopupWidget()
    texts = [action.text().replace("&", "") for action in menu.actions() if action.text()]
    assert texts == ["Open", "Rename", "Unpin", "Archive", "Delete"]
    assert window.current_id() == ids[0]
    menu.close()
    QTest.keyClick(window.view, Qt.Key.Key_Menu)
    waits.until(qtbot, lambda: isinstance(QApplication.activePopupWidget(), QMenu))
    QApplication.activePopupWidget().close()


def test_changes_while_hidden_reload_once_when_shown(qtbot, services) -> None:
    """A hidden history must not reload on every saved message (main-thread work)."""
    from snapask_desktop.ui.history.window import HistoryWindow

    store = services.store
    window = HistoryWindow(store)
    qtbot.addWidget(window)
    reloads = []
    original = window.model.refresh
    window.model.refresh = lambda: (reloads.append(1), original())[1]  # count real reloads
    store.create_conversation("made while hidden")
    for _ in range(5):
        window.refresh()
    assert reloads == []
    window.show()
    waits.until(qtbot, lambda: window.model.rowCount() == 1)
    assert reloads == [1]
    window.shutdown()


def test_pinned_conversations_come_first_across_pages_and_restarts(
    store: Store, qtbot: QtBot
) -> None:
    created = [store.create_conversation(f"Conversation {n}").id for n in range(7)]
    store.update_conversation(created[1], pinned=True)
    store.update_conversation(created[4], pinned=True)
    newest_first = created[::-1]
    expected = [
        created[4],
        created[1],
        *(c for c in newest_first if c not in (created[1], created[4])),
    ]
    for _restart in range(2):  # a new window reads the same order from the store
        window = HistoryWindow(store, page_size=2)
        qtbot.addWidget(window)
        try:
            while window.model.canFetchMore():
                window.model.fetchMore()
            assert _ids(window) == expected  # each once, pinned first
            assert [window.model.row_at(n).summary.pinned for n in range(3)] == [True, True, False]
        finally:
            window.shutdown()


def test_pinning_moves_the_row_to_the_top_and_keeps_it_selected(
    store: Store, window: HistoryWindow, qtbot: QtBot
) -> None:
    old = store.create_conversation("old").id
    new = store.create_conversation("new").id
    window.refresh()
    assert _ids(window) == [new, old]
    window.select(old)
    window.pin_action.trigger()
    waits.until(qtbot, lambda: _ids(window) == [old, new])
    assert window.current_id() == old
    window.pin_action.trigger()  # unpinned: back in date order
    waits.until(qtbot, lambda: _ids(window) == [new, old])


def test_conversations_written_by_another_process_show_up(
    store: Store, window: HistoryWindow, qtbot: QtBot, services: Services
) -> None:
    """`snapask ask` in a terminal writes the same file: the open History shows it."""
    import subprocess
    import sys

    store.create_conversation("made here")
    window.refresh()
    waits.until(qtbot, lambda: window.model.rowCount() == 1)
    code = (
        "import sys; from pathlib import Path; from snapask_desktop.store.repository import Store;"
        "s = Store.open(Path(sys.argv[1])); s.start_conversation('from the CLI', 'hello');"
        "s.close()"
    )
    subprocess.run([sys.executable, "-c", code, str(services.data_dir)], check=True)
    waits.until(qtbot, lambda: window.model.rowCount() == 2)
    titles = [window.model.index(n).data(ROW_ROLE).title for n in range(2)]
    assert "from the CLI" in titles


def test_the_store_is_not_watched_while_history_is_hidden(window: HistoryWindow) -> None:
    assert window.watcher._timer.isActive()
    window.hide()
    assert not window.watcher._timer.isActive()  # an idle app reads nothing


def test_a_match_in_a_pictures_text_shows_on_one_line(
    store: Store, window: HistoryWindow, qtbot: QtBot
) -> None:
    shot = store.add_screenshot(_png(7))
    chat = store.create_conversation("Stack trace")
    store.add_message(chat.id, "user", "why?", screenshot_sha256=shot.sha256)
    store.set_screenshot_text(
        shot.sha256, "Traceback (most recent call last)\n  File app.py, line 12\nKeyError", "t"
    )
    window.search.setText("app")
    window._run_search()
    row = window.model.data(window.model.index(0), ROW_ROLE)
    assert row.summary.id == chat.id and row.summary.title == "Stack trace"
    # Drawn in a one-line box, a line break showed as two half-cut lines.
    assert "\n" not in row.detail and "File app.py, line 12 KeyError" in row.detail
    [(start, end)] = row.detail_highlights
    assert row.detail[start:end] == "app"


def test_a_conversation_with_an_unsettled_conflict_is_badged(tmp_path: Path, qtbot: QtBot) -> None:
    factory = StoreFactory(tmp_path)
    laptop, phone = factory.new(), factory.new()
    log = ServerLog()
    try:
        renamed = laptop.create_conversation("Error dialog")
        calm = laptop.create_conversation("Receipt")
        for _round in range(2):
            for store in (laptop, phone):
                log.push(store)
                log.catch_up(store)
        laptop.update_conversation(renamed.id, title="Setup dialog")  # both offline
        phone.update_conversation(renamed.id, title="Installer error")
        for store in (laptop, phone, laptop):
            log.push(store)
            log.catch_up(store)
        [record] = laptop.conflicts(renamed.id)

        window = HistoryWindow(laptop)
        qtbot.addWidget(window)
        window.resize(600, 300)
        window.show()
        qtbot.waitExposed(window)
        model = window.model
        badged = {
            model.data(model.index(n), ID_ROLE): model.data(model.index(n), CONFLICT_ROLE)
            for n in range(model.rowCount())
        }
        assert badged == {renamed.id: True, calm.id: False}
        row = model.row_of(renamed.id)
        assert "two devices" in model.data(model.index(row), Qt.ItemDataRole.ToolTipRole)
        assert "sync conflict" in model.data(model.index(row), Qt.ItemDataRole.AccessibleTextRole)
        window.search.setText("installer")  # found by a search too
        window._run_search()
        assert model.data(model.index(0), CONFLICT_ROLE) is True

        laptop.dismiss_conflict(record.id)  # settled in the chat window
        window.search.setText("")
        window._run_search()
        window.refresh()
        assert not any(model.data(model.index(n), CONFLICT_ROLE) for n in range(model.rowCount()))
        window.shutdown()
    finally:
        laptop.close()
        phone.close()


def test_history_follows_a_switch_to_a_dark_palette(
    store: Store, window: HistoryWindow, qtbot: QtBot
) -> None:
    store.start_conversation("Chart", "summarize the chart")
    window.refresh()
    light = window.view.viewport().grab().toImage().pixelColor(4, 60)
    dark = QPalette(QApplication.palette())
    for role, colour in {
        QPalette.ColorRole.Window: "#2b2b2b",
        QPalette.ColorRole.WindowText: "#e6e6e6",
        QPalette.ColorRole.Base: "#1e1e1e",
        QPalette.ColorRole.Text: "#e6e6e6",
    }.items():
        dark.setColor(role, QColor(colour))
    before = QApplication.palette()
    QApplication.setPalette(dark)
    try:
        QApplication.processEvents()
        shown = window.view.viewport().grab().toImage().pixelColor(4, 60)
        assert light.lightnessF() > 0.5 and shown.lightnessF() < 0.3
        assert window.view.palette().color(QPalette.ColorRole.Text).lightnessF() > 0.7
    finally:
        QApplication.setPalette(before)
