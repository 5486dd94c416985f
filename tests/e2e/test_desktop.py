"""End to end under a real X server: the real app in the tray, the hotkey pressed, a region
dragged with xdotool, the chat window found on screen, a question answered by the fake Gemini,
and the stored picture compared pixel for pixel with what was on screen."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from snapask_desktop.capture.geometry import Rect
from snapask_desktop.store import Store
from tests.capture.support.pattern import pattern_image
from tests.capture.support.xserver import Xvfb, xvfb
from tests.support.cli import FILE_KEYRING, REPO
from tests.support.fake_gemini import FakeGemini
from tests.support.x11_driver import XDriver

SCREEN = Rect(0, 0, 1920, 1080)
REGION = Rect(300, 200, 400, 300)  # what the test drags over: x, y, width, height


@pytest.fixture(scope="module")
def screen() -> Iterator[Xvfb]:
    """Xvfb with the position-coded pattern and a system tray (trayer)."""
    with xvfb(SCREEN.width, SCREEN.height) as server:
        server.show(pattern_image(SCREEN))
        tray = subprocess.Popen(
            [
                "trayer",
                "--edge",
                "bottom",
                "--align",
                "right",
                "--widthtype",
                "pixel",
                "--width",
                "200",
                "--height",
                "32",
                "--SetDockType",
                "false",
            ],
            env={**os.environ, **server.env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            yield server
        finally:
            tray.terminate()
            tray.wait(5)


class App:
    """The real `snapask` tray app in a subprocess on the test display."""

    def __init__(self, screen: Xvfb, home: Path, gemini: FakeGemini) -> None:
        self.env = {
            **os.environ,
            **screen.env,
            "QT_QPA_PLATFORM": "xcb",
            "PYNPUT_BACKEND": "xorg",
            "PYTHONPATH": str(REPO),
            "PYTHON_KEYRING_BACKEND": FILE_KEYRING,
            "XDG_RUNTIME_DIR": str(home / "runtime"),
            "GEMINI_API_KEY": "test-key",
            "SNAPASK_GEMINI_BASE_URL": gemini.url,
        }
        (home / "runtime").mkdir(mode=0o700, parents=True, exist_ok=True)
        self.log = (home / "app.log").open("w+")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "snapask_desktop"],
            env=self.env,
            stdout=self.log,
            stderr=self.log,
        )

    def output(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text()

    def wait_for(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"app never said {text!r}; its output:\n{self.output()}")
            time.sleep(0.05)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "snapask_desktop", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    def stop(self) -> int:
        if self.process.poll() is None:
            self.cli("quit")
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.log.close()
        return self.process.returncode


def xdotool(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(["xdotool", *args], env=env, capture_output=True, text=True, timeout=20)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def wait_until(condition, timeout: float = 20, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_hotkey_region_question_answer(screen: Xvfb, isolated_env: Path) -> None:
    driver = XDriver(screen.name)
    with FakeGemini() as gemini:
        app = App(screen, isolated_env, gemini)
        try:
            app.wait_for("ready in the system tray")
            assert "no system tray" not in app.output().lower()
            driver.drain()
            xdotool(app.env, "key", "ctrl+alt+s")
            overlay = driver.wait_mapped("SnapAsk capture")
            xdotool(app.env, "mousemove", str(REGION.x), str(REGION.y), "mousedown", "1")
            xdotool(app.env, "mousemove", str(REGION.x + 150), str(REGION.y + 120))
            xdotool(app.env, "mousemove", str(REGION.right), str(REGION.bottom), "mouseup", "1")
            xdotool(app.env, "key", "Return")
            driver.wait_unmapped(overlay.window_id)
            chat = driver.wait_mapped("SnapAsk —")
            xdotool(app.env, "windowfocus", "--sync", str(chat.window_id))
            xdotool(app.env, "type", "--delay", "5", "what is on this screen?")
            xdotool(app.env, "key", "Return")
            request = wait_until(lambda: gemini.generate_requests(), what="the question")[0]
            assert request.body["contents"][0]["parts"][-1]["text"] == "what is on this screen?"
            with Store.open(isolated_env / "data") as store:
                detail = wait_until(lambda: _answered(store), what="the answer saved in the store")
                question, answer = detail.messages
                assert answer.text == "You asked: what is on this screen? [1 image]."
                png = store.screenshot_bytes(question.screenshot_sha256)
            picture = Image.open(io.BytesIO(png)).convert("RGB")
            expected = pattern_image(REGION)
            assert picture.size == (REGION.width, REGION.height)
            assert picture.tobytes() == expected.tobytes()
        finally:
            code = app.stop()
            driver.close()
    assert code == 0, app.output()


def _answered(store: Store):
    rows = store.list_conversations(limit=5)
    if not rows:
        return None
    detail = store.get_conversation(rows[0].id)
    return detail if len(detail.messages) == 2 else None
