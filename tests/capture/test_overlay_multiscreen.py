"""Overlay on three screens with mixed ratios, run in its own pytest process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.capture.support.screen_layouts import offscreen_env

REPO = Path(__file__).resolve().parents[2]
SUPPORT = Path(__file__).parent / "support"


CASES = 12


def test_overlay_on_three_screens_with_mixed_ratios(tmp_path: Path) -> None:
    env = {**os.environ, **offscreen_env(tmp_path / "screens.json"), "PYTHONPATH": str(REPO)}
    module = SUPPORT / "cases_multiscreen.py"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", str(module), "-q", "-p", "no:cacheprovider"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{CASES} passed" in result.stdout, result.stdout
    assert "skipped" not in result.stdout and "deselected" not in result.stdout
