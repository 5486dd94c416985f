"""Damaged store files, damaged for real: pages of real SQLite files overwritten with junk, a
folder in the file's place, an older file damaged. The damaged file is always kept aside as it
was, what can be read is recovered into a new store, and the store opens (issue 17, 10 and 11).
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from snapask_desktop.store import CorruptDatabase, Store
from snapask_desktop.store.records import ConversationDetail
from snapask_desktop.store.schema import HEAD_REVISION
from tests.store.helpers import damage_page, leaf_pages, png_bytes, root_page, rows

DATA = Path(__file__).resolve().parents[1] / "data"


def fill(store: Store, conversations: int, words: int = 5) -> None:
    """Conversations of a question and an answer each, one picture, pinned, archived, deleted."""
    shot = store.add_screenshot(png_bytes(seed=7))
    for n in range(conversations):
        text = " ".join(f"word{n}x{k}" for k in range(words))
        sha = shot.sha256 if n == 0 else None
        first, _ = store.start_conversation(f"title {n}", f"q{n} {text}", screenshot_sha256=sha)
        store.add_message(first.id, "model", f"a{n} {text}", model="m")
    summaries = store.list_conversations(limit=3)
    store.update_conversation(summaries[0].id, pinned=True)
    store.update_conversation(summaries[1].id, archived=True)
    store.delete_conversation(summaries[2].id)
    store.set_meta("sync_cursor", "42")


def everything(store: Store) -> dict[str, Any]:
    """What a user (and sync) can see of a store."""
    summaries = store.list_conversations(limit=1000, include_archived=True)
    return {
        "history": summaries,
        "details": [store.get_conversation(s.id) for s in summaries],
        "search": [hit.summary.id for hit in store.search("word3x2")],
        "outbox": [(op.op_id, op.record_id) for op in store.outbox_pending(limit=10_000)],
        "device": store.device_id,
        "cursor": store.sync_cursor(),
    }


def made(data_dir: Path, conversations: int, words: int = 5) -> dict[str, Any]:
    with Store.open(data_dir) as store:
        fill(store, conversations, words)
        seen = everything(store)
    assert not data_dir.joinpath("snapask.db-wal").exists()  # all in the main file
    return seen


def kept_files(data_dir: Path) -> list[Path]:
    return sorted(p for p in data_dir.iterdir() if ".damaged-" in p.name)


def test_a_damaged_index_page_met_by_the_first_reads_is_recovered_in_full(
    data_dir: Path,
) -> None:
    # The probe's "page 5 of a small store": the meta table's key index, read at every open.
    before = made(data_dir, 40)
    path = data_dir / "snapask.db"
    assert root_page(path, "sqlite_autoindex_meta_1") == 5
    damaged = damage_page(path, 5)
    with Store.open(data_dir) as store:
        notice = store.recovered
        assert isinstance(notice, CorruptDatabase) and notice.kept_as is not None
        assert notice.kept_as.read_bytes() == damaged  # kept as it was found
        assert str(notice) == (
            f"the database file {path} was damaged (database disk image is malformed); it was "
            f"kept as {notice.kept_as}, and everything in it was read into a new one: "
            "40 conversations and 80 messages"
        )
        assert everything(store) == before  # the device id and the outbox too
    assert kept_files(data_dir) == [notice.kept_as, *_side_files(notice.kept_as)]
    with Store.open(data_dir) as again:  # the new file is sound: nothing more is set aside
        assert again.recovered is None
    assert kept_files(data_dir) == [notice.kept_as, *_side_files(notice.kept_as)]


def _side_files(kept: Path) -> list[Path]:
    return [p for p in (kept.with_name(kept.name + s) for s in ("-shm", "-wal")) if p.exists()]


def test_a_store_damaged_only_in_its_schema_version_page_keeps_every_conversation(
    data_dir: Path,
) -> None:
    # The probe's "damage on page 2 only": every conversation is readable, none may be lost.
    before = made(data_dir, 40)
    path = data_dir / "snapask.db"
    assert root_page(path, "alembic_version") == 2
    damaged = damage_page(path, 2)
    path.with_name("snapask.db.recovering").write_bytes(b"left by a salvage that was cut short")
    with Store.open(data_dir) as store:
        notice = store.recovered
        assert isinstance(notice, CorruptDatabase) and notice.recovered_all
        assert notice.kept_as is not None and notice.kept_as.read_bytes() == damaged
        assert str(notice).endswith("everything in it was read into a new one: "
                                    "40 conversations and 80 messages")  # fmt: skip
        assert everything(store) == before
        assert len(store.list_conversations(limit=100)) == 38  # History: all but the hidden two
    assert not path.with_name("snapask.db.recovering").exists()
    connection = sqlite3.connect(path)
    try:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        for index in ("message_fts", "conversation_fts"):
            check = f"INSERT INTO {index} ({index}) VALUES ('integrity-check')"
            connection.execute(check)  # raises if the full-text index disagrees with the rows
    finally:
        connection.close()


def test_a_folder_in_place_of_the_file_is_kept_aside_and_a_new_store_started(
    data_dir: Path,
) -> None:
    path = data_dir / "snapask.db"
    path.mkdir(parents=True)
    path.joinpath("notes.txt").write_text("mine", encoding="utf-8")
    with Store.open(data_dir) as store:
        notice = store.recovered
        assert isinstance(notice, CorruptDatabase) and notice.kept_as is not None
        assert str(notice) == (
            f"the database file {path} was damaged (a folder is in its place); "
            f"it was kept as {notice.kept_as} and a new one started"
        )
        assert notice.kept_as.joinpath("notes.txt").read_text(encoding="utf-8") == "mine"
        store.create_conversation("fresh start")
        assert [s.title for s in store.list_conversations()] == ["fresh start"]
    assert path.is_file()


def test_a_damaged_page_of_messages_costs_only_the_messages_on_it(data_dir: Path) -> None:
    before = made(data_dir, 300, words=12)
    path = data_dir / "snapask.db"
    pages = leaf_pages(path, "message")
    assert len(pages) > 10
    damage_page(path, pages[len(pages) // 2])
    with Store.open(data_dir) as store:  # what an open reads is sound
        assert store.recovered is None
        with pytest.raises(CorruptDatabase) as raised:
            for summary in before["history"]:
                store.get_conversation(summary.id)
    assert str(raised.value) == (
        f"the database file {path} is damaged (database disk image is malformed). The next time "
        "SnapAsk opens it (the next snapask command, or the next start of the app), it is kept "
        "aside and what can be read is recovered into a new one"
    )
    with Store.open(data_dir) as store:
        notice = store.recovered
        assert isinstance(notice, CorruptDatabase) and not notice.recovered_all
        after = everything(store)
        assert [s.id for s in after["history"]] == [s.id for s in before["history"]]
        old = {m.id: m for d in before["details"] for m in d.messages}
        new = {m.id: m for d in after["details"] for m in d.messages}
        lost = old.keys() - new.keys()
        assert 0 < len(lost) < 40 and all(old[i] == m for i, m in new.items())
        (stored,) = rows(path, "SELECT count(*) AS n FROM message")
        assert stored["n"] < 600 and notice.salvage is not None
        assert notice.salvage.count("message") == stored["n"]
        assert str(notice).endswith(
            f"it was kept as {notice.kept_as}, and what could be read was recovered into a new "
            f"one: 300 conversations and {stored['n']} messages. Some of it could not be read; "
            "if you use sync, the rest comes back from the server at the next sync"
        )
        # Sync starts over: every record queued again and everything pulled again.
        assert after["cursor"] == 0 and after["device"] == before["device"]
        queued = {record for _op, record in after["outbox"]}
        assert queued >= {s.id for s in after["history"]} | new.keys()
    assert not path.with_name("snapask.db.needs-check").exists()


def test_a_damaged_older_file_is_recovered_and_upgraded(data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    path = data_dir / "snapask.db"
    shutil.copyfile(DATA / "snapask-v3.db", path)  # written by the schema-0003 store
    with Store.open(data_dir) as first:  # as it reads when only upgraded
        expected = _titles_and_texts(first)
    shutil.copyfile(DATA / "snapask-v3.db", path)
    assert root_page(path, "alembic_version") == 2
    damage_page(path, 2)  # its revision can no longer be read: the tables tell it
    with Store.open(data_dir) as store:
        assert store.recovered is not None and store.recovered.recovered_all
        assert _titles_and_texts(store) == expected
    assert rows(path, "SELECT version_num FROM alembic_version") == [{"version_num": HEAD_REVISION}]


def _titles_and_texts(store: Store) -> list[tuple[str, list[str]]]:
    details: list[ConversationDetail] = [
        store.get_conversation(s.id) for s in store.list_conversations(include_archived=True)
    ]
    return [(d.conversation.title, [m.text for m in d.messages]) for d in details]


def test_a_file_refused_instead_of_recovered_is_left_as_it_was(data_dir: Path) -> None:
    made(data_dir, 5)
    path = data_dir / "snapask.db"
    damaged = damage_page(path, 5)
    with pytest.raises(CorruptDatabase, match="it was left untouched"):
        Store.open(data_dir, recover_damaged=False)
    assert path.read_bytes() == damaged
    assert kept_files(data_dir) == []


def test_a_row_the_schema_refuses_is_left_behind_and_the_rest_of_its_batch_kept(
    data_dir: Path,
) -> None:
    made(data_dir, 30)
    path = data_dir / "snapask.db"
    connection = sqlite3.connect(path)
    try:  # what a damaged page can decode into: a row no SnapAsk ever wrote
        connection.execute("PRAGMA ignore_check_constraints = ON")
        connection.execute("UPDATE message SET role = 'garbage' WHERE rid = 7")
        connection.commit()
    finally:
        connection.close()
    damage_page(path, 2)
    with Store.open(data_dir) as store:
        notice = store.recovered
        assert notice is not None and notice.salvage is not None
        assert notice.salvage.refused == 1 and not notice.recovered_all
        assert notice.salvage.count("message") == 59
    assert rows(path, "SELECT count(*) AS n FROM message WHERE rid = 7") == [{"n": 0}]
