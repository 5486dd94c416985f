"""Ordering edits in tests by their stamps, not by luck."""

from __future__ import annotations

import time

from snapask_desktop.sync.clock import wall_clock_ms


def a_millisecond_later() -> None:
    """Return once the wall clock (an HLC's physical part) is past this millisecond, so the next
    edit on any device is stamped later than every edit made before the call.

    Two devices' edits made back to back may share a millisecond: their stamps then tie and the
    device ids, which are random, pick the winner. A test of "the later edit wins" calls this
    between the two edits.
    """
    start = wall_clock_ms()
    while wall_clock_ms() <= start:
        time.sleep(0.0002)
