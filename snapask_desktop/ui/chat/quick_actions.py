"""The quick-action chips and how a question asked through one is shown.

The built-in actions come first, then the user's prompt templates. A chip's question is stored
as its prompt; bubbles show it by the action's name. "Extract text" is read on this device
(OCR), not by the AI. Plain data, no Qt.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

from snapask_desktop.actions import BUILTIN_ACTIONS

if TYPE_CHECKING:
    from snapask_desktop.config import Settings
    from snapask_desktop.store.records import Message


@dataclass(frozen=True)
class QuickAction:
    """A one-click prompt chip."""

    label: str
    prompt: str
    builtin: bool
    key: str = ""  # a built-in action's key ("extract", …); "" for the user's templates

    @property
    def needs_picture(self) -> bool:
        """The built-in prompts all ask about "this image": without one they make no sense."""
        return self.builtin


def quick_actions(settings: Settings) -> list[QuickAction]:
    """The built-in chips, then the user's own prompt templates."""
    chips = [
        QuickAction(a.label, a.render(settings.translate_to), True, a.key) for a in BUILTIN_ACTIONS
    ]
    chips += [QuickAction(t["label"], t["prompt"], False) for t in settings.prompt_templates]
    return chips


def action_labels(settings: Settings) -> dict[str, str]:
    """Each chip's prompt, and the name it shows by."""
    return {action.prompt: action.label for action in quick_actions(settings)}


def extract_prompt(settings: Settings) -> str:
    """ "Extract text" is read on this device (no provider, no network), not by the AI."""
    return next((a.prompt for a in quick_actions(settings) if a.key == "extract"), "")


def shown_question(question: str, labels: dict[str, str]) -> str:
    """A question as its bubble shows it: a quick action's name, not its hidden prompt
    (`snapask ask --action A "more"` stores the prompt, a blank line, then "more")."""
    if question in labels:
        return labels[question]
    prompt, sep, rest = question.partition("\n\n")
    # A prompt is one paragraph; what follows the first blank line is the user's own words.
    if sep and prompt in labels and rest.strip():
        return f"{labels[prompt]}: {rest.strip()}"
    return question


def shown_messages(messages: tuple[Message, ...], labels: dict[str, str]) -> tuple[Message, ...]:
    """Messages as the window shows them: quick actions by name; a stopped answer that
    was regenerated is left out (it stays in the store, which only grows)."""
    shown: list[Message] = []
    for n, m in enumerate(messages):
        following = messages[n + 1] if n + 1 < len(messages) else None
        if m.status == "cancelled" and following is not None and following.role == m.role:
            continue
        if m.role == "user":
            text = shown_question(m.text, labels)
            m = m if text == m.text else dataclasses.replace(m, text=text)
        shown.append(m)
    return tuple(shown)
