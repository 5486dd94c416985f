"""Items keys: random keys that seal records and pictures, wrapped by the root key.

A passphrase change re-wraps them (nothing is re-encrypted); a rotation adds a key of the next
generation, which seals from then on, and keeps the old ones for opening until nothing names
them. The generation is authenticated with the key, so the server cannot make devices go on
sealing with a key the user rotated away from.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import nacl.encoding
import nacl.hash
import nacl.utils

from snapask_desktop.sync.crypto import aead
from snapask_desktop.sync.crypto.aead import (
    FORMAT_VERSION,
    KEY_BYTES,
    KEY_ID_BYTES,
    NONCE_BYTES,
    SUPPORTED_VERSIONS,
    TAG_BYTES,
)
from snapask_desktop.sync.crypto.errors import (
    Tampered,
    UnknownKey,
    UnsupportedVersion,
    WrongPassphrase,
)
from snapask_desktop.sync.crypto.kdf import RootKey

GENERATION_BYTES = 4
MAX_GENERATION = (1 << 32) - 1
WRAPPED_BYTES = 1 + KEY_ID_BYTES + GENERATION_BYTES + NONCE_BYTES + KEY_BYTES + TAG_BYTES  # 93
_HEADER_BYTES = 1 + KEY_ID_BYTES + GENERATION_BYTES
_ITEMS_KEY_LABEL = "snapask.items-key"
_BLOB_ID_PERSON = b"snapask.blobid"


@dataclass(frozen=True, slots=True)
class ItemsKey:
    """One items key, its id and its generation (0, then +1 per rotation); `repr` hides the key."""

    key_id: bytes
    key: bytes = field(repr=False)
    generation: int = 0

    def __post_init__(self) -> None:
        if len(self.key_id) != KEY_ID_BYTES or len(self.key) != KEY_BYTES:
            raise ValueError("an items key is a 16-byte id and a 32-byte key")
        if not 0 <= self.generation <= MAX_GENERATION:
            raise ValueError("an items key's generation is 0 to 2**32 - 1")

    @classmethod
    def generate(cls, generation: int = 0) -> ItemsKey:
        return cls(
            key_id=nacl.utils.random(KEY_ID_BYTES),
            key=nacl.utils.random(KEY_BYTES),
            generation=generation,
        )

    def blob_id_key(self) -> bytes:
        """A separate key for blob ids, so the hash key is never also an encryption key."""
        return nacl.hash.blake2b(
            b"",
            digest_size=32,
            key=self.key,
            person=_BLOB_ID_PERSON,
            encoder=nacl.encoding.RawEncoder,
        )


def _wrap_ad(root: RootKey, header: bytes) -> bytes:
    params = root.params
    return aead.encode_ad(_ITEMS_KEY_LABEL, header, params.opslimit, params.memlimit, params.salt)


def wrap_items_key(root: RootKey, items_key: ItemsKey) -> bytes:
    """version || key id || generation || nonce || sealed key: 93 bytes for the key record."""
    header = (
        bytes([FORMAT_VERSION])
        + items_key.key_id
        + items_key.generation.to_bytes(GENERATION_BYTES, "big")
    )
    return header + aead.seal(root.key, items_key.key, _wrap_ad(root, header))


def unwrap_items_key(root: RootKey, wrapped: bytes) -> ItemsKey:
    """The items key, or WrongPassphrase (also what an altered key record looks like)."""
    if not wrapped:
        raise Tampered("The account's key record")
    if wrapped[0] not in SUPPORTED_VERSIONS:
        raise UnsupportedVersion("The account's key record", wrapped[0])
    if len(wrapped) != WRAPPED_BYTES:
        raise Tampered("The account's key record")
    header = wrapped[:_HEADER_BYTES]
    try:
        key = aead.open_(root.key, wrapped[_HEADER_BYTES:], _wrap_ad(root, header), "key")
    except Tampered:
        raise WrongPassphrase() from None
    generation = int.from_bytes(header[1 + KEY_ID_BYTES :], "big")
    return ItemsKey(key_id=header[1 : 1 + KEY_ID_BYTES], key=key, generation=generation)


def rewrap_items_keys(old: RootKey, new: RootKey, wrapped: Iterable[bytes]) -> list[bytes]:
    """A passphrase change: the same items keys under the new root key; no data re-sealed."""
    return [wrap_items_key(new, unwrap_items_key(old, w)) for w in wrapped]


class ItemsKeys:
    """The items keys a device holds: the newest generation seals, any of them opens."""

    def __init__(self, keys: Iterable[ItemsKey]) -> None:
        self._keys = {k.key_id: k for k in keys}
        if not self._keys:
            raise ValueError("an account has at least one items key")
        newest = max(k.generation for k in self._keys.values())
        current = [k for k in self._keys.values() if k.generation == newest]
        if len(current) != 1:  # two keys of one generation: a rotation raced on two devices
            raise ValueError(f"{len(current)} items keys of generation {newest}")
        self._current = current[0]

    def __repr__(self) -> str:
        return f"ItemsKeys({len(self._keys)} keys, current={self._current.key_id.hex()})"

    def __iter__(self) -> Iterator[ItemsKey]:
        return iter(self._keys.values())

    def __len__(self) -> int:
        return len(self._keys)

    @property
    def current(self) -> ItemsKey:
        return self._current

    def get(self, key_id: bytes) -> ItemsKey:
        """The key with this id, or UnknownKey (rotated on another device: fetch the record)."""
        try:
            return self._keys[key_id]
        except KeyError:
            raise UnknownKey(key_id) from None

    def rotate(self) -> ItemsKeys:
        """A key of the next generation seals from now; the old ones stay to open (lazily)."""
        new = ItemsKey.generate(self._current.generation + 1)
        return ItemsKeys([*self._keys.values(), new])

    def without(self, key_id: bytes) -> ItemsKeys:
        """Drop a retired key once no stored record names it; the current key cannot go."""
        if key_id == self._current.key_id:
            raise ValueError("the current items key cannot be dropped")
        return ItemsKeys([k for k in self._keys.values() if k.key_id != key_id])
