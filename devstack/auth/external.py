"""Social login (internal/api/external.go, provider/github.go, provider/google.go, pkce.go):
``GET /authorize?provider=github|google`` sends the browser to the provider with a signed
``state``; ``GET|POST /callback`` exchanges the provider's code, reads who it is, finds or
creates the user and its ``auth.identities`` row, and answers the browser with the implicit
fragment (``#access_token=…``) or, when the authorize request carried a PKCE
``code_challenge``, with ``?code=`` that ``POST /token?grant_type=pkce`` redeems
(``auth.flow_state`` keeps the flow in between, as the hosted server does)."""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlparse

import httpx
import jwt
from psycopg.types.json import Jsonb
from starlette.requests import Request
from starlette.responses import RedirectResponse

from devstack.auth.errors import AuthError, Code, bad_request
from devstack.auth.http import Auth, Endpoint
from devstack.auth.settings import AUDIENCE, INSTANCE_ID, PREFIX, AuthSettings, ExternalProvider
from devstack.auth.store import Conn, banned, find_user
from devstack.auth.tokens import Client, start_session

STATE_TTL_SECONDS = 600
PROVIDER_TIMEOUT = 10.0
DEFAULT_SCOPES = {"github": "user:email", "google": "openid email profile"}


class ExternalCode:
    BAD_OAUTH_STATE = "bad_oauth_state"
    BAD_OAUTH_CALLBACK = "bad_oauth_callback"
    PROVIDER_DISABLED = "provider_disabled"
    PROVIDER_EMAIL_NEEDS_VERIFICATION = "provider_email_needs_verification"
    IDENTITY_ALREADY_EXISTS = "identity_already_exists"


@dataclass
class Identity:
    """What the provider says about the person (provider.UserProvidedData)."""

    provider_id: str
    email: str
    email_verified: bool
    claims: dict[str, Any]


def _callback_url(settings: AuthSettings) -> str:
    return f"{settings.issuer}/callback"


def _redirect_target(settings: AuthSettings, redirect_to: str) -> str:
    """``redirect_to`` if it is the site or an allowed redirect URL, else the site URL
    (Auth's getRedirectURLOrReferrer)."""
    if redirect_to:
        target = urlparse(redirect_to)
        for allowed in (settings.site_url, *settings.redirect_urls):
            base = urlparse(allowed)
            if (target.scheme, target.netloc) == (base.scheme, base.netloc) and (
                target.path.startswith(base.path.rstrip("/")) or not base.path
            ):
                return redirect_to
    return settings.site_url


def _printable(value: str, name: str, limit: int = 2048) -> str:
    if len(value) > limit or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise bad_request(Code.VALIDATION_FAILED, f"{name} is not valid")
    return value


def _provider(settings: AuthSettings, name: str) -> ExternalProvider:
    if name not in DEFAULT_SCOPES:
        raise bad_request(
            Code.VALIDATION_FAILED, f"Unsupported provider: Provider {name[:64]} could not be found"
        )
    provider = settings.provider(name)
    if provider is None:
        raise bad_request(
            ExternalCode.PROVIDER_DISABLED, "Unsupported provider: provider is not enabled"
        )
    return provider


def authorize(auth: Auth, request: Request, params: dict) -> RedirectResponse:
    return RedirectResponse(provider_url(auth, request), status_code=302)


def provider_url(auth: Auth, request: Request, linking_target_id: str = "") -> str:
    """Where the browser goes to sign in at the provider: its authorize URL with a signed
    ``state`` naming the flow (and, for manual linking, the user the identity joins)."""
    settings = auth.settings
    q = request.query_params
    provider = _provider(settings, q.get("provider", ""))
    redirect_to = _redirect_target(settings, _printable(q.get("redirect_to", ""), "redirect_to"))
    scopes = _printable(q.get("scopes", ""), "scopes", 1024)
    challenge = _printable(q.get("code_challenge", ""), "code_challenge", 128)
    method = q.get("code_challenge_method", "").lower()
    flow_state_id = None
    if challenge:
        if method not in ("s256", "plain"):
            raise bad_request(Code.VALIDATION_FAILED, "code challenge method not supported")
        if not 43 <= len(challenge) <= 128:
            raise bad_request(
                Code.VALIDATION_FAILED, "code challenge has to be between 43 and 128 characters"
            )
        flow_state_id = str(uuid.uuid4())

        def save(conn: Conn) -> None:
            conn.execute(
                """
                insert into auth.flow_state (id, auth_code, code_challenge_method, code_challenge,
                                             provider_type, authentication_method, created_at,
                                             updated_at, referrer)
                values (%s, %s, %s, %s, %s, 'oauth', now(), now(), %s)
                """,
                (flow_state_id, str(uuid.uuid4()), method, challenge, provider.name, redirect_to),
            )

        auth.store.transaction(save)
    state = jwt.encode(
        {
            "exp": int(time.time()) + STATE_TTL_SECONDS,
            "site_url": settings.site_url,
            "provider": provider.name,
            "referrer": redirect_to,
            "flow_state_id": flow_state_id or "",
            "linking_target_id": linking_target_id,
        },
        settings.jwt_secret,
        algorithm="HS256",
    )
    scope = " ".join(filter(None, [DEFAULT_SCOPES[provider.name], scopes]))
    query = {
        "client_id": provider.client_id,
        "redirect_uri": _callback_url(settings),
        "response_type": "code",
        "scope": scope,
        "state": state,
    }
    if provider.name == "github":
        path = "/login/oauth/authorize"
    else:
        path = "/o/oauth2/v2/auth"
        query["access_type"] = "offline"
    for passed in ("login", "login_hint", "deny"):  # the fakes' account picker and consent
        if q.get(passed):
            query[passed] = q[passed]
    return f"{provider.url}{path}?{urlencode(query)}"


def _fetch_identity(
    provider: ExternalProvider, code: str, settings: AuthSettings
) -> tuple[Identity, dict[str, Any]]:
    """Exchange the code and read the person (provider.GetOAuthToken + GetUserData)."""
    token_url = (
        f"{provider.url}/login/oauth/access_token"
        if provider.name == "github"
        else f"{provider.url}/token"
    )
    form = {
        "client_id": provider.client_id,
        "client_secret": provider.secret,
        "code": code,
        "redirect_uri": _callback_url(settings),
        "grant_type": "authorization_code",
    }
    with httpx.Client(timeout=PROVIDER_TIMEOUT) as http:
        exchanged = http.post(token_url, data=form, headers={"accept": "application/json"})
        token = exchanged.json() if exchanged.status_code == 200 else {}
        if not isinstance(token, dict) or not token.get("access_token"):
            raise OAuthCallbackError(
                "server_error", "Error getting user profile from external provider"
            )
        bearer = {"authorization": f"Bearer {token['access_token']}", "accept": "application/json"}
        if provider.name == "github":
            user = http.get(f"{provider.url}/user", headers=bearer)
            emails = http.get(f"{provider.url}/user/emails", headers=bearer)
            if user.status_code != 200 or emails.status_code != 200:
                raise OAuthCallbackError(
                    "server_error", "Error getting user profile from external provider"
                )
            identity = _github_identity(user.json(), emails.json())
        else:
            info = http.get(f"{provider.url}/oauth2/v3/userinfo", headers=bearer)
            if info.status_code != 200:
                raise OAuthCallbackError(
                    "server_error", "Error getting user profile from external provider"
                )
            identity = _google_identity(info.json())
    return identity, token


def _github_identity(user: dict[str, Any], emails: list[dict[str, Any]]) -> Identity:
    primary = next((e for e in emails if e.get("primary")), emails[0] if emails else {})
    login = str(user.get("login") or "")
    claims = {
        "iss": "https://api.github.com",
        "sub": str(user["id"]),
        "provider_id": str(user["id"]),
        "name": user.get("name") or login,
        "full_name": user.get("name") or login,
        "user_name": login,
        "preferred_username": login,
        "avatar_url": user.get("avatar_url"),
        "email": primary.get("email"),
        "email_verified": bool(primary.get("verified")),
        "phone_verified": False,
    }
    return Identity(
        str(user["id"]),
        str(primary.get("email") or ""),
        bool(primary.get("verified")),
        {k: v for k, v in claims.items() if v is not None},
    )


def _google_identity(info: dict[str, Any]) -> Identity:
    claims = {
        "iss": "https://accounts.google.com",
        "sub": str(info["sub"]),
        "provider_id": str(info["sub"]),
        "name": info.get("name"),
        "full_name": info.get("name"),
        "avatar_url": info.get("picture"),
        "picture": info.get("picture"),
        "email": info.get("email"),
        "email_verified": bool(info.get("email_verified")),
        "phone_verified": False,
    }
    return Identity(
        str(info["sub"]),
        str(info.get("email") or ""),
        bool(info.get("email_verified")),
        {k: v for k, v in claims.items() if v is not None},
    )


class OAuthCallbackError(Exception):
    """An error the callback answers by redirecting back to the app (error, description)."""

    def __init__(self, error: str, description: str, code: str = "") -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.code = code


def _add_identity(conn: Conn, user_id: str, provider: str, identity: Identity) -> None:
    conn.execute(
        """
        insert into auth.identities (provider_id, user_id, identity_data, provider,
                                     last_sign_in_at, created_at, updated_at)
        values (%s, %s, %s, %s, now(), now(), now())
        """,
        (identity.provider_id, user_id, Jsonb(identity.claims), provider),
    )
    conn.execute(
        """
        update auth.users set raw_app_meta_data = jsonb_set(
                 coalesce(raw_app_meta_data, '{}'::jsonb) || jsonb_build_object(
                   'provider', coalesce(raw_app_meta_data ->> 'provider', %s::text)),
                 '{providers}',
                 (select coalesce(jsonb_agg(distinct p), '[]'::jsonb) from (
                    select jsonb_array_elements_text(coalesce(raw_app_meta_data -> 'providers',
                                                              '[]'::jsonb)) as p
                    union select %s::text) ps)),
               updated_at = now()
         where id = %s
        """,
        (provider, provider, user_id),
    )


def sign_in_with_identity(conn: Conn, provider: str, identity: Identity) -> dict[str, Any]:
    """Auth's createAccountFromExternalIdentity: the identity's user, else the user holding
    its address when the provider verified it (automatic linking), else a new user."""
    found = conn.execute(
        "select user_id from auth.identities where provider_id = %s and provider = %s",
        (identity.provider_id, provider),
    ).fetchone()
    if found is not None:
        conn.execute(
            """
            update auth.identities set identity_data = %s, last_sign_in_at = now(),
                   updated_at = now() where provider_id = %s and provider = %s
            """,
            (Jsonb(identity.claims), identity.provider_id, provider),
        )
        user = find_user(conn, user_id=str(found["user_id"]))
        assert user is not None
        return user
    holder = find_user(conn, email=identity.email) if identity.email else None
    if holder is not None:
        if not identity.email_verified:
            raise OAuthCallbackError(
                "access_denied",
                "Unverified email with this provider. Verify the address at the provider, "
                "then sign in again.",
                ExternalCode.PROVIDER_EMAIL_NEEDS_VERIFICATION,
            )
        if holder["email_confirmed_at"] is None:
            # whoever registered the address without confirming it may not keep a
            # password into the account its real owner now proves (Auth does the same)
            conn.execute(
                "update auth.users set encrypted_password = '', email_confirmed_at = now()"
                " where id = %s",
                (holder["id"],),
            )
        _add_identity(conn, str(holder["id"]), provider, identity)
        user = find_user(conn, user_id=str(holder["id"]))
        assert user is not None
        return user
    uid = str(uuid.uuid4())
    metadata = dict(identity.claims)  # the profile trigger reads name, user_name, avatar
    conn.execute(
        """
        insert into auth.users (
          instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
          confirmation_token, recovery_token, email_change_token_new, email_change,
          raw_app_meta_data, raw_user_meta_data, is_super_admin, created_at, updated_at,
          is_sso_user, is_anonymous
        ) values (%s, %s, %s, %s, %s, '', case when %s then now() end, '', '', '', '',
                  %s, %s, null, now(), now(), false, false)
        """,
        (
            INSTANCE_ID,
            uid,
            AUDIENCE,
            AUDIENCE,
            identity.email.lower() or None,
            identity.email_verified,
            Jsonb({"provider": provider, "providers": [provider]}),
            Jsonb(metadata),
        ),
    )
    conn.execute(
        """
        insert into auth.identities (provider_id, user_id, identity_data, provider,
                                     last_sign_in_at, created_at, updated_at)
        values (%s, %s, %s, %s, now(), now(), now())
        """,
        (identity.provider_id, uid, Jsonb(identity.claims), provider),
    )
    user = find_user(conn, user_id=uid)
    assert user is not None
    return user


def link_identity(conn: Conn, user_id: str, provider: str, identity: Identity) -> dict[str, Any]:
    """Manual linking (linkIdentity): the identity joins the user who started the flow with
    their own session, unless it already belongs to someone else."""
    user = find_user(conn, user_id=user_id)
    if user is None:
        raise OAuthCallbackError("invalid_request", "User not found", Code.USER_NOT_FOUND)
    holder = conn.execute(
        "select user_id from auth.identities where provider_id = %s and provider = %s",
        (identity.provider_id, provider),
    ).fetchone()
    if holder is not None and str(holder["user_id"]) != user_id:
        raise OAuthCallbackError(
            "invalid_request",
            "Identity is already linked to another user",
            ExternalCode.IDENTITY_ALREADY_EXISTS,
        )
    if holder is None:
        _add_identity(conn, user_id, provider, identity)
    else:
        conn.execute(
            "update auth.identities set identity_data = %s, updated_at = now()"
            " where provider_id = %s and provider = %s",
            (Jsonb(identity.claims), identity.provider_id, provider),
        )
    if user["is_anonymous"]:
        # an anonymous user with a provider identity is a permanent one (as Auth does);
        # it takes the provider's address only when the provider verified it and it is free
        email = identity.email.lower() if identity.email_verified else ""
        if email and find_user(conn, email=email) is not None:
            email = ""
        conn.execute(
            """
            update auth.users set is_anonymous = false,
                   email = coalesce(nullif(%s, ''), email),
                   email_confirmed_at = case when %s <> '' then now() else email_confirmed_at end,
                   updated_at = now()
             where id = %s
            """,
            (email, email, user_id),
        )
    linked = find_user(conn, user_id=user_id)
    assert linked is not None
    return linked


def _error_redirect(target: str, exc: OAuthCallbackError, fragment: bool) -> RedirectResponse:
    query = {"error": exc.error, "error_description": exc.description}
    if exc.code:
        query["error_code"] = exc.code
    sep = "#" if fragment else ("&" if "?" in target else "?")
    return RedirectResponse(f"{target}{sep}{urlencode(query)}", status_code=303)


def callback(auth: Auth, request: Request, params: dict) -> RedirectResponse:
    settings = auth.settings
    values = {**request.query_params, **{k: str(v) for k, v in params.items()}}
    try:
        state = jwt.decode(str(values.get("state", "")), settings.jwt_secret, algorithms=["HS256"])
    except jwt.PyJWTError as exc:
        raise bad_request(
            ExternalCode.BAD_OAUTH_STATE, "OAuth callback with invalid state"
        ) from exc
    provider = settings.provider(str(state.get("provider", "")))
    if provider is None:
        raise bad_request(ExternalCode.BAD_OAUTH_STATE, "OAuth callback with invalid state")
    target = _redirect_target(settings, str(state.get("referrer", "")))
    flow_state_id = str(state.get("flow_state_id") or "")
    pkce = bool(flow_state_id)
    client = Client.of(request)
    try:
        if values.get("error"):
            raise OAuthCallbackError(
                _printable(values["error"][:100], "error"),
                _printable(values.get("error_description", "")[:500], "error_description"),
            )
        code = values.get("code", "")
        if not code or len(code) > 1024:
            raise OAuthCallbackError(
                "invalid_request", "OAuth code missing", ExternalCode.BAD_OAUTH_CALLBACK
            )
        try:
            identity, token = _fetch_identity(provider, code, settings)
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            raise OAuthCallbackError(
                "server_error", "Error getting user profile from external provider"
            ) from exc

        linking_target_id = str(state.get("linking_target_id") or "")

        def work(conn: Conn) -> str:
            if linking_target_id:
                user = link_identity(conn, linking_target_id, provider.name, identity)
            else:
                user = sign_in_with_identity(conn, provider.name, identity)
            if banned(user):
                raise OAuthCallbackError("access_denied", "User is banned", Code.USER_BANNED)
            if pkce:
                updated = conn.execute(
                    """
                    update auth.flow_state set user_id = %s, provider_access_token = %s,
                           provider_refresh_token = %s, auth_code_issued_at = now(),
                           updated_at = now()
                     where id = %s and user_id is null returning auth_code
                    """,
                    (
                        user["id"],
                        token.get("access_token"),
                        token.get("refresh_token"),
                        flow_state_id,
                    ),
                ).fetchone()
                if updated is None:
                    raise OAuthCallbackError(
                        "invalid_request", "invalid flow state", Code.FLOW_STATE_NOT_FOUND
                    )
                sep = "&" if "?" in target else "?"
                return f"{target}{sep}{urlencode({'code': updated['auth_code']})}"
            session = start_session(conn, settings, user, client, "oauth")
            fragment = {
                "access_token": session["access_token"],
                "expires_at": session["expires_at"],
                "expires_in": session["expires_in"],
                "provider_token": token.get("access_token", ""),
                "refresh_token": session["refresh_token"],
                "token_type": "bearer",
            }
            if token.get("refresh_token"):
                fragment["provider_refresh_token"] = token["refresh_token"]
            return f"{target}#{urlencode(fragment)}"

        return RedirectResponse(auth.store.transaction(work), status_code=302)
    except OAuthCallbackError as exc:
        return _error_redirect(target, exc, fragment=not pkce)


GOOGLE_ISSUERS = ("https://accounts.google.com", "accounts.google.com")


def id_token_grant(auth: Auth, request: Request, params: dict) -> dict[str, Any]:
    """``POST /token?grant_type=id_token`` (token_oidc.go) for Google: an id_token the
    browser got from Google (One Tap, native sign-in), checked against the provider's JWKS,
    the app's client id as audience and, when the token carries one, the nonce (the token
    holds sha256 hex of the nonce the request passes)."""
    settings = auth.settings
    name = params.get("provider")
    id_token = params.get("id_token")
    nonce = params.get("nonce")
    if not isinstance(name, str) or not isinstance(id_token, str) or not id_token:
        raise bad_request(Code.VALIDATION_FAILED, "provider and id_token are required")
    if nonce is not None and not isinstance(nonce, str):
        raise bad_request(Code.VALIDATION_FAILED, "nonce must be a string")
    if name != "google":
        raise bad_request(Code.VALIDATION_FAILED, f'Custom OIDC provider "{name[:64]}" not allowed')
    provider = _provider(settings, name)
    if len(id_token) > 16384:
        raise bad_request(Code.VALIDATION_FAILED, "Bad ID token")
    try:
        keys = httpx.get(f"{provider.url}/oauth2/v3/certs", timeout=PROVIDER_TIMEOUT).json()
        kid = jwt.get_unverified_header(id_token).get("kid")
        jwk = next(k for k in keys["keys"] if k.get("kid") == kid)
        claims = jwt.decode(
            id_token,
            jwt.PyJWK(jwk).key,
            algorithms=["RS256"],
            audience=provider.client_id,
            issuer=list(GOOGLE_ISSUERS),
        )
    except (jwt.PyJWTError, httpx.HTTPError, ValueError, KeyError, StopIteration) as exc:
        raise bad_request(Code.VALIDATION_FAILED, f"Bad ID token: {exc}"[:200]) from exc
    expected = claims.get("nonce")
    if bool(expected) != bool(nonce):
        raise bad_request(
            Code.VALIDATION_FAILED,
            "Passed nonce and nonce in id_token should either both exist or not.",
        )
    if expected and not hmac.compare_digest(
        hashlib.sha256(str(nonce).encode()).hexdigest(), str(expected)
    ):
        raise bad_request(Code.VALIDATION_FAILED, "Nonces mismatch")
    identity = _google_identity(claims)
    client = Client.of(request)

    def work(conn: Conn) -> dict[str, Any]:
        try:
            user = sign_in_with_identity(conn, provider.name, identity)
        except OAuthCallbackError as exc:
            raise AuthError(422, exc.code or Code.VALIDATION_FAILED, exc.description) from exc
        if banned(user):
            raise bad_request(Code.USER_BANNED, "User is banned")
        return start_session(conn, settings, user, client, "oauth")

    return auth.store.transaction(work)


ROUTES = [
    Endpoint("GET", "/authorize", authorize),
    Endpoint("GET", "/callback", callback, "Database error saving new user"),
    Endpoint("POST", "/callback", callback, "Database error saving new user"),
]

__all__ = [
    "PREFIX",
    "ROUTES",
    "id_token_grant",
    "link_identity",
    "provider_url",
    "sign_in_with_identity",
]
