"""Consumers apply each event once, retry failures, and dead-letter what they cannot apply.

Runs on real NATS JetStream, real RabbitMQ (``AGORA_TEST_RABBITMQ_URL``) and FastStream's Kafka
test broker.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agora_chassis.db import after_commit
from agora_chassis.messaging import (
    Broker,
    EventConsumer,
    PermanentFailure,
    RetryPolicy,
    publish_envelope,
    subscribe_raw,
)
from agora_chassis.messaging.consumer import dead_letter_event_type
from agora_chassis.outbox import build_event
from agora_contracts.envelope import CloudEvent
from libs.chassis.tests.messaging.support import (
    DeadLetter,
    Effect,
    InboxMessage,
    ThingHappened,
    count,
    payload_class,
    wait_for,
)

pytestmark = pytest.mark.integration

FAST_RETRY = RetryPolicy(base_delay=0.01, max_delay=0.05)


class Recorder:
    """A handler that fails its first ``failures`` calls, then writes an effect."""

    def __init__(self, failures: int = 0, error: type[Exception] = RuntimeError) -> None:
        self.failures = failures
        self.error = error
        self.calls = 0

    async def __call__(self, session: AsyncSession, _payload: Any, event: CloudEvent) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error(f"boom {self.calls}")
        session.add(Effect(event_id=event.id))


def make_consumer(
    broker: Broker | None, sessionmaker: async_sessionmaker[AsyncSession], group: str
) -> EventConsumer:
    return EventConsumer(
        broker,
        sessionmaker,
        group=group,
        inbox_model=InboxMessage,
        dead_letter_model=DeadLetter,
        retry=FAST_RETRY,
    )


async def publish(broker: Broker, event: CloudEvent) -> None:
    await publish_envelope(
        broker, event.model_dump_json().encode(), event_type=event.type, key=None, headers={}
    )


def new_event(payload_type: type[ThingHappened]) -> CloudEvent:
    return build_event(payload_type(thing_id=uuid.uuid4()), source="/agora/test")


async def run_scenario(
    running_broker: Callable[..., Any],
    sessionmaker: async_sessionmaker[AsyncSession],
    fresh_type: str,
    handler: Recorder,
    bodies: list[bytes],
    until: Callable[[], Any],
) -> EventConsumer:
    payload_type = payload_class(fresh_type)
    consumers: list[EventConsumer] = []

    def register(broker: Broker) -> None:
        consumer = make_consumer(broker, sessionmaker, f"group-{uuid.uuid4().hex[:6]}")
        consumer.handler(payload_type)(handler)
        consumers.append(consumer)

    async with running_broker(register) as broker:
        for body in bodies:
            await publish_envelope(broker, body, event_type=fresh_type, key=None, headers={})
        await wait_for(until)
    return consumers[0]


async def test_consumer_published_event_applies_effect(
    running_broker: Callable[..., Any],
    sessionmaker: async_sessionmaker[AsyncSession],
    fresh_type: str,
) -> None:
    event = new_event(payload_class(fresh_type))
    handler = Recorder()

    async def applied() -> bool:
        return await count(sessionmaker, Effect, Effect.event_id == event.id) == 1

    await run_scenario(
        running_broker,
        sessionmaker,
        fresh_type,
        handler,
        [event.model_dump_json().encode()],
        applied,
    )
    assert await count(sessionmaker, InboxMessage, InboxMessage.event_id == event.id) == 1


async def test_consumer_same_event_twice_applies_once(
    running_broker: Callable[..., Any],
    sessionmaker: async_sessionmaker[AsyncSession],
    fresh_type: str,
) -> None:
    payload_type = payload_class(fresh_type)
    event, sentinel = new_event(payload_type), new_event(payload_type)
    body = event.model_dump_json().encode()
    handler = Recorder()

    async def sentinel_applied() -> bool:  # messages are processed in order: the dup came first
        return await count(sessionmaker, Effect, Effect.event_id == sentinel.id) == 1

    bodies = [body, body, sentinel.model_dump_json().encode()]
    await run_scenario(running_broker, sessionmaker, fresh_type, handler, bodies, sentinel_applied)
    assert await count(sessionmaker, Effect, Effect.event_id == event.id) == 1
    assert handler.calls == 2


async def test_consumer_handler_fails_twice_applies_once_after_three_tries(
    running_broker: Callable[..., Any],
    sessionmaker: async_sessionmaker[AsyncSession],
    fresh_type: str,
) -> None:
    event = new_event(payload_class(fresh_type))
    handler = Recorder(failures=2)

    async def applied() -> bool:
        return await count(sessionmaker, Effect, Effect.event_id == event.id) == 1

    await run_scenario(
        running_broker,
        sessionmaker,
        fresh_type,
        handler,
        [event.model_dump_json().encode()],
        applied,
    )
    assert handler.calls == 3
    assert await count(sessionmaker, DeadLetter) == 0


async def test_consumer_handler_always_fails_dead_letters_after_three_tries(
    running_broker: Callable[..., Any],
    sessionmaker: async_sessionmaker[AsyncSession],
    fresh_type: str,
) -> None:
    event = new_event(payload_class(fresh_type))
    handler = Recorder(failures=1000)

    async def dead_lettered() -> bool:
        return await count(sessionmaker, DeadLetter, DeadLetter.event_id == event.id) == 1

    await run_scenario(
        running_broker,
        sessionmaker,
        fresh_type,
        handler,
        [event.model_dump_json().encode()],
        dead_lettered,
    )
    async with sessionmaker() as session:
        letter = (await session.scalars(select(DeadLetter))).one()
    assert handler.calls == 3
    assert letter.attempts == 3
    assert letter.event_type == fresh_type
    assert letter.error == "RuntimeError: boom 3"
    assert letter.stack is not None
    assert "RuntimeError" in letter.stack
    assert letter.envelope is not None
    assert letter.envelope["id"] == event.id
    assert letter.first_failed_at <= letter.last_failed_at
    assert await count(sessionmaker, Effect) == 0


@pytest.mark.parametrize(
    "body",
    [b"\xff\xfe not json", b"[1, 2]", b'{"id": "x"}', b"schema-invalid"],
    ids=["bytes", "not-object", "not-cloudevent", "schema-invalid"],
)
async def test_consumer_undecodable_message_dead_letters_and_keeps_consuming(
    running_broker: Callable[..., Any],
    sessionmaker: async_sessionmaker[AsyncSession],
    fresh_type: str,
    body: bytes,
) -> None:
    payload_type = payload_class(fresh_type)
    if body == b"schema-invalid":
        valid = new_event(payload_type)
        body = valid.model_copy(update={"data": {"thing_id": "not-a-uuid"}}).model_dump_json()
        body = body.encode()
    good = new_event(payload_type)
    handler = Recorder()

    async def good_applied() -> bool:
        return await count(sessionmaker, Effect, Effect.event_id == good.id) == 1

    await run_scenario(
        running_broker,
        sessionmaker,
        fresh_type,
        handler,
        [body, good.model_dump_json().encode()],
        good_applied,
    )
    async with sessionmaker() as session:
        letter = (await session.scalars(select(DeadLetter))).one()
    assert letter.attempts == 0
    assert (letter.raw == body) if letter.envelope is None else (letter.envelope is not None)
    assert handler.calls == 1


async def test_consumer_replay_of_fixed_dead_letter_applies_once(
    running_broker: Callable[..., Any],
    sessionmaker: async_sessionmaker[AsyncSession],
    fresh_type: str,
) -> None:
    event = new_event(payload_class(fresh_type))
    handler = Recorder(failures=3)

    async def dead_lettered() -> bool:
        return await count(sessionmaker, DeadLetter) == 1

    consumer = await run_scenario(
        running_broker,
        sessionmaker,
        fresh_type,
        handler,
        [event.model_dump_json().encode()],
        dead_lettered,
    )
    async with sessionmaker() as session:
        letter_id = (await session.scalars(select(DeadLetter.id))).one()

    assert await consumer.replay(letter_id) is True
    assert await consumer.replay(letter_id) is True  # replayed again: the inbox drops it

    assert await count(sessionmaker, Effect, Effect.event_id == event.id) == 1
    assert handler.calls == 4
    assert await count(sessionmaker, DeadLetter, DeadLetter.replayed_at.is_not(None)) == 1


async def test_consumer_permanent_failure_dead_letters_after_one_try(
    running_broker: Callable[..., Any],
    sessionmaker: async_sessionmaker[AsyncSession],
    fresh_type: str,
) -> None:
    event = new_event(payload_class(fresh_type))
    handler = Recorder(failures=1000, error=PermanentFailure)

    async def dead_lettered() -> bool:
        return await count(sessionmaker, DeadLetter, DeadLetter.event_id == event.id) == 1

    bodies = [event.model_dump_json().encode()]
    await run_scenario(running_broker, sessionmaker, fresh_type, handler, bodies, dead_lettered)
    async with sessionmaker() as session:
        letter = (await session.scalars(select(DeadLetter))).one()
    assert handler.calls == 1
    assert letter.attempts == 1
    assert letter.error == "PermanentFailure: boom 1"


async def test_consumer_dead_letter_is_published_on_the_group_channel(
    running_broker: Callable[..., Any],
    sessionmaker: async_sessionmaker[AsyncSession],
    fresh_type: str,
) -> None:
    event = new_event(payload_class(fresh_type))
    group = f"group-{uuid.uuid4().hex[:6]}"
    seen: list[bytes] = []

    async def watch(body: bytes) -> None:
        seen.append(body)

    def register(broker: Broker) -> None:
        consumer = make_consumer(broker, sessionmaker, group)
        consumer.handler(payload_class(fresh_type))(Recorder(failures=1000))
        subscribe_raw(broker, dead_letter_event_type(group), f"watch-{group}", watch)

    async def announced() -> bool:
        return bool(seen)

    async with running_broker(register) as broker:
        await publish(broker, event)
        await wait_for(announced)
    assert json.loads(seen[0])["id"] == event.id
    assert await count(sessionmaker, DeadLetter, DeadLetter.event_id == event.id) == 1


async def test_consumer_without_broker_replays_dead_letters(
    sessionmaker: async_sessionmaker[AsyncSession], fresh_type: str
) -> None:
    payload_type = payload_class(fresh_type)
    event = new_event(payload_type)
    failing = make_consumer(None, sessionmaker, "offline")
    failing.handler(payload_type)(Recorder(failures=1000))
    assert await failing.deliver(event.model_dump_json().encode()) is False

    fixed = make_consumer(None, sessionmaker, "offline")
    fixed.handler(payload_type)(Recorder())
    async with sessionmaker() as session:
        letter_id = (await session.scalars(select(DeadLetter.id))).one()
    assert await fixed.replay(letter_id) is True
    assert await count(sessionmaker, Effect, Effect.event_id == event.id) == 1


async def test_consumer_runs_after_commit_hooks_once_the_effect_is_committed(
    sessionmaker: async_sessionmaker[AsyncSession], fresh_type: str
) -> None:
    payload_type = payload_class(fresh_type)
    event = new_event(payload_type)
    effects_seen: list[int] = []

    async def handler(session: AsyncSession, _payload: Any, current: CloudEvent) -> None:
        session.add(Effect(event_id=current.id))

        async def look() -> None:  # a new session sees only committed rows
            effects_seen.append(await count(sessionmaker, Effect, Effect.event_id == current.id))

        after_commit(session, look)

    consumer = make_consumer(None, sessionmaker, "hooks")
    consumer.handler(payload_type)(handler)
    body = event.model_dump_json().encode()

    assert await consumer.deliver(body) is True
    assert await consumer.deliver(body) is True  # a duplicate: no handler, so no hook

    assert effects_seen == [1]
