"""Settings → Prompt templates: the user's own quick actions, added, edited and reordered."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSignalBlocker, Qt, Slot
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from snapask_desktop.actions import BUILTIN_ACTIONS
from snapask_desktop.config import MAX_TEMPLATES, Settings
from snapask_desktop.ui.settings.page import (
    PageContext,
    SettingsPage,
    error_label,
    note_label,
    show_message,
)


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
        self.errors["prompt_templates"] = error_label()
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
            note_label(f"Your own one-click questions in the chat window, next to {builtin}.")
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
            show_message(self.errors["prompt_templates"], f"At most {MAX_TEMPLATES} templates.")
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
            self._enable_moves()  # the row may now be the last one

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
        for widget in (self.label, self.prompt, self.remove_button):
            widget.setEnabled(item is not None)
        self._enable_moves()

    def _enable_moves(self) -> None:
        """Move up/down only where the selection can move (not a lone or edge template)."""
        row = self.list.currentRow()
        self.up_button.setEnabled(row > 0)
        self.down_button.setEnabled(0 <= row < self.list.count() - 1)

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
