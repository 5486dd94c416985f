"""A large sync's messages are indexed for search after it (revision 0007, store/backlog.py):
found meanwhile without the index, every one in the index afterwards, and a crash while
indexing (a real SIGKILL inside an indexing step) resumes without losing an entry."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

from snapask_desktop.store import Store
from snapask_desktop.store.backlog import DEFER_MIN_MESSAGES
from snapask_desktop.sync.records import PurgeRecord
from tests.store.helpers import rows
from tests.store.sync_fixtures import ServerLog, an_hour_ago, remote_conversation, remote_message

ROOT = Path(__file__).resolve().parents[2]
MESSAGES = DEFER_MIN_MESSAGES + 50
QUERIES = ("zebra", "zeb", "quokka", "naïve", "NAIVE café", "wombat seven", "wom", "nothinghere")


def text_of(number: int) -> str:
    """Message text with a word of its own (``tok<n>``) and a few shared ones."""
    animal = ("zebra crossing", "quokka smile", "wombat seven")[number // 2 % 3]
    accents = " a naïve café order" if number % 10 == 0 else ""
    return f"Message tok{number} about the {animal}{accents}, **bold** words."


def holding(word: str, ids: list[str]) -> set[str]:
    """The conversations of ``large_sync(ids)`` with a message holding ``word``."""
    return {ids[n % len(ids)] for n in range(MESSAGES) if word in text_of(n)}


def large_sync(log: ServerLog, conversations: int = 3) -> list[str]:
    """A log with ``conversations`` conversations holding MESSAGES messages between them."""
    at = an_hour_ago()
    ids = []
    for index in range(conversations):
        state = remote_conversation(f"Conversation {index}", at=at + index)
        log.add(state)
        ids.append(state.id)
    for number in range(MESSAGES):
        cid = ids[number % conversations]
        log.add(remote_message(cid, text_of(number), at=at + 1000 + number))
    return ids


def indexed_rowids(path: Path) -> set[int]:
    """The rowids the full-text index holds (its doclists, not the content table)."""
    connection = sqlite3.connect(path)
    try:
        connection.execute(
            "CREATE VIRTUAL TABLE temp.fts_terms USING fts5vocab(main, message_fts, instance)"
        )
        return {row[0] for row in connection.execute("SELECT DISTINCT doc FROM temp.fts_terms")}
    finally:
        connection.close()


def check_index_matches_the_mark(path: Path) -> None:
    """Every message below the mark is in the index, none at or above it."""
    [mark] = rows(path, "SELECT coalesce(max(from_rid), 1 << 62) AS m FROM message_fts_backlog")
    below = {r["rid"] for r in rows(path, "SELECT rid FROM message WHERE rid < ?", mark["m"])}
    assert indexed_rowids(path) == below


def check_whole_index(path: Path) -> None:
    connection = sqlite3.connect(path)
    try:
        connection.execute("INSERT INTO message_fts (message_fts) VALUES ('integrity-check')")
    finally:
        connection.close()


def hits(store: Store, text: str) -> list[tuple[str, str | None, str, tuple[str, ...]]]:
    """What a search shows: conversation, message, where, and the highlighted words."""
    found = []
    for hit in store.search(text):
        words = tuple(sorted(hit.snippet[a:b].lower() for a, b in hit.highlights))
        found.append((hit.summary.id, hit.message_id, hit.matched_in, words))
    return found


def test_a_large_page_is_indexed_after_it_and_found_meanwhile(store: Store) -> None:
    log = ServerLog()
    ids = large_sync(log)
    [report] = log.catch_up(store)
    assert report.search_backlog
    assert store.search_backlog() == MESSAGES
    assert indexed_rowids(store.path) == set()  # the page wrote no index entries
    [hit] = store.search(f"tok{MESSAGES - 1} ")  # a whole word: tok1 is a prefix of tok10
    assert hit.summary.id == ids[(MESSAGES - 1) % 3] and hit.matched_in == "message"
    assert hit.marked().startswith(f"Message [tok{MESSAGES - 1}] about the ")
    meanwhile = {query: hits(store, query) for query in QUERIES}

    assert store.index_search_backlog(max_rows=60) == MESSAGES - 60
    check_index_matches_the_mark(store.path)
    assert {q: hits(store, q) for q in QUERIES} == meanwhile  # half indexed: the same
    while store.index_search_backlog(max_rows=60):
        check_index_matches_the_mark(store.path)

    assert store.search_backlog() == 0
    assert rows(store.path, "SELECT * FROM message_fts_backlog") == []
    check_whole_index(store.path)
    assert {q: hits(store, q) for q in QUERIES} == meanwhile
    assert meanwhile["zeb"] and meanwhile["NAIVE café"] and meanwhile["nothinghere"] == []
    for number in range(MESSAGES):
        [hit] = store.search(f"tok{number} ")
        assert hit.summary.id == ids[number % 3]


def test_a_small_page_is_indexed_with_it_as_before(store: Store) -> None:
    log = ServerLog()
    conversation = remote_conversation("Few")
    log.add(conversation)
    log.add(remote_message(conversation.id, "a lonely aardvark"))
    [report] = log.catch_up(store)
    assert not report.search_backlog and store.search_backlog() == 0
    assert len(indexed_rowids(store.path)) == 1
    assert [h.summary.id for h in store.search("aardv")] == [conversation.id]


def test_messages_written_or_removed_while_the_backlog_waits_keep_the_index_whole(
    store: Store,
) -> None:
    log = ServerLog()
    ids = large_sync(log)
    log.catch_up(store)
    local = store.add_message(ids[0], "user", "typed meanwhile: platypus")
    assert store.search_backlog() == MESSAGES + 1
    assert [h.message_id for h in store.search("platyp")] == [local.id]
    store.index_search_backlog(max_rows=40)
    # the purge removes indexed and unindexed messages alike
    log.add(PurgeRecord(ids[1], ()), device_id=None)
    log.catch_up(store)
    check_index_matches_the_mark(store.path)
    while store.index_search_backlog(max_rows=40):
        pass
    check_whole_index(store.path)
    assert [h.summary.id for h in store.search("platypus")] == [ids[0]]
    assert {h.summary.id for h in store.search("zebra")} == holding("zebra", ids) - {ids[1]}


def test_a_backlog_of_only_purged_messages_just_ends(store: Store) -> None:
    log = ServerLog()
    ids = large_sync(log, conversations=1)
    log.catch_up(store)
    log.add(PurgeRecord(ids[0], ()), device_id=None)
    log.catch_up(store)
    assert store.search_backlog() == 0  # nothing past the mark any more
    assert store.index_search_backlog() == 0
    assert rows(store.path, "SELECT * FROM message_fts_backlog") == []
    check_whole_index(store.path)


KILLED_MID_STEP = """
import os, signal, sys
from pathlib import Path
from sqlalchemy import event
from snapask_desktop.store import Store

store = Store.open(Path(sys.argv[1]))
print(store.index_search_backlog(max_rows=50), flush=True)  # one whole step

def die(*_args):
    os.kill(os.getpid(), signal.SIGKILL)

@event.listens_for(store._engine, "begin")
def kill_inside(conn):
    raw = conn.connection.driver_connection
    def watch(sql):  # a crash in the middle of the next step's INSERT into the index
        if sql.lstrip().startswith("INSERT INTO message_fts"):
            raw.set_progress_handler(die, 200)
    raw.set_trace_callback(watch)

store.index_search_backlog(max_rows=50)
print("not killed", flush=True)
"""


def test_a_crash_inside_an_indexing_step_loses_nothing_and_resumes(data_dir: Path) -> None:
    log = ServerLog()
    large_sync(log)
    with Store.open(data_dir) as store:
        log.catch_up(store)
        messages = {r["id"]: r["text"] for r in rows(store.path, "SELECT id, text FROM message")}
    child = subprocess.run(
        [sys.executable, "-c", KILLED_MID_STEP, str(data_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert child.stdout.split() == [str(MESSAGES - 50)]  # killed inside the second step
    path = data_dir / "snapask.db"
    assert rows(path, "PRAGMA integrity_check") == [{"integrity_check": "ok"}]
    check_index_matches_the_mark(path)  # the first step kept, the second rolled back whole
    with Store.open(data_dir) as store:
        assert store.recovered is None
        assert store.search_backlog() == MESSAGES - 50
        while store.index_search_backlog(max_rows=50):
            pass
        check_whole_index(store.path)
        for message_id, text in messages.items():
            token = text.split()[1]
            assert [h.message_id for h in store.search(token + " ")] == [message_id]


def test_the_downgrade_indexes_what_was_left(data_dir: Path) -> None:
    from snapask_desktop.store import migrate

    log = ServerLog()
    ids = large_sync(log)
    with Store.open(data_dir) as store:
        log.catch_up(store)
        store.index_search_backlog(max_rows=10)
    path = data_dir / "snapask.db"
    migrate.downgrade(path, "0006")
    check_whole_index(path)
    assert len(indexed_rowids(path)) == MESSAGES
    with Store.open(data_dir) as store:  # and up again
        assert store.search_backlog() == 0
        assert {h.summary.id for h in store.search("quokka")} == holding("quokka", ids)


def test_an_unknown_conversations_messages_stay_out_of_sight_meanwhile(store: Store) -> None:
    cid = str(uuid.uuid4())
    log = ServerLog()
    for number in range(MESSAGES):
        log.add(remote_message(cid, text_of(number)))
    log.catch_up(store)
    assert store.search_backlog() == MESSAGES
    assert store.search("zebra") == []
