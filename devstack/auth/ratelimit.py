"""``[auth.rate_limit]`` as the hosted server applies it (internal/api/apilimiter): token
buckets per client IP (the edge's ``cf-connecting-ip``), 429 ``over_request_rate_limit``;
e-mail sending limited per hour, 429 ``over_email_send_rate_limit``.

- ``token``: every ``POST /token`` grant; ``token_refresh`` per 5 minutes, burst 30.
- ``verify``: ``/verify``; ``token_verifications`` per 5 minutes, burst 30.
- ``signup``, ``recover``, ``resend``, ``magiclink``, ``otp``, ``user`` (``PUT /user``): each
  its own bucket of ``sign_in_sign_ups`` per 5 minutes, burst 30.
- ``email_sent`` messages per hour and client IP. (The hosted server counts them for the
  whole project: stricter. Per IP here, so that one test's mail never refuses another's.)

Requests from ``AUTH_RATE_LIMIT_EXEMPT_IPS`` (default the loopback addresses the test suite
and a developer's browser use) are not limited: the hosted server limits only requests that
carry an edge address, and local clients share one. Tests of the limits send from other
loopback addresses (127.0.0.2 ...).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from devstack.auth.errors import Code, too_many_requests

BURST = 30
FIVE_MINUTES = 300.0
HOUR = 3600.0


@dataclass
class TokenBucket:
    """tollbooth's limiter: ``rate`` tokens a second, at most ``burst`` saved, per key."""

    rate: float
    burst: int = BURST
    _state: dict[str, tuple[float, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def allow(self, key: str) -> bool:
        now = time.monotonic()
        with self._lock:
            tokens, last = self._state.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens < 1:
                self._state[key] = (tokens, now)
                return False
            self._state[key] = (tokens - 1, now)
            if len(self._state) > 100_000:  # expire idle keys (tollbooth keeps them an hour)
                self._state = {k: v for k, v in self._state.items() if now - v[1] < HOUR}
            return True


@dataclass
class IntervalLimiter:
    """Auth's e-mail limiter: ``count`` events per ``interval`` seconds per key, then refuse."""

    count: int
    interval: float = HOUR
    _events: dict[str, list[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def allow(self, key: str) -> bool:
        now = time.monotonic()
        with self._lock:
            events = [t for t in self._events.get(key, []) if now - t < self.interval]
            if len(events) >= self.count:
                self._events[key] = events
                return False
            self._events[key] = [*events, now]
            return True


@dataclass(frozen=True)
class RateLimitSettings:
    email_sent: int = 2
    token_refresh: int = 150
    sign_in_sign_ups: int = 30
    token_verifications: int = 30
    exempt_ips: frozenset[str] = frozenset({"127.0.0.1", "::1"})


class Limits:
    OTP_FAMILY = ("signup", "recover", "resend", "magiclink", "otp", "user")

    def __init__(self, settings: RateLimitSettings) -> None:
        self.settings = settings
        self.buckets = {
            "token": TokenBucket(settings.token_refresh / FIVE_MINUTES),
            "verify": TokenBucket(settings.token_verifications / FIVE_MINUTES),
            **{n: TokenBucket(settings.sign_in_sign_ups / FIVE_MINUTES) for n in self.OTP_FAMILY},
        }
        self.email = IntervalLimiter(settings.email_sent)

    def exempt(self, ip: str | None) -> bool:
        return not ip or ip in self.settings.exempt_ips

    def check(self, bucket: str, ip: str | None) -> None:
        if self.exempt(ip):
            return
        if not self.buckets[bucket].allow(ip or ""):
            raise too_many_requests(Code.OVER_REQUEST_RATE_LIMIT, "Request rate limit reached")

    def check_email(self, ip: str | None) -> None:
        if self.exempt(ip):
            return
        if not self.email.allow(ip or ""):
            raise too_many_requests(Code.OVER_EMAIL_SEND_RATE_LIMIT, "Email rate limit exceeded")
