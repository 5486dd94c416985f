"""Settings → Sync: sign in to a sync server, see how syncing goes, sync now.

The page is a view of the app's `SyncManager`: signing in and out, the status and the store's
figures all go through it (on workers). Sign-in saves the sync settings itself and reports them
with `settings_saved`; the dialog's Save only keeps an edited device name.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtGui import QHideEvent, QKeyEvent, QShowEvent
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from snapask_desktop.config import Settings
from snapask_desktop.store.records import OwnerTitle
from snapask_desktop.sync.clock import wall_clock_ms
from snapask_desktop.sync.device.status import SyncState, SyncStatus, ago
from snapask_desktop.ui import style
from snapask_desktop.ui.settings.page import (
    PageContext,
    SettingsPage,
    error_label,
    note_label,
    show_message,
)
from snapask_desktop.ui.sync.manager import SyncManager, SyncOverview, read_overview
from snapask_desktop.ui.sync.passphrase import Mode, PassphraseDialog
from snapask_desktop.ui.workers import BackgroundCalls

TICK_MS = 1000
REFRESH_DELAY_MS = 300  # store figures are re-read at most this often while changes flow
STATE_ROLES = {SyncState.PROBLEM: "error", SyncState.OFFLINE: "warning"}


def status_line(status: SyncStatus) -> str:
    """The state sentence of the page, e.g. 'Up to date' or 'Offline: …; retrying in 8 s.'."""
    text = status.message
    if status.retry_in_ms and status.state in (SyncState.OFFLINE, SyncState.PROBLEM):
        seconds = max(1, round(status.retry_in_ms / 1000))
        if text.endswith("retrying."):  # the client's own words say it: just add when
            return f"{text[:-1]} in {seconds} s."
        text = text.rstrip(".")
        return f"{text} (next try in {seconds} s)." if text else f"Next try in {seconds} s."
    return text


def encryption_line(status: SyncStatus) -> tuple[str, str | None]:
    """What the Encryption row says, and the button it offers ("Unlock…", "Turn on…" or none)."""
    if status.locked:
        return "Locked: enter the sync passphrase to sync this device.", "Unlock…"
    if status.encrypted:
        return "On: the sync server holds only encrypted conversations and pictures.", None
    if status.state in (SyncState.UP_TO_DATE, SyncState.SYNCING):
        return "Off: the sync server can read what it stores.", "Turn on…"
    return "Shown once connected.", None


def key_actions_shown(status: SyncStatus) -> bool:
    """Whether "Change passphrase…" and "Rotate keys" are offered: encryption on, unlocked."""
    return status.encrypted and not status.locked


ROTATE_QUESTION = (
    "Rotate the encryption keys?\n\n"
    "A new key encrypts every change from now on. Every conversation, message and picture is "
    "sent again in the background, encrypted with the new key; this can take a while for a "
    "large history. The other devices take the new key on their own, and the passphrase stays "
    "the same."
)


def pending_line(count: int) -> str:
    """'Nothing to send', '1 change to send', '12 changes to send'."""
    if count <= 0:
        return "Nothing to send"
    return f"{count:,} change{'s' if count != 1 else ''} to send"


_WHAT = {"message": "A message", "screenshot": "A picture"}


TITLE_CHARS = 48  # a refused title may be the very one too long for the server


def _named(title: str) -> str:
    """“A title” in the app's quotes, cut with … when long (it wraps in a narrow list)."""
    text = " ".join(title.split())
    if len(text) > TITLE_CHARS:
        text = text[: TITLE_CHARS - 1].rstrip() + "…"
    return f"“{text}”"


def problem_subject(record_type: str, owner: OwnerTitle | None) -> str:
    """The refused record named as a user knows it: by its conversation's title, never its id."""
    if record_type == "conversation":
        if owner is None:
            return "A conversation no longer on this device"
        if owner.deleted:
            return "A deleted conversation"
        return (
            f"The conversation {_named(owner.title)}" if owner.title else "An untitled conversation"
        )
    what = _WHAT.get(record_type, "A change")
    if owner is None:
        return f"{what} in a conversation no longer on this device"
    if owner.deleted:
        return f"{what} in a deleted conversation"
    return (
        f"{what} in {_named(owner.title)}" if owner.title else f"{what} in an untitled conversation"
    )


def problem_text(problem: Any, owner: OwnerTitle | None) -> str:
    """One rejected change for the list: what it was and the server's reason."""
    return f"{problem_subject(problem.record_type, owner)}: {problem.message}"


class SubmitLineEdit(QLineEdit):
    """A field whose Enter is its own (``returnPressed``): it never also presses the dialog's
    default button, so Settings stays open to show how signing in went."""

    def keyPressEvent(self, event: QKeyEvent) -> None:
        super().keyPressEvent(event)
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            event.accept()


class SyncPage(SettingsPage):
    """Server, account, this device, status, pending changes, rejected changes, Sync now."""

    key = "sync"
    title = "Sync"

    def __init__(
        self, context: PageContext, manager: SyncManager, parent: QWidget | None = None
    ) -> None:
        super().__init__(context, parent)
        self.manager = manager
        # Its own worker: the first read opens the store (a moment), and Save must not wait.
        self.calls = BackgroundCalls(self)
        self._overview: SyncOverview | None = None
        self._busy_action = ""  # "sign_in" or "sign_out" while one runs
        self._settings = manager.settings
        self.server = QLineEdit()
        self.server.setPlaceholderText("http://192.168.1.5:8765")
        self.server.setAccessibleName("Sync server address")
        self.user = QLineEdit()
        self.user.setAccessibleName("User name")
        self.password = SubmitLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setAccessibleName("Password")
        self.password.returnPressed.connect(self.sign_in)
        self.device_name = QLineEdit()
        self.device_name.setAccessibleName("This device's name")
        self.device_name.setMaxLength(100)
        self.store_problem = error_label()  # the store could not be read
        self.sign_in_button = QPushButton("Sign in")
        # Its own size, also while the account line beside it is hidden.
        self.sign_in_button.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.sign_in_button.clicked.connect(self.sign_in)
        self.sign_out_button = QPushButton("Sign out")
        self.sign_out_button.setToolTip("Stop syncing and forget this device's token")
        self.sign_out_button.clicked.connect(self.sign_out)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setTextVisible(False)
        self.busy.setFixedSize(90, 6)
        self.busy.setAccessibleName("Working")
        self.busy.hide()
        self.account_line = QLabel()
        self.account_line.setWordWrap(True)
        self.form_error = error_label()
        self.state_line = QLabel()
        self.state_line.setWordWrap(True)
        self.state_line.setTextFormat(Qt.TextFormat.PlainText)
        self.last_synced = QLabel()
        self.encryption_line = QLabel()
        self.encryption_line.setWordWrap(True)
        self.encryption_button = QPushButton("Turn on…")
        self.encryption_button.setToolTip(
            "End-to-end encryption: the sync server keeps only what your passphrase opens"
        )
        self.encryption_button.clicked.connect(self.ask_passphrase)
        self.change_passphrase_button = QPushButton("Change passphrase…")
        self.change_passphrase_button.setToolTip(
            "A new sync passphrase; nothing is encrypted again, the other devices ask for it"
        )
        self.change_passphrase_button.clicked.connect(self.ask_new_passphrase)
        self.rotate_keys_button = QPushButton("Rotate keys…")
        self.rotate_keys_button.setToolTip(
            "Encrypt from now on with a new key; everything is sent again in the background"
        )
        self.rotate_keys_button.clicked.connect(self.ask_rotate_keys)
        self.keys_message = QLabel()
        self.keys_message.setWordWrap(True)
        self.keys_message.hide()
        self._passphrase_dialog: PassphraseDialog | None = None
        self._rotate_box: QMessageBox | None = None
        self.rotate_confirm: object = None  # the question's "Rotate keys" button, once asked
        self._rotating = False
        self.pending = QLabel()
        self.sync_now_button = QPushButton("Sync now")
        self.sync_now_button.setToolTip("Send and fetch changes now")
        self.sync_now_button.clicked.connect(self.sync_now)
        self.problem_list = QListWidget()
        self.problem_list.setAccessibleName("Changes that could not be synced")
        self.problem_list.setWordWrap(True)
        self.problem_list.setMaximumHeight(72)
        self.problem_list.currentRowChanged.connect(lambda _row: self._update_buttons())
        self.dismiss_button = QPushButton("Dismiss")
        self.dismiss_button.setToolTip("Remove the selected message from this list")
        self.dismiss_button.clicked.connect(self.dismiss_problem)
        self.errors["device_name"] = error_label()
        self._tick = QTimer(self, interval=TICK_MS)
        self._tick.timeout.connect(self._show_last_synced)
        self._refresh_timer = QTimer(self, singleShot=True, interval=REFRESH_DELAY_MS)
        self._refresh_timer.timeout.connect(self.refresh)
        self._layout()
        manager.status_changed.connect(self._status_changed)
        manager.sign_in_finished.connect(self._sign_in_finished)
        manager.sign_out_finished.connect(self._sign_out_finished)
        manager.passphrase_finished.connect(self._passphrase_finished)
        manager.rotate_finished.connect(self._rotate_finished)
        manager.account_changed.connect(self._account_changed)
        manager.applied.connect(lambda _report: self._refresh_soon())
        manager.notice.connect(lambda _text: self._refresh_soon())
        self._show_status(manager.status)

    def _layout(self) -> None:
        account = QGroupBox("Account")
        form = self._account_form = QFormLayout(account)
        form.addRow("&Server:", self.server)
        form.addRow("&User name:", self.user)
        form.addRow("&Password:", self.password)
        device = QWidget()
        device_column = QVBoxLayout(device)
        device_column.setContentsMargins(0, 0, 0, 0)
        device_column.setSpacing(2)
        device_column.addWidget(self.device_name)
        device_column.addWidget(self.store_problem)
        device_column.addWidget(self.errors["device_name"])
        form.addRow("This &device:", device)
        buttons = QHBoxLayout()
        buttons.addWidget(self.sign_in_button)
        buttons.addWidget(self.busy)
        buttons.addWidget(self.account_line, 1)
        buttons.addWidget(self.sign_out_button)
        form.addRow(buttons)
        form.addRow(self.form_error)
        state = QGroupBox("Status")
        state_form = self._state_form = QFormLayout(state)
        state_row = QHBoxLayout()
        state_row.addWidget(self.state_line, 1)
        state_row.addWidget(self.sync_now_button, 0, Qt.AlignmentFlag.AlignTop)
        state_form.addRow("State:", state_row)
        state_form.addRow("Last synced:", self.last_synced)
        encryption_row = self._encryption_row = QHBoxLayout()
        encryption_row.addWidget(self.encryption_line, 1)
        encryption_row.addWidget(self.encryption_button, 0, Qt.AlignmentFlag.AlignTop)
        encryption_row.addWidget(self.change_passphrase_button, 0, Qt.AlignmentFlag.AlignTop)
        encryption_row.addWidget(self.rotate_keys_button, 0, Qt.AlignmentFlag.AlignTop)
        state_form.addRow("Encryption:", encryption_row)
        state_form.addRow("", self.keys_message)
        state_form.addRow("Changes:", self.pending)
        self.problems_box = QGroupBox("Changes the server refused (the others went through)")
        problems = QHBoxLayout(self.problems_box)
        problems.addWidget(self.problem_list, 1)
        problems.addWidget(self.dismiss_button, 0, Qt.AlignmentFlag.AlignTop)
        self.problems_box.hide()
        column = QVBoxLayout(self)
        column.addWidget(
            note_label(
                "Keep your conversations the same on all your computers through your own "
                "sync server (snapask-sync-server). Everything keeps working offline."
            )
        )
        column.addWidget(account)
        column.addWidget(state)
        column.addWidget(self.problems_box)
        column.addStretch(1)

    # -- SettingsPage ------------------------------------------------------------------------

    def load(self, settings: Settings) -> None:
        self._settings = settings
        self.server.setText(settings.sync_server_url or "")
        self.user.setText(settings.sync_user or "")
        # The name a sign-in would use (the CLI's too): the host name until one is typed.
        self.device_name.setText(settings.device_name or _host_name())
        self._update_buttons()
        self._show_pending()

    def values(self) -> dict[str, Any]:
        # Only the device name is saved by the dialog, and only while it can still change.
        if self.signed_in:
            return {}
        name = self.device_name.text().strip() or None
        if name == _host_name() and self._settings.device_name is None:
            name = None  # the default shown, not a choice: keep following the host name
        return {"device_name": name}

    # -- state -------------------------------------------------------------------------------

    @property
    def signed_in(self) -> bool:
        """Whether this device syncs now (a bridge runs)."""
        return self.manager.bridge is not None

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._tick.start()
        self.refresh()

    def hideEvent(self, event: QHideEvent) -> None:
        self._tick.stop()
        super().hideEvent(event)

    @Slot()
    def refresh(self) -> None:
        """Read the device id, pending count and refused changes again (on a worker)."""
        store = self.manager.store
        self.calls.call(lambda: read_overview(store), self._show_overview, self._overview_failed)

    def _refresh_soon(self) -> None:
        if self.isVisible() and not self._refresh_timer.isActive():
            self._refresh_timer.start()

    # -- actions -----------------------------------------------------------------------------

    @Slot()
    def sign_in(self) -> None:
        """Sign in with the typed server, user and password (on a worker)."""
        if self.manager.busy:
            return
        show_message(self.form_error, "")
        self._set_busy("sign_in")
        self.manager.sign_in(
            self.server.text(), self.user.text(), self.password.text(), self.device_name.text()
        )

    @Slot()
    def sign_out(self) -> None:
        """Sign out: syncing stops, the conversations stay on this device."""
        if self.manager.busy:
            return
        show_message(self.form_error, "")
        self._set_busy("sign_out")
        self.manager.sign_out()

    @Slot()
    def sync_now(self) -> None:
        """Ask the running sync to send and fetch now."""
        self.manager.sync_now()
        self._refresh_soon()

    @Slot()
    def ask_passphrase(self) -> None:
        """Turn encryption on, or unlock this device: the passphrase dialog, then the manager."""
        if self._passphrase_dialog is not None:
            self._passphrase_dialog.raise_()
            return
        mode = Mode.UNLOCK if self.manager.status.locked else Mode.CHOOSE
        dialog = self._passphrase_dialog = PassphraseDialog(mode, self)
        dialog.submitted.connect(
            lambda passphrase: self.manager.use_passphrase(passphrase, new=mode is Mode.CHOOSE)
        )
        dialog.finished.connect(self._passphrase_dialog_closed)
        dialog.open()

    @Slot()
    def ask_new_passphrase(self) -> None:
        """Change the sync passphrase: the dialog in its change mode, then the manager."""
        if self._passphrase_dialog is not None:
            self._passphrase_dialog.raise_()
            return
        dialog = self._passphrase_dialog = PassphraseDialog(Mode.CHANGE, self)
        dialog.submitted.connect(self.manager.change_passphrase)
        dialog.finished.connect(self._passphrase_dialog_closed)
        dialog.open()

    @Slot()
    def ask_rotate_keys(self) -> None:
        """Rotate the keys once the user confirms what it means (a window-modal question)."""
        if self._rotate_box is not None:
            self._rotate_box.raise_()
            return
        box = self._rotate_box = QMessageBox(QMessageBox.Icon.Question, "Rotate keys",
                                             ROTATE_QUESTION, parent=self)  # fmt: skip
        self.rotate_confirm = box.addButton("Rotate keys", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.buttonClicked.connect(self._rotate_answered)
        box.open()

    def _rotate_answered(self, button: object) -> None:
        box, self._rotate_box = self._rotate_box, None
        if box is not None:
            box.deleteLater()
        if button is not self.rotate_confirm:
            return
        self._rotating = True
        show_message(self.keys_message, "Rotating the keys…", "muted")
        self._update_buttons()
        self.manager.rotate_keys()

    def _rotate_finished(self, ok: bool, text: str) -> None:
        self._rotating = False
        show_message(self.keys_message, text, "muted" if ok else "error")
        self._update_buttons()

    def _passphrase_dialog_closed(self) -> None:
        dialog, self._passphrase_dialog = self._passphrase_dialog, None
        if dialog is not None:
            dialog.deleteLater()

    def _passphrase_finished(self, ok: bool, error: str) -> None:
        dialog = self._passphrase_dialog
        if dialog is None:
            return
        if ok:
            dialog.finished_ok()
        else:
            dialog.show_error(error)

    @Slot()
    def dismiss_problem(self) -> None:
        """Remove the selected refused change from the list."""
        item = self.problem_list.currentItem()
        if item is None:
            return
        self.dismiss_button.setEnabled(False)
        problem_id = int(item.data(Qt.ItemDataRole.UserRole))
        store = self.manager.store
        self.calls.call(
            lambda: store.dismiss_sync_problem(problem_id), lambda _none: self.refresh()
        )

    # -- manager signals ---------------------------------------------------------------------

    def _sign_in_finished(self, ok: bool, error: str) -> None:
        self._set_busy("")
        if ok:
            self.password.clear()
            show_message(self.form_error, "")
            self.refresh()
        else:
            show_message(self.form_error, error)
            self.password.setFocus()
            self.password.selectAll()

    def _sign_out_finished(self, ok: bool, error: str) -> None:
        self._set_busy("")
        show_message(self.form_error, "" if ok else error)
        self.refresh()

    def _account_changed(self, settings: Settings) -> None:
        self.load(settings)
        self.settings_saved.emit(settings)

    def _status_changed(self, status: SyncStatus) -> None:
        self._show_status(status)
        self._refresh_soon()

    def _show_status(self, status: SyncStatus) -> None:
        self.state_line.setText(status_line(status))
        role = STATE_ROLES.get(status.state)
        if role:
            style.set_role(self.state_line, role)
        else:
            self.state_line.setProperty(style.ROLE_PROPERTY, None)
            self.state_line.style().unpolish(self.state_line)
            self.state_line.style().polish(self.state_line)
        self._show_pending()
        self._show_last_synced()
        self._update_buttons()

    def _show_overview(self, overview: SyncOverview) -> None:
        self._overview = overview
        show_message(self.store_problem, "")
        self._show_pending()
        self._show_last_synced()
        self.problem_list.clear()
        owners = overview.owners or (None,) * len(overview.problems)
        for problem, owner in zip(overview.problems, owners, strict=True):
            text = problem_text(problem, owner)
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, problem.id)
            item.setToolTip(f"{text}\nThe server's reason code: {problem.code}")
            self.problem_list.addItem(item)
        self.problems_box.setVisible(bool(overview.problems))
        self._update_buttons()

    def _overview_failed(self, error: Exception) -> None:
        show_message(self.store_problem, f"The conversation store could not be read: {error}")

    def _show_pending(self) -> None:
        # Before sync was ever set up there is nowhere to send to: no count to worry about.
        set_up = bool(self._settings.sync_server_url)
        self._state_form.setRowVisible(self.pending, set_up)
        status = self.manager.status
        if self.manager.active and status.state is not SyncState.CONNECTING:
            count = status.pending
        elif self._overview is not None:
            count = self._overview.pending
        else:
            self.pending.setText("…")
            return
        self.pending.setText(pending_line(count))

    def _show_last_synced(self) -> None:
        status = self.manager.status
        stored = self._overview.last_synced_ms if self._overview else None
        last = max(filter(None, (status.last_synced_ms, stored)), default=None)
        self.last_synced.setText(ago(last, wall_clock_ms()))

    def _set_busy(self, action: str) -> None:
        self._busy_action = action
        self.busy.setVisible(bool(action))
        self.sign_in_button.setText("Signing in…" if action == "sign_in" else "Sign in")
        self.sign_out_button.setText("Signing out…" if action == "sign_out" else "Sign out")
        self._update_buttons()

    def _update_buttons(self) -> None:
        busy = bool(self._busy_action) or self.manager.busy
        signed_in = self.signed_in
        for field in (self.server, self.user, self.device_name):
            field.setReadOnly(signed_in or busy)
        self.password.setEnabled(not busy)
        self._account_form.setRowVisible(self.password, not signed_in)
        self.sign_in_button.setVisible(not signed_in and self._busy_action != "sign_out")
        self.sign_in_button.setEnabled(not busy)
        self.sign_out_button.setVisible(signed_in or self._busy_action == "sign_out")
        self.sign_out_button.setEnabled(not busy)
        self.sync_now_button.setEnabled(signed_in and not busy)
        self._state_form.setRowVisible(self._encryption_row, signed_in)
        text, action = encryption_line(self.manager.status)
        self.encryption_line.setText(text)
        self.encryption_button.setVisible(action is not None)
        self.encryption_button.setText(action or "")
        self.encryption_button.setEnabled(signed_in and not busy)
        keys = signed_in and key_actions_shown(self.manager.status)
        for button in (self.change_passphrase_button, self.rotate_keys_button):
            button.setVisible(keys)
            button.setEnabled(not busy and not self._rotating)
        self.dismiss_button.setEnabled(self.problem_list.currentItem() is not None)
        settings = self._settings
        if signed_in and settings.sync_server_url:
            who = settings.sync_user or "your account"
            self.account_line.setText(f"Signed in to {settings.sync_server_url} as {who}.")
            style.set_role(self.account_line, "muted")
            self.account_line.show()
        else:
            self.account_line.hide()


def _host_name() -> str:
    from snapask_desktop.sync.device.account import default_device_name

    return default_device_name()
