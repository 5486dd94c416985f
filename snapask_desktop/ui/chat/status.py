"""What the chat window's status line says: every sentence and the button it offers.

Plain data, no Qt: the controller picks one of these for each event, the status row draws it,
and tests read the wording without a window.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from typing import Literal

from snapask_desktop.ai import errors
from snapask_desktop.ai.types import AIError, ErrorKind

StatusKind = Literal["idle", "preparing", "sending", "answering", "retrying", "waiting", "error"]
StatusAction = Literal["", "retry", "send_now", "restore", "regenerate", "ask_ai"]
# Failures the user fixes in Settings (the AI layer's own messages point to the CLI).
SETTINGS_KINDS = frozenset(
    {ErrorKind.NO_KEY, ErrorKind.INVALID_KEY, ErrorKind.MODEL_NOT_FOUND, ErrorKind.NO_PICTURES}
)
_GENERAL_KINDS = frozenset({ErrorKind.MODEL_NOT_FOUND, ErrorKind.NO_PICTURES})


@dataclass(frozen=True)
class ChatStatus:
    """The window's status line: what is happening, and which button it offers."""

    kind: StatusKind = "idle"
    message: str = ""
    # "retry": Retry; "send_now": try the waiting question now; "restore": undo a delete;
    # "regenerate": answer again in place of a stopped answer; "ask_ai": a picture that could
    # not be read on this device goes to the AI provider instead
    action: StatusAction = ""
    detail: str = ""  # the reason behind a waiting question
    next_try_s: float | None = None  # when a waiting question is tried again
    # The Settings page holding the fix ("api_key", "general" for the model); "" = none.
    settings_page: str = ""


DELETED_ELSEWHERE = "This conversation was deleted. Restore brings it back."
NO_ANSWER_YET = "This question has no answer yet."

IDLE = ChatStatus()
OPENING = ChatStatus("preparing", "Opening the conversation…")
PREPARING_PICTURE = ChatStatus(
    "preparing", "Preparing the picture… your question goes out as soon as it is ready."
)
SENDING = ChatStatus("sending", "Sending…")
SENDING_WAITING = ChatStatus("sending", "Sending your waiting question…")
TRYING_NOW = ChatStatus("sending", "Trying to send your question now…")
ANSWERING = ChatStatus("answering", "Answering…")
READING_HERE = ChatStatus("sending", "Reading the text on this device… (Stop or Ctrl+. cancels)")
# The stopped answer's bubble says "Stopped"; the line only offers to answer again.
STOPPED = ChatStatus("idle", "", "regenerate")
NOT_SENT = ChatStatus("error", "Not sent. Retry sends it.", "retry")
UNANSWERED = ChatStatus("error", NO_ANSWER_YET, "retry")
# Deleted in History, by the CLI or on another device while shown here.
GONE_ELSEWHERE = ChatStatus("error", DELETED_ELSEWHERE, "restore")
DELETED_HERE = ChatStatus("idle", "The conversation was deleted.")
# Status lines a synced change may have made untrue (re-checked after a re-read).
_SYNC_STALE = frozenset({DELETED_ELSEWHERE, NO_ANSWER_YET})


def answered(*, from_cache: bool = False, stopped: bool = False) -> ChatStatus:
    """An answer ended: stopped by the user, from the cache, or plainly done."""
    if stopped:
        return STOPPED
    return ChatStatus("idle", "Answered from the cache." if from_cache else "")


def retrying(text: str) -> ChatStatus:
    """An answer is being tried again (`text` from `retry_text`)."""
    return ChatStatus("retrying", text)


def retry_text(attempt: int, error: AIError, wait_s: float) -> str:
    """The line shown while an answer is retried: what happened and when the next try is."""
    seconds = max(1, math.ceil(wait_s))
    return f"{error.user_message} Retrying in {seconds} s… (try {attempt + 1})"


TRIED_AGAIN = "Tried again just now, without success."


def tried_again(failed: ChatStatus) -> ChatStatus:
    """A failure right after the user's own Retry: said as such, not as the same words again."""
    return dataclasses.replace(failed, message=f"{TRIED_AGAIN} {failed.message}".strip())


def with_retry(reason: str) -> ChatStatus:
    """An error line with Retry (an answer not saved, a question not sent)."""
    return ChatStatus("error", reason, "retry")


def picture_failed(reason: str, *, question_held: bool) -> ChatStatus:
    """The picture could not be encoded; a held question can go without it."""
    if question_held:
        return with_retry(f"{reason} Retry sends your question without the picture.")
    return ChatStatus("error", reason)


def needs_picture(action: str) -> ChatStatus:
    """A picture-only quick action in a chat without a picture."""
    return ChatStatus("error", f"{action} works on a picture: capture part of the screen first.")


def ocr_missing(reason: str) -> ChatStatus:
    """ "Extract text" found no local OCR engine: what to install, or ask the AI instead."""
    return ChatStatus(
        "error",
        "The text can't be read on this device: the OCR engine is missing. "
        "Ask the AI sends the picture to your AI provider instead.",
        "ask_ai",
        reason,
    )


def local_read_failed(reason: str, *, stopped: bool, engine_missing: bool) -> ChatStatus:
    """The line after "Extract text" was not read here: what is missing or wrong, and the
    offer to ask the AI (the question is saved, unanswered) instead."""
    if stopped:
        return ChatStatus("idle", "Stopped: the text was not read.")
    if engine_missing:
        return ocr_missing(reason)
    return ChatStatus("error", f"{reason} Ask the AI sends the picture instead.", "ask_ai")


def redaction_failed(reason: str) -> ChatStatus:
    """Hiding secrets is on and could not be done: nothing was sent; why, and the two fixes."""
    return ChatStatus(
        "error",
        "Nothing was sent: “Hide secrets before sending” is on and the picture could not be "
        "checked for secrets. Install the OCR extra, or turn the setting off in Settings → "
        "General, then press Retry.",
        "retry",
        reason,
        settings_page="general",
    )


CHECKING_PICTURE = ChatStatus("sending", "Looking for secrets in the picture before sending…")
REVIEW_CANCELLED = ChatStatus(
    "idle", "Not sent. Press Enter to review the picture again, or Ctrl+E to edit it."
)


def review_suggested(problem: str | None) -> ChatStatus:
    """ "Always ask before sending a picture with a suggested redaction": the editor opens."""
    if problem:
        return ChatStatus(
            "idle",
            "Not sent yet: the picture could not be checked for secrets. Look at it first.",
            detail=problem,
        )
    return ChatStatus(
        "idle", "Not sent yet: some parts look like secrets. Enter hides them; then send."
    )


def marks_failed(reason: str) -> ChatStatus:
    """The user's redactions or mark-up could not be painted: nothing was sent."""
    return ChatStatus(
        "error",
        "Nothing was sent: your redactions and marks could not be painted on the picture. "
        "Press Retry, or edit the picture again (Ctrl+E).",
        "retry",
        reason,
    )


def secrets_hidden(count: int) -> ChatStatus:
    """Redaction painted over suspected secrets before the picture was sent."""
    what = "1 secret was" if count == 1 else f"{count} secrets were"
    return ChatStatus("idle", f"{what} hidden before sending. The picture shows what was sent.")


def could_not_open(reason: str) -> ChatStatus:
    """Reading a saved conversation failed."""
    return ChatStatus("error", f"The conversation could not be opened. {reason}")


def picture_not_shown(reason: str) -> ChatStatus:
    """Decoding a picture failed."""
    return ChatStatus("error", f"The picture could not be shown. {reason}")


def did_not_work(reason: str) -> ChatStatus:
    """A conflict could not be resolved (its banner's buttons work again)."""
    return ChatStatus("error", f"That did not work. {reason}")


# "…; try again in 30 s." / ". Try again in a moment." at the end of a provider's message: the
# queue tries again by itself and the line counts down to it, so that advice would be a second
# (and soon stale) countdown.
_TRY_AGAIN = re.compile(
    r"(?:[;,]|\.)?\s*(?:please\s+)?try again(?:\s+(?:in\s+\d+\s*s(?:econds?)?|later|"
    r"in a moment|soon))?\s*\.?\s*$",
    re.IGNORECASE,
)


def without_retry_advice(reason: str) -> str:
    """A failure's reason without its own "try again (in N s)" advice."""
    text = _TRY_AGAIN.sub("", reason.strip()).rstrip()
    if not text:
        return reason.strip()
    return text if text.endswith((".", "!", "?", ":")) else text + "."


def waiting(reason: str, next_try_s: float | None, *, tried_now: bool = False) -> ChatStatus:
    """A question waits in the answer queue; Send now tries it at once. The one countdown is
    the status row's "Next try in N s"."""
    message = "Waiting to send: your question goes out by itself once the AI provider answers."
    if tried_now:  # Send now was pressed: say it was tried, not just the same words again
        message = "Tried just now, without success. " + message
    return ChatStatus("waiting", message, "send_now", without_retry_advice(reason), next_try_s)


def failure(error: AIError | None, reason: str, *, provider: str, model: str) -> ChatStatus:
    """An error line with Retry; key and model problems point to Settings, not the CLI."""
    kind = error.kind if error is not None else None
    if kind not in SETTINGS_KINDS:
        return with_retry(reason)
    name = errors.label(provider, start=True)
    messages = {
        ErrorKind.NO_KEY: f"No API key is set for {errors.label(provider)}.",
        ErrorKind.INVALID_KEY: f"{name} rejected the API key.",
        ErrorKind.MODEL_NOT_FOUND: f"{name} has no model called '{model}'.",
        ErrorKind.NO_PICTURES: f"The model '{model}' cannot read pictures. Choose one that "
        "can, or have its pictures sent as their text.",
    }
    fix = "Fix it in Settings, then press Retry."
    page = "general" if kind in _GENERAL_KINDS else "api_key"
    return ChatStatus("error", f"{messages[kind]} {fix}", "retry", settings_page=page)


def stale_after_sync(status: ChatStatus) -> bool:
    """Whether a synced change may have made this line untrue (idle, or a sync-made line)."""
    return status.kind == "idle" or status.message in _SYNC_STALE
