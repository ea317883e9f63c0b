"""The request's correlation id rides in the event, so relay and consumer log under it.

The event goes the whole way: built while a request's correlation id is set, stored in the outbox,
published by the relay (outside any request) through a real broker, processed by a consumer.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agora_chassis.logging import correlation_id
from agora_chassis.messaging import Broker, EventConsumer, relay_batch
from agora_chassis.messaging import relay as relay_module
from agora_chassis.outbox import add_event, build_event
from agora_contracts.envelope import CloudEvent
from libs.chassis.tests.messaging.support import (
    DeadLetter,
    Effect,
    InboxMessage,
    OutboxMessage,
    count,
    payload_class,
    wait_for,
)
from libs.chassis.tests.messaging.test_redelivery import watch_headers

pytestmark = pytest.mark.integration


async def test_correlation_id_travels_from_request_through_relay_to_consumer(
    running_broker: Callable[..., Any],
    sessionmaker: async_sessionmaker[AsyncSession],
    fresh_type: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    request_id = f"req-{uuid.uuid4().hex}"
    payload_type = payload_class(fresh_type)
    seen_by_handler: list[str | None] = []
    seen_by_relay: list[str | None] = []
    headers: list[dict[str, Any]] = []
    real_publish = relay_module.publish_envelope

    async def handle(session: AsyncSession, _payload: Any, event: CloudEvent) -> None:
        seen_by_handler.append(correlation_id.get())
        session.add(Effect(event_id=event.id))

    async def publish(broker: Broker, body: bytes, **kwargs: Any) -> None:
        seen_by_relay.append(correlation_id.get())
        await real_publish(broker, body, **kwargs)

    def register(broker: Broker) -> None:
        group = f"group-{uuid.uuid4().hex[:6]}"
        consumer = EventConsumer(
            broker,
            sessionmaker,
            group=group,
            inbox_model=InboxMessage,
            dead_letter_model=DeadLetter,
        )
        consumer.handler(payload_type)(handle)
        watch_headers(broker, fresh_type, headers)

    monkeypatch.setattr(relay_module, "publish_envelope", publish)
    async with running_broker(register) as broker:
        event = await _store_event_during_request(sessionmaker, payload_type, request_id)
        async with sessionmaker() as session, session.begin():  # the relay, outside the request
            assert (await relay_batch(session, OutboxMessage, broker)).published == 1

        async def applied() -> bool:
            return await count(sessionmaker, Effect, Effect.event_id == event.id) == 1

        await wait_for(applied)
        await wait_for(lambda: _non_empty(headers))

    assert event.correlationid == request_id
    assert seen_by_relay == [request_id]
    assert seen_by_handler == [request_id]
    assert headers[0]["ce-correlationid"] == request_id
    assert correlation_id.get() is None  # restored after the relay and the consumer


async def _store_event_during_request(
    sessionmaker: async_sessionmaker[AsyncSession], payload_type: Any, request_id: str
) -> CloudEvent:
    """Write an event to the outbox as a request with ``request_id`` would (registering a user)."""
    token = correlation_id.set(request_id)
    try:
        async with sessionmaker() as session, session.begin():
            event = build_event(payload_type(thing_id=uuid.uuid4()), source="/agora/test")
            add_event(session, OutboxMessage, event)
    finally:
        correlation_id.reset(token)
    return event


async def _non_empty(items: list[Any]) -> bool:
    return bool(items)
