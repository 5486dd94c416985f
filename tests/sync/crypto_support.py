"""Shared keys for the encryption-core tests: derived once, with the minimum parameters."""

from __future__ import annotations

from functools import cache

from snapask_desktop.sync.crypto import ItemsKey, ItemsKeys, KdfParams, RootKey, derive_root_key
from snapask_desktop.sync.crypto.kdf import MIN_MEMLIMIT, MIN_OPSLIMIT

PASSPHRASE = "correct horse battery staple"
# Fixed salts keep the tests reproducible; the minimum parameters keep them fast (~0.1 s).
SALT_A = bytes(range(16))
SALT_B = bytes(range(16, 32))


def min_params(salt: bytes = SALT_A) -> KdfParams:
    return KdfParams(salt=salt, opslimit=MIN_OPSLIMIT, memlimit=MIN_MEMLIMIT)


@cache
def root(passphrase: str = PASSPHRASE, salt: bytes = SALT_A) -> RootKey:
    return derive_root_key(passphrase, min_params(salt))


@cache
def items_key() -> ItemsKey:
    return ItemsKey.generate()


def keys() -> ItemsKeys:
    key = items_key()
    return ItemsKeys([key])


def flip(data: bytes, bit: int) -> bytes:
    """`data` with one bit inverted."""
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)
