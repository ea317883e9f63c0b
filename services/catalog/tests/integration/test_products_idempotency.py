"""``POST /api/v1/products`` with an ``Idempotency-Key``: a retried creation creates one product."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agora_testing.tokens import forge_access_token

pytestmark = pytest.mark.integration

PRODUCTS = "/api/v1/products"
KEY = "0d6c2f4e-create-knife-1"


@pytest.fixture
async def new_product(make_category: Callable[..., Any]) -> dict[str, Any]:
    kitchen = await make_category("kitchen")
    return {
        "sku": "KNIFE-1",
        "name": "Chef Knife",
        "brand": "Acme",
        "price": "49.90",
        "category_id": kitchen["id"],
        "on_hand": 12,
    }


async def _products(sql: Callable[..., Any]) -> int:
    [(count,)] = await sql("SELECT count(*) FROM products")
    return int(count)


async def test_create_product_retried_with_key_replays_and_creates_one(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    new_product: dict[str, Any],
    sql: Callable[..., Any],
) -> None:
    headers = {**admin, "Idempotency-Key": KEY}

    first = await client.post(PRODUCTS, json=new_product, headers=headers)
    retried = await client.post(PRODUCTS, json=new_product, headers=headers)

    assert first.status_code == 201, first.text
    assert (retried.status_code, retried.content) == (201, first.content)
    assert retried.headers["Location"] == first.headers["Location"]
    assert retried.headers["ETag"] == first.headers["ETag"]
    assert retried.headers["Idempotent-Replayed"] == "true"
    assert await _products(sql) == 1
    [(events,)] = await sql("SELECT count(*) FROM outbox")
    [(audited,)] = await sql("SELECT count(*) FROM audit_log WHERE event = 'product_created'")
    assert (events, audited) == (0, 1)  # the replay wrote nothing: no event, no audit entry


async def test_create_product_same_key_other_body_is_422(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    new_product: dict[str, Any],
    sql: Callable[..., Any],
) -> None:
    headers = {**admin, "Idempotency-Key": KEY}
    await client.post(PRODUCTS, json=new_product, headers=headers)

    response = await client.post(PRODUCTS, json={**new_product, "sku": "KNIFE-2"}, headers=headers)

    assert response.status_code == 422
    assert response.json()["title"] == "Idempotency-Key reused"
    assert await _products(sql) == 1


async def test_create_product_refused_duplicate_sku_is_not_remembered(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    new_product: dict[str, Any],
    sql: Callable[..., Any],
) -> None:
    await client.post(PRODUCTS, json=new_product, headers=admin)  # the SKU exists, no key

    refused = await client.post(
        PRODUCTS, json=new_product, headers={**admin, "Idempotency-Key": KEY}
    )

    assert refused.status_code == 409
    assert await sql("SELECT key FROM idempotency_records") == []


async def test_create_product_same_key_by_another_admin_creates_its_own(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    signing_key: Ed25519PrivateKey,
    new_product: dict[str, Any],
    sql: Callable[..., Any],
) -> None:
    token = forge_access_token(signing_key, roles=["admin"], scopes=["catalog:write"])
    other = {"Authorization": f"Bearer {token}", "Idempotency-Key": KEY}
    await client.post(PRODUCTS, json=new_product, headers={**admin, "Idempotency-Key": KEY})

    response = await client.post(PRODUCTS, json={**new_product, "sku": "KNIFE-2"}, headers=other)

    assert response.status_code == 201
    assert await _products(sql) == 2


async def test_create_product_without_key_still_works(
    client: httpx.AsyncClient, admin: dict[str, str], new_product: dict[str, Any]
) -> None:
    response = await client.post(PRODUCTS, json=new_product, headers=admin)

    assert response.status_code == 201


async def test_create_product_malformed_key_is_400(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    new_product: dict[str, Any],
    sql: Callable[..., Any],
) -> None:
    headers = {**admin, "Idempotency-Key": "k" * 256}

    response = await client.post(PRODUCTS, json=new_product, headers=headers)

    assert response.status_code == 400
    assert await _products(sql) == 0


async def test_create_product_key_without_write_scope_is_403_and_not_stored(
    client: httpx.AsyncClient,
    signing_key: Ed25519PrivateKey,
    new_product: dict[str, Any],
    sql: Callable[..., Any],
) -> None:
    token = forge_access_token(signing_key, roles=["admin"], scopes=[])
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": KEY}

    response = await client.post(PRODUCTS, json=new_product, headers=headers)

    assert response.status_code == 403
    assert await sql("SELECT key FROM idempotency_records") == []
