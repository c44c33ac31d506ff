"""The local Realtime server: Phoenix channels at ``/realtime/v1/websocket`` and the HTTP
broadcast API, mounted by the gateway (``devstack/gateway.py``) behind its apikey rule.

Behaviour follows supabase/realtime (``RealtimeChannel``, ``BroadcastHandler``,
``PresenceHandler``, ``UserSocket``); the texts of errors and system messages are the
hosted ones. Rate limits, replay and persisted broadcasts are not implemented
(docs/realtime.md).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from devstack.realtime import authz, protocol
from devstack.realtime.protocol import Message, UserBroadcast

log = logging.getLogger("devstack.realtime")

TOKEN_RECHECK_S = 300  # RealtimeChannel @confirm_token_ms_interval
MAX_PAYLOAD_BYTES = 256 * 1024  # the hosted default max_payload_size_in_kb
HEARTBEAT_TIMEOUT_S = 60  # Phoenix closes a socket silent for this long


def _flex_bool(value: Any, default: bool = False) -> bool:
    """Realtime's FlexibleBoolean: true/false or their strings."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return default


def _phx_ref() -> str:
    return base64.urlsafe_b64encode(os.urandom(9)).decode()


@dataclass
class Binding:
    """One postgres_changes entry of a join: the params as sent plus the id the client
    matches events by."""

    id: int
    params: dict[str, Any]


@dataclass(eq=False)
class Channel:
    socket: Socket
    topic: str  # realtime:<sub_topic>
    sub_topic: str
    join_ref: str | None
    private: bool
    ack: bool
    self_broadcast: bool
    presence_enabled: bool
    presence_key: str
    access_token: str
    claims: dict[str, Any]
    policies: authz.Policies | None = None
    presence_payload: dict[str, Any] | None = None
    bindings: list[Binding] = field(default_factory=list)
    token_timer: asyncio.TimerHandle | None = None
    closed: bool = False

    @property
    def key(self) -> tuple[bool, str]:
        return (self.private, self.sub_topic)

    def can_receive_broadcast(self) -> bool:
        return not self.private or bool(self.policies and self.policies.broadcast_read)

    def can_receive_presence(self) -> bool:
        return not self.private or bool(self.policies and self.policies.presence_read)

    def push(self, event: str, payload: Any) -> None:
        """A channel push: join_ref set, ref null (Phoenix.Channel.push)."""
        self.socket.send(Message(self.join_ref, None, self.topic, event, payload))

    def system(self, extension: str, status: str, message: str) -> None:
        self.push(
            "system",
            {
                "channel": self.sub_topic,
                "extension": extension,
                "message": message,
                "status": status,
            },
        )


@dataclass
class Presence:
    """Who is tracked on a topic: key -> channel -> meta."""

    entries: dict[str, dict[Channel, dict[str, Any]]] = field(default_factory=dict)

    def state(self) -> dict[str, Any]:
        return {
            key: {"metas": list(metas.values())} for key, metas in self.entries.items() if metas
        }


class Realtime:
    def __init__(
        self, *, db_url: str, jwt_secret: str, private_only: bool = True, changes: bool = True
    ) -> None:
        self.jwt_secret = jwt_secret
        self.private_only = private_only
        self.pool = authz.Pool(db_url, size=6)
        self.topics: dict[tuple[bool, str], set[Channel]] = {}
        self.presence: dict[tuple[bool, str], Presence] = {}
        self.changes = None
        if changes:
            from devstack.realtime.changes import ChangeFeed

            self.changes = ChangeFeed(db_url, self.pool)

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        if self.changes is not None:
            await self.changes.start()

    async def stop(self) -> None:
        if self.changes is not None:
            await self.changes.stop()
        await self.pool.close()

    def routes(self) -> list[Any]:
        return [
            WebSocketRoute("/realtime/v1/websocket", self.websocket),
            Route("/realtime/v1/api/broadcast", self.http_broadcast, methods=["POST"]),
            Route(
                "/realtime/v1/api/broadcast/{topic}/events/{event}",
                self.http_broadcast_one,
                methods=["POST"],
            ),
        ]

    # -- fan-out -----------------------------------------------------------------------------

    def fan_out(
        self, key: tuple[bool, str], event: str, payload: Any, sender: Channel | None = None
    ) -> int:
        """Deliver a broadcast to a topic's subscribers (Realtime's MessageDispatcher)."""
        # every subscriber of a topic gets the same frame: encoded once per serializer
        msg = Message(None, None, "realtime:" + key[1], event, payload)
        frames: dict[str, str | bytes | None] = {}
        delivered = 0
        for channel in list(self.topics.get(key, ())):
            if channel is sender or not channel.can_receive_broadcast():
                continue
            vsn = channel.socket.vsn
            if vsn not in frames:
                frames[vsn] = protocol.encode(msg, vsn)
            frame = frames[vsn]
            if frame is not None:
                channel.socket.outbox.put_nowait(frame)
                delivered += 1
        return delivered

    def _presence_diff(self, key: tuple[bool, str], joins: dict[str, Any], leaves: dict[str, Any]):
        cache: dict[tuple[str, str], str | bytes | None] = {}
        diff = {"joins": joins, "leaves": leaves}
        for channel in list(self.topics.get(key, ())):
            if channel.can_receive_presence():
                channel.socket.send_cached(
                    cache, Message(None, None, channel.topic, "presence_diff", diff)
                )

    def track(self, channel: Channel, payload: dict[str, Any]) -> None:
        presence = self.presence.setdefault(channel.key, Presence())
        metas = presence.entries.setdefault(channel.presence_key, {})
        old = metas.get(channel)
        meta = {**payload, "phx_ref": _phx_ref()}
        leaves: dict[str, Any] = {}
        if old is not None:
            meta["phx_ref_prev"] = old["phx_ref"]
            leaves = {channel.presence_key: {"metas": [old]}}
        metas[channel] = meta
        self._presence_diff(channel.key, {channel.presence_key: {"metas": [meta]}}, leaves)

    def untrack(self, channel: Channel) -> None:
        presence = self.presence.get(channel.key)
        if presence is None:
            return
        metas = presence.entries.get(channel.presence_key, {})
        old = metas.pop(channel, None)
        if not metas:
            presence.entries.pop(channel.presence_key, None)
        if not presence.entries:
            self.presence.pop(channel.key, None)
        if old is not None:
            self._presence_diff(channel.key, {}, {channel.presence_key: {"metas": [old]}})

    def subscribe(self, channel: Channel) -> None:
        self.topics.setdefault(channel.key, set()).add(channel)

    def remove(self, channel: Channel) -> None:
        channel.closed = True
        if channel.token_timer is not None:
            channel.token_timer.cancel()
        subscribers = self.topics.get(channel.key)
        if subscribers is not None:
            subscribers.discard(channel)
            if not subscribers:
                self.topics.pop(channel.key, None)
        if channel.presence_payload is not None:
            self.untrack(channel)
        if self.changes is not None and channel.bindings:
            self.changes.unsubscribe(channel)

    # -- tokens ------------------------------------------------------------------------------

    def confirm_token(self, channel: Channel) -> dict[str, Any]:
        claims = authz.verify_token(channel.access_token, self.jwt_secret)
        if channel.token_timer is not None:
            channel.token_timer.cancel()
        delay = min(TOKEN_RECHECK_S, max(int(claims["exp"]) - time.time(), 0))
        loop = asyncio.get_running_loop()
        channel.token_timer = loop.call_later(
            delay, lambda: loop.create_task(self._recheck_token(channel))
        )
        return claims

    async def confirm_live_token(self, channel: Channel) -> dict[str, Any]:
        """``confirm_token``, and the account must still exist (TokenError otherwise)."""
        claims = self.confirm_token(channel)
        try:
            await authz.ensure_account(self.pool, claims)
        except authz.TokenError:
            if channel.token_timer is not None:
                channel.token_timer.cancel()
            raise
        return claims

    async def _recheck_token(self, channel: Channel) -> None:
        if channel.closed:
            return
        try:
            channel.claims = await self.confirm_live_token(channel)
        except authz.TokenError as exc:
            channel.socket.shutdown(channel, exc.message)
            return
        if self.changes is not None:
            self.changes.update_claims(channel)

    # -- WebSocket ---------------------------------------------------------------------------

    async def websocket(self, ws: WebSocket) -> None:
        vsn = ws.query_params.get("vsn", protocol.V1)
        if vsn not in (protocol.V1, protocol.V2):
            await ws.send_denial_response(Response(status_code=403))
            return
        token = ws.headers.get("x-api-key") or ws.query_params.get("apikey")
        if not token:
            await ws.send_denial_response(JSONResponse({"error": "API key is missing"}, 401))
            return
        try:
            claims = authz.verify_token(token, self.jwt_secret)
            await authz.ensure_account(self.pool, claims)
        except authz.TokenError as exc:
            message = (
                "Token has expired" if exc.message.startswith("Token has expired") else exc.message
            )
            await ws.send_denial_response(JSONResponse({"error": message}, 401))
            return
        await ws.accept()
        headers = {k: v for k, v in ws.headers.items() if k.startswith("x-")}
        socket = Socket(self, ws, vsn, token, claims, headers)
        await socket.run()

    # -- HTTP broadcast ----------------------------------------------------------------------

    async def _http_claims(self, request: Request) -> dict[str, Any] | Response:
        auth = request.headers.get("authorization", "")
        token = auth[7:] if auth.lower().startswith("bearer ") else request.headers.get("apikey")
        try:
            claims = authz.verify_token(token, self.jwt_secret)
            await authz.ensure_account(self.pool, claims)
            return claims
        except authz.TokenError as exc:
            return JSONResponse({"message": exc.message}, 401)

    async def _may_send(self, topic: str, claims: dict[str, Any], request: Request) -> bool:
        headers = {k: v for k, v in request.headers.items() if k.startswith("x-")}
        try:
            policies = await authz.write_policies(
                self.pool, topic, claims, headers, authz.Policies(), presence=False
            )
        except Exception:  # a policy error refuses, as hosted (RlsPolicyError)
            log.exception("broadcast authorization failed")
            return False
        return bool(policies.broadcast_write)

    async def http_broadcast(self, request: Request) -> Response:
        claims = await self._http_claims(request)
        if isinstance(claims, Response):
            return claims
        body = await _json_body(request)
        messages = body.get("messages") if isinstance(body, dict) else None
        errors: list[dict[str, Any]] = []
        valid: list[dict[str, Any]] = []
        if not isinstance(messages, list):
            return JSONResponse({"errors": {"messages": ["can't be blank"]}}, 422)
        for item in messages:
            problem = _message_errors(item)
            errors.append(problem)
            if not problem:
                valid.append(item)
        if any(errors):
            return JSONResponse({"errors": {"messages": errors}}, 422)
        allowed: dict[str, bool] = {}
        for item in valid:
            private = _flex_bool(item.get("private"))
            topic = item["topic"]
            if private and topic not in allowed:
                allowed[topic] = await self._may_send(topic, claims, request)
            if private and not allowed[topic]:
                continue  # hosted drops a refused private message silently
            payload = {"event": item["event"], "payload": item["payload"], "type": "broadcast"}
            if isinstance(item.get("id"), str):
                payload["meta"] = {"id": item["id"]}
            self.fan_out((private, topic), "broadcast", payload)
        return Response(status_code=202)

    async def http_broadcast_one(self, request: Request) -> Response:
        claims = await self._http_claims(request)
        if isinstance(claims, Response):
            return claims
        topic = request.path_params["topic"]
        event = request.path_params["event"]
        private = request.query_params.get("private") == "true"
        raw = await request.body()
        if len(raw) > MAX_PAYLOAD_BYTES:
            return JSONResponse({"error": "Payload size exceeds tenant limit"}, 413)
        if request.headers.get("content-type", "").startswith("application/octet-stream"):
            payload: Any = UserBroadcast(event, protocol.ENCODING_BINARY, raw)
        else:
            body = await _json_body(request)
            if not isinstance(body, dict):
                return JSONResponse({"errors": {"payload": ["is invalid"]}}, 422)
            payload = {"event": event, "payload": body, "type": "broadcast"}
        if len(topic.encode()) > 255 or len(event.encode()) > 255:
            return JSONResponse({"errors": {"topic": ["is invalid"]}}, 422)
        if private and not await self._may_send(topic, claims, request):
            return Response(status_code=202)
        self.fan_out((private, topic), "broadcast", payload)
        return Response(status_code=202)


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    if len(raw) > 16 * MAX_PAYLOAD_BYTES:
        return None
    try:
        return protocol.json.loads(raw)
    except ValueError:
        return None


def _message_errors(item: Any) -> dict[str, list[str]]:
    if not isinstance(item, dict):
        return {"message": ["is invalid"]}
    problems: dict[str, list[str]] = {}
    for name in ("topic", "event"):
        value = item.get(name)
        if not isinstance(value, str) or not value:
            problems[name] = ["can't be blank" if value in (None, "") else "is invalid"]
        elif "\x00" in value or len(value.encode()) > 255:
            problems[name] = ["is invalid"]
    if not isinstance(item.get("payload"), dict):
        problems["payload"] = ["can't be blank" if item.get("payload") is None else "is invalid"]
    elif len(protocol.dumps(item["payload"]).encode()) > MAX_PAYLOAD_BYTES:
        problems["payload"] = ["Payload size exceeds tenant limit"]
    return problems


class Socket:
    """One WebSocket connection and its channels."""

    def __init__(
        self,
        server: Realtime,
        ws: WebSocket,
        vsn: str,
        token: str,
        claims: dict[str, Any],
        headers: dict[str, str],
    ) -> None:
        self.server = server
        self.ws = ws
        self.vsn = vsn
        self.tenant_token = token
        self.claims = claims
        self.headers = headers
        self.channels: dict[str, Channel] = {}
        self.outbox: asyncio.Queue[str | bytes | None] = asyncio.Queue()
        self.tasks: set[asyncio.Task[Any]] = set()

    # outgoing ----------------------------------------------------------------------------

    def send(self, msg: Message) -> None:
        frame = protocol.encode(msg, self.vsn)
        if frame is not None:
            self.outbox.put_nowait(frame)

    def send_cached(self, cache: dict[tuple[str, str], Any], msg: Message) -> int:
        key = (self.vsn, msg.topic)
        if key not in cache:
            cache[key] = protocol.encode(msg, self.vsn)
        frame = cache[key]
        if frame is None:
            return 0
        self.outbox.put_nowait(frame)
        return 1

    async def _writer(self) -> None:
        send = self.ws.send
        while True:
            frame = await self.outbox.get()
            # whatever else is queued goes out in the same turn (one wake-up, many frames)
            while True:
                if frame is None:
                    return
                if isinstance(frame, bytes):
                    await send({"type": "websocket.send", "bytes": frame})
                else:
                    await send({"type": "websocket.send", "text": frame})
                if self.outbox.empty():
                    break
                frame = self.outbox.get_nowait()

    # main loop ---------------------------------------------------------------------------

    async def run(self) -> None:
        writer = asyncio.create_task(self._writer())
        try:
            while True:
                try:
                    data = await asyncio.wait_for(self.ws.receive(), HEARTBEAT_TIMEOUT_S)
                except TimeoutError:
                    break
                if data["type"] == "websocket.disconnect":
                    break
                raw = data.get("text") if data.get("text") is not None else data.get("bytes")
                if raw is None:
                    continue
                try:
                    msg = protocol.decode(raw, self.vsn)
                except protocol.FrameError as exc:
                    log.info("closing a socket after a bad frame: %s", exc)
                    break
                await self.handle(msg)
        except WebSocketDisconnect:
            pass
        finally:
            for channel in list(self.channels.values()):
                self.server.remove(channel)
            self.channels.clear()
            for task in self.tasks:
                task.cancel()
            self.outbox.put_nowait(None)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer, 5)
            with contextlib.suppress(Exception):
                await self.ws.close()

    async def handle(self, msg: Message) -> None:
        if msg.topic == "phoenix" and msg.event == "heartbeat":
            self.send(protocol.reply(msg, "ok", {}))
            return
        if msg.event == "phx_join":
            await self.join(msg)
            return
        channel = self.channels.get(msg.topic)
        stale = self.vsn == protocol.V2 and msg.join_ref not in (None, channel and channel.join_ref)
        if channel is None or stale:
            self.send(protocol.reply(msg, "error", {"reason": "unmatched topic"}))
            return
        if msg.event == "phx_leave":
            self.send(protocol.reply(msg, "ok", {}))
            self.close_channel(channel)
        elif msg.event == "broadcast":
            await self.broadcast(channel, msg)
        elif msg.event == "presence":
            await self.presence(channel, msg)
        elif msg.event == "access_token":
            await self.access_token(channel, msg)
        # anything else: ignored, as hosted ("Unexpected message from client")

    def close_channel(self, channel: Channel) -> None:
        """The channel stops normally: Phoenix sends phx_close with ref = join_ref."""
        self.server.remove(channel)
        if self.channels.get(channel.topic) is channel:
            del self.channels[channel.topic]
        self.send(Message(channel.join_ref, channel.join_ref, channel.topic, "phx_close", {}))

    def shutdown(self, channel: Channel, message: str) -> None:
        """RealtimeChannel.shutdown_response: a system error, then the channel closes."""
        if channel.closed:
            return
        channel.system("system", "error", message)
        self.close_channel(channel)

    # join --------------------------------------------------------------------------------

    async def join(self, msg: Message) -> None:
        def refuse(reason: str) -> None:
            self.send(protocol.reply(msg, "error", {"reason": reason}))

        if not msg.topic.startswith("realtime:"):
            refuse("unmatched topic")
            return
        previous = self.channels.get(msg.topic)
        if previous is not None:
            # Phoenix: a duplicate join closes the existing channel first
            self.close_channel(previous)
        sub_topic = msg.topic[len("realtime:") :]
        if not sub_topic:
            refuse("TopicNameRequired: You must provide a topic name")
            return
        params = msg.payload if isinstance(msg.payload, dict) else {}
        config = params.get("config") if isinstance(params.get("config"), dict) else {}
        broadcast = config.get("broadcast") if isinstance(config.get("broadcast"), dict) else {}
        presence = config.get("presence") if isinstance(config.get("presence"), dict) else {}
        key = presence.get("key")
        token = params.get("access_token") or params.get("user_token")
        if not isinstance(token, str) or token.startswith("sb_"):
            token = self.tenant_token
        channel = Channel(
            socket=self,
            topic=msg.topic,
            sub_topic=sub_topic,
            join_ref=msg.join_ref if self.vsn == protocol.V2 else msg.ref,
            private=_flex_bool(config.get("private")),
            ack=_flex_bool(broadcast.get("ack")),
            self_broadcast=_flex_bool(broadcast.get("self")),
            presence_enabled=_flex_bool(presence.get("enabled")),
            presence_key=str(key) if key not in (None, "") else str(uuid.uuid1()),
            access_token=token,
            claims={},
        )
        if self.server.private_only and not channel.private:
            refuse("PrivateOnly: This project only allows private channels")
            return
        try:
            channel.claims = await self.server.confirm_live_token(channel)
        except authz.TokenError as exc:
            refuse(f"{exc.code}: {exc.message}")
            return
        if channel.private:
            try:
                channel.policies = await authz.read_policies(
                    self.server.pool,
                    sub_topic,
                    channel.claims,
                    self.headers,
                    authz.Policies(),
                    channel.presence_enabled,
                )
            except Exception:
                log.info("read authorization failed for %s", sub_topic, exc_info=True)
                channel.policies = authz.Policies(broadcast_read=False, presence_read=False)
            if not (channel.policies.broadcast_read or channel.policies.presence_read):
                if channel.token_timer is not None:
                    channel.token_timer.cancel()
                refuse(
                    "Unauthorized: You do not have permissions to read from this Channel topic: "
                    + sub_topic
                )
                return
        changes = config.get("postgres_changes")
        if isinstance(changes, list):
            for item in changes:
                if isinstance(item, dict):
                    fields = {
                        k: item[k]
                        for k in ("event", "schema", "table", "filter")
                        if isinstance(item.get(k), str)
                    }
                    channel.bindings.append(Binding(_binding_id(fields), fields))
        self.channels[msg.topic] = channel
        self.server.subscribe(channel)
        response = {
            "postgres_changes": [protocol.IdFirst(b.params, b.id) for b in channel.bindings]
        }
        self.send(protocol.reply(msg, "ok", response))
        if channel.presence_enabled and channel.can_receive_presence():
            presence = self.server.presence.get(channel.key)
            channel.push("presence_state", presence.state() if presence else {})
        if channel.bindings:
            if self.server.changes is None:
                channel.system("postgres_changes", "error", "postgres_changes is not enabled")
            else:
                task = asyncio.create_task(self.server.changes.subscribe(channel))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)

    # broadcast / presence ----------------------------------------------------------------

    async def _write_allowed(self, channel: Channel, extension: str) -> bool:
        if not channel.private:
            return True
        assert channel.policies is not None
        if getattr(channel.policies, f"{extension}_write") is None:
            try:
                if extension == "presence" and channel.policies.presence_read is None:
                    await authz.read_policies(
                        self.server.pool,
                        channel.sub_topic,
                        channel.claims,
                        self.headers,
                        channel.policies,
                        True,
                    )
                await authz.write_policies(
                    self.server.pool,
                    channel.sub_topic,
                    channel.claims,
                    self.headers,
                    channel.policies,
                    extension == "presence" or channel.presence_enabled,
                )
            except Exception:
                log.info("write authorization failed", exc_info=True)
                return False
        return bool(getattr(channel.policies, f"{extension}_write"))

    async def broadcast(self, channel: Channel, msg: Message) -> None:
        payload = msg.payload
        if not isinstance(payload, dict | UserBroadcast):
            return
        if not await self._write_allowed(channel, "broadcast"):
            return  # hosted: dropped, no reply even with ack
        size = (
            len(payload.payload)
            if isinstance(payload, UserBroadcast)
            else len(protocol.dumps(payload).encode())
        )
        if size > MAX_PAYLOAD_BYTES:
            if channel.ack:
                self.send(protocol.reply(msg, "error", {"reason": "payload_size_exceeded"}))
            return
        sender = None if channel.self_broadcast else channel
        self.server.fan_out(channel.key, "broadcast", payload, sender=sender)
        if channel.ack:
            self.send(protocol.reply(msg, "ok", {}))

    async def presence(self, channel: Channel, msg: Message) -> None:
        payload = msg.payload if isinstance(msg.payload, dict) else {}
        event = payload.get("event")
        if not isinstance(event, str):
            self.send(protocol.reply(msg, "ok", {}))
            return
        event = event.lower()
        if event == "track":
            if not await self._write_allowed(channel, "presence"):
                self.send(protocol.reply(msg, "error", {}))
                return
            meta = payload.get("payload", {})
            if not isinstance(meta, dict):
                reason = "Presence track payload must be a map"
                self.send(protocol.reply(msg, "error", {"reason": reason}))
                return
            if len(protocol.dumps(meta).encode()) > MAX_PAYLOAD_BYTES:
                self.shutdown(channel, "Track message size exceeded")
                return
            if meta != channel.presence_payload:
                channel.presence_enabled = True
                channel.presence_payload = meta
                self.server.track(channel, meta)
            self.send(protocol.reply(msg, "ok", {}))
        elif event == "untrack":
            if channel.presence_payload is not None:
                channel.presence_payload = None
                self.server.untrack(channel)
            self.send(protocol.reply(msg, "ok", {}))
        else:
            self.send(protocol.reply(msg, "error", {}))

    # access_token ------------------------------------------------------------------------

    async def access_token(self, channel: Channel, msg: Message) -> None:
        payload = msg.payload if isinstance(msg.payload, dict) else {}
        token = payload.get("access_token")
        if not isinstance(token, str) or token.startswith("sb_") or token == channel.access_token:
            return
        previous = channel.policies
        channel.access_token = token
        try:
            channel.claims = await self.server.confirm_live_token(channel)
        except authz.TokenError as exc:
            self.shutdown(channel, exc.message)
            return
        if channel.private:
            try:
                policies = await authz.read_policies(
                    self.server.pool,
                    channel.sub_topic,
                    channel.claims,
                    self.headers,
                    authz.Policies(),
                    channel.presence_enabled,
                )
            except Exception:
                policies = authz.Policies(broadcast_read=False, presence_read=False)
            if not (policies.broadcast_read or policies.presence_read):
                self.shutdown(
                    channel,
                    "You do not have permissions to read from this Channel topic: "
                    + channel.sub_topic,
                )
                return
            if previous is not None and (
                (previous.broadcast_read and not policies.broadcast_read)
                or (previous.presence_read and not policies.presence_read)
            ):
                self.shutdown(
                    channel,
                    "You no longer have permission to read from this Channel topic: "
                    + channel.sub_topic,
                )
                return
            channel.policies = policies
        if self.server.changes is not None and channel.bindings:
            self.server.changes.update_claims(channel)


def _binding_id(params: dict[str, Any]) -> int:
    """A stable id per binding params (hosted: ``:erlang.phash2(params)``, range 0..2^27-1);
    clients only echo it back, so any stable value in that range serves."""
    import zlib

    return zlib.crc32(protocol.dumps(params).encode()) & ((1 << 27) - 1)
