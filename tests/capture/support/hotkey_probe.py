"""Run HotkeyService against a real X server; print "ready", then "triggered ACTION" lines.

Stdin commands: "stop" stops the service and prints "stopped running=<bool>".
"""

from __future__ import annotations

import sys
import threading

from PySide6.QtCore import QCoreApplication, QObject, Signal

from snapask_desktop.capture.hotkey_defaults import default_hotkeys
from snapask_desktop.capture.hotkeys import HotkeyService


class Commands(QObject):
    """Stdin lines, delivered to the Qt thread."""

    line = Signal(str)


def main() -> None:
    app = QCoreApplication([])
    service = HotkeyService()
    service.triggered.connect(lambda action: print(f"triggered {action}", flush=True))
    service.failed.connect(lambda message: print(f"failed {message}", flush=True))
    service.start(default_hotkeys("linux"))
    commands = Commands()

    def handle(line: str) -> None:
        if line == "stop":
            service.stop()
            print(f"stopped running={service.running}", flush=True)
            app.quit()

    commands.line.connect(handle)
    threading.Thread(
        target=lambda: [commands.line.emit(raw.strip()) for raw in sys.stdin], daemon=True
    ).start()
    print("ready", flush=True)
    app.exec()


if __name__ == "__main__":
    main()
