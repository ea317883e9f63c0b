"""order.placed reserves all lines or none; order.cancelled releases; order.paid sells.

The consumer is driven directly (``deliver`` with a real CloudEvent body) against the real
PostgreSQL and Redis; every effect is read back from committed rows, the outbox and the API.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, text

from agora_catalog.models import DeadLetter, Inbox, OutboxMessage, Reservation, Stock
from agora_chassis.db import utcnow
from agora_chassis.ids import new_id
from agora_chassis.messaging import EventConsumer
from agora_chassis.state import service_state
from agora_contracts.catalog import ShortLine, StockRejectedV1, StockReservedV1
from agora_contracts.envelope import CloudEvent, EventPayload
from agora_contracts.ordering import OrderCancelledV1, OrderLine, OrderPaidV1, OrderPlacedV1

pytestmark = pytest.mark.integration

Events = Callable[[EventPayload], bytes]
Stocked = Callable[..., Awaitable[uuid.UUID]]


def _placed(order_id: uuid.UUID, *lines: tuple[uuid.UUID, int]) -> OrderPlacedV1:
    return OrderPlacedV1(
        order_id=order_id,
        buyer_id=new_id(),
        lines=[OrderLine(product_id=product_id, quantity=units) for product_id, units in lines],
        placed_at=utcnow(),
    )


def _cancelled(order_id: uuid.UUID) -> OrderCancelledV1:
    return OrderCancelledV1(order_id=order_id, reason="changed my mind", cancelled_at=utcnow())


def _paid(order_id: uuid.UUID) -> OrderPaidV1:
    return OrderPaidV1(order_id=order_id, paid_at=utcnow())


async def _stock(app: FastAPI, product_id: uuid.UUID) -> tuple[int, int]:
    """``(on_hand, reserved)`` as committed."""
    async with service_state(app).sessionmaker() as session:
        stock = await session.get(Stock, product_id)
    assert stock is not None
    return stock.on_hand, stock.reserved


async def _reservation(app: FastAPI, order_id: uuid.UUID) -> Reservation | None:
    async with service_state(app).sessionmaker() as session:
        reservation: Reservation | None = await session.scalar(
            select(Reservation).where(Reservation.order_id == order_id)
        )
    return reservation


async def _published(app: FastAPI) -> list[CloudEvent]:
    """The outbox's envelopes, oldest first (each must be a valid CloudEvent)."""
    async with service_state(app).sessionmaker() as session:
        rows = await session.scalars(select(OutboxMessage).order_by(OutboxMessage.created_at))
        return [CloudEvent.model_validate(row.envelope) for row in rows]


async def _rows[T](app: FastAPI, model: type[T]) -> list[T]:
    async with service_state(app).sessionmaker() as session:
        return list(await session.scalars(select(model)))


async def _count(app: FastAPI, model: type[Any]) -> int:
    async with service_state(app).sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _available(client: httpx.AsyncClient, product_id: uuid.UUID) -> int:
    response = await client.get(f"/api/v1/products/{product_id}")
    assert response.status_code == 200, response.text
    return int(response.json()["available"])


@pytest.fixture
async def stocked(make_category: Callable[..., Any], make_product: Callable[..., Any]) -> Stocked:
    """``await stocked(on_hand, **fields)``: a product with that stock; returns its id."""
    category = await make_category("mugs")

    async def make(on_hand: int, **fields: Any) -> uuid.UUID:
        product = await make_product(category, on_hand=on_hand, **fields)
        return uuid.UUID(product["id"])

    return make


# order.placed


async def test_placed_all_lines_in_stock_reserves_and_emits_stock_reserved(
    app: FastAPI,
    client: httpx.AsyncClient,
    consumer: EventConsumer,
    cloud_event: Events,
    stocked: Stocked,
) -> None:
    mug, jug = await stocked(5), await stocked(3)
    order_id = new_id()
    assert await _available(client, mug) == 5  # now cached: the reservation must drop the entry

    applied = await consumer.deliver(cloud_event(_placed(order_id, (mug, 2), (jug, 3))))

    assert applied is True
    assert await _stock(app, mug) == (5, 2)
    assert await _stock(app, jug) == (3, 3)
    assert await _available(client, mug) == 3
    reservation = await _reservation(app, order_id)
    assert reservation is not None
    assert reservation.state == "reserved"
    [event] = await _published(app)
    assert (event.type, event.source, event.subject) == (
        "stock.reserved",
        "/agora/catalog",
        str(order_id),
    )
    assert event.dataschema == StockReservedV1.schema_uri()
    reserved = StockReservedV1.model_validate(event.data)
    assert reserved.order_id == order_id
    assert reserved.lines == [
        OrderLine(product_id=mug, quantity=2),
        OrderLine(product_id=jug, quantity=3),
    ]


async def test_placed_one_line_short_reserves_nothing_and_emits_stock_rejected(
    app: FastAPI,
    client: httpx.AsyncClient,
    consumer: EventConsumer,
    cloud_event: Events,
    stocked: Stocked,
) -> None:
    mug, jug = await stocked(5), await stocked(1)
    order_id = new_id()

    applied = await consumer.deliver(cloud_event(_placed(order_id, (mug, 2), (jug, 3))))

    assert applied is True
    assert await _stock(app, mug) == (5, 0)
    assert await _stock(app, jug) == (1, 0)
    assert await _available(client, mug) == 5
    reservation = await _reservation(app, order_id)
    assert reservation is not None
    assert reservation.state == "rejected"
    [event] = await _published(app)
    assert (event.type, event.subject) == ("stock.rejected", str(order_id))
    assert event.dataschema == StockRejectedV1.schema_uri()
    rejected = StockRejectedV1.model_validate(event.data)
    assert rejected.order_id == order_id
    assert rejected.short == [ShortLine(product_id=jug, requested=3, available=1)]


async def test_placed_unknown_and_inactive_products_are_short_with_nothing_available(
    app: FastAPI, consumer: EventConsumer, cloud_event: Events, stocked: Stocked
) -> None:
    mug, retired, unknown = await stocked(5), await stocked(5, active=False), new_id()

    applied = await consumer.deliver(
        cloud_event(_placed(new_id(), (mug, 1), (retired, 1), (unknown, 1)))
    )

    assert applied is True
    assert await _stock(app, mug) == (5, 0)
    assert await _stock(app, retired) == (5, 0)
    [event] = await _published(app)
    short = StockRejectedV1.model_validate(event.data).short
    assert sorted(short, key=lambda line: line.product_id) == sorted(
        [
            ShortLine(product_id=retired, requested=1, available=0),
            ShortLine(product_id=unknown, requested=1, available=0),
        ],
        key=lambda line: line.product_id,
    )


async def test_placed_duplicate_lines_reserves_their_sum(
    app: FastAPI, consumer: EventConsumer, cloud_event: Events, stocked: Stocked
) -> None:
    mug = await stocked(5)
    order_id = new_id()

    await consumer.deliver(cloud_event(_placed(order_id, (mug, 2), (mug, 1))))

    assert await _stock(app, mug) == (5, 3)
    reservation = await _reservation(app, order_id)
    assert reservation is not None
    assert reservation.lines == [{"product_id": str(mug), "quantity": 3}]


async def test_placed_duplicate_lines_over_stock_rejects_with_their_sum(
    app: FastAPI, consumer: EventConsumer, cloud_event: Events, stocked: Stocked
) -> None:
    mug = await stocked(3)

    await consumer.deliver(cloud_event(_placed(new_id(), (mug, 2), (mug, 2))))

    assert await _stock(app, mug) == (3, 0)
    [event] = await _published(app)
    assert StockRejectedV1.model_validate(event.data).short == [
        ShortLine(product_id=mug, requested=4, available=3)
    ]


async def test_placed_redelivered_reserves_once(
    app: FastAPI, consumer: EventConsumer, cloud_event: Events, stocked: Stocked
) -> None:
    mug = await stocked(5)
    body = cloud_event(_placed(new_id(), (mug, 2)))

    assert await consumer.deliver(body) is True
    assert await consumer.deliver(body) is True

    assert await _stock(app, mug) == (5, 2)
    assert len(await _published(app)) == 1
    assert await _count(app, Inbox) == 1


async def test_placed_second_event_for_same_order_reserves_once(
    app: FastAPI, consumer: EventConsumer, cloud_event: Events, stocked: Stocked
) -> None:
    mug = await stocked(5)
    order = _placed(new_id(), (mug, 2))

    assert await consumer.deliver(cloud_event(order)) is True
    assert await consumer.deliver(cloud_event(order)) is True

    assert await _stock(app, mug) == (5, 2)
    assert await _count(app, Reservation) == 1
    assert [event.type for event in await _published(app)] == ["stock.reserved"]
    assert await _count(app, Inbox) == 2


async def test_placed_second_event_for_rejected_order_stays_rejected(
    app: FastAPI, consumer: EventConsumer, cloud_event: Events, stocked: Stocked
) -> None:
    mug = await stocked(1)
    order_id = new_id()
    await consumer.deliver(cloud_event(_placed(order_id, (mug, 2))))

    # Stock arrives meanwhile; the order was answered already and is not reserved behind its back.
    async with service_state(app).sessionmaker.begin() as session:
        stock = await session.get(Stock, mug)
        assert stock is not None
        stock.on_hand = 5
    await consumer.deliver(cloud_event(_placed(order_id, (mug, 2))))

    assert await _stock(app, mug) == (5, 0)
    reservation = await _reservation(app, order_id)
    assert reservation is not None
    assert reservation.state == "rejected"


# order.cancelled


async def test_cancelled_reserved_order_releases_its_units(
    app: FastAPI,
    client: httpx.AsyncClient,
    consumer: EventConsumer,
    cloud_event: Events,
    stocked: Stocked,
) -> None:
    mug = await stocked(5)
    order_id = new_id()
    await consumer.deliver(cloud_event(_placed(order_id, (mug, 2))))
    assert await _available(client, mug) == 3  # cached again: the release must drop it

    assert await consumer.deliver(cloud_event(_cancelled(order_id))) is True

    assert await _stock(app, mug) == (5, 0)
    assert await _available(client, mug) == 5
    reservation = await _reservation(app, order_id)
    assert reservation is not None
    assert reservation.state == "released"


async def test_cancelled_twice_releases_once(
    app: FastAPI, consumer: EventConsumer, cloud_event: Events, stocked: Stocked
) -> None:
    mug = await stocked(5)
    cancelled_order, other_order = new_id(), new_id()
    await consumer.deliver(cloud_event(_placed(cancelled_order, (mug, 2))))
    await consumer.deliver(cloud_event(_placed(other_order, (mug, 2))))

    # Two distinct events (not a redelivery): the reservation's state must stop the second.
    assert await consumer.deliver(cloud_event(_cancelled(cancelled_order))) is True
    assert await consumer.deliver(cloud_event(_cancelled(cancelled_order))) is True

    assert await _stock(app, mug) == (5, 2)


async def test_cancelled_before_placed_makes_late_placed_reserve_nothing(
    app: FastAPI, consumer: EventConsumer, cloud_event: Events, stocked: Stocked
) -> None:
    mug = await stocked(5)
    order_id = new_id()

    assert await consumer.deliver(cloud_event(_cancelled(order_id))) is True
    assert await consumer.deliver(cloud_event(_placed(order_id, (mug, 2)))) is True

    assert await _stock(app, mug) == (5, 0)
    reservation = await _reservation(app, order_id)
    assert reservation is not None
    assert reservation.state == "released"
    assert await _published(app) == []


async def test_cancelled_rejected_order_gives_nothing_back(
    app: FastAPI, consumer: EventConsumer, cloud_event: Events, stocked: Stocked
) -> None:
    mug = await stocked(5)
    rejected_order = new_id()
    await consumer.deliver(cloud_event(_placed(new_id(), (mug, 3))))
    await consumer.deliver(cloud_event(_placed(rejected_order, (mug, 3))))

    assert await consumer.deliver(cloud_event(_cancelled(rejected_order))) is True

    assert await _stock(app, mug) == (5, 3)
    reservation = await _reservation(app, rejected_order)
    assert reservation is not None
    assert reservation.state == "rejected"


# order.paid


async def test_paid_reserved_order_takes_its_units_off_the_shelf(
    app: FastAPI,
    client: httpx.AsyncClient,
    consumer: EventConsumer,
    cloud_event: Events,
    stocked: Stocked,
) -> None:
    mug, jug = await stocked(5), await stocked(4)
    order_id = new_id()
    await consumer.deliver(cloud_event(_placed(order_id, (mug, 2), (jug, 1))))

    assert await consumer.deliver(cloud_event(_paid(order_id))) is True

    assert await _stock(app, mug) == (3, 0)
    assert await _stock(app, jug) == (3, 0)
    assert await _available(client, mug) == 3
    reservation = await _reservation(app, order_id)
    assert reservation is not None
    assert reservation.state == "committed"


async def test_paid_twice_takes_units_once(
    app: FastAPI, consumer: EventConsumer, cloud_event: Events, stocked: Stocked
) -> None:
    mug = await stocked(5)
    order_id = new_id()
    await consumer.deliver(cloud_event(_placed(order_id, (mug, 2))))

    assert await consumer.deliver(cloud_event(_paid(order_id))) is True
    assert await consumer.deliver(cloud_event(_paid(order_id))) is True

    assert await _stock(app, mug) == (3, 0)


async def test_paid_without_reservation_dead_letters_after_three_tries(
    app: FastAPI, consumer: EventConsumer, cloud_event: Events, stocked: Stocked
) -> None:
    mug = await stocked(5)
    order_id = new_id()

    assert await consumer.deliver(cloud_event(_paid(order_id))) is False

    [letter] = await _rows(app, DeadLetter)
    assert letter.attempts == 3
    assert letter.event_type == "order.paid"
    assert letter.error.startswith("ReservationMissing:")
    assert str(order_id) in letter.error
    assert await _count(app, Inbox) == 0  # the failed tries rolled back their inbox claims
    assert await _reservation(app, order_id) is None
    assert await _stock(app, mug) == (5, 0)


async def test_paid_after_cancelled_dead_letters_and_keeps_the_stock(
    app: FastAPI, consumer: EventConsumer, cloud_event: Events, stocked: Stocked
) -> None:
    mug = await stocked(5)
    order_id = new_id()
    await consumer.deliver(cloud_event(_placed(order_id, (mug, 2))))
    await consumer.deliver(cloud_event(_cancelled(order_id)))

    assert await consumer.deliver(cloud_event(_paid(order_id))) is False

    [letter] = await _rows(app, DeadLetter)
    assert "reservation is released" in letter.error
    assert await _stock(app, mug) == (5, 0)


async def test_cancelled_after_paid_keeps_the_sale(
    app: FastAPI, consumer: EventConsumer, cloud_event: Events, stocked: Stocked
) -> None:
    mug = await stocked(5)
    order_id = new_id()
    await consumer.deliver(cloud_event(_placed(order_id, (mug, 2))))
    await consumer.deliver(cloud_event(_paid(order_id)))

    assert await consumer.deliver(cloud_event(_cancelled(order_id))) is True

    assert await _stock(app, mug) == (3, 0)
    reservation = await _reservation(app, order_id)
    assert reservation is not None
    assert reservation.state == "committed"


@pytest.mark.parametrize(
    ("answer", "mug_after"), [(_paid, (3, 0)), (_cancelled, (5, 0))], ids=["paid", "cancelled"]
)
async def test_answer_after_product_deleted_settles_the_other_lines(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin: dict[str, str],
    consumer: EventConsumer,
    cloud_event: Events,
    stocked: Stocked,
    answer: Callable[[uuid.UUID], EventPayload],
    mug_after: tuple[int, int],
) -> None:
    mug, jug = await stocked(5), await stocked(4)
    order_id = new_id()
    await consumer.deliver(cloud_event(_placed(order_id, (mug, 2), (jug, 1))))
    # The API refuses to delete a product with reserved units (409); an operator's SQL does not.
    refused = await client.delete(f"/api/v1/products/{jug}", headers=admin | {"If-Match": "*"})
    assert refused.status_code == 409, refused.text
    async with service_state(app).sessionmaker.begin() as session:
        await session.execute(text("DELETE FROM products WHERE id = :id"), {"id": jug})

    assert await consumer.deliver(cloud_event(answer(order_id))) is True

    assert await _stock(app, mug) == mug_after
