"""Catalog's audit log: every admin change is recorded with the acting user (``/api/v1/audit``),
and each is a business event logged at INFO."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agora_testing.tokens import forge_access_token

pytestmark = pytest.mark.integration

AUDIT = "/api/v1/audit"
PRODUCTS = "/api/v1/products"
CATEGORIES = "/api/v1/categories"


@pytest.fixture
def admin_id() -> uuid.UUID:
    return uuid.uuid4()


@pytest.fixture
def named_admin(signing_key: Ed25519PrivateKey, admin_id: uuid.UUID) -> dict[str, str]:
    """Headers of an admin whose user id the test knows."""
    token = forge_access_token(
        signing_key, roles=["admin"], subject=admin_id, scopes=["catalog:write"]
    )
    return {"Authorization": f"Bearer {token}"}


def _product(category: dict[str, Any], sku: str, price: str) -> dict[str, Any]:
    return {
        "sku": sku,
        "name": "Plain Mug",
        "brand": "Acme",
        "price": price,
        "category_id": category["id"],
        "on_hand": 5,
    }


async def _audit(client: httpx.AsyncClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    response = await client.get(AUDIT, headers=headers, params={"per_page": 100})
    assert response.status_code == 200, response.text
    return list(reversed(response.json()["data"]))  # oldest first


async def test_audit_product_create_change_stock_delete_records_admin_and_action(
    client: httpx.AsyncClient,
    named_admin: dict[str, str],
    admin_id: uuid.UUID,
    make_category: Callable[..., Any],
) -> None:
    category = await make_category("mugs")
    body = _product(category, "MUG-1", "9.99")
    product = (await client.post(PRODUCTS, json=body, headers=named_admin)).json()
    at = f"{PRODUCTS}/{product['id']}"
    changed = await client.patch(at, json={"price": "12.50", "version": 1}, headers=named_admin)
    stocked = await client.post(
        f"{at}/stock/adjustments", json={"delta": 4, "reason": "delivery"}, headers=named_admin
    )
    deleted = await client.delete(at, headers={**named_admin, "If-Match": "*"})

    assert (changed.status_code, stocked.status_code, deleted.status_code) == (200, 200, 204)
    entries = [e for e in await _audit(client, named_admin) if e["event"] != "category_created"]
    assert [e["event"] for e in entries] == [
        "product_created",
        "product_changed",
        "stock_adjusted",
        "product_deleted",
    ]
    assert {e["actor_id"] for e in entries} == {str(admin_id)}
    assert {e["details"]["product_id"] for e in entries} == {product["id"]}
    assert entries[1]["details"] | {"product_id": None} == {
        "product_id": None,
        "fields": ["price"],
        "old_price": "9.99",
        "new_price": "12.50",
    }
    assert entries[2]["details"]["delta"] == 4


async def test_audit_category_create_change_delete_records_admin(
    client: httpx.AsyncClient, named_admin: dict[str, str], admin_id: uuid.UUID
) -> None:
    created = await client.post(
        CATEGORIES, json={"name": "Tea", "slug": "tea"}, headers=named_admin
    )
    at = f"{CATEGORIES}/{created.json()['id']}"
    await client.patch(at, json={"name": "Teas"}, headers=named_admin)
    await client.delete(at, headers=named_admin)

    entries = await _audit(client, named_admin)

    assert [(e["event"], e["actor_id"]) for e in entries] == [
        ("category_created", str(admin_id)),
        ("category_changed", str(admin_id)),
        ("category_deleted", str(admin_id)),
    ]
    assert entries[1]["details"]["fields"] == ["name"]


async def test_audit_refused_change_records_nothing(
    client: httpx.AsyncClient, named_admin: dict[str, str], customer: dict[str, str]
) -> None:
    await client.post(CATEGORIES, json={"name": "Tea", "slug": "tea"}, headers=customer)
    taken = await client.post(CATEGORIES, json={"name": "Tea", "slug": "tea"}, headers=named_admin)
    again = await client.post(CATEGORIES, json={"name": "Tea", "slug": "tea"}, headers=named_admin)

    assert (taken.status_code, again.status_code) == (201, 409)
    assert [e["event"] for e in await _audit(client, named_admin)] == ["category_created"]


async def test_audit_log_refuses_customers_and_anonymous(
    client: httpx.AsyncClient, customer: dict[str, str]
) -> None:
    assert (await client.get(AUDIT, headers=customer)).status_code == 403
    assert (await client.get(AUDIT)).status_code == 401


async def test_product_changes_are_logged_at_info_without_personal_data(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    make_category: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    category = await make_category("cups")
    body = _product(category, "CUP-1", "3.00")
    caplog.set_level(logging.INFO, logger="agora_catalog")

    product = (await client.post(PRODUCTS, json=body, headers=admin)).json()
    at = f"{PRODUCTS}/{product['id']}"
    await client.patch(at, json={"price": "4.00", "version": 1}, headers=admin)
    await client.post(
        f"{at}/stock/adjustments", json={"delta": 2, "reason": "count"}, headers=admin
    )
    await client.delete(at, headers={**admin, "If-Match": "*"})

    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    pid = product["id"]
    assert f"product {pid} created (SKU CUP-1)" in lines
    assert f"product {pid} changed (price)" in lines
    assert f"stock of {pid} adjusted by +2 (count)" in lines
    assert f"product {pid} deleted (SKU CUP-1)" in lines
    assert f"category {category['id']} created" in lines
    assert not [line for line in lines if "Bearer" in line or "@" in line]
