"""OpenAI-compatible chat completions (Ollama, LM Studio, llama.cpp server) over httpx, streamed."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from snapask_desktop.ai import errors
from snapask_desktop.ai.provider import check_request
from snapask_desktop.ai.text_only import takes_no_pictures
from snapask_desktop.ai.types import AIError, AskRequest

if TYPE_CHECKING:  # httpx (with its TLS stack) is imported when a request is first made
    import httpx


class OpenAICompatProvider:
    """Streams from `POST {base_url}/chat/completions` (`base_url` like http://localhost:11434/v1)."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        timeout_s: float = 120.0,
        name: str = "openai",
    ) -> None:
        self.name = name
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._timeout_s = timeout_s

    @property
    def endpoint(self) -> str:
        """The chat completions URL."""
        return f"{self._base_url}/chat/completions"

    async def stream(self, request: AskRequest) -> AsyncIterator[str]:
        """Yield the answer's text chunks; raise AIError on any failure."""
        check_request(request, self.name)
        import httpx

        try:
            async with (
                httpx.AsyncClient(timeout=self._timeout_s) as client,
                client.stream(
                    "POST", self.endpoint, json=to_body(request), headers=self._headers()
                ) as response,
            ):
                if response.status_code != 200:
                    await response.aread()
                    raise self._http_error(response, request.model)
                async for text in _read_events(response, self.name):
                    yield text
        except AIError as error:
            raise errors.redacted(error, self._api_key) from None
        except Exception as exc:
            raise errors.redacted(self.map_error(exc), self._api_key) from exc

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "text/event-stream"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    def _http_error(self, response: httpx.Response, model: str) -> AIError:
        message = error_message(response)
        detail = f"HTTP {response.status_code} from {self.endpoint}: {message}"
        return map_status(self.name, response, message, model, detail)

    def map_error(self, exc: Exception) -> AIError:
        """The AIError for an exception met while talking to the server."""
        import httpx

        detail = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
            return errors.offline(self._base_url, detail, local=True)
        if isinstance(exc, httpx.TimeoutException):
            return errors.timeout(self.name, self._timeout_s, detail)
        if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
            message = f"the server address {self._base_url!r} is not a valid http(s) URL."
            return errors.bad_request(self.name, message, detail)
        if isinstance(exc, httpx.TransportError):
            return errors.dropped(self.name, detail)
        return errors.unexpected(self.name, exc)


def to_body(request: AskRequest) -> dict[str, Any]:
    """The chat completions request body: system prompt, history, image as a data URL."""
    messages: list[dict[str, Any]] = []
    if request.system:
        messages.append({"role": "system", "content": request.system})
    for turn in request.turns:
        role = "assistant" if turn.role == "model" else "user"
        if turn.image is None:
            messages.append({"role": role, "content": turn.text})
            continue
        data = base64.b64encode(turn.image.data).decode("ascii")
        parts: list[dict[str, Any]] = [
            {"type": "image_url", "image_url": {"url": f"data:{turn.image.mime};base64,{data}"}}
        ]
        if turn.text:
            parts.append({"type": "text", "text": turn.text})
        messages.append({"role": role, "content": parts})
    return {"model": request.model, "messages": messages, "stream": True}


async def _read_events(response: httpx.Response, provider: str) -> AsyncIterator[str]:
    """Yield delta texts from the SSE body until `data: [DONE]` (or a final finish_reason)."""
    finished = False
    async for line in response.aiter_lines():
        if not line.startswith("data:"):
            continue  # blank separators, comments (": keep-alive"), event names
        data = line[5:].strip()
        if data == "[DONE]":
            return
        text, reason = parse_chunk(data, provider)
        if text:
            yield text
        finished = finished or reason is not None
    if not finished:
        raise errors.dropped(provider, "stream ended without [DONE] or a finish_reason")


def parse_chunk(data: str, provider: str) -> tuple[str, str | None]:
    """(delta text, finish_reason) of one chunk; AIError for errors, filters or garbage."""
    try:
        chunk = json.loads(data)
    except ValueError:
        raise errors.bad_response(provider, f"unparseable chunk: {data[:200]!r}") from None
    if not isinstance(chunk, dict):
        raise errors.bad_response(provider, f"unexpected chunk: {data[:200]!r}")
    if "error" in chunk:
        message = _message_of(chunk["error"])
        raise errors.server(provider, None, message, f"error event: {data[:500]}")
    choices = chunk.get("choices") or []
    if not choices:
        return "", None  # e.g. a usage-only chunk
    choice = choices[0] if isinstance(choices[0], dict) else {}
    delta = choice.get("delta") or {}
    reason = choice.get("finish_reason")
    if reason == "content_filter":
        raise errors.safety(provider, "finish_reason content_filter")
    content = delta.get("content") if isinstance(delta, dict) else None
    return (content if isinstance(content, str) else ""), reason


def error_message(response: httpx.Response) -> str:
    """The server's own words from an error body ({"error": {"message"}} or {"error": "..."})."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:300]
    if isinstance(body, dict) and "error" in body:
        return _message_of(body["error"])
    return str(body)[:300]


def _message_of(error: Any) -> str:
    if isinstance(error, dict):
        return str(error.get("message") or error)
    return str(error)


def map_status(
    provider: str, response: httpx.Response, message: str, model: str, detail: str
) -> AIError:
    """Translate an HTTP error status from an OpenAI-compatible server into an AIError."""
    status = response.status_code
    if status >= 400 and takes_no_pictures(message):  # Ollama and llama.cpp answer it with 500
        return errors.no_pictures(provider, model, detail)
    if status in (401, 403):
        return errors.invalid_key(provider, detail)
    if status == 404:
        if "model" in message.lower():
            return errors.model_not_found(provider, model, detail)
        hint = f"no chat endpoint at {response.request.url} (for Ollama use http://localhost:11434/v1)."
        return errors.bad_request(provider, hint, detail)
    if status == 429:
        wait = errors.retry_after_header(response.headers.get("retry-after"))
        return errors.quota(provider, wait, detail)
    if status in (408, 504):
        return errors.timeout(provider, None, detail)
    if status >= 500:
        return errors.server(provider, status, message, detail)
    return errors.bad_request(provider, message or f"HTTP {status}", detail)
