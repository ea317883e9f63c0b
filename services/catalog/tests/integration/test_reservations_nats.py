"""End to end on a real NATS JetStream: a published order.placed reserves the stock, once."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY
from sqlalchemy import select

from agora_catalog.api.deps import catalog_state
from agora_catalog.events.subscriber import build_consumer
from agora_catalog.models import Reservation, Stock
from agora_chassis.db import utcnow
from agora_chassis.ids import new_id
from agora_chassis.messaging import RetryPolicy, make_broker, publish_envelope
from agora_chassis.state import service_state
from agora_contracts.envelope import EventPayload
from agora_contracts.ordering import OrderLine, OrderPlacedV1

pytestmark = pytest.mark.integration

WAIT_SECONDS = 15.0
POLL_SECONDS = 0.05
DUPLICATES = {"group": "catalog", "event_type": "order.placed", "outcome": "duplicate"}


def _duplicates() -> float:
    return REGISTRY.get_sample_value("agora_events_consumed_total", DUPLICATES) or 0.0


async def _wait_for(predicate: Callable[[], Awaitable[bool]]) -> None:
    async with asyncio.timeout(WAIT_SECONDS):
        while not await predicate():  # noqa: ASYNC110 - the state is in PostgreSQL, not an Event
            await asyncio.sleep(POLL_SECONDS)


async def test_order_placed_over_nats_reserves_stock_once(
    app: FastAPI,
    nats_url: str,
    make_category: Callable[..., Any],
    make_product: Callable[..., Any],
    cloud_event: Callable[[EventPayload], bytes],
) -> None:
    product_id = uuid.UUID((await make_product(await make_category("nats"), on_hand=5))["id"])
    order_id = new_id()
    line = OrderLine(product_id=product_id, quantity=2)
    placed = OrderPlacedV1(order_id=order_id, buyer_id=new_id(), lines=[line], placed_at=utcnow())
    body = cloud_event(placed)
    broker = make_broker(nats_url)
    fast = RetryPolicy(base_delay=0.01, max_delay=0.02)
    build_consumer(
        broker, service_state(app).sessionmaker, catalog_state(app).product_cache, retry=fast
    )
    duplicates_before = _duplicates()

    async def reserved() -> bool:
        async with service_state(app).sessionmaker() as session:
            state: str | None = await session.scalar(
                select(Reservation.state).where(Reservation.order_id == order_id)
            )
        return state == "reserved"

    async def redelivery_skipped() -> bool:
        return _duplicates() > duplicates_before

    await broker.start()
    try:
        # The second copy carries no message id, so JetStream cannot drop it as a duplicate (as
        # after its 2-minute window): the consumer's inbox must.
        for headers in ({"ce-id": json.loads(body)["id"]}, {}):
            await publish_envelope(
                broker,
                body,
                event_type=OrderPlacedV1.event_type,
                key=str(order_id),
                headers=headers,
            )
        await _wait_for(reserved)
        await _wait_for(redelivery_skipped)
    finally:
        await broker.stop()

    async with service_state(app).sessionmaker() as session:
        stock = await session.get(Stock, product_id)
    assert stock is not None
    assert (stock.on_hand, stock.reserved) == (5, 2)
