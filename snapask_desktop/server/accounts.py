"""Users and devices: creating accounts, signing devices in, tokens, revocation (blocking I/O)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError

from snapask_desktop.server import schema
from snapask_desktop.server.database import Database
from snapask_desktop.server.passwords import hash_password, new_token, token_hash, verify_password
from snapask_desktop.sync.limits import MAX_PASSWORD_CHARS, MAX_USER_CHARS
from snapask_desktop.sync.signin import DeviceGrant, DeviceRequest

u, d = schema.users, schema.devices


class AccountError(ValueError):
    """An account operation that cannot be done (the message says why, for the admin)."""


class SignInRefused(Exception):
    """``POST /v1/devices`` refused: HTTP ``status`` with the wire error ``code``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class UserInfo:
    """One account as the admin CLI lists it."""

    id: int
    name: str
    created_at: int
    devices: int
    keys_version: int = 0  # > 0: an encrypted account, its key record at this version


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """One device of a user (``GET /v1/devices``, ``device list``)."""

    device_id: str
    user: str
    device_name: str
    created_at: int
    last_seen_at: int | None
    revoked: bool
    applied_cursor: int

    def to_wire(self) -> dict[str, object]:
        """The entry of ``GET /v1/devices``."""
        return {
            "device_id": self.device_id,
            "device_name": self.device_name,
            "created_at": self.created_at,
            "last_seen_at": self.last_seen_at,
            "revoked": self.revoked,
        }


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a valid token belongs to."""

    user_id: int
    user: str
    device_id: str
    token_hash: str


_EPOCH_KEY = "auth_epoch"


def _bump_auth_epoch(conn: Connection) -> None:
    """Count a token change, so running servers know to re-check their connections."""
    meta = schema.server_meta
    current = conn.execute(
        select(meta.c.value).where(meta.c.key == _EPOCH_KEY)
    ).scalar_one_or_none()
    if current is None:
        conn.execute(meta.insert().values(key=_EPOCH_KEY, value="1"))
    else:
        conn.execute(
            update(meta).where(meta.c.key == _EPOCH_KEY).values(value=str(int(current) + 1))
        )


def auth_epoch(db: Database) -> int:
    """How many token changes (sign-ins, revocations) there have been; cheap to poll."""
    meta = schema.server_meta
    with db.read() as conn:
        value = conn.execute(
            select(meta.c.value).where(meta.c.key == _EPOCH_KEY)
        ).scalar_one_or_none()
    return int(value or 0)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def check_user_name(name: str) -> str:
    """A user name: 1..100 characters, no control characters, no surrounding spaces."""
    if not 1 <= len(name) <= MAX_USER_CHARS:
        raise AccountError(f"a user name has 1 to {MAX_USER_CHARS} characters")
    if name != name.strip() or any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise AccountError("a user name has no control characters or surrounding spaces")
    return name


def add_user(db: Database, name: str, password: str, *, password_hash: str | None = None) -> int:
    """Create a user (AccountError if the name is taken); returns the user's id."""
    check_user_name(name)
    if password_hash is None:
        if not 1 <= len(password) <= MAX_PASSWORD_CHARS:
            raise AccountError(f"a password has 1 to {MAX_PASSWORD_CHARS} characters")
        password_hash = hash_password(password)
    try:
        with db.write() as conn:
            user_id = conn.execute(
                u.insert().values(name=name, password_hash=password_hash, created_at=now_ms())
            ).inserted_primary_key
            assert user_id is not None
            conn.execute(schema.user_counters.insert().values(user_id=user_id[0], head=0))
            return int(user_id[0])
    except IntegrityError:
        raise AccountError(f"the user {name!r} already exists") from None


def list_users(db: Database) -> list[UserInfo]:
    """Every user with their device count and key record version, by name."""
    count = select(func.count()).select_from(d).where(d.c.user_id == u.c.id).scalar_subquery()
    k = schema.key_records
    keys = select(k.c.version).where(k.c.user_id == u.c.id).scalar_subquery()
    with db.read() as conn:
        rows = conn.execute(
            select(u.c.id, u.c.name, u.c.created_at, count, keys).order_by(u.c.name)
        )
        return [UserInfo(r[0], r[1], r[2], r[3], r[4] or 0) for r in rows]


def user_id_by_name(db: Database, name: str) -> int | None:
    """The id of the named user, or None."""
    with db.read() as conn:
        return conn.execute(select(u.c.id).where(u.c.name == name)).scalar_one_or_none()


def sign_in(db: Database, request: DeviceRequest) -> DeviceGrant:
    """Check the password and issue a new token for the device (SignInRefused otherwise)."""
    with db.read() as conn:
        row = conn.execute(
            select(u.c.id, u.c.password_hash).where(u.c.name == request.user)
        ).one_or_none()
    # The unknown-user path spends the same scrypt time: the answer must not tell them apart.
    if not verify_password(request.password, None if row is None else row.password_hash):
        raise SignInRefused(401, "unauthorized", "wrong user name or password")
    assert row is not None
    token = new_token()
    issue_token(db, row.id, request.device_id, request.device_name, token)
    return DeviceGrant(device_id=request.device_id, user=request.user, token=token)


def issue_token(db: Database, user_id: int, device_id: str, device_name: str, token: str) -> None:
    """Store ``token`` (hashed) as the device's only valid token; un-revokes the device."""
    hashed = token_hash(token)
    mine = (d.c.user_id == user_id) & (d.c.id == device_id)
    with db.write() as conn:
        # Device ids are per user: another account's device of the same id is not looked at.
        known = conn.execute(select(d.c.id).where(mine)).scalar_one_or_none() is not None
        if not known:
            conn.execute(
                d.insert().values(
                    id=device_id,
                    user_id=user_id,
                    name=device_name,
                    token_hash=hashed,
                    revoked=False,
                    created_at=now_ms(),
                    last_seen_at=None,
                    applied_cursor=0,
                )
            )
        else:
            conn.execute(
                update(d).where(mine).values(name=device_name, token_hash=hashed, revoked=False)
            )
            _bump_auth_epoch(conn)  # the old token stops working


def authenticate(db: Database, token: str) -> Identity | None:
    """The identity behind a token, or None for an unknown or revoked one."""
    hashed = token_hash(token)
    return identities(db, [hashed]).get(hashed)


def identities(db: Database, hashes: Iterable[str]) -> dict[str, Identity]:
    """token hash -> identity, for those of ``hashes`` that are current and not revoked: one
    statement per 500 (the server checks the tokens of many upgrades at once)."""
    wanted = sorted(set(hashes))
    found: dict[str, Identity] = {}
    for start in range(0, len(wanted), 500):
        with db.read_once() as conn:
            rows = conn.execute(
                select(d.c.user_id, u.c.name, d.c.id, d.c.token_hash)
                .join(u, u.c.id == d.c.user_id)
                .where(d.c.token_hash.in_(wanted[start : start + 500]), d.c.revoked.is_(False))
            )
            for row in rows:
                found[row[3]] = Identity(user_id=row[0], user=row[1], device_id=row[2],
                                         token_hash=row[3])  # fmt: skip
    return found


def list_devices(db: Database, user_id: int | None = None) -> list[DeviceInfo]:
    """The devices of one user (or of everyone), oldest first."""
    query = select(
        d.c.id,
        u.c.name,
        d.c.name,
        d.c.created_at,
        d.c.last_seen_at,
        d.c.revoked,
        d.c.applied_cursor,
    ).join(u, u.c.id == d.c.user_id)
    if user_id is not None:
        query = query.where(d.c.user_id == user_id)
    with db.read() as conn:
        rows = conn.execute(query.order_by(u.c.name, d.c.created_at, d.c.id))
        return [DeviceInfo(r[0], r[1], r[2], r[3], r[4], bool(r[5]), r[6]) for r in rows]


def revoke_device(db: Database, device_id: str, *, user_id: int | None = None) -> bool:
    """Revoke a device's token (among ``user_id``'s devices if given); False if unknown.

    Without ``user_id`` the id must be one user's only (AccountError otherwise): two accounts
    may hold the same device id.
    """
    query = update(d).where(d.c.id == device_id).values(revoked=True, token_hash=None)
    if user_id is not None:
        query = query.where(d.c.user_id == user_id)
    with db.write() as conn:
        if user_id is None:
            owners = conn.execute(select(func.count()).where(d.c.id == device_id)).scalar_one()
            if owners > 1:
                raise AccountError(
                    f"{owners} users have a device {device_id!r}; say whose with --user"
                )
        done = conn.execute(query).rowcount > 0
        if done:
            _bump_auth_epoch(conn)
        return done


DeviceKey = tuple[int, str]
"""A device as the server tells devices apart: (user id, device id)."""


def valid_tokens(db: Database, keys: Iterable[DeviceKey]) -> dict[DeviceKey, str]:
    """(user id, device id) -> current token hash, for those of ``keys`` not revoked."""
    wanted = set(keys)
    ids = sorted({device_id for _, device_id in wanted})
    result: dict[DeviceKey, str] = {}
    with db.read() as conn:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = conn.execute(
                select(d.c.user_id, d.c.id, d.c.token_hash).where(
                    d.c.id.in_(chunk), d.c.revoked.is_(False), d.c.token_hash.is_not(None)
                )
            )
            result.update({(r[0], r[1]): r[2] for r in rows if (r[0], r[1]) in wanted})
    return result


def record_progress(
    db: Database, seen: Mapping[DeviceKey, int], applied: Mapping[DeviceKey, int]
) -> None:
    """Save devices' last-seen times and acknowledged cursors (each only moves forward)."""
    if not seen and not applied:
        return
    device = (d.c.user_id == bindparam("k_user")) & (d.c.id == bindparam("k_device"))
    with db.write() as conn:
        # One executemany each (a pipeline on PostgreSQL): after a failover an instance notes
        # hundreds of devices in one round, and a statement each was a round trip each.
        if seen:
            conn.execute(
                update(d).where(device).values(last_seen_at=bindparam("k_value")),
                [{"k_user": u, "k_device": i, "k_value": v} for (u, i), v in seen.items()],
            )
        if applied:
            conn.execute(
                update(d)
                .where(device, d.c.applied_cursor < bindparam("k_value"))
                .values(applied_cursor=bindparam("k_value")),
                [{"k_user": u, "k_device": i, "k_value": v} for (u, i), v in applied.items()],
            )
