"""``GET /api/v1/products``: the pagination envelope, filters and sort orders."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from agora_chassis.ids import new_id

pytestmark = pytest.mark.integration

LIST = "/api/v1/products"
SORTS = [
    (sort, order) for sort in ("relevance", "price", "name", "newest") for order in ("asc", "desc")
]
TWINS = 40
TWINS_PER_PAGE = 3


async def _insert_twins(sql: Callable[..., Any], category_id: str, count: int) -> set[str]:
    """Insert ``count`` products equal in every sort key (name, price, creation time)."""
    ids = [new_id() for _ in range(count)]
    skus = [f"TWIN-{index:03}" for index in range(count)]
    await sql(
        "INSERT INTO products (id, sku, name, description, brand, price, currency, attributes,"
        " active, category_id, version_id, created_at, updated_at)"
        " SELECT id, sku, 'Twin', '', 'Acme', 3.00, 'EUR', '{}', true, :category, 1,"
        " '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z'"
        " FROM unnest(CAST(:ids AS uuid[]), CAST(:skus AS text[])) AS twin(id, sku)",
        ids=ids,
        skus=skus,
        category=uuid.UUID(category_id),
    )
    await sql(
        "INSERT INTO stock (product_id, on_hand, reserved)"
        " SELECT id, 1, 0 FROM unnest(CAST(:ids AS uuid[])) AS twin(id)",
        ids=ids,
    )
    return set(skus)


async def _skus(client: httpx.AsyncClient, **params: Any) -> list[str]:
    response = await client.get(LIST, params=params)
    assert response.status_code == 200, response.text
    return [product["sku"] for product in response.json()["data"]]


async def test_list_products_second_page_has_pagination_envelope(
    client: httpx.AsyncClient, make_category: Callable[..., Any], make_product: Callable[..., Any]
) -> None:
    kitchen = await make_category("kitchen")
    for index in range(3):
        await make_product(kitchen, sku=f"MUG-{index}")

    response = await client.get(LIST, params={"page": 2, "per_page": 2})

    assert response.status_code == 200, response.text
    body = response.json()
    assert {key: body[key] for key in ("total", "page", "per_page", "total_pages")} == {
        "total": 3,
        "page": 2,
        "per_page": 2,
        "total_pages": 2,
    }
    assert len(body["data"]) == 1


async def test_list_products_no_products_has_empty_envelope(client: httpx.AsyncClient) -> None:
    response = await client.get(LIST)

    assert response.json() == {"data": [], "total": 0, "page": 1, "per_page": 20, "total_pages": 0}


async def test_list_products_inactive_product_is_not_listed(
    client: httpx.AsyncClient, make_category: Callable[..., Any], make_product: Callable[..., Any]
) -> None:
    kitchen = await make_category("kitchen")
    await make_product(kitchen, sku="ON-SALE")
    await make_product(kitchen, sku="RETIRED", active=False)

    assert await _skus(client) == ["ON-SALE"]


@pytest.mark.parametrize(
    ("slug", "expected"),
    [
        ("home", ["KITCHEN-BOWL", "KNIFE"]),
        ("kitchen", ["KITCHEN-BOWL", "KNIFE"]),
        ("knives", ["KNIFE"]),
        ("garden", ["RAKE"]),
    ],
)
async def test_list_products_category_filter_includes_sub_categories(
    client: httpx.AsyncClient,
    make_category: Callable[..., Any],
    make_product: Callable[..., Any],
    slug: str,
    expected: list[str],
) -> None:
    home = await make_category("home")
    kitchen = await make_category("kitchen", parent=home)
    knives = await make_category("knives", parent=kitchen)
    garden = await make_category("garden")
    await make_product(knives, sku="KNIFE")
    await make_product(kitchen, sku="KITCHEN-BOWL")
    await make_product(garden, sku="RAKE")

    assert sorted(await _skus(client, category=slug)) == expected


async def test_list_products_brand_filter_ignores_case(
    client: httpx.AsyncClient, make_category: Callable[..., Any], make_product: Callable[..., Any]
) -> None:
    kitchen = await make_category("kitchen")
    await make_product(kitchen, sku="ACME-MUG", brand="Acme")
    await make_product(kitchen, sku="OTHER-MUG", brand="Acmeco")

    assert await _skus(client, brand="aCME") == ["ACME-MUG"]


async def test_list_products_price_bounds_are_inclusive(
    client: httpx.AsyncClient, make_category: Callable[..., Any], make_product: Callable[..., Any]
) -> None:
    kitchen = await make_category("kitchen")
    for price in ("4.99", "5.00", "7.50", "10.00", "10.01"):
        await make_product(kitchen, sku=f"P-{price}", price=price)

    skus = await _skus(client, min_price="5.00", max_price="10", sort="price")

    assert skus == ["P-5.00", "P-7.50", "P-10.00"]


@pytest.mark.parametrize(("in_stock", "expected"), [("true", ["FULL"]), ("false", ["EMPTY"])])
async def test_list_products_in_stock_filter_splits_by_availability(
    client: httpx.AsyncClient,
    make_category: Callable[..., Any],
    make_product: Callable[..., Any],
    in_stock: str,
    expected: list[str],
) -> None:
    kitchen = await make_category("kitchen")
    await make_product(kitchen, sku="FULL", on_hand=3)
    await make_product(kitchen, sku="EMPTY", on_hand=0)

    assert await _skus(client, in_stock=in_stock) == expected


async def test_list_products_fully_reserved_product_is_not_in_stock(
    client: httpx.AsyncClient,
    make_category: Callable[..., Any],
    make_product: Callable[..., Any],
    sql: Callable[..., Any],
) -> None:
    kitchen = await make_category("kitchen")
    product = await make_product(kitchen, sku="HELD", on_hand=2)
    await sql("UPDATE stock SET reserved = 2 WHERE product_id = :id", id=product["id"])

    assert await _skus(client, in_stock="true") == []


@pytest.mark.parametrize(
    ("sort", "order", "expected"),
    [
        ("price", "asc", ["CHEAP", "MIDDLE", "DEAR"]),
        ("price", "desc", ["DEAR", "MIDDLE", "CHEAP"]),
        ("name", "asc", ["DEAR", "CHEAP", "MIDDLE"]),
        ("name", "desc", ["MIDDLE", "CHEAP", "DEAR"]),
        ("newest", "asc", ["MIDDLE", "CHEAP", "DEAR"]),
        ("newest", "desc", ["DEAR", "CHEAP", "MIDDLE"]),
    ],
)
async def test_list_products_sort_orders_by_key(
    client: httpx.AsyncClient,
    make_category: Callable[..., Any],
    make_product: Callable[..., Any],
    sort: str,
    order: str,
    expected: list[str],
) -> None:
    kitchen = await make_category("kitchen")
    await make_product(kitchen, sku="MIDDLE", name="Cup", price="5.00")
    await make_product(kitchen, sku="CHEAP", name="Bowl", price="1.00")
    await make_product(kitchen, sku="DEAR", name="Atlas Pan", price="90.00")

    assert await _skus(client, sort=sort, order=order) == expected


async def test_list_products_without_sort_lists_newest_first(
    client: httpx.AsyncClient, make_category: Callable[..., Any], make_product: Callable[..., Any]
) -> None:
    kitchen = await make_category("kitchen")
    for sku in ("FIRST", "SECOND", "THIRD"):
        await make_product(kitchen, sku=sku)

    assert await _skus(client) == ["THIRD", "SECOND", "FIRST"]


@pytest.mark.parametrize(("sort", "order"), SORTS)
async def test_list_products_equal_keys_pages_cover_every_product_once(
    client: httpx.AsyncClient,
    make_category: Callable[..., Any],
    sql: Callable[..., Any],
    sort: str,
    order: str,
) -> None:
    kitchen = await make_category("kitchen")
    created = await _insert_twins(sql, kitchen["id"], TWINS)

    walked: list[str] = []
    # The search makes PostgreSQL sort (a heap sort, unstable) instead of walking an index.
    for page in range(1, TWINS // TWINS_PER_PAGE + 2):
        walked += await _skus(
            client, q="twin", sort=sort, order=order, page=page, per_page=TWINS_PER_PAGE
        )

    assert len(walked) == len(created)
    assert set(walked) == created
