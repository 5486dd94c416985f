"""Offscreen renders of the picture-text UI for docs/screenshots/ (chat-extract-text,
chat-secrets-hidden, chat-redaction-failed, settings-general), made with the real widgets,
store, Tesseract and the fake Gemini. Run: `.venv/bin/python scripts/picture_text_screenshots.py`.
"""

from __future__ import annotations

import dataclasses
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

from PySide6.QtCore import QCoreApplication, QRect  # noqa: E402
from PySide6.QtGui import QImage  # noqa: E402
from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402

from snapask_desktop.config import Settings, SettingsStore  # noqa: E402
from snapask_desktop.services import Services  # noqa: E402
from snapask_desktop.ui.chat.window import ChatUI  # noqa: E402
from snapask_desktop.ui.settings.dialog import SettingsDialog  # noqa: E402
from snapask_desktop.ui.window_state import WindowStateStore  # noqa: E402
from tests.ocr.samples import DIALOG, font, render  # noqa: E402
from tests.support import fake_gemini as fg  # noqa: E402
from tests.support.fake_gemini import FakeGemini  # noqa: E402

OUT = REPO / "docs" / "screenshots"
SECRETS = ["Deploy notes", "contact jane.doe@example.com", "db_password = Tr0ub4dor-horse"]


def png_of(lines: list[str], face: str) -> bytes:
    out = io.BytesIO()
    render(lines, font(face, 13)).save(out, "PNG")
    return out.getvalue()


def wait(condition: object, what: str, timeout_s: float = 30) -> None:
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


def chat_shot(settings: Settings, png: bytes, name: str, ask: str | None = None) -> None:
    """A chat about `png`: Extract text clicked (ask None) or `ask` sent; saved when settled."""
    services = Services(settings, data_dir=TMP / name)
    chat = ChatUI(services, state=WindowStateStore(TMP / f"{name}.ini"))
    window, controller = chat.window, chat.controller
    controller.new_from_picture(png, QImage.fromData(png))
    window.show_near(QRect(40, 40, 200, 120))
    window.resize(460, 520)
    if ask is None:
        next(c for c in window.chip_buttons() if c.text() == "Extract text").click()
    else:
        controller.send(ask)
    wait(lambda: not controller.answering_here and controller.status.kind != "sending", name)
    wait(lambda: controller.status.kind in ("idle", "error"), name)
    save(window, name)
    chat.shutdown()
    window.hide()
    services.close()


def main() -> None:
    app = QApplication.instance() or QApplication([])
    with FakeGemini() as gemini:
        base = Settings(gemini_base_url=gemini.url, max_retries=0)
        chat_shot(base, png_of(DIALOG, "Sans"), "chat-extract-text")
        redacting = dataclasses.replace(base, redact_secrets=True)
        gemini.script(fg.Reply(("Deployment notes with a contact and a database password.",)))
        chat_shot(redacting, png_of(SECRETS, "SansMono"), "chat-secrets-hidden", "what is this?")
        sys.modules["tesserocr"] = None  # type: ignore[assignment]  # the extra not installed
        import snapask_desktop.ocr.engine as engine

        engine._local.__dict__.clear()  # this thread's instances, if any
        chat_shot(redacting, png_of(SECRETS, "SansMono"), "chat-redaction-failed", "explain")
        del sys.modules["tesserocr"]  # installed again, for the settings page
    dialog = SettingsDialog(
        Settings(redact_secrets=True),
        SettingsStore(TMP / "config"),
        data_dir=Path("/home/ada/.local/share/SnapAsk"),
        platform="linux",
    )
    dialog.show()
    dialog.wait_for_work()
    save(dialog, "settings-general-pictures")
    del app


if __name__ == "__main__":
    main()
