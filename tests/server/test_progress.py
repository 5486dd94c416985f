"""Devices' last-seen times and applied cursors, saved by the housekeeping round."""

from __future__ import annotations

from snapask_desktop.server import accounts
from snapask_desktop.server.testing import RunningServer
from tests.server.test_batched_reads import devices_of, statements


def test_many_devices_progress_is_saved_with_one_statement_per_kind(srv: RunningServer) -> None:
    """After a failover an instance notes hundreds of devices in one round: one UPDATE each
    was a database round trip each."""
    db = srv.server.db
    devices = devices_of(srv, users=2, per_user=25)
    owners = {d.device_id: accounts.user_id_by_name(db, d.user) for d in accounts.list_devices(db)}
    keys = [(owners[device_id] or 0, device_id) for device_id, _ in devices]
    accounts.record_progress(db, {}, {k: 10 for k in keys[:10]})
    seen = {key: 1_000 + n for n, key in enumerate(keys)}
    applied = {key: 5 + n for n, key in enumerate(keys)}  # the first ten had 10: kept if higher
    with statements(srv) as sql:
        accounts.record_progress(db, seen, applied)
    assert len([s for s in sql if s.startswith("UPDATE devices")]) == 2
    saved = {d.device_id: d for d in accounts.list_devices(db)}
    for n, (_, device_id) in enumerate(keys):
        assert saved[device_id].last_seen_at == 1_000 + n
        assert saved[device_id].applied_cursor == max(5 + n, 10 if n < 10 else 0)
