"""The security probe's sign-in attacks against the real server (issue 17, items 3-5).

Requests come from several loopback addresses (127.0.0.0/8 all reach the server) so that
per-address limits can be exercised.
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import re
import threading
from pathlib import Path
from typing import Any

import pytest

from snapask_desktop.server.config import SignInLimits
from snapask_desktop.server.testing import RunningServer, running_server
from snapask_desktop.sync.device import account
from tests.server.conftest import PASSWORD
from tests.server.helpers import new_id


def _sign_in_from(srv: RunningServer, address: str, user: str, password: str) -> tuple[int, Any]:
    """POST /v1/devices from a given loopback source address; (status, body, headers)."""
    body = json.dumps({"user": user, "password": password, "device_id": new_id(),
                       "device_name": "probe"})  # fmt: skip
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30,
                                      source_address=(address, 0))  # fmt: skip
    try:
        conn.request("POST", "/v1/devices", body, {"Content-Type": "application/json"})
        reply = conn.getresponse()
        data = reply.read()
        parsed = json.loads(data) if data else None
        if parsed is not None and reply.getheader("Retry-After"):
            parsed["retry_after"] = int(reply.getheader("Retry-After", "0"))
        return reply.status, parsed
    finally:
        conn.close()


def test_junk_from_one_address_cannot_flush_a_drained_name(tmp_path: Path) -> None:
    limits = dataclasses.replace(SignInLimits(), per_address_burst=5, per_address_per_s=0.01,
                                 per_name_burst=3, per_name_per_s=0.01, max_tracked=50)  # fmt: skip
    with running_server(tmp_path / "s", sign_in=limits) as srv:
        srv.add_user("bob", PASSWORD)
        answers = [_sign_in_from(srv, "127.0.0.1", "bob", "guess")[0] for _ in range(3)]
        assert answers == [401, 401, 401]
        assert _sign_in_from(srv, "127.0.0.2", "bob", "guess")[0] == 429  # bob is drained
        # 100 junk names from one address: two pass, the rest are refused by the address.
        junk = [_sign_in_from(srv, "127.0.0.1", f"junk{i}", "x")[0] for i in range(100)]
        assert junk.count(401) == 2 and junk.count(429) == 98
        status, body = _sign_in_from(srv, "127.0.0.3", "bob", PASSWORD)
        assert status == 429 and body["error"] == "rate_limited"
        assert "retry in" in body["message"] and body["retry_after"] >= 1


def test_junk_from_many_addresses_cannot_flush_a_drained_name(tmp_path: Path) -> None:
    limits = dataclasses.replace(SignInLimits(), per_name_burst=3, per_name_per_s=0.01,
                                 max_tracked=20)  # fmt: skip
    with running_server(tmp_path / "s", sign_in=limits) as srv:
        srv.add_user("bob", PASSWORD)
        for i in range(3):
            assert _sign_in_from(srv, f"127.0.1.{i + 1}", "bob", "guess")[0] == 401
        # 40 addresses, one junk name each: the tables fill up; newcomers are told to wait.
        junk = [_sign_in_from(srv, f"127.0.2.{i + 1}", f"junk{i}", "x") for i in range(40)]
        statuses = [status for status, _ in junk]
        assert statuses.count(401) >= 10 and statuses.count(429) >= 10
        busy = next(body for status, body in junk if status == 429)
        assert "too many recent sign-in attempts on this server" in busy["message"]
        status, body = _sign_in_from(srv, "127.0.3.1", "bob", PASSWORD)
        assert status == 429 and "too many sign-in attempts;" in body["message"]


def test_guessing_from_elsewhere_does_not_lock_the_user_out_at_home(tmp_path: Path) -> None:
    limits = dataclasses.replace(SignInLimits(), per_name_burst=4, per_name_per_s=0.01)
    with running_server(tmp_path / "s", sign_in=limits) as srv:
        srv.add_user("bob", PASSWORD)
        assert _sign_in_from(srv, "127.0.0.1", "bob", PASSWORD)[0] == 201  # home, known now
        guesses = [_sign_in_from(srv, f"127.0.4.{i % 3 + 1}", "bob", "guess")[0]
                   for i in range(8)]  # fmt: skip
        assert guesses.count(429) >= 4  # the name is drained for everyone else
        assert _sign_in_from(srv, "127.0.5.1", "bob", PASSWORD)[0] == 429
        assert _sign_in_from(srv, "127.0.0.1", "bob", PASSWORD)[0] == 201  # but not at home


def test_a_flood_of_sign_ins_is_answered_503_beyond_the_pending_cap(tmp_path: Path) -> None:
    limits = dataclasses.replace(SignInLimits(), max_pending=2)
    with running_server(tmp_path / "s", sign_in=limits) as srv:
        srv.add_user("bob", PASSWORD)
        results: list[tuple[int, Any]] = []
        lock = threading.Lock()

        def attempt(i: int) -> None:
            result = _sign_in_from(srv, f"127.0.6.{i + 1}", f"user{i}", "guess")
            with lock:
                results.append(result)

        threads = [threading.Thread(target=attempt, args=(i,)) for i in range(24)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        statuses = sorted(status for status, _ in results)
        assert len(statuses) == 24 and set(statuses) <= {401, 503}
        assert statuses.count(503) >= 1, statuses
        busy = next(body for status, body in results if status == 503)
        assert busy["error"] == "busy" and busy["retry_after"] == 1
        assert _sign_in_from(srv, "127.0.0.1", "bob", PASSWORD)[0] == 201


def test_the_app_says_when_to_try_again(tmp_path: Path) -> None:
    limits = dataclasses.replace(SignInLimits(), per_name_burst=1, per_name_per_s=0.05)
    with running_server(tmp_path / "s", sign_in=limits) as srv:
        srv.add_user("bob", PASSWORD)
        assert _sign_in_from(srv, "127.0.0.2", "bob", "guess")[0] == 401
        with pytest.raises(account.SignInError) as refused:
            account.sign_in(srv.url, "bob", PASSWORD, device_id=new_id(), device_name="laptop")
        found = re.fullmatch(
            r"Too many sign-in attempts; try again in (\d+) s\.", str(refused.value)
        )
        assert found is not None and 10 <= int(found[1]) <= 20, str(refused.value)
