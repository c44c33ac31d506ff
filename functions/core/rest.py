"""PostgREST over httpx: as the caller (their JWT, so RLS decides) or as the service role.

One pooled ``httpx.Client`` per process; a :class:`Rest` is a cheap view on it with the
headers of one identity. PostgREST errors become :class:`ApiError` with a status that says
what happened (RLS refusal 403, check violation 422, bad input 400, the database's limits
429, a statement timeout 504, upstream down 502/503).
"""

from __future__ import annotations

import threading
from typing import Any

import httpx

from core.errors import ApiError
from core.settings import Settings

_client: httpx.Client | None = None
_client_lock = threading.Lock()


def http_client(timeout: float = 10.0) -> httpx.Client:
    """The process-wide pooled HTTP client (created on first use)."""
    global _client
    if _client is None:
        with _client_lock:
            if _client is None:
                _client = httpx.Client(
                    timeout=httpx.Timeout(timeout, connect=min(timeout, 3.0)),
                    limits=httpx.Limits(max_connections=50, max_keepalive_connections=20),
                )
    return _client


# a 503 of ours says when to come back: PostgREST and Postgres restart within seconds
RETRY_LATER = {"Retry-After": "2"}

# SQLSTATE (or PostgREST code) -> (status, error code)
_SQLSTATE: dict[str, tuple[int, str]] = {
    "42501": (403, "forbidden"),  # insufficient privilege / row-level security
    "23514": (422, "constraint_violation"),  # check constraint
    "23502": (422, "constraint_violation"),  # not null
    "23503": (422, "constraint_violation"),  # foreign key
    "23505": (409, "conflict"),  # unique
    "22P02": (400, "invalid_input"),  # invalid text representation
    "22023": (400, "invalid_input"),
    "PGRST116": (404, "not_found"),  # .single() with no row
    "PGRST301": (401, "unauthorized"),  # JWT invalid
    "PGRST302": (401, "unauthorized"),
    "PGRST303": (401, "unauthorized"),
    "PT401": (401, "unauthorized"),  # the token's account is deleted or being erased
}


def error_from_response(response: httpx.Response) -> ApiError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    code = str(body.get("code") or "")
    message = str(body.get("message") or response.reason_phrase or "request failed")
    if code in _SQLSTATE:
        status, error = _SQLSTATE[code]
        return ApiError(status, error, message)
    if response.status_code == 429:
        # the database's own limits (PT429): per-user concurrency cap, files a minute
        retry_after = response.headers.get("Retry-After", "1")
        return ApiError(429, "rate_limited", message, {"Retry-After": retry_after})
    if code == "57014":
        # the role's statement timeout cancelled the query (PostgREST answers it as 500)
        return ApiError(
            504, "database_timeout", "the database query took too long and was cancelled"
        )
    if (
        code.startswith(("PGRST0", "08", "57P"))  # no connection / connection lost / shutdown
        or response.status_code in (502, 503, 504)
    ):
        return ApiError(503, "database_unavailable", "the database is not reachable", RETRY_LATER)
    if response.status_code in (401, 403):
        return ApiError(response.status_code, "forbidden", message)
    if 400 <= response.status_code < 500:
        return ApiError(400, "invalid_request", message)
    return ApiError(502, "upstream_error", "the data API failed")


class Rest:
    """Requests to PostgREST with one identity's headers."""

    def __init__(self, settings: Settings, bearer: str) -> None:
        self._base = settings.rest_url
        self._timeout = settings.http_timeout_seconds
        self._headers = {
            "apikey": settings.supabase_anon_key.get_secret_value(),
            "Authorization": f"Bearer {bearer}",
        }

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json: Any = None,
        prefer: str | None = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> httpx.Response:
        hdrs = dict(self._headers)
        if prefer:
            hdrs["Prefer"] = prefer
        if headers:
            hdrs.update(headers)
        try:
            response = http_client(self._timeout).request(
                method,
                f"{self._base}/{path.lstrip('/')}",
                params=params,
                json=json,
                headers=hdrs,
                timeout=self._timeout if timeout is None else timeout,
            )
        except httpx.HTTPError as exc:
            raise ApiError(
                503, "data_api_unavailable", "the data API is not reachable", RETRY_LATER
            ) from exc
        if response.status_code >= 400:
            raise error_from_response(response)
        return response

    def read_bytes(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> bytes:
        """The body of a request, read as a stream: a large body is then owned by the caller
        alone, not kept by a ``Response`` that only the cyclic garbage collector frees (which
        large bytes objects never prompt), so memory stays flat over many large answers."""
        hdrs = {**self._headers, **(headers or {})}
        try:
            with http_client(self._timeout).stream(
                method,
                f"{self._base}/{path.lstrip('/')}",
                json=json,
                headers=hdrs,
                timeout=self._timeout if timeout is None else timeout,
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    raise error_from_response(response)
                return b"".join(response.iter_bytes())
        except httpx.HTTPError as exc:
            raise ApiError(503, "data_api_unavailable", "the data API is not reachable") from exc

    def select(self, table: str, params: dict[str, str]) -> list[dict[str, Any]]:
        return self.request("GET", table, params=params).json()

    def insert(
        self, table: str, row: dict[str, Any], params: dict[str, str] | None = None
    ) -> dict[str, Any]:
        return self.request(
            "POST", table, params=params, json=row, prefer="return=representation"
        ).json()[0]

    def update(
        self, table: str, params: dict[str, str], values: dict[str, Any]
    ) -> list[dict[str, Any]]:
        return self.request(
            "PATCH", table, params=params, json=values, prefer="return=representation"
        ).json()

    def rpc(self, name: str, args: dict[str, Any]) -> Any:
        return self.request("POST", f"rpc/{name}", json=args).json()


def as_caller(settings: Settings, token: str) -> Rest:
    """PostgREST as the calling user: their JWT is forwarded, so RLS decides."""
    return Rest(settings, token)


def as_service(settings: Settings) -> Rest:
    """PostgREST as the service role (bypasses RLS). Background handlers and rate limits only."""
    key = settings.supabase_service_role_key
    if key is None:
        raise RuntimeError("missing setting SUPABASE_SERVICE_ROLE_KEY")
    return Rest(settings, key.get_secret_value())
