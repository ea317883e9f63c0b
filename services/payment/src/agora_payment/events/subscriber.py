"""Payment's consumer: an order awaiting payment is charged; a refund request is refunded."""

from __future__ import annotations

from agora_chassis.db import Session, SessionFactory
from agora_chassis.messaging import Broker, EventConsumer, RetryPolicy
from agora_chassis.messaging.asyncapi import ServiceChannels
from agora_contracts.envelope import CloudEvent
from agora_contracts.ordering import OrderAwaitingPaymentV1, OrderRefundRequestedV1
from agora_contracts.payment import PaymentFailedV1, PaymentRefundedV1, PaymentSucceededV1
from agora_payment.models import DeadLetter, Inbox
from agora_payment.wiring import PaymentUseCases

CONSUMER_GROUP = "payment"

CHANNELS = ServiceChannels(
    service=CONSUMER_GROUP,
    publishes=(PaymentSucceededV1, PaymentFailedV1, PaymentRefundedV1),
    consumes=(OrderAwaitingPaymentV1, OrderRefundRequestedV1),
)
"""What payment publishes (outbox) and consumes; its AsyncAPI document is generated from this."""


def build_consumer(
    broker: Broker | None,
    sessionmaker: SessionFactory,
    payments: PaymentUseCases,
    retry: RetryPolicy | None = None,
) -> EventConsumer:
    """Create the consumer and subscribe its handlers (call before the broker starts).

    A handler waiting for the provider raises ``Postpone``: the broker brings the message back
    after the policy's first wait, as often as needed, and never dead-letters it for that.

    Args:
        broker: The broker, not started yet; ``None`` for a consumer that only replays.
        sessionmaker: Opens the consumer's transactions.
        payments: The charge and refund use cases.
        retry: Tries and backoff of real failures (default: the chassis policy, 3 tries).

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

    @consumer.handler(OrderAwaitingPaymentV1)
    async def charge(session: Session, payload: OrderAwaitingPaymentV1, _event: CloudEvent) -> None:
        await payments.charges.charge(session, payload)

    @consumer.handler(OrderRefundRequestedV1)
    async def refund(session: Session, payload: OrderRefundRequestedV1, _event: CloudEvent) -> None:
        await payments.refunds.refund(session, payload)

    return consumer
