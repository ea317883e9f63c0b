"""``GET /api/v1/products``: full-text search, and the query rules answered with 422."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from agora_chassis.pagination import MAX_PAGE_DEPTH, MAX_PER_PAGE

pytestmark = pytest.mark.integration

LIST = "/api/v1/products"
MAX_BRAND = 100


async def _skus(client: httpx.AsyncClient, **params: Any) -> list[str]:
    response = await client.get(LIST, params=params)
    assert response.status_code == 200, response.text
    return [product["sku"] for product in response.json()["data"]]


async def _refused(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get(LIST, params=params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    return body


async def test_search_name_match_outranks_description_match(
    client: httpx.AsyncClient, make_category: Callable[..., Any], make_product: Callable[..., Any]
) -> None:
    kitchen = await make_category("kitchen")
    await make_product(
        kitchen, sku="GRINDER", name="Coffee Grinder", description="Pairs well with an espresso."
    )
    await make_product(kitchen, sku="MACHINE", name="Espresso Machine")
    await make_product(kitchen, sku="KETTLE", name="Kettle")

    assert await _skus(client, q="espresso") == ["MACHINE", "GRINDER"]


async def test_search_typo_finds_similar_name(
    client: httpx.AsyncClient, make_category: Callable[..., Any], make_product: Callable[..., Any]
) -> None:
    audio = await make_category("audio")
    await make_product(audio, sku="PHONES", name="Wireless Headphones")
    await make_product(audio, sku="SPEAKER", name="Bluetooth Speaker")

    assert await _skus(client, q="hedphones") == ["PHONES"]


async def test_search_stemming_matches_other_word_forms(
    client: httpx.AsyncClient, make_category: Callable[..., Any], make_product: Callable[..., Any]
) -> None:
    kitchen = await make_category("kitchen")
    await make_product(kitchen, sku="KNIVES", name="Steak Knives Set")

    assert await _skus(client, q="knife") == ["KNIVES"]


async def test_search_with_filter_applies_both(
    client: httpx.AsyncClient, make_category: Callable[..., Any], make_product: Callable[..., Any]
) -> None:
    kitchen = await make_category("kitchen")
    await make_product(kitchen, sku="CHEAP-KNIFE", name="Paring Knife", price="5.00")
    await make_product(kitchen, sku="DEAR-KNIFE", name="Chef Knife", price="80.00")

    assert await _skus(client, q="knife", max_price="10") == ["CHEAP-KNIFE"]


async def test_search_sorted_by_price_ignores_relevance(
    client: httpx.AsyncClient, make_category: Callable[..., Any], make_product: Callable[..., Any]
) -> None:
    kitchen = await make_category("kitchen")
    await make_product(kitchen, sku="NAME", name="Espresso Cup", price="9.00")
    await make_product(kitchen, sku="TEXT", name="Mug", description="espresso", price="2.00")

    assert await _skus(client, q="espresso", sort="price") == ["TEXT", "NAME"]


@pytest.mark.parametrize(
    ("parameter", "value", "allowed"),
    [
        ("sort", "popularity", ["relevance", "price", "name", "newest"]),
        ("order", "sideways", ["asc", "desc"]),
    ],
)
async def test_list_products_unknown_sort_value_lists_allowed_values(
    client: httpx.AsyncClient, parameter: str, value: str, allowed: list[str]
) -> None:
    problem = await _refused(client, **{parameter: value})

    [error] = problem["errors"]
    assert error["field"] == f"query.{parameter}"
    assert all(f"'{name}'" in error["message"] for name in allowed)


async def test_list_products_unknown_category_lists_allowed_slugs(
    client: httpx.AsyncClient, make_category: Callable[..., Any]
) -> None:
    home = await make_category("home")
    await make_category("kitchen", parent=home)

    problem = await _refused(client, category="garden")

    assert problem["title"] == "Unknown category"
    assert problem["allowed"] == ["home", "kitchen"]


async def test_list_products_unknown_parameter_lists_allowed_names(
    client: httpx.AsyncClient,
) -> None:
    problem = await _refused(client, colour="red")

    assert "colour" in problem["detail"]
    assert {"category", "brand", "q", "sort", "order", "page", "per_page"} <= set(
        problem["allowed"]
    )


async def test_list_products_min_price_above_max_price_is_refused(
    client: httpx.AsyncClient,
) -> None:
    problem = await _refused(client, min_price="20", max_price="10")

    assert "min_price" in problem["errors"][0]["message"]


async def test_list_products_relevance_sort_without_search_is_refused(
    client: httpx.AsyncClient,
) -> None:
    problem = await _refused(client, sort="relevance")

    assert "q" in problem["errors"][0]["message"]


@pytest.mark.parametrize(
    ("parameter", "value"),
    [("per_page", "101"), ("page", "0"), ("min_price", "-1"), ("in_stock", "maybe")],
)
async def test_list_products_out_of_range_parameter_is_refused(
    client: httpx.AsyncClient, parameter: str, value: str
) -> None:
    problem = await _refused(client, **{parameter: value})

    assert problem["errors"][0]["field"] == f"query.{parameter}"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"brand": "Ac\x00me"}, "query.brand"),  # once a 400 from PostgreSQL
        ({"brand": "b" * (MAX_BRAND + 1)}, "query.brand"),
        ({"page": MAX_PAGE_DEPTH // MAX_PER_PAGE + 1, "per_page": MAX_PER_PAGE}, "query.page"),
    ],
)
async def test_list_products_unbounded_parameter_answers_422_naming_it(
    client: httpx.AsyncClient, params: dict[str, Any], field: str
) -> None:
    problem = await _refused(client, **params)

    assert [error["field"] for error in problem["errors"]] == [field]
