"""The operator pages' pure functions: readiness reports, search links, prices, merged letters."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from agora_storefront.api.admin_products import parse_price
from agora_storefront.services.dead_letters import merged
from agora_storefront.services.operations import OrderSearch, as_user_id, readiness
from agora_storefront.services.product_desk import PRODUCTS_PER_PAGE, product_params

USER_ID = "0b1e2d3c-4a5b-4c6d-8e7f-901234567890"


def test_readiness_keeps_ok_and_degraded_and_calls_anything_else_down() -> None:
    check = {"status": "fail", "critical": False, "duration_ms": 1.0, "error": "boom"}
    degraded = readiness("catalog", "closed", {"status": "degraded", "checks": {"redis": check}})
    unavailable = readiness("catalog", "open", {"status": "unavailable", "checks": {}})
    garbage = readiness("catalog", "closed", ["not", "a", "report"])

    assert (degraded.status, degraded.checks["redis"]["error"]) == ("degraded", "boom")
    assert readiness("basket", "closed", {"status": "ok", "version": "1.2"}).version == "1.2"
    assert (unavailable.status, unavailable.breaker) == ("down", "open")
    assert garbage.status == "down"
    assert garbage.problem == "answered without a readiness report"


def test_order_search_links_keep_the_filters_and_restart_at_page_one() -> None:
    search = OrderSearch(status="paid", customer="a@example.com", placed_from="2024-01-01", page=3)

    assert search.link(page=4) == (
        "?status=paid&customer=a%40example.com&placed_from=2024-01-01&page=4"
    )
    assert search.link(status="cancelled") == (
        "?status=cancelled&customer=a%40example.com&placed_from=2024-01-01"
    )
    assert OrderSearch().link() == "?"


def test_order_search_sends_the_customer_as_a_user_id_and_drops_empty_filters() -> None:
    search = OrderSearch(customer="a@example.com", placed_to="2024-01-31", page=2)

    assert search.params(USER_ID) == {
        "page": 2,
        "per_page": 20,
        "customer": USER_ID,
        "placed_to": "2024-01-31",
    }
    assert "customer" not in OrderSearch().params(None)


def test_a_customer_is_a_user_id_only_when_it_parses_as_one() -> None:
    assert as_user_id(f" {USER_ID.upper()} ") == USER_ID
    assert as_user_id("ada@example.com") is None


def test_product_search_ranks_by_match_or_lists_by_name() -> None:
    assert product_params("  lamp ", 2) == {"page": 2, "per_page": PRODUCTS_PER_PAGE, "q": "lamp"}
    assert product_params("", 1) == {"page": 1, "per_page": PRODUCTS_PER_PAGE, "sort": "name"}


def test_a_price_is_read_with_a_dot_or_a_comma_and_nothing_else() -> None:
    assert parse_price(" 12,50 ") == Decimal("12.50")
    assert parse_price("19.99") == Decimal("19.99")
    assert parse_price("ten") is None
    assert parse_price("NaN") is None
    assert parse_price("Infinity") is None


def test_dead_letters_of_every_service_are_tagged_and_newest_first() -> None:
    pages: dict[str, dict[str, Any]] = {
        "notification": {"data": [{"id": "a", "last_failed_at": "2024-01-01T10:00:00+00:00"}]},
        "ordering": {"data": [{"id": "b", "last_failed_at": "2024-01-02T10:00:00+00:00"}]},
        "basket": {"data": []},
    }

    rows = merged(pages)

    assert [(row["id"], row["service"]) for row in rows] == [
        ("b", "ordering"),
        ("a", "notification"),
    ]
