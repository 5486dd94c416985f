"""Answers rendered as Markdown: markdown-it-py makes the HTML, QTextBrowsers show it.

An answer is cut into pieces at its top-level code blocks: the prose between them is one
wrapping text view each, and every code block is a box of its own (language, Copy button) whose
lines never wrap: a long line scrolls sideways inside its box, not the whole answer. A code
block nested in a list or a quote stays in its prose piece, also unwrapped (that piece scrolls
sideways when it has to). Code with a known language is coloured by Pygments, imported with the
first such block, not with the app. Headings are sized from the view's own font.

Raw HTML in an answer is shown as text and images are not loaded (an answer never makes SnapAsk
fetch or read anything). While an answer streams, re-rendering is throttled (at most `max_fps`
a second, slower if rendering gets slow); pieces whose HTML did not change are not touched.
"""

from __future__ import annotations

import functools
import html
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import (
    QColor,
    QDesktopServices,
    QFontDatabase,
    QGuiApplication,
    QPalette,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QTextBrowser,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from snapask_desktop.ui import style

if TYPE_CHECKING:  # markdown-it is imported with the first answer, not with the chat window
    from markdown_it import MarkdownIt
    from pygments.formatters import HtmlFormatter
    from pygments.lexer import Lexer

COPY_SCHEME = "copy"
EXTERNAL_SCHEMES = frozenset({"http", "https", "mailto"})
COPIED_FEEDBACK_MS = 1500
# Pygments styles made for a light and a dark background (the code box's own colour is ours).
LIGHT_CODE_STYLE = "default"
DARK_CODE_STYLE = "github-dark"
# Heading sizes relative to the text: a chat bubble is not a web page, but a heading must not
# read as bold text (h4-h6 keep the text's size and differ by weight and space).
HEADING_SCALE = {1: 1.45, 2: 1.3, 3: 1.15, 4: 1.0, 5: 1.0, 6: 1.0}


@dataclass(frozen=True)
class MarkdownTheme:
    """Colours (CSS text), the monospace family and the text size used in the HTML."""

    text: str = "#000000"
    muted: str = "#666666"
    accent: str = "#1a73e8"
    surface: str = "#f2f2f2"  # code blocks
    inline: str = "#e6e6e6"  # inline code, over the window background
    border: str = "#d0d0d0"
    mono: str = "monospace"
    point_size: float = 10.0
    dark: bool = False


@dataclass(frozen=True)
class Piece:
    """One piece of an answer: prose (HTML) or a top-level code block."""

    kind: str  # "prose" or "code"
    html: str  # prose: its HTML; code: the coloured code (spans, no <pre>)
    code: str = ""  # code: the text put on the clipboard
    language: str = ""
    index: int = -1  # code: its number among all the answer's code blocks


@dataclass(frozen=True)
class Rendered:
    """An answer's pieces and the text of each of its code blocks, in order."""

    pieces: tuple[Piece, ...]
    code_blocks: tuple[str, ...]

    @property
    def html(self) -> str:
        """All pieces as one HTML text (code blocks as plain <pre>)."""
        parts = []
        for piece in self.pieces:
            if piece.kind == "code":
                parts.append(f"<pre>{piece.html}</pre>\n")
            else:
                parts.append(piece.html)
        return "".join(parts)


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
    md.add_render_rule("heading_open", _heading_open)
    return md


def render_markdown(text: str, theme: MarkdownTheme, copied: int | None = None) -> Rendered:
    """Markdown to pieces of the HTML subset QTextBrowser shows; `copied` marks one nested
    block's Copy link as just used (a top-level block's button says so itself)."""
    md = _parser()
    env: dict[str, Any] = {"code": [], "theme": theme, "copied": copied}
    tokens = md.parse(text, env)
    pieces: list[Piece] = []
    prose: list[Any] = []

    def flush_prose() -> None:
        if prose:
            pieces.append(Piece("prose", md.renderer.render(prose, md.options, env)))
            prose.clear()

    for token in tokens:
        if token.type in ("fence", "code_block") and token.level == 0:
            flush_prose()
            language = _language(token) if token.type == "fence" else ""
            code = _register(token.content, env)
            coloured = highlight(code, language, theme.dark)
            pieces.append(Piece("code", coloured, code, language, code_index(env)))
        else:
            prose.append(token)
    flush_prose()
    return Rendered(tuple(pieces), tuple(env["code"]))


def code_index(env: dict[str, Any]) -> int:
    """The number of the code block registered last."""
    return len(env["code"]) - 1


def _register(content: str, env: dict[str, Any]) -> str:
    code = content[:-1] if content.endswith("\n") else content
    env["code"].append(code)
    return code


def _language(token: Any) -> str:
    info = token.info.strip()
    return info.split(maxsplit=1)[0] if info else ""


@functools.lru_cache(maxsize=64)
def _lexer(language: str) -> Lexer | None:
    from pygments.lexers import get_lexer_by_name
    from pygments.util import ClassNotFound

    try:
        # Keep the code's own blank lines: the copy button gives exactly what is shown.
        return get_lexer_by_name(language, stripnl=False, stripall=False, ensurenl=False)
    except ClassNotFound:
        return None


@functools.lru_cache(maxsize=2)
def _formatter(dark: bool) -> HtmlFormatter:
    from pygments.formatters import HtmlFormatter

    style_name = DARK_CODE_STYLE if dark else LIGHT_CODE_STYLE
    return HtmlFormatter(nowrap=True, noclasses=True, style=style_name)


@functools.lru_cache(maxsize=64)
def highlight(code: str, language: str, dark: bool) -> str:
    """`code` as HTML spans coloured for `language` (escaped text when it is not known).

    Kept for the next renders: while an answer streams, every render highlights all its blocks
    again, and Pygments costs about 2 ms a line; only the block still growing is new."""
    lexer = _lexer(language.lower()) if language else None
    if lexer is None or not code:
        return html.escape(code)
    import pygments

    coloured = pygments.highlight(code, lexer, _formatter(dark))
    return coloured[:-1] if coloured.endswith("\n") and not code.endswith("\n") else coloured


def _nested_code_block(code: str, language: str, env: dict[str, Any]) -> str:
    """A code block inside a list or quote: a framed box in the prose, lines unwrapped."""
    theme: MarkdownTheme = env["theme"]
    code = _register(code, env)
    index = code_index(env)
    label = "Copied ✓" if env["copied"] == index else "Copy"
    lang = html.escape(language) or "&nbsp;"
    body = highlight(code, language, theme.dark) or "&nbsp;"
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
        f'<pre style="font-family:{theme.mono}; margin:0px">{body}</pre>'
        f"</td></tr></table></td></tr></table>\n"
    )


def _fence(self: Any, tokens: Any, idx: int, options: Any, env: dict[str, Any]) -> str:
    token = tokens[idx]
    return _nested_code_block(token.content, _language(token), env)


def _indented_code(self: Any, tokens: Any, idx: int, options: Any, env: dict[str, Any]) -> str:
    return _nested_code_block(tokens[idx].content, "", env)


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


def _heading_open(self: Any, tokens: Any, idx: int, options: Any, env: dict[str, Any]) -> str:
    theme: MarkdownTheme = env["theme"]
    tag = tokens[idx].tag
    level = int(tag[1:]) if tag[1:].isdigit() else 6
    size = round(theme.point_size * HEADING_SCALE.get(level, 1.0), 1)
    top = 12 if level <= 2 else 10
    return (
        f'<{tag} style="font-size:{size}pt; font-weight:700; margin-top:{top}px; '
        f'margin-bottom:4px">'
    )


DOCUMENT_CSS = """
p { margin-top: 0px; margin-bottom: 8px; }
ul, ol { margin-top: 0px; margin-bottom: 8px; }
pre { white-space: pre; }
blockquote { margin-left: 12px; }
"""


def code_surface(palette: QPalette) -> QColor:
    """A code box's background: a well a little darker than the window, light or dark."""
    window = palette.color(QPalette.ColorRole.Window)
    return style.mix(window, QColor("black"), 0.3 if style.is_dark(palette) else 0.05)


def theme_from_palette(palette: QPalette, point_size: float = 10.0) -> MarkdownTheme:
    """The HTML colours for the current light or dark palette."""
    mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont).family()
    return MarkdownTheme(
        text=style.css(palette.color(QPalette.ColorRole.WindowText)),
        muted=style.css(style.muted_color(palette)),
        accent=style.css(palette.color(QPalette.ColorRole.Link)),
        surface=style.css(code_surface(palette)),
        inline=style.css(
            style.mix(
                palette.color(QPalette.ColorRole.Window),
                palette.color(QPalette.ColorRole.WindowText),
                0.08,
            )
        ),
        border=style.css(style.border_color(palette)),
        mono=f"'{mono}', monospace",
        point_size=point_size,
        dark=style.is_dark(palette),
    )


def _pieces_sheet(theme: MarkdownTheme) -> str:
    """Code boxes on their well, and slim sideways scroll bars (the platform's are heavy inside
    a bubble): one style sheet on the view, as one on each piece costs ~2 ms a piece."""
    return (
        f"QFrame#codeBox {{ background: {theme.surface}; border: 1px solid {theme.border};"
        f" border-radius: {style.RADIUS}px; }}"
        " QScrollBar:horizontal { height: 8px; background: transparent;"
        " margin: 0px; }"
        f" QScrollBar::handle:horizontal {{ background: {theme.muted};"
        " border-radius: 3px; min-width: 24px; margin: 1px 2px; }"
        " QScrollBar::add-line:horizontal,"
        " QScrollBar::sub-line:horizontal { width: 0px; border: none; }"
        " QScrollBar::add-page:horizontal,"
        " QScrollBar::sub-page:horizontal { background: transparent; }"
    )


class TextPiece(QTextBrowser):
    """A read-only text view as tall as its content; scrolls sideways only when a line must
    not wrap (code), and passes vertical wheel turns on to the transcript."""

    def __init__(self, parent: QWidget | None = None, *, wrap: bool = True) -> None:
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setLineWrapMode(
            QTextEdit.LineWrapMode.WidgetWidth if wrap else QTextEdit.LineWrapMode.NoWrap
        )
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumWidth(60)
        self.viewport().setAutoFillBackground(False)
        self.document().setDefaultStyleSheet(DOCUMENT_CSS)
        self.document().setDocumentMargin(2)
        self.document().documentLayout().documentSizeChanged.connect(self.fit_height)
        self.horizontalScrollBar().rangeChanged.connect(self.fit_height)
        self._html = ""
        self.fit_height()

    def show_html(self, text: str) -> None:
        """Show `text` unless it is what is shown already."""
        if text != self._html:
            self._html = text
            self.setHtml(text)
            self.fit_height()

    def fit_height(self, *_args: object) -> None:
        """Be exactly as tall as the text, plus the sideways scroll bar when it is needed."""
        margins = self.contentsMargins()
        height = math.ceil(self.document().size().height()) + margins.top() + margins.bottom()
        bar = self.horizontalScrollBar()
        if bar.maximum() > 0:
            height += bar.sizeHint().height()
        height = max(height, self.fontMetrics().height() + 4)
        if height != self.height():
            self.setFixedHeight(height)

    def wheelEvent(self, event: QWheelEvent) -> None:
        """Sideways turns (or Shift+wheel) scroll a wide piece; the rest scroll the transcript."""
        delta = event.angleDelta()
        sideways = abs(delta.x()) > abs(delta.y()) or bool(
            event.modifiers() & Qt.KeyboardModifier.ShiftModifier
        )
        bar = self.horizontalScrollBar()
        if sideways and bar.maximum() > 0:
            turn = delta.x() if abs(delta.x()) > abs(delta.y()) else delta.y()
            bar.setValue(bar.value() - round(turn / 120 * 3 * bar.singleStep()))
            event.accept()
            return
        event.ignore()

    def loadResource(self, type: int, name: QUrl) -> Any:
        """Load nothing an answer points at (pictures, style sheets)."""
        return None


class CodeBox(QFrame):
    """A top-level code block: its language and a Copy button above unwrapped, coloured code."""

    copy_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("codeBox")
        self.index = -1
        self.code = ""
        layout = QVBoxLayout(self)
        layout.setContentsMargins(1, 1, 1, 1)
        layout.setSpacing(0)
        header = QHBoxLayout()
        header.setContentsMargins(8, 2, 4, 0)
        self.language = QLabel()
        style.set_role(self.language, "muted")
        self.copy_button = QPushButton("Copy")
        self.copy_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.copy_button.setToolTip("Copy this code")
        style.set_role(self.copy_button, "flat")
        self.copy_button.clicked.connect(lambda: self.copy_requested.emit(self.index))
        header.addWidget(self.language, 1)
        header.addWidget(self.copy_button)
        self.text = TextPiece(self, wrap=False)
        self.text.document().setDocumentMargin(6)
        layout.addLayout(header)
        layout.addWidget(self.text)

    def set_code(
        self, piece: Piece, theme: MarkdownTheme, copied: bool, alone: bool = False
    ) -> None:
        """Show `piece` (a code piece) in `theme`'s colours; `alone`: it is the whole answer,
        whose own Copy button copies the same (a second one would only repeat it)."""
        self.index = piece.index
        self.code = piece.code
        self.language.setText(piece.language)
        self.language.setVisible(bool(piece.language) or not alone)
        self.copy_button.setText("Copied ✓" if copied else "Copy")
        self.copy_button.setVisible(not alone)
        body = piece.html or "&nbsp;"
        self.text.show_html(
            f'<pre style="font-family:{theme.mono}; margin:0px; color:{theme.text}">{body}</pre>'
        )


class MarkdownView(QWidget):
    """A read-only, self-sizing Markdown view: prose pieces and code boxes, top to bottom.

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
        self._pieces: list[QWidget] = []
        self._timer = QTimer(self, singleShot=True, timeout=self._render)
        self._copied_timer = QTimer(self, singleShot=True, timeout=self._clear_copied)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(6)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumWidth(120)

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

    def pieces(self) -> list[QWidget]:
        """The shown pieces, top to bottom (`TextPiece` prose, `CodeBox` code)."""
        return list(self._pieces)

    def toPlainText(self) -> str:  # named like QTextEdit's, which this view once was
        """The text shown, piece after piece."""
        texts = []
        for piece in self._pieces:
            if isinstance(piece, CodeBox):
                texts.append(f"{piece.language.text()} {piece.copy_button.text()}\n{piece.code}")
            elif isinstance(piece, TextPiece):
                texts.append(piece.toPlainText())
        return "\n".join(texts)

    def copy_code(self, index: int) -> None:
        """Put one code block on the clipboard and show "Copied" on its button for a moment."""
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
        theme = theme_from_palette(self.palette(), self.font().pointSizeF())
        result = render_markdown(self._source, theme, self._copied)
        self._show_pieces(result.pieces, theme)
        self._code = result.code_blocks
        self._shown = self._source
        self.render_count += 1
        self._last_render = time.monotonic()
        # A long answer renders slower: give the main thread at least twice that in between.
        spent_ms = (self._last_render - started) * 1000
        self._interval_ms = max(self._min_interval_ms, math.ceil(2 * spent_ms))
        self.rendered.emit()

    def _show_pieces(self, pieces: tuple[Piece, ...], theme: MarkdownTheme) -> None:
        sheet = _pieces_sheet(theme)
        if sheet != self.styleSheet():  # one sheet for all pieces, set when colours change
            self.setStyleSheet(sheet)
        if not pieces:
            pieces = (Piece("prose", ""),)  # an empty answer still takes a line
        for position, piece in enumerate(pieces):
            widget = self._pieces[position] if position < len(self._pieces) else None
            wanted = CodeBox if piece.kind == "code" else TextPiece
            if not isinstance(widget, wanted):
                widget = self._new_piece(piece.kind)
                if position < len(self._pieces):
                    old = self._pieces[position]
                    self._layout.replaceWidget(old, widget)
                    old.deleteLater()
                    self._pieces[position] = widget
                else:
                    self._layout.addWidget(widget)
                    self._pieces.append(widget)
                widget.show()  # now, not on the next event loop pass: the height counts at once
            if isinstance(widget, CodeBox):
                alone = len(pieces) == 1
                widget.set_code(piece, theme, self._copied == piece.index, alone)
            elif isinstance(widget, TextPiece):
                widget.show_html(piece.html)
        for widget in self._pieces[len(pieces) :]:
            self._layout.removeWidget(widget)
            widget.deleteLater()
        del self._pieces[len(pieces) :]

    def _new_piece(self, kind: str) -> QWidget:
        if kind == "code":
            box = CodeBox(self)
            box.copy_requested.connect(self.copy_code)
            box.text.anchorClicked.connect(self._on_anchor)
            return box
        text = TextPiece(self)
        text.anchorClicked.connect(self._on_anchor)
        return text

    def _clear_copied(self) -> None:
        self._copied = None
        self._render(force=True)

    def changeEvent(self, event: QEvent) -> None:
        """Re-colour the HTML when the palette changes (light/dark switch)."""
        super().changeEvent(event)
        redraw = (QEvent.Type.PaletteChange, QEvent.Type.StyleChange, QEvent.Type.FontChange)
        if event.type() in redraw and self._shown is not None:
            self._render(force=True)

    # --- links -----------------------------------------------------------------------------
    def _on_anchor(self, url: QUrl) -> None:
        if url.scheme() == COPY_SCHEME:
            try:
                self.copy_code(int(url.path()))
            except ValueError:
                return
        elif url.scheme().lower() in EXTERNAL_SCHEMES:
            QDesktopServices.openUrl(url)
