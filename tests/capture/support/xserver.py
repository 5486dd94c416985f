"""A real X server for tests: Xvfb on a free display, a test pattern on its root window,
and RandR 1.5 monitors so one Xvfb screen looks like several monitors to mss."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from PIL import Image
from Xlib import X, display
from Xlib.protocol import rq

from snapask_desktop.capture.geometry import Rect

STARTUP_TIMEOUT_S = 10.0
# Stay well below the X server's maximum request size (256 KiB without BIG-REQUESTS).
_STRIP_BYTES = 200_000


class _SetMonitor(rq.Request):
    # RRSetMonitor with the MonitorInfo fields inline: python-xlib's own set_monitor()
    # cannot pack its nested MonitorInfo object.
    _request = rq.Struct(
        rq.Card8("opcode"),
        rq.Opcode(43),
        rq.RequestLength(),
        rq.Window("window"),
        rq.Card32("name"),
        rq.Bool("primary"),
        rq.Bool("automatic"),
        rq.LengthOf("outputs", 2),
        rq.Int16("x"),
        rq.Int16("y"),
        rq.Card16("width_in_pixels"),
        rq.Card16("height_in_pixels"),
        rq.Card32("width_in_millimeters"),
        rq.Card32("height_in_millimeters"),
        rq.List("outputs", rq.Card32Obj),
    )


@dataclass
class Xvfb:
    """A running Xvfb and an open client connection that keeps the root picture alive."""

    name: str
    width: int
    height: int
    process: subprocess.Popen[bytes]
    conn: display.Display
    env: dict[str, str] = field(default_factory=dict)

    def show(self, image: Image.Image) -> None:
        """Make `image` (RGB, screen-sized) the root window's background."""
        screen = self.conn.screen()
        root = screen.root
        pixmap = root.create_pixmap(self.width, self.height, screen.root_depth)
        gc = pixmap.create_gc()
        data = image.tobytes("raw", "BGRX")
        stride = self.width * 4
        rows = max(1, _STRIP_BYTES // stride)
        for top in range(0, self.height, rows):
            count = min(rows, self.height - top)
            strip = data[top * stride : (top + count) * stride]
            pixmap.put_image(gc, 0, top, self.width, count, X.ZPixmap, screen.root_depth, 0, strip)
        root.change_attributes(background_pixmap=pixmap)
        root.clear_area(0, 0, self.width, self.height)
        self.conn.sync()

    def set_monitors(self, monitors: list[tuple[str, Rect]]) -> None:
        """Declare RandR monitors (the first one is primary and takes the real output)."""
        root = self.conn.screen().root
        opcode = self.conn.display.get_extension_major("RANDR")
        outputs = self._outputs()
        for index, (label, rect) in enumerate(monitors):
            _SetMonitor(
                display=self.conn.display,
                opcode=opcode,
                window=root,
                name=self.conn.intern_atom(label),
                primary=index == 0,
                automatic=False,
                x=rect.x,
                y=rect.y,
                width_in_pixels=rect.width,
                height_in_pixels=rect.height,
                width_in_millimeters=rect.width // 4,
                height_in_millimeters=rect.height // 4,
                outputs=outputs if index == 0 else [],
            )
        self.conn.sync()

    def _outputs(self) -> list[int]:
        from Xlib.ext import randr

        info = randr.get_monitors(self.conn.screen().root)
        return [out for monitor in info.monitors for out in monitor.crtcs]


@contextlib.contextmanager
def xvfb(width: int, height: int) -> Iterator[Xvfb]:
    """Start Xvfb on a display number it picks itself; stop it afterwards."""
    read_fd, write_fd = os.pipe()
    process = subprocess.Popen(
        [
            "Xvfb",
            "-displayfd",
            str(write_fd),
            "-screen",
            "0",
            f"{width}x{height}x24",
            "-nolisten",
            "tcp",
            "-noreset",
        ],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    try:
        name = f":{_read_display_number(read_fd, process)}"
        conn = _connect(name)
        env = {"DISPLAY": name, "XDG_SESSION_TYPE": "x11"}
        server = Xvfb(name, width, height, process, conn, env)
        yield server
        with contextlib.suppress(Exception):  # the server may be gone already
            conn.close()
    finally:
        os.close(read_fd)
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(5)
        if process.poll() is None:
            process.kill()


def _read_display_number(fd: int, process: subprocess.Popen[bytes]) -> int:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    text = b""
    os.set_blocking(fd, False)
    while time.monotonic() < deadline:
        with contextlib.suppress(BlockingIOError):
            text += os.read(fd, 64)
        if text.endswith(b"\n"):
            return int(text.strip())
        if process.poll() is not None:
            raise RuntimeError(f"Xvfb exited with code {process.returncode}")
        time.sleep(0.01)
    raise RuntimeError("Xvfb did not report a display number in time")


def _connect(name: str) -> display.Display:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while True:
        try:
            return display.Display(name)
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)
