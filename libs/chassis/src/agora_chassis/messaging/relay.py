"""The outbox relay: publishes a service's pending outbox rows, in order, each once.

One asyncio task per producing service process. Each batch runs in one transaction that

* takes a transaction-scoped advisory lock on the outbox, so of several relay instances only one
  publishes at a time (order per aggregate needs a single publisher; a crashed instance's lock dies
  with its connection), and locks its rows ``FOR UPDATE SKIP LOCKED`` as a second guard;
* splits its rows into one lane per aggregate (``subject``, else the event type) and publishes up
  to ``max_in_flight`` lanes at once, each lane's rows one after another in ``created_at`` order:
  an aggregate's next event leaves only once the broker confirmed the one before, while other
  aggregates' publishes are in flight beside it (ADR 0014 says why no broker's per-connection
  ordering is relied on);
* sets a row's ``published_at`` only after the broker confirmed that row;
* on a failure records ``attempts``/``last_error`` and skips the rest of that lane, so an
  aggregate's events are never published out of order.

Between batches the relay sleeps until PostgreSQL ``NOTIFY`` (sent by ``add_event`` on commit)
wakes it, or a short poll interval passes; while publishing fails it backs off exponentially.
Delivery is at least once: a crash between the broker's confirm and the commit republishes the row,
and consumers' inboxes drop the duplicate.

Each pass also counts published and failed rows and, in the same transaction, measures the backlog
(pending rows, age of the oldest) for ``GET /metrics`` (:mod:`agora_chassis.messaging.metrics`).

The relay supervises itself: whatever exception escapes its loop is logged and the loop starts
again after a growing pause, and ``Relay.running`` says whether it is publishing (readiness reports
``degraded`` while it is not, see :func:`agora_chassis.messaging.lifecycle.outbox_probe`). Each row
is published under the correlation id stored in its envelope, so the relay's log lines carry it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import logging
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from sqlalchemy import BindParameter, Row, Select, Text, bindparam, cast, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from agora_chassis.db import create_sessionmaker, utcnow
from agora_chassis.logging import correlation_id
from agora_chassis.messaging import metrics
from agora_chassis.messaging.broker import PUBLISH_TIMEOUT_SECONDS, Broker, publish_envelope
from agora_chassis.outbox import OutboxMixin, notify_channel
from agora_chassis.settings import DEFAULT_RELAY_MAX_IN_FLIGHT

logger = logging.getLogger(__name__)

BATCH_SIZE = 500
"""Rows per transaction. Each batch pays five round trips (BEGIN, lock, scan, update, COMMIT) and
waits for its slowest lane before the next starts; 500 rows spread that over about eight windows
of 64 (100 did over 1.5 and measured 10-25% slower; ADR 0014). A killed relay republishes at most
this many rows, which consumers' inboxes and JetStream's message ids drop."""
POLL_INTERVAL_SECONDS = 2.0
BASE_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 30.0
MAX_FAILURES_PER_BATCH = 3
MAX_IN_FLIGHT = DEFAULT_RELAY_MAX_IN_FLIGHT
"""Publishes awaiting their confirmation at once, by default (``AGORA_RELAY_MAX_IN_FLIGHT``)."""
ERROR_LENGTH = 2000
LOCK_KEY_BYTES = 8
CLOUDEVENTS_HEADER_NAMES = {"correlationid": "ce-correlationid"}
HEADER_FIELDS = ("id", "type", "traceparent", "correlationid")
"""The envelope's attributes :func:`transport_headers` copies into headers."""
"""Extension attributes as binary-mode CloudEvents headers (``traceparent`` keeps its W3C name)."""


@dataclass(frozen=True)
class BatchResult:
    """What one batch did."""

    published: int
    failed: int


def advisory_lock_key(outbox: type[OutboxMixin]) -> int:
    """A stable signed 64-bit key naming the outbox table, for ``pg_try_advisory_xact_lock``."""
    name = outbox.__tablename__.encode()  # type: ignore[attr-defined]
    digest = hashlib.blake2b(name, digest_size=LOCK_KEY_BYTES).digest()
    return int.from_bytes(digest, "big", signed=True)


def transport_headers(envelope: dict[str, Any]) -> dict[str, str]:
    """Headers that let brokers' tooling see the trace and id without parsing the body."""
    headers = {"ce-id": str(envelope.get("id", "")), "ce-type": str(envelope.get("type", ""))}
    for attribute in ("traceparent", "correlationid"):
        if envelope.get(attribute):
            headers[CLOUDEVENTS_HEADER_NAMES.get(attribute, attribute)] = str(envelope[attribute])
    return headers


async def relay_batch(
    session: AsyncSession,
    outbox: type[OutboxMixin],
    broker: Broker,
    batch_size: int = BATCH_SIZE,
    publish_timeout: float = PUBLISH_TIMEOUT_SECONDS,
    *,
    service: str = metrics.UNKNOWN,
    max_in_flight: int = MAX_IN_FLIGHT,
) -> BatchResult:
    """Publish up to ``batch_size`` pending rows; the caller commits ``session``'s transaction.

    The rows are split into lanes, one per aggregate; up to ``max_in_flight`` lanes publish at
    once, each its rows one after another, so an aggregate's next event leaves only after the
    broker confirmed the one before (see ADR 0014).

    Args:
        session: A session inside a transaction.
        outbox: The outbox model class.
        broker: A connected broker.
        batch_size: Most rows to take.
        publish_timeout: Longest wait for one broker confirmation, in seconds.
        service: The ``service`` label of the publish counters.
        max_in_flight: Most publishes awaiting their confirmation at once (1: one by one).

    Returns:
        How many rows were published and how many failed.
    """
    locked = await session.scalar(select(func.pg_try_advisory_xact_lock(advisory_lock_key(outbox))))
    if not locked:
        return BatchResult(published=0, failed=0)  # another relay instance is publishing
    result = await session.execute(_pending_rows(outbox, batch_size))
    tally = _Tally(broker, publish_timeout)
    await _publish_lanes(aggregate_lanes(map(PendingEvent.from_row, result)), tally, max_in_flight)
    await _record(session, outbox, tally)
    for event_type, confirmed in Counter(event.event_type for event, _ in tally.confirmed).items():
        metrics.published.labels(service, event_type).inc(confirmed)
    for event, _error in tally.failures:
        metrics.publish_failures.labels(service, event.event_type).inc()
    return BatchResult(published=len(tally.confirmed), failed=len(tally.failures))


def _pending_rows(outbox: type[OutboxMixin], batch_size: int) -> Select[Any]:
    """The oldest pending rows, locked, with the envelope as PostgreSQL's JSON text.

    The relay publishes that text as the body instead of decoding the JSONB into a dict and
    encoding it again (two thirds of the relay's own CPU per row went to the ORM and the JSON
    round trip); ``jsonb`` output is a JSON document equal to the stored envelope, which
    ``test_relay_body_is_the_stored_envelope`` checks. The header fields come out with ``->>``.
    """
    envelope = outbox.envelope
    return (
        select(
            outbox.id,
            outbox.event_type,
            outbox.subject,
            cast(envelope, Text).label("body"),
            *(envelope[name].astext.label(f"ce_{name}") for name in HEADER_FIELDS),
        )
        .where(outbox.published_at.is_(None))
        .order_by(outbox.created_at, outbox.id)
        .limit(batch_size)
        .with_for_update(skip_locked=True)
    )


@dataclass(frozen=True)
class PendingEvent:
    """An outbox row as the relay publishes it."""

    id: uuid.UUID
    event_type: str
    subject: str | None
    body: bytes
    headers: dict[str, str]
    correlation: str | None

    @classmethod
    def from_row(cls, row: Row[Any]) -> PendingEvent:
        """Read a row of :func:`_pending_rows`."""
        fields = {name: getattr(row, f"ce_{name}") for name in HEADER_FIELDS}
        return cls(
            row.id,
            row.event_type,
            row.subject,
            row.body.encode(),
            transport_headers(fields),
            fields["correlationid"],
        )


def aggregate_lanes(events: Iterable[PendingEvent]) -> list[list[PendingEvent]]:
    """Group events by aggregate (``subject``, else the event type), keeping their order.

    Args:
        events: Pending events in creation order.

    Returns:
        One list per aggregate, its events in creation order; the lists in order of their first.
    """
    lanes: dict[str, list[PendingEvent]] = {}
    for event in events:
        lanes.setdefault(event.subject or event.event_type, []).append(event)
    return list(lanes.values())


@dataclass
class _Tally:
    """One batch's publishing settings and outcomes, shared by its lanes."""

    broker: Broker
    publish_timeout: float
    confirmed: list[tuple[PendingEvent, dt.datetime]] = field(default_factory=list)
    failures: list[tuple[PendingEvent, str]] = field(default_factory=list)


async def _publish_lanes(lanes: list[list[PendingEvent]], tally: _Tally, in_flight: int) -> None:
    """Publish the lanes, up to ``in_flight`` at once; each worker takes the next waiting lane."""
    queue = iter(lanes)  # shared by the workers: each lane is taken once

    async def worker() -> None:
        for lane in queue:
            await _publish_lane(lane, tally)

    async with asyncio.TaskGroup() as group:  # _publish_event catches every publish failure
        for _ in range(min(max(in_flight, 1), len(lanes))):
            group.create_task(worker())


async def _publish_lane(lane: list[PendingEvent], tally: _Tally) -> None:
    """Publish one aggregate's events in order; stop at its first failure (the rest wait)."""
    for event in lane:
        if len(tally.failures) >= MAX_FAILURES_PER_BATCH:
            return  # the broker is most likely down: stop paying publish timeouts
        error = await _publish_event(event, tally.broker, tally.publish_timeout)
        if error is not None:
            tally.failures.append((event, error))
            return
        tally.confirmed.append((event, utcnow()))  # the time its own confirmation arrived


async def _publish_event(event: PendingEvent, broker: Broker, publish_timeout: float) -> str | None:
    """Publish one event under its correlation id; return the error, or ``None`` once confirmed."""
    token = correlation_id.set(event.correlation)
    try:
        await publish_envelope(
            broker,
            event.body,
            event_type=event.event_type,
            key=event.subject,
            headers=event.headers,
            confirm_timeout=publish_timeout,
        )
    except Exception as exc:  # noqa: BLE001 - any broker failure: record it, retry later
        logger.warning(
            "could not publish %s %s: %s", event.event_type, event.id, type(exc).__name__
        )
        return f"{type(exc).__name__}: {exc}"[:ERROR_LENGTH]
    finally:
        correlation_id.reset(token)
    return None


async def _record(session: AsyncSession, outbox: type[OutboxMixin], tally: _Tally) -> None:
    """Mark the confirmed rows published and count a try on the failed ones (one statement each)."""
    table = outbox.__table__  # type: ignore[attr-defined]
    row_id: BindParameter[uuid.UUID] = bindparam("row_id")
    if tally.confirmed:
        await session.execute(
            update(table).where(table.c.id == row_id).values(published_at=bindparam("at")),
            [{"row_id": event.id, "at": at} for event, at in tally.confirmed],
        )
    if tally.failures:
        await session.execute(
            update(table)
            .where(table.c.id == row_id)
            .values(attempts=table.c.attempts + 1, last_error=bindparam("error")),
            [{"row_id": event.id, "error": error} for event, error in tally.failures],
        )


async def pending_backlog(session: AsyncSession, outbox: type[OutboxMixin]) -> tuple[int, float]:
    """How many rows wait to be published, and the age of the oldest in seconds (0 when none).

    Args:
        session: An open session.
        outbox: The outbox model class.

    Returns:
        ``(pending rows, oldest age in seconds)``.
    """
    pending, oldest = (
        await session.execute(
            select(func.count(), func.min(outbox.created_at)).where(outbox.published_at.is_(None))
        )
    ).one()
    age = 0.0 if oldest is None else max((utcnow() - oldest).total_seconds(), 0.0)
    return int(pending), age


async def observe_backlog(session: AsyncSession, outbox: type[OutboxMixin], service: str) -> None:
    """Set the backlog gauges from the outbox's pending rows (its partial index covers them).

    Args:
        session: An open session; inside the relay's transaction, its own updates count.
        outbox: The outbox model class.
        service: The ``service`` label.
    """
    pending, age = await pending_backlog(session, outbox)
    metrics.outbox_pending.labels(service).set(pending)
    metrics.outbox_oldest_age.labels(service).set(age)


class Relay:
    """A running relay; create it with :func:`start_relay`."""

    def __init__(
        self,
        engine: AsyncEngine,
        outbox: type[OutboxMixin],
        broker: Broker,
        *,
        source: str,
        poll_interval: float = POLL_INTERVAL_SECONDS,
        max_backoff: float = MAX_BACKOFF_SECONDS,
        publish_timeout: float = PUBLISH_TIMEOUT_SECONDS,
        max_in_flight: int = MAX_IN_FLIGHT,
    ) -> None:
        """Describe the relay; :meth:`start` runs it."""
        self.publish_timeout = publish_timeout
        self.max_in_flight = max_in_flight
        self.engine = engine
        self.outbox = outbox
        self.broker = broker
        self.source = source
        self.service = metrics.service_label(source)
        self.poll_interval = poll_interval
        self.max_backoff = max_backoff
        self.sessionmaker = create_sessionmaker(engine)
        self.wake = asyncio.Event()
        self.listener: asyncpg.Connection | None = None
        self.task: asyncio.Task[None] | None = None
        self.restarts = 0
        self._looping = False

    @property
    def running(self) -> bool:
        """Whether the relay's loop is running now (not stopped, not pausing after a crash)."""
        return self.task is not None and not self.task.done() and self._looping

    def start(self) -> None:
        """Start the background task."""
        self.task = asyncio.create_task(self._supervise(), name=f"outbox-relay {self.source}")

    async def _supervise(self) -> None:
        """Run the loop; after any exception, log it and start it again after a growing pause."""
        while True:
            try:
                await self._run()
            except Exception:
                self._looping = False
                self.restarts += 1
                delay = min(BASE_BACKOFF_SECONDS * 2 ** (self.restarts - 1), self.max_backoff)
                logger.exception("outbox relay %s crashed; restarting in %.1fs", self.source, delay)
                await self._close_listener()
                await asyncio.sleep(delay)

    async def stop(self) -> None:
        """Stop the task (a batch in flight is rolled back and its rows retried later)."""
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        await self._close_listener()

    async def _close_listener(self) -> None:
        if self.listener is not None:
            with contextlib.suppress(Exception):
                await self.listener.close()
            self.listener = None

    async def _run(self) -> None:
        failures = 0
        while True:
            await self._listen()
            self._looping = True  # set here, after the steps that may crash the loop
            self.wake.clear()
            result = await self._batch()
            if result.failed:
                failures += 1
                delay = min(BASE_BACKOFF_SECONDS * 2 ** (failures - 1), self.max_backoff)
                logger.warning(
                    "outbox relay %s: publishing failed, retry in %.1fs", self.source, delay
                )
                await asyncio.sleep(delay)  # not woken by NOTIFY: no busy loop while down
                continue
            failures = 0
            if result.published < BATCH_SIZE:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), self.poll_interval)

    async def _batch(self) -> BatchResult:
        try:
            async with self.sessionmaker() as session, session.begin():
                result = await relay_batch(
                    session,
                    self.outbox,
                    self.broker,
                    publish_timeout=self.publish_timeout,
                    service=self.service,
                    max_in_flight=self.max_in_flight,
                )
                await observe_backlog(session, self.outbox, self.service)
                return result
        except Exception:  # the database is down or the commit failed: back off and retry
            logger.exception("outbox relay %s: batch failed", self.source)
            return BatchResult(published=0, failed=1)

    async def _listen(self) -> None:
        """(Re)open the LISTEN connection; without it the relay still polls."""
        if self.listener is not None and not self.listener.is_closed():
            return
        url = self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        try:
            self.listener = await asyncpg.connect(url)
            await self.listener.add_listener(notify_channel(self.outbox), self._notified)
        except (OSError, asyncpg.PostgresError):
            logger.warning("outbox relay %s: LISTEN unavailable, polling", self.source)
            self.listener = None

    def _notified(self, *_args: object) -> None:
        self.wake.set()


def start_relay(
    engine: AsyncEngine,
    outbox_model: type[OutboxMixin],
    broker: Broker,
    *,
    source: str,
    poll_interval: float = POLL_INTERVAL_SECONDS,
    max_backoff: float = MAX_BACKOFF_SECONDS,
    publish_timeout: float = PUBLISH_TIMEOUT_SECONDS,
    max_in_flight: int = MAX_IN_FLIGHT,
) -> Relay:
    """Start publishing ``outbox_model``'s pending rows in the background.

    Args:
        engine: The service's engine.
        outbox_model: The service's outbox model class.
        broker: A connected broker.
        source: The producing service (for logs; its last segment labels the metrics), e.g.
            ``/agora/identity``.
        poll_interval: Longest wait for new rows when no ``NOTIFY`` arrives, in seconds.
        max_backoff: Longest wait between tries while publishing fails, in seconds.
        publish_timeout: Longest wait for one broker confirmation, in seconds.
        max_in_flight: Most publishes awaiting their confirmation at once, each of another
            aggregate.

    Returns:
        The running relay; ``await relay.stop()`` on shutdown.
    """
    relay = Relay(
        engine,
        outbox_model,
        broker,
        source=source,
        poll_interval=poll_interval,
        max_backoff=max_backoff,
        publish_timeout=publish_timeout,
        max_in_flight=max_in_flight,
    )
    relay.start()
    return relay
