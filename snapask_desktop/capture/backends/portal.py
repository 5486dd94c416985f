"""Screen grabs through xdg-desktop-portal's Screenshot interface over QtDBus (Wayland).

The portal answers a Screenshot call with a Request object path at once and reports
the result later as that Request's Response(u code, a{sv} results) signal; results
hold the URI of a PNG the portal wrote. Without permission some portals never answer,
so every request has a deadline, after which it is closed.
"""

from __future__ import annotations

import contextlib
import uuid
from pathlib import Path
from urllib.parse import unquote, urlsplit

from PySide6.QtCore import SLOT, QCoreApplication, QEventLoop, QObject, QTimer, Signal, Slot
from PySide6.QtDBus import QDBus, QDBusConnection, QDBusMessage, QDBusObjectPath
from PySide6.QtGui import QGuiApplication

from snapask_desktop.capture.errors import CaptureCancelled, CaptureError
from snapask_desktop.capture.geometry import Rect, uniform_scale
from snapask_desktop.capture.grab import Grab, crop, from_image_bytes

SERVICE = "org.freedesktop.portal.Desktop"
OBJECT_PATH = "/org/freedesktop/portal/desktop"
SCREENSHOT_INTERFACE = "org.freedesktop.portal.Screenshot"
REQUEST_INTERFACE = "org.freedesktop.portal.Request"
DEFAULT_TIMEOUT_S = 10.0
_CALL_TIMEOUT_MS = 5000
MAX_SCREENSHOT_BYTES = 512 * 1024 * 1024

INSTALL_HINT = (
    "On Wayland, screenshots go through xdg-desktop-portal: install xdg-desktop-portal "
    "and the backend for your desktop (xdg-desktop-portal-gnome, -kde, -wlr or "
    "-hyprland), log in again, and allow SnapAsk to take screenshots when asked."
)
SILENT_HINT = (
    "The desktop portal did not answer the screenshot request within {seconds:g} s. "
    "It stays silent when screenshots are not allowed for SnapAsk or no portal backend "
    "for this desktop is running. " + INSTALL_HINT
)
DENIED_HINT = (
    "The desktop refused the screenshot. Allow screenshots for SnapAsk in your "
    "desktop's privacy settings and try again."
)


def request_path(unique_name: str, token: str) -> str:
    """The Request object path the portal will use for our call (spec: sender + token)."""
    sender = unique_name.lstrip(":").replace(".", "_")
    return f"{OBJECT_PATH}/request/{sender}/{token}"


def file_from_uri(uri: str) -> Path:
    """The local file a file:// URI names; CaptureError for anything else."""
    parts = urlsplit(uri)
    if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
        raise CaptureError(f"The desktop portal returned an unexpected screenshot location: {uri}")
    return Path(unquote(parts.path))


class PortalRequest(QObject):
    """One Screenshot request; emits exactly one of `finished(path)` or `failed(error)`."""

    finished = Signal(str)
    failed = Signal(object)

    def __init__(self, bus: QDBusConnection, timeout_s: float, parent: QObject | None = None):
        super().__init__(parent)
        self._bus = bus
        self._paths: list[str] = []
        self._done = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(max(1, round(timeout_s * 1000)))
        self._timer.timeout.connect(
            lambda: self._fail(CaptureError(SILENT_HINT.format(seconds=timeout_s)))
        )

    def start(self) -> None:
        """Send the request; the answer arrives later as a signal (or the deadline passes)."""
        token = f"snapask_{uuid.uuid4().hex}"
        # Subscribe before calling: the Response may arrive before the call returns.
        self._listen(request_path(self._bus.baseService(), token))
        self._timer.start()
        call = QDBusMessage.createMethodCall(
            SERVICE, OBJECT_PATH, SCREENSHOT_INTERFACE, "Screenshot"
        )
        call.setArguments(["", {"handle_token": token, "interactive": False}])
        reply = self._bus.call(call, QDBus.CallMode.Block, _CALL_TIMEOUT_MS)
        if reply.type() == QDBusMessage.MessageType.ErrorMessage:
            self._fail(
                CaptureError(
                    "The desktop portal could not be asked for a screenshot "
                    f"({reply.errorMessage()}). {INSTALL_HINT}"
                )
            )
            return
        handle = reply.arguments()[0] if reply.arguments() else None
        if isinstance(handle, QDBusObjectPath) and handle.path() not in self._paths:
            self._listen(handle.path())  # older portals pick the path themselves

    @Slot("uint", "QVariantMap")
    def _on_response(self, code: int, results: dict) -> None:
        if code == 0:
            uri = results.get("uri")
            if isinstance(uri, str) and uri:
                self._finish(uri)
            else:
                self._fail(CaptureError("The desktop portal answered without a screenshot."))
        elif code == 1:
            self._fail(CaptureCancelled("The screenshot was cancelled."))
        else:
            self._fail(CaptureError(DENIED_HINT))

    def _listen(self, path: str) -> None:
        self._paths.append(path)
        self._bus.connect(
            SERVICE,
            path,
            REQUEST_INTERFACE,
            "Response",
            self,
            SLOT("_on_response(uint,QVariantMap)"),
        )

    def _finish(self, uri: str) -> None:
        if self._end():
            self.finished.emit(uri)

    def _fail(self, error: CaptureError) -> None:
        if self._end():
            self._close_requests()
            self.failed.emit(error)

    def _end(self) -> bool:
        if self._done:
            return False
        self._done = True
        self._timer.stop()
        for path in self._paths:
            self._bus.disconnect(
                SERVICE,
                path,
                REQUEST_INTERFACE,
                "Response",
                self,
                SLOT("_on_response(uint,QVariantMap)"),
            )
        return True

    def _close_requests(self) -> None:
        # Dismiss anything the portal may still show for this request.
        for path in self._paths:
            close = QDBusMessage.createMethodCall(SERVICE, path, REQUEST_INTERFACE, "Close")
            self._bus.send(close)


class PortalBackend:
    """Capture backend over the screenshot portal; needs a running Qt application."""

    name = "portal"

    def __init__(
        self, bus_address: str | None = None, timeout_s: float = DEFAULT_TIMEOUT_S
    ) -> None:
        self._address = bus_address
        self._timeout_s = timeout_s
        self._bus: QDBusConnection | None = None

    def available(self) -> tuple[bool, str]:
        """(True, "") when a portal is reachable on the session bus, else why not."""
        if QCoreApplication.instance() is None:
            return False, "the screenshot portal needs the Qt application to be running"
        bus = self._connection()
        if not bus.isConnected():
            return False, f"no D-Bus session bus ({bus.lastError().message()}). {INSTALL_HINT}"
        names = bus.interface()
        if not (names.isServiceRegistered(SERVICE).value() or _activatable(bus)):
            return False, f"xdg-desktop-portal is not running. {INSTALL_HINT}"
        return True, ""

    def grab(self, rect: Rect | None = None) -> Grab:
        """Ask the portal for the whole desktop (blocks in a local event loop), then crop."""
        path = self._wait_for_file()
        picture = _place(_load(path), _logical_screens())
        return crop(picture, rect) if rect is not None else picture

    def close(self) -> None:
        """Drop the bus connection this backend opened (the shared session bus stays)."""
        if self._address and self._bus is not None:
            QDBusConnection.disconnectFromBus(self._bus.name())
        self._bus = None

    def _wait_for_file(self) -> Path:
        if QCoreApplication.instance() is None:
            raise CaptureError("the screenshot portal needs the Qt application to be running")
        request = PortalRequest(self._connection(), self._timeout_s)
        outcome: list[str | CaptureError] = []
        loop = QEventLoop()
        request.finished.connect(lambda uri: (outcome.append(uri), loop.quit()))
        request.failed.connect(lambda error: (outcome.append(error), loop.quit()))
        request.start()
        if not outcome:
            loop.exec()
        request.deleteLater()
        result = outcome[0]
        if isinstance(result, CaptureError):
            raise result
        return file_from_uri(result)

    def _connection(self) -> QDBusConnection:
        if self._bus is None:
            if self._address:
                self._bus = QDBusConnection.connectToBus(
                    self._address, f"snapask-{uuid.uuid4().hex}"
                )
            else:
                self._bus = QDBusConnection.sessionBus()
        return self._bus


def _activatable(bus: QDBusConnection) -> bool:
    call = QDBusMessage.createMethodCall(
        "org.freedesktop.DBus",
        "/org/freedesktop/DBus",
        "org.freedesktop.DBus",
        "ListActivatableNames",
    )
    reply = bus.call(call, QDBus.CallMode.Block, _CALL_TIMEOUT_MS)
    names = reply.arguments()[0] if reply.arguments() else []
    return isinstance(names, list) and SERVICE in names


def _logical_screens() -> list[Rect]:
    if not isinstance(QCoreApplication.instance(), QGuiApplication):
        return []
    return [
        Rect(g.x(), g.y(), g.width(), g.height())
        for g in (screen.geometry() for screen in QGuiApplication.screens())
    ]


def _place(picture: Grab, screens: list[Rect]) -> Grab:
    """Put the portal's picture on the desktop: it has no monitor list, only pixels."""
    fit = uniform_scale(screens, picture.width, picture.height)
    if fit is None:
        return picture
    origin = Rect(fit.origin.x, fit.origin.y, picture.width, picture.height)
    return Grab(
        picture.pixels,
        picture.width,
        picture.height,
        origin,
        fit.monitors,
        fit.pixel_ratio,
        picture.source,
    )


def _load(path: Path) -> Grab:
    """Read the portal's PNG and delete it: it was written for us, not saved by the user."""
    try:
        size = path.stat().st_size
        if size > MAX_SCREENSHOT_BYTES:
            raise CaptureError(f"The portal's screenshot {path} is too large ({size} bytes).")
        data = path.read_bytes()
    except OSError as exc:
        raise CaptureError(f"The portal's screenshot {path} could not be read: {exc}") from exc
    grab = from_image_bytes(data, source="portal")
    with contextlib.suppress(OSError):
        path.unlink()
    return grab
