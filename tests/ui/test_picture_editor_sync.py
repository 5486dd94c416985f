"""A picture with hidden parts, asked about in the chat window of a signed-in device: the
local store, the real sync server and the other device hold only the painted bytes."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from snapask_desktop.config import Settings
from snapask_desktop.redact.paint import FILL, png_bytes
from snapask_desktop.server.testing import RunningServer, running_server
from snapask_desktop.sync.device.status import SyncState
from tests.redact.screens import secret_screen
from tests.support import waits
from tests.ui.sync_support import PASSWORD, USER, Device, make_device, titles, wait_for
from tests.ui.test_picture_editor import USER_BOX, drag, unpainted


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    with running_server(tmp_path / "server") as srv:
        srv.add_user(USER, PASSWORD)
        yield srv


@pytest.fixture
def devices(
    tmp_path: Path, settings: Settings, server: RunningServer
) -> Iterator[tuple[Device, Device]]:
    a = make_device("laptop", tmp_path, settings, server)
    b = make_device("desktop", tmp_path, settings, server)
    try:
        yield a, b
    finally:
        a.close()
        b.close()


def up_to_date(device: Device) -> bool:
    status = device.bridge.status
    return status.state is SyncState.UP_TO_DATE and status.pending == 0


def test_the_store_the_server_and_the_other_device_hold_only_the_painted_picture(
    devices: tuple[Device, Device], server: RunningServer, qtbot: QtBot
) -> None:
    a, b = devices
    a.connect()
    b.connect()
    screen = secret_screen(13)
    original = png_bytes(screen.image)
    window = a.chat.window
    a.chat.controller.new_from_picture(original, QImage.fromData(original))
    window.show_near(QRect(20, 20, 100, 80))
    waits.until(qtbot, lambda: window.edit_button.isVisible())
    window.edit_picture()
    editor = window.editor
    assert editor is not None
    editor.resize(1000, 800)
    waits.until(qtbot, lambda: editor.canvas.view().scale == 1)
    editor.activateWindow()
    waits.until(qtbot, lambda: QApplication.activeWindow() is editor)
    waits.until(qtbot, lambda: editor.accept_button.isVisible())
    qtbot.keyClick(editor, Qt.Key.Key_Return)  # hide every suggested part
    drag(qtbot, editor.canvas, USER_BOX)
    qtbot.keyClick(editor, Qt.Key.Key_Return)  # Done
    waits.until(qtbot, lambda: window.editor is None)
    window.prompt.setFocus()
    qtbot.keyClicks(window.prompt, "what is this?")
    qtbot.keyClick(window.prompt, Qt.Key.Key_Return)
    controller = a.chat.controller
    waits.until(qtbot, lambda: controller.conversation_id is not None)
    cid = controller.conversation_id
    wait_for(lambda: cid in titles(b.store) and up_to_date(a), "the conversation on B")

    sha = next(m.screenshot_sha256 for m in a.store.get_conversation(cid).messages)
    assert sha is not None
    kept = a.store.screenshot_bytes(sha)
    painted = Image.open(io.BytesIO(kept)).convert("RGB")
    for kind, secret, ink in [*screen.secrets, ("hand-drawn", "OPENAI_KEY", USER_BOX)]:
        assert not unpainted(painted, ink), f"{kind} {secret!r} was kept"

    # The server's files: the painted picture is there, the original nowhere.
    files = [p.read_bytes() for p in Path(server.data_dir).rglob("*") if p.is_file()]
    assert any(data == kept for data in files)
    assert not any(original in data for data in files)

    # The other device downloads exactly the painted picture.
    b.bridge.fetch_blob(sha)
    wait_for(lambda: not b.store.missing_blob(sha), "the picture on B")
    assert b.store.screenshot_bytes(sha, verify=True) == kept
    assert painted.getpixel((USER_BOX[0], USER_BOX[1])) == FILL
