"""A key recorder: the field captures the next key combination pressed in it.

`read_key` turns a Qt key event into our Hotkey terms (pure); `HotkeyRecorder` is the field. It
validates with hotkey_spec.validate and an optional extra check (e.g. a clash with another
action), shows the label people read, and refuses what cannot work, saying why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QFocusEvent, QKeyEvent
from PySide6.QtWidgets import QLineEdit, QWidget

from snapask_desktop.capture.hotkey_spec import Hotkey, HotkeyError, validate
from snapask_desktop.capture.session import platform_name

OFF_TEXT = "Off"
Key = Qt.Key

_NAMED: dict[int, str] = {
    Key.Key_Space: "space",
    Key.Key_Tab: "tab",
    Key.Key_Backtab: "tab",
    Key.Key_Return: "enter",
    Key.Key_Enter: "enter",
    Key.Key_Escape: "esc",
    Key.Key_Backspace: "backspace",
    Key.Key_Delete: "delete",
    Key.Key_Insert: "insert",
    Key.Key_Home: "home",
    Key.Key_End: "end",
    Key.Key_PageUp: "page_up",
    Key.Key_PageDown: "page_down",
    Key.Key_Up: "up",
    Key.Key_Down: "down",
    Key.Key_Left: "left",
    Key.Key_Right: "right",
    Key.Key_Print: "print_screen",
    Key.Key_SysReq: "print_screen",
    Key.Key_Pause: "pause",
    Key.Key_ScrollLock: "scroll_lock",
    Key.Key_Menu: "menu",
    **{int(Key.Key_F1) + n: f"f{n + 1}" for n in range(24)},
}
# Modifier keys and what they hold ("ctrl"/"cmd" swap on macOS, see _modifiers).
_MODIFIER_KEYS = {
    Key.Key_Control: "ctrl",
    Key.Key_Meta: "cmd",
    Key.Key_Super_L: "cmd",
    Key.Key_Super_R: "cmd",
    Key.Key_Hyper_L: "cmd",
    Key.Key_Hyper_R: "cmd",
    Key.Key_Alt: "alt",
    Key.Key_Shift: "shift",
}
_PUNCTUATION = "`-=[]\\;',./"


@dataclass(frozen=True)
class KeyReading:
    """What a key event means: the modifiers held, the key (None while only modifiers are
    down) and, for a key SnapAsk cannot listen for, why."""

    modifiers: frozenset[str]
    key: str | None = None
    problem: str | None = None


def read_key(key: int, modifiers: Qt.KeyboardModifier, platform: str | None = None) -> KeyReading:
    """Read a Qt key press as modifiers + one of hotkey_spec's key names."""
    name = platform_name(platform)
    mods = _modifiers(modifiers, name)
    if key in (Key.Key_AltGr, Key.Key_Mode_switch) or (
        modifiers & Qt.KeyboardModifier.GroupSwitchModifier
    ):
        return KeyReading(mods, problem="AltGr types characters; use the left Alt or Ctrl")
    if key in _MODIFIER_KEYS:
        # X11 reports a modifier's own press without it in the modifiers: add it.
        return KeyReading(mods | {modifier_of(key, name)})
    if key == Key.Key_unknown:
        return KeyReading(mods)
    if key in _NAMED:
        return KeyReading(mods, _NAMED[key])
    if Key.Key_A <= key <= Key.Key_Z or Key.Key_0 <= key <= Key.Key_9:
        return KeyReading(mods, chr(key).lower())
    if 0x20 < key < 0x7F and chr(key) in _PUNCTUATION:
        return KeyReading(mods, chr(key))
    if 0x20 < key < 0x7F and "shift" in mods:
        return KeyReading(
            mods,
            problem=(
                f"Shift turns this key into {chr(key)!r}, which cannot be recognised reliably; "
                "use a letter or drop Shift"
            ),
        )
    return KeyReading(mods, problem="SnapAsk cannot listen for this key; choose another one")


def modifier_of(key: int, platform: str | None = None) -> str:
    """The modifier a modifier key holds ("" for other keys)."""
    held = _MODIFIER_KEYS.get(key, "")
    if (
        platform_name(platform) == "macos"
        and held in ("ctrl", "cmd")
        and key
        in (
            Key.Key_Control,
            Key.Key_Meta,
        )
    ):
        return "cmd" if held == "ctrl" else "ctrl"
    return held


def _modifiers(modifiers: Qt.KeyboardModifier, platform: str) -> frozenset[str]:
    # On macOS Qt reports the Command key as Control and the Control key as Meta.
    ctrl, meta = ("cmd", "ctrl") if platform == "macos" else ("ctrl", "cmd")
    found = set()
    if modifiers & Qt.KeyboardModifier.ControlModifier:
        found.add(ctrl)
    if modifiers & Qt.KeyboardModifier.MetaModifier:
        found.add(meta)
    if modifiers & Qt.KeyboardModifier.AltModifier:
        found.add("alt")
    if modifiers & Qt.KeyboardModifier.ShiftModifier:
        found.add("shift")
    return frozenset(found)


def modifiers_label(modifiers: frozenset[str], platform: str | None = None) -> str:
    """What is held so far, e.g. "Ctrl+Alt+…" (a key placeholder keeps label() usable)."""
    if not modifiers:
        return ""
    return Hotkey(modifiers, "a").label(platform)[:-1] + "…"


class HotkeyRecorder(QLineEdit):
    """Shows a hotkey and records a new one: focus it and press the combination.

    Tab moves on and Esc leaves the dialog as usual; every other key press is read as a
    hotkey. `hotkey_changed(Hotkey | None)` follows every accepted change, `refused(str)`
    every refusal, and `recording_changed(bool)` tells when it listens (the app pauses
    its global hotkeys meanwhile, or pressing the old combination would fire it).
    """

    hotkey_changed = Signal(object)
    refused = Signal(str)
    recording_changed = Signal(bool)

    def __init__(
        self,
        hotkey: Hotkey | None = None,
        *,
        platform: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._platform = platform_name(platform)
        self._hotkey = hotkey
        self._check: Callable[[Hotkey], str | None] | None = None
        self.setReadOnly(True)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setPlaceholderText("Press keys…")
        self.setToolTip("Click here, then press the new key combination")
        self._show_current()

    @property
    def hotkey(self) -> Hotkey | None:
        """The hotkey shown (None: off)."""
        return self._hotkey

    def set_hotkey(self, hotkey: Hotkey | None) -> None:
        """Show another hotkey (None: off) and report it if it changed."""
        changed = hotkey != self._hotkey
        self._hotkey = hotkey
        self._show_current()
        if changed:
            self.hotkey_changed.emit(hotkey)

    def set_check(self, check: Callable[[Hotkey], str | None] | None) -> None:
        """An extra test for a recorded hotkey: return a message to refuse it."""
        self._check = check

    def record(self, hotkey: Hotkey) -> str | None:
        """Take a recorded hotkey if it can work here; returns the refusal message if not."""
        try:
            validate(hotkey, self._platform)
        except HotkeyError as error:
            return self._refuse(str(error))
        problem = self._check(hotkey) if self._check else None
        if problem:
            return self._refuse(problem)
        self.set_hotkey(hotkey)
        return None

    # ----------------------------------------------------------------- events

    def event(self, event: QEvent) -> bool:
        override = event.type() == QEvent.Type.ShortcutOverride
        if override and isinstance(event, QKeyEvent) and not self._passes_through(event):
            event.accept()  # the combination is ours to record, not a window shortcut
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if self._passes_through(event):
            event.ignore()
            return
        event.accept()
        if event.isAutoRepeat():
            return
        reading = read_key(event.key(), event.modifiers(), self._platform)
        if reading.problem:
            self._refuse(reading.problem)
        elif reading.key is None:
            self.setText(modifiers_label(reading.modifiers, self._platform))
        else:
            try:
                hotkey = Hotkey(reading.modifiers, reading.key)
            except HotkeyError as error:
                self._refuse(str(error))
                return
            self.record(hotkey)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        event.accept()
        # X11 still lists a modifier in its own release: take it out.
        held = _modifiers(event.modifiers(), self._platform) - {
            modifier_of(event.key(), self._platform)
        }
        if held:
            self.setText(modifiers_label(held, self._platform))
        else:
            self._show_current()  # let go without a key: nothing changes

    def focusInEvent(self, event: QFocusEvent) -> None:
        super().focusInEvent(event)
        self.recording_changed.emit(True)

    def focusOutEvent(self, event: QFocusEvent) -> None:
        super().focusOutEvent(event)
        self._show_current()
        self.recording_changed.emit(False)

    # ----------------------------------------------------------------- helpers

    @staticmethod
    def _passes_through(event: QKeyEvent) -> bool:
        held = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        plain = held in (Qt.KeyboardModifier.NoModifier, Qt.KeyboardModifier.ShiftModifier)
        return plain and event.key() in (Key.Key_Tab, Key.Key_Backtab, Key.Key_Escape)

    def _refuse(self, message: str) -> str:
        self._show_current()
        self.refused.emit(message)
        return message

    def _show_current(self) -> None:
        self.setText(self._hotkey.label(self._platform) if self._hotkey else OFF_TEXT)
        self.setAccessibleName(f"Hotkey: {self.text()}")
