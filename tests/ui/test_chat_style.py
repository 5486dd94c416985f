"""The shared style helpers (ui/style.py) the chat, history and settings windows use."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QLabel

from snapask_desktop.ui import style


def palette(window: str, text: str) -> QPalette:
    result = QPalette()
    for role in (QPalette.ColorRole.Window, QPalette.ColorRole.Base):
        result.setColor(role, QColor(window))
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text):
        result.setColor(role, QColor(text))
    return result


def test_colours_follow_light_and_dark_palettes(qapp) -> None:
    light, dark = palette("#f0f0f0", "#101010"), palette("#202020", "#eeeeee")
    assert not style.is_dark(light) and style.is_dark(dark)
    assert style.mix(QColor("#000000"), QColor("#ffffff"), 0.5).name() in ("#7f7f7f", "#808080")
    assert style.mix(QColor("#102030"), QColor("#ffffff"), -1).name() == "#102030"
    for pal in (light, dark):
        window = pal.color(QPalette.ColorRole.Window).lightnessF()
        muted = style.muted_color(pal).lightnessF()
        text = pal.color(QPalette.ColorRole.WindowText).lightnessF()
        assert min(window, text) < muted < max(window, text)  # between text and background
    assert style.error_color(light) != style.error_color(dark)


def test_css_and_stylesheet(qapp) -> None:
    assert style.css(QColor("#336699")) == "#336699"
    assert style.css(QColor(1, 2, 3, 128)) == "rgba(1, 2, 3, 128)"
    sheet = style.stylesheet(palette("#202020", "#eeeeee"))
    assert 'QPushButton[role="chip"]' in sheet and "{" in sheet
    assert style.css(style.error_color(palette("#202020", "#eeeeee"))) in sheet


def test_set_role(qtbot) -> None:
    label = QLabel("x")
    qtbot.addWidget(label)
    style.set_role(label, "muted")
    assert label.property(style.ROLE_PROPERTY) == "muted"
    with pytest.raises(ValueError, match="unknown style role"):
        style.set_role(label, "sparkly")
