"""Quick-action titles: the action's name and the gist of the first answer, short."""

from __future__ import annotations

from snapask_desktop.ui.chat.titles import action_title, shorten


def test_the_title_takes_the_first_meaningful_words_of_the_answer() -> None:
    long_answer = "This screenshot shows a Python traceback raised by pip when it cannot find it."
    assert (
        action_title("Explain", long_answer)
        == "Explain: A Python traceback raised by pip when it cannot…"
    )
    assert (
        action_title("Extract text", "## Invoice 2041\n\nTotal: 12") == "Extract text: Invoice 2041"
    )
    assert action_title("Translate", "Here is the translation:\n\nBonjour") == "Translate: Bonjour"
    assert action_title("Summarize", "- **Revenue** grew") == "Summarize: Revenue grew"
    assert action_title("Extract text", "") == "Extract text"  # nothing to add: the name alone


def test_shorten_cuts_at_a_word() -> None:
    assert shorten("a " * 10, 60) == " ".join(["a"] * 10)
    assert len(shorten("word " * 40)) <= 60 and shorten("word " * 40).endswith("word…")
