"""The primitives under the encryption core against published vectors and an independent
implementation: a libsodium or binding fault would fail here, not in the field."""

from __future__ import annotations

import hashlib

import nacl.bindings as sodium
import nacl.encoding
import nacl.hash
import pytest

from snapask_desktop.sync.crypto import ItemsKey, aead, derive_root_key
from snapask_desktop.sync.crypto.errors import Tampered
from tests.sync.crypto_support import PASSPHRASE, flip, min_params

# draft-irtf-cfrg-xchacha-03, Appendix A.3.1 (AEAD_XChaCha20_Poly1305).
XCHACHA_KEY = bytes.fromhex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f")
XCHACHA_NONCE = bytes.fromhex("404142434445464748494a4b4c4d4e4f5051525354555657")
XCHACHA_AAD = bytes.fromhex("50515253c0c1c2c3c4c5c6c7")
XCHACHA_PLAINTEXT = (
    b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the "
    b"future, sunscreen would be it."
)
XCHACHA_CIPHERTEXT = bytes.fromhex(
    "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb"
    "731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452"
    "2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9"
    "21f9664c97637da9768812f615c68b13b52e"
)
XCHACHA_TAG = bytes.fromhex("c0875924c1c7987947deafd8780acf49")

# The BLAKE2 reference KAT (blake2b-kat.txt, keyed): key 00..3f, inputs "" and 00.
BLAKE2B_KAT_KEY = bytes(range(64))
BLAKE2B_KAT = {
    b"": "10ebb67700b1868efb4417987acf4690ae9d972fb7a590c2f02871799aaa4786"
    "b5e996e8f0f4eb981fc214b005f42d2ff4233499391653df7aefcbc13fc51568",
    b"\x00": "961f6dd1e4dd30f63901690c512e78e4b45e4742ed197c3c5e45c549fd25f2e4"
    "187b0bc9fe30492b16b0d0bc4ef9b0f34c7003fac09a5ef1532e69430234cebd",
}


def test_xchacha20_poly1305_matches_the_draft_vector() -> None:
    sealed = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
        XCHACHA_PLAINTEXT, XCHACHA_AAD, XCHACHA_NONCE, XCHACHA_KEY
    )
    assert sealed == XCHACHA_CIPHERTEXT + XCHACHA_TAG


def test_the_cores_open_reads_the_draft_vector_in_its_nonce_first_layout() -> None:
    sealed = XCHACHA_NONCE + XCHACHA_CIPHERTEXT + XCHACHA_TAG
    assert aead.open_(XCHACHA_KEY, sealed, XCHACHA_AAD, "vector") == XCHACHA_PLAINTEXT
    with pytest.raises(Tampered):
        aead.open_(XCHACHA_KEY, flip(sealed, len(sealed) * 8 - 1), XCHACHA_AAD, "vector")
    with pytest.raises(Tampered):
        aead.open_(XCHACHA_KEY, sealed, XCHACHA_AAD[:-1], "vector")


@pytest.mark.parametrize(("data", "digest"), BLAKE2B_KAT.items())
def test_keyed_blake2b_matches_the_reference_vectors(data: bytes, digest: str) -> None:
    ours = nacl.hash.blake2b(
        data, digest_size=64, key=BLAKE2B_KAT_KEY, encoder=nacl.encoding.HexEncoder
    )
    assert ours.decode() == digest


def test_the_blob_id_key_is_keyed_personalised_blake2b_as_documented() -> None:
    """Checked against CPython's own BLAKE2 (an independent implementation)."""
    key = ItemsKey.generate()
    expected = hashlib.blake2b(b"", digest_size=32, key=key.key, person=b"snapask.blobid")
    assert key.blob_id_key() == expected.digest()


def test_argon2id_matches_openssls_independent_implementation() -> None:
    """libsodium's Argon2id has no secret/AD inputs, so RFC 9106's vector does not apply;
    OpenSSL's Argon2id (through `cryptography`, already locked) with one lane must agree."""
    # The locked cryptography wheel bundles an OpenSSL with Argon2id: never skipped.
    from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

    params = min_params()
    reference = Argon2id(
        salt=params.salt,
        length=32,
        iterations=params.opslimit,
        lanes=1,
        memory_cost=params.memlimit // 1024,
    ).derive(PASSPHRASE.encode())
    assert derive_root_key(PASSPHRASE, params).key == reference


def test_the_associated_data_encoding_cannot_be_shifted_between_fields() -> None:
    """("ab", "c") and ("a", "bc") must differ, or a server could move bytes across fields."""
    assert aead.encode_ad("x", "ab", "c") != aead.encode_ad("x", "a", "bc")
    assert aead.encode_ad("x", None, "a") != aead.encode_ad("x", "a", None)
    with pytest.raises(TypeError):
        aead.encode_ad("x", True)


def test_the_associated_data_encoding_is_its_documented_bytes() -> None:
    """Each field is 2 bytes of big-endian length then its bytes: text as UTF-8, an integer as
    8 bytes signed big-endian, None as nothing, bytes as they are (sync-protocol.md 12.1)."""
    encoded = aead.encode_ad("ré", -2, None, b"\x00\xff", bytearray(b"k"), 2**62)
    assert encoded == (
        b"\x00\x03r\xc3\xa9"
        + b"\x00\x08\xff\xff\xff\xff\xff\xff\xff\xfe"
        + b"\x00\x00"
        + b"\x00\x02\x00\xff"
        + b"\x00\x01k"
        + b"\x00\x08\x40\x00\x00\x00\x00\x00\x00\x00"
    )
    with pytest.raises(ValueError):
        aead.encode_ad("x", "a" * 0x10000)
