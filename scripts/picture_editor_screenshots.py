"""Offscreen renders of the picture editor for docs/screenshots/ (editor-suggestions,
editor-marked-up, editor-marked-up-dark, chat-picture-edited, editor-review and
chat-review-asked: "always ask before sending a picture with a suggested redaction"), made
with the real chat window, editor, store, Tesseract and the fake Gemini.
Run: `.venv/bin/python scripts/picture_editor_screenshots.py`.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
TMP = Path(tempfile.mkdtemp(prefix="snapask-shots-"))
os.environ["QT_QPA_PLATFORM"] = "offscreen"
os.environ["SNAPASK_DATA_DIR"] = str(TMP / "data")
os.environ["SNAPASK_CONFIG_DIR"] = str(TMP / "config")
os.environ["PYTHON_KEYRING_BACKEND"] = "tests.support.memory_keyring.MemoryKeyring"
os.environ["GEMINI_API_KEY"] = "test-key"  # what the fake Gemini accepts

from PIL import Image  # noqa: E402
from PySide6.QtCore import QCoreApplication, QRect  # noqa: E402
from PySide6.QtGui import QImage  # noqa: E402
from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402

from snapask_desktop.config import Settings  # noqa: E402
from snapask_desktop.editor.marks import Arrow, Label  # noqa: E402
from snapask_desktop.services import Services  # noqa: E402
from snapask_desktop.ui.chat.window import ChatUI  # noqa: E402
from snapask_desktop.ui.window_state import WindowStateStore  # noqa: E402
from tests.ocr.samples import DARK, font, render  # noqa: E402
from tests.redact.screens import SK  # noqa: E402
from tests.support.fake_gemini import FakeGemini  # noqa: E402

sys.path.insert(0, str(REPO / "scripts"))
from sync_screenshots import dark_palette  # noqa: E402

OUT = REPO / "docs" / "screenshots"
TERMINAL = [
    "$ ./deploy.sh --env prod",
    f"export OPENAI_KEY={SK}proj-4fGh7KpQ2xLm9NvB3cRt8YwZ",
    "db_password = Tr0ub4dor-horse",
    "notify: jane.doe@example.com",
    "Error: connect ECONNREFUSED 10.0.3.7:5432",
    "    at TCPConnectWrap.afterConnect (net.js:1141)",
]


def wait(condition: object, what: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        QCoreApplication.processEvents()
        time.sleep(0.01)


def save(widget: QWidget, name: str) -> None:
    for _ in range(30):
        QCoreApplication.processEvents()
        time.sleep(0.01)
    widget.grab().save(str(OUT / f"{name}.png"))
    print(f"wrote docs/screenshots/{name}.png")


def main() -> None:
    app = QApplication.instance() or QApplication([])
    text = render(TERMINAL, font("SansMono", 14), DARK)
    screen = Image.new("RGB", (620, 200), DARK[0])  # a terminal wider than its text
    screen.paste(text, (0, 0))
    out = io.BytesIO()
    screen.save(out, "PNG")
    png = out.getvalue()
    with FakeGemini() as gemini:
        services = Services(Settings(gemini_base_url=gemini.url, max_retries=0), TMP / "chat")
        chat = ChatUI(services, state=WindowStateStore(TMP / "chat.ini"))
        window, controller = chat.window, chat.controller
        controller.new_from_picture(png, QImage.fromData(png))
        window.show_near(QRect(40, 40, 200, 120))
        window.resize(460, 420)
        wait(window.edit_button.isVisible, "the edit button")
        window.edit_picture()
        editor = window.editor
        assert editor is not None
        editor.resize(780, 600)
        wait(editor.accept_button.isVisible, "the suggestions")
        wait(lambda: "px" in editor.sent_size.text(), "what will be sent")
        save(editor, "editor-suggestions")

        editor.accept_suggestions()
        editor.edits.add(Arrow((470, 152), (365, 114), 3))
        editor.edits.add(Label((440, 152), "why refused?", 18))
        editor.canvas.changed.emit()
        editor.canvas.update()
        wait(
            lambda: editor.sent_bytes is not None and "Working" not in editor.sent_size.text(),
            "the preview",
        )
        time.sleep(0.5)
        wait(lambda: "Working" not in editor.sent_size.text(), "the preview")
        save(editor, "editor-marked-up")
        QApplication.setPalette(dark_palette())
        save(editor, "editor-marked-up-dark")
        QApplication.setPalette(QApplication.style().standardPalette())
        editor.accept()
        wait(lambda: "hidden" in window.picture_note.text(), "the note")
        save(window, "chat-picture-edited")
        chat.shutdown()
        window.hide()
        services.close()

        # "Always ask before sending a picture with a suggested redaction": asked on Send.
        settings = Settings(
            gemini_base_url=gemini.url, max_retries=0, ask_before_suggested_redaction=True
        )
        services = Services(settings, TMP / "ask")
        chat = ChatUI(services, state=WindowStateStore(TMP / "ask.ini"))
        window, controller = chat.window, chat.controller
        controller.new_from_picture(png, QImage.fromData(png))
        window.show_near(QRect(40, 40, 200, 120))
        window.resize(460, 420)
        window.prompt.setPlainText("why does the deploy fail?")
        window._send(window.prompt.toPlainText())
        wait(lambda: window.editor is not None, "the review")
        review = window.editor
        assert review is not None
        review.resize(780, 600)
        wait(review.accept_button.isVisible, "the suggestions")
        wait(lambda: "px" in review.sent_size.text(), "what will be sent")
        save(review, "editor-review")
        save(window, "chat-review-asked")
        review.reject()
        chat.shutdown()
        window.hide()
        services.close()
    del app


if __name__ == "__main__":
    main()
