"""Screenshots of the real app under Xvfb for docs/screenshots/ (xvfb-*.png).

Starts Xvfb with a tray, a desktop picture that looks like a terminal with an error, the real
`snapask` app and the fake Gemini; drives a region capture and a question with xdotool; saves a
picture of the screen at each step. Run: `.venv/bin/python scripts/xvfb_screenshots.py`.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support import fake_gemini as fg  # noqa: E402
from tests.support.desktop_app import SCREEN, App, desktop, xdotool  # noqa: E402
from tests.support.fake_gemini import FakeGemini  # noqa: E402
from tests.support.x11_driver import XDriver  # noqa: E402

OUT = REPO / "docs" / "screenshots"
TERMINAL_TEXT = """$ python manage.py migrate
Traceback (most recent call last):
  File "manage.py", line 22, in <module>
    main()
  File "django/db/backends/utils.py", line 89, in _execute
    return self.cursor.execute(sql, params)
psycopg.errors.UndefinedColumn: column "archived_at" of relation "notes" does not exist
LINE 1: UPDATE "notes" SET "archived_at" = NULL WHERE "notes"."id" = 7
$ """
ANSWER = (
    "The migration fails because the **`archived_at`** column is missing from the "
    "`notes` table: the code expects a migration that has not run yet.\n\n"
    "Run the pending migrations for the app that owns `notes`:\n\n"
    "```sh\npython manage.py makemigrations notes\npython manage.py migrate notes\n```\n\n"
    "If the migration exists but was faked, check `python manage.py showmigrations notes`."
)


def background() -> Image.Image:
    """A desktop with a terminal window showing an error."""
    image = Image.new("RGB", (SCREEN.width, SCREEN.height), (46, 52, 64))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((160, 140, 1260, 620), radius=10, fill=(24, 26, 33))
    draw.rectangle((160, 140, 1260, 176), fill=(59, 66, 82))
    font = ImageFont.load_default(size=17)
    draw.text((180, 148), "Terminal", fill=(216, 222, 233), font=font)
    draw.multiline_text((184, 200), TERMINAL_TEXT, fill=(229, 233, 240), font=font, spacing=9)
    return image


def shoot(display: str, name: str, box: tuple[int, int, int, int] | None = None) -> None:
    """Save the screen (or a part of it) as docs/screenshots/xvfb-NAME.png."""
    png = subprocess.run(
        ["import", "-display", display, "-window", "root", "png:-"],
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout
    picture = Image.open(io.BytesIO(png)).convert("RGB")
    if box is not None:
        picture = picture.crop(box)
    picture.save(OUT / f"xvfb-{name}.png", optimize=True)
    print(f"wrote docs/screenshots/xvfb-{name}.png")


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
        try:
            app.wait_for("ready in the system tray")
            time.sleep(2)  # let the tray icon settle in the panel
            driver.drain()
            xdotool(app.env, "key", "ctrl+alt+s")
            driver.wait_mapped("SnapAsk capture")
            xdotool(app.env, "mousemove", "170", "185", "mousedown", "1")
            xdotool(app.env, "mousemove", "900", "400")
            xdotool(app.env, "mousemove", "1250", "470")
            xdotool(app.env, "mouseup", "1")  # the Ask / Cancel buttons appear
            time.sleep(0.3)
            shoot(screen.name, "overlay")
            xdotool(app.env, "key", "Return")
            chat = driver.wait_mapped("SnapAsk —")
            chunks = tuple(ANSWER[i : i + 40] for i in range(0, len(ANSWER), 40))
            gemini.script(fg.Reply(chunks, delay_s=0.02))
            xdotool(app.env, "windowfocus", "--sync", str(chat.window_id))
            xdotool(app.env, "type", "--delay", "10", "Why does this fail and how do I fix it?")
            xdotool(app.env, "key", "Return")
            # The answer is asked once the picture is ready; on a busy machine that takes more
            # than a fixed pause: wait for the request, then for the streamed answer to render.
            deadline = time.monotonic() + 60
            while not gemini.generate_requests() and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(3)
            shoot(screen.name, "chat")
            app.cli()  # a second launch shows History in the running app
            driver.wait_mapped("SnapAsk — History")
            time.sleep(1)
            shoot(screen.name, "history")
        finally:
            app.stop()
            driver.close()


if __name__ == "__main__":
    main()
