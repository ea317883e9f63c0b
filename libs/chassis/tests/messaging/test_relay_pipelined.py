"""A relay batch publishes many events at once, one per aggregate, each marked on its own confirm.

The real brokers confirm; a wrapper around ``publish_envelope`` only watches (and, for the order
test, delays) the publishes, so the tests see how many were in flight and of which aggregates.
The failure tests use a JetStream stream that really refuses a message (larger than its limit).
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any, ClassVar

import pytest
from faststream.nats import NatsBroker
from nats.js.api import StreamConfig
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agora_chassis.messaging import Broker, make_broker, relay_batch
from agora_chassis.messaging import relay as relay_module
from agora_chassis.messaging.broker import is_rabbit, stream_for, subscribe_raw
from agora_chassis.outbox import add_event, build_event
from agora_contracts.envelope import EventPayload
from libs.chassis.tests.messaging.support import OutboxMessage, unique_type, wait_for

pytestmark = pytest.mark.integration

STREAM_MAX_BYTES = 2048
BIG_FILLER = "x" * (2 * STREAM_MAX_BYTES)


class Filled(EventPayload):
    """A payload whose size the test chooses."""

    event_type: ClassVar[str] = "test.filled"
    filler: str


def filled_class(event_type: str) -> type[Filled]:
    return type("Filled", (Filled,), {"event_type": event_type})


async def add_rows(
    sessionmaker: async_sessionmaker[AsyncSession],
    event_type: str,
    rows: list[tuple[str, str]],
) -> list[str]:
    """Commit one outbox row per ``(subject, filler)``, in that order; return the event ids."""
    payload_type, ids = filled_class(event_type), []
    async with sessionmaker() as session, session.begin():
        for subject, filler in rows:
            event = build_event(payload_type(filler=filler), source="/t", subject=subject)
            add_event(session, OutboxMessage, event)
            ids.append(event.id)
    return ids


async def row_states(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> dict[str, tuple[bool, int, str | None]]:
    """Each row's ``(published, attempts, last_error)`` by event id."""
    async with sessionmaker() as session:
        rows = await session.scalars(select(OutboxMessage))
        return {str(r.id): (r.published_at is not None, r.attempts, r.last_error) for r in rows}


class Watch:
    """Wraps ``publish_envelope``: counts publishes in flight, per aggregate too, and may delay."""

    def __init__(self, jitter: float = 0.0) -> None:
        self.jitter = jitter
        self.in_flight: list[str | None] = []
        self.most_in_flight = 0
        self.overlaps: list[str | None] = []  # an aggregate published while its last was in flight
        self.confirmed: list[tuple[str | None, str]] = []  # (aggregate, event id) as confirmed
        self.real = relay_module.publish_envelope

    async def __call__(self, broker: Broker, body: bytes, **kwargs: Any) -> None:
        key = kwargs["key"]
        if key in self.in_flight:
            self.overlaps.append(key)
        self.in_flight.append(key)
        self.most_in_flight = max(self.most_in_flight, len(self.in_flight))
        try:
            if self.jitter:
                await asyncio.sleep(random.uniform(0, self.jitter))  # noqa: S311 - shuffles only
            await self.real(broker, body, **kwargs)
            self.confirmed.append((key, json.loads(body)["id"]))
        finally:
            self.in_flight.remove(key)


class Received:
    """The ``(subject, id)`` of every event a subscriber gets, in arrival order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.envelopes: list[dict[str, Any]] = []

    async def __call__(self, body: bytes) -> None:
        envelope = json.loads(body)
        self.events.append((envelope["subject"], envelope["id"]))
        self.envelopes.append(envelope)


@pytest.fixture(params=["nats", "rabbitmq"])
async def listening(
    request: pytest.FixtureRequest, rabbitmq_or_skip: Callable[[], str]
) -> AsyncIterator[tuple[Broker, str, Received]]:
    """A connected broker with a collecting subscriber on a fresh event type."""
    url = request.getfixturevalue("nats_url") if request.param == "nats" else rabbitmq_or_skip()
    event_type, received = unique_type("pipelined"), Received()
    broker = make_broker(url)
    subscribe_raw(broker, event_type, f"g{uuid.uuid4().hex[:6]}", received)
    async with broker:
        await broker.start()
        yield broker, event_type, received


@pytest.fixture
def rabbitmq_or_skip() -> Callable[[], str]:
    from libs.chassis.tests.messaging.conftest import rabbitmq_url

    return rabbitmq_url


def interleaved(aggregates: int, per_aggregate: int) -> list[tuple[str, str]]:
    """``per_aggregate`` events of each of ``aggregates`` subjects, created round-robin."""
    subjects = [f"agg-{n}" for n in range(aggregates)]
    return [(subject, "small") for _ in range(per_aggregate) for subject in subjects]


async def test_relay_pipelined_batch_publishes_all_rows_within_the_window(
    sessionmaker: async_sessionmaker[AsyncSession],
    listening: tuple[Broker, str, Received],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broker, event_type, received = listening
    ids = await add_rows(sessionmaker, event_type, interleaved(aggregates=40, per_aggregate=3))
    watch = Watch()
    monkeypatch.setattr(relay_module, "publish_envelope", watch)
    async with sessionmaker() as session, session.begin():
        result = await relay_batch(
            session, OutboxMessage, broker, batch_size=len(ids), max_in_flight=16
        )
    assert (result.published, result.failed) == (len(ids), 0), "a row was not published"
    states = await row_states(sessionmaker)
    assert all(states[i] == (True, 0, None) for i in ids), f"a row was not marked: {states}"
    assert watch.most_in_flight == 16, f"window of 16, saw at most {watch.most_in_flight}"

    async def all_received() -> bool:
        return len({event_id for _, event_id in received.events}) == len(ids)

    await wait_for(all_received)


async def test_relay_pipelined_keeps_each_aggregates_order_under_concurrency(
    sessionmaker: async_sessionmaker[AsyncSession],
    listening: tuple[Broker, str, Received],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broker, event_type, received = listening
    rows = interleaved(aggregates=12, per_aggregate=6)
    ids = await add_rows(sessionmaker, event_type, rows)
    watch = Watch(jitter=0.005)  # confirmations come back in a shuffled order
    monkeypatch.setattr(relay_module, "publish_envelope", watch)
    async with sessionmaker() as session, session.begin():
        result = await relay_batch(session, OutboxMessage, broker, batch_size=100, max_in_flight=8)
    assert result.published == len(ids)
    assert watch.overlaps == [], f"an aggregate had two events in flight: {watch.overlaps}"
    assert watch.most_in_flight == 8, f"window of 8, saw at most {watch.most_in_flight}"

    async def all_received() -> bool:
        return len({event_id for _, event_id in received.events}) == len(ids)

    await wait_for(all_received)
    # One event of an aggregate in flight at a time (no overlaps, above), so the order of the
    # confirmations is the order the broker stored them in.
    for subject in {subject for subject, _ in rows}:
        created = [event_id for (s, _), event_id in zip(rows, ids, strict=True) if s == subject]
        confirmed = [i for s, i in watch.confirmed if s == subject]
        assert confirmed == created, f"{subject}'s events were confirmed out of order"
        if is_rabbit(broker):
            # FastStream's RabbitMQ subscriber runs each delivery in its own task (aiormq), so
            # the order handlers reach their first line is not the queue's; JetStream's pull
            # consumer hands them over one after another, so there arrival order is checked.
            continue
        arrived = list(dict.fromkeys(i for s, i in received.events if s == subject))
        assert arrived == created, f"{subject}'s events arrived out of order"


async def test_relay_body_is_the_stored_envelope(
    sessionmaker: async_sessionmaker[AsyncSession], listening: tuple[Broker, str, Received]
) -> None:
    """The relay publishes PostgreSQL's jsonb text: the same JSON document as the stored one."""
    broker, event_type, received = listening
    filler = 'Zoë ☕ "quoted" \\ back\nslash \u2028 \U0001f600 1e400'
    (event_id,) = await add_rows(sessionmaker, event_type, [("a", filler)])
    async with sessionmaker() as session, session.begin():
        assert (await relay_batch(session, OutboxMessage, broker)).published == 1
        row = await session.get(OutboxMessage, uuid.UUID(event_id))
        assert row is not None
        stored = row.envelope

    async def arrived() -> bool:
        return bool(received.envelopes)

    await wait_for(arrived)
    assert received.envelopes == [stored], "the published body differs from the stored envelope"
    assert stored["data"]["filler"] == filler


@pytest.fixture
async def own_stream(
    nats_url: str, request: pytest.FixtureRequest
) -> AsyncIterator[tuple[NatsBroker, str, str]]:
    """A broker and an event type whose JetStream stream has the settings the test names.

    ``refuse_big``: the stream refuses messages over 2 KiB. ``no_ack``: it stores every message
    but never confirms one.
    """
    event_type = f"relayfail{uuid.uuid4().hex[:8]}.thing.happened"
    name, subjects = stream_for(event_type)
    settings: dict[str, dict[str, Any]] = {
        "refuse_big": {"max_msg_size": STREAM_MAX_BYTES},
        "no_ack": {"no_ack": True},
    }
    broker = make_broker(nats_url)
    assert isinstance(broker, NatsBroker)
    async with broker:
        await broker.start()
        jetstream = broker.connection.jetstream()
        config = StreamConfig(name=name, subjects=[subjects], **settings[request.param])
        await jetstream.add_stream(config)
        try:
            yield broker, event_type, name
        finally:
            await jetstream.delete_stream(name)


async def stored(broker: NatsBroker, stream: str) -> list[tuple[dict[str, Any], dict[str, str]]]:
    """The envelopes the stream holds, with their headers, in its order."""
    jetstream = broker.connection.jetstream()
    count = (await jetstream.stream_info(stream)).state.messages
    messages = [await jetstream.get_msg(stream, seq) for seq in range(1, count + 1)]
    return [(json.loads(message.data or b"{}"), message.headers or {}) for message in messages]


async def stored_ids(broker: NatsBroker, stream: str) -> list[str]:
    """The event ids the stream holds, in its order."""
    return [envelope["id"] for envelope, _headers in await stored(broker, stream)]


@pytest.mark.parametrize("own_stream", ["refuse_big"], indirect=True)
async def test_relay_refused_publish_mid_batch_leaves_that_row_and_its_successors_pending(
    sessionmaker: async_sessionmaker[AsyncSession],
    own_stream: tuple[NatsBroker, str, str],
) -> None:
    broker, event_type, stream = own_stream
    rows = [("a", "1"), ("b", "1"), ("a", BIG_FILLER), ("b", "2"), ("a", "3"), ("c", "1")]
    a1, b1, a2, b2, a3, c1 = await add_rows(sessionmaker, event_type, rows)
    async with sessionmaker() as session, session.begin():
        result = await relay_batch(session, OutboxMessage, broker, max_in_flight=4)
    assert (result.published, result.failed) == (4, 1)
    states = await row_states(sessionmaker)
    for published in (a1, b1, b2, c1):
        assert states[published] == (True, 0, None), f"{published} should be published"
    refused_published, refused_attempts, refused_error = states[a2]
    assert (refused_published, refused_attempts) == (False, 1), "the refused row's state"
    assert "maximum" in (refused_error or "").lower(), f"not the stream's refusal: {refused_error}"
    assert states[a3] == (False, 0, None), "a's later event was tried after a's refused one"
    assert sorted(await stored_ids(broker, stream)) == sorted([a1, b1, b2, c1])
    for envelope, headers in await stored(broker, stream):
        expected = {"ce-id": envelope["id"], "ce-type": event_type, "Nats-Msg-Id": envelope["id"]}
        assert {name: headers.get(name) for name in expected} == expected, "transport headers"
        assert headers.get("traceparent") == envelope.get("traceparent"), "traceparent header"

    # Once the stream takes it, the next batch publishes a's events in their order.
    jetstream = broker.connection.jetstream()
    info = await jetstream.stream_info(stream)
    info.config.max_msg_size = 4 * STREAM_MAX_BYTES
    await jetstream.update_stream(info.config)
    async with sessionmaker() as session, session.begin():
        result = await relay_batch(session, OutboxMessage, broker, max_in_flight=4)
    assert (result.published, result.failed) == (2, 0)
    assert [i for i in await stored_ids(broker, stream) if i in {a1, a2, a3}] == [a1, a2, a3]


@pytest.mark.parametrize("own_stream", ["no_ack"], indirect=True)
async def test_relay_unconfirmed_publishes_leave_exactly_their_rows_and_successors_pending(
    sessionmaker: async_sessionmaker[AsyncSession],
    own_stream: tuple[NatsBroker, str, str],
) -> None:
    """The stream stores the messages but never confirms: no row may be marked published."""
    broker, event_type, stream = own_stream
    first_a, first_b, second_a, second_b = await add_rows(
        sessionmaker, event_type, interleaved(aggregates=2, per_aggregate=2)
    )
    async with sessionmaker() as session, session.begin():
        result = await relay_batch(
            session, OutboxMessage, broker, publish_timeout=0.3, max_in_flight=4
        )
    assert (result.published, result.failed) == (0, 2)
    states = await row_states(sessionmaker)
    for unconfirmed in (first_a, first_b):
        published, attempts, error = states[unconfirmed]
        assert (published, attempts) == (False, 1), f"{unconfirmed} was marked or not counted"
        assert (error or "").startswith("TimeoutError"), f"not a confirm timeout: {error}"
    for waiting in (second_a, second_b):
        assert states[waiting] == (False, 0, None), f"{waiting} was tried after an unconfirmed one"
    # At least once: the broker has the first two, and will get them again on the next batch.
    assert sorted(await stored_ids(broker, stream)) == sorted([first_a, first_b])
