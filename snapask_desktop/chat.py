"""Asking about pictures: questions and answers go through the store, answers through the AI client.

The same service serves the CLI and the tray app. Questions are saved before anything is sent,
so a failed or cancelled answer never loses what the user asked; an answer is saved once it
completes (or, cut short by the user, with what arrived, marked cancelled).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from snapask_desktop.ai.types import AIError, AskRequest, ImageInput, Turn
from snapask_desktop.store.errors import StoreError, user_reason
from snapask_desktop.store.records import ConversationDetail, Message

# The client and stream modules bring asyncio, httpx, Pillow and tenacity, and the store module
# SQLAlchemy: all arrive with the first question (the service only holds them until then).
if TYPE_CHECKING:
    from collections.abc import Sequence

    from snapask_desktop.ai.answer_stream import AnswerStream
    from snapask_desktop.ai.client import AIClient
    from snapask_desktop.ai.image_prep import PreparedImage
    from snapask_desktop.ai.resilience import OnRetry
    from snapask_desktop.editor.marks import Mark
    from snapask_desktop.picture_text import PictureText
    from snapask_desktop.redact.guard import GuardedPicture
    from snapask_desktop.store.repository import Store

SYSTEM_PROMPT = (
    "You are SnapAsk, an assistant that answers questions about screenshots and pictures the "
    "user captured from their screen. Be accurate and concise; use Markdown; quote text from the "
    "picture exactly when it matters."
)
TITLE_CHARS = 60
OnRedacted = Callable[[bytes, int], None]  # the picture as sent, how many secrets were painted

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AnswerResult:
    """How an answer ended and what was saved.

    `save_error` is set when the answer arrived (or was stopped with text) but the store refused
    it (disk full, database busy, conversation deleted meanwhile): `text` still holds all of it.
    """

    status: Literal["final", "cancelled", "error"]
    text: str
    message: Message | None  # the saved answer; None when nothing was saved
    from_cache: bool
    error: AIError | None
    save_error: StoreError | None = None

    @property
    def save_problem(self) -> str:
        """Why the answer was not saved, fit to show (empty when nothing went wrong there)."""
        if self.save_error is None:
            return ""
        reason = user_reason(self.save_error).rstrip(".") or type(self.save_error).__name__
        return f"The answer could not be saved: {reason}."


def make_title(question: str, now_ms: int | None = None) -> str:
    """A conversation title from the first question (its first line, shortened)."""
    first_line = next((line.strip() for line in question.splitlines() if line.strip()), "")
    if not first_line:
        when = time.localtime((now_ms or time.time_ns() // 1_000_000) / 1000)
        return time.strftime("Screenshot %Y-%m-%d %H:%M", when)
    if len(first_line) <= TITLE_CHARS:
        return first_line
    return first_line[: TITLE_CHARS - 1].rstrip() + "…"


def stored_picture(store: Store, sha256: str) -> ImageInput:
    """A stored picture as providers take it, typed by its row (the store checked the type
    when it kept the bytes); its text is read only for a model that reads no pictures."""
    from snapask_desktop.picture_text import text_of

    info = store.screenshot_info(sha256)
    data = store.screenshot_bytes(sha256)
    read_text = functools.partial(text_of, store, sha256)
    return ImageInput(data=data, mime=info.mime, sha256=info.sha256, read_text=read_text)


def build_turns(detail: ConversationDetail, picture: Callable[[str], ImageInput]) -> list[Turn]:
    """The conversation as provider turns: final questions and completed answers, in order.

    Cancelled or failed answers are left out (the model should not build on a fragment);
    questions left without an answer are joined to the next one so roles still alternate.
    """
    turns: list[Turn] = []
    for message in detail.messages:
        if message.status not in ("final", "pending"):
            continue
        image = None if message.screenshot_sha256 is None else picture(message.screenshot_sha256)
        turn = Turn(role=message.role, text=message.text, image=image)
        if turns and turns[-1].role == turn.role and (turns[-1].image is None or image is None):
            previous = turns.pop()
            text = "\n\n".join(part for part in (previous.text, turn.text) if part)
            turn = Turn(role=turn.role, text=text, image=previous.image or image)
        turns.append(turn)
    return turns


class ChatService:
    """Starts conversations, adds questions and streams answers, saving everything."""

    def __init__(
        self,
        store: Store,
        client_for: Callable[[str], AIClient],
        pictures: PictureText | None = None,
    ) -> None:
        self.store = store
        self._client_for = client_for
        self._pictures = pictures

    def final_picture(
        self, image: bytes, marks: Sequence[Mark] = ()
    ) -> tuple[bytes, GuardedPicture | None]:
        """The bytes that are stored, sent and synced for `image`: the user's `marks` painted
        in, then redacted when "Hide secrets before sending" is on. Raises RedactionFailed
        (MarksFailed for the marks) when that cannot be done: nothing may go out then."""
        if marks:
            from snapask_desktop.redact.guard import apply_marks

            image = apply_marks(image, marks)
        if self._pictures is None:
            return image, None
        return self._pictures.before_storing(image)

    def picture_to_send(self, image: bytes, marks: Sequence[Mark], provider: str) -> PreparedImage:
        """Exactly what `provider` would receive for `image` with `marks`: `final_picture`,
        then the client's downscaling and encoding ("What will be sent")."""
        data, _ = self.final_picture(image, marks)
        return self._client_for(provider).prepare(data)

    def _keep_picture(
        self,
        image: bytes,
        on_redacted: OnRedacted | None = None,
        marks: Sequence[Mark] = (),
        keep_original: bool = False,
    ) -> str:
        """Store a picture (`final_picture`: RedactionFailed stores nothing) and have its text
        read; returns its hash. `on_redacted` hears of painted secrets. `keep_original`: the
        picture as given is kept too, on this device only (`Store.keep_original`)."""
        data, guarded = self.final_picture(image, marks)
        sha = self.store.add_screenshot(data).sha256
        if keep_original and data != image:
            self.store.keep_original(sha, image)
        if self._pictures is None:
            return sha
        self._pictures.after_storing(self.store, sha, guarded)
        if guarded is not None and guarded.redacted and on_redacted is not None:
            on_redacted(data, guarded.secret_count)
        return sha

    def start_conversation(
        self,
        question: str,
        image: bytes | None = None,
        title: str | None = None,
        on_redacted: OnRedacted | None = None,
        marks: Sequence[Mark] = (),
        keep_original: bool = False,
    ) -> Message:
        """Save a new conversation with its first question (and picture); returns the question.

        `marks` (redactions and mark-up drawn by the user) are painted into the picture before
        it is stored: only that picture is stored, sent and synced. `on_redacted(data, count)`
        is called when `count` suspected secrets were painted out: `data` is the picture as
        stored and sent."""
        sha = (
            self._keep_picture(image, on_redacted, marks, keep_original)
            if image is not None
            else None
        )
        _, message = self.store.start_conversation(
            title or make_title(question), question, screenshot_sha256=sha
        )
        return message

    def add_question(
        self,
        conversation_id: str,
        question: str,
        image: bytes | None = None,
        on_redacted: OnRedacted | None = None,
        marks: Sequence[Mark] = (),
        keep_original: bool = False,
    ) -> Message:
        """Save a follow-up question in an existing conversation, with its own picture if
        given (a capture into the open conversation). The picture goes the way a new
        conversation's does (`final_picture`): `marks` painted in, secrets hidden when that
        is on, failing closed; `on_redacted` as for `start_conversation`."""
        sha = (
            self._keep_picture(image, on_redacted, marks, keep_original)
            if image is not None
            else None
        )
        return self.store.add_message(conversation_id, "user", question, screenshot_sha256=sha)

    def allow_trial(self, provider: str) -> None:
        """The user asked to try now: a provider resting after failures is asked once anyway."""
        self._client_for(provider).breaker.allow_trial()

    def answer(
        self,
        conversation_id: str,
        *,
        provider: str,
        model: str,
        use_cache: bool = True,
        on_retry: OnRetry | None = None,
    ) -> Answer:
        """Ask the provider about the conversation so far; iterate the result for the chunks."""
        detail = self.store.get_conversation(conversation_id)
        turns = build_turns(detail, functools.partial(stored_picture, self.store))
        if not turns or turns[-1].role != "user":
            raise ValueError("the conversation has no question waiting for an answer")
        request = AskRequest(model=model, turns=tuple(turns), system=SYSTEM_PROMPT)
        client = self._client_for(provider)
        stream = client.ask(request, use_cache=use_cache, on_retry=on_retry)
        return Answer(self.store, conversation_id, model, stream)


class Answer:
    """One streaming answer: iterate for text chunks; when it ends it is saved (see `result`)."""

    def __init__(self, store: Store, conversation_id: str, model: str, stream: AnswerStream):
        self._store = store
        self._conversation_id = conversation_id
        self._model = model
        self._stream = stream
        self.result: AnswerResult | None = None

    def __iter__(self) -> Generator[str, None, None]:
        try:
            yield from self._stream
        except AIError:
            pass  # kept on the stream; reported through `result`
        finally:
            if not self._stream.done:
                self._stream.cancel()  # the caller stopped reading early
            self.result = self._save()

    def cancel(self) -> None:
        """Stop the answer (from any thread); what arrived so far is kept, marked cancelled."""
        self._stream.cancel()

    def wait(self) -> AnswerResult:
        """Consume the whole answer and return how it ended."""
        for _ in self:
            pass
        assert self.result is not None
        return self.result

    def _save(self) -> AnswerResult:
        from snapask_desktop.ai.answer_stream import Outcome  # loaded with the stream

        text, stream = self._stream.text, self._stream
        if stream.outcome is Outcome.COMPLETED:
            status: Literal["final", "cancelled", "error"] = "final"
        elif stream.outcome is Outcome.CANCELLED:
            status = "cancelled"
        else:
            status = "error"
        message, save_error = None, None
        if status == "final" or (status == "cancelled" and text.strip()):
            try:
                message = self._store.add_message(
                    self._conversation_id, "model", text, model=self._model, status=status
                )
            except StoreError as error:  # reported, never raised: the text must reach the user
                log.warning("an answer could not be saved: %s", error)
                save_error = error
        return AnswerResult(status, text, message, stream.from_cache, stream.error, save_error)
