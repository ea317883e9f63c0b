"""Every catalog write (and the stock figures) needs the admin role: 401 anonymous, 403 customer;
writes also need the ``catalog:write`` scope: 403 for an admin token without it."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agora_testing.tokens import forge_access_token

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
WRITES = [(method, path, body) for method, path, body in ADMIN_ONLY if method != "GET"]
WRITE_IDS = [f"{method} {path}" for method, path, _ in WRITES]


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


@pytest.mark.parametrize(("method", "path", "body"), WRITES, ids=WRITE_IDS)
async def test_admin_write_admin_without_catalog_write_scope_answers_403(
    client: httpx.AsyncClient, signing_key: Ed25519PrivateKey, method: str, path: str, body: Any
) -> None:
    token = forge_access_token(signing_key, roles=["admin"], scopes=["admin", "profile"])

    response = await client.request(
        method, path, json=body, headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"


async def test_admin_write_admin_with_catalog_write_scope_succeeds(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    response = await client.post(
        "/api/v1/categories", json={"name": "Tea", "slug": "tea"}, headers=admin
    )

    assert response.status_code == 201
