"""A change on device A visible in device B's store: both devices live on one server.

Three processes, as on three machines: the server (`snapask-sync-server serve` on
127.0.0.1), device A (this process) and device B (this script with `--device-b`). A renames a
conversation (store write + outbox op in one transaction), whose commit wakes its sync
engine (`Store.add_change_listener`, as in the app); the clock stops when B's engine has
committed the change to B's store (its ``applied`` callback, which prints the system-wide
monotonic clock). 200 changes, one at a
time, 20 ms after the previous one arrived: back to back, one device would send more than the
protocol's 50 frames a second and the server makes it wait (`rate_limited`); `--gap-ms 50` lets
every process go idle between changes, as at human pace.

    .venv/bin/python bench/sync_latency.py [--changes 200] [--postgres] [--encrypted]

`--postgres`: the server on the local PostgreSQL (a throwaway database) instead of SQLite.
`--encrypted`: an end-to-end encrypted account (sync-protocol.md 12): A seals each change, B
opens it; both hold the keys already (an in-memory keyring in each process).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if __package__ in (None, ""):  # run as a file: make `bench` and the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keyring

from bench._common import MemoryKeyring, bench_keys, emit, percentile, server_database
from snapask_desktop.server import accounts
from snapask_desktop.server.database import Database
from snapask_desktop.server.passwords import hash_password, new_token
from snapask_desktop.server.testing import ServerProcess
from snapask_desktop.store import ApplyReport, Store
from snapask_desktop.sync.device.client import SyncEvents
from snapask_desktop.sync.device.runner import SyncRunner
from snapask_desktop.sync.device.status import SyncState

if TYPE_CHECKING:
    from snapask_desktop.sync.device.keystore import KeyStore
    from snapask_desktop.sync.keyrecord import KeyRecord

WAIT_S = 10.0


def tokens(database_url: str, device_ids: list[str], record: KeyRecord | None) -> list[str]:
    """A user "ada" (encrypted with ``record``) and a token for each device, straight into
    the server's database."""
    db = Database(database_url)
    user_id = accounts.add_user(db, "ada", "", password_hash=hash_password("bench"))
    if record is not None:
        from snapask_desktop.server.keys import put_keys

        put_keys(db, user_id, 0, record, 0)
    tokens = []
    for index, device_id in enumerate(device_ids):
        tokens.append(new_token())
        accounts.issue_token(db, user_id, device_id, f"device {index}", tokens[-1])
    db.dispose()
    return tokens


def device_b(data_dir: Path, ws_url: str, token: str, keys: str | None) -> None:
    """B: sync live; print ``<monotonic ns> <title>`` whenever a change lands in its store."""
    store = Store.open(data_dir)
    keystore = _keystore("b", keys)

    def applied(report: ApplyReport) -> None:
        at = time.monotonic_ns()  # before the read below: the read is not part of the figure
        for cid in report.changed_conversations:
            title = store.get_conversation(cid).conversation.title
            print(f"{at} {title}", flush=True)

    runner = SyncRunner(store, ws_url, lambda: token, SyncEvents(applied=applied), poll_s=1.0,
                        keystore=keystore)  # fmt: skip
    runner.start()
    wait_live(runner)
    print("live", flush=True)
    sys.stdin.readline()  # until A is done
    runner.stop()
    store.close()


def _keystore(name: str, keys: str | None) -> KeyStore | None:
    """A keystore in this process's memory holding ``keys`` (the keyring entry's text)."""
    if keys is None:
        return None
    from snapask_desktop import credentials
    from snapask_desktop.sync.device.keystore import KeyStore

    keyring.set_keyring(MemoryKeyring())
    credentials.set_secret(f"sync-keys:bench-{name}", keys)
    return KeyStore(f"sync-keys:bench-{name}")


def wait_live(runner: SyncRunner) -> None:
    deadline = time.monotonic() + WAIT_S
    while runner.status.state is not SyncState.UP_TO_DATE:
        if time.monotonic() > deadline:
            raise SystemExit(f"device not live: {runner.status.message}")
        time.sleep(0.01)


def spawn_b(data_dir: Path, ws_url: str, token: str, keys: str | None) -> subprocess.Popen[str]:
    script = str(Path(__file__).resolve())
    env = {**os.environ, "SNAPASK_BENCH_TOKEN": token}
    if keys is not None:
        env["SNAPASK_BENCH_KEYS"] = keys
    b = subprocess.Popen(
        [sys.executable, script, "--device-b", str(data_dir), ws_url],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    assert b.stdout is not None
    if b.stdout.readline().strip() != "live":
        raise SystemExit("device B did not come up")
    return b


def measure(a: Store, b: subprocess.Popen[str], changes: int, gap_ms: int) -> list[float]:
    assert b.stdout is not None
    conversation = a.create_conversation("latency")
    while not b.stdout.readline().endswith(" latency\n"):
        pass
    latencies = []
    for index in range(changes):
        time.sleep(gap_ms / 1000)
        started = time.monotonic_ns()
        a.update_conversation(conversation.id, title=f"latency {index}")
        while True:
            line = b.stdout.readline()
            if not line:
                raise SystemExit(f"device B stopped before change {index}")
            at, title = line.rstrip("\n").split(" ", 1)
            if title == f"latency {index}":
                latencies.append((int(at) - started) / 1e6)
                break
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--gap-ms", type=int, default=20, help="pause between changes")
    parser.add_argument(
        "--device-b", nargs=2, metavar=("DATA_DIR", "WS_URL"), help=argparse.SUPPRESS
    )
    parser.add_argument("--postgres", action="store_true", help="server on local PostgreSQL")
    parser.add_argument("--encrypted", action="store_true", help="an encrypted account")
    args = parser.parse_args()
    if args.device_b:
        keys = os.environ.get("SNAPASK_BENCH_KEYS")
        device_b(Path(args.device_b[0]), args.device_b[1], os.environ["SNAPASK_BENCH_TOKEN"], keys)
        return
    record, held = bench_keys() if args.encrypted else (None, None)
    with (
        tempfile.TemporaryDirectory(prefix="snapask-bench-") as tmp,
        server_database(Path(tmp) / "server", postgres=args.postgres) as database_url,
    ):
        root = Path(tmp)
        a = Store.open(root / "a")
        with Store.open(root / "b") as b_store:
            b_id = b_store.device_id
        token_a, token_b = tokens(database_url, [a.device_id, b_id], record)
        keystore: KeyStore | None = None
        keys_text = None
        if held is not None:
            from snapask_desktop import credentials
            from snapask_desktop.sync.device.keystore import KeyStore

            keyring.set_keyring(MemoryKeyring())
            keystore = KeyStore("sync-keys:bench-a")
            keystore.save(held)
            keys_text = credentials.get_secret("sync-keys:bench-a")
        server = ServerProcess(root / "server", "--database-url", database_url)
        # A's engine is woken by its store's commit; the idle poll is for other processes.
        runner_a = SyncRunner(a, server.ws_url, lambda: token_a, SyncEvents(), poll_s=1.0,
                              keystore=keystore)  # fmt: skip
        b = None
        try:
            runner_a.start()
            wait_live(runner_a)
            b = spawn_b(root / "b", server.ws_url, token_b, keys_text)
            latencies = measure(a, b, args.changes, args.gap_ms)
        finally:
            runner_a.stop()
            if b is not None:
                b.communicate("done\n", timeout=30)
            server.terminate()
            a.close()
    emit(
        "sync_latency",
        visible_p50_ms=round(percentile(latencies, 50), 2),
        visible_p99_ms=round(percentile(latencies, 99), 2),
        visible_max_ms=round(max(latencies), 2),
        changes_count=len(latencies),
        gap_ms=args.gap_ms,
        database="postgresql" if args.postgres else "sqlite",
        encrypted=args.encrypted,
        load_average_1m=float(Path("/proc/loadavg").read_text().split()[0]),
    )


if __name__ == "__main__":
    main()
