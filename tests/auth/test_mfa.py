"""TOTP MFA of local Auth (devstack/auth/mfa.py) over HTTP, as supabase/auth's mfa.go
answers: enrol, challenge, verify to aal2, unenrol, the admin's factor endpoints, and bad
input or another person's factor answered with Auth's error codes, never a 500."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import jwt
import pytest

from devstack.auth import totp
from tests.auth.helpers import client as _auth
from tests.auth.helpers import error as _error
from tests.auth.helpers import password_grant as _password
from tests.auth.helpers import signup as _signup
from tests.support import Stack


def _claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def _enroll(stack: Stack, token: str, **body: Any) -> httpx.Response:
    with _auth(stack, token=token) as client:
        return client.post("/factors", json={"factor_type": "totp", **body})


def _challenge_verify(stack: Stack, token: str, factor_id: str, secret: str) -> httpx.Response:
    with _auth(stack, token=token) as client:
        challenge = client.post(f"/factors/{factor_id}/challenge", json={})
        assert challenge.status_code == 200, challenge.text
        return client.post(
            f"/factors/{factor_id}/verify",
            json={"challenge_id": challenge.json()["id"], "code": totp.code_at(secret)},
        )


def _aal2_person(stack: Stack) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A new person with a verified TOTP factor: (sign-up session, enrolment, aal2 session)."""
    session = _signup(stack)
    enrolled = _enroll(stack, session["access_token"], friendly_name="phone")
    assert enrolled.status_code == 200, enrolled.text
    factor = enrolled.json()
    verified = _challenge_verify(
        stack, session["access_token"], factor["id"], factor["totp"]["secret"]
    )
    assert verified.status_code == 200, verified.text
    return session, factor, verified.json()


def test_totp_codes_follow_rfc_6238() -> None:
    # RFC 6238 appendix B, SHA-1 seed "12345678901234567890" (6 digits of the 8 listed)
    secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
    assert totp.code_at(secret, 59) == "287082"
    assert totp.code_at(secret, 1111111109) == "081804"
    assert totp.code_at(secret, 2000000000) == "279037"
    assert totp.verify(secret, "287082", 59 + 30)  # one step of skew
    assert not totp.verify(secret, "287082", 59 + 61)
    assert not totp.verify(secret, "28708\x00", 59)


def test_enrol_answers_secret_uri_and_an_svg_qr_code(stack: Stack) -> None:
    session = _signup(stack)
    response = _enroll(stack, session["access_token"], friendly_name="laptop", issuer="collab")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["type"] == "totp" and body["friendly_name"] == "laptop"
    assert body["totp"]["uri"].startswith("otpauth://totp/collab:")
    assert f"secret={body['totp']['secret']}" in body["totp"]["uri"]
    assert body["totp"]["qr_code"].startswith("<svg")
    with _auth(stack, token=session["access_token"]) as client:
        user = client.get("/user").json()
    assert [(f["id"], f["status"]) for f in user["factors"]] == [(body["id"], "unverified")]
    assert "secret" not in user["factors"][0]


def test_verify_raises_the_session_to_aal2_with_totp_in_amr(stack: Stack) -> None:
    session, _factor, verified = _aal2_person(stack)
    claims = _claims(verified["access_token"])
    assert claims["aal"] == "aal2"
    assert [a["method"] for a in claims["amr"]] == ["totp", "otp"]  # signed in by the mail's link
    assert claims["session_id"] == _claims(session["access_token"])["session_id"]
    assert verified["user"]["factors"][0]["status"] == "verified"
    # the refresh token of the upgraded session keeps aal2
    with _auth(stack) as client:
        refreshed = client.post(
            "/token",
            params={"grant_type": "refresh_token"},
            json={"refresh_token": verified["refresh_token"]},
        )
    assert refreshed.status_code == 200, refreshed.text
    assert _claims(refreshed.json()["access_token"])["aal"] == "aal2"
    # a new password sign-in starts at aal1 again
    signed_in = _password(stack, session["user"]["email"])
    assert _claims(signed_in.json()["access_token"])["aal"] == "aal1"


def test_a_wrong_or_replayed_code_is_refused(stack: Stack) -> None:
    session = _signup(stack)
    factor = _enroll(stack, session["access_token"]).json()
    token = session["access_token"]
    with _auth(stack, token=token) as client:
        challenge = client.post(f"/factors/{factor['id']}/challenge").json()
        wrong = "000000" if totp.code_at(factor["totp"]["secret"]) != "000000" else "111111"
        _error(
            client.post(
                f"/factors/{factor['id']}/verify",
                json={"challenge_id": challenge["id"], "code": wrong},
            ),
            422,
            "mfa_verification_failed",
        )
        good = {"challenge_id": challenge["id"], "code": totp.code_at(factor["totp"]["secret"])}
        assert client.post(f"/factors/{factor['id']}/verify", json=good).status_code == 200
        _error(
            client.post(f"/factors/{factor['id']}/verify", json=good), 422, "mfa_challenge_expired"
        )


def test_a_second_factor_and_unenrolment_need_aal2(stack: Stack) -> None:
    session, factor, verified = _aal2_person(stack)
    aal1 = _password(stack, session["user"]["email"]).json()["access_token"]
    _error(_enroll(stack, aal1), 422, "insufficient_aal")
    with _auth(stack, token=aal1) as client:
        _error(client.delete(f"/factors/{factor['id']}"), 422, "insufficient_aal")
    with _auth(stack, token=verified["access_token"]) as client:
        gone = client.delete(f"/factors/{factor['id']}")
        assert gone.status_code == 200 and gone.json() == {"id": factor["id"]}
        assert "factors" not in client.get("/user").json()


def test_verifying_ends_the_persons_other_aal1_sessions(stack: Stack) -> None:
    session = _signup(stack)
    other = _password(stack, session["user"]["email"]).json()
    factor = _enroll(stack, session["access_token"]).json()
    assert (
        _challenge_verify(
            stack, session["access_token"], factor["id"], factor["totp"]["secret"]
        ).status_code
        == 200
    )
    with _auth(stack, token=other["access_token"]) as client:
        _error(client.get("/user"), 403, "session_not_found")


def test_another_persons_factor_is_not_found(stack: Stack) -> None:
    _owner, factor, _ = _aal2_person(stack)
    stranger = _signup(stack)["access_token"]
    with _auth(stack, token=stranger) as client:
        for response in (
            client.post(f"/factors/{factor['id']}/challenge"),
            client.post(
                f"/factors/{factor['id']}/verify",
                json={"challenge_id": str(uuid.uuid4()), "code": "123456"},
            ),
            client.delete(f"/factors/{factor['id']}"),
        ):
            _error(response, 404, "mfa_factor_not_found")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"factor_type": "sms"}, 400, "validation_failed"),
        ({"factor_type": 7}, 400, "validation_failed"),
        ({"factor_type": "phone", "phone": "+15550000"}, 422, "mfa_phone_enroll_not_enabled"),
        ({"factor_type": "webauthn"}, 422, "mfa_webauthn_enroll_not_enabled"),
        ({"factor_type": "totp", "friendly_name": "a\x00b"}, 400, "validation_failed"),
        ({"factor_type": "totp", "friendly_name": "x" * 5000}, 400, "validation_failed"),
        ({"factor_type": "totp", "friendly_name": ["list"]}, 400, "bad_json"),
        ({"factor_type": "totp", "issuer": "\x1b[31m"}, 400, "validation_failed"),
    ],
)
def test_bad_enrolment_input_gets_auth_codes(
    stack: Stack, body: dict[str, Any], status: int, code: str
) -> None:
    token = _signup(stack)["access_token"]
    with _auth(stack, token=token) as client:
        _error(client.post("/factors", json=body), status, code)


def test_bad_challenge_and_verify_input_gets_auth_codes(stack: Stack) -> None:
    session = _signup(stack)
    token = session["access_token"]
    factor = _enroll(stack, token).json()
    with _auth(stack, token=token) as client:
        _error(client.post("/factors/not-a-uuid/challenge"), 400, "validation_failed")
        _error(client.post("/factors/%00/verify", json={}), 400, "validation_failed")
        verify = f"/factors/{factor['id']}/verify"
        _error(client.post(verify, json={"code": "123456"}), 400, "validation_failed")
        _error(
            client.post(verify, json={"challenge_id": "x", "code": "123456"}),
            400,
            "validation_failed",
        )
        _error(
            client.post(verify, json={"challenge_id": str(uuid.uuid4()), "code": 123456}),
            400,
            "validation_failed",
        )
        _error(
            client.post(verify, json={"challenge_id": str(uuid.uuid4()), "code": "1" * 10**5}),
            422,
            "mfa_factor_not_found",
        )
        _error(client.post(verify, content=b"[1, 2]"), 400, "bad_json")
        _error(
            client.post(verify, json={"challenge_id": str(uuid.uuid4()), "code": "123456"}),
            422,
            "mfa_factor_not_found",
        )
    with _auth(stack) as anon:
        _error(anon.post(f"/factors/{factor['id']}/challenge"), 401, "no_authorization")


def test_admin_lists_and_deletes_a_persons_factors(stack: Stack) -> None:
    session, factor, _ = _aal2_person(stack)
    user_id = session["user"]["id"]
    service = stack.env["SERVICE_ROLE_KEY"]
    with _auth(stack, key=service, token=service) as admin:
        listed = admin.get(f"/admin/users/{user_id}/factors")
        assert listed.status_code == 200, listed.text
        assert [(f["id"], f["status"], f["factor_type"]) for f in listed.json()] == [
            (factor["id"], "verified", "totp")
        ]
        _error(admin.get("/admin/users/nope/factors"), 400, "validation_failed")
        _error(admin.get(f"/admin/users/{uuid.uuid4()}/factors"), 404, "user_not_found")
        _error(
            admin.delete(f"/admin/users/{user_id}/factors/{uuid.uuid4()}"),
            404,
            "mfa_factor_not_found",
        )
        deleted = admin.delete(f"/admin/users/{user_id}/factors/{factor['id']}")
        assert deleted.status_code == 200 and deleted.json()["id"] == factor["id"]
        assert admin.get(f"/admin/users/{user_id}/factors").json() == []
    with _auth(stack, token=session["access_token"]) as person:
        _error(person.get(f"/admin/users/{user_id}/factors"), 403, "not_admin")


def test_an_expired_challenge_is_refused(stack: Stack) -> None:
    session = _signup(stack)
    token = session["access_token"]
    factor = _enroll(stack, token).json()
    with _auth(stack, token=token) as client:
        challenge = client.post(f"/factors/{factor['id']}/challenge").json()
        assert challenge["expires_at"] > time.time()
    stack.sql(
        "update auth.mfa_challenges set created_at = now() - interval '10 minutes' where id = %s",
        (challenge["id"],),
    )
    with _auth(stack, token=token) as client:
        _error(
            client.post(
                f"/factors/{factor['id']}/verify",
                json={
                    "challenge_id": challenge["id"],
                    "code": totp.code_at(factor["totp"]["secret"]),
                },
            ),
            422,
            "mfa_challenge_expired",
        )
