"""Writing a document: one provider interface, a chain from settings, and fallback.

* ``openai``: any OpenAI-compatible chat-completions endpoint (OpenAI, Azure OpenAI,
  OpenRouter, vLLM, Ollama) over httpx; ``anthropic``: the Messages API over httpx;
  ``template``: the embedded writer (no model; never fails).
* Per provider: a timeout, retries with jittered exponential backoff on 429/5xx/timeouts
  that honour ``Retry-After`` (a wait longer than the budget moves on to the next provider),
  and a circuit breaker whose state is in Postgres (``private.provider_circuits``), so every
  container skips a provider that keeps failing.
* Every provider considered is recorded (``document_jobs.providers``): used, failed (why,
  after how many tries) or skipped (no key, circuit open).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

import httpx

from core import log, metrics
from core.errors import ApiError
from core.rest import Rest
from core.settings import Settings
from documents import template
from documents.context import GenerationContext, build_prompt


class ProviderCallError(Exception):
    """One failed call. ``retryable``: worth trying the same provider again."""

    def __init__(self, reason: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.retry_after = retry_after


class Provider(Protocol):
    name: str
    model: str

    @property
    def generated_by(self) -> str: ...

    def unavailable(self) -> str | None:
        """Why this provider cannot be used at all (no key), or None."""

    def write(self, ctx: GenerationContext) -> str:
        """The document, or :class:`ProviderCallError`."""


def _retry_after(response: httpx.Response) -> float | None:
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


def _post(url: str, headers: dict[str, str], body: dict[str, Any], timeout: float) -> Any:
    """POST JSON; HTTP trouble becomes a :class:`ProviderCallError` that says what happened."""
    try:
        response = httpx.post(
            url, headers=headers, json=body, timeout=httpx.Timeout(timeout, connect=min(5, timeout))
        )
    except httpx.TimeoutException:
        raise ProviderCallError(f"timed out after {timeout:g}s", retryable=True) from None
    except httpx.HTTPError as exc:
        raise ProviderCallError(f"unreachable ({type(exc).__name__})", retryable=True) from None
    status = response.status_code
    if status == 429:
        raise ProviderCallError(
            "rate limited (429)", retryable=True, retry_after=_retry_after(response)
        )
    if status >= 500:
        raise ProviderCallError(
            f"server error ({status})", retryable=True, retry_after=_retry_after(response)
        )
    if status >= 400:
        raise ProviderCallError(f"request refused ({status})", retryable=False)
    try:
        return response.json()
    except ValueError:
        raise ProviderCallError("malformed response (not JSON)", retryable=False) from None


@dataclass
class OpenAIProvider:
    base_url: str
    api_key: str | None
    model: str
    timeout: float
    name: str = "openai"

    @property
    def generated_by(self) -> str:
        return f"{self.name}/{self.model}"

    def unavailable(self) -> str | None:
        return None if self.api_key else "no API key configured (OPENAI_API_KEY)"

    def write(self, ctx: GenerationContext) -> str:
        system, user = build_prompt(ctx)
        data = _post(
            self.base_url.rstrip("/") + "/chat/completions",
            {"Authorization": f"Bearer {self.api_key}"},
            {
                "model": self.model,
                "temperature": 0.2,
                "messages": [
                    {"role": "system", "content": system},
                    {"role": "user", "content": user},
                ],
            },
            self.timeout,
        )
        try:
            return str(data["choices"][0]["message"]["content"] or "")
        except (KeyError, IndexError, TypeError):
            raise ProviderCallError("malformed response (no message)", retryable=False) from None


@dataclass
class AnthropicProvider:
    base_url: str
    api_key: str | None
    model: str
    timeout: float
    name: str = "anthropic"

    @property
    def generated_by(self) -> str:
        return f"{self.name}/{self.model}"

    def unavailable(self) -> str | None:
        return None if self.api_key else "no API key configured (ANTHROPIC_API_KEY)"

    def write(self, ctx: GenerationContext) -> str:
        system, user = build_prompt(ctx)
        data = _post(
            self.base_url.rstrip("/") + "/v1/messages",
            {"x-api-key": str(self.api_key), "anthropic-version": "2023-06-01"},
            {
                "model": self.model,
                "max_tokens": 8000,
                "system": system,
                "messages": [{"role": "user", "content": user}],
            },
            self.timeout,
        )
        try:
            blocks = data["content"]
            return "".join(b.get("text", "") for b in blocks if b.get("type") == "text")
        except (KeyError, TypeError, AttributeError):
            raise ProviderCallError("malformed response (no content)", retryable=False) from None


@dataclass
class TemplateProvider:
    name: str = "template"
    model: str = "v1"

    @property
    def generated_by(self) -> str:
        return template.GENERATED_BY

    def unavailable(self) -> str | None:
        return None

    def write(self, ctx: GenerationContext) -> str:
        return template.render(ctx)


def build_chain(settings: Settings) -> list[Provider]:
    """The providers named by ``DOCUMENT_PROVIDERS``, in order."""
    chain: list[Provider] = []
    for name in [n.strip() for n in settings.document_providers.split(",") if n.strip()]:
        if name == "openai":
            key = settings.openai_api_key
            chain.append(
                OpenAIProvider(
                    settings.openai_base_url,
                    key.get_secret_value() if key else None,
                    settings.openai_model,
                    settings.provider_timeout_seconds,
                )
            )
        elif name == "anthropic":
            key = settings.anthropic_api_key
            chain.append(
                AnthropicProvider(
                    settings.anthropic_base_url,
                    key.get_secret_value() if key else None,
                    settings.anthropic_model,
                    settings.provider_timeout_seconds,
                )
            )
        elif name == "template":
            chain.append(TemplateProvider())
        else:
            raise ValueError(f"unknown provider {name!r} in DOCUMENT_PROVIDERS")
    return chain


# --- circuit breaker (state in Postgres) -----------------------------------------------------
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


# --- the chain -------------------------------------------------------------------------------
@dataclass
class Written:
    text: str
    generated_by: str
    providers: list[dict[str, Any]] = field(default_factory=list)


class AllProvidersFailedError(Exception):
    def __init__(self, providers: list[dict[str, Any]]) -> None:
        reasons = "; ".join(
            f"{p['provider']} {p['outcome']}: {p.get('reason', '')}" for p in providers
        )
        super().__init__(f"no provider could write the document ({reasons})")
        self.providers = providers


def _check_output(text: str, max_chars: int) -> str:
    text = text.strip()
    # a model that wraps the whole document in a code fence
    if text.startswith("```") and text.endswith("```"):
        text = text.split("\n", 1)[1].rsplit("```", 1)[0].strip() if "\n" in text else ""
    if not text:
        raise ProviderCallError("empty answer", retryable=False)
    if len(text) > max_chars:
        raise ProviderCallError(
            f"answer too long ({len(text)} characters, limit {max_chars})", retryable=False
        )
    return text + "\n"


def write_document(
    settings: Settings,
    chain: list[Provider],
    circuits: Circuits,
    ctx: GenerationContext,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> Written:
    """Try each provider in turn; the first good answer wins. Raises
    :class:`AllProvidersFailedError` (with the record of every provider) when none did."""
    record: list[dict[str, Any]] = []
    for provider in chain:
        entry: dict[str, Any] = {"provider": provider.name, "model": provider.model}
        record.append(entry)
        why_not = provider.unavailable()
        if why_not:
            entry.update(outcome="skipped", reason=why_not)
            continue
        key = f"{provider.name}:{provider.model}"
        is_template = isinstance(provider, TemplateProvider)
        if not is_template:
            until = circuits.open_until(key)
            if until:
                entry.update(outcome="skipped", reason=f"circuit open until {until}")
                metrics.count(metrics.PROVIDER_FALLBACKS, provider=provider.name, reason="circuit")
                continue
        started = time.perf_counter()
        tries = 0
        failure: ProviderCallError | None = None
        while True:
            tries += 1
            try:
                text = _check_output(provider.write(ctx), settings.provider_max_output_chars)
            except ProviderCallError as exc:
                failure = exc
                if not exc.retryable or tries > settings.provider_max_retries:
                    break
                backoff = settings.provider_backoff_seconds * (2 ** (tries - 1))
                wait = backoff * random.uniform(0.5, 1.0)  # jitter: containers spread out
                if exc.retry_after is not None:
                    wait = max(wait, exc.retry_after)
                if wait > settings.provider_max_wait_seconds:
                    failure = ProviderCallError(
                        f"{exc.reason}; asked to wait {wait:.0f}s, more than the "
                        f"{settings.provider_max_wait_seconds:g}s budget",
                        retryable=False,
                    )
                    break
                entry.setdefault("retries", []).append(
                    {"reason": exc.reason, "waited_s": round(wait, 2)}
                )
                sleep(wait)
                continue
            entry.update(
                outcome="used", attempts=tries, ms=round((time.perf_counter() - started) * 1000)
            )
            if not is_template:
                circuits.record(key, True)
            return Written(text, provider.generated_by, record)
        assert failure is not None
        entry.update(
            outcome="failed",
            reason=failure.reason,
            attempts=tries,
            ms=round((time.perf_counter() - started) * 1000),
        )
        if not is_template:
            circuits.record(key, False, failure.reason)
        metrics.count(metrics.PROVIDER_FALLBACKS, provider=provider.name, reason="failed")
    raise AllProvidersFailedError(record)
