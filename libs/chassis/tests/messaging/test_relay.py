"""The outbox relay publishes pending rows in order, once, promptly, and survives broker outages."""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from agora_chassis.messaging import Broker, make_broker, relay_batch, start_relay
from agora_chassis.messaging import relay as relay_module
from agora_chassis.messaging.broker import subscribe_raw
from agora_chassis.outbox import add_event, build_event
from agora_cli.infra.nats import EmbeddedNats
from agora_cli.infra.ports import free_port
from libs.chassis.tests.messaging.support import (
    OutboxMessage,
    count,
    payload_class,
    unique_type,
    wait_for,
)

pytestmark = pytest.mark.integration

PROMPT_SECONDS = 2.0
IDLE_POLL_SECONDS = 30.0


async def add_events(
    sessionmaker: async_sessionmaker[AsyncSession], event_type: str, n: int, subject: str = "agg"
) -> list[str]:
    payload_type = payload_class(event_type)
    ids = []
    async with sessionmaker() as session, session.begin():
        for _ in range(n):
            event = build_event(payload_type(thing_id=uuid.uuid4()), source="/t", subject=subject)
            add_event(session, OutboxMessage, event)
            ids.append(event.id)
    return ids


async def published_ids(sessionmaker: async_sessionmaker[AsyncSession]) -> list[str]:
    async with sessionmaker() as session:
        rows = await session.scalars(
            select(OutboxMessage.id)
            .where(OutboxMessage.published_at.is_not(None))
            .order_by(OutboxMessage.published_at)
        )
        return [str(row) for row in rows]


class Received:
    """Collects the event ids a subscriber receives, in arrival order."""

    def __init__(self) -> None:
        self.ids: list[str] = []

    async def __call__(self, body: bytes) -> None:
        self.ids.append(json.loads(body)["id"])


@pytest.fixture
async def listening(nats_url: str, request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    """A connected NATS broker with a collecting subscriber on a fresh event type."""
    event_type = unique_type("relay")
    received = Received()
    broker = make_broker(nats_url)
    subscribe_raw(broker, event_type, f"g{uuid.uuid4().hex[:6]}", received)
    async with broker:
        await broker.start()
        yield broker, event_type, received


async def test_relay_pending_rows_published_in_order_and_marked(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession], listening: Any
) -> None:
    broker, event_type, received = listening
    ids = await add_events(sessionmaker, event_type, 20)
    relay = start_relay(engine, OutboxMessage, broker, source="/t")
    try:

        async def all_received() -> bool:
            return len(received.ids) >= len(ids)

        await wait_for(all_received)
    finally:
        await relay.stop()
    assert await published_ids(sessionmaker) == ids
    # At-least-once: a confirm that times out is published again (consumers dedupe by id), so
    # the promise is the order of first arrival, not the absence of repeats.
    assert list(dict.fromkeys(received.ids)) == ids


async def test_relay_two_instances_publish_each_row_once(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession], listening: Any
) -> None:
    broker, event_type, received = listening
    ids = await add_events(sessionmaker, event_type, 150)
    relays = [start_relay(engine, OutboxMessage, broker, source="/t") for _ in range(2)]
    try:

        async def all_marked() -> bool:
            return len(await published_ids(sessionmaker)) == len(ids)

        await wait_for(all_marked)
        await wait_for(lambda: _at_least(received.ids, len(ids)))
        await asyncio.sleep(0.5)  # room for a duplicate to show up
    finally:
        for relay in relays:
            await relay.stop()
    assert received.ids == ids


async def _at_least(items: list[str], n: int) -> bool:
    return len(items) >= n


async def test_relay_new_row_committed_is_published_without_waiting_for_poll(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession], listening: Any
) -> None:
    broker, event_type, received = listening
    relay = start_relay(engine, OutboxMessage, broker, source="/t", poll_interval=IDLE_POLL_SECONDS)
    try:
        await asyncio.sleep(0.3)  # the relay has found nothing and waits
        ids = await add_events(sessionmaker, event_type, 1)
        await wait_for(lambda: _at_least(received.ids, 1), seconds=PROMPT_SECONDS)
    finally:
        await relay.stop()
    assert received.ids == ids


async def test_relay_batch_failure_stops_that_subject_only(
    sessionmaker: async_sessionmaker[AsyncSession],
    listening: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broker, event_type, _received = listening
    a_first, a_second = await add_events(sessionmaker, event_type, 2, subject="a")
    (b_only,) = await add_events(sessionmaker, event_type, 1, subject="b")
    real_publish = relay_module.publish_envelope

    async def publish_failing_first(broker: Broker, body: bytes, **kwargs: Any) -> None:
        if json.loads(body)["id"] == a_first:
            raise ConnectionError("broker said no")
        await real_publish(broker, body, **kwargs)

    monkeypatch.setattr(relay_module, "publish_envelope", publish_failing_first)
    async with sessionmaker() as session, session.begin():
        result = await relay_batch(session, OutboxMessage, broker)
    assert (result.published, result.failed) == (1, 1)
    assert await published_ids(sessionmaker) == [b_only]
    async with sessionmaker() as session:
        failed = await session.get(OutboxMessage, uuid.UUID(a_first))
        waiting = await session.get(OutboxMessage, uuid.UUID(a_second))
    assert failed is not None
    assert waiting is not None
    assert (failed.attempts, failed.last_error) == (1, "ConnectionError: broker said no")
    assert (waiting.attempts, waiting.published_at) == (0, None)


@pytest.fixture
def own_nats() -> Iterator[EmbeddedNats]:
    """A NATS server of the test's own, which it may stop and start."""
    scratch = Path(tempfile.mkdtemp(prefix="agora-nats-down-"))
    scratch.chmod(0o755)
    server = EmbeddedNats(
        scratch / "data", free_port(), free_port(), scratch / "log", scratch / "pid"
    )
    server.start()
    yield server
    server.stop()
    shutil.rmtree(scratch, ignore_errors=True)


async def test_relay_broker_down_backs_off_then_publishes_when_back(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession], own_nats: EmbeddedNats
) -> None:
    server = own_nats
    event_type = unique_type("down")
    broker = make_broker(server.url)
    async with broker:
        await broker.start()
        server.stop()
        ids = await add_events(sessionmaker, event_type, 3)
        relay = start_relay(
            engine, OutboxMessage, broker, source="/t", max_backoff=1.0, publish_timeout=0.5
        )
        try:
            await asyncio.sleep(3.0)
            async with sessionmaker() as session:
                first = await session.get(OutboxMessage, uuid.UUID(ids[0]))
            assert first is not None
            assert first.published_at is None
            assert 1 <= first.attempts <= 6  # backing off, not spinning
            assert first.last_error
            server.start()

            async def all_marked() -> bool:
                return await published_ids(sessionmaker) == ids

            await wait_for(all_marked, seconds=12.0)
        finally:
            await relay.stop()
    assert await count(sessionmaker, OutboxMessage, OutboxMessage.published_at.is_(None)) == 0
