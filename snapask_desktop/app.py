"""The composition root of the tray app: builds the services and windows and wires their signals.

Nothing else lives here: every behaviour belongs to the module that owns it. Startup keeps to
what the tray needs; the chat, history and settings windows are built when first wanted, except
the region overlay, which is built ahead so the hotkey path only grabs and shows.

The conversation store (SQLAlchemy: ~45 MB, ~300 ms to import and open) is not opened at start:
the tray's recent list is read from the file with plain sqlite3 on a worker thread. It is opened
on a worker once a chat window with a new picture has been on screen for a moment (the question
is saved seconds later), or when History is asked for, so the main thread never waits for it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import time
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QSocketNotifier, Qt, QTimer, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from snapask_desktop.capture.backends import choose_backend
from snapask_desktop.capture.hotkey_defaults import effective_bindings
from snapask_desktop.capture.overlay import RegionOverlay
from snapask_desktop.config import Settings, SettingsError, SettingsStore
from snapask_desktop.resources import resource_path
from snapask_desktop.services import Services
from snapask_desktop.single_instance import (
    InstanceError,
    InstanceServer,
    Request,
    send_when_ready,
)
from snapask_desktop.store.records import ConversationSummary
from snapask_desktop.sync.device.status import SyncState, SyncStatus
from snapask_desktop.ui.chat.capture_flow import CaptureFlow, Picture
from snapask_desktop.ui.shell.launcher import LauncherWindow
from snapask_desktop.ui.shell.tray import NO_KEY_NOTICE, Tray, combined_state
from snapask_desktop.ui.sync.manager import SyncManager, restored_notice

if TYPE_CHECKING:
    from snapask_desktop.capture.hotkey_spec import Hotkey
    from snapask_desktop.store.records import ApplyReport
    from snapask_desktop.ui.chat.window import ChatUI

# Hiding our own windows before a grab needs the compositor to catch up.
HIDE_BEFORE_GRAB_MS = 120
WARM_UP_DELAY_MS = 1500
# The store opens this long after the last chat window was shown, while the user types: an
# import on a worker slows the main thread's window work by 40-60 ms (they share the GIL), so
# it must not overlap a capture, a drag or a window being shown.
STORE_WARM_DELAY_MS = 500
# Sync starts this long after the tray is up: it opens the store and imports websockets on its
# own thread, which would otherwise compete with the start-up and a first capture.
SYNC_START_DELAY_MS = 2000


def hotkey_bindings(settings: Settings) -> dict[str, Hotkey]:
    """The hotkeys to listen for: what Settings shows, without the actions turned off."""
    bindings = effective_bindings(settings.hotkeys).items()
    return {action: hotkey for action, hotkey in bindings if hotkey is not None}


def hotkey_labels(bindings: dict[str, Hotkey]) -> dict[str, str]:
    """What the menus show next to each action."""
    return {action: hotkey.label() for action, hotkey in bindings.items()}


class Desktop(QObject):
    """Owns the running app's parts and connects them; `app.py`'s one object."""

    _store_notice = Signal(str, str)  # title, message; from the thread that opened the store

    def __init__(self, app: QApplication, services: Services, problems: list[str]) -> None:
        super().__init__()
        from snapask_desktop.capture.hotkeys import HotkeyService
        from snapask_desktop.ui.workers import BackgroundCalls

        self.app = app
        self.services = services
        self.settings = services.settings
        self.tray = Tray(self)
        self.launcher: LauncherWindow | None = None
        self.overlay = RegionOverlay(self)
        self.backends = choose_backend()
        self.capture = CaptureFlow(self.backends, self.overlay, parent=self)
        self.hotkeys = HotkeyService(self)
        self._chat: ChatUI | None = None  # built just after the tray shows (see `chat`)
        self.reads = BackgroundCalls(self)  # store reads and the store's opening, off the UI
        # Signs in and out and runs the sync client; imports nothing of it until set up.
        self.sync = SyncManager(self.settings, services.lazy_store, parent=self)
        self._hotkey_problem = ""
        self._sync_problem_told = ""
        self._history = None
        self._history_wanted = False  # History was asked for while the store is being opened
        self._store_warmer = QTimer(self)
        self._store_warmer.setSingleShot(True)
        self._store_warmer.setInterval(STORE_WARM_DELAY_MS)
        self._store_warmer.timeout.connect(self.services.lazy_store.warm)
        self._settings_dialog = None
        self._welcome: QWidget | None = None
        self._hidden_for_capture: list[QWidget] = []
        self._boxes: list[QMessageBox] = []
        self._user_paused = False
        self._recording_hotkey = False
        self._problems = list(problems)
        self._wire()

    @property
    def chat(self) -> ChatUI:
        """The chat windows, built on first use: `start` asks for them as soon as the tray is
        up, so the tray does not wait for their modules (~45 ms) and a capture still finds
        them ready."""
        if self._chat is None:
            self._chat = self._build_chat()
        return self._chat

    def _build_chat(self) -> ChatUI:
        from snapask_desktop.ui.chat.window import ChatUI

        chat = ChatUI(self.services, parent=self)
        chat.attach_sync(self.sync)
        chat.settings_requested.connect(self.show_settings)
        chat.conversation_changed.connect(self._conversation_changed)
        chat.answering_changed.connect(self._update_tray_state)
        chat.answer_ready.connect(self._answer_ready)
        chat.waiting_changed.connect(self._update_tray_state)
        return chat

    # -- start and stop --------------------------------------------------------------------

    def start(self) -> None:
        """Show the tray (or the launcher), register the hotkeys, greet a first-time user."""
        if Tray.available():
            self.tray.show()
        else:
            self._show_launcher()
        self._apply_hotkeys()
        self._refresh_recent()
        if self.backends.backend is None:
            self._tell("Screenshots are not possible", self.backends.explain(), problem=True)
        # Build the chat window ahead (~80 ms), so the first capture shows in ~10 ms. (No warm-up
        # grab: it made only the first capture ~10 ms faster but kept mss's 8 MB screen buffer
        # from the start.)
        # Desktop as the timers' context: a Desktop deleted first (tests) cancels them.
        QTimer.singleShot(0, self, self._chat_ready)
        QTimer.singleShot(WARM_UP_DELAY_MS, self, lambda: self.chat.prepare())
        self.app.screenAdded.connect(self.capture.screens_changed)
        self.app.screenRemoved.connect(self.capture.screens_changed)
        for problem in self._problems:
            self._tell("Settings problem", problem, problem=True)
        self._maybe_welcome()
        self._show_sync_status()
        if self.settings.sync_server_url:
            QTimer.singleShot(SYNC_START_DELAY_MS, self.sync.start)

    def _chat_ready(self) -> None:
        self.chat  # noqa: B018 -- built now, on the first turn of the event loop
        self._update_tray_state()  # questions left waiting from the last run count at once

    def shutdown(self) -> None:
        """Stop listening for keys, finish the chat work, close the services."""
        self.hotkeys.stop()
        if self._chat is not None:
            self._chat.shutdown()
        self.reads.wait()
        if self._history is not None:
            self._history.shutdown()
        if self._settings_dialog is not None:
            self._settings_dialog.wait_for_work()
        self.sync.shutdown()  # before the store closes: the sync thread writes to it
        self.overlay.dispose()
        self.tray.hide()
        self.services.close()

    def quit(self) -> None:
        """End the app. Not QApplication.quit(): in Qt 6 any window that keeps itself open on
        close (the chat window and launcher hide instead) would veto it."""
        self.app.exit(0)

    def handle(self, request: Request) -> None:
        """A request from the command line or a second launch."""
        if request.command == "capture":
            self._begin_capture(request.mode or "region")
        elif request.command == "open":
            if request.conversation_id is None:
                self._reopen_last()
            else:
                self.chat.open_conversation(request.conversation_id)
        elif request.command == "quit":
            self.quit()
        elif request.command == "sync":
            self._sync_now()
        else:
            self.show_history()

    # -- wiring ------------------------------------------------------------------------------

    def _wire(self) -> None:
        tray = self.tray
        self._wire_menu(tray)
        tray.open_conversation.connect(lambda cid: self.chat.open_conversation(cid))
        tray.pause_toggled.connect(self._pause_hotkeys)
        tray.retry_hotkeys.connect(self._apply_hotkeys)
        tray.sync_now.connect(self._sync_now)
        self.hotkeys.triggered.connect(self._hotkey)
        self.hotkeys.failed.connect(self._hotkeys_failed)
        # Restore other windows first, so the new chat window ends up on top of them.
        for done in (self.capture.captured, self.capture.cancelled, self.capture.failed):
            done.connect(self._restore_own_windows)
        self.capture.captured.connect(lambda *_args: self.chat.forget_hidden())
        self.capture.cancelled.connect(lambda: self.chat.restore_windows())  # as it was
        self.capture.failed.connect(lambda _reason: self.chat.restore_windows())
        self.capture.captured.connect(self._show_picture)
        self.capture.encoded.connect(lambda *args: self.chat.picture_encoded(*args))
        self.capture.failed.connect(self._capture_failed)
        self.capture.encode_failed.connect(self._encode_failed)
        self._store_notice.connect(lambda title, notice: self._tell(title, notice, True))
        self.services.lazy_store.on_open(self._store_ready)
        sync = self.sync
        sync.status_changed.connect(self._sync_status)
        sync.applied.connect(self._sync_applied)
        sync.notice.connect(lambda text: self._tell("Sync", text, problem=True))
        sync.blob_ready.connect(self._picture_downloaded)
        sync.account_changed.connect(self._settings_changed)

    def _wire_menu(self, menu: Tray | LauncherWindow) -> None:
        """The actions the tray menu and the launcher (where no tray exists) share."""
        menu.capture_region.connect(lambda: self._begin_capture("region"))
        menu.capture_full.connect(lambda: self._begin_capture("full"))
        menu.new_chat.connect(self._new_chat)
        menu.show_history.connect(self.show_history)
        menu.show_settings.connect(self.show_settings)
        menu.quit_requested.connect(self.quit)

    def _hotkey(self, action: str) -> None:
        if action == "capture_region":
            self._begin_capture("region")
        elif action == "capture_full":
            self._begin_capture("full")
        elif action == "reopen_last":
            self._reopen_last()

    def _begin_capture(self, mode: str) -> None:
        if self.capture.busy:
            return
        if mode == "region":
            # Asked before the chat window is hidden: only a conversation in view is offered.
            offer_add = self.chat.can_add_picture()
            grab = lambda: self.capture.capture_region(offer_add)  # noqa: E731
        else:
            grab = self.capture.capture_full
        # Never capture our own windows: hide them first and give the screen a moment.
        if self._hide_own_windows():
            QTimer.singleShot(HIDE_BEFORE_GRAB_MS, grab)
        else:
            grab()
        self._store_warmer.stop()  # a capture is under way; its chat window starts it again

    def _hide_own_windows(self) -> bool:
        """Hide every SnapAsk window (the chat one for good, the others until the capture ends);
        True if anything was on screen."""
        chat_was_shown = self.chat.hide_windows()
        # Our own windows by name: Qt's X11 tray icon is a top-level widget too, and must stay.
        ours = [self._history, self._settings_dialog, self.launcher, self._welcome, *self._boxes]
        others = [w for w in ours if w is not None and w.isVisible()]
        for widget in others:
            widget.hide()
        self._hidden_for_capture = others
        return chat_was_shown or bool(others)

    def _restore_own_windows(self, *_args: object) -> None:
        windows, self._hidden_for_capture = self._hidden_for_capture, []
        for widget in windows:
            # Back on screen, but the focus belongs to the new chat window.
            widget.setAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating, True)
            widget.show()
            widget.setAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating, False)

    def _warm_store_soon(self) -> None:
        if not self.services.lazy_store.is_open:
            self._store_warmer.start()  # restarted by every new window: waits for a quiet moment

    def _new_chat(self) -> None:
        self.chat.new_chat()
        self._warm_store_soon()

    def _reopen_last(self) -> None:
        # ChatUI.open_conversation(None) would read (and so open) the store on this thread.
        self.reads.call(lambda: self.services.lazy_store.recent(1), self._open_latest)

    def _open_latest(self, rows: list[ConversationSummary]) -> None:
        if rows:
            self.chat.open_conversation(rows[0].id)
        else:
            self.chat.new_chat()

    def _capture_failed(self, reason: str) -> None:
        self._tell("Capture failed", reason, problem=True)

    def _encode_failed(self, capture_id: int, reason: str) -> None:
        self.chat.picture_failed(reason, capture_id)
        self._tell("Capture failed", reason, problem=True)

    def _show_picture(self, picture: Picture) -> None:
        if picture.into_chat:
            self.chat.add_to_open(picture)
        else:
            self.chat.new_from_picture(picture)
        self._warm_store_soon()

    # -- hotkeys -----------------------------------------------------------------------------

    def _apply_hotkeys(self) -> None:
        bindings = hotkey_bindings(self.settings)
        labels = hotkey_labels(bindings)
        self.tray.set_hotkey_labels(labels)
        if self.launcher is not None:
            self.launcher.set_hotkey_labels(labels)
        try:
            if self.hotkeys.running:
                self.hotkeys.set_bindings(bindings)
            else:
                self.hotkeys.start(bindings)
        except Exception as error:  # HotkeyError / HotkeyUnavailable: say so, keep running
            self._hotkeys_failed(str(error))
            return
        if self._hotkey_problem:  # they work again (e.g. after "turn them on again")
            self._hotkeys_failed("", quiet=True)

    def _hotkeys_failed(self, reason: str, quiet: bool = False) -> None:
        self._hotkey_problem = reason
        self.tray.set_hotkey_problem(reason)
        self._update_tray_state()
        if quiet:
            return
        self._tell("Global hotkeys are not available", reason, problem=True)

    def _pause_hotkeys(self, paused: bool) -> None:
        """The user's Pause hotkeys (tray menu)."""
        self._user_paused = paused
        self.tray.set_paused(paused)
        self._sync_pause()

    def _recording_changed(self, recording: bool) -> None:
        # Pressing the old combination while recording a new one must not capture.
        self._recording_hotkey = recording
        self._sync_pause()

    def _sync_pause(self) -> None:
        if self._user_paused or self._recording_hotkey:
            self.hotkeys.pause()
        else:
            self.hotkeys.resume()

    # -- windows -----------------------------------------------------------------------------

    def show_history(self) -> None:
        if self._history is None and not self.services.lazy_store.is_open:
            # Importing and opening the store takes ~300 ms: do it on the worker, then show.
            if not self._history_wanted:
                self._history_wanted = True
                self.reads.call(
                    self.services.lazy_store.get, self._store_opened, self._store_failed
                )
            return
        from snapask_desktop.ui.history.window import HistoryWindow

        if self._history is None:
            self._history = HistoryWindow(self.services.store)
            self._history.open_requested.connect(self.chat.open_conversation)
            # A rename or delete there shows in the open chat window at once.
            self._history.conversation_edited.connect(self.chat.controller.changed_elsewhere)
            self._history.watcher.changed.connect(self._refresh_recent)  # e.g. `snapask ask`
            self._history.set_blob_fetcher(self.sync.fetch_blob)
        self._history.show()
        self._history.raise_()
        self._history.activateWindow()
        # Searching finds words inside pictures: read those that came without their text.
        self.services.pictures.read_missing(self.services.store)

    def _store_ready(self, store: object) -> None:
        """The store opened (on whichever thread): tell the user if a damaged file was set aside,
        and what was recovered from it."""
        recovered = getattr(store, "recovered", None)
        if recovered is not None:
            title = (
                "Your conversation store was repaired"
                if recovered.recovered_all
                else "Your conversation store was damaged"
            )
            self._store_notice.emit(title, str(recovered))

    def _store_opened(self, _store: object) -> None:
        if self._history_wanted:
            self._history_wanted = False
            self.show_history()

    def _store_failed(self, error: Exception) -> None:
        self._history_wanted = False
        self._tell("Your conversations could not be opened", str(error), problem=True)

    def show_settings(self, page: str | None = None, provider: str | None = None) -> None:
        from snapask_desktop.ui.settings.dialog import DEFAULT_PAGES, SettingsDialog
        from snapask_desktop.ui.settings.page import PageContext
        from snapask_desktop.ui.sync.page import SyncPage

        if self._settings_dialog is None:
            sync = self.sync

            def sync_page(context: PageContext) -> SyncPage:
                return SyncPage(context, sync)

            dialog = SettingsDialog(
                self.settings,
                clear_cache=self._clear_cache,
                data_dir=self.services.data_dir,
                pages=(*DEFAULT_PAGES, sync_page),
            )
            dialog.settings_changed.connect(self._settings_changed)
            dialog.api_key_changed.connect(self._key_changed)
            dialog.hotkey_recording.connect(self._recording_changed)
            self._settings_dialog = dialog
        else:
            self._settings_dialog.load(self.settings)
        if page:
            self._settings_dialog.show_page(page)
        if provider:
            self._settings_dialog.choose_provider(provider)
        self._settings_dialog.show()
        self._settings_dialog.raise_()
        self._settings_dialog.activateWindow()

    def _settings_changed(self, settings: Settings) -> None:
        self.settings = settings
        self.services.apply_settings(settings)
        if self._chat is not None:  # a chat built later reads the services' new settings
            self._chat.apply_settings(settings)
        self.sync.apply_settings(settings)
        self._apply_hotkeys()
        self._show_sync_status()
        self._check_key()  # another provider may need a key, or none

    def _key_changed(self, provider: str) -> None:
        self.services.apply_settings(self.settings, key_changed_for=provider)
        self._check_key()

    def _check_key(self) -> None:
        """Say in the tray's tooltip whether the provider lacks its key (keyring: a worker)."""
        from snapask_desktop import credentials

        provider = self.settings.provider
        self.reads.call(lambda: credentials.needs_api_key(provider), self._show_key_missing)

    def _show_key_missing(self, missing: bool) -> None:
        self.tray.set_notice(NO_KEY_NOTICE if missing else "")

    def _clear_cache(self) -> int:
        return self.services.clear_answer_cache()

    def _show_launcher(self) -> None:
        self.launcher = LauncherWindow(QIcon(str(resource_path("icons", "snapask.svg"))))
        self._wire_menu(self.launcher)
        self.launcher.show()

    def _maybe_welcome(self) -> None:
        # The keyring (~130 ms to import, then a D-Bus call) is asked on a worker, so the tray
        # is ready without waiting for it; the welcome follows when the answer is in.
        from snapask_desktop import credentials

        provider = self.settings.provider
        self.reads.call(lambda: credentials.needs_api_key(provider), self._welcome_if_no_key)

    def _welcome_if_no_key(self, missing: bool) -> None:
        self._show_key_missing(missing)
        if not missing or self._welcome is not None:
            return
        from snapask_desktop.ui.shell.welcome import WelcomeDialog  # only when it is shown

        welcome = WelcomeDialog(self.settings, in_tray=self.launcher is None)
        welcome.open_settings.connect(self.show_settings)
        welcome.local_model_chosen.connect(
            lambda provider: self.show_settings("general", provider=provider)
        )
        welcome.show()
        self._welcome = welcome

    # -- status ------------------------------------------------------------------------------

    def _conversation_changed(self, _conversation_id: str) -> None:
        self._refresh_recent()
        if self._history is not None:
            self._history.refresh()

    def _refresh_recent(self) -> None:
        # Before the store is open this reads the file with plain sqlite3 (no SQLAlchemy).
        recent = self.services.lazy_store.recent
        self.reads.call(lambda: recent(5, pinned_first=True), self._show_recent)

    def _show_recent(self, rows: list[ConversationSummary]) -> None:
        # Pinned first; the reopen hotkey's label goes on the newest, which is what it opens.
        newest = max(rows, key=lambda row: row.last_activity_hlc).id if rows else None
        self.tray.set_recent([(row.id, row.title) for row in rows], newest=newest)

    def _update_tray_state(self, *_args: object) -> None:
        chat = self._chat  # not built yet: nothing answers or waits
        state, detail = combined_state(
            answering=chat is not None and chat.is_answering,
            waiting=0 if chat is None else chat.waiting_count,
            problem=self._hotkey_problem,
            sync=self.sync.status if self.settings.sync_server_url else None,
        )
        if (state, detail) != (self.tray.state, self.tray.detail):
            self.tray.set_state(state, detail)

    # -- sync --------------------------------------------------------------------------------

    def _sync_now(self) -> None:
        if not self.sync.sync_now():
            self._tell("Sync", "Sync is not set up: sign in under Settings → Sync.")

    def _show_sync_status(self) -> None:
        self.tray.show_sync(self.sync.status if self.settings.sync_server_url else None)
        self._update_tray_state()

    def _sync_status(self, status: SyncStatus) -> None:
        self._show_sync_status()
        # Something only the user can fix (sign in again, update): say it once.
        if status.state is SyncState.PROBLEM and status.message != self._sync_problem_told:
            self._sync_problem_told = status.message
            where = " (Settings → Sync → Unlock…)" if status.locked else ""
            self._tell("Sync stopped", status.message + where, problem=True)
        elif status.state is SyncState.UP_TO_DATE:
            self._sync_problem_told = ""

    def _sync_applied(self, report: ApplyReport) -> None:
        if report.changed_conversations or report.restored:
            self._refresh_recent()
            if self._history is not None:
                self._history.refresh()
        if report.restored:
            self._tell("Sync", restored_notice(len(report.restored)))

    def _picture_downloaded(self, sha256: str) -> None:
        # Picture text is not synced: each device reads the pictures it receives.
        self.services.pictures.read_later(self.services.store, sha256)
        if self._history is not None:
            self._history.picture_arrived(sha256)  # its thumbnail can be drawn now

    def _answer_ready(self, conversation_id: str, title: str, text: str) -> None:
        # An answer done while the chat was hidden: a tray message (a click opens it); where
        # there is no tray, the launcher is on screen and a dialog would only interrupt.
        if self.tray.is_visible():
            self.tray.notify_answer(conversation_id, title, text)

    def _tell(self, title: str, message: str, problem: bool = False) -> None:
        if self.tray.is_visible():
            self.tray.notify(title, message, problem)
        else:
            box = QMessageBox(
                QMessageBox.Icon.Warning if problem else QMessageBox.Icon.Information,
                title,
                message,
            )
            box.setModal(False)
            box.finished.connect(lambda _result, b=box: self._boxes.remove(b))
            box.show()
            self._boxes.append(box)


def has_display() -> bool:
    """Whether Qt can show windows here (Linux needs X11 or Wayland, or a chosen platform)."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def hand_over(request: Request) -> int:
    """Give the request to the running app; a clear message if that fails."""
    try:
        if send_when_ready(request):
            return 0
        message = "SnapAsk seems to be starting or stopping; try again in a moment."
    except InstanceError as error:
        message = str(error)
    print(f"snapask: {message}", file=sys.stderr)
    return 1


def load_settings() -> tuple[Settings, list[str]]:
    """The settings and the problems to tell the user; a bad environment override included."""
    try:
        loaded = SettingsStore().load()
    except SettingsError as error:  # SNAPASK_*_BASE_URL set to something unusable
        return SettingsStore().load_file_only(), [f"{error}; it is ignored"]
    return loaded.settings, loaded.problems


def stop_on_signals(desktop: Desktop) -> tuple[socket.socket, socket.socket] | None:
    """SIGTERM (logout, kill) and SIGINT quit like the Quit menu: answers are saved first.

    Python runs signal handlers only between bytecodes, and Qt's loop runs in C++: a wake-up
    socket makes Qt's loop notice the signal at once."""
    if not hasattr(signal, "SIGTERM") or sys.platform.startswith("win"):
        return None
    reader, writer = socket.socketpair()
    reader.setblocking(False)
    writer.setblocking(False)
    signal.set_wakeup_fd(writer.fileno())
    notifier = QSocketNotifier(reader.fileno(), QSocketNotifier.Type.Read, desktop)

    def woke() -> None:
        with contextlib.suppress(OSError):
            reader.recv(64)

    notifier.activated.connect(woke)
    for number in (signal.SIGTERM, signal.SIGINT):
        # Posted, not called: a signal that lands before app.exec() starts would otherwise
        # make exit() a no-op and the loop would then run forever.
        signal.signal(number, lambda *_: QTimer.singleShot(0, desktop.quit))
    return reader, writer  # the caller keeps them open as long as the app runs


def run(request: Request | None = None) -> int:
    """Start the tray app, or hand `request` to the one already running; the exit code."""
    started = time.perf_counter()
    if not has_display():
        print(
            "snapask: the tray app needs a desktop session (no DISPLAY or WAYLAND_DISPLAY here).\n"
            "The command line works without one: snapask --help",
            file=sys.stderr,
        )
        return 1
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("SnapAsk")
    app.setDesktopFileName("snapask")
    app.setQuitOnLastWindowClosed(False)
    app.setWindowIcon(QIcon(str(resource_path("icons", "snapask.svg"))))
    server = InstanceServer()
    if not server.claim():
        return hand_over(request or Request("show"))
    settings, problems = load_settings()
    services = Services(settings)
    desktop = Desktop(app, services, problems)
    server.requested.connect(desktop.handle)
    wake_sockets = stop_on_signals(desktop)
    desktop.start()
    if request is not None:
        QTimer.singleShot(0, lambda: desktop.handle(request))
    print(
        f"snapask: ready in the system tray ({time.perf_counter() - started:.2f} s)",
        file=sys.stderr,
        flush=True,
    )
    code = app.exec()
    desktop.shutdown()
    server.close()
    del wake_sockets
    return code
