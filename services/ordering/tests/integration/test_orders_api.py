"""The customer's order API: placing (priced by catalog, idempotent), and what it refuses."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update

from agora_chassis.state import service_state
from agora_ordering.models import IdempotencyRecord
from agora_testing.basket_server import BasketServer
from agora_testing.catalog_server import CatalogServer
from services.ordering.tests.integration.conftest import ADDRESS, key, order_body

pytestmark = pytest.mark.integration

Headers = Callable[..., dict[str, str]]
Outbox = Callable[[str], Any]
ORDERS = "/api/v1/orders"


async def test_an_order_is_priced_by_catalog_stored_pending_and_announced(
    client: httpx.AsyncClient, catalog_server: CatalogServer, user_headers: Headers, outbox: Outbox
) -> None:
    buyer = uuid.uuid4()
    shoe = catalog_server.add("Trail shoe", "24.99")
    sock = catalog_server.add("Wool sock", "3.50")

    response = await client.post(
        ORDERS,
        json=order_body([shoe, sock], quantity=2),
        headers=user_headers(buyer) | key(),
    )

    assert response.status_code == 201, response.text
    order = response.json()
    assert response.headers["Location"] == f"{ORDERS}/{order['id']}"
    assert (order["status"], order["total"], order["currency"]) == ("pending", "56.98", "EUR")
    assert order["buyer_id"] == str(buyer)
    assert [(ln["name"], ln["unit_price"], ln["subtotal"]) for ln in order["lines"]] == [
        ("Trail shoe", "24.99", "49.98"),
        ("Wool sock", "3.50", "7.00"),
    ]
    assert order["ship_to"] == ADDRESS
    assert [entry["status"] for entry in order["timeline"]] == ["pending"]
    assert len(catalog_server.batches) == 1, "one GetProducts batch per order"
    [placed] = await outbox(order["id"])
    assert placed["type"] == "order.placed"
    assert placed["data"]["buyer_id"] == str(buyer)
    assert {(ln["product_id"], ln["quantity"]) for ln in placed["data"]["lines"]} == {
        (shoe, 2),
        (sock, 2),
    }


async def test_a_client_cannot_set_prices(
    client: httpx.AsyncClient, catalog_server: CatalogServer, user_headers: Headers
) -> None:
    shoe = catalog_server.add("Trail shoe", "24.99")
    body = order_body([shoe])
    body["lines"][0]["unit_price"] = "0.01"

    response = await client.post(ORDERS, json=body, headers=user_headers() | key())

    assert response.status_code == 422
    assert "unit_price" in response.text


async def test_the_same_key_and_body_replays_the_order_and_places_one(
    client: httpx.AsyncClient, catalog_server: CatalogServer, user_headers: Headers, outbox: Outbox
) -> None:
    headers = user_headers(uuid.uuid4()) | key()
    body = order_body([catalog_server.add("Trail shoe", "24.99")])

    first = await client.post(ORDERS, json=body, headers=headers)
    again = await client.post(ORDERS, json=body, headers=headers)
    other_body = await client.post(
        ORDERS, json=body | {"payment_token": "tok_other"}, headers=headers
    )

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert other_body.status_code == 422
    assert len(await outbox(first.json()["id"])) == 1
    mine = await client.get(ORDERS, headers=headers)
    assert mine.json()["total"] == 1


async def test_an_order_without_an_idempotency_key_is_refused(
    client: httpx.AsyncClient, catalog_server: CatalogServer, user_headers: Headers
) -> None:
    body = order_body([catalog_server.add("Trail shoe", "24.99")])

    response = await client.post(ORDERS, json=body, headers=user_headers())

    assert response.status_code == 428
    assert "Idempotency-Key" in response.json()["detail"]


async def test_an_order_needs_a_signed_in_caller(
    client: httpx.AsyncClient, catalog_server: CatalogServer
) -> None:
    body = order_body([catalog_server.add("Trail shoe", "24.99")])

    response = await client.post(ORDERS, json=body, headers=key())

    assert response.status_code == 401


async def test_unknown_and_withdrawn_products_are_named(
    client: httpx.AsyncClient, catalog_server: CatalogServer, user_headers: Headers
) -> None:
    unknown = str(uuid.uuid4())
    withdrawn = catalog_server.add("Old shoe", "9.99", active=False)

    missing = await client.post(ORDERS, json=order_body([unknown]), headers=user_headers() | key())
    not_for_sale = await client.post(
        ORDERS, json=order_body([withdrawn]), headers=user_headers() | key()
    )

    assert missing.status_code == 404
    assert missing.json()["product_id"] == unknown
    assert not_for_sale.status_code == 422
    assert not_for_sale.json()["product_id"] == withdrawn


async def test_lines_in_two_currencies_are_refused(
    client: httpx.AsyncClient, catalog_server: CatalogServer, user_headers: Headers
) -> None:
    euro = catalog_server.add("Trail shoe", "24.99")
    dollar = catalog_server.add("Cap", "12.00", currency="USD")

    response = await client.post(
        ORDERS, json=order_body([euro, dollar]), headers=user_headers() | key()
    )

    assert response.status_code == 422
    assert "currency" in response.json()["detail"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"country": "XX"}, "country"),
        ({"country": "Germany"}, "country"),
        ({"postal_code": "#!"}, "postal_code"),
        ({"city": "  "}, "city"),
        ({"name": ""}, "name"),
    ],
)
async def test_a_bad_address_is_refused_naming_the_field(
    client: httpx.AsyncClient,
    catalog_server: CatalogServer,
    user_headers: Headers,
    change: dict[str, str],
    field: str,
) -> None:
    body = order_body([catalog_server.add("Trail shoe", "24.99")], ship_to=ADDRESS | change)

    response = await client.post(ORDERS, json=body, headers=user_headers() | key())

    assert response.status_code == 422
    assert field in response.text


@pytest.mark.parametrize(
    "body",
    [
        {"ship_to": ADDRESS, "payment_token": "tok_x"},
        {"lines": [], "ship_to": ADDRESS, "payment_token": "tok_x"},
        {"from_basket": True, "lines": [], "ship_to": ADDRESS, "payment_token": "tok_x"},
    ],
)
async def test_lines_or_from_basket_one_of_them(
    client: httpx.AsyncClient, user_headers: Headers, body: dict[str, Any]
) -> None:
    response = await client.post(ORDERS, json=body, headers=user_headers() | key())

    assert response.status_code == 422


async def test_a_product_twice_is_refused(
    client: httpx.AsyncClient, catalog_server: CatalogServer, user_headers: Headers
) -> None:
    shoe = catalog_server.add("Trail shoe", "24.99")

    response = await client.post(
        ORDERS, json=order_body([shoe, shoe]), headers=user_headers() | key()
    )

    assert response.status_code == 422
    assert "one line only" in response.text


async def test_from_basket_orders_what_the_basket_holds_at_catalog_prices(
    client: httpx.AsyncClient,
    catalog_server: CatalogServer,
    basket_server: BasketServer,
    user_headers: Headers,
) -> None:
    buyer = uuid.uuid4()
    shoe = catalog_server.add("Trail shoe", "24.99")
    basket_server.baskets[str(buyer)] = [(shoe, 3)]
    body = {"from_basket": True, "ship_to": ADDRESS, "payment_token": "tok_x"}

    response = await client.post(ORDERS, json=body, headers=user_headers(buyer) | key())

    assert response.status_code == 201, response.text
    assert [(ln["product_id"], ln["quantity"]) for ln in response.json()["lines"]] == [(shoe, 3)]
    assert response.json()["total"] == "74.97"
    assert basket_server.reads == [str(buyer)]


async def test_from_an_empty_basket_is_refused(
    client: httpx.AsyncClient, user_headers: Headers
) -> None:
    body = {"from_basket": True, "ship_to": ADDRESS, "payment_token": "tok_x"}

    response = await client.post(ORDERS, json=body, headers=user_headers() | key())

    assert response.status_code == 422
    assert "empty" in response.json()["detail"]


async def test_catalog_down_answers_503_and_stores_nothing(
    client: httpx.AsyncClient, catalog_server: CatalogServer, user_headers: Headers
) -> None:
    headers = user_headers(uuid.uuid4())
    body = order_body([catalog_server.add("Trail shoe", "24.99")])
    await catalog_server.stop()

    response = await client.post(ORDERS, json=body, headers=headers | key())

    assert response.status_code == 503
    assert "Retry-After" in response.headers
    assert (await client.get(ORDERS, headers=headers)).json()["total"] == 0


@pytest.mark.parametrize("settings_overrides", [{"idempotency_prune_seconds": 0.05}])
async def test_expired_idempotency_records_are_pruned_by_the_running_service(
    app: FastAPI, client: httpx.AsyncClient, catalog_server: CatalogServer, user_headers: Headers
) -> None:
    body = order_body([catalog_server.add("Trail shoe", "24.99")])
    key_header = key()
    placed = await client.post(ORDERS, json=body, headers=user_headers() | key_header)
    assert placed.status_code == 201, placed.text
    stored = IdempotencyRecord.key == key_header["Idempotency-Key"]

    async with service_state(app).sessionmaker.begin() as session:
        await session.execute(update(IdempotencyRecord).where(stored).values(expires_at=func.now()))
    async with asyncio.timeout(10):
        while True:  # the service's own pruner, every 50 ms here (an hour by default)
            async with service_state(app).sessionmaker() as session:
                if await session.scalar(select(func.count()).where(stored)) == 0:
                    break
            await asyncio.sleep(0.05)
