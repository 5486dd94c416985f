"""Markdown rendering of answers: the HTML, code blocks with copy links, throttled re-rendering."""

from __future__ import annotations

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from snapask_desktop.ui.chat.markdown_view import MarkdownTheme, MarkdownView, render_markdown
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


def test_code_blocks_are_collected_in_order_with_copy_links() -> None:
    rendered = render_markdown(ANSWER, THEME)
    assert rendered.code_blocks == (
        "pip install snapask",
        'def f(x):\n    return x < 2 and "<b>"',
        "indented block",
    )
    for index in range(3):
        assert f'href="copy:{index}"' in rendered.html
    assert "python" in rendered.html and "bash" in rendered.html
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


def test_tables_and_copied_marker() -> None:
    rendered = render_markdown("| a | b |\n|---|---|\n| 1 | 2 |\n\n```\ncode\n```", THEME, copied=0)
    assert "<table" in rendered.html and "<td>1</td>" in rendered.html
    assert "Copied ✓" in rendered.html


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
    short = view.height()
    view.set_markdown("\n\n".join(f"paragraph {n}" for n in range(20)))
    view.flush()
    assert view.height() > short * 5


def test_clicking_copy_puts_the_code_on_the_clipboard(qtbot) -> None:
    view = MarkdownView()
    qtbot.addWidget(view)
    view.resize(400, 300)
    view.show()
    view.set_markdown("Run:\n\n```sh\nmake test\n```\n\nand\n\n```\nsecond\n```\n")
    view.flush()
    QGuiApplication.clipboard().clear()
    cursor = view.document().find("Copy", view.document().find("make test"))
    assert not cursor.isNull()
    cursor.clearSelection()
    cursor.movePosition(cursor.MoveOperation.Left)  # inside the link text, not after it
    point = view.cursorRect(cursor).center()
    point.setX(point.x() + 3)
    with waits.signal(qtbot, view.code_copied) as copied:
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=point)
    assert copied.args == [1]
    assert QApplication.clipboard().text() == "second"
    assert "Copied ✓" in view.toPlainText()
    view.copy_code(0)
    assert QApplication.clipboard().text() == "make test"
    view.anchorClicked.emit(QUrl("copy:99"))  # a stale link does nothing
    assert QApplication.clipboard().text() == "make test"
