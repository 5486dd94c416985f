"""Run in a fresh interpreter by tests/ui/test_picture_editor_dpr.py with QT_SCALE_FACTOR set:
draws marks in the editor with mouse events at fractional (HiDPI) positions and prints, as
JSON, the marks made and how the editor's pixels compare with the bytes that would be sent."""

from __future__ import annotations

import io
import json
import sys

from PIL import Image
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QImage, QMouseEvent
from PySide6.QtWidgets import QApplication

from snapask_desktop.editor.marks import Arrow, EditList, Label
from snapask_desktop.redact.guard import apply_marks
from snapask_desktop.redact.paint import png_bytes
from snapask_desktop.ui.chat.editor import PictureEditor

# (tool key, image box) with odd edges: at a ratio of 2 they lie between logical pixels.
DRAWN = [
    ("arrow", (201, 151, 121, 63)),
    ("redact", (21, 13, 77, 51)),
    ("frame", (101, 31, 187, 95)),
    ("highlight", (33, 121, 151, 149)),
]


LABEL_AT = (151, 101)  # odd: between logical pixels at a ratio of 2


def noisy(width: int, height: int) -> Image.Image:
    image = Image.new("RGB", (width, height))
    image.putdata(
        [
            ((x * 7) % 251, (y * 13) % 251, (x + y) % 200 + 30)
            for y in range(height)
            for x in range(width)
        ]
    )
    return image


def _where(mark) -> list[int]:
    if isinstance(mark, Label):
        return list(mark.at)
    if isinstance(mark, Arrow):
        return [*mark.start, *mark.end]
    return list(mark.box)


def send(canvas, kind: QEvent.Type, point: tuple[float, float], buttons) -> None:
    position = QPointF(*point)
    event = QMouseEvent(
        kind,
        position,
        canvas.mapToGlobal(position),
        Qt.MouseButton.LeftButton,
        buttons,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(canvas, event)


def main() -> None:
    app = QApplication(sys.argv)
    original = noisy(240, 170)
    data = png_bytes(original)
    editor = PictureEditor(QImage.fromData(data), EditList(), lambda _marks: 0)
    editor.resize(900, 700)
    editor.show()
    for _ in range(10):
        app.processEvents()
    canvas = editor.canvas
    dpr = canvas.devicePixelRatioF()
    view = canvas.view()
    for tool, box in DRAWN:
        editor.choose(tool)
        start, end = view.to_widget(box[0], box[1]), view.to_widget(box[2], box[3])
        left = Qt.MouseButton.LeftButton
        send(canvas, QEvent.Type.MouseButtonPress, start, left)
        send(canvas, QEvent.Type.MouseMove, end, left)
        send(canvas, QEvent.Type.MouseButtonRelease, end, Qt.MouseButton.NoButton)
    editor.choose("label")  # a click places a label; typed, Enter
    point = view.to_widget(*LABEL_AT)
    send(canvas, QEvent.Type.MouseButtonPress, point, Qt.MouseButton.LeftButton)
    send(canvas, QEvent.Type.MouseButtonRelease, point, Qt.MouseButton.NoButton)
    canvas.label_edit.setText("this one?")
    canvas.label_edit.committed.emit()
    for _ in range(5):
        app.processEvents()
    marks = editor.edits.marks
    sent = Image.open(io.BytesIO(apply_marks(data, marks))).convert("RGB")
    # What the editor shows, in device pixels, where the picture is drawn.
    shown = canvas.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    x, y, _w, _h = view.shown
    ox, oy = round(x * dpr), round(y * dpr)
    worst = 0
    for py in range(sent.height):
        for px in range(sent.width):
            colour = shown.pixelColor(ox + px, oy + py)
            expected = sent.getpixel((px, py))
            diff = max(
                abs(a - b)
                for a, b in zip(
                    (colour.red(), colour.green(), colour.blue()), expected, strict=True
                )
            )
            worst = max(worst, diff)
    print(
        json.dumps(
            {
                "dpr": dpr,
                "scale": view.scale,
                "boxes": [_where(mark) for mark in marks],
                "kinds": [type(mark).__name__ for mark in marks],
                "worst_difference": worst,
                "shown_size": [shown.width(), shown.height()],
            }
        )
    )


if __name__ == "__main__":
    main()
