"""Exact hotkey matching over a stream of key presses and releases (pure).

pynput's own HotKey fires when its keys are down whatever else is held, so
Ctrl+Alt+Shift+S would also trigger Ctrl+Alt+S; this matcher needs the exact set of
modifiers. Tokens are the modifier names of hotkey_spec.MODIFIERS, "altgr" (never part
of a binding, so AltGr+S cannot fire Ctrl+Alt+S), or a key name.
"""

from __future__ import annotations

from collections.abc import Mapping

from snapask_desktop.capture.hotkey_spec import MODIFIERS, Hotkey

MODIFIER_TOKENS = frozenset({*MODIFIERS, "altgr"})


class HotkeyMatcher:
    """Tracks which keys are down and names the action a key press completes."""

    def __init__(self, bindings: Mapping[str, Hotkey]) -> None:
        self._actions = {(hk.modifiers, hk.key): action for action, hk in bindings.items()}
        self._modifiers: set[str] = set()
        self._keys: set[str] = set()

    def press(self, token: str | None) -> str | None:
        """Record a press; the action it triggers, if any (auto-repeat triggers nothing)."""
        if token is None:
            return None
        if token in MODIFIER_TOKENS:
            self._modifiers.add(token)
            return None
        if token in self._keys:
            return None
        self._keys.add(token)
        if len(self._keys) > 1:
            return None  # another key is still held: not a clean combination
        return self._actions.get((frozenset(self._modifiers), token))

    def release(self, token: str | None) -> None:
        """Record a release."""
        if token is not None:
            self._modifiers.discard(token)
            self._keys.discard(token)

    def reset(self) -> None:
        """Forget every held key (after a pause, when releases may have been missed)."""
        self._modifiers.clear()
        self._keys.clear()
