"""Contract: catalog publishes what ``agora_contracts`` defines and accepts what it consumes.

Producer side: every event type catalog declares (``CHANNELS.publishes``) is produced by the real
use case and its outbox envelope validates as a CloudEvent whose data validates against the
payload class. Consumer side: every example of every schema catalog consumes is delivered through
the real handler and database. The examples' product ids do not exist, so the example
``order.placed`` is answered with ``stock.rejected``: an answer, hence an acceptance.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from agora_catalog.events.subscriber import CHANNELS
from agora_catalog.models import DeadLetter, OutboxMessage, Reservation
from agora_chassis.db import utcnow
from agora_chassis.ids import new_id
from agora_chassis.messaging import EventConsumer
from agora_chassis.state import service_state
from agora_contracts.catalog import (
    ProductPriceChangedV1,
    ShortLine,
    StockRejectedV1,
    StockReservedV1,
)
from agora_contracts.envelope import CloudEvent, EventPayload
from agora_contracts.ordering import OrderCancelledV1, OrderLine, OrderPaidV1, OrderPlacedV1

pytestmark = pytest.mark.integration

Events = Callable[[EventPayload], bytes]

PUBLISHED = {payload_class.event_type: payload_class for payload_class in CHANNELS.publishes}
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


def _examples(payload_class: type[EventPayload]) -> list[dict[str, Any]]:
    examples = payload_class.model_json_schema().get("examples", [])
    assert examples, f"{payload_class.__name__} publishes no schema examples"
    return list(examples)


def _envelope(
    payload_class: type[EventPayload], data: dict[str, Any], traceparent: str | None = None
) -> bytes:
    event = CloudEvent(
        id=str(new_id()),
        source="/agora/contract-test",
        type=payload_class.event_type,
        time=dt.datetime.now(dt.UTC),
        dataschema=payload_class.schema_uri(),
        traceparent=traceparent,
        data=data,
    )
    return event.model_dump_json().encode()


async def _published(app: FastAPI) -> list[CloudEvent]:
    async with service_state(app).sessionmaker() as session:
        rows = await session.scalars(select(OutboxMessage).order_by(OutboxMessage.created_at))
        return [CloudEvent.model_validate(row.envelope) for row in rows]


def _payload(event: CloudEvent) -> EventPayload:
    """The event's data, validated against the contract its type and ``dataschema`` name."""
    payload_class = PUBLISHED[event.type]
    assert event.source == "/agora/catalog"
    assert event.dataschema == payload_class.schema_uri()
    return payload_class.model_validate(event.data)


async def _state(app: FastAPI, order_id: uuid.UUID) -> str | None:
    async with service_state(app).sessionmaker() as session:
        state: str | None = await session.scalar(
            select(Reservation.state).where(Reservation.order_id == order_id)
        )
    return state


@pytest.fixture
async def product(
    make_category: Callable[..., Any], make_product: Callable[..., Any]
) -> dict[str, Any]:
    """A product with 5 units at 9.99 EUR."""
    return dict(await make_product(await make_category("contracts"), price="9.99", on_hand=5))


def test_consumer_handles_exactly_the_event_types_catalog_declares(
    consumer: EventConsumer,
) -> None:
    declared = {payload_class.event_type for payload_class in CHANNELS.consumes}

    assert set(consumer.routes) == declared == {"order.placed", "order.cancelled", "order.paid"}
    assert {route.payload_class for route in consumer.routes.values()} == set(CHANNELS.consumes)


async def test_every_published_event_type_validates_against_its_contract(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin: dict[str, str],
    consumer: EventConsumer,
    cloud_event: Events,
    product: dict[str, Any],
) -> None:
    product_id = uuid.UUID(product["id"])
    line = [OrderLine(product_id=product_id, quantity=2)]
    for quantity in (2, 9):  # the first is reserved, the second is short
        order = OrderPlacedV1(
            order_id=new_id(),
            buyer_id=new_id(),
            lines=[OrderLine(product_id=product_id, quantity=quantity)],
            placed_at=utcnow(),
        )
        assert await consumer.deliver(cloud_event(order)) is True
    changed = await client.patch(
        f"/api/v1/products/{product_id}", json={"price": "7.49"}, headers=admin | {"If-Match": "*"}
    )
    assert changed.status_code == 200, changed.text

    events = await _published(app)

    assert [event.type for event in events] == [
        "stock.reserved",
        "stock.rejected",
        "product.price_changed",
    ]
    assert set(PUBLISHED) == {event.type for event in events}
    reserved, rejected, price = (_payload(event) for event in events)
    assert isinstance(reserved, StockReservedV1)
    assert reserved.lines == line
    assert isinstance(rejected, StockRejectedV1)
    assert rejected.short == [ShortLine(product_id=product_id, requested=9, available=3)]
    assert isinstance(price, ProductPriceChangedV1)
    assert (price.product_id, price.sku, price.currency) == (product_id, product["sku"], "EUR")
    assert (price.old_price, price.new_price) == (Decimal("9.99"), Decimal("7.49"))


@pytest.mark.parametrize("example", _examples(OrderPlacedV1))
async def test_consumer_accepts_order_placed_example(
    app: FastAPI, consumer: EventConsumer, example: dict[str, Any]
) -> None:
    assert await consumer.deliver(_envelope(OrderPlacedV1, example)) is True

    [event] = await _published(app)
    rejected = _payload(event)
    assert isinstance(rejected, StockRejectedV1)
    assert str(rejected.order_id) == example["order_id"]
    assert {(str(line.product_id), line.requested, line.available) for line in rejected.short} == {
        (line["product_id"], line["quantity"], 0) for line in example["lines"]
    }


@pytest.mark.parametrize("example", _examples(OrderCancelledV1))
async def test_consumer_accepts_order_cancelled_example(
    app: FastAPI, consumer: EventConsumer, example: dict[str, Any]
) -> None:
    assert await consumer.deliver(_envelope(OrderCancelledV1, example)) is True

    assert await _state(app, uuid.UUID(example["order_id"])) == "released"


@pytest.mark.parametrize("example", _examples(OrderPaidV1))
async def test_consumer_accepts_order_paid_example(
    app: FastAPI,
    consumer: EventConsumer,
    cloud_event: Events,
    product: dict[str, Any],
    example: dict[str, Any],
) -> None:
    order_id = uuid.UUID(example["order_id"])
    line = OrderLine(product_id=uuid.UUID(product["id"]), quantity=1)
    placed = OrderPlacedV1(order_id=order_id, buyer_id=new_id(), lines=[line], placed_at=utcnow())
    assert await consumer.deliver(cloud_event(placed)) is True

    assert await consumer.deliver(_envelope(OrderPaidV1, example)) is True

    assert await _state(app, order_id) == "committed"


async def test_consumer_dead_letters_order_breaking_its_contract_at_once(
    app: FastAPI, consumer: EventConsumer
) -> None:
    [example] = _examples(OrderPlacedV1)[:1]
    broken = example | {"lines": [{"product_id": example["lines"][0]["product_id"], "quantity": 0}]}

    assert await consumer.deliver(_envelope(OrderPlacedV1, broken)) is False

    async with service_state(app).sessionmaker() as session:
        [letter] = await session.scalars(select(DeadLetter))
        reservations = await session.scalar(select(func.count()).select_from(Reservation))
    assert letter.attempts == 0
    assert "invalid order.placed payload" in letter.error
    assert reservations == 0
    assert await _published(app) == []


async def test_published_answer_continues_the_order_trace(
    app: FastAPI, consumer: EventConsumer
) -> None:
    [example] = _examples(OrderPlacedV1)[:1]

    await consumer.deliver(_envelope(OrderPlacedV1, example, traceparent=TRACEPARENT))

    [event] = await _published(app)
    assert event.traceparent is not None
    assert event.traceparent.split("-")[1] == TRACE_ID
