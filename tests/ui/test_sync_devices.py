"""Two devices in one test, each with its own store, chat window and SyncBridge, against the
real sync server: changes show up live in the other device's open window, conflicts show a
banner on both, and a synced picture is downloaded when the window shows it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot

from snapask_desktop.config import Settings
from snapask_desktop.server.testing import RunningServer, running_server
from snapask_desktop.sync.device.status import SyncState
from snapask_desktop.ui.chat.widgets import AnswerBubble, QuestionBubble
from snapask_desktop.ui.chat.window import ChatWindow
from snapask_desktop.ui.history.window import HistoryWindow
from tests.store.helpers import png_bytes
from tests.support import fake_gemini
from tests.support.fake_gemini import FakeGemini
from tests.support.stamps import a_millisecond_later
from tests.support.tcp_proxy import TcpProxy
from tests.ui.sync_support import PASSWORD, USER, Device, make_device, titles, wait_for


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    with running_server(tmp_path / "server") as srv:
        srv.add_user(USER, PASSWORD)
        yield srv


@pytest.fixture
def proxy(server: RunningServer) -> Iterator[TcpProxy]:
    """Device B reaches the server through this relay, so a test can take B offline alone."""
    relay = TcpProxy(server.port).start()
    yield relay
    relay.stop()


@pytest.fixture
def devices(
    tmp_path: Path, settings: Settings, server: RunningServer, proxy: TcpProxy
) -> Iterator[tuple[Device, Device]]:
    a = make_device("laptop", tmp_path, settings, server)
    b = make_device("desktop", tmp_path, settings, server, server_url=proxy.url)
    try:
        yield a, b
    finally:
        a.close()
        b.close()


def open_in_window(device: Device, conversation_id: str) -> ChatWindow:
    device.chat.open_conversation(conversation_id)
    window = device.chat.window
    wait_for(lambda: not device.chat.controller.loading, f"{device.name} opening the chat")
    return window


def transcript(window: ChatWindow) -> list[str]:
    out = []
    for bubble in window.transcript.bubbles():
        if isinstance(bubble, QuestionBubble):
            out.append("Q: " + bubble.label.text())
        elif isinstance(bubble, AnswerBubble):
            out.append("A: " + bubble.text())
    return out


def synced_to(device: Device, conversation_id: str) -> bool:
    return conversation_id in titles(device.store)


def up_to_date(device: Device) -> bool:
    status = device.bridge.status
    return status.state is SyncState.UP_TO_DATE and status.pending == 0


def go_offline(device: Device, proxy: TcpProxy) -> None:
    proxy.refuse = True
    proxy.cut()
    wait_for(lambda: device.bridge.status.state is SyncState.OFFLINE, f"{device.name} offline")


def go_online(device: Device, proxy: TcpProxy) -> None:
    proxy.refuse = False
    device.bridge.sync_now()  # retry now rather than after the backoff
    wait_for(lambda: up_to_date(device), f"{device.name} back in sync")


def test_a_rename_and_a_new_message_on_a_show_live_in_bs_open_window(
    devices: tuple[Device, Device], qtbot: QtBot
) -> None:
    a, b = devices
    a.connect()
    b.connect()
    conversation, _ = a.store.start_conversation("Installer error", "What does 0x80070005 mean?")
    a.store.add_message(conversation.id, "model", "Access denied: run it as administrator.")
    wait_for(lambda: synced_to(b, conversation.id), "the conversation on B")
    window = open_in_window(b, conversation.id)
    assert window.header.title.full_text() == "Installer error"
    # The answer was a second commit on A: it may reach B just after the window opened, and
    # then shows live.
    expected = ["Q: What does 0x80070005 mean?", "A: Access denied: run it as administrator."]
    wait_for(lambda: transcript(window) == expected, "both messages in B's window")
    window.prompt.setPlainText("half a question the user is typ")

    a.store.update_conversation(conversation.id, title="Setup fails with 0x80070005")
    new_title = "Setup fails with 0x80070005"
    wait_for(lambda: window.header.title.full_text() == new_title, "the new title on B")
    a.store.add_message(conversation.id, "user", "And on Windows 11?")
    wait_for(lambda: len(transcript(window)) == 3, "A's new question in B's window")

    assert transcript(window)[-1] == "Q: And on Windows 11?"
    assert window.prompt.toPlainText() == "half a question the user is typ"  # never touched
    assert b.chat.controller.title == "Setup fails with 0x80070005"


def test_an_answer_streaming_on_b_stays_intact_while_a_changes_the_conversation(
    devices: tuple[Device, Device], gemini: FakeGemini, qtbot: QtBot
) -> None:
    a, b = devices
    a.connect()
    b.connect()
    conversation, _ = a.store.start_conversation("Error dialog", "What does it say?")
    wait_for(lambda: synced_to(b, conversation.id), "the conversation on B")
    window = open_in_window(b, conversation.id)
    gemini.script(fake_gemini.Stall(chunks=("It says the disk ",), seconds=30))
    window.prompt.setPlainText("Read it to me")
    window.send_button.click()
    answer = window.transcript.answers
    wait_for(lambda: bool(answer()) and answer()[-1].text() != "", "the answer streaming on B")

    a.store.update_conversation(conversation.id, title="Disk full dialog")
    a.store.add_message(conversation.id, "user", "Which disk?")
    wait_for(lambda: window.header.title.full_text() == "Disk full dialog", "the title on B")
    assert answer()[-1].text() == "It says the disk " and answer()[-1].status == "pending"
    assert "Q: Which disk?" not in transcript(window)  # it waits for the answer to end

    window.send_button.click()  # Stop: what arrived is kept
    wait_for(lambda: "Q: Which disk?" in transcript(window), "A's question after the answer")
    shown = transcript(window)
    assert shown[0] == "Q: What does it say?"
    assert "Q: Read it to me" in shown and "A: It says the disk " in shown
    stored = b.store.get_conversation(conversation.id).messages
    assert len(shown) == len(stored) == 4


def test_a_concurrent_rename_shows_a_banner_on_both_and_keeping_the_other_wins_on_both(
    devices: tuple[Device, Device], proxy: TcpProxy, qtbot: QtBot
) -> None:
    a, b = devices
    a.connect()
    b.connect()
    conversation, _ = a.store.start_conversation("Chart", "What does this chart show?")
    cid = conversation.id
    wait_for(lambda: synced_to(b, cid), "the conversation on B")
    window_a, window_b = open_in_window(a, cid), open_in_window(b, cid)

    go_offline(b, proxy)  # both rename without seeing the other's rename
    a.store.update_conversation(cid, title="Sales by region")
    wait_for(lambda: up_to_date(a), "A's rename on the server")
    a_millisecond_later()
    b.store.update_conversation(cid, title="Revenue 2025")  # later stamp: this one wins
    go_online(b, proxy)
    wait_for(lambda: up_to_date(a) and titles(a.store)[cid] == "Revenue 2025", "B's rename on A")

    for device, window in ((a, window_a), (b, window_b)):
        wait_for(lambda w=window: w.banner.isVisible(), f"the banner on {device.name}")
        wait_for(lambda w=window: w.header.title.full_text() == "Revenue 2025", "the winner shown")
        assert "kept “Revenue 2025”" in window.banner.label.text()
    assert "here and on another device" in window_a.banner.label.text()  # A's rename lost
    # A's own rename lost: A calls it this device's version; on B it is the other one.
    assert window_a.banner.keep_button.text() == "Keep this device's version “Sales by region”"
    assert window_b.banner.keep_button.text() == "Keep the other version “Sales by region”"

    window_b.banner.keep_button.click()  # on B, the device whose rename won, take A's one
    for device, window in ((a, window_a), (b, window_b)):
        wait_for(
            lambda w=window: w.header.title.full_text() == "Sales by region",
            f"the kept version on {device.name}",
        )
        wait_for(lambda w=window: not w.banner.isVisible(), f"the banner gone on {device.name}")
    assert titles(a.store)[cid] == titles(b.store)[cid] == "Sales by region"
    assert a.store.conflicts(cid) == [] and b.store.conflicts(cid) == []


def test_a_delete_concurrent_with_an_edit_is_cancelled_and_delete_it_deletes_everywhere(
    devices: tuple[Device, Device], proxy: TcpProxy, qtbot: QtBot
) -> None:
    a, b = devices
    a.connect()
    b.connect()
    conversation, _ = a.store.start_conversation("Receipt", "How much was the tip?")
    cid = conversation.id
    wait_for(lambda: synced_to(b, cid), "the conversation on B")
    go_offline(b, proxy)
    b.store.delete_conversation(cid)  # B deletes it while A still works on it
    a.store.update_conversation(cid, title="Dinner receipt")
    wait_for(lambda: up_to_date(a), "A's edit on the server")
    go_online(b, proxy)
    wait_for(lambda: synced_to(b, cid), "the conversation kept on B")

    window = open_in_window(b, cid)
    wait_for(lambda: window.banner.isVisible(), "the banner about the cancelled delete")
    assert window.banner.label.text() == (
        "You deleted this conversation while it changed on another device; it was kept."
    )
    assert window.banner.keep_button.text() == "Delete it"
    window.banner.keep_button.click()
    wait_for(lambda: not synced_to(b, cid), "the conversation deleted on B")
    wait_for(lambda: not synced_to(a, cid), "the conversation deleted on A")
    # The window moves on to a new chat once the delete's result is back on the main thread.
    wait_for(lambda: b.chat.controller.conversation_id is None, "B's window on a new chat")


def test_a_synced_picture_is_downloaded_when_the_window_shows_it(
    devices: tuple[Device, Device], proxy: TcpProxy, qtbot: QtBot
) -> None:
    a, b = devices
    a.connect()
    b.connect()
    png = png_bytes(240, 160, seed=11)
    shot = a.store.add_screenshot(png)
    conversation, _ = a.store.start_conversation(
        "A chart", "What is this?", screenshot_sha256=shot.sha256
    )
    wait_for(lambda: synced_to(b, conversation.id), "the conversation on B")
    wait_for(lambda: up_to_date(a), "A's picture uploaded")
    assert b.store.missing_blob(shot.sha256)  # metadata only: nothing is fetched unasked

    go_offline(b, proxy)
    window = open_in_window(b, conversation.id)
    controller = b.chat.controller
    wait_for(lambda: controller.picture_state == "missing", "the placeholder while offline")
    assert window.picture_note.text().startswith("Picture not downloaded yet")
    assert window.thumbnail.isVisible()  # the placeholder box stands where the picture goes

    go_online(b, proxy)  # back in touch: the shown picture is asked for again
    wait_for(lambda: controller.picture_state == "ready", "the picture downloaded")
    assert not b.store.missing_blob(shot.sha256)
    assert b.store.screenshot_bytes(shot.sha256, verify=True) == png
    assert window._image.size() == QImage.fromData(png).size()
    assert window.picture_note.text() == ""


def test_history_shows_synced_changes_and_downloads_the_thumbnails_it_draws(
    devices: tuple[Device, Device], qtbot: QtBot
) -> None:
    a, b = devices
    a.connect()
    bridge = b.connect()
    history = HistoryWindow(b.store)
    qtbot.addWidget(history)
    history.set_blob_fetcher(bridge.fetch_blob)
    bridge.blob_ready.connect(history.picture_arrived)
    bridge.applied.connect(lambda _report: history.refresh())  # as the app wires it
    history.show()
    try:
        shot = a.store.add_screenshot(png_bytes(200, 120, seed=5))
        conversation, _ = a.store.start_conversation(
            "Whiteboard", "Transcribe it", screenshot_sha256=shot.sha256
        )
        model = history.model
        wait_for(lambda: model.row_of(conversation.id) == 0, "the new row in B's history")
        index = model.index(0)
        wait_for(lambda: index.data(Qt.ItemDataRole.DecorationRole) is not None, "its thumbnail")
        assert not b.store.missing_blob(shot.sha256)

        a.store.update_conversation(conversation.id, title="Whiteboard, Monday")
        wait_for(
            lambda: model.index(0).data(Qt.ItemDataRole.DisplayRole) == "Whiteboard, Monday",
            "the rename in B's history",
        )
    finally:
        history.shutdown()


def test_a_follow_up_picture_from_another_device_shows_in_the_open_thread(
    devices: tuple[Device, Device], qtbot: QtBot
) -> None:
    a, b = devices
    a.connect()
    b.connect()
    first = a.store.add_screenshot(png_bytes(120, 80, seed=21))
    conversation, _ = a.store.start_conversation(
        "Two pictures", "What is this?", screenshot_sha256=first.sha256
    )
    a.store.add_message(conversation.id, "model", "A chart.", model="m")
    wait_for(lambda: synced_to(b, conversation.id), "the conversation on B")
    window = open_in_window(b, conversation.id)
    wait_for(lambda: b.chat.controller.picture_state == "ready", "the first picture on B")

    # A adds a capture to the conversation: B's open window shows it with that question.
    png = png_bytes(90, 60, seed=22)
    second = a.store.add_screenshot(png)
    a.store.add_message(conversation.id, "user", "And this one?", screenshot_sha256=second.sha256)

    def follow_up() -> QuestionBubble | None:
        questions = window.transcript.questions()
        return questions[1] if len(questions) == 2 else None

    wait_for(lambda: follow_up() is not None, "the follow-up on B")
    wait_for(lambda: follow_up().picture_key == second.sha256, "its picture downloaded")
    assert b.store.screenshot_bytes(second.sha256, verify=True) == png
    assert window.transcript.questions()[0].picture.isHidden()  # the first is shown above
    assert not follow_up().picture.isHidden()
