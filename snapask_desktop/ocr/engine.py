"""Finding Tesseract (the tesserocr binding and the English model) and keeping one per thread."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from snapask_desktop.resources import bundled_tessdata

if TYPE_CHECKING:
    from tesserocr import PyTessBaseAPI

LANGUAGE = "eng"

# Where distributions put the language data; TESSDATA_PREFIX, when set, is tried first.
_TESSDATA_DIRS = (
    "/usr/share/tesseract-ocr/5/tessdata",  # Debian 12+, Ubuntu 22.04+
    "/usr/share/tesseract-ocr/4.00/tessdata",  # Debian 11, Ubuntu 20.04
    "/usr/share/tessdata",  # Fedora, Arch
    "/usr/local/share/tessdata",  # Homebrew on Intel, source builds
    "/opt/homebrew/share/tessdata",  # Homebrew on Apple silicon
    "C:/Program Files/Tesseract-OCR/tessdata",  # the UB Mannheim installer
)

INSTALL_HINT = (
    "install the OCR extra (pip install 'snapask-desktop[ocr]') and Tesseract's English model "
    "(Debian/Ubuntu: apt install tesseract-ocr-eng; macOS: brew install tesseract), "
    "or point TESSDATA_PREFIX at a folder holding eng.traineddata"
)


class OcrError(RuntimeError):
    """Text recognition could not be done; the message says why in plain words."""


class OcrUnavailable(OcrError):
    """The OCR engine or its language model is not installed on this machine."""


def tessdata_dir(system_dirs: Sequence[str | Path] = _TESSDATA_DIRS) -> Path:
    """The folder holding eng.traineddata, or OcrUnavailable naming where it looked.

    TESSDATA_PREFIX first (the user's choice), then the copy inside a frozen app (the model
    it was built and tested with), then the distributions' folders.
    """
    candidates: list[Path] = []
    prefix = os.environ.get("TESSDATA_PREFIX")
    if prefix:
        # Tesseract accepts both the tessdata folder itself and its parent here.
        candidates += [Path(prefix), Path(prefix) / "tessdata"]
    bundled = bundled_tessdata()
    if bundled is not None:
        candidates.append(bundled)
    candidates += [Path(d) for d in system_dirs]
    for folder in candidates:
        if (folder / f"{LANGUAGE}.traineddata").is_file():
            return folder
    raise OcrUnavailable(
        f"Tesseract's English model ({LANGUAGE}.traineddata) was not found "
        f"(looked in {', '.join(str(c) for c in candidates)}): {INSTALL_HINT}"
    )


def binding() -> Any:
    """The tesserocr module, or OcrUnavailable when the ocr extra is missing."""
    try:
        import tesserocr
    except ImportError as error:  # the extra is not installed, or its library failed to load
        message = f"the OCR engine is not installed ({error}): {INSTALL_HINT}"
        raise OcrUnavailable(message) from error
    return tesserocr


_local = threading.local()


def api(sparse: bool = False) -> PyTessBaseAPI:
    """This thread's Tesseract instance (loading the model costs ~100 ms, so it is kept).

    One per thread because an instance holds the picture being read and is not thread-safe.
    `sparse` reads text in no particular order but misses less of it (see recognise).
    """
    key = "sparse" if sparse else "layout"
    cached = getattr(_local, key, None)
    if cached is not None:
        return cached
    tesserocr = binding()
    folder = tessdata_dir()
    psm = tesserocr.PSM
    try:
        instance = tesserocr.PyTessBaseAPI(
            path=f"{folder}{os.sep}",
            lang=LANGUAGE,
            psm=psm.SPARSE_TEXT if sparse else psm.AUTO,
            oem=tesserocr.OEM.LSTM_ONLY,
        )
    except RuntimeError as error:  # a damaged or incompatible model file
        message = f"Tesseract could not load its model from {folder}: {error}"
        raise OcrUnavailable(message) from error
    setattr(_local, key, instance)
    return instance


def engine_name() -> str:
    """The engine and its version, kept with the text it read (e.g. "tesseract 5.5.4")."""
    version = str(binding().tesseract_version()).splitlines()[0].strip()
    return version[:60] or "tesseract"


def available() -> str | None:
    """None when OCR can run here, else the plain reason it cannot."""
    try:
        binding()
        tessdata_dir()
    except OcrUnavailable as error:
        return str(error)
    return None
