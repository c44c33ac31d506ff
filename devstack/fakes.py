"""Fake GitHub and fake Google: real HTTP servers speaking the providers' wire formats.

One process (``python -m devstack.fakes``) serves two ports, so the functions use them as
they would the real hosts, base URLs from settings:

* GitHub on ``FAKE_GITHUB_PORT`` (54351): ``github.com``'s OAuth web flow
  (``/login/oauth/authorize``, ``/login/oauth/access_token``, with PKCE and expiring user
  tokens + refresh tokens) and ``api.github.com``'s REST endpoints the sync uses (``/user``,
  ``/user/repos``, ``/repos/{o}/{r}/commits|pulls|issues|releases``,
  ``DELETE /applications/{client_id}/grant``), with ``Link`` pagination, ``ETag`` /
  ``If-None-Match`` (304), ``X-RateLimit-*`` headers and GitHub's error bodies.
* Google on ``FAKE_GOOGLE_PORT`` (54352): ``accounts.google.com/o/oauth2/v2/auth``,
  ``oauth2.googleapis.com/token|revoke``, ``www.googleapis.com/oauth2/v3/userinfo`` and Drive
  v3 (``/drive/v3/files`` paged with ``nextPageToken``, ``/drive/v3/files/{id}/export``).
  For login (devstack/auth/external.py) GitHub answers ``/user/emails`` too, and Google is an
  OpenID provider: ``/oauth2/v3/certs`` (JWKS), ``/.well-known/openid-configuration``, an
  ``id_token`` in the code exchange and ``POST /_fake/accounts/{login}/id_token``.

The authorize pages approve at once: a 302 back to ``redirect_uri`` with ``code`` and
``state`` (``?login=<name>`` / ``?login_hint=<email>`` picks the fake account, ``?deny=1``
answers ``error=access_denied``). The token endpoints check the client and the PKCE verifier.

Switches (``/_fake/...``, per account so tests do not disturb each other): seed accounts and
data, queue failures (``{"status": 503|429|401|403, "count": n, "retry_after": s,
"delay": s}``), revoke every token of an account, read counters.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from devstack.config import (
    LOCAL_GITHUB_CLIENT_ID,
    LOCAL_GITHUB_CLIENT_SECRET,
    LOCAL_GOOGLE_CLIENT_ID,
    LOCAL_GOOGLE_CLIENT_SECRET,
)

DEFAULT_GITHUB_PORT = 54351
DEFAULT_GOOGLE_PORT = 54352
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def _iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass
class Failure:
    status: int
    count: int
    retry_after: int | None = None
    delay: float = 0.0


@dataclass
class Account:
    """One fake user of a provider with its data, failure plan and counters."""

    login: str
    id: int
    name: str
    token_expires_in: int = 28800
    email: str = ""  # the login's address at the provider (default: <login>@users.example.test)
    email_verified: bool = True
    failures: list[Failure] = field(default_factory=list)
    delay: float = 0.0
    rate_limit: int = 5000
    rate_used: int = 0
    counters: dict[str, int] = field(default_factory=dict)
    repos: dict[str, dict[str, Any]] = field(default_factory=dict)  # github: name -> repo
    docs: dict[str, dict[str, Any]] = field(default_factory=dict)  # google: id -> file

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + n


@dataclass
class Grant:
    account: Account
    client_id: str
    scope: str
    expires_at: float


class Provider:
    """Accounts, codes and tokens of one fake provider."""

    def __init__(self, client_id: str, client_secret: str, prefix: str) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.prefix = prefix
        self.accounts: dict[str, Account] = {}
        self.codes: dict[str, dict[str, Any]] = {}
        self.access: dict[str, Grant] = {}
        self.refresh: dict[str, Grant] = {}
        # ids stay unique across restarts of the fake: a login's provider id is kept in
        # auth.identities, and a restarted fake must not hand the same id to someone else
        self._ids = int(time.time()) * 1000 % 2_000_000_000

    def next_id(self) -> int:
        self._ids += 1
        return self._ids

    def account(self, login: str) -> Account:
        account = self.accounts.get(login)
        if account is None:
            account = Account(login=login, id=self.next_id(), name=login.title())
            self.accounts[login] = account
        return account

    def issue(self, account: Account, client_id: str, scope: str) -> dict[str, Any]:
        access = f"{self.prefix}_{secrets.token_urlsafe(24)}"
        refresh = f"{self.prefix}r_{secrets.token_urlsafe(24)}"
        expires_at = time.time() + account.token_expires_in
        self.access[access] = Grant(account, client_id, scope, expires_at)
        self.refresh[refresh] = Grant(account, client_id, scope, time.time() + 15_897_600)
        account.count("tokens_issued")
        return {"access_token": access, "refresh_token": refresh, "scope": scope}

    def revoke_account(self, account: Account) -> None:
        for store in (self.access, self.refresh):
            for token in [t for t, g in store.items() if g.account is account]:
                del store[token]

    def bearer(self, request: Request) -> Grant | None:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() not in ("bearer", "token") or not token:
            return None
        grant = self.access.get(token.strip())
        if grant is None or grant.expires_at < time.time():
            return None
        return grant

    def check_code(self, form: dict[str, str]) -> tuple[dict[str, Any] | None, str]:
        """The code's record if ``form`` redeems it (single use), else an error code."""
        record = self.codes.pop(form.get("code", ""), None)
        if record is None or record["expires_at"] < time.time():
            return None, "bad_verification_code"
        if form.get("redirect_uri") and form["redirect_uri"] != record["redirect_uri"]:
            return None, "redirect_uri_mismatch"
        if record.get("code_challenge"):
            verifier = form.get("code_verifier", "")
            if not verifier or _challenge(verifier) != record["code_challenge"]:
                return None, "pkce_mismatch"
        return record, ""


def _form(raw: bytes, content_type: str) -> dict[str, str]:
    if "json" in content_type:
        try:
            data = json.loads(raw or b"{}")
        except ValueError:
            return {}
        return {k: str(v) for k, v in data.items()} if isinstance(data, dict) else {}
    from urllib.parse import parse_qsl

    return dict(parse_qsl(raw.decode("utf-8", "replace")))


async def _planned_failure(account: Account) -> Failure | None:
    if account.delay:
        await asyncio.sleep(account.delay)
    while account.failures:
        failure = account.failures[0]
        if failure.count <= 0:
            account.failures.pop(0)
            continue
        failure.count -= 1
        if failure.delay:
            await asyncio.sleep(failure.delay)
        return failure
    return None


# ---------------------------------------------------------------------------------------------
# GitHub
# ---------------------------------------------------------------------------------------------
def _seed_repo(account: Account, name: str, spec: dict[str, int], provider: Provider) -> None:
    """A repository with ``spec`` commits, pulls, issues and releases, oldest first."""
    full = f"{account.login}/{name}"
    repo: dict[str, Any] = {
        "id": provider.next_id(),
        "name": name,
        "full_name": full,
        "private": False,
        "html_url": f"https://github.com/{full}",
        "description": f"fake repository {name}",
        "updated_at": _iso(EPOCH),
        "commits": [],
        "pulls": [],
        "issues": [],
        "releases": [],
    }
    account.repos[name] = repo
    _add_items(account, repo, spec, provider)


def _add_items(
    account: Account, repo: dict[str, Any], spec: dict[str, int], provider: Provider
) -> None:
    full = repo["full_name"]
    base = max(
        [EPOCH]
        + [_parse_iso(c["commit"]["author"]["date"]) for c in repo["commits"][-1:]]
        + [datetime.now(UTC) - timedelta(days=30)]
    )
    for i in range(int(spec.get("commits", 0))):
        when = base + timedelta(seconds=i + 1)
        sha = hashlib.sha1(f"{full}:{provider.next_id()}".encode()).hexdigest()
        repo["commits"].append(
            {
                "sha": sha,
                "node_id": f"C_{sha[:12]}",
                "html_url": f"https://github.com/{full}/commit/{sha}",
                "commit": {
                    "author": {
                        "name": account.name,
                        "email": "dev@example.test",
                        "date": _iso(when),
                    },
                    "committer": {"name": account.name, "date": _iso(when)},
                    "message": f"change {len(repo['commits']) + 1}\n\nbody",
                },
                "author": {"login": account.login, "id": account.id},
            }
        )
    for kind in ("pulls", "issues"):
        for _ in range(int(spec.get(kind, 0))):
            number = len(repo["pulls"]) + len(repo["issues"]) + 1
            path = "pull" if kind == "pulls" else "issues"
            when = base + timedelta(seconds=number)
            item = {
                "id": provider.next_id(),
                "number": number,
                "title": f"{'PR' if kind == 'pulls' else 'Issue'} {number}",
                "state": "open",
                "html_url": f"https://github.com/{full}/{path}/{number}",
                "user": {"login": account.login, "id": account.id},
                "created_at": _iso(when),
                "updated_at": _iso(when),
                "closed_at": None,
            }
            if kind == "pulls":
                item["merged_at"] = None
            repo[kind].append(item)
    for _ in range(int(spec.get("releases", 0))):
        n = len(repo["releases"]) + 1
        when = base + timedelta(seconds=n)
        repo["releases"].append(
            {
                "id": provider.next_id(),
                "tag_name": f"v{n}.0.0",
                "name": f"Release {n}",
                "html_url": f"https://github.com/{full}/releases/tag/v{n}.0.0",
                "author": {"login": account.login, "id": account.id},
                "created_at": _iso(when),
                "published_at": _iso(when),
                "draft": False,
                "prerelease": False,
            }
        )


def _address(account: Account) -> str:
    return account.email or f"{account.login}@users.example.test"


def _gh_error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        {
            "message": message,
            "documentation_url": "https://docs.github.com/rest",
            "status": str(status),
        },
        status_code=status,
        headers=headers,
    )


def github_app(provider: Provider) -> Starlette:
    def rate_headers(account: Account) -> dict[str, str]:
        reset = int(time.time()) // 3600 * 3600 + 3600
        return {
            "x-ratelimit-limit": str(account.rate_limit),
            "x-ratelimit-remaining": str(max(0, account.rate_limit - account.rate_used)),
            "x-ratelimit-used": str(account.rate_used),
            "x-ratelimit-reset": str(reset),
            "x-ratelimit-resource": "core",
        }

    async def authorize(request: Request) -> Response:
        q = request.query_params
        redirect_uri = q.get("redirect_uri", "")
        if q.get("client_id") != provider.client_id or not redirect_uri:
            return PlainTextResponse("unknown OAuth application", status_code=404)
        if q.get("deny"):
            query = {
                "error": "access_denied",
                "error_description": "The user has denied your application access.",
                "state": q.get("state", ""),
            }
            return RedirectResponse(f"{redirect_uri}?{urlencode(query)}", status_code=302)
        if q.get("code_challenge") and q.get("code_challenge_method") != "S256":
            return PlainTextResponse("code_challenge_method must be S256", status_code=400)
        account = provider.account(q.get("login") or "octocat")
        code = secrets.token_hex(10)
        provider.codes[code] = {
            "account": account,
            "redirect_uri": redirect_uri,
            "code_challenge": q.get("code_challenge"),
            "scope": q.get("scope", "").replace(" ", ","),
            "expires_at": time.time() + 600,
        }
        return RedirectResponse(
            f"{redirect_uri}?{urlencode({'code': code, 'state': q.get('state', '')})}",
            status_code=302,
        )

    async def access_token(request: Request) -> Response:
        form = _form(await request.body(), request.headers.get("content-type", ""))
        if (
            form.get("client_id") != provider.client_id
            or form.get("client_secret") != provider.client_secret
        ):
            return JSONResponse(
                {
                    "error": "incorrect_client_credentials",
                    "error_description": "The client_id and/or client_secret passed are incorrect.",
                }
            )
        if form.get("grant_type") == "refresh_token":
            grant = provider.refresh.pop(form.get("refresh_token", ""), None)
            if grant is None:
                return JSONResponse(
                    {
                        "error": "bad_refresh_token",
                        "error_description": "The refresh token passed is incorrect or expired.",
                    }
                )
            grant.account.count("refreshes")
            issued = provider.issue(grant.account, grant.client_id, grant.scope)
        else:
            record, error = provider.check_code(form)
            if record is None:
                descriptions = {
                    "bad_verification_code": "The code passed is incorrect or expired.",
                    "redirect_uri_mismatch": "The redirect_uri MUST match the registered callback.",
                    "pkce_mismatch": "The code_verifier does not match the code_challenge.",
                }
                return JSONResponse(
                    {
                        "error": "bad_verification_code" if error == "pkce_mismatch" else error,
                        "error_description": descriptions[error],
                    }
                )
            issued = provider.issue(record["account"], provider.client_id, record["scope"])
        account = provider.access[issued["access_token"]].account
        return JSONResponse(
            {
                "access_token": issued["access_token"],
                "expires_in": account.token_expires_in,
                "refresh_token": issued["refresh_token"],
                "refresh_token_expires_in": 15_897_600,
                "token_type": "bearer",
                "scope": issued["scope"],
            }
        )

    async def api(request: Request) -> Response:
        """Every authenticated REST endpoint: auth, planned failures, rate limit, ETag."""
        grant = provider.bearer(request)
        if grant is None:
            return _gh_error(401, "Bad credentials")
        account = grant.account
        account.count("requests")
        failure = await _planned_failure(account)
        if failure is not None:
            headers = rate_headers(account)
            if failure.retry_after is not None:
                headers["retry-after"] = str(failure.retry_after)
            if failure.status == 401:
                return _gh_error(401, "Bad credentials")
            if failure.status in (403, 429):
                if failure.retry_after is None:  # primary limit: used up until the reset
                    headers["x-ratelimit-remaining"] = "0"
                return _gh_error(
                    failure.status,
                    "You have exceeded a secondary rate limit. Please wait a few minutes "
                    "before you try again.",
                    headers,
                )
            return _gh_error(failure.status, "Server Error", headers)
        status, body, extra = _gh_route(request, account)
        headers = rate_headers(account)
        headers.update(extra)
        if status != 200:
            return _gh_error(status, body, headers)
        text = json.dumps(body, separators=(",", ":"))
        etag = 'W/"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'
        headers["etag"] = etag
        headers["x-oauth-scopes"] = grant.scope.replace(",", ", ")
        if request.headers.get("if-none-match") == etag:
            account.count("not_modified")
            return Response(status_code=304, headers=headers)
        account.rate_used += 1
        return Response(text, media_type="application/json; charset=utf-8", headers=headers)

    def _page(
        request: Request, items: list[dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], dict[str, str]]:
        q = request.query_params
        try:
            per_page = min(100, max(1, int(q.get("per_page", "30"))))
            page = max(1, int(q.get("page", "1")))
        except ValueError:
            per_page, page = 30, 1
        last = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        links = []
        base = str(request.url.remove_query_params("page"))
        sep = "&" if "?" in base else "?"
        if page < last:
            links.append(f'<{base}{sep}page={page + 1}>; rel="next"')
            links.append(f'<{base}{sep}page={last}>; rel="last"')
        if page > 1:
            links.append(f'<{base}{sep}page=1>; rel="first"')
            links.append(f'<{base}{sep}page={page - 1}>; rel="prev"')
        return chunk, ({"link": ", ".join(links)} if links else {})

    def _gh_route(request: Request, account: Account) -> tuple[int, Any, dict[str, str]]:
        parts = [p for p in request.url.path.split("/") if p]
        q = request.query_params
        if parts == ["user"]:
            return (
                200,
                {
                    "login": account.login,
                    "id": account.id,
                    "node_id": f"U_{account.id}",
                    "name": account.name,
                    "type": "User",
                    "html_url": f"https://github.com/{account.login}",
                    "avatar_url": f"https://avatars.example.test/u/{account.id}",
                    "email": _address(account),
                },
                {},
            )
        if parts == ["user", "emails"]:  # scope user:email; what Auth's github provider reads
            address = _address(account)
            return (
                200,
                [
                    {
                        "email": address,
                        "primary": True,
                        "verified": account.email_verified,
                        "visibility": "private",
                    }
                ],
                {},
            )
        if parts == ["user", "repos"]:
            repos = [
                {k: v for k, v in r.items() if k not in ("commits", "pulls", "issues", "releases")}
                | {"owner": {"login": account.login, "id": account.id}}
                for r in sorted(account.repos.values(), key=lambda r: r["full_name"])
            ]
            chunk, headers = _page(request, repos)
            return 200, chunk, headers
        if len(parts) == 3 and parts[0] == "repos":
            repo = account.repos.get(parts[2]) if parts[1] == account.login else None
            if repo is None:
                return 404, "Not Found", {}
            return (
                200,
                {
                    k: v
                    for k, v in repo.items()
                    if k not in ("commits", "pulls", "issues", "releases")
                }
                | {"owner": {"login": account.login, "id": account.id}},
                {},
            )
        if len(parts) == 4 and parts[0] == "repos":
            owner, name, what = parts[1], parts[2], parts[3]
            repo = account.repos.get(name) if owner == account.login else None
            if repo is None or what not in ("commits", "pulls", "issues", "releases"):
                return 404, "Not Found", {}
            items = list(repo[what])
            since = q.get("since")
            if since and what in ("commits", "issues"):
                try:
                    cut = _parse_iso(since)
                except ValueError:
                    return 422, "Validation Failed", {}
                key = (
                    (lambda c: c["commit"]["author"]["date"])
                    if what == "commits"
                    else (lambda i: i["updated_at"])
                )
                items = [i for i in items if _parse_iso(key(i)) >= cut]
            items.reverse()  # newest first, as GitHub lists them
            chunk, headers = _page(request, items)
            return 200, chunk, headers
        return 404, "Not Found", {}

    async def revoke_grant(request: Request) -> Response:
        client_id = request.path_params["client_id"]
        auth = request.headers.get("authorization", "")
        expected = "Basic " + base64.b64encode(
            f"{provider.client_id}:{provider.client_secret}".encode()
        ).decode("ascii")
        if client_id != provider.client_id or auth != expected:
            return _gh_error(404, "Not Found")
        form = _form(await request.body(), "application/json")
        grant = provider.access.get(form.get("access_token", ""))
        if grant is None:
            return _gh_error(422, "Validation Failed")
        grant.account.count("grants_revoked")
        provider.revoke_account(grant.account)
        return Response(status_code=204)

    # -- switches --------------------------------------------------------------------------
    async def seed(request: Request) -> Response:
        body = await request.json()
        login = str(body["login"])
        account = provider.account(login)
        account.token_expires_in = int(body.get("token_expires_in", account.token_expires_in))
        account.email = str(body.get("email", account.email))
        account.email_verified = bool(body.get("email_verified", account.email_verified))
        for name, spec in (body.get("repos") or {}).items():
            if name in account.repos:
                _add_items(account, account.repos[name], spec, provider)
            else:
                _seed_repo(account, name, spec, provider)
        return JSONResponse({"login": login, "id": account.id, "repos": sorted(account.repos)})

    return Starlette(
        routes=[
            Route("/login/oauth/authorize", authorize, methods=["GET"]),
            Route("/login/oauth/access_token", access_token, methods=["POST"]),
            Route("/applications/{client_id}/grant", revoke_grant, methods=["DELETE"]),
            Route("/_fake/accounts", seed, methods=["POST"]),
            *_switches(provider),
            Route("/{path:path}", api, methods=["GET"]),
        ]
    )


def _switches(provider: Provider) -> list[Route]:
    async def failures(request: Request) -> Response:
        account = provider.account(request.path_params["login"])
        body = await request.json()
        if body.get("clear"):
            account.failures.clear()
            account.delay = 0.0
        if "delay" in body and "status" not in body:
            account.delay = float(body["delay"])
        if "status" in body:
            account.failures.append(
                Failure(
                    status=int(body["status"]),
                    count=int(body.get("count", 1)),
                    retry_after=body.get("retry_after"),
                    delay=float(body.get("delay", 0)),
                )
            )
        return JSONResponse({"failures": len(account.failures), "delay": account.delay})

    async def revoke(request: Request) -> Response:
        account = provider.account(request.path_params["login"])
        provider.revoke_account(account)
        return JSONResponse({"revoked": True})

    async def expire(request: Request) -> Response:
        account = provider.account(request.path_params["login"])
        for grant in provider.access.values():
            if grant.account is account:
                grant.expires_at = 0
        return JSONResponse({"expired": True})

    async def state(request: Request) -> Response:
        account = provider.accounts.get(request.path_params["login"])
        if account is None:
            return JSONResponse({"message": "no such account"}, status_code=404)
        return JSONResponse(
            {
                "login": account.login,
                "id": account.id,
                "counters": account.counters,
                "failures_left": sum(f.count for f in account.failures),
                "live_tokens": sum(1 for g in provider.access.values() if g.account is account),
            }
        )

    return [
        Route("/_fake/accounts/{login}/failures", failures, methods=["POST"]),
        Route("/_fake/accounts/{login}/revoke", revoke, methods=["POST"]),
        Route("/_fake/accounts/{login}/expire", expire, methods=["POST"]),
        Route("/_fake/accounts/{login}", state, methods=["GET"]),
    ]


# ---------------------------------------------------------------------------------------------
# Google
# ---------------------------------------------------------------------------------------------
GOOGLE_DOC = "application/vnd.google-apps.document"


def _google_error(status: int, message: str, reason: str) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": status, "message": message, "status": reason}}, status_code=status
    )


class IdTokens:
    """Google's OpenID Connect side: an RSA key of this process, its JWKS at
    ``/oauth2/v3/certs``, and id_tokens signed with it (iss ``https://accounts.google.com``,
    aud the client id) for the code exchange and for ``/_fake/accounts/{login}/id_token``
    (what Google Identity Services hands a browser, for Auth's ``grant_type=id_token``)."""

    ISSUER = "https://accounts.google.com"

    def __init__(self) -> None:
        from cryptography.hazmat.primitives.asymmetric import rsa

        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = secrets.token_hex(8)

    def jwks(self) -> dict[str, Any]:
        import jwt

        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}]}

    def mint(
        self, account: Account, audience: str, nonce: str | None = None, ttl: int = 3600
    ) -> str:
        import jwt

        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.ISSUER,
            "aud": audience,
            "azp": audience,
            "sub": str(account.id),
            "email": account.login,
            "email_verified": account.email_verified,
            "name": account.name,
            "picture": f"https://lh3.example.test/a/{account.id}",
            "iat": now,
            "exp": now + ttl,
        }
        if nonce:
            claims["nonce"] = nonce
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})


def google_app(provider: Provider) -> Starlette:
    id_tokens = IdTokens()

    async def certs(request: Request) -> Response:
        return JSONResponse(id_tokens.jwks())

    async def discovery(request: Request) -> Response:
        base = str(request.base_url).rstrip("/")
        return JSONResponse(
            {
                "issuer": IdTokens.ISSUER,
                "authorization_endpoint": f"{base}/o/oauth2/v2/auth",
                "token_endpoint": f"{base}/token",
                "userinfo_endpoint": f"{base}/oauth2/v3/userinfo",
                "jwks_uri": f"{base}/oauth2/v3/certs",
                "id_token_signing_alg_values_supported": ["RS256"],
            }
        )

    async def mint_id_token(request: Request) -> Response:
        """A signed id_token for an account; ``aud``, ``nonce``, ``ttl`` (negative: expired)
        and ``forge=1`` (signed by another key) switch what a test needs."""
        q = request.query_params
        account = provider.account(request.path_params["login"])
        signer = IdTokens() if q.get("forge") else id_tokens
        if q.get("forge"):
            signer.kid = id_tokens.kid
        token = signer.mint(
            account, q.get("aud", provider.client_id), q.get("nonce"), int(q.get("ttl", "3600"))
        )
        return JSONResponse({"id_token": token})

    async def authorize(request: Request) -> Response:
        q = request.query_params
        redirect_uri = q.get("redirect_uri", "")
        if q.get("client_id") != provider.client_id or not redirect_uri:
            return PlainTextResponse("Error 401: invalid_client", status_code=401)
        if q.get("response_type") != "code":
            return PlainTextResponse("Error 400: unsupported_response_type", status_code=400)
        if q.get("deny"):
            query = {"error": "access_denied", "state": q.get("state", "")}
            return RedirectResponse(f"{redirect_uri}?{urlencode(query)}", status_code=302)
        if q.get("code_challenge") and q.get("code_challenge_method") != "S256":
            return PlainTextResponse("Error 400: invalid_request", status_code=400)
        account = provider.account(q.get("login_hint") or "user@example.test")
        code = "4/" + secrets.token_urlsafe(24)
        provider.codes[code] = {
            "account": account,
            "redirect_uri": redirect_uri,
            "code_challenge": q.get("code_challenge"),
            "scope": q.get("scope", ""),
            "expires_at": time.time() + 600,
        }
        query = {"state": q.get("state", ""), "code": code, "scope": q.get("scope", "")}
        return RedirectResponse(f"{redirect_uri}?{urlencode(query)}", status_code=302)

    async def token(request: Request) -> Response:
        form = _form(await request.body(), request.headers.get("content-type", ""))
        if (
            form.get("client_id") != provider.client_id
            or form.get("client_secret") != provider.client_secret
        ):
            return JSONResponse(
                {"error": "invalid_client", "error_description": "Unauthorized"}, status_code=401
            )
        grant_type = form.get("grant_type")
        if grant_type == "refresh_token":
            grant = provider.refresh.get(form.get("refresh_token", ""))
            if grant is None:
                return JSONResponse(
                    {
                        "error": "invalid_grant",
                        "error_description": "Token has been expired or revoked.",
                    },
                    status_code=400,
                )
            grant.account.count("refreshes")
            access = f"{provider.prefix}_{secrets.token_urlsafe(24)}"
            provider.access[access] = Grant(
                grant.account,
                grant.client_id,
                grant.scope,
                time.time() + grant.account.token_expires_in,
            )
            return JSONResponse(
                {
                    "access_token": access,
                    "expires_in": grant.account.token_expires_in,
                    "scope": grant.scope,
                    "token_type": "Bearer",
                }
            )
        if grant_type != "authorization_code":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        record, error = provider.check_code(form)
        if record is None:
            description = {
                "pkce_mismatch": "Invalid code verifier.",
                "redirect_uri_mismatch": "Bad Request",
            }.get(error, "Malformed auth code.")
            code = "redirect_uri_mismatch" if error == "redirect_uri_mismatch" else "invalid_grant"
            return JSONResponse({"error": code, "error_description": description}, status_code=400)
        issued = provider.issue(record["account"], provider.client_id, record["scope"])
        body = {
            "access_token": issued["access_token"],
            "expires_in": record["account"].token_expires_in,
            "refresh_token": issued["refresh_token"],
            "scope": issued["scope"],
            "token_type": "Bearer",
        }
        if "openid" in record["scope"].split():
            body["id_token"] = id_tokens.mint(record["account"], provider.client_id)
        return JSONResponse(body)

    async def revoke(request: Request) -> Response:
        form = _form(await request.body(), request.headers.get("content-type", ""))
        value = form.get("token") or request.query_params.get("token", "")
        grant = provider.access.get(value) or provider.refresh.get(value)
        if grant is None:
            return JSONResponse(
                {"error": "invalid_token", "error_description": "Token expired or revoked"},
                status_code=400,
            )
        grant.account.count("grants_revoked")
        provider.revoke_account(grant.account)
        return JSONResponse({})

    async def api(request: Request) -> Response:
        grant = provider.bearer(request)
        if grant is None:
            return _google_error(
                401,
                "Request had invalid authentication credentials. Expected OAuth 2 access token, "
                "login cookie or other valid authentication credential.",
                "UNAUTHENTICATED",
            )
        account = grant.account
        account.count("requests")
        failure = await _planned_failure(account)
        if failure is not None:
            reason = {
                401: "UNAUTHENTICATED",
                403: "PERMISSION_DENIED",
                429: "RESOURCE_EXHAUSTED",
            }.get(failure.status, "UNAVAILABLE")
            response = _google_error(failure.status, "planned failure", reason)
            if failure.retry_after is not None:
                response.headers["retry-after"] = str(failure.retry_after)
            return response
        parts = [p for p in request.url.path.split("/") if p]
        q = request.query_params
        if parts == ["oauth2", "v3", "userinfo"]:
            return JSONResponse(
                {
                    "sub": str(account.id),
                    "name": account.name,
                    "email": account.login,
                    "email_verified": account.email_verified,
                    "picture": f"https://lh3.example.test/a/{account.id}",
                }
            )
        if parts == ["drive", "v3", "files"]:
            docs = sorted(account.docs.values(), key=lambda d: d["name"])
            try:
                size = min(1000, max(1, int(q.get("pageSize", "100"))))
                start = int(q.get("pageToken") or 0)
            except ValueError:
                return _google_error(400, "Invalid Value", "INVALID_ARGUMENT")
            chunk = docs[start : start + size]
            body: dict[str, Any] = {
                "kind": "drive#fileList",
                "incompleteSearch": False,
                "files": [
                    {
                        "kind": "drive#file",
                        "id": d["id"],
                        "name": d["name"],
                        "mimeType": GOOGLE_DOC,
                        "modifiedTime": d["modifiedTime"],
                        "webViewLink": f"https://docs.google.com/document/d/{d['id']}/edit",
                    }
                    for d in chunk
                ],
            }
            if start + size < len(docs):
                body["nextPageToken"] = str(start + size)
            return JSONResponse(body)
        if len(parts) in (4, 5) and parts[:3] == ["drive", "v3", "files"]:
            doc = account.docs.get(parts[3])
            if doc is None:
                return _google_error(404, f"File not found: {parts[3]}.", "NOT_FOUND")
            if len(parts) == 4:
                return JSONResponse(
                    {
                        "kind": "drive#file",
                        "id": doc["id"],
                        "name": doc["name"],
                        "mimeType": GOOGLE_DOC,
                        "modifiedTime": doc["modifiedTime"],
                        "version": str(doc["version"]),
                        "webViewLink": f"https://docs.google.com/document/d/{doc['id']}/edit",
                    }
                )
            if parts[4] != "export":
                return _google_error(404, "Not Found", "NOT_FOUND")
            mime = q.get("mimeType", "")
            if mime not in ("text/markdown", "text/plain"):
                return _google_error(
                    400, "The requested conversion is not supported.", "INVALID_ARGUMENT"
                )
            text = doc["content"]
            if mime == "text/plain":
                text = text.replace("#", "").replace("*", "")
            return PlainTextResponse(text, media_type=f"{mime}; charset=utf-8")
        return _google_error(404, "Not Found", "NOT_FOUND")

    async def seed(request: Request) -> Response:
        body = await request.json()
        account = provider.account(str(body["login"]))
        account.token_expires_in = int(body.get("token_expires_in", account.token_expires_in))
        account.email_verified = bool(body.get("email_verified", account.email_verified))
        for doc in body.get("docs") or []:
            doc_id = str(doc.get("id") or secrets.token_urlsafe(16))
            old = account.docs.get(doc_id)
            account.docs[doc_id] = {
                "id": doc_id,
                "name": str(doc.get("name", "Untitled document")),
                "content": str(doc.get("content", "")),
                "modifiedTime": _iso(datetime.now(UTC)),
                "version": (old["version"] + 1) if old else 1,
            }
        return JSONResponse(
            {"login": account.login, "id": account.id, "docs": sorted(account.docs)}
        )

    return Starlette(
        routes=[
            Route("/o/oauth2/v2/auth", authorize, methods=["GET"]),
            Route("/oauth2/v3/certs", certs, methods=["GET"]),
            Route("/.well-known/openid-configuration", discovery, methods=["GET"]),
            Route("/_fake/accounts/{login}/id_token", mint_id_token, methods=["POST"]),
            Route("/token", token, methods=["POST"]),
            Route("/revoke", revoke, methods=["POST"]),
            Route("/_fake/accounts", seed, methods=["POST"]),
            *_switches(provider),
            Route("/{path:path}", api, methods=["GET"]),
        ]
    )


# ---------------------------------------------------------------------------------------------
def github_provider() -> Provider:
    return Provider(
        os.environ.get("GITHUB_CLIENT_ID") or LOCAL_GITHUB_CLIENT_ID,
        os.environ.get("GITHUB_CLIENT_SECRET") or LOCAL_GITHUB_CLIENT_SECRET,
        "ghu",
    )


def google_provider() -> Provider:
    return Provider(
        os.environ.get("GOOGLE_CLIENT_ID") or LOCAL_GOOGLE_CLIENT_ID,
        os.environ.get("GOOGLE_CLIENT_SECRET") or LOCAL_GOOGLE_CLIENT_SECRET,
        "ya29",
    )


async def serve(github_port: int, google_port: int, push_port: int | None = None) -> None:
    import uvicorn

    from devstack.fake_push import push_app

    servers = [
        uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
        )
        for app, port in (
            (github_app(github_provider()), github_port),
            (google_app(google_provider()), google_port),
            *(((push_app(), push_port),) if push_port else ()),
        )
    ]
    await asyncio.gather(*(s.serve() for s in servers))


def main() -> None:
    github_port = int(os.environ.get("FAKE_GITHUB_PORT") or DEFAULT_GITHUB_PORT)
    google_port = int(os.environ.get("FAKE_GOOGLE_PORT") or DEFAULT_GOOGLE_PORT)
    # the fake Web Push service (devstack/fake_push.py)
    push_port = int(os.environ.get("FAKE_PUSH_PORT") or 54355)
    asyncio.run(serve(github_port, google_port, push_port))


if __name__ == "__main__":
    main()
