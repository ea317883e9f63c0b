"""Product reads and lists are served from Redis; writes retire them; without Redis, PostgreSQL.

Rows are changed with SQL behind the service's back: an answer that still shows the old value
came from the cache, one that shows the new value came from the database.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from redis.asyncio import Redis

from agora_catalog.api.deps import catalog_state
from agora_catalog.main import create_app
from agora_catalog.services.cache import GENERATION_KEY
from agora_catalog.settings import CatalogSettings
from agora_chassis.auth import TokenVerifier
from agora_chassis.state import service_state
from agora_cli.infra.ports import LOOPBACK, free_port
from agora_testing.tokens import StaticKeys

pytestmark = pytest.mark.integration

PRODUCTS = "/api/v1/products"


@pytest.fixture
async def mug(make_category: Callable[..., Any], make_product: Callable[..., Any]) -> Any:
    kitchen = await make_category("kitchen")
    return await make_product(kitchen, sku="MUG-1", name="Mug")


async def _rename_behind_the_service(sql: Callable[..., Any], product: dict[str, Any]) -> None:
    await sql("UPDATE products SET name = 'Renamed in SQL' WHERE id = :id", id=product["id"])


async def _names(client: httpx.AsyncClient) -> list[str]:
    return [product["name"] for product in (await client.get(PRODUCTS)).json()["data"]]


@pytest.mark.parametrize("path", ["{id}", "by-sku/{sku}"])
async def test_get_product_second_read_is_served_from_cache(
    client: httpx.AsyncClient, mug: dict[str, Any], sql: Callable[..., Any], path: str
) -> None:
    url = f"{PRODUCTS}/{path.format(**mug)}"
    await client.get(url)
    await _rename_behind_the_service(sql, mug)

    response = await client.get(url)

    assert response.json()["name"] == "Mug"


@pytest.mark.parametrize("path", ["{id}", "by-sku/{sku}"])
async def test_get_product_after_api_write_is_read_fresh(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    mug: dict[str, Any],
    sql: Callable[..., Any],
    path: str,
) -> None:
    url = f"{PRODUCTS}/{path.format(**mug)}"
    await client.get(url)
    await _rename_behind_the_service(sql, mug)

    await client.patch(
        f"{PRODUCTS}/{mug['id']}", json={"price": "1.00", "version": 1}, headers=admin
    )

    fresh = (await client.get(url)).json()
    assert (fresh["name"], fresh["price"]) == ("Renamed in SQL", "1.00")


@pytest.fixture
async def redis(catalog_redis_url: str) -> AsyncIterator[Redis]:
    """The service's Redis, for changing it behind the service's back."""
    client = Redis.from_url(catalog_redis_url)
    yield client
    await client.aclose()


async def test_get_product_after_api_price_change_is_not_served_from_near_cache(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    mug: dict[str, Any],
    sql: Callable[..., Any],
    redis: Redis,
) -> None:
    url = f"{PRODUCTS}/{mug['id']}"
    await client.get(url)  # from PostgreSQL, stored in Redis
    await client.get(url)  # from Redis, kept in this process's near cache
    await redis.flushdb()
    await _rename_behind_the_service(sql, mug)
    near = (await client.get(url)).json()  # only the near cache still knows "Mug"

    await client.patch(url, json={"price": "1.00", "version": 1}, headers=admin)

    fresh = (await client.get(url)).json()
    assert near["name"] == "Mug"
    assert (fresh["name"], fresh["price"]) == ("Renamed in SQL", "1.00")


async def test_list_products_new_product_is_listed_at_once_despite_near_generation(
    client: httpx.AsyncClient,
    mug: dict[str, Any],
    sql: Callable[..., Any],
    make_category: Callable[..., Any],
    make_product: Callable[..., Any],
    redis: Redis,
) -> None:
    await _names(client)  # the generation is read from Redis and kept near
    await redis.incr(GENERATION_KEY)  # as if another replica wrote
    await _rename_behind_the_service(sql, mug)
    near = await _names(client)  # still the list of the near generation

    await make_product(await make_category("garden"), sku="RAKE-1", name="Rake")

    assert near == ["Mug"]
    assert await _names(client) == ["Rake", "Renamed in SQL"]


async def test_list_products_second_read_is_served_from_cache(
    client: httpx.AsyncClient, mug: dict[str, Any], sql: Callable[..., Any]
) -> None:
    await _names(client)
    await _rename_behind_the_service(sql, mug)

    assert await _names(client) == ["Mug"]


async def test_list_products_other_page_is_cached_apart(
    client: httpx.AsyncClient, mug: dict[str, Any], sql: Callable[..., Any]
) -> None:
    await client.get(PRODUCTS, params={"per_page": 1})
    await _rename_behind_the_service(sql, mug)

    response = await client.get(PRODUCTS, params={"per_page": 2})

    assert [product["name"] for product in response.json()["data"]] == ["Renamed in SQL"]


async def test_list_products_any_product_write_retires_cached_lists(
    client: httpx.AsyncClient,
    mug: dict[str, Any],
    sql: Callable[..., Any],
    make_category: Callable[..., Any],
    make_product: Callable[..., Any],
) -> None:
    await _names(client)
    await _rename_behind_the_service(sql, mug)

    await make_product(await make_category("garden"), sku="RAKE-1", name="Rake")

    assert await _names(client) == ["Rake", "Renamed in SQL"]


async def test_list_products_stock_adjustment_retires_cached_lists(
    client: httpx.AsyncClient, admin: dict[str, str], mug: dict[str, Any], sql: Callable[..., Any]
) -> None:
    await _names(client)
    await _rename_behind_the_service(sql, mug)

    await client.post(f"{PRODUCTS}/{mug['id']}/stock/adjustments", json={"delta": 1}, headers=admin)

    assert await _names(client) == ["Renamed in SQL"]


async def test_list_products_category_write_retires_cached_lists(
    client: httpx.AsyncClient,
    mug: dict[str, Any],
    sql: Callable[..., Any],
    make_category: Callable[..., Any],
) -> None:
    await _names(client)
    await _rename_behind_the_service(sql, mug)

    await make_category("garden")

    assert await _names(client) == ["Renamed in SQL"]


@pytest.fixture
async def cacheless_client(
    catalog_database_url: str, signing_key: Ed25519PrivateKey, clean: None
) -> AsyncIterator[httpx.AsyncClient]:
    """A second catalog on the same database whose Redis is a closed port."""
    settings = CatalogSettings(
        environment="test",
        database_url=catalog_database_url,
        redis_url=f"redis://{LOOPBACK}:{free_port()}/0",
        broker_url=None,
    )
    cacheless = create_app(settings)
    service_state(cacheless).verifier = TokenVerifier(
        StaticKeys(signing_key), issuer=settings.jwt_issuer, audience=settings.jwt_audience
    )
    async with LifespanManager(cacheless):
        transport = httpx.ASGITransport(app=cacheless, client=("127.0.0.1", 40001))
        async with httpx.AsyncClient(transport=transport, base_url="http://catalog") as client:
            yield client


@pytest.mark.parametrize(
    "path",
    [PRODUCTS, f"{PRODUCTS}?brand=acme", f"{PRODUCTS}/{{id}}", f"{PRODUCTS}/by-sku/{{sku}}"],
)
async def test_get_products_redis_down_reads_from_database(
    cacheless_client: httpx.AsyncClient, mug: dict[str, Any], sql: Callable[..., Any], path: str
) -> None:
    url = path.format(**mug)
    await cacheless_client.get(url)
    await _rename_behind_the_service(sql, mug)

    response = await cacheless_client.get(url)

    assert response.status_code == 200, response.text
    assert "Renamed in SQL" in response.text


async def test_category_tree_redis_down_answers_200(
    cacheless_client: httpx.AsyncClient, mug: dict[str, Any]
) -> None:
    response = await cacheless_client.get("/api/v1/categories")

    assert response.status_code == 200
    assert response.json()[0]["slug"] == "kitchen"


async def test_update_product_redis_down_answers_200(
    cacheless_client: httpx.AsyncClient, admin: dict[str, str], mug: dict[str, Any]
) -> None:
    response = await cacheless_client.patch(
        f"{PRODUCTS}/{mug['id']}", json={"name": "Cup", "version": 1}, headers=admin
    )

    assert response.status_code == 200, response.text


async def test_readiness_redis_down_reports_cache_degraded(
    cacheless_client: httpx.AsyncClient,
) -> None:
    response = await cacheless_client.get("/health/ready")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["cache"]["status"] == "fail"
    assert body["checks"]["database"]["status"] == "ok"


async def test_product_read_overlapping_a_write_is_not_cached(
    app: Any, client: httpx.AsyncClient, mug: dict[str, Any]
) -> None:
    cache = catalog_state(app).product_cache
    generation = await cache.generation()  # a reader starts: notes the generation, reads the row
    await cache.invalidate(uuid.UUID(mug["id"]), mug["sku"])  # a writer commits and invalidates

    stored = await cache.put_if_generation("catalog:test:late", b"old row", 60, generation)

    assert stored is False
    assert await cache.get("catalog:test:late") is None
    assert await cache.put_if_generation("catalog:test:late", b"row", 60, await cache.generation())
