"""docs/sync-protocol.md is the contract: its examples, codes and limits must match the code."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from snapask_desktop.sync import limits
from snapask_desktop.sync.errors import CLOSES_WITH, OP_REJECTIONS, CloseCode, ErrorCode
from snapask_desktop.sync.protocol import (
    CLIENT_FRAME_TYPES,
    SERVER_FRAME_TYPES,
    Error,
    ProtocolError,
    encode_frame,
    parse_client_frame,
    parse_server_frame,
)
from snapask_desktop.sync.records import Conflict, parse_payload
from snapask_desktop.sync.signin import parse_device_grant, parse_device_request

DOC = Path(__file__).resolve().parents[2] / "docs" / "sync-protocol.md"
TEXT = DOC.read_text(encoding="utf-8")
BLOCK = re.compile(r"(?:^(C→S|S→C)\n)?```json\n(.*?)\n```", re.MULTILINE | re.DOTALL)
PAYLOAD_TYPES = {"conversation", "message", "screenshot", "purge", "picture_text", "sealed"}


def _section(number: int) -> str:
    match = re.search(rf"^## {number}\. .*?(?=^## \d+\. |\Z)", TEXT, re.MULTILINE | re.DOTALL)
    assert match, f"section {number} is missing"
    return match.group(0)


def _table_rows(section: str) -> list[list[str]]:
    rows = []
    for line in section.splitlines():
        if line.startswith("| `") or re.match(r"\| \d{4} \|", line):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def _blocks() -> list[tuple[str | None, str]]:
    return [(m.group(1), m.group(2)) for m in BLOCK.finditer(TEXT)]


def _parse_block(direction: str | None, text: str) -> Any:
    obj = json.loads(text)
    kind = obj.get("type")
    if kind in CLIENT_FRAME_TYPES:
        assert direction in (None, "C→S"), f"{kind} is sent by the device"
        return parse_client_frame(text)
    if kind in SERVER_FRAME_TYPES:
        assert direction in (None, "S→C"), f"{kind} is sent by the server"
        return parse_server_frame(text)
    if kind in PAYLOAD_TYPES:
        return parse_payload(obj)
    if set(obj) == {"user", "password", "device_id", "device_name"}:
        return parse_device_request(text.encode())
    if set(obj) == {"device_id", "user", "token"}:
        return parse_device_grant(text.encode())
    if "losing_value" in obj:
        return Conflict.from_wire(obj)
    raise AssertionError(f"the test does not know this example: {text[:80]}")


def test_every_complete_json_example_in_the_doc_is_valid() -> None:
    checked = 0
    refused: dict[object, ProtocolError] = {}
    for direction, text in _blocks():
        if '"..."' in text:  # an abbreviated example, marked as such
            continue
        try:
            parsed = _parse_block(direction, text)
        except ProtocolError as exc:  # the example's deliberately bad request
            refused[exc.request_id] = exc
            continue
        if isinstance(parsed, Error) and parsed.id in refused:
            # The error frame the doc shows is exactly what the parser answers.
            assert parsed == Error.from_exception(refused.pop(parsed.id))
        if json.loads(text).get("type") in PAYLOAD_TYPES:  # payloads round-trip exactly
            assert parsed.to_wire() == json.loads(text), text[:80]
        checked += 1
    assert checked >= 30
    assert not refused, f"refused without the error frame the doc shows: {refused}"


def test_worked_example_frames_encode_back_to_the_same_frames() -> None:
    for direction, text in _blocks():
        if direction is None or '"since": -1' in text:
            continue
        frame = _parse_block(direction, text)
        again = _parse_block(direction, encode_frame(frame))
        assert again == frame


def test_the_worked_example_conflict_is_what_the_merge_reports() -> None:
    from snapask_desktop.sync.merge import merge_conversation

    live = [json.loads(t) for d, t in _blocks() if d == "S→C" and '"changes": [{' in t]
    states = {c["seq"]: parse_payload(c["payload"]) for frame in live for c in frame["changes"]}
    laptop, phone = states[5], states[6]
    conflict = next(Conflict.from_wire(json.loads(t)) for _, t in _blocks() if "losing_value" in t)
    for local, remote in ((laptop, phone), (phone, laptop)):
        result = merge_conversation(local, remote)  # type: ignore[arg-type]
        assert result.conflicts == (conflict,)
        assert result.state.title == "Installer error 0x80070005"
    keep = merge_conversation(states[6], states[7])  # type: ignore[arg-type]
    assert keep.state == states[7] and keep.conflicts == ()


def test_error_table_matches_the_codes() -> None:
    rows = _table_rows(_section(6))
    by_code = {row[0].strip("`"): row for row in rows}
    assert set(by_code) == {code.value for code in ErrorCode}
    for code in ErrorCode:
        where, closes = by_code[code][1], by_code[code][3]
        assert (where == "op") == (code in OP_REJECTIONS), code
        expected = str(int(CLOSES_WITH[code])) if code in CLOSES_WITH else "—"
        assert closes == expected, code


def test_limits_table_matches_the_constants() -> None:
    section = _section(7)
    rows = [row for row in _table_rows(section) if row[0].startswith("`")]
    assert len(rows) >= 25
    for row in rows:
        name = row[0].strip("`")
        value = int(row[1].split(" ")[0].replace(",", ""))
        assert getattr(limits, name) == value, name


def test_close_code_table_matches_the_enum() -> None:
    section = _section(7)
    codes = {int(m.group(1)) for m in re.finditer(r"^\| (\d{4}) \|", section, re.MULTILINE)}
    assert codes == {int(code) for code in CloseCode}


@pytest.mark.parametrize(
    "name",
    ["merge_states", "edit_conversation", "message_restores", "cancel_delete_for_messages"],
)
def test_functions_named_in_the_doc_exist(name: str) -> None:
    from snapask_desktop.sync import merge

    assert callable(getattr(merge, name))
