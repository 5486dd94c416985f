"""Every number of the sync protocol (docs/sync-protocol.md section 7), shared by both sides."""

from __future__ import annotations

from typing import Final

PROTOCOL_VERSION: Final = 1

# Frames and pages
MAX_FRAME_BYTES: Final = 8 * 1024 * 1024
MAX_OPS_PER_PUSH: Final = 100
DEFAULT_PAGE_CHANGES: Final = 500
MAX_PAGE_CHANGES: Final = 1000
MAX_PAGE_BYTES: Final = 4 * 1024 * 1024

# Blobs (MAX_BLOB_BYTES matches the store's largest accepted picture)
MAX_BLOB_BYTES: Final = 50 * 1024 * 1024
BLOB_CHUNK_BYTES: Final = 4 * 1024 * 1024

# Encrypted accounts (section 12): a sealed payload is the record's JSON (UTF-8) plus 57 bytes;
# a sealed picture counts against MAX_BLOB_BYTES with its 21-byte header and 40 bytes a chunk.
MAX_SEALED_BYTES: Final = 2 * 1024 * 1024
MIN_SEALED_BYTES: Final = 57  # version, key id, nonce and tag around an empty payload
MAX_ITEMS_KEYS: Final = 64  # wrapped items keys in one account's key record

# Connections
FRAMES_PER_SECOND: Final = 50
FRAME_BURST: Final = 100
MAX_CONNECTIONS_PER_USER: Final = 20
HELLO_TIMEOUT_MS: Final = 10_000
MAX_DRIFT_MS: Final = 5 * 60 * 1000  # the default; a server announces its own

# Field sizes (characters unless the name says bytes)
MAX_TITLE_CHARS: Final = 500
MAX_TEXT_CHARS: Final = 200_000
MAX_MODEL_CHARS: Final = 200
MAX_DEVICE_ID_CHARS: Final = 64
MAX_REQUEST_ID_CHARS: Final = 64
MAX_CLIENT_CHARS: Final = 100
MAX_ERROR_MESSAGE_CHARS: Final = 1000
MAX_VV_ENTRIES: Final = 1000
MAX_IMAGE_SIDE: Final = 65_535
MAX_PURGE_SCREENSHOTS: Final = 1000
MAX_DELETED_CONVERSATIONS: Final = 1000  # conversations one `deleted` frame confirms (12.12)
MAX_HTTP_BODY_BYTES: Final = 16 * 1024
MAX_USER_CHARS: Final = 100
MAX_PASSWORD_CHARS: Final = 1000
MAX_DEVICE_NAME_CHARS: Final = 100
MAX_TOKEN_CHARS: Final = 200

# Integer ranges: JSON-safe integers everywhere except HLC stamps (64-bit).
MAX_SAFE_INT: Final = 2**53 - 1
MAX_HLC: Final = 2**63 - 1

# Tombstones and retries
TOMBSTONE_MIN_AGE_MS: Final = 30 * 24 * 60 * 60 * 1000
RETRY_BASE_MS: Final = 1000
RETRY_MAX_MS: Final = 60_000
CLOCK_SKEW_RETRY_MS: Final = 60_000
ACK_TIMEOUT_MS: Final = 30_000
