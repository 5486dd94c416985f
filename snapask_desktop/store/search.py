"""Turning what a user types into a safe FTS5 query, and snippets into text plus spans (pure).

Every term is sent as a quoted FTS5 string, so operators (AND, OR, NOT, NEAR(, ^, *, :, "...)
in user input are plain words and can never cause a syntax error. The last term is a prefix
match, for search as you type.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from snapask_desktop.markdown_plain import plain_text

# Private-use code points mark matches inside snippet() output; user text can't contain them
# in a way that matters because we strip them from the input first.
MARK_START = "\ue000"
MARK_END = "\ue001"
ELLIPSIS = "…"
MAX_TERMS = 16
# A one-letter prefix matches most of the index; wait for the second letter.
MIN_PREFIX_CHARS = 2


def fts_query(user_text: str) -> str | None:
    """The FTS5 MATCH expression for the user's text, or None if nothing searchable remains."""
    terms = _terms(user_text)
    if not terms:
        return None
    quoted = [_quote(term) for term in terms]
    if _last_is_prefix(user_text, terms):
        quoted[-1] += " *"
    return " ".join(quoted)


def _terms(user_text: str) -> list[str]:
    cleaned = user_text.replace(MARK_START, " ").replace(MARK_END, " ")
    return [term for term in cleaned.split() if _has_token(term)][:MAX_TERMS]


def _last_is_prefix(user_text: str, terms: list[str]) -> bool:
    last = terms[-1]
    return sum(ch.isalnum() for ch in last) >= MIN_PREFIX_CHARS and not user_text[-1:].isspace()


def _has_token(term: str) -> bool:
    # unicode61 splits on everything that is not a letter or digit: a term without one would
    # be an empty phrase.
    return any(ch.isalnum() for ch in term)


def _quote(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def parse_marked(
    snippet: str, *, markdown: bool = False
) -> tuple[str, tuple[tuple[int, int], ...]]:
    """Split FTS snippet() output with MARK_START/MARK_END into plain text and
    match spans; `markdown` snippets (messages) lose their Markdown marks and line breaks."""
    if markdown:
        snippet = plain_text(snippet).strip()
    text: list[str] = []
    spans: list[tuple[int, int]] = []
    length = 0
    start: int | None = None
    for ch in snippet:
        if ch == MARK_START:
            start = length
        elif ch == MARK_END:
            if start is not None and length > start:
                spans.append((start, length))
            start = None
        elif markdown and ch.isspace() and text and text[-1] == " ":
            continue  # one line: runs of spaces and line breaks become one space
        else:
            text.append(" " if markdown and ch.isspace() else ch)
            length += 1
    return "".join(text), tuple(spans)


def preview(text: str | None, max_chars: int = 120) -> str:
    """One line of at most ``max_chars`` plain words (no Markdown marks) for the history list."""
    if not text:
        return ""
    line = " ".join(plain_text(text).split())
    if len(line) <= max_chars:
        return line
    return line[: max_chars - 1].rstrip() + ELLIPSIS


# --- matching without the index: messages a large sync brought, before they are indexed

# unicode61 splits on everything that is not a letter, digit or mark; "_" is a separator too.
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True, slots=True)
class Terms:
    """The user's terms as unicode61 sees them: each a phrase of folded words."""

    phrases: tuple[tuple[str, ...], ...]
    prefix: bool  # the last word of the last phrase is a prefix (search as you type)


def fold(text: str) -> str:
    """Lower case without diacritics, as the index compares words (remove_diacritics 2)."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def plain_terms(user_text: str) -> Terms | None:
    """What ``fts_query`` asks of the index, for matching text in Python (None: nothing)."""
    terms = _terms(user_text)
    if not terms:
        return None
    phrases = tuple(tuple(_WORD.findall(fold(term))) for term in terms)
    if not all(phrases):  # a word unicode61 would read otherwise: match nothing, not all
        return None
    return Terms(phrases, _last_is_prefix(user_text, terms))


def marked_match(text: str, terms: Terms, window: int) -> str | None:
    """A snippet of ``text`` (about ``window`` words, matches between MARK_START and MARK_END,
    as FTS5's snippet()) when every term occurs in it, else None."""
    folded_text = fold(text)
    if not all(word in folded_text for phrase in terms.phrases for word in phrase):
        return None  # most rows end here, before splitting into words
    words = list(_WORD.finditer(text))
    folded = [fold(word.group()) for word in words]
    marked: set[int] = set()
    for number, phrase in enumerate(terms.phrases):
        prefix = terms.prefix and number == len(terms.phrases) - 1
        found = _occurrences(folded, phrase, prefix)
        if not found:
            return None
        marked |= found
    first = min(marked)
    start = max(0, min(first - window // 4, len(words) - window))
    end = min(len(words), start + window)
    parts = [ELLIPSIS if start > 0 else text[: words[0].start()]]
    for index in range(start, end):
        word = words[index]
        if index > start:
            parts.append(text[words[index - 1].end() : word.start()])
        parts.append(MARK_START + word.group() + MARK_END if index in marked else word.group())
    parts.append(ELLIPSIS if end < len(words) else text[words[-1].end() :])
    return "".join(parts)


def _occurrences(folded: list[str], phrase: tuple[str, ...], prefix: bool) -> set[int]:
    """Indexes of the words covered by each occurrence of ``phrase`` in ``folded``."""
    size = len(phrase)
    covered: set[int] = set()
    for at in range(len(folded) - size + 1):
        if all(
            folded[at + k] == phrase[k]
            or (prefix and k == size - 1 and folded[at + k].startswith(phrase[k]))
            for k in range(size)
        ):
            covered.update(range(at, at + size))
    return covered
