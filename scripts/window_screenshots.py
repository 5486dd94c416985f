"""Offscreen renders of the chat, History, Settings and welcome windows for docs/screenshots/
(chat-new, chat-streaming, chat-answer*, chat-error, chat-waiting*, history*, settings-general*,
settings-api-key, settings-error, settings-hotkeys*, settings-templates, welcome*), light and
dark, made with the real widgets and store and the fake Gemini.

The other sets come from scripts/xvfb_screenshots.py (the real app under Xvfb),
scripts/sync_screenshots.py and scripts/picture_text_screenshots.py.
Run: `.venv/bin/python scripts/window_screenshots.py`.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
TMP = Path(tempfile.mkdtemp(prefix="snapask-shots-"))
os.environ["QT_QPA_PLATFORM"] = "offscreen"
os.environ["SNAPASK_DATA_DIR"] = str(TMP / "data")
os.environ["SNAPASK_CONFIG_DIR"] = str(TMP / "config")
os.environ["PYTHON_KEYRING_BACKEND"] = "tests.support.memory_keyring.MemoryKeyring"
os.environ["GEMINI_API_KEY"] = "test-key"  # what the fake Gemini accepts

import keyring  # noqa: E402
from PIL import Image, ImageDraw, ImageFont  # noqa: E402
from PySide6.QtCore import QCoreApplication, QRect  # noqa: E402
from PySide6.QtGui import QColor, QImage, QPalette  # noqa: E402
from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402

from snapask_desktop.config import Settings, SettingsStore  # noqa: E402
from snapask_desktop.services import Services  # noqa: E402
from snapask_desktop.store.repository import Store  # noqa: E402
from snapask_desktop.ui.chat.window import ChatUI  # noqa: E402
from snapask_desktop.ui.history.window import HistoryWindow  # noqa: E402
from snapask_desktop.ui.settings.dialog import SettingsDialog  # noqa: E402
from snapask_desktop.ui.settings.general_page import GeneralPage  # noqa: E402
from snapask_desktop.ui.settings.hotkeys_page import HotkeysPage  # noqa: E402
from snapask_desktop.ui.shell.welcome import WelcomeDialog  # noqa: E402
from snapask_desktop.ui.window_state import WindowStateStore  # noqa: E402
from tests.ai.screens import png_bytes, screenshot  # noqa: E402
from tests.store.sync_fixtures import ServerLog, StoreFactory  # noqa: E402
from tests.support import fake_gemini as fg  # noqa: E402
from tests.support.fake_gemini import FakeGemini  # noqa: E402
from tests.support.memory_keyring import MemoryKeyring  # noqa: E402

OUT = REPO / "docs" / "screenshots"
DATA_DIR = Path("/home/ada/.local/share/SnapAsk")
ANSWER = (
    "### What happened\n\n"
    "Python looked up the key **`'user'`** in a dictionary that has none: the request "
    "reached `app.py` line 12 without a user in its session.\n\n"
    "### Fix\n\n"
    "Read it with a default, so a missing user is handled:\n\n"
    "```python\n"
    "def current_user(session: dict[str, str]) -> str:\n"
    '    return session.get("user", "anonymous")  # no KeyError when nobody signed in\n'
    "```\n\n"
    "Or check first, then run the tests again:\n\n"
    "```sh\npytest tests/test_login.py -k session\n```\n"
)


def settle(seconds: float = 0.3) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        QCoreApplication.processEvents()
        time.sleep(0.01)


def wait(condition: Callable[[], object], what: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        QCoreApplication.processEvents()
        time.sleep(0.01)


def save(widget: QWidget, name: str) -> None:
    settle()
    widget.grab().save(str(OUT / f"{name}.png"))
    print(f"wrote docs/screenshots/{name}.png")


def dark_palette() -> QPalette:
    """The dark palette of scripts/sync_screenshots.py (importing it would change this
    process's environment)."""
    palette = QPalette()
    colors = {
        QPalette.ColorRole.Window: "#2b2b2b",
        QPalette.ColorRole.WindowText: "#e6e6e6",
        QPalette.ColorRole.Base: "#1e1e1e",
        QPalette.ColorRole.AlternateBase: "#262626",
        QPalette.ColorRole.Text: "#e6e6e6",
        QPalette.ColorRole.Button: "#333333",
        QPalette.ColorRole.ButtonText: "#e6e6e6",
        QPalette.ColorRole.Highlight: "#2f81f7",
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.PlaceholderText: "#8b8b8b",
        QPalette.ColorRole.ToolTipBase: "#2b2b2b",
        QPalette.ColorRole.ToolTipText: "#e6e6e6",
        QPalette.ColorRole.Link: "#58a6ff",
    }
    for role, color in colors.items():
        palette.setColor(role, QColor(color))
    return palette


def in_dark(widget: QWidget, name: str) -> None:
    """Save `widget` as NAME-dark under a dark palette, then go back to the light one."""
    QApplication.setPalette(dark_palette())
    settle()
    save(widget, f"{name}-dark")
    QApplication.setPalette(QApplication.style().standardPalette())
    settle()


def terminal_error() -> bytes:
    """A small dark terminal with a Python traceback, like a captured region."""
    image = Image.new("RGB", (480, 150), (30, 30, 30))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=15)
    lines = ("Traceback (most recent call last):", '  File "app.py", line 12', "KeyError: 'user'")
    for number, line in enumerate(lines):
        draw.text((16, 16 + number * 22), line, fill=(240, 110, 100), font=font)
    return png_bytes(image)


def new_chat(settings: Settings, name: str) -> tuple[Services, ChatUI]:
    services = Services(settings, data_dir=TMP / name)
    chat = ChatUI(services, state=WindowStateStore(TMP / f"{name}.ini"))
    window = chat.window  # built first: it shows what the controller says from now on
    png = terminal_error()
    chat.controller.new_from_picture(png, QImage.fromData(png))
    window.show_near(QRect(40, 40, 200, 120))
    window.resize(460, 700)
    return services, chat


def close_chat(services: Services, chat: ChatUI) -> None:
    chat.shutdown()
    chat.window.hide()
    services.close()


def chat_shots(gemini: FakeGemini) -> None:
    settings = Settings(gemini_base_url=gemini.url, max_retries=0)
    services, chat = new_chat(settings, "chat")
    window, controller = chat.window, chat.controller
    save(window, "chat-new")
    words = ANSWER.split(" ")
    gemini.script(fg.Reply([w + " " for w in words[:-1]] + [words[-1]], delay_s=0.03))
    controller.send("What does this error mean?")
    wait(lambda: "Fix" in window.transcript.answers()[-1].text(), "half of the answer")
    save(window, "chat-streaming")
    wait(lambda: controller.status.kind == "idle", "the answer")
    save(window, "chat-answer")
    in_dark(window, "chat-answer")
    close_chat(services, chat)

    services, chat = new_chat(settings, "chat-error")
    gemini.script(fg.invalid_key())
    chat.controller.send("What does this error mean?")
    wait(lambda: chat.controller.status.kind == "error", "the error")
    save(chat.window, "chat-error")
    close_chat(services, chat)

    with FakeGemini() as down:  # a provider of its own that stays down
        down.script(*(fg.overloaded() for _ in range(30)))
        waiting = Settings(gemini_base_url=down.url, max_retries=0)
        services, chat = new_chat(waiting, "chat-waiting")
        chat.controller.send("What does this error mean?")
        wait(lambda: chat.controller.status.kind == "waiting", "the waiting line")
        save(chat.window, "chat-waiting")
        in_dark(chat.window, "chat-waiting")
        close_chat(services, chat)


HISTORY = [
    (
        "Stack trace in the build log",
        "## Cause\n\nThe build fails because the package "
        "that provides the **`yaml`** module is not installed: `pip install pyyaml`.",
        "code",
    ),
    (
        "Chart: quarterly revenue",
        "Revenue grew **12 %** in Q3, mostly from the *EMEA* region; "
        "see [the report](https://example.com/q3).",
        "chart",
    ),
    ("Receipt total", "The total is **42,50 €** including VAT and a tip of 5 €.", "receipt"),
    ("Translate the menu", "- *Soupe du jour*: soup of the day\n- *Plat*: main course", "menu"),
    ("Regex for dates", "Use `\\d{4}-\\d{2}-\\d{2}` for ISO dates like 2026-12-06.", None),
    ("Street sign in Lisbon", "It says *Saída*: **exit**, and *Rua Augusta* below.", "sign"),
]


def _picture(kind: str, seed: int) -> bytes:
    if kind == "code":
        image = screenshot(640, 400, seed=seed)
        return png_bytes(image.crop((0, 0, 640, 400)))
    colours = {
        "chart": (225, 238, 250),
        "receipt": (250, 246, 232),
        "menu": (250, 235, 228),
        "sign": (255, 250, 220),
    }
    image = Image.new("RGB", (480, 320), colours[kind])
    draw = ImageDraw.Draw(image)
    for line in range(8):
        draw.rectangle(
            (30, 30 + line * 34, 30 + 380 - (line * 37) % 200, 46 + line * 34), fill=(120, 130, 150)
        )
    return png_bytes(image)


def history_store() -> Store:
    """Conversations with pictures and Markdown answers, one pinned, one with a conflict."""
    factory = StoreFactory(TMP / "history")
    laptop, phone = factory.new(), factory.new()
    log = ServerLog()
    made: dict[str, str] = {}
    for seed, (title, answer, kind) in enumerate(HISTORY):
        sha = laptop.add_screenshot(_picture(kind, seed)).sha256 if kind else None
        conversation, _ = laptop.start_conversation(title, "What is this?", screenshot_sha256=sha)
        laptop.add_message(conversation.id, "model", answer, model="gemini-2.5-flash")
        made[title] = conversation.id
    laptop.update_conversation(made["Receipt total"], pinned=True)
    for store in (laptop, phone, laptop):
        log.push(store)
        log.catch_up(store)
    laptop.update_conversation(made["Chart: quarterly revenue"], title="Chart: Q3 revenue")
    phone.update_conversation(made["Chart: quarterly revenue"], title="Revenue by region")
    for store in (laptop, phone, laptop):
        log.push(store)
        log.catch_up(store)
    phone.close()
    return laptop


def history_shots() -> None:
    store = history_store()
    window = HistoryWindow(store, undo_seconds=60)
    window.resize(600, 520)
    window.show()
    wait(lambda: window.model.rowCount() == len(HISTORY), "the list")
    settle(1.0)  # thumbnails
    save(window, "history")
    in_dark(window, "history")
    window.search.setText("revenue")
    window._run_search()
    settle(0.5)
    save(window, "history-search")
    window.search.setText("")
    window._run_search()
    settle(0.5)
    window.select(window.model.row_at(2).summary.id)  # type: ignore[union-attr]
    window._delete_current()
    settle(0.5)
    save(window, "history-undo")
    window.shutdown()
    window.hide()
    store.close()


def settings_dialog(settings: Settings) -> SettingsDialog:
    dialog = SettingsDialog(
        settings, SettingsStore(TMP / "config"), data_dir=DATA_DIR, platform="linux"
    )
    dialog.show()
    dialog.wait_for_work()
    return dialog


TEMPLATES = [
    {"label": "Fix grammar", "prompt": "Fix the grammar of the text in the picture."},
    {"label": "Explain like I'm new", "prompt": "Explain what the picture shows to a beginner."},
]


def settings_shots() -> None:
    dialog = settings_dialog(Settings(prompt_templates=TEMPLATES))
    save(dialog, "settings-general")
    in_dark(dialog, "settings-general")
    dialog.show_page("api_key")
    dialog.wait_for_work()
    settle(0.5)
    save(dialog, "settings-api-key")
    dialog.show_page("hotkeys")
    save(dialog, "settings-hotkeys")
    in_dark(dialog, "settings-hotkeys")
    page = dialog.page("hotkeys")
    assert isinstance(page, HotkeysPage)
    page.rows["reopen_last"].recorder.listen()
    save(dialog, "settings-hotkeys-recording")
    page.rows["reopen_last"].recorder.cancel()
    dialog.show_page("templates")
    templates = dialog.page("templates")
    templates.list.setCurrentRow(0)  # type: ignore[attr-defined]
    save(dialog, "settings-templates")
    dialog.hide()

    dialog = settings_dialog(Settings())
    general = dialog.page("general")
    assert isinstance(general, GeneralPage)
    general.openai_base_url.setText("localhost:11434")
    dialog.save()
    settle(0.5)
    save(dialog, "settings-error")
    dialog.hide()


def welcome_shots() -> None:
    dialog = WelcomeDialog(Settings(), platform="linux")
    dialog.show()
    save(dialog, "welcome")
    in_dark(dialog, "welcome")
    dialog.hide()


def main() -> None:
    keyring.set_keyring(MemoryKeyring())
    app = QApplication(sys.argv[:1])
    app.setApplicationName("SnapAsk")
    with FakeGemini() as gemini:
        chat_shots(gemini)
    history_shots()
    settings_shots()
    welcome_shots()
    app.quit()


if __name__ == "__main__":
    main()
