"""user.registered → one welcome e-mail over real SMTP, recorded; failures end in dead letters."""

from __future__ import annotations

import email
import logging
from collections.abc import Callable
from email.message import EmailMessage
from email.policy import default
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from agora_chassis.messaging import EventConsumer
from agora_chassis.state import service_state
from agora_cli.infra.ports import free_port
from agora_notification.models import DeadLetter, Inbox, Notification

pytestmark = pytest.mark.integration

Consumers = Callable[..., EventConsumer]
Events = Callable[..., bytes]
Sink = tuple[int, Any]


async def _rows[T](app: FastAPI, model: type[T]) -> list[T]:
    async with service_state(app).sessionmaker() as session:
        return list(await session.scalars(select(model)))


async def test_deliver_user_registered_sends_one_welcome_mail(
    app: FastAPI, consumer_for: Consumers, registered_event: Events, smtp_sink: Sink
) -> None:
    applied = await consumer_for().deliver(registered_event(full_name="Ada <Lovelace>"))

    assert applied is True
    [envelope] = smtp_sink[1].messages
    assert envelope.rcpt_tos == ["ada@example.com"]
    message = email.message_from_bytes(envelope.original_content, policy=default)
    assert isinstance(message, EmailMessage)
    assert message["Subject"] == "Welcome to Agora"
    assert message.get_content_type() == "multipart/alternative"
    html = message.get_body(("html",))
    text = message.get_body(("plain",))
    assert html is not None
    assert "Ada &lt;Lovelace&gt;" in html.get_content()
    assert text is not None
    assert "Hello Ada <Lovelace>," in text.get_content()
    [row] = await _rows(app, Notification)
    assert (row.status, row.attempts, row.recipient) == ("sent", 1, "ada@example.com")
    assert row.template == "welcome"
    assert row.sent_at is not None


async def test_deliver_same_event_twice_sends_one_mail(
    app: FastAPI, consumer_for: Consumers, registered_event: Events, smtp_sink: Sink
) -> None:
    consumer, body = consumer_for(), registered_event()

    assert await consumer.deliver(body) is True
    assert await consumer.deliver(body) is True

    assert len(smtp_sink[1].messages) == 1
    assert len(await _rows(app, Notification)) == 1
    assert len(await _rows(app, Inbox)) == 1


async def test_deliver_smtp_down_dead_letters_after_three_tries(
    app: FastAPI, consumer_for: Consumers, registered_event: Events, smtp_sink: Sink
) -> None:
    applied = await consumer_for(smtp_port=free_port()).deliver(registered_event())

    assert applied is False
    assert smtp_sink[1].messages == []
    [letter] = await _rows(app, DeadLetter)
    assert letter.attempts == 3
    assert letter.event_type == "user.registered"
    assert "SMTPConnect" in letter.error
    [row] = await _rows(app, Notification)
    assert (row.status, row.attempts, row.sent_at) == ("failed", 3, None)
    assert await _rows(app, Inbox) == []


async def test_deliver_refused_recipient_ends_in_dead_letters(
    app: FastAPI, consumer_for: Consumers, registered_event: Events, smtp_sink: Sink
) -> None:
    applied = await consumer_for().deliver(registered_event(email="nobody@refused.example.com"))

    assert applied is False
    assert smtp_sink[1].messages == []
    [letter] = await _rows(app, DeadLetter)
    assert letter.error.startswith("PermanentFailure: nobody@refused.example.com refused")
    assert "SMTPRecipientsRefused" in (letter.stack or "")
    assert letter.attempts == 1  # a 5xx refusal is not retried
    [row] = await _rows(app, Notification)
    assert (row.status, row.attempts) == ("failed", 1)


async def test_replay_after_smtp_recovers_sends_once(
    app: FastAPI, consumer_for: Consumers, registered_event: Events, smtp_sink: Sink
) -> None:
    await consumer_for(smtp_port=free_port()).deliver(registered_event())
    [letter] = await _rows(app, DeadLetter)

    assert await consumer_for().replay(letter.id) is True

    assert len(smtp_sink[1].messages) == 1
    [row] = await _rows(app, Notification)
    assert (row.status, row.attempts) == ("sent", 4)


async def test_deliver_invalid_payload_dead_letters_without_mail(
    app: FastAPI, consumer_for: Consumers, smtp_sink: Sink
) -> None:
    body = b'{"specversion": "1.0", "id": "x", "type": "user.registered"}'

    assert await consumer_for().deliver(body) is False

    assert smtp_sink[1].messages == []
    [letter] = await _rows(app, DeadLetter)
    assert letter.attempts == 0
    async with service_state(app).sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Notification)) == 0


async def test_deliver_sent_mail_is_logged_at_info_without_the_address(
    app: FastAPI,
    consumer_for: Consumers,
    registered_event: Events,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="agora_notification")

    assert await consumer_for().deliver(registered_event(email="grace@example.com")) is True

    [row] = await _rows(app, Notification)
    sent = [r.getMessage() for r in caplog.records if "sent (template" in r.getMessage()]
    assert sent == [f"notification {row.id} sent (template welcome, event {row.event_id})"]
    assert all(r.levelno == logging.INFO for r in caplog.records if "sent (" in r.getMessage())
    assert not [r for r in caplog.records if "grace@example.com" in r.getMessage()]
