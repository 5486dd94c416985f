"""The multi-screen layout of the overlay cases and Qt's offscreen config for it.

Screens are declared in native (physical) pixels and scaled by Qt's own high-DPI scaling
(QT_SCREEN_SCALE_FACTORS): the same mechanism, and the same "native origin is kept"
geometry, as on Windows and X11. (The offscreen "dpr" setting would only relabel the
screen: its windows would still paint at ratio 1.)
"""

from __future__ import annotations

import json
from pathlib import Path

from snapask_desktop.capture.geometry import Rect

# name: (logical rect as Qt computes it, scale factor, physical rect)
SCREENS = {
    "L": (Rect(-1280, 200, 1280, 720), 1.0, Rect(-1280, 200, 1280, 720)),
    "M": (Rect(0, 0, 1920, 1080), 2.0, Rect(0, 0, 3840, 2160)),
    "R": (Rect(3840, 0, 1707, 960), 1.5, Rect(3840, 0, 2560, 1440)),
}


def offscreen_env(path: Path) -> dict[str, str]:
    """Write the offscreen platform's screen file; the environment that selects it."""
    screens = [
        {
            "name": name,
            "x": physical.x,
            "y": physical.y,
            "width": physical.width,
            "height": physical.height,
            "logicalDpi": 96,
            "logicalBaseDpi": 96,
            "dpr": 1.0,
        }
        for name, (_logical, _factor, physical) in SCREENS.items()
    ]
    path.write_text(json.dumps({"screens": screens}))
    factors = ";".join(f"{name}={factor:g}" for name, (_l, factor, _p) in SCREENS.items())
    return {"QT_QPA_PLATFORM": f"offscreen:configfile={path}", "QT_SCREEN_SCALE_FACTORS": factors}
