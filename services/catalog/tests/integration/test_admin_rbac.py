"""Every catalog write (and the stock figures) needs the admin role: 401 anonymous, 403 customer."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration

SOME_ID = uuid.UUID(int=7)
ADMIN_ONLY = [
    ("POST", "/api/v1/products", {"sku": "X", "name": "X", "brand": "X", "price": "1"}),
    ("PATCH", f"/api/v1/products/{SOME_ID}", {"name": "X", "version": 1}),
    ("DELETE", f"/api/v1/products/{SOME_ID}", None),
    ("GET", f"/api/v1/products/{SOME_ID}/stock", None),
    ("POST", f"/api/v1/products/{SOME_ID}/stock/adjustments", {"delta": 1}),
    ("POST", "/api/v1/categories", {"name": "X", "slug": "x"}),
    ("PATCH", f"/api/v1/categories/{SOME_ID}", {"name": "X"}),
    ("DELETE", f"/api/v1/categories/{SOME_ID}", None),
]
IDS = [f"{method} {path}" for method, path, _ in ADMIN_ONLY]


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ONLY, ids=IDS)
async def test_admin_endpoint_anonymous_answers_401(
    client: httpx.AsyncClient, method: str, path: str, body: Any
) -> None:
    response = await client.request(method, path, json=body)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ONLY, ids=IDS)
async def test_admin_endpoint_customer_answers_403(
    client: httpx.AsyncClient, customer: dict[str, str], method: str, path: str, body: Any
) -> None:
    response = await client.request(method, path, json=body, headers=customer)

    assert response.status_code == 403
    assert response.json()["title"] == "Forbidden"


async def test_admin_endpoint_forged_token_answers_401(client: httpx.AsyncClient) -> None:
    headers = {"Authorization": "Bearer not.a.token"}

    response = await client.post(
        "/api/v1/categories", json={"name": "X", "slug": "x"}, headers=headers
    )

    assert response.status_code == 401


async def test_admin_endpoint_refusal_changes_nothing(
    client: httpx.AsyncClient, customer: dict[str, str]
) -> None:
    await client.post("/api/v1/categories", json={"name": "X", "slug": "x"}, headers=customer)

    response = await client.get("/api/v1/categories")

    assert response.json() == []
