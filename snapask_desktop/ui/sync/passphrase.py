"""The sync passphrase of an end-to-end encrypted account: choose one, enter it to unlock, or
choose a new one (a change: nothing is encrypted again, the other devices ask for it).

The dialog only asks; the caller derives the keys on a worker (Argon2id takes about half a
second) and answers with `finished_ok()` or `show_error()`, so the dialog stays open, busy,
until the keys are checked: a wrong passphrase is said in place and nothing typed is lost.
"""

from __future__ import annotations

import enum
import unicodedata

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLineEdit,
    QProgressBar,
    QVBoxLayout,
    QWidget,
)

from snapask_desktop.ui.settings.page import error_label, note_label, show_message

MIN_NEW_CHARS = 10  # sync.crypto.kdf.MIN_NEW_PASSPHRASE_CHARS, without loading libsodium here

WARNING = (
    "<b>Keep this passphrase safe.</b> The sync server stores only encrypted data; without the "
    "passphrase, nobody, not even the server's operator, can read the synced copy. If you lose "
    "it, each device still keeps its own conversations, but a new device cannot get them."
)
UNLOCK_NOTE = (
    "This account's conversations are end-to-end encrypted. Enter the sync passphrase chosen "
    "when encryption was turned on (or last changed) to sync this device."
)
CHANGE_NOTE = (
    "Choose a new sync passphrase. Nothing is encrypted again: the keys are re-wrapped with the "
    "new passphrase, and every other device of the account asks for it once. <b>Keep it "
    "safe:</b> without it, a new device cannot get the synced conversations."
)


class Mode(enum.Enum):
    """What the passphrase is for."""

    CHOOSE = "choose"  # turning encryption on: typed twice, with the warning
    UNLOCK = "unlock"  # joining an encrypted account, or after a change elsewhere
    CHANGE = "change"  # a new passphrase for an encrypted account: typed twice

    @property
    def new(self) -> bool:
        """Whether a new passphrase is chosen (typed twice, checked for length)."""
        return self is not Mode.UNLOCK


def new_passphrase_problem(first: str, second: str) -> str | None:
    """Why a new passphrase cannot be used (too short, the two differ), or None."""
    if len(unicodedata.normalize("NFC", first)) < MIN_NEW_CHARS:
        return f"Use at least {MIN_NEW_CHARS} characters; a few words are easy to remember."
    if first != second:
        return "The two passphrases differ; type the same one twice."
    return None


_TITLES = {
    Mode.CHOOSE: "Turn on end-to-end encryption",
    Mode.UNLOCK: "Unlock sync",
    Mode.CHANGE: "Change the sync passphrase",
}
_OK_LABELS = {Mode.CHOOSE: "Turn on", Mode.UNLOCK: "Unlock", Mode.CHANGE: "Change"}
_NOTES = {Mode.CHOOSE: WARNING, Mode.UNLOCK: UNLOCK_NOTE, Mode.CHANGE: CHANGE_NOTE}


class PassphraseDialog(QDialog):
    """Asks for the sync passphrase; `submitted` carries it, the caller checks it."""

    submitted = Signal(str)

    def __init__(self, mode: Mode, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.mode = mode
        self._busy = False
        self.setWindowTitle(_TITLES[mode])
        self.setModal(True)
        self.first = QLineEdit(echoMode=QLineEdit.EchoMode.Password)
        self.first.setPlaceholderText("Sync passphrase")
        self.second = QLineEdit(echoMode=QLineEdit.EchoMode.Password)
        self.second.setPlaceholderText("The same again")
        self.error = error_label()
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)  # no figure to show: Argon2id gives no progress
        self.busy.setTextVisible(False)
        self.busy.hide()
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setText(_OK_LABELS[mode])
        self.buttons.accepted.connect(self._submit)
        self.buttons.rejected.connect(self.reject)
        self.first.textChanged.connect(self._edited)
        self.second.textChanged.connect(self._edited)
        self._layout()
        self._edited()

    def _layout(self) -> None:
        self.note = note_label(_NOTES[self.mode], rich=True)
        form = QFormLayout()
        form.addRow("New passphrase" if self.mode is Mode.CHANGE else "Passphrase", self.first)
        if self.mode.new:
            form.addRow("Repeat", self.second)
        else:
            self.second.hide()
        layout = QVBoxLayout(self)
        layout.addWidget(self.note)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.busy)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(420)
        self.first.setFocus(Qt.FocusReason.OtherFocusReason)

    def passphrase_problem(self) -> str | None:
        """Why what is typed cannot be submitted yet, or None."""
        if self.mode is Mode.UNLOCK:
            return None if self.first.text() else "Enter the sync passphrase."
        return new_passphrase_problem(self.first.text(), self.second.text())

    @Slot()
    def _edited(self) -> None:
        self.ok.setEnabled(not self._busy and bool(self.first.text()))
        if not self.error.isHidden():
            show_message(self.error, "")

    @Slot()
    def _submit(self) -> None:
        problem = self.passphrase_problem()
        if problem:
            show_message(self.error, problem)
            return
        self.set_busy(True)
        self.submitted.emit(self.first.text())

    def set_busy(self, busy: bool) -> None:
        """While the keys are derived: a moving bar, fields and OK disabled (Cancel stays)."""
        self._busy = busy
        self.busy.setVisible(busy)
        self.first.setEnabled(not busy)
        self.second.setEnabled(not busy)
        self.ok.setEnabled(not busy and bool(self.first.text()))
        if busy:
            show_message(self.error, "")

    def show_error(self, message: str) -> None:
        """The caller's verdict on a submitted passphrase; the fields stay as typed."""
        self.set_busy(False)
        show_message(self.error, message)
        self.first.setFocus(Qt.FocusReason.OtherFocusReason)
        self.first.selectAll()

    def finished_ok(self) -> None:
        """The passphrase worked: close."""
        self.set_busy(False)
        self.accept()
