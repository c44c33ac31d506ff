"""The pure parts of the local Realtime server: frame codec edge cases, filter parsing, value
conversion and the pgoutput decoder (fed messages built by hand, byte for byte)."""

from __future__ import annotations

import struct

import pytest

from devstack.realtime import protocol
from devstack.realtime.changes import Decoder, parse_filter, to_json_value


def test_filters_parse_the_supported_operators_and_refuse_others() -> None:
    f = parse_filter("priority=not.gte.3")
    assert (f.column, f.op, f.value, f.negate) == ("priority", "gte", "3", True)
    assert parse_filter("id=in.(1,2)").value == "(1,2)"
    assert parse_filter(None) is None and parse_filter("") is None
    for bad in ("content=like.x", "noequals", "=eq.1"):
        with pytest.raises(ValueError):
            parse_filter(bad)


@pytest.mark.parametrize(
    ("text", "typname", "value"),
    [
        ("t", "bool", True),
        ("42", "int8", 42),
        ("1.50", "numeric", 1.5),
        ("7", "numeric", 7),
        ("NaN", "float8", "NaN"),
        ('{"a": [1]}', "jsonb", {"a": [1]}),
        ("2026-12-03 12:00:00.5+00", "timestamptz", "2026-12-03T12:00:00.5+00:00"),
        ("2026-12-03 12:00:00", "timestamp", "2026-12-03T12:00:00"),
        ("todo", "task_status", "todo"),
        (None, "text", None),
    ],
)
def test_values_are_converted_as_to_jsonb_does(text: str | None, typname: str, value) -> None:
    assert to_json_value(text, typname) == value


def _cstr(s: str) -> bytes:
    return s.encode() + b"\x00"


def _tuple(*values: str | None) -> bytes:
    out = struct.pack(">h", len(values))
    for v in values:
        out += b"n" if v is None else b"t" + struct.pack(">i", len(v.encode())) + v.encode()
    return out


def test_pgoutput_messages_decode_into_changes_at_commit() -> None:
    d = Decoder()
    relation = (
        b"R"
        + struct.pack(">i", 16384)
        + _cstr("public")
        + _cstr("tasks")
        + b"d"
        + struct.pack(">h", 2)
        + b"\x01"
        + _cstr("id")
        + struct.pack(">ii", 2950, -1)
        + b"\x00"
        + _cstr("title")
        + struct.pack(">ii", 25, -1)
    )
    assert d.feed(b"B" + struct.pack(">qqi", 1, 86_400_000_000, 7)) == []
    assert d.feed(relation) == []
    assert d.feed(b"I" + struct.pack(">i", 16384) + b"N" + _tuple("a", "x")) == []
    assert d.feed(b"U" + struct.pack(">i", 16384) + b"N" + _tuple("a", None)) == []
    assert d.feed(b"D" + struct.pack(">i", 16384) + b"K" + _tuple("a", None)) == []
    changes = d.feed(b"C" + b"\x00" + struct.pack(">qqq", 1, 2, 86_400_000_000))
    assert [(c.action, c.new, c.old) for c in changes] == [
        ("INSERT", {"id": "a", "title": "x"}, None),
        ("UPDATE", {"id": "a", "title": None}, None),
        ("DELETE", None, {"id": "a", "title": None}),
    ]
    assert changes[0].commit_ts is not None and changes[0].commit_ts.isoformat().startswith(
        "2000-01-02T00:00:00"
    )


@pytest.mark.parametrize(
    "frame",
    [b"\x03\x05\x00\x00\x00\x00\x01ab", b"\x03\x00\x00\x01\x01\x00\x01tex", b"\x04\x00"],
)
def test_truncated_or_unknown_binary_frames_are_refused(frame: bytes) -> None:
    with pytest.raises(protocol.FrameError):
        protocol.decode(frame, protocol.V2)


def test_binary_frames_need_vsn_2_and_v1_cannot_carry_binary_payloads() -> None:
    with pytest.raises(protocol.FrameError):
        protocol.decode(b"\x03", protocol.V1)
    raw = protocol.UserBroadcast("e", protocol.ENCODING_BINARY, b"\x00\x01")
    assert protocol.encode(protocol.Message(None, None, "t", "broadcast", raw), protocol.V1) is None
    with pytest.raises(protocol.FrameError):
        protocol.encode_user_broadcast("t" * 256, raw)
