"""Hotkey latency, startup time and idle memory of the real tray app under X (1920x1080).

Uses the current DISPLAY if there is one, else starts its own Xvfb with a tray (trayer). The
key press is sent with XTest from this process and the window mapping is seen as an X event,
so neither the tools nor polling add to the figures. Prints one JSON line:
overlay_p50_ms / overlay_p95_ms: key press -> region overlay mapped with the frozen screen;
chat_window_p50_ms / chat_window_p95_ms: key press -> full-screen capture's chat window mapped;
startup_s: process start -> tray ready (an existing data folder; first_startup_s also creates
the database); idle_rss_mb: resident memory after settling.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from Xlib import X

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench._common import emit, percentile  # noqa: E402
from tests.support.desktop_app import desktop  # noqa: E402
from tests.support.x11_driver import XDriver  # noqa: E402

PRESSES = 20
OVERLAY_TITLE = "SnapAsk capture"
CHAT_TITLE = "SnapAsk —"
READY = "ready in the system tray"


@contextlib.contextmanager
def display() -> Iterator[str]:
    """The DISPLAY to measure on: the current one, or a fresh 1920x1080 Xvfb."""
    if os.environ.get("DISPLAY"):
        yield os.environ["DISPLAY"]
        return
    # With a tray, as on most desktops: without one the launcher window is up, and SnapAsk
    # hides its own windows before every grab (and waits for the screen to redraw).
    with desktop() as server:
        yield server.name


def start_app(display_name: str, home: Path) -> tuple[subprocess.Popen[str], float]:
    """Start SnapAsk; returns the process and seconds from spawn to tray ready."""
    (home / "runtime").mkdir(mode=0o700, exist_ok=True)
    env = {
        **os.environ,
        "DISPLAY": display_name,
        "QT_QPA_PLATFORM": "xcb",
        "XDG_SESSION_TYPE": "x11",
        "PYNPUT_BACKEND": "xorg",
        "SNAPASK_DATA_DIR": str(home / "data"),
        "SNAPASK_CONFIG_DIR": str(home / "config"),
        "XDG_RUNTIME_DIR": str(home / "runtime"),
        "GEMINI_API_KEY": "bench-key",  # no question is asked; this only skips the welcome
        "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
    }
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "snapask_desktop"],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert process.stderr is not None
    for line in process.stderr:
        if READY in line:
            return process, time.perf_counter() - started
    raise RuntimeError(f"SnapAsk exited ({process.wait()}) before it was ready")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def press_until_mapped(driver: XDriver, combo: str, title: str) -> tuple[float, int]:
    """Milliseconds from the key press to the window being mapped, and the window."""
    driver.drain()
    sent = driver.key(combo)
    mapped = driver.wait_mapped(title)
    return (mapped.at - sent) * 1000, mapped.window_id


def dismiss(driver: XDriver, window_id: int) -> None:
    """Esc in that window (focus given directly: there may be no window manager)."""
    window = driver.conn.create_resource_object("window", window_id)
    driver.conn.set_input_focus(window, X.RevertToParent, X.CurrentTime)
    driver.conn.sync()
    driver.key("Escape")
    driver.wait_unmapped(window_id)


def main() -> None:
    with display() as name, tempfile.TemporaryDirectory() as tmp:
        # The very first start also creates the database; users start an existing one.
        first, first_startup_s = start_app(name, Path(tmp))
        first.terminate()
        first.wait(10)
        process, startup_s = start_app(name, Path(tmp))
        try:
            time.sleep(3)  # let start-up work settle before reading idle memory
            idle = rss_mb(process.pid)
            driver = XDriver(name)
            overlay, chat = [], []
            for _ in range(PRESSES):
                ms, window = press_until_mapped(driver, "ctrl+alt+s", OVERLAY_TITLE)
                overlay.append(ms)
                dismiss(driver, window)
            for _ in range(PRESSES):
                ms, window = press_until_mapped(driver, "ctrl+alt+w", CHAT_TITLE)
                chat.append(ms)
                dismiss(driver, window)
            driver.close()
        finally:
            process.terminate()
            process.wait(10)
    emit(
        "hotkey_latency",
        presses_count=PRESSES,
        overlay_p50_ms=round(percentile(overlay, 50), 1),
        overlay_p95_ms=round(percentile(overlay, 95), 1),
        chat_window_p50_ms=round(percentile(chat, 50), 1),
        chat_window_p95_ms=round(percentile(chat, 95), 1),
        startup_s=round(startup_s, 3),
        first_startup_s=round(first_startup_s, 3),
        idle_rss_mb=round(idle, 1),
    )


if __name__ == "__main__":
    main()
