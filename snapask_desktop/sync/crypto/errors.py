"""Typed refusals of the encryption core (docs/sync-protocol.md section 12.8)."""

from __future__ import annotations


class CryptoError(Exception):
    """Base of every refusal: the caller keeps its data and tells the user the message."""


class WrongPassphrase(CryptoError):
    """The items key does not open under the root key derived from this passphrase."""

    def __init__(self) -> None:
        super().__init__(
            "The sync passphrase does not open this account's keys. Check the passphrase; "
            "if it is right, the account's key record was altered."
        )


class Tampered(CryptoError):
    """Authentication failed: the ciphertext or its clear metadata was changed or swapped."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} was altered or does not belong here; it was not applied.")
        self.what = what


class UnsupportedVersion(CryptoError):
    """A format version this SnapAsk does not know (newer, or older than it accepts)."""

    def __init__(self, what: str, version: int) -> None:
        super().__init__(
            f"{what} uses encryption format {version}, which this SnapAsk does not read; "
            "update SnapAsk on this device."
        )
        self.version = version


class UnknownKey(CryptoError):
    """A record names an items key this device does not hold (rotated elsewhere)."""

    def __init__(self, key_id: bytes) -> None:
        super().__init__(
            f"The record was sealed with a key this device does not have ({key_id.hex()}); "
            "fetch the account's keys again."
        )
        self.key_id = key_id


class WeakParameters(CryptoError, ValueError):
    """Key-derivation parameters (or a new passphrase) outside what the client accepts."""
