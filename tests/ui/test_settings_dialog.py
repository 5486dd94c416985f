"""The settings dialog on the real settings file, keyring backend, answer cache and autostart."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keyring
import keyring.backends.fail
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDialog, QLabel, QLineEdit
from pytestqt.qtbot import QtBot

from snapask_desktop import autostart, credentials
from snapask_desktop.ai.cache import AnswerCache
from snapask_desktop.config import Settings, SettingsStore
from snapask_desktop.ui.settings.api_key_page import ApiKeyPage
from snapask_desktop.ui.settings.dialog import DEFAULT_PAGES, SettingsDialog
from snapask_desktop.ui.settings.general_page import GeneralPage
from snapask_desktop.ui.settings.page import PageContext, SettingsPage, friendly
from snapask_desktop.ui.settings.templates_page import TemplatesPage
from tests.support import waits


@pytest.fixture(autouse=True)
def xdg_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Start-at-login files go to a temporary XDG_CONFIG_HOME, never the real one."""
    folder = tmp_path / "xdg-config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(folder))
    return folder


@pytest.fixture
def store() -> SettingsStore:
    return SettingsStore()  # the test's own config folder (SNAPASK_CONFIG_DIR)


def _dialog(
    qtbot: QtBot, store: SettingsStore, tmp_path: Path, settings: Settings | None = None, **kw: Any
) -> SettingsDialog:
    dialog = SettingsDialog(
        settings or store.load().settings,
        store,
        data_dir=tmp_path / "data",
        platform="linux",
        **kw,
    )
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


@pytest.fixture
def dialog(qtbot: QtBot, store: SettingsStore, tmp_path: Path) -> Iterator[SettingsDialog]:
    made = _dialog(qtbot, store, tmp_path)
    yield made
    made.wait_for_work()


def _general(dialog: SettingsDialog) -> GeneralPage:
    page = dialog.page("general")
    assert isinstance(page, GeneralPage)
    return page


def test_save_round_trips_through_the_settings_file(
    dialog: SettingsDialog, store: SettingsStore, qtbot: QtBot, tmp_path: Path
) -> None:
    general = _general(dialog)
    general.use_provider("openai")
    general.openai_base_url.setText("http://127.0.0.1:1234/v1/")
    general.openai_model.setText("qwen2.5vl")
    general.openai_pictures.setCurrentIndex(general.openai_pictures.findData("text"))
    general.translate_to.setCurrentText("German")
    general.max_retries.setValue(5)
    general.request_timeout.setValue(60)
    general.answer_cache.setChecked(False)

    with waits.signal(qtbot, dialog.settings_changed) as changed:
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    saved: Settings = changed.args[0]
    assert (saved.provider, saved.openai_base_url, saved.openai_model) == (
        "openai",
        "http://127.0.0.1:1234/v1",  # checked and cleaned by config
        "qwen2.5vl",
    )
    assert saved.openai_pictures == "text"
    assert (saved.translate_to, saved.max_retries, saved.request_timeout_s) == ("German", 5, 60.0)
    assert saved.answer_cache is False
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert store.load().settings == saved
    on_disk = json.loads(store.path.read_text(encoding="utf-8"))
    assert set(on_disk) == {  # only what differs from the defaults
        "provider",
        "openai_base_url",
        "openai_model",
        "openai_pictures",
        "translate_to",
        "max_retries",
        "request_timeout_s",
        "answer_cache",
    }

    again = _dialog(qtbot, store, tmp_path)
    reopened = _general(again)
    assert reopened.provider.currentData() == "openai"
    assert reopened.openai_model.text() == "qwen2.5vl"
    assert reopened.openai_pictures.currentData() == "text"
    assert reopened.translate_to.currentText() == "German"
    assert not reopened.answer_cache.isChecked()


def test_invalid_values_are_refused_with_the_message_by_the_field(
    dialog: SettingsDialog, store: SettingsStore, qtbot: QtBot
) -> None:
    dialog.show_page("templates")
    general = _general(dialog)
    general.openai_base_url.setText("localhost:11434")
    general.gemini_model.setCurrentText("   ")
    with qtbot.assertNotEmitted(dialog.settings_changed):
        dialog.save()
        waits.delivered(dialog.wait_for_work)  # a save that went ahead would have reported
    assert dialog.stack.currentWidget() is general  # the page with the problem is shown
    url_error = general.errors["openai_base_url"]
    assert url_error.isVisible()
    assert url_error.text().startswith("Must be an http:// or https:// URL")
    assert general.errors["gemini_model"].text() == "Must be a non-empty text"
    assert not general.errors["translate_to"].isVisible()
    assert dialog.message.isVisible()
    assert dialog.isVisible()
    assert not store.path.exists()  # nothing was written

    general.openai_base_url.setText("http://localhost:11434/v1")
    general.gemini_model.setCurrentText("gemini-2.5-pro")
    with waits.signal(qtbot, dialog.settings_changed):
        dialog.save()
    assert not url_error.isVisible()
    assert store.load().settings.openai_base_url == "http://localhost:11434/v1"


def test_cancel_discards_changes(
    dialog: SettingsDialog, store: SettingsStore, qtbot: QtBot
) -> None:
    _general(dialog).translate_to.setCurrentText("French")
    with qtbot.assertNotEmitted(dialog.settings_changed):
        qtbot.mouseClick(
            dialog.buttons.button(dialog.buttons.StandardButton.Cancel), Qt.MouseButton.LeftButton
        )
        waits.delivered(dialog.wait_for_work)
    assert dialog.result() == QDialog.DialogCode.Rejected
    assert not store.path.exists()
    assert store.load().settings.translate_to == "English"


def test_save_without_changes_writes_nothing(
    dialog: SettingsDialog, store: SettingsStore, qtbot: QtBot
) -> None:
    with qtbot.assertNotEmitted(dialog.settings_changed):
        dialog.save()
        waits.delivered(dialog.wait_for_work)
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert not store.path.exists()


def test_start_at_login_writes_and_removes_the_autostart_entry(
    qtbot: QtBot, store: SettingsStore, tmp_path: Path, xdg_config: Path
) -> None:
    entry = xdg_config / "autostart" / "snapask.desktop"
    dialog = _dialog(qtbot, store, tmp_path)
    _general(dialog).start_at_login.setChecked(True)
    with waits.signal(qtbot, dialog.settings_changed):
        dialog.save()
    assert entry.is_file() and autostart.is_enabled("linux")
    assert store.load().settings.start_at_login is True

    dialog = _dialog(qtbot, store, tmp_path)
    assert _general(dialog).start_at_login.isChecked()
    _general(dialog).start_at_login.setChecked(False)
    with waits.signal(qtbot, dialog.settings_changed):
        dialog.save()
    assert not entry.exists()
    assert store.load().settings.start_at_login is False


def test_start_at_login_failure_is_shown_and_nothing_is_saved(
    qtbot: QtBot, store: SettingsStore, tmp_path: Path, xdg_config: Path
) -> None:
    xdg_config.mkdir()
    (xdg_config / "autostart").write_text("a file where the folder belongs", encoding="utf-8")
    dialog = _dialog(qtbot, store, tmp_path)
    general = _general(dialog)
    general.start_at_login.setChecked(True)
    general.translate_to.setCurrentText("Dutch")
    with qtbot.assertNotEmitted(dialog.settings_changed):
        dialog.save()
        waits.delivered(dialog.wait_for_work)  # the write has failed and said so
    assert dialog.message.isVisible()
    assert "Could not write" in general.errors["start_at_login"].text()
    assert dialog.isVisible()
    assert not store.path.exists()


def test_clear_answer_cache_reports_the_count(
    qtbot: QtBot, store: SettingsStore, tmp_path: Path
) -> None:
    cache = AnswerCache(tmp_path / "answer-cache.db")
    for n in range(3):
        cache.put(f"key-{n}", f"answer {n}")
    try:
        dialog = _dialog(qtbot, store, tmp_path, clear_cache=cache.clear)
        general = _general(dialog)
        qtbot.mouseClick(general.clear_cache_button, Qt.MouseButton.LeftButton)
        waits.until(qtbot, lambda: general.cache_result.text() == "Cleared 3 saved answers")
        assert cache.stats().entries == 0
        qtbot.mouseClick(general.clear_cache_button, Qt.MouseButton.LeftButton)
        waits.until(qtbot, lambda: general.cache_result.text() == "Cleared 0 saved answers")
    finally:
        cache.close()


def test_clear_cache_failure_is_shown(qtbot: QtBot, store: SettingsStore, tmp_path: Path) -> None:
    cache = AnswerCache(tmp_path / "answer-cache.db")
    cache.close()  # a closed cache fails like a broken one
    dialog = _dialog(qtbot, store, tmp_path, clear_cache=cache.clear)
    general = _general(dialog)
    general.clear_cache_button.click()
    waits.until(qtbot, lambda: general.cache_result.text().startswith("Could not clear the cache"))
    assert general.clear_cache_button.isEnabled()


def test_without_a_cache_the_clear_button_is_off(dialog: SettingsDialog) -> None:
    assert not _general(dialog).clear_cache_button.isEnabled()


def test_data_folder_is_shown(dialog: SettingsDialog, tmp_path: Path) -> None:
    general = _general(dialog)
    assert general.data_dir.text() == str(tmp_path / "data")
    assert general.data_dir.isReadOnly()


# --------------------------------------------------------------------------- API key


def _key_page(dialog: SettingsDialog) -> ApiKeyPage:
    page = dialog.page("api_key")
    assert isinstance(page, ApiKeyPage)
    return page


def test_key_set_and_remove_through_the_keyring(dialog: SettingsDialog, qtbot: QtBot) -> None:
    dialog.show_page("api_key")
    box = _key_page(dialog).boxes["gemini"]
    waits.until(qtbot, lambda: box.status_label.text() == "No key is set.")
    assert not box.remove_button.isEnabled()

    qtbot.keyClicks(box.entry, "AIzaSy-test-key-123")
    assert box.entry.echoMode() == QLineEdit.EchoMode.Password
    with waits.signal(qtbot, dialog.api_key_changed) as changed:
        QTest.keyClick(box.entry, Qt.Key.Key_Return)
    assert changed.args == ["gemini"]
    found = credentials.get_api_key("gemini")
    assert found is not None and (found.value, found.source) == ("AIzaSy-test-key-123", "keyring")
    waits.until(
        qtbot, lambda: box.status_label.text() == "A key is set, kept in the system keyring."
    )
    assert box.entry.text() == ""
    assert "AIzaSy" not in box.status_label.text()  # the key itself is never shown
    assert box.save_button.text() == "Replace key"
    assert box.remove_button.isEnabled()

    with waits.signal(qtbot, dialog.api_key_changed):
        qtbot.mouseClick(box.remove_button, Qt.MouseButton.LeftButton)
    assert credentials.get_api_key("gemini") is None
    waits.until(qtbot, lambda: box.status_label.text() == "No key is set.")


def test_the_last_key_message_is_gone_when_settings_is_reopened(
    dialog: SettingsDialog, qtbot: QtBot
) -> None:
    dialog.show_page("api_key")
    box = _key_page(dialog).boxes["gemini"]
    waits.until(qtbot, lambda: box.entry.isEnabled())
    box.entry.setText("AIzaSy-test-key-123")
    box.save_button.click()
    waits.until(qtbot, lambda: box.message.text() == "The key was saved.")
    dialog.wait_for_work()
    box.entry.setText("half-typed")
    dialog.reject()
    dialog.show()
    assert box.message.isHidden()
    assert box.message.text() == ""
    assert box.entry.text() == ""
    waits.until(
        qtbot, lambda: box.status_label.text() == "A key is set, kept in the system keyring."
    )


def test_an_environment_key_is_reported_as_such(
    qtbot: QtBot, store: SettingsStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "from-env")
    dialog = _dialog(qtbot, store, tmp_path)
    box = _key_page(dialog).boxes["gemini"]
    waits.until(qtbot, lambda: "GEMINI_API_KEY" in box.status_label.text())
    assert "from-env" not in box.status_label.text()
    assert box.status is not None and box.status.from_environment
    assert not box.remove_button.isEnabled()  # there is nothing in the keyring to remove
    dialog.wait_for_work()


def test_a_bad_key_is_refused_plainly(dialog: SettingsDialog, qtbot: QtBot) -> None:
    dialog.show_page("api_key")
    box = _key_page(dialog).boxes["openai"]
    waits.until(qtbot, lambda: box.entry.isEnabled())
    box.entry.setText("two words")
    box.save_button.click()
    waits.until(qtbot, lambda: box.message.isVisible())
    assert "does not look like an API key" in box.message.text()
    assert credentials.get_api_key("openai") is None
    box.entry.setText("   ")
    box.save_button.click()
    assert box.message.text() == "Paste the key first."


def test_no_keyring_is_explained(qtbot: QtBot, store: SettingsStore, tmp_path: Path) -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    try:
        dialog = _dialog(qtbot, store, tmp_path)
        box = _key_page(dialog).boxes["gemini"]
        waits.until(qtbot, lambda: "No system keyring is available" in box.status_label.text())
        box.entry.setText("AIza-key")
        box.save_button.click()
        waits.until(qtbot, lambda: "No system keyring is available" in box.message.text())
        dialog.wait_for_work()
    finally:
        keyring.set_keyring(previous)


# --------------------------------------------------------------------------- templates


def _templates(dialog: SettingsDialog) -> TemplatesPage:
    page = dialog.page("templates")
    assert isinstance(page, TemplatesPage)
    return page


def test_templates_add_edit_reorder_remove_and_save(
    qtbot: QtBot, store: SettingsStore, tmp_path: Path
) -> None:
    start = Settings(prompt_templates=[{"label": "Fix grammar", "prompt": "Fix the grammar."}])
    dialog = _dialog(qtbot, store, tmp_path, settings=start)
    page = _templates(dialog)
    dialog.show_page("templates")
    dialog.activateWindow()
    waits.until(qtbot, lambda: QApplication.activeWindow() is dialog)
    assert page.list.count() == 1 and page.label.text() == "Fix grammar"

    qtbot.mouseClick(page.add_button, Qt.MouseButton.LeftButton)
    page.label.selectAll()
    qtbot.keyClicks(page.label, "Table")
    page.prompt.setFocus()
    qtbot.keyClicks(page.prompt, "Turn this into a Markdown table.")
    assert page.list.currentItem().text() == "Table"
    page.list.setFocus()
    QTest.keyClick(page.list, Qt.Key.Key_Up, Qt.KeyboardModifier.AltModifier)  # move up
    assert [t["label"] for t in page.templates()] == ["Table", "Fix grammar"]
    page.add_button.click()
    page.label.setText("")
    page.label.textEdited.emit("")
    page.remove_button.click()  # the empty one goes again
    page.list.setCurrentRow(1)
    page.prompt.setPlainText("Fix the grammar and spelling.")

    with waits.signal(qtbot, dialog.settings_changed) as changed:
        dialog.save()
    expected = [
        {"label": "Table", "prompt": "Turn this into a Markdown table."},
        {"label": "Fix grammar", "prompt": "Fix the grammar and spelling."},
    ]
    assert changed.args[0].prompt_templates == expected
    assert store.load().settings.prompt_templates == expected


def test_move_up_and_down_are_enabled_only_where_a_template_can_move(
    qtbot: QtBot, store: SettingsStore, tmp_path: Path
) -> None:
    start = Settings(prompt_templates=[{"label": "Fix grammar", "prompt": "Fix the grammar."}])
    dialog = _dialog(qtbot, store, tmp_path, settings=start)
    page = _templates(dialog)

    def moves() -> tuple[bool, bool]:
        return page.up_button.isEnabled(), page.down_button.isEnabled()

    assert moves() == (False, False)  # a single template cannot move
    page.add_button.click()
    page.add_button.click()
    assert page.list.currentRow() == 2 and moves() == (True, False)  # last row
    page.list.setCurrentRow(1)
    assert moves() == (True, True)
    page.up_button.click()
    assert page.list.currentRow() == 0 and moves() == (False, True)  # first row
    page.list.setCurrentRow(1)
    page.remove_button.click()  # the old last row is now the selected one
    assert page.list.currentRow() == 1 and moves() == (True, False)
    page.remove_button.click()
    assert page.list.count() == 1 and moves() == (False, False)
    dialog.wait_for_work()


def test_a_template_without_a_prompt_is_refused(dialog: SettingsDialog, qtbot: QtBot) -> None:
    page = _templates(dialog)
    page.add_button.click()
    with qtbot.assertNotEmitted(dialog.settings_changed):
        dialog.save()
        waits.delivered(dialog.wait_for_work)
    error = page.errors["prompt_templates"]
    assert error.isVisible()
    assert "needs a prompt of 1 to 4000 characters" in error.text()
    assert dialog.stack.currentWidget() is page


# --------------------------------------------------------------------------- structure


class _ExtraPage(SettingsPage):
    """A page added from outside, as the sync issue will add its own."""

    key = "extra"
    title = "Extra"

    def __init__(self, context: PageContext) -> None:
        super().__init__(context)
        self.field = QLineEdit(self)
        self.errors["translate_to"] = QLabel(self)

    def load(self, settings: Settings) -> None:
        self.field.setText(settings.translate_to)

    def values(self) -> dict[str, Any]:
        return {"translate_to": self.field.text()}


def test_pages_come_from_a_list_of_factories(
    qtbot: QtBot, store: SettingsStore, tmp_path: Path
) -> None:
    full = _dialog(qtbot, store, tmp_path, pages=[*DEFAULT_PAGES, _ExtraPage])
    titles = [full.nav.item(row).text() for row in range(full.nav.count())]
    assert titles == ["General", "API key", "Hotkeys", "Prompt templates", "Extra"]
    full.wait_for_work()

    dialog = _dialog(qtbot, store, tmp_path, pages=[_ExtraPage])
    extra = dialog.page("extra")
    assert isinstance(extra, _ExtraPage)
    assert extra.field.text() == "English"
    extra.field.setText("")
    dialog.save()
    assert extra.errors["translate_to"].text() == "Must be a non-empty text"
    extra.field.setText("Japanese")
    with waits.signal(qtbot, dialog.settings_changed) as changed:
        dialog.save()
    assert changed.args[0].translate_to == "Japanese"
    assert store.load().settings.translate_to == "Japanese"


def test_show_page_selects_it(dialog: SettingsDialog) -> None:
    dialog.show_page("api_key")
    assert dialog.stack.currentWidget() is dialog.page("api_key")
    assert dialog.nav.currentItem().text() == "API key"


def test_friendly_messages() -> None:
    assert friendly("openai_model", "openai_model must be a non-empty text") == (
        "Must be a non-empty text"
    )
    assert friendly("x", "something else") == "Something else"


def test_without_a_store_the_settings_file_of_the_config_folder_is_used(
    qtbot: QtBot, tmp_path: Path
) -> None:
    dialog = SettingsDialog(Settings(), data_dir=tmp_path, platform="linux")
    qtbot.addWidget(dialog)
    _general(dialog).translate_to.setCurrentText("Korean")
    with waits.signal(qtbot, dialog.settings_changed):
        dialog.save()
    assert SettingsStore().load().settings.translate_to == "Korean"


def test_cancel_then_show_again_shows_the_saved_settings(
    dialog: SettingsDialog, qtbot: QtBot
) -> None:
    general = _general(dialog)
    general.translate_to.setCurrentText("French")
    general.openai_base_url.setText("not a url")
    dialog.save()  # refused: the message shows
    assert general.errors["openai_base_url"].text()
    dialog.reject()
    dialog.show()
    assert general.translate_to.currentText() == "English"
    assert general.openai_base_url.text() == "http://127.0.0.1:11434/v1"
    assert general.errors["openai_base_url"].isHidden()
    assert dialog.message.isHidden()


def test_load_shows_settings_changed_elsewhere(dialog: SettingsDialog) -> None:
    dialog.load(Settings(provider="openai", openai_model="gemma3"))
    general = _general(dialog)
    assert general.provider.currentData() == "openai"
    assert general.openai_model.text() == "gemma3"
    assert dialog.settings.openai_model == "gemma3"


def test_the_key_status_is_checked_again_when_the_page_shows(
    dialog: SettingsDialog, qtbot: QtBot
) -> None:
    box = _key_page(dialog).boxes["gemini"]
    waits.until(qtbot, lambda: box.status_label.text() == "No key is set.")
    credentials.set_api_key("gemini", "set-from-the-cli")
    dialog.show_page("api_key")
    waits.until(
        qtbot, lambda: box.status_label.text() == "A key is set, kept in the system keyring."
    )


def test_picture_text_settings_are_explained_and_saved(
    dialog: SettingsDialog, store: SettingsStore, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    general = _general(dialog)
    assert general.read_picture_text.isChecked() and not general.redact_secrets.isChecked()
    assert general.redact_secrets.text() == "Hide secrets before sending"  # the chat's words
    assert "nothing is sent" in general.redact_note.text()
    assert "History search" in general.read_text_note.text()
    # One line each, shown whole: the page must not squeeze them.
    for note in (general.read_text_note, general.redact_note, general.ask_note):
        assert note.height() >= note.sizeHint().height()
        assert note.width() >= note.sizeHint().width()
    dialog.wait_for_work()
    waits.delivered()
    assert not general.ocr_missing.isVisibleTo(dialog)  # the engine is installed here

    assert not general.ask_suggested.isChecked()
    assert general.ask_suggested.text() == (
        "Always ask before sending a picture with a suggested redaction"
    )
    general.read_picture_text.setChecked(False)
    general.redact_secrets.setChecked(True)
    general.ask_suggested.setChecked(True)
    with waits.signal(qtbot, dialog.settings_changed) as changed:
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    saved: Settings = changed.args[0]
    assert (saved.read_picture_text, saved.redact_secrets) == (False, True)
    assert saved.ask_before_suggested_redaction
    assert store.load().settings == saved

    monkeypatch.setitem(sys.modules, "tesserocr", None)  # the [ocr] extra not installed
    general.load(saved)
    dialog.wait_for_work()
    waits.until(qtbot, lambda: general.ocr_missing.isVisibleTo(dialog))
    assert "install the OCR extra" in general.ocr_missing.text()
    assert "pip install 'snapask-desktop[ocr]'" in general.ocr_missing.toolTip()


def test_the_local_server_is_tried_as_typed_without_saving(
    dialog: SettingsDialog, store: SettingsStore, qtbot: QtBot
) -> None:
    from tests.support.fake_openai import FakeOpenAI

    general = _general(dialog)
    general.use_provider("openai")
    with FakeOpenAI(models={"llava", "phi3"}) as fake:
        general.openai_base_url.setText(fake.base_url)
        general.openai_model.setText("qwen2.5vl")
        qtbot.mouseClick(general.test_server_button, Qt.MouseButton.LeftButton)
        waits.until(qtbot, lambda: "It has" in general.server_result.text())
        assert "no model 'qwen2.5vl'. It has: llava, phi3." in general.server_result.text()
        general.openai_model.setText("phi3")
        qtbot.mouseClick(general.test_server_button, Qt.MouseButton.LeftButton)
        waits.until(qtbot, lambda: general.server_result.text().startswith("Connected:"))
        assert [r.path for r in fake.requests] == ["/v1/models", "/v1/models"]
    assert general.test_server_button.isEnabled()
    assert store.load().settings == Settings()  # trying saved nothing
