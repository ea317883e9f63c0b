"""Charging orders at the real simulator: once per order, declines final, outages waited out."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI

from agora_chassis.messaging import Attempt, EventConsumer
from agora_contracts.payment import PaymentFailedV1, PaymentSucceededV1
from services.payment.tests.integration.conftest import (
    FAST_RETRY,
    awaiting_payment,
    body_of,
    card_token,
    dead_letters,
    ledger,
    outbox,
    payment_of,
    set_faults,
)

pytestmark = pytest.mark.integration


async def test_charge_good_card_publishes_payment_succeeded(
    app: FastAPI, consumer: EventConsumer, sim: httpx.AsyncClient
) -> None:
    order = awaiting_payment(await card_token(sim), amount="49.98")

    assert await consumer.deliver(body_of(order)) is True

    [event] = await outbox(app)
    assert event["type"] == "payment.succeeded"
    succeeded = PaymentSucceededV1.model_validate(event["data"])
    [charge] = (await ledger(sim))["charges"]
    assert (charge["amount"], charge["currency"], charge["status"]) == (4998, "eur", "succeeded")
    assert charge["idempotency_key"] == str(order.order_id)
    assert succeeded.provider_charge_id == charge["id"]
    payment = await payment_of(app, order.order_id)
    assert payment is not None
    assert (payment.status, payment.attempts, payment.id) == ("succeeded", 1, succeeded.payment_id)


@pytest.mark.parametrize(
    ("card", "reason"),
    [("declines", "card_declined"), ("insufficient", "insufficient_funds")],
)
async def test_charge_declined_card_fails_once_without_retry(
    app: FastAPI, consumer: EventConsumer, sim: httpx.AsyncClient, card: str, reason: str
) -> None:
    order = awaiting_payment(await card_token(sim, card))

    assert await consumer.deliver(body_of(order)) is True

    [event] = await outbox(app)
    assert event["type"] == "payment.failed"
    assert PaymentFailedV1.model_validate(event["data"]).reason == reason
    assert len((await ledger(sim))["charges"]) == 1  # one attempt: a decline is not retried
    payment = await payment_of(app, order.order_id)
    assert payment is not None
    assert (payment.status, payment.failure_reason, payment.attempts) == ("failed", reason, 1)


async def test_charge_unknown_token_fails_invalid_token(
    app: FastAPI, consumer: EventConsumer, sim: httpx.AsyncClient
) -> None:
    order = awaiting_payment("tok_unknown")

    assert await consumer.deliver(body_of(order)) is True

    [event] = await outbox(app)
    assert PaymentFailedV1.model_validate(event["data"]).reason == "invalid_token"
    assert (await ledger(sim))["charges"] == []


async def test_charge_redelivered_order_charges_once_and_emits_nothing_new(
    app: FastAPI, consumer: EventConsumer, sim: httpx.AsyncClient
) -> None:
    order = awaiting_payment(await card_token(sim))
    first = body_of(order)

    assert await consumer.deliver(first) is True
    assert await consumer.deliver(first) is True  # the same event: the inbox drops it
    assert await consumer.deliver(body_of(order)) is True  # another event, same order

    assert [event["type"] for event in await outbox(app)] == ["payment.succeeded"]
    assert len((await ledger(sim))["charges"]) == 1


async def test_charge_concurrent_deliveries_of_one_order_charge_once(
    app: FastAPI, consumer: EventConsumer, sim: httpx.AsyncClient
) -> None:
    order = awaiting_payment(await card_token(sim))

    await asyncio.gather(*(consumer.deliver(body_of(order)) for _ in range(3)))

    assert [event["type"] for event in await outbox(app)] == ["payment.succeeded"]
    assert len((await ledger(sim))["charges"]) == 1


async def test_charge_provider_failing_waits_then_charges_once(
    app: FastAPI, consumer: EventConsumer, sim: httpx.AsyncClient
) -> None:
    order = awaiting_payment(await card_token(sim))
    body = body_of(order)
    await set_faults(sim, failure_rate=1)

    retry = await consumer.on_delivery(body, Attempt(1))

    assert retry is not None  # waits: neither failed nor dead-lettered
    assert await outbox(app) == []
    assert (await ledger(sim))["charges"] == []
    await set_faults(sim, failure_rate=0)
    await asyncio.sleep(0.3)  # the breaker's cool-down
    assert await consumer.on_delivery(body, Attempt(2)) is None
    [event] = await outbox(app)
    assert event["type"] == "payment.succeeded"
    assert len((await ledger(sim))["charges"]) == 1


async def test_charge_answer_lost_retries_same_key_and_provider_returns_first_charge(
    app: FastAPI, consumer: EventConsumer, sim: httpx.AsyncClient
) -> None:
    order = awaiting_payment(await card_token(sim))
    body = body_of(order)
    await set_faults(sim, timeout_rate=1, timeout_seconds=3)

    assert await consumer.on_delivery(body, Attempt(1)) is not None

    [charged] = (await ledger(sim))["charges"]  # charged; the answer never came
    payment = await payment_of(app, order.order_id)
    assert payment is not None
    assert payment.charge_in_doubt is True
    await set_faults(sim, timeout_rate=0)
    await asyncio.sleep(0.3)
    assert await consumer.on_delivery(body, Attempt(2)) is None
    [event] = await outbox(app)
    assert PaymentSucceededV1.model_validate(event["data"]).provider_charge_id == charged["id"]
    assert len((await ledger(sim))["charges"]) == 1


async def test_charge_provider_down_past_every_try_waits_and_never_dead_letters(
    app: FastAPI, consumer: EventConsumer, sim: httpx.AsyncClient
) -> None:
    order = awaiting_payment(await card_token(sim))
    body = body_of(order)
    await set_faults(sim, failure_rate=1)

    for number in range(1, FAST_RETRY.tries + 3):
        assert await consumer.on_delivery(body, Attempt(number)) is not None

    assert await dead_letters(app) == 0
    assert await outbox(app) == []
    payment = await payment_of(app, order.order_id)
    assert payment is not None
    assert payment.status == "pending"


async def test_charge_provider_down_past_the_deadline_fails_provider_unavailable(
    app: FastAPI, consumer: EventConsumer, sim: httpx.AsyncClient
) -> None:
    order = awaiting_payment(await card_token(sim), deadline_in=0.5)
    body = body_of(order)
    await set_faults(sim, failure_rate=1)

    retry = await consumer.on_delivery(body, Attempt(1))
    assert retry is not None
    assert retry.delay <= 1.5  # comes back soon after the deadline
    await asyncio.sleep(0.6)

    assert await consumer.on_delivery(body, Attempt(2)) is None
    [event] = await outbox(app)
    assert PaymentFailedV1.model_validate(event["data"]).reason == "provider_unavailable"
    assert await dead_letters(app) == 0


async def test_charge_past_the_deadline_never_starts_a_charge(
    app: FastAPI, consumer: EventConsumer, sim: httpx.AsyncClient
) -> None:
    order = awaiting_payment(await card_token(sim), deadline_in=-1)

    assert await consumer.deliver(body_of(order)) is True

    [event] = await outbox(app)
    assert PaymentFailedV1.model_validate(event["data"]).reason == "provider_unavailable"
    assert (await ledger(sim))["charges"] == []


async def test_charge_in_doubt_past_the_deadline_waits_for_the_provider(
    app: FastAPI, consumer: EventConsumer, sim: httpx.AsyncClient
) -> None:
    order = awaiting_payment(await card_token(sim), deadline_in=1.5)
    body = body_of(order)
    await set_faults(sim, timeout_rate=1, timeout_seconds=3)
    assert await consumer.on_delivery(body, Attempt(1)) is not None
    await asyncio.sleep(1.0)  # the deadline passes
    await set_faults(sim, timeout_rate=0, failure_rate=1)

    assert await consumer.on_delivery(body, Attempt(2)) is not None  # still in doubt: waits

    assert await outbox(app) == []
    await set_faults(sim, failure_rate=0)
    await asyncio.sleep(0.3)
    assert await consumer.on_delivery(body, Attempt(3)) is None
    [event] = await outbox(app)
    assert event["type"] == "payment.succeeded"  # a late success: ordering refunds it


async def test_charge_malformed_request_is_dead_lettered(
    app: FastAPI, consumer: EventConsumer, sim: httpx.AsyncClient
) -> None:
    token = await card_token(sim)
    order = awaiting_payment(token)
    other = awaiting_payment(token, order_id=order.order_id, amount="1.00")
    await sim.post(
        "/v1/charges",
        json={"source": token, "amount": 5, "currency": "eur"},
        headers={"Idempotency-Key": str(order.order_id)},
    )

    assert await consumer.deliver(body_of(other)) is False  # key reused: 400, a bug of ours

    assert await dead_letters(app) == 1
    assert await outbox(app) == []
