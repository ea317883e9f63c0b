"""Arrange data for the operator pages through the stack's public API, as a client would.

Each helper asserts its own step, naming what failed: a broken arrangement must not pass for a
broken page.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from services.storefront.tests.integration import arrange
from services.storefront.tests.integration.arrange import ADDRESS, GOOD_CARD
from services.storefront.tests.integration.shop import PASSWORD

PLACE_TRIES = 40
RETRY_SECONDS = 0.5
RETRY_STATUSES = frozenset({409, 429, 502, 503, 504})


async def bearer(api: httpx.AsyncClient, email: str, password: str) -> dict[str, str]:
    """The bearer header of a password login."""
    login = await api.post("/api/v1/auth/token", data={"username": email, "password": password})
    assert login.status_code == 200, f"login of {email} failed: {login.status_code} {login.text}"
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


async def new_product(api: httpx.AsyncClient, on_hand: int, price: str = "10.00") -> str:
    """A product of its own (in a category of its own), named for the operator's search; its id."""
    name = f"Operator test lamp {uuid.uuid4().hex[:8]}"
    made = await arrange.new_product(api, on_hand=on_hand, price=price, name=name)
    return made["id"]


@dataclass(frozen=True)
class Customer:
    """A registered customer and their bearer header."""

    user_id: str
    email: str
    headers: dict[str, str]


async def customer(api: httpx.AsyncClient, tag: str) -> Customer:
    """A new customer, signed in through the API."""
    email = f"{tag}-{uuid.uuid4().hex[:10]}@example.com"
    body = {"email": email, "password": PASSWORD, "full_name": f"Customer {tag}"}
    created = await api.post("/api/v1/auth/register", json=body)
    assert created.status_code == 201, f"registration of {email} failed: {created.text}"
    return Customer(str(created.json()["id"]), email, await bearer(api, email, PASSWORD))


async def place_order(api: httpx.AsyncClient, buyer: Customer, product_id: str) -> str:
    """An order of two units of ``product_id``, paid with a good card; its id.

    Retried under one Idempotency-Key while the stack answers a passing failure.
    """
    card = {"number": GOOD_CARD, "exp_month": 12, "exp_year": 2035, "cvc": "123"}
    token = await api.post("/v1/tokens", json={"card": card})
    assert token.status_code == 200, f"card not tokenised: {token.text}"
    body: dict[str, Any] = {
        "lines": [{"product_id": product_id, "quantity": 2}],
        "ship_to": ADDRESS,
        "payment_token": token.json()["id"],
    }
    headers = buyer.headers | {"Idempotency-Key": str(uuid.uuid4())}
    last = "no answer"
    for _ in range(PLACE_TRIES):
        response = await api.post("/api/v1/orders", json=body, headers=headers)
        if response.status_code == 201:
            return str(response.json()["id"])
        last = f"{response.status_code} {response.text}"
        assert response.status_code in RETRY_STATUSES, f"placing the order failed: {last}"
        await asyncio.sleep(RETRY_SECONDS)
    raise AssertionError(f"placing the order never succeeded: {last}")
