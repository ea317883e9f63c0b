"""The catalogue pages and the account forms, against the real services of a private stack."""

from __future__ import annotations

import asyncio
import re
import time
import uuid

import httpx
import pytest
from asgi_lifespan import LifespanManager

from agora_cli.infra.ports import free_port
from agora_storefront.main import create_app
from agora_storefront.settings import DEFAULT_CATALOG_CACHE_SECONDS
from services.storefront.tests.integration.arrange import admin_headers, change_price, new_product
from services.storefront.tests.integration.conftest import SHOP_URL, MakeSettings
from services.storefront.tests.integration.shop import Shopper

pytestmark = pytest.mark.integration

CACHE_SECONDS = DEFAULT_CATALOG_CACHE_SECONDS
TEST_CATEGORY_PREFIXES = ("basket-", "operator-")
PRODUCT_LINK = re.compile(r'href="/products/([0-9a-f-]{36})"')


async def seeded_category(api: httpx.AsyncClient) -> str:
    """The slug of a top-level category of the demo catalogue (tests make their own categories,
    ``basket-<run>`` and ``operator-<run>``, and never add products to the seeded ones)."""
    tree = (await api.get("/api/v1/categories")).json()
    seeded = [c["slug"] for c in tree if not c["slug"].startswith(TEST_CATEGORY_PREFIXES)]
    assert seeded, "the demo catalogue has no category: was agora seed run?"
    return str(seeded[0])


def product_ids(html: str) -> list[str]:
    """The products a page links to, in page order, once each."""
    return list(dict.fromkeys(PRODUCT_LINK.findall(html)))


async def test_home_lists_products_with_the_category_tree_and_pager(shopper: Shopper) -> None:
    page = await shopper.get("/")
    assert page.status_code == 200
    assert "<title>Agora — shop</title>" in page.text
    assert len(product_ids(page.text)) == 12, "the first page holds one page size of products"
    assert 'aria-label="Categories"' in page.text
    assert 'rel="next" href="?page=2"' in page.text


async def test_a_category_pages_through_its_products(
    shopper: Shopper, api: httpx.AsyncClient
) -> None:
    slug = await seeded_category(api)  # no test adds products to it: its pages hold still
    first = await shopper.get(f"/c/{slug}?sort=name")
    assert 'rel="next" href="?sort=name&amp;page=2"' in first.text
    second = await shopper.get(f"/c/{slug}?sort=name&page=2")
    assert product_ids(second.text), "the second page lists products"
    assert set(product_ids(second.text)).isdisjoint(product_ids(first.text))


async def test_category_page_filters_and_sorts(shopper: Shopper, api: httpx.AsyncClient) -> None:
    slug = await seeded_category(api)
    page = await shopper.get(f"/c/{slug}?sort=price&order=asc&in_stock=true")
    assert page.status_code == 200
    assert f'href="/c/{slug}" aria-current="page"' in page.text
    prices = [
        float(p) for p in re.findall(r'class="price">€([0-9.,]+)<', page.text.replace(",", ""))
    ]
    assert prices == sorted(prices), "sorted by price, lowest first"
    expected = (
        await api.get("/api/v1/products", params={"category": slug, "in_stock": "true"})
    ).json()
    assert f"{expected['total']} product" in page.text


async def test_a_typo_still_finds_the_product_and_suggestions_come_as_you_type(
    shopper: Shopper,
) -> None:
    page = await shopper.get("/search?q=hedphones")
    assert page.status_code == 200
    assert "Results for “hedphones”" in page.text
    assert product_ids(page.text), "the typo-tolerant search found headphones"
    assert "Headphones" in page.text
    fragment = await shopper.htmx("GET", "/search/suggestions?q=hedphones")
    assert fragment.status_code == 200
    assert "<html" not in fragment.text, "a fragment, not a page"
    assert "/search?q=hedphones" in fragment.text
    assert product_ids(fragment.text)


async def test_no_results_suggest_something_useful(shopper: Shopper) -> None:
    page = await shopper.get("/search?q=zzqxjvw")
    assert "No products found" in page.text
    assert "Check the spelling" in page.text
    assert "New in the shop" in page.text
    assert product_ids(page.text)


async def test_product_page_shows_price_stock_attributes_and_the_add_form(
    shopper: Shopper, api: httpx.AsyncClient
) -> None:
    # A seeded product (tests make theirs in categories of their own, some without details).
    params = {"category": await seeded_category(api), "in_stock": "true"}
    product = (await api.get("/api/v1/products", params=params)).json()["data"][0]
    page = await shopper.get(f"/products/{product['id']}")
    assert page.status_code == 200
    assert f"<title>{product['name']} — Agora</title>" in page.text.replace("&#39;", "'")
    assert f"SKU {product['sku']}" in page.text
    assert "In stock:" in page.text
    assert f'hx-post="/basket/items/{product["id"]}"' in page.text
    assert "caption>Details</caption>" in page.text


async def test_unknown_pages_and_bad_filters_get_friendly_pages(shopper: Shopper) -> None:
    missing = await shopper.get(f"/products/{uuid.uuid4()}")
    assert missing.status_code == 404
    assert "text/html" in missing.headers["content-type"]
    nowhere = await shopper.get("/no/such/page")
    assert nowhere.status_code == 404
    assert "Page not found" in nowhere.text
    bad = await shopper.get("/?min_price=cheap")
    assert bad.status_code == 400
    assert "Invalid request" in bad.text
    category = await shopper.get("/c/no-such-category")
    assert category.status_code == 404
    assert "no category" in category.text


async def test_register_sign_out_and_sign_in_keep_tokens_in_http_only_cookies(
    shopper: Shopper,
) -> None:
    email = f"ada-{uuid.uuid4().hex[:8]}@example.com"
    await shopper.register(email)
    assert shopper.client.cookies.get("agora_access")
    set_cookies = shopper.last.history[0].headers.get_list("set-cookie") if shopper.last else []
    access = next(c for c in set_cookies if c.startswith("agora_access="))
    assert "HttpOnly" in access
    assert "SameSite=lax" in access
    out = await shopper.post("/logout")
    assert "Sign in" in out.text
    assert "Sign out" not in out.text
    assert not shopper.client.cookies.get("agora_access")
    await shopper.sign_in(email, "Corr3ct-Horse-Battery")


async def test_wrong_password_and_invalid_registration_say_what_is_wrong(shopper: Shopper) -> None:
    wrong = await shopper.post("/login", {"email": "nobody@example.com", "password": "nope-nope"})
    assert wrong.status_code == 400
    assert "e-mail address or password is wrong" in wrong.text
    invalid = await shopper.post(
        "/register", {"email": "not-an-address", "full_name": "X", "password": "short"}
    )
    assert invalid.status_code == 400
    assert 'id="email-error"' in invalid.text
    assert 'aria-invalid="true"' in invalid.text
    assert 'id="password-error"' in invalid.text


async def test_a_form_without_the_csrf_token_is_refused(shopper: Shopper) -> None:
    await shopper.get("/login")
    refused = await shopper.client.post(
        "/login", data={"email": "a@example.com", "password": "x", "csrf_token": "forged"}
    )
    assert refused.status_code == 403
    assert "came from another site" in refused.text
    missing = await shopper.client.post("/logout")
    assert missing.status_code == 403


async def test_an_expired_access_token_is_refreshed_silently(shopper: Shopper) -> None:
    email = f"grace-{uuid.uuid4().hex[:8]}@example.com"
    await shopper.register(email)
    refresh = shopper.client.cookies.get("agora_refresh")
    shopper.client.cookies.delete("agora_access")  # the browser dropped it at its max-age
    page = await shopper.get("/")
    assert "Sign out" in page.text, "still signed in after the refresh"
    assert shopper.client.cookies.get("agora_access")
    assert shopper.client.cookies.get("agora_refresh") != refresh, "the refresh token rotated"


async def test_a_revoked_session_signs_the_visitor_out(shopper: Shopper) -> None:
    shopper.client.cookies.set("agora_refresh", "not-a-refresh-token", domain="shop.test")
    page = await shopper.get("/")
    assert "Sign in" in page.text
    assert not shopper.client.cookies.get("agora_refresh")


async def test_catalog_down_gives_a_friendly_page_with_a_retry(make_settings: MakeSettings) -> None:
    app = create_app(make_settings(catalog_url=f"http://127.0.0.1:{free_port()}"))
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=SHOP_URL) as client:
            page = await client.get("/")
            fragment = await client.get(
                "/search/suggestions?q=lamp", headers={"HX-Request": "true"}
            )
    assert page.status_code == 503
    assert "Temporarily unavailable" in page.text
    assert "Try again" in page.text
    assert "Traceback" not in page.text
    assert page.headers["retry-after"]
    assert fragment.headers["hx-retarget"] == "#flash"


async def test_what_the_storefront_shares_between_shoppers_is_the_same_for_every_caller(
    api: httpx.AsyncClient,
) -> None:
    """The assumption under the storefront's micro-cache of catalog reads (ADR 0026): catalog's
    category tree and product lists do not depend on who asks. If catalog ever personalises
    them, this fails, and the cache must go (or key on the caller)."""
    admin = await admin_headers(api)
    reads: list[tuple[str, dict[str, str | int]]] = [
        ("/api/v1/categories", {}),
        ("/api/v1/products", {"page": 1, "per_page": 12}),
        ("/api/v1/products", {"q": "lamp", "sort": "relevance", "per_page": 6}),
    ]
    for path, params in reads:
        guest = await api.get(path, params=params)
        signed_in = await api.get(path, params=params, headers=admin)
        assert guest.status_code == signed_in.status_code == 200
        assert guest.json() == signed_in.json(), f"{path} {params} differs for a signed-in admin"


async def test_a_listing_shows_a_new_price_once_the_cached_moment_has_passed(
    shopper: Shopper, api: httpx.AsyncClient
) -> None:
    lamp = await new_product(api, price="10.00")
    search = f"/search?q={lamp['name'].replace(' ', '+')}"
    started = time.monotonic()
    first = await shopper.get(search)
    assert "€10.00" in first.text, "the new product is listed"
    await change_price(api, lamp["id"], "11.00")
    again = await shopper.get(search)
    if time.monotonic() - started < CACHE_SECONDS * 0.75:
        assert "€10.00" in again.text, "within the moment, the listing is the remembered one"
    await asyncio.sleep(CACHE_SECONDS + 0.2)
    later = await shopper.get(search)
    assert "€11.00" in later.text, "after the moment, the listing shows the new price"
    product = await shopper.get(f"/products/{lamp['id']}")
    assert "€11.00" in product.text, "a product's own page is always asked afresh"
