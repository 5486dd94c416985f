"""A separate device process for crash tests: make changes, then push them.

    python -m tests.syncing.push_worker DATA_DIR WS_URL COUNT   (token in SNAPASK_TEST_TOKEN)

Prints "pushing" once its changes are written, so the test knows when to SIGKILL it.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from snapask_desktop.store import Store
from snapask_desktop.sync.device.client import SyncEngine


def main() -> None:
    data_dir, ws_url, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    token = os.environ["SNAPASK_TEST_TOKEN"]
    store = Store.open(data_dir)
    for index in range(count):
        conversation, _ = store.start_conversation(f"crash test {index}", f"question {index}")
        store.add_message(conversation.id, "model", f"answer {index}", model="m")
    print("pushing", flush=True)
    result = asyncio.run(SyncEngine(store, ws_url, lambda: token).sync_once())
    print(f"done {result.pushed}", flush=True)
    store.close()


if __name__ == "__main__":
    main()
