"""A local OpenAI-compatible server (as Ollama / LM Studio / llama.cpp serve it), scriptable.

`POST /v1/chat/completions` with `stream: true` answers `data: {chunk}` events and a final
`data: [DONE]`; without `stream` it answers one `chat.completion` object. `GET /v1/models`
lists the models. Same scripting and recording as FakeGemini (the reply types are shared).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from tests.support.fake_gemini import (
    CutOff,
    ErrorReply,
    Malformed,
    RecordedRequest,
    Reply,
    Responder,
    Safety,
    Script,
    ScriptedServer,
    Stall,
    stream_script,
)

__all__ = [
    "CutOff",
    "ErrorReply",
    "FakeOpenAI",
    "Malformed",
    "Reply",
    "Safety",
    "Stall",
    "invalid_key",
    "model_not_found",
    "openai_error",
]


def openai_error(status: int, message: str, type_: str, code: str | None = None) -> ErrorReply:
    """An error in the OpenAI shape: {"error": {"message", "type", "param", "code"}}."""
    body = {"error": {"message": message, "type": type_, "param": None, "code": code}}
    return ErrorReply(status, body)


def invalid_key() -> ErrorReply:
    """401 for a wrong bearer token."""
    return openai_error(
        401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key"
    )


def model_not_found(model: str) -> ErrorReply:
    """Ollama's 404 for a model that is not pulled."""
    return openai_error(404, f'model "{model}" not found, try pulling it first', "api_error")


def echo_text(body: Any) -> list[str]:
    """The default reply: echo the last user text and count the images sent."""
    messages = (body or {}).get("messages") or []
    last = messages[-1].get("content") if messages else ""
    if isinstance(last, list):
        last = " ".join(p.get("text", "") for p in last if p.get("type") == "text")
    images = sum(
        1
        for m in messages
        if isinstance(m.get("content"), list)
        for p in m["content"]
        if p.get("type") == "image_url"
    )
    chunks = ["You asked: ", str(last) or "(nothing)"]
    if images:
        chunks.append(f" [{images} image{'s' if images > 1 else ''}]")
    return [*chunks, "."]


class FakeOpenAI(ScriptedServer):
    """Fake OpenAI-compatible chat server. `accepted_keys`: bearer tokens that pass (None = no
    auth, like a local Ollama). `models`: known model names (None = any)."""

    def __init__(
        self, accepted_keys: Iterable[str] | None = None, models: Iterable[str] | None = None
    ) -> None:
        super().__init__()
        self.accepted_keys = set(accepted_keys) if accepted_keys is not None else None
        self.models = set(models) if models is not None else None

    def __enter__(self) -> FakeOpenAI:
        self.start()
        return self

    @property
    def base_url(self) -> str:
        """The base URL clients are configured with (`.../v1`)."""
        return f"{self.url}/v1"

    def chat_requests(self) -> list[RecordedRequest]:
        """Only the chat completion requests."""
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def _dispatch(self, out: Responder, request: RecordedRequest) -> None:
        rejection = self._check_key(request)  # a server with keys wants one on every route
        if rejection is not None and request.path.startswith("/v1/"):
            return out.json(rejection.status, rejection.body, rejection.headers)
        if request.method == "GET" and request.path == "/v1/models":
            names = sorted(self.models or {"llava"})
            data = [{"id": n, "object": "model", "owned_by": "library"} for n in names]
            return out.json(200, {"object": "list", "data": data})
        if request.method != "POST" or request.path != "/v1/chat/completions":
            return out.json(404, {"error": "404 page not found"})
        body = request.body if isinstance(request.body, dict) else {}
        model = str(body.get("model", ""))
        if self.models is not None and model not in self.models:
            reply: Script = model_not_found(model)
        else:
            reply = self._next_reply() or Reply(tuple(echo_text(body)))
        if isinstance(reply, ErrorReply):
            return out.json(reply.status, reply.body, reply.headers)
        if not body.get("stream"):
            return self._whole(out, reply, model)
        return self._stream(out, reply, model)

    def _check_key(self, request: RecordedRequest) -> ErrorReply | None:
        if self.accepted_keys is None:
            return None
        auth = request.header("authorization") or ""
        key = auth.removeprefix("Bearer ").strip()
        return None if key in self.accepted_keys else invalid_key()

    def _stream(self, out: Responder, reply: Script, model: str) -> None:
        ident = f"chatcmpl-{uuid.uuid4().hex[:12]}"
        if isinstance(reply, Safety):
            reply = Reply((*reply.chunks, ""), finish_reason="content_filter")

        def render(text: str, reason: str | None = None) -> str:
            return json.dumps(_chunk(ident, model, text, reason))

        def finish(reason: str, text: str) -> Iterator[str]:
            yield render(text, "stop" if reason == "STOP" else reason)
            yield "[DONE]"

        stream_script(out, reply, render, finish=finish)

    def _whole(self, out: Responder, reply: Script, model: str) -> None:
        if not isinstance(reply, Reply):
            return out.json(500, {"error": {"message": "scripted failure", "type": "api_error"}})
        if not out.pause(reply.delay_s):
            return out.cut()
        message = {"role": "assistant", "content": "".join(reply.chunks)}
        choice = {"index": 0, "message": message, "finish_reason": "stop"}
        completion = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [choice],
        }
        out.json(200, completion)


def _chunk(ident: str, model: str, text: str, reason: str | None) -> dict[str, Any]:
    return {
        "id": ident,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "fp_ollama",
        "choices": [
            {"index": 0, "delta": {"role": "assistant", "content": text}, "finish_reason": reason}
        ],
    }
