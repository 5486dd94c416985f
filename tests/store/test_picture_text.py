"""The text read from pictures: kept per picture, found by History search, gone with it."""

from __future__ import annotations

import pytest

from snapask_desktop.store import Store
from snapask_desktop.store.errors import InvalidInput, NotFound
from tests.store.helpers import png_bytes


def _conversation_with_picture(store: Store, question: str, seed: int = 0) -> tuple[str, str]:
    shot = store.add_screenshot(png_bytes(seed=seed))
    conversation, _ = store.start_conversation(question, question, screenshot_sha256=shot.sha256)
    return conversation.id, shot.sha256


def test_the_text_is_kept_and_replaced(store: Store) -> None:
    _, sha = _conversation_with_picture(store, "what is this?")
    assert store.screenshot_text(sha) is None
    store.set_screenshot_text(sha, "Traceback KeyError: 'quux'", "tesseract 5.5.4")
    assert store.screenshot_text(sha) == "Traceback KeyError: 'quux'"
    store.set_screenshot_text(sha, "read again", "tesseract 5.5.4")
    assert store.screenshot_text(sha) == "read again"


def test_search_finds_a_word_that_is_only_in_the_picture(store: Store) -> None:
    with_text, sha = _conversation_with_picture(store, "what does this error mean?", seed=1)
    _conversation_with_picture(store, "and this one?", seed=2)
    store.set_screenshot_text(sha, "Traceback (most recent call last)\nKeyError: 'zygomorph'", "t")
    [hit] = store.search("zygomorph")
    assert hit.summary.id == with_text and hit.in_picture and hit.matched_in == "message"
    assert hit.marked() == "Traceback (most recent call last)\nKeyError: '[zygomorph]'"
    assert [h.summary.id for h in store.search("zygo")] == [with_text]  # as you type
    # replaced text is searched, the old words are not
    store.set_screenshot_text(sha, "nothing here", "t")
    assert store.search("zygomorph") == []
    assert not store.search("what")[0].in_picture  # a typed match stays a typed match


def test_one_picture_in_two_conversations_finds_both(store: Store) -> None:
    first, sha = _conversation_with_picture(store, "first look", seed=3)
    second, same = _conversation_with_picture(store, "second look", seed=3)
    assert sha == same
    store.set_screenshot_text(sha, "invoice number 4471", "t")
    assert {h.summary.id for h in store.search("invoice")} == {first, second}


def test_deleted_conversations_stay_out_and_a_purged_picture_takes_its_text(store: Store) -> None:
    cid, sha = _conversation_with_picture(store, "temporary", seed=4)
    store.set_screenshot_text(sha, "quarantine notice", "t")
    store.delete_conversation(cid)
    assert store.search("quarantine") == []
    with store._write_conn() as conn:  # what a purge (sync-protocol.md section 10) does
        from snapask_desktop.store.purge import purge_conversation

        purge_conversation(conn, cid, [sha])
    with pytest.raises(NotFound):
        store.screenshot_info(sha)
    assert store.screenshot_text(sha) is None


def test_text_for_an_unknown_picture_or_bad_text_is_refused(store: Store) -> None:
    with pytest.raises(NotFound):
        store.set_screenshot_text("ab" * 32, "text", "t")
    _, sha = _conversation_with_picture(store, "q", seed=5)
    with pytest.raises(InvalidInput):
        store.set_screenshot_text(sha, "nul\x00byte", "t")
    with pytest.raises(InvalidInput):
        store.set_screenshot_text("not a hash", "text", "t")


def test_a_damaged_file_keeps_the_text_of_its_pictures(data_dir) -> None:
    import sqlite3

    from tests.store.helpers import damage_page, root_page

    with Store.open(data_dir) as store:
        cid, sha = _conversation_with_picture(store, "receipt", seed=6)
        store.set_screenshot_text(sha, "Brasserie total 42,50", "tesseract 5.5.4")
    path = data_dir / "snapask.db"
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    damage_page(path, root_page(path, "alembic_version"))  # the revision is told by the tables
    with Store.open(data_dir) as store:
        assert store.recovered is not None and store.recovered.recovered_all
        assert store.screenshot_text(sha) == "Brasserie total 42,50"
        assert [h.summary.id for h in store.search("brasserie")] == [cid]
