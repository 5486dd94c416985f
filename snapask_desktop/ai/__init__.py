"""The AI layer: providers (Gemini, OpenAI-compatible), image preparation, answer cache,
retries and circuit breaker, composed by AIClient.

Typical use (a thread such as the CLI or a Qt worker):

    client = AIClient(build_provider("gemini", api_key=key), cache=AnswerCache(path))
    stream = client.ask(AskRequest(model, (Turn("user", "What is this?", image),)))
    for chunk in stream:      # raises AIError(...) unless the answer completed
        print(chunk, end="")
"""

from snapask_desktop.ai.answer_stream import AnswerStream, Outcome, StreamStatus
from snapask_desktop.ai.cache import CACHE_FILENAME, AnswerCache, CacheStats
from snapask_desktop.ai.client import PROVIDERS, AIClient, build_provider
from snapask_desktop.ai.image_prep import (
    PreparedImage,
    check_image,
    load_image_file,
    prepare_image,
)
from snapask_desktop.ai.provider import Provider
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
