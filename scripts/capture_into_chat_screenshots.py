"""Screenshots of a capture added to the open conversation, with the real app under Xvfb
(docs/screenshots/xvfb-overlay-add.png, xvfb-chat-added.png, xvfb-chat-two-pictures.png).

A first capture and question, then a second capture: the overlay's toolbar offers "New chat"
or "Add to open chat" (shot), Shift+Enter adds it (the chat window with the added picture,
shot), and the follow-up is asked (the thread with both pictures, shot).
Run: `.venv/bin/python scripts/capture_into_chat_screenshots.py`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from xvfb_screenshots import background, shoot  # noqa: E402

from tests.support import fake_gemini as fg  # noqa: E402
from tests.support.desktop_app import App, desktop, focus, wait_until, xdotool  # noqa: E402
from tests.support.fake_gemini import FakeGemini  # noqa: E402
from tests.support.x11_driver import XDriver  # noqa: E402

FIRST = (170, 185, 1250, 330)  # the traceback (left, top, right, bottom)
SECOND = (175, 345, 1000, 420)  # the error under it, added to the same conversation
FIRST_ANSWER = (
    "The migration fails because the **`archived_at`** column is missing from the `notes` "
    "table. Run `python manage.py migrate notes`."
)
SECOND_ANSWER = (
    "This one is the prompt after the failure: nothing ran since, so the column is still "
    "missing. Run the migration first."
)


def window_box(env: dict[str, str], window_id: int, room: int = 12) -> tuple[int, int, int, int]:
    """The screen rectangle of a window, with a little room around it."""
    out = subprocess.run(
        ["xdotool", "getwindowgeometry", "--shell", str(window_id)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    values = dict(line.split("=", 1) for line in out.split() if "=" in line)
    x, y, w, h = (int(values[k]) for k in ("X", "Y", "WIDTH", "HEIGHT"))
    return (max(0, x - room), max(0, y - room), x + w + room, y + h + room)


def drag(env: dict[str, str], box: tuple[int, int, int, int]) -> None:
    xdotool(env, "mousemove", str(box[0]), str(box[1]), "mousedown", "1")
    xdotool(env, "mousemove", str((box[0] + box[2]) // 2), str((box[1] + box[3]) // 2))
    xdotool(env, "mousemove", str(box[2]), str(box[3]))
    xdotool(env, "mouseup", "1")


def main() -> None:
    with (
        tempfile.TemporaryDirectory() as tmp,
        desktop(background()) as screen,
        FakeGemini() as gemini,
    ):
        home = Path(tmp)
        os.environ["SNAPASK_DATA_DIR"] = str(home / "data")
        os.environ["SNAPASK_CONFIG_DIR"] = str(home / "config")
        driver = XDriver(screen.name)
        app = App(screen, home, gemini)
        env = app.env
        try:
            app.wait_for("ready in the system tray")
            time.sleep(2)
            driver.drain()
            xdotool(env, "key", "ctrl+alt+s")
            driver.wait_mapped("SnapAsk capture")
            drag(env, FIRST)
            xdotool(env, "key", "Return")
            chat = driver.wait_mapped("SnapAsk —")
            gemini.script(fg.Reply((FIRST_ANSWER,)))
            focus(env, chat.window_id)
            xdotool(env, "type", "--delay", "10", "Why does this fail?")
            xdotool(env, "key", "Return")
            wait_until(lambda: gemini.generate_requests(), what="the first question")
            time.sleep(1)

            driver.drain()
            xdotool(env, "key", "ctrl+alt+s")
            overlay = driver.wait_mapped("SnapAsk capture")
            drag(env, SECOND)
            time.sleep(0.3)
            shoot(screen.name, "overlay-add", (120, 290, 1300, 500))
            xdotool(env, "key", "shift+Return")
            driver.wait_unmapped(overlay.window_id)
            chat = driver.wait_mapped("SnapAsk —")
            time.sleep(1)
            focus(env, chat.window_id)
            xdotool(env, "type", "--delay", "10", "And this part?")
            time.sleep(0.5)
            shoot(screen.name, "chat-added", window_box(env, chat.window_id))
            gemini.script(fg.Reply((SECOND_ANSWER,)))
            xdotool(env, "key", "Return")
            # Waited for, not a fixed pause: on a busy machine the answer takes its time.
            wait_until(lambda: len(gemini.generate_requests()) > 1, what="the follow-up")
            time.sleep(1.5)
            shoot(screen.name, "chat-two-pictures", window_box(env, chat.window_id))
        finally:
            app.stop()
            driver.close()


if __name__ == "__main__":
    main()
