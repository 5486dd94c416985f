"""Markdown marks taken out of one-line previews (History's second line, search snippets)."""

from __future__ import annotations

from snapask_desktop.markdown_plain import plain_text


def words(text: str) -> str:
    return " ".join(plain_text(text).split())


def test_emphasis_headings_code_and_links_become_plain_words() -> None:
    answer = (
        "## The fix\n\n"
        "The **`archived_at`** column is *missing*; see [the docs](https://example.com/x) "
        "or <https://example.org>.\n\n"
        "```python\nprint('hi')\n```\n\n"
        "> quoted\n\n"
        "- one\n* two\n1. three\n\n"
        "| a | b |\n|---|:--:|\n| 1 | 2 |\n\n"
        "~~old~~ __bold__ ![chart](c.png)\n\n---\n"
    )
    assert words(answer) == (
        "The fix The archived_at column is missing; see the docs or https://example.org. "
        "print('hi') quoted one two 1. three a b 1 2 old bold chart"
    )


def test_meant_characters_stay() -> None:
    assert words("Run `ls | grep x` then 2 * 3 * 4 = 24, snake_case_name and C# too.") == (
        "Run ls | grep x then 2 * 3 * 4 = 24, snake_case_name and C# too."
    )


def test_a_fragment_cut_inside_marks_loses_the_leftover_marks() -> None:
    assert words("…the **important part") == "…the important part"
    assert words("python\nx = 1\n```\n\nAfter") == "python x = 1 After"


def test_markers_put_in_beforehand_keep_their_place() -> None:
    start, end = "\ue000", "\ue001"
    marked = f"Use **{start}make{end}** and [{start}docs{end}](https://x.y)"
    assert plain_text(marked) == f"Use {start}make{end} and {start}docs{end}"
