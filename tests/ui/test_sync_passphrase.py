"""The sync passphrase dialog: what it accepts, what it says, and that it waits for the verdict."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from snapask_desktop.sync.crypto import WeakParameters, check_new_passphrase
from snapask_desktop.sync.crypto.kdf import MIN_NEW_PASSPHRASE_CHARS
from snapask_desktop.ui.sync.passphrase import (
    MIN_NEW_CHARS,
    Mode,
    PassphraseDialog,
    new_passphrase_problem,
)


def test_the_dialog_asks_what_the_key_derivation_accepts() -> None:
    assert MIN_NEW_CHARS == MIN_NEW_PASSPHRASE_CHARS
    for text in ("short", "x" * (MIN_NEW_CHARS - 1), "x" * MIN_NEW_CHARS, "e\u0301" * 9):
        refused = new_passphrase_problem(text, text) is not None
        try:
            check_new_passphrase(text)
            weak = False
        except WeakParameters:
            weak = True
        assert refused == weak, text


@pytest.mark.parametrize(
    ("first", "second", "fragment"),
    [
        ("tiny", "tiny", "at least 10"),
        ("correct horse", "correct house", "differ"),
        ("correct horse", "", "differ"),
    ],
)
def test_a_new_passphrase_is_refused_with_a_reason(first: str, second: str, fragment: str) -> None:
    problem = new_passphrase_problem(first, second)
    assert problem is not None and fragment in problem


def _dialog(qtbot: QtBot, mode: Mode) -> tuple[PassphraseDialog, list[str]]:
    dialog = PassphraseDialog(mode)
    qtbot.addWidget(dialog)
    got: list[str] = []
    dialog.submitted.connect(got.append)
    dialog.show()
    return dialog, got


def test_choosing_takes_the_same_passphrase_twice_and_warns_what_a_lost_one_means(
    qtbot: QtBot,
) -> None:
    dialog, got = _dialog(qtbot, Mode.CHOOSE)
    assert "If you lose it" in dialog.note.text() and dialog.note.isVisible()
    assert not dialog.ok.isEnabled()
    qtbot.keyClicks(dialog.first, "correct horse battery")
    qtbot.keyClicks(dialog.second, "correct horse batery")
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    assert got == [] and "differ" in dialog.error.text() and dialog.error.isVisible()
    qtbot.keyClicks(dialog.second, "y")  # any edit clears the message
    assert not dialog.error.isVisible()
    dialog.second.setText("correct horse battery")
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    assert got == ["correct horse battery"]
    # Busy until the caller answers: nothing can be submitted twice.
    assert dialog.busy.isVisible() and not dialog.ok.isEnabled() and not dialog.first.isEnabled()
    dialog.finished_ok()
    assert dialog.result() == PassphraseDialog.DialogCode.Accepted


def test_a_wrong_passphrase_is_said_in_place_and_the_dialog_stays_open(qtbot: QtBot) -> None:
    dialog, got = _dialog(qtbot, Mode.UNLOCK)
    assert dialog.second.isHidden()
    qtbot.keyClicks(dialog.first, "not it")  # unlocking never applies the length rule
    qtbot.keyClick(dialog.first, Qt.Key.Key_Return)
    assert got == ["not it"]
    dialog.show_error("Wrong passphrase, or the account's keys were altered.")
    assert dialog.isVisible() and not dialog.busy.isVisible()
    assert dialog.first.isEnabled() and dialog.ok.isEnabled()
    assert dialog.first.text() == "not it" and "Wrong passphrase" in dialog.error.text()


def test_cancel_closes_without_a_passphrase(qtbot: QtBot) -> None:
    dialog, got = _dialog(qtbot, Mode.UNLOCK)
    qtbot.keyClicks(dialog.first, "whatever")
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert got == [] and dialog.result() == PassphraseDialog.DialogCode.Rejected


def test_changing_asks_for_a_new_passphrase_twice_and_says_nothing_is_encrypted_again(
    qtbot: QtBot,
) -> None:
    dialog, got = _dialog(qtbot, Mode.CHANGE)
    assert dialog.windowTitle() == "Change the sync passphrase" and dialog.ok.text() == "Change"
    assert "Nothing is encrypted again" in dialog.note.text()
    assert "asks for it once" in dialog.note.text()
    assert dialog.second.isVisible()
    qtbot.keyClicks(dialog.first, "too short")
    qtbot.keyClicks(dialog.second, "too short")
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    assert got == [] and "at least 10" in dialog.error.text()
    dialog.first.setText("a new sync passphrase")
    dialog.second.setText("a new sync passphrase")
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    assert got == ["a new sync passphrase"] and dialog.busy.isVisible()
