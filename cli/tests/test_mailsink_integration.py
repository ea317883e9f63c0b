"""Integration test: the mail sink as a real process, fed over real SMTP, read over HTTP."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest

from agora_cli.infra.mailsink import EmbeddedMailSink, MailSinkError
from agora_cli.infra.ports import free_port, port_accepts

pytestmark = pytest.mark.integration
LARGE_MAILBOX = 5_000


def welcome(to: str) -> EmailMessage:
    """A text + HTML welcome mail."""
    message = EmailMessage()
    message["From"] = "noreply@agora.test"
    message["To"] = to
    message["Subject"] = "Welcome"
    message.set_content("Hello!")
    message.add_alternative("<h1>Hello!</h1>", subtype="html")
    return message


def test_mail_sink_smtp_message_readable_over_api_and_kept_across_restart(tmp_path: Path) -> None:
    sink = EmbeddedMailSink(
        tmp_path / "mail", free_port(), free_port(), tmp_path / "mail.log", tmp_path / "mail.pid"
    )
    api = f"http://127.0.0.1:{sink.http_port}/mail/api/messages"
    try:
        sink.start()
        with smtplib.SMTP("127.0.0.1", sink.port, timeout=5) as smtp:
            smtp.send_message(welcome("ada@example.test"))
        before = httpx.get(api).json()["data"]
        sink.stop()
        stopped = port_accepts(sink.port)
        sink.start()
        after = httpx.get(api).json()["data"]
        one = httpx.get(f"{api}/{after[0]['id']}").json()
        page = httpx.get(f"http://127.0.0.1:{sink.http_port}/mail").text
    finally:
        sink.stop()

    assert [(m["to"], m["subject"], m["text"]) for m in before] == [
        ("ada@example.test", "Welcome", "Hello!\n")
    ]
    assert before[0]["html"] == "<h1>Hello!</h1>\n"
    assert stopped is False
    assert after == before
    assert one == before[0]
    assert "ada@example.test" in page
    assert not sink.is_running()
    assert len(list((tmp_path / "mail" / "new").iterdir())) == 1


def test_mail_sink_healthy_false_when_not_running(tmp_path: Path) -> None:
    sink = EmbeddedMailSink(
        tmp_path / "mail", free_port(), free_port(), tmp_path / "mail.log", tmp_path / "mail.pid"
    )
    assert sink.healthy() is False
    assert sink.pid is None


def test_mail_sink_starts_healthy_with_a_large_mailbox(tmp_path: Path) -> None:
    maildir = tmp_path / "mail"
    (maildir / "new").mkdir(parents=True)
    raw = welcome("ada@example.test").as_bytes()
    for index in range(LARGE_MAILBOX):  # the health check used to parse every one of them
        (maildir / "new" / f"{index:05d}.M1P1Q1.host").write_bytes(raw)
    sink = EmbeddedMailSink(
        maildir, free_port(), free_port(), tmp_path / "mail.log", tmp_path / "mail.pid"
    )
    try:
        sink.start()
        health = httpx.get(f"http://127.0.0.1:{sink.http_port}/health")
        listed = httpx.get(f"http://127.0.0.1:{sink.http_port}/mail/api/messages").json()
    finally:
        sink.stop()

    assert health.json() == {"status": "ok"}
    assert (listed["total"], len(listed["data"])) == (LARGE_MAILBOX, 20)


def test_mail_sink_failed_start_shows_its_own_error_not_the_previous_run(tmp_path: Path) -> None:
    not_a_directory = tmp_path / "mail"
    not_a_directory.write_text("a file where the Maildir should be\n")
    log_file = tmp_path / "mail.log"
    log_file.write_text("INFO: Shutting down\nINFO: Finished server process [4242]\n")
    sink = EmbeddedMailSink(
        not_a_directory, free_port(), free_port(), log_file, tmp_path / "mail.pid"
    )

    with pytest.raises(MailSinkError) as failure:
        sink.start()

    message = str(failure.value)
    assert message.startswith("mail exited during start-up; its output:\n")
    assert "FileExistsError" in message or "NotADirectoryError" in message
    assert "4242" not in message
    assert "Shutting down" not in message
