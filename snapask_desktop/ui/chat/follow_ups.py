"""Captures added to the open conversation: the next question's picture, and the pictures
of the follow-ups already asked.

Part of `ChatController` (a mixin over its state and signals, see controller.py). `add_picture`
makes a capture the conversation's attachment: shown above the prompt box as it will be sent,
editable until then (`unsent_picture.py`), pending until its PNG arrives
(`picture_arrival.py`), and sent with the next question as that message's own picture. The
thread's pictures (every follow-up's but the first) are kept as thumbnails by hash;
`show_thread_picture` reads one again at full size for the viewer.
"""

from __future__ import annotations

from PySide6.QtGui import QImage

from snapask_desktop.ui.chat import status
from snapask_desktop.ui.chat.decoding import LoadedConversation, decode_png
from snapask_desktop.ui.chat.picture_arrival import PictureState
from snapask_desktop.ui.chat.reads import picture_bytes


class FollowUps:
    """ChatController's captures into the open conversation; see the module docstring."""

    @property
    def can_add_picture(self) -> bool:
        """Whether a capture can go into the shown conversation as its next question's
        picture (one is open, read, not deleted, and no question waits for a picture)."""
        return (
            self._cid is not None and self._ready and not self._gone and self._held_question is None
        )

    @property
    def thread_pictures(self) -> dict[str, QImage | None]:
        """The shown conversation's follow-up pictures by hash (None: not downloaded yet)."""
        return self._thread

    def show_thread_picture(self, sha256: str) -> None:
        """Read one of the follow-ups' pictures at full size (the thread keeps thumbnails);
        `thread_picture_ready` brings it."""
        store = self._chat.store

        def failed(reason: str) -> None:
            self._set_status(status.picture_not_shown(reason))

        self._tasks.run(
            lambda: decode_png(picture_bytes(store, sha256)),
            lambda _token, image: self.thread_picture_ready.emit(image),
            failed,
        )

    @property
    def first_picture_sha(self) -> str | None:
        """The hash of the picture shown above the transcript (the first one)."""
        return self._first_sha

    @property
    def attachment_state(self) -> PictureState:
        """The state of the picture added to the shown conversation ("none" without one)."""
        return self._attach_state

    def add_picture(
        self, png: bytes | None, image: QImage | None = None, picture_id: int | None = None
    ) -> None:
        """A capture for the shown conversation: asked about with the next question, as a
        follow-up with its own picture (`png` may come later, as for `new_from_picture`). It
        can be redacted and marked up until then; a picture added before replaces it. Without
        a conversation that can take it (`can_add_picture`), it starts a new chat instead."""
        if not self.can_add_picture:
            self.new_from_picture(png, image, picture_id)
            return
        self._forget_edits()
        self._attach_png, self._attach_id = png, picture_id
        self._attach_state = "ready" if png is not None else "pending"
        self._attach_image = image if image is not None and not image.isNull() else QImage()
        self._attach_task = 0
        if self._attach_image.isNull() and png is not None:
            self._attach_task = self._tasks.run(lambda: decode_png(png), self._attachment_decoded)
        self.attachment_changed.emit(self._attach_image, self._attach_state)
        self.marks_changed.emit()

    def remove_picture(self) -> None:
        """Leave out the picture added to the conversation (not once it is being sent)."""
        if self._attach_state != "none" and not self.answering_here:
            self._clear_attachment()

    def _clear_attachment(self) -> None:
        self._forget_edits()
        self._attach_png = self._attach_id = None
        self._attach_state = "none"
        self._attach_image = QImage()
        self._attach_task = 0
        self.attachment_changed.emit(QImage(), "none")
        self.marks_changed.emit()

    def _attachment_decoded(self, token: int, image: QImage) -> None:
        if token == self._attach_task and self._attach_state != "none":
            self._attach_image = image
            self.attachment_changed.emit(image, self._attach_state)

    def _set_thread(self, loaded: LoadedConversation) -> None:
        """Take the follow-ups' pictures of a read; ask for those not downloaded yet."""
        self._first_sha = loaded.picture_sha
        self._thread = dict(loaded.thread)
        if self._blob_fetcher is not None:
            for sha, image in self._thread.items():
                if image is None:
                    self._blob_fetcher(sha)
