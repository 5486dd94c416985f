"""Waits for GUI and end-to-end tests that hold on a loaded machine.

Every wait here ends as soon as its condition holds, so the deadline only matters when the
condition never comes: it is generous (a minute) because a busy two-core machine can stall a
worker for seconds, and a test must fail for a wrong result, never for a slow one. Windows in
which "nothing may happen" are replaced by `delivered()`: finish the work, deliver what it
sent, then assert.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QCoreApplication, SignalInstance
from pytestqt.qtbot import QtBot
from pytestqt.wait_signal import SignalBlocker

DEADLINE_MS = 60_000
DEADLINE_S = DEADLINE_MS / 1000


def until(qtbot: QtBot, condition: Callable[[], bool | None]) -> None:
    """Process Qt events until `condition()` holds (True, or None without AssertionError)."""
    qtbot.waitUntil(condition, timeout=DEADLINE_MS)


def signal(qtbot: QtBot, signal: SignalInstance) -> SignalBlocker:
    """`with waits.signal(qtbot, sig) as blocker:` — the block's action must make it emit."""
    return qtbot.waitSignal(signal, timeout=DEADLINE_MS)


def delivered(*finish: Callable[[], Any]) -> None:
    """Block until background work has finished (each of `finish`, e.g. `dialog.wait_for_work`),
    then deliver on this thread everything it sent (queued signals, posted events).

    After this, a result that was going to arrive has arrived: "it did not happen" can be
    asserted without waiting an arbitrary while for it.
    """
    for done in finish:
        done()
    QCoreApplication.sendPostedEvents()
    QCoreApplication.processEvents()
