"""One running SnapAsk per user and data folder; later launches hand their request to it.

A QLocalServer (a Unix socket or a Windows named pipe) carries one JSON line per request,
`{"command": "capture", "mode": "region"}`, answered by one line `{"ok": true}`. A lock file
decides who becomes the server, so two launches at the same moment never both listen or
delete each other's socket.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QByteArray, QLockFile, QObject, Signal, Slot
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from snapask_desktop import paths

COMMANDS = ("show", "capture", "open", "quit", "sync")
CAPTURE_MODES = ("region", "full")
MAX_REQUEST_BYTES = 4096
CONNECT_TIMEOUT_MS = 1500
REPLY_TIMEOUT_MS = 5000
MAX_SOCKET_PATH = 100


class InstanceError(RuntimeError):
    """Talking to the running SnapAsk failed; the message says how."""


@dataclass(frozen=True)
class Request:
    """What a launch asks the running app to do."""

    command: str
    mode: str | None = None  # capture: "region" | "full"
    conversation_id: str | None = None  # open: None = the last conversation

    def encode(self) -> bytes:
        data = {"command": self.command}
        if self.mode is not None:
            data["mode"] = self.mode
        if self.conversation_id is not None:
            data["conversation_id"] = self.conversation_id
        return json.dumps(data).encode() + b"\n"


def parse_request(raw: bytes) -> Request:
    """Decode and check one request line; ValueError says what is wrong."""
    if len(raw) > MAX_REQUEST_BYTES:
        raise ValueError("request too large")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ValueError("request is not JSON") from None
    if not isinstance(data, dict) or data.get("command") not in COMMANDS:
        raise ValueError(f"unknown command; expected one of {', '.join(COMMANDS)}")
    mode = data.get("mode")
    if data["command"] == "capture" and mode not in CAPTURE_MODES:
        raise ValueError(f"capture needs a mode: {', '.join(CAPTURE_MODES)}")
    conversation_id = data.get("conversation_id")
    if conversation_id is not None and (
        not isinstance(conversation_id, str) or not 1 <= len(conversation_id) <= 64
    ):
        raise ValueError("conversation_id must be a short text")
    return Request(data["command"], mode if data["command"] == "capture" else None, conversation_id)


def server_name(data_dir: Path | None = None) -> str:
    """The socket name for this user and data folder (separate test folders never meet)."""
    folder = str((data_dir or paths.data_dir()).resolve())
    digest = hashlib.sha256(folder.encode()).hexdigest()[:16]
    if sys.platform.startswith("win"):
        return f"SnapAsk-{os.environ.get('USERNAME', 'user')}-{digest}"
    # An absolute path puts the socket in a private runtime folder instead of /tmp, unless
    # that path is longer than a Unix socket address may be (about 107 bytes).
    path = str(runtime_dir() / f"snapask-{digest}.sock")
    return path if len(path.encode()) <= MAX_SOCKET_PATH else f"snapask-{digest}"


def runtime_dir() -> Path:
    """A private folder for the socket and the lock file."""
    import warnings

    import platformdirs

    with warnings.catch_warnings():
        # Without XDG_RUNTIME_DIR platformdirs falls back to a per-user /tmp folder: fine here.
        warnings.simplefilter("ignore")
        folder = Path(platformdirs.user_runtime_dir(paths.APP_NAME, appauthor=False))
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    if _is_private(folder):
        return folder
    # Someone else made (or can write to) the folder, e.g. a shared /tmp fallback: holding our
    # lock or socket there would let them block or impersonate SnapAsk. Use our config folder.
    fallback = paths.config_dir() / "run"
    fallback.mkdir(parents=True, exist_ok=True, mode=0o700)
    return fallback


def _is_private(folder: Path) -> bool:
    """Owned by this user, a real folder, and closed to everyone else (POSIX)."""
    if os.name != "posix":
        return True
    info = os.lstat(folder)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        return False
    if info.st_mode & 0o077:
        os.chmod(folder, 0o700)  # ours, just too open: close it
    return True


def send(request: Request, name: str | None = None) -> bool:
    """Hand a request to the running app; False when none is running."""
    socket = QLocalSocket()
    socket.connectToServer(name or server_name())
    if not socket.waitForConnected(CONNECT_TIMEOUT_MS):
        return False
    socket.write(QByteArray(request.encode()))
    socket.flush()
    if not socket.waitForReadyRead(REPLY_TIMEOUT_MS):
        raise InstanceError("SnapAsk is running but did not answer; try again")
    reply = bytes(socket.readLine().data())
    socket.disconnectFromServer()
    try:
        answer = json.loads(reply)
    except ValueError:
        raise InstanceError("SnapAsk answered something unreadable") from None
    if not answer.get("ok"):
        raise InstanceError(f"SnapAsk refused the request: {answer.get('error', 'unknown')}")
    return True


def send_when_ready(request: Request, name: str | None = None, wait_s: float = 5.0) -> bool:
    """Like `send`, but give an instance that is just starting up time to listen."""
    import time

    deadline = time.monotonic() + wait_s
    while True:
        if send(request, name):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


class InstanceServer(QObject):
    """Listens for requests from later launches; emits `requested(Request)` on the main thread."""

    requested = Signal(object)

    def __init__(self, name: str | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name or server_name()
        self._server = QLocalServer(self)
        self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self._server.newConnection.connect(self._accept)
        lock_path = self.name + ".lock" if os.path.isabs(self.name) else self._lock_in_runtime()
        self._lock = QLockFile(lock_path)
        # Held for the app's lifetime: only a dead process's lock counts as stale.
        self._lock.setStaleLockTime(0)

    def _lock_in_runtime(self) -> str:
        return str(runtime_dir() / (self.name + ".lock"))

    def claim(self) -> bool:
        """Become the one running instance; False if another one already is."""
        if not self._lock.tryLock(CONNECT_TIMEOUT_MS):
            return False
        QLocalServer.removeServer(self.name)  # a socket left behind by a crash
        if not self._server.listen(self.name):
            raise InstanceError(f"cannot listen on {self.name}: {self._server.errorString()}")
        return True

    def close(self) -> None:
        """Stop listening and release the lock."""
        self._server.close()
        self._lock.unlock()

    def _accept(self) -> None:
        while self._server.hasPendingConnections():
            socket = self._server.nextPendingConnection()
            socket.readyRead.connect(self._read)
            socket.disconnected.connect(socket.deleteLater)

    @Slot()
    def _read(self) -> None:
        socket = self.sender()
        if not isinstance(socket, QLocalSocket):
            return
        if not socket.canReadLine():
            if socket.bytesAvailable() > MAX_REQUEST_BYTES:
                self._reply(socket, {"ok": False, "error": "request too large"})
            return
        raw = bytes(socket.readLine(MAX_REQUEST_BYTES + 1).data()).strip()
        try:
            request = parse_request(raw)
        except ValueError as error:
            self._reply(socket, {"ok": False, "error": str(error)})
            return
        self._reply(socket, {"ok": True})
        self.requested.emit(request)

    @staticmethod
    def _reply(socket: QLocalSocket, answer: dict[str, object]) -> None:
        socket.write(QByteArray(json.dumps(answer).encode() + b"\n"))
        socket.flush()
        socket.disconnectFromServer()
