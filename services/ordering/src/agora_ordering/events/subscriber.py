"""Ordering's consumer: catalog's and payment's replies move the checkout saga on."""

from __future__ import annotations

from collections.abc import Callable

from agora_chassis.db import Session, SessionFactory
from agora_chassis.messaging import Broker, EventConsumer, RetryPolicy
from agora_chassis.messaging.asyncapi import ServiceChannels
from agora_contracts.catalog import StockRejectedV1, StockReservedV1
from agora_contracts.envelope import CloudEvent
from agora_contracts.ordering import (
    OrderAwaitingPaymentV1,
    OrderCancelledV1,
    OrderPaidV1,
    OrderPlacedV1,
    OrderRefundRequestedV1,
)
from agora_contracts.payment import PaymentFailedV1, PaymentRefundedV1, PaymentSucceededV1
from agora_ordering.models import DeadLetter, Inbox
from agora_ordering.services.saga import SagaService

CONSUMER_GROUP = "ordering"

CHANNELS = ServiceChannels(
    service=CONSUMER_GROUP,
    publishes=(
        OrderPlacedV1,
        OrderAwaitingPaymentV1,
        OrderPaidV1,
        OrderCancelledV1,
        OrderRefundRequestedV1,
    ),
    consumes=(
        StockReservedV1,
        StockRejectedV1,
        PaymentSucceededV1,
        PaymentFailedV1,
        PaymentRefundedV1,
    ),
)
"""What ordering publishes (outbox) and consumes; its AsyncAPI document is generated from this."""


def build_consumer(
    broker: Broker | None,
    sessionmaker: SessionFactory,
    saga: Callable[[Session], SagaService],
    retry: RetryPolicy | None = None,
) -> EventConsumer:
    """Create the consumer and subscribe its handlers (call before the broker starts).

    Args:
        broker: The broker, not started yet; ``None`` for a consumer that only replays.
        sessionmaker: Opens the consumer's transactions.
        saga: Builds the saga service of one message's transaction (from the wiring).
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

    @consumer.handler(StockReservedV1)
    async def reserved(session: Session, payload: StockReservedV1, _event: CloudEvent) -> None:
        await saga(session).stock_reserved(payload)

    @consumer.handler(StockRejectedV1)
    async def rejected(session: Session, payload: StockRejectedV1, _event: CloudEvent) -> None:
        await saga(session).stock_rejected(payload)

    @consumer.handler(PaymentSucceededV1)
    async def paid(session: Session, payload: PaymentSucceededV1, _event: CloudEvent) -> None:
        await saga(session).payment_succeeded(payload)

    @consumer.handler(PaymentFailedV1)
    async def failed(session: Session, payload: PaymentFailedV1, _event: CloudEvent) -> None:
        await saga(session).payment_failed(payload)

    @consumer.handler(PaymentRefundedV1)
    async def refunded(session: Session, payload: PaymentRefundedV1, _event: CloudEvent) -> None:
        await saga(session).payment_refunded(payload)

    return consumer
