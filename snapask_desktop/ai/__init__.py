"""The AI layer: providers (Gemini, OpenAI-compatible), image preparation, answer cache,
retries and circuit breaker, composed by AIClient.

Typical use (a thread such as the CLI or a Qt worker):

    client = AIClient(build_provider("gemini", api_key=key), cache=AnswerCache(path))
    stream = client.ask(AskRequest(model, (Turn("user", "What is this?", image),)))
    for chunk in stream:      # raises AIError(...) unless the answer completed
        print(chunk, end="")
"""

from typing import TYPE_CHECKING, Any

# Where each public name lives. They are imported on first use: the submodules bring asyncio,
# httpx, Pillow, tenacity and pybreaker, which an idle tray app (that only needs the error
# types) does without.
_EXPORTS = {
    "AnswerStream": "answer_stream",
    "Outcome": "answer_stream",
    "StreamStatus": "answer_stream",
    "CACHE_FILENAME": "cache",
    "AnswerCache": "cache",
    "CacheStats": "cache",
    "PROVIDERS": "registry",
    "AIClient": "client",
    "build_provider": "client",
    "PreparedImage": "image_prep",
    "check_image": "image_prep",
    "load_image_file": "image_prep",
    "prepare_image": "image_prep",
    "Provider": "provider",
    "BreakerPolicy": "resilience",
    "RetryPolicy": "resilience",
    "AIError": "types",
    "AskRequest": "types",
    "ErrorKind": "types",
    "ImageInput": "types",
    "Turn": "types",
}

if TYPE_CHECKING:
    from snapask_desktop.ai.answer_stream import AnswerStream, Outcome, StreamStatus
    from snapask_desktop.ai.cache import CACHE_FILENAME, AnswerCache, CacheStats
    from snapask_desktop.ai.client import AIClient, build_provider
    from snapask_desktop.ai.image_prep import (
        PreparedImage,
        check_image,
        load_image_file,
        prepare_image,
    )
    from snapask_desktop.ai.provider import Provider
    from snapask_desktop.ai.registry import PROVIDERS
    from snapask_desktop.ai.resilience import BreakerPolicy, RetryPolicy
    from snapask_desktop.ai.types import AIError, AskRequest, ErrorKind, ImageInput, Turn

__all__ = [
    "CACHE_FILENAME",
    "PROVIDERS",
    "AIClient",
    "AIError",
    "AnswerCache",
    "AnswerStream",
    "AskRequest",
    "BreakerPolicy",
    "CacheStats",
    "ErrorKind",
    "ImageInput",
    "Outcome",
    "PreparedImage",
    "Provider",
    "RetryPolicy",
    "StreamStatus",
    "Turn",
    "build_provider",
    "check_image",
    "load_image_file",
    "prepare_image",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
