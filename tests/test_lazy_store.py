"""The store opens on first use: start-up reads go through plain sqlite3 and SQLAlchemy arrives
with the first save. Real files, real threads, the real chat UI in a subprocess."""

from __future__ import annotations

import hashlib
import logging
import shutil
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import cast

import pytest

from snapask_desktop.answer_queue import META_KEY, AnswerQueue
from snapask_desktop.chat import Answer
from snapask_desktop.config import Settings
from snapask_desktop.services import LazyStore, Services
from snapask_desktop.store import NotOurDatabase, Store
from snapask_desktop.store.backlog import DEFER_MIN_MESSAGES
from snapask_desktop.store.schema import DB_FILENAME
from tests.store.sync_fixtures import ServerLog, remote_conversation, remote_message

ROOT = Path(__file__).resolve().parents[1]
V1_FILE = ROOT / "tests" / "data" / "snapask-v1.db"


def never_asked(conversation_id: str) -> Answer:
    raise AssertionError(f"nothing should be sent here ({conversation_id})")


def foreign_file(data_dir: Path) -> Path:
    data_dir.mkdir(parents=True)
    path = data_dir / DB_FILENAME
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE invoices (n INTEGER)")
    connection.commit()
    connection.close()
    return path


def test_services_neither_open_nor_create_the_store_until_used(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with Services(Settings(), data_dir) as services:
        assert services.lazy_store.recent(5) == []
        assert not services.lazy_store.is_open
    assert not (data_dir / DB_FILENAME).exists()
    with Services(Settings(), data_dir) as services:
        saved = services.chat.start_conversation("first question")
        assert services.lazy_store.is_open
        assert [row.id for row in services.lazy_store.recent(5)] == [saved.conversation_id]
        assert services.store.get_conversation(saved.conversation_id).messages == (saved,)


def test_threads_racing_to_first_use_share_one_store(tmp_path: Path) -> None:
    lazy = LazyStore(tmp_path / "data")
    start = threading.Barrier(8)
    opened: list[Store] = []

    def use() -> None:
        start.wait()
        opened.append(lazy.get())

    threads = [threading.Thread(target=use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    try:
        assert len(opened) == 8 and all(store is opened[0] for store in opened)
        conversation = lazy.create_conversation("through the handle")  # Store API forwarded
        assert lazy.list_conversations()[0].id == conversation.id
    finally:
        lazy.close()


def test_warm_opens_in_the_background(tmp_path: Path) -> None:
    lazy = LazyStore(tmp_path / "data")
    lazy.warm()
    assert lazy.wait_warm(30)
    assert lazy.is_open and (tmp_path / "data" / DB_FILENAME).exists()
    lazy.close()
    lazy.warm()  # closed: no new warm-up
    assert lazy.wait_warm(1)


def test_a_foreign_file_fails_the_warm_up_quietly_and_real_use_plainly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = foreign_file(tmp_path / "data")
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    lazy = LazyStore(tmp_path / "data")
    with caplog.at_level(logging.WARNING, logger="snapask_desktop.services"):
        lazy.warm()
        assert lazy.wait_warm(30)
    assert not lazy.is_open
    assert "could not open the store ahead of use" in caplog.text
    with pytest.raises(NotOurDatabase, match="not a SnapAsk one"):
        lazy.recent(5)
    with pytest.raises(NotOurDatabase):
        lazy.list_conversations()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_recent_on_an_old_file_upgrades_it_through_the_store(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    shutil.copyfile(V1_FILE, data_dir / DB_FILENAME)
    lazy = LazyStore(data_dir)
    try:
        rows = lazy.recent(5)
        assert lazy.is_open and rows
        assert rows == lazy.list_conversations(limit=5)
    finally:
        lazy.close()


def test_saved_queue_is_read_without_opening_the_store(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with Store.open(data_dir) as store:
        conversation, _ = store.start_conversation("waiting", "are you there?")
        first = AnswerQueue(store, never_asked)
        first.load()
        assert first.add(conversation.id)
        first.flush()
        assert store.get_meta(META_KEY) is not None
    lazy = LazyStore(data_dir)
    queue = AnswerQueue(cast(Store, lazy), never_asked)
    queue.load()
    assert conversation.id in queue and len(queue) == 1
    assert not lazy.is_open


def test_saved_queue_in_an_old_file_is_read_through_the_store(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    shutil.copyfile(V1_FILE, data_dir / DB_FILENAME)
    lazy = LazyStore(data_dir)
    try:
        queue = AnswerQueue(cast(Store, lazy), never_asked)
        queue.load()
        assert len(queue) == 0 and lazy.is_open  # upgraded, then read
    finally:
        lazy.close()


STARTUP_PROBE = """
import sys
from pathlib import Path
from PySide6.QtWidgets import QApplication
from snapask_desktop.config import Settings
from snapask_desktop.services import Services
from snapask_desktop.ui.chat.window import ChatUI

app = QApplication([])
services = Services(Settings(), Path(sys.argv[1]))
ui = ChatUI(services)
ui.prepare()  # what the tray app builds ahead
recent = services.lazy_store.recent(5)
ui.shutdown()  # joins the answer queue's thread: its start-up read is done
heavy = ("sqlalchemy", "alembic", "httpx", "markdown_it", "pygments", "google.genai", "PIL")
print([len(recent), *[name in sys.modules for name in heavy], services.lazy_store.is_open])
saved = services.chat.start_conversation("after start-up")
print(["sqlalchemy" in sys.modules, services.lazy_store.recent(1)[0].id == saved.conversation_id])
services.close()
"""


def test_the_idle_chat_ui_holds_no_orm_until_a_question_is_saved(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with Store.open(data_dir) as store:
        store.start_conversation("from last time", "q")
        store.set_meta(META_KEY, '{"v":1,"items":[]}')
    result = subprocess.run(
        [sys.executable, "-c", STARTUP_PROBE, str(data_dir)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    idle, after = result.stdout.strip().splitlines()[-2:]
    assert idle == "[1, False, False, False, False, False, False, False, False]"
    assert after == "[True, True]"


def test_change_listeners_are_given_to_the_store_when_it_opens(tmp_path: Path) -> None:
    lazy = LazyStore(tmp_path / "data")
    heard: list[str] = []

    def listener() -> None:
        heard.append("change")

    try:
        lazy.add_change_listener(listener)
        assert not lazy.is_open
        conversation = lazy.create_conversation("opens the store")
        assert lazy.is_open and heard == ["change"]
        lazy.update_conversation(conversation.id, title="renamed")
        assert heard == ["change", "change"]
        lazy.remove_change_listener(listener)
        lazy.update_conversation(conversation.id, title="unheard")
        assert heard == ["change", "change"]
    finally:
        lazy.close()


def test_the_sync_idle_path_reads_and_remembers_without_opening_the_store(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    with Store.open(data_dir) as store:
        conversation, _ = store.start_conversation("synced", "already sent")
        store.outbox_ack(op.op_id for op in store.outbox_pending())
        device_id = store.device_id
    lazy = LazyStore(data_dir)
    try:
        assert lazy.device_id == device_id
        assert (lazy.sync_cursor(), lazy.outbox_count(), lazy.outbox_pending()) == (0, 0, [])
        lazy.mark_synced(1_700_000_000_000)
        assert (lazy.search_backlog(), lazy.index_search_backlog()) == (0, 0)  # nothing to index
        assert not lazy.is_open
        assert lazy.last_synced_at() == 1_700_000_000_000  # through the store: it opens now
        lazy.update_conversation(conversation.id, title="pending")
    finally:
        lazy.close()
    lazy = LazyStore(data_dir)
    try:
        pending = lazy.outbox_pending()  # something to send: the store opens to read it
        assert lazy.is_open and [op.record_id for op in pending] == [conversation.id]
    finally:
        lazy.close()


def test_the_sync_idle_path_on_an_old_file_goes_through_the_store(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    shutil.copyfile(V1_FILE, data_dir / DB_FILENAME)
    lazy = LazyStore(data_dir)
    try:
        cursor = lazy.sync_cursor()
        assert lazy.is_open  # upgraded, then read
        assert cursor == lazy.get().sync_cursor() > 0
        assert lazy.device_id == lazy.get().device_id
    finally:
        lazy.close()


SYNC_IDLE_PROBE = """
import sys, time
from pathlib import Path
from snapask_desktop.services import LazyStore
from snapask_desktop.sync.device import account  # noqa: F401  (the app's bridge imports it)
from snapask_desktop.sync.device.client import SyncEvents
from snapask_desktop.sync.device.runner import SyncRunner
from snapask_desktop.sync.device.status import SyncState

data_dir, ws_url, token, conversation_id = sys.argv[1:]
lazy = LazyStore(Path(data_dir))
runner = SyncRunner(lazy, ws_url, lambda: token, SyncEvents(), poll_s=0.05)


def wait_up_to_date():
    deadline = time.monotonic() + 30
    while runner.status.state is not SyncState.UP_TO_DATE or runner.status.pending:
        assert time.monotonic() < deadline, runner.status
        time.sleep(0.02)


runner.start()
wait_up_to_date()
heavy = ("sqlalchemy", "httpx")
print([runner.status.cursor, *[name in sys.modules for name in heavy], lazy.is_open])
lazy.update_conversation(conversation_id, title="renamed while syncing")  # opens the store
time.sleep(0.2)
wait_up_to_date()
print([lazy.is_open, lazy.outbox_count()])
runner.stop()
lazy.close()
"""


def test_an_idle_signed_in_session_holds_no_orm_until_there_is_work(tmp_path: Path) -> None:
    import asyncio

    from snapask_desktop.server.testing import running_server
    from snapask_desktop.sync.device.client import SyncEngine

    with running_server(tmp_path / "server") as server:
        server.add_user("ada", "pw")
        with Store.open(tmp_path / "data") as here, Store.open(tmp_path / "phone") as phone:
            token = server.sign_in("ada", "pw", here.device_id, "laptop")
            phone_token = server.sign_in("ada", "pw", phone.device_id, "phone")
            conversation, _ = here.start_conversation("from the laptop", "q")
            cursor = asyncio.run(SyncEngine(here, server.ws_url, lambda: token).sync_once()).cursor
        result = subprocess.run(
            [sys.executable, "-c", SYNC_IDLE_PROBE, str(tmp_path / "data"), server.ws_url,
             token, conversation.id],
            capture_output=True, text=True, cwd=ROOT, timeout=120, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        idle, after = result.stdout.strip().splitlines()[-2:]
        assert idle == f"[{cursor}, False, False, False]"
        assert after == "[True, 0]"
        with Store.open(tmp_path / "phone") as phone:
            asyncio.run(SyncEngine(phone, server.ws_url, lambda: phone_token).sync_once())
            titles = [row.title for row in phone.list_conversations()]
    assert titles == ["renamed while syncing"]


def test_a_search_backlog_left_behind_is_indexed_through_the_store(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    log = ServerLog()
    conversation = remote_conversation("many")
    log.add(conversation)
    for number in range(DEFER_MIN_MESSAGES):
        log.add(remote_message(conversation.id, f"message {number}"))
    with Store.open(data_dir) as store:
        log.catch_up(store)  # then quit (or crashed) before indexing
    lazy = LazyStore(data_dir)
    try:
        assert lazy.search_backlog() == DEFER_MIN_MESSAGES and not lazy.is_open
        while lazy.index_search_backlog():
            pass
        assert lazy.is_open and lazy.search_backlog() == 0
        assert len(lazy.search("message")) == 1
    finally:
        lazy.close()
