"""Replicas converge: random edits, partitions, lost acks, duplicated and reordered delivery.

Three or four devices edit two conversations and append messages while the schedule decides
who talks to the server model when: pushes whose acks are lost (so ops are resent and answered
``duplicate``), pulls with random page sizes, live frames for arbitrary ranges (stale, repeated,
overlapping, or after a gap), and partitions that cut a device off for a stretch. After
everything is finally delivered, every device and the server must hold identical records, and
a device that joins only then and replays the whole log must reach them without writing
anything (rule 9.6 must not turn history into new edits).
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from snapask_desktop.sync.merge import merge_states
from snapask_desktop.sync.records import ConversationState, MessageRecord, check_conversation
from tests.sync.simulation import Replica, Server, Wall

DEVICES = (
    "7fe4598c-c82a-4242-ada4-5cb4445b5464",
    "7ea25a89-0e45-4ab2-b40f-219abfabd145",
    "c5f6daec-8369-42fe-998d-33aa630d9418",
    "839813c2-30ef-4037-b192-18c0ac4c83f0",
)
LATECOMER = "5b0e36c1-9d0a-4f6e-8a43-2f1d7c9b6a10"
CONVERSATIONS = ("c4b241ed-5754-4db5-a971-53d2a2a9af53", "28920306-38ee-4f26-a1ee-e7b05e5bcd25")

KINDS = (
    *("title", "pin", "archive", "delete", "restore", "message", "keep"),  # local changes
    *("push", "pull", "live", "partition"),  # talking to the server, or not
    *("delete", "message", "push", "pull"),  # more often: they make the delete/message races
)
steps = st.lists(
    st.tuples(
        st.sampled_from(KINDS),
        st.integers(0, len(DEVICES) - 1),  # replica
        st.integers(0, len(CONVERSATIONS) - 1),  # conversation
        st.integers(0, 12),  # a small number: ops to push, page size, range start/width
        st.integers(0, 6),
        st.booleans(),  # a flag: lose the ack / a value
        st.integers(0, 400),  # ms that pass before the step
    ),
    min_size=25,
    max_size=80,
)


def _run_step(
    step: tuple[str, int, int, int, int, bool, int],
    replicas: list[Replica],
    server: Server,
    wall: Wall,
) -> None:
    kind, r, k, a, b, flag, ms = step
    wall.ms += ms
    replica = replicas[r % len(replicas)]
    conversation = CONVERSATIONS[k]
    if kind == "title":
        replica.edit(conversation, title=f"title {a} from {r}")
    elif kind == "pin":
        replica.edit(conversation, pinned=flag)
    elif kind == "archive":
        replica.edit(conversation, archived=flag)
    elif kind == "delete":
        replica.edit(conversation, deleted=True)
    elif kind == "restore":
        replica.edit(conversation, deleted=False)
    elif kind == "message":
        replica.append(conversation, f"message {a} from {r}")
    elif kind == "keep":
        replica.keep_other()
    elif kind == "partition":  # cut off from the server, or back
        replica.online = not replica.online
    elif not replica.online:
        return
    elif kind == "push":
        replica.push(server, a + 1, lose_ack=flag)
    elif kind == "pull":
        replica.pull(server, a + 1)
    else:  # a live frame for an arbitrary range: duplicates, overlaps, gaps, reordering
        frame = server.live(a, a + b + 1)
        if frame is not None:
            replica.receive(frame)


def _deliver_everything(replicas: list[Replica], server: Server) -> None:
    for replica in replicas:
        replica.online = True
    for _ in range(20):
        pushed = False
        for replica in replicas:
            while replica.outbox:
                replica.push(server, 5, lose_ack=False)
                pushed = True
        for replica in replicas:
            replica.catch_up(server)
        if not pushed and not any(replica.outbox for replica in replicas):
            return
    raise AssertionError("delivery did not settle")


@settings(max_examples=120, deadline=None)
@given(
    st.integers(3, len(DEVICES)),
    st.lists(st.integers(-2_000, 2_000), min_size=4, max_size=4),
    steps,
    st.integers(1, 12),  # the latecomer's page size
)
def test_replicas_converge_and_lose_nothing_acknowledged(
    count: int,
    skews: list[int],
    schedule: list[tuple[str, int, int, int, int, bool, int]],
    late_page: int,
) -> None:
    wall = Wall()
    server = Server()
    replicas = [Replica(DEVICES[i], wall, skews[i]) for i in range(count)]
    replicas[0].create(CONVERSATIONS[0], "first")
    replicas[1].create(CONVERSATIONS[1], "second")
    for step in schedule:
        _run_step(step, replicas, server, wall)
    _deliver_everything(replicas, server)

    for replica in replicas:
        assert replica.cursor == len(server.log)
        assert replica.outbox == []
        assert replica.conversations == server.conversations
        assert replica.messages == server.messages
    for state in server.conversations.values():
        check_conversation(state)
    _check_acknowledged_ops_survive(replicas, server)
    _check_deletes_only_stand_with_full_knowledge(replicas, server)
    _check_a_latecomer_replays_without_writing(server, wall, late_page)


def _check_a_latecomer_replays_without_writing(server: Server, wall: Wall, page: int) -> None:
    """Section 1: the same changes give the same state, whatever the order or paging."""
    late = Replica(LATECOMER, wall, 0)
    late.catch_up(server, page)
    assert late.outbox == []  # no new edit: nothing to push that could beat a later one
    assert late.conversations == server.conversations
    assert late.messages == server.messages


def _check_acknowledged_ops_survive(replicas: list[Replica], server: Server) -> None:
    for replica in replicas:
        for op in replica.acked.values():
            payload = op.payload
            if isinstance(payload, ConversationState):
                final = server.conversations[payload.id]
                assert merge_states(final, payload) == final  # the final state includes it
            else:
                assert isinstance(payload, MessageRecord)
                assert server.messages[payload.id] == payload


def _check_deletes_only_stand_with_full_knowledge(replicas: list[Replica], server: Server) -> None:
    """A conversation deleted at the end was deleted by a device that had seen every edit of
    it and every message in it: a concurrent edit or message never vanishes (9.5, 9.6)."""
    for state in server.conversations.values():
        if not state.deleted:
            continue
        stamp = state.field_hlc["deleted"]
        deleter = next(r for r in replicas if r.device == stamp.device)
        record = deleter.deletes[(state.id, stamp.hlc)]
        assert record.vv == state.vv
        in_it = {m.id for m in server.messages.values() if m.conversation_id == state.id}
        assert in_it <= record.messages
