"""Shared by the benchmark scripts: one JSON line of figures, and percentiles."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path


def emit(name: str, **figures: float | int | str) -> None:
    """Print exactly one JSON line `{"bench": name, ...}`; figure names end in their unit
    (_ms, _s, _mb, _bytes, _count)."""
    print(json.dumps({"bench": name, **figures}), flush=True)


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0-100) by linear interpolation between closest ranks."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@contextmanager
def server_database(data_dir: Path, *, postgres: bool) -> Iterator[str]:
    """The server's database URL: SQLite in ``data_dir``, or a throwaway database on the local
    PostgreSQL (127.0.0.1:5432, as scripts/setup --test leaves it), dropped afterwards."""
    if not postgres:
        from snapask_desktop.server.config import sqlite_url

        data_dir.mkdir(parents=True, exist_ok=True)
        yield sqlite_url(data_dir)
        return
    from tests.support.postgres import fresh_database  # the tests' own throwaway databases

    with fresh_database() as url:
        yield url
