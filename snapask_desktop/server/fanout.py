"""Live fanout of committed changes to a user's connections, behind a small interface.

The in-process implementation delivers synchronously to local subscribers; a Redis pub/sub
implementation for several server instances can implement the same Protocol later (its
frames may arrive late, twice or out of order: the device's cursor rule absorbs that).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Protocol


class Subscriber(Protocol):
    """A connection that wants a user's live ``changes`` frames."""

    def deliver(self, frame: str, committed_at: float) -> None:
        """Queue ``frame`` for sending (must not block)."""


class Fanout(Protocol):
    """Where committed changes are published and live connections subscribe."""

    async def publish(self, user_id: int, frame: str, committed_at: float) -> None:
        """Send a ``changes`` frame to every subscriber of the user."""

    def subscribe(self, user_id: int, subscriber: Subscriber) -> None:
        """Start delivering the user's frames to ``subscriber``."""

    def unsubscribe(self, user_id: int, subscriber: Subscriber) -> None:
        """Stop delivering (unknown subscribers are ignored)."""


class InProcessFanout:
    """Fanout within one server process (the default)."""

    def __init__(self) -> None:
        self._subscribers: dict[int, set[Subscriber]] = defaultdict(set)

    async def publish(self, user_id: int, frame: str, committed_at: float) -> None:
        # No await inside: frames reach every queue in the order commits were published.
        for subscriber in tuple(self._subscribers.get(user_id, ())):
            subscriber.deliver(frame, committed_at)

    def subscribe(self, user_id: int, subscriber: Subscriber) -> None:
        self._subscribers[user_id].add(subscriber)

    def unsubscribe(self, user_id: int, subscriber: Subscriber) -> None:
        subscribers = self._subscribers.get(user_id)
        if subscribers is not None:
            subscribers.discard(subscriber)
            if not subscribers:
                del self._subscribers[user_id]
