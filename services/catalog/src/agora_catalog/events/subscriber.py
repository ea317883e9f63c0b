"""Catalog's consumer: order events reserve, release and sell stock."""

from __future__ import annotations

from agora_catalog.models import DeadLetter, Inbox
from agora_catalog.services.cache import ProductCache
from agora_catalog.wiring import reservation_services
from agora_chassis.db import Session, SessionFactory
from agora_chassis.messaging import Broker, EventConsumer, RetryPolicy
from agora_chassis.messaging.asyncapi import ServiceChannels
from agora_contracts.catalog import ProductPriceChangedV1, StockRejectedV1, StockReservedV1
from agora_contracts.envelope import CloudEvent
from agora_contracts.ordering import OrderCancelledV1, OrderPaidV1, OrderPlacedV1

CONSUMER_GROUP = "catalog"

CHANNELS = ServiceChannels(
    service=CONSUMER_GROUP,
    publishes=(StockReservedV1, StockRejectedV1, ProductPriceChangedV1),
    consumes=(OrderPlacedV1, OrderCancelledV1, OrderPaidV1),
)
"""What catalog publishes (outbox) and consumes; its AsyncAPI document is generated from this."""


def build_consumer(
    broker: Broker | None,
    sessionmaker: SessionFactory,
    cache: ProductCache,
    retry: RetryPolicy | None = None,
) -> EventConsumer:
    """Create the consumer and subscribe its handlers (call before the broker starts).

    Args:
        broker: The broker, not started yet; ``None`` for a consumer that only replays.
        sessionmaker: Opens the consumer's transactions.
        cache: The product cache the stock changes invalidate.
        retry: Tries and backoff (default: the chassis policy, 3 tries).

    Returns:
        The consumer.
    """
    consumer = EventConsumer(
        broker,
        sessionmaker,
        group=CONSUMER_GROUP,
        inbox_model=Inbox,
        dead_letter_model=DeadLetter,
        retry=retry,
    )

    reservations = reservation_services(cache)

    @consumer.handler(OrderPlacedV1)
    async def reserve(session: Session, payload: OrderPlacedV1, _event: CloudEvent) -> None:
        await reservations(session).reserve(payload.order_id, payload.lines)

    @consumer.handler(OrderCancelledV1)
    async def release(session: Session, payload: OrderCancelledV1, _event: CloudEvent) -> None:
        await reservations(session).release(payload.order_id)

    @consumer.handler(OrderPaidV1)
    async def sell(session: Session, payload: OrderPaidV1, _event: CloudEvent) -> None:
        await reservations(session).commit(payload.order_id)

    return consumer
