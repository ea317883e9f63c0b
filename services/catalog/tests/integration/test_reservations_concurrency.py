"""Concurrency proof: simultaneous orders never oversell, never go negative, never deadlock.

Each order is delivered in its own transaction, all at once (``asyncio.gather``), against the real
PostgreSQL; the pool (10 + 10 connections) makes twenty of them race at any moment. A watcher reads
the stock rows all along. Retries would hide deadlocks and lost updates, so the tests also demand
that no handler had to be tried twice.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from agora_catalog.models import DeadLetter, OutboxMessage, Reservation, Stock
from agora_chassis.db import utcnow
from agora_chassis.ids import new_id
from agora_chassis.messaging import EventConsumer
from agora_chassis.state import service_state
from agora_contracts.catalog import StockRejectedV1
from agora_contracts.envelope import EventPayload
from agora_contracts.ordering import OrderCancelledV1, OrderLine, OrderPlacedV1

pytestmark = pytest.mark.integration

Events = Callable[[EventPayload], bytes]
Stocked = Callable[..., Awaitable[uuid.UUID]]

LAST_UNITS = 10
ORDERS = 50
WATCH_INTERVAL_SECONDS = 0.005


def _placed(order_id: uuid.UUID, *lines: tuple[uuid.UUID, int]) -> OrderPlacedV1:
    return OrderPlacedV1(
        order_id=order_id,
        buyer_id=new_id(),
        lines=[OrderLine(product_id=product_id, quantity=units) for product_id, units in lines],
        placed_at=utcnow(),
    )


def _retries(event_type: str) -> float:
    labels = {"group": "catalog", "event_type": event_type}
    return REGISTRY.get_sample_value("agora_events_retried_total", labels) or 0.0


async def _stock(app: FastAPI, product_id: uuid.UUID) -> tuple[int, int]:
    async with service_state(app).sessionmaker() as session:
        stock = await session.get(Stock, product_id)
    assert stock is not None
    return stock.on_hand, stock.reserved


async def _states(app: FastAPI) -> Counter[str]:
    async with service_state(app).sessionmaker() as session:
        return Counter(await session.scalars(select(Reservation.state)))


async def _published(app: FastAPI) -> Counter[str]:
    async with service_state(app).sessionmaker() as session:
        return Counter(await session.scalars(select(OutboxMessage.event_type)))


async def _dead_letters(app: FastAPI) -> int:
    async with service_state(app).sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(DeadLetter)) or 0)


@asynccontextmanager
async def _watching(app: FastAPI, product_ids: list[uuid.UUID]) -> AsyncIterator[list[int]]:
    """Sample ``on_hand - reserved`` of the products until the block ends; yields the samples."""
    samples: list[int] = []
    done = asyncio.Event()

    async def watch() -> None:
        while not done.is_set():
            async with service_state(app).sessionmaker() as session:
                rows = await session.scalars(select(Stock).where(Stock.product_id.in_(product_ids)))
                samples.extend(stock.on_hand - stock.reserved for stock in rows)
            await asyncio.sleep(WATCH_INTERVAL_SECONDS)

    watcher = asyncio.create_task(watch())
    try:
        yield samples
    finally:
        done.set()
        await watcher


@pytest.fixture
async def stocked(make_category: Callable[..., Any], make_product: Callable[..., Any]) -> Stocked:
    """``await stocked(on_hand)``: a product with that stock; returns its id."""
    category = await make_category("last-units")

    async def make(on_hand: int) -> uuid.UUID:
        return uuid.UUID((await make_product(category, on_hand=on_hand))["id"])

    return make


async def test_placed_50_orders_for_last_10_units_reserve_exactly_10(
    app: FastAPI, consumer: EventConsumer, cloud_event: Events, stocked: Stocked
) -> None:
    mug = await stocked(LAST_UNITS)
    bodies = [cloud_event(_placed(new_id(), (mug, 1))) for _ in range(ORDERS)]
    retries_before = _retries("order.placed")

    async with _watching(app, [mug]) as samples:
        applied = await asyncio.gather(*(consumer.deliver(body) for body in bodies))

    assert applied == [True] * ORDERS
    assert await _stock(app, mug) == (LAST_UNITS, LAST_UNITS)
    assert await _states(app) == {"reserved": LAST_UNITS, "rejected": ORDERS - LAST_UNITS}
    published = await _published(app)
    assert published == {"stock.reserved": LAST_UNITS, "stock.rejected": ORDERS - LAST_UNITS}
    assert samples
    assert min(samples) >= 0
    assert await _dead_letters(app) == 0
    assert _retries("order.placed") == retries_before


async def test_placed_50_orders_needing_two_products_reserve_10_without_deadlock(
    app: FastAPI, consumer: EventConsumer, cloud_event: Events, stocked: Stocked
) -> None:
    mug, jug = await stocked(LAST_UNITS), await stocked(LAST_UNITS)
    # Half the orders list the products the other way round: locking in line order would deadlock.
    bodies = [
        cloud_event(_placed(new_id(), *([(mug, 1), (jug, 1)][:: 1 if n % 2 else -1])))
        for n in range(ORDERS)
    ]
    retries_before = _retries("order.placed")

    async with _watching(app, [mug, jug]) as samples:
        applied = await asyncio.gather(*(consumer.deliver(body) for body in bodies))

    assert applied == [True] * ORDERS
    assert await _stock(app, mug) == (LAST_UNITS, LAST_UNITS)
    assert await _stock(app, jug) == (LAST_UNITS, LAST_UNITS)
    assert await _states(app) == {"reserved": LAST_UNITS, "rejected": ORDERS - LAST_UNITS}
    assert min(samples) >= 0
    assert await _dead_letters(app) == 0
    assert _retries("order.placed") == retries_before


async def test_placed_orders_racing_cancellations_keep_reserved_equal_to_live_reservations(
    app: FastAPI, consumer: EventConsumer, cloud_event: Events, stocked: Stocked
) -> None:
    mug = await stocked(LAST_UNITS)
    first = [new_id() for _ in range(LAST_UNITS)]
    await asyncio.gather(*(consumer.deliver(cloud_event(_placed(o, (mug, 1)))) for o in first))
    cancellations = [
        cloud_event(OrderCancelledV1(order_id=o, reason="test", cancelled_at=utcnow()))
        for o in first[: LAST_UNITS // 2]
    ]
    newcomers = [cloud_event(_placed(new_id(), (mug, 1))) for _ in range(LAST_UNITS)]
    paired = zip(cancellations, newcomers[: len(cancellations)], strict=True)
    bodies = [body for pair in paired for body in pair] + newcomers[len(cancellations) :]

    async with _watching(app, [mug]) as samples:
        applied = await asyncio.gather(*(consumer.deliver(body) for body in bodies))

    assert all(applied)
    states = await _states(app)
    on_hand, reserved = await _stock(app, mug)
    assert (on_hand, reserved) == (LAST_UNITS, states["reserved"])
    assert states["released"] == len(cancellations)
    assert states["reserved"] + states["rejected"] == LAST_UNITS + len(newcomers) - len(
        cancellations
    )
    assert min(samples) >= 0


async def test_placed_same_order_twice_at_once_reserves_once(
    app: FastAPI, consumer: EventConsumer, cloud_event: Events, stocked: Stocked
) -> None:
    mug = await stocked(LAST_UNITS)
    order = _placed(new_id(), (mug, 3))

    # Two events (two inbox ids) for one order: the reservation's unique order id settles it.
    applied = await asyncio.gather(*(consumer.deliver(cloud_event(order)) for _ in range(2)))

    assert applied == [True, True]
    assert await _stock(app, mug) == (LAST_UNITS, 3)
    assert await _states(app) == {"reserved": 1}
    assert await _published(app) == {"stock.reserved": 1}
    assert await _dead_letters(app) == 0


async def test_placed_rejections_report_what_was_left(
    app: FastAPI, consumer: EventConsumer, cloud_event: Events, stocked: Stocked
) -> None:
    mug = await stocked(LAST_UNITS)
    bodies = [cloud_event(_placed(new_id(), (mug, 4))) for _ in range(ORDERS // 5)]

    await asyncio.gather(*(consumer.deliver(body) for body in bodies))

    assert await _stock(app, mug) == (LAST_UNITS, 8)
    async with service_state(app).sessionmaker() as session:
        rows = await session.scalars(
            select(OutboxMessage.envelope).where(OutboxMessage.event_type == "stock.rejected")
        )
        shorts = [StockRejectedV1.model_validate(envelope["data"]).short for envelope in rows]
    assert len(shorts) == ORDERS // 5 - 2
    assert {(line.requested, line.available) for [line] in shorts} == {(4, 2)}
