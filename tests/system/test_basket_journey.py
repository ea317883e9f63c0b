"""System test: the basket in the booted stack, through the gateway, with catalog stopped.

A guest fills a basket, logs in and merges it, an admin changes a price and the basket flags it;
then ``agora stop catalog``: the basket still reads (last known prices, stale: the changed one
as the ``product.price_changed`` event brought it over NATS) and refuses a new product with 503
and ``Retry-After``; ``agora start catalog``: the breaker closes and fresh
prices return. Only the whole stack shows this: basket's service token from identity (scope
``catalog:read``), catalog's gRPC port of ``agora up``, and the gateway's route to basket.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.system.stack import AgoraRun

pytestmark = pytest.mark.system

ADMIN = {"username": "admin@agora.local", "password": "Admin123!"}
BASKET = "/api/v1/basket"
RECOVERY_SECONDS = 60.0
POLL_SECONDS = 0.5


def _products(api: httpx.Client, count: int) -> list[dict[str, Any]]:
    listed = api.get("/api/v1/products", params={"per_page": 20})
    assert listed.status_code == 200, listed.text
    active = [p for p in listed.json()["data"] if p.get("active", True)]
    return active[:count]


def _admin(api: httpx.Client) -> dict[str, str]:
    token = api.post("/api/v1/auth/token", data=ADMIN).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def _reprice(api: httpx.Client, admin: dict[str, str], product_id: str, price: str) -> None:
    read = api.get(f"/api/v1/products/{product_id}")
    changed = api.patch(
        f"/api/v1/products/{product_id}",
        json={"price": price},
        headers=admin | {"If-Match": read.headers["ETag"]},
    )
    assert changed.status_code == 200, changed.text


def _fresh_basket(api: httpx.Client, headers: dict[str, str]) -> dict[str, Any]:
    deadline = time.monotonic() + RECOVERY_SECONDS
    while time.monotonic() < deadline:
        body: dict[str, Any] = api.get(BASKET, headers=headers).json()
        if not body["stale"]:
            return body
        time.sleep(POLL_SECONDS)
    raise AssertionError("the basket kept serving stale prices after catalog came back")


def _stale_basket_with_price(
    api: httpx.Client, headers: dict[str, str], product_id: str, price: str
) -> dict[str, Any]:
    """The stale basket once the price event reached basket's consumer (relay, NATS, inbox)."""
    deadline = time.monotonic() + RECOVERY_SECONDS
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = api.get(BASKET, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        prices = {line["product_id"]: line["unit_price"] for line in body["lines"]}
        if prices.get(product_id) == price:
            return body
        time.sleep(POLL_SECONDS)
    raise AssertionError(f"the stale basket never showed the event's price {price}: {body}")


def test_basket_guest_merge_price_flag_and_catalog_outage(agora: AgoraRun) -> None:
    up = agora("up", "--detach")
    assert up.returncode == 0, up.stdout + up.stderr
    seed = agora("seed")
    assert seed.returncode == 0, seed.stdout + seed.stderr

    with httpx.Client(base_url=agora.gateway_url, timeout=30) as api:
        mug, tea, jam = (str(p["id"]) for p in _products(api, 3))
        guest = {"X-Basket-Id": api.get(BASKET).headers["X-Basket-Id"]}
        api.cookies.clear()
        for product_id, quantity in ((mug, 2), (tea, 1)):
            put = api.put(
                f"{BASKET}/items/{product_id}", json={"quantity": quantity}, headers=guest
            )
            assert put.status_code == 200, put.text
        admin = _admin(api)
        merged = api.post(f"{BASKET}/merge", headers=admin | guest)
        _reprice(api, admin, mug, "1.23")
        flagged = api.get(BASKET, headers=admin).json()

        assert agora("stop", "catalog").returncode == 0
        stale = _stale_basket_with_price(api, admin, mug, "1.23")
        refused = api.put(f"{BASKET}/items/{jam}", json={"quantity": 1}, headers=admin)
        assert agora("start", "catalog").returncode == 0
        fresh = _fresh_basket(api, admin)

    assert merged.status_code == 200, merged.text
    assert {line["product_id"]: line["quantity"] for line in merged.json()["lines"]} == {
        mug: 2,
        tea: 1,
    }
    line = next(line for line in flagged["lines"] if line["product_id"] == mug)
    assert (line["price_changed"], line["unit_price"]) == (True, "1.23")
    assert line["previous_unit_price"] != "1.23"
    assert stale["stale"] is True
    stale_mug = next(line for line in stale["lines"] if line["product_id"] == mug)
    assert (stale_mug["price_changed"], stale_mug["stale"]) == (True, True)
    assert stale_mug["previous_unit_price"] == line["previous_unit_price"]
    assert refused.status_code == 503, refused.text
    assert int(refused.headers["Retry-After"]) >= 1
    assert all(not line["stale"] for line in fresh["lines"])
