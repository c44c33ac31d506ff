"""The local inbox: a real SMTP server that keeps every message, behind Mailpit's HTTP API.

``supabase start`` runs Mailpit as its mail catcher; this is the same contract on our stack,
one process (``python -m devstack.inbox``):

* SMTP on ``SMTP_PORT`` (54325): aiosmtpd, no TLS, any AUTH accepted (its user name is kept
  as ``Username``), SMTPUTF8, messages up to 32 MiB.
* Mailpit's HTTP API on ``MAILPIT_PORT`` (54324), the shapes of Mailpit's ``/api/v1``:
  ``GET /api/v1/messages`` (``start``/``limit``, newest first; ``total``, ``unread``,
  ``count``, ``messages_count``, ``messages_unread``, ``start``, ``tags``, ``messages``),
  ``PUT /api/v1/messages`` (read status), ``DELETE /api/v1/messages`` (``{"IDs": [...]}``, or
  no body for all), ``GET /api/v1/message/{ID}`` (``latest`` for the newest; Text, HTML,
  headers' addresses, ``ListUnsubscribe``, ``Attachments``/``Inline``),
  ``GET /api/v1/message/{ID}/headers``, ``/raw``, ``/part/{PartID}``,
  ``GET|DELETE /api/v1/search?query=`` (``to:``, ``from:``, ``cc:``, ``bcc:``,
  ``subject:``, ``message-id:``, ``is:read``/``is:unread``, ``has:attachment``, plain words
  and "quoted phrases"; ``-`` or ``!`` negates a term; terms combine with AND), ``/livez``,
  ``/readyz``, and a small page for people: ``/`` lists, ``/view/{ID}`` shows one.

Messages live in memory (as Mailpit's default temporary database): ``make down`` forgets
them. The oldest are dropped past ``INBOX_MAX_MESSAGES`` (100,000).
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import hashlib
import html
import json
import os
import re
import secrets
import string
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

DEFAULT_SMTP_PORT = 54325
DEFAULT_HTTP_PORT = 54324
MAX_MESSAGE_BYTES = 32 * 1024 * 1024
MAX_BODY_BYTES = 1024 * 1024  # DELETE / PUT bodies (lists of ids)
DEFAULT_LIMIT = 50
MAX_LIMIT = 100_000
_ALPHABET = string.ascii_letters + string.digits


def new_id() -> str:
    """22 characters of base62, the look of Mailpit's database ids."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(22))


def _address(name: str, addr: str) -> dict[str, str]:
    return {"Name": name, "Address": addr}


def _addresses(msg: EmailMessage, header: str) -> list[dict[str, str]]:
    values = [str(v) for v in msg.get_all(header, [])]
    return [_address(n, a) for n, a in getaddresses(values) if a]


@dataclass
class Stored:
    """One received message: its raw bytes, what the envelope said, and the parsed summary."""

    id: str
    raw: bytes
    mail_from: str
    rcpt_tos: list[str]
    username: str
    created: datetime
    read: bool = False
    msg: EmailMessage = field(init=False)
    parts: list[dict[str, Any]] = field(init=False)
    text: str = field(init=False)
    html: str = field(init=False)

    def __post_init__(self) -> None:
        parsed = email.message_from_bytes(self.raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.msg = parsed
        self.text, self.html, self.parts = _walk(parsed)

    # -- fields ----------------------------------------------------------------------
    def header(self, name: str) -> str:
        value = self.msg.get(name)
        return "" if value is None else str(value)

    @property
    def subject(self) -> str:
        return self.header("Subject")

    @property
    def message_id(self) -> str:
        return self.header("Message-ID").strip().strip("<>")

    @property
    def from_(self) -> dict[str, str] | None:
        found = _addresses(self.msg, "From")
        return found[0] if found else None

    @property
    def to(self) -> list[dict[str, str]]:
        return _addresses(self.msg, "To")

    @property
    def cc(self) -> list[dict[str, str]]:
        return _addresses(self.msg, "Cc")

    @property
    def bcc(self) -> list[dict[str, str]]:
        """Bcc header if present, else envelope recipients that no header names."""
        listed = _addresses(self.msg, "Bcc")
        if listed:
            return listed
        named = {a["Address"].lower() for a in self.to + self.cc}
        return [_address("", r) for r in self.rcpt_tos if r.lower() not in named]

    @property
    def date(self) -> datetime:
        try:
            value = parsedate_to_datetime(self.header("Date"))
        except (TypeError, ValueError):
            return self.created
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    def attachments(self, *, inline: bool) -> list[dict[str, Any]]:
        return [_attachment_json(p) for p in self.parts if p["inline"] is inline]

    def list_unsubscribe(self) -> dict[str, Any]:
        header = self.header("List-Unsubscribe")
        links = re.findall(r"<([^>]*)>", header)
        errors = ""
        if header and not links:
            errors = "no <link> in List-Unsubscribe"
        elif any(not re.match(r"(?i)^(https?|mailto):", link) for link in links):
            errors = "List-Unsubscribe links must be http(s) or mailto"
        post = self.header("List-Unsubscribe-Post")
        if post and post != "List-Unsubscribe=One-Click":
            errors = errors or 'List-Unsubscribe-Post must be "List-Unsubscribe=One-Click"'
        return {"Header": header, "Links": links, "Errors": errors, "HeaderPost": post}

    def summary(self) -> dict[str, Any]:
        return {
            "ID": self.id,
            "MessageID": self.message_id,
            "Read": self.read,
            "From": self.from_,
            "To": self.to,
            "Cc": self.cc,
            "Bcc": self.bcc,
            "ReplyTo": _addresses(self.msg, "Reply-To"),
            "Subject": self.subject,
            "Created": _iso(self.created),
            "Username": self.username,
            "Tags": [],
            "Size": len(self.raw),
            "Attachments": len(self.attachments(inline=False)),
            "Snippet": " ".join((self.text or _strip_tags(self.html)).split())[:250],
        }

    def detail(self) -> dict[str, Any]:
        return {
            "ID": self.id,
            "MessageID": self.message_id,
            "From": self.from_,
            "To": self.to,
            "Cc": self.cc,
            "Bcc": self.bcc,
            "ReplyTo": _addresses(self.msg, "Reply-To"),
            "ReturnPath": self.header("Return-Path").strip("<> ") or self.mail_from,
            "Subject": self.subject,
            "ListUnsubscribe": self.list_unsubscribe(),
            "Date": _iso(self.date),
            "Tags": [],
            "Username": self.username,
            "Text": self.text,
            "HTML": self.html,
            "Size": len(self.raw),
            "Inline": self.attachments(inline=True),
            "Attachments": self.attachments(inline=False),
        }

    def headers(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for name, value in self.msg.items():
            out.setdefault(name, []).append(str(value))
        return dict(sorted(out.items()))

    def search_text(self) -> str:
        addrs = [self.from_ or {}, *self.to, *self.cc, *self.bcc]
        people = " ".join(f"{a.get('Name', '')} {a.get('Address', '')}" for a in addrs)
        return f"{self.subject} {people} {self.text} {_strip_tags(self.html)}".lower()


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _strip_tags(markup: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", markup))


def _walk(msg: EmailMessage) -> tuple[str, str, list[dict[str, Any]]]:
    """The first text/plain and text/html bodies, and every other leaf part (numbered as
    Mailpit's PartIDs: the MIME path, 1-based)."""
    text = html_body = ""
    parts: list[dict[str, Any]] = []

    def visit(part: EmailMessage, path: str) -> None:
        nonlocal text, html_body
        if part.is_multipart():
            for i, sub in enumerate(part.iter_parts(), start=1):
                visit(sub, f"{path}.{i}" if path else str(i))  # type: ignore[arg-type]
            return
        ctype = part.get_content_type()
        disposition = part.get_content_disposition()
        filename = part.get_filename()
        if disposition is None and not filename and ctype in ("text/plain", "text/html"):
            try:
                content = part.get_content()
            except (LookupError, ValueError):
                content = part.get_payload(decode=True).decode("utf-8", "replace")
            content = content.replace("\r\n", "\n")  # SMTP's line ends, not the author's
            if ctype == "text/plain" and not text:
                text = content
                return
            if ctype == "text/html" and not html_body:
                html_body = content
                return
        payload = part.get_payload(decode=True) or b""
        parts.append(
            {
                "PartID": path or "1",
                "FileName": filename or "",
                "ContentType": ctype,
                "ContentID": (part.get("Content-ID") or "").strip("<> "),
                "inline": disposition == "inline"
                or (disposition is None and bool(part.get("Content-ID"))),
                "data": payload,
            }
        )

    visit(msg, "")
    return text, html_body, parts


def _attachment_json(part: dict[str, Any]) -> dict[str, Any]:
    data: bytes = part["data"]
    return {
        "PartID": part["PartID"],
        "FileName": part["FileName"],
        "ContentType": part["ContentType"],
        "ContentID": part["ContentID"],
        "Size": len(data),
        "Checksums": {
            "MD5": hashlib.md5(data, usedforsecurity=False).hexdigest(),
            "SHA1": hashlib.sha1(data, usedforsecurity=False).hexdigest(),
            "SHA256": hashlib.sha256(data).hexdigest(),
        },
    }


# -- search ------------------------------------------------------------------------------
_TERM = re.compile(r'([-!]?)(?:([a-z-]+):)?(?:"([^"]*)"|(\S+))', re.IGNORECASE)
_FIELDS = {"to", "from", "cc", "bcc", "subject", "message-id", "is", "has", "reply-to"}


@dataclass(frozen=True)
class Term:
    negate: bool
    field: str | None
    value: str


def parse_query(query: str) -> list[Term]:
    terms: list[Term] = []
    for neg, fld, quoted, bare in _TERM.findall(query):
        value = (quoted if quoted or not bare else bare).lower()
        name = fld.lower() if fld and fld.lower() in _FIELDS else None
        if fld and name is None:  # an unknown prefix is part of a plain word ("re:x")
            value = f"{fld.lower()}:{value}"
        if value or name:
            terms.append(Term(bool(neg), name, value))
    return terms


def _addr_text(addrs: list[dict[str, str]]) -> str:
    return " ".join(f"{a['Name']} <{a['Address']}>" for a in addrs).lower()


def _term_matches(m: Stored, term: Term) -> bool:
    v = term.value
    match term.field:
        case "to":
            return v in _addr_text(m.to)
        case "from":
            return v in _addr_text([m.from_] if m.from_ else [])
        case "cc":
            return v in _addr_text(m.cc)
        case "bcc":
            return v in _addr_text(m.bcc)
        case "reply-to":
            return v in _addr_text(_addresses(m.msg, "Reply-To"))
        case "subject":
            return v in m.subject.lower()
        case "message-id":
            return v == m.message_id.lower()
        case "is":
            return {"read": m.read, "unread": not m.read}.get(v, False)
        case "has":
            return v in ("attachment", "attachments") and bool(m.attachments(inline=False))
        case _:
            return v in m.search_text()


def matches(m: Stored, terms: list[Term]) -> bool:
    return all(_term_matches(m, t) is not t.negate for t in terms)


# -- the store ---------------------------------------------------------------------------
class Store:
    """Every message, newest last; guarded by a lock (SMTP and HTTP share one loop, but the
    page and tests may read while a burst arrives)."""

    def __init__(self, max_messages: int = 100_000) -> None:
        self._messages: OrderedDict[str, Stored] = OrderedDict()
        self._lock = threading.Lock()
        self.max_messages = max_messages

    def add(self, message: Stored) -> None:
        with self._lock:
            self._messages[message.id] = message
            while len(self._messages) > self.max_messages:
                self._messages.popitem(last=False)

    def newest_first(self) -> list[Stored]:
        with self._lock:
            return list(reversed(self._messages.values()))

    def get(self, message_id: str) -> Stored | None:
        with self._lock:
            if message_id == "latest":
                return next(reversed(self._messages.values()), None)
            return self._messages.get(message_id)

    def delete(self, ids: list[str] | None) -> None:
        with self._lock:
            if ids is None:
                self._messages.clear()
            for message_id in ids or []:
                self._messages.pop(message_id, None)

    def stats(self) -> tuple[int, int]:
        with self._lock:
            return len(self._messages), sum(not m.read for m in self._messages.values())


# -- SMTP --------------------------------------------------------------------------------
class Handler:
    """aiosmtpd handler: keep the message as received."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        login = getattr(session, "auth_data", None)
        username = login.decode("utf-8", "replace") if isinstance(login, bytes) else ""
        self.store.add(
            Stored(
                id=new_id(),
                raw=raw,
                mail_from=envelope.mail_from or "",
                rcpt_tos=list(envelope.rcpt_tos),
                username=username,
                created=datetime.now(UTC),
            )
        )
        return "250 2.0.0 Ok: queued"


def _accept_any_login(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any):
    from aiosmtpd.smtp import AuthResult, LoginPassword

    login = auth_data.login if isinstance(auth_data, LoginPassword) else b""
    return AuthResult(success=True, auth_data=login)


def smtp_factory(store: Store):
    from aiosmtpd.smtp import SMTP

    def make() -> SMTP:
        return SMTP(
            Handler(store),
            data_size_limit=MAX_MESSAGE_BYTES,
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname="inbox.devstack.local",
            authenticator=_accept_any_login,
            auth_require_tls=False,
        )

    return make


# -- HTTP --------------------------------------------------------------------------------
class BadRequestError(Exception):
    pass


def _int_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12:
        raise BadRequestError(f"{name} must be a non-negative integer")
    return int(raw)


def _page(request: Request) -> tuple[int, int]:
    start = _int_param(request, "start", 0)
    limit = _int_param(request, "limit", DEFAULT_LIMIT)
    return start, min(limit, MAX_LIMIT) or DEFAULT_LIMIT


def _summary(store: Store, found: list[Stored], start: int, limit: int) -> dict[str, Any]:
    total, unread = store.stats()
    page = found[start : start + limit]
    return {
        "total": total,
        "unread": unread,
        "count": len(page),
        "messages_count": len(found),
        "messages_unread": sum(not m.read for m in found),
        "start": start,
        "tags": [],
        "messages": [m.summary() for m in page],
    }


async def _json_body(request: Request) -> Any:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise BadRequestError("request body too large")
    if not body.strip():
        return None
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequestError("request body is not JSON") from exc


def _ids(data: Any) -> list[str] | None:
    if data is None:
        return None
    if not isinstance(data, dict):
        raise BadRequestError("body must be a JSON object")
    ids = data.get("IDs")
    if ids is None:
        return None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise BadRequestError("IDs must be a list of strings")
    return ids or None


def create_app(store: Store) -> Starlette:
    def bad(message: str) -> Response:
        return PlainTextResponse(message, status_code=400)

    def not_found() -> Response:
        return PlainTextResponse("Message not found", status_code=404)

    def guarded(endpoint):
        async def run(request: Request) -> Response:
            try:
                return await endpoint(request)
            except BadRequestError as exc:
                return bad(str(exc))

        return run

    async def list_messages(request: Request) -> Response:
        start, limit = _page(request)
        return JSONResponse(_summary(store, store.newest_first(), start, limit))

    async def set_read(request: Request) -> Response:
        data = await _json_body(request)
        if data is not None and not isinstance(data, dict):
            raise BadRequestError("body must be a JSON object")
        data = data or {}
        read = data.get("Read", False)
        if not isinstance(read, bool):
            raise BadRequestError("Read must be true or false")
        ids = _ids(data)
        search = data.get("Search") or ""
        if not isinstance(search, str):
            raise BadRequestError("Search must be a string")
        if ids and search:
            raise BadRequestError("You may specify either IDs or a search query, not both")
        terms = parse_query(search)
        for m in store.newest_first():
            if (ids is None or m.id in ids) and matches(m, terms):
                m.read = read
        return PlainTextResponse("ok")

    async def delete_messages(request: Request) -> Response:
        store.delete(_ids(await _json_body(request)))
        return PlainTextResponse("ok")

    async def search(request: Request) -> Response:
        query = (request.query_params.get("query") or "").strip()
        if not query:
            raise BadRequestError("Error: no search query")
        start, limit = _page(request)
        terms = parse_query(query)
        found = [m for m in store.newest_first() if matches(m, terms)]
        return JSONResponse(_summary(store, found, start, limit))

    async def delete_search(request: Request) -> Response:
        query = (request.query_params.get("query") or "").strip()
        if not query:
            raise BadRequestError("Error: no search query")
        terms = parse_query(query)
        store.delete([m.id for m in store.newest_first() if matches(m, terms)] or [])
        return PlainTextResponse("ok")

    async def message(request: Request) -> Response:
        found = store.get(request.path_params["id"])
        if found is None:
            return not_found()
        found.read = True
        return JSONResponse(found.detail())

    async def headers(request: Request) -> Response:
        found = store.get(request.path_params["id"])
        return not_found() if found is None else JSONResponse(found.headers())

    async def raw(request: Request) -> Response:
        found = store.get(request.path_params["id"])
        if found is None:
            return not_found()
        return Response(found.raw, media_type="text/plain; charset=utf-8")

    async def part(request: Request) -> Response:
        found = store.get(request.path_params["id"])
        wanted = request.path_params["part"]
        hit = next((p for p in found.parts if p["PartID"] == wanted), None) if found else None
        if hit is None:
            return PlainTextResponse("Attachment not found", status_code=404)
        disposition = f'attachment; filename="{_safe_filename(hit["FileName"])}"'
        return Response(
            hit["data"],
            media_type=hit["ContentType"],
            headers={"Content-Disposition": disposition},
        )

    async def live(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def index(request: Request) -> Response:
        start, limit = _page(request)
        query = (request.query_params.get("query") or "").strip()
        terms = parse_query(query)
        found = [m for m in store.newest_first() if matches(m, terms)]
        return HTMLResponse(_index_page(found[start : start + limit], len(found), query))

    async def view(request: Request) -> Response:
        found = store.get(request.path_params["id"])
        if found is None:
            return HTMLResponse("<h1>Message not found</h1>", status_code=404)
        found.read = True
        return HTMLResponse(
            _view_page(found),
            headers={"Content-Security-Policy": _PAGE_CSP},
        )

    routes = [
        Route("/api/v1/messages", guarded(list_messages), methods=["GET"]),
        Route("/api/v1/messages", guarded(set_read), methods=["PUT"]),
        Route("/api/v1/messages", guarded(delete_messages), methods=["DELETE"]),
        Route("/api/v1/search", guarded(search), methods=["GET"]),
        Route("/api/v1/search", guarded(delete_search), methods=["DELETE"]),
        Route("/api/v1/message/{id}", message, methods=["GET"]),
        Route("/api/v1/message/{id}/headers", headers, methods=["GET"]),
        Route("/api/v1/message/{id}/raw", raw, methods=["GET"]),
        Route("/api/v1/message/{id}/part/{part}", part, methods=["GET"]),
        Route("/livez", live, methods=["GET"]),
        Route("/readyz", live, methods=["GET"]),
        Route("/", guarded(index), methods=["GET"]),
        Route("/view/{id}", view, methods=["GET"]),
    ]
    return Starlette(routes=routes)


def _safe_filename(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._ -]", "_", name) or "attachment"


# the page runs no script; the message's HTML is shown in a sandboxed frame (no script, no
# same origin) and loads nothing from the network
_PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-src 'self'; img-src data:"
_STYLE = (
    "body{font:14px system-ui,sans-serif;margin:2em;color:#222}"
    "table{border-collapse:collapse;width:100%}"
    "td,th{padding:.3em .6em;border-bottom:1px solid #ddd;text-align:left}"
    "pre{white-space:pre-wrap;background:#f6f6f6;padding:1em}"
    "iframe{width:100%;height:32em;border:1px solid #ddd}"
)


def _who(addrs: list[dict[str, str]] | dict[str, str] | None) -> str:
    items = [addrs] if isinstance(addrs, dict) else addrs or []
    return ", ".join(
        str(Address(display_name=a["Name"], addr_spec=a["Address"])) if _valid(a) else a["Address"]
        for a in items
    )


def _valid(a: dict[str, str]) -> bool:
    try:
        Address(display_name=a["Name"], addr_spec=a["Address"])
    except (ValueError, IndexError, TypeError):
        return False
    return True


def _index_page(messages: list[Stored], total: int, query: str) -> str:
    e = html.escape
    rows = "".join(
        f"<tr><td>{'' if m.read else '&#9679;'}</td><td>{e(_who(m.from_))}</td>"
        f"<td>{e(_who(m.to))}</td>"
        f"<td><a href='/view/{e(m.id)}'>{e(m.subject or '(no subject)')}</a></td>"
        f"<td>{e(_iso(m.created))}</td></tr>"
        for m in messages
    )
    return (
        f"<!doctype html><meta charset=utf-8><title>Local inbox</title><style>{_STYLE}</style>"
        f"<h1>Local inbox</h1><form><input name=query value='{e(query, quote=True)}' "
        "placeholder='to:alice@example.com subject:invite'> <button>Search</button></form>"
        f"<p>{total} message(s)</p><table><tr><th></th><th>From</th><th>To</th><th>Subject</th>"
        f"<th>Received</th></tr>{rows}</table>"
    )


def _view_page(m: Stored) -> str:
    e = html.escape
    attachments = "".join(
        f"<li><a href='/api/v1/message/{e(m.id)}/part/{e(a['PartID'])}'>"
        f"{e(a['FileName'] or a['PartID'])}</a>"
        f" ({e(a['ContentType'])}, {a['Size']} bytes)</li>"
        for a in m.attachments(inline=False)
    )
    html_part = (
        f"<h2>HTML</h2><iframe sandbox srcdoc='{e(m.html, quote=True)}'></iframe>" if m.html else ""
    )
    return (
        f"<!doctype html><meta charset=utf-8><title>{e(m.subject)}</title><style>{_STYLE}</style>"
        "<p><a href='/'>&larr; all messages</a> · "
        f"<a href='/api/v1/message/{e(m.id)}/raw'>raw</a></p>"
        f"<h1>{e(m.subject or '(no subject)')}</h1><table>"
        f"<tr><th>From</th><td>{e(_who(m.from_))}</td></tr>"
        f"<tr><th>To</th><td>{e(_who(m.to))}</td></tr>"
        f"<tr><th>Date</th><td>{e(_iso(m.date))}</td></tr>"
        f"<tr><th>List-Unsubscribe</th><td>{e(m.header('List-Unsubscribe'))}</td></tr></table>"
        f"<h2>Text</h2><pre>{e(m.text)}</pre>{html_part}"
        + (f"<h2>Attachments</h2><ul>{attachments}</ul>" if attachments else "")
    )


# -- the process -------------------------------------------------------------------------
async def serve(smtp_port: int, http_port: int, max_messages: int) -> None:
    import uvicorn

    store = Store(max_messages)
    loop = asyncio.get_running_loop()
    smtp = await loop.create_server(smtp_factory(store), host="127.0.0.1", port=smtp_port)
    config = uvicorn.Config(
        create_app(store), host="127.0.0.1", port=http_port, log_level="warning", access_log=False
    )
    try:
        await uvicorn.Server(config).serve()
    finally:
        smtp.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m devstack.inbox")
    parser.add_argument(
        "--smtp-port", type=int, default=int(os.environ.get("SMTP_PORT") or DEFAULT_SMTP_PORT)
    )
    parser.add_argument(
        "--http-port", type=int, default=int(os.environ.get("MAILPIT_PORT") or DEFAULT_HTTP_PORT)
    )
    args = parser.parse_args(argv)
    max_messages = int(os.environ.get("INBOX_MAX_MESSAGES") or 100_000)
    asyncio.run(serve(args.smtp_port, args.http_port, max_messages))


if __name__ == "__main__":
    main()
