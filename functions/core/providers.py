"""What every call to an outside provider shares (documents' writers, assets' generators).

* :func:`request_json`: one HTTP call over httpx whose trouble becomes a
  :class:`ProviderCallError` saying what happened (timeout, unreachable, 429/5xx with the
  ``Retry-After`` the provider sent, refusal, a body that is not JSON).
* :func:`call_with_retries`: retries a call on retryable errors with jittered exponential
  backoff (``PROVIDER_BACKOFF_SECONDS``) that honours ``Retry-After``; a wait longer than
  ``PROVIDER_MAX_WAIT_SECONDS`` gives up (the caller moves on to the next provider). Each retry
  is recorded in the provider's entry of the job's ``providers`` column.
* :class:`Circuits`: the circuit breaker shared by every container, its state in Postgres
  (``private.provider_circuits`` through two service-role RPCs).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import httpx

from core import log
from core.errors import ApiError
from core.rest import Rest
from core.settings import Settings

T = TypeVar("T")


class ProviderCallError(Exception):
    """One failed call. ``retryable``: worth trying the same provider again."""

    def __init__(self, reason: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.retry_after = retry_after


def retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds (a number or an HTTP date), or None."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def request_json(
    method: str,
    url: str,
    headers: dict[str, str],
    body: dict[str, Any] | None,
    timeout: float,
) -> Any:
    """One call; the JSON answer (None for an empty 2xx), or :class:`ProviderCallError`."""
    try:
        response = httpx.request(
            method,
            url,
            headers=headers,
            json=body,
            timeout=httpx.Timeout(timeout, connect=min(5, timeout)),
        )
    except httpx.TimeoutException:
        raise ProviderCallError(f"timed out after {timeout:g}s", retryable=True) from None
    except httpx.HTTPError as exc:
        raise ProviderCallError(f"unreachable ({type(exc).__name__})", retryable=True) from None
    status = response.status_code
    if status == 429:
        raise ProviderCallError(
            "rate limited (429)", retryable=True, retry_after=retry_after(response)
        )
    if status >= 500:
        raise ProviderCallError(
            f"server error ({status})", retryable=True, retry_after=retry_after(response)
        )
    if status >= 400:
        raise ProviderCallError(f"request refused ({status})", retryable=False)
    if status == 204 or not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        raise ProviderCallError("malformed response (not JSON)", retryable=False) from None


def call_with_retries(
    settings: Settings,
    entry: dict[str, Any],
    call: Callable[[], T],
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``call()``, retried on retryable :class:`ProviderCallError` up to
    ``PROVIDER_MAX_RETRIES`` times; ``entry["attempts"]`` and ``entry["retries"]`` say what
    happened. Raises the last error (made non-retryable when the wait is over budget)."""
    tries = 0
    while True:
        tries += 1
        entry["attempts"] = tries
        try:
            return call()
        except ProviderCallError as exc:
            if not exc.retryable or tries > settings.provider_max_retries:
                raise
            backoff = settings.provider_backoff_seconds * (2 ** (tries - 1))
            wait = backoff * random.uniform(0.5, 1.0)  # jitter: containers spread out
            if exc.retry_after is not None:
                wait = max(wait, exc.retry_after)
            if wait > settings.provider_max_wait_seconds:
                raise ProviderCallError(
                    f"{exc.reason}; asked to wait {wait:.0f}s, more than the "
                    f"{settings.provider_max_wait_seconds:g}s budget",
                    retryable=False,
                ) from None
            entry.setdefault("retries", []).append(
                {"reason": exc.reason, "waited_s": round(wait, 2)}
            )
            sleep(wait)


class Circuits:
    """The shared breaker: ``private.provider_circuits`` through two service-role RPCs. If
    the database cannot answer, the breaker is treated as closed (the call decides)."""

    def __init__(self, rest: Rest, threshold: int, open_seconds: int) -> None:
        self._rest = rest
        self._threshold = threshold
        self._open_seconds = open_seconds

    def open_until(self, key: str) -> str | None:
        try:
            return self._rest.rpc("provider_circuit_open_until", {"p_key": key})
        except ApiError as exc:
            log.warning("circuit", key=key, outcome="unknown", reason=exc.message)
            return None

    def record(self, key: str, ok: bool, error: str | None = None) -> None:
        try:
            self._rest.rpc(
                "record_provider_outcome",
                {
                    "p_key": key,
                    "p_ok": ok,
                    "p_threshold": self._threshold,
                    "p_open_seconds": self._open_seconds,
                    "p_error": error,
                },
            )
        except ApiError as exc:
            log.warning("circuit", key=key, outcome="not_recorded", reason=exc.message)
