"""The AI providers SnapAsk knows, with what every layer needs to know of them, in one place.

Settings check the provider's name against it, credentials find the key's environment variable
in it, error messages and the Settings window name the provider from it, the command line offers
its names, and `client.build_provider` makes a provider of each. Plain data: the idle tray and
the settings module import it without bringing in any of the AI layer's libraries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# How pictures reach a model (the setting `openai_pictures`; Gemini always reads them): "send"
# them, "text" (a model that reads none gets the text read from them), or "auto" (send; their
# text once the model has said it reads no pictures). See ai/text_only.py.
PictureMode = Literal["auto", "send", "text"]
PICTURE_MODES: tuple[PictureMode, ...] = ("auto", "send", "text")


@dataclass(frozen=True)
class ProviderInfo:
    """One provider's facts."""

    name: str  # in settings, on the command line and in the keyring account "api-key:<name>"
    label: str  # in a sentence: "The API key was rejected by {label}."
    title: str  # as a heading or a list entry
    env_keys: tuple[str, ...]  # environment variables that supply the key (they beat the keyring)
    needs_key: bool  # False: only when the server asks for one (local servers usually don't)
    examples: str = ""  # what runs it, shown beside the title where one is chosen

    @property
    def choice(self) -> str:
        """The entry in a list of providers to choose from: the title and its examples."""
        return f"{self.title} ({self.examples})" if self.examples else self.title


GEMINI = ProviderInfo(
    name="gemini",
    label="Gemini",
    title="Google Gemini",
    env_keys=("GEMINI_API_KEY",),
    needs_key=True,
)
OPENAI = ProviderInfo(
    name="openai",
    label="the OpenAI-compatible server",
    title="OpenAI-compatible server",
    env_keys=("OPENAI_API_KEY",),
    needs_key=False,
    examples="Ollama, LM Studio, llama.cpp",
)
REGISTRY: dict[str, ProviderInfo] = {info.name: info for info in (GEMINI, OPENAI)}
PROVIDERS: tuple[str, ...] = tuple(REGISTRY)
