"""The local inbox: real SMTP in, Mailpit's HTTP API out (devstack/inbox.py)."""

from __future__ import annotations

import smtplib
import uuid
from email.message import EmailMessage

import httpx
import pytest

from tests.support import Inbox, Stack


def _address(tag: str = "inbox") -> str:
    return f"{tag}-{uuid.uuid4().hex[:12]}@example.test"


def _send(stack: Stack, msg: EmailMessage, *, login: tuple[str, str] | None = None) -> None:
    with smtplib.SMTP(stack.env["SMTP_HOST"], int(stack.env["SMTP_PORT"]), timeout=10) as smtp:
        if login:
            smtp.login(*login)
        smtp.send_message(msg)


def _message(to: str, subject: str = "Hello", **headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Collab <noreply@collab.local>"
    msg["To"] = f"Alice Example <{to}>"
    msg["Subject"] = subject
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content("Plain body line\nsecond line")
    msg.add_alternative("<p>HTML <b>body</b> &amp; more</p>", subtype="html")
    return msg


@pytest.fixture
def inbox(stack: Stack) -> Inbox:
    return stack.inbox


def test_status_names_the_inbox(stack: Stack) -> None:
    assert stack.env["MAILPIT_URL"].startswith("http://127.0.0.1:")
    assert stack.env["SMTP_HOST"] == "127.0.0.1"
    assert int(stack.env["SMTP_PORT"]) > 0


def test_a_message_sent_over_smtp_reads_back_with_text_html_and_headers(
    stack: Stack, inbox: Inbox
) -> None:
    to = _address()
    _send(
        stack,
        _message(
            to,
            "Ünïcode subject",
            List_Unsubscribe="<https://app.example.test/u/abc>, <mailto:u@example.test>",
            List_Unsubscribe_Post="List-Unsubscribe=One-Click",
        ),
    )
    [found] = inbox.wait_for(f"to:{to}")
    assert found["Subject"] == "Ünïcode subject"
    assert found["From"] == {"Name": "Collab", "Address": "noreply@collab.local"}
    assert found["To"] == [{"Name": "Alice Example", "Address": to}]
    assert found["Text"].strip() == "Plain body line\nsecond line"
    assert "<b>body</b>" in found["HTML"]
    assert found["ListUnsubscribe"]["Links"] == [
        "https://app.example.test/u/abc",
        "mailto:u@example.test",
    ]
    assert found["ListUnsubscribe"]["HeaderPost"] == "List-Unsubscribe=One-Click"
    assert found["ListUnsubscribe"]["Errors"] == ""
    assert found["Attachments"] == []
    headers = inbox.headers(found["ID"])
    assert headers["Subject"] == ["Ünïcode subject"]
    assert b"Subject:" in inbox.raw(found["ID"])
    # the summary list shows it as read now
    summary = inbox.search(f"to:{to}")["messages"][0]
    assert summary["Read"] is True and summary["Snippet"].startswith("Plain body line")


def test_attachments_are_listed_and_downloadable(stack: Stack, inbox: Inbox) -> None:
    to = _address()
    msg = _message(to, "With a file")
    msg.add_attachment(
        b"\x00\x01binary", maintype="application", subtype="octet-stream", filename="data.bin"
    )
    _send(stack, msg)
    [found] = inbox.wait_for(f"to:{to}")
    [attachment] = found["Attachments"]
    assert attachment["FileName"] == "data.bin"
    assert attachment["Size"] == 8
    part = httpx.get(f"{inbox.base_url}/api/v1/message/{found['ID']}/part/{attachment['PartID']}")
    assert part.status_code == 200 and part.content == b"\x00\x01binary"
    assert inbox.count(f"to:{to} has:attachment") == 1


def test_search_by_to_from_subject_and_words_with_negation(stack: Stack, inbox: Inbox) -> None:
    to = _address()
    _send(stack, _message(to, "Invitation to Apollo"))
    _send(stack, _message(to, "Task assigned"))
    inbox.wait_for(f"to:{to}", count=2)
    assert inbox.count(f"to:{to}") == 2
    assert inbox.count(f'to:{to} subject:"invitation to"') == 1
    assert inbox.count(f"to:{to} -subject:invitation") == 1
    assert inbox.count(f"to:{to} from:noreply@collab.local") == 2
    assert inbox.count(f"to:{to} assigned") == 1
    assert inbox.count(f"to:{to} from:someone-else@example.test") == 0
    assert inbox.count(f"to:{_address('nobody')}") == 0


def test_envelope_recipients_not_in_headers_show_as_bcc(stack: Stack, inbox: Inbox) -> None:
    to, hidden = _address(), _address("hidden")
    msg = _message(to)
    with smtplib.SMTP(stack.env["SMTP_HOST"], int(stack.env["SMTP_PORT"]), timeout=10) as smtp:
        smtp.send_message(msg, to_addrs=[to, hidden])
    [found] = inbox.wait_for(f"bcc:{hidden}")
    assert found["Bcc"] == [{"Name": "", "Address": hidden}]


def test_smtp_login_is_accepted_and_kept_as_username(stack: Stack, inbox: Inbox) -> None:
    to = _address()
    _send(stack, _message(to), login=("mailer", "secret"))
    [found] = inbox.wait_for(f"to:{to}")
    assert found["Username"] == "mailer"


def test_paging_and_delete_by_ids(stack: Stack, inbox: Inbox) -> None:
    to = _address()
    for i in range(3):
        _send(stack, _message(to, f"page {i}"))
    inbox.wait_for(f"to:{to}", count=3)
    first = inbox.search(f"to:{to}", start=0, limit=2)
    second = inbox.search(f"to:{to}", start=2, limit=2)
    assert first["messages_count"] == 3 and first["count"] == 2 and first["start"] == 0
    assert [m["Subject"] for m in first["messages"]] == ["page 2", "page 1"]  # newest first
    assert [m["Subject"] for m in second["messages"]] == ["page 0"]
    listed = inbox.messages(limit=1)
    assert listed["total"] >= 3 and listed["count"] == 1
    inbox.delete([first["messages"][0]["ID"]])
    assert inbox.count(f"to:{to}") == 2
    gone = httpx.get(f"{inbox.base_url}/api/v1/message/{first['messages'][0]['ID']}")
    assert gone.status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("GET", "/api/v1/messages?start=-1", {}),
        ("GET", "/api/v1/messages?limit=²", {}),
        ("GET", "/api/v1/messages?limit=99999999999999999999", {}),
        ("GET", "/api/v1/search", {}),
        ("GET", "/api/v1/search?query=%20", {}),
        ("DELETE", "/api/v1/messages", {"content": b"{not json"}),
        ("DELETE", "/api/v1/messages", {"content": b'{"IDs": "all"}'}),
        ("DELETE", "/api/v1/messages", {"content": b"[1, 2]"}),
        ("DELETE", "/api/v1/messages", {"content": b'{"IDs": ["' + b"a" * 2_000_000 + b'"]}'}),
        ("PUT", "/api/v1/messages", {"content": b'{"Read": "yes"}'}),
    ],
)
def test_bad_input_is_a_400_and_deletes_nothing(
    stack: Stack, inbox: Inbox, method: str, path: str, kwargs: dict
) -> None:
    to = _address()
    _send(stack, _message(to))
    inbox.wait_for(f"to:{to}")
    response = httpx.request(method, inbox.base_url + path, timeout=10, **kwargs)
    assert response.status_code == 400, response.text
    assert inbox.count(f"to:{to}") == 1


def test_search_with_nul_and_control_characters_answers(stack: Stack, inbox: Inbox) -> None:
    response = httpx.get(f"{inbox.base_url}/api/v1/search", params={"query": "to:\x00\x07 x\x1b"})
    assert response.status_code == 200
    assert response.json()["messages_count"] == 0


def test_unknown_message_is_a_404(inbox: Inbox) -> None:
    for path in ("/api/v1/message/nope", "/api/v1/message/nope/headers", "/view/nope"):
        assert httpx.get(inbox.base_url + path).status_code == 404


def test_the_page_lists_and_shows_messages_escaped(stack: Stack, inbox: Inbox) -> None:
    to = _address()
    _send(stack, _message(to, "<script>alert(1)</script>"))
    [found] = inbox.wait_for(f"to:{to}")
    listing = httpx.get(inbox.base_url + "/", params={"query": f"to:{to}"})
    assert listing.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in listing.text
    assert "<script>" not in listing.text
    page = httpx.get(f"{inbox.base_url}/view/{found['ID']}")
    assert page.status_code == 200 and "Plain body line" in page.text
    assert "<script>" not in page.text
    assert "sandbox" in page.text  # the HTML part is shown in a sandboxed frame
