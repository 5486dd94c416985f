"""Three real stores converge whatever the delivery: a property test (sync-protocol.md 8, 9).

Each store makes random local changes (new conversations, renames, pins, archives, deletes,
restores, messages, pictures, "keep the other version") and exchanges its real outbox ops
through a simulated server log: pushes whose acks are lost (so ops are sent again), pulls with
random page sizes, live frames for arbitrary ranges (stale, repeated, overlapping, after a gap:
``session.plan_changes`` decides, as in the client), and partitions. After everything is
delivered, every store holds the same conversation states and messages, every op the
server acknowledged is in every store, and a store that joins only then and replays the whole
log reaches the same states without writing a single op.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snapask_desktop.store import NotFound, Store
from snapask_desktop.sync.clock import HybridClock, wall_clock_ms
from snapask_desktop.sync.merge import merge_states
from snapask_desktop.sync.protocol import Changes
from snapask_desktop.sync.records import ConversationState, MessageRecord, ScreenshotRecord
from snapask_desktop.sync.session import Verdict, plan_changes
from tests.store.helpers import png_bytes, rows
from tests.store.sync_fixtures import ServerLog, StoreFactory, store_messages, store_states

REPLICAS = 3
KINDS = (
    *("create", "title", "pin", "archive", "delete", "restore", "message", "picture", "keep"),
    *("push", "pull", "live", "partition"),
    *("push", "pull", "delete", "message"),  # more often: they make the interesting races
)
steps = st.lists(
    st.tuples(
        st.sampled_from(KINDS),
        st.integers(0, REPLICAS - 1),  # which store
        st.integers(0, 3),  # which of its conversations
        st.integers(0, 9),  # a small number: ops to push, page size, range start / width
        st.integers(0, 4),
        st.booleans(),  # lose the ack / a flag value
    ),
    min_size=10,
    max_size=45,
)


@pytest.fixture(scope="module")
def factory(tmp_path_factory: pytest.TempPathFactory) -> StoreFactory:
    return StoreFactory(tmp_path_factory.mktemp("replicas"))


class Device:
    """A real store, whether it is online, and what it knew when it wrote each delete."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.online = True
        # (conversation, delete stamp) -> (vv, ids of the messages it had) when written
        self.deletes: dict[tuple[str, int], tuple[dict[str, int], set[str]]] = {}

    def note_delete(self, cid: str) -> None:
        state = store_states(self.store)[cid]
        stamp = state.field_hlc["deleted"]
        if state.deleted and stamp.device == self.store.device_id:
            known = {m.id for m in store_messages(self.store).values() if m.conversation_id == cid}
            self.deletes.setdefault((cid, stamp.hlc), (dict(state.vv), known))

    def conversation(self, pick: int) -> str | None:
        known = sorted(store_states(self.store))
        return known[pick % len(known)] if known else None


def _local(device: Device, kind: str, pick: int, a: int, flag: bool) -> None:
    store = device.store
    if kind == "create":
        store.create_conversation(f"new {a}")
        return
    if kind == "keep":
        found = store.conflicts()
        if found:
            store.keep_other_version(found[0].id)
            device.note_delete(found[0].conversation_id)
        return
    cid = device.conversation(pick)
    if cid is None:
        return
    try:
        if kind == "title":
            store.update_conversation(cid, title=f"title {a} by {store.device_id[:4]}")
        elif kind == "pin":
            store.update_conversation(cid, pinned=flag)
        elif kind == "archive":
            store.update_conversation(cid, archived=flag)
        elif kind == "delete":
            store.delete_conversation(cid)
            device.note_delete(cid)
        elif kind == "restore":
            store.restore_conversation(cid)
        elif kind == "message":
            store.add_message(cid, "user", f"message {a}")
        elif kind == "picture":
            shot = store.add_screenshot(png_bytes(24, 16, seed=a % 2))
            store.add_message(cid, "user", "see picture", screenshot_sha256=shot.sha256)
    except NotFound:
        pass  # deleted here: the UI offers no edit of it


def _live(device: Device, log: ServerLog, since: int, width: int) -> None:
    cursor = min(since, log.head)
    top = min(log.head, cursor + width + 1)
    if top <= cursor:
        return
    frame = Changes(cursor, top, False, tuple(log.changes[cursor:top]))
    plan = plan_changes(device.store.sync_cursor(), frame)
    if plan.verdict is Verdict.APPLY:
        device.store.apply_changes(plan.apply, plan.new_cursor)


def _deliver_everything(devices: list[Device], log: ServerLog, acked: dict[str, object]) -> None:
    for _round in range(6):
        for device in devices:
            for op_id in log.push(device.store):
                acked[op_id] = log.changes[log.op_seqs[op_id] - 1].payload
        for device in devices:
            log.catch_up(device.store, limit=7)
        if all(d.store.outbox_count() == 0 for d in devices):
            return
    raise AssertionError("applying kept writing new ops")


@given(steps, st.integers(1, 9))
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
def test_stores_converge_and_keep_every_acknowledged_op(
    factory: StoreFactory, schedule: list[tuple[str, int, int, int, int, bool]], late_page: int
) -> None:
    devices = [Device(factory.new()) for _ in range(REPLICAS)]
    try:
        log = _run(devices, schedule)
        _check_a_latecomer_replays_without_writing(factory, log, devices[0].store, late_page)
    finally:
        for device in devices:
            device.store.close()


def _check_a_latecomer_replays_without_writing(
    factory: StoreFactory, log: ServerLog, settled: Store, page: int
) -> None:
    """Section 1: the same changes give the same state, whatever the order or paging; and
    replaying history writes no new edit (one would beat later writes everywhere)."""
    late = factory.new()
    try:
        reports = log.catch_up(late, limit=page)
        assert late.outbox_count() == 0 and not any(r.wrote_ops for r in reports)
        assert store_states(late) == store_states(settled)
        assert store_messages(late) == store_messages(settled)
    finally:
        late.close()


def _run(devices: list[Device], schedule: list[tuple[str, int, int, int, int, bool]]) -> ServerLog:
    log = ServerLog()
    acked: dict[str, object] = {}
    devices[0].store.create_conversation("shared start")
    _deliver_everything(devices, log, acked)  # everyone starts with one shared conversation
    for kind, r, pick, a, b, flag in schedule:
        device = devices[r]
        if kind == "partition":
            device.online = not device.online
        elif kind not in ("push", "pull", "live"):
            _local(device, kind, pick, a, flag)
        elif not device.online:
            continue
        elif kind == "push":
            for op_id in log.push(device.store, limit=a + 1, lose_ack=flag):
                if not flag:
                    acked[op_id] = log.changes[log.op_seqs[op_id] - 1].payload
        elif kind == "pull":
            log.pull(device.store, limit=a + 1)
        else:
            _live(device, log, a, b)

    _deliver_everything(devices, log, acked)

    states = [store_states(d.store) for d in devices]
    messages = [store_messages(d.store) for d in devices]
    pictures = [_pictures(d.store) for d in devices]
    assert all(found == states[0] for found in states[1:])
    assert all(found == messages[0] for found in messages[1:])
    assert all(found == pictures[0] for found in pictures[1:])
    for payload in acked.values():
        _assert_present(payload, states[0], messages[0], pictures[0])
    _assert_deletes_stand_only_with_full_knowledge(devices, states[0], messages[0])
    # the same conversations are visible everywhere (their order may differ only for empty
    # ones made in one millisecond, and pending messages are local)
    shown = [{s.id for s in d.store.list_conversations(500, include_archived=True)}
             for d in devices]  # fmt: skip
    assert all(found == shown[0] for found in shown[1:])
    assert shown[0] == {cid for cid, state in states[0].items() if not state.deleted}
    return log


def _pictures(store: Store) -> set[tuple[object, ...]]:
    found = rows(store.path, "SELECT sha256, size_bytes, width, height, mime FROM screenshot")
    return {tuple(row.values()) for row in found}


def _assert_present(
    payload: object,
    states: dict[str, ConversationState],
    messages: dict[str, MessageRecord],
    pictures: set[tuple[object, ...]],
) -> None:
    if isinstance(payload, ConversationState):
        final = states[payload.id]
        assert merge_states(final, payload) == final  # the final state includes it
    elif isinstance(payload, MessageRecord):
        assert messages[payload.id] == payload
    elif isinstance(payload, ScreenshotRecord):
        shape = (payload.sha256, payload.size_bytes, payload.width, payload.height, payload.mime)
        assert shape in pictures


def _assert_deletes_stand_only_with_full_knowledge(
    devices: list[Device],
    states: dict[str, ConversationState],
    messages: dict[str, MessageRecord],
) -> None:
    """A conversation deleted at the end was deleted by a device that had seen every edit of
    it and every message in it: a concurrent edit or message never vanishes (9.5, 9.6)."""
    for state in states.values():
        if not state.deleted:
            continue
        stamp = state.field_hlc["deleted"]
        [deleter] = [d for d in devices if d.store.device_id == stamp.device]
        known_vv, known_messages = deleter.deletes[(state.id, stamp.hlc)]
        assert known_vv == state.vv
        assert {m.id for m in messages.values() if m.conversation_id == state.id} <= known_messages


def test_the_schedule_machinery_delivers_in_a_simple_case(factory: StoreFactory) -> None:
    """A fixed run of the same machinery, so a broken simulator cannot pass silently."""
    devices = [Device(factory.new()) for _ in range(REPLICAS)]
    # Device 2's rename is the later one, even when both fall in one millisecond.
    devices[2].store.clock = HybridClock(now_ms=lambda: wall_clock_ms() + 1_000)
    try:
        _run(
            devices,
            [
                ("title", 1, 0, 1, 0, False),  # two offline renames of the shared one
                ("title", 2, 0, 2, 0, False),
                ("message", 0, 0, 3, 0, False),
                ("push", 0, 0, 9, 0, False),
                ("pull", 1, 0, 0, 0, False),
            ],
        )
        later = f"title 2 by {devices[2].store.device_id[:4]}"
        assert [[s.title for s in d.store.list_conversations()] for d in devices] == [[later]] * 3
        assert [len(store_messages(d.store)) for d in devices] == [1, 1, 1]
        assert [len(d.store.conflicts()) for d in devices] == [1, 1, 1]
    finally:
        for device in devices:
            device.store.close()
