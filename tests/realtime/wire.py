"""A raw Phoenix client for the Realtime frame tests: frames as bytes and JSON, nothing
interpreted, so a test pins exactly what the server sends."""

from __future__ import annotations

import asyncio
import json
import struct
from dataclasses import dataclass
from typing import Any

import websockets

from tests.support import Stack

V1, V2 = "1.0.0", "2.0.0"


def ws_url(stack: Stack, vsn: str = V2, apikey: str | None = None) -> str:
    base = stack.env["API_URL"].replace("http://", "ws://")
    key = stack.env["ANON_KEY"] if apikey is None else apikey
    return f"{base}/realtime/v1/websocket?apikey={key}&vsn={vsn}"


def join_payload(
    token: str | None,
    *,
    private: bool = True,
    ack: bool = False,
    self_: bool = False,
    presence_key: str = "",
    presence: bool = False,
    changes: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "config": {
            "broadcast": {"ack": ack, "self": self_},
            "presence": {"key": presence_key, "enabled": presence},
            "postgres_changes": changes or [],
            "private": private,
        }
    }
    if token is not None:
        payload["access_token"] = token
    return payload


def user_broadcast_push(
    join_ref: str, ref: str, topic: str, event: str, body: bytes, encoding: int = 1
) -> bytes:
    """realtime-js's binary push (kind 3)."""
    parts = [p.encode() for p in (join_ref, ref, topic, event, "")]
    return struct.pack("BBBBBBB", 3, *(len(p) for p in parts), encoding) + b"".join(parts) + body


@dataclass
class Client:
    ws: Any
    vsn: str

    async def send(
        self, join_ref: str | None, ref: str | None, topic: str, event: str, payload: Any
    ) -> None:
        if self.vsn == V2:
            await self.ws.send(json.dumps([join_ref, ref, topic, event, payload]))
        else:
            await self.ws.send(
                json.dumps(
                    {
                        "join_ref": join_ref,
                        "ref": ref,
                        "topic": topic,
                        "event": event,
                        "payload": payload,
                    }
                )
            )

    async def raw(self, timeout: float = 5.0) -> str | bytes:
        return await asyncio.wait_for(self.ws.recv(), timeout)

    async def recv(self, timeout: float = 5.0) -> Any:
        frame = await self.raw(timeout)
        return frame if isinstance(frame, bytes) else json.loads(frame)

    async def recv_event(self, event: str, timeout: float = 5.0) -> Any:
        """The next frame of this event, skipping others (e.g. presence_state, system)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            left = deadline - asyncio.get_running_loop().time()
            frame = await self.recv(max(left, 0.01))
            name = (
                frame[3]
                if isinstance(frame, list)
                else (frame.get("event") if isinstance(frame, dict) else "broadcast")
            )
            if name == event:
                return frame

    async def nothing(self, wait: float = 0.5) -> None:
        """Nothing arrives within ``wait`` seconds (heartbeat replies aside)."""
        try:
            frame = await asyncio.wait_for(self.ws.recv(), wait)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected frame: {frame!r}")

    async def join(self, topic: str, payload: dict[str, Any], ref: str = "1") -> Any:
        await self.send(ref, ref, topic, "phx_join", payload)
        return await self.recv_event("phx_reply")


def connect(stack: Stack, vsn: str = V2, apikey: str | None = None):
    return websockets.connect(ws_url(stack, vsn, apikey), open_timeout=10)
