"""Shared by the benchmark scripts: one JSON line of figures, and percentiles."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import keyring.backend

if TYPE_CHECKING:
    from snapask_desktop.sync.e2ee import Unlocked
    from snapask_desktop.sync.keyrecord import KeyRecord


def emit(name: str, **figures: float | int | str) -> None:
    """Print exactly one JSON line `{"bench": name, ...}`; figure names end in their unit
    (_ms, _s, _mb, _bytes, _count)."""
    print(json.dumps({"bench": name, **figures}), flush=True)


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0-100) by linear interpolation between closest ranks."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@contextmanager
def server_database(data_dir: Path, *, postgres: bool) -> Iterator[str]:
    """The server's database URL: SQLite in ``data_dir``, or a throwaway database on the local
    PostgreSQL (127.0.0.1:5432, as scripts/setup --test leaves it), dropped afterwards."""
    if not postgres:
        from snapask_desktop.server.config import sqlite_url

        data_dir.mkdir(parents=True, exist_ok=True)
        yield sqlite_url(data_dir)
        return
    from tests.support.postgres import fresh_database  # the tests' own throwaway databases

    with fresh_database() as url:
        yield url


# encrypted accounts (--encrypted) -----------------------------------------------------------


def bench_keys() -> tuple[KeyRecord, Unlocked]:
    """A key record and its keys, with a random root key instead of one derived from a
    passphrase: Argon2id's 256 MiB would otherwise be the process's peak memory."""
    import nacl.utils

    from snapask_desktop.sync.crypto import ItemsKey, ItemsKeys, RootKey, new_params
    from snapask_desktop.sync.crypto.keys import wrap_items_key
    from snapask_desktop.sync.e2ee import Unlocked
    from snapask_desktop.sync.keyrecord import KeyRecord

    params = new_params()
    root = RootKey(key=nacl.utils.random(32), params=params)
    key = ItemsKey.generate()
    record = KeyRecord(params.salt, params.opslimit, params.memlimit, (wrap_items_key(root, key),))
    return record, Unlocked(1, root, ItemsKeys([key]))  # the server's first key record


class MemoryKeyring(keyring.backend.KeyringBackend):
    """The device's keys for this run only (a machine without a desktop keyring)."""

    priority = 1  # type: ignore[assignment]
    secrets: dict[tuple[str, str], str] = {}  # noqa: RUF012

    def get_password(self, service: str, username: str) -> str | None:
        return self.secrets.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.secrets[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.secrets.pop((service, username), None)
