"""Unit tests of the mail sink: parsing stored messages, the Maildir store and the web view."""

from __future__ import annotations

import os
from email.message import EmailMessage
from pathlib import Path

import httpx

from agora_cli.mailsink.store import MailRecord, MailStore, envelope_headers, parse_message
from agora_cli.mailsink.web import create_app, render_page

EVIL_HTML = '<p>Welcome</p><script>alert("x")</script><img src="https://tracker.test/p.gif">'


def multipart(subject: str = "Welcome to Agora", html: str = EVIL_HTML) -> bytes:
    """A text + HTML message as a mailer would send it."""
    message = EmailMessage()
    message["From"] = "Agora <noreply@agora.test>"
    message["To"] = "ada@example.test"
    message["Subject"] = subject
    message["Date"] = "Mon, 23 Nov 2026 10:00:00 +0000"
    message.set_content("Hello Ada,\nwelcome.\n")
    message.add_alternative(html, subtype="html")
    return message.as_bytes()


def record(key: str = "k1", html: str | None = EVIL_HTML, received: float = 1.0) -> MailRecord:
    """A record as the store would return it."""
    return MailRecord(key, "a@x.test", "b@y.test", "Hi <b>", "2026-11-23", "t", html, received)


def test_parse_message_multipart_returns_json_fields() -> None:
    raw = envelope_headers("bounce@agora.test", ["ada@example.test"]) + multipart()

    data = parse_message("key-1", raw, received=0.0).as_json()

    assert data == {
        "id": "key-1",
        "from": "Agora <noreply@agora.test>",
        "to": "ada@example.test",
        "subject": "Welcome to Agora",
        "date": "2026-11-23T10:00:00+00:00",
        "text": "Hello Ada,\nwelcome.\n",
        "html": EVIL_HTML + "\n",
    }


def test_parse_message_without_headers_falls_back_to_envelope_and_delivery_time() -> None:
    raw = envelope_headers("s@x.test", ["r1@y.test", "r2@y.test"]) + b"\r\njust a body\r\n"

    data = parse_message("k", raw, received=0.0).as_json()

    assert (data["from"], data["to"], data["subject"]) == ("s@x.test", "r1@y.test, r2@y.test", "")
    assert data["date"] == "1970-01-01T00:00:00+00:00"
    assert (data["text"], data["html"]) == ("just a body\n", None)


def test_envelope_headers_newline_in_address_cannot_inject_header() -> None:
    headers = envelope_headers("a@x.test\r\nSubject: forged", ["b@y.test"])
    assert headers.count(b"\r\n") == 2
    assert b"\r\nSubject:" not in headers


def test_render_page_html_part_only_escaped_in_sandboxed_srcdoc() -> None:
    page = render_page([record()])

    assert "<script>" not in page
    assert "<img" not in page
    assert 'sandbox="" ' in page
    assert 'srcdoc="&lt;p&gt;Welcome&lt;/p&gt;&lt;script&gt;alert(&quot;x&quot;)' in page
    assert "<dd>Hi &lt;b&gt;</dd>" in page


def test_render_page_no_messages_says_so() -> None:
    assert "No mail received yet." in render_page([])


def test_mail_store_list_returns_newest_first_and_survives_reopen(tmp_path: Path) -> None:
    store = MailStore(tmp_path / "mail")
    first = store.add(multipart("first"))
    second = store.add(multipart("second"))
    first_file = tmp_path / "mail" / "new" / first
    earlier = first_file.stat().st_mtime - 10  # both land in the same second otherwise
    os.utime(first_file, (earlier, earlier))

    reopened = MailStore(tmp_path / "mail")

    assert [(r.id, r.subject) for r in reopened.list()] == [(second, "second"), (first, "first")]
    assert reopened.get(first) is not None
    assert reopened.get("../../etc/passwd") is None


def test_mail_store_clear_returns_count_and_empties(tmp_path: Path) -> None:
    store = MailStore(tmp_path / "deep" / "mail")
    store.add(multipart())
    store.add(multipart())

    assert store.clear() == 2
    assert store.list() == []


async def test_web_app_api_lists_gets_and_clears(tmp_path: Path) -> None:
    store = MailStore(tmp_path / "mail")
    key = store.add(multipart())
    transport = httpx.ASGITransport(app=create_app(store))
    async with httpx.AsyncClient(transport=transport, base_url="http://mail.test") as client:
        listed = await client.get("/mail/api/messages")
        one = await client.get(f"/mail/api/messages/{key}")
        missing = await client.get("/mail/api/messages/nope")
        page = await client.get("/mail")
        cleared = await client.delete("/mail/api/messages")
        after = await client.get("/mail/api/messages")

    assert listed.status_code == 200
    assert [m["subject"] for m in listed.json()] == ["Welcome to Agora"]
    assert one.json()["id"] == key
    assert missing.status_code == 404
    assert page.status_code == 200
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "Welcome to Agora" in page.text
    assert "<script>" not in page.text
    assert cleared.json() == {"deleted": 1}
    assert after.json() == []
