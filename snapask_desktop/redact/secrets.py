"""Finding what looks like a secret in a picture's OCR words (pure: no I/O, no engine).

Each text line is matched as one string, so a pattern may span words (`password = hunter2`,
a card number in groups of four); every word a match touches is reported. Patterns allow for
what OCR does to such text: a letter read as a digit, a dot read as a comma, a stray `&`, and
a long token cut in pieces: a token's match goes on over the following words of its line that
look like more of it (letters with digits or mixed case, no spaces or brackets).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from snapask_desktop.ocr.result import Box, OcrResult, Word

_KEY_CHARS = r"[A-Za-z0-9_\-&]"
_FRAGMENT = re.compile(r"[A-Za-z0-9_\-&.,=/+]{2,}")
_MIXED = re.compile(r"\d|[a-z][A-Z]|[A-Z][a-z]+[A-Z]")


@dataclass(frozen=True, slots=True)
class Finding:
    """One suspected secret: its kind and the words (and so the boxes) it covers."""

    kind: str
    words: tuple[Word, ...]

    @property
    def boxes(self) -> tuple[Box, ...]:
        """One box per text line, over all its words and the spaces between them: a painted
        gap would show where a token breaks and how long its pieces are. A private key block
        is one box, so that a line of it OCR missed is covered too."""
        lines: dict[int, Box] = {}
        for word in self.words:
            line = 0 if self.kind == "private_key" else word.line
            box = lines.get(line, word.box)
            lines[line] = (
                min(box[0], word.box[0]),
                min(box[1], word.box[1]),
                max(box[2], word.box[2]),
                max(box[3], word.box[3]),
            )
        return tuple(lines.values())


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(digits)):
        value = int(char) * (2 if i % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _card_ok(text: str) -> bool:
    digits = re.sub(r"\D", "", text)
    return 13 <= len(digits) <= 19 and _luhn_ok(digits)


def _iban_ok(text: str) -> bool:
    compact = re.sub(r"\s", "", text).upper()
    if not 15 <= len(compact) <= 34:
        return False
    moved = compact[4:] + compact[:4]
    return int("".join(str(int(char, 36)) for char in moved)) % 97 == 1


def _value_ok(text: str) -> bool:
    """Whether `key = value` shows a real value: not masked (••••), not a placeholder
    (<your token>, $TOKEN), and, unless the key says password or secret, not a plain word
    ("tokens: words and pieces")."""
    key, _, value = re.split(r"([:=])", text, maxsplit=1)
    value = value.strip().strip("'\"`")
    if len(value) < 4 or value[0] in "<{$(%[" or re.fullmatch(r"[*•·.x_\- ]+|\.\.\.", value):
        return False
    if re.search(r"(?i)pass|pwd|secret", key):
        return True
    return not re.fullmatch(r"[a-z]+[,.;]?", value)


@dataclass(frozen=True)
class _Pattern:
    kind: str
    regex: re.Pattern[str]
    check: Callable[[str], bool] | None = None  # refines a match (a checksum, a real value)
    token: bool = True  # may have been cut in pieces: go on over the fragments that follow


_PATTERNS: tuple[_Pattern, ...] = (
    # OpenAI (sk-, sk-proj-, sk-svcacct-), Anthropic (sk-ant-) and similar secret keys.
    # Tokens: 8 characters after the prefix are enough (the prefixes are distinctive, and OCR
    # may cut the rest off as other words, which the match then goes on over).
    # OCR may read spaces around the dashes of a monospaced key ("sk- proj -4fGh…").
    _Pattern(
        "api_key",
        re.compile(rf"\bsk- ?(?:(?:proj|svcacct|admin|ant) ?- ?)?{_KEY_CHARS}{{8,}}"),
    ),
    # Slack's tokens go on with digits (xoxb-2048-…), which OCR may cut off after the first group.
    _Pattern(
        "slack_token", re.compile(rf"\bxox[abposr]-(?:[0-9]{_KEY_CHARS}{{3,}}|{_KEY_CHARS}{{8,}})")
    ),
    _Pattern("aws_access_key", re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{14,18}\b")),
    _Pattern("github_token", re.compile(rf"\b(?:gh[pousr]_ ?|github_pat_ ?){_KEY_CHARS}{{8,}}")),
    _Pattern("google_api_key", re.compile(rf"\bAIza{_KEY_CHARS}{{8,}}")),
    _Pattern("stripe_key", re.compile(r"(?i)\b[sr]k_[a-z]{0,2}(?:live|test)[_ ]+[A-Za-z0-9]{8,}")),
    # header.payload.signature, each base64url; '{"' encodes as eyJ, which no word starts with.
    # OCR may read a space on either side of a dot ("eyJhbGci .eyJzdWIi").
    _Pattern("jwt", re.compile(rf"\beyJ{_KEY_CHARS}{{8,}}(?: ?[.,] ?{_KEY_CHARS}*)*")),
    _Pattern("bearer_token", re.compile(r"\bBearer\s+[A-Za-z0-9._~+/\-]{20,}=*")),
    _Pattern(
        "password",
        re.compile(
            r"(?i)\b\w*(?:pass(?:word|wd|phrase)?|pwd|secret|token|api[_\-]?key|access[_\-]?key"
            r"|private[_\-]?key|auth[_\-]?key|credentials?)\w*[\"']?\s*[:=]\s*\S+"
        ),
        _value_ok,
    ),
    _Pattern(
        # OCR may read a space after a dot of the domain ("example. com").
        "email",
        re.compile(r"\b[\w.%+\-]+@[A-Za-z0-9\-]+(?:\.(?:[A-Za-z0-9\-]+| [a-z]{2,6}\b))+\b"),
        token=False,
    ),
    _Pattern("card_number", re.compile(r"\b\d(?:[ \-]?\d){12,18}\b"), _card_ok, token=False),
    # Written in groups of four, an IBAN is unmistakable (and OCR may spoil its checksum);
    # run together, it must pass its mod-97 check.
    _Pattern(
        "iban",
        re.compile(r"\b[A-Z]{2}\d{2}(?: [A-Z0-9]{4}){3,7}(?: [A-Z0-9]{1,4})?\b"),
        token=False,
    ),
    _Pattern("iban", re.compile(r"\b[A-Z]{2}\d{2}[A-Z0-9]{11,30}\b"), _iban_ok, token=False),
)

_KEY_BLOCK_BEGIN = re.compile(r"BEGIN [A-Z0-9 ]*PRIVATE KEY")
_KEY_BLOCK_END = re.compile(r"END [A-Z0-9 ]*PRIVATE KEY")


def _lines(words: Sequence[Word]) -> list[list[Word]]:
    lines: dict[int, list[Word]] = {}
    for word in words:
        lines.setdefault(word.line, []).append(word)
    return [lines[key] for key in sorted(lines)]


def _line_text(line: Sequence[Word]) -> tuple[str, list[tuple[int, int]]]:
    """The line as one string, and each word's (start, end) in it."""
    spans, parts, position = [], [], 0
    for word in line:
        spans.append((position, position + len(word.text)))
        parts.append(word.text)
        position += len(word.text) + 1
    return " ".join(parts), spans


def _fragment(text: str) -> bool:
    """Whether a word looks like a piece of a token OCR cut off (not an ordinary word)."""
    return bool(_FRAGMENT.fullmatch(text) and _MIXED.search(text))


def _touched(line: Sequence[Word], spans: Sequence[tuple[int, int]], start: int, end: int):
    return tuple(w for w, (a, b) in zip(line, spans, strict=True) if a < end and start < b)


def _key_block(block: Sequence[Word], words: Sequence[Word]) -> Finding:
    """A private key block, with every word whose middle lies between its first line's top and
    its last line's bottom (OCR may put the `-----` of its header on a line of their own)."""
    top = min(w.box[1] for w in block)
    bottom = max(w.box[3] for w in block)
    inside = [w for w in words if top <= (w.box[1] + w.box[3]) / 2 <= bottom]
    return Finding("private_key", tuple(dict.fromkeys([*block, *inside])))


def find_secrets(words: Iterable[Word]) -> list[Finding]:
    """Every suspected secret among `words` (OCR words in reading order)."""
    words = list(words)
    findings: list[Finding] = []
    in_key_block: list[Word] | None = None
    for line in _lines(words):
        text, spans = _line_text(line)
        # A private key block: everything from its BEGIN line to its END line (or to the end
        # of the picture when the END is cut off) is the key.
        if in_key_block is None and _KEY_BLOCK_BEGIN.search(text):
            in_key_block = []
        if in_key_block is not None:
            in_key_block.extend(line)
            if _KEY_BLOCK_END.search(text):
                findings.append(_key_block(in_key_block, words))
                in_key_block = None
            continue
        for pattern in _PATTERNS:
            for match in pattern.regex.finditer(text):
                if pattern.check is not None and not pattern.check(match.group()):
                    continue
                touched = _touched(line, spans, match.start(), match.end())
                if not touched:
                    continue
                if pattern.token:
                    after = line.index(touched[-1]) + 1
                    while after < len(line) and _fragment(line[after].text):
                        touched += (line[after],)
                        after += 1
                findings.append(Finding(pattern.kind, touched))
    if in_key_block:
        findings.append(_key_block(in_key_block, words))
    return findings


def mask_text(words: Sequence[Word], boxes: Iterable[Box]) -> str:
    """The words' text with every word under one of `boxes` shown as [redacted]: the text kept
    and indexed for a redacted picture must not hold what was painted out."""
    painted = list(boxes)
    kept = tuple(
        Word("[redacted]", w.box, w.confidence, w.line, w.block)
        if any(_overlap(w.box, box) for box in painted)
        else w
        for w in words
    )
    return OcrResult(kept, 0, 0).text


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
