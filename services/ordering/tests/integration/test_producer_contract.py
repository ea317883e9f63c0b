"""Contract: ordering publishes what ``agora_contracts`` defines.

Every event ordering writes to its outbox on the way to PAID, and on the way to CANCELLED with a
late charge to give back, validates as the CloudEvent envelope of the payload class its ``type``
names in ``CHANNELS.publishes`` (what ordering's AsyncAPI document declares), and together the
two paths produce every type declared there.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest

from agora_chassis.messaging import EventConsumer
from agora_chassis.messaging.asyncapi import envelope_model
from agora_contracts.catalog import StockReservedV1
from agora_contracts.envelope import EventPayload
from agora_contracts.ordering import (
    OrderAwaitingPaymentV1,
    OrderCancelledV1,
    OrderLine,
    OrderPaidV1,
    OrderRefundRequestedV1,
)
from agora_contracts.payment import PaymentSucceededV1
from agora_ordering.events.subscriber import CHANNELS
from agora_testing.catalog_server import CatalogServer
from agora_testing.events import structured_event
from services.ordering.tests.integration.conftest import ADDRESS, key, order_body

pytestmark = pytest.mark.integration

Headers = Callable[..., dict[str, str]]
Outbox = Callable[[str], Any]
ORDERS = "/api/v1/orders"
SOURCE = "/agora/ordering"
PUBLISHED = {payload_class.event_type: payload_class for payload_class in CHANNELS.publishes}
PAYMENT_ID = uuid.UUID("01936d3c-a100-7b3c-9d4e-5f6a7b8c9d0e")
NOW = dt.datetime(2026, 12, 7, tzinfo=dt.UTC)


class Checkout:
    """One customer's order, placed through the API and moved on by catalog's and payment's
    replies handed to the app's consumer."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        catalog: CatalogServer,
        consumer: EventConsumer,
        headers: dict[str, str],
    ) -> None:
        self.client, self.catalog, self.consumer, self.headers = client, catalog, consumer, headers
        self.order: dict[str, Any] = {}

    async def place(self) -> None:
        body = order_body([self.catalog.add("Trail shoe", "24.99")], quantity=2)
        response = await self.client.post(ORDERS, json=body, headers=self.headers | key())
        assert response.status_code == 201, response.text
        self.order = response.json()

    async def reserve(self) -> None:
        lines = [OrderLine(product_id=ln["product_id"], quantity=2) for ln in self.order["lines"]]
        await self._reply(StockReservedV1(order_id=self.order["id"], lines=lines, reserved_at=NOW))

    async def charge(self) -> None:
        await self._reply(
            PaymentSucceededV1(
                order_id=self.order["id"],
                payment_id=PAYMENT_ID,
                provider_charge_id="ch_contract",
                amount=Decimal(self.order["total"]),
                currency="EUR",
                succeeded_at=NOW,
            )
        )

    async def cancel(self) -> None:
        response = await self.client.post(
            f"{ORDERS}/{self.order['id']}/cancel", headers=self.headers
        )
        assert response.status_code == 200, response.text

    async def _reply(self, payload: EventPayload) -> None:
        assert await self.consumer.deliver(structured_event(payload)) is True


@pytest.fixture
def checkout(
    client: httpx.AsyncClient,
    catalog_server: CatalogServer,
    consumer: EventConsumer,
    user_headers: Headers,
) -> Checkout:
    return Checkout(client, catalog_server, consumer, user_headers(uuid.uuid4()))


async def _published(outbox: Outbox, order_id: str) -> list[EventPayload]:
    """The order's outbox events, each validated against the contract its ``type`` names."""
    payloads = []
    for envelope in await outbox(order_id):
        assert envelope["type"] in PUBLISHED, f"{envelope['type']} is not in CHANNELS.publishes"
        payload_class = PUBLISHED[envelope["type"]]
        event = envelope_model(payload_class).model_validate(envelope)
        assert (event.source, event.subject) == (SOURCE, order_id)
        assert event.dataschema == payload_class.schema_uri()
        payload = payload_class.model_validate(event.data)
        assert str(payload.order_id) == order_id  # type: ignore[attr-defined]
        payloads.append(payload)
    return payloads


async def _paid(checkout: Checkout) -> None:
    await checkout.place()
    await checkout.reserve()
    await checkout.charge()


async def _cancelled_then_charged(checkout: Checkout) -> None:
    await checkout.place()
    await checkout.reserve()
    await checkout.cancel()
    await checkout.charge()  # payment's charge loses the race to the customer's cancel


async def test_every_event_ordering_publishes_validates_against_its_contract(
    checkout: Checkout, outbox: Outbox
) -> None:
    seen: list[list[str]] = []
    for path in (_paid, _cancelled_then_charged):
        await path(checkout)
        seen.append([p.event_type for p in await _published(outbox, checkout.order["id"])])

    assert seen == [
        ["order.placed", "order.awaiting_payment", "order.paid"],
        ["order.placed", "order.awaiting_payment", "order.cancelled", "order.refund_requested"],
    ]
    assert {event_type for path in seen for event_type in path} == set(PUBLISHED)


async def test_a_paid_order_asks_for_its_total_and_sends_its_receipt(
    checkout: Checkout, outbox: Outbox
) -> None:
    await _paid(checkout)

    _, awaiting, paid = await _published(outbox, checkout.order["id"])

    assert isinstance(awaiting, OrderAwaitingPaymentV1)
    assert (awaiting.amount, awaiting.currency) == (Decimal("49.98"), "EUR")
    assert str(awaiting.buyer_id) == checkout.order["buyer_id"]
    assert isinstance(paid, OrderPaidV1)
    assert paid.receipt is not None
    assert (paid.receipt.total, paid.receipt.ship_to.model_dump()) == (Decimal("49.98"), ADDRESS)


async def test_a_cancelled_order_says_why_and_asks_back_a_late_charge(
    checkout: Checkout, outbox: Outbox
) -> None:
    await _cancelled_then_charged(checkout)

    *_, cancelled, refund = await _published(outbox, checkout.order["id"])

    assert isinstance(cancelled, OrderCancelledV1)
    assert cancelled.reason_code == "cancelled_by_customer"
    assert cancelled.receipt is not None
    assert str(cancelled.receipt.buyer_id) == checkout.order["buyer_id"]
    assert isinstance(refund, OrderRefundRequestedV1)
    assert (refund.payment_id, refund.amount, refund.reason) == (
        PAYMENT_ID,
        Decimal("49.98"),
        "order_cancelled",
    )
