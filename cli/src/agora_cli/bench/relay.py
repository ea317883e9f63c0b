"""``agora bench relay``: outbox relay throughput next to raw broker publishing, in events/s.

The same ``N`` CloudEvent envelopes (deterministic: fixed ids, times and payloads, 100 subjects in
turn) go to the same broker three ways:

* raw, one by one: ``publish_envelope``, each waiting for the broker's confirmation: what one
  in-order publisher gets (the relay until issue 13);
* raw, concurrent: ``--concurrency`` such publishes in flight, the broker's headroom;
* relay: ``N`` outbox rows committed up front (not timed), then ``relay_batch`` transactions (the
  relay's batch size) until none is pending, each with ``--concurrency`` publishes in flight, one
  per aggregate (``relay_batch``'s ``max_in_flight``, ``AGORA_RELAY_MAX_IN_FLIGHT`` in a service).
  With 100 subjects in turn, a batch holds up to 100 aggregates, so the window fills. The gap to
  "raw, concurrent" (``relay_vs_raw_concurrent``, the ratio issue 13 targets at 0.5 or more) is
  the relay's own cost: advisory lock, scan, row locks, the ``published_at`` updates, the commits,
  and the window draining at the end of each batch.

An untimed warm-up round opens the connections, declares the stream and fills the caches; the
timed rounds then run the three paths in turn and the report gives each one's median. The
benchmark's table (``bench_outbox``) is created and dropped in the given database; on NATS its
stream ``AGORA_BENCH`` and on RabbitMQ its queue ``agora.bench`` are emptied before and after.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import json
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from typing import Any, ClassVar

from faststream.nats import NatsBroker
from faststream.rabbit import ExchangeType, RabbitBroker, RabbitExchange, RabbitQueue
from nats.js.errors import BadRequestError
from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase

from agora_chassis.db import TYPE_ANNOTATION_MAP, create_engine, create_sessionmaker, make_metadata
from agora_chassis.messaging import Broker, make_broker, publish_envelope, relay_batch
from agora_chassis.messaging.broker import EXCHANGE_NAME, channel_name, stream_for
from agora_chassis.messaging.relay import BATCH_SIZE, transport_headers
from agora_chassis.outbox import OutboxMixin
from agora_cli.bench import DEFAULT_CONCURRENCY, MIN_SECONDS, Measurement, Options, Report
from agora_cli.bench.servers import Server, machine_info, nats, postgres, without_credentials
from agora_contracts.envelope import CloudEvent

EVENT_TYPE = "bench.relay.measured"
SOURCE = "/agora/bench"
SUBJECTS = 100
SKUS = 50
INSERT_CHUNK = 1000
RABBIT_QUEUE = "agora.bench"
EPOCH = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
NAMESPACE = uuid.UUID("5b1f3c1e-8a52-4c64-9b53-0d6f7f0a3e11")


class BenchmarkError(RuntimeError):
    """The benchmark could not move every event (the broker refused or timed out)."""


class _Base(DeclarativeBase):
    metadata = make_metadata()
    type_annotation_map: ClassVar[dict[Any, Any]] = TYPE_ANNOTATION_MAP


class BenchOutbox(OutboxMixin, _Base):
    """The benchmark's outbox table, shaped like every service's."""

    __tablename__ = "bench_outbox"


@dataclass(frozen=True)
class Message:
    """One envelope ready for ``publish_envelope``."""

    body: bytes
    subject: str
    headers: dict[str, str]


def envelope(index: int, round_number: int) -> dict[str, Any]:
    """Event ``index`` of a round (0 is the warm-up): the same arguments give the same envelope."""
    subject = str(uuid.uuid5(NAMESPACE, f"order-{index % SUBJECTS}"))
    event = CloudEvent(
        id=str(uuid.uuid5(NAMESPACE, f"event-{round_number}-{index}")),
        source=SOURCE,
        type=EVENT_TYPE,
        time=EPOCH + dt.timedelta(milliseconds=index),
        subject=subject,
        dataschema=f"urn:agora:events:{EVENT_TYPE}:v1",
        traceparent=f"00-{index + 1:032x}-{index + 1:016x}-01",
        correlationid=f"bench-{round_number}-{index}",
        data={
            "order_id": subject,
            "total_cents": 1000 + index % 9000,
            "currency": "EUR",
            "lines": [{"sku": f"SKU-{index % SKUS:04d}", "quantity": 1 + index % 3}],
        },
    )
    return event.model_dump(mode="json")


def message(envelope_: dict[str, Any]) -> Message:
    """Encode an envelope as the relay publishes it: the same JSON document and headers."""
    body = json.dumps(envelope_).encode()
    return Message(body, str(envelope_["subject"]), transport_headers(envelope_))


async def _publish(broker: Broker, item: Message) -> None:
    await publish_envelope(
        broker, item.body, event_type=EVENT_TYPE, key=item.subject, headers=item.headers
    )


async def publish_one_by_one(broker: Broker, messages: list[Message]) -> float:
    """Publish in order, each confirmed before the next; return the seconds taken."""
    started = time.perf_counter()
    for item in messages:
        await _publish(broker, item)
    return time.perf_counter() - started


async def publish_concurrently(broker: Broker, messages: list[Message], in_flight: int) -> float:
    """Publish with up to ``in_flight`` confirmations outstanding; return the seconds taken."""
    queue = iter(messages)  # shared by the workers: each message is taken once

    async def worker() -> None:
        for item in queue:
            await _publish(broker, item)

    started = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for _ in range(min(in_flight, len(messages))):
            group.create_task(worker())
    return time.perf_counter() - started


async def fill_outbox(sessionmaker: async_sessionmaker[AsyncSession], envelopes: list[Any]) -> None:
    """Empty the outbox, then commit one pending row per envelope, in creation order."""
    rows = [
        {
            "id": uuid.UUID(item["id"]),
            "event_type": item["type"],
            "subject": item["subject"],
            "envelope": item,
            "created_at": EPOCH + dt.timedelta(microseconds=position),
            "attempts": 0,
        }
        for position, item in enumerate(envelopes)
    ]
    async with sessionmaker() as session, session.begin():
        await session.execute(text("TRUNCATE bench_outbox"))
        for chunk in itertools.batched(rows, INSERT_CHUNK, strict=False):
            await session.execute(insert(BenchOutbox), list(chunk))
    async with sessionmaker() as session, session.begin():
        await session.execute(text("ANALYZE bench_outbox"))  # the planner sees the pending rows


async def drain(
    sessionmaker: async_sessionmaker[AsyncSession],
    broker: Broker,
    total: int,
    batch_size: int,
    in_flight: int = DEFAULT_CONCURRENCY,
) -> float:
    """Run relay batches with ``in_flight`` publishes outstanding until ``total`` rows are
    published; return the seconds taken.

    Raises:
        BenchmarkError: When a batch fails or publishes nothing before the end.
    """
    published = 0
    started = time.perf_counter()
    while published < total:
        async with sessionmaker() as session, session.begin():
            result = await relay_batch(
                session, BenchOutbox, broker, batch_size, max_in_flight=in_flight
            )
        if result.failed or not result.published:
            raise BenchmarkError(
                f"the relay stopped after {published} of {total} events "
                f"({result.failed} subjects failed: is the broker up?)"
            )
        published += result.published
    return time.perf_counter() - started


async def pending_rows(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    """How many outbox rows are still unpublished."""
    async with sessionmaker() as session:
        query = select(func.count()).where(BenchOutbox.published_at.is_(None))
        return int(await session.scalar(query) or 0)


async def _timed(label: str, events: int, work: Awaitable[float]) -> float:
    sys.stderr.write(f"{label} ... ")
    sys.stderr.flush()
    try:
        seconds = await work
    except BaseException:
        sys.stderr.write("FAILED\n")
        raise
    sys.stderr.write(f"{events / max(seconds, MIN_SECONDS):,.0f} events/s ({seconds:.2f}s)\n")
    return seconds


@contextlib.asynccontextmanager
async def bench_table(engine: AsyncEngine) -> AsyncIterator[None]:
    """Create the benchmark's outbox table afresh for the block, and drop it afterwards."""
    async with engine.begin() as connection:
        await connection.run_sync(_Base.metadata.drop_all)
        await connection.run_sync(_Base.metadata.create_all)
    try:
        yield
    finally:
        async with engine.begin() as connection:
            await connection.run_sync(_Base.metadata.drop_all)


@contextlib.asynccontextmanager
async def bench_channel(broker: Broker) -> AsyncIterator[None]:
    """Give the benchmark's messages an empty place that keeps them, emptied again afterwards.

    NATS: the stream ``AGORA_BENCH`` (declared here, not through the chassis' cache of declared
    streams, so a fresh server always gets it). RabbitMQ: a durable queue bound to the channel
    (without one, the exchange drops the messages). Kafka keeps the topic's messages anyway.
    """
    if isinstance(broker, NatsBroker):
        name, subjects = stream_for(EVENT_TYPE)
        jetstream = broker.connection.jetstream()
        with contextlib.suppress(BadRequestError):  # already declared with other settings
            await jetstream.add_stream(name=name, subjects=[subjects])
        await jetstream.purge_stream(name)
        try:
            yield
        finally:
            await jetstream.purge_stream(name)
    elif isinstance(broker, RabbitBroker):
        exchange = RabbitExchange(EXCHANGE_NAME, type=ExchangeType.TOPIC, durable=True)
        queue = await broker.declare_queue(RabbitQueue(RABBIT_QUEUE, durable=True))
        await queue.bind(await broker.declare_exchange(exchange), channel_name(EVENT_TYPE))
        await queue.purge()
        try:
            yield
        finally:
            await queue.delete(if_unused=False, if_empty=False)
    else:
        yield


class _Run:
    """One run: the connected database and broker, the options, the timings of the rounds."""

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], broker: Broker, options: Options
    ) -> None:
        self.sessionmaker = sessionmaker
        self.broker = broker
        self.options = options
        self.batch_size = options.batch_size or BATCH_SIZE
        self.in_flight = options.concurrency_or(DEFAULT_CONCURRENCY)
        self.envelope_bytes = 0
        self.seconds: dict[str, list[float]] = {"raw_one_by_one": [], "raw_concurrent": []}
        self.seconds["relay"] = []

    async def round(self, number: int, events: int) -> None:
        """Move ``events`` envelopes along the three paths; round 0, the warm-up, is not kept."""
        name = f"round {number}/{self.options.rounds}" if number else "warm-up"
        envelopes = [envelope(index, number) for index in range(events)]
        messages = [message(item) for item in envelopes]
        self.envelope_bytes = sum(len(item.body) for item in messages) // len(messages)
        in_flight = self.in_flight
        timings = {
            "raw_one_by_one": await _timed(
                f"{name}: raw publish, one by one",
                events,
                publish_one_by_one(self.broker, messages),
            ),
            "raw_concurrent": await _timed(
                f"{name}: raw publish, {in_flight} in flight",
                events,
                publish_concurrently(self.broker, messages, in_flight),
            ),
        }
        await fill_outbox(self.sessionmaker, envelopes)
        timings["relay"] = await _timed(
            f"{name}: outbox relay, batches of {self.batch_size}, {in_flight} in flight",
            events,
            drain(self.sessionmaker, self.broker, events, self.batch_size, in_flight),
        )
        if number:
            for key, seconds in timings.items():
                self.seconds[key].append(seconds)

    def measurements(self) -> list[Measurement]:
        """The timed paths, in the order of the report."""
        labels = {
            "raw_one_by_one": "raw publish_envelope, one by one (each confirmed)",
            "raw_concurrent": f"raw publish_envelope, {self.in_flight} in flight",
            "relay": (
                f"outbox relay (relay_batch, {self.batch_size} rows per transaction, "
                f"{self.in_flight} in flight)"
            ),
        }
        return [
            Measurement(key, label, self.options.events, tuple(self.seconds[key]))
            for key, label in labels.items()
        ]


async def _facts(run: _Run, measurements: list[Measurement]) -> dict[str, Any]:
    rates = {m.key: m.events_per_second for m in measurements}
    pending = await pending_rows(run.sessionmaker)
    return {
        "events": run.options.events,
        "rounds": run.options.rounds,
        "warmup_events": run.options.warmup_events,
        "envelope_bytes": run.envelope_bytes,
        "published": run.options.events - pending,
        "pending": pending,
        "relay_vs_raw_one_by_one": round(rates["relay"] / rates["raw_one_by_one"], 3),
        "relay_vs_raw_concurrent": round(rates["relay"] / rates["raw_concurrent"], 3),
    }


def _broker_name(broker: Broker) -> str:
    if isinstance(broker, NatsBroker):
        version = broker.connection.connected_server_version
        return f"NATS {version.major}.{version.minor}.{version.patch} JetStream"
    return "RabbitMQ" if isinstance(broker, RabbitBroker) else "Kafka"


async def _environment(
    engine: AsyncEngine, broker: Broker, database: Server, broker_server: Server
) -> dict[str, str]:
    async with engine.connect() as connection:
        version = await connection.scalar(text("SHOW server_version"))
    broker_at, database_at = (without_credentials(s.url) for s in (broker_server, database))
    return {
        **machine_info(),  # before the rounds: the load shows what else the machine ran
        "broker": f"{_broker_name(broker)} ({broker_server.origin}, {broker_at})",
        "database": f"PostgreSQL {version} ({database.origin}, {database_at})",
    }


async def measure(options: Options, database: Server, broker_server: Server) -> Report:
    """Run the warm-up and the timed rounds against running servers.

    Raises:
        BenchmarkError: When an event could not be moved.
    """
    engine = create_engine(database.url)
    broker = make_broker(broker_server.url)
    try:
        async with bench_table(engine), broker:
            await broker.start()
            environment = await _environment(engine, broker, database, broker_server)
            async with bench_channel(broker):
                run = _Run(create_sessionmaker(engine), broker, options)
                if options.warmup_events:
                    await run.round(0, options.warmup_events)
                for number in range(1, options.rounds + 1):
                    await run.round(number, options.events)
                measurements = run.measurements()
                facts = await _facts(run, measurements)
    finally:
        await engine.dispose()
    rounds = f"{options.rounds} rounds" if options.rounds > 1 else "1 round"
    title = f"Outbox relay throughput: {options.events} events, median of {rounds}"
    return Report("relay", title, environment, measurements, facts)


def run(options: Options) -> Report:
    """Measure on the servers the options name, or on embedded ones started for the run."""
    with postgres(options.database_url) as database, nats(options.broker_url) as broker_server:
        return asyncio.run(measure(options, database, broker_server))
