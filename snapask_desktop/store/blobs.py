"""Content-addressed screenshot files: ``blobs/ab/<sha>.<ext>`` and ``thumbs/ab/<sha>.jpg``.

Every write is atomic (temp file in the same folder, fsync, rename), so a file under its final
name always has its full content; a crash can leave only ``.tmp-*`` files, removed on open.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

from snapask_desktop.atomic_file import atomic_write
from snapask_desktop.store import images
from snapask_desktop.store.errors import BlobCorrupt, BlobMissing

TEMP_PREFIX = ".tmp-"
STALE_TEMP_S = 600.0


@dataclass(frozen=True, slots=True)
class StoredBlob:
    """A picture now on disk under its hash."""

    sha256: str
    size_bytes: int
    width: int
    height: int
    mime: str


class BlobStore:
    """Screenshot files under one data folder."""

    def __init__(self, root: Path) -> None:
        self.blobs_dir = root / "blobs"
        self.thumbs_dir = root / "thumbs"
        # A picture's original, before the user hid parts of it, kept when asked: on this
        # device only (no row, no outbox entry: never synced or exported), removed with it.
        self.originals_dir = root / "originals"

    def put(self, data: bytes) -> StoredBlob:
        """Check and store a picture plus its thumbnail; the same bytes are stored once."""
        decoded = images.decode(data)  # refuses bad input before anything is written
        raw = bytes(data)
        sha = hashlib.sha256(raw).hexdigest()
        path = self.blob_path(sha, decoded.ext)
        if not _holds(path, sha):
            atomic_write(path, raw, TEMP_PREFIX)
        thumb = self.thumbnail_path(sha)
        if not thumb.exists():
            atomic_write(thumb, images.thumbnail_jpeg(decoded.image), TEMP_PREFIX)
        return StoredBlob(sha, len(raw), decoded.width, decoded.height, decoded.mime)

    def read(self, sha256: str, mime: str, *, verify: bool = False) -> bytes:
        """The picture's bytes; with ``verify`` the content is checked against the hash."""
        path = self.blob_path(sha256, _ext(mime))
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise BlobMissing(f"the screenshot {sha256[:12]} is not on this device") from None
        if verify and hashlib.sha256(data).hexdigest() != sha256:
            raise BlobCorrupt(
                f"the screenshot file {path} is damaged: its content no longer matches "
                f"its SHA-256 {sha256[:12]}…"
            )
        return data

    def holds(self, sha256: str, mime: str) -> bool:
        """Whether the picture's file is on this device (not re-hashed: see ``read``)."""
        try:
            return self.blob_path(sha256, _ext(mime)).is_file()
        except BlobMissing:  # a type we cannot store is never here
            return False

    def remove(self, sha256: str, mime: str) -> None:
        """Delete a picture, its thumbnail and its kept original (absent files are fine)."""
        paths = [self.thumbnail_path(sha256), self.original_path(sha256)]
        with contextlib.suppress(BlobMissing):
            paths.append(self.blob_path(sha256, _ext(mime)))
        for path in paths:
            path.unlink(missing_ok=True)

    def ensure_thumbnail(self, sha256: str, mime: str) -> Path:
        """The thumbnail's path, remade from the picture if it went missing."""
        thumb = self.thumbnail_path(sha256)
        if not thumb.exists():
            decoded = images.decode(self.read(sha256, mime, verify=True))
            atomic_write(thumb, images.thumbnail_jpeg(decoded.image), TEMP_PREFIX)
        return thumb

    def blob_path(self, sha256: str, ext: str) -> Path:
        """Where the picture with this hash lives."""
        return self.blobs_dir / sha256[:2] / f"{sha256}.{ext}"

    def keep_original(self, sha256: str, data: bytes) -> None:
        """Keep `data` as the original of the stored picture `sha256` (atomically)."""
        atomic_write(self.original_path(sha256), bytes(data), TEMP_PREFIX)

    def original(self, sha256: str) -> bytes | None:
        """The kept original of picture `sha256`, if one was kept."""
        try:
            return self.original_path(sha256).read_bytes()
        except FileNotFoundError:
            return None

    def original_path(self, sha256: str) -> Path:
        """Where the kept original of picture `sha256` lives."""
        return self.originals_dir / sha256[:2] / f"{sha256}.orig"

    def thumbnail_path(self, sha256: str) -> Path:
        """Where the picture's thumbnail lives."""
        return self.thumbs_dir / sha256[:2] / f"{sha256}.jpg"

    def remove_stale_temp_files(self, older_than_s: float = STALE_TEMP_S) -> int:
        """Delete ``.tmp-*`` files a killed process left; returns how many.

        Only old ones: another process using the same folder may be writing a young one.
        """
        cutoff = time.time() - older_than_s
        removed = 0
        for folder in (self.blobs_dir, self.thumbs_dir):
            if not folder.exists():
                continue
            for temp in folder.glob(f"*/{TEMP_PREFIX}*"):
                with contextlib.suppress(FileNotFoundError):
                    if temp.stat().st_mtime < cutoff:
                        temp.unlink()
                        removed += 1
        return removed


def _ext(mime: str) -> str:
    for known_mime, ext in images.FORMATS.values():
        if known_mime == mime:
            return ext
    raise BlobMissing(f"no file type known for {mime!r}")


def _holds(path: Path, sha256: str) -> bool:
    # Re-hash an existing file: a damaged copy is replaced by the good bytes, never trusted.
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest() == sha256
    except FileNotFoundError:
        return False
