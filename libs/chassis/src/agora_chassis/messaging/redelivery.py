"""Broker-scheduled retries: a failed message comes back later, without holding anything meanwhile.

A consumer's handler gets each message with its :class:`Attempt` (which try this is, when the first
failed) and answers ``None`` (done: acknowledge) or a :class:`Retry` (deliver again after a delay).
How the broker waits differs:

* NATS JetStream: the message is NAKed with the delay; the server redelivers it after the delay and
  counts deliveries (``num_delivered``). The pull goes on meanwhile; a NAKed message stays among
  the consumer's pending acks, so at most ``max_ack_pending`` (1,000 by default) may wait at once.
  While a handler runs, the message is marked in progress every few seconds, so a slow handler is
  not redelivered under it (``ack_wait`` is 30 s).
* RabbitMQ (no plugin): the message is copied to a wait queue, one per try number
  (``<queue>.wait.<n>``), with a per-message expiration; the wait queue dead-letters expired
  messages back to the consumer's own queue through the default exchange, then the original is
  acknowledged. Try count and first failure travel in headers. A message behind a longer-waiting
  one in the same wait queue waits at most its stage's longest (jittered) delay.
* Kafka: the message is copied to a retry topic per consumer group and try number
  (``<channel>.retry.<group>.<n>``) with its due time in a header; that topic's subscriber sleeps
  until the due time, then handles it. Only the retry topic waits; the main topic flows on.

When the handler raises instead of answering (the task is cancelled at shutdown, or a bug), the
message goes back to the broker at once: NAK without delay (NATS), requeue (RabbitMQ), no offset
commit (Kafka).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from faststream import AckPolicy, Context
from faststream.message import StreamMessage
from faststream.nats import JStream, NatsBroker, PullSub

from agora_chassis.messaging.broker import (
    Broker,
    channel_name,
    durable_name,
    events_exchange,
    is_rabbit,
    stream_for,
)

if TYPE_CHECKING:  # imported when such a broker is met (see agora_chassis.messaging.broker)
    from faststream.kafka import KafkaBroker
    from faststream.rabbit import RabbitBroker, RabbitQueue

logger = logging.getLogger(__name__)

TRIES_HEADER = "x-agora-tries"
"""Failed tries so far (RabbitMQ and Kafka copies)."""
FIRST_FAILED_HEADER = "x-agora-first-failed-at"
DUE_HEADER = "x-agora-due-at"
"""Unix time at which a Kafka retry copy is due."""
IN_PROGRESS_INTERVAL_SECONDS = 10.0
"""Below JetStream's default ``ack_wait`` (30 s) with room for a slow network."""
MILLISECONDS = 1000
REMEMBERED_FAILURES = 10_000
_BROKER_DEATH_HEADERS = ("x-death", "x-first-death", "x-last-death")


@dataclass(frozen=True)
class Attempt:
    """Which try of a message this is.

    Attributes:
        number: 1 for the first try.
        first_failed_at: When the first try failed (``None`` on the first try, or if unknown).
    """

    number: int
    first_failed_at: dt.datetime | None = None


@dataclass(frozen=True)
class Retry:
    """The handler's answer: deliver the message again after ``delay`` seconds.

    Attributes:
        delay: Seconds until the next try.
        first_failed_at: When the first try failed (carried to the next try).
    """

    delay: float
    first_failed_at: dt.datetime


DeliveryHandler = Callable[[bytes, Attempt], Awaitable[Retry | None]]
"""``async def handle(body, attempt) -> Retry | None``."""


def subscribe_with_retries(
    broker: Broker, event_type: str, group: str, handler: DeliveryHandler, *, stages: int
) -> None:
    """Register ``handler`` for an event type as consumer group ``group``, with delayed retries.

    Args:
        broker: The broker, before it starts.
        event_type: The CloudEvent type to consume.
        group: Consumer group: every instance of one service shares the messages.
        handler: Handles one message; answers ``None`` or a :class:`Retry`.
        stages: Distinct waits (tries minus one); Kafka and RabbitMQ keep one wait place each.
    """
    if isinstance(broker, NatsBroker):
        _subscribe_nats(broker, event_type, group, handler)
    elif is_rabbit(broker):
        _subscribe_rabbit(broker, event_type, group, handler, max(stages, 1))
    else:
        _subscribe_kafka(broker, event_type, group, handler, max(stages, 1))


MessageParam = Annotated[StreamMessage[Any], Context("message")]


async def _settle(
    message: StreamMessage[Any],
    handle: Callable[[], Awaitable[Retry | None]],
    retry_later: Callable[[Retry], Awaitable[None]],
) -> None:
    """Run ``handle``; acknowledge, retry later, or give the message back if it raised."""
    try:
        retry = await handle()
    except BaseException:
        # Cancelled at shutdown or broken: the transaction rolled back, so the broker may
        # deliver it again at once (to this or another instance).
        with contextlib.suppress(Exception):
            await message.nack()
        raise
    if retry is not None:
        try:
            await retry_later(retry)
        except Exception:
            # Left unsettled, the broker redelivers it when the connection recovers (RabbitMQ)
            # or after ``ack_wait`` (JetStream): later, never in a tight loop.
            logger.exception("could not schedule the retry of a message")
            return
    if not message.committed:
        await message.ack()


def _subscribe_nats(
    broker: NatsBroker, event_type: str, group: str, handler: DeliveryHandler
) -> None:
    first_failures: OrderedDict[int, dt.datetime] = OrderedDict()

    async def on_message(message: MessageParam) -> None:
        metadata = message.raw_message.metadata
        sequence = metadata.sequence.stream
        first_failed = first_failures.pop(sequence, None)
        if first_failed is None and metadata.num_delivered > 1:
            first_failed = metadata.timestamp  # restarted meanwhile: the earliest time we know
        attempt = Attempt(metadata.num_delivered, first_failed)

        async def handle() -> Retry | None:
            with _kept_in_progress(message):
                return await handler(message.body, attempt)

        async def nak_later(retry: Retry) -> None:
            _remember(first_failures, sequence, retry.first_failed_at)
            await message.nack(delay=retry.delay)  # type: ignore[call-arg]

        await _settle(message, handle, nak_later)

    name, subjects = stream_for(event_type)
    broker.subscriber(
        channel_name(event_type),
        durable=durable_name(group, event_type),
        pull_sub=PullSub(),
        stream=JStream(name, subjects=[subjects], declare=True),
        ack_policy=AckPolicy.MANUAL,
    )(on_message)


def _remember(memory: OrderedDict[int, dt.datetime], key: int, value: dt.datetime) -> None:
    memory[key] = value
    while len(memory) > REMEMBERED_FAILURES:
        memory.popitem(last=False)


@contextlib.contextmanager
def _kept_in_progress(message: StreamMessage[Any]) -> Iterator[None]:
    """Tell JetStream every few seconds that the message is still being handled."""

    async def beat() -> None:
        while True:
            await asyncio.sleep(IN_PROGRESS_INTERVAL_SECONDS)
            with contextlib.suppress(Exception):  # lost connection: the ack will fail the same way
                await message.in_progress()  # type: ignore[attr-defined]

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()


def wait_queue_name(queue: str, stage: int) -> str:
    """The RabbitMQ queue where a message of ``queue`` waits after its ``stage``-th failure."""
    return f"{queue}.wait.{stage}"


def _subscribe_rabbit(
    broker: RabbitBroker, event_type: str, group: str, handler: DeliveryHandler, stages: int
) -> None:
    queue_name = f"{group}.{event_type}"
    declared: set[str] = set()

    async def on_message(message: MessageParam) -> None:
        headers = message.headers
        attempt = Attempt(int(headers.get(TRIES_HEADER, 0)) + 1, _when(headers))

        async def park(retry: Retry) -> None:
            wait_queue = wait_queue_name(queue_name, min(attempt.number, stages))
            if wait_queue not in declared:
                await broker.declare_queue(_wait_queue(wait_queue, queue_name))
                declared.add(wait_queue)
            await broker.publish(
                message.body,
                routing_key=wait_queue,
                headers=_next_headers(headers, attempt, retry),
                persist=True,
                content_type=message.content_type,
                expiration=dt.timedelta(seconds=retry.delay),
            )

        await _settle(message, lambda: handler(message.body, attempt), park)

    from faststream.rabbit import RabbitQueue

    queue = RabbitQueue(queue_name, durable=True, routing_key=channel_name(event_type))
    broker.subscriber(queue, events_exchange(), ack_policy=AckPolicy.MANUAL)(on_message)


def _wait_queue(name: str, work_queue: str) -> RabbitQueue:
    from faststream.rabbit import RabbitQueue
    from faststream.rabbit.schemas.queue import ClassicQueueArgs

    # Expired messages go back, through the default exchange, to this group's queue only.
    arguments: ClassicQueueArgs = {
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": work_queue,
    }
    return RabbitQueue(name, durable=True, arguments=arguments)


def _subscribe_kafka(
    broker: KafkaBroker, event_type: str, group: str, handler: DeliveryHandler, stages: int
) -> None:
    channel = channel_name(event_type)

    def retry_topic(stage: int) -> str:
        return f"{channel}.retry.{group}.{min(stage, stages)}"

    async def consume(message: StreamMessage[Any], attempt: Attempt) -> None:
        async def copy_to_retry_topic(retry: Retry) -> None:
            headers = _next_headers(message.headers, attempt, retry)
            headers[DUE_HEADER] = str(time.time() + retry.delay)
            await broker.publish(
                message.body, retry_topic(attempt.number), headers=headers, no_confirm=False
            )

        await _settle(message, lambda: handler(message.body, attempt), copy_to_retry_topic)

    async def on_message(message: MessageParam) -> None:
        await consume(message, Attempt(1))

    async def on_retry(message: MessageParam) -> None:
        headers = message.headers
        await asyncio.sleep(max(float(headers.get(DUE_HEADER, 0)) - time.time(), 0.0))
        await consume(message, Attempt(int(headers.get(TRIES_HEADER, 0)) + 1, _when(headers)))

    broker.subscriber(channel, group_id=group, ack_policy=AckPolicy.MANUAL)(on_message)
    for stage in range(1, stages + 1):
        broker.subscriber(retry_topic(stage), group_id=group, ack_policy=AckPolicy.MANUAL)(on_retry)


def _when(headers: Mapping[str, Any]) -> dt.datetime | None:
    value = headers.get(FIRST_FAILED_HEADER)
    return dt.datetime.fromisoformat(str(value)) if value else None


def _next_headers(headers: Mapping[str, Any], attempt: Attempt, retry: Retry) -> dict[str, Any]:
    """The copy's headers: the original's (trace, ids), the try count and the first failure."""
    kept = {k: v for k, v in headers.items() if not k.startswith(_BROKER_DEATH_HEADERS)}
    kept[TRIES_HEADER] = str(attempt.number)
    kept[FIRST_FAILED_HEADER] = retry.first_failed_at.isoformat()
    return kept
