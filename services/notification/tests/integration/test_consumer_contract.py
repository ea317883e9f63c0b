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
    """The example as it stands (not re-serialised by the model) in a CloudEvent."""
    event = CloudEvent(
        id=str(new_id()),
        source="/agora/contract-test",
        type=payload_class.event_type,
        time=dt.datetime.now(dt.UTC),
        dataschema=payload_class.schema_uri(),
        data=data,
    )
    return event.model_dump_json().encode()


def _addressee(example: dict[str, Any], addresses: dict[str, str]) -> list[list[str]]:
    """Who an example should reach: the registered user, or an order's buyer (if it has a
    receipt; an order example names the buyer of ``UserRegisteredV1``'s example)."""
    if "email" in example:
        return [[example["email"]]]
    receipt = example.get("receipt")
    return [[addresses[receipt["buyer_id"]]]] if receipt else []


def test_consumer_handles_every_event_type_it_subscribes(
    consumer_for: Callable[..., EventConsumer],
) -> None:
    assert set(consumer_for().routes) == {"user.registered", "order.paid", "order.cancelled"}


async def test_consumer_accepts_every_schema_example(
    consumer_for: Callable[..., EventConsumer], smtp_sink: tuple[int, Any]
) -> None:
    consumer = consumer_for()
    addresses = {user["user_id"]: user["email"] for user in _examples(UserRegisteredV1)}
    # user.registered first: its examples are the recipients the order examples are sent to.
    routes = sorted(consumer.routes.values(), key=lambda r: r.payload_class is not UserRegisteredV1)
    expected: list[list[str]] = []
    for route in routes:
        for example in _examples(route.payload_class):
            body = _envelope(route.payload_class, example)
            assert await consumer.deliver(body) is True, route.payload_class.__name__
            expected += _addressee(example, addresses)

    recipients = [envelope.rcpt_tos for envelope in smtp_sink[1].messages]
    assert recipients == expected
    assert len(expected) > len(addresses)  # order examples with a receipt were mailed too
