"""Writing a document: one provider interface, a chain from settings, and fallback.

* ``openai``: any OpenAI-compatible chat-completions endpoint (OpenAI, Azure OpenAI,
  OpenRouter, vLLM, Ollama) over httpx; ``anthropic``: the Messages API over httpx;
  ``template``: the embedded writer (no model; never fails).
* Per provider: a timeout, retries with jittered exponential backoff on 429/5xx/timeouts
  that honour ``Retry-After`` (a wait longer than the budget moves on to the next provider),
  and a circuit breaker whose state is in Postgres (``private.provider_circuits``), so every
  container skips a provider that keeps failing.
* The HTTP call, the retry loop and the breaker are ``core.providers`` (assets use them too).
* Every provider considered is recorded (``document_jobs.providers``): used, failed (why,
  after how many tries) or skipped (no key, circuit open).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from core import metrics
from core.providers import Circuits, ProviderCallError, call_with_retries, request_json
from core.settings import Settings
from documents import template
from documents.context import GenerationContext, build_prompt


class Provider(Protocol):
    name: str
    model: str

    @property
    def generated_by(self) -> str: ...

    def unavailable(self) -> str | None:
        """Why this provider cannot be used at all (no key), or None."""

    def write(self, ctx: GenerationContext) -> str:
        """The document, or :class:`ProviderCallError`."""


def _post(url: str, headers: dict[str, str], body: dict[str, Any], timeout: float) -> Any:
    """POST JSON; HTTP trouble becomes a :class:`ProviderCallError` that says what happened."""
    return request_json("POST", url, headers, body, timeout)


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
        failure: ProviderCallError | None = None
        try:
            text = call_with_retries(
                settings,
                entry,
                lambda p=provider: _check_output(p.write(ctx), settings.provider_max_output_chars),
                sleep=sleep,
            )
        except ProviderCallError as exc:
            failure = exc
        else:
            entry.update(outcome="used", ms=round((time.perf_counter() - started) * 1000))
            if not is_template:
                circuits.record(key, True)
            return Written(text, provider.generated_by, record)
        assert failure is not None
        entry.update(
            outcome="failed",
            reason=failure.reason,
            ms=round((time.perf_counter() - started) * 1000),
        )
        if not is_template:
            circuits.record(key, False, failure.reason)
        metrics.count(metrics.PROVIDER_FALLBACKS, provider=provider.name, reason="failed")
    raise AllProvidersFailedError(record)
