"""The client's address behind a trusted reverse proxy (X-Forwarded-For)."""

from __future__ import annotations

import dataclasses
import json
import urllib.error
import urllib.request
from pathlib import Path

from snapask_desktop.server.config import SignInLimits
from snapask_desktop.server.forwarded import client_address, trusted_networks
from snapask_desktop.server.testing import RunningServer, running_server
from tests.server.conftest import PASSWORD
from tests.server.helpers import new_id

PROXY = trusted_networks(["127.0.0.1", "10.0.0.0/8"])


def test_only_a_trusted_proxy_is_believed() -> None:
    assert client_address("127.0.0.1", "203.0.113.9", PROXY) == "203.0.113.9"
    assert client_address("198.51.100.1", "203.0.113.9", PROXY) == "198.51.100.1"  # not a proxy
    assert client_address("127.0.0.1", None, PROXY) == "127.0.0.1"
    # The last hop no trusted proxy added: a client cannot hide behind a header it wrote.
    assert client_address("127.0.0.1", "1.2.3.4, 203.0.113.9, 10.1.1.1", PROXY) == "203.0.113.9"
    assert client_address("127.0.0.1", "10.1.1.2, 10.1.1.1", PROXY) == "10.1.1.2"
    assert client_address("127.0.0.1", "not-an-address", PROXY) == "127.0.0.1"
    assert client_address("::ffff:127.0.0.1", "203.0.113.9", PROXY) == "203.0.113.9"


def _request(srv: RunningServer, path: str, forwarded: str, body: object = None) -> int:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(srv.url + path, data=data,
                                     method="GET" if body is None else "POST")  # fmt: skip
    request.add_header("X-Forwarded-For", forwarded)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return int(reply.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def _sign_in(srv: RunningServer, forwarded: str) -> int:
    body = {"user": "ada", "password": "wrong", "device_id": new_id(), "device_name": "x"}
    return _request(srv, "/v1/devices", forwarded, body)


def test_behind_a_trusted_proxy_limits_and_metrics_see_the_client(tmp_path: Path) -> None:
    limits = dataclasses.replace(SignInLimits(), per_address_burst=1, per_address_per_s=0.01)
    with running_server(tmp_path / "s", sign_in=limits, trusted_proxies=("127.0.0.1",)) as srv:
        srv.add_user("ada", PASSWORD)
        assert _sign_in(srv, "203.0.113.1") == 401
        assert _sign_in(srv, "203.0.113.2") == 401  # another client: its own bucket
        assert _sign_in(srv, "203.0.113.1") == 429
        assert _request(srv, "/metrics", "203.0.113.1") == 403  # a remote client, not loopback
        assert _request(srv, "/metrics", "127.0.0.1") == 200


def test_without_a_trusted_proxy_the_header_is_ignored(tmp_path: Path) -> None:
    limits = dataclasses.replace(SignInLimits(), per_address_burst=1, per_address_per_s=0.01)
    with running_server(tmp_path / "s", sign_in=limits) as srv:
        srv.add_user("ada", PASSWORD)
        assert _sign_in(srv, "203.0.113.1") == 401
        assert _sign_in(srv, "203.0.113.2") == 429  # one address (the peer) whatever it says
        assert _request(srv, "/metrics", "203.0.113.1") == 200
