"""Basket's consumer: a placed order empties the buyer's basket; a new price marks the lines."""

from __future__ import annotations

from agora_basket.models import DeadLetter, Inbox
from agora_basket.schemas.lines import PriceNotice
from agora_basket.services.events import BasketEvents
from agora_chassis.db import Session, SessionFactory
from agora_chassis.messaging import Broker, EventConsumer, RetryPolicy
from agora_chassis.messaging.asyncapi import ServiceChannels
from agora_contracts.catalog import ProductPriceChangedV1
from agora_contracts.envelope import CloudEvent
from agora_contracts.ordering import OrderPlacedV1

CONSUMER_GROUP = "basket"

CHANNELS = ServiceChannels(
    service=CONSUMER_GROUP,
    publishes=(),
    consumes=(OrderPlacedV1, ProductPriceChangedV1),
)
"""What basket consumes (it publishes nothing); its AsyncAPI document is generated from this."""


def build_consumer(
    broker: Broker | None,
    sessionmaker: SessionFactory,
    events: BasketEvents,
    retry: RetryPolicy | None = None,
) -> EventConsumer:
    """Create the consumer and subscribe its handlers (call before the broker starts).

    Args:
        broker: The broker, not started yet; ``None`` for a consumer that only replays.
        sessionmaker: Opens the consumer's inbox transactions.
        events: The use cases the events drive.
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

    @consumer.handler(OrderPlacedV1)
    async def clear(_session: Session, payload: OrderPlacedV1, event: CloudEvent) -> None:
        await events.order_placed(event.id, str(payload.buyer_id))

    @consumer.handler(ProductPriceChangedV1)
    async def note_price(
        _session: Session, payload: ProductPriceChangedV1, _event: CloudEvent
    ) -> None:
        notice = PriceNotice.of(
            str(payload.product_id), payload.new_price, payload.currency, payload.changed_at
        )
        await events.price_changed(notice)

    return consumer
