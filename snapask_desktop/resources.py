"""Finding bundled resources (icons, stylesheet, the OCR model) from a source checkout and from a
frozen app.

`resources/` sits beside the package in a checkout (and an editable install); PyInstaller
bundles it under `sys._MEIPASS/resources`, and Tesseract's English model under
`sys._MEIPASS/tessdata` (see snapask.spec). This is the one place that knows.
"""

from __future__ import annotations

import sys
from pathlib import Path


def resources_dir() -> Path:
    """The folder holding icons/ and the stylesheet."""
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root is not None:
        return Path(frozen_root) / "resources"
    return Path(__file__).resolve().parent.parent / "resources"


def resource_path(*parts: str) -> Path:
    """A file under resources/; FileNotFoundError names it when it is missing."""
    path = resources_dir().joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(f"SnapAsk resource missing: {path}")
    return path


def bundled_tessdata() -> Path | None:
    """The folder holding the OCR model inside a frozen app; None from a checkout (the model
    then comes from the system, see ocr/engine.py)."""
    frozen_root = getattr(sys, "_MEIPASS", None)
    return None if frozen_root is None else Path(frozen_root) / "tessdata"
