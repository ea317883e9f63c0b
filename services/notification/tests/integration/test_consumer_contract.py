"""Contract: notification's consumer accepts every example of every event schema it consumes.

The examples are the ones published in ``agora_contracts`` (and in the AsyncAPI documents); the
producer side checks that what it publishes validates against the same schemas. Each example is
delivered as a structured-mode CloudEvent through the real handler, database and SMTP server.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from agora_chassis.ids import new_id
from agora_chassis.messaging import EventConsumer
from agora_contracts.envelope import CloudEvent, EventPayload
from agora_contracts.identity import UserRegisteredV1

pytestmark = pytest.mark.integration


def _examples(payload_class: type[EventPayload]) -> list[dict[str, Any]]:
    examples = payload_class.model_json_schema().get("examples", [])
    assert examples, f"{payload_class.__name__} publishes no schema examples"
    return list(examples)


def _envelope(payload_class: type[EventPayload], data: dict[str, Any]) -> bytes:
    event = CloudEvent(
        id=str(new_id()),
        source="/agora/contract-test",
        type=payload_class.event_type,
        time=dt.datetime.now(dt.UTC),
        dataschema=payload_class.schema_uri(),
        data=data,
    )
    return event.model_dump_json().encode()


def test_consumer_handles_every_event_type_it_subscribes(
    consumer_for: Callable[..., EventConsumer],
) -> None:
    assert set(consumer_for().routes) == {"user.registered"}


async def test_consumer_accepts_every_schema_example(
    consumer_for: Callable[..., EventConsumer], smtp_sink: tuple[int, Any]
) -> None:
    consumer = consumer_for()
    delivered = 0
    for route in consumer.routes.values():
        for example in _examples(route.payload_class):
            assert await consumer.deliver(_envelope(route.payload_class, example)) is True
            delivered += 1

    recipients = [envelope.rcpt_tos for envelope in smtp_sink[1].messages]
    assert recipients == [[example["email"]] for example in _examples(UserRegisteredV1)]
    assert delivered == len(recipients)
