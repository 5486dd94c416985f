"""Shared look of SnapAsk's windows: colours derived from the palette and one small stylesheet.

Every colour comes from the current palette (light or dark), so the windows follow the desktop's
theme. Widgets opt into a look with a dynamic property: `set_role(label, "muted")`,
`set_role(button, "chip")`; the stylesheet from `stylesheet(palette)` styles those roles.
"""

from __future__ import annotations

from html import escape

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QWidget

SPACING = 8  # px between related controls
RADIUS = 6  # px corner radius of cards, bubbles and chips
ROLE_PROPERTY = "role"

# Roles the stylesheet knows (set with set_role): text roles for labels, shapes for frames/buttons.
ROLES = ("muted", "error", "warning", "title", "chip", "card", "bubble", "flat", "header")


def is_dark(palette: QPalette) -> bool:
    """True when the palette's window colour is dark (a dark theme)."""
    return palette.color(QPalette.ColorRole.Window).lightnessF() < 0.5


def mix(a: QColor, b: QColor, amount: float) -> QColor:
    """Blend `a` towards `b` by `amount` (0 = a, 1 = b), alpha included."""
    t = min(1.0, max(0.0, amount))
    return QColor.fromRgbF(
        a.redF() + (b.redF() - a.redF()) * t,
        a.greenF() + (b.greenF() - a.greenF()) * t,
        a.blueF() + (b.blueF() - a.blueF()) * t,
        a.alphaF() + (b.alphaF() - a.alphaF()) * t,
    )


def css(color: QColor) -> str:
    """A colour as CSS text Qt stylesheets and rich text both understand (#rrggbb or rgba)."""
    if color.alpha() == 255:
        return color.name(QColor.NameFormat.HexRgb)
    return f"rgba({color.red()}, {color.green()}, {color.blue()}, {color.alpha()})"


def muted_color(palette: QPalette) -> QColor:
    """Secondary text: the text colour halfway to the background."""
    return mix(
        palette.color(QPalette.ColorRole.WindowText), palette.color(QPalette.ColorRole.Window), 0.45
    )


def border_color(palette: QPalette) -> QColor:
    """Hairlines and outlines: a little of the text colour over the background."""
    return mix(
        palette.color(QPalette.ColorRole.Window), palette.color(QPalette.ColorRole.WindowText), 0.2
    )


def surface_color(palette: QPalette) -> QColor:
    """Raised areas (cards, code blocks): the base colour nudged towards the text colour."""
    return mix(palette.color(QPalette.ColorRole.Base), palette.color(QPalette.ColorRole.Text), 0.06)


def accent_color(palette: QPalette) -> QColor:
    """The accent: the palette's highlight colour."""
    return palette.color(QPalette.ColorRole.Highlight)


def accent_surface(palette: QPalette) -> QColor:
    """A light tint of the accent over the base (the user's question bubbles)."""
    return mix(palette.color(QPalette.ColorRole.Base), accent_color(palette), 0.14)


def error_color(palette: QPalette) -> QColor:
    """Error text, readable on both light and dark backgrounds."""
    return QColor("#ff8a80") if is_dark(palette) else QColor("#b3261e")


def warning_color(palette: QPalette) -> QColor:
    """Warning text (waiting, retrying), readable on both light and dark backgrounds."""
    return QColor("#ffd180") if is_dark(palette) else QColor("#8a5a00")


def set_role(widget: QWidget, role: str) -> None:
    """Give a widget one of the stylesheet's roles (and re-apply the style at once)."""
    if role not in ROLES:
        raise ValueError(f"unknown style role {role!r}; known roles: {', '.join(ROLES)}")
    widget.setProperty(ROLE_PROPERTY, role)
    style = widget.style()
    style.unpolish(widget)
    style.polish(widget)


def stylesheet(palette: QPalette) -> str:
    """The shared stylesheet for a window, with colours from `palette`."""
    text = palette.color(QPalette.ColorRole.WindowText)
    accent = accent_color(palette)
    chip_bg = surface_color(palette)
    chip_hover = mix(chip_bg, accent, 0.18)
    values = {
        "muted": css(muted_color(palette)),
        "error": css(error_color(palette)),
        "warning": css(warning_color(palette)),
        "border": css(border_color(palette)),
        "surface": css(surface_color(palette)),
        "bubble": css(accent_surface(palette)),
        "chip_bg": css(chip_bg),
        "chip_hover": css(chip_hover),
        "chip_text": css(text),
        "accent": css(accent),
        "r": RADIUS,
    }
    return _SHEET.format(**values)


_SHEET = """
QLabel[role="muted"] {{ color: {muted}; }}
QLabel[role="error"] {{ color: {error}; }}
QLabel[role="warning"] {{ color: {warning}; }}
QLabel[role="title"] {{ font-weight: 600; }}
QFrame[role="card"] {{
    background: {surface}; border: 1px solid {border}; border-radius: {r}px;
}}
QFrame[role="bubble"] {{ background: {bubble}; border-radius: {r}px; }}
QFrame[role="header"] {{ border-bottom: 1px solid {border}; }}
QPushButton[role="chip"] {{
    background: {chip_bg}; color: {chip_text}; border: 1px solid {border};
    border-radius: 12px; padding: 3px 10px;
}}
QPushButton[role="chip"]:hover {{ background: {chip_hover}; }}
QPushButton[role="chip"]:focus {{ border: 1px solid {accent}; }}
QPushButton[role="chip"]:disabled {{ color: {muted}; }}
QToolButton[role="flat"], QPushButton[role="flat"] {{
    border: 1px solid transparent; border-radius: 4px; padding: 2px 6px; background: transparent;
}}
QToolButton[role="flat"]:hover, QPushButton[role="flat"]:hover {{
    border: 1px solid {border}; background: {chip_bg};
}}
QToolButton[role="flat"]:focus, QPushButton[role="flat"]:focus {{ border: 1px solid {accent}; }}
"""


def link_html(url: str, text: str, palette: QPalette) -> str:
    """A rich-text link readable on light and dark palettes (some dark themes keep a dark
    blue Link colour, so it is lifted towards the text colour there)."""
    color = palette.color(QPalette.ColorRole.Link)
    if is_dark(palette) and color.lightnessF() < 0.6:
        color = mix(color, palette.color(QPalette.ColorRole.WindowText), 0.45)
    return f"<a href='{escape(url)}' style='color: {css(color)}'>{escape(text)}</a>"
