"""Sealed records and pictures refuse every alteration (sync-protocol.md 12.2, 12.3)."""

from __future__ import annotations

import hashlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snapask_desktop.sync.crypto import (
    CryptoError,
    ItemsKey,
    ItemsKeys,
    RecordContext,
    Tampered,
    UnknownKey,
    UnsupportedVersion,
    blob_id,
    open_blob,
    open_blob_chunks,
    open_record,
    seal_blob,
    seal_record,
)
from snapask_desktop.sync.crypto.aead import NONCE_BYTES
from snapask_desktop.sync.crypto.blobs import (
    CHUNK_OVERHEAD,
    HEADER_BYTES,
    blob_id_of_sha256,
    sealed_size,
)
from snapask_desktop.sync.crypto.records import OVERHEAD_BYTES
from tests.sync.crypto_support import flip, items_key, keys

FLIPS = settings(max_examples=300, deadline=None)
CONV_ID = "c4b241ed-5754-4db5-a971-53d2a2a9af53"
MSG_A = "e4b02264-de64-465f-811f-e29692d356f6"
MSG_B = "83ec4597-06e9-4703-8962-94d1945cc842"
SMALL_CHUNK = 1024  # many chunks from a small picture


def _payload(message_id: str, text: str) -> bytes:
    return json.dumps({"type": "message", "id": message_id, "text": text}).encode()


def _chunks(sealed: bytes, chunk: int = SMALL_CHUNK) -> tuple[bytes, list[bytes]]:
    step = chunk + CHUNK_OVERHEAD
    body = sealed[HEADER_BYTES:]
    return sealed[:HEADER_BYTES], [body[i : i + step] for i in range(0, len(body), step)]


# records ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ctx",
    [
        RecordContext("conversation", CONV_ID),
        RecordContext("conversation", CONV_ID, deleted_at=117637120000000000),
        RecordContext("message", MSG_A, conversation_id=CONV_ID),
        RecordContext("screenshot", "ab" * 32),
    ],
)
def test_a_sealed_record_opens_to_its_payload_and_hides_it(ctx: RecordContext) -> None:
    payload = _payload(MSG_A, "the distinctive words zebra-quartz-17")
    sealed = seal_record(items_key(), ctx, payload)
    assert len(sealed) == len(payload) + OVERHEAD_BYTES
    assert b"zebra-quartz" not in sealed
    assert open_record(keys(), ctx, sealed) == payload


def test_sealing_the_same_payload_twice_uses_two_nonces() -> None:
    ctx = RecordContext("message", MSG_A, conversation_id=CONV_ID)
    first, second = (seal_record(items_key(), ctx, b"same") for _ in range(2))
    assert first[17 : 17 + NONCE_BYTES] != second[17 : 17 + NONCE_BYTES]
    assert first != second


def test_two_records_swapped_by_the_server_are_both_refused() -> None:
    a, b = (
        RecordContext("message", MSG_A, conversation_id=CONV_ID),
        RecordContext("message", MSG_B, conversation_id=CONV_ID),
    )
    sealed_a = seal_record(items_key(), a, _payload(MSG_A, "yes, delete it"))
    sealed_b = seal_record(items_key(), b, _payload(MSG_B, "no, keep it"))
    with pytest.raises(Tampered, match=f"message {MSG_B}"):
        open_record(keys(), b, sealed_a)
    with pytest.raises(Tampered, match=f"message {MSG_A}"):
        open_record(keys(), a, sealed_b)


@pytest.mark.parametrize(
    ("sealed_as", "opened_as"),
    [
        (
            RecordContext("message", MSG_A, conversation_id=CONV_ID),
            RecordContext("message", MSG_B, conversation_id=CONV_ID),
        ),  # id
        (
            RecordContext("conversation", MSG_A),
            RecordContext("message", MSG_A, conversation_id=CONV_ID),
        ),  # kind
        (RecordContext("conversation", CONV_ID), RecordContext("conversation", CONV_ID, 5)),
        (RecordContext("conversation", CONV_ID, 5), RecordContext("conversation", CONV_ID)),
        (RecordContext("conversation", CONV_ID, 5), RecordContext("conversation", CONV_ID, 6)),
        (
            RecordContext("message", MSG_A, conversation_id=CONV_ID),
            RecordContext("message", MSG_A, conversation_id=MSG_B),
        ),
        (RecordContext("screenshot", "ab" * 32), RecordContext("picture_text", "ab" * 32)),
    ],
    ids=[
        "record id",
        "kind",
        "deleted_at added",
        "deleted_at removed",
        "deleted_at moved",
        "message moved to another conversation",
        "picture record read as its text",
    ],
)
def test_changed_clear_metadata_is_refused(
    sealed_as: RecordContext, opened_as: RecordContext
) -> None:
    sealed = seal_record(items_key(), sealed_as, b"{}")
    with pytest.raises(Tampered):
        open_record(keys(), opened_as, sealed)


def test_a_changed_version_byte_is_refused_as_unknown_or_tampered() -> None:
    ctx = RecordContext("message", MSG_A, conversation_id=CONV_ID)
    sealed = seal_record(items_key(), ctx, b"{}")
    for version in (0, 2, 255):  # older or newer formats are never read
        with pytest.raises(UnsupportedVersion, match=f"format {version}"):
            open_record(keys(), ctx, bytes([version]) + sealed[1:])


def test_a_header_naming_another_held_key_is_refused() -> None:
    other = ItemsKey.generate(generation=1)
    both = ItemsKeys([items_key(), other])
    ctx = RecordContext("message", MSG_A, conversation_id=CONV_ID)
    sealed = seal_record(items_key(), ctx, b"{}")
    with pytest.raises(Tampered):
        open_record(both, ctx, sealed[:1] + other.key_id + sealed[17:])
    with pytest.raises(UnknownKey):
        open_record(keys(), ctx, sealed[:1] + b"\x00" * 16 + sealed[17:])


def test_a_record_sealed_for_another_account_does_not_open() -> None:
    stranger = ItemsKey(key_id=items_key().key_id, key=ItemsKey.generate().key)
    ctx = RecordContext("message", MSG_A, conversation_id=CONV_ID)
    with pytest.raises(Tampered):
        open_record(keys(), ctx, seal_record(stranger, ctx, b"{}"))


@FLIPS
@given(st.binary(max_size=300), st.data())
def test_any_flipped_bit_of_a_sealed_record_is_refused(payload: bytes, data: st.DataObject) -> None:
    ctx = RecordContext("conversation", CONV_ID, deleted_at=42)
    sealed = seal_record(items_key(), ctx, payload)
    bit = data.draw(st.integers(0, len(sealed) * 8 - 1))
    with pytest.raises(CryptoError):
        open_record(keys(), ctx, flip(sealed, bit))


@FLIPS
@given(st.binary(max_size=100), st.data())
def test_a_cut_or_extended_sealed_record_is_refused(payload: bytes, data: st.DataObject) -> None:
    ctx = RecordContext("message", MSG_A, conversation_id=CONV_ID)
    sealed = seal_record(items_key(), ctx, payload)
    cut = data.draw(st.integers(0, len(sealed) - 1))
    with pytest.raises(CryptoError):
        open_record(keys(), ctx, sealed[:cut])
    with pytest.raises(CryptoError):
        open_record(keys(), ctx, sealed + data.draw(st.binary(min_size=1, max_size=20)))


def test_a_record_context_is_checked() -> None:
    with pytest.raises(ValueError, match="kind"):
        RecordContext("purge", CONV_ID)
    with pytest.raises(ValueError, match="deleted_at"):
        RecordContext("message", MSG_A, deleted_at=5)
    with pytest.raises(ValueError, match="record id"):
        RecordContext("message", "", conversation_id=CONV_ID)
    with pytest.raises(ValueError, match="conversation_id"):
        RecordContext("message", MSG_A)
    with pytest.raises(ValueError, match="conversation_id"):
        RecordContext("conversation", CONV_ID, conversation_id=CONV_ID)


# pictures --------------------------------------------------------------------------------

PICTURE = bytes(range(256)) * 16 + b"the distinctive words zebra-quartz-17"  # 5 chunks of 1 KiB


@pytest.mark.parametrize(
    "size", [0, 1, SMALL_CHUNK - 1, SMALL_CHUNK, SMALL_CHUNK + 1, 3 * SMALL_CHUNK, 300_000]
)
def test_a_sealed_picture_opens_to_its_bytes(size: int) -> None:
    picture = (PICTURE * (size // len(PICTURE) + 1))[:size]
    bid, sealed = seal_blob(items_key(), picture, SMALL_CHUNK)
    assert len(sealed) == sealed_size(size, SMALL_CHUNK)
    assert open_blob(keys(), bid, sealed) == picture


def test_a_picture_with_the_default_chunks_hides_its_bytes() -> None:
    bid, sealed = seal_blob(items_key(), PICTURE)
    assert b"zebra-quartz" not in sealed
    assert open_blob(keys(), bid, sealed) == PICTURE


def test_the_blob_id_deduplicates_but_cannot_be_guessed_without_the_key() -> None:
    bid, _ = seal_blob(items_key(), PICTURE)
    assert bid == blob_id(items_key(), PICTURE) == seal_blob(items_key(), PICTURE)[0]
    assert len(bid) == 64 and bid == bid.lower()
    assert bid != blob_id(ItemsKey.generate(), PICTURE)  # another account, another id
    # The server can hash a guessed picture itself; none of these is the id.
    assert bid not in {
        hashlib.sha256(PICTURE).hexdigest(),
        hashlib.blake2b(PICTURE, digest_size=32).hexdigest(),
        hashlib.blake2b(PICTURE, digest_size=32, key=items_key().key).hexdigest(),
        hashlib.blake2b(hashlib.sha256(PICTURE).digest(), digest_size=32).hexdigest(),
    }


def test_a_device_maps_the_sha256_its_store_keeps_to_the_blob_id() -> None:
    sha = hashlib.sha256(PICTURE).hexdigest()
    assert blob_id_of_sha256(items_key(), sha) == blob_id(items_key(), PICTURE)
    assert blob_id_of_sha256(ItemsKey.generate(), sha) != blob_id(items_key(), PICTURE)


def _broken_sequences() -> list[tuple[str, list[int]]]:
    return [
        ("last chunk dropped (truncated)", [0, 1, 2, 3]),
        ("first chunk dropped", [1, 2, 3, 4]),
        ("two chunks swapped", [1, 0, 2, 3, 4]),
        ("a chunk duplicated", [0, 0, 2, 3, 4]),
        ("a chunk repeated in the middle", [0, 1, 1, 2, 3, 4]),
        ("the final chunk appended twice", [0, 1, 2, 3, 4, 4]),
        ("only the final chunk", [4]),
    ]


@pytest.mark.parametrize(("name", "order"), _broken_sequences(), ids=lambda v: str(v))
def test_truncated_reordered_or_duplicated_chunks_are_refused(name: str, order: list[int]) -> None:
    bid, sealed = seal_blob(items_key(), PICTURE, SMALL_CHUNK)
    header, chunks = _chunks(sealed)
    assert len(chunks) == 5
    broken = header + b"".join(chunks[i] for i in order)
    with pytest.raises(Tampered, match="picture"):
        open_blob(keys(), bid, broken)
    # The chunks alone refuse it too (index and final flag), before any whole-blob check:
    # what a viewer streaming the picture relies on.
    with pytest.raises(Tampered, match="picture"):
        list(open_blob_chunks(keys(), bid, broken))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 4), min_size=0, max_size=7))
def test_any_other_sequence_of_the_chunks_is_refused(order: list[int]) -> None:
    bid, sealed = seal_blob(items_key(), PICTURE, SMALL_CHUNK)
    header, chunks = _chunks(sealed)
    if order == [0, 1, 2, 3, 4]:
        assert open_blob(keys(), bid, header + b"".join(chunks)) == PICTURE
        return
    with pytest.raises(CryptoError):
        open_blob(keys(), bid, header + b"".join(chunks[i] for i in order))


def test_a_chunk_spliced_from_another_picture_is_refused() -> None:
    other_picture = PICTURE[::-1]
    bid, sealed = seal_blob(items_key(), PICTURE, SMALL_CHUNK)
    _, other = seal_blob(items_key(), other_picture, SMALL_CHUNK)
    header, chunks = _chunks(sealed)
    _, other_chunks = _chunks(other)
    chunks[2] = other_chunks[2]  # same index, same key, same length
    with pytest.raises(Tampered):
        open_blob(keys(), bid, header + b"".join(chunks))


def test_a_picture_asked_for_under_another_id_is_refused() -> None:
    _, sealed = seal_blob(items_key(), PICTURE, SMALL_CHUNK)
    with pytest.raises(Tampered):
        open_blob(keys(), blob_id(items_key(), b"another picture"), sealed)


def test_a_changed_chunk_size_or_version_in_the_header_is_refused() -> None:
    bid, sealed = seal_blob(items_key(), PICTURE, SMALL_CHUNK)
    for size in (SMALL_CHUNK * 2, 512, 1 << 30):  # in range but wrong, and out of range
        altered = sealed[:17] + size.to_bytes(4, "big") + sealed[HEADER_BYTES:]
        with pytest.raises(Tampered):
            open_blob(keys(), bid, altered)
    with pytest.raises(UnsupportedVersion):
        open_blob(keys(), bid, b"\x02" + sealed[1:])
    with pytest.raises(Tampered):
        open_blob(keys(), bid, sealed[:HEADER_BYTES])
    with pytest.raises(Tampered):
        open_blob(keys(), bid, b"")


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_any_flipped_bit_of_a_sealed_picture_is_refused(data: st.DataObject) -> None:
    bid, sealed = seal_blob(items_key(), PICTURE[:3000], SMALL_CHUNK)
    bit = data.draw(st.integers(0, len(sealed) * 8 - 1))
    with pytest.raises(CryptoError):
        open_blob(keys(), bid, flip(sealed, bit))


def test_a_chunk_size_out_of_range_is_not_sealed() -> None:
    with pytest.raises(ValueError):
        seal_blob(items_key(), PICTURE, 100)
