"""find_secrets on OCR words (pure): each pattern, OCR's mistakes, and ordinary text left alone."""

from __future__ import annotations

import pytest

from snapask_desktop.ocr.result import OcrResult, Word
from snapask_desktop.redact.secrets import find_secrets, mask_text
from tests.redact.screens import GH, SK, STRIPE, XOX


def words(*lines: str) -> list[Word]:
    """Words laid out as OCR reports them: 10 px per character, one line every 20 px."""
    out = []
    for number, line in enumerate(lines):
        x = 0
        for text in line.split(" "):
            if text:
                out.append(
                    Word(
                        text, (x, number * 20, x + 10 * len(text), number * 20 + 12), 90, number, 0
                    )
                )
            x += 10 * (len(text) + 1)
    return out


def found(*lines: str) -> list[tuple[str, list[str]]]:
    return [(f.kind, [w.text for w in f.words]) for f in find_secrets(words(*lines))]


@pytest.mark.parametrize(
    ("line", "kind", "covered"),
    [
        (f"key {SK}proj-4fGh7KpQ2xLm9NvB3cRt", "api_key", [f"{SK}proj-4fGh7KpQ2xLm9NvB3cRt"]),
        (f"OPENAI_API_KEY={SK}abcdefghijklmnop123", "api_key", None),
        (f"bot {XOX}2048-7781-Qa8sLk3mZp9x", "slack_token", None),
        ("id AKIAIOSFODNN7EXAMPLE here", "aws_access_key", ["AKIAIOSFODNN7EXAMPLE"]),
        (f"{GH}R8fK2mQ9xLp4Zt7Wb3Nc6Vd1Hy5Js0Ga2Ue", "github_token", None),
        ("AIzaSyD3kL9mN2pQ7rS4tU8vW1xY5zA6bC0dE", "google_api_key", None),
        (f"{STRIPE}51HxQz7Kb9WmRt3Np", "stripe_key", None),
        ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIx.dozjgNryP4J3jVmN", "jwt", None),
        ("Authorization: Bearer abcdefghijklmnopqrstuvwxyz0123", "bearer_token", None),
        ("password = hunter2hunter", "password", ["password", "=", "hunter2hunter"]),
        ("DB_PASSWORD=Tr0ub4dor", "password", ["DB_PASSWORD=Tr0ub4dor"]),
        ("client_secret: 9f8e7d6c5b4a", "password", None),
        ("mail jane.doe@example.com now", "email", ["jane.doe@example.com"]),
        ("card 4111 1111 1111 1111 exp", "card_number", ["4111", "1111", "1111", "1111"]),
        ("IBAN DE89 3704 0044 0532 0130 00", "iban", None),
        ("iban GB82WEST12345698765432", "iban", ["GB82WEST12345698765432"]),
    ],
)
def test_each_kind_of_secret_is_found(line: str, kind: str, covered: list[str] | None) -> None:
    results = found(line)
    assert kind in [k for k, _ in results], results
    if covered is not None:
        assert dict(results)[kind] == covered


def test_a_token_ocr_cut_in_pieces_is_covered_to_its_end() -> None:
    results = found(f"export TOKEN {GH} R8fK2mQ9xLp4Zt /Wb3Nc6Vd1Hy5Js0Ga2Ue # rotate")
    assert results == [("github_token", [GH, "R8fK2mQ9xLp4Zt", "/Wb3Nc6Vd1Hy5Js0Ga2Ue"])]


def test_ocr_misreadings_still_match() -> None:
    assert found("stripe sk_lLive_51HxQz7Kb9vmRt3Np")[0][0] == "stripe_key"
    assert found(f"{GH}R&8fK2mQ9xLp4Zt7Wb3Nc6VdlHy5")[0][0] == "github_token"
    assert found("eyJhbGci0iJIUZI1NiJ9, eyJzdW1i0ilxMjM")[0][0] == "jwt"
    assert found("IBAN DE89 3704 0044 0532 0130 60")[0][0] == "iban"  # checksum spoilt


def test_a_private_key_block_is_covered_whole() -> None:
    block = found(
        "config:",
        "-----BEGIN RSA PRIVATE KEY-----",
        "MIIEowIBAAKCAQEA7bq98",
        "abc def",
        "-----END RSA PRIVATE KEY-----",
        "after the key",
    )
    assert block == [
        (
            "private_key",
            [
                "-----BEGIN",
                "RSA",
                "PRIVATE",
                "KEY-----",
                "MIIEowIBAAKCAQEA7bq98",
                "abc",
                "def",
                "-----END",
                "RSA",
                "PRIVATE",
                "KEY-----",
            ],
        )
    ]


def test_a_private_key_cut_off_by_the_picture_is_covered_to_the_end() -> None:
    block = found("-----BEGIN PRIVATE KEY-----", "MIIEvQIBADANBgkqhkiG9w0B")
    assert block[0][0] == "private_key" and block[0][1][-1] == "MIIEvQIBADANBgkqhkiG9w0B"


@pytest.mark.parametrize(
    "line",
    [
        "Enter your password:",
        "password: ********",
        "Password: ••••••••",
        "token = <your token>",
        "Forgot your password? Reset it here",
        "The tokenizer splits text into tokens: words and pieces",
        "Use scikit-learn and sk-learn style estimators",
        "Call 555-0100 or 4111 1111 1111 1112 (not a valid card)",
        "Build 2024.11.3 released on 2024-11-30 at 12:45",
        "ask@ me later; see section 4.2",
        "DE 89 is a road number",
        "the key: press Enter to confirm",
    ],
)
def test_ordinary_text_is_not_flagged(line: str) -> None:
    assert found(line) == []


def test_the_kept_text_hides_the_painted_words() -> None:
    ws = words("login admin", "password = hunter2hunter", "done")
    boxes = [box for f in find_secrets(ws) for box in f.boxes]
    text = mask_text(ws, boxes)
    assert "hunter2" not in text
    assert text == "login admin\n[redacted] [redacted] [redacted]\ndone"
    assert OcrResult(tuple(ws), 0, 0).text.count("hunter2hunter") == 1
