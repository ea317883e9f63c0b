"""Contract: ordering's consumer takes every published example of the replies it consumes, and
keeps what it cannot apply as a dead letter an operator can see.

The examples name an order that does not exist, and ordering dead-letters a reply about an
unknown order on purpose (no retry makes it known: ``PermanentFailure``). So each example is
delivered twice over: as published, where it must be that dead letter, and about an order placed
through the API and brought to the state that reply answers, where it must be applied.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from agora_chassis.ids import new_id
from agora_chassis.messaging import EventConsumer
from agora_chassis.state import service_state
from agora_contracts.envelope import EventPayload
from agora_contracts.ordering import OrderLine
from agora_contracts.payment import PaymentSucceededV1
from agora_ordering.events.subscriber import CHANNELS
from agora_ordering.models import DeadLetter
from agora_testing.catalog_server import CatalogServer
from agora_testing.events import structured_event
from services.ordering.tests.integration.conftest import key, order_body

pytestmark = pytest.mark.integration

Headers = Callable[..., dict[str, str]]
Order = dict[str, Any]
ORDERS = "/api/v1/orders"
DEAD_LETTERS = "/api/v1/admin/dead-letters"
PRICE, QUANTITY = "24.99", 2
TOTAL = Decimal(PRICE) * QUANTITY  # 49.98 EUR: the amount the payment examples carry


def _examples(payload_class: type[EventPayload]) -> list[dict[str, Any]]:
    examples = payload_class.model_json_schema().get("examples", [])
    assert examples, f"{payload_class.__name__} publishes no schema examples"
    return list(examples)


EXAMPLES = [
    pytest.param(payload_class, example, id=f"{payload_class.event_type}-{number}")
    for payload_class in CHANNELS.consumes
    for number, example in enumerate(_examples(payload_class))
]


class Shop:
    """Places orders through the API, moves them through the saga, and reads them back."""

    def __init__(
        self, client: httpx.AsyncClient, catalog: CatalogServer, consumer: EventConsumer
    ) -> None:
        self.client, self.catalog, self.consumer = client, catalog, consumer
        self.headers: dict[str, str] = {}

    async def place(self) -> Order:
        body = order_body([self.catalog.add("Trail shoe", PRICE)], quantity=QUANTITY)
        response = await self.client.post(ORDERS, json=body, headers=self.headers | key())
        assert response.status_code == 201, response.text
        order: Order = response.json()
        return order

    async def read(self, order_id: str) -> Order:
        response = await self.client.get(f"{ORDERS}/{order_id}", headers=self.headers)
        assert response.status_code == 200, response.text
        order: Order = response.json()
        return order

    async def reply(self, payload: EventPayload) -> None:
        assert await self.consumer.deliver(structured_event(payload)) is True

    async def reserved(self, order: Order) -> None:
        lines = [OrderLine(product_id=ln["product_id"], quantity=QUANTITY) for ln in order["lines"]]
        await self.reply(payload_of("stock.reserved", order_id=order["id"], lines=lines))

    async def cancel(self, order: Order) -> None:
        response = await self.client.post(f"{ORDERS}/{order['id']}/cancel", headers=self.headers)
        assert response.status_code == 200, response.text


def payload_of(event_type: str, **fields: Any) -> EventPayload:
    """The first published example of a consumed event type, with ``fields`` changed."""
    [payload_class] = [c for c in CHANNELS.consumes if c.event_type == event_type]
    return payload_class.model_validate(_examples(payload_class)[0] | fields)


async def _pending(shop: Shop, example: dict[str, Any]) -> None:
    """``stock.*`` answers a placed order."""


async def _pending_same_lines(shop: Shop, example: dict[str, Any]) -> None:
    """``stock.reserved`` answers a placed order with that order's own lines (any others are
    dead-lettered: catalog reserves what was ordered)."""
    order = await shop.read(example["order_id"])
    example["lines"] = [
        {"product_id": line["product_id"], "quantity": line["quantity"]} for line in order["lines"]
    ]


async def _awaiting_payment(shop: Shop, example: dict[str, Any]) -> None:
    """``payment.succeeded`` and ``payment.failed`` answer an order whose stock is reserved."""
    await shop.reserved(await shop.read(example["order_id"]))


async def _refund_requested(shop: Shop, example: dict[str, Any]) -> None:
    """``payment.refunded`` answers the charge of a cancelled order ordering asked to refund."""
    order = await shop.read(example["order_id"])
    await shop.reserved(order)
    await shop.cancel(order)
    charge = {"order_id": order["id"], "payment_id": example["payment_id"], "amount": str(TOTAL)}
    await shop.reply(PaymentSucceededV1.model_validate(_examples(PaymentSucceededV1)[0] | charge))


Prepare = Callable[[Shop, dict[str, Any]], Awaitable[None]]
# What each reply answers, and the order's status and refunds' statuses once it is applied.
SAGA: dict[str, tuple[Prepare, str, list[str]]] = {
    "stock.reserved": (_pending_same_lines, "awaiting_payment", []),
    "stock.rejected": (_pending, "cancelled", []),
    "payment.succeeded": (_awaiting_payment, "paid", []),
    "payment.failed": (_awaiting_payment, "cancelled", []),
    "payment.refunded": (_refund_requested, "cancelled", ["refunded"]),
}


@pytest.fixture
def shop(
    client: httpx.AsyncClient,
    catalog_server: CatalogServer,
    consumer: EventConsumer,
    user_headers: Headers,
) -> Shop:
    shop = Shop(client, catalog_server, consumer)
    shop.headers = user_headers(uuid.uuid4())
    return shop


async def _dead_letters(app: FastAPI, event_id: str) -> list[DeadLetter]:
    async with service_state(app).sessionmaker() as session:
        letters = await session.scalars(select(DeadLetter).where(DeadLetter.event_id == event_id))
        return list(letters)


async def test_consumer_subscribes_to_what_ordering_consumes(consumer: EventConsumer) -> None:
    # async: a synchronous test would stop the app while the deadline scheduler's first look
    # is still connecting to PostgreSQL, which asyncpg reports as an unretrieved ConnectionError.
    declared = {payload_class.event_type for payload_class in CHANNELS.consumes}

    assert set(consumer.routes) == declared == set(SAGA)
    assert set(SAGA) == {
        "stock.reserved",
        "stock.rejected",
        "payment.succeeded",
        "payment.failed",
        "payment.refunded",
    }
    assert {route.payload_class for route in consumer.routes.values()} == set(CHANNELS.consumes)


@pytest.mark.parametrize(("payload_class", "example"), EXAMPLES)
async def test_consumer_applies_every_schema_example_to_an_order_it_knows(
    app: FastAPI,
    shop: Shop,
    consumer: EventConsumer,
    payload_class: type[EventPayload],
    example: dict[str, Any],
) -> None:
    prepare, status, refunds = SAGA[payload_class.event_type]
    example = example | {"order_id": (await shop.place())["id"]}
    await prepare(shop, example)
    event_id = str(new_id())

    route = consumer.routes[payload_class.event_type]
    payload = route.payload_class.model_validate(example)
    applied = await consumer.deliver(structured_event(payload, event_id=event_id))

    assert applied is True
    assert await _dead_letters(app, event_id) == []
    after = await shop.read(example["order_id"])
    assert after["status"] == status
    assert [refund["status"] for refund in after["refunds"]] == refunds


@pytest.mark.parametrize(("payload_class", "example"), EXAMPLES)
async def test_an_example_about_an_unknown_order_is_dead_lettered_at_once(
    app: FastAPI,
    consumer: EventConsumer,
    payload_class: type[EventPayload],
    example: dict[str, Any],
) -> None:
    event_id = str(new_id())
    payload = consumer.routes[payload_class.event_type].payload_class.model_validate(example)

    applied = await consumer.deliver(structured_event(payload, event_id=event_id))

    assert applied is False
    [letter] = await _dead_letters(app, event_id)
    assert (letter.event_type, letter.attempts) == (payload_class.event_type, 1)
    assert f"unknown order {example['order_id']}" in letter.error


async def _listed(client: httpx.AsyncClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    """Every pending dead letter, page by page (the database is shared by the session)."""
    letters: list[dict[str, Any]] = []
    page, pages = 1, 1
    while page <= pages:
        params = {"per_page": 100, "page": page}
        response = await client.get(DEAD_LETTERS, params=params, headers=headers)
        assert response.status_code == 200, response.text
        letters += response.json()["data"]
        page, pages = page + 1, response.json()["total_pages"]
    return letters


async def test_undecodable_event_is_a_dead_letter_the_admin_api_lists(
    consumer: EventConsumer, client: httpx.AsyncClient, user_headers: Headers
) -> None:
    event_id = str(new_id())
    body = f'{{"id": "{event_id}", "type": "stock.reserved", "data": "not a reply"}}'

    assert await consumer.deliver(body.encode()) is False

    admin = user_headers(roles=("admin",))
    letters = [letter for letter in await _listed(client, admin) if letter["event_id"] == event_id]
    assert [letter["event_type"] for letter in letters] == ["stock.reserved"], letters
    assert (letters[0]["attempts"], letters[0]["state"]) == (0, "pending")
    assert letters[0]["replayed_at"] is None
    shown = await client.get(f"{DEAD_LETTERS}/{letters[0]['id']}", headers=admin)
    assert shown.status_code == 200, shown.text
    assert shown.json()["envelope"]["data"] == "not a reply"


def test_the_payment_examples_charge_what_the_orders_placed_here_cost() -> None:
    """The orders above cost 2 x 24.99, the amount the payment examples charge and refund."""
    charged = ("payment.succeeded", "payment.refunded")
    amounts = {payload_of(event_type).model_dump()["amount"] for event_type in charged}

    assert amounts == {TOTAL}
