"""A stand-in for xdg-desktop-portal's Screenshot interface on a test D-Bus, using QtDBus.

Run: python fake_portal.py BUS_ADDRESS WORKDIR. Each Screenshot call reads WORKDIR/mode:
  ok      write a PNG of the test pattern and answer 0 with its file:// URI
  cancel  answer 1 (the person cancelled)
  deny    answer 2 (not allowed)
  nouri   answer 0 without a URI
  silent  never answer (what a portal does without permission)
The picture is the pattern over PORTAL_SIZE, or over WORKDIR/size ("WIDTHxHEIGHT").
Every call and Close is appended to WORKDIR/log. Prints "ready" once registered.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import ClassInfo, QCoreApplication, QObject, QTimer, Signal, Slot
from PySide6.QtDBus import QDBusConnection, QDBusMessage, QDBusObjectPath

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from snapask_desktop.capture.geometry import Rect
from tests.capture.support.pattern import pattern_image

PORTAL_SIZE = Rect(0, 0, 96, 64)
EXPORT = (
    QDBusConnection.RegisterOption.ExportAllSlots | QDBusConnection.RegisterOption.ExportAllSignals
)


@ClassInfo({"D-Bus Interface": "org.freedesktop.portal.Request"})
class Request(QObject):
    """org.freedesktop.portal.Request: the Response signal and Close."""

    Response = Signal("uint", "QVariantMap")

    def __init__(self, path: str, log: Path) -> None:
        super().__init__()
        self.path = path
        self.log = log

    @Slot()
    def Close(self) -> None:
        with self.log.open("a") as out:
            out.write(f"close {self.path}\n")


@ClassInfo({"D-Bus Interface": "org.freedesktop.portal.Screenshot"})
class Screenshot(QObject):
    """org.freedesktop.portal.Screenshot.Screenshot(s parent_window, a{sv} options) -> o."""

    def __init__(self, bus: QDBusConnection, workdir: Path) -> None:
        super().__init__()
        self.bus = bus
        self.workdir = workdir
        self.requests: list[Request] = []

    @Slot(str, "QVariantMap", QDBusMessage, result=QDBusObjectPath)
    def Screenshot(self, parent: str, options: dict, message: QDBusMessage) -> QDBusObjectPath:
        mode = (self.workdir / "mode").read_text().strip()
        token = options.get("handle_token", "t")
        sender = message.service().lstrip(":").replace(".", "_")
        path = f"/org/freedesktop/portal/desktop/request/{sender}/{token}"
        log = self.workdir / "log"
        with log.open("a") as out:
            out.write(f"screenshot mode={mode} interactive={options.get('interactive')} {path}\n")
        request = Request(path, log)
        self.requests.append(request)
        self.bus.registerObject(path, request, EXPORT)
        QTimer.singleShot(0, lambda: self._answer(request, mode))
        return QDBusObjectPath(path)

    def _size(self) -> Rect:
        path = self.workdir / "size"
        if not path.exists():
            return PORTAL_SIZE
        width, height = (int(v) for v in path.read_text().split("x"))
        return Rect(0, 0, width, height)

    def _answer(self, request: Request, mode: str) -> None:
        if mode == "ok":
            target = self.workdir / f"shot-{len(self.requests)}.png"
            pattern_image(self._size()).save(target)
            request.Response.emit(0, {"uri": target.as_uri()})
        elif mode == "cancel":
            request.Response.emit(1, {})
        elif mode == "deny":
            request.Response.emit(2, {})
        elif mode == "nouri":
            request.Response.emit(0, {})
        # "silent": no answer at all


def main() -> None:
    address, workdir = sys.argv[1], Path(sys.argv[2])
    app = QCoreApplication([])
    bus = QDBusConnection.connectToBus(address, "fake-portal")
    portal = Screenshot(bus, workdir)
    if not bus.registerObject("/org/freedesktop/portal/desktop", portal, EXPORT):
        raise SystemExit("could not register the portal object")
    if not bus.registerService("org.freedesktop.portal.Desktop"):
        raise SystemExit("could not own org.freedesktop.portal.Desktop")
    print("ready", flush=True)
    app.exec()


if __name__ == "__main__":
    main()
