"""Benchmark: local OCR (Tesseract through tesserocr) accuracy and time, and redaction's time.

Character error rate per sample kind (tests/ocr/samples.py: code, a dialog, a web page, 9 px UI
text, dark mode; rendered, so the text is known), and the time to read regions of a realistic
desktop screenshot (tests/ai/screens.py) and the whole 1920x1080 screen, plus the time to
redact (two readings and the painting). Run: ``python bench/ocr.py [--runs N]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `bench`, `tests` and the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


from bench._common import emit, percentile
from snapask_desktop.ocr import recognise
from snapask_desktop.redact.guard import guard_picture
from snapask_desktop.redact.paint import png_bytes
from tests.ai.screens import screenshot
from tests.ocr.samples import cer, samples

REGIONS = ((400, 300), (800, 600), (1280, 720))


def timed(work: Callable[[], object], runs: int) -> list[float]:
    """Milliseconds of each of `runs` calls, after one untimed call (the model's first load)."""
    work()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    figures: dict[str, float | int] = {"runs_count": args.runs}
    for sample in samples():
        got = recognise(sample.image).text
        figures[f"cer_{sample.kind}_pct"] = round(100 * cer(sample.text, got), 2)
    screen = screenshot(1920, 1080)
    # Regions from the top left: title bar, file list and code, as a user would drag them.
    for width, height in REGIONS:
        region = screen.crop((0, 0, width, height))
        times = timed(lambda region=region: recognise(region), args.runs)
        figures[f"region_{width}x{height}_p50_ms"] = round(percentile(times, 50), 1)
    times = timed(lambda: recognise(screen), args.runs)
    figures["screen_1920x1080_p50_ms"] = round(percentile(times, 50), 1)
    figures["screen_1920x1080_max_ms"] = round(max(times), 1)
    figures["screen_words_count"] = len(recognise(screen).words)
    for label, picture in (("800x600", screen.crop((0, 0, 800, 600))), ("1920x1080", screen)):
        data = png_bytes(picture)
        times = timed(lambda data=data: guard_picture(data, redact=True), args.runs)
        figures[f"redact_{label}_p50_ms"] = round(percentile(times, 50), 1)
    emit("ocr", **figures)


if __name__ == "__main__":
    main()
