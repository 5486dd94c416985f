"""A separate device process for crash tests: make changes, then push them.

    python -m tests.syncing.push_worker DATA_DIR WS_URL COUNT   (token in SNAPASK_TEST_TOKEN)

An encrypted account's keys, as a device's keyring entry holds them, come in SNAPASK_TEST_KEYS.

Prints "pushing" once its changes are written, so the test knows when to SIGKILL it.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from snapask_desktop import credentials
from snapask_desktop.store import Store
from snapask_desktop.sync.device.client import SyncEngine
from snapask_desktop.sync.device.keystore import KeyStore


def main() -> None:
    data_dir, ws_url, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    token = os.environ["SNAPASK_TEST_TOKEN"]
    store = Store.open(data_dir)
    for index in range(count):
        conversation, _ = store.start_conversation(f"crash test {index}", f"question {index}")
        store.add_message(conversation.id, "model", f"answer {index}", model="m")
    print("pushing", flush=True)
    keystore = KeyStore("sync-keys:push-worker")
    if os.environ.get("SNAPASK_TEST_KEYS"):
        credentials.set_secret(keystore.account, os.environ["SNAPASK_TEST_KEYS"])
    engine = SyncEngine(store, ws_url, lambda: token, keystore=keystore)
    result = asyncio.run(engine.sync_once())
    print(f"done {result.pushed}", flush=True)
    store.close()


if __name__ == "__main__":
    main()
