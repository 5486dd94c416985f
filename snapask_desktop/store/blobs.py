"""Content-addressed screenshot files: ``blobs/ab/<sha>.<ext>`` and ``thumbs/ab/<sha>.jpg``.

Every write is atomic (temp file in the same folder, fsync, rename), so a file under its final
name always has its full content; a crash can leave only ``.tmp-*`` files, removed on open.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from snapask_desktop.store import images
from snapask_desktop.store.errors import BlobCorrupt, BlobMissing

TEMP_PREFIX = ".tmp-"


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

    def put(self, data: bytes) -> StoredBlob:
        """Check and store a picture plus its thumbnail; the same bytes are stored once."""
        decoded = images.decode(data)  # refuses bad input before anything is written
        raw = bytes(data)
        sha = hashlib.sha256(raw).hexdigest()
        path = self.blob_path(sha, decoded.ext)
        if not _has_content(path, len(raw)):
            atomic_write(path, raw)
        thumb = self.thumbnail_path(sha)
        if not thumb.exists():
            atomic_write(thumb, images.thumbnail_jpeg(decoded.image))
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

    def ensure_thumbnail(self, sha256: str, mime: str) -> Path:
        """The thumbnail's path, remade from the picture if it went missing."""
        thumb = self.thumbnail_path(sha256)
        if not thumb.exists():
            decoded = images.decode(self.read(sha256, mime, verify=True))
            atomic_write(thumb, images.thumbnail_jpeg(decoded.image))
        return thumb

    def blob_path(self, sha256: str, ext: str) -> Path:
        """Where the picture with this hash lives."""
        return self.blobs_dir / sha256[:2] / f"{sha256}.{ext}"

    def thumbnail_path(self, sha256: str) -> Path:
        """Where the picture's thumbnail lives."""
        return self.thumbs_dir / sha256[:2] / f"{sha256}.jpg"

    def remove_stale_temp_files(self) -> int:
        """Delete ``.tmp-*`` files a killed process left; returns how many."""
        removed = 0
        for folder in (self.blobs_dir, self.thumbs_dir):
            for temp in folder.glob(f"*/{TEMP_PREFIX}*") if folder.exists() else ():
                with contextlib.suppress(FileNotFoundError):
                    temp.unlink()
                    removed += 1
        return removed


def _ext(mime: str) -> str:
    for known_mime, ext in images.FORMATS.values():
        if known_mime == mime:
            return ext
    raise BlobMissing(f"no file type known for {mime!r}")


def _has_content(path: Path, size: int) -> bool:
    # A same-named file of another size is damaged: rewrite it rather than trust it.
    try:
        return path.stat().st_size == size
    except FileNotFoundError:
        return False


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=TEMP_PREFIX)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    # Makes the rename itself durable; not possible (nor needed) on Windows.
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
