"""The JWT matrix: only validly signed, unexpired user tokens for our audience get through.

Through the gateway for HS256 (the project secret), and in-process with an app that also
trusts a local JWKS (served by a tiny HTTP server here) for RS256 and ES256. The probe is
``POST /uploads`` with an empty body: a caller who passes authentication gets 422 (the body
is checked after the token), everyone else 401.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from starlette.testclient import TestClient

from tests.support import Stack

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())


def _jwks() -> dict[str, Any]:
    rsa_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(RSA_KEY.public_key()))
    ec_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(EC_KEY.public_key()))
    return {
        "keys": [
            {**rsa_jwk, "kid": "rsa-1", "alg": "RS256", "use": "sig"},
            {**ec_jwk, "kid": "ec-1", "alg": "ES256", "use": "sig"},
        ]
    }


class _JwksHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps(_jwks()).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def jwks_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _JwksHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    server.shutdown()


def _claims(user_id: str, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "sub": user_id,
        "role": "authenticated",
        "aud": "authenticated",
        "email": "jwt@example.test",
        "iat": now,
        "exp": now + 600,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hand_signed(header: dict[str, Any], claims: dict[str, Any], key: bytes | None) -> str:
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    if key is None:
        return signing_input + "."
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def _rsa_public_pem() -> bytes:
    return RSA_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


# name -> (token factory(secret, user_id) or None for no header, expected status)
TokenCase = Callable[[str, str], str | None]
HS256_CASES: dict[str, tuple[TokenCase, int]] = {
    "valid_hs256": (lambda s, u: jwt.encode(_claims(u), s, algorithm="HS256"), 422),
    "expired": (
        lambda s, u: jwt.encode(_claims(u, exp=int(time.time()) - 3600), s, algorithm="HS256"),
        401,
    ),
    "no_exp": (lambda s, u: jwt.encode(_claims(u, exp=None), s, algorithm="HS256"), 401),
    "wrong_audience": (
        lambda s, u: jwt.encode(_claims(u, aud="someone-else"), s, algorithm="HS256"),
        401,
    ),
    "wrong_key": (
        lambda s, u: jwt.encode(_claims(u), "another-secret-of-at-least-32-bytes!!", "HS256"),
        401,
    ),
    "alg_none": (lambda s, u: _hand_signed({"alg": "none", "typ": "JWT"}, _claims(u), None), 401),
    "malformed": (lambda s, u: "not.a.jwt", 401),
    "garbage": (lambda s, u: "abc", 401),
    "anon_role": (lambda s, u: jwt.encode(_claims(u, role="anon"), s, algorithm="HS256"), 401),
    "missing": (lambda s, u: None, 401),
}
JWKS_CASES: dict[str, tuple[TokenCase, int]] = {
    "valid_rs256": (
        lambda s, u: jwt.encode(_claims(u), RSA_KEY, "RS256", headers={"kid": "rsa-1"}),
        422,
    ),
    "valid_es256": (
        lambda s, u: jwt.encode(_claims(u), EC_KEY, "ES256", headers={"kid": "ec-1"}),
        422,
    ),
    "rs256_wrong_key": (
        lambda s, u: jwt.encode(_claims(u), OTHER_RSA_KEY, "RS256", headers={"kid": "rsa-1"}),
        401,
    ),
    "rs256_unknown_kid": (
        lambda s, u: jwt.encode(_claims(u), RSA_KEY, "RS256", headers={"kid": "nope"}),
        401,
    ),
    "rs256_expired": (
        lambda s, u: jwt.encode(
            _claims(u, exp=int(time.time()) - 60), RSA_KEY, "RS256", headers={"kid": "rsa-1"}
        ),
        401,
    ),
    # Algorithm confusion: an HS256 token "signed" with the RSA public key as HMAC secret.
    "hs256_with_public_key": (
        lambda s, u: _hand_signed(
            {"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}, _claims(u), _rsa_public_pem()
        ),
        401,
    ),
    # A token claiming ES256 whose kid names the RSA key.
    "es256_header_on_rsa_key": (
        lambda s, u: jwt.encode(_claims(u), EC_KEY, "ES256", headers={"kid": "rsa-1"}),
        401,
    ),
    "rs512_not_accepted": (
        lambda s, u: jwt.encode(_claims(u), RSA_KEY, "RS512", headers={"kid": "rsa-1"}),
        401,
    ),
}


def _check(response: Any, expected: int) -> None:
    assert response.status_code == expected, response.text
    body = response.json()
    if expected == 401:
        assert set(body) == {"error", "message", "request_id"}
        assert body["error"] == "unauthorized"
        assert "www-authenticate" in response.headers
    else:
        assert "size_bytes" in body["message"]  # authenticated; the empty body failed


@pytest.mark.parametrize("case", list(HS256_CASES))
def test_gateway_jwt_matrix(stack: Stack, case: str) -> None:
    factory, expected = HS256_CASES[case]
    token = factory(stack.env["JWT_SECRET"], stack.new_user().id)
    headers = {"apikey": stack.env["ANON_KEY"]}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    response = stack.http().post("/functions/v1/files/uploads", json={}, headers=headers)
    _check(response, expected)


@pytest.fixture(scope="module")
def jwks_app(make_settings: Callable[..., Any], jwks_url: str) -> Iterator[TestClient]:
    from files.app import create_app

    app = create_app(make_settings(supabase_jwks_url=jwks_url))
    with TestClient(app) as client:
        yield client


@pytest.mark.parametrize("case", list(HS256_CASES) + list(JWKS_CASES))
def test_jwks_jwt_matrix(stack: Stack, jwks_app: TestClient, case: str) -> None:
    factory, expected = {**HS256_CASES, **JWKS_CASES}[case]
    token = factory(stack.env["JWT_SECRET"], stack.new_user().id)
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    _check(jwks_app.post("/uploads", json={}, headers=headers), expected)


def test_jwks_only_app_refuses_hs256(
    make_settings: Callable[..., Any], jwks_url: str, stack: Stack
) -> None:
    from files.app import create_app

    settings = make_settings(supabase_jwks_url=jwks_url, supabase_jwt_secret=None)
    token = jwt.encode(_claims(str(uuid.uuid4())), stack.env["JWT_SECRET"], algorithm="HS256")
    with TestClient(create_app(settings)) as client:
        response = client.post("/uploads", json={}, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


def test_the_service_role_key_is_not_a_caller(stack: Stack) -> None:
    key = stack.env["SERVICE_ROLE_KEY"]
    response = stack.http().post(
        "/functions/v1/files/uploads",
        json={},
        headers={"apikey": key, "Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 401
