"""Auth's errors and their two wire shapes (supabase/auth ``internal/api/errors.go``,
codes from ``internal/api/apierrors/errorcode.go``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

API_VERSION_HEADER = "X-Supabase-Api-Version"
API_VERSION_2024 = "2024-01-01"


class Code:
    """The error codes local Auth answers (a subset of apierrors/errorcode.go)."""

    UNKNOWN = "unknown"
    UNEXPECTED_FAILURE = "unexpected_failure"
    VALIDATION_FAILED = "validation_failed"
    BAD_JSON = "bad_json"
    EMAIL_EXISTS = "email_exists"
    BAD_JWT = "bad_jwt"
    NOT_ADMIN = "not_admin"
    NO_AUTHORIZATION = "no_authorization"
    USER_NOT_FOUND = "user_not_found"
    SESSION_NOT_FOUND = "session_not_found"
    SESSION_EXPIRED = "session_expired"
    REFRESH_TOKEN_NOT_FOUND = "refresh_token_not_found"
    REFRESH_TOKEN_ALREADY_USED = "refresh_token_already_used"
    FLOW_STATE_NOT_FOUND = "flow_state_not_found"
    FLOW_STATE_EXPIRED = "flow_state_expired"
    SIGNUP_DISABLED = "signup_disabled"
    USER_BANNED = "user_banned"
    PHONE_PROVIDER_DISABLED = "phone_provider_disabled"
    EMAIL_PROVIDER_DISABLED = "email_provider_disabled"
    EMAIL_NOT_CONFIRMED = "email_not_confirmed"
    USER_ALREADY_EXISTS = "user_already_exists"
    REAUTHENTICATION_NEEDED = "reauthentication_needed"
    REAUTHENTICATION_NOT_VALID = "reauthentication_not_valid"
    SAME_PASSWORD = "same_password"
    OTP_EXPIRED = "otp_expired"
    OTP_DISABLED = "otp_disabled"
    WEAK_PASSWORD = "weak_password"
    OVER_REQUEST_RATE_LIMIT = "over_request_rate_limit"
    OVER_EMAIL_SEND_RATE_LIMIT = "over_email_send_rate_limit"
    BAD_CODE_VERIFIER = "bad_code_verifier"
    INVALID_CREDENTIALS = "invalid_credentials"
    EMAIL_ADDRESS_INVALID = "email_address_invalid"
    REQUEST_ENTITY_TOO_LARGE = "request_entity_too_large"


class AuthError(Exception):
    """An Auth HTTPError: status, error code, message (and weak-password reasons)."""

    def __init__(
        self, status: int, code: str, message: str, *, reasons: list[str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.reasons = reasons


class OAuthError(Exception):
    """Auth's OAuth-style error (``{"error", "error_description"}``)."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


def bad_request(code: str, message: str) -> AuthError:
    return AuthError(400, code, message)


def unprocessable(code: str, message: str) -> AuthError:
    return AuthError(422, code, message)


def forbidden(code: str, message: str) -> AuthError:
    return AuthError(403, code, message)


def too_many_requests(code: str, message: str) -> AuthError:
    return AuthError(429, code, message)


def wants_2024(request: Request) -> bool:
    value = request.headers.get(API_VERSION_HEADER, "")
    try:
        return dt.date.fromisoformat(value) >= dt.date(2024, 1, 1)
    except ValueError:
        return False


def error_response(request: Request, exc: Exception) -> JSONResponse:
    """``{"code", "message"}`` for clients that send the 2024-01-01 API version (the SDKs
    do), else the legacy ``{"code", "error_code", "msg"}``."""
    if isinstance(exc, OAuthError):
        return JSONResponse(
            {"error": exc.error, "error_description": exc.description}, status_code=exc.status
        )
    assert isinstance(exc, AuthError)
    headers = {"x-sb-error-code": exc.code}
    body: dict[str, Any]
    if wants_2024(request):
        headers[API_VERSION_HEADER] = API_VERSION_2024
        body = {"code": exc.code, "message": exc.message}
    else:
        body = {"code": exc.status, "error_code": exc.code, "msg": exc.message}
    if exc.reasons is not None:
        body["weak_password"] = {"reasons": exc.reasons}
    return JSONResponse(body, status_code=exc.status, headers=headers)
