"""`snapask rename/pin/archive/delete/restore` as a user runs them, on a real data folder: the
change is in the store and queued in the outbox for sync; mistakes are plain errors."""

from __future__ import annotations

import json
from pathlib import Path

from snapask_desktop.store import Store
from tests.support.cli import snapask


def made(data: Path, *titles: str) -> list[str]:
    with Store.open(data) as store:
        return [store.start_conversation(t, f"question about {t}")[0].id for t in titles]


def rows(*args: str) -> dict[str, dict]:
    result = snapask("history", "--json", *args)
    assert result.returncode == 0, result.stderr
    return {row["id"]: row for row in json.loads(result.stdout)}


def queued(data: Path, conversation_id: str) -> dict:
    """The newest state of the conversation waiting in the outbox to be sent."""
    with Store.open(data) as store:
        ops = [op for op in store.outbox_pending(1000) if op.record_id == conversation_id]
    return ops[-1].payload


def test_rename_by_prefix_is_saved_and_queued_for_sync(isolated_env: Path) -> None:
    data = isolated_env / "data"
    (cid,) = made(data, "old title")
    result = snapask("rename", cid[:6], "Disk full on build box")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"renamed {cid[:8]}: Disk full on build box"
    assert rows()[cid]["title"] == "Disk full on build box"
    assert queued(data, cid)["title"] == "Disk full on build box"


def test_pin_and_unpin(isolated_env: Path) -> None:
    (cid,) = made(isolated_env / "data", "a")
    assert snapask("pin", cid[:8]).stdout.startswith(f"pinned {cid[:8]}")
    assert rows()[cid]["pinned"] is True
    assert snapask("pin", cid[:8], "--off").returncode == 0
    assert rows()[cid]["pinned"] is False


def test_archive_hides_from_history_and_off_brings_it_back(isolated_env: Path) -> None:
    (cid,) = made(isolated_env / "data", "a")
    assert snapask("archive", cid).returncode == 0
    assert cid not in rows()
    assert rows("--archived")[cid]["archived"] is True
    assert snapask("archive", cid[:8], "--off").returncode == 0
    assert rows()[cid]["archived"] is False


def test_delete_then_restore_by_the_printed_prefix(isolated_env: Path) -> None:
    data = isolated_env / "data"
    cid, other = made(data, "to delete", "kept")
    deleted = snapask("delete", cid[:8])
    assert deleted.returncode == 0, deleted.stderr
    assert deleted.stdout.strip() == f"deleted {cid[:8]}: to delete"
    assert f"snapask restore {cid[:8]}" in deleted.stderr
    assert set(rows("--archived")) == {other}
    assert queued(data, cid)["deleted"] is True
    shown = snapask("show", cid[:8])
    assert shown.returncode == 1
    restored = snapask("restore", cid[:8])
    assert restored.returncode == 0, restored.stderr
    assert set(rows()) == {cid, other}
    assert queued(data, cid)["deleted"] is False


def test_mistakes_are_plain_errors_with_exit_codes(isolated_env: Path) -> None:
    live, _ = made(isolated_env / "data", "a", "b")
    unknown = snapask("pin", "ffffffff")
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == "snapask: no conversation id starts with 'ffffffff'"
    # restore looks only among deleted conversations: a live one is not found there
    not_deleted = snapask("restore", live[:8])
    assert not_deleted.returncode == 1
    assert "no deleted conversation id starts with" in not_deleted.stderr
    bad = snapask("delete", "not-an-id!")
    assert bad.returncode == 1
    assert "is not an id or id prefix" in bad.stderr
    empty = snapask("rename", live[:8], "  ")
    assert empty.returncode == 2
    assert empty.stderr.strip() == "snapask: the title is empty"
    assert snapask("archive").returncode == 2  # argparse usage error
    assert "Traceback" not in unknown.stderr + not_deleted.stderr + bad.stderr
