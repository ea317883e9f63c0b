"""``POST /api/v1/basket/merge``: a guest's lines move into the user's basket at login, once."""

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
MERGE = f"{BASKET}/merge"


async def test_merge_adds_quantities_capped_and_deletes_guest_basket(
    client: httpx.AsyncClient,
    catalog_server: CatalogServer,
    user_headers: Callable[..., dict[str, str]],
    repository: BasketRepository,
) -> None:
    guest = await guest_headers(client)
    user = user_headers(uuid.uuid4())
    mug, tea, jam = (catalog_server.add(name, "2.00") for name in ("Mug", "Tea", "Jam"))
    await client.put(f"{BASKET}/items/{mug}", json={"quantity": 2}, headers=guest)
    await client.put(f"{BASKET}/items/{tea}", json={"quantity": 98}, headers=guest)
    await client.put(f"{BASKET}/items/{tea}", json={"quantity": 5}, headers=user)
    await client.put(f"{BASKET}/items/{jam}", json={"quantity": 1}, headers=user)

    response = await client.post(MERGE, headers=user | guest)

    assert response.status_code == 200
    assert quantities(response.json()) == {mug: 2, tea: 99, jam: 1}
    assert 'basket_id=""' in response.headers["set-cookie"]  # the guest cookie is dropped
    guest_owner = "guest:" + guest["X-Basket-Id"].split(".")[0]
    assert await repository.lines(guest_owner) == {}
    assert guest_owner not in await repository.baskets_holding(mug)


async def test_merge_twice_adds_nothing_the_second_time(
    client: httpx.AsyncClient,
    catalog_server: CatalogServer,
    user_headers: Callable[..., dict[str, str]],
) -> None:
    guest, user = await guest_headers(client), user_headers(uuid.uuid4())
    mug = catalog_server.add("Mug", "2.00")
    await client.put(f"{BASKET}/items/{mug}", json={"quantity": 3}, headers=guest)

    first = await client.post(MERGE, headers=user | guest)
    second = await client.post(MERGE, headers=user | guest)

    assert quantities(first.json()) == quantities(second.json()) == {mug: 3}


async def test_merge_without_guest_id_422(
    client: httpx.AsyncClient, user_headers: Callable[..., dict[str, str]]
) -> None:
    response = await client.post(MERGE, headers=user_headers())
    assert response.status_code == 422


async def test_merge_without_login_401(client: httpx.AsyncClient) -> None:
    response = await client.post(MERGE, headers=await guest_headers(client))
    assert response.status_code == 401
