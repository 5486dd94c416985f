"""A key recorder: the field captures the next key combination pressed in it.

`read_key` turns a Qt key event into our Hotkey terms (pure); `HotkeyRecorder` is the field. It
validates with hotkey_spec.validate and an optional extra check (e.g. a clash with another
action), shows the label people read, and refuses what cannot work, saying why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QFocusEvent, QKeyEvent, QMouseEvent, QPalette
from PySide6.QtWidgets import QLineEdit, QWidget

from snapask_desktop.capture.hotkey_spec import Hotkey, HotkeyError, validate
from snapask_desktop.capture.session import platform_name
from snapask_desktop.ui import style

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


LISTENING_TEXT = "Press the keys… (Esc cancels)"


class HotkeyRecorder(QLineEdit):
    """Shows a hotkey and records a new one: focus it (or click it, or press Enter or Space in
    it) and it listens, saying "Press the keys…"; the next combination pressed is the new
    hotkey, Esc cancels and keeps the old one.

    While it listens every key press but Tab is read as a hotkey; when it does not, Esc leaves
    the dialog as usual. `hotkey_changed(Hotkey | None)` follows every accepted change,
    `recorded(Hotkey)` every combination taken from the keyboard, `refused(str)` every refusal
    (it listens on), `cancelled()` an Esc, and `recording_changed(bool)` tells when it listens
    (the app pauses its global hotkeys meanwhile, or pressing the old combination would fire
    it).
    """

    hotkey_changed = Signal(object)
    recorded = Signal(object)
    refused = Signal(str)
    cancelled = Signal()
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
        self._listening = False
        self.setReadOnly(True)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setPlaceholderText(LISTENING_TEXT)
        self.setToolTip("Click here, then press the new key combination (Esc cancels)")
        self._show_current()

    @property
    def hotkey(self) -> Hotkey | None:
        """The hotkey shown (None: off)."""
        return self._hotkey

    @property
    def listening(self) -> bool:
        """True while the next key combination pressed here becomes the hotkey."""
        return self._listening

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
        self._set_listening(False)
        self.set_hotkey(hotkey)
        self.recorded.emit(hotkey)
        return None

    def listen(self) -> None:
        """Start listening for a new combination."""
        self._set_listening(True)

    def cancel(self) -> None:
        """Stop listening and keep the hotkey as it was."""
        if self._listening:
            self._set_listening(False)
            self.cancelled.emit()

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
        if not self._listening:
            if event.key() in (Key.Key_Return, Key.Key_Enter, Key.Key_Space):
                self.listen()
            return
        if event.key() == Key.Key_Escape and not event.modifiers():
            self.cancel()
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
        if not self._listening:
            return
        # X11 still lists a modifier in its own release: take it out.
        held = _modifiers(event.modifiers(), self._platform) - {
            modifier_of(event.key(), self._platform)
        }
        self.setText(modifiers_label(held, self._platform))  # let go without a key: listen on

    def mousePressEvent(self, event: QMouseEvent) -> None:
        super().mousePressEvent(event)
        self.listen()

    def focusInEvent(self, event: QFocusEvent) -> None:
        super().focusInEvent(event)
        self.listen()

    def focusOutEvent(self, event: QFocusEvent) -> None:
        super().focusOutEvent(event)
        if event.reason() == Qt.FocusReason.PopupFocusReason:
            return  # a menu or tooltip over the window: still ours
        self.cancel()

    # ----------------------------------------------------------------- helpers

    def _passes_through(self, event: QKeyEvent) -> bool:
        held = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        plain = held in (Qt.KeyboardModifier.NoModifier, Qt.KeyboardModifier.ShiftModifier)
        if self._listening:
            return plain and event.key() in (Key.Key_Tab, Key.Key_Backtab)
        if event.key() in (Key.Key_Return, Key.Key_Enter, Key.Key_Space) and plain:
            return False  # they start listening here, not press the dialog's default button
        return plain and event.key() in (Key.Key_Tab, Key.Key_Backtab, Key.Key_Escape)

    def _set_listening(self, on: bool) -> None:
        if on == self._listening:
            return
        self._listening = on
        self._show_current()
        self.setPalette(QPalette())  # back to the window's own colours
        if on:  # a tinted field: it is plain that this one is waiting for keys
            palette = QPalette(self.palette())
            base = palette.color(QPalette.ColorRole.Base)
            tint = style.mix(base, style.accent_color(palette), 0.18)
            palette.setColor(QPalette.ColorRole.Base, tint)
            self.setPalette(palette)
        self.recording_changed.emit(on)

    def _refuse(self, message: str) -> str:
        self._show_current()
        self.refused.emit(message)
        return message

    def _show_current(self) -> None:
        if self._listening:
            self.setText("")  # the placeholder says "Press the keys…"
            self.setAccessibleName("Hotkey: listening, press the keys (Esc cancels)")
            return
        self.setText(self._hotkey.label(self._platform) if self._hotkey else OFF_TEXT)
        self.setAccessibleName(f"Hotkey: {self.text()}")
