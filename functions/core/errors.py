"""Errors every function answers with: JSON ``{"error", "message", "request_id"}``."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import ValidationError


class ApiError(Exception):
    """An error meant for the client: status, stable code, readable message."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def unauthorized(message: str = "missing or invalid access token") -> ApiError:
    return ApiError(401, "unauthorized", message, {"WWW-Authenticate": 'Bearer realm="functions"'})


def forbidden(message: str) -> ApiError:
    return ApiError(403, "forbidden", message)


def not_found(message: str = "not found") -> ApiError:
    return ApiError(404, "not_found", message)


def describe_validation_error(exc: ValidationError) -> str:
    """``field: problem`` for each failing field, so the message names what to fix."""
    parts = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"]) or "body"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


def validation_error(exc: ValidationError, prefix: str = "") -> ApiError:
    return ApiError(422, "validation_failed", prefix + describe_validation_error(exc))
