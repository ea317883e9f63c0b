"""Arrange data for the basket and checkout pages through the stack's public API (as an admin),
and tokenise cards at the payment simulator as the checkout page's script does."""

from __future__ import annotations

import asyncio
import re
import time
import uuid

import httpx

from services.storefront.tests.integration.shop import ADMIN_EMAIL, ADMIN_PASSWORD, Shopper

GOOD_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000002"
ADDRESS = {
    "name": "Ada Lovelace",
    "street": "12 Analytical Row",
    "postal_code": "10115",
    "city": "Berlin",
    "country": "DE",
}
STATUS = re.compile(r'<span id="order-status"[^>]*data-status="([a-z_]+)"')
FINAL = frozenset({"paid", "cancelled"})
POLL_SECONDS = 0.5


async def admin_headers(api: httpx.AsyncClient) -> dict[str, str]:
    """The seeded admin's bearer header."""
    login = await api.post(
        "/api/v1/auth/token", data={"username": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    )
    assert login.status_code == 200, f"admin login failed: {login.text}"
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


async def new_product(
    api: httpx.AsyncClient, on_hand: int = 50, price: str = "10.00", name: str = ""
) -> dict[str, str]:
    """A new product in a new category, with ``on_hand`` units (its id, name and price)."""
    admin = await admin_headers(api)
    run = uuid.uuid4().hex[:8]
    category = {"name": f"Basket {run}", "slug": f"basket-{run}"}
    made = await api.post("/api/v1/categories", json=category, headers=admin)
    assert made.status_code == 201, f"category not created: {made.text}"
    body = {
        "sku": f"SF-{run}",
        "name": name or f"Storefront lamp {run}",
        "brand": "Agora",
        "description": "A desk lamp made for the storefront's tests.",
        # A whole product, as the seeded ones: other tests read the newest product's details.
        "attributes": {"colour": "green"},
        "price": price,
        "category_id": made.json()["id"],
        "on_hand": on_hand,
    }
    created = await api.post("/api/v1/products", json=body, headers=admin)
    assert created.status_code == 201, f"product not created: {created.text}"
    return {"id": str(created.json()["id"]), "name": body["name"], "price": price}


async def change_price(api: httpx.AsyncClient, product_id: str, price: str) -> None:
    """Change a product's price as an operator would (``If-Match`` with the current ETag)."""
    admin = await admin_headers(api)
    current = await api.get(f"/api/v1/products/{product_id}", headers=admin)
    assert current.status_code == 200, f"product not read: {current.text}"
    headers = {**admin, "If-Match": current.headers["etag"]}
    changed = await api.patch(
        f"/api/v1/products/{product_id}", json={"price": price}, headers=headers
    )
    assert changed.status_code == 200, f"price not changed: {changed.text}"


async def card_token(paysim: str, number: str = GOOD_CARD) -> str:
    """A card token from the payment simulator, as the checkout page's script gets one."""
    card = {"number": number, "exp_month": 12, "exp_year": 2035, "cvc": "123"}
    async with httpx.AsyncClient(timeout=10) as client:
        made = await client.post(paysim, json={"card": card})
    assert made.status_code == 200, f"tokenisation refused: {made.text}"
    token: str = made.json()["id"]
    return token


def order_status(html: str) -> str:
    """The status an order page (or its status fragment) shows."""
    found = STATUS.search(html)
    assert found, f"no #order-status on the page: {html[:300]}"
    return found.group(1)


async def final_status(shopper: Shopper, order_path: str, within: float = 60) -> str:
    """Poll the order's status fragment, as the page does, until the order is paid or cancelled.

    Returns:
        The final status.
    """
    deadline = time.monotonic() + within
    seen = []
    while time.monotonic() < deadline:
        fragment = await shopper.htmx("GET", f"{order_path}/status")
        assert fragment.status_code == 200, f"status fragment failed: {fragment.status_code}"
        status = order_status(fragment.text)
        if status in FINAL:
            assert "every 1s" not in fragment.text, "a final order's fragment stops polling"
            return status
        assert 'hx-trigger="every 1s"' in fragment.text, "an order under way is polled"
        seen.append(status)
        await asyncio.sleep(POLL_SECONDS)
    raise AssertionError(f"{order_path} not final after {within} s (statuses seen: {seen})")
