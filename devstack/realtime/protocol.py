"""Phoenix channel frames as Supabase Realtime speaks them (both serializers).

- vsn 1.0.0 (realtime-py): JSON objects. Outgoing frames carry ``topic``, ``event``,
  ``payload`` and ``ref`` only (Phoenix's V1 serializer drops ``join_ref``).
- vsn 2.0.0 (realtime-js's default): JSON arrays ``[join_ref, ref, topic, event, payload]``
  plus binary user broadcasts: kind 3 in (client push), kind 4 out (server fan-out), as in
  ``RealtimeWeb.Socket.V2Serializer``.

Server-built maps are encoded with sorted keys, as Elixir encodes small maps; a user
payload that arrived as bytes is passed through untouched.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import Any

V1 = "1.0.0"
V2 = "2.0.0"
KIND_USER_BROADCAST_PUSH = 3
KIND_USER_BROADCAST = 4
ENCODING_BINARY = 0
ENCODING_JSON = 1


class FrameError(ValueError):
    """A frame the server cannot decode (the socket is closed, as Phoenix does)."""


@dataclass(frozen=True)
class UserBroadcast:
    """A broadcast whose user payload travels as bytes (binary frames)."""

    event: str
    encoding: int
    payload: bytes
    metadata: dict[str, Any] | None = None

    def as_json_payload(self) -> dict[str, Any] | None:
        """The JSON broadcast a V1 socket receives instead (None for binary payloads)."""
        if self.encoding != ENCODING_JSON:
            return None
        body: dict[str, Any] = {
            "event": self.event,
            "payload": json.loads(self.payload),
            "type": "broadcast",
        }
        if self.metadata:
            body["meta"] = self.metadata
        return body


@dataclass(frozen=True)
class Message:
    join_ref: str | None
    ref: str | None
    topic: str
    event: str
    payload: Any


@dataclass(frozen=True)
class IdFirst:
    """A postgres_changes binding echoed in the join reply: Elixir puts the atom key ``id``
    before the binary keys the client sent."""

    params: dict[str, Any]
    id: int


def _ordered(value: Any) -> Any:
    if isinstance(value, IdFirst):
        return {"id": value.id, **_ordered(value.params)}
    if isinstance(value, dict):
        return {k: _ordered(value[k]) for k in sorted(value)}
    if isinstance(value, list | tuple):
        return [_ordered(v) for v in value]
    return value


def dumps(value: Any) -> str:
    return json.dumps(_ordered(value), separators=(",", ":"), ensure_ascii=False)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FrameError("refs and topics must be strings")
    return str(value)


def decode(data: str | bytes, vsn: str) -> Message:
    if isinstance(data, bytes):
        if vsn != V2:
            raise FrameError("binary frames need vsn 2.0.0")
        return _decode_binary(data)
    try:
        raw = json.loads(data)
    except ValueError as exc:
        raise FrameError(f"invalid JSON: {exc}") from exc
    if vsn == V2:
        if not isinstance(raw, list) or len(raw) < 5:
            raise FrameError("expected V2 array")
        join_ref, ref, topic, event, payload = raw[:5]
    else:
        if not isinstance(raw, dict):
            raise FrameError("expected V1 object")
        join_ref, ref = raw.get("join_ref"), raw.get("ref")
        topic, event, payload = raw.get("topic"), raw.get("event"), raw.get("payload")
    if not isinstance(topic, str) or not isinstance(event, str):
        raise FrameError("topic and event must be strings")
    return Message(_text(join_ref), _text(ref), topic, event, payload)


def _decode_binary(data: bytes) -> Message:
    if len(data) < 7 or data[0] != KIND_USER_BROADCAST_PUSH:
        raise FrameError("unsupported binary frame")
    sizes = data[1:6]
    encoding = data[6]
    offset = 7
    parts: list[bytes] = []
    for size in sizes:
        if offset + size > len(data):
            raise FrameError("truncated binary frame")
        parts.append(data[offset : offset + size])
        offset += size
    try:
        join_ref, ref, topic, event, meta = (p.decode() for p in parts)
        metadata = json.loads(meta) if meta else {}
    except (UnicodeDecodeError, ValueError) as exc:
        raise FrameError(f"invalid binary frame: {exc}") from exc
    user_payload = data[offset:]
    if encoding == ENCODING_JSON:
        try:
            json.loads(user_payload)
        except ValueError as exc:
            raise FrameError(f"invalid JSON payload: {exc}") from exc
    return Message(
        join_ref or None,
        ref or None,
        topic,
        "broadcast",
        UserBroadcast(
            event, ENCODING_JSON if encoding else ENCODING_BINARY, user_payload, metadata
        ),
    )


def encode(msg: Message, vsn: str) -> str | bytes | None:
    """The frame for one socket; None when the socket cannot represent it (binary on V1)."""
    payload = msg.payload
    if isinstance(payload, UserBroadcast):
        if vsn == V2:
            return encode_user_broadcast(msg.topic, payload)
        payload = payload.as_json_payload()
        if payload is None:
            return None
    if vsn == V2:
        return dumps([msg.join_ref, msg.ref, msg.topic, msg.event, payload])
    return dumps({"event": msg.event, "payload": payload, "ref": msg.ref, "topic": msg.topic})


def encode_user_broadcast(topic: str, b: UserBroadcast) -> bytes:
    topic_b, event_b = topic.encode(), b.event.encode()
    meta_b = dumps(b.metadata).encode() if b.metadata else b""
    for part in (topic_b, event_b, meta_b):
        if len(part) > 255:
            raise FrameError("binary frame fields are at most 255 bytes")
    header = struct.pack(
        "BBBBB", KIND_USER_BROADCAST, len(topic_b), len(event_b), len(meta_b), b.encoding
    )
    return header + topic_b + event_b + meta_b + b.payload


def reply(msg: Message, status: str, response: Any) -> Message:
    return Message(
        msg.join_ref, msg.ref, msg.topic, "phx_reply", {"response": response, "status": status}
    )
