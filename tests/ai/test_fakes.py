"""The fake endpoints themselves: they serve other processes and speak the real formats."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from google import genai
from google.genai import errors as genai_errors
from google.genai import types as gt

from tests.ai.helpers import KEY, MODEL
from tests.support.fake_gemini import FakeGemini, Reply
from tests.support.fake_openai import FakeOpenAI


def post_from_subprocess(url: str, body: dict, headers: dict[str, str]) -> tuple[int, str]:  # type: ignore[type-arg]
    script = textwrap.dedent(
        """
        import json, sys, urllib.request, urllib.error
        url, body, headers = sys.argv[1], sys.argv[2].encode(), json.loads(sys.argv[3])
        req = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                print(r.status); print(r.read().decode())
        except urllib.error.HTTPError as e:
            print(e.code); print(e.read().decode())
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script, url, json.dumps(body), json.dumps(headers)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    status, _, text = out.partition("\n")
    return int(status), text


def test_fake_gemini_serves_another_process(fake_gemini: FakeGemini) -> None:
    body = {"contents": [{"role": "user", "parts": [{"text": "from a subprocess"}]}]}
    url = f"{fake_gemini.url}/v1beta/models/{MODEL}:streamGenerateContent?alt=sse"
    status, text = post_from_subprocess(url, body, {"x-goog-api-key": KEY})
    assert status == 200
    events = [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]
    texts = [e["candidates"][0]["content"]["parts"][0]["text"] for e in events]
    assert "".join(texts) == "You asked: from a subprocess."
    assert events[-1]["candidates"][0]["finishReason"] == "STOP"
    assert fake_gemini.requests[0].body == body


def test_fake_gemini_rejects_missing_and_wrong_keys(fake_gemini: FakeGemini) -> None:
    url = f"{fake_gemini.url}/v1beta/models/{MODEL}:generateContent"
    status, text = post_from_subprocess(url, {"contents": []}, {})
    assert status == 403
    assert json.loads(text)["error"]["status"] == "PERMISSION_DENIED"
    status, text = post_from_subprocess(url, {"contents": []}, {"x-goog-api-key": "nope"})
    assert status == 400
    assert json.loads(text)["error"]["message"] == "API key not valid. Please pass a valid API key."


def test_fake_gemini_non_streaming_with_the_sdk(fake_gemini: FakeGemini) -> None:
    fake_gemini.script(Reply(("Hello ", "there")))
    client = genai.Client(api_key=KEY, http_options=gt.HttpOptions(base_url=fake_gemini.url))
    response = client.models.generate_content(model=MODEL, contents="hi")
    assert response.text == "Hello there"
    assert fake_gemini.requests[0].path == f"/v1/models/{MODEL}:generateContent"


def test_fake_gemini_known_models_only() -> None:
    with FakeGemini(accepted_keys=None, models={MODEL}) as fake:
        client = genai.Client(api_key="any", http_options=gt.HttpOptions(base_url=fake.url))
        assert client.models.generate_content(model=MODEL, contents="hi").text
        try:
            client.models.generate_content(model="gemini-0", contents="hi")
        except genai_errors.ClientError as exc:
            assert exc.code == 404
            assert "models/gemini-0 is not found" in str(exc.message)
        else:
            raise AssertionError("unknown model was accepted")


def test_fake_openai_serves_models_and_plain_completions(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(Reply(("plain ", "answer")))
    body = {"model": "llava", "messages": [{"role": "user", "content": "hi"}]}
    status, text = post_from_subprocess(f"{fake_openai.base_url}/chat/completions", body, {})
    assert status == 200
    assert json.loads(text)["choices"][0]["message"]["content"] == "plain answer"
    body["stream"] = True
    status, text = post_from_subprocess(f"{fake_openai.base_url}/chat/completions", body, {})
    lines = [line for line in text.splitlines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    assert json.loads(lines[-2][6:])["choices"][0]["finish_reason"] == "stop"
