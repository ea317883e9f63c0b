"""Concurrent writes to one basket never lose a line, and the line limit holds under a race."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from agora_basket.main import create_app
from agora_basket.settings import BasketSettings
from agora_testing.catalog_server import CatalogServer
from agora_testing.grpc_tokens import FixedToken
from services.basket.tests.integration.conftest import guest_headers, quantities

pytestmark = pytest.mark.integration

BASKET = "/api/v1/basket"
RACERS = 50
SMALL_BASKET_LINES = 3


async def test_fifty_concurrent_puts_of_different_products_all_kept(
    client: httpx.AsyncClient, catalog_server: CatalogServer
) -> None:
    headers = await guest_headers(client)
    ids = [catalog_server.add(f"Product {n:02}", "1.00") for n in range(RACERS)]

    answers = await asyncio.gather(
        *(
            client.put(f"{BASKET}/items/{product_id}", json={"quantity": 1}, headers=headers)
            for product_id in ids
        )
    )

    assert {answer.status_code for answer in answers} == {200}
    basket = (await client.get(BASKET, headers=headers)).json()
    assert quantities(basket) == dict.fromkeys(ids, 1)
    assert basket["total"] == "50.00"


@pytest.fixture
async def small_client(settings: BasketSettings) -> AsyncIterator[httpx.AsyncClient]:
    """A basket app that allows only three lines."""
    small: FastAPI = create_app(
        settings.model_copy(update={"max_lines": SMALL_BASKET_LINES}), tokens=FixedToken("t")
    )
    async with (
        LifespanManager(small),
        httpx.AsyncClient(transport=httpx.ASGITransport(small), base_url="http://b") as http,
    ):
        yield http


async def test_line_limit_holds_when_many_new_products_race(
    small_client: httpx.AsyncClient, catalog_server: CatalogServer
) -> None:
    headers = await guest_headers(small_client)
    ids = [catalog_server.add(f"Product {n}", "1.00") for n in range(10)]

    answers = await asyncio.gather(
        *(
            small_client.put(f"{BASKET}/items/{pid}", json={"quantity": 1}, headers=headers)
            for pid in ids
        )
    )

    assert sorted(answer.status_code for answer in answers) == [200] * 3 + [422] * 7
    assert len((await small_client.get(BASKET, headers=headers)).json()["lines"]) == 3


async def test_full_basket_still_changes_quantities_of_its_lines(
    small_client: httpx.AsyncClient, catalog_server: CatalogServer
) -> None:
    headers = await guest_headers(small_client)
    ids = [catalog_server.add(f"Product {n}", "1.00") for n in range(SMALL_BASKET_LINES + 1)]
    for product_id in ids[:SMALL_BASKET_LINES]:
        await small_client.put(
            f"{BASKET}/items/{product_id}", json={"quantity": 1}, headers=headers
        )

    refused = await small_client.put(
        f"{BASKET}/items/{ids[-1]}", json={"quantity": 1}, headers=headers
    )
    changed = await small_client.put(
        f"{BASKET}/items/{ids[0]}", json={"quantity": 7}, headers=headers
    )

    assert refused.status_code == 422
    assert "at most 3" in refused.json()["detail"]
    assert quantities(changed.json())[ids[0]] == 7
