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
import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from agora_chassis.db import create_sessionmaker, utcnow
from agora_chassis.logging import correlation_id
from agora_chassis.messaging import metrics
from agora_chassis.messaging.broker import PUBLISH_TIMEOUT_SECONDS, Broker, publish_envelope
from agora_chassis.outbox import OutboxMixin, notify_channel
from agora_chassis.settings import DEFAULT_RELAY_MAX_IN_FLIGHT

logger = logging.getLogger(__name__)

BATCH_SIZE = 100
POLL_INTERVAL_SECONDS = 2.0
BASE_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 30.0
MAX_FAILURES_PER_BATCH = 3
MAX_IN_FLIGHT = DEFAULT_RELAY_MAX_IN_FLIGHT
"""Publishes awaiting their confirmation at once, by default (``AGORA_RELAY_MAX_IN_FLIGHT``)."""
ERROR_LENGTH = 2000
LOCK_KEY_BYTES = 8
CLOUDEVENTS_HEADER_NAMES = {"correlationid": "ce-correlationid"}
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
    rows = await session.scalars(
        select(outbox)
        .where(outbox.published_at.is_(None))
        .order_by(outbox.created_at, outbox.id)
        .limit(batch_size)
        .with_for_update(skip_locked=True)
    )
    lanes = aggregate_lanes(rows)
    queue = iter(lanes)  # shared by the workers: each lane is taken once
    tally = _Tally(broker, publish_timeout, service)

    async def worker() -> None:
        for lane in queue:
            await _publish_lane(lane, tally)

    async with asyncio.TaskGroup() as group:  # _publish_row catches every publish failure
        for _ in range(min(max(max_in_flight, 1), len(lanes))):
            group.create_task(worker())
    return BatchResult(published=tally.published, failed=tally.failed)


def aggregate_lanes(rows: Iterable[OutboxMixin]) -> list[list[OutboxMixin]]:
    """Group rows by aggregate (``subject``, else the event type), keeping their order.

    Args:
        rows: Outbox rows in creation order.

    Returns:
        One list per aggregate, its rows in creation order; the lists in order of their first row.
    """
    lanes: dict[str, list[OutboxMixin]] = {}
    for row in rows:
        lanes.setdefault(row.subject or row.event_type, []).append(row)
    return list(lanes.values())


@dataclass
class _Tally:
    """One batch's publishing settings and counts, shared by its lanes."""

    broker: Broker
    publish_timeout: float
    service: str
    published: int = 0
    failed: int = 0


async def _publish_lane(lane: list[OutboxMixin], tally: _Tally) -> None:
    """Publish one aggregate's rows in order; stop at its first failure (the rest wait)."""
    for row in lane:
        if tally.failed >= MAX_FAILURES_PER_BATCH:
            return  # the broker is most likely down: stop paying publish timeouts
        if not await _publish_row(row, tally.broker, tally.publish_timeout):
            metrics.publish_failures.labels(tally.service, row.event_type).inc()
            tally.failed += 1
            return
        metrics.published.labels(tally.service, row.event_type).inc()
        tally.published += 1


async def _publish_row(row: OutboxMixin, broker: Broker, publish_timeout: float) -> bool:
    """Publish one row; mark it published on confirmation, or record the failure on it."""
    token = correlation_id.set(row.envelope.get("correlationid"))
    try:
        return await _publish_correlated(row, broker, publish_timeout)
    finally:
        correlation_id.reset(token)


async def _publish_correlated(row: OutboxMixin, broker: Broker, publish_timeout: float) -> bool:
    try:
        await publish_envelope(
            broker,
            json.dumps(row.envelope).encode(),
            event_type=row.event_type,
            key=row.subject,
            headers=transport_headers(row.envelope),
            confirm_timeout=publish_timeout,
        )
    except Exception as exc:  # noqa: BLE001 - any broker failure: record it, retry later
        row.attempts += 1
        row.last_error = f"{type(exc).__name__}: {exc}"[:ERROR_LENGTH]
        logger.warning("could not publish %s %s: %s", row.event_type, row.id, type(exc).__name__)
        return False
    row.published_at = utcnow()
    return True


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
