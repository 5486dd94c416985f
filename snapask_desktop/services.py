"""Building the headless services from settings: store, AI clients, chat. No Qt here.

The CLI uses this directly; the tray app's composition root (`app.py`) builds on it.
"""

from __future__ import annotations

import threading
from pathlib import Path

from snapask_desktop import credentials, paths
from snapask_desktop.ai.cache import CACHE_FILENAME, AnswerCache
from snapask_desktop.ai.client import AIClient, build_provider
from snapask_desktop.ai.resilience import RetryPolicy
from snapask_desktop.chat import ChatService
from snapask_desktop.config import Settings
from snapask_desktop.store.repository import Store


class Services:
    """The store, one AI client per provider (made on first use) and the chat service."""

    def __init__(self, settings: Settings, data_dir: Path | None = None) -> None:
        self.settings = settings
        self.data_dir = data_dir or paths.data_dir()
        self.store = Store.open(self.data_dir)
        self.chat = ChatService(self.store, self.ai_client)
        self._clients: dict[str, AIClient] = {}
        self._lock = threading.Lock()

    def ai_client(self, provider: str) -> AIClient:
        """The client for a provider, with its key from the environment or the keyring."""
        with self._lock:
            client = self._clients.get(provider)
            if client is None:
                client = self._make_client(provider)
                self._clients[provider] = client
            return client

    def _make_client(self, provider: str) -> AIClient:
        key = credentials.get_api_key(provider) if provider in credentials.KNOWN_PROVIDERS else None
        backend = build_provider(
            provider,
            api_key=key.value if key else None,
            base_url=self.settings.base_url_for(provider),
            timeout_s=self.settings.request_timeout_s,
        )
        cache = None
        if self.settings.answer_cache:
            cache = AnswerCache(self.data_dir / CACHE_FILENAME)
        retry = RetryPolicy(max_attempts=self.settings.max_retries + 1)
        return AIClient(backend, cache=cache, retry=retry)

    def apply_settings(self, settings: Settings) -> None:
        """Use new settings; AI clients are rebuilt on next use (an answer under way stops)."""
        self.settings = settings
        self._close_clients()

    def _close_clients(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()

    def close(self) -> None:
        """Stop the AI clients' loops and close the store."""
        self._close_clients()
        self.store.close()

    def __enter__(self) -> Services:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
