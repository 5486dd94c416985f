"""AIClient: provider + image preparation + answer cache + retries/breaker, async and threaded."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import logging
import sqlite3
import threading
from collections.abc import AsyncIterator

from snapask_desktop.ai import errors
from snapask_desktop.ai.answer_stream import AnswerStream, StreamStatus
from snapask_desktop.ai.cache import AnswerCache, cache_key
from snapask_desktop.ai.gemini import GeminiProvider
from snapask_desktop.ai.image_prep import (
    JPEG_QUALITY,
    MAX_SIDE,
    PreparedImage,
    prep_signature,
    prepare_image,
)
from snapask_desktop.ai.openai_compat import OpenAICompatProvider
from snapask_desktop.ai.provider import Provider
from snapask_desktop.ai.registry import GEMINI, OPENAI, PROVIDERS
from snapask_desktop.ai.resilience import (
    BreakerPolicy,
    OnRetry,
    ProviderBreaker,
    RetryPolicy,
    resilient_stream,
)
from snapask_desktop.ai.text_only import PictureMode, as_text, has_pictures
from snapask_desktop.ai.types import AIError, AskRequest, ErrorKind, ImageInput
from snapask_desktop.loop_thread import LoopThread

log = logging.getLogger(__name__)

# The longest answer kept: the store refuses longer message texts (store/validate.py).
MAX_ANSWER_CHARS = 200_000
TRUNCATION_NOTE = "\n\n[The answer was cut off here: it reached 200,000 characters.]"
_PREPARED_MEMO = 16  # screenshots kept prepared in memory (follow-up questions reuse them)


class AIClient:
    """Asks one provider. `stream()` for asyncio code, `ask()` for threads (CLI, Qt workers).

    Images attached unprepared are downscaled/re-encoded once (memoised by hash) before
    sending; the cache key uses the source hash, so a repeated question is answered from the
    cache without decoding anything. `close()` stops the worker loop and closes the cache.
    `pictures`: "send" them; "text" (a model that reads none) sends the text read from each
    instead; "auto" sends them, and their text once the model has said it reads no pictures.
    """

    def __init__(
        self,
        provider: Provider,
        *,
        cache: AnswerCache | None = None,
        retry: RetryPolicy | None = None,
        breaker: BreakerPolicy | None = None,
        max_side: int = MAX_SIDE,
        jpeg_quality: int = JPEG_QUALITY,
        pictures: PictureMode = "send",
    ) -> None:
        self.provider = provider
        self.pictures = pictures
        self._text_only_models: set[str] = set()  # learnt in "auto" mode, for this client's life
        self.cache = cache
        self.retry = retry or RetryPolicy()
        self.breaker = ProviderBreaker(provider.name, breaker)
        self._max_side = max_side
        self._quality = jpeg_quality
        self._prepared: collections.OrderedDict[str, ImageInput] = collections.OrderedDict()
        self._memo_lock = threading.Lock()
        self._loop = LoopThread("snapask-ai")

    def cache_key(self, request: AskRequest) -> str:
        """The answer-cache key of `request` for this client's provider and image settings."""
        return cache_key(self.provider.name, request, prep_signature(self._max_side, self._quality))

    async def stream(
        self,
        request: AskRequest,
        *,
        use_cache: bool = True,
        on_retry: OnRetry | None = None,
        status: StreamStatus | None = None,
    ) -> AsyncIterator[str]:
        """Yield the answer's chunks: a cache hit is one chunk; a completed answer gets cached."""
        key = self.cache_key(request) if use_cache and self.cache is not None else None
        hit = self._cached(key)
        if hit is not None:
            if status is not None:
                status.from_cache = True
            yield hit
            return
        parts: list[str] = []
        stream = self._answer(request, on_retry)
        received = 0
        async with contextlib.aclosing(stream):
            async for chunk in stream:
                room = MAX_ANSWER_CHARS - len(TRUNCATION_NOTE) - received
                if len(chunk) > room:
                    # A looping model or a broken server must not grow without end: keep what
                    # fits, say so, and end the answer (it can still be saved and shown).
                    for piece in (chunk[: max(room, 0)], TRUNCATION_NOTE):
                        parts.append(piece)
                        yield piece
                    break
                received += len(chunk)
                parts.append(chunk)
                yield chunk
        # Reached only when the stream completed: cancelled or failed answers are never cached.
        if parts:
            self._remember(key, "".join(parts))

    def ask(
        self, request: AskRequest, *, use_cache: bool = True, on_retry: OnRetry | None = None
    ) -> AnswerStream:
        """Start answering on the client's background loop; iterate the result from any thread.

        `on_retry(attempt, error, wait_s)` is called on the loop thread before each retry wait."""

        def start(status: StreamStatus) -> AsyncIterator[str]:
            return self.stream(request, use_cache=use_cache, on_retry=on_retry, status=status)

        return AnswerStream(start, self._loop.submit)

    def close(self) -> None:
        """Cancel running answers, stop the loop thread and close the cache."""
        self._loop.stop(finalizer=getattr(self.provider, "aclose", None))
        if self.cache is not None:
            self.cache.close()

    def __enter__(self) -> AIClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _cached(self, key: str | None) -> str | None:
        if key is None or self.cache is None:
            return None
        try:
            return self.cache.get(key)
        except sqlite3.Error as exc:  # a broken cache must not cost the user the answer
            log.warning("answer cache unreadable, asking the provider: %s", exc)
            return None

    def _remember(self, key: str | None, text: str) -> None:
        if key is None or self.cache is None:
            return
        try:
            self.cache.put(key, text)
        except sqlite3.Error as exc:
            log.warning("answer cache not written: %s", exc)

    def prepare(self, data: bytes) -> PreparedImage:
        """`data` downscaled and encoded exactly as this client sends a picture."""
        return prepare_image(data, max_side=self._max_side, quality=self._quality)

    def reads_no_pictures(self, model: str) -> bool:
        """Whether pictures go to `model` as their text (set so, or learnt in "auto" mode)."""
        return self.pictures == "text" or model in self._text_only_models

    async def _answer(self, request: AskRequest, on_retry: OnRetry | None) -> AsyncIterator[str]:
        """The provider's chunks, pictures sent as their text where the model reads none."""
        if has_pictures(request) and self.reads_no_pictures(request.model):
            async for chunk in self._attempt(await self._as_text(request), on_retry):
                yield chunk
            return
        started = False
        try:
            async for chunk in self._attempt(await self._prepare_images(request), on_retry):
                started = True
                yield chunk
        except AIError as error:
            if started or error.kind is not ErrorKind.NO_PICTURES or self.pictures != "auto":
                raise
            self._text_only_models.add(request.model)
            log.info("model %s reads no pictures: sending the text read from them", request.model)
            async for chunk in self._attempt(await self._as_text(request), on_retry):
                yield chunk

    async def _attempt(self, request: AskRequest, on_retry: OnRetry | None) -> AsyncIterator[str]:
        stream = resilient_stream(
            self.provider, request, policy=self.retry, breaker=self.breaker, on_retry=on_retry
        )
        async with contextlib.aclosing(stream):
            async for chunk in stream:
                yield chunk

    async def _as_text(self, request: AskRequest) -> AskRequest:
        # Reading a picture may run OCR (a second or two): off the event loop.
        texts = await asyncio.to_thread(_read_texts, request)
        return as_text(request, texts)

    async def _prepare_images(self, request: AskRequest) -> AskRequest:
        turns = []
        for turn in request.turns:
            if turn.image is not None and not turn.image.prepared:
                turn = dataclasses.replace(turn, image=await self._prepared_image(turn.image))
            turns.append(turn)
        return dataclasses.replace(request, turns=tuple(turns))

    async def _prepared_image(self, image: ImageInput) -> ImageInput:
        with self._memo_lock:
            cached = self._prepared.get(image.sha256)
        if cached is None:
            # Decoding and resizing take tens of ms: keep them off the event loop.
            prepared = await asyncio.to_thread(
                prepare_image, image.data, max_side=self._max_side, quality=self._quality
            )
            cached = prepared.to_input()
        with self._memo_lock:
            self._prepared[image.sha256] = cached
            self._prepared.move_to_end(image.sha256)
            while len(self._prepared) > _PREPARED_MEMO:
                self._prepared.popitem(last=False)
        return cached


def _read_texts(request: AskRequest) -> list[str | None]:
    texts: list[str | None] = []
    for turn in request.turns:
        if turn.image is None:
            continue
        text = None
        if turn.image.read_text is not None:
            try:
                text = turn.image.read_text()
            except Exception:  # the question still goes out, saying the text is missing
                log.warning("the text of a picture could not be read", exc_info=True)
        texts.append(text)
    return texts


def build_provider(
    name: str,
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    timeout_s: float | None = None,
) -> Provider:
    """Make the provider called `name` ("gemini" or "openai"); AIError(BAD_REQUEST) otherwise."""
    if name == GEMINI.name:
        return GeminiProvider(api_key, base_url=base_url, timeout_s=timeout_s or 60.0)
    if name == OPENAI.name:
        if not base_url:
            raise errors.bad_request(
                OPENAI.name,
                "no server address is set. Set one, e.g. http://localhost:11434/v1 for Ollama.",
            )
        return OpenAICompatProvider(base_url, api_key=api_key, timeout_s=timeout_s or 120.0)
    raise errors.bad_request(
        name, f"unknown provider {name!r}; choose one of {', '.join(PROVIDERS)}."
    )
