"""Auth's mail (internal/mailer/templatemailer): one message per action type, rendered from
``[auth.email.template.<type>]`` of supabase/config.toml (or the hosted defaults), sent over
SMTP (locally the inbox at ``SMTP_HOST:SMTP_PORT``; hosted: custom SMTP, docs/auth.md)."""

from __future__ import annotations

import html
import logging
import re
import smtplib
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from devstack.auth.errors import AuthError, Code
from devstack.auth.settings import AuthSettings, MailSettings

log = logging.getLogger("devstack.auth")

# action type -> (template name in config.toml, default subject, default body); the hosted
# server's defaults (templatemailer.go)
DEFAULTS: dict[str, tuple[str, str, str]] = {
    "invite": (
        "invite",
        "You've been invited",
        "<h2>You've been invited</h2>\n\n<p>You've been invited to create an account. Follow"
        ' the link below to accept.</p>\n<p><a href="{{ .ConfirmationURL }}">Accept'
        " invitation</a></p>",
    ),
    "signup": (
        "confirmation",
        "Confirm your email address",
        "<h2>Confirm your email address</h2>\n\n<p>Follow the link below to confirm this email"
        ' address and finish signing up.</p>\n<p><a href="{{ .ConfirmationURL }}">Confirm'
        " email address</a></p>\n<p>Or enter this code: {{ .Token }}</p>\n",
    ),
    "recovery": (
        "recovery",
        "Reset your password",
        "<h2>Reset your password</h2>\n\n<p>We received a request to reset your password."
        ' Follow the link below to choose a new one.</p>\n<p><a href="{{ .ConfirmationURL }}">'
        "Reset password</a></p>\n<p>Or enter this code: {{ .Token }}</p>\n<p>If you didn't"
        " request this, you can safely ignore this email.</p>",
    ),
    "magiclink": (
        "magic_link",
        "Your sign-in link",
        "<h2>Your sign-in link</h2>\n\n<p>Follow the link below to sign in. This link expires"
        ' shortly and can only be used once.</p>\n<p><a href="{{ .ConfirmationURL }}">Sign'
        " in</a></p>\n<p>Or enter this code: {{ .Token }}</p>",
    ),
    "email_change": (
        "email_change",
        "Confirm your new email address",
        "<h2>Confirm your new email address</h2>\n\n<p>Follow the link below to confirm"
        ' {{ .NewEmail }} as your new email address.</p>\n<p><a href="{{ .ConfirmationURL }}">'
        "Confirm new email address</a></p>\n<p>Or enter this code: {{ .Token }}</p>\n<p>If"
        " you didn't request this change, you can safely ignore this email.</p>",
    ),
    "reauthentication": (
        "reauthentication",
        "{{ .Token }} is your verification code",
        "<h2>Your verification code</h2>\n\n<p>Use the code below to verify your identity. It"
        " expires shortly.</p>\n<p>{{ .Token }}</p>",
    ),
}

_VARIABLE = re.compile(r"\{\{\s*\.([A-Za-z]+)(?:\.([A-Za-z0-9_]+))?\s*\}\}")
_TAG = re.compile(r"<[^>]+>")


def render(template: str, data: dict[str, Any], *, escape: bool) -> str:
    """The ``{{ .Name }}`` / ``{{ .Data.key }}`` placeholders of Auth's Go templates."""

    def value(match: re.Match[str]) -> str:
        name, key = match.group(1), match.group(2)
        found = data.get(name)
        if key is not None:
            found = found.get(key) if isinstance(found, dict) else None
        text = "" if found is None else str(found)
        return html.escape(text) if escape else text

    return _VARIABLE.sub(value, template)


def action_url(settings: AuthSettings, token_hash: str, action: str, redirect_to: str) -> str:
    """``{external_url}/verify?token=...&type=...&redirect_to=...`` as the hosted mailer makes
    the ConfirmationURL."""
    query = urlencode({"token": token_hash, "type": action}, quote_via=quote)
    return f"{settings.external_url}/verify?{query}&redirect_to={quote(redirect_to, safe=':/')}"


def redirect_allowed(settings: AuthSettings, url: str) -> bool:
    """utilities.IsRedirectURLValid: the site URL's host, or an allow-listed URL (globs)."""
    import fnmatch

    if not url:
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    if parts.hostname == urlsplit(settings.site_url).hostname:
        return True
    return any(fnmatch.fnmatchcase(url, allowed) for allowed in settings.additional_redirect_urls)


def referrer(settings: AuthSettings, requested: str | None, header: str | None = None) -> str:
    """utilities.GetReferrer: ``redirect_to`` if allowed, else the Referer if allowed, else
    the site URL."""
    for candidate in (requested, header):
        if candidate and redirect_allowed(settings, candidate):
            return candidate
    return settings.site_url


def _content(mail: MailSettings, action: str) -> tuple[str, str]:
    name, subject, body = DEFAULTS[action]
    configured = mail.templates.get(name)
    if configured is not None:
        subject = configured.subject or subject
        if configured.content_path is not None:
            try:
                body = configured.content_path.read_text()
            except OSError as exc:
                log.error("template %s: %s", configured.content_path, exc)
    return subject, body


def send(settings: AuthSettings, action: str, to: str, data: dict[str, Any]) -> None:
    """Render the ``action`` mail and send it; a failure is Auth's 500."""
    mail = settings.mail
    subject_template, body_template = _content(mail, action)
    data = {"SiteURL": settings.site_url, **data}
    body = render(body_template, data, escape=True)
    message = EmailMessage()
    message["Subject"] = render(subject_template, data, escape=False)
    message["From"] = formataddr((mail.sender_name, mail.admin_email))
    message["To"] = to
    message["Message-ID"] = make_msgid(domain="auth.local")
    message.set_content(html.unescape(_TAG.sub("", body)).strip() + "\n")
    message.add_alternative(body, subtype="html")
    try:
        with smtplib.SMTP(mail.smtp_host, mail.smtp_port, timeout=10) as smtp:
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        log.error("mail to %s over %s:%s: %s", to, mail.smtp_host, mail.smtp_port, exc)
        raise AuthError(500, Code.UNEXPECTED_FAILURE, f"Error sending {action} email") from exc
