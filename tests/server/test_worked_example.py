"""docs/sync-protocol.md section 11, replayed against the real server.

The device frames of the worked example are sent as written (their clock stamps shifted to
"now", so the server's skew check is met on any date); every server reply must have the
documented type, id, statuses, seqs and ranges, and the payloads come back as pushed.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

from snapask_desktop.server.testing import RunningServer
from snapask_desktop.sync.clock import COUNTER_BITS
from tests.server.conftest import PASSWORD
from tests.server.helpers import Conn, connect_device

DOC = Path(__file__).resolve().parents[2] / "docs" / "sync-protocol.md"
BLOCK = re.compile(r"^(C→S|S→C)\n```json\n(.*?)\n```", re.MULTILINE | re.DOTALL)
LAPTOP = "7fe4598c-c82a-4242-ada4-5cb4445b5464"
PHONE = "7ea25a89-0e45-4ab2-b40f-219abfabd145"
EXAMPLE_W = 1_795_000_000_000  # the example's wall clock at the laptop's first write


def _example() -> list[tuple[str, dict[str, Any]]]:
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("## 11. Worked example") :]
    return [(d, json.loads(body)) for d, body in BLOCK.findall(section)]


def _shift(value: Any, delta_ms: int) -> Any:
    """Move every clock stamp and wall time of a frame by ``delta_ms``."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key == "hlc":
                out[key] = item + (delta_ms << COUNTER_BITS)
            elif key in ("created_at", "updated_at"):
                out[key] = item + delta_ms
            elif key == "field_hlc":
                out[key] = {f: [s[0] + (delta_ms << COUNTER_BITS), s[1]] for f, s in item.items()}
            else:
                out[key] = _shift(item, delta_ms)
        return out
    if isinstance(value, list):
        return [_shift(item, delta_ms) for item in value]
    return value


def _same_shape(got: dict[str, Any], want: dict[str, Any]) -> None:
    if want["type"] == "welcome":
        assert got["type"] == "welcome" and got["id"] == want["id"]
        assert got["head"] == want["head"] and got["limits"] == want["limits"]
        assert got["device_id"] == want["device_id"] and got["protocol"] == 1
        assert got.get("features") == want.get("features")
    elif want["type"] == "error":
        assert {k: got[k] for k in ("type", "id", "code")} == {
            k: want[k] for k in ("type", "id", "code")
        }
        assert "since" in got["message"]
    else:
        assert got == want


def test_the_worked_example_replays_against_the_server(srv: RunningServer) -> None:
    delta = time.time_ns() // 1_000_000 - EXAMPLE_W - 200_000
    steps = [(d, _shift(frame, delta)) for d, frame in _example()]
    sends = [f for d, f in steps if d == "C→S"]
    replies = [f for d, f in steps if d == "S→C"]
    sent = {f.get("id") or f"applied{f['cursor']}": f for f in sends}

    laptop = connect_device(srv, srv.sign_in("ada", PASSWORD, LAPTOP, "ada-laptop"))

    def exchange(conn: Conn, request: dict[str, Any], want: dict[str, Any]) -> None:
        conn.send(request)
        _same_shape(conn.reply_to(request["id"]), want)

    by_id = {f.get("id"): f for f in replies if "id" in f}
    live = [f for f in replies if "id" not in f]
    exchange(laptop, sent["h1"], by_id["h1"])
    exchange(laptop, sent["q1"], by_id["q1"])
    exchange(laptop, sent["b1"], by_id["b1"])
    exchange(laptop, sent["p1"], by_id["p1"])
    # The live frame carries all four changes (the doc shows the first only).
    first_live = laptop.next_live()
    assert (first_live["since"], first_live["cursor"], first_live["has_more"]) == (0, 4, False)
    assert first_live["changes"][0] == live[0]["changes"][0]
    assert [c["payload"] for c in first_live["changes"]] == [
        o["payload"] for o in sent["p1"]["ops"]
    ]
    laptop.send(sent["applied4"])

    # The rename is applied, but the connection drops before the ack is read.
    laptop.send(sent["p2"])
    laptop.close()
    laptop = connect_device(srv, srv.sign_in("ada", PASSWORD, LAPTOP, "ada-laptop"))
    exchange(laptop, sent["h2"], by_id["h2"])
    exchange(laptop, sent["p2"], by_id["p2"])  # duplicate, seq 5
    exchange(laptop, sent["q2"], by_id["q2"])
    laptop.send(sent["applied5"])

    # The phone pushes its concurrent rename; the laptop receives it live.
    phone_change = live[1]["changes"][0]
    phone = connect_device(srv, srv.sign_in("ada", PASSWORD, PHONE, "ada-phone"), PHONE, 4)
    ack = phone.push({"op_id": phone_change["op_id"], "payload": phone_change["payload"]})
    assert ack["results"] == [{"op_id": phone_change["op_id"], "status": "applied", "seq": 6}]
    assert laptop.next_live() == live[1]
    laptop.send(sent["applied6"])

    # Pipelined push + bad pull: the ack, then the error (replies in order); the live frame
    # comes after the ack, before or after the error.
    laptop.send(sent["p3"])
    laptop.send(sent["q3"])
    order = [laptop.recv(), laptop.recv(), laptop.recv()]
    _same_shape(order[0], by_id["p3"])
    replies_after = [f for f in order[1:] if "id" in f]
    assert len(replies_after) == 1
    _same_shape(replies_after[0], by_id["q3"])
    assert [f for f in order[1:] if "id" not in f] == [live[2]]

    exchange(phone, sent["g1"], by_id["g1"])
    laptop.close()
    assert laptop.ws.close_code == 1000
    phone.close()
