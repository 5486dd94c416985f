"""Shared by the benchmark scripts: one JSON line of figures, and percentiles."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence


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
