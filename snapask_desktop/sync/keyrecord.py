"""The wire shape of an encrypted account's key record (docs/sync-protocol.md section 12.1).

The server stores this record as it is and hands it to every device of the user; it never
chooses the KDF parameters. Only the shape is checked here: a device checks the parameters'
bounds (``crypto.KdfParams.check``) before deriving anything, and the wrapped keys' tags
authenticate the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from snapask_desktop.sync.errors import ErrorCode
from snapask_desktop.sync.limits import MAX_ITEMS_KEYS, MAX_SAFE_INT
from snapask_desktop.sync.wire import Fields, b64encode

KEY_RECORD_FORMAT = 1
SALT_BYTES = 16
WRAPPED_KEY_BYTES = 93  # version, key id, generation, nonce, sealed 32-byte key
_KEYS = frozenset({"format", "salt", "opslimit", "memlimit", "keys"})


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """Salt and Argon2id parameters of the passphrase, and every wrapped items key."""

    salt: bytes
    opslimit: int
    memlimit: int
    wrapped_keys: tuple[bytes, ...]
    format: int = KEY_RECORD_FORMAT

    def to_wire(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "salt": b64encode(self.salt),
            "opslimit": self.opslimit,
            "memlimit": self.memlimit,
            "keys": [b64encode(k) for k in self.wrapped_keys],
        }

    @classmethod
    def from_wire(
        cls, obj: Any, code: ErrorCode = ErrorCode.BAD_FIELD, path: str = ""
    ) -> KeyRecord:
        """Validate the shape (ProtocolError with ``code``, naming fields under ``path``); a
        newer format is refused."""
        f = Fields(obj, code, path)
        f.only(_KEYS)
        version = f.integer("format", 1, MAX_SAFE_INT)
        if version != KEY_RECORD_FORMAT:
            f.fail("format", f"{version} is not known here (this side reads {KEY_RECORD_FORMAT})")
        salt = f.base64("salt", SALT_BYTES)
        if len(salt) != SALT_BYTES:
            f.fail("salt", f"must be {SALT_BYTES} bytes, not {len(salt)}")
        items = f.array("keys", MAX_ITEMS_KEYS, min_items=1)
        wrapped: list[bytes] = []
        for i, item in enumerate(items):
            name = f"keys[{i}]"  # read as a field of its own, so an error names the item
            item_fields = Fields({name: item}, code, f.path)
            key = item_fields.base64(name, WRAPPED_KEY_BYTES)
            if len(key) != WRAPPED_KEY_BYTES:
                item_fields.fail(name, f"must be {WRAPPED_KEY_BYTES} bytes, not {len(key)}")
            wrapped.append(key)
        return cls(
            salt=salt,
            opslimit=f.integer("opslimit", 1, MAX_SAFE_INT),
            memlimit=f.integer("memlimit", 1, MAX_SAFE_INT),
            wrapped_keys=tuple(wrapped),
            format=version,
        )
