"""Prometheus metrics of one server (its own CollectorRegistry, so servers never share)."""

from __future__ import annotations

import time
from collections import deque

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST
_RATE_WINDOW_S = 10.0


class Metrics:
    """Every metric the server exports on ``GET /metrics``."""

    def __init__(self, instance: str = "") -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        # Which instance this is (several behind a load balancer are scraped one by one).
        Gauge("snapask_instance", "This server instance", ["instance"], registry=r).labels(
            instance or "default"
        ).set(1)
        self.connections = Gauge(
            "snapask_connections", "Open sync WebSocket connections", registry=r
        )
        self.connections_total = Counter(
            "snapask_connections_opened", "Sync WebSocket connections accepted", registry=r
        )
        self.ops = Counter("snapask_ops", "Pushed ops by outcome", ["status"], registry=r)
        self.ops_rate = Gauge(
            "snapask_ops_applied_per_second",
            f"Ops applied per second over the last {_RATE_WINDOW_S:.0f} s",
            registry=r,
        )
        self.ops_rate.set_function(self._rate)
        self.fanout_latency = Histogram(
            "snapask_fanout_latency_seconds",
            "From a push's commit to its live frame written to a connection",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=r,
        )
        self.errors = Counter(
            "snapask_errors", "Error frames and rejected ops by code", ["code"], registry=r
        )
        self.frames_in = Counter(
            "snapask_frames_received", "Frames received by type", ["type"], registry=r
        )
        self.frames_out = Counter("snapask_frames_sent", "Frames sent", registry=r)
        self.http_requests = Counter(
            "snapask_http_requests",
            "Plain HTTP requests by route and status",
            ["route", "status"],
            registry=r,
        )
        self.pull_seconds = Histogram(
            "snapask_pull_page_seconds",
            "Time to read and encode one pull page",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1),
            registry=r,
        )
        self.pull_read_ahead = Counter(
            "snapask_pull_pages_read_ahead",
            "Pull pages served from a read made before the device asked for them",
            registry=r,
        )
        self._applied: deque[tuple[float, int]] = deque()

    def applied(self, count: int) -> None:
        """Count ``count`` applied ops (for the total and the rate)."""
        if count:
            self.ops.labels("applied").inc(count)
            now = time.monotonic()
            self._applied.append((now, count))
            self._trim(now)

    def _trim(self, now: float) -> None:
        while self._applied and self._applied[0][0] < now - _RATE_WINDOW_S:
            self._applied.popleft()

    def _rate(self) -> float:
        self._trim(time.monotonic())
        return sum(n for _, n in self._applied) / _RATE_WINDOW_S

    def render(self) -> bytes:
        """The Prometheus text exposition."""
        return generate_latest(self.registry)
