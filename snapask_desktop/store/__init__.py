"""The local conversation store: SQLite (WAL) via SQLAlchemy, FTS5 search, screenshot blobs.

Use ``Store.open(data_dir)``; everything it returns is a frozen dataclass from ``records``.
"""

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
    Conversation,
    ConversationDetail,
    ConversationSummary,
    HistoryCursor,
    Message,
    OutboxOp,
    ScreenshotInfo,
    SearchHit,
)
from snapask_desktop.store.repository import Store

__all__ = [
    "AmbiguousId",
    "BlobCorrupt",
    "BlobError",
    "BlobMissing",
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
]
