"""TOTP (RFC 6238 over RFC 4226's HOTP): 30-second steps, 6 digits, HMAC-SHA1, a base32
secret of 20 random bytes, the ``otpauth://`` URI authenticator apps read and its QR code
as SVG (what Auth's ``POST /factors`` answers for a TOTP factor)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import secrets
import struct
import time
import urllib.parse

import segno

PERIOD = 30
DIGITS = 6
SKEW_STEPS = 1  # a code from the step before or after still counts (clock drift)


def new_secret() -> str:
    return base64.b32encode(secrets.token_bytes(20)).decode().rstrip("=")


def _key(secret: str) -> bytes:
    padded = secret.upper() + "=" * (-len(secret) % 8)
    return base64.b32decode(padded)


def hotp(secret: str, counter: int) -> str:
    digest = hmac.new(_key(secret), struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**DIGITS).zfill(DIGITS)


def code_at(secret: str, when: float | None = None) -> str:
    """The code an authenticator app shows at ``when`` (now by default)."""
    return hotp(secret, int((time.time() if when is None else when) // PERIOD))


def verify(secret: str, code: str, when: float | None = None) -> bool:
    if len(code) != DIGITS or not code.isascii() or not code.isdigit():
        return False
    step = int((time.time() if when is None else when) // PERIOD)
    return any(
        hmac.compare_digest(hotp(secret, step + delta), code)
        for delta in range(-SKEW_STEPS, SKEW_STEPS + 1)
    )


def uri(secret: str, *, issuer: str, account: str) -> str:
    label = urllib.parse.quote(f"{issuer}:{account}", safe="@:")
    query = urllib.parse.urlencode(
        {
            "secret": secret,
            "issuer": issuer,
            "algorithm": "SHA1",
            "digits": DIGITS,
            "period": PERIOD,
        }
    )
    return f"otpauth://totp/{label}?{query}"


def qr_svg(text: str) -> str:
    """The QR code of ``text`` as a standalone SVG document (Auth answers
    ``data:image/svg+xml;utf-8,<svg…>``; see ``mfa.enroll``)."""
    out = io.BytesIO()
    segno.make(text, error="m").save(out, kind="svg", scale=4, xmldecl=False, svgns=True)
    return out.getvalue().decode()
