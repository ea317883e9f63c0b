"""The storefront's pure parts: settings, query links, Problem Details parsing, page filters."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from agora_storefront.api.account import safe_next
from agora_storefront.api.pages import build_templates
from agora_storefront.services.backends import Caller, Refused, SignInRequired, body_of
from agora_storefront.services.catalog import ProductQuery, flatten
from agora_storefront.settings import StorefrontSettings

VENDOR = Path(__file__).resolve().parents[2] / "src/agora_storefront/static/vendor/htmx"


def test_cookies_are_secure_everywhere_but_in_development() -> None:
    assert not StorefrontSettings(environment="development").secure_cookies
    assert StorefrontSettings(environment="test").secure_cookies
    assert not StorefrontSettings(environment="test", cookie_secure=False).secure_cookies


def test_production_refuses_plain_http_cookies_but_not_the_unused_database_url() -> None:
    with pytest.raises(ValidationError) as refused:
        StorefrontSettings(environment="production", cookie_secure=False)
    assert "AGORA_COOKIE_SECURE (off)" in str(refused.value)
    assert "DATABASE" not in str(refused.value), "the storefront has no database"
    assert StorefrontSettings(environment="production").secure_cookies


def test_query_params_leave_empty_filters_out_and_lower_booleans() -> None:
    query = ProductQuery(category="audio", brand="", in_stock=True, page=3)
    assert query.params(12) == {
        "page": 3,
        "per_page": 12,
        "category": "audio",
        "in_stock": "true",
    }


def test_a_new_filter_link_starts_at_page_one_and_a_pager_link_keeps_filters() -> None:
    query = ProductQuery(q="lamp shade", sort="price", page=4)
    assert query.link(sort="name") == "?q=lamp+shade&sort=name"
    assert query.link(page=5) == "?q=lamp+shade&sort=price&page=5"
    assert ProductQuery().link() == "?"
    assert ProductQuery(category="audio").link(page=2) == "?page=2", "the category is the path"


def test_flatten_names_each_category_with_its_parent() -> None:
    tree = [{"slug": "audio", "name": "Audio", "children": [{"slug": "headphones"}]}]
    found = flatten(tree)
    assert found["audio"]["parent"] is None
    assert found["headphones"]["parent"] == "audio"


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/checkout", "/checkout"),
        ("/search?q=x", "/search?q=x"),
        ("//evil.example/", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("", "/"),
    ],
)
def test_only_local_paths_are_followed_after_sign_in(target: str, expected: str) -> None:
    assert safe_next(target) == expected


def test_a_refusal_keeps_the_service_field_errors_by_field_name() -> None:
    problem = {
        "title": "Validation failed",
        "detail": "The request has invalid fields.",
        "errors": [
            {"field": "ship_to.city", "message": "String should have at least 1 character"},
            {"field": "ship_to.city", "message": "second message is dropped"},
            {"field": "", "message": "send either lines or from_basket"},
        ],
    }
    refused = body_error(httpx.Response(422, json=problem))
    assert refused.detail == "The request has invalid fields."
    assert refused.field_errors() == {
        "city": "String should have at least 1 character",
        "form": "send either lines or from_basket",
    }


def test_a_401_means_sign_in_again_and_a_non_json_error_still_refuses() -> None:
    assert isinstance(body_error(httpx.Response(401, json={"title": "x"})), SignInRequired)
    plain = body_error(httpx.Response(502, text="Bad gateway"))
    assert plain.status == 502
    assert plain.problem == {}
    listed = body_error(httpx.Response(400, json=["odd"]))
    assert listed.detail == "['odd']"


def test_a_success_returns_json_or_none() -> None:
    assert body_of(httpx.Response(200, json={"a": 1})) == {"a": 1}
    assert body_of(httpx.Response(204)) is None


def body_error(response: httpx.Response) -> Refused:
    """The ``Refused`` that ``body_of`` raises for ``response`` (it must raise one)."""
    with pytest.raises(Refused) as caught:
        body_of(response)
    return caught.value


def test_a_caller_carries_token_or_guest_basket_and_the_shopper_address() -> None:
    assert Caller("tok", None, "203.0.113.9").headers() == {
        "Authorization": "Bearer tok",
        "X-Forwarded-For": "203.0.113.9",
    }
    assert Caller(None, "guest-1").headers() == {"X-Basket-Id": "guest-1"}


def test_prices_and_dates_are_formatted_for_the_locale() -> None:
    english = build_templates("en_US").env.filters
    german = build_templates("de_DE").env.filters
    assert english["money"](Decimal("1234.5"), "EUR") == "€1,234.50"
    assert german["money"]("1234.5", "EUR") == "1.234,50\xa0€"
    assert english["money"](None) == ""
    moment = dt.datetime(2026, 12, 7, 21, 5, tzinfo=dt.UTC)
    assert english["when"](moment.isoformat()).startswith("Dec 7, 2026")
    assert english["when"](None) == ""


def test_the_vendored_htmx_is_the_pinned_package_file() -> None:
    pinned = json.loads((VENDOR / "VERSION.json").read_text())
    digest = hashlib.sha256((VENDOR / "htmx.min.js").read_bytes()).hexdigest()
    assert digest == pinned["sha256"], "htmx.min.js differs from the pinned npm package's file"
    assert "Zero-Clause BSD" in (VENDOR / "LICENSE").read_text() or "0BSD" in pinned["license"]
