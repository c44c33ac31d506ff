"""Signed unsubscribe tokens: one per (person or invited address, notification type).

``v1.<base64url(JSON claims)>.<base64url(HMAC-SHA256)>``, signed with
``NOTIFY_SIGNING_SECRET``. The claims name a person (``u``: profile id) or, for an invitation
mailed to someone without an account, the address (``e``); the type (``t``) and an expiry
(``x``, unix seconds). Nothing else: a token unsubscribes, it proves nothing more.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Self
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

MAX_TOKEN_CHARS = 600


class TokenError(Exception):
    """Malformed, forged or expired: the route answers 4xx."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Claims(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    u: UUID | None = None
    e: str | None = Field(default=None, max_length=320)
    t: str = Field(min_length=1, max_length=64)
    x: int = Field(ge=0)

    @model_validator(mode="after")
    def _one_subject(self) -> Self:
        if (self.u is None) == (self.e is None):
            raise ValueError("exactly one of u and e")
        return self


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, body: str) -> str:
    return _b64(
        hmac.new(secret.encode(), f"unsubscribe.v1.{body}".encode(), hashlib.sha256).digest()
    )


def sign(secret: str, claims: Claims) -> str:
    body = _b64(claims.model_dump_json(exclude_none=True).encode())
    return f"v1.{body}.{_mac(secret, body)}"


def issue(
    secret: str, *, type: str, ttl_days: int, user_id: str | None = None, email: str | None = None
) -> str:
    expires = int(time.time()) + ttl_days * 86400
    return sign(secret, Claims(u=UUID(user_id) if user_id else None, e=email, t=type, x=expires))


def verify(secret: str, token: str, *, now: float | None = None) -> Claims:
    """The token's claims; :class:`TokenError` when it is malformed, forged or expired."""
    if not token or len(token) > MAX_TOKEN_CHARS or not token.isascii():
        raise TokenError("invalid_token", "the unsubscribe token is malformed")
    version, _, rest = token.partition(".")
    body, _, mac = rest.partition(".")
    if version != "v1" or not body or not mac:
        raise TokenError("invalid_token", "the unsubscribe token is malformed")
    if not hmac.compare_digest(mac, _mac(secret, body)):
        raise TokenError("invalid_token", "the unsubscribe token is not valid")
    try:
        claims = Claims.model_validate(json.loads(_unb64(body)))
    except (ValueError, ValidationError, UnicodeDecodeError):
        raise TokenError("invalid_token", "the unsubscribe token is malformed") from None
    if claims.x < (time.time() if now is None else now):
        raise TokenError("expired_token", "the unsubscribe link has expired")
    return claims
