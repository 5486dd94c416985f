"""Password hashing (scrypt) and device tokens (random, stored as SHA-256)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

# scrypt cost: about 50 ms and 16 MiB per check on a laptop; tunable in the stored string.
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
_DKLEN = 32
_MAXMEM = 64 * 1024 * 1024


def hash_password(password: str) -> str:
    """A salted scrypt hash as ``scrypt$N$r$p$salt$hash`` (base64 parts)."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return "$".join(
        ["scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(digest)]
    )


def verify_password(password: str, stored: str | None) -> bool:
    """Whether ``password`` matches; with ``stored=None`` it spends the same time and says no."""
    if stored is None:
        _scrypt(password, b"\0" * 16, SCRYPT_N, SCRYPT_R, SCRYPT_P)  # same cost: no user probing
        return False
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        actual = _scrypt(password, _unb64(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(actual, _unb64(digest))


def new_token() -> str:
    """A device token: 32 random bytes, URL-safe base64 without padding."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What the server stores and looks tokens up by (256 random bits need no slow hash)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8", "surrogatepass"),
        salt=salt,
        n=n,
        r=r,
        p=p,
        maxmem=_MAXMEM,
        dklen=_DKLEN,
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)
