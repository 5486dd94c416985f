"""Reading a conversation's picture on this device: "Extract text" without an AI provider.

The text is stored as an answer like any other; its model is `local:<engine>` so every window
(and every synced device) can say it was read on a device, not by an AI.
"""

from __future__ import annotations

import io
import logging
from typing import TYPE_CHECKING

from snapask_desktop.store.errors import StoreError

if TYPE_CHECKING:
    from snapask_desktop.store.records import ConversationDetail, Message
    from snapask_desktop.store.repository import Store

LOCAL_PREFIX = "local:"
NO_TEXT = "*No text was found in this picture.*"

log = logging.getLogger(__name__)


def local_engine(model: str | None) -> str | None:
    """The engine that read an answer on a device, or None for an AI's answer."""
    if model is None or not model.startswith(LOCAL_PREFIX):
        return None
    return model[len(LOCAL_PREFIX) :] or "OCR"


def newest_picture(detail: ConversationDetail) -> str | None:
    """The hash of the conversation's newest picture, if it has one."""
    shas = [m.screenshot_sha256 for m in detail.messages if m.screenshot_sha256]
    return shas[-1] if shas else None


def read_picture(store: Store, conversation_id: str) -> tuple[str, str]:
    """The text of the conversation's newest picture and the engine that read it.

    Raises OcrUnavailable (no engine here), OcrError or ValueError (not readable), StoreError.
    """
    from PIL import Image, UnidentifiedImageError

    from snapask_desktop.ocr import OcrError, recognise
    from snapask_desktop.ocr.engine import engine_name

    sha = newest_picture(store.get_conversation(conversation_id))
    if sha is None:
        raise ValueError("This conversation has no picture to read.")
    try:
        image = Image.open(io.BytesIO(store.screenshot_bytes(sha)))
        image.load()
    except (UnidentifiedImageError, OSError) as error:
        raise OcrError(f"the picture could not be decoded ({error})") from error
    text = recognise(image).text
    engine = engine_name()
    try:  # the same text makes the picture findable; a redacted picture's was kept already
        if text.strip() and store.screenshot_text(sha) is None:
            store.set_screenshot_text(sha, text, engine)
    except StoreError as error:
        log.warning("the text of picture %s… was not kept: %s", sha[:12], error)
    return text, engine


def keep_reading(store: Store, conversation_id: str, text: str, engine: str) -> Message:
    """Store what was read as the conversation's answer (a plain note when nothing was)."""
    shown = text if text.strip() else NO_TEXT
    return store.add_message(conversation_id, "model", shown, model=f"{LOCAL_PREFIX}{engine}")
