"""Gemini through the google-genai SDK: multimodal, multi-turn, streamed, errors as AIError."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from snapask_desktop.ai import errors
from snapask_desktop.ai.provider import check_request
from snapask_desktop.ai.types import AIError, AskRequest

if TYPE_CHECKING:
    from google import genai
    from google.genai import errors as genai_errors
    from google.genai import types as gt

# google-genai takes ~0.4 s to import: it is imported on first use, not at app start.

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"

# Finish reasons that mean the provider withheld (part of) the answer for policy reasons.
_BLOCKED = frozenset(
    {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY"}
)
_COMPLETE = frozenset({"STOP", "MAX_TOKENS", "FINISH_REASON_UNSPECIFIED"})


class GeminiProvider:
    """Streams answers from Gemini; `base_url` points the real SDK elsewhere (tests, proxies)."""

    name = "gemini"

    def __init__(
        self,
        api_key: str | None,
        base_url: str | None = None,
        timeout_s: float = 60.0,
        api_version: str | None = None,
    ) -> None:
        self._api_key = api_key
        self._base_url = base_url
        self._timeout_s = timeout_s
        self._api_version = api_version
        self._client: genai.Client | None = None

    @property
    def endpoint(self) -> str:
        """The server this provider talks to (for messages and logs)."""
        return self._base_url or DEFAULT_BASE_URL

    async def stream(self, request: AskRequest) -> AsyncIterator[str]:
        """Yield the answer's text chunks; AIError on any failure (no network without a key)."""
        if not self._api_key:
            raise errors.no_key(self.name)
        check_request(request, self.name)
        finished = False
        try:
            chunks = await self._sdk().aio.models.generate_content_stream(
                model=request.model, contents=to_contents(request), config=_config(request)
            )
            async for chunk in chunks:
                finished = _check_chunk(chunk) or finished
                text = chunk_text(chunk)
                if text:
                    yield text
        except AIError as error:
            raise errors.redacted(error, self._api_key) from None
        except Exception as exc:
            raise self._map(exc, request.model) from exc
        if not finished:
            raise errors.dropped(self.name, "stream ended without a finishReason")

    async def aclose(self) -> None:
        """Close the SDK's connection pool for the running loop."""
        if self._client is not None:
            await self._client.aio.aclose()

    def _sdk(self) -> genai.Client:
        # Built lazily and reused: the SDK keeps one connection pool per event loop.
        if self._client is None:
            from google import genai
            from google.genai import types as gt

            options = gt.HttpOptions(
                base_url=self._base_url,
                api_version=self._api_version,
                timeout=int(self._timeout_s * 1000),
                # One attempt only: resilience.py retries. SDK retries would multiply waits.
                retry_options=gt.HttpRetryOptions(attempts=1),
            )
            self._client = genai.Client(api_key=self._api_key, vertexai=False, http_options=options)
        return self._client

    def _map(self, exc: Exception, model: str) -> AIError:
        return errors.redacted(
            map_exception(exc, self.endpoint, self._timeout_s, model), self._api_key
        )


def to_contents(request: AskRequest) -> list[gt.Content]:
    """The request's turns as Gemini contents (picture first, then text, as Google advises)."""
    from google.genai import types as gt

    contents = []
    for turn in request.turns:
        parts = []
        if turn.image is not None:
            parts.append(gt.Part.from_bytes(data=turn.image.data, mime_type=turn.image.mime))
        if turn.text:
            parts.append(gt.Part(text=turn.text))
        if parts:
            contents.append(gt.Content(role=turn.role, parts=parts))
    return contents


def _config(request: AskRequest) -> gt.GenerateContentConfig:
    from google.genai import types as gt

    return gt.GenerateContentConfig(
        system_instruction=request.system or None,
        # The SDK would silently re-request a dropped stream: retries are ours to make.
        automatic_continuation=False,
        automatic_function_calling=gt.AutomaticFunctionCallingConfig(disable=True),
    )


def chunk_text(chunk: gt.GenerateContentResponse) -> str:
    """The visible text of a streamed chunk (thought parts excluded)."""
    if not chunk.candidates or not chunk.candidates[0].content:
        return ""
    parts = chunk.candidates[0].content.parts or []
    return "".join(p.text for p in parts if p.text and not p.thought)


def _check_chunk(chunk: gt.GenerateContentResponse) -> bool:
    """Raise for a blocked prompt or answer; True when the chunk says the answer is complete."""
    feedback = chunk.prompt_feedback
    if feedback is not None and feedback.block_reason:
        raise errors.safety("gemini", f"prompt blocked: {_enum_name(feedback.block_reason)}")
    if not chunk.candidates:
        return False
    reason = chunk.candidates[0].finish_reason
    if reason is None:
        return False
    name = _enum_name(reason)
    if name in _BLOCKED:
        raise errors.safety("gemini", f"finishReason {name}")
    if name not in _COMPLETE:
        raise errors.bad_response("gemini", f"finishReason {name}")
    return True


def _enum_name(value: Any) -> str:
    return str(getattr(value, "value", value))


def map_exception(exc: Exception, endpoint: str, timeout_s: float, model: str) -> AIError:
    """Translate an SDK or transport exception into an AIError with the right kind."""
    from google.genai import errors as genai_errors

    if isinstance(exc, genai_errors.APIError):
        return map_api_error(exc, model)
    detail = f"{type(exc).__name__}: {exc}"
    if _is(exc, "ConnectError", "ConnectTimeout"):
        return errors.offline(endpoint, detail)
    if _is(exc, "TimeoutException"):
        return errors.timeout("gemini", timeout_s, detail)
    if _is(exc, "UnsupportedProtocol", "InvalidURL"):
        return errors.bad_request(
            "gemini", f"the server address {endpoint!r} is not valid.", detail
        )
    if _is(exc, "TransportError"):
        return errors.dropped("gemini", detail)
    if isinstance(exc, ValueError):  # unparseable or unexpected JSON (incl. pydantic errors)
        return errors.bad_response("gemini", detail)
    return errors.unexpected("gemini", exc)


def _is(exc: Exception, *names: str) -> bool:
    """isinstance against httpx2's classes (the SDK's default transport) and httpx's (the
    transport it uses when GOOGLE_GENAI_HTTP_CLIENT=httpx): two unrelated class trees."""
    import httpx
    import httpx2

    classes = tuple(getattr(mod, n) for mod in (httpx2, httpx) for n in names)
    return isinstance(exc, classes)


def map_api_error(exc: genai_errors.APIError, model: str) -> AIError:
    """Translate an HTTP error from the Gemini API into an AIError."""
    code, message = exc.code, str(exc.message or "")
    detail = f"HTTP {code} {exc.status}: {message}"
    if code == 429:
        return errors.quota("gemini", _retry_after(exc), detail)
    if code in (401, 403) or "API key" in message or "API_KEY_INVALID" in str(exc.details):
        return errors.invalid_key("gemini", detail)
    if code == 404:
        return errors.model_not_found("gemini", model, detail)
    if code in (408, 504):
        return errors.timeout("gemini", None, detail)
    if code is not None and code >= 500:
        return errors.server("gemini", code, message, detail)
    return errors.bad_request("gemini", message or f"HTTP {code}", detail)


def _retry_after(exc: genai_errors.APIError) -> float | None:
    delay = errors.retry_after_google(exc.details)
    if delay is None and exc.response is not None:
        delay = errors.retry_after_header(exc.response.headers.get("retry-after"))
    return delay
