"""``GET /api/v1/payments``: admins only, filtered by status and order, paginated; health."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from fastapi import FastAPI

from agora_chassis.messaging import EventConsumer
from services.payment.tests.integration.conftest import awaiting_payment, body_of, card_token

pytestmark = pytest.mark.integration
PATH = "/api/v1/payments"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def three_payments(consumer: EventConsumer, sim: httpx.AsyncClient) -> list[str]:
    """Two succeeded payments and a failed one; returns their order ids, oldest first."""
    orders = [
        awaiting_payment(await card_token(sim, card))
        for card in ("succeeds", "declines", "succeeds")
    ]
    for order in orders:
        assert await consumer.deliver(body_of(order)) is True
    return [str(order.order_id) for order in orders]


async def test_payments_without_token_is_401(client: httpx.AsyncClient) -> None:
    answer = await client.get(PATH)

    assert answer.status_code == 401
    assert answer.headers["content-type"].startswith("application/problem+json")


async def test_payments_as_customer_is_403(
    client: httpx.AsyncClient, token_for: Callable[[list[str]], str]
) -> None:
    answer = await client.get(PATH, headers=bearer(token_for(["customer"])))

    assert answer.status_code == 403


async def test_payments_as_admin_pages_newest_first(
    client: httpx.AsyncClient,
    consumer: EventConsumer,
    sim: httpx.AsyncClient,
    token_for: Callable[[list[str]], str],
) -> None:
    orders = await three_payments(consumer, sim)

    answer = await client.get(PATH, params={"per_page": 2}, headers=bearer(token_for(["admin"])))

    assert answer.status_code == 200
    page = answer.json()
    assert (page["total"], page["page"], page["per_page"], page["total_pages"]) == (3, 1, 2, 2)
    assert [item["order_id"] for item in page["data"]] == [orders[2], orders[1]]
    assert page["data"][0]["amount"] == "49.98"
    assert page["data"][0]["refund"] is None


@pytest.mark.parametrize(("status", "expected"), [("succeeded", 2), ("failed", 1), ("refunded", 0)])
async def test_payments_filtered_by_status(
    client: httpx.AsyncClient,
    consumer: EventConsumer,
    sim: httpx.AsyncClient,
    token_for: Callable[[list[str]], str],
    status: str,
    expected: int,
) -> None:
    await three_payments(consumer, sim)

    answer = await client.get(PATH, params={"status": status}, headers=bearer(token_for(["admin"])))

    assert answer.status_code == 200
    assert answer.json()["total"] == expected
    assert {item["status"] for item in answer.json()["data"]} <= {status}


async def test_payments_filtered_by_order(
    client: httpx.AsyncClient,
    consumer: EventConsumer,
    sim: httpx.AsyncClient,
    token_for: Callable[[list[str]], str],
) -> None:
    orders = await three_payments(consumer, sim)

    answer = await client.get(
        PATH, params={"order_id": orders[1]}, headers=bearer(token_for(["admin"]))
    )

    [only] = answer.json()["data"]
    assert (only["order_id"], only["status"], only["failure_reason"]) == (
        orders[1],
        "failed",
        "card_declined",
    )


@pytest.mark.parametrize("query", [{"status": "lost"}, {"order_id": "nope"}, {"per_page": 101}])
async def test_payments_bad_filter_is_422(
    client: httpx.AsyncClient, token_for: Callable[[list[str]], str], query: dict[str, str]
) -> None:
    answer = await client.get(PATH, params=query, headers=bearer(token_for(["admin"])))

    assert answer.status_code == 422


async def test_readiness_names_the_provider_breaker(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    answer = await client.get("/health/ready")

    assert "paysim" in answer.json()["checks"]
