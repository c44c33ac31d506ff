"""Multi-factor authentication with TOTP (internal/api/mfa.go): ``POST /factors`` (enrol),
``POST /factors/{id}/challenge``, ``POST /factors/{id}/verify`` (the session goes to
``aal2`` with ``totp`` in its ``amr``), ``DELETE /factors/{id}``, and the admin's
``GET /admin/users/{id}/factors`` / ``DELETE /admin/users/{id}/factors/{factor_id}``.
``[auth.mfa]`` of supabase/config.toml decides what is enabled."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlparse

from starlette.requests import Request

from devstack.auth import totp
from devstack.auth.errors import AuthError, Code, bad_request, forbidden, unprocessable
from devstack.auth.http import Auth, Endpoint, authenticated, bearer_claims, require_admin
from devstack.auth.models import factor_json
from devstack.auth.store import Conn, find_user
from devstack.auth.tokens import Client, add_amr_claim, insert_refresh_token, token_response

CHALLENGE_EXPIRY_SECONDS = 300
MAX_TEXT = 255

FACTOR_NOT_FOUND = "Factor not found"


class MfaCode:
    """The MFA error codes of apierrors/errorcode.go this module answers."""

    FACTOR_NOT_FOUND = "mfa_factor_not_found"
    CHALLENGE_EXPIRED = "mfa_challenge_expired"
    VERIFICATION_FAILED = "mfa_verification_failed"
    VERIFICATION_REJECTED = "mfa_verification_rejected"
    IP_ADDRESS_MISMATCH = "mfa_ip_address_mismatch"
    NAME_CONFLICT = "mfa_factor_name_conflict"
    TOO_MANY_FACTORS = "too_many_enrolled_mfa_factors"
    INSUFFICIENT_AAL = "insufficient_aal"
    TOTP_ENROLL_DISABLED = "mfa_totp_enroll_not_enabled"
    TOTP_VERIFY_DISABLED = "mfa_totp_verify_not_enabled"
    PHONE_ENROLL_DISABLED = "mfa_phone_enroll_not_enabled"
    WEBAUTHN_ENROLL_DISABLED = "mfa_webauthn_enroll_not_enabled"


def _text(params: dict[str, Any], key: str) -> str:
    """An optional short text field: a string without control characters."""
    value = params.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise bad_request(Code.BAD_JSON, f"Could not parse request body as JSON: {key}")
    if len(value) > MAX_TEXT or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise bad_request(Code.VALIDATION_FAILED, f"{key} must be printable text of at most 255")
    return value.strip()


def _uuid(value: Any, name: str) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except (ValueError, TypeError) as exc:
        raise bad_request(Code.VALIDATION_FAILED, f"{name} must be an UUID") from exc


def _session(conn: Conn, claims: dict[str, Any]) -> tuple[dict, dict]:
    user, session_id = authenticated(conn, claims)
    if not session_id:
        raise forbidden(Code.SESSION_NOT_FOUND, "Session not found")
    session = conn.execute("select * from auth.sessions where id = %s", (session_id,)).fetchone()
    assert session is not None  # authenticated() checked it
    return user, session


def _verified_count(conn: Conn, user_id: Any) -> int:
    row = conn.execute(
        "select count(*) as n from auth.mfa_factors where user_id = %s and status = 'verified'",
        (user_id,),
    ).fetchone()
    return int(row["n"]) if row else 0


def _owned_factor(conn: Conn, user_id: Any, request: Request) -> dict[str, Any]:
    factor_id = _uuid(request.path_params["factor_id"], "factor_id")
    factor = conn.execute(
        "select * from auth.mfa_factors where id = %s and user_id = %s for update",
        (factor_id, user_id),
    ).fetchone()
    if factor is None:
        raise AuthError(404, MfaCode.FACTOR_NOT_FOUND, FACTOR_NOT_FOUND)
    return factor


def enroll(auth: Auth, request: Request, params: dict) -> dict[str, Any]:
    claims = bearer_claims(auth, request)
    mfa = auth.settings.mfa
    factor_type = params.get("factor_type")
    if factor_type == "phone":
        raise unprocessable(MfaCode.PHONE_ENROLL_DISABLED, "MFA enroll is disabled for Phone")
    if factor_type == "webauthn":
        raise unprocessable(MfaCode.WEBAUTHN_ENROLL_DISABLED, "MFA enroll is disabled for WebAuthn")
    if factor_type != "totp":
        raise bad_request(
            Code.VALIDATION_FAILED, "factor_type needs to be totp, phone, or webauthn"
        )
    if not mfa.totp_enroll_enabled:
        raise unprocessable(MfaCode.TOTP_ENROLL_DISABLED, "MFA enroll is disabled for TOTP")
    friendly_name = _text(params, "friendly_name")
    issuer = _text(params, "issuer") or (urlparse(auth.settings.site_url).hostname or "")

    def work(conn: Conn) -> dict[str, Any]:
        user, session = _session(conn, claims)
        factors = conn.execute(
            "select friendly_name, status from auth.mfa_factors where user_id = %s",
            (user["id"],),
        ).fetchall()
        verified = [f for f in factors if f["status"] == "verified"]
        if len(factors) >= mfa.max_enrolled_factors:
            raise unprocessable(
                MfaCode.TOO_MANY_FACTORS,
                "Maximum number of verified factors reached, unenroll to continue",
            )
        if verified and session["aal"] != "aal2":
            raise unprocessable(MfaCode.INSUFFICIENT_AAL, "AAL2 required to enroll a new factor")
        if friendly_name and any(f["friendly_name"] == friendly_name for f in factors):
            raise unprocessable(
                MfaCode.NAME_CONFLICT,
                f'A factor with the friendly name "{friendly_name}" for this user already exists',
            )
        secret = totp.new_secret()
        account = user["email"] or user["phone"] or str(user["id"])
        factor = conn.execute(
            """
            insert into auth.mfa_factors (id, user_id, friendly_name, factor_type, status,
                                          created_at, updated_at, secret)
            values (gen_random_uuid(), %s, %s, 'totp', 'unverified', now(), now(), %s)
            returning id
            """,
            (user["id"], friendly_name or None, secret),
        ).fetchone()
        assert factor is not None
        link = totp.uri(secret, issuer=issuer, account=account)
        return {
            "id": str(factor["id"]),
            "type": "totp",
            "friendly_name": friendly_name,
            # raw SVG: auth-js prefixes data:image/svg+xml;utf-8, itself
            "totp": {"qr_code": totp.qr_svg(link), "secret": secret, "uri": link},
        }

    return auth.store.transaction(work)


def challenge(auth: Auth, request: Request, params: dict) -> dict[str, Any]:
    claims = bearer_claims(auth, request)
    client = Client.of(request)

    def work(conn: Conn) -> dict[str, Any]:
        user, _session_row = _session(conn, claims)
        factor = _owned_factor(conn, user["id"], request)
        row = conn.execute(
            """
            insert into auth.mfa_challenges (id, factor_id, created_at, ip_address)
            values (gen_random_uuid(), %s, now(), %s)
            returning id, extract(epoch from created_at)::bigint as created
            """,
            (factor["id"], client.ip or "127.0.0.1"),
        ).fetchone()
        assert row is not None
        conn.execute(
            "update auth.mfa_factors set last_challenged_at = now() where id = %s",
            (factor["id"],),
        )
        return {
            "id": str(row["id"]),
            "type": str(factor["factor_type"]),
            "expires_at": int(row["created"]) + CHALLENGE_EXPIRY_SECONDS,
        }

    return auth.store.transaction(work)


def verify(auth: Auth, request: Request, params: dict) -> dict[str, Any]:
    claims = bearer_claims(auth, request)
    settings = auth.settings
    client = Client.of(request)
    code = params.get("code")
    if not isinstance(code, str):
        raise bad_request(Code.VALIDATION_FAILED, "code must be a string")
    if params.get("challenge_id") is None:
        raise bad_request(Code.VALIDATION_FAILED, "challenge_id is required")
    challenge_id = _uuid(params.get("challenge_id"), "challenge_id")
    outcome: dict[str, Any] = {}

    def work(conn: Conn) -> dict[str, Any] | None:
        user, session = _session(conn, claims)
        factor = _owned_factor(conn, user["id"], request)
        if not settings.mfa.totp_verify_enabled:
            raise unprocessable(
                MfaCode.TOTP_VERIFY_DISABLED, "MFA verification is disabled for TOTP"
            )
        found = conn.execute(
            """
            select *, now() > created_at + make_interval(secs => %s) as expired
              from auth.mfa_challenges where id = %s and factor_id = %s for update
            """,
            (CHALLENGE_EXPIRY_SECONDS, challenge_id, factor["id"]),
        ).fetchone()
        if found is None:
            raise unprocessable(
                MfaCode.FACTOR_NOT_FOUND, "MFA factor with the provided challenge ID not found"
            )
        if found["verified_at"] is not None or found["expired"]:
            conn.execute("delete from auth.mfa_challenges where id = %s", (challenge_id,))
            outcome["error"] = unprocessable(
                MfaCode.CHALLENGE_EXPIRED,
                f"MFA challenge {challenge_id} has expired, verify against another challenge "
                "or create a new challenge.",
            )
            return None  # committed: a spent challenge stays spent
        if str(found["ip_address"]) != (client.ip or "127.0.0.1"):
            raise unprocessable(
                MfaCode.IP_ADDRESS_MISMATCH,
                "Challenge and verify IP addresses mismatch. Try enrollment again.",
            )
        if not totp.verify(factor["secret"], code):
            raise unprocessable(MfaCode.VERIFICATION_FAILED, "Invalid TOTP code entered")
        conn.execute(
            "update auth.mfa_challenges set verified_at = now() where id = %s", (challenge_id,)
        )
        if factor["status"] != "verified":
            conn.execute(
                "update auth.mfa_factors set status = 'verified', updated_at = now() where id = %s",
                (factor["id"],),
            )
        session_id = str(session["id"])
        conn.execute(
            "update auth.sessions set aal = 'aal2', factor_id = %s, updated_at = now()"
            " where id = %s",
            (factor["id"], session_id),
        )
        add_amr_claim(conn, session_id, "totp")
        # sessions still at aal1 end once the person has a second factor (Auth's
        # InvalidateSessionsWithAALLessThan)
        conn.execute(
            "delete from auth.sessions where user_id = %s and id <> %s and aal = 'aal1'",
            (user["id"], session_id),
        )
        conn.execute(
            "update auth.refresh_tokens set revoked = true, updated_at = now()"
            " where session_id = %s and not revoked",
            (session_id,),
        )
        refresh = insert_refresh_token(conn, str(user["id"]), session_id, None)
        fresh = find_user(conn, user_id=str(user["id"]))
        assert fresh is not None
        return token_response(conn, settings, fresh, session_id, refresh, "mfa/totp")

    result = auth.store.transaction(work)
    if "error" in outcome:
        raise outcome["error"]
    return result


def unenroll(auth: Auth, request: Request, params: dict) -> dict[str, Any]:
    claims = bearer_claims(auth, request)

    def work(conn: Conn) -> dict[str, Any]:
        user, session = _session(conn, claims)
        factor = _owned_factor(conn, user["id"], request)
        if factor["status"] == "verified" and session["aal"] != "aal2":
            raise unprocessable(
                MfaCode.INSUFFICIENT_AAL, "AAL2 required to unenroll verified factor"
            )
        conn.execute("delete from auth.mfa_factors where id = %s", (factor["id"],))
        if session["factor_id"] == factor["id"]:
            conn.execute(
                "update auth.sessions set aal = 'aal1', factor_id = null where id = %s",
                (session["id"],),
            )
            conn.execute(
                "delete from auth.mfa_amr_claims where session_id = %s"
                " and authentication_method = 'totp'",
                (session["id"],),
            )
        return {"id": str(factor["id"])}

    return auth.store.transaction(work)


FACTOR_COLUMNS = """
select id, friendly_name, factor_type, status, created_at, updated_at, last_challenged_at
  from auth.mfa_factors
"""


def admin_list(auth: Auth, request: Request, params: dict) -> list[dict[str, Any]]:
    require_admin(auth, request)
    user_id = _uuid(request.path_params["user_id"], "user_id")

    def work(conn: Conn) -> list[dict[str, Any]]:
        if find_user(conn, user_id=user_id) is None:
            raise AuthError(404, Code.USER_NOT_FOUND, "User not found")
        rows = conn.execute(
            FACTOR_COLUMNS + " where user_id = %s order by created_at", (user_id,)
        ).fetchall()
        return [factor_json({**r, "factor_type": str(r["factor_type"])}) for r in rows]

    return auth.store.transaction(work)


def admin_delete(auth: Auth, request: Request, params: dict) -> dict[str, Any]:
    require_admin(auth, request)
    user_id = _uuid(request.path_params["user_id"], "user_id")
    factor_id = _uuid(request.path_params["factor_id"], "factor_id")

    def work(conn: Conn) -> dict[str, Any]:
        if find_user(conn, user_id=user_id) is None:
            raise AuthError(404, Code.USER_NOT_FOUND, "User not found")
        row = conn.execute(
            FACTOR_COLUMNS + " where id = %s and user_id = %s", (factor_id, user_id)
        ).fetchone()
        if row is None:
            raise AuthError(404, MfaCode.FACTOR_NOT_FOUND, FACTOR_NOT_FOUND)
        conn.execute("delete from auth.mfa_factors where id = %s", (factor_id,))
        return factor_json({**row, "factor_type": str(row["factor_type"])})

    return auth.store.transaction(work)


ROUTES = [
    Endpoint("POST", "/factors", enroll, "Database error creating factor"),
    Endpoint(
        "POST", "/factors/{factor_id}/challenge", challenge, "Database error creating challenge"
    ),
    Endpoint("POST", "/factors/{factor_id}/verify", verify, "Database error verifying factor"),
    Endpoint("DELETE", "/factors/{factor_id}", unenroll, "Database error deleting factor"),
    Endpoint("GET", "/admin/users/{user_id}/factors", admin_list),
    Endpoint("DELETE", "/admin/users/{user_id}/factors/{factor_id}", admin_delete),
]
