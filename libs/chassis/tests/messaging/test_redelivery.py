"""The broker, not the consumer's process, schedules retries: a waiting message holds nothing up.

Runs on real NATS JetStream (NAK with delay), real RabbitMQ (``AGORA_TEST_RABBITMQ_URL``; TTL +
dead-letter wait queues) and FastStream's Kafka test broker (retry topics).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Annotated, Any

import pytest
from faststream import Context
from faststream.message import StreamMessage
from faststream.nats import NatsBroker
from faststream.rabbit import RabbitBroker, RabbitQueue
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agora_chassis.db import create_engine, create_sessionmaker
from agora_chassis.messaging import Broker, EventConsumer, RetryPolicy, publish_envelope
from agora_chassis.messaging.broker import channel_name, events_exchange
from agora_chassis.messaging.consumer import dead_letter_event_type
from agora_chassis.messaging.redelivery import Attempt
from agora_chassis.outbox import build_event
from agora_cli.infra.ports import free_port
from agora_contracts.envelope import CloudEvent
from libs.chassis.tests.messaging.support import (
    DeadLetter,
    Effect,
    InboxMessage,
    count,
    payload_class,
    wait_for,
)

pytestmark = pytest.mark.integration

WAIT_SECONDS = 3.0
"""Long enough that a message applied meanwhile proves the wait did not hold the consumer."""
SLOW_RETRY = RetryPolicy(base_delay=WAIT_SECONDS, multiplier=1.0, jitter=0.0)
QUICK_RETRY = RetryPolicy(base_delay=0.05, multiplier=2.0, jitter=0.0)
ADDRESS = "ada.lovelace@example.com"
MARGIN = 0.8


class Handler:
    """Fails the events named in ``failing`` their first ``failures`` tries; records each call."""

    def __init__(self, failing: set[str], failures: int, error: Exception) -> None:
        self.failing, self.failures, self.error = failing, failures, error
        self.calls: list[tuple[str, float]] = []

    async def __call__(self, session: AsyncSession, _payload: Any, event: CloudEvent) -> None:
        self.calls.append((event.id, time.monotonic()))
        tries = sum(1 for event_id, _at in self.calls if event_id == event.id)
        if event.id in self.failing and tries <= self.failures:
            raise self.error
        session.add(Effect(event_id=event.id))

    def times(self, event_id: str) -> list[float]:
        return [at for called, at in self.calls if called == event_id]


def watch_headers(broker: Broker, event_type: str, seen: list[dict[str, Any]]) -> None:
    """Record the headers of every message on an event type's channel."""

    async def record(message: Annotated[StreamMessage[Any], Context("message")]) -> None:
        seen.append(dict(message.headers))

    channel = channel_name(event_type)
    if isinstance(broker, NatsBroker):
        broker.subscriber(channel)(record)  # a core subscription sees JetStream publishes too
    elif isinstance(broker, RabbitBroker):
        queue = RabbitQueue(f"watch-{uuid.uuid4().hex[:8]}", auto_delete=True, routing_key=channel)
        broker.subscriber(queue, events_exchange())(record)
    else:
        broker.subscriber(channel, group_id=f"watch-{uuid.uuid4().hex[:8]}")(record)


def consumer_on(
    broker: Broker | None,
    sessionmaker: async_sessionmaker[AsyncSession],
    group: str,
    retry: RetryPolicy,
) -> EventConsumer:
    return EventConsumer(
        broker,
        sessionmaker,
        group=group,
        inbox_model=InboxMessage,
        dead_letter_model=DeadLetter,
        retry=retry,
    )


async def test_redelivery_waiting_retry_does_not_hold_later_messages(
    broker_kind: str,
    running_broker: Callable[..., Any],
    sessionmaker: async_sessionmaker[AsyncSession],
    fresh_type: str,
) -> None:
    if broker_kind == "kafka":
        pytest.skip("the Kafka test broker runs handlers inline: nothing runs while one waits")
    payload_type = payload_class(fresh_type)
    failing, later = (build_event(payload_type(thing_id=uuid.uuid4()), source="/t") for _ in "ab")
    handler = Handler({failing.id}, failures=1, error=RuntimeError("smtp down"))

    def register(broker: Broker) -> None:
        consumer = consumer_on(broker, sessionmaker, f"g-{uuid.uuid4().hex[:6]}", SLOW_RETRY)
        consumer.handler(payload_type)(handler)

    async def applied(event: CloudEvent) -> bool:
        return await count(sessionmaker, Effect, Effect.event_id == event.id) == 1

    async with running_broker(register) as broker:
        for event in (failing, later):
            body = event.model_dump_json().encode()
            await publish_envelope(broker, body, event_type=fresh_type, key=None, headers={})
        await wait_for(lambda: applied(later))
        assert not await applied(failing)  # still waiting at the broker
        await wait_for(lambda: applied(failing), seconds=WAIT_SECONDS * 4)

    first, second = handler.times(failing.id)
    assert second - first >= WAIT_SECONDS * MARGIN  # the broker waited, the consumer did not
    assert handler.times(later.id)[0] < second
    assert await count(sessionmaker, DeadLetter) == 0


async def test_redelivery_always_failing_dead_letters_after_three_broker_tries_without_pii(
    running_broker: Callable[..., Any],
    sessionmaker: async_sessionmaker[AsyncSession],
    fresh_type: str,
) -> None:
    payload_type = payload_class(fresh_type)
    event = build_event(payload_type(thing_id=uuid.uuid4()), source="/t")
    handler = Handler({event.id}, failures=1000, error=RuntimeError(f"refused <{ADDRESS}>"))
    group = f"g-{uuid.uuid4().hex[:6]}"
    headers: list[dict[str, Any]] = []

    def register(broker: Broker) -> None:
        consumer_on(broker, sessionmaker, group, QUICK_RETRY).handler(payload_type)(handler)
        watch_headers(broker, dead_letter_event_type(group), headers)

    async def announced() -> bool:
        return bool(headers)

    async with running_broker(register) as broker:
        body = event.model_dump_json().encode()
        await publish_envelope(broker, body, event_type=fresh_type, key=None, headers={})
        await wait_for(announced)

    async with sessionmaker() as session:
        letter = (await session.scalars(select(DeadLetter))).one()
    assert len(handler.times(event.id)) == QUICK_RETRY.tries == letter.attempts
    assert letter.first_failed_at < letter.last_failed_at
    assert letter.error == f"RuntimeError: refused <{ADDRESS}>"  # the table keeps the detail
    assert headers[0]["x-error"] == "RuntimeError"
    assert headers[0]["x-attempts"] == str(QUICK_RETRY.tries)
    assert not any(ADDRESS in str(value) for value in headers[0].values())


async def test_redelivery_database_down_every_try_and_dead_letter_retry_later(
    fresh_type: str,
) -> None:
    engine = create_engine(f"postgresql+asyncpg://agora:agora@127.0.0.1:{free_port()}/gone")
    consumer = consumer_on(None, create_sessionmaker(engine), "offline", QUICK_RETRY)
    payload_type = payload_class(fresh_type)
    consumer.handler(payload_type)(Handler(set(), 0, RuntimeError()))
    body = build_event(payload_type(thing_id=uuid.uuid4()), source="/t").model_dump_json().encode()
    try:
        retries = [await consumer.on_delivery(body, Attempt(n)) for n in (1, 2, 3, 4)]
        undecodable = await consumer.on_delivery(b"not json", Attempt(1))
        with pytest.raises(OSError):  # without a broker nothing can wait: the caller hears it
            await consumer.deliver(body)
    finally:
        await engine.dispose()

    # The last tries could not even store the dead letter: they wait as long as the last stage.
    delays = [retry.delay if retry else 0.0 for retry in [*retries, undecodable]]
    last_stage = QUICK_RETRY.nominal_delay(QUICK_RETRY.tries - 1)
    assert delays == [0.05, 0.1, last_stage, last_stage, 0.05]
