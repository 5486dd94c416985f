"""Quick actions: one-click prompts for the most common questions about a picture."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class QuickAction:
    """A named prompt; `{language}` in the prompt is filled from the settings."""

    key: str
    label: str
    prompt: str

    def render(self, language: str) -> str:
        """The prompt text to send."""
        return self.prompt.replace("{language}", language)


BUILTIN_ACTIONS: tuple[QuickAction, ...] = (
    QuickAction(
        "extract",
        "Extract text",
        "Extract all the text in this image exactly as written. Keep the line breaks and "
        "reading order; render tables as Markdown tables and code as code blocks. "
        "Output only the extracted text.",
    ),
    QuickAction(
        "explain",
        "Explain",
        "Explain what this screenshot shows and what it means, in plain language. "
        "If it shows an error, say what causes it and how to fix it.",
    ),
    QuickAction(
        "summarize",
        "Summarize",
        "Summarize the content of this image in a few short bullet points.",
    ),
    QuickAction(
        "translate",
        "Translate",
        "Translate all the text in this image into {language}. Keep the layout; "
        "output only the translation.",
    ),
)

ACTIONS_BY_KEY = {action.key: action for action in BUILTIN_ACTIONS}


def find_action(key: str) -> QuickAction:
    """The built-in action with this key; KeyError names the known keys."""
    try:
        return ACTIONS_BY_KEY[key]
    except KeyError:
        raise KeyError(
            f"unknown action {key!r}; known actions: {', '.join(ACTIONS_BY_KEY)}"
        ) from None
