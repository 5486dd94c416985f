"""The shown picture's bytes arriving after its chat: encoded after the capture, or
downloaded after a sync.

Part of `ChatController` (a mixin over its state and signals, see controller.py). A capture
shows at once from its raw pixels and is "pending" until `set_picture_bytes` delivers the PNG
(`CaptureFlow` encodes it on the pool); a question typed meanwhile is held and sent then, also
when the window moved on, and a capture added to the open conversation arrives
the same way (`follow_ups.py`). A synced picture whose bytes are not on this device is
"missing": the blob fetcher is asked for it ("downloading") and `blob_arrived` shows it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from PySide6.QtGui import QImage

from snapask_desktop.ui.chat import status
from snapask_desktop.ui.chat.decoding import decode_png
from snapask_desktop.ui.chat.reads import picture_bytes

# "missing": a synced picture whose bytes are not downloaded yet; "downloading": asked for.
PictureState = Literal["none", "pending", "ready", "failed", "missing", "downloading"]


class PictureArrival:
    """ChatController's pictures whose bytes come later; see the module docstring."""

    @property
    def picture_state(self) -> PictureState:
        """Whether the shown conversation has a picture, and whether its PNG is ready."""
        return self._picture_state

    @property
    def has_picture(self) -> bool:
        """Whether the shown conversation has a picture (here, coming, or to download), or one
        was added to it for the next question."""
        added = self._attach_state in ("pending", "ready")
        return added or self._picture_state in ("pending", "ready", "missing", "downloading")

    @property
    def picture_id(self) -> int | None:
        """The id given with the shown picture (`new_from_picture`), if any."""
        return self._picture_id

    def new_from_picture(
        self, png: bytes | None, image: QImage | None = None, picture_id: int | None = None
    ) -> None:
        """A new chat about a picture: `png` may come later (`set_picture_bytes`), `image` shows
        at once; `picture_id` ties a later `set_picture_bytes` to this picture."""
        self._switch()
        self._picture_id = picture_id
        self._png = png
        state: PictureState = "ready" if png is not None else "pending"
        if image is not None and not image.isNull():
            self._emit_picture(image, state)
        else:
            self._emit_picture(QImage(), state)
            if png is not None:
                self._picture_task = self._tasks.run(lambda: decode_png(png), self._picture_decoded)

    def set_picture_bytes(self, png: bytes, picture_id: int | None = None) -> bool:
        """The PNG of the pending picture is ready; a held question goes out now (also one held
        for a picture whose conversation is no longer shown: it starts that conversation, or
        goes into the one it was added to)."""
        if picture_id is not None and picture_id in self._held_elsewhere:
            held_there = self._held_elsewhere.pop(picture_id)
            self._start_elsewhere(held_there, png)
            return True
        if picture_id is not None and picture_id == self._attach_id:
            if self._attach_state not in ("pending", "failed"):
                return False
            self._attach_png = png
            self._attach_state = "ready"
            self.attachment_changed.emit(self._attach_image, "ready")
            self._png_arrived()
            return True
        if self._cid is not None or picture_id != self._picture_id:
            return False  # a picture of a conversation no longer shown
        if self._picture_state not in ("pending", "failed"):
            return False
        self._png = png
        self._set_picture_state("ready")
        self._png_arrived()
        return True

    def _png_arrived(self) -> None:
        """The unsent picture's PNG is here: the review or the question waiting for it goes on."""
        review, self._review_after_png = self._review_after_png, None
        if review is not None:
            self._review(review)
        held, self._held_question = self._held_question, None
        if held is not None:
            self._start(question=held, announce=False)

    def picture_failed(self, reason: str, picture_id: int | None = None) -> None:
        """The picture could not be encoded: say so; a held question can go without it."""
        if picture_id is not None and picture_id in self._held_elsewhere:
            self.question_restored.emit(self._held_elsewhere.pop(picture_id).question)
            self._update_answering()
            return
        if picture_id is not None and picture_id == self._attach_id:
            self._attach_state = "failed"
            self.attachment_changed.emit(self._attach_image, "failed")
        elif self._cid is not None or picture_id != self._picture_id:
            return
        else:
            self._set_picture_state("failed")
        if self._held_question is not None:
            self._unsaved_question, self._held_question = self._held_question, None
            self._update_answering()
            self.answer_finished.emit("error", "")
            self._set_status(status.picture_failed(reason, question_held=True))
        else:
            self._set_status(status.picture_failed(reason, question_held=False))

    def _picture_decoded(self, token: int, image: QImage) -> None:
        if token == self._picture_task:
            self.picture_changed.emit(image)

    def set_blob_fetcher(self, fetch: Callable[[str], None] | None) -> None:
        """Where a missing picture is asked for (the sync service's `fetch_blob`; its answer
        comes back through `blob_arrived` / `blob_failed`); None: sync is off."""
        self._blob_fetcher = fetch
        self.retry_missing_picture()

    def retry_missing_picture(self) -> None:
        """Ask for the shown picture again if it is still not downloaded (e.g. back online)."""
        sha = self._missing_sha
        if sha is None or self._blob_fetcher is None or self._picture_state != "missing":
            return
        self._set_picture_state("downloading")
        self._blob_fetcher(sha)

    def blob_arrived(self, sha256: str) -> None:
        """A picture was downloaded: show it if it is the missing one shown here."""
        if sha256 in self._thread and self._thread[sha256] is None:
            self.reload()  # a follow-up's picture: its bubble shows it after the re-read
            return
        if sha256 != self._missing_sha:
            return
        store, cid = self._chat.store, self._cid

        def shown(_token: int, image: QImage) -> None:
            if self._missing_sha == sha256 and self._cid == cid:
                self._missing_sha = None
                self._emit_picture(image, "ready")

        def failed(reason: str) -> None:
            if self._missing_sha == sha256 and self._cid == cid:
                self._missing_sha = None
                self._set_picture_state("none")
                self._set_status(status.picture_not_shown(reason))

        self._picture_task = self._tasks.run(
            lambda: decode_png(picture_bytes(store, sha256)), shown, failed
        )

    def blob_failed(self, sha256: str, _reason: str) -> None:
        """A download did not work (offline, or the server lacks it): the placeholder stays and
        the picture is asked for again next time (`retry_missing_picture`, reopening)."""
        if sha256 == self._missing_sha and self._picture_state == "downloading":
            self._set_picture_state("missing")

    def _picture_missing(self, sha256: str) -> None:
        self._missing_sha = sha256
        self._set_picture_state("missing")
        self.retry_missing_picture()

    def _emit_picture(self, image: QImage, state: PictureState) -> None:
        self.picture_changed.emit(image)
        self._picture_state = state
        self.picture_state_changed.emit(state)

    def _set_picture_state(self, state: PictureState) -> None:
        if state != self._picture_state:
            self._picture_state = state
            self.picture_state_changed.emit(state)
