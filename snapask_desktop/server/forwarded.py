"""The client's address behind a reverse proxy (pure).

Behind HAProxy every connection comes from the proxy; the client's own address is the last
entry of ``X-Forwarded-For`` that no trusted proxy added. Only peers in the configured trusted
networks are believed: anyone else could write the header themselves to dodge the per-address
sign-in limits or reach the loopback-only ``/metrics``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def trusted_networks(values: Sequence[str]) -> tuple[Network, ...]:
    """Parse ``--trusted-proxy`` values (an address or a CIDR network); ValueError if bad."""
    return tuple(ipaddress.ip_network(value.strip(), strict=False) for value in values)


def client_address(peer: str, forwarded_for: str | None, trusted: Sequence[Network]) -> str:
    """The address to limit and log: ``peer``, or the client a trusted proxy forwarded for."""
    if not forwarded_for or not _trusted(peer, trusted):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, trusted):
            return hop if _is_address(hop) else peer
    return hops[0] if hops and _is_address(hops[0]) else peer


def _trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address.removeprefix("::ffff:"))
    except ValueError:
        return False
    return any(ip in network for network in trusted)


def _is_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True
