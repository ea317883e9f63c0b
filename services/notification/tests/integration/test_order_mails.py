"""order.paid / order.cancelled → one e-mail to the buyer (found in recipients) over real SMTP."""

from __future__ import annotations

import datetime as dt
import email
import logging
import uuid
from collections.abc import Callable
from decimal import Decimal
from email.message import EmailMessage
from email.policy import default
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from agora_chassis.messaging import EventConsumer
from agora_chassis.messaging.redelivery import Attempt
from agora_chassis.state import service_state
from agora_contracts.ordering import (
    OrderCancelledV1,
    OrderPaidV1,
    OrderReceipt,
    ReceiptLine,
    ShippingAddress,
)
from agora_notification.models import DeadLetter, Inbox, Notification
from agora_testing.events import structured_event

pytestmark = pytest.mark.integration

Consumers = Callable[..., EventConsumer]
Events = Callable[..., bytes]
SOURCE = "/agora/ordering"
Sink = tuple[int, Any]
BUYER_EMAIL = "grace@example.com"
ADDRESS = ShippingAddress(
    name="Grace Hopper", street="1 Cobol Lane", postal_code="20500", city="Arlington", country="US"
)


def _receipt(buyer_id: uuid.UUID) -> OrderReceipt:
    return OrderReceipt(
        buyer_id=buyer_id,
        lines=[
            ReceiptLine(
                product_id=uuid.uuid4(),
                name="Bread & <Butter>",
                quantity=3,
                unit_price=Decimal("0.10"),
                subtotal=Decimal("0.30"),
            ),
            ReceiptLine(
                product_id=uuid.uuid4(),
                name="Espresso machine",
                quantity=1,
                unit_price=Decimal("1234.50"),
                subtotal=Decimal("1234.50"),
            ),
        ],
        total=Decimal("1234.80"),
        currency="EUR",
        ship_to=ADDRESS,
    )


def _paid(order_id: uuid.UUID, buyer_id: uuid.UUID | None) -> bytes:
    receipt = _receipt(buyer_id) if buyer_id is not None else None
    payload = OrderPaidV1(order_id=order_id, paid_at=dt.datetime.now(dt.UTC), receipt=receipt)
    return structured_event(payload, source=SOURCE)


def _cancelled(order_id: uuid.UUID, buyer_id: uuid.UUID | None, reason: str) -> bytes:
    payload = OrderCancelledV1(
        order_id=order_id,
        reason=reason,
        cancelled_at=dt.datetime.now(dt.UTC),
        receipt=_receipt(buyer_id) if buyer_id is not None else None,
    )
    return structured_event(payload, source=SOURCE)


async def _buyer(consumer: EventConsumer, registered_event: Events) -> uuid.UUID:
    """Register a buyer (welcome e-mail included); return their user id."""
    buyer_id = uuid.uuid4()
    body = registered_event(email=BUYER_EMAIL, full_name="Grace <Hopper>", user_id=buyer_id)
    assert await consumer.deliver(body) is True
    return buyer_id


def _received(sink: Sink, subject: str) -> list[EmailMessage]:
    messages = [
        email.message_from_bytes(envelope.original_content, policy=default)
        for envelope in sink[1].messages
    ]
    return [m for m in messages if isinstance(m, EmailMessage) and m["Subject"] == subject]


def _bodies(message: EmailMessage) -> tuple[str, str]:
    """The text and HTML parts of a ``multipart/alternative`` message."""
    assert message.get_content_type() == "multipart/alternative"
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None
    assert html is not None
    # SMTP carries CRLF line ends; compare with the templates' own.
    return text.get_content().replace("\r\n", "\n"), html.get_content().replace("\r\n", "\n")


async def _rows[T](app: FastAPI, model: type[T]) -> list[T]:
    async with service_state(app).sessionmaker() as session:
        return list(await session.scalars(select(model)))


async def _order_rows(app: FastAPI) -> list[Notification]:
    return [row for row in await _rows(app, Notification) if row.order_id is not None]


async def test_deliver_order_paid_sends_receipt_in_text_and_html(
    app: FastAPI, consumer_for: Consumers, registered_event: Events, smtp_sink: Sink
) -> None:
    consumer = consumer_for()
    buyer_id, order_id = await _buyer(consumer, registered_event), uuid.uuid4()

    assert await consumer.deliver(_paid(order_id, buyer_id)) is True

    [message] = _received(smtp_sink, "Your Agora order is confirmed")
    assert message["To"] == BUYER_EMAIL
    text, html = _bodies(message)
    assert "Hello Grace <Hopper>," in text
    assert str(order_id) in text
    assert "3 x Bread & <Butter> at 0.10 EUR = 0.30 EUR" in text
    assert "1 x Espresso machine at 1,234.50 EUR = 1,234.50 EUR" in text
    assert "Total: 1,234.80 EUR" in text
    assert "  Grace Hopper\n  1 Cobol Lane\n  20500 Arlington\n  US\n" in text
    assert "Hello Grace &lt;Hopper&gt;," in html
    assert (
        '<tr><td>Bread &amp; &lt;Butter&gt;</td><td align="right">3</td>'
        '<td align="right">0.10 EUR</td><td align="right">0.30 EUR</td></tr>'
    ) in html
    assert '<th align="right">1,234.80 EUR</th>' in html
    assert "1 Cobol Lane<br>" in html
    assert "20500 Arlington<br>" in html
    [row] = await _order_rows(app)
    assert (row.template, row.order_id, row.status, row.recipient) == (
        "order_paid",
        order_id,
        "sent",
        BUYER_EMAIL,
    )


async def test_deliver_order_cancelled_sends_the_reason(
    app: FastAPI, consumer_for: Consumers, registered_event: Events, smtp_sink: Sink
) -> None:
    consumer = consumer_for()
    buyer_id, order_id = await _buyer(consumer, registered_event), uuid.uuid4()

    body = _cancelled(order_id, buyer_id, "payment declined <by the bank>")
    assert await consumer.deliver(body) is True

    [message] = _received(smtp_sink, "Your Agora order was cancelled")
    assert message["To"] == BUYER_EMAIL
    text, html = _bodies(message)
    assert f"your order {order_id} was cancelled." in text
    assert "Reason: payment declined <by the bank>" in text
    assert "Total: 1,234.80 EUR" in text
    assert "Reason: payment declined &lt;by the bank&gt;" in html
    assert "Espresso machine" in html
    [row] = await _order_rows(app)
    assert (row.template, row.order_id, row.status) == ("order_cancelled", order_id, "sent")


async def test_deliver_order_paid_redelivered_sends_one_mail(
    app: FastAPI, consumer_for: Consumers, registered_event: Events, smtp_sink: Sink
) -> None:
    consumer = consumer_for()
    buyer_id, order_id = await _buyer(consumer, registered_event), uuid.uuid4()
    body = _paid(order_id, buyer_id)

    assert await consumer.deliver(body) is True
    assert await consumer.deliver(body) is True

    assert len(_received(smtp_sink, "Your Agora order is confirmed")) == 1
    assert len(await _order_rows(app)) == 1


async def test_deliver_same_order_paid_under_new_event_id_sends_one_mail(
    app: FastAPI, consumer_for: Consumers, registered_event: Events, smtp_sink: Sink
) -> None:
    consumer = consumer_for()
    buyer_id, order_id = await _buyer(consumer, registered_event), uuid.uuid4()

    assert await consumer.deliver(_paid(order_id, buyer_id)) is True
    assert await consumer.deliver(_paid(order_id, buyer_id)) is True

    assert len(_received(smtp_sink, "Your Agora order is confirmed")) == 1
    [row] = await _order_rows(app)
    assert (row.status, row.attempts) == ("sent", 1)
    assert len(await _rows(app, Inbox)) == 3  # the welcome and both order events


async def test_on_delivery_unknown_buyer_asks_for_a_retry_and_sends_nothing(
    app: FastAPI, consumer_for: Consumers, smtp_sink: Sink
) -> None:
    retry = await consumer_for().on_delivery(_paid(uuid.uuid4(), uuid.uuid4()), Attempt(1))

    assert retry is not None
    assert retry.delay > 0
    assert smtp_sink[1].messages == []
    assert await _rows(app, Notification) == []
    assert await _rows(app, Inbox) == []
    assert await _rows(app, DeadLetter) == []


async def test_deliver_unknown_buyer_dead_letters_then_replay_sends_once(
    app: FastAPI, consumer_for: Consumers, registered_event: Events, smtp_sink: Sink
) -> None:
    consumer, buyer_id, order_id = consumer_for(), uuid.uuid4(), uuid.uuid4()

    assert await consumer.deliver(_cancelled(order_id, buyer_id, "out of stock")) is False

    [letter] = await _rows(app, DeadLetter)
    assert letter.attempts == 3
    assert letter.error == (
        f"UnknownRecipient: buyer {buyer_id} of order {order_id} is not among the recipients "
        "(no user.registered applied for that user yet)"
    )
    body = registered_event(email=BUYER_EMAIL, user_id=buyer_id)
    assert await consumer.deliver(body) is True
    assert await consumer.replay(letter.id) is True
    assert await consumer.replay(letter.id) is True
    assert len(_received(smtp_sink, "Your Agora order was cancelled")) == 1


@pytest.mark.parametrize(
    "make_body",
    [
        lambda order_id: _paid(order_id, None),
        lambda order_id: _cancelled(order_id, None, "timed out"),
    ],
    ids=["paid", "cancelled"],
)
async def test_deliver_order_event_without_receipt_is_skipped(
    app: FastAPI,
    consumer_for: Consumers,
    smtp_sink: Sink,
    caplog: pytest.LogCaptureFixture,
    make_body: Callable[[uuid.UUID], bytes],
) -> None:
    caplog.set_level(logging.WARNING, logger="agora_notification")
    order_id = uuid.uuid4()

    assert await consumer_for().deliver(make_body(order_id)) is True

    assert smtp_sink[1].messages == []
    assert await _rows(app, Notification) == []
    assert len(await _rows(app, Inbox)) == 1
    assert [r.getMessage() for r in caplog.records if "carries no receipt" in r.getMessage()]
    assert any(str(order_id) in r.getMessage() for r in caplog.records)
