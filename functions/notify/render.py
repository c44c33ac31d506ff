"""The messages, rendered from Jinja2 templates (``templates/``): a text and an HTML part,
autoescaped in HTML, naming the project, the actor and a link into the app (``SITE_URL``).

Jinja2 is imported on the worker's first message, not at cold start.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

TEMPLATES = Path(__file__).resolve().parent / "templates"
PRODUCT = "Collab"


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


@lru_cache(maxsize=1)
def _environments() -> tuple[Any, Any]:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    loader = FileSystemLoader(str(TEMPLATES))
    html = Environment(loader=loader, autoescape=True, undefined=StrictUndefined)
    text = Environment(loader=loader, autoescape=False, undefined=StrictUndefined)
    return text, html


def _render(name: str, values: dict[str, Any]) -> tuple[str, str]:
    text_env, html_env = _environments()
    return (
        text_env.get_template(f"{name}.txt").render(**values),
        html_env.get_template(f"{name}.html").render(**values),
    )


def _id(payload: dict[str, Any], key: str) -> str:
    return quote(str(payload.get(key) or ""), safe="")


def _one_line(text: Any, limit: int = 140) -> str:
    line = " ".join(str(text or "").split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def notification_content(
    site_url: str, type_: str, payload: dict[str, Any], project: str | None, actor: str | None
) -> tuple[str, str, str | None]:
    """(headline, link, detail) of a notification type; the subject is the headline."""
    site = site_url.rstrip("/")
    project_path = f"{site}/projects/{_id(payload, 'project_id')}"
    in_project = f' in "{project}"' if project else ""
    who = actor or "Someone"
    if type_ == "task_assigned":
        return (
            f"{who} assigned you a task{in_project}",
            f"{project_path}/tasks/{_id(payload, 'task_id')}",
            _one_line(payload.get("title")),
        )
    if type_ == "project_member_added":
        return (f"You joined{in_project or ' a project'}", project_path, None)
    if type_ == "document_ready":
        done = payload.get("status") == "succeeded"
        return (
            f"Your document{in_project} is {'ready' if done else 'not ready: generation failed'}",
            f"{project_path}/documents/{_id(payload, 'document_id')}",
            None,
        )
    if type_ == "message":
        return (
            f"{who} wrote to you",
            f"{site}/conversations/{_id(payload, 'conversation_id')}",
            _one_line(payload.get("preview")),
        )
    if type_ == "project_invitation":
        return (
            f"{who} invited you to{in_project or ' a project'}",
            f"{site}/invitations/{_id(payload, 'invitation_id')}",
            None,
        )
    if type_ == "privacy_request":
        kind = "export" if payload.get("kind") == "export" else "erasure request"
        return (f"Your privacy {kind} is {payload.get('status')}", f"{site}/settings/privacy", None)
    return (
        "You have a new notification",
        f"{site}/notifications",
        _one_line(payload.get("message")),
    )


def notification(site_url: str, context: dict[str, Any], unsubscribe_url: str) -> Rendered:
    note = context["notification"]
    project = (context.get("project") or {}).get("name")
    actor = (context.get("actor") or {}).get("full_name")
    headline, link, detail = notification_content(
        site_url, note["type"], note.get("payload") or {}, project, actor
    )
    name = (context.get("person") or {}).get("full_name") or "there"
    values = {
        "subject": headline, "name": name, "headline": headline, "detail": detail,
        "project": project, "actor": actor, "link": link, "product": PRODUCT,
        "unsubscribe_url": unsubscribe_url,
    }  # fmt: skip
    text, html = _render("notification", values)
    return Rendered(subject=_one_line(headline, 200), text=text, html=html)


def invitation_link(site_url: str, invitation_id: str, token: str) -> str:
    """The acceptance link: the app calls rpc accept_project_invitation(invitation_id, token)."""
    query = urlencode({"token": token})
    return f"{site_url.rstrip('/')}/invitations/{quote(invitation_id, safe='')}?{query}"


def invitation(site_url: str, context: dict[str, Any], unsubscribe_url: str) -> Rendered:
    inv = context["invitation"]
    project = (context.get("project") or {}).get("name") or inv.get("project_name")
    actor = (context.get("actor") or {}).get("full_name")
    subject = f'{actor or "Someone"} invited you to "{project}" on {PRODUCT}'
    values = {
        "subject": subject, "project": project, "actor": actor, "role": inv.get("role"),
        "expires": str(inv.get("expires_at") or "")[:10], "product": PRODUCT,
        "link": invitation_link(site_url, str(inv["id"]), str(context["token"])),
        "unsubscribe_url": unsubscribe_url,
    }  # fmt: skip
    text, html = _render("invitation", values)
    return Rendered(subject=_one_line(subject, 200), text=text, html=html)


def digest(site_url: str, context: dict[str, Any], unsubscribe_url: str) -> Rendered:
    items = []
    for item in context.get("items") or []:
        headline, link, detail = notification_content(
            site_url, str(item["type"]), item.get("payload") or {}, item.get("project"),
            item.get("actor"),
        )  # fmt: skip
        items.append({"headline": headline, "link": link, "detail": detail})
    count = len(items)
    subject = f"Your {PRODUCT} digest: {count} notification{'s' if count != 1 else ''}"
    values = {
        "subject": subject, "name": (context.get("person") or {}).get("full_name") or "there",
        "date": str(context.get("digest_date") or ""), "items": items, "product": PRODUCT,
        "unsubscribe_url": unsubscribe_url,
    }  # fmt: skip
    text, html = _render("digest", values)
    return Rendered(subject=subject, text=text, html=html)
