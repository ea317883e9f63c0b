"""Reading, listing and cancelling orders: the customer's own, and the admin's search."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from agora_testing.catalog_server import CatalogServer
from services.ordering.tests.integration.conftest import key, order_body

pytestmark = pytest.mark.integration

Headers = Callable[..., dict[str, str]]
Outbox = Callable[[str], Any]
ORDERS = "/api/v1/orders"
ADMIN_ORDERS = "/api/v1/admin/orders"


async def _place(
    client: httpx.AsyncClient, catalog: CatalogServer, headers: dict[str, str]
) -> dict[str, Any]:
    body = order_body([catalog.add("Trail shoe", "24.99")])
    response = await client.post(ORDERS, json=body, headers=headers | key())
    assert response.status_code == 201, response.text
    order: dict[str, Any] = response.json()
    return order


async def test_my_orders_are_mine_newest_first_in_pages(
    client: httpx.AsyncClient, catalog_server: CatalogServer, user_headers: Headers
) -> None:
    mine, other = user_headers(uuid.uuid4()), user_headers(uuid.uuid4())
    placed = [await _place(client, catalog_server, mine) for _ in range(3)]
    await _place(client, catalog_server, other)

    first = await client.get(ORDERS, params={"per_page": 2}, headers=mine)
    second = await client.get(ORDERS, params={"per_page": 2, "page": 2}, headers=mine)

    assert first.status_code == 200
    assert (first.json()["total"], first.json()["total_pages"]) == (3, 2)
    ids = [o["id"] for o in first.json()["data"] + second.json()["data"]]
    assert ids == [o["id"] for o in reversed(placed)]


async def test_another_customers_order_is_not_found(
    client: httpx.AsyncClient, catalog_server: CatalogServer, user_headers: Headers
) -> None:
    order = await _place(client, catalog_server, user_headers(uuid.uuid4()))
    stranger = user_headers(uuid.uuid4())

    read = await client.get(f"{ORDERS}/{order['id']}", headers=stranger)
    cancel = await client.post(f"{ORDERS}/{order['id']}/cancel", headers=stranger)

    assert (read.status_code, cancel.status_code) == (404, 404)


async def test_cancel_before_paid_cancels_once_and_announces_it(
    client: httpx.AsyncClient,
    catalog_server: CatalogServer,
    user_headers: Headers,
    outbox: Outbox,
) -> None:
    headers = user_headers(uuid.uuid4())
    order = await _place(client, catalog_server, headers)

    cancelled = await client.post(f"{ORDERS}/{order['id']}/cancel", headers=headers)
    again = await client.post(f"{ORDERS}/{order['id']}/cancel", headers=headers)

    assert cancelled.status_code == 200
    body = cancelled.json()
    assert (body["status"], body["cancel_reason"]) == ("cancelled", "cancelled_by_customer")
    assert [e["status"] for e in body["timeline"]] == ["pending", "cancelled"]
    assert again.status_code == 409
    events = await outbox(order["id"])
    assert [e["type"] for e in events] == ["order.placed", "order.cancelled"]
    receipt = events[1]["data"]["receipt"]
    assert (receipt["total"], receipt["ship_to"]["city"]) == ("24.99", "Berlin")
    status = await client.get(ORDERS, params={"status": "cancelled"}, headers=headers)
    assert [o["id"] for o in status.json()["data"]] == [order["id"]]


async def test_the_admin_searches_every_order(
    client: httpx.AsyncClient, catalog_server: CatalogServer, user_headers: Headers
) -> None:
    buyer = uuid.uuid4()
    order = await _place(client, catalog_server, user_headers(buyer))
    await _place(client, catalog_server, user_headers(uuid.uuid4()))
    admin = user_headers(uuid.uuid4(), roles=("admin",))
    today = dt.datetime.now(dt.UTC).date()

    by_customer = await client.get(ADMIN_ORDERS, params={"customer": str(buyer)}, headers=admin)
    today_pending = await client.get(
        ADMIN_ORDERS,
        params={"status": "pending", "placed_from": str(today), "placed_to": str(today)},
        headers=admin,
    )
    tomorrow = await client.get(
        ADMIN_ORDERS, params={"placed_from": str(today + dt.timedelta(days=1))}, headers=admin
    )
    one = await client.get(f"{ADMIN_ORDERS}/{order['id']}", headers=admin)

    assert [o["id"] for o in by_customer.json()["data"]] == [order["id"]]
    assert today_pending.json()["total"] >= 2
    assert tomorrow.json()["total"] == 0
    assert one.json()["buyer_id"] == str(buyer)


async def test_the_admin_search_refuses_a_reversed_range_and_customers(
    client: httpx.AsyncClient, user_headers: Headers
) -> None:
    admin = user_headers(uuid.uuid4(), roles=("admin",))

    reversed_range = await client.get(
        ADMIN_ORDERS, params={"placed_from": "2026-12-07", "placed_to": "2026-12-01"}, headers=admin
    )
    customer = await client.get(ADMIN_ORDERS, headers=user_headers())
    anonymous = await client.get(ADMIN_ORDERS)

    assert reversed_range.status_code == 422
    assert (customer.status_code, anonymous.status_code) == (403, 401)


async def test_the_admin_search_takes_the_first_and_the_last_day_a_date_can_name(
    client: httpx.AsyncClient, catalog_server: CatalogServer, user_headers: Headers
) -> None:
    buyer = uuid.uuid4()
    order = await _place(client, catalog_server, user_headers(buyer))
    admin = user_headers(uuid.uuid4(), roles=("admin",))
    whole_calendar = {"placed_from": str(dt.date.min), "placed_to": str(dt.date.max)}

    response = await client.get(
        ADMIN_ORDERS, params=whole_calendar | {"customer": str(buyer)}, headers=admin
    )

    assert response.status_code == 200, response.text
    assert [o["id"] for o in response.json()["data"]] == [order["id"]]
