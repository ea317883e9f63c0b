"""Reliable messaging: broker selection, the outbox relay, the inbox, consumers and dead letters.

Delivery is at least once (the relay republishes anything not confirmed); the inbox turns that into
effectively-once processing. A failing handler is retried by the broker after a growing delay
(:mod:`agora_chassis.messaging.redelivery`, ADR 0008), then dead-lettered. See each module for the
details.
"""

from agora_chassis.messaging.broker import (
    Broker,
    channel_name,
    make_broker,
    publish_envelope,
    subscribe_raw,
)
from agora_chassis.messaging.consumer import (
    EventConsumer,
    Handler,
    PermanentFailure,
    Postpone,
    UndecodableMessage,
)
from agora_chassis.messaging.deadletters import DeadLetterMixin, add_dead_letter
from agora_chassis.messaging.inbox import InboxMixin, claim
from agora_chassis.messaging.redelivery import Attempt, Retry, subscribe_with_retries
from agora_chassis.messaging.relay import Relay, relay_batch, start_relay
from agora_chassis.messaging.retry import RetryPolicy

__all__ = [
    "Attempt",
    "Broker",
    "DeadLetterMixin",
    "EventConsumer",
    "Handler",
    "InboxMixin",
    "PermanentFailure",
    "Postpone",
    "Relay",
    "Retry",
    "RetryPolicy",
    "UndecodableMessage",
    "add_dead_letter",
    "channel_name",
    "claim",
    "make_broker",
    "publish_envelope",
    "relay_batch",
    "start_relay",
    "subscribe_raw",
    "subscribe_with_retries",
]
