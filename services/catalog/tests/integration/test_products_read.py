"""``GET /api/v1/products/{id}`` and ``/by-sku/{sku}``: ETags, 304, Cache-Control and 404."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration

PRODUCTS = "/api/v1/products"


def _by_id(product: dict[str, Any]) -> str:
    return f"{PRODUCTS}/{product['id']}"


def _by_sku(product: dict[str, Any]) -> str:
    return f"{PRODUCTS}/by-sku/{product['sku']}"


@pytest.fixture
async def mug(make_category: Callable[..., Any], make_product: Callable[..., Any]) -> Any:
    kitchen = await make_category("kitchen")
    return await make_product(kitchen, sku="MUG-1", name="Plain Mug", price="9.99", on_hand=4)


@pytest.mark.parametrize("path", [_by_id, _by_sku])
async def test_get_product_existing_returns_product_with_etag_and_cache_control(
    client: httpx.AsyncClient, mug: dict[str, Any], path: Callable[[dict[str, Any]], str]
) -> None:
    response = await client.get(path(mug))

    assert response.status_code == 200, response.text
    assert response.json() == mug
    assert response.headers["ETag"].startswith('"')
    assert response.headers["Cache-Control"] == "public, max-age=30"


@pytest.mark.parametrize("path", [_by_id, _by_sku])
async def test_get_product_current_etag_answers_304(
    client: httpx.AsyncClient, mug: dict[str, Any], path: Callable[[dict[str, Any]], str]
) -> None:
    etag = (await client.get(path(mug))).headers["ETag"]

    response = await client.get(path(mug), headers={"If-None-Match": etag})

    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["ETag"] == etag


async def test_get_product_etag_among_several_answers_304(
    client: httpx.AsyncClient, mug: dict[str, Any]
) -> None:
    etag = (await client.get(_by_id(mug))).headers["ETag"]

    response = await client.get(_by_id(mug), headers={"If-None-Match": f'"old", {etag}'})

    assert response.status_code == 304


async def test_get_product_stale_etag_answers_200_with_new_etag(
    client: httpx.AsyncClient, mug: dict[str, Any], admin: dict[str, str]
) -> None:
    stale = (await client.get(_by_id(mug))).headers["ETag"]
    changed = await client.patch(
        _by_id(mug), json={"name": "Big Mug"}, headers=admin | {"If-Match": stale}
    )
    assert changed.status_code == 200, changed.text

    response = await client.get(_by_id(mug), headers={"If-None-Match": stale})

    assert response.status_code == 200
    assert response.json()["name"] == "Big Mug"
    assert response.headers["ETag"] != stale


async def test_get_product_etag_of_write_matches_etag_of_read(
    client: httpx.AsyncClient, mug: dict[str, Any], admin: dict[str, str]
) -> None:
    etag = (await client.get(_by_id(mug))).headers["ETag"]
    changed = await client.patch(
        _by_id(mug),
        json={"price": "12.5", "attributes": {"size": 3, "colour": "red"}},
        headers=admin | {"If-Match": etag},
    )

    response = await client.get(_by_id(mug), headers={"If-None-Match": changed.headers["ETag"]})

    assert response.status_code == 304


async def test_get_product_created_etag_matches_etag_of_read(
    client: httpx.AsyncClient, make_category: Callable[..., Any], admin: dict[str, str]
) -> None:
    kitchen = await make_category("kitchen")
    body = {
        "sku": "JAR-1",
        "name": "Jar",
        "brand": "Acme",
        "price": "3.1",
        "category_id": kitchen["id"],
        "attributes": {"volume_ml": 500, "lid": True},
    }
    created = await client.post(PRODUCTS, json=body, headers=admin)

    response = await client.get(
        created.headers["Location"], headers={"If-None-Match": created.headers["ETag"]}
    )

    assert response.status_code == 304


@pytest.mark.parametrize(
    "path", [f"{PRODUCTS}/{uuid.UUID(int=1)}", f"{PRODUCTS}/by-sku/NO-SUCH-SKU"]
)
async def test_get_product_unknown_answers_404_problem(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["title"] == "Product not found"


@pytest.mark.parametrize("path", [_by_id, _by_sku])
async def test_get_product_inactive_answers_404(
    client: httpx.AsyncClient,
    make_category: Callable[..., Any],
    make_product: Callable[..., Any],
    path: Callable[[dict[str, Any]], str],
) -> None:
    kitchen = await make_category("kitchen")
    retired = await make_product(kitchen, sku="OLD-1", active=False)

    response = await client.get(path(retired))

    assert response.status_code == 404
    assert response.json()["status"] == 404


async def test_get_product_malformed_id_answers_422(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{PRODUCTS}/not-a-uuid")

    assert response.status_code == 422


async def test_get_product_if_none_match_star_answers_304(
    client: httpx.AsyncClient, make_category: Callable[..., Any], make_product: Callable[..., Any]
) -> None:
    product = await make_product(await make_category("kitchen"))

    response = await client.get(f"/api/v1/products/{product['id']}", headers={"If-None-Match": "*"})

    assert response.status_code == 304
