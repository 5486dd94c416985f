"""`snapask ask/history/show/export` as a user runs them: real entry point, real store, fake
providers on 127.0.0.1 speaking the real wire formats."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from tests.support import fake_gemini as fg
from tests.support.cli import FILE_KEYRING, REPO, snapask
from tests.support.fake_gemini import FakeGemini
from tests.support.fake_openai import FakeOpenAI


@pytest.fixture
def gemini() -> Iterator[FakeGemini]:
    with FakeGemini() as fake:
        yield fake


@pytest.fixture
def env(gemini: FakeGemini) -> dict[str, str]:
    return {"SNAPASK_GEMINI_BASE_URL": gemini.url, "GEMINI_API_KEY": "test-key"}


@pytest.fixture
def shot(tmp_path: Path) -> Path:
    image = Image.new("RGB", (640, 360), "white")
    ImageDraw.Draw(image).text((12, 12), "Error 42: disk full", fill="black")
    path = tmp_path / "shot.png"
    image.save(path)
    return path


def history(env: dict[str, str], *args: str) -> list[dict]:
    result = snapask("history", "--json", *args, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_ask_streams_answer_and_saves_conversation(env, gemini, shot) -> None:
    result = snapask("ask", str(shot), "what does this error mean?", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "You asked: what does this error mean? [1 image]."
    (request,) = gemini.generate_requests()
    assert request.header("x-goog-api-key") == "test-key"
    assert request.path.endswith("/models/gemini-2.5-flash:streamGenerateContent")
    parts = request.body["contents"][0]["parts"]
    inline = parts[0]["inlineData"]
    assert (inline.get("mimeType") or inline.get("mime_type")).startswith("image/")
    assert parts[1]["text"] == "what does this error mean?"
    (row,) = history(env)
    assert row["title"] == "what does this error mean?"
    assert row["message_count"] == 2
    assert row["id"][:8] in result.stderr
    shown = snapask("show", row["id"][:8], env=env).stdout
    assert "[picture 640x360" in shown
    assert "You asked: what does this error mean? [1 image]." in shown


def test_follow_up_sends_history_with_picture(env, gemini, shot) -> None:
    snapask("ask", str(shot), "what is this?", env=env)
    (row,) = history(env)
    result = snapask("ask", "--continue", row["id"][:6], "and how do I fix it?", env=env)
    assert result.returncode == 0, result.stderr
    contents = gemini.generate_requests()[-1].body["contents"]
    assert [c["role"] for c in contents] == ["user", "model", "user"]
    assert "inlineData" in contents[0]["parts"][0]
    assert contents[1]["parts"][0]["text"] == "You asked: what is this? [1 image]."
    assert contents[2]["parts"][0]["text"] == "and how do I fix it?"
    assert history(env)[0]["message_count"] == 4


def test_a_follow_up_can_bring_its_own_picture(env, gemini, shot, tmp_path) -> None:
    snapask("ask", str(shot), "what is this?", env=env)
    (row,) = history(env)
    second = tmp_path / "second.png"
    Image.new("RGB", (320, 200), "navy").save(second)
    result = snapask("ask", "--continue", row["id"][:6], str(second), "and this one?", env=env)
    assert result.returncode == 0, result.stderr
    assert "You asked: and this one? [2 images]." in result.stdout
    shown = snapask("show", row["id"][:8], env=env).stdout
    assert "[picture 640x360" in shown and "[picture 320x200" in shown
    assert len(history(env)) == 1


def test_the_picture_may_come_before_the_continue_option(env, gemini, shot, tmp_path) -> None:
    snapask("ask", str(shot), "what is this?", env=env)
    (row,) = history(env)
    second = tmp_path / "second.png"
    Image.new("RGB", (320, 200), "navy").save(second)
    result = snapask("ask", str(second), "--continue", row["id"][:6], "and this?", env=env)
    assert result.returncode == 0, result.stderr
    assert "You asked: and this? [2 images]." in result.stdout
    assert len(history(env)) == 1
    wrong = snapask("ask", str(second), "--continue", row["id"][:6], "--bogus", "x", env=env)
    assert wrong.returncode == 2 and "unrecognized arguments: --bogus x" in wrong.stderr


def test_repeated_question_is_answered_from_cache(env, gemini, shot) -> None:
    first = snapask("ask", str(shot), "explain", env=env)
    second = snapask("ask", str(shot), "explain", env=env)
    assert second.returncode == 0
    assert second.stdout == first.stdout
    assert "answered from the cache" in second.stderr
    assert len(gemini.generate_requests()) == 1
    third = snapask("ask", str(shot), "explain", "--no-cache", env=env)
    assert third.returncode == 0 and len(gemini.generate_requests()) == 2


def test_quick_action_prompt_and_title(env, gemini, shot) -> None:
    result = snapask("ask", str(shot), "--action", "translate", env=env)
    assert result.returncode == 0, result.stderr
    text = gemini.generate_requests()[0].body["contents"][0]["parts"][1]["text"]
    assert text.startswith("Translate all the text in this image into English")
    assert history(env)[0]["title"] == "Translate"


def test_invalid_key_keeps_question_and_retry_works(env, gemini, shot) -> None:
    bad = {**env, "GEMINI_API_KEY": "wrong-key"}
    result = snapask("ask", str(shot), "what is this?", env=bad)
    assert result.returncode == 1
    assert "rejected" in result.stderr.lower()
    assert "wrong-key" not in result.stderr + result.stdout
    (row,) = history(env)
    assert row["message_count"] == 1  # the question is saved, no answer
    retry = snapask("ask", "--continue", row["id"], env=env)
    assert retry.returncode == 0, retry.stderr
    assert "You asked: what is this?" in retry.stdout
    assert history(env)[0]["message_count"] == 2


def test_no_key_says_how_to_set_one(gemini, shot) -> None:
    result = snapask("ask", str(shot), "hi", env={"SNAPASK_GEMINI_BASE_URL": gemini.url})
    assert result.returncode == 1
    assert "snapask key set gemini" in result.stderr
    assert gemini.generate_requests() == []


def test_key_from_keyring_is_used(gemini, shot) -> None:
    assert snapask("key", "set", "gemini", input="test-key\n").returncode == 0
    result = snapask("ask", str(shot), "hi", env={"SNAPASK_GEMINI_BASE_URL": gemini.url})
    assert result.returncode == 0, result.stderr
    assert gemini.generate_requests()[0].header("x-goog-api-key") == "test-key"


def test_server_errors_are_retried(env, gemini, shot) -> None:
    gemini.script(fg.overloaded(), fg.Reply(("fine", " now")))
    result = snapask("ask", str(shot), "hi", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "fine now"
    assert "Retrying in" in result.stderr
    assert len(gemini.generate_requests()) == 2


def test_offline_gives_plain_message(shot) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    env = {"SNAPASK_GEMINI_BASE_URL": f"http://127.0.0.1:{closed_port}", "GEMINI_API_KEY": "k"}
    assert snapask("config", "set", "max_retries", "0").returncode == 0
    result = snapask("ask", str(shot), "hi", env=env)
    assert result.returncode == 1
    assert "offline" in result.stderr.lower() or "reach" in result.stderr.lower()
    assert history(env)[0]["message_count"] == 1


def test_openai_compatible_provider(shot) -> None:
    with FakeOpenAI() as fake:
        env = {"SNAPASK_OPENAI_BASE_URL": fake.base_url}
        result = snapask("ask", str(shot), "hello local model", "--provider", "openai", env=env)
        assert result.returncode == 0, result.stderr
        assert "hello local model" in result.stdout
        (request,) = fake.chat_requests()
        assert request.body["model"] == "llava" and request.body["stream"] is True
        content = request.body["messages"][-1]["content"]
        assert any(part["type"] == "image_url" for part in content)


def test_unicode_and_long_prompts(env, gemini, shot) -> None:
    question = "Что это? 这是什么？ 🤔 " + "détail " * 3000
    result = snapask("ask", str(shot), question, env=env)
    assert result.returncode == 0, result.stderr
    sent = gemini.generate_requests()[0].body["contents"][0]["parts"][1]["text"]
    assert sent == question
    (row,) = history(env, "--search", "这是什么")
    assert row["title"].startswith("Что это? 这是什么？ 🤔")


def test_question_from_stdin(env, gemini, shot) -> None:
    result = snapask("ask", str(shot), "-", input="piped question\n", env=env)
    assert result.returncode == 0, result.stderr
    assert "piped question" in result.stdout


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.png", None, "does not exist"),
        ("empty.png", b"", "empty"),
        ("notes.txt", b"just some text, not a picture", "not a picture"),
        ("broken.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "not a picture"),
    ],
)
def test_bad_picture_files_are_refused_and_nothing_saved(env, tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    result = snapask("ask", str(path), "what is this?", env=env)
    assert result.returncode == 1
    assert message in result.stderr.lower() or "can't" in result.stderr.lower(), result.stderr
    assert "Traceback" not in result.stderr
    assert history(env) == []


def test_huge_picture_is_refused_clearly(env, tmp_path) -> None:
    path = tmp_path / "huge.png"
    Image.new("1", (10000, 10000), 1).save(path)  # small file, 100 MP when decoded
    result = snapask("ask", str(path), "what is this?", env=env)
    assert result.returncode == 1
    assert "10000" in result.stderr and "Traceback" not in result.stderr
    assert history(env) == []


def test_usage_errors() -> None:
    result = snapask("ask", "a", "b", "c")
    assert result.returncode == 2 and "usage" in result.stderr
    assert snapask("history", "--limit", "0").returncode == 2
    missing = snapask("show", "deadbeef")
    assert missing.returncode == 1 and "no conversation" in missing.stderr


def test_export_markdown_and_json_with_pictures(env, gemini, shot, tmp_path) -> None:
    snapask("ask", str(shot), "first question", env=env)
    snapask("ask", "new chat about nothing", env=env)
    md_dir, json_dir = tmp_path / "md", tmp_path / "json"
    result = snapask("export", "--output", str(md_dir), env=env)
    assert result.returncode == 0, result.stderr
    assert "2 conversations and 1 picture" in result.stdout
    pictures = list((md_dir / "images").iterdir())
    assert len(pictures) == 1 and pictures[0].read_bytes() == shot.read_bytes()
    markdown = "\n".join(p.read_text() for p in md_dir.glob("*.md"))
    assert f"![screenshot](images/{pictures[0].name})" in markdown
    assert "first question" in markdown and "new chat about nothing" in markdown
    snapask("export", "--format", "json", "--output", str(json_dir), env=env)
    document = json.loads((json_dir / "conversations.json").read_text())
    assert document["format"] == "snapask-export"
    titles = sorted(c["title"] for c in document["conversations"])
    assert titles == ["first question", "new chat about nothing"]


def test_ctrl_c_stops_and_keeps_partial_answer(env, gemini, shot, isolated_env) -> None:
    gemini.script(fg.Stall(chunks=("partial ", "answer"), seconds=30))
    process = subprocess.Popen(
        [sys.executable, "-m", "snapask_desktop", "ask", str(shot), "slow one"],
        env={**os.environ, **env, "PYTHON_KEYRING_BACKEND": FILE_KEYRING, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    seen = ""
    deadline = time.monotonic() + 20
    while "answer" not in seen and time.monotonic() < deadline:
        seen += process.stdout.read(1)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=20)
    assert process.returncode == 130
    assert "stopped" in err
    (row,) = history(env)
    detail = json.loads(snapask("show", "--json", row["id"], env=env).stdout)
    answer = detail["messages"][-1]
    assert answer["status"] == "cancelled" and answer["text"] == "partial answer"


def test_damaged_database_is_set_aside_and_reported(isolated_env: Path) -> None:
    data = isolated_env / "data"
    data.mkdir(parents=True)
    (data / "snapask.db").write_bytes(b"this is not a database at all" * 100)
    result = snapask("history")
    assert result.returncode == 0, result.stderr
    assert "damaged" in result.stderr
    kept = [p for p in data.iterdir() if p.name.startswith("snapask.db.damaged-")]
    assert kept and kept[0].read_bytes() == b"this is not a database at all" * 100
    assert snapask("history").stderr == "no conversations yet\n"


def test_an_answer_the_store_refuses_is_shown_and_reported(env, gemini, shot, isolated_env):
    import sqlite3

    snapask("ask", str(shot), "first", env=env)
    (row,) = history(env)
    db = sqlite3.connect(isolated_env / "data" / "snapask.db")
    db.execute(
        "CREATE TRIGGER test_refuse_answers BEFORE INSERT ON message WHEN NEW.role = 'model' "
        "BEGIN SELECT RAISE(ABORT, 'disk says no'); END"
    )
    db.commit()
    db.close()
    result = snapask("ask", "--continue", row["id"], "second", env=env)
    assert result.returncode == 1
    assert "You asked: second" in result.stdout  # the text was shown all the same
    assert "could not be saved" in result.stderr and "disk says no" in result.stderr
