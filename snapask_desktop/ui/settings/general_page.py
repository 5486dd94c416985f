"""Settings → General: provider and model, answer language, behaviour, start at login, cache,
and what happens to a picture's text (read on this device, secrets hidden before sending)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QUrl, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from snapask_desktop.ai.registry import OPENAI, REGISTRY
from snapask_desktop.config import Settings
from snapask_desktop.ui import style
from snapask_desktop.ui.settings.page import PageContext, SettingsPage, error_label, field_box

if TYPE_CHECKING:  # the check (with httpx) loads when the button is pressed
    from snapask_desktop.ai.server_check import ServerCheck

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


# How pictures reach the local model (the setting openai_pictures), as the list shows them.
OPENAI_PICTURE_CHOICES = (
    ("Send them; their text if the model reads none", "auto"),
    ("Send them (a vision model)", "send"),
    ("Send the text read from them (a text-only model)", "text"),
)


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
        self.openai_pictures = QComboBox()
        for label, mode in OPENAI_PICTURE_CHOICES:
            self.openai_pictures.addItem(label, mode)
        self.openai_pictures.setToolTip(
            "A model that reads no pictures (a text-only model) gets the text SnapAsk reads "
            "from them on this device instead."
        )
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
        self.test_server_button = QPushButton("T&est connection")
        self.test_server_button.setToolTip("Ask the server for its models (nothing is saved)")
        self.test_server_button.clicked.connect(self._test_server)
        self.server_result = QLabel()
        self.server_result.setWordWrap(True)
        self.server_result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.answer_cache = QCheckBox("Answer a repeated question from the cache")
        self.clear_cache_button = QPushButton("Clear answer cache")
        self.clear_cache_button.setEnabled(context.clear_cache is not None)
        self.clear_cache_button.clicked.connect(self._clear_cache)
        self.cache_result = QLabel()
        style.set_role(self.cache_result, "muted")
        self.read_picture_text = QCheckBox("Read the text in pictures on this device")
        self.read_text_note = _note("So History search finds a word inside a picture.")
        self.redact_secrets = QCheckBox("Hide secrets before sending")
        self.redact_note = _note(
            "Paints over keys, passwords and card numbers; if it can't, nothing is sent."
        )
        self.redact_note.setToolTip(
            "Before a picture is kept or sent, what looks like an API key or token, a password, "
            "an e-mail address, a card number, an IBAN or a private key is painted over with a "
            "solid box. If the picture cannot be read, nothing is sent."
        )
        self.ask_suggested = QCheckBox(
            "Always ask before sending a picture with a suggested redaction"
        )
        self.ask_note = _note("Opens the picture with boxes over what looks like a secret.")
        self.ocr_missing = QLabel()  # filled from a worker: finding the engine imports it
        self.ocr_missing.setWordWrap(True)
        style.set_role(self.ocr_missing, "warning")
        self.ocr_missing.hide()
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
        self.errors[key] = error_label()
        return self.errors[key]

    def _layout(self) -> None:
        form = QFormLayout()
        form.addRow("&Provider:", field_box(self.provider, self._error("provider")))
        self.gemini_box = QGroupBox("Gemini")
        gemini = QFormLayout(self.gemini_box)
        gemini.addRow("&Model:", field_box(self.gemini_model, self._error("gemini_model")))
        gemini.addRow("API &URL:", field_box(self.gemini_base_url, self._error("gemini_base_url")))
        self.openai_box = QGroupBox("OpenAI-compatible server")
        openai = QFormLayout(self.openai_box)
        openai.addRow(
            "&Server URL:", field_box(self.openai_base_url, self._error("openai_base_url"))
        )
        openai.addRow("M&odel:", field_box(self.openai_model, self._error("openai_model")))
        openai.addRow("Pictu&res:", field_box(self.openai_pictures, self._error("openai_pictures")))
        openai.addRow("", self.test_server_button)
        openai.addRow("", self.server_result)
        answers = QGroupBox("Answers")
        answer_form = QFormLayout(answers)
        answer_form.addRow(
            "&Translate to:", field_box(self.translate_to, self._error("translate_to"))
        )
        answer_form.addRow(
            "&Wait up to:", field_box(self.request_timeout, self._error("request_timeout_s"))
        )
        answer_form.addRow("&Retries:", field_box(self.max_retries, self._error("max_retries")))
        cache_row = QHBoxLayout()
        cache_row.addWidget(self.answer_cache)
        cache_row.addStretch(1)
        cache_row.addWidget(self.cache_result)
        cache_row.addWidget(self.clear_cache_button)
        answer_form.addRow(cache_row)
        answer_form.addRow(self._error("answer_cache"))
        pictures = QGroupBox("Text in pictures")
        picture_form = QVBoxLayout(pictures)
        picture_form.setSpacing(2)
        for widget in (
            self.read_picture_text,
            self.read_text_note,
            self._error("read_picture_text"),
            self.redact_secrets,
            self.redact_note,
            self._error("redact_secrets"),
            self.ask_suggested,
            self.ask_note,
            self._error("ask_before_suggested_redaction"),
            self.ocr_missing,
        ):
            picture_form.addWidget(widget)
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
        column.addWidget(pictures)
        column.addLayout(app)
        column.addStretch(1)

    def load(self, settings: Settings) -> None:
        self.provider.setCurrentIndex(max(0, self.provider.findData(settings.provider)))
        self.gemini_model.setCurrentText(settings.gemini_model)
        self.gemini_base_url.setText(settings.gemini_base_url or "")
        self.openai_base_url.setText(settings.openai_base_url)
        self.openai_model.setText(settings.openai_model)
        chosen = self.openai_pictures.findData(settings.openai_pictures)
        self.openai_pictures.setCurrentIndex(max(0, chosen))
        self.translate_to.setCurrentText(settings.translate_to)
        timeout = settings.request_timeout_s
        self.request_timeout.setDecimals(0 if float(timeout).is_integer() else 1)
        self.request_timeout.setValue(timeout)
        self.max_retries.setValue(settings.max_retries)
        self.answer_cache.setChecked(settings.answer_cache)
        self.start_at_login.setChecked(settings.start_at_login)
        self.read_picture_text.setChecked(settings.read_picture_text)
        self.redact_secrets.setChecked(settings.redact_secrets)
        self.ask_suggested.setChecked(settings.ask_before_suggested_redaction)
        self._provider_changed()
        self._check_ocr()

    def values(self) -> dict[str, Any]:
        return {
            "provider": self.provider.currentData(),
            "gemini_model": self.gemini_model.currentText(),
            "gemini_base_url": self.gemini_base_url.text().strip() or None,
            "openai_base_url": self.openai_base_url.text(),
            "openai_model": self.openai_model.text(),
            "openai_pictures": self.openai_pictures.currentData(),
            "translate_to": self.translate_to.currentText(),
            "request_timeout_s": self.request_timeout.value(),
            "max_retries": self.max_retries.value(),
            "answer_cache": self.answer_cache.isChecked(),
            "start_at_login": self.start_at_login.isChecked(),
            "read_picture_text": self.read_picture_text.isChecked(),
            "redact_secrets": self.redact_secrets.isChecked(),
            "ask_before_suggested_redaction": self.ask_suggested.isChecked(),
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
    def _test_server(self) -> None:
        """Try the server and model as typed (not yet saved), on a worker."""
        base_url = self.openai_base_url.text().strip()
        model = self.openai_model.text().strip()
        if not base_url or not model:
            self.server_result.setText("Enter the server URL and the model first.")
            return
        self.test_server_button.setEnabled(False)
        self.server_result.setText(f"Asking {base_url}…")

        def check() -> ServerCheck:
            from snapask_desktop import credentials
            from snapask_desktop.ai.server_check import check_server

            key = credentials.get_api_key(OPENAI.name)
            return check_server(base_url, model, key.value if key else None)

        def done(result: ServerCheck) -> None:
            self.test_server_button.setEnabled(True)
            self.server_result.setText(result.message)
            style.set_role(self.server_result, "muted" if result.ok else "error")

        def failed(error: Exception) -> None:
            self.test_server_button.setEnabled(True)
            self.server_result.setText(f"The test could not run: {error}")
            style.set_role(self.server_result, "error")

        self.context.calls.call(check, done, failed)

    def _check_ocr(self) -> None:
        """Say when the OCR engine is missing: both settings need it (found on a worker, as
        looking imports the engine and Pillow)."""

        def check() -> str | None:
            from snapask_desktop.ocr.engine import available

            return available()

        def done(problem: str | None) -> None:
            self.ocr_missing.setText(
                "Text can't be read on this computer: install the OCR extra and Tesseract's "
                "English model (details in the tooltip)."
            )
            self.ocr_missing.setToolTip(problem or "")
            self.ocr_missing.setVisible(bool(problem))

        self.context.calls.call(check, done, lambda _error: None)

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


def _note(text: str) -> QLabel:
    """A one-line explanation under a setting."""
    label = QLabel(text)  # one line: a wrapped label is squeezed when the dialog is full
    label.setContentsMargins(22, 0, 0, 4)  # under the check box's text, not its box
    style.set_role(label, "muted")
    return label
