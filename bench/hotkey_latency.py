"""Hotkey latency, startup time and idle memory of the real tray app under X (1920x1080).

Uses the current DISPLAY if there is one, else starts its own Xvfb with a tray (trayer). The
key press is sent with XTest from this process and the window mapping is seen as an X event,
so neither the tools nor polling add to the figures. Prints one JSON line:
overlay_p50_ms / overlay_p95_ms: key press -> region overlay mapped with the frozen screen;
chat_window_p50_ms / chat_window_p95_ms: key press -> full-screen capture's chat window mapped;
startup_s: process start -> tray ready (an existing data folder; first_startup_s also creates
the database); idle_rss_mb: resident memory after settling.

`--sync` signs the app in to the real sync server (`snapask-sync-server serve` on 127.0.0.1,
its own process) with the real CLI, after another device put some conversations there; the
first start pulls them, and the measured second start finds nothing new, as after a restart.
idle_rss_mb is then read 3 s after the app reported "up to date" (sync_ready_s after spawn).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sqlite3
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
from tests.support.cli import FILE_KEYRING  # noqa: E402
from tests.support.desktop_app import desktop  # noqa: E402
from tests.support.x11_driver import XDriver  # noqa: E402

PRESSES = 20
OVERLAY_TITLE = "SnapAsk capture"
CHAT_TITLE = "SnapAsk —"
READY = "ready in the system tray"
SYNC_USER, SYNC_PASSWORD = "bench", "bench password"
PHONE_CONVERSATIONS = 50  # what the other device put on the server before the app signs in


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


def app_env(home: Path, *, sync: bool) -> dict[str, str]:
    """SnapAsk's environment: its folders under `home`; with sync, a file keyring there too (the
    CLI's sign-in stores the device token in it for the app to read)."""
    (home / "runtime").mkdir(mode=0o700, exist_ok=True)
    return {
        **os.environ,
        "SNAPASK_DATA_DIR": str(home / "data"),
        "SNAPASK_CONFIG_DIR": str(home / "config"),
        "XDG_RUNTIME_DIR": str(home / "runtime"),
        "XDG_DATA_HOME": str(home / "xdg-data"),
        "GEMINI_API_KEY": "bench-key",  # no question is asked; this only skips the welcome
        "PYTHON_KEYRING_BACKEND": FILE_KEYRING if sync else "keyring.backends.null.Keyring",
    }


def start_app(
    display_name: str, home: Path, *, sync: bool = False
) -> tuple[subprocess.Popen[str], float]:
    """Start SnapAsk; returns the process and seconds from spawn to tray ready."""
    env = {
        **app_env(home, sync=sync),
        "DISPLAY": display_name,
        "QT_QPA_PLATFORM": "xcb",
        "XDG_SESSION_TYPE": "x11",
        "PYNPUT_BACKEND": "xorg",
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


@contextlib.contextmanager
def sync_server(root: Path) -> Iterator[str]:
    """The real sync server as its own process, holding another device's conversations; yields
    its address."""
    import asyncio

    from snapask_desktop.server import accounts
    from snapask_desktop.server.config import sqlite_url
    from snapask_desktop.server.database import Database
    from snapask_desktop.server.passwords import hash_password, new_token
    from snapask_desktop.server.testing import ServerProcess
    from snapask_desktop.store import Store
    from snapask_desktop.sync.device.client import SyncEngine

    phone = Store.open(root / "phone")
    db = Database(sqlite_url(root / "server"))
    user_id = accounts.add_user(db, SYNC_USER, "", password_hash=hash_password(SYNC_PASSWORD))
    token = new_token()
    accounts.issue_token(db, user_id, phone.device_id, "phone", token)
    db.dispose()
    server = ServerProcess(root / "server")
    try:
        for index in range(PHONE_CONVERSATIONS):
            phone.start_conversation(f"from the phone {index}", f"question {index}")
        asyncio.run(SyncEngine(phone, server.ws_url, lambda: token).sync_once())
        phone.close()
        yield server.url
    finally:
        server.terminate()


def sign_in(home: Path, server_url: str) -> None:
    """`snapask sync signin` as a user runs it: the device's token goes to the file keyring."""
    done = subprocess.run(
        [sys.executable, "-m", "snapask_desktop", "sync", "signin", server_url,
         "--user", SYNC_USER],
        input=SYNC_PASSWORD + "\n", env=app_env(home, sync=True), capture_output=True,
        text=True, timeout=60, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"sign-in failed: {done.stderr}")


def last_synced(home: Path) -> int:
    """The store's "last in step with the server" time (0: never), read without locking it."""
    path = home / "data" / "snapask.db"
    if not path.exists():
        return 0
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        row = db.execute("SELECT value FROM meta WHERE key = 'sync_last_synced_at'").fetchone()
    return int(row[0]) if row else 0


def wait_synced(home: Path, after_ms: int, timeout_s: float = 60) -> None:
    """Until the app has reported "up to date" (it remembers when) since `after_ms`."""
    deadline = time.monotonic() + timeout_s
    while last_synced(home) <= after_ms:
        if time.monotonic() > deadline:
            raise RuntimeError("the app did not sync within a minute")
        time.sleep(0.05)


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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sync", action="store_true", help="signed in to a local sync server")
    args = parser.parse_args()
    sync_figures: dict[str, float] = {}
    with contextlib.ExitStack() as stack:
        name = stack.enter_context(display())
        home = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        if args.sync:
            sign_in(home, stack.enter_context(sync_server(home / "sync")))
        # The very first start also creates the database (and pulls what the server holds);
        # users start an existing one.
        spawned_ms = time.time_ns() // 1_000_000
        first, first_startup_s = start_app(name, home, sync=args.sync)
        if args.sync:
            wait_synced(home, spawned_ms)
        first.terminate()
        first.wait(10)
        spawned_ms = time.time_ns() // 1_000_000
        started = time.perf_counter()
        process, startup_s = start_app(name, home, sync=args.sync)
        try:
            if args.sync:
                wait_synced(home, spawned_ms)
                sync_figures["sync_ready_s"] = round(time.perf_counter() - started, 3)
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
        sync="on" if args.sync else "off",
        **sync_figures,
    )


if __name__ == "__main__":
    main()
