"""Rendered screenshots whose text is known, for the OCR tests and bench/ocr.py."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont

LIGHT = ((255, 255, 255), (24, 24, 24))  # background, text
DARK = ((30, 31, 34), (212, 212, 212))  # a dark editor theme

CODE = [
    "def load_settings(path: Path) -> dict[str, str]:",
    "    with open(path, encoding='utf-8') as handle:",
    "        data = json.load(handle)",
    "    return {key: str(value) for key, value in data.items()}",
]
DIALOG = [
    "Save changes to the document before closing?",
    "Your changes will be lost if you don't save them.",
    "Cancel    Close without saving    Save",
]
WEB = [
    "Getting started with the command line",
    "Open a terminal and type the name of a program to run it.",
    "Most programs print a short summary of their options when",
    "given the help flag, and exit without changing anything.",
]
SMALL_UI = [
    "File  Edit  View  Selection  Go  Run  Terminal  Help",
    "Explorer: open editors, outline, timeline and problems",
    "Ln 42, Col 17   Spaces: 4   UTF-8   LF   Python 3.11",
]


@dataclass(frozen=True)
class Sample:
    """A picture and the text it shows, one string per line."""

    kind: str
    image: Image.Image
    lines: list[str]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def font(name: str, size: int) -> ImageFont.FreeTypeFont:
    """A DejaVu font (fonts-dejavu-core, which scripts/setup installs) at `size` px."""
    return ImageFont.truetype(f"DejaVu{name}.ttf", size)


def render(
    lines: list[str],
    face: ImageFont.FreeTypeFont,
    colours: tuple[tuple[int, int, int], tuple[int, int, int]] = LIGHT,
    *,
    margin: int = 12,
    spacing: float = 1.6,
) -> Image.Image:
    """Draw `lines` one under another on a plain background, as a UI would."""
    size = int(face.size)
    width = max(int(face.getlength(line)) for line in lines) + 2 * margin
    height = int(size * spacing * len(lines)) + 2 * margin
    image = Image.new("RGB", (width, height), colours[0])
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((margin, margin + i * size * spacing), line, font=face, fill=colours[1])
    return image


def samples() -> list[Sample]:
    """One of each kind the benchmark reports: code, a dialog, a web page, 9 px UI, dark mode."""
    return [
        Sample("code", render(CODE, font("SansMono", 13)), CODE),
        Sample("dialog", render(DIALOG, font("Sans", 13)), DIALOG),
        Sample("web", render(WEB, font("Serif", 16), spacing=1.8), WEB),
        Sample("small_ui_9px", render(SMALL_UI, font("Sans", 9)), SMALL_UI),
        Sample("dark_code", render(CODE, font("SansMono", 13), DARK), CODE),
    ]


def normalise(text: str) -> str:
    """Whitespace runs become one space: layout spacing is not what CER measures."""
    return " ".join(text.split())


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions of one character)."""
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b))
            )
        previous = current
    return previous[-1]


def cer(expected: str, got: str) -> float:
    """Character error rate of `got` against `expected`, after `normalise`."""
    want = normalise(expected)
    return edit_distance(want, normalise(got)) / max(1, len(want))


def word_match(expected: list[str], got: str) -> tuple[float, float]:
    """(recall, precision) of the words of `got` against `expected`, counted as multisets.

    For screens, where reading order across panes is a matter of layout rather than of
    reading: every expected word read exactly counts once, wherever it came.
    """
    want, have = Counter(expected), Counter(got.split())
    hits = sum((want & have).values())
    return hits / max(1, sum(want.values())), hits / max(1, sum(have.values()))
