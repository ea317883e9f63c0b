"""Unit tests of the mail sink: parsing stored messages, the Maildir store and the web view."""

from __future__ import annotations

import mailbox
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path

import httpx

from agora_cli.mailsink.store import (
    MailPage,
    MailRecord,
    MailStore,
    envelope_headers,
    parse_message,
)
from agora_cli.mailsink.web import create_app, render_page

LINKS_PER_FILE = 50_000  # ext4 allows 65,000 links to one file
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


def test_mail_store_page_returns_newest_first_and_survives_reopen(tmp_path: Path) -> None:
    store = MailStore(tmp_path / "mail")
    first = store.add(multipart("first"))
    second = store.add(multipart("second"))

    reopened = MailStore(tmp_path / "mail")
    found = reopened.page(1, 20)

    assert [(r.id, r.subject) for r in found.records] == [(second, "second"), (first, "first")]
    assert found.total == 2
    assert [r.id for r in reopened.page(2, 1).records] == [first]
    assert reopened.get(first) is not None
    assert reopened.get("../../etc/passwd") is None


def test_mail_store_open_indexes_existing_maildir_by_delivery_time(tmp_path: Path) -> None:
    box = mailbox.Maildir(tmp_path / "mail", create=True)
    older, newer = box.add(multipart("older")), box.add(multipart("newer"))
    for key, age in ((older, 20), (newer, 10)):  # both land in the same second otherwise
        path = tmp_path / "mail" / "new" / key
        os.utime(path, (path.stat().st_mtime - age,) * 2)
    (tmp_path / "mail" / "new" / newer).rename(tmp_path / "mail" / "cur" / f"{newer}:2,S")

    store = MailStore(tmp_path / "mail")

    assert [r.subject for r in store.page(1, 20).records] == ["newer", "older"]
    assert store.get(newer) is not None


def test_mail_store_open_forgets_files_removed_by_hand(tmp_path: Path) -> None:
    store = MailStore(tmp_path / "mail")
    kept, removed = store.add(multipart("kept")), store.add(multipart("removed"))
    (tmp_path / "mail" / "new" / removed).unlink()

    found = MailStore(tmp_path / "mail").page(1, 20)

    assert ([r.id for r in found.records], found.total) == ([kept], 1)


def test_mail_store_clear_returns_count_and_empties(tmp_path: Path) -> None:
    store = MailStore(tmp_path / "deep" / "mail")
    store.add(multipart())
    store.add(multipart())

    assert store.clear() == 2
    assert store.page(1, 20) == MailPage([], 0)


@contextmanager
def files_opened_under(directory: Path) -> Iterator[list[str]]:
    """Record every file Python opens below ``directory`` inside the block (an audit hook)."""
    opened: list[str] = []
    recording = [True]

    def hook(event: str, args: tuple[object, ...]) -> None:
        if recording[0] and event == "open" and str(args[0]).startswith(str(directory)):
            opened.append(str(args[0]))

    sys.addaudithook(hook)  # cannot be removed: it goes quiet after the block instead
    try:
        yield opened
    finally:
        recording[0] = False


def test_mail_store_page_of_100000_messages_reads_only_that_page(tmp_path: Path) -> None:
    maildir = tmp_path / "mail"
    (maildir / "new").mkdir(parents=True)
    old = multipart("old")
    for index in range(100_000):  # hard links: 100,000 messages without writing 100,000 files
        source = tmp_path / f"source-{index // LINKS_PER_FILE}"
        if index % LINKS_PER_FILE == 0:
            source.write_bytes(old)
        os.link(source, maildir / "new" / f"{index:06d}.M1P1Q1.host")
    store = MailStore(maildir)
    newest = store.add(multipart("newest"))

    with files_opened_under(maildir) as opened:
        first = store.page(1, 20)
        last = store.page(5001, 20)

    assert first.total == 100_001
    assert [r.id for r in first.records[:2]] == [newest, "099999.M1P1Q1.host"]
    assert len(first.records) == 20
    assert [r.id for r in last.records] == ["000000.M1P1Q1.host"]
    assert len(opened) == 21  # the 21 messages shown, nothing else


async def test_web_app_api_lists_gets_and_clears(tmp_path: Path) -> None:
    store = MailStore(tmp_path / "mail")
    key = store.add(multipart())
    transport = httpx.ASGITransport(app=create_app(store))
    async with httpx.AsyncClient(transport=transport, base_url="http://mail.test") as client:
        health = await client.get("/health")
        listed = await client.get("/mail/api/messages")
        one = await client.get(f"/mail/api/messages/{key}")
        missing = await client.get("/mail/api/messages/nope")
        page = await client.get("/mail")
        cleared = await client.delete("/mail/api/messages")
        after = await client.get("/mail/api/messages")

    assert health.json() == {"status": "ok"}
    assert listed.status_code == 200
    assert [m["subject"] for m in listed.json()["data"]] == ["Welcome to Agora"]
    assert one.json()["id"] == key
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert page.status_code == 200
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "Welcome to Agora" in page.text
    assert "<script>" not in page.text
    assert cleared.json() == {"deleted": 1}
    assert after.json() == {"data": [], "total": 0, "page": 1, "per_page": 20, "total_pages": 0}


async def test_web_app_api_pages_newest_first_in_the_standard_envelope(tmp_path: Path) -> None:
    store = MailStore(tmp_path / "mail")
    for index in range(5):
        store.add(multipart(f"m{index}"))
    transport = httpx.ASGITransport(app=create_app(store))
    async with httpx.AsyncClient(transport=transport, base_url="http://mail.test") as client:
        second = await client.get("/mail/api/messages", params={"page": 2, "per_page": 2})
        html = await client.get("/mail", params={"page": 1, "per_page": 2})
        invalid = [
            await client.get("/mail/api/messages", params=params)
            for params in ({"per_page": 101}, {"page": 0}, {"page": "x"}, {"page": 10_001})
        ]
        invalid_html = await client.get("/mail", params={"page": 0})

    body = second.json()
    assert [m["subject"] for m in body["data"]] == ["m2", "m1"]
    assert {k: v for k, v in body.items() if k != "data"} == {
        "total": 5,
        "page": 2,
        "per_page": 2,
        "total_pages": 3,
    }
    assert "m4" in html.text
    assert 'href="/mail?page=2&amp;per_page=2">older</a>' in html.text
    assert "m2" not in html.text
    assert [r.status_code for r in invalid] == [422] * 4
    assert invalid[0].json()["detail"] == "per_page must be a whole number from 1 to 100"
    assert invalid_html.status_code == 422
