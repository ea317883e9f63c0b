"""Checkout and the order pages, against the real services and payment simulator of a stack.

The checkout page's script tokenises the card at the payment provider; these tests do what it
does (POST the card to the page's ``data-token-url``) and send the form with the token.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from services.storefront.tests.integration.arrange import (
    ADDRESS,
    DECLINED_CARD,
    GOOD_CARD,
    card_token,
    final_status,
    new_product,
    order_status,
)
from services.storefront.tests.integration.conftest import SHOP_URL
from services.storefront.tests.integration.shop import Shopper
from tests.system.stack import AgoraRun

pytestmark = pytest.mark.integration

ORDER_PATH = re.compile(r"^/account/orders/([0-9a-f-]{36})$")
HIDDEN = re.compile(r'name="(idempotency_key|payment_token)"[^>]*value="([^"]*)"')
TOKEN_URL = re.compile(r'data-token-url="([^"]+)"')


def hidden_fields(html: str) -> dict[str, str]:
    """The checkout form's hidden idempotency key and payment token."""
    return dict(HIDDEN.findall(html))


async def ready_to_pay(shopper: Shopper, api: httpx.AsyncClient, quantity: int = 1) -> str:
    """A new signed-in shopper with a product in the basket, on the checkout page.

    Returns:
        The checkout page's HTML.
    """
    await shopper.register(f"pay-{uuid.uuid4().hex[:8]}@example.com")
    product = await new_product(api, price="19.99")
    added = await shopper.post(f"/basket/items/{product['id']}", {"quantity": str(quantity)})
    assert added.url.path == "/basket", f"not added to the basket: {added.status_code}"
    page = await shopper.get("/checkout")
    assert page.status_code == 200, f"checkout page failed: {page.status_code}"
    assert page.url.path == "/checkout", f"checkout went to {page.url.path}"
    return page.text


async def pay(shopper: Shopper, page: str, card: str = GOOD_CARD, **address: str) -> httpx.Response:
    """Send the checkout form as its script does: tokenise the card, then post the form."""
    token_url = TOKEN_URL.search(page)
    assert token_url, "the checkout form names the tokenisation URL"
    token = await card_token(token_url.group(1), card)
    fields = {**ADDRESS, **address, "payment_token": token}
    fields["idempotency_key"] = hidden_fields(page)["idempotency_key"]
    return await shopper.post("/checkout", fields)


def order_path(response: httpx.Response) -> str:
    """The order page a placement led to."""
    assert ORDER_PATH.match(response.url.path), f"not on an order page: {response.url}"
    return response.url.path


@pytest.fixture
async def other_shopper(storefront: FastAPI) -> AsyncIterator[Shopper]:
    """A second browser, for another customer."""
    transport = httpx.ASGITransport(app=storefront, client=("198.51.100.9", 50001))
    async with httpx.AsyncClient(transport=transport, base_url=SHOP_URL) as client:
        yield Shopper(client)


async def test_the_checkout_form_keeps_the_card_away_from_the_shop(
    shopper: Shopper, api: httpx.AsyncClient
) -> None:
    page = await ready_to_pay(shopper, api)
    for field in ("name", "street", "postal_code", "city"):
        assert f'<input id="{field}" name="{field}"' in page, f"no {field} input"
    assert '<select id="country" name="country"' in page
    assert '<option value="DE">Germany</option>' in page
    assert '<option value="US" selected>United States</option>' in page, "the locale's country"
    for card_field in ("card_number", "card_expiry", "card_cvc"):
        tag = re.search(rf"<input id=\"{card_field}\"[^>]*>", page)
        assert tag, f"no {card_field} input"
        assert "name=" not in tag.group(0), f"{card_field} must never be sent to the shop"
    assert uuid.UUID(hidden_fields(page)["idempotency_key"])
    assert "<noscript>" in page
    assert '<script src="/static/js/checkout.js" defer></script>' in page
    assert "Place order</button>" in page
    assert "€19.99" in page


async def test_a_good_card_pays_the_order_and_its_page_follows_it(
    shopper: Shopper, api: httpx.AsyncClient
) -> None:
    page = await ready_to_pay(shopper, api, quantity=2)
    placed = await pay(shopper, page)
    path = order_path(placed)
    assert "your order is placed" in placed.text
    assert '<span id="basket-count" class="count">0</span>' in placed.text
    assert order_status(placed.text) in {"pending", "stock_reserved", "awaiting_payment", "paid"}
    assert await final_status(shopper, path) == "paid"
    done = await shopper.get(path)
    assert "Cancel order" not in done.text, "a paid order cannot be cancelled"
    assert 'hx-trigger="every 1s"' not in done.text
    assert "€39.98" in done.text
    assert "12 Analytical Row" in done.text
    assert done.text.count("<li><strong>") >= 3, "the timeline lists each transition"
    mine = await shopper.get("/account/orders?status=paid")
    assert path.rsplit("/", 1)[1] in mine.text
    none = await shopper.get("/account/orders?status=cancelled")
    assert "No orders in this status" in none.text


async def test_a_declined_card_cancels_the_order_with_the_reason(
    shopper: Shopper, api: httpx.AsyncClient
) -> None:
    page = await ready_to_pay(shopper, api)
    path = order_path(await pay(shopper, page, DECLINED_CARD))
    assert await final_status(shopper, path) == "cancelled"
    done = await shopper.get(path)
    reason = re.search(r'<p id="order-reason">([^<]+)</p>', done.text)
    assert reason, "a cancelled order says why"
    assert "declined" in reason.group(1)


async def test_the_same_form_sent_twice_places_one_order(
    shopper: Shopper, api: httpx.AsyncClient
) -> None:
    page = await ready_to_pay(shopper, api)
    token_url = TOKEN_URL.search(page)
    assert token_url, "the checkout form names the tokenisation URL"
    fields = {
        **ADDRESS,
        "payment_token": await card_token(token_url.group(1)),
        "idempotency_key": hidden_fields(page)["idempotency_key"],
    }
    first = await shopper.post("/checkout", fields)
    second = await shopper.post("/checkout", fields)
    assert order_path(second) == order_path(first), "the second send answers the first order"
    orders = await shopper.get("/account/orders")
    assert orders.text.count("<tr data-order-id=") == 1, "one order, not two"


async def test_invalid_address_fields_are_shown_next_to_them(
    shopper: Shopper, api: httpx.AsyncClient
) -> None:
    page = await ready_to_pay(shopper, api)
    refused = await pay(shopper, page, postal_code="!", city="", country="ZZ")
    assert refused.status_code == 400
    assert refused.url.path == "/checkout"
    for field in ("postal_code", "city", "country"):
        assert f'<p class="field-error" id="{field}-error">' in refused.text, f"{field} error"
        assert f'aria-invalid="true" aria-describedby="{field}-error"' in refused.text
    assert 'value="Ada Lovelace"' in refused.text, "what was typed is kept"
    kept = hidden_fields(refused.text)
    assert kept["payment_token"], "the unused card token is kept for the next try"
    assert kept["idempotency_key"] != hidden_fields(page)["idempotency_key"]
    orders = await shopper.get("/account/orders")
    assert "You have not placed an order yet" in orders.text


async def test_another_customer_s_order_is_not_found(
    shopper: Shopper, other_shopper: Shopper, api: httpx.AsyncClient
) -> None:
    path = order_path(await pay(shopper, await ready_to_pay(shopper, api)))
    await other_shopper.register(f"other-{uuid.uuid4().hex[:8]}@example.com")
    theirs = await other_shopper.get(path)
    assert theirs.status_code == 404
    assert "Order not found" in theirs.text
    assert "12 Analytical Row" not in theirs.text
    cancel = await other_shopper.post(f"{path}/cancel")
    assert cancel.status_code == 404, "nor can they cancel it"


async def test_an_order_can_be_cancelled_before_it_is_paid(
    shopper: Shopper, api: httpx.AsyncClient, stack: AgoraRun
) -> None:
    page = await ready_to_pay(shopper, api)
    token_url = TOKEN_URL.search(page)
    assert token_url, "the checkout form names the tokenisation URL"
    token = await card_token(token_url.group(1))
    fields = {**ADDRESS, "payment_token": token}
    fields["idempotency_key"] = hidden_fields(page)["idempotency_key"]
    faults = f"http://127.0.0.1:{stack.port('AGORA_PAYSIM_PORT')}/admin/faults"
    slow = await api.put(faults, json={"latency_ms": 5000})
    assert slow.status_code == 200, f"paysim latency not set: {slow.text}"
    try:
        path = order_path(await shopper.post("/checkout", fields))
        live = await shopper.htmx("POST", f"{path}/cancel")
    finally:
        await api.put(faults, json={"latency_ms": 0})
    assert live.status_code == 200
    assert "<html" not in live.text, "HTMX gets the status panel only"
    assert order_status(live.text) == "cancelled"
    assert "You cancelled the order." in live.text
    assert "Cancel order" not in live.text
    assert await final_status(shopper, path) == "cancelled"
