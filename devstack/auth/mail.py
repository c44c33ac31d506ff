"""Sending Auth's mail from the endpoints (internal/api/mail.go): a 6-digit code and its
token hash (sha224 of address + code, ``pkce_``-prefixed in a PKCE flow) stored on the user
and in ``auth.one_time_tokens``, ``max_frequency`` per user and type, ``email_sent`` for the
project, then the message."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from typing import Any

from devstack.auth import mailer
from devstack.auth.errors import Code, too_many_requests
from devstack.auth.http import Auth
from devstack.auth.pkce import PREFIX
from devstack.auth.store import Conn

SENT_AT = {
    "confirmation_token": "confirmation_sent_at",
    "recovery_token": "recovery_sent_at",
    "reauthentication_token": "reauthentication_sent_at",
}


def token_hash(address: str, otp: str) -> str:
    """crypto.GenerateTokenHash."""
    return hashlib.sha224((address + otp).encode()).hexdigest()


def new_otp(length: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(length))


def check_frequency(auth: Auth, sent_at: dt.datetime | None) -> None:
    """validateSentWithinFrequencyLimit: at most one mail of a kind per ``max_frequency``."""
    frequency = auth.settings.mail.max_frequency
    if sent_at is None:
        return
    wait = sent_at + dt.timedelta(seconds=frequency) - dt.datetime.now(dt.UTC)
    if wait > dt.timedelta(0):
        seconds = max(1, int(wait.total_seconds() + 0.999))
        raise too_many_requests(
            Code.OVER_EMAIL_SEND_RATE_LIMIT,
            f"For security purposes, you can only request this after {seconds} seconds.",
        )


def save_one_time_token(conn: Conn, user_id: Any, kind: str, hashed: str, relates_to: str) -> None:
    conn.execute(
        "delete from auth.one_time_tokens where user_id = %s and token_type = %s",
        (user_id, kind),
    )
    conn.execute(
        """
        insert into auth.one_time_tokens (id, user_id, token_type, token_hash, relates_to)
        values (%s, %s, %s, %s, %s)
        """,
        (str(uuid.uuid4()), user_id, kind, hashed, relates_to),
    )


def clear_one_time_token(conn: Conn, user_id: Any, kind: str) -> None:
    conn.execute(
        "delete from auth.one_time_tokens where user_id = %s and token_type = %s",
        (user_id, kind),
    )


def _deliver(auth: Auth, ip: str | None, action: str, to: str, data: dict[str, Any]) -> None:
    auth.limits.check_email(ip)
    mailer.send(auth.settings, action, to, data)


def _link_data(
    auth: Auth, user: dict[str, Any], action: str, otp: str, hashed: str, redirect_to: str
) -> dict[str, Any]:
    return {
        "ConfirmationURL": mailer.action_url(auth.settings, hashed, action, redirect_to),
        "Email": user["email"],
        "Token": otp,
        "TokenHash": hashed,
        "Data": user["raw_user_meta_data"] or {},
        "RedirectTo": redirect_to,
    }


def send_token_mail(
    auth: Auth,
    conn: Conn,
    user: dict[str, Any],
    action: str,
    *,
    redirect_to: str,
    ip: str | None,
    pkce: bool = False,
) -> None:
    """signup / invite (confirmation_token), recovery / magiclink (recovery_token)."""
    column = "recovery_token" if action in ("recovery", "magiclink") else "confirmation_token"
    sent_at = SENT_AT[column]
    if action != "invite":
        check_frequency(auth, user[sent_at])
    otp = new_otp(auth.settings.mail.otp_length)
    hashed = (PREFIX if pkce else "") + token_hash(user["email"], otp)
    invited = ", invited_at = now()" if action == "invite" else ""
    conn.execute(
        f"update auth.users set {column} = %s, {sent_at} = now(){invited} where id = %s",
        (hashed, user["id"]),
    )
    save_one_time_token(conn, user["id"], column, hashed, user["email"])
    _deliver(
        auth, ip, action, user["email"], _link_data(auth, user, action, otp, hashed, redirect_to)
    )


def send_email_change(
    auth: Auth,
    conn: Conn,
    user: dict[str, Any],
    new_email: str,
    *,
    redirect_to: str,
    ip: str | None,
    pkce: bool = False,
) -> None:
    """A link and code to the new address, and (secure e-mail change) to the current one."""
    check_frequency(auth, user["email_change_sent_at"])
    length = auth.settings.mail.otp_length
    prefix = PREFIX if pkce else ""
    otp_new = new_otp(length)
    hash_new = prefix + token_hash(new_email, otp_new)
    otp_current, hash_current = "", ""
    secure = auth.settings.mail.double_confirm_changes and bool(user["email"])
    if secure:
        otp_current = new_otp(length)
        hash_current = prefix + token_hash(user["email"], otp_current)
    conn.execute(
        """
        update auth.users set email_change = %s, email_change_token_new = %s,
               email_change_token_current = %s, email_change_confirm_status = 0,
               email_change_sent_at = now()
         where id = %s
        """,
        (new_email, hash_new, hash_current, user["id"]),
    )
    save_one_time_token(conn, user["id"], "email_change_token_new", hash_new, new_email)
    if secure:
        save_one_time_token(
            conn, user["id"], "email_change_token_current", hash_current, user["email"]
        )
    else:
        clear_one_time_token(conn, user["id"], "email_change_token_current")
    targets = [(new_email, otp_new, hash_new)]
    if secure:
        targets.append((user["email"], otp_current, hash_current))
    for address, otp, hashed in targets:
        data = _link_data(auth, user, "email_change", otp, hashed, redirect_to)
        data.update(NewEmail=new_email, SendingTo=address)
        _deliver(auth, ip, "email_change", address, data)


def send_reauthentication(auth: Auth, conn: Conn, user: dict[str, Any], ip: str | None) -> None:
    check_frequency(auth, user["reauthentication_sent_at"])
    otp = new_otp(auth.settings.mail.otp_length)
    hashed = token_hash(user["email"], otp)
    conn.execute(
        "update auth.users set reauthentication_token = %s, reauthentication_sent_at = now()"
        " where id = %s",
        (hashed, user["id"]),
    )
    save_one_time_token(conn, user["id"], "reauthentication_token", hashed, user["email"])
    data = {"Email": user["email"], "Token": otp, "Data": user["raw_user_meta_data"] or {}}
    _deliver(auth, ip, "reauthentication", user["email"], data)


def hash_password_like_signup(password: str) -> None:
    """The bcrypt work a new sign-up does, for answers that must take as long as one."""
    from devstack.auth.passwords import hash_password

    hash_password(password)
