"""The HAProxy configuration in front of several sync server instances (docs/server.md).

One function writes it, for the local cluster (server/cluster.py) and as the documented
production layout, so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backend:
    """One server instance behind the balancer."""

    name: str
    host: str
    port: int


def haproxy_config(
    bind: str, backends: Sequence[Backend], *, check_interval_ms: int = 1000, maxconn: int = 8000
) -> str:
    """HAProxy 2.6+ configuration text: HTTP mode, WebSocket-aware, health-checked instances."""
    if not backends:
        raise ValueError("at least one instance is needed")
    servers = "\n".join(f"    server {b.name} {b.host}:{b.port} check" for b in backends)
    return f"""\
# SnapAsk sync servers behind HAProxy (written by snapask_desktop/server/haproxy.py).
global
    # Two file descriptors a connection: raise with the open-files limit (ulimit -n).
    maxconn {maxconn}

defaults
    mode http
    timeout connect 5s
    # A sign-in or a WebSocket upgrade request must arrive within this.
    timeout http-request 10s
    timeout client 60s
    timeout server 60s
    # An upgraded WebSocket is a tunnel: devices and servers ping every 20 s, so an hour idle
    # only ends connections whose peer is gone.
    timeout tunnel 1h
    timeout client-fin 10s
    # The instances see the device's address in X-Forwarded-For.
    option forwardfor
    # A request that failed to connect to one instance is sent to another at once (every
    # retry redispatches: after a crash, hundreds of devices reconnect within a second).
    retries 2
    option redispatch 1

frontend sync
    bind {bind}
    # Metrics are scraped from each instance directly, never through the balancer.
    http-request deny deny_status 403 if {{ path_beg /metrics }}
    default_backend instances

backend instances
    # WebSockets live long: send a new one where the fewest are open.
    balance leastconn
    # /healthz answers 503 while an instance drains (SIGTERM) or misses a dependency: it gets
    # no new connections. Its open ones are left alone: a draining instance closes them itself,
    # and closing every session of an instance that is only slow to answer (a reconnect storm)
    # would push its devices onto the others and spread the overload.
    option httpchk GET /healthz
    http-check expect status 200
    timeout check 5s
    default-server inter {check_interval_ms} fall 2 rise 2
{servers}
"""
