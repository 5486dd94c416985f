"""Child process for the SIGKILL test: writes conversations, messages and pictures forever.

``python -m tests.store.crash_writer <data_dir> <round>``; prints "ready" once the first
conversation is complete, then keeps writing until it is killed. Message text is
``r<round>c<i>m<j> tok<round>x<i>x<j>`` so the test can tell which messages should exist.
"""

from __future__ import annotations

import sys
from pathlib import Path

from snapask_desktop.store import Store
from tests.store.helpers import png_bytes

MESSAGES_PER_CONVERSATION = 4


def message_text(round_no: int, i: int, j: int) -> str:
    """The exact text the writer gives message j of conversation i in a round."""
    return f"r{round_no}c{i}m{j} tok{round_no}x{i}x{j} " + "filler words " * (j + 1)


def write_one(store: Store, round_no: int, i: int) -> None:
    """One conversation: maybe a picture, four messages, a rename."""
    conversation = store.create_conversation(f"round {round_no} conversation {i}")
    shot = None
    if i % 3 == 0:
        shot = store.add_screenshot(png_bytes(64, 48, seed=round_no * 10_000 + i))
    for j in range(MESSAGES_PER_CONVERSATION):
        text = message_text(round_no, i, j)
        store.add_message(
            conversation.id,
            "user" if j % 2 == 0 else "model",
            text,
            screenshot_sha256=shot.sha256 if shot and j == 0 else None,
        )
    if i % 2 == 0:
        store.update_conversation(conversation.id, title=f"renamed {round_no}/{i}", pinned=True)


def main() -> None:
    data_dir, round_no = Path(sys.argv[1]), int(sys.argv[2])
    store = Store.open(data_dir)
    i = 0
    while True:
        write_one(store, round_no, i)
        if i == 0:
            print("ready", flush=True)
        i += 1


if __name__ == "__main__":
    main()
