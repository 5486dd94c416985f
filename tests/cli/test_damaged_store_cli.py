"""The CLI on damaged store files, damaged for real (issue 17, 10 and 11): a plain message that
names the file and where it was kept, never a traceback; the next command just works."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from snapask_desktop.store import Store
from tests.store.helpers import damage_page, leaf_pages, root_page
from tests.support.cli import snapask


def made(data: Path, conversations: int, words: int = 3) -> None:
    with Store.open(data) as store:
        for n in range(conversations):
            text = " ".join(f"word{n}x{k}" for k in range(words))
            store.start_conversation(f"title {n}", f"question {n} {text}")


def kept(data: Path) -> Path:
    (found,) = [
        p
        for p in data.iterdir()
        if p.name.startswith("snapask.db.damaged-") and not p.name.endswith(("-wal", "-shm"))
    ]
    return found


def test_a_damaged_page_5_is_recovered_with_a_plain_note(isolated_env: Path) -> None:
    data = isolated_env / "data"
    made(data, 12)
    db = data / "snapask.db"
    assert root_page(db, "sqlite_autoindex_meta_1") == 5
    damaged = damage_page(db, 5)
    result = snapask("history")
    assert result.returncode == 0, result.stderr
    assert result.stderr == (
        f"store: the database file {db} was damaged (database disk image is malformed); it was "
        f"kept as {kept(data)}, and everything in it was read into a new one: "
        "12 conversations and 12 messages\n"
    )
    assert len(result.stdout.splitlines()) == 12
    assert kept(data).read_bytes() == damaged
    again = snapask("history")
    assert again.stderr == "" and again.stdout == result.stdout


def test_a_folder_named_like_the_store_is_kept_aside(isolated_env: Path) -> None:
    data = isolated_env / "data"
    (data / "snapask.db").mkdir(parents=True)
    result = snapask("history")
    assert result.returncode == 0, result.stderr
    db = data / "snapask.db"
    assert result.stderr == (
        f"store: the database file {db} was damaged (a folder is in its place); "
        f"it was kept as {kept(data)} and a new one started\nno conversations yet\n"
    )
    assert kept(data).is_dir()


def test_damage_met_by_a_command_is_recovered_by_the_next_one(isolated_env: Path) -> None:
    data = isolated_env / "data"
    made(data, 200, words=12)
    db = data / "snapask.db"
    pages = leaf_pages(db, "message")
    damage_page(db, pages[len(pages) // 2])
    failed = snapask("export", "--output", str(isolated_env / "out"))
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    assert failed.stderr == (
        f"snapask: export failed: the database file {db} is damaged (database disk image is "
        "malformed). The next time SnapAsk opens it (the next snapask command, or the next start "
        "of the app), it is kept aside and what can be read is recovered into a new one\n"
    )
    result = snapask("history", "--limit", "1000")
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith(f"store: the database file {db} was damaged")
    assert "what could be read was recovered into a new one: 200 conversations" in result.stderr
    assert len(result.stdout.splitlines()) == 200
    assert snapask("export", "--output", str(isolated_env / "out2")).returncode == 0


def test_a_store_file_of_another_program_is_a_plain_message_in_every_command(
    isolated_env: Path,
) -> None:
    data = isolated_env / "data"
    data.mkdir(parents=True)
    db = data / "snapask.db"
    connection = sqlite3.connect(db)
    connection.execute("CREATE TABLE invoices (n INTEGER)")
    connection.commit()
    connection.close()
    for command in (["history"], ["sync", "status"]):
        result = snapask(*command)
        assert result.returncode == 1, command
        assert result.stderr == (
            f"snapask: the file {db} is an SQLite database but not a SnapAsk one; it was not "
            "changed. Move it away or choose another data folder.\n"
        ), command
