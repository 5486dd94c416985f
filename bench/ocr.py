"""Benchmark: local OCR (Tesseract through tesserocr) accuracy and time, and redaction's time.

Character error rate per sample kind (tests/ocr/samples.py: code, a dialog, a web page, 9 px UI
text, dark mode; rendered, so the text is known), and the time to read regions of a realistic
desktop screenshot (tests/ai/screens.py) and the whole 1920x1080 screen, plus the time to
redact (two readings and the painting). Each read also gives its CPU time (all threads of the
process: on a machine others load, the figure that moves least), its critical path (what the
wall time becomes when each thread has a core of its own: the larger of the calling thread's
CPU time and the pool thread's plus the cut made before it starts) and, for the screen, how
many of the words drawn were read exactly (recall) and how many words read were drawn
(precision). The load average is printed before and after.
Run: ``python bench/ocr.py [--runs N] [--no-redact] [--threads N]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `bench`, `tests` and the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


from PIL import Image

from bench._common import emit, percentile
from snapask_desktop.ocr import recognise, split
from snapask_desktop.ocr.prepare import ink, page
from snapask_desktop.ocr.recognise import PIECES_PER_WORKER, workers
from snapask_desktop.redact.guard import guard_picture
from snapask_desktop.redact.paint import png_bytes
from tests.ai.screens import Drawn, screenshot
from tests.ocr.samples import cer, samples, word_match

REGIONS = ((400, 300), (800, 600), (1280, 720))


def timed(
    work: Callable[[], object],
    runs: int,
    cpu: list[float] | None = None,
    threads: list[tuple[float, float]] | None = None,
) -> list[float]:
    """Milliseconds of each of `runs` calls, after one untimed call (the model's first load);
    `cpu`, when given, receives each call's CPU milliseconds (the process's, all threads), and
    `threads` the calling thread's and the OCR pool threads' CPU milliseconds."""
    work()
    times = []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        start_here, start_pool = time.thread_time(), pool_cpu()
        work()
        times.append((time.perf_counter() - start) * 1000)
        if cpu is not None:
            cpu.append((time.process_time() - start_cpu) * 1000)
        if threads is not None:
            here = (time.thread_time() - start_here) * 1000
            threads.append((here, (pool_cpu() - start_pool) * 1000))
    return times


def pool_cpu() -> float:
    """CPU seconds of the OCR pool's threads so far (ocr/recognise.py)."""
    return sum(
        time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
        for thread in threading.enumerate()
        if thread.name.startswith("snapask-ocr-piece") and thread.ident is not None
    )


def cut_ms(picture: Image.Image, runs: int) -> float:
    """Median CPU milliseconds of the cut made before the pool starts (grey, ink map, pieces)."""
    times = []
    for _ in range(max(1, runs)):
        start = time.thread_time()
        split.pieces(split.blocks(ink(page(picture))), workers() * PIECES_PER_WORKER)
        times.append((time.thread_time() - start) * 1000)
    return percentile(times, 50)


def drawn_words(drawn: Drawn, area: tuple[int, int, int, int]) -> list[str]:
    """The words of every text drawn wholly inside `area` (left, top, right, bottom)."""
    left, top, right, bottom = area
    return [
        word
        for text, (x0, y0, x1, y1) in drawn
        if x0 >= left and y0 >= top and x1 <= right and y1 <= bottom
        for word in text.split()
    ]


def load() -> float:
    """The 1-minute load average (other work on the machine), or -1 where there is none."""
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else -1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-redact", action="store_true", help="only read (a shorter run)")
    parser.add_argument("--threads", type=int, default=None, help="threads a read may use")
    args = parser.parse_args()
    figures: dict[str, float | int] = {
        "runs_count": args.runs,
        "threads_count": workers() if args.threads is None else args.threads,
        "load_average_1m": load(),
    }
    for sample in samples():
        got = recognise(sample.image).text
        figures[f"cer_{sample.kind}_pct"] = round(100 * cer(sample.text, got), 2)
    drawn: Drawn = []
    screen = screenshot(1920, 1080, drawn=drawn)
    # Regions from the top left: title bar, file list and code, as a user would drag them.
    for width, height in (*REGIONS, (1920, 1080)):
        region = screen.crop((0, 0, width, height))
        name = f"region_{width}x{height}" if (width, height) in REGIONS else "screen_1920x1080"
        cpu: list[float] = []
        split_cpu: list[tuple[float, float]] = []
        times = timed(
            lambda region=region: recognise(region, threads=args.threads),
            args.runs,
            cpu,
            split_cpu,
        )
        figures[f"{name}_p50_ms"] = round(percentile(times, 50), 1)
        figures[f"{name}_cpu_p50_ms"] = round(percentile(cpu, 50), 1)
        before = cut_ms(region, args.runs) if any(pool for _, pool in split_cpu) else 0.0
        critical = [max(here, before + pool) for here, pool in split_cpu]
        figures[f"{name}_critical_p50_ms"] = round(percentile(critical, 50), 1)
        if width >= 800:
            recall, precision = word_match(
                drawn_words(drawn, (0, 0, width, height)),
                recognise(region, threads=args.threads).text,
            )
            figures[f"{name}_word_recall_pct"] = round(100 * recall, 1)
            figures[f"{name}_word_precision_pct"] = round(100 * precision, 1)
    figures["screen_1920x1080_max_ms"] = round(max(times), 1)
    figures["screen_words_count"] = len(recognise(screen).words)
    redacted = (
        ()
        if args.no_redact
        else (("800x600", screen.crop((0, 0, 800, 600))), ("1920x1080", screen))
    )
    for label, picture in redacted:
        data = png_bytes(picture)
        times = timed(lambda data=data: guard_picture(data, redact=True), args.runs)
        figures[f"redact_{label}_p50_ms"] = round(percentile(times, 50), 1)
    figures["load_average_1m_after"] = load()
    emit("ocr", **figures)


if __name__ == "__main__":
    main()
