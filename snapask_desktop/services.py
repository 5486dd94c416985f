"""Building the headless services from settings: store, AI clients, chat. No Qt here.

The CLI uses this directly; the tray app's composition root (`app.py`) builds on it. The store
is opened on first use (SQLAlchemy alone is ~45 MB and ~250 ms): an idle tray app reads its few
start-up rows through `store.peek`, and an idle sync session its cursor and outbox through
`store.lite`, and never holds the ORM.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from snapask_desktop import credentials, paths
from snapask_desktop.ai.registry import OPENAI, REGISTRY, PictureMode
from snapask_desktop.chat import ChatService
from snapask_desktop.config import Settings
from snapask_desktop.picture_text import PictureText
from snapask_desktop.store import lite, peek
from snapask_desktop.store.records import ConversationSummary, OutboxOp
from snapask_desktop.store.schema import DB_FILENAME
from snapask_desktop.sync.clock import wall_clock_ms

# The AI client (asyncio, httpx, Pillow, tenacity) and the store (SQLAlchemy) are imported
# when first used, not with the services.
if TYPE_CHECKING:
    from snapask_desktop.ai.client import AIClient
    from snapask_desktop.store.repository import Store

log = logging.getLogger(__name__)
T = TypeVar("T")


class LazyStore:
    """A `Store` opened on first use, once, from whichever thread needs it first.

    Any attribute other than the ones below opens the store and is looked up on it, so code
    written for a Store takes this unchanged. A failed open raises to that caller and is tried
    again on the next use (e.g. after the user moved a foreign file away).
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.path = data_dir / DB_FILENAME
        self._store: Store | None = None
        self._open_lock = threading.Lock()  # held while opening: later users wait for it
        self._state_lock = threading.Lock()  # only for the two fields below: never held long
        self._warming: threading.Thread | None = None
        self._closed = False
        self._on_open: list[Callable[[Store], None]] = []
        self._listeners: list[Callable[[], None]] = []  # given to the store when it opens
        self._device_id: str | None = None

    def on_open(self, callback: Callable[[Store], None]) -> None:
        """Call `callback(store)` once the store is opened (on the thread that opened it)."""
        self._on_open.append(callback)

    @property
    def is_open(self) -> bool:
        """True once the store is open (reading it then costs no import or migration)."""
        return self._store is not None

    def get(self) -> Store:
        """The open store, opening (creating or upgrading) it now if needed."""
        store = self._store
        if store is not None:
            return store
        with self._open_lock:
            if self._closed:
                from snapask_desktop.store.errors import StoreError

                # A worker that outlived shutdown must not reopen the database.
                raise StoreError("SnapAsk is shutting down: the conversation store is closed")
            if self._store is None:
                from snapask_desktop.store.repository import Store

                store = Store.open(self.data_dir)
                for listener in self._listeners:
                    store.add_change_listener(listener)
                self._store = store
                for callback in self._on_open:
                    callback(self._store)
            return self._store

    def warm(self) -> None:
        """Open the store on a background thread now (once) if it isn't open yet; never waits."""
        with self._state_lock:
            if self._store is not None or self._warming is not None or self._closed:
                return
            self._warming = threading.Thread(target=self._warm, name="snapask-store-open")
            self._warming.daemon = True
            self._warming.start()

    def _warm(self) -> None:
        try:
            self.get()
        except Exception as error:  # the real use reports it; here it is only an early start
            log.warning("could not open the store ahead of use: %s", error)
        finally:
            with self._state_lock:
                self._warming = None

    def wait_warm(self, timeout_s: float | None = None) -> bool:
        """Wait for a warm-up under way; True when none is running any more."""
        thread = self._warming
        if thread is not None:
            thread.join(timeout_s)
            return not thread.is_alive()
        return True

    def recent(self, limit: int = 5, pinned_first: bool = False) -> list[ConversationSummary]:
        """The newest visible conversations (`pinned_first`: pinned ones first, for the tray's
        list): the open store's, else read from the file without opening the store (an old or
        damaged file is opened, upgraded or recovered instead)."""
        store = self._store
        if store is None:
            try:
                return peek.recent_conversations(self.path, limit, pinned_first=pinned_first)
            except peek.PeekUnavailable as error:
                log.info("reading the store for the recent list: %s", error)
                store = self.get()
        newest = store.list_conversations(limit=limit)
        if not pinned_first:
            return newest
        pinned = store.pinned_conversations(limit=limit)
        return (pinned + [row for row in newest if not row.pinned])[:limit]

    # -- the sync engine's idle path: plain sqlite3 until there is something to send or apply

    def _light(self, read: Callable[[], T], full: Callable[[Store], T]) -> T:
        """`read()` through `store.lite` while the store is closed, else (or when the file needs
        the full store) `full(store)`."""
        store = self._store
        if store is None:
            try:
                return read()
            except peek.PeekUnavailable as error:
                log.info("sync needs the full store: %s", error)
                store = self.get()
        return full(store)

    @property
    def device_id(self) -> str:
        """This device's stable id (the store makes one on first open)."""
        if self._device_id is None:
            found = self._light(lambda: lite.device_id(self.path), lambda store: store.device_id)
            self._device_id = found if found is not None else self.get().device_id
        return self._device_id

    def sync_cursor(self) -> int:
        """As `Store.sync_cursor`."""
        return self._light(lambda: lite.sync_cursor(self.path), lambda store: store.sync_cursor())

    def outbox_count(self) -> int:
        """As `Store.outbox_count`."""
        return self._light(lambda: lite.outbox_count(self.path), lambda s: s.outbox_count())

    def outbox_pending(self, limit: int = 100) -> list[OutboxOp]:
        """As `Store.outbox_pending`; an empty outbox is found without opening the store."""
        if self._store is None and self.outbox_count() == 0:
            return []
        return self.get().outbox_pending(limit)

    def search_backlog(self) -> int:
        """As `Store.search_backlog`."""
        return self._light(lambda: lite.search_backlog(self.path), lambda s: s.search_backlog())

    def index_search_backlog(self) -> int:
        """As `Store.index_search_backlog`; with nothing to index the store stays closed."""
        if self.search_backlog() == 0:
            return 0
        return self.get().index_search_backlog()

    def mark_synced(self, at_ms: int | None = None) -> None:
        """As `Store.mark_synced`."""
        when = wall_clock_ms() if at_ms is None else at_ms
        self._light(lambda: lite.mark_synced(self.path, when), lambda s: s.mark_synced(when))

    def add_change_listener(self, listener: Callable[[], None]) -> None:
        """As `Store.add_change_listener`, without opening the store: only an open store has
        local changes, and it gets the listener when it opens."""
        with self._open_lock:
            self._listeners.append(listener)
            if self._store is not None:
                self._store.add_change_listener(listener)

    def remove_change_listener(self, listener: Callable[[], None]) -> None:
        """As `Store.remove_change_listener`."""
        with self._open_lock:
            if listener in self._listeners:
                self._listeners.remove(listener)
            if self._store is not None:
                self._store.remove_change_listener(listener)

    def close(self) -> None:
        """Close the store if it was opened (a warm-up under way finishes first)."""
        with self._state_lock:
            self._closed = True  # no new warm-ups, and get() refuses from now on
        self.wait_warm()
        with self._open_lock:
            store = self._store
        if store is not None:
            store.close()

    def __getattr__(self, name: str) -> Any:
        # Only reached for names this class doesn't define: the Store's public API. Private and
        # special names never open it (copy, pickle and half-built objects look those up).
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.get(), name)


def _inputs(settings: Settings, provider: str) -> tuple[object, ...]:
    """What an AI client is built from (besides the key)."""
    return (
        settings.base_url_for(provider),
        settings.request_timeout_s,
        settings.max_retries,
        settings.answer_cache,
        settings.openai_pictures if provider == OPENAI.name else None,
    )


class Services:
    """The store (opened on first use), one AI client per provider (made on first use) and the
    chat service."""

    def __init__(self, settings: Settings, data_dir: Path | None = None) -> None:
        self.settings = settings
        self.data_dir = data_dir or paths.data_dir()
        self.lazy_store = LazyStore(self.data_dir)
        # Typed as the Store it stands for: every Store method works on it (and opens it).
        self.store = cast("Store", self.lazy_store)
        self.pictures = PictureText(lambda: self.settings)
        self.chat = ChatService(self.store, self.ai_client, self.pictures)
        self._clients: dict[str, AIClient] = {}
        self._retired: list[AIClient] = []
        self._lock = threading.Lock()

    def ai_client(self, provider: str) -> AIClient:
        """The client for a provider, with its key from the environment or the keyring."""
        with self._lock:
            client = self._clients.get(provider)
        if client is not None:
            return client
        # Built outside the lock: the keyring may wait for the user to unlock it.
        fresh = self._make_client(provider)
        with self._lock:
            client = self._clients.setdefault(provider, fresh)
        if client is not fresh:
            fresh.close()  # another thread was quicker
        return client

    def _make_client(self, provider: str) -> AIClient:
        from snapask_desktop.ai.cache import CACHE_FILENAME, AnswerCache
        from snapask_desktop.ai.client import AIClient, build_provider
        from snapask_desktop.ai.resilience import RetryPolicy

        key = credentials.get_api_key(provider) if provider in REGISTRY else None
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
        pictures: PictureMode = "send"  # Gemini reads pictures
        if provider == OPENAI.name:
            pictures = self.settings.openai_pictures
        return AIClient(backend, cache=cache, retry=retry, pictures=pictures)

    def apply_settings(self, settings: Settings, key_changed_for: str | None = None) -> None:
        """Use new settings. A client whose inputs changed (or whose key did) is rebuilt on next
        use; the old one is retired, not closed, so an answer under way finishes."""
        old, self.settings = self.settings, settings
        with self._lock:
            for provider in list(self._clients):
                if provider == key_changed_for or _inputs(old, provider) != _inputs(
                    settings, provider
                ):
                    self._retired.append(self._clients.pop(provider))

    def clear_answer_cache(self) -> int:
        """Empty the answer cache file (even when the cache is switched off); entries removed."""
        from snapask_desktop.ai.cache import CACHE_FILENAME, AnswerCache

        cache = AnswerCache(self.data_dir / CACHE_FILENAME)
        try:
            return cache.clear()
        finally:
            cache.close()

    def _close_clients(self) -> None:
        with self._lock:
            clients = [*self._clients.values(), *self._retired]
            self._clients, self._retired = {}, []
        for client in clients:
            client.close()

    def close(self) -> None:
        """Stop the AI clients' loops, finish reading pictures' text and close the store."""
        self._close_clients()
        self.pictures.close()
        self.lazy_store.close()

    def __enter__(self) -> Services:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
