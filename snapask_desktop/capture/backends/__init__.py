"""Capture backends, tried in order: mss (X11, Windows, macOS), then the Wayland portal."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from snapask_desktop.capture.errors import CaptureError
from snapask_desktop.capture.geometry import Rect
from snapask_desktop.capture.grab import Grab
from snapask_desktop.capture.session import Session, detect_session


class CaptureBackend(Protocol):
    """What the app needs from a way of taking screenshots."""

    name: str

    def available(self) -> tuple[bool, str]:
        """(True, "") when it can work here, else (False, the reason and what to do)."""
        ...

    def grab(self, rect: Rect | None = None) -> Grab:
        """A picture of `rect` (native desktop units) or of the whole desktop."""
        ...

    def close(self) -> None:
        """Release what the backend holds."""
        ...


@dataclass(frozen=True)
class BackendChoice:
    """The backend picked (None if none works) and why each one before it was skipped."""

    backend: CaptureBackend | None
    skipped: dict[str, str] = field(default_factory=dict)

    def explain(self) -> str:
        """A message for the person: which ways were tried and why they cannot work."""
        lines = [f"- {name}: {reason}" for name, reason in self.skipped.items()]
        if self.backend is None:
            return "SnapAsk cannot take screenshots here:\n" + "\n".join(lines)
        if not lines:
            return f"Screenshots are taken with {self.backend.name}."
        return f"Screenshots are taken with {self.backend.name}; skipped:\n" + "\n".join(lines)

    def require(self) -> CaptureBackend:
        """The chosen backend, or CaptureError carrying `explain()`."""
        if self.backend is None:
            raise CaptureError(self.explain())
        return self.backend


def default_backends(session: Session | None = None) -> list[CaptureBackend]:
    """mss first, then the portal; the portal module (QtDBus) loads only when needed."""
    from snapask_desktop.capture.backends.mss_backend import MssBackend

    session = session or detect_session()
    backends: list[CaptureBackend] = [MssBackend(session=session)]
    if session.platform == "linux":
        from snapask_desktop.capture.backends.portal import PortalBackend

        backends.append(PortalBackend())
    return backends


def choose_backend(
    backends: Sequence[CaptureBackend] | None = None, session: Session | None = None
) -> BackendChoice:
    """The first backend that works here, with the reasons the others did not."""
    skipped: dict[str, str] = {}
    for backend in backends if backends is not None else default_backends(session):
        ok, reason = backend.available()
        if ok:
            return BackendChoice(backend, skipped)
        skipped[backend.name] = reason
    return BackendChoice(None, skipped)
