"""`snapask ocr` and what `snapask ask` does with a picture's text and secrets, as a user runs
them: the real entry point, the real store, the fake Gemini on 127.0.0.1."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from tests.ocr.samples import DARK, DIALOG, cer, font, render
from tests.redact.screens import secret_screen
from tests.support.cli import REPO, snapask
from tests.support.fake_gemini import FakeGemini


@pytest.fixture
def gemini() -> Iterator[FakeGemini]:
    with FakeGemini() as fake:
        yield fake


@pytest.fixture
def env(gemini: FakeGemini) -> dict[str, str]:
    return {"SNAPASK_GEMINI_BASE_URL": gemini.url, "GEMINI_API_KEY": "test-key"}


@pytest.fixture
def dialog(tmp_path: Path) -> Path:
    path = tmp_path / "dialog.png"
    render(DIALOG, font("Sans", 13)).save(path)
    return path


@pytest.fixture
def secrets_shot(tmp_path: Path):
    screen = secret_screen(13, DARK)
    path = tmp_path / "terminal.png"
    screen.image.save(path)
    return path, screen


@pytest.fixture
def no_engine(tmp_path: Path) -> dict[str, str]:
    """An environment where the OCR binding fails to import, as without the ocr extra."""
    stub = tmp_path / "stub"
    stub.mkdir()
    (stub / "tesserocr.py").write_text("raise ImportError(\"No module named 'tesserocr'\")\n")
    return {"PYTHONPATH": f"{stub}:{REPO}"}


def test_ocr_prints_the_text(dialog: Path) -> None:
    result = snapask("ocr", str(dialog))
    assert result.returncode == 0, result.stderr
    assert cer("\n".join(DIALOG), result.stdout) <= 0.02


def test_ocr_json_gives_words_with_boxes(dialog: Path) -> None:
    result = snapask("ocr", str(dialog), "--json")
    report = json.loads(result.stdout)
    assert (report["width"], report["height"]) == Image.open(dialog).size
    first = report["words"][0]
    assert first["text"] == "Save" and first["line"] == 0
    left, top, right, bottom = first["box"]
    assert 0 <= left < right <= report["width"] and 0 <= top < bottom <= report["height"]


def test_ocr_secrets_names_them_and_never_prints_them(secrets_shot) -> None:
    path, _ = secrets_shot
    result = snapask("ocr", str(path), "--secrets")
    assert result.returncode == 0, result.stderr
    assert "suspected secret: api_key at" in result.stderr
    assert "suspected secret: private_key at" in result.stderr
    assert "[redacted]" in result.stdout and "SLACK_BOT" in result.stdout
    for fragment in ("hunter2", "jane.doe", "AKIAIOSF", "4fGh7KpQ"):
        assert fragment not in result.stdout + result.stderr
    report = json.loads(snapask("ocr", str(path), "--secrets", "--json").stdout)
    assert "password" in {s["kind"] for s in report["secrets"]}
    assert "hunter2" not in json.dumps(report)


def test_ocr_says_what_is_wrong(tmp_path: Path, dialog: Path, no_engine) -> None:
    missing = snapask("ocr", str(tmp_path / "nope.png"))
    assert missing.returncode == 1 and "does not exist" in missing.stderr
    (tmp_path / "notes.png").write_text("not a picture")
    bad = snapask("ocr", str(tmp_path / "notes.png"))
    assert bad.returncode == 1 and "not a picture" in bad.stderr
    without = snapask("ocr", str(dialog), env=no_engine)
    assert without.returncode == 1
    assert "OCR engine is not installed" in without.stderr and "[ocr]" in without.stderr


def test_ask_keeps_the_text_of_the_picture_for_search(env, dialog: Path) -> None:
    result = snapask("ask", str(dialog), "what should I click?", env=env)
    assert result.returncode == 0, result.stderr
    found = json.loads(snapask("history", "--json", "--search", "closing", env=env).stdout)
    assert [row["title"] for row in found] == ["what should I click?"]
    assert "closing" in found[0]["snippet"]


def test_ask_redact_sends_and_keeps_no_pixel_of_a_secret(
    env, gemini: FakeGemini, secrets_shot, isolated_env: Path
) -> None:
    path, screen = secrets_shot
    result = snapask("ask", "--redact", str(path), "why does this fail?", env=env)
    assert result.returncode == 0, result.stderr
    (request,) = gemini.generate_requests()
    inline = request.body["contents"][0]["parts"][0]["inlineData"]
    sent = Image.open(io.BytesIO(base64.urlsafe_b64decode(inline["data"]))).convert("RGB")
    stored = [Image.open(p).convert("RGB") for p in (isolated_env / "data" / "blobs").rglob("*.*")]
    assert len(stored) == 1
    for picture in (sent, *stored):
        scale = picture.width / screen.image.width  # the sent picture may be downscaled
        for kind, _secret, (left, top, right, bottom) in screen.secrets:
            area = [round(v * scale) for v in (left, top, right, bottom)]
            # The text is light grey on dark; a painted box is black (the JPEG sent may ring a
            # little near its edges, never up to the text's brightness).
            brightest = picture.crop(area).convert("L").getextrema()[1]
            assert brightest < 90, f"{kind} shows through ({brightest})"
    # and what is kept for search is the redacted text
    assert json.loads(snapask("history", "--json", "--search", "hunter2", env=env).stdout) == []
    assert json.loads(snapask("history", "--json", "--search", "SLACK_BOT", env=env).stdout)


def test_ask_redact_without_the_engine_sends_nothing_and_keeps_nothing(
    env, gemini: FakeGemini, secrets_shot, no_engine
) -> None:
    path, _ = secrets_shot
    result = snapask("ask", "--redact", str(path), "why?", env=env | no_engine)
    assert result.returncode == 1
    assert "The picture was not sent" in result.stderr
    assert gemini.generate_requests() == []
    assert json.loads(snapask("history", "--json", env=env).stdout) == []


def test_ask_extract_reads_here_and_asks_no_provider(env, gemini: FakeGemini, dialog) -> None:
    result = snapask("ask", str(dialog), "--action", "extract", env=env)
    assert result.returncode == 0, result.stderr
    assert cer("\n".join(DIALOG), result.stdout) <= 0.02, result.stdout
    assert "read on this device" in result.stderr
    assert gemini.generate_requests() == []
    (row,) = json.loads(snapask("history", "--json", env=env).stdout)
    assert row["title"] == "Extract text" and row["message_count"] == 2
    shown = json.loads(snapask("show", "--json", row["id"], env=env).stdout)
    answer = shown["messages"][-1]
    assert answer["role"] == "model" and answer["model"].startswith("local:tesseract")
    assert "closing" in answer["text"]
    # the text is kept for search once (no second reading on a thread of its own)
    found = json.loads(snapask("history", "--json", "--search", "closing", env=env).stdout)
    assert [r["id"] for r in found] == [row["id"]]


def test_ask_extract_without_the_engine_says_so_and_the_ai_can_read_it(
    env, gemini: FakeGemini, dialog, no_engine
) -> None:
    result = snapask("ask", str(dialog), "--action", "extract", env=env | no_engine)
    assert result.returncode == 1
    assert "Extract text reads the picture on this device" in result.stderr
    assert "OCR engine is not installed" in result.stderr and "[ocr]" in result.stderr
    assert gemini.generate_requests() == []
    (row,) = json.loads(snapask("history", "--json", env=env).stdout)
    assert row["message_count"] == 1  # the question is kept, unanswered
    assert f"snapask ask --continue {row['id'][:8]}" in result.stderr
    retry = snapask("ask", "--continue", row["id"][:8], env=env)
    assert retry.returncode == 0, retry.stderr
    (request,) = gemini.generate_requests()
    assert "inlineData" in request.body["contents"][0]["parts"][0]


def test_ask_extract_on_a_conversation_without_picture_saves_nothing(env, gemini) -> None:
    assert snapask("ask", "what is a sandbox?", env=env).returncode == 0
    (row,) = json.loads(snapask("history", "--json", env=env).stdout)
    result = snapask("ask", "--continue", row["id"][:8], "--action", "extract", env=env)
    assert result.returncode == 1
    assert "has no picture to extract text from" in result.stderr
    (after,) = json.loads(snapask("history", "--json", env=env).stdout)
    assert after["message_count"] == row["message_count"] == 2
