"""An encrypted account's keys in the OS keyring (never in files, logs or the database).

One keyring entry per device and server (``sync-keys:<server>:<device id>``; a device is
signed in to one account per server) holds the key record version the keys came from, the
root key with its Argon2id parameters, and the unwrapped items keys, as JSON. The passphrase
itself is never kept: the root key is what unlocking produces, and it is all a rotation on
another device needs.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from snapask_desktop import credentials
from snapask_desktop.sync.crypto import ItemsKey, ItemsKeys, KdfParams, RootKey
from snapask_desktop.sync.e2ee import Unlocked

_FORMAT = 1


def keys_account(server: str, device_id: str) -> str:
    """The keyring account of one device's keys for one server (its sync URL)."""
    return f"sync-keys:{server}:{device_id}"


class KeyStore:
    """Reads and writes one keyring entry; every call is blocking I/O (the OS keyring)."""

    def __init__(self, account: str) -> None:
        self.account = account

    def load(self) -> Unlocked | None:
        """The keys kept for this account, or None (none yet, or an entry this SnapAsk cannot
        read: the user is asked for the passphrase again)."""
        try:
            text = credentials.get_secret(self.account)
        except credentials.CredentialError as error:
            import keyring.errors

            # No keyring at all (a headless machine whose token comes from elsewhere): no keys
            # can have been kept. A locked or failing keyring is raised: keys may be in it.
            if isinstance(error.__cause__, keyring.errors.NoKeyringError):
                return None
            raise
        if not text:
            return None
        try:
            return _decode(json.loads(text))
        except (ValueError, KeyError, TypeError):
            return None

    def save(self, unlocked: Unlocked) -> None:
        credentials.set_secret(self.account, json.dumps(_encode(unlocked)))

    def forget(self) -> bool:
        """Remove the keys (signing out, or a server that no longer holds a key record)."""
        return credentials.delete_secret(self.account)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _encode(unlocked: Unlocked) -> dict[str, Any]:
    params = unlocked.root.params
    return {
        "format": _FORMAT,
        "version": unlocked.version,
        "salt": _b64(params.salt),
        "opslimit": params.opslimit,
        "memlimit": params.memlimit,
        "root": _b64(unlocked.root.key),
        "keys": [[k.key_id.hex(), _b64(k.key), k.generation] for k in unlocked.keys],
    }


def _decode(obj: dict[str, Any]) -> Unlocked | None:
    if obj.get("format") != _FORMAT:
        return None
    params = KdfParams(
        salt=base64.b64decode(obj["salt"], validate=True),
        opslimit=int(obj["opslimit"]),
        memlimit=int(obj["memlimit"]),
    )
    root = RootKey(key=base64.b64decode(obj["root"], validate=True), params=params)
    keys = ItemsKeys(
        ItemsKey(bytes.fromhex(kid), base64.b64decode(key, validate=True), int(generation))
        for kid, key, generation in obj["keys"]
    )
    return Unlocked(version=int(obj["version"]), root=root, keys=keys)
