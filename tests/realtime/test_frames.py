"""Golden frames of the local Realtime server, both serializers: the exact bytes a client
receives (refs, key order, binary layout) as supabase/realtime sends them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import struct

import httpx
import pytest

from tests.realtime.conftest import Chat
from tests.realtime.wire import V1, V2, Client, connect, join_payload, user_broadcast_push
from tests.support import Stack


def run(coro):
    return asyncio.run(coro)


def test_heartbeat_is_answered_with_an_empty_ok_reply_in_both_serializers(stack: Stack) -> None:
    async def go() -> tuple[str | bytes, str | bytes]:
        async with connect(stack, V2) as w2, connect(stack, V1) as w1:
            await Client(w2, V2).send(None, "5", "phoenix", "heartbeat", {})
            await Client(w1, V1).send(None, "7", "phoenix", "heartbeat", {})
            return await Client(w2, V2).raw(), await Client(w1, V1).raw()

    v2, v1 = run(go())
    assert v2 == '[null,"5","phoenix","phx_reply",{"response":{},"status":"ok"}]'
    assert (
        v1 == '{"event":"phx_reply","payload":{"response":{},"status":"ok"},'
        '"ref":"7","topic":"phoenix"}'
    )


def test_join_reply_presence_state_and_system_frames_v2(stack: Stack, chat: Chat) -> None:
    change = {
        "event": "INSERT",
        "schema": "public",
        "table": "messages",
        "filter": f"conversation_id=eq.{chat.id}",
    }

    async def go() -> list[str | bytes]:
        async with connect(stack, V2) as ws:
            c = Client(ws, V2)
            await c.send(
                "3",
                "3",
                chat.topic,
                "phx_join",
                join_payload(chat.alice.token, presence=True, presence_key="a", changes=[change]),
            )
            return [await c.raw() for _ in range(3)]

    reply, state, system = run(go())
    parsed = json.loads(reply)
    binding_id = parsed[4]["response"]["postgres_changes"][0]["id"]
    assert isinstance(binding_id, int) and 0 <= binding_id < 2**27
    assert reply == (
        f'["3","3","{chat.topic}","phx_reply",{{"response":{{"postgres_changes":[{{"id":{binding_id},'
        f'"event":"INSERT","filter":"conversation_id=eq.{chat.id}","schema":"public",'
        f'"table":"messages"}}]}},"status":"ok"}}]'
    )
    assert state == f'["3",null,"{chat.topic}","presence_state",{{}}]'
    assert system == (
        f'["3",null,"{chat.topic}","system",{{"channel":"conversation:{chat.id}",'
        f'"extension":"postgres_changes","message":"Subscribed to PostgreSQL","status":"ok"}}]'
    )


def test_refused_join_frames_carry_the_hosted_reasons_in_both_serializers(
    stack: Stack, chat: Chat
) -> None:
    async def go() -> list[str | bytes]:
        async with connect(stack, V2) as w2, connect(stack, V1) as w1:
            c2, c1 = Client(w2, V2), Client(w1, V1)
            await c2.send("1", "1", chat.topic, "phx_join", join_payload(chat.outsider.token))
            await c1.send("1", "1", chat.topic, "phx_join", join_payload(chat.outsider.token))
            await c2.send("2", "2", chat.topic, "phx_join", join_payload(None, private=False))
            await c2.send("4", "4", "realtime:", "phx_join", join_payload(chat.alice.token))
            await c2.send("5", "5", "elsewhere", "phx_join", {})
            return [await c2.raw(), await c1.raw(), await c2.raw(), await c2.raw(), await c2.raw()]

    outsider_v2, outsider_v1, public, nameless, unmatched = run(go())
    reason = (
        "Unauthorized: You do not have permissions to read from this Channel topic: "
        f"conversation:{chat.id}"
    )
    assert outsider_v2 == (
        f'["1","1","{chat.topic}","phx_reply",{{"response":{{"reason":"{reason}"}},'
        '"status":"error"}]'
    )
    assert outsider_v1 == (
        f'{{"event":"phx_reply","payload":{{"response":{{"reason":"{reason}"}},'
        f'"status":"error"}},"ref":"1","topic":"{chat.topic}"}}'
    )
    assert public == (
        f'["2","2","{chat.topic}","phx_reply",{{"response":{{"reason":'
        '"PrivateOnly: This project only allows private channels"},"status":"error"}]'
    )
    assert nameless == (
        '["4","4","realtime:","phx_reply",{"response":{"reason":'
        '"TopicNameRequired: You must provide a topic name"},"status":"error"}]'
    )
    assert unmatched == (
        '["5","5","elsewhere","phx_reply",{"response":{"reason":"unmatched topic"},'
        '"status":"error"}]'
    )


def test_binary_broadcast_is_fanned_out_as_kind_4_to_v2_and_as_json_to_v1(
    stack: Stack, chat: Chat
) -> None:
    async def go() -> tuple[bytes, str | bytes, str | bytes]:
        async with connect(stack, V2) as wa, connect(stack, V2) as wb, connect(stack, V1) as wc:
            a, b, c = Client(wa, V2), Client(wb, V2), Client(wc, V1)
            await a.join(chat.topic, join_payload(chat.alice.token, ack=True))
            await b.join(chat.topic, join_payload(chat.bob.token))
            await c.join(chat.topic, join_payload(chat.bob.token))
            await wa.send(user_broadcast_push("1", "2", chat.topic, "typing", b'{"who":"alice"}'))
            ack = await a.raw()
            return await b.raw(), await c.raw(), ack

    to_v2, to_v1, ack = run(go())
    topic = chat.topic.encode()
    assert to_v2 == struct.pack("BBBBB", 4, len(topic), 6, 0, 1) + topic + b'typing{"who":"alice"}'
    assert to_v1 == (
        '{"event":"broadcast","payload":{"event":"typing","payload":{"who":"alice"},'
        f'"type":"broadcast"}},"ref":null,"topic":"{chat.topic}"}}'
    )
    assert ack == f'["1","2","{chat.topic}","phx_reply",{{"response":{{}},"status":"ok"}}]'


def test_json_broadcast_presence_diff_and_leave_frames_v2(stack: Stack, chat: Chat) -> None:
    async def go() -> dict[str, str | bytes]:
        async with connect(stack, V2) as wa, connect(stack, V2) as wb:
            a, b = Client(wa, V2), Client(wb, V2)
            await a.join(
                chat.topic, join_payload(chat.alice.token, presence=True, presence_key="alice")
            )
            await a.recv_event("presence_state")
            await b.join(chat.topic, join_payload(chat.bob.token))
            await b.send(
                "1",
                "2",
                chat.topic,
                "broadcast",
                {"type": "broadcast", "event": "typing", "payload": {"z": 1, "a": 2}},
            )
            frames = {"broadcast": await a.raw()}
            await a.send(
                "1",
                "3",
                chat.topic,
                "presence",
                {"type": "presence", "event": "track", "payload": {"online": True}},
            )
            frames["diff"] = await a.raw()
            frames["track_reply"] = await a.raw()
            await a.send("1", "4", chat.topic, "phx_leave", {})
            frames["leave_reply"] = await a.raw()
            frames["close"] = await a.raw()
            return frames

    f = run(go())
    assert f["broadcast"] == (
        f'[null,null,"{chat.topic}","broadcast",{{"event":"typing","payload":{{"a":2,"z":1}},'
        '"type":"broadcast"}]'
    )
    diff = json.loads(f["diff"])
    ref = diff[4]["joins"]["alice"]["metas"][0]["phx_ref"]
    assert f["diff"] == (
        f'[null,null,"{chat.topic}","presence_diff",{{"joins":{{"alice":{{"metas":'
        f'[{{"online":true,"phx_ref":"{ref}"}}]}}}},"leaves":{{}}}}]'
    )
    assert (
        f["track_reply"]
        == f'["1","3","{chat.topic}","phx_reply",{{"response":{{}},"status":"ok"}}]'
    )
    assert (
        f["leave_reply"]
        == f'["1","4","{chat.topic}","phx_reply",{{"response":{{}},"status":"ok"}}]'
    )
    assert f["close"] == f'["1","1","{chat.topic}","phx_close",{{}}]'


def test_access_token_of_an_outsider_closes_the_channel_with_the_hosted_system_message(
    stack: Stack, chat: Chat
) -> None:
    async def go() -> tuple[str | bytes, str | bytes]:
        async with connect(stack, V2) as ws:
            c = Client(ws, V2)
            await c.join(chat.topic, join_payload(chat.bob.token))
            await c.send(
                "1", "2", chat.topic, "access_token", {"access_token": chat.outsider.token}
            )
            return await c.raw(), await c.raw()

    system, close = run(go())
    assert system == (
        f'["1",null,"{chat.topic}","system",{{"channel":"conversation:{chat.id}",'
        '"extension":"system","message":"You do not have permissions to read from this '
        f'Channel topic: conversation:{chat.id}","status":"error"}}]'
    )
    assert close == f'["1","1","{chat.topic}","phx_close",{{}}]'


def test_expired_and_malformed_tokens_close_the_channel_or_refuse_the_join(
    stack: Stack, chat: Chat
) -> None:
    expired = stack.token(chat.bob, exp=1)

    async def go() -> list[dict]:
        async with connect(stack, V2) as ws:
            c = Client(ws, V2)
            refused = await c.join(chat.topic, join_payload(expired))
            await c.join(chat.topic, join_payload(chat.bob.token), ref="2")
            await c.send("2", "3", chat.topic, "access_token", {"access_token": expired})
            system = await c.recv()
            close = await c.recv()
            bad = await c.join(chat.topic, join_payload("not-a-jwt"), ref="4")
            return [refused, system, close, bad]

    refused, system, close, bad = run(go())
    assert refused[4]["status"] == "error"
    assert refused[4]["response"]["reason"].startswith("InvalidJWTToken: Token has expired ")
    assert refused[4]["response"]["reason"].endswith(" seconds ago")
    assert system[3] == "system" and system[4]["extension"] == "system"
    assert system[4]["message"].startswith("Token has expired ")
    assert close == ["2", "2", chat.topic, "phx_close", {}]
    assert bad[4] == {
        "response": {"reason": "MalformedJWT: The token provided is not a valid JWT"},
        "status": "error",
    }


def test_handshake_refusals_are_http_401_json(stack: Stack) -> None:
    url = stack.env["API_URL"] + "/realtime/v1/websocket"
    headers = {
        "connection": "upgrade",
        "upgrade": "websocket",
        "sec-websocket-version": "13",
        "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
    }
    with httpx.Client(timeout=10) as http:
        missing = http.get(url, headers=headers)
        wrong = http.get(url, params={"apikey": "nope", "vsn": V2}, headers=headers)
    assert missing.status_code == 401
    assert missing.json()["message"] == "No API key found in request"
    assert wrong.status_code == 401
    assert wrong.json()["message"] == "Invalid API key"


@pytest.mark.parametrize(
    "frame",
    [
        b"\x03\x01",
        b"\x09abc",
        "not json",
        "[1,2]",
        '{"topic":1}',
        "[null,null,1,2,{}]",
        '["1","1","realtime:x\\u0000","phx_join",{"config":"x"}]',
    ],
)
def test_bad_frames_never_break_the_server(stack: Stack, frame: str | bytes) -> None:
    async def go() -> str | bytes:
        async with connect(stack, V2) as ws:
            await ws.send(frame)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.recv(), 2)
        async with connect(stack, V2) as ws:
            c = Client(ws, V2)
            await c.send(None, "9", "phoenix", "heartbeat", {})
            return await c.raw()

    assert run(go()) == '[null,"9","phoenix","phx_reply",{"response":{},"status":"ok"}]'
