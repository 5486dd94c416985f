"""find_secrets on OCR words (pure): each pattern, OCR's mistakes, and ordinary text left alone."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

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
        # as OCR reads monospaced text: spaces around a key's dashes, after a domain's dot
        (
            f"export OPENAI_KEY={SK} proj -4fGh7KpQ2xLm9NvB3cRt8YwZ",
            "api_key",
            [f"OPENAI_KEY={SK}", "proj", "-4fGh7KpQ2xLm9NvB3cRt8YwZ"],
        ),
        ("notify: jane.doe@example. com", "email", ["jane.doe@example.", "com"]),
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


_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_PROSE = " ".join(
    [
        "the settings window opens when you click save and the file is written to disk",
        "errors are shown in red with a short reason and a button to try again later",
        "press enter to confirm or escape to cancel the dialog version 3 of the app",
        "the token count was 42 and the key press was ignored by the editor today",
    ]
).split(" ")


@given(
    prefix=st.sampled_from([SK + "proj-", SK, XOX, GH, STRIPE, "AKIA", "AIza", "eyJ"]),
    body=st.text(_ALPHABET, min_size=32, max_size=48),
    before=st.lists(st.sampled_from(_PROSE), max_size=6),
    after=st.lists(st.sampled_from(_PROSE), max_size=6),
    cuts=st.lists(st.integers(4, 30), max_size=2, unique=True),
)
def test_a_token_anywhere_in_a_line_is_covered_even_cut_in_pieces(
    prefix: str, body: str, before: list[str], after: list[str], cuts: list[int]
) -> None:
    body = body.upper() if prefix == "AKIA" else body
    token = prefix + (body[:16] if prefix == "AKIA" else body)
    # OCR may cut a long token where a piece starts with a digit or mixed case; keep only
    # such cuts (a cut before a plain lowercase run is an OCR reading no rule can tell from
    # prose) and never inside the prefix.
    pieces, start = [], 0
    for cut in sorted(c + len(prefix) for c in cuts if prefix != "AKIA"):
        piece = token[cut:]
        if cut - start >= len(prefix) + 8 and _looks_like_a_piece(piece):
            pieces.append(token[start:cut])
            start = cut
    pieces.append(token[start:])
    line = " ".join([*before, *pieces, *after])
    covered = {w for kind, ws in found(line) if kind != "password" for w in ws}
    assert set(pieces) <= covered, (line, found(line))


def _looks_like_a_piece(text: str) -> bool:
    head = text.split(" ")[0]
    return bool(re.search(r"\d|[a-z][A-Z]|[A-Z][a-z]+[A-Z]", head))


@given(st.lists(st.sampled_from(_PROSE), min_size=1, max_size=30))
def test_ordinary_prose_is_never_flagged(words_: list[str]) -> None:
    assert found(" ".join(words_)) == []
