"""Render the app icon (resources/icons/snapask.svg) into the per-OS icon files.

Writes packaging/windows/snapask.ico, packaging/macos/snapask.icns and
packaging/linux/icons/snapask-<N>.png. The outputs are committed; run this again after
changing the SVG:  .venv/bin/python packaging/make_icons.py [OUT_DIR]
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SVG = ROOT / "resources" / "icons" / "snapask.svg"
ICO_SIZES = (16, 20, 24, 32, 40, 48, 64, 128, 256)  # Explorer, taskbar and tray sizes
ICNS_SIZES = (16, 32, 64, 128, 256, 512, 1024)
PNG_SIZES = (48, 128, 256)  # hicolor theme sizes beside the scalable SVG


def render(svg: Path, size: int) -> Image.Image:
    """The SVG drawn by Qt's renderer into a transparent size x size RGBA image."""
    from PySide6.QtCore import QBuffer, QIODevice, Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication([])
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise ValueError(f"not a usable SVG: {svg}")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    return Image.open(io.BytesIO(bytes(buffer.data()))).convert("RGBA")


def make_icons(out_dir: Path, svg: Path = SVG) -> list[Path]:
    """Write the .ico, .icns and PNG files under out_dir (windows/, macos/, linux/icons/)."""
    # Each size rendered from the vector, not scaled down from one bitmap: small sizes stay crisp.
    images = {size: render(svg, size) for size in sorted({*ICO_SIZES, *ICNS_SIZES, *PNG_SIZES})}
    ico = out_dir / "windows" / "snapask.ico"
    icns = out_dir / "macos" / "snapask.icns"
    pngs = [out_dir / "linux" / "icons" / f"snapask-{size}.png" for size in PNG_SIZES]
    for path in (ico, icns, *pngs):
        path.parent.mkdir(parents=True, exist_ok=True)
    largest_ico = images[max(ICO_SIZES)]
    largest_ico.save(
        ico,
        format="ICO",
        sizes=[(size, size) for size in ICO_SIZES],
        append_images=[images[size] for size in ICO_SIZES],
    )
    images[max(ICNS_SIZES)].save(
        icns, format="ICNS", append_images=[images[size] for size in ICNS_SIZES]
    )
    for size, path in zip(PNG_SIZES, pngs, strict=True):
        images[size].save(path, format="PNG", optimize=True)
    return [ico, icns, *pngs]


def main(argv: list[str]) -> int:
    """Write the icons into argv[0] (default: this packaging/ folder); print their paths."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    out_dir = Path(argv[0]) if argv else Path(__file__).resolve().parent
    for path in make_icons(out_dir):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
