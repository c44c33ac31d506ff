"""Structured logs: one JSON object per line, with the request (or event record) context.

A :class:`LogContext` is bound in a context variable for the duration of one request or one
event record, so anything logged below it carries the request id, function and user id.
Standard library only: it costs nothing at import.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TextIO


@dataclass
class LogContext:
    function: str
    request_id: str
    user_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)

    def elapsed_ms(self) -> float:
        return round((time.perf_counter() - self.started) * 1000, 2)


_current: ContextVar[LogContext | None] = ContextVar("log_context", default=None)
_stream: list[TextIO] = [sys.stdout]


def current() -> LogContext | None:
    return _current.get()


def set_stream(stream: TextIO) -> None:
    """Send log lines elsewhere (tests)."""
    _stream[0] = stream


def log(level: str, message: str, **fields: Any) -> None:
    """Write one JSON log line, merged with the bound context."""
    entry: dict[str, Any] = {
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + "Z",
        "level": level,
        "message": message,
    }
    ctx = _current.get()
    if ctx is not None:
        entry.update(function=ctx.function, request_id=ctx.request_id, user_id=ctx.user_id)
        entry.update(ctx.extra)
    entry.update(fields)
    stream = _stream[0]
    stream.write(json.dumps(entry, default=str, separators=(",", ":")) + "\n")
    stream.flush()


def info(message: str, **fields: Any) -> None:
    log("INFO", message, **fields)


def warning(message: str, **fields: Any) -> None:
    log("WARNING", message, **fields)


def exception(message: str, exc: BaseException, **fields: Any) -> None:
    """Log an unexpected exception with its traceback (never sent to the client)."""
    log(
        "ERROR",
        message,
        error_type=type(exc).__name__,
        traceback="".join(traceback.format_exception(exc)),
        **fields,
    )


@contextmanager
def bind(ctx: LogContext) -> Iterator[LogContext]:
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)
