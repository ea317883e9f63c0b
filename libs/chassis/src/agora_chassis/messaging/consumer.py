"""Consume events: decode, validate, apply once, retry later, dead-letter what cannot be applied.

Each try runs the handler once, in a fresh transaction with the inbox claim. When it fails, the
broker is asked to deliver the message again after a delay (:mod:`agora_chassis.messaging.
redelivery`; exponential backoff with jitter from the consumer's :class:`RetryPolicy`, by default
3 tries spanning at least two minutes), so an outage of a dependency shorter than that loses
nothing, and a waiting message never holds up the others. After the last try the message is stored
in the dead-letter table and acknowledged. An undecodable or schema-invalid message is
dead-lettered at once, and so is a handler's :class:`PermanentFailure` (a failure no retry can
mend, such as an address the mail relay refuses). A handler that raises :class:`Postpone` (a
dependency it cannot do without is down, and the message is fine) is tried again after a delay
however many tries it had: waiting is its normal course, so it never counts towards the dead
letter (payment waits out a provider outage this way). Each dead letter is logged at ERROR with its
exception and published, best effort, on the group's dead-letter channel
(``agora.deadletter.<group>``) for operators' tooling; the table is the record, the channel's
headers name the exception class only (an exception's text may hold personal data). When even the
dead letter cannot be written (the database is down), the message is retried the same delayed way:
nothing is lost, nothing spins.

Handling runs under the event's correlation id (the CloudEvents ``correlationid`` extension), so
the consumer's log lines carry the id of the request that caused the event.

Outcomes, retries and dead letters are counted for ``GET /metrics``
(:mod:`agora_chassis.messaging.metrics`).

Usage::

    consumer = EventConsumer(broker, sessionmaker, group="notification",
                             inbox_model=InboxMessage, dead_letter_model=DeadLetter)

    @consumer.handler(UserRegisteredV1)
    async def send_welcome(session: AsyncSession, payload: UserRegisteredV1, event: CloudEvent):
        ...
"""

from __future__ import annotations

import json
import logging
import traceback
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace
from opentelemetry.propagate import extract
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agora_chassis.db import run_after_commit, utcnow
from agora_chassis.logging import correlation_id
from agora_chassis.messaging import metrics
from agora_chassis.messaging.broker import (
    Broker,
    publish_envelope,
    retain_channel,
)
from agora_chassis.messaging.deadletters import DeadLetterMixin, add_dead_letter
from agora_chassis.messaging.inbox import InboxMixin, claim
from agora_chassis.messaging.redelivery import Attempt, Retry, subscribe_with_retries
from agora_chassis.messaging.retry import RetryPolicy
from agora_contracts.envelope import CloudEvent, EventPayload

logger = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

ERROR_LENGTH = 2000

Handler = Callable[[AsyncSession, Any, CloudEvent], Awaitable[None]]
"""``async def handler(session, payload, event)``; runs inside the consumer's transaction."""


DEAD_LETTER_DOMAIN = "deadletter"


class UndecodableMessage(ValueError):
    """The message is not a CloudEvent this consumer can validate."""


class PermanentFailure(Exception):
    """Raised by a handler when trying again cannot help: the message is dead-lettered at once."""


class Postpone(Exception):
    """Raised by a handler to wait for a dependency: the message comes back later, never dead.

    The transaction rolls back (nothing of the try is kept, the inbox claim included) and the
    broker delivers the message again after the policy's first wait (or ``max_delay``, if
    shorter), however many tries came before: a message waiting out an outage is not a failing
    message. The handler decides when waiting is over (a deadline passed) and settles the
    message itself then.

    Attributes:
        max_delay: The longest wait before the next try, in seconds (``None``: the policy's).
    """

    def __init__(self, reason: str, *, max_delay: float | None = None) -> None:
        super().__init__(reason)
        self.max_delay = max_delay


def dead_letter_event_type(group: str) -> str:
    """The pseudo event type naming a group's dead-letter channel: ``deadletter.<group>``."""
    return f"{DEAD_LETTER_DOMAIN}.{group}"


@dataclass(frozen=True)
class Route:
    """A handler and the payload class its events must validate against."""

    payload_class: type[EventPayload]
    handler: Handler


@dataclass
class Failure:
    """A failed try of a handler (or a message that could not be decoded)."""

    error: str
    stack: str
    tries: int
    first_failed_at: Any
    reason: str = metrics.FAILED
    exception: BaseException | None = None

    @property
    def postponed(self) -> Postpone | None:
        """The handler's :class:`Postpone`, when it asked to wait rather than failed."""
        return self.exception if isinstance(self.exception, Postpone) else None

    @property
    def error_class(self) -> str:
        """The exception's class name: what the dead-letter headers may say (no message text)."""
        return type(self.exception).__name__ if self.exception is not None else ""


@dataclass(frozen=True)
class Outcome:
    """What handling one delivery came to: applied, retried later, or dead-lettered."""

    applied: bool
    retry: Retry | None = None
    postponed: bool = False


APPLIED = Outcome(applied=True)
DEAD_LETTERED = Outcome(applied=False)


class EventConsumer:
    """The event handlers of one service (one consumer group) on one broker."""

    def __init__(
        self,
        broker: Broker | None,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        group: str,
        inbox_model: type[InboxMixin],
        dead_letter_model: type[DeadLetterMixin],
        retry: RetryPolicy | None = None,
    ) -> None:
        """Bind the consumer to its broker, database and tables.

        Args:
            broker: The broker; register handlers before it starts. ``None`` gives a consumer
                that only replays dead letters (no subscriptions).
            sessionmaker: Opens the consumer's transactions.
            group: Consumer group, normally the service name.
            inbox_model: The service's inbox table.
            dead_letter_model: The service's dead-letter table.
            retry: Tries and the broker-scheduled backoff between them (default: 3 tries over
                at least two minutes).
        """
        self.broker = broker
        self.sessionmaker = sessionmaker
        self.group = group
        self.inbox_model = inbox_model
        self.dead_letter_model = dead_letter_model
        self.retry = retry or RetryPolicy()
        self.routes: dict[str, Route] = {}
        self._dead_letter_channel_ready = False

    def handler(self, payload_class: type[EventPayload]) -> Callable[[Handler], Handler]:
        """Decorator: apply the decorated function to every event of ``payload_class``'s type.

        Args:
            payload_class: The ``agora_contracts`` payload the event data must validate against.

        Returns:
            The decorator; it returns the function unchanged.
        """

        def register(handler: Handler) -> Handler:
            event_type = payload_class.event_type
            self.routes[event_type] = Route(payload_class, handler)
            if self.broker is not None:
                subscribe_with_retries(
                    self.broker,
                    event_type,
                    self.group,
                    self.on_delivery,
                    stages=self.retry.tries - 1,
                )
            return handler

        return register

    async def deliver(self, body: bytes) -> bool:
        """Process one message body in process, every try back to back (no broker to wait).

        For tools and tests: the same tries, dead letter and metrics as through a broker, only
        without the waits between the tries.

        Args:
            body: The raw structured-mode CloudEvent.

        Returns:
            ``True`` when the event was applied (now or before), ``False`` when dead-lettered
            or postponed (its handler waits for a dependency: a broker would bring it back).

        Raises:
            Exception: The dead letter could not be written either (the database is down).
        """
        attempt = Attempt(1)
        while True:
            outcome = await self._handle(body, attempt, final=attempt.number >= self.retry.tries)
            if outcome.retry is None or outcome.postponed:
                return outcome.applied
            attempt = Attempt(attempt.number + 1, outcome.retry.first_failed_at)

    async def on_delivery(self, body: bytes, attempt: Attempt) -> Retry | None:
        """Process one delivery from the broker; the broker calls this for every try.

        Args:
            body: The raw structured-mode CloudEvent.
            attempt: Which try this is, and when the first one failed.

        Returns:
            ``None`` when the message is settled (applied or dead-lettered), else when to try
            again.
        """
        return (await self._handle(body, attempt, final=False)).retry

    async def _handle(self, body: bytes, attempt: Attempt, *, final: bool) -> Outcome:
        envelope: dict[str, Any] | None = None
        try:
            envelope = _parse_json(body)
            route, event, payload = self._decode(envelope)
        except UndecodableMessage as exc:
            undecodable = Failure(
                str(exc)[:ERROR_LENGTH], "", 0, utcnow(), metrics.UNDECODABLE, exception=exc
            )
            return await self._settle_failure(body, envelope, undecodable, attempt, final=final)
        with _correlated(event):
            failure = await self._try(route, event, payload, attempt)
            if failure is None:
                return APPLIED
            if (postpone := failure.postponed) is not None:
                return self._postpone(event, postpone, failure)
            if failure.reason == metrics.FAILED and attempt.number < self.retry.tries:
                delay = self.retry.delay(attempt.number)
                logger.warning(
                    "handler for %s %s failed (try %d of %d, %s); retrying in %.0fs",
                    event.type,
                    event.id,
                    attempt.number,
                    self.retry.tries,
                    failure.error_class,
                    delay,
                )
                metrics.retried.labels(self.group, event.type).inc()
                return Outcome(applied=False, retry=Retry(delay, failure.first_failed_at))
            return await self._settle_failure(body, envelope, failure, attempt, final=final)

    def _postpone(self, event: CloudEvent, postpone: Postpone, failure: Failure) -> Outcome:
        """Ask the broker for the message again later; the try is not a failure of the message."""
        delay = self.retry.delay(1)
        if postpone.max_delay is not None:
            delay = max(0.0, min(delay, postpone.max_delay))
        logger.info("handler for %s %s waits %.0fs: %s", event.type, event.id, delay, postpone)
        metrics.postponed.labels(self.group, event.type).inc()
        retry = Retry(delay, failure.first_failed_at)
        return Outcome(applied=False, retry=retry, postponed=True)

    async def _settle_failure(
        self,
        body: bytes,
        envelope: dict[str, Any] | None,
        failure: Failure,
        attempt: Attempt,
        *,
        final: bool,
    ) -> Outcome:
        """Dead-letter the message; if even that fails, retry it later like any failure."""
        try:
            await self._dead_letter(body, envelope, failure)
        except Exception:
            if final:
                raise
            stage = max(1, min(attempt.number, self.retry.tries - 1))
            delay = self.retry.delay(stage)
            logger.exception("could not store a dead letter; the broker retries in %.0fs", delay)
            return Outcome(applied=False, retry=Retry(delay, failure.first_failed_at))
        return DEAD_LETTERED

    async def _dead_letter(
        self, body: bytes, envelope: dict[str, Any] | None, failure: Failure
    ) -> None:
        """Store the dead letter (the record), then announce it on the dead-letter channel."""
        async with self.sessionmaker() as session, session.begin():
            letter = await add_dead_letter(
                session,
                self.dead_letter_model,
                error=failure.error,
                stack=failure.stack or None,
                attempts=failure.tries,
                envelope=envelope,
                raw=None if envelope is not None else body,
                first_failed_at=failure.first_failed_at,
            )
        event_type_label = self._event_type_label(envelope)
        logger.error(
            "dead-lettered %s message %s after %d tries (dead letter %s)",
            event_type_label,
            (envelope or {}).get("id", "without id"),
            failure.tries,
            letter.id,
            exc_info=failure.exception,
        )
        metrics.dead_lettered.labels(self.group, event_type_label, failure.reason).inc()
        if self.broker is None:
            return
        headers = {
            "x-dead-letter-id": str(letter.id),
            "x-consumer-group": self.group,
            "x-attempts": str(failure.tries),
            # The class only: an exception's text may carry an address or other personal data.
            "x-error": failure.error_class,
        }
        event_type = dead_letter_event_type(self.group)
        try:
            if not self._dead_letter_channel_ready:
                await retain_channel(self.broker, event_type, event_type)
                self._dead_letter_channel_ready = True
            await publish_envelope(
                self.broker,
                body,
                event_type=event_type,
                key=None,
                headers=headers,
            )
        except Exception:  # noqa: BLE001 - the table holds the dead letter; the channel is a copy
            logger.warning("could not publish dead letter %s to its channel", letter.id)

    async def replay(self, dead_letter_id: uuid.UUID) -> bool:
        """Run a dead letter's event through its handler again (after the cause was fixed).

        It runs once, in process (an operator asked for it now); the inbox makes this safe: an
        event that was in fact applied is not applied twice.

        Args:
            dead_letter_id: The dead letter to replay.

        Returns:
            ``True`` when the event is now applied (``replayed_at`` is set), ``False`` when it
            failed again (the row's ``attempts``, ``error`` and ``last_failed_at`` are updated).

        Raises:
            LookupError: No such dead letter.
            UndecodableMessage: The stored message still cannot be decoded.
        """
        async with self.sessionmaker() as session:
            letter = await session.get(self.dead_letter_model, dead_letter_id)
        if letter is None:
            raise LookupError(f"no dead letter {dead_letter_id}")
        if letter.envelope is None:
            raise UndecodableMessage("the dead letter holds no decodable envelope")
        route, event, payload = self._decode(letter.envelope)
        with _correlated(event):
            failure = await self._try(route, event, payload, Attempt(1))
        async with self.sessionmaker() as session, session.begin():
            row = await session.get(self.dead_letter_model, dead_letter_id, with_for_update=True)
            assert row is not None  # noqa: S101 - read above; dead letters are not deleted here
            if failure is None:
                row.replayed_at = utcnow()
            else:
                row.attempts += failure.tries
                row.error, row.stack, row.last_failed_at = failure.error, failure.stack, utcnow()
        return failure is None

    def _event_type_label(self, envelope: dict[str, Any] | None) -> str:
        """The message's event type if this consumer handles it, else ``unknown`` (bounded)."""
        event_type = envelope.get("type") if envelope is not None else None
        known = isinstance(event_type, str) and event_type in self.routes
        return str(event_type) if known else metrics.UNKNOWN

    def _decode(self, envelope: dict[str, Any]) -> tuple[Route, CloudEvent, EventPayload]:
        try:
            event = CloudEvent.model_validate(envelope)
        except ValidationError as exc:
            raise UndecodableMessage(f"not a CloudEvent: {exc}") from exc
        route = self.routes.get(event.type)
        if route is None:
            raise UndecodableMessage(f"no handler for event type {event.type!r}")
        try:
            payload = route.payload_class.model_validate(event.data)
        except ValidationError as exc:
            raise UndecodableMessage(f"invalid {event.type} payload: {exc}") from exc
        return route, event, payload

    async def _try(
        self, route: Route, event: CloudEvent, payload: EventPayload, attempt: Attempt
    ) -> Failure | None:
        """Apply the event once; describe the failure if it raised."""
        try:
            await self._apply_once(route, event, payload)
        except Exception as exc:  # noqa: BLE001 - any failure is retried, then dead-lettered
            permanent = isinstance(exc, PermanentFailure)
            return Failure(
                error=f"{type(exc).__name__}: {exc}"[:ERROR_LENGTH],
                stack=traceback.format_exc(),
                tries=attempt.number,
                first_failed_at=attempt.first_failed_at or utcnow(),
                reason=metrics.PERMANENT if permanent else metrics.FAILED,
                exception=exc,
            )
        return None

    async def _apply_once(self, route: Route, event: CloudEvent, payload: EventPayload) -> None:
        # The consumer's span continues the producer's trace.
        parent = extract({"traceparent": event.traceparent} if event.traceparent else {})
        with tracer.start_as_current_span(
            f"{event.type} process", context=parent, kind=trace.SpanKind.CONSUMER
        ):
            async with self.sessionmaker() as session:
                async with session.begin():
                    applied = await claim(session, self.inbox_model, event.id, event.type)
                    if applied:
                        await route.handler(session, payload, event)
                await run_after_commit(session)
        outcome = metrics.APPLIED if applied else metrics.DUPLICATE
        metrics.consumed.labels(self.group, event.type, outcome).inc()


@contextmanager
def _correlated(event: CloudEvent) -> Iterator[None]:
    """Handle the event under the correlation id of the request that caused it."""
    token = correlation_id.set(event.correlationid)
    try:
        yield
    finally:
        correlation_id.reset(token)


def _parse_json(body: bytes) -> dict[str, Any]:
    try:
        envelope = json.loads(body)
    except ValueError as exc:  # includes UnicodeDecodeError
        raise UndecodableMessage(f"not JSON: {exc}") from exc
    if not isinstance(envelope, dict):
        raise UndecodableMessage("not a JSON object")
    return envelope
