"""What recognition returns: words with their boxes in the picture's own pixels."""

from __future__ import annotations

from dataclasses import dataclass

Box = tuple[int, int, int, int]  # left, top, right, bottom (right and bottom exclusive)


@dataclass(frozen=True, slots=True)
class Word:
    """One recognised word, its box in the original picture and Tesseract's confidence (0-100)."""

    text: str
    box: Box
    confidence: float
    line: int  # index of its text line in reading order
    block: int  # index of its text block; a new block starts a new paragraph


@dataclass(frozen=True, slots=True)
class OcrResult:
    """The words of one picture in reading order, and the picture's size."""

    words: tuple[Word, ...]
    width: int
    height: int

    @property
    def text(self) -> str:
        """Words joined by spaces, lines by newlines, blocks by a blank line."""
        out: list[str] = []
        previous: Word | None = None
        for word in self.words:
            if previous is not None:
                if word.block != previous.block:
                    out.append("\n\n")
                elif word.line != previous.line:
                    out.append("\n")
                else:
                    out.append(" ")
            out.append(word.text)
            previous = word
        return "".join(out)

    def to_json(self) -> dict[str, object]:
        """A plain mapping for `snapask ocr --json`."""
        return {
            "width": self.width,
            "height": self.height,
            "text": self.text,
            "words": [
                {
                    "text": w.text,
                    "box": list(w.box),
                    "confidence": round(w.confidence, 1),
                    "line": w.line,
                    "block": w.block,
                }
                for w in self.words
            ],
        }
