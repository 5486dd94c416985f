"""Benchmark: bytes and time of preparing realistic full-HD and 4K screenshots for the AI.

Synthetic text-heavy desktop screenshots (tests/ai/screens.py) encoded as PNG, as captured,
then `prepare_image` (downscale to 1536 px, JPEG 4:4:4 q85). Run: ``python -m bench.image_prep``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `bench`, `tests` and the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import emit, percentile
from snapask_desktop.ai.image_prep import prepare_image
from tests.ai.screens import png_bytes, screenshot

RUNS = 15


def measure(png: bytes) -> tuple[int, int, int, list[float]]:
    """Prepare `png` RUNS times: (prepared bytes, width, height, times in ms)."""
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        prepared = prepare_image(png)
        times.append((time.perf_counter() - start) * 1000)
    return prepared.prepared_bytes_count, prepared.width, prepared.height, times


def main() -> None:
    figures: dict[str, float | int] = {"runs_count": RUNS}
    for label, width, height, scale in (("fhd", 1920, 1080, 1), ("uhd", 3840, 2160, 2)):
        png = png_bytes(screenshot(width, height, scale=scale))
        prepared, out_w, out_h, times = measure(png)
        figures[f"{label}_png_bytes"] = len(png)
        figures[f"{label}_prepared_bytes"] = prepared
        figures[f"{label}_saved_bytes"] = len(png) - prepared
        figures[f"{label}_prepared_width_count"] = out_w
        figures[f"{label}_prepared_height_count"] = out_h
        figures[f"{label}_prep_p50_ms"] = round(percentile(times, 50), 2)
        figures[f"{label}_prep_p95_ms"] = round(percentile(times, 95), 2)
    emit("image_prep", **figures)


if __name__ == "__main__":
    main()
