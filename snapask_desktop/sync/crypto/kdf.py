"""The root key: Argon2id of the sync passphrase, with client-fixed, bounded parameters.

The parameters reach other devices through the server, so every device checks them before
deriving: too weak would let whoever holds the wrapped keys guess passphrases cheaply, too
strong would let a hostile server make unlocking hang a device.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

import nacl.pwhash.argon2id as argon2id
import nacl.utils

from snapask_desktop.sync.crypto.aead import KEY_BYTES
from snapask_desktop.sync.crypto.errors import WeakParameters

MIB = 1 << 20
SALT_BYTES = argon2id.SALTBYTES  # 16
# What this client writes: libsodium's MODERATE, about 0.5 s here (docs/benchmarks.md).
DEFAULT_OPSLIMIT = 3
DEFAULT_MEMLIMIT = 256 * MIB
# What every device accepts from the key record: RFC 9106's second recommended setting
# (t=3, m=64 MiB) at least; at most what a desktop can spend on one unlock.
MIN_OPSLIMIT = 3
MIN_MEMLIMIT = 64 * MIB
MAX_OPSLIMIT = 16
MAX_MEMLIMIT = 1024 * MIB
MIN_NEW_PASSPHRASE_CHARS = 10


@dataclass(frozen=True, slots=True)
class KdfParams:
    """Argon2id parameters and salt of one passphrase, as kept in the account's key record."""

    salt: bytes
    opslimit: int = DEFAULT_OPSLIMIT
    memlimit: int = DEFAULT_MEMLIMIT

    def check(self) -> None:
        """Raise WeakParameters unless these are within the bounds every device enforces."""
        if len(self.salt) != SALT_BYTES:
            raise WeakParameters(f"the key salt must be {SALT_BYTES} bytes, not {len(self.salt)}")
        if type(self.opslimit) is not int or not MIN_OPSLIMIT <= self.opslimit <= MAX_OPSLIMIT:
            raise WeakParameters(
                f"Argon2id passes {self.opslimit!r} refused: this SnapAsk accepts "
                f"{MIN_OPSLIMIT} to {MAX_OPSLIMIT}"
            )
        if (
            type(self.memlimit) is not int
            or not MIN_MEMLIMIT <= self.memlimit <= MAX_MEMLIMIT
            or self.memlimit % MIB
        ):
            raise WeakParameters(
                f"Argon2id memory {self.memlimit!r} bytes refused: this SnapAsk accepts whole "
                f"MiB from {MIN_MEMLIMIT // MIB} to {MAX_MEMLIMIT // MIB} MiB"
            )


def new_params() -> KdfParams:
    """This client's parameters with a fresh random salt (new account or new passphrase)."""
    return KdfParams(salt=nacl.utils.random(SALT_BYTES))


@dataclass(frozen=True, slots=True)
class RootKey:
    """The passphrase-derived key that wraps items keys; kept with the parameters it came from."""

    key: bytes = field(repr=False)
    params: KdfParams


def derive_root_key(passphrase: str, params: KdfParams) -> RootKey:
    """Argon2id (one lane) of the NFC-normalised passphrase; ~0.5 s: never on the UI thread."""
    params.check()
    if not passphrase:
        raise WeakParameters("the sync passphrase is empty")
    # NFC: the same passphrase typed on macOS (often NFD) and elsewhere gives the same key.
    secret = unicodedata.normalize("NFC", passphrase).encode("utf-8")
    key = argon2id.kdf(KEY_BYTES, secret, params.salt, params.opslimit, params.memlimit)
    return RootKey(key=key, params=params)


def check_new_passphrase(passphrase: str) -> None:
    """Refuse a passphrase too short to choose (unlocking never applies this rule)."""
    if len(unicodedata.normalize("NFC", passphrase)) < MIN_NEW_PASSPHRASE_CHARS:
        raise WeakParameters(
            f"a sync passphrase needs at least {MIN_NEW_PASSPHRASE_CHARS} characters"
        )
