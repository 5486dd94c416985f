"""Markdown marks taken out of a text for one-line previews (pure, no Markdown parser).

History's second line and a tray message show the start of an answer; `**`, `#`, backticks and
link targets there are noise. This only removes characters (never adds any), so markers put in
a text beforehand, such as search's private-use match marks, come through in place. It works on
fragments too (a search snippet can begin inside a code block or a link).
"""

from __future__ import annotations

import re

_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})[^\n`]*$", re.MULTILINE)
_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}(?=[ \t]|$)[ \t]*", re.MULTILINE)
_SETEXT = re.compile(r"^[ \t]*(=+|-{2,})[ \t]*$", re.MULTILINE)
_QUOTE = re.compile(r"^[ \t]*(>[ \t]?)+", re.MULTILINE)
_BULLET = re.compile(r"^([ \t]*)[-*+][ \t]+(\[[ xX]\][ \t]+)?", re.MULTILINE)
_RULE = re.compile(r"^[ \t]*([-*_][ \t]*){3,}$", re.MULTILINE)
_TABLE_RULE = re.compile(r"^[ \t]*\|?[ \t]*:?-+:?[ \t]*(\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$", re.M)
_IMAGE_OR_LINK = re.compile(r"!?\[([^\]\n]*)\]\([^)\n]*\)")
_REFERENCE = re.compile(r"!?\[([^\]\n]*)\]\[[^\]\n]*\]")
_AUTOLINK = re.compile(r"<((?:https?|mailto):[^>\s]+)>")
_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1", re.DOTALL)
_EMPHASIS = re.compile(r"(?<![\w*])([*_])(?=[^\s*_])(.+?)(?<=[^\s*_])\1(?![\w*])")
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
_BACKTICKS = re.compile(r"`+")
_TABLE_ROW = re.compile(r"^[ \t]*\|.*\|[ \t]*$", re.MULTILINE)
_LEFTOVER_MARKS = re.compile(r"\*\*|__|~~")


def plain_text(markdown: str) -> str:
    """`markdown` as the words a reader sees: no emphasis marks, heading or quote signs, code
    fences or backticks, link targets (the link's text stays) or table rules."""
    text = _FENCE.sub("", markdown)
    text = _TABLE_RULE.sub("", text)
    text = _RULE.sub("", text)
    text = _SETEXT.sub("", text)
    text = _HEADING.sub("", text)
    text = _QUOTE.sub("", text)
    text = _BULLET.sub(r"\1", text)
    text = _IMAGE_OR_LINK.sub(r"\1", text)
    text = _REFERENCE.sub(r"\1", text)
    text = _AUTOLINK.sub(r"\1", text)
    text = _BACKTICKS.sub("", text)
    text = _STRONG.sub(r"\2", text)
    text = _STRIKE.sub(r"\1", text)
    text = _EMPHASIS.sub(r"\2", text)
    text = _LEFTOVER_MARKS.sub("", text)  # a fragment cut between a pair
    # Pipes go only from table rows: elsewhere a pipe is meant (`ls | grep`).
    return _TABLE_ROW.sub(lambda row: " ".join(row.group(0).replace("|", " ").split()), text)
