"""Helpers for the checkout system tests: products with known stock, customers, cards, orders.

Everything goes through the stack's gateway as a client would, except the payment simulator's
ledger and faults (its loopback admin API) and the mail sink (the operator entrypoint).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

import httpx

from tests.system.delivery import all_mail
from tests.system.stack import AgoraRun

ADMIN = {"username": "admin@agora.local", "password": "Admin123!"}
PASSWORD = "Checkout-Passw0rd!"
ADDRESS = {
    "name": "Ada Lovelace",
    "street": "12 Analytical Row",
    "postal_code": "10115",
    "city": "Berlin",
    "country": "DE",
}
GOOD_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000002"
RETRY_STATUSES = frozenset({429, 502, 503, 504})
"""A client tries again, with the same Idempotency-Key, after these (and after no answer)."""
RETRY_SECONDS = 0.5
PLACE_TRIES = 120
UNFINISHED = ("pending", "stock_reserved", "awaiting_payment")


@dataclass(frozen=True)
class Customer:
    """A registered, signed-in shopper."""

    user_id: str
    email: str
    headers: dict[str, str]


def admin_headers(api: httpx.Client) -> dict[str, str]:
    """The seeded admin's bearer header."""
    login = api.post("/api/v1/auth/token", data=ADMIN)
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


def new_products(
    api: httpx.Client, admin: dict[str, str], on_hand: list[int], price: str = "10.00"
) -> list[str]:
    """One new product per entry of ``on_hand``, with that stock; returns their ids."""
    run = uuid.uuid4().hex[:8]
    category = {"name": f"Checkout {run}", "slug": f"checkout-{run}"}
    made = api.post("/api/v1/categories", json=category, headers=admin)
    assert made.status_code == 201, made.text
    category_id = made.json()["id"]
    ids = []
    for index, stock in enumerate(on_hand):
        body = {
            "sku": f"CHK-{run}-{index}",
            "name": f"Checkout test product {index}",
            "brand": "Agora",
            "price": price,
            "category_id": category_id,
            "on_hand": stock,
        }
        created = api.post("/api/v1/products", json=body, headers=admin)
        assert created.status_code == 201, created.text
        ids.append(str(created.json()["id"]))
    return ids


def stock(api: httpx.Client, admin: dict[str, str], product_id: str) -> dict[str, int]:
    """A product's ``on_hand``, ``reserved`` and ``available`` (admin)."""
    read = api.get(f"/api/v1/products/{product_id}/stock", headers=admin)
    assert read.status_code == 200, read.text
    return {key: int(read.json()[key]) for key in ("on_hand", "reserved", "available")}


def register(api: httpx.Client, tag: str) -> Customer:
    """A new customer, signed in."""
    email = f"{tag}-{uuid.uuid4().hex[:10]}@example.com"
    body = {"email": email, "password": PASSWORD, "full_name": f"Shopper {tag}"}
    created = api.post("/api/v1/auth/register", json=body)
    assert created.status_code == 201, created.text
    login = api.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    return Customer(str(created.json()["id"]), email, headers)


def card_token(api: httpx.Client, number: str = GOOD_CARD) -> str:
    """A single-use card token from the payment provider (through the gateway's ``/v1/tokens``)."""
    card = {"number": number, "exp_month": 12, "exp_year": 2035, "cvc": "123"}
    made = api.post("/v1/tokens", json={"card": card})
    assert made.status_code == 200, made.text
    token: str = made.json()["id"]
    return token


def order_body(product_id: str, quantity: int, token: str) -> dict[str, Any]:
    """A ``POST /api/v1/orders`` body of one line."""
    return {
        "lines": [{"product_id": product_id, "quantity": quantity}],
        "ship_to": ADDRESS,
        "payment_token": token,
    }


async def place(api: httpx.AsyncClient, customer: Customer, body: dict[str, Any]) -> str:
    """Place an order as a careful client does: on no answer or a 5xx, the same request again
    under the same ``Idempotency-Key``, so a lost answer never makes a second order."""
    headers = customer.headers | {"Idempotency-Key": str(uuid.uuid4())}
    last = "no answer"
    for _ in range(PLACE_TRIES):
        try:
            response = await api.post("/api/v1/orders", json=body, headers=headers)
        except httpx.TransportError as exc:
            last = repr(exc)
        else:
            if response.status_code == 201:
                order_id: str = response.json()["id"]
                return order_id
            last = f"{response.status_code} {response.text}"
            if response.status_code not in RETRY_STATUSES and response.status_code != 409:
                raise AssertionError(f"placing an order failed for good: {last}")
        await asyncio.sleep(RETRY_SECONDS)
    raise AssertionError(f"placing an order never succeeded: {last}")


def unfinished(api: httpx.Client, admin: dict[str, str]) -> int:
    """How many orders are not PAID or CANCELLED yet (admin search)."""
    total = 0
    for status in UNFINISHED:
        listed = api.get("/api/v1/admin/orders", params={"status": status}, headers=admin)
        assert listed.status_code == 200, listed.text
        total += int(listed.json()["total"])
    return total


def wait_until_final(api: httpx.Client, admin: dict[str, str], timeout: float) -> float:
    """Wait for every order to end PAID or CANCELLED; returns how long it took."""
    start = time.monotonic()
    left = -1
    while time.monotonic() - start < timeout:
        try:
            left = unfinished(api, admin)
        except (httpx.TransportError, AssertionError):
            left = -1  # a service restarting: look again
        if left == 0:
            return time.monotonic() - start
        time.sleep(1.0)
    raise AssertionError(f"{left} orders still unfinished after {timeout:.0f}s")


def all_orders(api: httpx.Client, admin: dict[str, str]) -> list[dict[str, Any]]:
    """Every order (admin search, page by page)."""
    orders: list[dict[str, Any]] = []
    page, pages = 1, 1
    while page <= pages:
        listed = api.get(
            "/api/v1/admin/orders", params={"page": page, "per_page": 100}, headers=admin
        )
        assert listed.status_code == 200, listed.text
        orders.extend(listed.json()["data"])
        page, pages = page + 1, int(listed.json()["total_pages"])
    return orders


def ledger(agora: AgoraRun) -> dict[str, list[dict[str, Any]]]:
    """The payment simulator's charges and refunds."""
    url = f"http://127.0.0.1:{agora.port('AGORA_PAYSIM_PORT')}/admin/ledger"
    read = httpx.get(url, timeout=30)
    read.raise_for_status()
    body: dict[str, list[dict[str, Any]]] = read.json()
    return body


def set_faults(agora: AgoraRun, **faults: float) -> None:
    """Change the payment simulator's faults (``failure_rate``, ``timeout_rate``...)."""
    url = f"http://127.0.0.1:{agora.port('AGORA_PAYSIM_PORT')}/admin/faults"
    httpx.put(url, json=faults, timeout=30).raise_for_status()


def mail_per_recipient(agora: AgoraRun, emails: set[str]) -> Counter[tuple[str, str]]:
    """How many mails each of ``emails`` got, per subject."""
    return Counter(
        (mail["to"].lower(), mail["subject"])
        for mail in all_mail(agora)
        if mail["to"].lower() in emails
    )
