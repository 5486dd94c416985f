"""The store's errors: one hierarchy so callers can catch StoreError and show its message."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from snapask_desktop.store.salvage import SalvageReport


class StoreError(Exception):
    """Base of every error the local store raises; the message is fit to show a user."""


class InvalidInput(StoreError, ValueError):
    """A caller passed a value the store refuses (wrong type, too long, unknown role ...)."""


class NotFound(StoreError, LookupError):
    """No record with that id (or it was deleted)."""


class AmbiguousId(StoreError, LookupError):
    """A short id matches more than one record."""

    def __init__(self, prefix: str, matches: list[str]) -> None:
        self.prefix = prefix
        self.matches = matches
        shown = ", ".join(matches[:5])
        super().__init__(
            f"the id prefix {prefix!r} matches several conversations ({shown}); type more of it"
        )


class InvalidState(StoreError):
    """The operation is not allowed in the record's current state (e.g. editing a final message)."""


class SchemaTooNew(StoreError):
    """The database was written by a newer SnapAsk; it is left untouched."""

    def __init__(self, path: Path, found: str, head: str) -> None:
        self.path = path
        self.found = found
        self.head = head
        super().__init__(
            f"the database file {path} was written by a newer version of SnapAsk "
            f"(schema {found}; this version knows up to {head}); update SnapAsk to open it. "
            "The file was not changed."
        )


class MigrationFailed(StoreError):
    """Upgrading an older database failed; the upgrade was rolled back as a whole."""

    def __init__(self, path: Path, found: str | None, reason: str) -> None:
        self.path = path
        self.found = found
        super().__init__(
            f"the database file {path} could not be upgraded ({reason}); it was left as it was "
            f"(schema {found or 'empty'})"
        )


class NotOurDatabase(StoreError):
    """The file is a valid SQLite database that some other program made; it is left untouched."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(
            f"the file {path} is an SQLite database but not a SnapAsk one; "
            "it was not changed. Move it away or choose another data folder."
        )


class CorruptDatabase(StoreError):
    """The database file is damaged; it was moved aside (never deleted) and a new one started,
    holding what could be read from it (``salvage``; None when there was nothing to read)."""

    def __init__(
        self,
        path: Path,
        kept_as: Path | None,
        reason: str,
        salvage: SalvageReport | None = None,
        *,
        recover_next_open: bool = False,
    ) -> None:
        self.path = path
        self.kept_as = kept_as
        self.reason = reason
        self.salvage = salvage
        damaged = f"the database file {path} is damaged ({reason})"
        if kept_as is None and recover_next_open:
            super().__init__(
                f"{damaged}. The next time SnapAsk opens it (the next snapask command, or the "
                "next start of the app), it is kept aside and what can be read is recovered "
                "into a new one"
            )
        elif kept_as is None:
            super().__init__(f"{damaged}; it was left untouched")
        else:  # the file at ``path`` is the new one now
            super().__init__(
                f"the database file {path} was damaged ({reason}); "
                f"it was kept as {kept_as}{_salvaged(salvage)}"
            )

    @property
    def recovered_all(self) -> bool:
        """True when every row of the damaged file was read into the new one."""
        return self.salvage is not None and self.salvage.complete


def _salvaged(salvage: SalvageReport | None) -> str:
    """How the message about a damaged file ends: what the new file holds."""
    if salvage is None:
        return " and a new one started"
    what = (
        f"{_count(salvage.count('conversation'), 'conversation')} and "
        f"{_count(salvage.count('message'), 'message')}"
    )
    if salvage.complete:
        return f", and everything in it was read into a new one: {what}"
    if not any(salvage.copied.values()):
        return " and a new one started (nothing in it could be read)"
    return (
        f", and what could be read was recovered into a new one: {what}. Some of it could "
        "not be read; if you use sync, the rest comes back from the server at the next sync"
    )


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


class DatabaseUnavailable(StoreError):
    """The database file exists but cannot be used right now (locked, I/O error); untouched."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(
            f"the database {path} cannot be opened right now ({reason}); nothing was changed. "
            "Close other programs using it, check the disk, and try again."
        )


class BlobError(StoreError):
    """A screenshot file problem."""


class BlobMissing(BlobError, NotFound):
    """The screenshot's file is not on this device (not downloaded yet, or removed)."""


class BlobCorrupt(BlobError):
    """A screenshot file's content no longer matches its SHA-256."""


class ImageRejected(BlobError, InvalidInput):
    """Bytes that are not an acceptable picture (not an image, damaged, or too large)."""


_CONVERSATION_ID = re.compile(r"^no conversation [0-9a-fA-F-]{32,36}$")


def user_reason(error: BaseException) -> str:
    """The error's message for a window: a deleted conversation is named as such, never by its
    internal id (the CLI shows the store's own message, ids included)."""
    text = str(error).strip()
    if isinstance(error, NotFound) and _CONVERSATION_ID.match(text):
        return "the conversation was deleted"
    return text
