"""Global hotkeys through pynput, delivered as Qt signals.

pynput calls back on its own thread; this module only emits `triggered(action)` there
(Qt queues it to receivers on the main thread) and never touches widgets. pynput is
imported on `start()`, not at import time: it costs startup time, and without an X
server importing `pynput.keyboard` fails (tests set PYNPUT_BACKEND=dummy).
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from PySide6.QtCore import QObject, Signal

from snapask_desktop.capture.hotkey_defaults import ACTION_LABELS, find_clashes
from snapask_desktop.capture.hotkey_matcher import HotkeyMatcher
from snapask_desktop.capture.hotkey_spec import Hotkey, HotkeyError, parse_hotkey, validate
from snapask_desktop.capture.session import Session, detect_session

log = logging.getLogger(__name__)

READY_TIMEOUT_S = 3.0
WAYLAND_MESSAGE = (
    "Global hotkeys cannot work in a Wayland session: applications there do not see "
    "keys pressed in other windows. Bind `snapask capture --region` (and `snapask "
    "capture --full`) to a shortcut in your desktop's keyboard settings instead."
)
NO_DISPLAY_MESSAGE = "Global hotkeys need an X display, and DISPLAY is not set."
MACOS_TRUST_MESSAGE = (
    "macOS does not let SnapAsk see the keyboard yet: allow it under System Settings > "
    "Privacy & Security > Accessibility (and Input Monitoring), then restart SnapAsk."
)
_MODIFIER_NAMES = {
    "ctrl": "ctrl",
    "ctrl_l": "ctrl",
    "ctrl_r": "ctrl",
    "shift": "shift",
    "shift_l": "shift",
    "shift_r": "shift",
    "alt": "alt",
    "alt_l": "alt",
    "alt_r": "alt",
    "alt_gr": "altgr",
    "cmd": "cmd",
    "cmd_l": "cmd",
    "cmd_r": "cmd",
}

# X11 modifier state bits (X.h) and the modifier each stands for on every usual keymap.
_X11_MODIFIER_MASKS = {"shift": 1 << 0, "ctrl": 1 << 2, "alt": 1 << 3, "cmd": 1 << 6}
# The listener thread's current X event, for the callbacks pynput calls from inside it.
_X11_EVENT = threading.local()


@dataclass(frozen=True)
class X11Key:
    """What the X server says about a key event beyond pynput's typed character."""

    base: Any  # pynput's key for this keycode without Shift: "/" for the key that types "?"
    keycode: int  # the physical key: the same in the press and the release
    state: int  # the modifier mask before the event


def x11_modifiers_up(state: int) -> set[str]:
    """The modifiers an X event's state says are not held."""
    return {name for name, mask in _X11_MODIFIER_MASKS.items() if not state & mask}


def key_identity(key: Any, token: str | None) -> Hashable:
    """The physical key of a pynput key, so a press and its release agree whatever Shift did
    to the character: the virtual-key code (Windows; macOS's is the hardware key code)."""
    vk = getattr(key.value if isinstance(key, enum.Enum) else key, "vk", None)
    return ("vk", vk) if isinstance(vk, int) else token


class HotkeyUnavailable(HotkeyError):
    """Global hotkeys cannot work in this session at all (Wayland, no display, no access)."""


def key_token(key: Any, platform: str) -> str | None:
    """The matcher token of a pynput key object (Key member or KeyCode)."""
    if isinstance(key, enum.Enum):
        name = key.name
        if platform == "windows" and name == "alt_r":
            return "altgr"  # Windows sends the right Alt for AltGr on every layout
        return _MODIFIER_NAMES.get(name, name)
    vk, char = getattr(key, "vk", None), getattr(key, "char", None)
    if platform == "windows" and isinstance(vk, int) and (0x30 <= vk <= 0x39 or 0x41 <= vk <= 0x5A):
        # With Ctrl+Alt held Windows translates to the AltGr character (ą for A):
        # the virtual key still names the letter.
        return chr(vk).lower()
    if isinstance(char, str) and len(char) == 1 and char.isprintable():
        return char.lower()
    return f"vk:{vk}" if vk is not None else None


def normalise_bindings(bindings: Mapping[str, Hotkey | str], platform: str) -> dict[str, Hotkey]:
    """Parse and validate every binding; HotkeyError names the action and the problem."""
    result: dict[str, Hotkey] = {}
    for action, value in bindings.items():
        label = ACTION_LABELS.get(action, action)
        try:
            hotkey = value if isinstance(value, Hotkey) else parse_hotkey(value)
            result[action] = validate(hotkey, platform)
        except HotkeyError as exc:
            raise HotkeyError(f"{label}: {exc}") from None
    own = [c for c in find_clashes(result, platform) if c.own]
    if own:
        raise HotkeyError(" ".join(c.message(platform) for c in own))
    return result


class HotkeyService(QObject):
    """Listens for the bound hotkeys anywhere on the desktop.

    `triggered(action)` fires for each completed combination; `failed(message)` if the
    listener dies later (e.g. the X server went away). `start()` raises HotkeyError or
    HotkeyUnavailable instead of failing silently.
    """

    triggered = Signal(str)
    failed = Signal(str)

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        session: Session | None = None,
        ready_timeout_s: float = READY_TIMEOUT_S,
    ) -> None:
        super().__init__(parent)
        self._session = session or detect_session()
        self._ready_timeout_s = ready_timeout_s
        self._listener: Any = None
        self._matcher = HotkeyMatcher({})
        self._bindings: dict[str, Hotkey] = {}
        self._paused = False

    @property
    def running(self) -> bool:
        """True while the listener thread is alive."""
        return self._listener is not None and self._listener.is_alive()

    @property
    def paused(self) -> bool:
        """True while hotkeys are ignored (the listener keeps running)."""
        return self._paused

    @property
    def bindings(self) -> dict[str, Hotkey]:
        """The active bindings."""
        return dict(self._bindings)

    def start(self, bindings: Mapping[str, Hotkey | str]) -> None:
        """Validate `bindings` and start listening; raises instead of failing silently."""
        self.set_bindings(bindings)
        if self._listener is not None and self._listener.is_alive():
            return
        self._listener = None  # one that died is replaced
        self._check_session()
        keyboard = _import_keyboard()
        listener = _listener_class(keyboard)(on_press=self._on_press, on_release=self._on_release)
        listener.start()
        try:
            _wait_until_ready(listener, self._ready_timeout_s)
            if getattr(listener, "IS_TRUSTED", True) is False:
                raise HotkeyUnavailable(MACOS_TRUST_MESSAGE)
        except HotkeyError:
            _stop_quietly(listener)
            raise
        self._listener = listener
        threading.Thread(target=self._watch, args=(listener,), daemon=True).start()

    def set_bindings(self, bindings: Mapping[str, Hotkey | str]) -> None:
        """Replace the bindings (validated first; the old ones stay on error)."""
        checked = normalise_bindings(bindings, self._session.platform)
        self._bindings = checked
        self._matcher = HotkeyMatcher(checked)  # one reference swap: safe for the listener

    def stop(self) -> None:
        """Stop listening (safe to call twice)."""
        listener, self._listener = self._listener, None
        if listener is not None:
            _stop_quietly(listener)

    def pause(self) -> None:
        """Ignore hotkeys until `resume()`."""
        self._paused = True

    def resume(self) -> None:
        """Act on hotkeys again."""
        self._matcher.reset()
        self._paused = False

    # -- listener thread ------------------------------------------------------------------

    def _on_press(self, key: Any, _injected: bool = False) -> None:
        try:
            token, key_id = self._identify(key)
            action = self._matcher.press(token, key_id)
            if action is not None and not self._paused:
                self.triggered.emit(action)
        except Exception:  # an exception here would stop pynput's listener for good
            log.exception("hotkey press handling failed")

    def _on_release(self, key: Any, _injected: bool = False) -> None:
        try:
            self._matcher.release(*self._identify(key))
        except Exception:
            log.exception("hotkey release handling failed")

    def _identify(self, key: Any) -> tuple[str | None, Hashable]:
        """The matcher token and the physical key of a pynput callback's key.

        On X11 the key is named by its keycode's unshifted symbol, not the typed character, and
        the server's modifier state corrects modifiers whose release was missed."""
        x11: X11Key | None = getattr(_X11_EVENT, "key", None)
        if x11 is None:
            token = key_token(key, self._session.platform)
            return token, key_identity(key, token)
        self._matcher.forget_modifiers(x11_modifiers_up(x11.state))
        return key_token(x11.base or key, self._session.platform), ("keycode", x11.keycode)

    def _watch(self, listener: Any) -> None:
        # threading's join, not pynput's: that one waits for a queue entry a crashed
        # listener thread never writes.
        threading.Thread.join(listener)
        if not listener.snapask_stopping:
            error = listener.snapask_error
            reason = f" ({_describe(error)})" if error else ""
            self.failed.emit(
                f"Global hotkeys stopped working{reason}. Turn them on again from the tray menu, "
                "or restart SnapAsk."
            )

    def _check_session(self) -> None:
        if self._session.wayland:
            raise HotkeyUnavailable(WAYLAND_MESSAGE)
        if self._session.platform == "linux" and not self._session.x11:
            raise HotkeyUnavailable(NO_DISPLAY_MESSAGE)


def _stop_quietly(listener: Any) -> None:
    listener.snapask_stopping = True  # the watcher must not report this as a failure
    try:
        listener.stop()
    except Exception:  # a listener that never started may not know how to stop
        log.debug("stopping the keyboard listener failed", exc_info=True)


def _import_keyboard() -> Any:
    try:
        from pynput import keyboard
    except Exception as exc:  # ImportError, or Xlib's DisplayConnectionError on a dead X
        raise HotkeyUnavailable(f"Global hotkeys are not available here: {exc}") from exc
    return keyboard


def _listener_class(keyboard: Any) -> Any:
    """pynput's Listener, recording readiness and any startup error of its thread."""

    class Listener(keyboard.Listener):  # type: ignore[misc, name-defined]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.snapask_ready = threading.Event()
            self.snapask_error: BaseException | None = None
            self.snapask_stopping = False

        def _mark_ready(self) -> None:
            super()._mark_ready()
            self.snapask_ready.set()

        def run(self) -> None:
            try:
                super().run()
            except BaseException as exc:  # keep it for start()/the watcher to report
                self.snapask_error = exc

        if hasattr(keyboard.Listener, "_event_to_key"):  # the X11 (xorg) backend

            def _handle_message(self, display: Any, event: Any, injected: bool) -> None:
                _X11_EVENT.key = X11Key(
                    _unshifted_key(self, display, event), event.detail, event.state
                )
                try:
                    super()._handle_message(display, event, injected)
                finally:
                    _X11_EVENT.key = None

    return Listener


def _unshifted_key(listener: Any, display: Any, event: Any) -> Any:
    """pynput's key for the event's keycode with no modifier held (None if it has none)."""
    try:
        return listener._event_to_key(display, SimpleNamespace(detail=event.detail, state=0))
    except Exception:  # an unmapped keycode: the typed key (or None) will do
        return None


def _wait_until_ready(listener: Any, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not listener.snapask_ready.wait(0.01):
        if not listener.is_alive():
            error = listener.snapask_error
            detail = _describe(error) if error else "it stopped at once"
            raise HotkeyError(f"The keyboard listener could not start ({detail}).")
        if time.monotonic() > deadline:
            raise HotkeyError(f"The keyboard listener did not start within {timeout_s:g} s.")


def _describe(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
