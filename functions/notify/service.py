"""The work of the notify function: one delivery (the job handler), one unsubscribe.

Both act as the service role: a delivery is background work, and the unsubscribe route has
no session (its signed token says whose preference to change, and nothing more).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from core import jobs, log
from core.errors import ApiError
from core.mail import MailError, OutgoingMail, send
from core.rest import as_service
from notify import render, tokens
from notify.settings import NotifySettings

NOTIFICATION_TYPES = frozenset(
    {"message", "task_assigned", "project_member_added", "document_ready", "privacy_request",
     "system", "project_invitation"}
)  # fmt: skip
INVITATION_TYPE = "project_invitation"
# the unsubscribe token of a digest: every type the person gets in the digest goes off
DIGEST_TYPE = "digest"
DIGEST_DEFAULT_TYPES = frozenset({"message"})  # private.default_email_frequency()


def push_payload(settings: NotifySettings, context: Mapping[str, Any]) -> str:
    """What the service worker shows: the headline, a line of detail and the link; nothing
    the e-mail would not say."""
    note = context["notification"]
    headline, link, detail = render.notification_content(
        settings.site_url,
        str(note["type"]),
        note.get("payload") or {},
        (context.get("project") or {}).get("name"),
        (context.get("actor") or {}).get("full_name"),
    )
    body = {"title": headline, "body": detail or "", "url": link,
            "type": note["type"], "notification_id": note["id"]}  # fmt: skip
    return json.dumps(body, ensure_ascii=False)


def push(settings: NotifySettings, job: jobs.Job, context: Mapping[str, Any]) -> Mapping[str, Any]:
    """Send one push delivery to each of the person's devices (VAPID, aes128gcm). A device
    whose push service answers 404/410 is gone: its subscription is deleted. Retried only
    when no device took it."""
    if settings.vapid_private_key is None:
        return {"skipped_reason": "push is not configured (VAPID_PRIVATE_KEY)"}
    from pywebpush import WebPushException, webpush

    data = push_payload(settings, context)
    rest = as_service(settings)
    sent, gone, failed = 0, 0, []
    for sub in context.get("subscriptions") or []:
        info = {"endpoint": sub["endpoint"], "keys": {"p256dh": sub["p256dh"], "auth": sub["auth"]}}
        try:
            webpush(
                info,
                data=data,
                vapid_private_key=settings.vapid_private_key.get_secret_value(),
                vapid_claims={"sub": settings.vapid_subject},
                ttl=settings.push_ttl_seconds,
                timeout=settings.push_timeout_seconds,
            )
        except WebPushException as exc:
            status = getattr(exc.response, "status_code", None)
            if status in (404, 410):
                rest.request("DELETE", "push_subscriptions", params={"id": f"eq.{sub['id']}"})
                gone += 1
            else:
                failed.append(str(status or "no answer"))
            continue
        except Exception as exc:  # network errors (requests) and the like
            failed.append(type(exc).__name__)
            continue
        sent += 1
    log.info("delivery", delivery_id=job.id, channel="push", sent=sent, gone=gone,
             failed=len(failed))  # fmt: skip
    if failed and not sent:
        raise jobs.RetryableJobError(f"no push service took it ({', '.join(failed)[:200]})")
    if not sent:
        return {"skipped_reason": "every subscription is gone"}
    return {"provider_message_id": f"push:{sent}"}


def unsubscribe_url(settings: NotifySettings, token: str) -> str:
    return f"{settings.public_url}/unsubscribe?token={token}"


def _headers(settings: NotifySettings, token: str) -> dict[str, str]:
    # RFC 8058: a one-click POST to the https URI, which needs no session
    return {
        "List-Unsubscribe": f"<{unsubscribe_url(settings, token)}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def _secret(settings: NotifySettings) -> str:
    secret = settings.notify_signing_secret
    if secret is None:
        raise RuntimeError("missing setting NOTIFY_SIGNING_SECRET")
    return secret.get_secret_value()


def compose(settings: NotifySettings, context: Mapping[str, Any]) -> OutgoingMail:
    """The e-mail of one delivery, from rpc notification_delivery_context's answer."""
    secret, ttl = _secret(settings), settings.unsubscribe_ttl_days
    if context.get("notification"):
        type_ = str(context["notification"]["type"])
        token = tokens.issue(secret, type=type_, ttl_days=ttl, user_id=str(context["person"]["id"]))
        rendered = render.notification(
            settings.site_url, dict(context), unsubscribe_url(settings, token)
        )
    else:
        token = tokens.issue(
            secret, type=INVITATION_TYPE, ttl_days=ttl, email=str(context["email"])
        )
        rendered = render.invitation(
            settings.site_url, dict(context), unsubscribe_url(settings, token)
        )
    return OutgoingMail(
        sender=settings.mail_from,
        to=str(context["email"]),
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        headers=_headers(settings, token),
        message_id=f"<{context['delivery_id']}@notify.collab>",
    )


def deliver(settings: NotifySettings, job: jobs.Job) -> Mapping[str, Any] | None:
    """The job handler: send one delivery, or finish it with the reason it is not sent."""
    if job.row.get("provider_message_id"):
        return None  # sent by an earlier attempt whose finish was lost: never twice
    context = as_service(settings).rpc("notification_delivery_context", {"delivery_id": job.id})
    if not context:
        raise jobs.PermanentJobError("the delivery is gone")
    if context.get("skip"):
        log.info("delivery", delivery_id=job.id, outcome="skipped", reason=context["skip"])
        return {"skipped_reason": str(context["skip"])[:500]}
    if context.get("channel") == "push":
        return push(settings, job, context)
    mail = compose(settings, context)
    try:
        message_id = send(settings, settings.mail, mail)
    except MailError as exc:
        if exc.permanent:
            raise jobs.PermanentJobError(exc.message) from exc
        raise jobs.RetryableJobError(exc.message) from exc
    return {"provider_message_id": message_id[:300]}


def verify_token(settings: NotifySettings, token: str) -> tokens.Claims:
    """The claims of an unsubscribe token; :class:`ApiError` 400 (malformed, forged, no such
    type) or 410 (expired)."""
    try:
        claims = tokens.verify(_secret(settings), token)
    except tokens.TokenError as exc:
        raise ApiError(400 if exc.code == "invalid_token" else 410, exc.code, exc.message) from None
    if claims.t not in NOTIFICATION_TYPES and claims.t != DIGEST_TYPE:
        raise ApiError(400, "invalid_token", "the unsubscribe token names no notification type")
    return claims


def _digest_types(rest: Any, user_id: str) -> list[str]:
    """The types the person gets in the daily digest (their rows, else the defaults)."""
    rows = rest.select(
        "notification_preferences", {"user_id": f"eq.{user_id}", "select": "type,email"}
    )
    chosen = {r["type"]: r["email"] for r in rows}
    return sorted(
        t for t in NOTIFICATION_TYPES
        if chosen.get(t, "daily_digest" if t in DIGEST_DEFAULT_TYPES else "immediate")
        == "daily_digest"
    )  # fmt: skip


def send_digest(settings: NotifySettings, job: jobs.Job) -> Mapping[str, Any] | None:
    """The digest job's handler: one e-mail with what no e-mail carried yet."""
    if job.row.get("provider_message_id"):
        return None
    context = as_service(settings).rpc("notification_digest_context", {"digest_id": job.id})
    if not context:
        raise jobs.PermanentJobError("the digest is gone")
    if context.get("skip"):
        return {"skipped_reason": str(context["skip"])[:500], "item_count": 0}
    person = str(context["person"]["id"])
    token = tokens.issue(_secret(settings), type=DIGEST_TYPE,
                         ttl_days=settings.unsubscribe_ttl_days, user_id=person)  # fmt: skip
    rendered = render.digest(settings.site_url, dict(context), unsubscribe_url(settings, token))
    mail = OutgoingMail(
        sender=settings.mail_from, to=str(context["email"]), subject=rendered.subject,
        text=rendered.text, html=rendered.html, headers=_headers(settings, token),
        message_id=f"<{job.id}@digest.notify.collab>",
    )  # fmt: skip
    try:
        message_id = send(settings, settings.mail, mail)
    except MailError as exc:
        if exc.permanent:
            raise jobs.PermanentJobError(exc.message) from exc
        raise jobs.RetryableJobError(exc.message) from exc
    return {"provider_message_id": message_id[:300], "item_count": len(context["items"])}


def queue_digests(settings: NotifySettings) -> list[str]:
    """The schedule's work: queue the digests due now and send them to the queue."""
    ids = as_service(settings).rpc("queue_due_digests", {})
    return [str(i) for i in ids or []]


def unsubscribe(settings: NotifySettings, token: str) -> dict[str, str]:
    """Sets the token's person's e-mail preference for its type to off (or, for an address
    that was invited, suppresses invitation mail to it). :class:`ApiError` 4xx otherwise."""
    claims = verify_token(settings, token)
    rest = as_service(settings)
    if claims.u is not None:
        if not rest.select("profiles", {"id": f"eq.{claims.u}", "select": "id"}):
            raise ApiError(404, "not_found", "the person this link was for no longer exists")
        types = [claims.t] if claims.t != DIGEST_TYPE else _digest_types(rest, str(claims.u))
        if types:
            rest.request(
                "POST",
                "notification_preferences",
                params={"on_conflict": "user_id,type", "columns": "user_id,type,email"},
                json=[{"user_id": str(claims.u), "type": t, "email": "off"} for t in types],
                prefer="resolution=merge-duplicates,return=minimal",
            )
        return {"unsubscribed": claims.t, "scope": "person"}
    rest.request(
        "POST",
        "rpc/suppress_email_address",
        json={"email": claims.e, "reason": "unsubscribed"},
        prefer="return=minimal",
    )
    return {"unsubscribed": claims.t, "scope": "address"}
