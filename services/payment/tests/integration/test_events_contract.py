"""Contract: payment publishes what ``agora_contracts`` defines and accepts what it consumes.

Producer side: every event type payment declares (``CHANNELS.publishes``) is produced by the real
use cases against the real simulator, and each outbox envelope validates as a CloudEvent whose
data validates against its payload class. Consumer side: the schema examples of what payment
consumes are delivered through the real handlers; their tokens and payments do not exist, so
they are answered (``payment.failed``) or kept as dead letters an operator can see, never lost.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from fastapi import FastAPI

from agora_chassis.messaging import EventConsumer
from agora_contracts.envelope import CloudEvent
from agora_contracts.ordering import OrderAwaitingPaymentV1, OrderRefundRequestedV1
from agora_payment.events.subscriber import CHANNELS
from agora_testing.events import structured_event
from services.payment.tests.integration.conftest import (
    awaiting_payment,
    body_of,
    card_token,
    outbox,
    refund_requested,
)

pytestmark = pytest.mark.integration

PUBLISHED = {payload_class.event_type: payload_class for payload_class in CHANNELS.publishes}


def test_consumer_subscribes_to_what_payment_consumes(consumer: EventConsumer) -> None:
    assert set(consumer.routes) == {"order.awaiting_payment", "order.refund_requested"}


async def test_every_published_event_validates_against_its_contract(
    app: FastAPI, consumer: EventConsumer, sim: httpx.AsyncClient
) -> None:
    paid = awaiting_payment(await card_token(sim))
    assert await consumer.deliver(body_of(paid))
    assert await consumer.deliver(body_of(awaiting_payment(await card_token(sim, "declines"))))
    payment_id = (await outbox(app))[0]["data"]["payment_id"]
    assert await consumer.deliver(body_of(refund_requested(paid.order_id, payment_id)))

    envelopes = await outbox(app)

    assert {envelope["type"] for envelope in envelopes} == set(PUBLISHED)
    for envelope in envelopes:
        event = CloudEvent.model_validate(envelope)
        assert event.source == "/agora/payment"
        assert event.subject == str(paid.order_id) or event.type == "payment.failed"
        PUBLISHED[event.type].model_validate(event.data)


async def test_awaiting_payment_examples_are_answered(
    app: FastAPI, consumer: EventConsumer
) -> None:
    for example in OrderAwaitingPaymentV1.model_json_schema()["examples"]:
        payload = OrderAwaitingPaymentV1.model_validate(example)
        assert await consumer.deliver(structured_event(payload)) is True

    types = [envelope["type"] for envelope in await outbox(app)]
    assert types == ["payment.failed"]  # the example's deadline has passed: never charged


async def test_refund_request_example_for_no_payment_is_a_listed_dead_letter(
    consumer: EventConsumer,
    client: httpx.AsyncClient,
    token_for: Callable[[list[str]], str],
) -> None:
    for example in OrderRefundRequestedV1.model_json_schema()["examples"]:
        payload = OrderRefundRequestedV1.model_validate(example)
        assert await consumer.deliver(structured_event(payload)) is False

    answer = await client.get(
        "/api/v1/admin/dead-letters", headers={"Authorization": f"Bearer {token_for(['admin'])}"}
    )

    assert answer.status_code == 200
    assert [letter["event_type"] for letter in answer.json()["data"]] == ["order.refund_requested"]
