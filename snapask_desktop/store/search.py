"""Turning what a user types into a safe FTS5 query, and snippets into text plus spans (pure).

Every term is sent as a quoted FTS5 string, so operators (AND, OR, NOT, NEAR(, ^, *, :, "...)
in user input are plain words and can never cause a syntax error. The last term is a prefix
match, for search as you type.
"""

from __future__ import annotations

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
    cleaned = user_text.replace(MARK_START, " ").replace(MARK_END, " ")
    terms = [term for term in cleaned.split() if _has_token(term)][:MAX_TERMS]
    if not terms:
        return None
    quoted = [_quote(term) for term in terms]
    last = terms[-1]
    if sum(ch.isalnum() for ch in last) >= MIN_PREFIX_CHARS and not user_text[-1:].isspace():
        quoted[-1] += " *"
    return " ".join(quoted)


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
