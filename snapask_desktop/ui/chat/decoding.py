"""Pictures decoded on worker threads, never on the main thread.

`decode_png` turns a PNG into a QImage (safe off the GUI thread, unlike a QPixmap);
`with_pictures` decodes what `reads.py` read of a conversation into a `LoadedConversation`:
its first picture at full size, the follow-ups' as thumbnails no larger than their bubbles.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

if TYPE_CHECKING:
    from snapask_desktop.store.records import ConflictRecord, ConversationDetail
    from snapask_desktop.ui.chat.reads import ConversationRead


@dataclass(frozen=True)
class LoadedConversation:
    """A conversation read from the store, with its first picture decoded."""

    detail: ConversationDetail
    picture: QImage | None
    picture_sha: str | None = None  # the first picture's hash
    missing: bool = False  # that picture's bytes are not on this device (synced, not fetched)
    conflicts: tuple[ConflictRecord, ...] = ()
    device_id: str = ""
    thread: dict[str, QImage | None] = dataclasses.field(default_factory=dict)  # see reads.py


def decode_png(png: bytes) -> QImage:
    """A PNG as a QImage (a worker may make one: it is not a QPixmap); raises when unreadable."""
    image = QImage.fromData(png)
    if image.isNull():
        raise ValueError("the picture could not be read")
    return image


# A follow-up's picture is kept no larger than its bubble shows it at a ratio of 2 (a full
# screen is 8 MB decoded; a thread may hold several); the viewer reads it again at full size.
THREAD_THUMB_PX = (576, 192)


def _thread_thumbnail(image: QImage) -> QImage:
    width, height = THREAD_THUMB_PX
    if image.width() <= width and image.height() <= height:
        return image
    smooth = Qt.TransformationMode.SmoothTransformation
    return image.scaled(width, height, Qt.AspectRatioMode.KeepAspectRatio, smooth)


def with_pictures(read: ConversationRead) -> LoadedConversation:
    """Decode a read conversation's picture (on the worker that read it)."""
    picture = None
    if read.picture_png is not None:
        image = QImage.fromData(read.picture_png)
        picture = None if image.isNull() else image
    thread: dict[str, QImage | None] = {}
    for sha, png in read.thread.items():
        image = None if png is None else QImage.fromData(png)
        thread[sha] = None if image is None or image.isNull() else _thread_thumbnail(image)
    return LoadedConversation(
        read.detail, picture, read.picture_sha, read.missing, read.conflicts, read.device_id, thread
    )
