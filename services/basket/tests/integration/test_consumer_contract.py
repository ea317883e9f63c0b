"""Contract: basket's consumer takes every published example of the events it consumes, and
keeps what it cannot apply as a dead letter an operator can see."""

from __future__ import annotations

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agora_chassis.messaging import EventConsumer
from agora_testing.events import structured_event
from agora_testing.tokens import forge_access_token

pytestmark = pytest.mark.integration


def test_consumer_subscribes_to_what_basket_consumes(consumer: EventConsumer) -> None:
    assert set(consumer.routes) == {"order.placed", "product.price_changed"}


async def test_consumer_accepts_every_schema_example(consumer: EventConsumer) -> None:
    delivered = 0
    for route in consumer.routes.values():
        examples = route.payload_class.model_json_schema().get("examples", [])
        assert examples, f"{route.payload_class.__name__} publishes no schema examples"
        for example in examples:
            payload = route.payload_class.model_validate(example)
            assert await consumer.deliver(structured_event(payload)) is True, example
            delivered += 1
    assert delivered >= len(consumer.routes)


async def test_undecodable_event_is_a_dead_letter_the_admin_api_lists(
    consumer: EventConsumer, client: httpx.AsyncClient, signing_key: Ed25519PrivateKey
) -> None:
    assert await consumer.deliver(b'{"type": "order.placed", "data": "not an order"}') is False

    token = forge_access_token(signing_key, roles=["admin"])
    response = await client.get(
        "/api/v1/admin/dead-letters", headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status_code == 200
    letters = response.json()["data"]
    assert [letter["event_type"] for letter in letters] == ["order.placed"], letters
    assert letters[0]["replayed_at"] is None
