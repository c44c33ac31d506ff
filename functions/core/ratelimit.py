"""Rate limits per user and function, shared by every Lambda instance (counted in Postgres).

``public.consume_rate_limit`` is security invoker and executable by the service role only
(supabase/schemas/rate_limits.sql), so the function calls it with the service-role key and
passes the verified caller's id; clients can neither call it nor touch the counters.
"""

from __future__ import annotations

from core import log
from core.errors import ApiError, unauthorized
from core.rest import as_service
from core.settings import Settings


def enforce(
    settings: Settings, user_id: str, key: str, limit: int, window_seconds: int = 60
) -> None:
    """Count one request; raise 429 with ``Retry-After`` when the window's limit is used up.

    A deleted or erased person's unexpired token is refused here (401) and counts nothing:
    every authenticated route passes this step first, so no function serves such a token.
    If the counter store itself fails, the request is let through (and logged): a rate
    limit outage must not take the function down with it (PostgREST's own check still
    refuses the token on the caller's requests).
    """
    try:
        rows = as_service(settings).rpc(
            "consume_rate_limit",
            {
                "p_user_id": user_id,
                "p_key": key,
                "p_limit": limit,
                "p_window_seconds": window_seconds,
            },
        )
    except ApiError as exc:
        if exc.status == 401:
            raise unauthorized("the account of this access token no longer exists") from None
        log.warning("rate limit check failed; allowing request", error=exc.code)
        return
    row = rows[0] if isinstance(rows, list) and rows else {}
    if row.get("allowed", True):
        return
    retry_after = max(1, int(row.get("retry_after") or window_seconds))
    raise ApiError(
        429,
        "rate_limited",
        f"too many requests: at most {limit} per {window_seconds} s; retry in {retry_after} s",
        {"Retry-After": str(retry_after)},
    )
