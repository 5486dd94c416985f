"""The chat status line's wording (ui/chat/status.py), without Qt: which sentence, which button."""

from __future__ import annotations

import subprocess
import sys

import pytest

from snapask_desktop.ai.types import AIError, ErrorKind
from snapask_desktop.ui.chat import status
from snapask_desktop.ui.chat.status import ChatStatus


def test_the_chat_status_and_reads_modules_import_no_qt() -> None:
    code = (
        "import sys\n"
        "import snapask_desktop.ui.chat.reads, snapask_desktop.ui.chat.status\n"
        "print(sorted(m for m in sys.modules if m.startswith('PySide6')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("kind", "sentence", "page"),
    [
        (ErrorKind.NO_KEY, "No API key is set for Gemini.", "api_key"),
        (ErrorKind.INVALID_KEY, "Gemini rejected the API key.", "api_key"),
        (ErrorKind.MODEL_NOT_FOUND, "Gemini has no model called 'gemini-x'.", "general"),
        (
            ErrorKind.NO_PICTURES,
            "The model 'gemini-x' cannot read pictures. Choose one that "
            "can, or have its pictures sent as their text.",
            "general",
        ),
    ],
)
def test_key_and_model_failures_point_to_the_settings_page_that_fixes_them(
    kind: ErrorKind, sentence: str, page: str
) -> None:
    error = AIError(kind, "Run `snapask config` to fix it.")
    line = status.failure(error, error.user_message, provider="gemini", model="gemini-x")
    assert line == ChatStatus(
        "error", f"{sentence} Fix it in Settings, then press Retry.", "retry", settings_page=page
    )
    assert "snapask" not in line.message  # the CLI hint is not for people in the window


def test_other_failures_show_their_reason_with_retry_and_no_settings_page() -> None:
    error = AIError(ErrorKind.SAFETY, "The answer was blocked.")
    line = status.failure(error, error.user_message, provider="gemini", model="m")
    assert line == ChatStatus("error", "The answer was blocked.", "retry")
    no_error = status.failure(None, "The question could not be saved.", provider="x", model="m")
    assert no_error == ChatStatus("error", "The question could not be saved.", "retry")


def test_a_waiting_question_offers_send_now_and_says_when_it_was_just_tried() -> None:
    waiting = status.waiting("The AI provider is offline.", 12.5)
    assert (waiting.kind, waiting.action) == ("waiting", "send_now")
    assert (waiting.detail, waiting.next_try_s) == ("The AI provider is offline.", 12.5)
    assert waiting.message.startswith("Waiting to send:")
    tried = status.waiting("The AI provider is offline.", None, tried_now=True)
    assert tried.message == "Tried just now, without success. " + waiting.message
    assert tried.next_try_s is None


@pytest.mark.parametrize(
    ("attempt", "wait_s", "expected"),
    [(0, 0.2, "Retrying in 1 s… (try 1)"), (1, 2.01, "Retrying in 3 s… (try 2)")],
)
def test_retry_text_rounds_the_wait_up_and_counts_tries_from_one(
    attempt: int, wait_s: float, expected: str
) -> None:
    error = AIError(ErrorKind.OFFLINE, "You seem to be offline.")
    assert status.retry_text(attempt, error, wait_s) == f"You seem to be offline. {expected}"
    assert status.retrying("x") == ChatStatus("retrying", "x")


def test_a_failed_picture_offers_retry_only_when_a_question_waits_for_it() -> None:
    held = status.picture_failed("The picture could not be encoded.", question_held=True)
    assert held.action == "retry" and held.message.endswith("without the picture.")
    alone = status.picture_failed("The picture could not be encoded.", question_held=False)
    assert alone == ChatStatus("error", "The picture could not be encoded.")


def test_answered_lines() -> None:
    assert status.answered() == ChatStatus()
    assert status.answered(from_cache=True) == ChatStatus("idle", "Answered from the cache.")
    assert status.answered(stopped=True) == status.STOPPED == ChatStatus("idle", "", "regenerate")


def test_only_idle_and_sync_made_lines_are_rechecked_after_a_synced_change() -> None:
    assert status.stale_after_sync(status.IDLE)
    assert status.stale_after_sync(status.answered(from_cache=True))
    assert status.stale_after_sync(status.UNANSWERED)
    assert status.stale_after_sync(status.GONE_ELSEWHERE)
    assert not status.stale_after_sync(status.NOT_SENT)
    assert not status.stale_after_sync(status.ANSWERING)
    assert not status.stale_after_sync(status.could_not_open("Disk full."))


def test_failure_lines_carry_their_reason() -> None:
    assert status.could_not_open("Disk full.").message == (
        "The conversation could not be opened. Disk full."
    )
    assert (
        status.picture_not_shown("Bad file.").message == "The picture could not be shown. Bad file."
    )
    assert status.did_not_work("Locked.") == ChatStatus("error", "That did not work. Locked.")
    assert status.with_retry("Not saved.") == ChatStatus("error", "Not saved.", "retry")
