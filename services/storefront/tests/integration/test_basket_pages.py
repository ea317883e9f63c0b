"""The basket pages: add from the product page, change, remove, merge on sign-in, price flags."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from fastapi import FastAPI

from services.storefront.tests.integration.arrange import change_price, new_product
from services.storefront.tests.integration.conftest import SHOP_URL
from services.storefront.tests.integration.shop import Shopper

pytestmark = pytest.mark.integration

TIMES = "\u00d7"  # the multiplication sign the add result shows
COUNT = re.compile(r'<span id="basket-count"[^>]*>(\d+)</span>')


def basket_count(html: str) -> int:
    """The header's (or an out-of-band fragment's) basket line count."""
    found = COUNT.search(html)
    assert found, f"no #basket-count in: {html[:300]}"
    return int(found.group(1))


def line_quantity(html: str, product_id: str) -> int:
    """The quantity the basket page shows on a product's line."""
    row = re.search(rf'<tr data-product-id="{product_id}">(.*?)</tr>', html, re.S)
    assert row, f"no basket line for {product_id}"
    value = re.search(r'name="quantity" type="number"[^>]*value="(\d+)"', row.group(1))
    assert value, f"no quantity input on the line of {product_id}"
    return int(value.group(1))


async def test_a_guest_adds_changes_and_removes_lines(
    shopper: Shopper, api: httpx.AsyncClient
) -> None:
    lamp = await new_product(api, price="12.50")
    await shopper.get(f"/products/{lamp['id']}")
    added = await shopper.htmx("POST", f"/basket/items/{lamp['id']}", {"quantity": "2"})
    assert added.status_code == 200
    assert f"Added 2 {TIMES} {lamp['name']}" in added.text
    assert 'hx-swap-oob="true"' in added.text, "the header count is swapped out of band"
    assert basket_count(added.text) == 1
    assert shopper.client.cookies.get("agora_basket"), "the guest basket id is kept in a cookie"
    again = await shopper.htmx("POST", f"/basket/items/{lamp['id']}", {"quantity": "3"})
    assert f"Added 3 {TIMES} {lamp['name']}" in again.text
    page = await shopper.get("/basket")
    assert "<h1>Basket</h1>" in page.text
    assert basket_count(page.text) == 1
    assert line_quantity(page.text, lamp["id"]) == 5, "adding adds to what the basket holds"
    assert f"Quantity of {lamp['name']}" in page.text
    assert "€62.50" in page.text, "line total and basket total"
    assert 'href="/checkout"' in page.text
    changed = await shopper.htmx("POST", f"/basket/items/{lamp['id']}/quantity", {"quantity": "1"})
    assert changed.status_code == 200
    assert "<html" not in changed.text, "HTMX gets the basket section only"
    assert line_quantity(changed.text, lamp["id"]) == 1
    assert 'id="basket-total">€12.50<' in changed.text
    removed = await shopper.post(f"/basket/items/{lamp['id']}/remove")
    assert removed.url.path == "/basket", "without HTMX the form redirects to the basket"
    assert "Your basket is empty" in removed.text
    assert basket_count(removed.text) == 0


async def test_adding_without_javascript_redirects_and_refusals_are_messages(
    shopper: Shopper, api: httpx.AsyncClient
) -> None:
    lamp = await new_product(api)
    page = await shopper.post(f"/basket/items/{lamp['id']}", {"quantity": "1"})
    assert page.url.path == "/basket"
    assert line_quantity(page.text, lamp["id"]) == 1
    capped = await shopper.htmx("POST", f"/basket/items/{lamp['id']}", {"quantity": "150"})
    assert "Enter a whole number from 1 to 99" in capped.text
    most = await shopper.htmx("POST", f"/basket/items/{lamp['id']}", {"quantity": "99"})
    assert "your basket holds 99, the most per product" in most.text
    assert line_quantity((await shopper.get("/basket")).text, lamp["id"]) == 99, "capped at 99"
    unknown = await shopper.htmx("POST", f"/basket/items/{uuid.uuid4()}", {"quantity": "1"})
    assert unknown.status_code == 200
    assert "Not added" in unknown.text
    bad = await shopper.post(f"/basket/items/{lamp['id']}/quantity", {"quantity": "lots"})
    assert bad.status_code == 422
    assert "Enter a whole number from 0 to 99" in bad.text


async def test_the_guest_basket_moves_into_the_account_on_sign_in(
    shopper: Shopper, api: httpx.AsyncClient
) -> None:
    lamp = await new_product(api)
    await shopper.htmx("POST", f"/basket/items/{lamp['id']}", {"quantity": "2"})
    email = f"merge-{uuid.uuid4().hex[:8]}@example.com"
    await shopper.register(email)
    await shopper.post("/logout")
    guest = await shopper.htmx("POST", f"/basket/items/{lamp['id']}", {"quantity": "1"})
    assert basket_count(guest.text) == 1
    checkout = await shopper.get("/checkout")
    assert checkout.url.path == "/login", "a guest signs in before checking out"
    assert "next=/checkout" in str(checkout.url)
    await shopper.sign_in(email, "Corr3ct-Horse-Battery")
    page = await shopper.get("/basket")
    assert line_quantity(page.text, lamp["id"]) == 3, "the guest's 1 joined the account's 2"
    assert basket_count(page.text) == 1
    assert not shopper.client.cookies.get("agora_basket"), "the guest basket id is forgotten"


async def test_a_changed_price_is_flagged_on_the_basket_page(
    shopper: Shopper, api: httpx.AsyncClient
) -> None:
    lamp = await new_product(api, price="20.00", on_hand=3)
    await shopper.post(f"/basket/items/{lamp['id']}", {"quantity": "5"})
    await change_price(api, lamp["id"], "25.00")
    page = await shopper.get("/basket")
    assert "Price changed" in page.text
    assert "<del>€20.00</del>" in page.text
    assert "<ins>€25.00</ins>" in page.text
    assert "Only 3 available" in page.text, "more units asked for than are free"


async def test_a_guest_basket_id_basket_refuses_starts_a_new_basket(
    shopper: Shopper, api: httpx.AsyncClient
) -> None:
    forged = f"{uuid.uuid4().hex}.not-the-signature"
    shopper.client.cookies.set("agora_basket", forged, domain="shop.test")
    page = await shopper.get("/basket")
    assert page.url.path == "/basket", "a guest is not sent to the login page"
    assert "Your basket is empty" in page.text
    assert shopper.client.cookies.get("agora_basket") not in {None, forged}, "a new guest id"
    lamp = await new_product(api)
    await shopper.htmx("POST", f"/basket/items/{lamp['id']}", {"quantity": "1"})
    shopper.client.cookies.set("agora_basket", forged, domain="shop.test")
    await shopper.register(f"forged-{uuid.uuid4().hex[:8]}@example.com")
    assert "Sign out" in (await shopper.get("/basket")).text, "signing in survives the bad id"


async def test_one_guests_basket_never_shows_for_the_next_guest(
    storefront: FastAPI, api: httpx.AsyncClient
) -> None:
    """Regression: the storefront's HTTP pool is shared by every visitor and once kept the
    ``basket_id`` cookie basket set for one guest, so the next new guest was shown that basket."""
    lamp = await new_product(api, price="9.00")
    transport = httpx.ASGITransport(app=storefront)
    async with httpx.AsyncClient(transport=transport, base_url=SHOP_URL) as first_client:
        first = Shopper(first_client)
        await first.get(f"/products/{lamp['id']}")
        await first.htmx("POST", f"/basket/items/{lamp['id']}", {"quantity": "1"})
    async with httpx.AsyncClient(transport=transport, base_url=SHOP_URL) as second_client:
        second = Shopper(second_client)
        page = await second.get("/basket")
    assert "Your basket is empty" in page.text, "a new guest sees another guest's basket"
    assert lamp["name"] not in page.text
