"""The sync status texts the tray and the CLI show."""

from __future__ import annotations

import pytest

from snapask_desktop.sync.device.account import normal_server_url, token_account, websocket_url
from snapask_desktop.sync.device.status import SyncState, SyncStatus, ago, summary

NOW = 1_795_000_000_000


@pytest.mark.parametrize(
    ("then", "text"),
    [
        (None, "never"),
        (NOW, "just now"),
        (NOW + 5_000, "just now"),  # a clock step backwards is not "in the future"
        (NOW - 3_000, "3 s ago"),
        (NOW - 59_999, "59 s ago"),
        (NOW - 60_000, "1 min ago"),
        (NOW - 7_200_000, "2 h ago"),
        (NOW - 86_400_000, "1 day ago"),
        (NOW - 5 * 86_400_000, "5 days ago"),
    ],
)
def test_ago(then: int | None, text: str) -> None:
    assert ago(then, NOW) == text


def test_summary_says_state_pending_and_last_sync() -> None:
    off = SyncStatus()
    assert summary(off, NOW) == "Sync: off"
    live = SyncStatus(SyncState.UP_TO_DATE, "Up to date", pending=0, last_synced_ms=NOW - 3000)
    assert summary(live, NOW) == "Sync: up to date, last synced 3 s ago"
    # the client's real sentence stays on the Sync page: the menu line is short, no ".,"
    offline = live.with_(
        state=SyncState.OFFLINE,
        message="Offline: the sync server cannot be reached; retrying.",
        pending=2,
    )
    assert summary(offline, NOW) == "Sync: offline, 2 changes to send, last synced 3 s ago"
    busy = live.with_(state=SyncState.SYNCING, message="Syncing…", pending=1)
    assert summary(busy, NOW) == "Sync: syncing…, 1 change to send"
    problem = live.with_(state=SyncState.PROBLEM, message="This device was signed out. Sign in.")
    assert summary(problem, NOW) == "Sync: needs attention, last synced 3 s ago"
    for state in SyncState:  # every state has its short word, none with a sentence's stop
        line = summary(live.with_(state=state, message="A sentence."), NOW)
        assert "." not in line and len(line) <= 60


def test_server_urls_are_normalised() -> None:
    assert normal_server_url(" HTTP://Example.ORG:8765/ ") == "http://example.org:8765"
    assert websocket_url("http://127.0.0.1:8765") == "ws://127.0.0.1:8765/v1/sync"
    assert websocket_url("https://sync.example.org/snapask/") == (
        "wss://sync.example.org/snapask/v1/sync"
    )
    # The keyring account does not depend on how the user typed the address.
    assert token_account("http://a:1/") == token_account("HTTP://A:1")
    for bad in ("ftp://x", "127.0.0.1:8765", "", "http://"):
        with pytest.raises(ValueError, match="server address"):
            normal_server_url(bad)


@pytest.mark.parametrize(
    ("url", "compression"),
    [
        ("ws://127.0.0.1:8765/v1/sync", None),
        ("ws://localhost:8765/v1/sync", None),
        ("ws://192.168.1.5:8765/v1/sync", None),
        ("ws://10.0.0.2/v1/sync", None),
        ("ws://[::1]:8765/v1/sync", None),
        ("ws://nas.local:8765/v1/sync", None),
        ("wss://sync.example.org/v1/sync", "deflate"),
        ("ws://93.184.216.34:8765/v1/sync", "deflate"),
    ],
)
def test_frames_are_compressed_only_for_servers_beyond_the_lan(
    url: str, compression: str | None
) -> None:
    from snapask_desktop.sync.device.connection import compression_for

    assert compression_for(url) == compression
