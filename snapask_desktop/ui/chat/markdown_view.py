"""Answers rendered as Markdown: markdown-it-py makes the HTML, a QTextBrowser shows it.

Code blocks get a header with their language and a Copy link (`copy:N`), and wrap inside the
narrow chat window instead of scrolling sideways. Raw HTML in an answer is shown as text and
images are not loaded (an answer never makes SnapAsk fetch or read anything). While an answer
streams, re-rendering is throttled (at most `max_fps` a second, slower if rendering gets slow).
"""

from __future__ import annotations

import functools
import html
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QSizeF, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QFontDatabase, QGuiApplication, QPalette
from PySide6.QtWidgets import QFrame, QSizePolicy, QTextBrowser, QWidget

from snapask_desktop.ui import style

if TYPE_CHECKING:  # markdown-it is imported with the first answer, not with the chat window
    from markdown_it import MarkdownIt

COPY_SCHEME = "copy"
EXTERNAL_SCHEMES = frozenset({"http", "https", "mailto"})
COPIED_FEEDBACK_MS = 1500


@dataclass(frozen=True)
class MarkdownTheme:
    """Colours (CSS text) and the monospace family used in the HTML."""

    text: str = "#000000"
    muted: str = "#666666"
    accent: str = "#1a73e8"
    surface: str = "#ffffff"  # code blocks
    inline: str = "#e6e6e6"  # inline code, over the window background
    border: str = "#d0d0d0"
    mono: str = "monospace"


@dataclass(frozen=True)
class Rendered:
    """The HTML of an answer and the text of each of its code blocks, in order."""

    html: str
    code_blocks: tuple[str, ...]


@functools.cache
def _parser() -> MarkdownIt:
    """The one configured parser, built on first use."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.disable("image")  # a picture link in an answer must not be fetched or read from disk
    md.add_render_rule("fence", _fence)
    md.add_render_rule("code_block", _indented_code)
    md.add_render_rule("code_inline", _inline_code)
    md.add_render_rule("table_open", _table_open)
    md.add_render_rule("blockquote_open", _blockquote_open)
    return md


def render_markdown(text: str, theme: MarkdownTheme, copied: int | None = None) -> Rendered:
    """Markdown to the HTML subset QTextBrowser shows; `copied` marks one block as just copied."""
    md = _parser()
    env: dict[str, Any] = {"code": [], "theme": theme, "copied": copied}
    tokens = md.parse(text, env)
    body = md.renderer.render(tokens, md.options, env)
    return Rendered(body, tuple(env["code"]))


def _code_block(code: str, language: str, env: dict[str, Any]) -> str:
    theme: MarkdownTheme = env["theme"]
    index = len(env["code"])
    env["code"].append(code[:-1] if code.endswith("\n") else code)
    label = "Copied ✓" if env["copied"] == index else "Copy"
    lang = html.escape(language) or "&nbsp;"
    body = html.escape(env["code"][-1]) or "&nbsp;"
    # An outer one-cell table draws the frame; the inner one holds the header and the code
    # (cell borders of a single table would also cut the header in two).
    return (
        f'<table width="100%" cellspacing="0" cellpadding="0" border="1" '
        f'style="border-color:{theme.border}; border-style:solid; margin-top:4px; '
        f'margin-bottom:8px" bgcolor="{theme.surface}"><tr><td style="border:none">'
        f'<table width="100%" cellspacing="0" cellpadding="0" border="0">'
        f'<tr><td style="padding:3px 8px"><span style="color:{theme.muted}; '
        f'font-size:small">{lang}</span></td>'
        f'<td align="right" style="padding:3px 8px">'
        f'<a href="{COPY_SCHEME}:{index}" style="color:{theme.accent}; text-decoration:none; '
        f'font-size:small">{label}</a></td></tr>'
        f'<tr><td colspan="2" style="padding:0px 8px 6px 8px">'
        f'<div style="white-space:pre-wrap; font-family:{theme.mono}">{body}</div>'
        f"</td></tr></table></td></tr></table>\n"
    )


def _fence(self: Any, tokens: Any, idx: int, options: Any, env: dict[str, Any]) -> str:
    token = tokens[idx]
    language = token.info.strip().split(maxsplit=1)[0] if token.info.strip() else ""
    return _code_block(token.content, language, env)


def _indented_code(self: Any, tokens: Any, idx: int, options: Any, env: dict[str, Any]) -> str:
    return _code_block(tokens[idx].content, "", env)


def _inline_code(self: Any, tokens: Any, idx: int, options: Any, env: dict[str, Any]) -> str:
    theme: MarkdownTheme = env["theme"]
    content = html.escape(tokens[idx].content)
    return (
        f'<code style="font-family:{theme.mono}; background-color:{theme.inline}">{content}</code>'
    )


def _table_open(self: Any, tokens: Any, idx: int, options: Any, env: dict[str, Any]) -> str:
    theme: MarkdownTheme = env["theme"]
    return (
        f'<table border="1" cellspacing="0" cellpadding="4" '
        f'style="border-color:{theme.border}; border-style:solid; margin-bottom:8px">\n'
    )


def _blockquote_open(self: Any, tokens: Any, idx: int, options: Any, env: dict[str, Any]) -> str:
    theme: MarkdownTheme = env["theme"]
    return f'<blockquote style="color:{theme.muted}">\n'


# Headings sized for a chat bubble, not a web page.
DOCUMENT_CSS = """
h1 { font-size: x-large; margin-top: 6px; margin-bottom: 4px; }
h2 { font-size: large; margin-top: 6px; margin-bottom: 4px; }
h3, h4, h5, h6 { font-size: medium; margin-top: 6px; margin-bottom: 2px; }
p { margin-top: 0px; margin-bottom: 8px; }
ul, ol { margin-top: 0px; margin-bottom: 8px; }
blockquote { margin-left: 12px; }
"""


def theme_from_palette(palette: QPalette) -> MarkdownTheme:
    """The HTML colours for the current light or dark palette."""
    mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont).family()
    return MarkdownTheme(
        text=style.css(palette.color(QPalette.ColorRole.WindowText)),
        muted=style.css(style.muted_color(palette)),
        accent=style.css(palette.color(QPalette.ColorRole.Link)),
        surface=style.css(palette.color(QPalette.ColorRole.Base)),
        inline=style.css(
            style.mix(
                palette.color(QPalette.ColorRole.Window),
                palette.color(QPalette.ColorRole.WindowText),
                0.08,
            )
        ),
        border=style.css(style.border_color(palette)),
        mono=f"'{mono}', monospace",
    )


class MarkdownView(QTextBrowser):
    """A read-only, self-sizing Markdown view with copy links on code blocks.

    `set_markdown()` may be called for every streamed chunk: rendering happens on a timer, at
    most `max_fps` times a second; `flush()` renders at once (e.g. when the answer ends).
    """

    code_copied = Signal(int)  # index of the code block put on the clipboard
    rendered = Signal()

    def __init__(self, parent: QWidget | None = None, *, max_fps: float = 30.0) -> None:
        super().__init__(parent)
        self._source = ""
        self._shown: str | None = None
        self._code: tuple[str, ...] = ()
        self._copied: int | None = None
        self._min_interval_ms = max(1, int(1000 / max_fps))
        self._interval_ms = self._min_interval_ms
        self._last_render = 0.0
        self.render_count = 0
        self._timer = QTimer(self, singleShot=True, timeout=self._render)
        self._copied_timer = QTimer(self, singleShot=True, timeout=self._clear_copied)
        self._setup()

    def _setup(self) -> None:
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.anchorClicked.connect(self._on_anchor)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumWidth(120)
        self.viewport().setAutoFillBackground(False)
        self.document().setDefaultStyleSheet(DOCUMENT_CSS)
        self.document().setDocumentMargin(2)
        self.document().documentLayout().documentSizeChanged.connect(self._fit_height)
        self._fit_height(self.document().size())

    # --- content ---------------------------------------------------------------------------
    def set_markdown(self, text: str) -> None:
        """Show `text` (Markdown); the view updates on the next throttled render."""
        self._source = text
        if not self._timer.isActive():
            since = (time.monotonic() - self._last_render) * 1000
            self._timer.start(max(0, int(self._interval_ms - since)))

    def append_markdown(self, chunk: str) -> None:
        """Add a streamed chunk to the text."""
        self.set_markdown(self._source + chunk)

    def markdown(self) -> str:
        """The Markdown source shown (or about to be shown)."""
        return self._source

    def flush(self) -> None:
        """Render now if the text changed since the last render."""
        self._timer.stop()
        self._render()

    def code_blocks(self) -> tuple[str, ...]:
        """The text of each code block as last rendered."""
        return self._code

    def copy_code(self, index: int) -> None:
        """Put one code block on the clipboard and show "Copied" on its link for a moment."""
        if not 0 <= index < len(self._code):
            return
        QGuiApplication.clipboard().setText(self._code[index])
        self._copied = index
        self._copied_timer.start(COPIED_FEEDBACK_MS)
        self._render(force=True)
        self.code_copied.emit(index)

    # --- rendering -------------------------------------------------------------------------
    def _render(self, force: bool = False) -> None:
        if self._source == self._shown and not force:
            return
        started = time.monotonic()
        result = render_markdown(self._source, theme_from_palette(self.palette()), self._copied)
        self.setHtml(result.html)
        self._fit_height(self.document().size())  # at once, not on the next layout pass
        self._code = result.code_blocks
        self._shown = self._source
        self.render_count += 1
        self._last_render = time.monotonic()
        # A long answer renders slower: give the main thread at least twice that in between.
        spent_ms = (self._last_render - started) * 1000
        self._interval_ms = max(self._min_interval_ms, math.ceil(2 * spent_ms))
        self.rendered.emit()

    def _clear_copied(self) -> None:
        self._copied = None
        self._render(force=True)

    def _fit_height(self, size: QSizeF) -> None:
        margins = self.contentsMargins()
        height = math.ceil(size.height()) + margins.top() + margins.bottom()
        if height != self.height():
            self.setFixedHeight(max(height, self.fontMetrics().height() + 4))

    def changeEvent(self, event: QEvent) -> None:
        """Re-colour the HTML when the palette changes (light/dark switch)."""
        super().changeEvent(event)
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.StyleChange) and self._shown:
            self._render(force=True)

    def loadResource(self, type: int, name: QUrl) -> Any:
        """Load nothing an answer points at (pictures, style sheets)."""
        return None

    # --- links -----------------------------------------------------------------------------
    def _on_anchor(self, url: QUrl) -> None:
        if url.scheme() == COPY_SCHEME:
            try:
                self.copy_code(int(url.path()))
            except ValueError:
                return
        elif url.scheme().lower() in EXTERNAL_SCHEMES:
            QDesktopServices.openUrl(url)
