"""Trying an OpenAI-compatible server from Settings, against the local fake server."""

from __future__ import annotations

import socket

from snapask_desktop.ai.server_check import check_server, model_names, verdict
from tests.support.fake_openai import FakeOpenAI


def test_the_model_is_found_or_the_server_s_models_are_named() -> None:
    body = {
        "object": "list",
        "data": [{"id": f"m{n}"} for n in range(7)] + [{"id": "llava:latest"}],
    }
    names = model_names(body)
    assert names[-1] == "llava:latest" and model_names({"data": "x"}) == [] == model_names([])
    assert verdict("http://h/v1", "llava", names).ok  # Ollama's ":latest" tag
    missing = verdict("http://h/v1", "qwen", names)
    assert not missing.ok and missing.message.endswith("It has: m0, m1, m2, m3, m4 ….")
    assert not verdict("http://h/v1", "qwen", []).ok


def test_a_real_server_is_asked_for_its_models() -> None:
    with FakeOpenAI(models={"llava", "phi3"}) as fake:
        found = check_server(fake.base_url, "phi3")
        missing = check_server(fake.base_url, "qwen2.5vl")
    assert found.ok and "2 models, 'phi3' among them" in found.message
    assert not missing.ok and "no model 'qwen2.5vl'. It has: llava, phi3." in missing.message


def test_a_wrong_key_and_no_server_are_said_plainly() -> None:
    with FakeOpenAI(accepted_keys={"right"}) as fake:
        wrong = check_server(fake.base_url, "llava", api_key="wrong-key-123")
    assert not wrong.ok and "rejected" in wrong.message.lower()
    assert "wrong-key-123" not in wrong.message
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    nobody = check_server(f"http://127.0.0.1:{port}/v1", "llava", timeout_s=5)
    assert not nobody.ok and f"127.0.0.1:{port}" in nobody.message
