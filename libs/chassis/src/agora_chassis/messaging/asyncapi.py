"""AsyncAPI documents built from code: what a service publishes and consumes, on which channel.

Each service declares its channels once, next to the code that uses them::

    CHANNELS = ServiceChannels(service="identity", publishes=(UserRegisteredV1,))

``render_asyncapi`` registers them on a NATS broker that never connects (a publisher per
published payload, a subscriber per consumed one, on the real channel names) and lets
FastStream write the AsyncAPI 3.0 YAML. Every message is documented as the CloudEvents envelope
whose ``data`` is the payload model. The output holds no timestamps and its sections are sorted by
name, so a committed copy can be compared with a fresh one (``agora asyncapi --check``).

Run ``python -m agora_chassis.messaging.asyncapi agora_identity.channels:CHANNELS`` to print one
service's document.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from faststream.nats import NatsBroker
from faststream.specification import AsyncAPI
from faststream.specification.asyncapi.v3_0_0.schema.schema import ApplicationSchema
from pydantic import Field, create_model

from agora_chassis.messaging.broker import EXCHANGE_NAME, channel_name
from agora_chassis.messaging.consumer import dead_letter_event_type
from agora_contracts.envelope import CloudEvent, EventPayload

DOCUMENTED_SERVER = "nats://localhost:14222"
"""The laptop stack's embedded NATS (``agora up``); only named in the documents."""

DESCRIPTION = """\
Channels of the Agora {service} service. Generated from code by `agora asyncapi`: do not edit.

Every message is a structured-mode CloudEvents 1.0 JSON envelope whose `data` is the event \
payload; consumers deduplicate on `id`. Delivery is at least once.

Documented on NATS JetStream, the default broker: the channel is the subject, and one stream \
per event domain holds it (e.g. `AGORA_USER` for `agora.user.>`). The same channels exist on \
RabbitMQ (topic exchange `{exchange}`, routing key = channel) and on Kafka (topic = channel, \
key = the event's subject)."""


@dataclass(frozen=True)
class ServiceChannels:
    """What one service sends and receives through the broker.

    Attributes:
        service: The service name; also its consumer group.
        publishes: Payloads of the events it publishes (through its outbox).
        consumes: Payloads of the events it consumes (its ``EventConsumer`` handlers).
    """

    service: str
    publishes: tuple[type[EventPayload], ...] = ()
    consumes: tuple[type[EventPayload], ...] = ()


def envelope_model(payload_class: type[EventPayload]) -> type[CloudEvent]:
    """The CloudEvent envelope of one event type, with ``data`` typed as its payload.

    Example: ``UserRegisteredV1`` → ``UserRegisteredV1Event`` with ``type`` fixed to
    ``user.registered`` and ``data`` a ``UserRegisteredV1``.
    """
    event_type, schema_uri = payload_class.event_type, payload_class.schema_uri()
    return create_model(
        f"{payload_class.__name__}Event",
        __base__=CloudEvent,
        __doc__=f"A `{event_type}` event in its envelope.\n\n{inspect.getdoc(CloudEvent)}",
        type=(str, Field(json_schema_extra={"const": event_type})),
        dataschema=(str, Field(json_schema_extra={"const": schema_uri})),
        data=(payload_class, ...),
    )


def documentation_handler(model: type[CloudEvent]) -> Any:
    """A subscriber function that never runs: its signature tells FastStream the message model.

    The real subscription (``subscribe_raw``) hands its handler the raw body, so FastStream could
    only document an empty payload there; the channel name is the same either way.
    """

    async def receive(event: Any) -> None:
        """Documentation only."""

    event = inspect.Parameter("event", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=model)
    receive.__signature__ = inspect.Signature([event])  # type: ignore[attr-defined]
    return receive


def documentation_broker(channels: ServiceChannels) -> NatsBroker:
    """A broker that is never started, holding one publisher or subscriber per declared event."""
    broker = NatsBroker(DOCUMENTED_SERVER, description="NATS JetStream (embedded by agora up)")
    for payload_class in channels.publishes:
        event_type = payload_class.event_type
        broker.publisher(
            channel_name(event_type),
            title=f"{channel_name(event_type)}:publish",
            description=f"{channels.service} publishes `{event_type}` (through its outbox).",
            schema=envelope_model(payload_class),
        )
    for payload_class in channels.consumes:
        event_type = payload_class.event_type
        broker.subscriber(
            channel_name(event_type),
            title=f"{channel_name(event_type)}:consume",
            description=(
                f"{channels.service} consumes `{event_type}` as consumer group "
                f"`{channels.service}` (each message goes to one of its instances)."
            ),
        )(documentation_handler(envelope_model(payload_class)))
    if channels.consumes:
        dead_letters = channel_name(dead_letter_event_type(channels.service))
        broker.publisher(
            dead_letters,
            title=f"{dead_letters}:publish",
            description=(
                f"A copy of every message {channels.service} dead-lettered (the original bytes, "
                "normally an envelope above), with headers `x-dead-letter-id`, "
                "`x-consumer-group`, `x-attempts` and `x-error`. The service's `dead_letters` "
                "table is the record; `agora dlq` replays from there."
            ),
            schema=CloudEvent,
        )
    return broker


def render_asyncapi(channels: ServiceChannels, version: str) -> str:
    """The service's AsyncAPI 3.0 document, as YAML.

    Args:
        channels: What the service publishes and consumes.
        version: The service's release version (``info.version``).

    Returns:
        The document; the same declaration always gives the same text.
    """
    document = AsyncAPI(
        documentation_broker(channels),
        title=f"Agora {channels.service}",
        version=version,
        description=DESCRIPTION.format(service=channels.service, exchange=EXCHANGE_NAME),
        schema_version="3.0.0",
    )
    specification = cast(ApplicationSchema, document.to_specification())  # schema_version 3.0.0
    # FastStream keeps subscribers in a WeakSet, whose order follows memory addresses: sort every
    # name-keyed section so the same declaration always gives the same text.
    specification.channels = dict(sorted(specification.channels.items()))
    specification.operations = dict(sorted(specification.operations.items()))
    components = specification.components
    if components is not None:
        for section in ("messages", "schemas"):
            entries = getattr(components, section)
            if entries:
                setattr(components, section, dict(sorted(entries.items())))
    return specification.to_yaml()


def load_channels(target: str) -> ServiceChannels:
    """Import a ``module:attribute`` naming a service's ``ServiceChannels``."""
    module_name, _, attribute = target.partition(":")
    return cast(ServiceChannels, getattr(importlib.import_module(module_name), attribute))


def main(argv: Sequence[str]) -> int:
    """Print the AsyncAPI document of the ``module:attribute`` given as the only argument."""
    if len(argv) != 1 or ":" not in argv[0]:
        sys.stderr.write("usage: python -m agora_chassis.messaging.asyncapi module:attribute\n")
        return 2
    target = argv[0]
    # The service's release version: its distribution is its top package, e.g. agora-identity.
    distribution = target.split(".", 1)[0].split(":", 1)[0].replace("_", "-")
    sys.stdout.write(
        render_asyncapi(load_channels(target), importlib.metadata.version(distribution))
    )
    return 0


if __name__ == "__main__":  # pragma: no cover - run by `agora asyncapi` in a child process
    raise SystemExit(main(sys.argv[1:]))
