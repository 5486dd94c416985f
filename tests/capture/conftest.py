"""Fixtures for capture tests: a real X server with a known picture, a real session D-Bus."""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from snapask_desktop.capture.geometry import Rect
from tests.capture.support.pattern import pattern_image
from tests.capture.support.proc import Child
from tests.capture.support.xserver import Xvfb, xvfb

SCREEN = Rect(0, 0, 1920, 1080)
FAKE_PORTAL = Path(__file__).parent / "support" / "fake_portal.py"


@pytest.fixture(scope="session")
def x_screen() -> Iterator[Xvfb]:
    """Xvfb at 1920x1080 showing the test pattern on its root window."""
    with xvfb(SCREEN.width, SCREEN.height) as server:
        server.show(pattern_image(SCREEN))
        yield server


@pytest.fixture(scope="session")
def x_two_monitors() -> Iterator[Xvfb]:
    """Xvfb 3200x1280 split into RandR monitors LEFT 1920x1080 and RIGHT 1280x1280."""
    with xvfb(3200, 1280) as server:
        server.set_monitors(
            [("LEFT", Rect(0, 0, 1920, 1080)), ("RIGHT", Rect(1920, 0, 1280, 1280))]
        )
        server.show(pattern_image(Rect(0, 0, 3200, 1280)))
        yield server


# A session bus with no service directories: nothing is activatable, so "no portal" is
# true whatever is installed on the machine.
BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir={directory}</listen>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


@contextlib.contextmanager
def private_bus(directory: Path) -> Iterator[str]:
    """Run a dbus-daemon of our own; yields its address."""
    config = directory / "bus.conf"
    config.write_text(BUS_CONFIG.format(directory=directory))
    process = subprocess.Popen(
        ["dbus-daemon", f"--config-file={config}", "--print-address=1", "--nofork", "--nopidfile"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        address = process.stdout.readline().strip()
        assert address.startswith("unix:"), process.stderr.read() if process.stderr else ""
        yield address
    finally:
        process.terminate()
        process.wait(5)


@pytest.fixture(scope="module")
def session_bus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private session bus shared by a test module (the fake portal lives on it)."""
    with private_bus(tmp_path_factory.mktemp("bus")) as address:
        yield address


@pytest.fixture
def empty_bus(tmp_path: Path) -> Iterator[str]:
    """A private session bus with nothing on it."""
    with private_bus(tmp_path) as address:
        yield address


@dataclass
class FakePortal:
    """Controls the fake portal process: what it answers and what it was asked."""

    workdir: Path
    child: Child

    def answer(self, mode: str) -> None:
        """Set how the next Screenshot call is answered."""
        (self.workdir / "mode").write_text(mode)

    def picture_size(self, width: int | None = None, height: int | None = None) -> None:
        """Make the portal's picture this size (None: the fake's small default)."""
        path = self.workdir / "size"
        if width is None or height is None:
            path.unlink(missing_ok=True)
        else:
            path.write_text(f"{width}x{height}")

    def log(self) -> list[str]:
        """Calls received so far."""
        path = self.workdir / "log"
        return path.read_text().splitlines() if path.exists() else []

    def wait_for_log(self, prefix: str, timeout: float = 5.0) -> str:
        """The first log line starting with `prefix`, waiting for it to appear."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.log():
                if line.startswith(prefix):
                    return line
            time.sleep(0.01)
        raise AssertionError(f"portal never logged {prefix!r}: {self.log()}")


@pytest.fixture(scope="module")
def fake_portal(session_bus: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakePortal]:
    """The fake screenshot portal registered on `session_bus`."""
    workdir = tmp_path_factory.mktemp("portal")
    (workdir / "mode").write_text("ok")
    child = Child([str(FAKE_PORTAL), session_bus, str(workdir)], {"QT_QPA_PLATFORM": "offscreen"})
    try:
        child.wait_for("ready")
        yield FakePortal(workdir, child)
    finally:
        child.stop()
