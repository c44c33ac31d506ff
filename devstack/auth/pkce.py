"""PKCE for e-mail flows (internal/api/pkce.go, models/flow_state.go): a flow state per
request with a code challenge, an auth code handed out by ``/verify`` (``?code=``), and
``POST /token?grant_type=pkce`` trading it plus the verifier for a session."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import uuid
from typing import Any

from devstack.auth.errors import AuthError, Code, bad_request, unprocessable
from devstack.auth.store import Conn

PREFIX = "pkce_"
FLOW_STATE_EXPIRY = dt.timedelta(seconds=300)  # GOTRUE_EXTERNAL_FLOW_STATE_EXPIRY_DURATION
_CHALLENGE = re.compile(r"^[a-zA-Z._~0-9-]+$")

# verification type -> the flow state's authentication_method (models/factor.go)
METHODS = {
    "signup": "email/signup",
    "invite": "invite",
    "magiclink": "magiclink",
    "recovery": "recovery",
    "email_change": "email_change",
    "email": "otp",
}


def validate(method: str | None, challenge: str | None) -> None:
    if bool(challenge) != bool(method):
        raise bad_request(
            Code.VALIDATION_FAILED, "PKCE flow requires code_challenge_method and code_challenge"
        )
    if not challenge:
        return
    if not 43 <= len(challenge) <= 128:
        raise bad_request(
            Code.VALIDATION_FAILED, "code challenge has to be between 43 and 128 characters"
        )
    if not _CHALLENGE.match(challenge):
        raise bad_request(
            Code.VALIDATION_FAILED,
            "code challenge can only contain alphanumeric characters, hyphens, periods,"
            " underscores and tildes",
        )
    if str(method).lower() not in ("s256", "plain"):
        raise bad_request(Code.VALIDATION_FAILED, "code challenge method not supported")


def create_flow_state(
    conn: Conn, user_id: Any, method: str, challenge_method: str, challenge: str
) -> None:
    conn.execute(
        """
        insert into auth.flow_state (id, user_id, auth_code, code_challenge_method,
                                     code_challenge, provider_type, authentication_method,
                                     created_at, updated_at)
        values (%s, %s, %s, %s, %s, 'email', %s, now(), now())
        """,
        (
            str(uuid.uuid4()),
            user_id,
            str(uuid.uuid4()),
            challenge_method.lower(),
            challenge,
            method,
        ),
    )


def issue_auth_code(conn: Conn, user_id: Any, verification_type: str) -> str:
    method = METHODS.get(verification_type, verification_type)
    row = conn.execute(
        """
        select id, auth_code from auth.flow_state
         where user_id = %s and authentication_method = %s
         order by created_at desc limit 1
        """,
        (user_id, method),
    ).fetchone()
    if row is None or not row["auth_code"]:
        raise unprocessable(Code.FLOW_STATE_NOT_FOUND, "No valid flow state found for user.")
    conn.execute(
        "update auth.flow_state set auth_code_issued_at = now(), updated_at = now() where id = %s",
        (row["id"],),
    )
    return str(row["auth_code"])


def take_flow_state(conn: Conn, auth_code: str, verifier: str) -> dict[str, Any]:
    """The flow state of ``auth_code`` once the verifier matches its challenge (then gone)."""
    row = conn.execute(
        "select * from auth.flow_state where auth_code = %s for update", (auth_code,)
    ).fetchone()
    if row is None or row["user_id"] is None:
        raise AuthError(
            404, Code.FLOW_STATE_NOT_FOUND, "invalid flow state, no valid flow state found"
        )
    if row["created_at"] + FLOW_STATE_EXPIRY < dt.datetime.now(dt.UTC):
        raise unprocessable(Code.FLOW_STATE_EXPIRED, "invalid flow state, flow state has expired")
    if row["code_challenge_method"] == "s256":
        digest = hashlib.sha256(verifier.encode()).digest()
        computed = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    else:
        computed = verifier
    if not hmac.compare_digest(computed, row["code_challenge"] or ""):
        raise bad_request(
            Code.BAD_CODE_VERIFIER, "code challenge does not match previously saved code verifier"
        )
    conn.execute("delete from auth.flow_state where id = %s", (row["id"],))
    return row
