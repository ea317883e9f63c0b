"""Catalog's and payment's replies, delivered to ordering's consumer, move orders on."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from agora_chassis.messaging import EventConsumer
from agora_chassis.state import service_state
from agora_contracts.catalog import ShortLine, StockRejectedV1, StockReservedV1
from agora_contracts.ordering import OrderLine
from agora_contracts.payment import (
    PaymentFailedV1,
    PaymentFailureReason,
    PaymentRefundedV1,
    PaymentSucceededV1,
)
from agora_ordering.models import DeadLetter
from agora_testing.catalog_server import CatalogServer
from agora_testing.events import structured_event
from services.ordering.tests.integration.conftest import key, order_body

pytestmark = pytest.mark.integration

Headers = Callable[..., dict[str, str]]
Outbox = Callable[[str], Any]
NOW = dt.datetime(2026, 12, 7, tzinfo=dt.UTC)


class Shop:
    """Places orders through the API and reads them back."""

    def __init__(
        self, client: httpx.AsyncClient, catalog: CatalogServer, headers: dict[str, str]
    ) -> None:
        self.client, self.catalog, self.headers = client, catalog, headers

    async def place(self) -> dict[str, Any]:
        body = order_body([self.catalog.add("Trail shoe", "24.99")], quantity=2)
        response = await self.client.post("/api/v1/orders", json=body, headers=self.headers | key())
        assert response.status_code == 201, response.text
        order: dict[str, Any] = response.json()
        return order

    async def read(self, order_id: str) -> dict[str, Any]:
        response = await self.client.get(f"/api/v1/orders/{order_id}", headers=self.headers)
        assert response.status_code == 200, response.text
        order: dict[str, Any] = response.json()
        return order


@pytest.fixture
def shop(client: httpx.AsyncClient, catalog_server: CatalogServer, user_headers: Headers) -> Shop:
    return Shop(client, catalog_server, user_headers(uuid.uuid4()))


def reserved(order: dict[str, Any]) -> StockReservedV1:
    lines = [
        OrderLine(product_id=ln["product_id"], quantity=ln["quantity"]) for ln in order["lines"]
    ]
    return StockReservedV1(order_id=order["id"], lines=lines, reserved_at=NOW)


def charged(order: dict[str, Any], payment_id: uuid.UUID | None = None) -> PaymentSucceededV1:
    return PaymentSucceededV1(
        order_id=order["id"],
        payment_id=payment_id or uuid.uuid4(),
        provider_charge_id="ch_test",
        amount=Decimal(order["total"]),
        currency="EUR",
        succeeded_at=NOW,
    )


async def test_reserved_then_charged_makes_the_order_paid(
    shop: Shop, consumer: EventConsumer, outbox: Outbox
) -> None:
    order = await shop.place()

    await consumer.deliver(structured_event(reserved(order)))
    awaiting = await shop.read(order["id"])
    await consumer.deliver(structured_event(charged(order)))
    paid = await shop.read(order["id"])

    assert awaiting["status"] == "awaiting_payment"
    assert paid["status"] == "paid"
    assert [e["status"] for e in paid["timeline"]] == [
        "pending",
        "stock_reserved",
        "awaiting_payment",
        "paid",
    ]
    events = await outbox(order["id"])
    assert [e["type"] for e in events] == ["order.placed", "order.awaiting_payment", "order.paid"]
    request = events[1]["data"]
    assert (request["amount"], request["payment_token"]) == ("49.98", "tok_test_4242")
    receipt = events[2]["data"]["receipt"]
    assert [(ln["name"], ln["subtotal"]) for ln in receipt["lines"]] == [("Trail shoe", "49.98")]


async def test_a_redelivered_reply_is_applied_once(
    shop: Shop, consumer: EventConsumer, outbox: Outbox
) -> None:
    order = await shop.place()
    body = structured_event(reserved(order))

    await consumer.deliver(body)
    await consumer.deliver(body)
    await consumer.deliver(structured_event(reserved(order)))  # same fact, another event id

    types = [e["type"] for e in await outbox(order["id"])]
    assert types == ["order.placed", "order.awaiting_payment"]


async def test_rejected_stock_cancels_the_order_naming_the_product(
    shop: Shop, consumer: EventConsumer, outbox: Outbox
) -> None:
    order = await shop.place()
    line = order["lines"][0]
    short = ShortLine(product_id=line["product_id"], requested=2, available=1)

    await consumer.deliver(
        structured_event(StockRejectedV1(order_id=order["id"], short=[short], rejected_at=NOW))
    )

    after = await shop.read(order["id"])
    assert (after["status"], after["cancel_reason"]) == ("cancelled", "out_of_stock")
    cancelled = (await outbox(order["id"]))[-1]
    assert cancelled["type"] == "order.cancelled"
    assert cancelled["data"]["reason"] == "out of stock: Trail shoe"


async def test_a_declined_payment_cancels_the_order(shop: Shop, consumer: EventConsumer) -> None:
    order = await shop.place()
    await consumer.deliver(structured_event(reserved(order)))
    failed = PaymentFailedV1.model_validate(
        {
            "order_id": order["id"],
            "payment_id": str(uuid.uuid4()),
            "reason": PaymentFailureReason.CARD_DECLINED,
            "failed_at": NOW,
        }
    )

    await consumer.deliver(structured_event(failed))

    after = await shop.read(order["id"])
    assert (after["status"], after["cancel_reason"]) == ("cancelled", "payment_declined")


async def test_a_charge_of_a_cancelled_order_is_refunded_once_and_recorded(
    shop: Shop, consumer: EventConsumer, outbox: Outbox
) -> None:
    order = await shop.place()
    await consumer.deliver(structured_event(reserved(order)))
    cancel = await shop.client.post(f"/api/v1/orders/{order['id']}/cancel", headers=shop.headers)
    assert cancel.status_code == 200
    charge = charged(order)

    await consumer.deliver(structured_event(charge))
    await consumer.deliver(structured_event(charge))
    refunded = PaymentRefundedV1.model_validate(
        {
            "order_id": order["id"],
            "payment_id": str(charge.payment_id),
            "refund_id": str(uuid.uuid4()),
            "provider_refund_id": "re_test",
            "amount": order["total"],
            "currency": "EUR",
            "refunded_at": NOW,
        }
    )
    await consumer.deliver(structured_event(refunded))

    after = await shop.read(order["id"])
    assert after["status"] == "cancelled"
    assert [(r["payment_id"], r["status"]) for r in after["refunds"]] == [
        (str(charge.payment_id), "refunded")
    ]
    requests = [e for e in await outbox(order["id"]) if e["type"] == "order.refund_requested"]
    assert [r["data"]["reason"] for r in requests] == ["order_cancelled"]


async def test_a_reply_that_cannot_be_right_is_dead_lettered(
    shop: Shop, consumer: EventConsumer, app: FastAPI
) -> None:
    order = await shop.place()  # PENDING: payment was never asked
    unknown = charged(order).model_copy(update={"order_id": uuid.uuid4()})

    await consumer.deliver(structured_event(charged(order)))
    await consumer.deliver(structured_event(unknown))

    assert (await shop.read(order["id"]))["status"] == "pending"
    async with service_state(app).sessionmaker() as session:
        errors = list(
            await session.scalars(
                select(DeadLetter.error).where(
                    DeadLetter.error.contains(order["id"])
                    | DeadLetter.error.contains(str(unknown.order_id))
                )
            )
        )
    assert len(errors) == 2
    assert any("was charged while pending" in error for error in errors)
    assert any("unknown order" in error for error in errors)
