"""A handler that waits for a dependency (``Postpone``) is tried again later, however long it waits.

Runs on real NATS JetStream, real RabbitMQ (``AGORA_TEST_RABBITMQ_URL``) and FastStream's Kafka
test broker, and in process through ``on_delivery``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agora_chassis.messaging import Attempt, Postpone
from libs.chassis.tests.messaging.support import DeadLetter, Effect, count, payload_class
from libs.chassis.tests.messaging.test_consumer import (
    FAST_RETRY,
    Recorder,
    make_consumer,
    new_event,
    run_scenario,
)

pytestmark = pytest.mark.integration

WAITS = 5  # more than the policy's 3 tries


def waiting(reason: str) -> Postpone:
    return Postpone(reason)


async def test_consumer_postponed_past_its_tries_applies_once_without_dead_letter(
    running_broker: Callable[..., Any],
    sessionmaker: async_sessionmaker[AsyncSession],
    fresh_type: str,
) -> None:
    event = new_event(payload_class(fresh_type))
    handler = Recorder(failures=WAITS, error=waiting)  # type: ignore[arg-type]

    async def applied() -> bool:
        return await count(sessionmaker, Effect, Effect.event_id == event.id) == 1

    bodies = [event.model_dump_json().encode()]
    await run_scenario(running_broker, sessionmaker, fresh_type, handler, bodies, applied)
    assert handler.calls == WAITS + 1
    assert await count(sessionmaker, DeadLetter) == 0


async def test_consumer_on_delivery_postponed_late_try_answers_retry_not_dead_letter(
    sessionmaker: async_sessionmaker[AsyncSession], fresh_type: str
) -> None:
    consumer = make_consumer(None, sessionmaker, f"group-{uuid.uuid4().hex[:6]}")
    consumer.handler(payload_class(fresh_type))(Recorder(failures=1, error=waiting))  # type: ignore[arg-type]
    body = new_event(payload_class(fresh_type)).model_dump_json().encode()

    retry = await consumer.on_delivery(body, Attempt(FAST_RETRY.tries + 7))

    assert retry is not None
    assert retry.delay <= FAST_RETRY.nominal_delay(1) * (1 + FAST_RETRY.jitter)
    assert await count(sessionmaker, DeadLetter) == 0
    assert await count(sessionmaker, Effect) == 0


async def test_consumer_postpone_max_delay_caps_the_wait(
    sessionmaker: async_sessionmaker[AsyncSession], fresh_type: str
) -> None:
    consumer = make_consumer(None, sessionmaker, f"group-{uuid.uuid4().hex[:6]}")

    async def wait_briefly(_session: AsyncSession, _payload: Any, _event: Any) -> None:
        raise Postpone("provider down", max_delay=0.0)

    consumer.handler(payload_class(fresh_type))(wait_briefly)
    body = new_event(payload_class(fresh_type)).model_dump_json().encode()

    retry = await consumer.on_delivery(body, Attempt(1))

    assert retry is not None
    assert retry.delay == 0.0


async def test_consumer_deliver_postponed_returns_false_without_dead_letter(
    sessionmaker: async_sessionmaker[AsyncSession], fresh_type: str
) -> None:
    consumer = make_consumer(None, sessionmaker, f"group-{uuid.uuid4().hex[:6]}")
    handler = Recorder(failures=1000, error=waiting)  # type: ignore[arg-type]
    consumer.handler(payload_class(fresh_type))(handler)

    applied = await consumer.deliver(
        new_event(payload_class(fresh_type)).model_dump_json().encode()
    )

    assert applied is False
    assert handler.calls == 1
    assert await count(sessionmaker, DeadLetter) == 0
