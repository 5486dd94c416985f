"""Trying an OpenAI-compatible server before using it: does it answer, does it have the model.

`GET {base_url}/models` is what Ollama, LM Studio and llama.cpp's server all answer; the result
says in plain words what was found. Blocking (httpx); the Settings window runs it on a worker.
"""

from __future__ import annotations

from dataclasses import dataclass

from snapask_desktop.ai import errors
from snapask_desktop.ai.openai_compat import OpenAICompatProvider, error_message, map_status
from snapask_desktop.ai.registry import OPENAI

SHOWN_MODELS = 5  # names listed when the configured one is missing


@dataclass(frozen=True)
class ServerCheck:
    """What trying the server found: `ok` and a sentence to show."""

    ok: bool
    message: str


def model_names(body: object) -> list[str]:
    """The model ids of a `/models` reply ({"data": [{"id": ...}, ...]}), in its order."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        return []
    return [str(item["id"]) for item in data if isinstance(item, dict) and item.get("id")]


def verdict(base_url: str, model: str, names: list[str]) -> ServerCheck:
    """The sentence for a server that answered with these model names."""
    count = f"{len(names)} model{'s' if len(names) != 1 else ''}"
    if model in names or f"{model}:latest" in names:
        return ServerCheck(True, f"Connected: {base_url} has {count}, '{model}' among them.")
    if not names:
        return ServerCheck(False, f"Connected to {base_url}, but it lists no models.")
    shown = ", ".join(names[:SHOWN_MODELS]) + (" …" if len(names) > SHOWN_MODELS else "")
    return ServerCheck(False, f"Connected, but {base_url} has no model '{model}'. It has: {shown}.")


def check_server(
    base_url: str, model: str, api_key: str | None = None, timeout_s: float = 10.0
) -> ServerCheck:
    """Ask the server for its models and say whether `model` is one of them."""
    import httpx

    provider = OpenAICompatProvider(base_url, api_key=api_key, timeout_s=timeout_s)
    url = base_url.rstrip("/") + "/models"
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        response = httpx.get(url, headers=headers, timeout=timeout_s)
    except Exception as exc:  # mapped the way an answer's failure is
        error = errors.redacted(provider.map_error(exc), api_key)
        return ServerCheck(False, error.user_message)
    if response.status_code != 200:
        message = error_message(response)
        detail = f"HTTP {response.status_code} from {url}: {message}"
        error = errors.redacted(map_status(OPENAI.name, response, message, model, detail), api_key)
        return ServerCheck(False, error.user_message)
    try:
        body = response.json()
    except ValueError:
        return ServerCheck(False, f"{url} answered, but not as an OpenAI-compatible server.")
    return verdict(base_url.rstrip("/"), model, model_names(body))
