"""The pure core of encrypted accounts (docs/sync-protocol.md section 12; decision 0007).

Standard Notes' protocol 004 on libsodium: an Argon2id root key wraps random items keys,
which seal record payloads and chunked pictures with XChaCha20-Poly1305. No I/O, no keyring.
"""

from snapask_desktop.sync.crypto.blobs import (
    blob_id,
    blob_id_of_sha256,
    open_blob,
    open_blob_chunks,
    seal_blob,
)
from snapask_desktop.sync.crypto.errors import (
    CryptoError,
    Tampered,
    UnknownKey,
    UnsupportedVersion,
    WeakParameters,
    WrongPassphrase,
)
from snapask_desktop.sync.crypto.kdf import (
    KdfParams,
    RootKey,
    check_new_passphrase,
    derive_root_key,
    new_params,
)
from snapask_desktop.sync.crypto.keys import (
    ItemsKey,
    ItemsKeys,
    rewrap_items_keys,
    unwrap_items_key,
    wrap_items_key,
)
from snapask_desktop.sync.crypto.records import (
    RecordContext,
    open_record,
    seal_record,
    sealed_key_id,
)

__all__ = [
    "CryptoError",
    "ItemsKey",
    "ItemsKeys",
    "KdfParams",
    "RecordContext",
    "RootKey",
    "Tampered",
    "UnknownKey",
    "UnsupportedVersion",
    "WeakParameters",
    "WrongPassphrase",
    "blob_id",
    "blob_id_of_sha256",
    "check_new_passphrase",
    "derive_root_key",
    "new_params",
    "open_blob",
    "open_blob_chunks",
    "open_record",
    "rewrap_items_keys",
    "seal_blob",
    "seal_record",
    "sealed_key_id",
    "unwrap_items_key",
    "wrap_items_key",
]
