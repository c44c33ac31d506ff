"""Verifying the caller's access token.

* HS256 with the project's JWT secret (Supabase legacy keys, and the local stack).
* RS256 / ES256 with public keys from a JWKS URL (Supabase asymmetric signing keys, or a
  third-party IdP such as Clerk), cached and refetched when an unknown ``kid`` appears.

The algorithm in the token header only selects *which configured key source* is used, and
each source accepts only its own algorithms, so ``alg: none`` and algorithm confusion (an
HS256 token "signed" with a public key) are refused. ``exp`` is required; ``aud`` and
``iss`` are checked when configured.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any

from core.errors import ApiError, unauthorized
from core.settings import Settings

if TYPE_CHECKING:  # pragma: no cover
    from jwt import PyJWKClient


def _jwt() -> ModuleType:
    """PyJWT (and cryptography under it) on first use: the event handlers that share a
    handler module with the HTTP app never verify a token, so they never pay its import."""
    import jwt

    return jwt


HMAC_ALGORITHMS = frozenset({"HS256"})
JWKS_ALGORITHMS = {"RS256": "RSA", "ES256": "EC"}


@dataclass(frozen=True)
class Caller:
    """Who is calling: verified claims of the access token."""

    user_id: str
    role: str
    email: str | None
    platform_role: str | None
    token: str = field(repr=False)
    claims: dict[str, Any] = field(repr=False, default_factory=dict)


class TokenVerifier:
    """Verifies access tokens with the configured secret and/or JWKS URL."""

    def __init__(self, settings: Settings) -> None:
        secret = settings.supabase_jwt_secret
        self._secret = secret.get_secret_value() if secret else None
        self._jwks_url = settings.supabase_jwks_url
        self._jwks_cache_seconds = settings.jwks_cache_seconds
        self._timeout = settings.http_timeout_seconds
        self._audience = settings.jwt_audience
        self._issuer = settings.jwt_issuer
        self._jwks: PyJWKClient | None = None
        self._lock = threading.Lock()

    def _jwks_client(self) -> PyJWKClient:
        jwt = _jwt()
        if self._jwks is None:
            with self._lock:
                if self._jwks is None:
                    self._jwks = jwt.PyJWKClient(
                        self._jwks_url or "",
                        cache_jwk_set=True,
                        lifespan=self._jwks_cache_seconds,
                        timeout=int(self._timeout),
                    )
        return self._jwks

    def _key_for(self, token: str, alg: str) -> Any:
        jwt = _jwt()
        if alg in HMAC_ALGORITHMS:
            if not self._secret:
                raise unauthorized("token algorithm HS256 is not accepted here")
            return self._secret
        if alg in JWKS_ALGORITHMS:
            if not self._jwks_url:
                raise unauthorized(f"token algorithm {alg} is not accepted here")
            try:
                jwk = self._jwks_client().get_signing_key_from_jwt(token)
            except jwt.PyJWKClientConnectionError as exc:
                raise ApiError(
                    503, "auth_unavailable", "the signing keys could not be fetched"
                ) from exc
            except jwt.PyJWKClientError as exc:
                raise unauthorized("token signed with an unknown key") from exc
            if jwk.key_type != JWKS_ALGORITHMS[alg]:
                raise unauthorized("token algorithm does not match its signing key")
            return jwk.key
        raise unauthorized(f"token algorithm {alg!r} is not accepted")

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims, or an :class:`ApiError` 401 saying why not."""
        jwt = _jwt()
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise unauthorized("malformed access token") from None
        alg = header.get("alg")
        if not isinstance(alg, str):
            raise unauthorized("malformed access token")
        key = self._key_for(token, alg)
        try:
            return jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=self._audience,
                issuer=self._issuer,
                options={
                    "require": ["exp", "sub"],
                    "verify_aud": self._audience is not None,
                    "verify_iss": self._issuer is not None,
                },
                leeway=5,
            )
        except jwt.ExpiredSignatureError:
            raise unauthorized("access token expired") from None
        except jwt.InvalidAudienceError:
            raise unauthorized("access token has the wrong audience") from None
        except jwt.InvalidIssuerError:
            raise unauthorized("access token has the wrong issuer") from None
        except jwt.InvalidSignatureError:
            raise unauthorized("access token signature is invalid") from None
        except jwt.MissingRequiredClaimError as exc:
            raise unauthorized(f"access token lacks the {exc.claim!r} claim") from None
        except jwt.PyJWTError:
            raise unauthorized("invalid access token") from None

    def caller(self, authorization: str | None) -> Caller:
        """The calling user from an ``Authorization: Bearer`` header value."""
        if not authorization:
            raise unauthorized("missing access token (Authorization: Bearer <token>)")
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise unauthorized("the Authorization header must be 'Bearer <token>'")
        claims = self.verify(token)
        role = claims.get("role", "authenticated")
        if role != "authenticated" or not isinstance(claims.get("sub"), str):
            raise unauthorized("a signed-in user's access token is required")
        app_metadata = claims.get("app_metadata")
        platform_role = claims.get("user_role")
        if isinstance(app_metadata, dict):
            platform_role = app_metadata.get("platform_role", platform_role)
        return Caller(
            user_id=claims["sub"],
            role=role,
            email=claims.get("email"),
            platform_role=platform_role if isinstance(platform_role, str) else None,
            token=token,
            claims=claims,
        )
