"""The real SnapAsk tray app on a real X server (Xvfb + a tray), for end-to-end tests and
screenshots: start it, drive it with xdotool, read its output, stop it."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from PIL import Image

from snapask_desktop.capture.geometry import Rect
from tests.capture.support.pattern import pattern_image
from tests.capture.support.xserver import Xvfb, xvfb
from tests.support.cli import FILE_KEYRING, REPO
from tests.support.fake_gemini import FakeGemini

T = TypeVar("T")
SCREEN = Rect(0, 0, 1920, 1080)
PANEL_HEIGHT = 32  # trayer's panel along the bottom edge


@contextlib.contextmanager
def desktop(background: Image.Image | None = None) -> Iterator[Xvfb]:
    """Xvfb showing `background` (default: the position-coded pattern) and a tray (trayer)."""
    with xvfb(SCREEN.width, SCREEN.height) as server:
        server.show(background if background is not None else pattern_image(SCREEN))
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
        """Everything the app printed so far."""
        if not self.log.closed:
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
    """Run xdotool on the app's display; its output."""
    done = subprocess.run(["xdotool", *args], env=env, capture_output=True, text=True, timeout=20)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def wait_until(condition: Callable[[], T], timeout: float = 20, what: str = "condition") -> T:
    """Poll `condition` until it returns something true; that value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def focus(env: dict[str, str], window_id: int) -> None:
    """Give a window the keyboard focus and let Qt take it in before keys arrive.

    There is no window manager on Xvfb to do it, and Qt applies an X focus change a moment after
    the X server reports it: keys typed in that moment still go to the previously active window.
    """
    xdotool(env, "windowfocus", "--sync", str(window_id))  # returns once the X server agrees
    time.sleep(0.3)  # no X event tells when Qt has switched its active window
