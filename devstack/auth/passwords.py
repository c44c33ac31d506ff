"""Password hashing and strength, as Auth checks them (``internal/api/password.go``)."""

from __future__ import annotations

from typing import Any

import bcrypt

from devstack.auth.errors import AuthError, Code, bad_request
from devstack.auth.settings import AuthSettings

MAX_PASSWORD_BYTES = 72  # bcrypt's limit; Auth refuses longer passwords
BCRYPT_COST = 10  # Go's bcrypt.DefaultCost, what the hosted service stores ($2a$10$...)


def hash_password(password: str) -> str:
    salt = bcrypt.gensalt(rounds=BCRYPT_COST, prefix=b"2a")
    return bcrypt.hashpw(password.encode(), salt).decode()


def password_matches(password: str, encrypted: str | None) -> bool:
    if not encrypted:
        return False
    try:
        return bcrypt.checkpw(password.encode(), encrypted.encode())
    except ValueError:  # longer than 72 bytes, or not a bcrypt hash
        return False


def weak_password(settings: AuthSettings, password: str) -> AuthError | None:
    """Auth's password strength check (length, required characters)."""
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        return bad_request(
            Code.VALIDATION_FAILED,
            f"Password cannot be longer than {MAX_PASSWORD_BYTES} characters",
        )
    messages, reasons = [], []
    if len(password) < settings.minimum_password_length:
        reasons.append("length")
        messages.append(
            f"Password should be at least {settings.minimum_password_length} characters."
        )
    if any(not any(c in charset for c in password) for charset in settings.required_characters):
        reasons.append("characters")
        messages.append(
            "Password should contain at least one character of each: "
            + ", ".join(settings.required_characters)
            + "."
        )
    if reasons:
        return AuthError(422, Code.WEAK_PASSWORD, " ".join(messages), reasons=reasons)
    return None


def check_new_password(settings: AuthSettings, password: Any) -> None:
    """A password being set: a JSON string (else, as Go's decoder, bad_json) strong enough."""
    if not isinstance(password, str):
        raise bad_request(
            Code.BAD_JSON, "Could not parse request body as JSON: password must be a string"
        )
    weak = weak_password(settings, password)
    if weak is not None:
        raise weak
