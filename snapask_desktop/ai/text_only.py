"""Pictures as text, for models that read no pictures (text-only local models).

Such a model gets, in place of each picture, the text SnapAsk read from it on this device.
`takes_no_pictures` recognises the servers' own words for "this model reads no images", so the
"auto" setting can send the picture first and fall back to its text once per model.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from snapask_desktop.ai.registry import PICTURE_MODES, PictureMode
from snapask_desktop.ai.types import AskRequest, Turn

__all__ = ["PICTURE_MODES", "PictureMode", "as_text", "has_pictures", "takes_no_pictures"]

# Ollama: "this model is missing data required for image input" (HTTP 500); llama.cpp's
# server: "image input is not supported - hint: ... provide the mmproj" (HTTP 500); LM Studio
# and other OpenAI-compatible servers: "Model does not support images" / "... vision".
_NO_PICTURES = re.compile(
    r"missing data required for image input"
    r"|image input is not supported"
    r"|(?:does not|doesn't|do not|cannot|can't) (?:support|accept|handle|take) "
    r"(?:image|images|image input|vision|multimodal)\b"
    r"|(?:vision|image input|images) (?:is|are) not supported",
    re.IGNORECASE,
)
_FRAME_START = "[Screenshot: this model cannot see pictures; the text read from it on the device:]"
_FRAME_END = "[End of the screenshot's text]"
_NO_TEXT = "[Screenshot: this model cannot see pictures, and no text was found in it.]"
_UNREAD = "[Screenshot: this model cannot see pictures, and its text could not be read here.]"


def takes_no_pictures(message: str) -> bool:
    """Whether a provider's error message says the model reads no pictures."""
    return bool(_NO_PICTURES.search(message))


def has_pictures(request: AskRequest) -> bool:
    """Whether any turn of `request` carries a picture."""
    return any(turn.image is not None for turn in request.turns)


def picture_as_text(text: str | None) -> str:
    """What a text-only model gets for one picture: its text framed, or why there is none."""
    if text is None:
        return _UNREAD
    if not text.strip():
        return _NO_TEXT
    return f"{_FRAME_START}\n{text.strip()}\n{_FRAME_END}"


def as_text(request: AskRequest, texts: Sequence[str | None]) -> AskRequest:
    """`request` with its pictures replaced, in order, by `texts` (one per picture; None where
    the text could not be read); the question follows its picture's text."""
    pictures = iter(texts)
    turns: list[Turn] = []
    for turn in request.turns:
        if turn.image is None:
            turns.append(turn)
            continue
        block = picture_as_text(next(pictures))
        text = f"{block}\n\n{turn.text}" if turn.text else block
        turns.append(Turn(role=turn.role, text=text))
    return dataclasses.replace(request, turns=tuple(turns))
