"""Settings → Hotkeys on a real X server, keys typed with xdotool: the field says it listens,
takes the combination (X11 reports a modifier's own press and release its own way), Esc
cancels and a second Esc closes Settings."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.capture.support.xserver import Xvfb
from tests.support import waits
from tests.support.cli import REPO
from tests.support.desktop_app import desktop, focus, xdotool
from tests.support.x11_driver import XDriver

# The Settings dialog in a process of its own, printing what the Reopen field shows and does.
DIALOG = """
import sys
from pathlib import Path
from PySide6.QtWidgets import QApplication
from snapask_desktop.config import Settings, SettingsStore
from snapask_desktop.ui.settings.dialog import SettingsDialog

app = QApplication([])
dialog = SettingsDialog(Settings(), SettingsStore(Path(sys.argv[1])), data_dir=Path(sys.argv[1]),
                        platform="linux")
field = dialog.page("hotkeys").rows["reopen_last"].recorder

def say(*words):
    shown = field.text() or field.placeholderText()
    print(*words, "|", shown, "|", field.hotkey.label("linux"), flush=True)

field.recording_changed.connect(lambda on: say("listening" if on else "resting"))
field.recorded.connect(lambda hotkey: say("recorded"))
field.cancelled.connect(lambda: say("cancelled"))
dialog.finished.connect(lambda _code: (say("closed"), app.quit()))
dialog.setWindowTitle("SnapAsk Settings under test")
dialog.show()
dialog.show_page("hotkeys")
field.setFocus()  # taken when the window becomes active (xdotool gives it the focus)
app.exec()
"""


@pytest.fixture
def screen() -> Iterator[Xvfb]:
    with desktop() as server:
        yield server


class Lines:
    """The dialog's printed lines, read on a thread as they come."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.seen: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.seen.append(line.strip())

    def wait_for(self, start: str, after: int = 0) -> str:
        deadline = time.monotonic() + waits.DEADLINE_S
        while time.monotonic() < deadline:
            for line in self.seen[after:]:
                if line.startswith(start):
                    return line
            time.sleep(0.05)
        raise AssertionError(f"never saw {start!r}; saw {self.seen}")


def test_the_hotkey_field_listens_records_and_esc_cancels(screen: Xvfb, tmp_path: Path) -> None:
    env = {**os.environ, **screen.env, "QT_QPA_PLATFORM": "xcb", "PYTHONPATH": str(REPO)}
    driver = XDriver(screen.name)
    process = subprocess.Popen(
        [sys.executable, "-c", DIALOG, str(tmp_path)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines = Lines(process)
    try:
        window = driver.wait_mapped("SnapAsk Settings under test", timeout=waits.DEADLINE_S)
        focus(env, window.window_id)  # the Reopen field has the focus in it: it listens
        assert lines.wait_for("listening") == (
            "listening | Press the keys… (Esc cancels) | Ctrl+Alt+R"
        )
        mark = len(lines.seen)
        xdotool(env, "key", "ctrl+alt+y")
        assert lines.wait_for("recorded", mark) == "recorded | Ctrl+Alt+Y | Ctrl+Alt+Y"
        assert lines.wait_for("resting", mark).startswith("resting")

        mark = len(lines.seen)
        xdotool(env, "key", "Return")  # listens again
        lines.wait_for("listening", mark)
        xdotool(env, "keydown", "ctrl")  # a modifier held, then Esc: nothing recorded
        xdotool(env, "keyup", "ctrl")
        xdotool(env, "key", "Escape")
        assert lines.wait_for("cancelled", mark) == "cancelled | Ctrl+Alt+Y | Ctrl+Alt+Y"
        time.sleep(0.5)
        assert process.poll() is None and not any(x.startswith("closed") for x in lines.seen)

        xdotool(env, "key", "Escape")  # resting: Esc is the dialog's again
        lines.wait_for("closed", mark)
        assert process.wait(timeout=waits.DEADLINE_S) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)
        driver.close()
