"""The store's errors: one hierarchy so callers can catch StoreError and show its message."""

from __future__ import annotations

from pathlib import Path


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
    """The database file is damaged; it was moved aside (never deleted) and a new one started."""

    def __init__(self, path: Path, kept_as: Path | None, reason: str) -> None:
        self.path = path
        self.kept_as = kept_as
        self.reason = reason
        if kept_as is None:
            message = f"the database file {path} is damaged ({reason}); it was left untouched"
        else:
            message = (
                f"the database file {path} is damaged ({reason}); "
                f"it was kept as {kept_as} and a new one started"
            )
        super().__init__(message)


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
