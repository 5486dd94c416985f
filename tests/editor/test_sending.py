"""A big picture with hidden parts, through the chat service and the real AI client to the
fake Gemini: downscaled and re-encoded, the request still holds nothing of a hidden part."""

from __future__ import annotations

import base64
import hashlib
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from snapask_desktop.ai.client import AIClient
from snapask_desktop.ai.gemini import GeminiProvider
from snapask_desktop.ai.image_prep import MAX_SIDE
from snapask_desktop.ai.resilience import RetryPolicy
from snapask_desktop.chat import ChatService
from snapask_desktop.editor.marks import Arrow, Redaction
from snapask_desktop.redact.guard import MarksFailed
from snapask_desktop.redact.paint import png_bytes
from snapask_desktop.store import NotFound, Store
from snapask_desktop.store.blobs import BlobStore
from tests.support.fake_gemini import FakeGemini

SIZE = (2400, 1350)  # a 1.25x-scaled full-HD screen: sent downscaled, as JPEG
HIDDEN = (300, 200, 1100, 420)


@pytest.fixture
def chat(tmp_path: Path) -> Iterator[tuple[ChatService, FakeGemini]]:
    with FakeGemini() as gemini, Store.open(tmp_path / "data") as store:
        client = AIClient(
            GeminiProvider("test-key", base_url=gemini.url), retry=RetryPolicy(max_attempts=1)
        )
        yield ChatService(store, lambda _name: client), gemini
        client.close()


def bright() -> Image.Image:
    """A light picture with busy detail everywhere: nothing near black by chance."""
    image = Image.new("RGB", SIZE)
    image.putdata(
        [
            (150 + (x * 7) % 100, 150 + (y * 11) % 100, 150 + ((x ^ y) % 100))
            for y in range(SIZE[1])
            for x in range(SIZE[0])
        ]
    )
    return image


def test_a_downscaled_picture_sent_holds_nothing_of_a_hidden_part(chat) -> None:
    service, gemini = chat
    marks = (Redaction(HIDDEN), Arrow((1500, 900), (1200, 500), 6))
    question = service.start_conversation("what is this?", png_bytes(bright()), marks=marks)
    service.answer(question.conversation_id, provider="gemini", model="m").wait()

    (request,) = gemini.generate_requests()
    (part,) = [p for c in request.body["contents"] for p in c["parts"] if "inlineData" in p]
    sent = Image.open(io.BytesIO(base64.urlsafe_b64decode(part["inlineData"]["data"])))
    assert sent.format == "JPEG" and max(sent.size) == MAX_SIDE
    scale = sent.width / SIZE[0]
    # Inside the box (a JPEG block in from its edges, where resampling and encoding mix in what lies
    # beside it) everything is black: no level of the original's detail remains.
    left, top, right, bottom = (round(v * scale) for v in HIDDEN)
    inside = sent.convert("RGB").crop((left + 8, top + 8, right - 8, bottom - 8))
    assert max(channel[1] for channel in inside.getextrema()) <= 12
    # Outside it the picture is the original's (bright), and the arrow is there.
    assert min(sent.convert("L").crop((0, 0, left - 4, sent.height)).getextrema()) > 100
    mx, my = round(1350 * scale), round(700 * scale)  # the middle of the arrow's shaft
    rgb = sent.convert("RGB")
    around = [rgb.getpixel((x, y)) for x in range(mx - 2, mx + 3) for y in range(my - 2, my + 3)]
    assert any(r > 180 and g < 120 and b < 120 for r, g, b in around), around

    stored = service.store.screenshot_bytes(question.screenshot_sha256)
    kept = Image.open(io.BytesIO(stored)).convert("RGB")
    assert kept.crop(HIDDEN).getextrema() == ((0, 0), (0, 0), (0, 0))


def test_marks_that_cannot_be_painted_store_nothing(chat) -> None:
    service, gemini = chat
    with pytest.raises(MarksFailed, match="not sent"):
        service.start_conversation(
            "q", b"\x89PNG\r\n\x1a\nbroken", marks=(Redaction((0, 0, 4, 4)),)
        )
    assert service.store.list_conversations() == [] and gemini.generate_requests() == []


def test_the_original_is_kept_on_this_device_only_when_asked(chat) -> None:
    service, _gemini = chat
    original = png_bytes(Image.new("RGB", (120, 80), (200, 220, 240)))
    marks = (Redaction((10, 10, 50, 40)),)
    asked = service.start_conversation("q", original, marks=marks, keep_original=True)
    assert service.store.original_bytes(asked.screenshot_sha256) == original
    not_asked = service.start_conversation(
        "q", png_bytes(Image.new("RGB", (90, 60), "white")), marks=marks
    )
    assert service.store.original_bytes(not_asked.screenshot_sha256) is None
    # Not a picture of the store (so never synced or exported): only a file beside it.
    with pytest.raises(NotFound):
        service.store.screenshot_info(hashlib.sha256(original).hexdigest())
    kept = [p for p in service.store.data_dir.rglob("*.orig")]
    assert [p.read_bytes() for p in kept] == [original]


def test_a_kept_original_goes_with_its_picture(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path)
    stored = blobs.put(png_bytes(Image.new("RGB", (40, 30), "black")))
    blobs.keep_original(stored.sha256, b"the original")
    assert blobs.original(stored.sha256) == b"the original"
    blobs.remove(stored.sha256, stored.mime)
    assert blobs.original(stored.sha256) is None
    assert not list(tmp_path.rglob("*.orig"))
