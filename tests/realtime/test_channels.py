"""Channel behaviour of the local Realtime server over raw frames: broadcast (self, ack),
presence, refused sends, HTTP broadcast, and postgres_changes (filters, events,
per-subscriber RLS, deletes) from the logical decoding of the supabase_realtime publication."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.realtime.conftest import Chat, make_chat
from tests.realtime.wire import V1, V2, Client, connect, join_payload
from tests.support import Stack


def run(coro):
    return asyncio.run(coro)


def changes_of(frames: list[Any]) -> list[dict[str, Any]]:
    return [f[4]["data"] for f in frames if isinstance(f, list) and f[3] == "postgres_changes"]


async def collect(c: Client, wait: float = 1.0) -> list[Any]:
    frames = []
    while True:
        try:
            frames.append(await c.recv(wait))
        except TimeoutError:
            return frames


def project_with(stack: Stack, owner: str, viewer: str) -> str:
    project = stack.sql(
        "insert into public.projects (name, owner_id) values ('rt', %s) returning id", (owner,)
    )[0]["id"]
    stack.sql(
        "insert into public.project_members (project_id, user_id, role, invited_by)"
        " values (%s, %s, 'viewer', %s)",
        (project, viewer, owner),
    )
    return str(project)


def test_broadcast_reaches_others_not_the_sender_unless_self(stack: Stack, chat: Chat) -> None:
    async def go() -> tuple[list, list, list]:
        async with connect(stack) as wa, connect(stack) as wb, connect(stack) as wc:
            a, b, c = Client(wa, V2), Client(wb, V2), Client(wc, V2)
            await a.join(chat.topic, join_payload(chat.alice.token))
            await b.join(chat.topic, join_payload(chat.bob.token, self_=True))
            await c.join(chat.topic, join_payload(chat.bob.token))
            await a.send(
                "1",
                "2",
                chat.topic,
                "broadcast",
                {"type": "broadcast", "event": "typing", "payload": {"n": 1}},
            )
            await b.send(
                "1",
                "2",
                chat.topic,
                "broadcast",
                {"type": "broadcast", "event": "typing", "payload": {"n": 2}},
            )
            return await collect(a, 0.5), await collect(b, 0.5), await collect(c, 0.5)

    a, b, c = run(go())
    payloads = lambda frames: [f[4]["payload"]["n"] for f in frames if f[3] == "broadcast"]  # noqa: E731
    assert payloads(a) == [2]
    assert sorted(payloads(b)) == [1, 2]
    assert sorted(payloads(c)) == [1, 2]


def test_an_outsider_joining_sees_nothing_of_the_conversation(stack: Stack, chat: Chat) -> None:
    async def go() -> tuple[Any, list]:
        async with connect(stack) as wa, connect(stack) as wo:
            a, o = Client(wa, V2), Client(wo, V2)
            await a.join(chat.topic, join_payload(chat.alice.token))
            refused = await o.join(
                chat.topic,
                join_payload(
                    chat.outsider.token,
                    changes=[{"event": "*", "schema": "public", "table": "messages"}],
                ),
            )
            await a.send(
                "1",
                "2",
                chat.topic,
                "broadcast",
                {"type": "broadcast", "event": "typing", "payload": {}},
            )
            stack.sql(
                "insert into public.messages (conversation_id, author_id, content)"
                " values (%s, %s, 'secret')",
                (chat.id, chat.alice.id),
            )
            return refused, await collect(o, 1.0)

    refused, seen = run(go())
    assert refused[4]["status"] == "error"
    assert seen == []


def test_presence_state_and_diffs_of_others(stack: Stack, chat: Chat) -> None:
    async def go() -> tuple[Any, list]:
        async with connect(stack) as wa, connect(stack, V1) as wb:
            a, b = Client(wa, V2), Client(wb, V1)
            await a.join(
                chat.topic,
                join_payload(chat.alice.token, presence=True, presence_key=chat.alice.id),
            )
            await a.send(
                "1",
                "2",
                chat.topic,
                "presence",
                {"type": "presence", "event": "track", "payload": {"status": "here"}},
            )
            await a.recv_event("phx_reply")
            await b.join(
                chat.topic, join_payload(chat.bob.token, presence=True, presence_key=chat.bob.id)
            )
            state = await b.recv_event("presence_state")
            await b.send(
                "1",
                "2",
                chat.topic,
                "presence",
                {"type": "presence", "event": "track", "payload": {"status": "typing"}},
            )
            await b.send("1", "3", chat.topic, "presence", {"type": "presence", "event": "untrack"})
            return state, [f for f in await collect(a, 0.7) if f[3] == "presence_diff"]

    state, diffs = run(go())
    metas = state["payload"][chat.alice.id]["metas"]
    assert [{k: v for k, v in m.items() if k != "phx_ref"} for m in metas] == [{"status": "here"}]
    joined, left = diffs[0][4], diffs[1][4]
    assert list(joined["joins"]) == [chat.bob.id] and joined["leaves"] == {}
    assert joined["joins"][chat.bob.id]["metas"][0]["status"] == "typing"
    assert list(left["leaves"]) == [chat.bob.id] and left["joins"] == {}


def test_a_viewer_cannot_send_where_the_policies_forbid_it(stack: Stack, chat: Chat) -> None:
    """A token whose user left the conversation after joining keeps reading (the join was
    authorized) until its token is re-checked, but its first send is evaluated now: refused,
    dropped without a reply even with ack (hosted behaviour)."""

    async def go() -> tuple[list, list]:
        async with connect(stack) as wa, connect(stack) as wb:
            a, b = Client(wa, V2), Client(wb, V2)
            await a.join(chat.topic, join_payload(chat.alice.token))
            await b.join(chat.topic, join_payload(chat.bob.token, ack=True))
            stack.sql(
                "delete from public.conversation_members where conversation_id = %s"
                " and user_id = %s",
                (chat.id, chat.bob.id),
            )
            await b.send(
                "1",
                "2",
                chat.topic,
                "broadcast",
                {"type": "broadcast", "event": "typing", "payload": {}},
            )
            await b.send(
                "1",
                "3",
                chat.topic,
                "presence",
                {"type": "presence", "event": "track", "payload": {}},
            )
            return await collect(a, 0.7), await collect(b, 0.7)

    to_alice, to_bob = run(go())
    assert to_alice == []
    assert to_bob == [["1", "3", chat.topic, "phx_reply", {"response": {}, "status": "error"}]]


def test_http_broadcast_delivers_only_what_the_caller_may_send(stack: Stack, chat: Chat) -> None:
    url = stack.env["API_URL"] + "/realtime/v1/api/broadcast"
    sub_topic = chat.topic.removeprefix("realtime:")

    def post(token: str, messages: Any) -> httpx.Response:
        return httpx.post(
            url,
            json={"messages": messages},
            timeout=10,
            headers={"apikey": stack.env["ANON_KEY"], "authorization": f"Bearer {token}"},
        )

    async def go() -> tuple[list[int], list]:
        async with connect(stack) as wb:
            b = Client(wb, V2)
            await b.join(chat.topic, join_payload(chat.bob.token))
            msg = {"topic": sub_topic, "event": "note", "payload": {"from": ""}, "private": True}
            statuses = [
                post(chat.outsider.token, [{**msg, "payload": {"from": "outsider"}}]).status_code,
                post(chat.alice.token, [{**msg, "payload": {"from": "alice"}}]).status_code,
                post(
                    stack.env["SERVICE_ROLE_KEY"], [{**msg, "payload": {"from": "server"}}]
                ).status_code,
            ]
            one = httpx.post(
                f"{url}/{sub_topic}/events/single?private=true",
                json={"from": "one"},
                timeout=10,
                headers={
                    "apikey": stack.env["ANON_KEY"],
                    "authorization": f"Bearer {chat.alice.token}",
                },
            )
            statuses.append(one.status_code)
            return statuses, await collect(b, 0.7)

    statuses, frames = run(go())
    assert statuses == [202, 202, 202, 202]
    assert [f[4]["payload"]["from"] for f in frames if f[3] == "broadcast"] == [
        "alice",
        "server",
        "one",
    ]


@pytest.mark.parametrize(
    "body",
    [
        {"messages": "x"},
        {"messages": [{"topic": "a\x00b", "event": "e", "payload": {}}]},
        {"messages": [{"topic": "t", "event": 5, "payload": {}}]},
        {"messages": [{"topic": "t", "event": "e", "payload": [1]}]},
        {"messages": [{"topic": "t", "event": "e", "payload": {"x": "y" * 300_000}}]},
        {"messages": [None]},
        [],
    ],
)
def test_http_broadcast_refuses_bad_input_with_422(stack: Stack, chat: Chat, body: Any) -> None:
    response = httpx.post(
        stack.env["API_URL"] + "/realtime/v1/api/broadcast",
        content=__import__("json").dumps(body),
        timeout=10,
        headers={
            "apikey": stack.env["ANON_KEY"],
            "authorization": f"Bearer {chat.alice.token}",
            "content-type": "application/json",
        },
    )
    assert response.status_code == 422, response.text
    assert "errors" in response.json()


def test_http_broadcast_takes_huge_numbers_and_control_characters_in_payloads(
    stack: Stack, chat: Chat
) -> None:
    body = {"messages": [{"topic": "t", "event": "e", "payload": {"n": 10**400, "s": "\x01\x00"}}]}
    response = httpx.post(
        stack.env["API_URL"] + "/realtime/v1/api/broadcast",
        json=body,
        timeout=10,
        headers={"apikey": stack.env["ANON_KEY"], "authorization": f"Bearer {chat.alice.token}"},
    )
    assert response.status_code == 202


def test_http_broadcast_needs_the_apikey_and_a_valid_token(stack: Stack, chat: Chat) -> None:
    url = stack.env["API_URL"] + "/realtime/v1/api/broadcast"
    body = {"messages": [{"topic": "t", "event": "e", "payload": {}}]}
    assert httpx.post(url, json=body, timeout=10).status_code == 401
    bad = httpx.post(
        url,
        json=body,
        timeout=10,
        headers={"apikey": stack.env["ANON_KEY"], "authorization": "Bearer nope"},
    )
    assert bad.status_code == 401


def test_changes_reach_members_with_filters_and_rls(stack: Stack, chat: Chat) -> None:
    other = make_chat(stack)  # alice is not in it
    stack.sql(
        "insert into public.conversation_members (conversation_id, user_id) values (%s, %s)",
        (other.id, chat.bob.id),
    )
    every = {"event": "*", "schema": "public", "table": "messages"}
    filtered = {**every, "event": "INSERT", "filter": f"conversation_id=eq.{chat.id}"}

    async def go() -> tuple[list, list]:
        async with connect(stack) as wa, connect(stack, V1) as wb:
            a, b = Client(wa, V2), Client(wb, V1)
            await a.join(chat.topic, join_payload(chat.alice.token, changes=[every]))
            await b.join(chat.topic, join_payload(chat.bob.token, changes=[filtered]))
            await a.recv_event("system")
            await b.recv_event("system")
            stack.sql(
                "insert into public.messages (conversation_id, author_id, content)"
                " values (%s, %s, 'in chat')",
                (chat.id, chat.alice.id),
            )
            stack.sql(
                "insert into public.messages (conversation_id, author_id, content)"
                " values (%s, %s, 'elsewhere')",
                (other.id, chat.bob.id),
            )
            stack.sql(
                "update public.messages set content = 'edited', edited_at = now()"
                " where conversation_id = %s",
                (chat.id,),
            )
            return await collect(a, 1.5), await collect(b, 1.5)

    to_alice, to_bob = run(go())
    alice = changes_of(to_alice)
    assert [(c["type"], c["record"]["content"]) for c in alice] == [
        ("INSERT", "in chat"),
        ("UPDATE", "edited"),
    ]  # not the other conversation's row
    assert alice[1]["old_record"] == {"id": alice[1]["record"]["id"]}
    bob = [f["payload"]["data"] for f in to_bob if f["event"] == "postgres_changes"]
    assert [(c["type"], c["record"]["content"]) for c in bob] == [("INSERT", "in chat")]
    assert {"name": "content", "type": "text"} in bob[0]["columns"]
    assert bob[0]["commit_timestamp"].endswith("Z") and bob[0]["errors"] is None


def test_a_removed_member_stops_receiving_rows(stack: Stack, chat: Chat) -> None:
    change = {
        "event": "INSERT",
        "schema": "public",
        "table": "messages",
        "filter": f"conversation_id=eq.{chat.id}",
    }

    async def go() -> list:
        async with connect(stack) as wb:
            b = Client(wb, V2)
            await b.join(chat.topic, join_payload(chat.bob.token, changes=[change]))
            await b.recv_event("system")
            stack.sql(
                "insert into public.messages (conversation_id, author_id, content)"
                " values (%s, %s, 'before')",
                (chat.id, chat.alice.id),
            )
            await b.recv_event("postgres_changes")
            stack.sql(
                "delete from public.conversation_members where conversation_id = %s"
                " and user_id = %s",
                (chat.id, chat.bob.id),
            )
            stack.sql(
                "insert into public.messages (conversation_id, author_id, content)"
                " values (%s, %s, 'after')",
                (chat.id, chat.alice.id),
            )
            return await collect(b, 1.5)

    assert changes_of(run(go())) == []


def test_filters_on_tasks_and_hosted_delete_payloads(stack: Stack, chat: Chat) -> None:
    project = project_with(stack, chat.alice.id, chat.bob.id)
    base = {"schema": "public", "table": "tasks"}
    bindings = [
        {**base, "event": "INSERT", "filter": f"project_id=eq.{project}"},
        {**base, "event": "INSERT", "filter": "status=in.(done,in_progress)"},
        {**base, "event": "UPDATE", "filter": "due_at=lt.2030-01-01T00:00:00Z"},
        {**base, "event": "UPDATE", "filter": "due_at=gte.2030-01-01T00:00:00Z"},
        {**base, "event": "INSERT", "filter": f"project_id=neq.{project}"},
        {"event": "DELETE", "schema": "public", "table": "notifications"},
    ]

    async def go() -> tuple[Any, list]:
        async with connect(stack) as wb:
            b = Client(wb, V2)
            reply = await b.join(chat.topic, join_payload(chat.bob.token, changes=bindings))
            await b.recv_event("system")
            task = stack.sql(
                "insert into public.tasks (project_id, title, created_by, status)"
                " values (%s, 't', %s, 'todo') returning id",
                (project, chat.alice.id),
            )[0]["id"]
            stack.sql("update public.tasks set due_at = '2029-06-01' where id = %s", (task,))
            stack.sql("update public.tasks set due_at = '2031-06-01' where id = %s", (task,))
            note = stack.sql(
                "insert into public.notifications (user_id, type, payload)"
                " values (%s, 'system', '{}') returning id",
                (chat.bob.id,),
            )[0]["id"]
            stack.sql("delete from public.notifications where id = %s", (note,))
            return reply, await collect(b, 1.5), str(task), str(note)

    reply, frames, _task, note = run(go())
    ids = [b["id"] for b in reply[4]["response"]["postgres_changes"]]
    got = [(f[4]["ids"], f[4]["data"]["type"]) for f in frames if f[3] == "postgres_changes"]
    assert got == [
        ([ids[0]], "INSERT"),
        ([ids[2]], "UPDATE"),
        ([ids[3]], "UPDATE"),
        ([ids[5]], "DELETE"),
    ]
    delete = changes_of(frames)[-1]
    assert delete["old_record"] == {"id": note} and "record" not in delete


def test_unpublished_tables_and_bad_filters_get_a_system_error(stack: Stack, chat: Chat) -> None:
    async def go() -> list[Any]:
        out = []
        for change in (
            {"event": "*", "schema": "public", "table": "conversation_members_nope"},
            {"event": "*", "schema": "public", "table": "messages", "filter": "content=like.x"},
            {"event": "*", "schema": "public", "table": "messages", "filter": "nope=eq.1"},
        ):
            async with connect(stack) as wb:
                b = Client(wb, V2)
                await b.join(chat.topic, join_payload(chat.bob.token, changes=[change]))
                out.append(await b.recv_event("system"))
        return out

    for frame in run(go()):
        assert frame[4]["extension"] == "postgres_changes" and frame[4]["status"] == "error"
