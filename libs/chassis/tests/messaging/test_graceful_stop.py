"""Stopping a consumer never half-applies a message: it is finished, or handed back to the broker.

Runs on real NATS JetStream, where a message neither acknowledged nor NAKed would come back only
after ``ack_wait`` (30 s): a prompt redelivery shows it was handed back.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agora_chassis.messaging import Broker, EventConsumer, make_broker, publish_envelope
from agora_chassis.messaging.broker import NatsBroker, durable_name, stream_for
from agora_chassis.outbox import build_event
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

SHORT_GRACE_SECONDS = 0.5
STILL_WAITING_SECONDS = 0.3
REDELIVERY_SECONDS = 10.0


class Blocking:
    """A handler that writes its effect, then waits for ``release`` before it returns."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self, session: AsyncSession, _payload: Any, event: CloudEvent) -> None:
        session.add(Effect(event_id=event.id))
        await session.flush()  # the effect is in the transaction, not committed
        self.started.set()
        await self.release.wait()


async def applying(session: AsyncSession, _payload: Any, event: CloudEvent) -> None:
    session.add(Effect(event_id=event.id))


def consumer_on(
    broker: Broker, sessionmaker: async_sessionmaker[AsyncSession], group: str
) -> EventConsumer:
    return EventConsumer(
        broker, sessionmaker, group=group, inbox_model=InboxMessage, dead_letter_model=DeadLetter
    )


async def start_handling(
    nats_url: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    fresh_type: str,
    group: str,
    grace: float,
) -> tuple[NatsBroker, Blocking, CloudEvent]:
    """A started broker whose consumer is in the middle of handling one event."""
    payload_type = payload_class(fresh_type)
    broker = make_broker(nats_url, graceful_timeout=grace)
    assert isinstance(broker, NatsBroker)
    handler = Blocking()
    consumer_on(broker, sessionmaker, group).handler(payload_type)(handler)
    await broker.start()
    event = build_event(payload_type(thing_id=uuid.uuid4()), source="/t")
    body = event.model_dump_json().encode()
    await publish_envelope(broker, body, event_type=fresh_type, key=None, headers={})
    await asyncio.wait_for(handler.started.wait(), REDELIVERY_SECONDS)
    return broker, handler, event


async def test_graceful_stop_waits_for_the_running_handler_then_acknowledges(
    nats_url: str, sessionmaker: async_sessionmaker[AsyncSession], fresh_type: str
) -> None:
    group = f"g-{uuid.uuid4().hex[:6]}"
    broker, handler, event = await start_handling(
        nats_url, sessionmaker, fresh_type, group, grace=REDELIVERY_SECONDS
    )

    stopping = asyncio.create_task(broker.stop())
    await asyncio.sleep(STILL_WAITING_SECONDS)
    assert not stopping.done()  # the stop waits for the handler
    handler.release.set()
    await stopping

    assert await count(sessionmaker, Effect, Effect.event_id == event.id) == 1
    assert await count(sessionmaker, InboxMessage, InboxMessage.event_id == event.id) == 1
    observer = make_broker(nats_url)
    assert isinstance(observer, NatsBroker)
    async with observer:
        await observer.connect()
        stream, _subjects = stream_for(fresh_type)
        jetstream = observer.connection.jetstream()
        info = await jetstream.consumer_info(stream, durable_name(group, fresh_type))
    assert (info.num_ack_pending, info.num_pending) == (0, 0)  # acknowledged before the close


async def test_graceful_stop_past_its_timeout_hands_the_message_back_unapplied(
    nats_url: str, sessionmaker: async_sessionmaker[AsyncSession], fresh_type: str
) -> None:
    group = f"g-{uuid.uuid4().hex[:6]}"
    broker, _handler, event = await start_handling(
        nats_url, sessionmaker, fresh_type, group, grace=SHORT_GRACE_SECONDS
    )

    await broker.stop()  # the handler never returns: it is cancelled
    assert await count(sessionmaker, Effect, Effect.event_id == event.id) == 0  # rolled back

    successor = make_broker(nats_url)
    consumer_on(successor, sessionmaker, group).handler(payload_class(fresh_type))(applying)

    async def applied() -> bool:
        return await count(sessionmaker, Effect, Effect.event_id == event.id) == 1

    async with successor:
        await successor.start()
        await wait_for(applied, seconds=REDELIVERY_SECONDS)  # well before ack_wait
    assert await count(sessionmaker, InboxMessage, InboxMessage.event_id == event.id) == 1
