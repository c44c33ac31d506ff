"""A fake Web Push service (what a browser vendor runs: FCM, Mozilla autopush), for tests.

Served by the fakes process (``devstack/fakes.py``) on ``FAKE_PUSH_PORT`` (54355). It plays
both sides a real push service splits between itself and the browser:

* ``POST /_fake/subscriptions`` makes a subscription as a browser would: a P-256 key pair and
  an auth secret of its own; answers ``PushSubscription.toJSON()``
  (``{"endpoint", "keys": {"p256dh", "auth"}}``) plus its ``id``.
* ``POST /push/{id}`` is the endpoint (RFC 8030): it checks the VAPID ``Authorization: vapid
  t=<JWT>, k=<public key>`` (ES256, ``aud`` = this origin, ``exp`` in the future), decrypts
  the ``aes128gcm`` body (RFC 8291) with the subscription's private key and keeps it; ``201``.
* ``GET /_fake/subscriptions/{id}/messages`` lists what it received (decrypted payloads, TTL,
  Urgency, the VAPID ``sub``), for tests to assert on.
* ``POST /_fake/subscriptions/{id}/mode`` ``{"status": 404 | 410 | 500 | 201}`` switches the
  endpoint's answer (``id`` ``*``: every subscription); 404/410 tell the sender the
  subscription is gone.

State lives in memory; unknown subscriptions answer 404, as an expired one does.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

DEFAULT_PUSH_PORT = 54355
MAX_BODY = 8192


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Subscription:
    id: str
    private_key: Any
    auth: bytes
    status: int = 201
    received: list[dict[str, Any]] = field(default_factory=list)

    def public(self) -> str:
        from cryptography.hazmat.primitives import serialization

        point = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return _b64(point)


class PushService:
    def __init__(self) -> None:
        self.subscriptions: dict[str, Subscription] = {}
        self.default_status = 201

    def new(self) -> Subscription:
        from cryptography.hazmat.primitives.asymmetric import ec

        sub = Subscription(
            uuid.uuid4().hex, ec.generate_private_key(ec.SECP256R1()), secrets.token_bytes(16)
        )
        self.subscriptions[sub.id] = sub
        return sub


def _check_vapid(header: str, origin: str) -> tuple[bool, str]:
    """(valid, sub claim) of ``vapid t=..., k=...``."""
    import jwt
    from cryptography.hazmat.primitives.asymmetric import ec

    if not header.lower().startswith("vapid "):
        return False, ""
    parts = dict(p.strip().split("=", 1) for p in header[6:].split(",") if "=" in p)
    try:
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), _unb64(parts["k"]))
        claims = jwt.decode(parts["t"], key, algorithms=["ES256"], audience=origin)
    except Exception:
        return False, ""
    if int(claims.get("exp", 0)) < time.time():
        return False, ""
    return True, str(claims.get("sub", ""))


def push_app(service: PushService | None = None) -> Starlette:
    service = service or PushService()

    async def subscribe(request: Request) -> Response:
        sub = service.new()
        base = str(request.base_url).rstrip("/")
        return JSONResponse(
            {
                "id": sub.id,
                "endpoint": f"{base}/push/{sub.id}",
                "keys": {"p256dh": sub.public(), "auth": _b64(sub.auth)},
            },
            status_code=201,
        )

    async def push(request: Request) -> Response:
        import http_ece

        sub = service.subscriptions.get(request.path_params["id"])
        if sub is None:
            return Response(status_code=404)
        if sub.status != 201:
            return Response(status_code=sub.status)
        origin = str(request.base_url).rstrip("/")
        valid, vapid_sub = _check_vapid(request.headers.get("authorization", ""), origin)
        if not valid:
            return JSONResponse({"error": "bad VAPID authorization"}, status_code=401)
        if request.headers.get("content-encoding") != "aes128gcm":
            return JSONResponse({"error": "content-encoding must be aes128gcm"}, status_code=415)
        body = await request.body()
        if len(body) > MAX_BODY:
            return Response(status_code=413)
        try:
            plain = http_ece.decrypt(
                body, private_key=sub.private_key, auth_secret=sub.auth, version="aes128gcm"
            )
        except Exception as exc:
            return JSONResponse({"error": f"cannot decrypt: {type(exc).__name__}"}, status_code=400)
        sub.received.append(
            {
                "payload": plain.decode("utf-8", "replace"),
                "ttl": request.headers.get("ttl"),
                "urgency": request.headers.get("urgency"),
                "vapid_sub": vapid_sub,
            }
        )
        return Response(status_code=201, headers={"location": f"{origin}/messages/{uuid.uuid4()}"})

    async def messages(request: Request) -> Response:
        sub = service.subscriptions.get(request.path_params["id"])
        if sub is None:
            return JSONResponse({"error": "no such subscription"}, status_code=404)
        return JSONResponse(sub.received)

    async def mode(request: Request) -> Response:
        try:
            status = int(json.loads(await request.body())["status"])
        except (ValueError, KeyError, TypeError):
            return JSONResponse(
                {"error": 'body: {"status": 201 | 404 | 410 | 500}'}, status_code=400
            )
        wanted = request.path_params["id"]
        targets = (
            service.subscriptions.values() if wanted == "*" else [service.subscriptions.get(wanted)]
        )
        if None in targets:
            return JSONResponse({"error": "no such subscription"}, status_code=404)
        for sub in targets:
            assert sub is not None
            sub.status = status
        return JSONResponse({"status": status})

    return Starlette(
        routes=[
            Route("/_fake/subscriptions", subscribe, methods=["POST"]),
            Route("/_fake/subscriptions/{id}/messages", messages, methods=["GET"]),
            Route("/_fake/subscriptions/{id}/mode", mode, methods=["POST"]),
            Route("/push/{id}", push, methods=["POST"]),
        ]
    )
