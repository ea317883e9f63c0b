"""The basket REST API over a real Redis, priced by a real catalog gRPC server."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
import pytest

from agora_basket.repositories.baskets import BasketRepository
from agora_testing.catalog_server import CatalogServer
from services.basket.tests.integration.conftest import guest_headers, quantities

pytestmark = pytest.mark.integration

BASKET = "/api/v1/basket"
THIRTY_DAYS = 30 * 24 * 3600


async def test_get_basket_new_guest_gets_signed_id_header_and_cookie(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(BASKET)
    assert response.status_code == 200
    assert response.json() == {
        "lines": [],
        "total_quantity": 0,
        "total": "0.00",
        "currency": None,
        "stale": False,
    }
    signed = response.headers["X-Basket-Id"]
    cookie = response.headers["set-cookie"]
    assert f"basket_id={signed}" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie


async def test_guest_cookie_alone_names_the_same_basket(
    client: httpx.AsyncClient, catalog_server: CatalogServer
) -> None:
    mug = catalog_server.add("Mug", "9.99")
    await client.get(BASKET)  # the client keeps the cookie
    await client.put(f"{BASKET}/items/{mug}", json={"quantity": 2})
    response = await client.get(BASKET)
    assert quantities(response.json()) == {mug: 2}
    assert "X-Basket-Id" not in response.headers


async def test_put_item_returns_whole_basket_priced_by_catalog(
    client: httpx.AsyncClient, catalog_server: CatalogServer
) -> None:
    headers = await guest_headers(client)
    mug = catalog_server.add("Mug", "9.99", sku="SKU-MUG")
    tea = catalog_server.add("Tea", "4.50")
    await client.put(f"{BASKET}/items/{mug}", json={"quantity": 3}, headers=headers)
    response = await client.put(f"{BASKET}/items/{tea}", json={"quantity": 1}, headers=headers)
    body = response.json()
    assert response.status_code == 200
    assert body["total"] == "34.47"
    assert body["currency"] == "EUR"
    assert body["total_quantity"] == 4
    first = body["lines"][0]
    assert first["name"] == "Mug"
    assert first["image_url"] == "/images/products/SKU-MUG.svg"
    assert (first["unit_price"], first["line_total"]) == ("9.99", "29.97")
    assert first["price_changed"] is False
    assert first["stale"] is False


async def test_each_request_asks_catalog_once_for_all_its_products(
    client: httpx.AsyncClient, catalog_server: CatalogServer
) -> None:
    headers = await guest_headers(client)
    ids = [catalog_server.add(f"P{n}", "1.00") for n in range(3)]
    for product_id in ids:
        await client.put(f"{BASKET}/items/{product_id}", json={"quantity": 1}, headers=headers)
    catalog_server.batches.clear()
    await client.get(BASKET, headers=headers)
    assert len(catalog_server.batches) == 1
    assert sorted(catalog_server.batches[0]) == sorted(ids)


async def test_put_quantity_zero_removes_the_line(
    client: httpx.AsyncClient, catalog_server: CatalogServer
) -> None:
    headers = await guest_headers(client)
    mug = catalog_server.add("Mug", "9.99")
    await client.put(f"{BASKET}/items/{mug}", json={"quantity": 2}, headers=headers)
    response = await client.put(f"{BASKET}/items/{mug}", json={"quantity": 0}, headers=headers)
    assert response.status_code == 200
    assert response.json()["lines"] == []


async def test_delete_item_and_clear_return_the_basket(
    client: httpx.AsyncClient, catalog_server: CatalogServer
) -> None:
    headers = await guest_headers(client)
    mug, tea = catalog_server.add("Mug", "9.99"), catalog_server.add("Tea", "4.50")
    for product_id in (mug, tea):
        await client.put(f"{BASKET}/items/{product_id}", json={"quantity": 1}, headers=headers)
    removed = await client.delete(f"{BASKET}/items/{mug}", headers=headers)
    assert quantities(removed.json()) == {tea: 1}
    cleared = await client.delete(BASKET, headers=headers)
    assert cleared.status_code == 200
    assert cleared.json()["lines"] == []
    assert (await client.get(BASKET, headers=headers)).json()["lines"] == []


async def test_put_unknown_product_404_names_it(client: httpx.AsyncClient) -> None:
    headers = await guest_headers(client)
    unknown = str(uuid.uuid4())
    response = await client.put(f"{BASKET}/items/{unknown}", json={"quantity": 1}, headers=headers)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["product_id"] == unknown
    assert unknown in response.json()["detail"]


async def test_put_withdrawn_product_422_names_it(
    client: httpx.AsyncClient, catalog_server: CatalogServer
) -> None:
    headers = await guest_headers(client)
    gone = catalog_server.add("Old mug", "1.00", active=False)
    response = await client.put(f"{BASKET}/items/{gone}", json={"quantity": 1}, headers=headers)
    assert response.status_code == 422
    assert response.json()["product_id"] == gone


@pytest.mark.parametrize("body", [{"quantity": 100}, {"quantity": -1}, {"quantity": "x"}, {}])
async def test_put_invalid_quantity_422_problem_details(
    client: httpx.AsyncClient, catalog_server: CatalogServer, body: dict[str, object]
) -> None:
    mug = catalog_server.add("Mug", "9.99")
    response = await client.put(f"{BASKET}/items/{mug}", json=body)
    assert response.status_code == 422
    assert response.json()["errors"]


async def test_put_not_a_uuid_422(client: httpx.AsyncClient) -> None:
    response = await client.put(f"{BASKET}/items/not-a-uuid", json={"quantity": 1})
    assert response.status_code == 422


async def test_price_change_flags_line_with_old_and_new_price(
    client: httpx.AsyncClient, catalog_server: CatalogServer
) -> None:
    headers = await guest_headers(client)
    mug = catalog_server.add("Mug", "10.00")
    await client.put(f"{BASKET}/items/{mug}", json={"quantity": 2}, headers=headers)
    catalog_server.products[mug].price = "12.50"
    line = (await client.get(BASKET, headers=headers)).json()["lines"][0]
    assert line["price_changed"] is True
    assert (line["previous_unit_price"], line["unit_price"]) == ("10.00", "12.50")
    assert line["line_total"] == "25.00"


async def test_short_stock_flags_line_with_available_quantity(
    client: httpx.AsyncClient, catalog_server: CatalogServer
) -> None:
    headers = await guest_headers(client)
    mug = catalog_server.add("Mug", "10.00", available=2)
    response = await client.put(f"{BASKET}/items/{mug}", json={"quantity": 5}, headers=headers)
    line = response.json()["lines"][0]
    assert (line["short_stock"], line["available"]) == (True, 2)


async def test_tampered_guest_id_401(client: httpx.AsyncClient) -> None:
    signed = (await guest_headers(client))["X-Basket-Id"]
    forged = ("0" if signed[0] != "0" else "1") + signed[1:]
    response = await client.get(BASKET, headers={"X-Basket-Id": forged})
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_signed_in_user_has_own_basket_apart_from_guests(
    client: httpx.AsyncClient,
    catalog_server: CatalogServer,
    user_headers: Callable[..., dict[str, str]],
) -> None:
    mug = catalog_server.add("Mug", "10.00")
    user = user_headers()
    await client.put(f"{BASKET}/items/{mug}", json={"quantity": 4}, headers=user)
    mine = await client.get(BASKET, headers=user)
    assert quantities(mine.json()) == {mug: 4}
    assert "X-Basket-Id" not in mine.headers
    assert (await client.get(BASKET, headers=await guest_headers(client))).json()["lines"] == []


async def test_invalid_bearer_token_401(client: httpx.AsyncClient) -> None:
    response = await client.get(BASKET, headers={"Authorization": "Bearer not-a-token"})
    assert response.status_code == 401


async def test_write_renews_ttl_and_keeps_product_index_in_step(
    client: httpx.AsyncClient, catalog_server: CatalogServer, repository: BasketRepository
) -> None:
    headers = await guest_headers(client)
    owner = "guest:" + headers["X-Basket-Id"].split(".")[0]
    mug = catalog_server.add("Mug", "10.00")
    await client.put(f"{BASKET}/items/{mug}", json={"quantity": 1}, headers=headers)
    assert THIRTY_DAYS - 60 < await repository.ttl(owner) <= THIRTY_DAYS
    assert await repository.baskets_holding(mug) == {owner}
    await client.delete(f"{BASKET}/items/{mug}", headers=headers)
    assert await repository.baskets_holding(mug) == set()
    assert await repository.ttl(owner) == -2  # an empty basket is no key at all


async def test_put_product_in_another_currency_422_names_it(
    client: httpx.AsyncClient, catalog_server: CatalogServer
) -> None:
    headers = await guest_headers(client)
    mug = catalog_server.add("Mug", "9.99")
    dollars = catalog_server.add("Import", "5.00", currency="USD")
    await client.put(f"{BASKET}/items/{mug}", json={"quantity": 1}, headers=headers)
    response = await client.put(f"{BASKET}/items/{dollars}", json={"quantity": 1}, headers=headers)
    assert response.status_code == 422
    assert response.json()["product_id"] == dollars
    assert "USD" in response.json()["detail"]
