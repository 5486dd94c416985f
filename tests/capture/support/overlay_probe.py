"""Run the region overlay on a real X server (xcb) over a real mss grab.

Each round grabs the screen, shows the (pre-built, reused) overlay, prints "ready", and
waits; the outcome is printed as "selected X Y W H" (after saving the cropped PNG to
OUT_DIR/round-N.png) or "cancelled". Usage: overlay_probe.py OUT_DIR ROUNDS
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from snapask_desktop.capture.backends.mss_backend import MssBackend
from snapask_desktop.capture.grab import crop, encode_png
from snapask_desktop.capture.overlay import RegionOverlay


def main() -> None:
    out_dir, rounds = Path(sys.argv[1]), int(sys.argv[2])
    app = QApplication([])
    backend = MssBackend()
    ok, reason = backend.available()
    if not ok:
        raise SystemExit(reason)
    overlay = RegionOverlay()
    state = {"round": 0, "grab": None}

    def begin() -> None:
        if state["round"] == rounds:
            app.quit()
            return
        state["round"] += 1
        state["grab"] = backend.grab()
        overlay.start(state["grab"])
        QTimer.singleShot(0, announce)

    def announce() -> None:
        # Ready once the window under the pointer is really on screen.
        if all(s.windowHandle().isExposed() for s in overlay.surfaces()):
            print("ready", flush=True)
        else:
            QTimer.singleShot(5, announce)

    def on_selected(rect) -> None:
        target = out_dir / f"round-{state['round']}.png"
        target.write_bytes(encode_png(crop(state["grab"], rect)))
        print(f"selected {rect.x} {rect.y} {rect.width} {rect.height}", flush=True)
        QTimer.singleShot(0, begin)

    def on_cancelled() -> None:
        print("cancelled", flush=True)
        QTimer.singleShot(0, begin)

    overlay.selected.connect(on_selected)
    overlay.cancelled.connect(on_cancelled)
    QTimer.singleShot(0, begin)
    app.exec()


if __name__ == "__main__":
    main()
