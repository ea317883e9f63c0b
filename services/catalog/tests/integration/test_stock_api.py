"""``/api/v1/products/{id}/stock``: stock figures and admin adjustments."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration

UNKNOWN_ID = uuid.UUID(int=42)


@pytest.fixture
async def mug(make_category: Callable[..., Any], make_product: Callable[..., Any]) -> Any:
    kitchen = await make_category("kitchen")
    return await make_product(kitchen, sku="MUG-1", on_hand=10)


@pytest.fixture
def adjust(client: httpx.AsyncClient, admin: dict[str, str]) -> Callable[..., Any]:
    async def post(product: dict[str, Any], delta: int, reason: str = "") -> httpx.Response:
        return await client.post(
            f"/api/v1/products/{product['id']}/stock/adjustments",
            json={"delta": delta, "reason": reason},
            headers=admin,
        )

    return post


async def _reserve(sql: Callable[..., Any], product: dict[str, Any], units: int) -> None:
    await sql(
        "UPDATE stock SET reserved = :units WHERE product_id = :id", units=units, id=product["id"]
    )


async def test_get_stock_answers_figures(
    client: httpx.AsyncClient, admin: dict[str, str], mug: dict[str, Any], sql: Callable[..., Any]
) -> None:
    await _reserve(sql, mug, 3)

    response = await client.get(f"/api/v1/products/{mug['id']}/stock", headers=admin)

    assert response.status_code == 200
    assert response.json() == {
        "product_id": mug["id"],
        "on_hand": 10,
        "reserved": 3,
        "available": 7,
    }


async def test_get_stock_unknown_product_answers_404(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    response = await client.get(f"/api/v1/products/{UNKNOWN_ID}/stock", headers=admin)

    assert response.status_code == 404


@pytest.mark.parametrize(("delta", "on_hand"), [(5, 15), (-4, 6), (-10, 0)])
async def test_adjust_stock_delta_changes_on_hand(
    adjust: Callable[..., Any], mug: dict[str, Any], delta: int, on_hand: int
) -> None:
    response = await adjust(mug, delta, "delivery")

    assert response.status_code == 200, response.text
    assert response.json()["on_hand"] == on_hand
    assert response.json()["available"] == on_hand


async def test_adjust_stock_below_zero_answers_409_and_keeps_stock(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    adjust: Callable[..., Any],
    mug: dict[str, Any],
) -> None:
    response = await adjust(mug, -11)

    assert response.status_code == 409
    assert response.json()["title"] == "Insufficient stock"
    stock = await client.get(f"/api/v1/products/{mug['id']}/stock", headers=admin)
    assert stock.json()["on_hand"] == 10


async def test_adjust_stock_below_reserved_answers_409(
    adjust: Callable[..., Any], mug: dict[str, Any], sql: Callable[..., Any]
) -> None:
    await _reserve(sql, mug, 4)

    response = await adjust(mug, -7)

    assert response.status_code == 409


async def test_adjust_stock_down_to_reserved_answers_200(
    adjust: Callable[..., Any], mug: dict[str, Any], sql: Callable[..., Any]
) -> None:
    await _reserve(sql, mug, 4)

    response = await adjust(mug, -6)

    assert response.json() == {"product_id": mug["id"], "on_hand": 4, "reserved": 4, "available": 0}


async def test_adjust_stock_product_available_follows(
    client: httpx.AsyncClient, adjust: Callable[..., Any], mug: dict[str, Any]
) -> None:
    await client.get(f"/api/v1/products/{mug['id']}")  # cached with 10 available

    await adjust(mug, -3)

    assert (await client.get(f"/api/v1/products/{mug['id']}")).json()["available"] == 7


async def test_adjust_stock_unknown_product_answers_404(adjust: Callable[..., Any]) -> None:
    response = await adjust({"id": UNKNOWN_ID}, 1)

    assert response.status_code == 404


async def test_adjust_stock_delta_out_of_range_answers_422(
    adjust: Callable[..., Any], mug: dict[str, Any]
) -> None:
    response = await adjust(mug, 1_000_001)

    assert response.status_code == 422
