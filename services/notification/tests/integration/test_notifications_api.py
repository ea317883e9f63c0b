"""GET /api/v1/notifications: admins page through what was sent, newest first."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable

import httpx
import pytest

from agora_chassis.messaging import EventConsumer
from agora_contracts.ordering import OrderPaidV1
from agora_testing.events import structured_event

pytestmark = pytest.mark.integration


async def test_list_notifications_admin_sees_newest_first(
    client: httpx.AsyncClient,
    consumer_for: Callable[..., EventConsumer],
    registered_event: Callable[..., bytes],
    token_for: Callable[[list[str]], str],
) -> None:
    consumer = consumer_for()
    for address in ("first@example.com", "second@example.com", "third@example.com"):
        assert await consumer.deliver(registered_event(email=address)) is True
    headers = {"Authorization": f"Bearer {token_for(['admin'])}"}

    response = await client.get("/api/v1/notifications?per_page=2", headers=headers)

    assert response.status_code == 200, response.text
    page = response.json()
    assert (page["total"], page["page"], page["per_page"], page["total_pages"]) == (3, 1, 2, 2)
    assert [item["recipient"] for item in page["data"]] == [
        "third@example.com",
        "second@example.com",
    ]
    assert page["data"][0]["status"] == "sent"


async def test_list_notifications_order_mail_names_its_order(
    client: httpx.AsyncClient,
    consumer_for: Callable[..., EventConsumer],
    registered_event: Callable[..., bytes],
    token_for: Callable[[list[str]], str],
) -> None:
    consumer, buyer_id, order_id = consumer_for(), uuid.uuid4(), uuid.uuid4()
    assert await consumer.deliver(registered_event(user_id=buyer_id)) is True
    examples = OrderPaidV1.model_json_schema()["examples"]
    receipt = next(example["receipt"] for example in examples if "receipt" in example)
    paid = OrderPaidV1.model_validate(
        {"order_id": order_id, "paid_at": dt.datetime.now(dt.UTC)}
        | {"receipt": receipt | {"buyer_id": buyer_id}}
    )
    assert await consumer.deliver(structured_event(paid)) is True
    headers = {"Authorization": f"Bearer {token_for(['admin'])}"}

    response = await client.get("/api/v1/notifications", headers=headers)

    assert response.status_code == 200, response.text
    shown = [(item["template"], item["order_id"]) for item in response.json()["data"]]
    assert shown == [("order_paid", str(order_id)), ("welcome", None)]


async def test_list_notifications_customer_is_forbidden(
    client: httpx.AsyncClient, token_for: Callable[[list[str]], str]
) -> None:
    headers = {"Authorization": f"Bearer {token_for(['customer'])}"}

    response = await client.get("/api/v1/notifications", headers=headers)

    assert response.status_code == 403


async def test_list_notifications_anonymous_is_unauthorized(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/notifications")

    assert response.status_code == 401
