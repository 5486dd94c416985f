"""Sealed pictures: chunked XChaCha20-Poly1305 with a keyed blob id (section 12.3).

Each chunk's associated data holds its index and a final flag (the STREAM construction of
Hoang, Reyhanitabar, Rogaway and Vizár), so a truncated, reordered, duplicated or spliced
blob fails to open instead of yielding part of a picture.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator

import nacl.encoding
import nacl.hash

from snapask_desktop.sync.crypto import aead
from snapask_desktop.sync.crypto.aead import (
    FORMAT_VERSION,
    KEY_ID_BYTES,
    NONCE_BYTES,
    SUPPORTED_VERSIONS,
    TAG_BYTES,
)
from snapask_desktop.sync.crypto.errors import Tampered, UnsupportedVersion
from snapask_desktop.sync.crypto.keys import ItemsKey, ItemsKeys

CHUNK_BYTES = 64 * 1024
MIN_CHUNK_BYTES = 1024
MAX_CHUNK_BYTES = 4 * 1024 * 1024
HEADER_BYTES = 1 + KEY_ID_BYTES + 4  # version, key id, chunk size
CHUNK_OVERHEAD = NONCE_BYTES + TAG_BYTES  # 40
BLOB_ID_BYTES = 32
_LABEL = "snapask.blob-chunk"


def blob_id(key: ItemsKey, plaintext: bytes) -> str:
    """Keyed BLAKE2b-256 of the picture's SHA-256, hex: devices deduplicate, the server cannot
    confirm a guessed picture by hashing it."""
    return blob_id_of_sha256(key, hashlib.sha256(plaintext).hexdigest())


def blob_id_of_sha256(key: ItemsKey, sha256: str) -> str:
    """The blob id of the picture whose SHA-256 is `sha256` (hex): a device maps the hash its
    store keys pictures by to the id the server sees without reading the picture again."""
    return nacl.hash.blake2b(
        bytes.fromhex(sha256),
        digest_size=BLOB_ID_BYTES,
        key=key.blob_id_key(),
        encoder=nacl.encoding.HexEncoder,
    ).decode("ascii")


def sealed_size(plain_size: int, chunk_bytes: int = CHUNK_BYTES) -> int:
    """Bytes of the sealed blob for a picture of `plain_size` bytes."""
    chunks = max(1, -(-plain_size // chunk_bytes))
    return HEADER_BYTES + plain_size + chunks * CHUNK_OVERHEAD


def _chunk_ad(
    key_id: bytes, version: int, bid: str, chunk_bytes: int, index: int, final: bool
) -> bytes:
    return aead.encode_ad(_LABEL, version, key_id, bid, chunk_bytes, index, int(final))


def seal_blob(key: ItemsKey, plaintext: bytes, chunk_bytes: int = CHUNK_BYTES) -> tuple[str, bytes]:
    """(blob id, sealed bytes): a header, then each chunk with its own nonce and tag."""
    if not MIN_CHUNK_BYTES <= chunk_bytes <= MAX_CHUNK_BYTES:
        raise ValueError("chunk size out of range")
    bid = blob_id(key, plaintext)
    out = [bytes([FORMAT_VERSION]), key.key_id, chunk_bytes.to_bytes(4, "big")]
    starts = range(0, max(len(plaintext), 1), chunk_bytes)
    last = len(starts) - 1
    for index, start in enumerate(starts):
        ad = _chunk_ad(key.key_id, FORMAT_VERSION, bid, chunk_bytes, index, index == last)
        out.append(aead.seal(key.key, plaintext[start : start + chunk_bytes], ad))
    return bid, b"".join(out)


def open_blob_chunks(keys: ItemsKeys, bid: str, sealed: bytes) -> Iterator[bytes]:
    """Each chunk's plaintext once authenticated, in order; a stream cut short fails at its
    end by the final flag alone (open_blob also checks the id of the whole)."""
    what = f"The picture {bid[:12]}"
    if not sealed:
        raise Tampered(what)
    if sealed[0] not in SUPPORTED_VERSIONS:
        raise UnsupportedVersion(what, sealed[0])
    if len(sealed) < HEADER_BYTES + CHUNK_OVERHEAD:
        raise Tampered(what)
    version = sealed[0]
    key = keys.get(sealed[1 : 1 + KEY_ID_BYTES])
    chunk_bytes = int.from_bytes(sealed[1 + KEY_ID_BYTES : HEADER_BYTES], "big")
    if not MIN_CHUNK_BYTES <= chunk_bytes <= MAX_CHUNK_BYTES:
        raise Tampered(what)
    step = chunk_bytes + CHUNK_OVERHEAD
    body = memoryview(sealed)[HEADER_BYTES:]
    # Every chunk but the last is full, so the length alone says where each one ends; the
    # last piece, short or full, must then open as the final chunk.
    count = max(1, -(-len(body) // step))
    for index in range(count):
        piece = bytes(body[index * step : (index + 1) * step])
        ad = _chunk_ad(key.key_id, version, bid, chunk_bytes, index, index == count - 1)
        yield aead.open_(key.key, piece, ad, what)


def open_blob(keys: ItemsKeys, bid: str, sealed: bytes) -> bytes:
    """The picture whose id is `bid`, or Tampered / UnsupportedVersion / UnknownKey."""
    plaintext = b"".join(open_blob_chunks(keys, bid, sealed))
    # The chunks authenticate the id they were sealed under; this catches a sealing bug.
    key = keys.get(sealed[1 : 1 + KEY_ID_BYTES])
    if not hmac.compare_digest(blob_id(key, plaintext), bid):
        raise Tampered(f"The picture {bid[:12]}")
    return plaintext
