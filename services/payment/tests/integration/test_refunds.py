"""Refunding a charge at the real simulator when ordering asks: once per payment."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from fastapi import FastAPI

from agora_chassis.messaging import Attempt, EventConsumer
from agora_contracts.payment import PaymentRefundedV1, PaymentSucceededV1
from services.payment.tests.integration.conftest import (
    awaiting_payment,
    body_of,
    card_token,
    dead_letters,
    ledger,
    outbox,
    refund_requested,
    set_faults,
)

pytestmark = pytest.mark.integration


async def charged(
    consumer: EventConsumer, app: FastAPI, sim: httpx.AsyncClient
) -> PaymentSucceededV1:
    order = awaiting_payment(await card_token(sim))
    assert await consumer.deliver(body_of(order)) is True
    [event] = await outbox(app)
    return PaymentSucceededV1.model_validate(event["data"])


async def test_refund_requested_refunds_the_charge_and_publishes_payment_refunded(
    app: FastAPI, consumer: EventConsumer, sim: httpx.AsyncClient
) -> None:
    paid = await charged(consumer, app, sim)

    assert await consumer.deliver(body_of(refund_requested(paid.order_id, paid.payment_id)))

    event = (await outbox(app))[-1]
    assert event["type"] == "payment.refunded"
    refunded = PaymentRefundedV1.model_validate(event["data"])
    [refund] = (await ledger(sim))["refunds"]
    assert (refunded.provider_refund_id, refund["amount"]) == (refund["id"], 4998)
    assert refund["idempotency_key"] == str(paid.payment_id)


async def test_refund_requested_twice_refunds_once(
    app: FastAPI, consumer: EventConsumer, sim: httpx.AsyncClient
) -> None:
    paid = await charged(consumer, app, sim)

    for _ in range(2):  # two requests (two event ids) for one payment
        assert await consumer.deliver(body_of(refund_requested(paid.order_id, paid.payment_id)))

    assert [e["type"] for e in await outbox(app)] == ["payment.succeeded", "payment.refunded"]
    assert len((await ledger(sim))["refunds"]) == 1


async def test_refund_provider_down_waits_then_refunds_once(
    app: FastAPI, consumer: EventConsumer, sim: httpx.AsyncClient
) -> None:
    paid = await charged(consumer, app, sim)
    body = body_of(refund_requested(paid.order_id, paid.payment_id))
    await set_faults(sim, timeout_rate=1, timeout_seconds=3)

    assert await consumer.on_delivery(body, Attempt(1)) is not None  # refunded, answer lost

    await set_faults(sim, timeout_rate=0)
    await asyncio.sleep(0.3)
    assert await consumer.on_delivery(body, Attempt(2)) is None
    assert len((await ledger(sim))["refunds"]) == 1
    assert (await outbox(app))[-1]["type"] == "payment.refunded"
    assert await dead_letters(app) == 0


async def test_refund_of_unknown_payment_is_dead_lettered(
    app: FastAPI, consumer: EventConsumer, sim: httpx.AsyncClient
) -> None:
    body = body_of(refund_requested(uuid.uuid4(), uuid.uuid4()))

    assert await consumer.deliver(body) is False

    assert await dead_letters(app) == 1
    assert (await ledger(sim))["refunds"] == []


async def test_refund_of_failed_payment_is_dead_lettered(
    app: FastAPI, consumer: EventConsumer, sim: httpx.AsyncClient
) -> None:
    order = awaiting_payment(await card_token(sim, "declines"))
    assert await consumer.deliver(body_of(order)) is True
    payment_id = uuid.UUID((await outbox(app))[0]["data"]["payment_id"])

    assert await consumer.deliver(body_of(refund_requested(order.order_id, payment_id))) is False

    assert await dead_letters(app) == 1
