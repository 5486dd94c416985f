"""Exact hotkey matching over a stream of key presses and releases (pure).

pynput's own HotKey fires when its keys are down whatever else is held, so
Ctrl+Alt+Shift+S would also trigger Ctrl+Alt+S; this matcher needs the exact set of
modifiers. Tokens are the modifier names of hotkey_spec.MODIFIERS, "altgr" (never part
of a binding, so AltGr+S cannot fire Ctrl+Alt+S), or a key name.

Held keys are tracked by the physical key (`key_id`: the X keycode, the virtual-key code),
not by the token: with Shift the same key is pressed as "?" and, once Shift is up, released
as "/", and a key tracked by its character then stays "held" for ever and blocks every
hotkey. A release can still be missed (a lock screen, a grab by another program), so a key
held longer than any real press is forgotten.
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Iterable, Mapping

from snapask_desktop.capture.hotkey_spec import MODIFIERS, Hotkey

MODIFIER_TOKENS = frozenset({*MODIFIERS, "altgr"})
# Auto-repeat presses a held key again every ~30-100 ms, which keeps it fresh; a key not seen
# for this long was released where we could not see it.
STALE_KEY_S = 2.0
# Modifiers do not auto-repeat and are held on purpose while reaching for a key, so they get
# longer; on X11 the server's own modifier state corrects them at once (forget_modifiers).
STALE_MODIFIER_S = 15.0


class HotkeyMatcher:
    """Tracks which keys are down and names the action a key press completes."""

    def __init__(self, bindings: Mapping[str, Hotkey]) -> None:
        self._actions = {(hk.modifiers, hk.key): action for action, hk in bindings.items()}
        # key id -> (token, when last pressed)
        self._held: dict[Hashable, tuple[str, float]] = {}

    def press(
        self, token: str | None, key_id: Hashable = None, now: float | None = None
    ) -> str | None:
        """Record a press; the action it triggers, if any (auto-repeat triggers nothing)."""
        if token is None:
            return None
        now = time.monotonic() if now is None else now
        self._drop_stale(now)
        key_id = token if key_id is None else key_id
        repeat = key_id in self._held
        self._held[key_id] = (token, now)
        if token in MODIFIER_TOKENS or repeat:
            return None
        if len(self._keys()) > 1:
            return None  # another key is still held: not a clean combination
        return self._actions.get((self._modifiers(), token))

    def release(self, token: str | None, key_id: Hashable = None) -> None:
        """Record a release."""
        key_id = token if key_id is None else key_id
        if key_id is not None:
            self._held.pop(key_id, None)

    def forget_modifiers(self, up: Iterable[str]) -> None:
        """Forget held modifiers the system says are up (their release was missed)."""
        up = set(up)
        for key_id, (token, _at) in list(self._held.items()):
            if token in up:
                del self._held[key_id]

    def reset(self) -> None:
        """Forget every held key (after a pause, when releases may have been missed)."""
        self._held.clear()

    def _modifiers(self) -> frozenset[str]:
        return frozenset(t for t, _at in self._held.values() if t in MODIFIER_TOKENS)

    def _keys(self) -> list[str]:
        return [t for t, _at in self._held.values() if t not in MODIFIER_TOKENS]

    def _drop_stale(self, now: float) -> None:
        for key_id, (token, at) in list(self._held.items()):
            limit = STALE_MODIFIER_S if token in MODIFIER_TOKENS else STALE_KEY_S
            if now - at > limit:
                del self._held[key_id]
