"""The settings dialog: the pages in a list, checked values, and saving on a worker.

Pages are built from a list of factories (`DEFAULT_PAGES`), so another page (Sync) is one
more factory. A page shows settings and hands back raw values; the dialog checks every value
with `config.check_value`, shows each message next to its field, and saves through
`SettingsStore.update` on a worker. Cancel discards. API keys are different: they go to the
keyring at once (never to the settings file), and the dialog says so.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, Signal, Slot
from PySide6.QtGui import QFont, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QBoxLayout,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from snapask_desktop import autostart
from snapask_desktop.capture.session import platform_name
from snapask_desktop.config import Settings, SettingsError, SettingsStore, check_value
from snapask_desktop.ui import style
from snapask_desktop.ui.settings.api_key_page import ApiKeyPage
from snapask_desktop.ui.settings.general_page import GeneralPage
from snapask_desktop.ui.settings.hotkeys_page import HotkeysPage
from snapask_desktop.ui.settings.page import (
    PageContext,
    SettingsPage,
    error_label,
    friendly,
    show_message,
)
from snapask_desktop.ui.settings.templates_page import TemplatesPage
from snapask_desktop.ui.workers import BackgroundCalls

_NAV_SHEET = (
    "QListWidget#settingsNav::item { padding: 6px 8px; }"
    "QListWidget#templateList::item { padding: 3px 4px; }"
)
PageFactory = Callable[[PageContext], SettingsPage]
# The tray app appends the Sync page (`ui/sync/page.py`), which needs its SyncManager.
DEFAULT_PAGES: tuple[PageFactory, ...] = (GeneralPage, ApiKeyPage, HotkeysPage, TemplatesPage)


class SettingsDialog(QDialog):
    """Settings in pages; Save checks, writes and emits `settings_changed(Settings)`."""

    settings_changed = Signal(object)
    api_key_changed = Signal(str)  # provider: the app drops its cached AI client
    hotkey_recording = Signal(bool)  # the app pauses global hotkeys while one is recorded

    def __init__(
        self,
        settings: Settings,
        settings_store: SettingsStore | None = None,
        *,
        data_dir: Path,
        clear_cache: Callable[[], int] | None = None,
        set_start_at_login: Callable[[bool], None] = autostart.set_enabled,
        pages: Sequence[PageFactory] = DEFAULT_PAGES,
        platform: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("SnapAsk Settings")
        self.resize(760, 600)
        self._settings = settings
        self._store = settings_store or SettingsStore()
        self._set_start_at_login = set_start_at_login
        self._saving = False
        self.calls = BackgroundCalls(self)
        context = PageContext(self.calls, data_dir, platform_name(platform), clear_cache)
        self.pages: dict[str, SettingsPage] = {}
        self.nav = QListWidget()
        self.nav.setAccessibleName("Settings pages")
        self.nav.setObjectName("settingsNav")
        self.nav.setFixedWidth(170)
        self.stack = QStackedWidget()
        for factory in pages:
            self._add_page(factory(context))
        self.nav.currentRowChanged.connect(self.stack.setCurrentIndex)
        self.message = error_label()
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.save_button.setToolTip("Check and save the settings (Ctrl+S)")
        QShortcut(QKeySequence("Ctrl+S"), self, self.save)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        self._layout()
        self.setStyleSheet(style.stylesheet(self.palette()) + _NAV_SHEET)
        self.load(settings)
        self.nav.setCurrentRow(0)

    def changeEvent(self, event: QEvent) -> None:
        """Follow light/dark palette switches (the style sheet holds the old colours)."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self.setStyleSheet(style.stylesheet(self.palette()) + _NAV_SHEET)

    def _add_page(self, page: SettingsPage) -> None:
        self.pages[page.key] = page
        self.nav.addItem(page.title)
        self.stack.addWidget(page)
        layout = page.layout()
        if isinstance(layout, QBoxLayout):
            heading = QLabel(page.title)
            font = heading.font()
            font.setPointSizeF(font.pointSizeF() * 1.25)
            font.setWeight(QFont.Weight.DemiBold)
            heading.setFont(font)
            layout.insertWidget(0, heading)
        page.settings_saved.connect(self._adopt)
        if isinstance(page, ApiKeyPage):
            page.key_changed.connect(self.api_key_changed)
        if isinstance(page, HotkeysPage):
            page.recording_changed.connect(self.hotkey_recording)

    def _layout(self) -> None:
        body = QHBoxLayout()
        body.addWidget(self.nav)
        body.addWidget(self.stack, 1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.message, 1)
        bottom.addWidget(self.buttons)
        column = QVBoxLayout(self)
        column.addLayout(body, 1)
        column.addLayout(bottom)

    @property
    def settings(self) -> Settings:
        """The settings as last saved."""
        return self._settings

    def page(self, key: str) -> SettingsPage:
        """A page by key ("general", "api_key", "hotkeys", "templates", …)."""
        return self.pages[key]

    def show_page(self, key: str) -> None:
        """Show a page (the welcome opens "api_key" or "general")."""
        page = self.pages[key]
        self.nav.setCurrentRow(self.stack.indexOf(page))

    def choose_provider(self, provider: str) -> None:
        """Show General with this provider chosen, unsaved (the welcome's "use a local
        model"): Save keeps it like any other change, Cancel undoes it."""
        general = self.pages["general"]
        if isinstance(general, GeneralPage):
            general.use_provider(provider)
        self.show_page("general")

    def pending_changes(self) -> dict[str, Any] | None:
        """The checked settings that differ from the saved ones; None (messages shown) if any
        value is refused."""
        changes: dict[str, Any] = {}
        first_bad: SettingsPage | None = None
        for page in self.pages.values():
            page.clear_errors()
            for key, raw in page.values().items():
                try:
                    value = check_value(key, raw)
                except SettingsError as error:
                    page.show_error(key, friendly(key, str(error)))
                    first_bad = first_bad or page
                    continue
                if value != getattr(self._settings, key):
                    changes[key] = value
            if page.problems():
                first_bad = first_bad or page
        if first_bad is not None:
            self.show_page(first_bad.key)
            show_message(self.message, "Some settings need fixing first (see the messages).")
            return None
        show_message(self.message, "")
        return changes

    @Slot()
    def save(self) -> None:
        """Check every page; write the changes on the worker, then emit and close."""
        if self._saving:
            return
        changes = self.pending_changes()
        if changes is None:
            return
        if not changes:
            self.accept()
            return
        self._saving = True
        self.save_button.setEnabled(False)
        self.calls.call(lambda: self._write(changes), self._saved, self._save_failed)

    def _write(self, changes: dict[str, Any]) -> Settings:
        # Worker thread. Start at login first: if the OS refuses, nothing is saved.
        if "start_at_login" in changes:
            self._set_start_at_login(bool(changes["start_at_login"]))
        return self._store.update(**changes)

    def _saved(self, settings: Settings) -> None:
        self._saving = False
        self._settings = settings
        self.save_button.setEnabled(True)
        self.settings_changed.emit(settings)
        self.accept()

    def _adopt(self, settings: Settings) -> None:
        """A page saved settings itself: they are the saved ones now (the other pages keep
        what the user typed; the app hears of them from whoever saved them)."""
        self._settings = settings

    def _save_failed(self, error: Exception) -> None:
        self._saving = False
        self.save_button.setEnabled(True)
        if isinstance(error, autostart.AutostartError):
            self.page("general").show_error("start_at_login", str(error))
            self.show_page("general")
        show_message(self.message, f"The settings were not saved: {error}")

    def done(self, result: int) -> None:
        if result == QDialog.DialogCode.Rejected:
            self.load(self._settings)  # Cancel: shown again later, it shows what is saved
        super().done(result)

    def load(self, settings: Settings) -> None:
        """Show these settings on every page (e.g. changed elsewhere since it was built)."""
        self._settings = settings
        for page in self.pages.values():
            page.clear_errors()
            page.load(settings)
        show_message(self.message, "")

    def wait_for_work(self, timeout_ms: int = -1) -> None:
        """Block until the dialog's background calls (save, keyring, cache) have run: call it
        before deleting the dialog (tests, app exit)."""
        self.calls.wait(timeout_ms)
        for page in self.pages.values():
            calls = getattr(page, "calls", None)
            if isinstance(calls, BackgroundCalls):
                calls.wait(timeout_ms)
