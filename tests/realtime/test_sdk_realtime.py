"""The real clients on the local Realtime server: supabase-js (pinned, Node, vsn 2.0.0) and
supabase-py's realtime client (vsn 1.0.0), as a conversation's members and an outsider."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.realtime.conftest import Chat, make_chat
from tests.realtime.test_channels import project_with
from tests.support import Stack

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def js(stack: Stack) -> dict[str, Any]:
    node = shutil.which("node")
    assert node, "node (20+) is needed for the supabase-js tests"
    chat = make_chat(stack)
    project = project_with(stack, chat.alice.id, chat.bob.id)
    result = subprocess.run(
        [node, str(HERE / "supabase_js_realtime.mjs")],
        env={
            **os.environ,
            "API_URL": stack.env["API_URL"],
            "ANON_KEY": stack.env["ANON_KEY"],
            "CONVERSATION": chat.id,
            "PROJECT": project,
            "ALICE_TOKEN": chat.alice.token,
            "BOB_TOKEN": chat.bob.token,
            "BOB_TOKEN_2": stack.token(chat.bob, session_id="refreshed"),
            "OUTSIDER_TOKEN": chat.outsider.token,
        },
        cwd=stack.cfg.root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    out["conversation"] = chat.id
    return out


def test_supabase_js_members_subscribe_and_the_outsider_is_refused(js: dict) -> None:
    # (CLOSED comes last, when the script removes its channels)
    assert js["alice"]["status"][0] == "SUBSCRIBED"
    assert js["bob"]["status"][0] == "SUBSCRIBED"
    assert not [s for s in js["alice"]["status"] + js["bob"]["status"] if "ERROR" in s]
    refusal = (
        "CHANNEL_ERROR: Unauthorized: You do not have permissions to read from this Channel "
        f"topic: conversation:{js['conversation']}"
    )
    # realtime-js retries a refused join; every attempt is refused
    assert js["outsider"]["status"][0] == refusal
    assert set(js["outsider"]["status"]) <= {refusal, "CLOSED"}


def test_supabase_js_member_sees_typing_presence_messages_edits_and_read_receipts(
    js: dict,
) -> None:
    assert js["presenceSeenByAlice"] is True
    assert {"event": "typing", "payload": {"who": "alice"}} in js["bob"]["broadcast"]
    assert {"event": "note", "payload": {"via": "http"}} in js["bob"]["broadcast"]
    assert js["httpSend"] == {"success": True}
    assert js["insertError"] is None and js["editError"] is None and js["readError"] is None
    bob_changes = [(c["type"], c.get("content")) for c in js["bob"]["changes"]]
    assert ("INSERT", "hello bob") in bob_changes
    assert ("UPDATE", "hello bob (edited)") in bob_changes
    receipts = [c for c in js["alice"]["changes"] if c["table"] == "conversation_members"]
    assert receipts and receipts[0]["read"] is True


def test_supabase_js_outsider_sees_nothing(js: dict) -> None:
    assert js["outsider"]["broadcast"] == []
    assert js["outsider"]["changes"] == []
    assert js["outsider"]["presence"] == []


def test_supabase_js_viewer_cannot_send_on_the_project_channel(js: dict) -> None:
    assert js["viewerProjectSend"] == "timed out"  # dropped by the policies, as hosted
    assert js["projectBroadcastsSeen"] == 0


def test_supabase_js_removed_member_stops_receiving_and_is_closed_on_refresh(js: dict) -> None:
    assert js["removeError"] is None
    assert js["bobChangesAfterRemoval"] == []
    assert js["bobClosedWith"] == [
        "You do not have permissions to read from this Channel topic: "
        f"conversation:{js['conversation']}"
    ]
    assert js["bobChannelState"] == "closed"


# -- supabase-py (realtime, vsn 1.0.0) ------------------------------------------------------


async def _py_flow(stack: Stack, chat: Chat) -> dict[str, Any]:
    import asyncio

    from realtime import AsyncRealtimeClient

    url = stack.env["API_URL"] + "/realtime/v1"
    seen: dict[str, list[Any]] = {"bob": [], "outsider": [], "status_o": [], "presence": []}
    clients = []

    async def join(token: str, name: str, sink: list[Any], status: list[Any] | None = None):
        client = AsyncRealtimeClient(url, stack.env["ANON_KEY"])
        clients.append(client)
        await client.set_auth(token)
        channel = client.channel(
            f"conversation:{chat.id}",
            {
                "config": {
                    "private": True,
                    "broadcast": {"self": False, "ack": False},
                    "presence": {"key": name, "enabled": True},
                }
            },
        )
        channel.on_broadcast("typing", lambda m: sink.append(("typing", m["payload"])))
        channel.on_postgres_changes(
            "INSERT",
            schema="public",
            table="messages",
            filter=f"conversation_id=eq.{chat.id}",
            callback=lambda m: sink.append(("insert", m["data"]["record"]["content"])),
        )
        channel.on_presence_sync(lambda: seen["presence"].append(sorted(channel.presence_state())))
        await channel.subscribe(
            lambda state, err: (status if status is not None else []).append(
                (str(state), str(err) if err else None)
            )
        )
        return channel

    a = await join(chat.alice.token, "alice", [])
    b = await join(chat.bob.token, "bob", seen["bob"])
    await join(chat.outsider.token, "outsider", seen["outsider"], seen["status_o"])
    await asyncio.sleep(1.0)
    await b.track({"online": True})
    await a.send_broadcast("typing", {"who": "alice"})
    stack.sql(
        "insert into public.messages (conversation_id, author_id, content)"
        " values (%s, %s, 'from py')",
        (chat.id, chat.alice.id),
    )
    for _ in range(100):
        if len(seen["bob"]) >= 2:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)
    for client in clients:
        await client.close()
    return seen


def test_supabase_py_member_receives_and_outsider_is_refused(stack: Stack, chat: Chat) -> None:
    import asyncio

    seen = asyncio.run(_py_flow(stack, chat))
    assert ("typing", {"who": "alice"}) in seen["bob"]
    assert ("insert", "from py") in seen["bob"]
    assert seen["outsider"] == []
    assert seen["status_o"] and "CHANNEL_ERROR" in seen["status_o"][0][0]
    assert any("bob" in keys for keys in seen["presence"])
