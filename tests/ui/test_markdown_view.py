"""Markdown rendering of answers: pieces, code boxes that never wrap, colours, headings,
copy buttons, throttled re-rendering."""

from __future__ import annotations

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QColor, QGuiApplication, QPalette, QTextCursor
from PySide6.QtWidgets import QApplication

from snapask_desktop.ui.chat.markdown_view import (
    CodeBox,
    MarkdownTheme,
    MarkdownView,
    TextPiece,
    code_surface,
    render_markdown,
)
from tests.support import waits

THEME = MarkdownTheme()

ANSWER = """Intro with `inline` code.

1. Install:
   ```bash
   pip install snapask
   ```
2. Then:

```python
def f(x):
    return x < 2 and "<b>"
```

    indented block
"""

LONG_LINE = "result = compute_the_answer(" + ", ".join(f"argument_{n}" for n in range(30)) + ")"


def test_code_blocks_are_collected_in_order_top_level_ones_as_pieces() -> None:
    rendered = render_markdown(ANSWER, THEME)
    assert rendered.code_blocks == (
        "pip install snapask",
        'def f(x):\n    return x < 2 and "<b>"',
        "indented block",
    )
    kinds = [(piece.kind, piece.index) for piece in rendered.pieces]
    assert kinds == [("prose", -1), ("code", 1), ("code", 2)]
    prose = rendered.pieces[0].html
    assert 'href="copy:0"' in prose and "bash" in prose  # the nested one stays in the prose
    assert rendered.pieces[1].language == "python"
    assert "&lt;b&gt;" in rendered.html and "<b>" not in rendered.html


def test_raw_html_images_and_script_links_stay_inert() -> None:
    text = (
        '<script>alert(1)</script> <img src="file:///etc/passwd">\n\n'
        "![secret](/etc/passwd) [bad](javascript:alert(1)) [good](https://example.com)"
    )
    html = render_markdown(text, THEME).html
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;" in html
    assert "javascript:" not in html.replace("[bad](javascript:alert(1))", "")
    assert 'href="https://example.com"' in html
    assert 'href="/etc/passwd"' in html  # shown as a plain link, never loaded as a picture


def test_tables_and_copied_marker_of_a_nested_block() -> None:
    rendered = render_markdown(
        "| a | b |\n|---|---|\n| 1 | 2 |\n\n- step\n\n  ```\n  code\n  ```", THEME, copied=0
    )
    assert "<table" in rendered.html and "<td>1</td>" in rendered.html
    assert "Copied ✓" in rendered.html


def test_code_of_a_known_language_is_coloured_and_unknown_is_plain() -> None:
    coloured = render_markdown("```python\ndef f():\n    return 1\n```", THEME).pieces[0].html
    assert '<span style="color' in coloured and "def" in coloured
    plain = render_markdown("```nosuchlanguage\ndef f():\n```", THEME).pieces[0].html
    assert "<span" not in plain and plain == "def f():"
    dark = render_markdown("```python\ndef f():\n```", MarkdownTheme(dark=True)).pieces[0].html
    assert dark != coloured.split("\n")[0]  # colours made for a dark background


def test_streaming_renders_are_throttled(qtbot) -> None:
    view = MarkdownView(max_fps=30)
    qtbot.addWidget(view)
    text = ""
    for n in range(200):
        text += f"word{n} "
        view.append_markdown(f"word{n} ")
    # No render happens inside a burst of chunks: the timer fires only from the event loop.
    assert view.render_count == 0
    waits.until(qtbot, lambda: view.render_count == 1)
    assert view.toPlainText().strip() == text.strip()
    view.flush()  # nothing changed: no extra render
    assert view.render_count == 1


def test_view_grows_with_its_content(qtbot) -> None:
    view = MarkdownView()
    qtbot.addWidget(view)
    view.resize(300, 10)
    view.show()
    view.set_markdown("one line")
    view.flush()
    short = view.sizeHint().height()
    view.set_markdown("\n\n".join(f"paragraph {n}" for n in range(20)) + "\n\n```\na\nb\n```")
    view.flush()
    assert view.sizeHint().height() > short * 5


def _show(qtbot, text: str, width: int = 360, palette: QPalette | None = None) -> MarkdownView:
    view = MarkdownView()
    qtbot.addWidget(view)
    if palette is not None:
        view.setPalette(palette)
    view.resize(width, 400)
    view.show()
    view.set_markdown(text)
    view.flush()
    view.resize(width, view.sizeHint().height())
    QApplication.processEvents()
    return view


def _line_count(piece: TextPiece) -> int:
    block = piece.document().firstBlock()
    lines = 0
    while block.isValid():
        lines += block.layout().lineCount()
        block = block.next()
    return lines


def test_a_long_code_line_does_not_wrap_but_scrolls_sideways_in_its_box(qtbot) -> None:
    view = _show(qtbot, f"Call it so:\n\n```python\n{LONG_LINE}\nprint(result)\n```\n\nDone.")
    prose, box, after = view.pieces()
    assert isinstance(box, CodeBox) and isinstance(prose, TextPiece)
    assert _line_count(box.text) == 2  # two lines of code, neither wrapped
    bar = box.text.horizontalScrollBar()
    assert bar.maximum() > 0  # the box scrolls sideways...
    assert prose.horizontalScrollBar().maximum() == 0  # ...the prose around it does not
    assert box.text.height() >= box.text.document().size().height() + bar.sizeHint().height()
    assert "Done." in after.toPlainText()


def test_a_nested_code_block_does_not_wrap_either(qtbot) -> None:
    view = _show(qtbot, f"1. Run:\n\n   ```\n   {LONG_LINE}\n   ```\n2. Then rest.")
    (piece,) = view.pieces()
    assert isinstance(piece, TextPiece)
    cursor = piece.document().find("argument_29")
    assert not cursor.isNull()
    start = piece.document().find("result = ")
    assert piece.cursorRect(cursor).top() == piece.cursorRect(start).top()  # one line
    assert piece.horizontalScrollBar().maximum() > 0


def test_code_box_is_monospace_coloured_and_on_its_own_background(qtbot) -> None:
    view = _show(qtbot, "```python\ndef answer():\n    return 42\n```")
    (box,) = view.pieces()
    assert isinstance(box, CodeBox) and box.language.text() == "python"
    document = box.text.document()
    keyword = QTextCursor(document.find("def"))
    name = QTextCursor(document.find("answer"))
    keyword_format = keyword.charFormat()
    assert keyword_format.fontFixedPitch() or "mono" in " ".join(keyword_format.fontFamilies())
    assert keyword_format.foreground().color() != name.charFormat().foreground().color()
    window = view.palette().color(QPalette.ColorRole.Window)
    picture = box.grab().toImage()
    inside = picture.pixelColor(picture.width() - 6, picture.height() - 4)
    assert inside.name() == code_surface(view.palette()).name() != window.name()


def _dark() -> QPalette:
    palette = QPalette()
    for role, colour in {
        QPalette.ColorRole.Window: "#2b2b2b",
        QPalette.ColorRole.WindowText: "#e6e6e6",
        QPalette.ColorRole.Base: "#1e1e1e",
        QPalette.ColorRole.Text: "#e6e6e6",
    }.items():
        palette.setColor(role, QColor(colour))
    return palette


def test_dark_theme_code_box_is_dark_and_readable(qtbot) -> None:
    view = _show(qtbot, "```python\nx = 'text'\n```", palette=_dark())
    (box,) = view.pieces()
    surface = code_surface(view.palette())
    assert surface.lightnessF() < 0.2
    string = box.text.document().find("'text'").charFormat().foreground().color()
    assert string.lightnessF() > 0.5  # a light colour on the dark box


def test_headings_are_larger_than_the_text_down_to_h3(qtbot) -> None:
    view = _show(qtbot, "# One\n\n## Two\n\n### Three\n\n#### Four\n\nBody text.")
    (piece,) = view.pieces()
    document = piece.document()

    def size(word: str) -> float:
        fmt = document.find(word).charFormat()
        return fmt.fontPointSize() or view.font().pointSizeF()

    body = size("Body")
    assert size("One") > size("Two") > size("Three") > body
    assert document.find("Four").charFormat().fontWeight() >= 600


def test_copy_buttons_put_the_code_on_the_clipboard(qtbot) -> None:
    view = _show(qtbot, "Run:\n\n```sh\nmake test\n```\n\nand\n\n```\nsecond\n```\n", 400)
    QGuiApplication.clipboard().clear()
    boxes = [piece for piece in view.pieces() if isinstance(piece, CodeBox)]
    with waits.signal(qtbot, view.code_copied) as copied:
        qtbot.mouseClick(boxes[1].copy_button, Qt.MouseButton.LeftButton)
    assert copied.args == [1]
    assert QApplication.clipboard().text() == "second"
    boxes = [piece for piece in view.pieces() if isinstance(piece, CodeBox)]
    assert boxes[1].copy_button.text() == "Copied ✓" and boxes[0].copy_button.text() == "Copy"
    view.copy_code(0)
    assert QApplication.clipboard().text() == "make test"
    boxes[0].text.anchorClicked.emit(QUrl("copy:99"))  # a stale link does nothing
    assert QApplication.clipboard().text() == "make test"


def test_clicking_a_nested_blocks_copy_link(qtbot) -> None:
    view = _show(qtbot, "- step\n\n  ```sh\n  make test\n  ```\n", 400)
    (piece,) = view.pieces()
    QGuiApplication.clipboard().clear()
    cursor = piece.document().find("Copy")
    cursor.clearSelection()
    cursor.movePosition(cursor.MoveOperation.Left)  # inside the link text, not after it
    point = piece.cursorRect(cursor).center()
    point.setX(point.x() + 3)
    with waits.signal(qtbot, view.code_copied):
        qtbot.mouseClick(piece.viewport(), Qt.MouseButton.LeftButton, pos=point)
    assert QApplication.clipboard().text() == "make test"


def test_a_code_block_that_is_the_whole_answer_has_no_second_copy_button(qtbot) -> None:
    alone = _show(qtbot, "```\nSave changes?\nCancel  Save\n```")
    (box,) = alone.pieces()
    assert isinstance(box, CodeBox)
    assert box.copy_button.isHidden() and box.language.isHidden()  # the answer's Copy does it
    with_prose = _show(qtbot, "Read:\n\n```\nSave changes?\n```")
    box = with_prose.pieces()[1]
    assert isinstance(box, CodeBox) and not box.copy_button.isHidden()


def _wheel(target, dx: int, dy: int, modifiers=Qt.KeyboardModifier.NoModifier) -> bool:
    from PySide6.QtCore import QPoint, QPointF
    from PySide6.QtGui import QWheelEvent

    inside = QPointF(10, 10)
    event = QWheelEvent(
        inside,
        QPointF(target.mapToGlobal(QPoint(10, 10))),
        QPoint(0, 0),
        QPoint(dx, dy),
        Qt.MouseButton.NoButton,
        modifiers,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(target.viewport(), event)
    return event.isAccepted()


def test_a_code_box_scrolls_sideways_by_wheel_and_lets_the_transcript_scroll_down(qtbot) -> None:
    view = _show(qtbot, f"```python\n{LONG_LINE}\n```")
    (box,) = view.pieces()
    assert isinstance(box, CodeBox)
    bar = box.text.horizontalScrollBar()
    assert bar.value() == 0
    assert not _wheel(box.text, 0, -120)  # down: not ours, the transcript scrolls
    assert bar.value() == 0
    assert _wheel(box.text, 0, -120, Qt.KeyboardModifier.ShiftModifier)  # Shift+wheel: sideways
    assert bar.value() > 0
    moved = bar.value()
    assert _wheel(box.text, 120, 0)  # a sideways wheel (touchpad) scrolls back
    assert bar.value() < moved
