"""Full-text search: prefixes, diacritics, any user input, snippets, deleted excluded."""

from __future__ import annotations

import sqlite3

import pytest

from snapask_desktop.store import Store
from snapask_desktop.store.search import fts_query, parse_marked


@pytest.fixture
def filled(store: Store) -> dict[str, str]:
    """A few conversations; returns name -> conversation id."""
    made: dict[str, str] = {}
    receipt = store.create_conversation("Café receipt")
    store.add_message(receipt.id, "user", "What is the total on this reçu?")
    store.add_message(receipt.id, "model", "The total is 42,50 € including VAT and tip.")
    made["receipt"] = receipt.id
    code = store.create_conversation("Stack trace")
    store.add_message(code.id, "user", "Why does Python raise KeyError here?")
    store.add_message(code.id, "model", "The dictionary has no key 'naïve'; NEAR(the top).")
    made["code"] = code.id
    cjk = store.create_conversation("東京の地図")
    store.add_message(cjk.id, "user", "この 地図 は どこ ですか")
    made["cjk"] = cjk.id
    return made


def ids(hits: list) -> list[str]:  # type: ignore[type-arg]
    return [hit.summary.id for hit in hits]


def test_plain_word_finds_messages_with_a_marked_snippet(
    store: Store, filled: dict[str, str]
) -> None:
    [hit] = store.search("keyerror")
    assert hit.summary.id == filled["code"]
    assert hit.matched_in == "message"
    assert hit.message_id == store.get_conversation(filled["code"]).messages[0].id
    assert hit.marked() == "Why does Python raise [KeyError] here?"
    assert hit.snippet == "Why does Python raise KeyError here?"
    assert hit.highlights == ((22, 30),)


def test_last_term_is_a_prefix(store: Store, filled: dict[str, str]) -> None:
    assert ids(store.search("dictio")) == [filled["code"]]
    assert ids(store.search("pyth")) == [filled["code"]]
    assert store.search("pyth ") == []  # a finished word is matched whole
    assert ids(store.search("python rai")) == [filled["code"]]
    assert store.search("pyth raise") == []  # only the last term is a prefix


def test_diacritics_fold_both_ways(store: Store, filled: dict[str, str]) -> None:
    assert ids(store.search("recu")) == [filled["receipt"]]
    assert ids(store.search("reçu")) == [filled["receipt"]]
    assert ids(store.search("NAIVE")) == [filled["code"]]
    assert ids(store.search("cafe")) == [filled["receipt"]]
    [title_hit] = store.search("café")
    assert title_hit.matched_in == "title"
    assert title_hit.marked("<b>", "</b>") == "<b>Café</b> receipt"


def test_non_latin_scripts(store: Store, filled: dict[str, str]) -> None:
    assert ids(store.search("地図")) == [filled["cjk"]]
    assert ids(store.search("東京の地図")) == [filled["cjk"]]


@pytest.mark.parametrize(
    "user_text",
    [
        '"',
        '""',
        '"unbalanced',
        "*",
        "total*",
        "* total",
        "AND",
        "total AND",
        "OR total",
        "NOT total",
        "NEAR(",
        "NEAR(total vat",
        "total NEAR( vat)",
        "(",
        ")",
        "^total",
        "total:",
        "title:total",
        "col:",
        "{total}",
        "-total",
        "+",
        "'",
        "\\",
        "🙂",
        "   ",
        "",
        "total\x01",
        "a" * 900,
    ],
)
def test_any_user_input_is_safe(store: Store, filled: dict[str, str], user_text: str) -> None:
    hits = store.search(user_text)
    assert all(hit.summary.id in filled.values() for hit in hits)


def test_operators_are_plain_words(store: Store, filled: dict[str, str]) -> None:
    assert ids(store.search("total AND")) == [filled["receipt"]]  # "and" is a word here
    assert ids(store.search('"total"')) == [filled["receipt"]]
    assert ids(store.search("NEAR(the")) == [filled["code"]]
    assert store.search("total OR keyerror") == []  # OR is a word: every term must match


def test_deleted_conversations_never_show(store: Store, filled: dict[str, str]) -> None:
    store.delete_conversation(filled["receipt"])
    assert store.search("total") == []
    assert store.search("café") == []
    assert ids(store.search("keyerror")) == [filled["code"]]


def test_archived_conversations_are_found(store: Store, filled: dict[str, str]) -> None:
    store.update_conversation(filled["code"], archived=True)
    [hit] = store.search("keyerror")
    assert hit.summary.archived is True


def test_renamed_title_is_reindexed(store: Store, filled: dict[str, str]) -> None:
    store.update_conversation(filled["code"], title="Dictionary trouble")
    assert store.search("stack") == []
    [hit] = store.search("trouble")
    assert (hit.summary.id, hit.matched_in) == (filled["code"], "title")


def test_one_hit_per_conversation_newest_first_and_limited(store: Store) -> None:
    made = []
    for i in range(6):
        conversation = store.create_conversation(f"chat {i}")
        for j in range(3):
            store.add_message(conversation.id, "user", f"shared word number {j}")
        made.append(conversation.id)
    assert ids(store.search("shared")) == list(reversed(made))
    assert ids(store.search("shared", limit=2)) == list(reversed(made))[:2]
    store.add_message(made[0], "model", "shared again, later")
    assert ids(store.search("shared"))[0] == made[0]


def test_fts_index_stays_consistent(store: Store, filled: dict[str, str]) -> None:
    store.update_conversation(filled["receipt"], title="Renamed")
    store.delete_conversation(filled["cjk"])
    connection = sqlite3.connect(store.path)
    for table in ("message_fts", "conversation_fts"):
        connection.execute(f"INSERT INTO {table} ({table}) VALUES ('integrity-check')")
    connection.close()


def test_query_builder_quotes_everything() -> None:
    assert fts_query('say "hi" NEAR(x') == '"say" """hi""" "NEAR(x" *'
    assert fts_query("a") == '"a"'  # a one-letter prefix would match half the index
    assert fts_query("ab ") == '"ab"'
    assert fts_query("* ( ) ^") is None
    assert parse_marked("a \ue000b\ue001 c") == ("a b c", ((2, 3),))


def test_snippets_and_previews_show_plain_words_not_markdown(store: Store) -> None:
    chat = store.create_conversation("Migration")
    store.add_message(chat.id, "user", "why?")
    store.add_message(
        chat.id,
        "model",
        "## The fix\n\nRun **`python manage.py migrate`** as [the guide](https://x.example) says.",
    )
    [summary] = store.list_conversations()
    assert summary.preview == "The fix Run python manage.py migrate as the guide says."
    [hit] = store.search("guide")
    assert hit.marked() == "The fix Run python manage.py migrate as the [guide] says."
