"""Show a Grab in Qt at once: a QImage over the grab's own bytes, no copy where safe."""

from __future__ import annotations

import sys

from PySide6.QtGui import QImage

from snapask_desktop.capture.grab import Grab


def qimage_view(grab: Grab) -> QImage:
    """A QImage showing `grab`; shares its buffer on little-endian machines.

    Format_RGB32 is a native-endian 0xffRRGGBB word, i.e. bytes B, G, R, X on
    little-endian: exactly mss's BGRA layout (the 4th byte is ignored, so an alpha of 0
    from the X server does not make the picture transparent). PySide6 keeps a reference
    to the buffer for the QImage's lifetime; the grab must not be written to meanwhile.
    """
    if sys.byteorder == "little":
        return QImage(grab.pixels, grab.width, grab.height, grab.stride, QImage.Format.Format_RGB32)
    # Big-endian: read the bytes as R,G,B,X and swap red and blue (one copy).
    swapped = QImage(
        bytes(grab.pixels), grab.width, grab.height, grab.stride, QImage.Format.Format_RGBX8888
    )
    return swapped.rgbSwapped()
