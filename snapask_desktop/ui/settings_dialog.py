"""The settings dialog: General, API key, Hotkeys and Prompt templates pages.

Pages are built from a list of factories (`DEFAULT_PAGES`), so another page (Sync) is one
more factory. A page shows settings and hands back raw values; the dialog checks every value
with `config.check_value`, shows each message next to its field, and saves through
`SettingsStore.update` on a worker. Cancel discards. API keys are different: they go to the
keyring at once (never to the settings file), and the dialog says so.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSignalBlocker, Qt, QUrl, Signal, Slot
from PySide6.QtGui import (
    QDesktopServices,
    QFont,
    QKeySequence,
    QPalette,
    QShortcut,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QBoxLayout,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from snapask_desktop import autostart, credentials
from snapask_desktop.actions import BUILTIN_ACTIONS
from snapask_desktop.ai.registry import REGISTRY
from snapask_desktop.capture.hotkey_defaults import (
    ACTION_LABELS,
    ACTIONS,
    default_hotkeys,
    effective_bindings,
    find_clashes,
)
from snapask_desktop.capture.hotkey_spec import Hotkey
from snapask_desktop.capture.session import platform_name
from snapask_desktop.config import (
    MAX_TEMPLATES,
    Settings,
    SettingsError,
    SettingsStore,
    check_value,
)
from snapask_desktop.credentials import CredentialError
from snapask_desktop.ui import style
from snapask_desktop.ui.hotkey_recorder import HotkeyRecorder
from snapask_desktop.ui.thumbnails import BackgroundCalls

GEMINI_MODELS = ("gemini-2.5-flash", "gemini-2.5-flash-lite", "gemini-2.5-pro")
LANGUAGES = (
    "English",
    "Spanish",
    "French",
    "German",
    "Italian",
    "Portuguese",
    "Dutch",
    "Polish",
    "Ukrainian",
    "Russian",
    "Turkish",
    "Arabic",
    "Hindi",
    "Chinese (Simplified)",
    "Japanese",
    "Korean",
)
GEMINI_KEY_URL = "https://aistudio.google.com/apikey"


def link_html(url: str, text: str, palette: QPalette) -> str:
    """A rich-text link readable on light and dark palettes (some dark themes keep a dark
    blue Link colour, so it is lifted towards the text colour there)."""
    color = palette.color(QPalette.ColorRole.Link)
    if style.is_dark(palette) and color.lightnessF() < 0.6:
        color = style.mix(color, palette.color(QPalette.ColorRole.WindowText), 0.45)
    return f"<a href='{escape(url)}' style='color: {style.css(color)}'>{escape(text)}</a>"


def _key_help(provider: str, palette: QPalette) -> str:
    if provider == "gemini":
        return f"Get a key at {link_html(GEMINI_KEY_URL, 'aistudio.google.com', palette)}."
    return "Only needed when your server asks for one; Ollama and LM Studio need none."


@dataclass(frozen=True)
class PageContext:
    """What pages may use besides the settings: the shared worker and the app's helpers."""

    calls: BackgroundCalls
    data_dir: Path
    platform: str
    clear_cache: Callable[[], int] | None = None


def _error_label() -> QLabel:
    label = QLabel()
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    style.set_role(label, "error")
    label.hide()
    return label


def _note(text: str, rich: bool = False) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.RichText if rich else Qt.TextFormat.PlainText)
    if rich:
        label.setOpenExternalLinks(True)
    style.set_role(label, "muted")
    return label


def _restyle(widget: QWidget, role: str | None) -> None:
    """Give a widget a stylesheet role, or none (plain text)."""
    if role:
        style.set_role(widget, role)
        return
    widget.setProperty(style.ROLE_PROPERTY, None)
    widget.style().unpolish(widget)
    widget.style().polish(widget)


def _show(label: QLabel, text: str, role: str = "error") -> None:
    label.setText(text)
    _restyle(label, role)
    label.setVisible(bool(text))


def friendly(key: str, message: str) -> str:
    """check_value's "<key> must be …" as a sentence for the label under the field."""
    text = message[len(key) :].strip() if message.startswith(key) else message
    return text[:1].upper() + text[1:] if text else message


class SettingsPage(QWidget):
    """One page of the dialog. Subclasses fill `errors` (setting key -> label under its field)."""

    key = ""
    title = ""
    # Settings the page saved by itself (Sync: signing in); the dialog takes them as saved.
    settings_saved = Signal(object)

    def __init__(self, context: PageContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.errors: dict[str, QLabel] = {}

    def load(self, settings: Settings) -> None:
        """Show these settings."""

    def values(self) -> dict[str, Any]:
        """The raw value of every setting on this page (checked by the dialog)."""
        return {}

    def problems(self) -> list[str]:
        """Reasons the page cannot be saved beyond single values (shown by the page itself)."""
        return []

    def show_error(self, key: str, message: str) -> bool:
        """Show a message under the field of `key`; False if the field is not on this page."""
        label = self.errors.get(key)
        if label is None:
            return False
        _show(label, message)
        return True

    def clear_errors(self) -> None:
        """Hide every message."""
        for label in self.errors.values():
            _show(label, "")


def _field(widget: QWidget, error: QLabel, note: QLabel | None = None) -> QWidget:
    box = QWidget()
    column = QVBoxLayout(box)
    column.setContentsMargins(0, 0, 0, 0)
    column.setSpacing(2)
    column.addWidget(widget)
    if note is not None:
        column.addWidget(note)
    column.addWidget(error)
    return box


# --------------------------------------------------------------------------- General


class GeneralPage(SettingsPage):
    """Provider, models, server URLs, answers, cache, start at login, data folder."""

    key = "general"
    title = "General"

    def __init__(self, context: PageContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.provider = QComboBox()
        for info in REGISTRY.values():
            self.provider.addItem(info.choice, info.name)
        self.provider.currentIndexChanged.connect(self._provider_changed)
        self.gemini_model = self._combo(GEMINI_MODELS)
        self.gemini_base_url = QLineEdit()
        self.gemini_base_url.setPlaceholderText("Google's own (leave empty)")
        self.openai_base_url = QLineEdit()
        self.openai_base_url.setPlaceholderText("http://127.0.0.1:11434/v1")
        self.openai_model = QLineEdit()
        self.openai_model.setPlaceholderText("llava, qwen2.5vl, gemma3 …")
        self.translate_to = self._combo(LANGUAGES)
        self.request_timeout = QDoubleSpinBox()
        self.request_timeout.setRange(5, 3600)
        self.request_timeout.setDecimals(1)
        self.request_timeout.setSuffix(" s")
        self.max_retries = QSpinBox()
        self.max_retries.setRange(0, 10)
        self.max_retries.setSuffix(" times")
        for narrow in (self.request_timeout, self.max_retries):
            narrow.setMinimumWidth(110)
            narrow.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.translate_to.setMinimumWidth(220)
        self.translate_to.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.answer_cache = QCheckBox("Answer a repeated question from the cache")
        self.clear_cache_button = QPushButton("Clear answer cache")
        self.clear_cache_button.setEnabled(context.clear_cache is not None)
        self.clear_cache_button.clicked.connect(self._clear_cache)
        self.cache_result = QLabel()
        style.set_role(self.cache_result, "muted")
        self.start_at_login = QCheckBox("Start SnapAsk when I log in")
        self.data_dir = QLineEdit(str(context.data_dir))
        self.data_dir.setReadOnly(True)
        self.open_folder = QPushButton("Open folder")
        self.open_folder.setToolTip("Show the conversations folder in the file manager")
        self.open_folder.clicked.connect(self._open_folder)
        self._layout()

    @staticmethod
    def _combo(items: Sequence[str]) -> QComboBox:
        combo = QComboBox()
        combo.setEditable(True)
        combo.addItems(list(items))
        combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        return combo

    def _error(self, key: str) -> QLabel:
        self.errors[key] = _error_label()
        return self.errors[key]

    def _layout(self) -> None:
        form = QFormLayout()
        form.addRow("&Provider:", _field(self.provider, self._error("provider")))
        self.gemini_box = QGroupBox("Gemini")
        gemini = QFormLayout(self.gemini_box)
        gemini.addRow("&Model:", _field(self.gemini_model, self._error("gemini_model")))
        gemini.addRow("API &URL:", _field(self.gemini_base_url, self._error("gemini_base_url")))
        self.openai_box = QGroupBox("OpenAI-compatible server")
        openai = QFormLayout(self.openai_box)
        openai.addRow("&Server URL:", _field(self.openai_base_url, self._error("openai_base_url")))
        openai.addRow("M&odel:", _field(self.openai_model, self._error("openai_model")))
        answers = QGroupBox("Answers")
        answer_form = QFormLayout(answers)
        answer_form.addRow("&Translate to:", _field(self.translate_to, self._error("translate_to")))
        answer_form.addRow(
            "&Wait up to:", _field(self.request_timeout, self._error("request_timeout_s"))
        )
        answer_form.addRow("&Retries:", _field(self.max_retries, self._error("max_retries")))
        cache_row = QHBoxLayout()
        cache_row.addWidget(self.answer_cache)
        cache_row.addStretch(1)
        cache_row.addWidget(self.cache_result)
        cache_row.addWidget(self.clear_cache_button)
        answer_form.addRow(cache_row)
        answer_form.addRow(self._error("answer_cache"))
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.data_dir, 1)
        folder_row.addWidget(self.open_folder)
        app = QFormLayout()
        app.addRow(self.start_at_login)
        app.addRow(self._error("start_at_login"))
        app.addRow("Data folder:", folder_row)
        column = QVBoxLayout(self)
        column.addLayout(form)
        column.addWidget(self.gemini_box)
        column.addWidget(self.openai_box)
        column.addWidget(answers)
        column.addLayout(app)
        column.addStretch(1)

    def load(self, settings: Settings) -> None:
        self.provider.setCurrentIndex(max(0, self.provider.findData(settings.provider)))
        self.gemini_model.setCurrentText(settings.gemini_model)
        self.gemini_base_url.setText(settings.gemini_base_url or "")
        self.openai_base_url.setText(settings.openai_base_url)
        self.openai_model.setText(settings.openai_model)
        self.translate_to.setCurrentText(settings.translate_to)
        timeout = settings.request_timeout_s
        self.request_timeout.setDecimals(0 if float(timeout).is_integer() else 1)
        self.request_timeout.setValue(timeout)
        self.max_retries.setValue(settings.max_retries)
        self.answer_cache.setChecked(settings.answer_cache)
        self.start_at_login.setChecked(settings.start_at_login)
        self._provider_changed()

    def values(self) -> dict[str, Any]:
        return {
            "provider": self.provider.currentData(),
            "gemini_model": self.gemini_model.currentText(),
            "gemini_base_url": self.gemini_base_url.text().strip() or None,
            "openai_base_url": self.openai_base_url.text(),
            "openai_model": self.openai_model.text(),
            "translate_to": self.translate_to.currentText(),
            "request_timeout_s": self.request_timeout.value(),
            "max_retries": self.max_retries.value(),
            "answer_cache": self.answer_cache.isChecked(),
            "start_at_login": self.start_at_login.isChecked(),
        }

    def use_provider(self, provider: str) -> None:
        """Select a provider (the welcome's "use a local model")."""
        self.provider.setCurrentIndex(max(0, self.provider.findData(provider)))

    @Slot()
    def _provider_changed(self) -> None:
        chosen = self.provider.currentData()
        self.gemini_box.setTitle("Gemini" + (" (in use)" if chosen == "gemini" else ""))
        self.openai_box.setTitle(
            "OpenAI-compatible server" + (" (in use)" if chosen == "openai" else "")
        )

    @Slot()
    def _clear_cache(self) -> None:
        clear = self.context.clear_cache
        if clear is None:
            return
        self.clear_cache_button.setEnabled(False)
        self.cache_result.setText("Clearing…")

        def done(count: int) -> None:
            self.clear_cache_button.setEnabled(True)
            noun = "answer" if count == 1 else "answers"
            self.cache_result.setText(f"Cleared {count:,} saved {noun}")
            style.set_role(self.cache_result, "muted")

        def failed(error: Exception) -> None:
            self.clear_cache_button.setEnabled(True)
            self.cache_result.setText(f"Could not clear the cache: {error}")
            style.set_role(self.cache_result, "error")

        self.context.calls.call(clear, done, failed)

    @Slot()
    def _open_folder(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.context.data_dir)))


# --------------------------------------------------------------------------- API key


@dataclass(frozen=True)
class KeyStatus:
    """Whether a provider has a key, and where it comes from (never the key itself)."""

    provider: str
    source: str | None  # "keyring", "environment (GEMINI_API_KEY)" or None
    error: str | None = None

    @property
    def from_environment(self) -> bool:
        """True when an environment variable supplies the key (it wins over the keyring)."""
        return bool(self.source and self.source.startswith("environment"))

    def describe(self) -> str:
        """A sentence for the page."""
        if self.error:
            return self.error
        if self.source is None:
            return "No key is set."
        if self.from_environment:
            variable = self.source.removeprefix("environment (").rstrip(")")
            return (
                f"A key is set by the environment variable {variable}; it is used instead "
                "of one saved here."
            )
        return "A key is set, kept in the system keyring."


def key_status(provider: str) -> KeyStatus:
    """Look up where a provider's key comes from (blocking: the keyring may ask the OS)."""
    try:
        found = credentials.get_api_key(provider)
    except CredentialError as error:
        return KeyStatus(provider, None, str(error))
    return KeyStatus(provider, found.source if found else None)


class _KeyBox(QGroupBox):
    """One provider's key: status, a field for a new key, Save/Replace and Remove."""

    changed = Signal(str)

    def __init__(self, provider: str, title: str, calls: BackgroundCalls) -> None:
        super().__init__(title)
        self.provider = provider
        self._calls = calls
        self.status_label = QLabel("Checking…")
        self.status_label.setWordWrap(True)
        self.entry = QLineEdit()
        self.entry.setEchoMode(QLineEdit.EchoMode.Password)
        self.entry.setPlaceholderText("Paste a new key")
        self.entry.setAccessibleName(f"New {title} API key")
        self.entry.returnPressed.connect(self.save_key)
        self.save_button = QPushButton("Save key")
        self.save_button.clicked.connect(self.save_key)
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Remove the key saved in the system keyring")
        self.remove_button.clicked.connect(self.remove_key)
        self.message = _error_label()
        row = QHBoxLayout()
        row.addWidget(self.entry, 1)
        row.addWidget(self.save_button)
        row.addWidget(self.remove_button)
        column = QVBoxLayout(self)
        column.addWidget(self.status_label)
        column.addLayout(row)
        column.addWidget(self.message)
        column.addWidget(_note(_key_help(provider, self.palette()), rich=True))
        self.status: KeyStatus | None = None
        self._set_busy(False)  # Remove stays off until the lookup finds a key

    def refresh(self) -> None:
        """Look the key up again on the worker (typing goes on meanwhile)."""
        self._calls.call(lambda: key_status(self.provider), self._show_status)

    def _show_status(self, status: KeyStatus) -> None:
        self.status = status
        self.status_label.setText(status.describe())
        _restyle(self.status_label, "error" if status.error else None)
        self.save_button.setText("Replace key" if status.source else "Save key")
        self._set_busy(self._busy)

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.entry.setEnabled(not busy)
        self.save_button.setEnabled(not busy)
        in_keyring = self.status is not None and self.status.source == "keyring"
        self.remove_button.setEnabled(not busy and in_keyring)

    @Slot()
    def save_key(self) -> None:
        """Store the typed key in the keyring."""
        value = self.entry.text()
        if not value.strip():
            _show(self.message, "Paste the key first.")
            return
        self._run(lambda: credentials.set_api_key(self.provider, value), "The key was saved.")

    @Slot()
    def remove_key(self) -> None:
        """Delete the key from the keyring."""

        def work() -> bool:
            return credentials.delete_api_key(self.provider)

        self._run(work, "The key was removed from the keyring.")

    def _run(self, work: Callable[[], object], success: str) -> None:
        self._set_busy(True)
        _show(self.message, "")

        def done(_result: object) -> None:
            self.entry.clear()
            self._set_busy(False)
            _show(self.message, success, "muted")
            self.changed.emit(self.provider)
            self.refresh()

        def failed(error: Exception) -> None:
            self._set_busy(False)
            _show(self.message, str(error))

        self._calls.call(work, done, failed)


class ApiKeyPage(SettingsPage):
    """API keys per provider, kept in the system keyring; shows only whether one is set."""

    key = "api_key"
    title = "API key"
    key_changed = Signal(str)

    def __init__(self, context: PageContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        column = QVBoxLayout(self)
        column.addWidget(
            _note(
                "Keys are stored in your system keyring as soon as you save them, never in "
                "the settings file. Only whether a key is set is shown here."
            )
        )
        # Its own worker: a keyring may wait for the user to unlock it, and Save must not.
        self.calls = BackgroundCalls(self)
        self.boxes: dict[str, _KeyBox] = {}
        for info in REGISTRY.values():
            box = _KeyBox(info.name, info.title, self.calls)
            box.changed.connect(self.key_changed)
            self.boxes[info.name] = box
            column.addWidget(box)
        column.addStretch(1)
        self._refresh_all()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._refresh_all()  # a key may have been set elsewhere (CLI, environment)

    def _refresh_all(self) -> None:
        for box in self.boxes.values():
            box.refresh()


# --------------------------------------------------------------------------- Hotkeys


class _HotkeyRow(QWidget):
    def __init__(self, action: str, default: Hotkey, platform: str) -> None:
        super().__init__()
        self.action = action
        self.default = default
        self.recorder = HotkeyRecorder(platform=platform)
        self.recorder.setAccessibleName(f"Hotkey for {ACTION_LABELS[action]}")
        self.reset = QPushButton("Default")
        self.reset.setToolTip(f"Use the default, {default.label(platform)}")
        self.reset.clicked.connect(lambda: self.recorder.set_hotkey(self.default))
        self.off = QPushButton("Off")
        self.off.setToolTip("No hotkey for this action")
        self.off.clicked.connect(lambda: self.recorder.set_hotkey(None))
        self.message = _error_label()
        self.recorder.refused.connect(lambda text: _show(self.message, text))
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.recorder, 1)
        row.addWidget(self.reset)
        row.addWidget(self.off)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        column.addLayout(row)
        column.addWidget(self.message)


class HotkeysPage(SettingsPage):
    """One row per action: a key recorder, Default and Off; clashes reported as they happen."""

    key = "hotkeys"
    title = "Hotkeys"
    recording_changed = Signal(bool)

    def __init__(self, context: PageContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self._platform = context.platform
        defaults = default_hotkeys(context.platform)
        self.rows: dict[str, _HotkeyRow] = {}
        form = QFormLayout()
        for action in ACTIONS:
            row = _HotkeyRow(action, defaults[action], context.platform)
            row.recorder.set_check(lambda hotkey, action=action: self._own_clash(action, hotkey))
            row.recorder.hotkey_changed.connect(lambda _hotkey: self._check_clashes())
            row.recorder.recording_changed.connect(self.recording_changed)
            label = QLabel(f"{ACTION_LABELS[action]}:")
            label.setBuddy(row.recorder)
            form.addRow(label, row)
            self.rows[action] = row
        self.errors["hotkeys"] = _error_label()
        column = QVBoxLayout(self)
        column.addWidget(
            _note(
                "Click a field and press the new key combination; Tab moves on. Hotkeys work "
                "while other apps have focus."
            )
        )
        column.addLayout(form)
        column.addWidget(self.errors["hotkeys"])
        column.addStretch(1)

    def load(self, settings: Settings) -> None:
        bindings = effective_bindings(settings.hotkeys, self._platform)
        for action, row in self.rows.items():
            with QSignalBlocker(row.recorder):
                row.recorder.set_hotkey(bindings[action])
        self._check_clashes()

    def bindings(self) -> dict[str, Hotkey | None]:
        """What each action is set to now (None: off)."""
        return {action: row.recorder.hotkey for action, row in self.rows.items()}

    def values(self) -> dict[str, Any]:
        # Only what differs from the defaults is stored, so new defaults reach everyone else.
        changed: dict[str, str] = {}
        for action, hotkey in self.bindings().items():
            if hotkey != self.rows[action].default:
                changed[action] = hotkey.pynput() if hotkey else ""
        return {"hotkeys": changed}

    def problems(self) -> list[str]:
        return [c.message(self._platform) for c in self._clashes() if c.own]

    def _clashes(self) -> list[Any]:
        active = {a: h for a, h in self.bindings().items() if h is not None}
        return find_clashes(active, self._platform)

    def _own_clash(self, action: str, hotkey: Hotkey) -> str | None:
        for other, bound in self.bindings().items():
            if other != action and bound == hotkey:
                return (
                    f"{hotkey.label(self._platform)} is already set for "
                    f"{ACTION_LABELS[other]}: give one of them another key."
                )
        return None

    def _check_clashes(self) -> None:
        for row in self.rows.values():
            _show(row.message, "")
        for clash in self._clashes():
            row = self.rows[clash.action]
            _show(row.message, clash.message(self._platform), "error" if clash.own else "warning")


# --------------------------------------------------------------------------- templates


class TemplatesPage(SettingsPage):
    """The user's own quick actions: add, edit, remove and reorder label + prompt."""

    key = "templates"
    title = "Prompt templates"

    def __init__(self, context: PageContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.list = QListWidget()
        self.list.setAccessibleName("Prompt templates")
        self.list.setObjectName("templateList")
        self.list.currentRowChanged.connect(self._row_changed)
        self.add_button = QPushButton("&Add")
        self.add_button.clicked.connect(self.add_template)
        self.remove_button = QPushButton("Re&move")
        self.remove_button.clicked.connect(self.remove_template)
        self.up_button = QPushButton("Move &up")
        self.up_button.setToolTip("Move up (Alt+Up)")
        self.up_button.clicked.connect(lambda: self.move_template(-1))
        self.down_button = QPushButton("Move do&wn")
        self.down_button.setToolTip("Move down (Alt+Down)")
        self.down_button.clicked.connect(lambda: self.move_template(1))
        for keys, step in (("Alt+Up", -1), ("Alt+Down", 1)):
            shortcut = QShortcut(QKeySequence(keys), self.list)
            shortcut.setContext(Qt.ShortcutContext.WidgetShortcut)
            shortcut.activated.connect(lambda step=step: self.move_template(step))
        self.label = QLineEdit()
        self.label.setPlaceholderText("e.g. Fix grammar")
        self.label.setMaxLength(40)
        self.label.textEdited.connect(self._edited)
        self.prompt = QPlainTextEdit()
        self.prompt.setPlaceholderText("What to ask about the picture, e.g. Fix the grammar of …")
        self.prompt.setTabChangesFocus(True)
        self.prompt.textChanged.connect(self._edited)
        self.errors["prompt_templates"] = _error_label()
        self._layout()
        self._row_changed(-1)

    def _layout(self) -> None:
        buttons = QVBoxLayout()
        for button in (self.add_button, self.remove_button, self.up_button, self.down_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        top = QHBoxLayout()
        top.addWidget(self.list, 1)
        top.addLayout(buttons)
        editor = QFormLayout()
        label_text = QLabel("&Label:")
        label_text.setBuddy(self.label)
        prompt_text = QLabel("&Prompt:")
        prompt_text.setBuddy(self.prompt)
        editor.addRow(label_text, self.label)
        editor.addRow(prompt_text, self.prompt)
        builtin = ", ".join(action.label for action in BUILTIN_ACTIONS)
        column = QVBoxLayout(self)
        column.addWidget(
            _note(f"Your own one-click questions in the chat window, next to {builtin}.")
        )
        column.addLayout(top, 2)
        column.addLayout(editor, 3)
        column.addWidget(self.errors["prompt_templates"])

    def load(self, settings: Settings) -> None:
        self.list.clear()
        for template in settings.prompt_templates:
            self._append(template["label"], template["prompt"])
        self.list.setCurrentRow(0 if self.list.count() else -1)

    def values(self) -> dict[str, Any]:
        return {"prompt_templates": self.templates()}

    def templates(self) -> list[dict[str, str]]:
        """The templates as shown, in order."""
        return [
            dict(self.list.item(row).data(Qt.ItemDataRole.UserRole))
            for row in range(self.list.count())
        ]

    @Slot()
    def add_template(self) -> None:
        """A new template, selected, with the cursor in its label."""
        if self.list.count() >= MAX_TEMPLATES:
            _show(self.errors["prompt_templates"], f"At most {MAX_TEMPLATES} templates.")
            return
        self._append("New template", "")
        self.list.setCurrentRow(self.list.count() - 1)
        self.label.setFocus()
        self.label.selectAll()

    @Slot()
    def remove_template(self) -> None:
        """Remove the selected template."""
        row = self.list.currentRow()
        if row >= 0:
            self.list.takeItem(row)

    def move_template(self, step: int) -> None:
        """Move the selected template up (-1) or down (+1)."""
        row = self.list.currentRow()
        target = row + step
        if row < 0 or not 0 <= target < self.list.count():
            return
        item = self.list.takeItem(row)
        self.list.insertItem(target, item)
        self.list.setCurrentRow(target)

    def _append(self, label: str, prompt: str) -> None:
        item = QListWidgetItem(label)
        item.setData(Qt.ItemDataRole.UserRole, {"label": label, "prompt": prompt})
        self.list.addItem(item)

    @Slot(int)
    def _row_changed(self, row: int) -> None:
        item = self.list.item(row) if row >= 0 else None
        data = item.data(Qt.ItemDataRole.UserRole) if item else {"label": "", "prompt": ""}
        with QSignalBlocker(self.label), QSignalBlocker(self.prompt):
            self.label.setText(data["label"])
            self.prompt.setPlainText(data["prompt"])
        for widget in (
            self.label,
            self.prompt,
            self.remove_button,
            self.up_button,
            self.down_button,
        ):
            widget.setEnabled(item is not None)

    @Slot()
    def _edited(self) -> None:
        item = self.list.currentItem()
        if item is None:
            return
        label = self.label.text()
        item.setData(
            Qt.ItemDataRole.UserRole, {"label": label, "prompt": self.prompt.toPlainText()}
        )
        item.setText(label or "(no label)")


_NAV_SHEET = (
    "QListWidget#settingsNav::item { padding: 6px 8px; }"
    "QListWidget#templateList::item { padding: 3px 4px; }"
)
PageFactory = Callable[[PageContext], SettingsPage]
# The tray app appends the Sync page (`ui/sync_page.py`), which needs its SyncManager.
DEFAULT_PAGES: tuple[PageFactory, ...] = (GeneralPage, ApiKeyPage, HotkeysPage, TemplatesPage)


# --------------------------------------------------------------------------- the dialog


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
        self.message = _error_label()
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
            _show(self.message, "Some settings need fixing first (see the messages).")
            return None
        _show(self.message, "")
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
        _show(self.message, f"The settings were not saved: {error}")

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
        _show(self.message, "")

    def wait_for_work(self, timeout_ms: int = -1) -> None:
        """Block until the dialog's background calls (save, keyring, cache) have run: call it
        before deleting the dialog (tests, app exit)."""
        self.calls.wait(timeout_ms)
        for page in self.pages.values():
            calls = getattr(page, "calls", None)
            if isinstance(calls, BackgroundCalls):
                calls.wait(timeout_ms)
