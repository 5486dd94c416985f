"""Local text recognition (Tesseract): what a picture says, word by word, without a network."""

from snapask_desktop.ocr.engine import OcrError, OcrUnavailable
from snapask_desktop.ocr.recognise import recognise
from snapask_desktop.ocr.result import OcrResult, Word

__all__ = ["OcrError", "OcrResult", "OcrUnavailable", "Word", "recognise"]
