"""Terminal output helpers: errors to stderr, times and ids in a compact form."""

from __future__ import annotations

import sys
import time

SHORT_ID = 8


def error(message: str) -> None:
    """Print an error for the user on stderr."""
    print(f"snapask: {message}", file=sys.stderr)


def note(message: str) -> None:
    """Print a side note (progress, warnings) on stderr, keeping stdout for results."""
    print(message, file=sys.stderr)


def short_id(record_id: str) -> str:
    return record_id[:SHORT_ID]


def local_time(unix_ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(unix_ms / 1000))


def one_line(text: str, width: int) -> str:
    """Collapse white space and cut to width with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"
