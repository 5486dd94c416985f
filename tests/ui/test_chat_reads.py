"""The chat controller's store reads (ui/chat/reads.py) on real stores, without Qt."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from snapask_desktop.store import NotFound, Store
from snapask_desktop.ui.chat.reads import (
    first_picture,
    picture_bytes,
    read_conversation,
    reread_conversation,
)
from tests.store.helpers import png_bytes
from tests.store.sync_fixtures import ServerLog, StoreFactory


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Store, Store]]:
    factory = StoreFactory(tmp_path)
    laptop, phone = factory.new(), factory.new()
    yield laptop, phone
    laptop.close()
    phone.close()


def _sync(log: ServerLog, *stores: Store) -> None:
    for _round in range(3):
        for store in stores:
            log.push(store)
        for store in stores:
            log.catch_up(store)


def test_a_conversation_is_read_by_prefix_with_its_first_picture(pair: tuple[Store, Store]) -> None:
    store, _ = pair
    png = png_bytes(seed=3)
    shot = store.add_screenshot(png)
    conversation, _ = store.start_conversation(
        "Chart", "What is this?", screenshot_sha256=shot.sha256
    )
    store.add_message(conversation.id, "model", "A bar chart.", model="m")
    store.add_message(
        conversation.id,
        "user",
        "Another",
        screenshot_sha256=store.add_screenshot(png_bytes(seed=4)).sha256,
    )

    read = read_conversation(store, conversation.id[:8])
    assert read.detail.conversation.id == conversation.id
    assert [m.text for m in read.detail.messages] == ["What is this?", "A bar chart.", "Another"]
    assert (read.picture_sha, read.picture_png, read.missing) == (shot.sha256, png, False)
    assert first_picture(read.detail) == shot.sha256  # the first one, not the latest
    assert read.device_id == store.device_id and read.conflicts == ()
    assert picture_bytes(store, shot.sha256) == png
    without = read_conversation(store, conversation.id, with_picture=False)
    assert (without.picture_sha, without.picture_png) == (shot.sha256, None)


def test_a_conversation_without_a_picture_reads_none(pair: tuple[Store, Store]) -> None:
    store, _ = pair
    conversation, _ = store.start_conversation("Plain", "Hello?")
    read = read_conversation(store, conversation.id)
    assert (read.picture_sha, read.picture_png, read.missing) == (None, None, False)


def test_a_synced_picture_not_downloaded_yet_is_missing_not_read(
    pair: tuple[Store, Store],
) -> None:
    laptop, phone = pair
    png = png_bytes(seed=5)
    shot = laptop.add_screenshot(png)
    conversation, _ = laptop.start_conversation("Shot", "Look", screenshot_sha256=shot.sha256)
    _sync(ServerLog(), laptop, phone)

    read = read_conversation(phone, conversation.id)
    assert (read.picture_sha, read.picture_png, read.missing) == (shot.sha256, None, True)
    phone.put_blob(shot.sha256, png)  # downloaded
    again = read_conversation(phone, conversation.id)
    assert (again.picture_png, again.missing) == (png, False)


def test_conflicts_come_with_the_conversation(pair: tuple[Store, Store]) -> None:
    laptop, phone = pair
    log = ServerLog()
    created = laptop.create_conversation("Error dialog")
    _sync(log, laptop, phone)
    laptop.update_conversation(created.id, title="Setup dialog")  # both offline
    phone.update_conversation(created.id, title="Installer error")
    _sync(log, laptop, phone)

    read = read_conversation(laptop, created.id)
    [conflict] = read.conflicts
    assert conflict.field == "title" and conflict.conversation_id == created.id
    assert read.detail.conversation.title == conflict.winning_value


def test_a_reread_of_a_deleted_conversation_is_none_but_a_wrong_id_still_raises(
    pair: tuple[Store, Store],
) -> None:
    store, _ = pair
    conversation, _ = store.start_conversation("Gone", "Soon deleted")
    assert reread_conversation(store, conversation.id, with_picture=True) is not None
    store.delete_conversation(conversation.id)
    assert reread_conversation(store, conversation.id, with_picture=True) is None
    with pytest.raises(NotFound):
        read_conversation(store, conversation.id)
