"""The tray app's start-up path in a fresh interpreter, for tests of what it imports when."""

from __future__ import annotations

import subprocess
import sys

_START = (
    "import sys\n"
    "from PySide6.QtWidgets import QApplication\n"
    "from snapask_desktop.app import Desktop\n"
    "from snapask_desktop.config import Settings\n"
    "from snapask_desktop.services import Services\n"
    "app = QApplication([])\n"
    "desktop = Desktop(app, Services(Settings()), [])\n"
)


def run_fresh_app(then: str, env: dict[str, str] | None = None) -> str:
    """Build the Desktop in a new interpreter, run ``then`` (code that may use ``app``,
    ``desktop`` and ``sys``, and prints its finding last), and return that last line."""
    result = subprocess.run(
        [sys.executable, "-c", _START + then], capture_output=True, text=True, timeout=120, env=env
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]
