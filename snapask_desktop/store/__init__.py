"""The local conversation store: SQLite (WAL) via SQLAlchemy, FTS5 search, screenshot blobs.

Use ``Store.open(data_dir)``; everything it returns is a frozen dataclass from ``records``.
``Store`` is imported on first use: the errors, records and ``peek`` (plain sqlite3) must not
pull SQLAlchemy into a process that only reads a few rows at start-up.
"""

from typing import TYPE_CHECKING, Any

from snapask_desktop.store.errors import (
    AmbiguousId,
    BlobCorrupt,
    BlobError,
    BlobMissing,
    CorruptDatabase,
    ImageRejected,
    InvalidInput,
    InvalidState,
    MigrationFailed,
    NotFound,
    NotOurDatabase,
    SchemaTooNew,
    StoreError,
)
from snapask_desktop.store.records import (
    ApplyReport,
    ConflictRecord,
    Conversation,
    ConversationDetail,
    ConversationSummary,
    HistoryCursor,
    Message,
    OutboxOp,
    ScreenshotInfo,
    SearchHit,
    SyncProblem,
)

if TYPE_CHECKING:
    from snapask_desktop.store.repository import Store


def __getattr__(name: str) -> Any:
    if name == "Store":
        from snapask_desktop.store.repository import Store

        return Store
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AmbiguousId",
    "ApplyReport",
    "BlobCorrupt",
    "BlobError",
    "BlobMissing",
    "ConflictRecord",
    "Conversation",
    "ConversationDetail",
    "ConversationSummary",
    "CorruptDatabase",
    "HistoryCursor",
    "ImageRejected",
    "InvalidInput",
    "InvalidState",
    "Message",
    "MigrationFailed",
    "NotFound",
    "NotOurDatabase",
    "OutboxOp",
    "SchemaTooNew",
    "ScreenshotInfo",
    "SearchHit",
    "Store",
    "StoreError",
    "SyncProblem",
]
