"""GitHub and Google over HTTP (httpx), base URLs from settings.

Errors become :class:`ProviderError` with a kind the callers act on:

* ``unauthorized``: 401, the grant is revoked or the token is bad (refresh, else reconnect);
* ``rate_limited``: 429, or 403 with ``X-RateLimit-Remaining: 0`` / ``Retry-After`` (GitHub's
  primary and secondary limits), carrying the seconds to wait;
* ``unavailable``: 5xx, timeouts, connection errors;
* ``rejected``: any other 4xx; ``oauth``: an OAuth error answer (``error`` code kept).

Short waits (``Retry-After`` up to ``provider_max_inline_wait_seconds``, 5xx backoff) are
retried inline a couple of times; longer ones are raised so the queue retries the job later.
"""

from __future__ import annotations

import base64
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx

from core.rest import http_client
from integrations.config import IntegrationsSettings

INLINE_RETRIES = 2
_LINK = re.compile(r'<([^>]+)>;\s*rel="([^"]+)"')


class ProviderError(Exception):
    def __init__(
        self,
        kind: str,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.retry_after = retry_after
        self.code = code


@dataclass
class TokenSet:
    access_token: str
    refresh_token: str | None
    expires_at: datetime | None
    scopes: list[str]


@dataclass
class Meter:
    """Requests made to a provider during one operation (a sync run)."""

    requests: int = 0
    waited_seconds: float = 0.0
    rate_remaining: int | None = None
    rate_reset: float | None = None
    notes: list[str] = field(default_factory=list)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            return None
    if response.headers.get("x-ratelimit-remaining") == "0":
        reset = response.headers.get("x-ratelimit-reset")
        if reset and reset.isascii() and reset.isdigit():
            return max(0.0, int(reset) - time.time())
    return None


def call(
    settings: IntegrationsSettings,
    method: str,
    url: str,
    *,
    meter: Meter | None = None,
    token: str | None = None,
    headers: dict[str, str] | None = None,
    params: dict[str, Any] | None = None,
    data: dict[str, str] | None = None,
    json: Any = None,
    auth: tuple[str, str] | None = None,
    ok_statuses: tuple[int, ...] = (),
) -> httpx.Response:
    """One provider request with inline retries of short waits; errors as ProviderError."""
    hdrs = {"Accept": "application/json", "User-Agent": "collab-integrations"}
    if token:
        hdrs["Authorization"] = f"Bearer {token}"
    if auth:
        raw = f"{auth[0]}:{auth[1]}".encode()
        hdrs["Authorization"] = "Basic " + base64.b64encode(raw).decode("ascii")
    hdrs.update(headers or {})
    meter = meter or Meter()
    last: ProviderError | None = None
    for attempt in range(INLINE_RETRIES + 1):
        if meter.rate_remaining == 0 and meter.rate_reset is not None:
            wait = meter.rate_reset - time.time()
            if wait > settings.provider_max_inline_wait_seconds:
                raise ProviderError(
                    "rate_limited", "the provider's rate limit is used up", retry_after=wait
                )
            if wait > 0:
                time.sleep(wait)
                meter.waited_seconds += wait
        meter.requests += 1
        try:
            response = http_client().request(
                method,
                url,
                headers=hdrs,
                params=params,
                data=data,
                json=json,
                timeout=settings.provider_timeout_seconds,
            )
        except httpx.HTTPError as exc:
            last = ProviderError("unavailable", f"{type(exc).__name__} talking to the provider")
            _backoff(attempt, meter)
            continue
        remaining = response.headers.get("x-ratelimit-remaining")
        if response.headers.get("retry-after"):
            meter.rate_remaining = None  # Retry-After rules (secondary limits)
        elif remaining is not None and remaining.isascii() and remaining.isdigit():
            meter.rate_remaining = int(remaining)
            reset = response.headers.get("x-ratelimit-reset")
            meter.rate_reset = (
                float(reset) if reset and reset.isascii() and reset.isdigit() else None
            )
        status = response.status_code
        if status < 400 or status in ok_statuses:
            return response
        if status == 401:
            raise ProviderError("unauthorized", "the provider refused the token", status=401)
        retry_after = _retry_after(response)
        if status == 429 or (status == 403 and retry_after is not None):
            last = ProviderError(
                "rate_limited",
                "the provider is rate limiting",
                status=status,
                retry_after=retry_after,
            )
            wait = retry_after if retry_after is not None else 1.0
            if wait > settings.provider_max_inline_wait_seconds or attempt == INLINE_RETRIES:
                raise last
            time.sleep(wait)
            meter.waited_seconds += wait
            continue
        if status >= 500:
            last = ProviderError(
                "unavailable",
                f"the provider answered {status}",
                status=status,
                retry_after=retry_after,
            )
            _backoff(attempt, meter)
            continue
        raise ProviderError("rejected", f"the provider answered {status}", status=status)
    assert last is not None
    raise last


def _backoff(attempt: int, meter: Meter) -> None:
    if attempt < INLINE_RETRIES:
        wait = 0.2 * (2**attempt)
        time.sleep(wait)
        meter.waited_seconds += wait


def next_link(response: httpx.Response) -> str | None:
    for url, rel in _LINK.findall(response.headers.get("link", "")):
        if rel == "next":
            return url
    return None


def _expires(seconds: Any) -> datetime | None:
    try:
        return datetime.now(UTC) + timedelta(seconds=int(seconds))
    except (TypeError, ValueError):
        return None


def _oauth_answer(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise ProviderError("unavailable", "the token endpoint did not answer JSON") from None
    if not isinstance(body, dict):
        raise ProviderError("unavailable", "the token endpoint answered something else")
    if body.get("error"):
        raise ProviderError(
            "oauth", str(body.get("error_description") or body["error"]), code=str(body["error"])
        )
    if not body.get("access_token"):
        raise ProviderError("oauth", "no access token in the answer", code="server_error")
    return body


# --- GitHub -------------------------------------------------------------------------------------
class GitHub:
    name = "github"

    def __init__(self, settings: IntegrationsSettings) -> None:
        self.s = settings

    @property
    def configured(self) -> bool:
        return bool(self.s.github_client_id and self.s.github_client_secret)

    def _secret(self) -> str:
        assert self.s.github_client_secret is not None
        return self.s.github_client_secret.get_secret_value()

    def authorize_url(self, state: str, challenge: str, redirect_uri: str) -> str:
        query = {
            "client_id": self.s.github_client_id,
            "redirect_uri": redirect_uri,
            "scope": self.s.github_scopes,
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "allow_signup": "false",
        }
        return f"{self.s.github_web_url.rstrip('/')}/login/oauth/authorize?{urlencode(query)}"

    def _token(self, form: dict[str, str]) -> TokenSet:
        form = {"client_id": self.s.github_client_id or "", "client_secret": self._secret(), **form}
        # GitHub answers OAuth errors with 200 and an "error" field; 4xx here is unexpected
        response = call(
            self.s,
            "POST",
            f"{self.s.github_web_url.rstrip('/')}/login/oauth/access_token",
            data=form,
            ok_statuses=(400,),
        )
        body = _oauth_answer(response)
        scopes = [s for s in re.split(r"[,\s]+", str(body.get("scope") or "")) if s]
        return TokenSet(
            access_token=str(body["access_token"]),
            refresh_token=body.get("refresh_token"),
            expires_at=_expires(body.get("expires_in")),
            scopes=scopes,
        )

    def exchange(self, code: str, verifier: str, redirect_uri: str) -> TokenSet:
        return self._token({"code": code, "code_verifier": verifier, "redirect_uri": redirect_uri})

    def refresh(self, refresh_token: str) -> TokenSet:
        return self._token({"grant_type": "refresh_token", "refresh_token": refresh_token})

    def api(self, path: str) -> str:
        return f"{self.s.github_api_url.rstrip('/')}/{path.lstrip('/')}"

    def whoami(self, token: str) -> tuple[str, str, list[str] | None]:
        response = call(
            self.s,
            "GET",
            self.api("/user"),
            token=token,
            headers={"Accept": "application/vnd.github+json"},
        )
        body = response.json()
        header = response.headers.get("x-oauth-scopes")
        scopes = [s.strip() for s in header.split(",") if s.strip()] if header is not None else None
        return str(body["id"]), str(body["login"]), scopes

    def remote_items(
        self, token: str, page: int, per_page: int
    ) -> tuple[list[dict[str, Any]], bool]:
        response = call(
            self.s,
            "GET",
            self.api("/user/repos"),
            token=token,
            params={"per_page": per_page, "page": page, "sort": "full_name"},
            headers={"Accept": "application/vnd.github+json"},
        )
        items = [
            {
                "external_id": r["full_name"],
                "name": r["full_name"],
                "url": r.get("html_url"),
                "kind": "repository",
                "updated_at": r.get("updated_at"),
            }
            for r in response.json()
        ]
        return items, next_link(response) is not None

    def revoke(self, token: str) -> None:
        call(
            self.s,
            "DELETE",
            self.api(f"/applications/{self.s.github_client_id}/grant"),
            auth=(self.s.github_client_id or "", self._secret()),
            json={"access_token": token},
            headers={"Accept": "application/vnd.github+json"},
            ok_statuses=(404, 422),
        )


# --- Google -------------------------------------------------------------------------------------
GOOGLE_DOC = "application/vnd.google-apps.document"


class Google:
    name = "google_docs"

    def __init__(self, settings: IntegrationsSettings) -> None:
        self.s = settings

    @property
    def configured(self) -> bool:
        return bool(self.s.google_client_id and self.s.google_client_secret)

    def _secret(self) -> str:
        assert self.s.google_client_secret is not None
        return self.s.google_client_secret.get_secret_value()

    def authorize_url(self, state: str, challenge: str, redirect_uri: str) -> str:
        query = {
            "client_id": self.s.google_client_id,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": self.s.google_scopes,
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "access_type": "offline",
            "prompt": "consent",
            "include_granted_scopes": "true",
        }
        return f"{self.s.google_accounts_url.rstrip('/')}/o/oauth2/v2/auth?{urlencode(query)}"

    def _token(self, form: dict[str, str]) -> TokenSet:
        form = {"client_id": self.s.google_client_id or "", "client_secret": self._secret(), **form}
        response = call(
            self.s,
            "POST",
            f"{self.s.google_oauth_url.rstrip('/')}/token",
            data=form,
            ok_statuses=(400,),
        )
        body = _oauth_answer(response)
        return TokenSet(
            access_token=str(body["access_token"]),
            refresh_token=body.get("refresh_token"),
            expires_at=_expires(body.get("expires_in")),
            scopes=[s for s in str(body.get("scope") or "").split() if s],
        )

    def exchange(self, code: str, verifier: str, redirect_uri: str) -> TokenSet:
        return self._token(
            {
                "grant_type": "authorization_code",
                "code": code,
                "code_verifier": verifier,
                "redirect_uri": redirect_uri,
            }
        )

    def refresh(self, refresh_token: str) -> TokenSet:
        tokens = self._token({"grant_type": "refresh_token", "refresh_token": refresh_token})
        # Google does not send a new refresh token on refresh: the old one stays valid
        tokens.refresh_token = tokens.refresh_token or refresh_token
        return tokens

    def api(self, path: str) -> str:
        return f"{self.s.google_api_url.rstrip('/')}/{path.lstrip('/')}"

    def whoami(self, token: str) -> tuple[str, str, list[str] | None]:
        body = call(self.s, "GET", self.api("/oauth2/v3/userinfo"), token=token).json()
        return str(body["sub"]), str(body.get("email") or body.get("name") or body["sub"]), None

    def remote_items(
        self, token: str, page_token: str | None, page_size: int
    ) -> tuple[list[dict[str, Any]], str | None]:
        params: dict[str, Any] = {
            "q": f"mimeType='{GOOGLE_DOC}' and trashed=false",
            "pageSize": page_size,
            "fields": "nextPageToken,files(id,name,mimeType,modifiedTime,webViewLink)",
            "orderBy": "name",
        }
        if page_token:
            params["pageToken"] = page_token
        body = call(self.s, "GET", self.api("/drive/v3/files"), token=token, params=params).json()
        items = [
            {
                "external_id": f["id"],
                "name": f.get("name"),
                "url": f.get("webViewLink"),
                "kind": "document",
                "updated_at": f.get("modifiedTime"),
            }
            for f in body.get("files", [])
        ]
        return items, body.get("nextPageToken")

    def metadata(self, token: str, file_id: str, meter: Meter | None = None) -> dict[str, Any]:
        return call(
            self.s,
            "GET",
            self.api(f"/drive/v3/files/{file_id}"),
            token=token,
            meter=meter,
            params={"fields": "id,name,mimeType,modifiedTime,version,webViewLink"},
        ).json()

    def export(self, token: str, file_id: str, meter: Meter | None = None) -> str:
        response = call(
            self.s,
            "GET",
            self.api(f"/drive/v3/files/{file_id}/export"),
            token=token,
            meter=meter,
            params={"mimeType": "text/markdown"},
            headers={"Accept": "text/markdown, */*"},
        )
        return response.text

    def revoke(self, token: str) -> None:
        call(
            self.s,
            "POST",
            f"{self.s.google_oauth_url.rstrip('/')}/revoke",
            data={"token": token},
            ok_statuses=(400,),
        )


def for_provider(settings: IntegrationsSettings, provider: str) -> GitHub | Google:
    if provider == "github":
        return GitHub(settings)
    if provider == "google_docs":
        return Google(settings)
    raise ValueError(f"no OAuth client for {provider}")
