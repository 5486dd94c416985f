"""The picture before its question goes: redactions, mark-up, the secrets review, and
exactly what will be sent.

Part of `ChatController` (a mixin over its state and signals, see controller.py). The unsent
picture is a new chat's or the one added to the open conversation (`follow_ups.py`). The marks
chosen in the editor are painted in by the worker that saves the question, so what is stored,
sent and synced is the edited picture; the original as captured is kept on this device only
when asked (`keep_original`). With "always ask" (`ask_before_suggested_redaction`) a question
waits until the picture was looked at in the editor (`review_requested`) or nothing was found
in it (`review_passed`). `preview` works out what would be sent, byte for byte.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtGui import QImage

from snapask_desktop.editor.marks import EditList, Mark, pending_suggestions
from snapask_desktop.ui.chat import status
from snapask_desktop.ui.chat.decoding import decode_png

if TYPE_CHECKING:
    from snapask_desktop.ai.image_prep import PreparedImage
    from snapask_desktop.redact.guard import Suggestions


class UnsentPicture:
    """ChatController's picture editing before sending; see the module docstring."""

    @property
    def can_edit_picture(self) -> bool:
        """Whether the shown picture (or the one added to the conversation) is not sent yet
        and can be redacted and marked up."""
        if self._attach_state != "none":
            return (
                self._attach_state == "ready"
                and self._attach_png is not None
                and not self.answering_here
            )
        return (
            self._cid is None
            and self._picture_state == "ready"
            and self._png is not None
            and self._held_question is None
            and not self.answering_here
        )

    @property
    def unsent_picture(self) -> bytes | None:
        """The unsent picture's bytes as captured, while it can still be edited: the one added
        to the conversation, or a new chat's."""
        if not self.can_edit_picture:
            return None
        return self._attach_png if self._attach_state != "none" else self._png

    @property
    def marks(self) -> tuple[Mark, ...]:
        """The redactions and mark-up that will be painted into the picture before sending."""
        return self._marks

    @property
    def keep_original(self) -> bool:
        """Whether the unsent picture as captured is kept (on this device) when sent."""
        return self._keep_original

    @property
    def suggestions(self) -> Suggestions | None:
        """Suggested redactions for the unsent picture, once looked for."""
        return self._suggestions

    def _forget_edits(self) -> None:
        """A different unsent picture: the marks, suggestions and review were of the last. Its
        edits are painted in before it is stored (and so sent and synced)."""
        self.edits = EditList()
        self._marks: tuple[Mark, ...] = ()  # what the user confirmed (Done in the editor)
        self._keep_original = False  # ... and whether the picture as captured is kept too
        self._suggestions: Suggestions | None = None
        self._suggest_task = 0
        self._reviewed = False  # the picture was looked at in the editor ("always ask")
        self._reviewing: str | None = None  # a question waiting for the suggestions
        self._review_after_png: str | None = None  # ... for the picture's PNG, then those

    def find_suggestions(self) -> None:
        """Look for secrets in the unsent picture on this device (once per picture);
        `suggestions_ready` tells what was found."""
        png = self.unsent_picture
        if png is None or self._suggest_task:
            if self._suggestions is not None:
                self.suggestions_ready.emit(self._suggestions)
            return
        from snapask_desktop.redact.guard import suggest_redactions

        view = self._view

        def found(_token: int, suggestions: Suggestions) -> None:
            if view != self._view:
                return  # another picture is shown by now
            self._suggestions = suggestions
            self.suggestions_ready.emit(suggestions)
            if self._reviewing is not None:
                self._reviewed_by_finder(suggestions)

        def failed(reason: str) -> None:
            from snapask_desktop.redact.guard import Suggestions as Found

            found(0, Found((), reason))

        self._suggest_task = self._tasks.run(lambda: suggest_redactions(png), found, failed)

    def set_marks(
        self, edits: EditList, picture: bytes | None = None, *, keep_original: bool = False
    ) -> bool:
        """The user is done editing: `edits`' marks are painted in before the picture is
        sent, and the thumbnail shows the picture as it will be sent. `picture`: the bytes
        they were drawn on; False (nothing changes) when that is no longer the unsent one.
        `keep_original`: the picture as captured is kept too, on this device only."""
        png = self.unsent_picture
        if png is None or (picture is not None and picture is not png):
            return False
        self.edits = edits
        self._marks = edits.marks
        self._keep_original = keep_original and bool(edits.marks)
        self._reviewed = True
        self.marks_changed.emit()
        chosen = self._marks

        def painted() -> QImage:
            if not chosen:
                return decode_png(png)
            from snapask_desktop.redact.guard import apply_marks

            return decode_png(apply_marks(png, chosen))

        if self._attach_state != "none":
            self._attach_task = self._tasks.run(painted, self._attachment_decoded)
        else:
            self._picture_task = self._tasks.run(painted, self._picture_decoded)
        return True

    def preview(self, marks: tuple[Mark, ...]) -> int:
        """Work out exactly what would be sent with `marks` (painted, redacted when that is
        on, downscaled, encoded); `preview_ready` / `preview_failed` answer with the token."""
        png = self.unsent_picture
        if png is None:
            return 0
        chat, provider = self._chat, self._settings.provider
        token = 0

        def work() -> PreparedImage:
            return chat.picture_to_send(png, marks, provider)

        def failed(reason: str) -> None:
            self.preview_failed.emit(token, reason)

        token = self._tasks.run(
            work, lambda t, prepared: self.preview_ready.emit(t, prepared), failed
        )
        return token

    def show_original(self) -> None:
        """Read and decode the shown picture's kept original (`original_ready`)."""
        sha, store, view = self._original_sha, self._chat.store, self._view
        if sha is None:
            return

        def read() -> QImage:
            data = store.original_bytes(sha)
            if data is None:
                raise ValueError("the original is no longer on this device")
            return decode_png(data)

        def shown(_token: int, image: QImage) -> None:
            if view == self._view:
                self.original_ready.emit(image)

        def failed(reason: str) -> None:
            if view == self._view:
                self._set_original(None)
                self._set_status(status.picture_not_shown(reason))

        self._tasks.run(read, shown, failed)

    def _find_original(self, sha: str) -> None:
        store, view = self._chat.store, self._view

        def found(_token: int, kept: bool) -> None:
            if view == self._view and kept:
                self._set_original(sha)

        self._tasks.run(lambda: store.original_bytes(sha) is not None, found, lambda _r: None)

    def _set_original(self, sha: str | None) -> None:
        self._original_sha = sha
        self.original_available.emit(sha is not None)

    def review_cancelled(self) -> None:
        """The editor opened for "always ask" was closed without sending."""
        self._set_status(status.REVIEW_CANCELLED)

    def _must_review(self, *, pending: bool = False) -> bool:
        """ "Always ask": the unsent picture (a new chat's, or the one added to the
        conversation) was not looked at in the editor yet (`pending`: its PNG is still being
        made)."""
        if self._cid is None:
            state, png = self._picture_state, self._png
        else:
            state, png = self._attach_state, self._attach_png
        here = state == "pending" if pending else png is not None
        return self._settings.ask_before_suggested_redaction and here and not self._reviewed

    def _review(self, question: str) -> None:
        self._reviewing = question
        if self._suggestions is not None:
            self._reviewed_by_finder(self._suggestions)
            return
        self._set_status(status.CHECKING_PICTURE)
        self.find_suggestions()

    def _reviewed_by_finder(self, suggestions: Suggestions) -> None:
        question, self._reviewing = self._reviewing, None
        if question is None:
            return
        if suggestions.problem is None and not pending_suggestions(
            suggestions.redactions, self._marks
        ):
            self._reviewed = True
            self._set_status(status.IDLE)
            self.review_passed.emit(question)
            return
        self._set_status(status.review_suggested(suggestions.problem))
        self.review_requested.emit(question)
