"""What the sync client tells the user: its state and plain-language texts (pure)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace


class SyncState(enum.Enum):
    """The client's state, as the tray icon and the Settings page show it."""

    OFF = "off"  # no server set up, or signed out
    CONNECTING = "connecting"
    SYNCING = "syncing"  # connected, pushing or pulling
    UP_TO_DATE = "up_to_date"  # connected, nothing left to send or fetch, live
    OFFLINE = "offline"  # the server cannot be reached; retrying with backoff
    PROBLEM = "problem"  # needs the user: sign in again, update the app, fix the clock


@dataclass(frozen=True, slots=True)
class SyncStatus:
    """One snapshot of the client: state, a sentence for the user, and the counters."""

    state: SyncState = SyncState.OFF
    message: str = "Sync is off"
    pending: int = 0  # local changes not yet acknowledged by the server
    cursor: int = 0
    last_synced_ms: int | None = None  # the last time the device was up to date
    retry_in_ms: int | None = None  # when OFFLINE/PROBLEM retries automatically
    problems: int = 0  # rejected changes the user has not dismissed yet
    encrypted: bool = False  # the account is end-to-end encrypted (section 12)
    # PROBLEM because this device lacks the encrypted account's keys, or the passphrase was
    # changed elsewhere: ask for the sync passphrase (SyncRunner.unlock), then sync goes on.
    locked: bool = False

    def with_(self, **changes: object) -> SyncStatus:
        """A copy with some fields changed."""
        return replace(self, **changes)  # type: ignore[arg-type]


def ago(then_ms: int | None, now_ms: int) -> str:
    """'just now', '3 s ago', '5 min ago', '2 h ago', '4 days ago' — or 'never'."""
    if then_ms is None:
        return "never"
    seconds = max(0, now_ms - then_ms) // 1000
    if seconds < 1:
        return "just now"
    if seconds < 60:
        return f"{seconds} s ago"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86_400:
        return f"{seconds // 3600} h ago"
    days = seconds // 86_400
    return f"{days} day ago" if days == 1 else f"{days} days ago"


# The menu line names the state in a word or two: the full sentence ("Offline: the sync server
# cannot be reached; retrying.") is the Sync page's and would make the tray menu very wide.
SHORT_STATES = {
    SyncState.OFF: "off",
    SyncState.CONNECTING: "connecting…",
    SyncState.SYNCING: "syncing…",
    SyncState.UP_TO_DATE: "up to date",
    SyncState.OFFLINE: "offline",
    SyncState.PROBLEM: "needs attention",
}


def summary(status: SyncStatus, now_ms: int) -> str:
    """The one short line for the tray menu, e.g. 'Sync: up to date, last synced 3 s ago'."""
    if status.state is SyncState.OFF:
        return "Sync: off"
    parts = [SHORT_STATES[status.state]]
    if status.pending:
        parts.append(f"{status.pending} change{'s' if status.pending != 1 else ''} to send")
    if status.state not in (SyncState.SYNCING, SyncState.CONNECTING):
        parts.append(f"last synced {ago(status.last_synced_ms, now_ms)}")
    return "Sync: " + ", ".join(parts)
