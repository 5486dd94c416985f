"""The pure parts of sync in the UI: the conflict banner's sentences, the tray's one state,
the notices; and the transcript following synced messages without losing the reader's place."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QVBoxLayout, QWidget
from pytestqt.qtbot import QtBot

from snapask_desktop.store.records import ConflictRecord, Message
from snapask_desktop.sync.clock import Stamp
from snapask_desktop.sync.device.status import SyncState, SyncStatus
from snapask_desktop.sync.records import FieldStamp
from snapask_desktop.ui.chat.conflict_banner import ConflictBanner, banner_content, quoted
from snapask_desktop.ui.chat.widgets import AnswerBubble, QuestionBubble, Transcript
from snapask_desktop.ui.shell.tray import TrayState, combined_state
from snapask_desktop.ui.sync.manager import restored_notice
from tests.support import waits

HERE, THERE, THIRD = "device-here", "device-there", "device-third"
CID = "c4b241ed-5754-4db5-a971-53d2a2a9af53"


def conflict(
    field: str,
    losing: str | bool,
    winning: str | bool,
    *,
    loser: str = THERE,
    winner: str = HERE,
    number: int = 1,
    apart_s: int = 0,
) -> ConflictRecord:
    return ConflictRecord(
        id=number,
        conversation_id=CID,
        field=field,  # type: ignore[arg-type]
        losing_value=losing,
        losing_stamp=FieldStamp(Stamp(1_800_000_000_000).pack(), loser),
        winning_value=winning,
        winning_stamp=FieldStamp(Stamp(1_800_000_000_000 + apart_s * 1000, 1).pack(), winner),
        created_at=1,
    )


def test_a_title_conflict_names_both_versions_and_who_renamed() -> None:
    content = banner_content([conflict("title", "Setup dialog", "Installer error")], HERE)
    assert content is not None
    assert content.text == (
        "Renamed here and on another device at the same time: kept “Installer error”."
    )
    assert content.keep_label == "Keep the other version “Setup dialog”"
    assert content.conflict_id == 1 and content.more == 0
    mine_lost = banner_content([conflict("title", "A", "B", loser=HERE, winner=THERE)], HERE)
    assert mine_lost is not None and mine_lost.text.startswith("Renamed here and on another")
    assert mine_lost.keep_label == "Keep this device's version “A”"  # our own edit lost
    assert mine_lost.keep_tip == "Rename it to “A” on every device"
    others = banner_content([conflict("title", "A", "B", loser=THIRD, winner=THERE)], HERE)
    assert others is not None and others.text.startswith("Renamed on two other devices")
    assert others.keep_label == "Keep the other version “A”"


def test_edits_far_apart_in_time_are_said_to_be_made_while_offline() -> None:
    offline = banner_content([conflict("title", "A", "B", apart_s=3600)], HERE)
    assert offline is not None
    assert offline.text == "Renamed here and on another device while one was offline: kept “B”."
    pinned = banner_content([conflict("pinned", True, False, apart_s=-600)], HERE)
    assert pinned is not None and "while one was offline: kept it unpinned." in pinned.text
    close = banner_content([conflict("archived", True, False, apart_s=20)], HERE)
    assert close is not None and "at the same time" in close.text


def test_a_cancelled_delete_offers_to_delete_it() -> None:
    theirs = banner_content([conflict("deleted", True, False)], HERE)
    assert theirs is not None
    assert theirs.text == (
        "This conversation was deleted on another device while it changed here; it was kept."
    )
    assert theirs.keep_label == "Delete it"
    mine = banner_content([conflict("deleted", True, False, loser=HERE, winner=HERE)], HERE)
    assert mine is not None
    assert mine.text.startswith("You deleted this conversation while it changed on another")


@pytest.mark.parametrize(
    ("field", "losing", "winning", "text", "label"),
    [
        ("pinned", True, False, "kept it unpinned.", "Pin it"),
        ("pinned", False, True, "kept it pinned.", "Unpin it"),
        ("archived", True, False, "kept it not archived.", "Archive it"),
        ("archived", False, True, "kept it archived.", "Unarchive it"),
    ],
)
def test_flag_conflicts(field: str, losing: bool, winning: bool, text: str, label: str) -> None:
    content = banner_content([conflict(field, losing, winning)], HERE)
    assert content is not None and content.text.endswith(text) and content.keep_label == label


def test_the_newest_record_is_shown_first_and_the_rest_counted() -> None:
    records = [
        conflict("title", "Old", "Older", number=3),
        conflict("pinned", True, False, number=9),
        conflict("archived", True, False, number=5),
    ]
    content = banner_content(records, HERE)
    assert content is not None and content.conflict_id == 9 and content.more == 2
    assert banner_content([], HERE) is None


def test_long_and_empty_titles_are_quoted_readably() -> None:
    assert quoted("  A   very\nlong title that goes on and on and on forever ") == (
        "“A very long title that goes on and on a…”"
    )
    assert quoted("") == "“Untitled”"


def test_the_banner_widget_shows_and_reports_the_choice(qtbot: QtBot) -> None:
    banner = ConflictBanner()
    qtbot.addWidget(banner)
    records = [conflict("title", "R&D notes", "Notes"), conflict("pinned", True, False, number=0)]
    banner.show_conflicts(records, HERE)
    assert not banner.isHidden()
    assert banner.keep_button.text() == "Keep the other version “R&&D notes”"  # no mnemonic
    assert banner.more.text() == "1 more after this one"
    with waits.signal(qtbot, banner.keep_requested) as kept:
        banner.keep_button.click()
    assert kept.args == [1]
    assert not banner.keep_button.isEnabled() and not banner.dismiss_button.isEnabled()
    banner.show_conflicts([conflict("pinned", True, False, number=0)], HERE)
    with waits.signal(qtbot, banner.dismiss_requested) as dismissed:
        banner.dismiss_button.click()
    assert dismissed.args == [0]
    banner.show_conflicts([], HERE)
    assert banner.isHidden()


def test_a_narrow_banner_shortens_the_button_and_keeps_the_whole_label_in_the_tooltip(
    qtbot: QtBot,
) -> None:
    window = QWidget()  # the banner sits in a layout, as in the chat window
    qtbot.addWidget(window)
    banner = ConflictBanner()
    QVBoxLayout(window).addWidget(banner)
    title = "Quarterly revenue by region"
    banner.show_conflicts([conflict("title", title, "Notes")], HERE)
    window.resize(900, 200)
    window.show()
    full = f"Keep the other version “{title[:23]}…”"
    waits.until(qtbot, lambda: banner.keep_button.text() == full)
    assert banner.keep_button.toolTip() == f"Rename it to “{title}” on every device"

    window.resize(300, 200)
    waits.until(qtbot, lambda: banner.keep_button.text().endswith("…"))
    assert banner.keep_button.text() != full
    assert banner.keep_button.geometry().right() <= banner.contentsRect().right()
    assert banner.width() <= window.width()  # the card does not push the window wider
    assert banner.keep_button.toolTip().startswith(full)
    assert banner.label.wordWrap()  # the sentence wraps, never cut


def test_the_tray_shows_one_state_an_answer_first() -> None:
    offline = SyncStatus(SyncState.OFFLINE, "Offline")
    problem = SyncStatus(SyncState.PROBLEM, "Sign in again.")
    assert combined_state(answering=True, waiting=2, problem="x", sync=problem) == (
        TrayState.ANSWERING,
        "",
    )
    # questions waiting for the AI provider: "offline" only if sync cannot get out either
    assert combined_state(answering=False, waiting=2, sync=problem) == (
        TrayState.WAITING,
        "2 questions waiting to send",
    )
    assert combined_state(answering=False, waiting=1) == (
        TrayState.WAITING,
        "1 question waiting to send",
    )
    assert combined_state(answering=False, waiting=1, sync=offline)[0] is TrayState.OFFLINE
    assert combined_state(answering=False, problem="No hotkeys", sync=offline) == (
        TrayState.PROBLEM,
        "No hotkeys",
    )
    assert combined_state(answering=False, sync=problem) == (
        TrayState.PROBLEM,
        "Sync: Sign in again.",
    )
    assert combined_state(answering=False, sync=offline) == (TrayState.OFFLINE, "Sync: offline")
    for busy in (SyncState.SYNCING, SyncState.CONNECTING):
        assert combined_state(answering=False, sync=SyncStatus(busy)) == (TrayState.SYNCING, "")
    for calm in (SyncState.UP_TO_DATE, SyncState.OFF):
        assert combined_state(answering=False, sync=SyncStatus(calm)) == (TrayState.IDLE, "")
    assert combined_state(answering=False, sync=None) == (TrayState.IDLE, "")


def test_restored_notices() -> None:
    assert restored_notice(1).startswith("A conversation you deleted got new messages")
    assert restored_notice(3).startswith("3 conversations you deleted got new messages")


def message(number: int, role: str = "user", text: str = "") -> Message:
    return Message(
        id=f"m{number:03d}",
        conversation_id=CID,
        role=role,  # type: ignore[arg-type]
        text=text or f"message {number} " + "words " * 40,
        model=None,
        status="final",
        screenshot_sha256=None,
        hlc=number,
        device_id=HERE,
        created_at=number,
    )


def settle() -> None:
    for _ in range(5):
        QCoreApplication.processEvents()


def shown(transcript: Transcript) -> list[str]:
    out = []
    for bubble in transcript.bubbles():
        if isinstance(bubble, QuestionBubble):
            out.append(bubble.label.text()[:10])
        elif isinstance(bubble, AnswerBubble):
            out.append(bubble.text()[:10])
    return out


def test_synced_messages_are_added_without_moving_a_reader_who_scrolled_up(
    qtbot: QtBot,
) -> None:
    transcript = Transcript()
    qtbot.addWidget(transcript)
    transcript.resize(300, 200)
    transcript.show()
    first = tuple(message(n, "user" if n % 2 else "model") for n in range(1, 9))
    transcript.show_messages(first)
    settle()
    bar = transcript.verticalScrollBar()
    assert bar.maximum() > 0 and bar.value() == bar.maximum()  # at the newest message
    kept = [id(bubble) for bubble in transcript.bubbles()]

    transcript.sync_messages((*first, message(9)))  # at the bottom: it follows
    settle()
    assert bar.value() == bar.maximum()
    assert [id(bubble) for bubble in transcript.bubbles()][:8] == kept  # appended, not redrawn

    bar.setValue(10)  # the reader scrolls up
    transcript.sync_messages((*first, message(9), message(10)))
    settle()
    assert bar.value() == 10 and len(transcript.bubbles()) == 10

    reordered = (message(0, text="arrived late, stamped early"), *first, message(9), message(10))
    transcript.sync_messages(reordered)  # not an append: redrawn, the place kept
    settle()
    assert shown(transcript)[0] == "arrived la" and len(transcript.bubbles()) == 11
    assert bar.value() == 10
    transcript.sync_messages(reordered)  # nothing new: nothing happens
    assert len(transcript.bubbles()) == 11
