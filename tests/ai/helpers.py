"""Helpers shared by the AI tests: requests, draining async streams, recorded sleeps."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from snapask_desktop.ai.types import AskRequest, Turn

MODEL = "gemini-2.5-flash"
KEY = "test-key"


@dataclass
class Sleeps:
    """Records the waits the retry logic asked for, without waiting."""

    waits: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        await asyncio.sleep(0)


def ask(text: str = "What is on the screen?", model: str = MODEL) -> AskRequest:
    """A one-question request."""
    return AskRequest(model=model, turns=(Turn("user", text),))


def drain(stream: AsyncIterator[str]) -> list[str]:
    """Run an async chunk stream to the end in a fresh loop and return the chunks."""

    async def collect() -> list[str]:
        return [chunk async for chunk in stream]

    return asyncio.run(collect())


def drain_until_error(stream: AsyncIterator[str]) -> tuple[list[str], BaseException | None]:
    """Like drain, but return the chunks received before the error too."""
    chunks: list[str] = []

    async def collect() -> None:
        async for chunk in stream:
            chunks.append(chunk)

    try:
        asyncio.run(collect())
    except Exception as exc:
        return chunks, exc
    return chunks, None
