"""Titles and bubbles for quick actions: the action's name, never its hidden prompt.

A quick action sends a long prompt ("Extract all the text in this image exactly as…"); the user
sees the action's name in their bubble and in the title, and once the first answer is in, the
title gains a few words of it ("Explain: a Python traceback from pip"). No Qt.
"""

from __future__ import annotations

import re

NEW_CHAT_TITLE = "New chat"  # a chat's title until its first question is saved
TITLE_CHARS = 60
# Words that open most answers about a picture and say nothing about it.
_LEAD_IN = re.compile(
    r"^(?:sure[,!.]?\s*|here(?:'s| is| are)\s+(?:the\s+)?(?:extracted\s+)?(?:text|summary|"
    r"translation)?[^:]*:\s*|(?:this|the)\s+(?:image|picture|screenshot)\s+(?:shows|contains|"
    r"is|displays)\s+)",
    re.IGNORECASE,
)
_PREAMBLE = re.compile(r"^(?:sure|here|okay|ok|certainly)\b.*:$", re.IGNORECASE)
_MARKUP = re.compile(r"[#>*_`|~\[\]]+")


def shorten(text: str, limit: int = TITLE_CHARS) -> str:
    """`text` cut at a word to at most `limit` characters, with an ellipsis when cut."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip(" ,;:.-") + "…"


def answer_gist(answer: str) -> str:
    """The first meaningful line of an answer, without Markdown and stock opening words."""
    for line in answer.splitlines():
        if _PREAMBLE.match(line.strip()):
            continue  # "Here is the translation:" announces the answer, it is not the answer
        plain = _MARKUP.sub(" ", line).strip(" -:•\t")
        plain = re.sub(r"^\d+[.)]\s+", "", plain)
        while True:
            trimmed = _LEAD_IN.sub("", plain, count=1).strip()
            if trimmed == plain:
                break
            plain = trimmed
        if len(plain) >= 3:
            return plain[0].upper() + plain[1:]
    return ""


def action_title(label: str, answer: str) -> str:
    """A conversation's title after a quick action's first answer: "<action>: <gist>"."""
    gist = answer_gist(answer)
    return shorten(f"{label}: {gist}") if gist else label
