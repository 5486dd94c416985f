"""Blob bytes per user (section 5.5): chunked, resumable uploads and chunked downloads.

Complete blobs live once on disk, content-addressed (``blobs/ab/abcd…``), whoever uploaded them;
the ``blobs`` table says which users hold which hash, so a user only ever reads blobs they
uploaded themselves. Uploads in progress are per user (``blobs/partial/<user>/<sha>``).

An encrypted account's blobs (section 12.9) are sealed and named by a keyed hash the server
cannot check, so they are never shared: they live per user (``blobs/sealed/<user>/ab/abcd…``).
Sharing them would let one account plant bytes under the SHA-256 of another's picture, or read
a picture it only knows the hash of. A complete upload whose bytes do hash to the id it was sent
under is a clear picture: an encrypted account refuses it (``encrypted_account``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import and_, case, delete, func, select, update

from snapask_desktop.server import schema
from snapask_desktop.server.accounts import now_ms
from snapask_desktop.server.changes import lock_user
from snapask_desktop.server.config import BlobQuota
from snapask_desktop.server.database import Database
from snapask_desktop.server.keys import keys_version
from snapask_desktop.sync.errors import ErrorCode, ProtocolError
from snapask_desktop.sync.limits import BLOB_CHUNK_BYTES
from snapask_desktop.sync.protocol import Blob, BlobAck, BlobGet, BlobMissing, BlobPut

b = schema.blobs


@dataclass(frozen=True, slots=True)
class BlobState:
    size: int
    received: int
    complete: bool


class BlobStore:
    """Blob files under ``root`` plus their per-user rows in the database."""

    def __init__(self, db: Database, root: Path, quota: BlobQuota | None = None) -> None:
        self.db = db
        self.quota = quota or BlobQuota()
        self.root = root
        self.partial_root = root / "partial"
        self.sealed_root = root / "sealed"
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, sha256: str) -> Path:
        """Where a complete blob's bytes are (a clear account's)."""
        return self.root / sha256[:2] / sha256

    def sealed_path(self, user_id: int, blob_id: str) -> Path:
        """Where a complete sealed blob of an encrypted account is."""
        return self.sealed_root / str(user_id) / blob_id[:2] / blob_id

    def _final(self, user_id: int, sha256: str, encrypted: bool) -> Path:
        return self.sealed_path(user_id, sha256) if encrypted else self.path(sha256)

    def _partial(self, user_id: int, sha256: str) -> Path:
        return self.partial_root / str(user_id) / sha256

    def _state(self, user_id: int, sha256: str) -> tuple[BlobState | None, bool]:
        """The user's row for the blob, and whether the account is encrypted."""
        with self.db.read() as conn:
            row = conn.execute(
                select(b.c.size, b.c.received, b.c.complete).where(
                    b.c.user_id == user_id, b.c.sha256 == sha256
                )
            ).one_or_none()
            encrypted = keys_version(conn, user_id) > 0
        return (None if row is None else BlobState(row[0], row[1], bool(row[2]))), encrypted

    def _save(self, user_id: int, sha256: str, state: BlobState, *, exists: bool) -> None:
        values = {
            "size": state.size,
            "received": state.received,
            "complete": state.complete,
            "updated_at": now_ms(),
        }
        with self.db.write() as conn:
            if exists:
                conn.execute(
                    update(b).where(b.c.user_id == user_id, b.c.sha256 == sha256).values(values)
                )
            else:
                conn.execute(b.insert().values(user_id=user_id, sha256=sha256, **values))

    def put(self, user_id: int, frame: BlobPut) -> BlobAck:
        """Store one chunk if it continues (or restarts) the upload; say what is held."""
        sha = frame.sha256
        state, _ = self._state(user_id, sha)
        exists = state is not None
        if state is not None and state.complete:
            if state.size != frame.size:
                raise ProtocolError(
                    ErrorCode.BLOB_MISMATCH,
                    f"size: the blob {sha[:12]}… is held with {state.size:,} bytes, "
                    f"not {frame.size:,}",
                )
            return BlobAck(sha, state.size, state.size, True, id=frame.id)
        restart = frame.offset == 0 and bool(frame.data)
        if state is not None and state.size != frame.size and not restart:
            raise ProtocolError(
                ErrorCode.BLOB_MISMATCH,
                f"size: {frame.size:,} differs from the upload in progress ({state.size:,} bytes)",
            )
        if state is None and not frame.data:
            # A status probe for a blob not started: nothing is held, and nothing is kept.
            return BlobAck(sha, frame.size, 0, False, id=frame.id)
        if state is None or restart:
            self._check_quota(user_id, frame.size, replacing=state)
            state = BlobState(frame.size, 0, False)
        partial = self._partial(user_id, sha)
        if frame.data and frame.offset == state.received:
            partial.parent.mkdir(parents=True, exist_ok=True)
            # Truncate to what the row says was received: a crash may have left extra bytes.
            with open(partial, "r+b" if partial.exists() and state.received else "wb") as fh:
                fh.seek(state.received)
                fh.truncate()
                fh.write(frame.data)
                fh.flush()
                os.fsync(fh.fileno())
            state = BlobState(state.size, state.received + len(frame.data), False)
        if state.received == state.size:
            return self._complete(user_id, frame, partial, exists=exists)
        self._save(user_id, sha, state, exists=exists)
        return BlobAck(sha, state.size, state.received, state.complete, id=frame.id)

    def _complete(self, user_id: int, frame: BlobPut, partial: Path, *, exists: bool) -> BlobAck:
        """Keep a finished upload: checked against its SHA-256 for a clear account; for an
        encrypted one, refused if it is a clear picture (it hashes to the id it was sent
        under), else kept as the sealed bytes it should be (its id cannot be checked here)."""
        sha, size = frame.sha256, frame.size
        clear_picture = _sha256_of(partial) == sha
        problem = None
        with self.db.write() as conn:
            # Under the user's lock: a keys_put that turned the account encrypted meanwhile
            # has committed (and dropped the user's blobs), so no clear picture slips past it.
            lock_user(conn, user_id)
            encrypted = keys_version(conn, user_id) > 0
            if encrypted and clear_picture:
                problem = ProtocolError(
                    ErrorCode.ENCRYPTED_ACCOUNT,
                    f"sha256: the account is end-to-end encrypted and these {size:,} bytes are "
                    f"the clear picture {sha[:12]}…; seal it; the upload was discarded",
                )
            elif not encrypted and not clear_picture:
                problem = ProtocolError(
                    ErrorCode.BLOB_MISMATCH,
                    f"sha256: the {size:,} bytes received do not hash to {sha[:12]}…; "
                    "the upload was discarded",
                )
            if problem is not None:
                conn.execute(delete(b).where(b.c.user_id == user_id, b.c.sha256 == sha))
            else:
                final = self._final(user_id, sha, encrypted)
                if final.exists() and not encrypted:
                    partial.unlink()  # the same verified bytes, uploaded before
                else:
                    # A sealed blob is this account's own and unchecked: the newest upload
                    # wins over a file left without its row (its bytes may differ).
                    final.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(partial, final)
                values = {"size": size, "received": size, "complete": True, "updated_at": now_ms()}
                if exists:
                    conn.execute(
                        update(b).where(b.c.user_id == user_id, b.c.sha256 == sha).values(values)
                    )
                else:
                    conn.execute(b.insert().values(user_id=user_id, sha256=sha, **values))
        if problem is not None:
            partial.unlink(missing_ok=True)
            raise problem
        return BlobAck(sha, size, size, True, id=frame.id)

    def _check_quota(self, user_id: int, size: int, replacing: BlobState | None) -> None:
        """Refuse to start an upload of ``size`` bytes that would take the user past a quota."""
        incomplete = b.c.complete.is_(False)
        with self.db.read() as conn:
            stored, in_flight, uploads = conn.execute(
                select(
                    func.coalesce(func.sum(b.c.size), 0),
                    func.coalesce(func.sum(case((incomplete, b.c.size), else_=0)), 0),
                    func.count().filter(incomplete),
                ).where(b.c.user_id == user_id)
            ).one()
        if replacing is not None:  # a restart replaces its own upload in progress
            stored, in_flight, uploads = (
                stored - replacing.size, in_flight - replacing.size, uploads - 1
            )  # fmt: skip
        quota = self.quota
        problem = None
        if uploads + 1 > quota.incomplete_uploads:
            problem = f"{uploads} uploads are unfinished (at most {quota.incomplete_uploads})"
        elif in_flight + size > quota.in_flight_bytes:
            problem = (
                f"unfinished uploads would hold {_mib(in_flight + size)} "
                f"(at most {_mib(quota.in_flight_bytes)})"
            )
        elif stored + size > quota.stored_bytes:
            problem = (
                f"pictures would take {_mib(stored + size)} of the account's "
                f"{_mib(quota.stored_bytes)}"
            )
        if problem is not None:
            raise ProtocolError(ErrorCode.QUOTA_EXCEEDED, f"upload not started: {problem}")

    def collect_abandoned(self, now: int) -> tuple[int, int]:
        """Remove uploads in progress idle for ``quota.idle_s``, rows and bytes alike.

        Also removes partial files without a row (left by a crash) as old as that. Returns
        (uploads removed, bytes freed).
        """
        cutoff = now - int(self.quota.idle_s * 1000)
        idle = and_(b.c.complete.is_(False), b.c.updated_at < cutoff)
        with self.db.write() as conn:
            rows = conn.execute(select(b.c.user_id, b.c.sha256).where(idle)).all()
            conn.execute(delete(b).where(idle))
        freed = 0
        for user_id, sha in rows:
            freed += _unlink(self._partial(user_id, sha))
        for path in self._stray_partials(cutoff, {(u, sha) for u, sha in rows}):
            freed += _unlink(path)
        return len(rows), freed

    def _stray_partials(self, cutoff_ms: int, removed: set[tuple[int, str]]) -> list[Path]:
        if not self.partial_root.is_dir():
            return []
        with self.db.read() as conn:
            live = {
                (u, sha)
                for u, sha in conn.execute(
                    select(b.c.user_id, b.c.sha256).where(b.c.complete.is_(False))
                )
            }
        stray = []
        for path in self.partial_root.glob("*/*"):
            if not path.parent.name.isdigit():
                continue
            key = (int(path.parent.name), path.name)
            if key in live or key in removed:
                continue
            if path.stat().st_mtime * 1000 < cutoff_ms:
                stray.append(path)
        return stray

    def get(self, user_id: int, frame: BlobGet) -> Blob | BlobMissing:
        """The chunk at ``offset`` of a complete blob the user holds, else ``blob_missing``."""
        state, encrypted = self._state(user_id, frame.sha256)
        if state is None or not state.complete:
            return BlobMissing(frame.sha256, id=frame.id)
        if frame.offset >= state.size:
            raise ProtocolError(
                ErrorCode.BAD_FIELD,
                f"offset: {frame.offset:,} is at or past the blob's size {state.size:,}",
            )
        try:
            with open(self._final(user_id, frame.sha256, encrypted), "rb") as fh:
                fh.seek(frame.offset)
                data = fh.read(BLOB_CHUNK_BYTES)
        except FileNotFoundError:
            return BlobMissing(frame.sha256, id=frame.id)
        return Blob(frame.sha256, state.size, frame.offset, data, id=frame.id)

    def drop(self, user_id: int, shas: list[str]) -> None:
        """Forget the user's copies of these blobs; delete files nobody holds any more."""
        if not shas:
            return
        with self.db.write() as conn:
            conn.execute(delete(b).where(b.c.user_id == user_id, b.c.sha256.in_(shas)))
        self._unlink_unheld(user_id, shas)

    def discard(self, user_id: int, shas: Sequence[str]) -> None:
        """Delete the files of a user whose blob rows were just deleted (an account turned
        encrypted, server/keys.py): its uploads in progress, stray ones included, and each
        clear picture no other user holds."""
        shutil.rmtree(self.partial_root / str(user_id), ignore_errors=True)
        self._unlink_unheld(user_id, shas)

    def _unlink_unheld(self, user_id: int, shas: Sequence[str]) -> None:
        still: set[str] = set()
        with self.db.read() as conn:
            for start in range(0, len(shas), 500):
                chunk = list(shas[start : start + 500])
                still.update(
                    conn.execute(select(b.c.sha256).where(b.c.sha256.in_(chunk))).scalars()
                )
        for sha in shas:
            self._partial(user_id, sha).unlink(missing_ok=True)
            if sha not in still:
                self.path(sha).unlink(missing_ok=True)


def _unlink(path: Path) -> int:
    """Delete a file; the bytes it held (0 if it was not there)."""
    try:
        size = path.stat().st_size
        path.unlink()
    except FileNotFoundError:
        return 0
    return size


def _mib(size: int) -> str:
    if size >= 1024**3:
        return f"{size / 1024**3:,.1f} GiB"
    return f"{size / 1024**2:,.1f} MiB".replace(".0 MiB", " MiB")


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
