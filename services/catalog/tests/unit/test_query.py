"""The product list query: its rules, defaults and cache key."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from agora_catalog.schemas.query import ProductQuery


def test_product_query_min_price_above_max_price_is_refused() -> None:
    with pytest.raises(ValidationError, match="min_price must not be above max_price"):
        ProductQuery(min_price=Decimal("10.01"), max_price=Decimal(10))


def test_product_query_equal_price_bounds_are_accepted() -> None:
    query = ProductQuery(min_price=Decimal(10), max_price=Decimal(10))

    assert query.min_price == query.max_price


def test_product_query_relevance_without_search_is_refused() -> None:
    with pytest.raises(ValidationError, match="sort=relevance needs a search text q"):
        ProductQuery(sort="relevance")


def test_product_query_blank_search_is_refused() -> None:
    with pytest.raises(ValidationError, match="at least 1 character"):
        ProductQuery(q="   ")


def test_product_query_control_character_in_search_is_refused() -> None:
    with pytest.raises(ValidationError, match="pattern"):
        ProductQuery(q="mug\x00")


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, ("newest", "desc")),
        ({"q": "mug"}, ("relevance", "desc")),
        ({"q": "mug", "sort": "price"}, ("price", "asc")),
        ({"sort": "name"}, ("name", "asc")),
        ({"sort": "price", "order": "desc"}, ("price", "desc")),
        ({"order": "asc"}, ("newest", "asc")),
    ],
)
def test_product_query_effective_sort_fills_defaults(
    fields: dict[str, str], expected: tuple[str, str]
) -> None:
    assert ProductQuery.model_validate(fields).effective_sort == expected


def test_product_query_cache_key_same_query_is_stable() -> None:
    first = ProductQuery(brand="Acme", in_stock=True).cache_key(1, 20)

    assert first == ProductQuery(in_stock=True, brand="Acme").cache_key(1, 20)


@pytest.mark.parametrize(
    ("other", "page", "per_page"),
    [({"brand": "Acme"}, 2, 20), ({"brand": "Acme"}, 1, 50), ({"brand": "Other"}, 1, 20)],
)
def test_product_query_cache_key_other_query_or_page_differs(
    other: dict[str, str], page: int, per_page: int
) -> None:
    key = ProductQuery(brand="Acme").cache_key(1, 20)

    assert ProductQuery.model_validate(other).cache_key(page, per_page) != key


def test_product_query_parameter_names_are_the_filters() -> None:
    assert ProductQuery.parameter_names() == [
        "category",
        "brand",
        "min_price",
        "max_price",
        "in_stock",
        "q",
        "sort",
        "order",
    ]
