"""Wires the notification service's consumer.

``user.registered`` → the recipient's row and the welcome e-mail; ``order.paid`` → the order
confirmation; ``order.cancelled`` → the cancellation e-mail.
"""

from __future__ import annotations

from agora_chassis.db import SessionFactory
from agora_chassis.messaging import Broker, EventConsumer, RetryPolicy
from agora_chassis.messaging.asyncapi import ServiceChannels
from agora_contracts.identity import UserRegisteredV1
from agora_contracts.ordering import OrderCancelledV1, OrderPaidV1
from agora_notification.models import DeadLetter, Inbox
from agora_notification.services.notifications import Notifier

CONSUMER_GROUP = "notification"

CHANNELS = ServiceChannels(
    service=CONSUMER_GROUP, consumes=(UserRegisteredV1, OrderPaidV1, OrderCancelledV1)
)
"""What ``build_consumer`` subscribes to; the service's AsyncAPI document is generated from this."""


def build_consumer(
    broker: Broker | None,
    sessionmaker: SessionFactory,
    notifier: Notifier,
    retry: RetryPolicy | None = None,
) -> EventConsumer:
    """Create the consumer and subscribe its handlers (call before the broker starts).

    Args:
        broker: The broker, not started yet; ``None`` for a consumer that only replays.
        sessionmaker: Opens the consumer's transactions (inbox, dead letters).
        notifier: Sends the notifications.
        retry: Tries and backoff (default: the chassis policy, 3 tries).

    Returns:
        The consumer; ``consumer.deliver(body)`` processes one raw message.
    """
    consumer = EventConsumer(
        broker,
        sessionmaker,
        group=CONSUMER_GROUP,
        inbox_model=Inbox,
        dead_letter_model=DeadLetter,
        retry=retry,
    )
    consumer.handler(UserRegisteredV1)(notifier.send_welcome)
    consumer.handler(OrderPaidV1)(notifier.send_order_paid)
    consumer.handler(OrderCancelledV1)(notifier.send_order_cancelled)
    return consumer
