"""A separate device process for crash tests: pull everything, stalling after some commits.

    python -m tests.syncing.pull_worker DATA_DIR WS_URL REPORTS   (token in SNAPASK_TEST_TOKEN)

Prints "applied CURSOR" for each transaction of synced changes committed (the engine's
``applied`` event, called after the commit); after REPORTS of them it stops there, so the test
can SIGKILL it between two transactions of an initial sync.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

from snapask_desktop.store import Store
from snapask_desktop.store.records import ApplyReport
from snapask_desktop.sync.device.client import SyncEngine, SyncEvents


def main() -> None:
    data_dir, ws_url, stall_after = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    token = os.environ["SNAPASK_TEST_TOKEN"]
    store = Store.open(data_dir)
    reports = 0

    def applied(report: ApplyReport) -> None:
        nonlocal reports
        reports += 1
        print(f"applied {report.cursor}", flush=True)
        if reports >= stall_after:
            time.sleep(3600)  # on the sync loop's thread: nothing more is pulled or written

    engine = SyncEngine(store, ws_url, lambda: token, events=SyncEvents(applied=applied))
    asyncio.run(engine.sync_once())
    print("done", flush=True)
    store.close()


if __name__ == "__main__":
    main()
