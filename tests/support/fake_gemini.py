"""A local Gemini API server speaking the real wire format, scriptable from tests.

It runs in a thread of the test process on 127.0.0.1:<ephemeral> and serves other processes
over real TCP, so the real google-genai SDK (and `snapask` in a subprocess) can be pointed at
`fake.url`. Replies are taken from a queue (`fake.script(...)`); when the queue is empty the
fake echoes the question. Every request is recorded for assertions.

The scripted reply types and the threaded HTTP plumbing here are shared with fake_openai.
"""

from __future__ import annotations

import collections
import contextlib
import json
import re
import socket
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

# --- scripted replies (shared by both fakes) -------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """Stream `chunks` with `delay_s` before each one, then finish with `finish_reason`."""

    chunks: Sequence[str] = ("Hello",)
    delay_s: float = 0.0
    finish_reason: str = "STOP"


@dataclass(frozen=True)
class ErrorReply:
    """Answer with an HTTP error status and a JSON error body."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CutOff:
    """Stream `chunks`, then break the connection mid-body (or, if `clean`, end the body
    properly but without any finish marker: a stream that just stops)."""

    chunks: Sequence[str] = ()
    clean: bool = False


@dataclass(frozen=True)
class Malformed:
    """Stream `chunks`, then an event whose data is not valid JSON."""

    chunks: Sequence[str] = ()


@dataclass(frozen=True)
class Safety:
    """A reply blocked by safety filters: after `chunks`, finishReason SAFETY; or, with
    `prompt_blocked`, no candidate at all and promptFeedback.blockReason SAFETY."""

    chunks: Sequence[str] = ()
    prompt_blocked: bool = False


@dataclass(frozen=True)
class Stall:
    """Stream `chunks`, then send nothing for `seconds` (or until the fake stops), then cut."""

    chunks: Sequence[str] = ()
    seconds: float = 30.0


Script = Reply | ErrorReply | CutOff | Malformed | Safety | Stall


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake received it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: Any  # parsed JSON, or None

    def header(self, name: str) -> str | None:
        """A header value by case-insensitive name."""
        return self.headers.get(name.lower())


# --- threaded HTTP plumbing (shared by both fakes) -------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return  # keep test output clean

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        parts = urlsplit(self.path)
        recorded = RecordedRequest(
            method=self.command,
            path=parts.path,
            query=dict(parse_qsl(parts.query)),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        owner = self.server.owner
        owner._record(recorded)
        try:
            owner._dispatch(Responder(self, owner._stopping), recorded)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client went away (e.g. it cancelled)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    owner: ScriptedServer

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, addr = super().get_request()
        self.owner._track(conn)
        return conn, addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        return  # a client that hangs up (cancel, timeout, stop()) is normal here


class Responder:
    """Writes replies on one connection: plain JSON, or a chunked stream that can stall or
    be cut off the way a failing server or network would."""

    def __init__(self, handler: _Handler, stopping: threading.Event) -> None:
        self._h = handler
        self._stopping = stopping

    def json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        """Send a complete JSON response."""
        data = json.dumps(obj).encode()
        self._h.send_response(status)
        self._h.send_header("Content-Type", "application/json; charset=UTF-8")
        self._h.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self._h.send_header(name, value)
        self._h.end_headers()
        self._h.wfile.write(data)
        self._h.wfile.flush()

    def start_stream(self, content_type: str = "text/event-stream") -> None:
        """Send 200 headers for a chunked streaming body."""
        self._h.send_response(200)
        self._h.send_header("Content-Type", content_type)
        self._h.send_header("Transfer-Encoding", "chunked")
        self._h.send_header("Cache-Control", "no-cache")
        self._h.end_headers()
        self._h.wfile.flush()

    def event(self, data: str) -> None:
        """Send one SSE event as one HTTP chunk."""
        self._chunk(f"data: {data}\r\n\r\n".encode())

    def end_stream(self) -> None:
        """Terminate the chunked body properly."""
        self._h.wfile.write(b"0\r\n\r\n")
        self._h.wfile.flush()

    def cut(self) -> None:
        """Break the connection without finishing the body."""
        self._h.wfile.flush()
        self._h.close_connection = True
        with contextlib.suppress(OSError):
            self._h.connection.shutdown(socket.SHUT_RDWR)

    def pause(self, seconds: float) -> bool:
        """Wait `seconds`; False if the fake is stopping meanwhile."""
        if seconds <= 0:
            return not self._stopping.is_set()
        return not self._stopping.wait(seconds)

    def _chunk(self, data: bytes) -> None:
        self._h.wfile.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")
        self._h.wfile.flush()


class ScriptedServer:
    """Base of the fakes: a threaded HTTP server on 127.0.0.1:<ephemeral>, a queue of
    scripted replies and a record of every request. Subclasses implement `_dispatch`."""

    def __init__(self) -> None:
        self._queue: collections.deque[Script] = collections.deque()
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._connections: list[socket.socket] = []
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # lifecycle
    def start(self) -> ScriptedServer:
        """Bind an ephemeral port and serve in a daemon thread."""
        self._stopping.clear()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, wake stalled replies and close every open connection."""
        self._stopping.set()
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            conns, self._connections = self._connections, []
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()
        self._server = None

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The port the fake listens on."""
        assert self._server is not None, "fake server not started"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Base URL to give the client."""
        return f"http://127.0.0.1:{self.port}"

    # scripting and inspection
    def script(self, *replies: Script) -> None:
        """Queue replies; each request takes the next one."""
        with self._lock:
            self._queue.extend(replies)

    @property
    def pending(self) -> int:
        """Scripted replies not used yet."""
        with self._lock:
            return len(self._queue)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def _next_reply(self) -> Script | None:
        with self._lock:
            return self._queue.popleft() if self._queue else None

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _track(self, conn: socket.socket) -> None:
        with self._lock:
            self._connections.append(conn)

    def _dispatch(self, out: Responder, request: RecordedRequest) -> None:
        raise NotImplementedError


def stream_script(
    out: Responder, reply: Script, render: Any, *, finish: Any, malformed: str = "{not json"
) -> None:
    """Play a streaming script: `render(text)` makes an event for a chunk, `finish(reason,
    last_text)` the events that close the stream; shared by both fakes."""
    chunks = list(getattr(reply, "chunks", ()))
    delay = getattr(reply, "delay_s", 0.0)
    out.start_stream()
    body = chunks[:-1] if isinstance(reply, Reply) else chunks
    for text in body:
        if not out.pause(delay):
            return out.cut()
        out.event(render(text))
    if isinstance(reply, Reply):
        if not out.pause(delay):
            return out.cut()
        for data in finish(reply.finish_reason, chunks[-1] if chunks else ""):
            out.event(data)
        return out.end_stream()
    if isinstance(reply, CutOff):
        return out.end_stream() if reply.clean else out.cut()
    if isinstance(reply, Malformed):
        out.event(malformed)
        return out.end_stream()
    if isinstance(reply, Stall):
        out.pause(reply.seconds)
        return out.cut()
    raise TypeError(f"not a streaming script: {reply!r}")


# --- Gemini ----------------------------------------------------------------------------------

API_KEY_INVALID = "API key not valid. Please pass a valid API key."
_PATH = re.compile(r"^/(?P<version>[^/]+)/models/(?P<model>[^/:]+):(?P<method>[A-Za-z]+)$")


def google_error(
    status: int, message: str, status_text: str, details: Iterable[dict[str, Any]] = ()
) -> dict[str, Any]:
    """The JSON body Google APIs send with an error status."""
    error: dict[str, Any] = {"code": status, "message": message, "status": status_text}
    if details:
        error["details"] = list(details)
    return {"error": error}


def invalid_key() -> ErrorReply:
    """The real 400 Gemini sends for a wrong API key."""
    details = [
        {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "API_KEY_INVALID",
            "domain": "googleapis.com",
            "metadata": {"service": "generativelanguage.googleapis.com"},
        }
    ]
    return ErrorReply(400, google_error(400, API_KEY_INVALID, "INVALID_ARGUMENT", details))


def model_not_found(model: str, version: str = "v1beta") -> ErrorReply:
    """The real 404 for an unknown model."""
    message = (
        f"models/{model} is not found for API version {version}, or is not supported for "
        "generateContent. Call ListModels to see the list of available models and their "
        "supported methods."
    )
    return ErrorReply(404, google_error(404, message, "NOT_FOUND"))


def quota_exceeded(retry_delay_s: float | None = 2.0, *, header: bool = False) -> ErrorReply:
    """A 429 RESOURCE_EXHAUSTED, with RetryInfo in the body (and Retry-After if `header`)."""
    message = (
        "You exceeded your current quota, please check your plan and billing details. For "
        "more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits."
    )
    details: list[dict[str, Any]] = [
        {
            "@type": "type.googleapis.com/google.rpc.QuotaFailure",
            "violations": [
                {"quotaMetric": "generativelanguage.googleapis.com/generate_content_requests"}
            ],
        }
    ]
    headers: dict[str, str] = {}
    if retry_delay_s is not None:
        details.append(
            {
                "@type": "type.googleapis.com/google.rpc.RetryInfo",
                "retryDelay": f"{retry_delay_s:g}s",
            }
        )
        if header:
            headers["Retry-After"] = f"{retry_delay_s:g}"
    return ErrorReply(429, google_error(429, message, "RESOURCE_EXHAUSTED", details), headers)


def internal_error() -> ErrorReply:
    """A 500 INTERNAL."""
    message = "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting"
    return ErrorReply(500, google_error(500, message, "INTERNAL"))


def overloaded() -> ErrorReply:
    """A 503 UNAVAILABLE, as when the model is overloaded."""
    return ErrorReply(
        503, google_error(503, "The model is overloaded. Please try again later.", "UNAVAILABLE")
    )


def echo_text(body: Any) -> list[str]:
    """The default reply's chunks: echo the last user text and count the images sent."""
    contents = (body or {}).get("contents") or []
    parts = contents[-1].get("parts", []) if contents else []
    question = " ".join(p["text"] for p in parts if "text" in p)
    images = sum(1 for c in contents for p in c.get("parts", []) if "inlineData" in p)
    chunks = ["You asked: ", question or "(nothing)"]
    if images:
        chunks.append(f" [{images} image{'s' if images > 1 else ''}]")
    return [*chunks, "."]


class FakeGemini(ScriptedServer):
    """Fake `generativelanguage.googleapis.com`: `:streamGenerateContent?alt=sse` and
    `:generateContent`, the `x-goog-api-key` header (or `?key=`), Google's error bodies.

    `accepted_keys`: keys that pass (None = any non-empty key). `models`: known model names
    (None = any)."""

    def __init__(
        self,
        accepted_keys: Iterable[str] | None = ("test-key",),
        models: Iterable[str] | None = None,
    ) -> None:
        super().__init__()
        self.accepted_keys = set(accepted_keys) if accepted_keys is not None else None
        self.models = set(models) if models is not None else None

    def __enter__(self) -> FakeGemini:
        self.start()
        return self

    def generate_requests(self) -> list[RecordedRequest]:
        """Only the generateContent/streamGenerateContent requests."""
        return [r for r in self.requests if "enerateContent" in r.path]

    def _dispatch(self, out: Responder, request: RecordedRequest) -> None:
        match = _PATH.match(request.path)
        if request.method != "POST" or not match:
            return out.json(404, google_error(404, f"Not found: {request.path}", "NOT_FOUND"))
        rejection = self._check_key(request)
        if rejection is not None:
            return out.json(rejection.status, rejection.body, rejection.headers)
        model, method = match["model"], match["method"]
        if self.models is not None and model not in self.models:
            reply: Script = model_not_found(model, match["version"])
        else:
            reply = self._next_reply() or Reply(tuple(echo_text(request.body)))
        if isinstance(reply, ErrorReply):
            return out.json(reply.status, reply.body, reply.headers)
        if method == "generateContent":
            return self._whole(out, reply, model)
        return self._stream(out, reply, model)

    def _check_key(self, request: RecordedRequest) -> ErrorReply | None:
        key = request.header("x-goog-api-key") or request.query.get("key")
        if not key:
            message = (
                "Method doesn't allow unregistered callers (callers without established "
                "identity). Please use API Key or other form of API consumer identity to call "
                "this API."
            )
            return ErrorReply(403, google_error(403, message, "PERMISSION_DENIED"))
        if self.accepted_keys is not None and key not in self.accepted_keys:
            return invalid_key()
        return None

    def _stream(self, out: Responder, reply: Script, model: str) -> None:
        response_id = uuid.uuid4().hex[:16]
        if isinstance(reply, Safety):
            return self._safety(out, reply, model, response_id)

        def render(text: str) -> str:
            return json.dumps(_chunk(text, model, response_id))

        def finish(reason: str, text: str) -> Iterator[str]:
            yield json.dumps(_chunk(text, model, response_id, finish_reason=reason))

        stream_script(out, reply, render, finish=finish)

    def _safety(self, out: Responder, reply: Safety, model: str, response_id: str) -> None:
        out.start_stream()
        for text in reply.chunks:
            out.event(json.dumps(_chunk(text, model, response_id)))
        if reply.prompt_blocked:
            blocked = {"promptFeedback": {"blockReason": "SAFETY", "safetyRatings": _RATINGS}}
            out.event(json.dumps({**blocked, "modelVersion": model, "responseId": response_id}))
        else:
            candidate = {"finishReason": "SAFETY", "index": 0, "safetyRatings": _RATINGS}
            out.event(json.dumps({"candidates": [candidate], "modelVersion": model}))
        out.end_stream()

    def _whole(self, out: Responder, reply: Script, model: str) -> None:
        if not isinstance(reply, Reply):
            return out.json(500, google_error(500, "scripted failure", "INTERNAL"))
        if not out.pause(reply.delay_s):
            return out.cut()
        text = "".join(reply.chunks)
        out.json(200, _chunk(text, model, uuid.uuid4().hex[:16], finish_reason=reply.finish_reason))


_RATINGS = [
    {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": True},
    {"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"},
]


def _chunk(
    text: str, model: str, response_id: str, finish_reason: str | None = None
) -> dict[str, Any]:
    candidate: dict[str, Any] = {
        "content": {"parts": [{"text": text}], "role": "model"},
        "index": 0,
    }
    if finish_reason:
        candidate["finishReason"] = finish_reason
    usage = {"promptTokenCount": 8, "candidatesTokenCount": 4, "totalTokenCount": 12}
    return {
        "candidates": [candidate],
        "usageMetadata": usage,
        "modelVersion": model,
        "responseId": response_id,
    }
