"""The one place that knows brokers: pick one by URL, name channels, publish, subscribe.

Services only see ``make_broker``, ``publish_envelope`` and ``subscribe_raw``; the same code then
runs on NATS JetStream, RabbitMQ and Kafka. Channel names come from the CloudEvent type:
``user.registered`` travels on ``agora.user.registered`` (NATS subject, RabbitMQ routing key,
Kafka topic).

* NATS: one JetStream stream per event domain (the first segment of the type, which one service
  owns), e.g. ``AGORA_USER`` holding ``agora.user.>``; durable pull consumers shared by a
  service's instances, explicit ack;
  publishing waits for the stream's PubAck.
* RabbitMQ: a durable topic exchange ``agora.events``; one durable queue per consumer group and
  event type; publisher confirms (FastStream's channel default) and persistent messages.
* Kafka: a topic per event type, the aggregate id as key (order per aggregate), consumer group per
  service, offsets committed after processing.

Consumers with delayed, broker-scheduled retries subscribe through
:mod:`agora_chassis.messaging.redelivery`; ``subscribe_raw`` is the plain subscription (tools,
watchers of the dead-letter channels).
"""

from __future__ import annotations

import contextlib
import functools
import weakref
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeIs
from urllib.parse import urlsplit

from faststream import AckPolicy, Context
from faststream.message import StreamMessage
from faststream.nats import JStream, NatsBroker, PullSub
from nats.js.errors import BadRequestError

# FastStream's RabbitMQ and Kafka support (aio-pika, aiokafka) is some 200 modules and 8 MiB per
# process; a service on NATS (the stack's broker) never loads it. Those modules are imported where
# a broker of theirs is made or met: a RabbitMQ or Kafka broker exists only after ``make_broker``
# imported its module (a test checks that a NATS service imports neither).
if TYPE_CHECKING:
    from faststream.kafka import KafkaBroker
    from faststream.rabbit import RabbitBroker, RabbitExchange

type Broker = NatsBroker | RabbitBroker | KafkaBroker
"""Any broker ``make_broker`` returns."""

RawHandler = Callable[[bytes], Awaitable[object]]
"""Receives the undecoded message body; raising makes the broker redeliver the message."""

CHANNEL_PREFIX = "agora"
EXCHANGE_NAME = "agora.events"
CLOUDEVENTS_CONTENT_TYPE = "application/cloudevents+json"
PUBLISH_TIMEOUT_SECONDS = 5.0
NATS_MESSAGE_ID = "Nats-Msg-Id"
GRACEFUL_TIMEOUT_SECONDS = 15.0
"""How long stopping a broker waits for running handlers (then they are cancelled and their messages
handed back); below the CLI's kill timeout and the orchestrator's termination grace period."""
NATS_RECONNECT_FOREVER = -1
"""nats-py gives up after 60 reconnect tries (about two minutes) and closes the client for good,
which left a relay and its consumers dead after a longer broker outage; a service never gives up."""

# Streams already declared, per live broker (weak keys: a new broker never inherits a dead one's
# entries, as it could when keyed by ``id()``, which CPython reuses).
_ensured_streams: weakref.WeakKeyDictionary[NatsBroker, set[str]] = weakref.WeakKeyDictionary()


def make_broker(url: str, *, graceful_timeout: float = GRACEFUL_TIMEOUT_SECONDS) -> Broker:
    """Create the broker the URL names (not connected yet).

    Args:
        url: ``nats://host:port``, ``amqp://user:pass@host:port/vhost`` (or ``amqps://``), or
            ``kafka://host:port[,host:port...]``.
        graceful_timeout: On stop, the longest wait for running handlers, in seconds.

    Returns:
        A FastStream broker.

    Raises:
        ValueError: For any other scheme.
    """
    scheme = urlsplit(url).scheme
    if scheme in {"nats", "tls"}:
        return NatsBroker(
            url, max_reconnect_attempts=NATS_RECONNECT_FOREVER, graceful_timeout=graceful_timeout
        )
    if scheme in {"amqp", "amqps"}:
        from faststream.rabbit import RabbitBroker

        return RabbitBroker(url, graceful_timeout=graceful_timeout)
    if scheme == "kafka":
        from faststream.kafka import KafkaBroker

        servers = url.removeprefix("kafka://").split(",")
        return KafkaBroker(servers, graceful_timeout=graceful_timeout)
    raise ValueError(f"unsupported broker URL scheme {scheme!r}: use nats://, amqp:// or kafka://")


@functools.cache
def events_exchange() -> RabbitExchange:
    """RabbitMQ's durable topic exchange every event goes through."""
    from faststream.rabbit import ExchangeType, RabbitExchange

    return RabbitExchange(EXCHANGE_NAME, type=ExchangeType.TOPIC, durable=True)


def is_rabbit(broker: Broker) -> TypeIs[RabbitBroker]:
    """Tell whether ``broker`` is RabbitMQ's (importing its module only for a non-NATS broker)."""
    if isinstance(broker, NatsBroker):
        return False
    from faststream.rabbit import RabbitBroker

    return isinstance(broker, RabbitBroker)


def channel_name(event_type: str) -> str:
    """The channel an event type travels on, e.g. ``agora.user.registered``."""
    return f"{CHANNEL_PREFIX}.{event_type}"


def stream_for(event_type: str) -> tuple[str, str]:
    """The JetStream stream holding every event of the type's domain and its subject filter.

    Example: ``user.registered`` → ``("AGORA_USER", "agora.user.>")``.
    """
    domain = event_type.split(".", 1)[0]
    return f"{CHANNEL_PREFIX}_{domain}".upper().replace("-", "_"), f"{CHANNEL_PREFIX}.{domain}.>"


def durable_name(group: str, event_type: str) -> str:
    """The JetStream durable consumer of a group for an event type (names may not hold dots)."""
    return f"{group}-{event_type}".replace(".", "_")


async def _ensure_stream(broker: NatsBroker, event_type: str, request_timeout: float) -> str:
    name, subjects = stream_for(event_type)
    declared = _ensured_streams.setdefault(broker, set())
    if name not in declared:
        jetstream = broker.connection.jetstream(timeout=request_timeout)
        # Already declared with other settings (by an operator): keep theirs.
        with contextlib.suppress(BadRequestError):
            await jetstream.add_stream(name=name, subjects=[subjects])
        declared.add(name)
    return name


async def publish_envelope(
    broker: Broker,
    body: bytes,
    *,
    event_type: str,
    key: str | None,
    headers: dict[str, str],
    confirm_timeout: float = PUBLISH_TIMEOUT_SECONDS,
) -> None:
    """Publish one structured-mode CloudEvent and return only once the broker has it.

    Args:
        broker: A connected broker.
        body: The JSON envelope.
        event_type: The CloudEvent type; names the channel.
        key: The aggregate id (Kafka partition key; order is kept per key).
        headers: Transport headers (``traceparent``, ``ce-id``...).
        confirm_timeout: Longest wait for the confirmation, in seconds (NATS and RabbitMQ;
            Kafka uses the client's request timeout).

    Raises:
        Exception: Whatever the client raises when the broker did not confirm.
    """
    channel = channel_name(event_type)
    if isinstance(broker, NatsBroker):
        stream = await _ensure_stream(broker, event_type, confirm_timeout)
        if "ce-id" in headers:
            # JetStream drops a second message with the same id within its duplicate window
            # (2 minutes), e.g. a publish the client buffered during an outage and sent again.
            headers = headers | {NATS_MESSAGE_ID: headers["ce-id"]}
        await broker.publish(body, channel, headers=headers, stream=stream, timeout=confirm_timeout)
    elif is_rabbit(broker):
        rabbit_headers: dict[str, Any] = dict(headers)
        await broker.publish(
            body,
            exchange=events_exchange(),
            routing_key=channel,
            headers=rabbit_headers,
            persist=True,
            content_type=CLOUDEVENTS_CONTENT_TYPE,
            timeout=confirm_timeout,
        )
    else:
        await broker.publish(
            body, channel, key=key.encode() if key else None, headers=headers, no_confirm=False
        )


async def retain_channel(broker: Broker, event_type: str, queue_name: str) -> None:
    """Keep an event type's messages even while nobody consumes them (call once, connected).

    JetStream streams and Kafka topics keep messages anyway; RabbitMQ drops a message no queue is
    bound for, so this declares a durable queue ``queue_name`` bound to the channel.

    Args:
        broker: A connected broker.
        event_type: The channel's event type.
        queue_name: The RabbitMQ queue to declare (ignored by the other brokers).
    """
    if is_rabbit(broker):
        from faststream.rabbit import RabbitQueue

        exchange = await broker.declare_exchange(events_exchange())
        queue = await broker.declare_queue(RabbitQueue(queue_name, durable=True))
        await queue.bind(exchange, routing_key=channel_name(event_type))


def subscribe_raw(broker: Broker, event_type: str, group: str, handler: RawHandler) -> None:
    """Register ``handler`` for an event type, as consumer group ``group`` (the service name).

    The message is acknowledged when the handler returns and negatively acknowledged (so
    redelivered) when it raises.

    Args:
        broker: The broker, before it starts.
        event_type: The CloudEvent type to consume.
        group: Consumer group: every instance of one service shares the messages.
        handler: Receives the raw body.
    """

    async def on_message(
        message: Annotated[StreamMessage[Any], Context("message")],
    ) -> None:
        await handler(message.body)

    channel = channel_name(event_type)
    policy = AckPolicy.NACK_ON_ERROR
    if isinstance(broker, NatsBroker):
        durable = durable_name(group, event_type)
        name, subjects = stream_for(event_type)
        broker.subscriber(
            channel,
            durable=durable,
            pull_sub=PullSub(),
            stream=JStream(name, subjects=[subjects], declare=True),
            ack_policy=policy,
        )(on_message)
    elif is_rabbit(broker):
        from faststream.rabbit import RabbitQueue

        queue = RabbitQueue(f"{group}.{event_type}", durable=True, routing_key=channel)
        broker.subscriber(queue, events_exchange(), ack_policy=policy)(on_message)
    else:
        broker.subscriber(channel, group_id=group, ack_policy=policy)(on_message)
