"""A price change writes ``product.price_changed`` to the outbox (``ProductPriceChangedV1``)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest

from agora_contracts.catalog import ProductPriceChangedV1
from agora_contracts.envelope import CloudEvent

pytestmark = pytest.mark.integration

PRICE_CHANGED = ProductPriceChangedV1.event_type


@pytest.fixture
async def mug(make_category: Callable[..., Any], make_product: Callable[..., Any]) -> Any:
    kitchen = await make_category("kitchen")
    return await make_product(kitchen, sku="MUG-1", price="19.99")


async def _outbox(sql: Callable[..., Any]) -> list[tuple[str, str | None, dict[str, Any]]]:
    rows = await sql("SELECT event_type, subject, envelope FROM outbox ORDER BY created_at")
    return [tuple(row) for row in rows]


async def _patch(
    client: httpx.AsyncClient, admin: dict[str, str], product: dict[str, Any], **changes: Any
) -> httpx.Response:
    response = await client.patch(
        f"/api/v1/products/{product['id']}", json=changes | {"version": 1}, headers=admin
    )
    assert response.status_code == 200, response.text
    return response


async def test_update_product_price_writes_one_price_changed_event(
    client: httpx.AsyncClient, admin: dict[str, str], mug: dict[str, Any], sql: Callable[..., Any]
) -> None:
    await _patch(client, admin, mug, price="17.49")

    [(event_type, subject, _)] = await _outbox(sql)

    assert event_type == PRICE_CHANGED
    assert subject == mug["id"]


async def test_update_product_price_event_matches_contract(
    client: httpx.AsyncClient, admin: dict[str, str], mug: dict[str, Any], sql: Callable[..., Any]
) -> None:
    await _patch(client, admin, mug, price="17.5")

    [(_, _, envelope)] = await _outbox(sql)
    event = CloudEvent.model_validate(envelope)
    payload = ProductPriceChangedV1.model_validate(event.data)

    assert event.type == PRICE_CHANGED
    assert event.source == "/agora/catalog"
    assert event.dataschema == ProductPriceChangedV1.schema_uri()
    assert (payload.product_id, payload.sku) == (uuid.UUID(mug["id"]), "MUG-1")
    assert (payload.old_price, payload.new_price) == (Decimal("19.99"), Decimal("17.50"))
    assert payload.currency == "EUR"


async def test_update_product_without_price_writes_no_event(
    client: httpx.AsyncClient, admin: dict[str, str], mug: dict[str, Any], sql: Callable[..., Any]
) -> None:
    await _patch(client, admin, mug, name="Tall Mug", description="Holds more.")

    assert await _outbox(sql) == []


async def test_update_product_same_price_writes_no_event(
    client: httpx.AsyncClient, admin: dict[str, str], mug: dict[str, Any], sql: Callable[..., Any]
) -> None:
    await _patch(client, admin, mug, price="19.990")

    assert await _outbox(sql) == []


async def test_update_product_refused_price_change_writes_no_event(
    client: httpx.AsyncClient, admin: dict[str, str], mug: dict[str, Any], sql: Callable[..., Any]
) -> None:
    await _patch(client, admin, mug, name="Tall Mug")

    stale = await client.patch(
        f"/api/v1/products/{mug['id']}", json={"price": "1.00", "version": 1}, headers=admin
    )

    assert stale.status_code == 409
    assert await _outbox(sql) == []


async def test_update_product_currency_only_writes_price_changed_event(
    client: httpx.AsyncClient, admin: dict[str, str], mug: dict[str, Any], sql: Callable[..., Any]
) -> None:
    await _patch(client, admin, mug, currency="USD")

    [(event_type, _subject, envelope)] = await _outbox(sql)
    payload = ProductPriceChangedV1.model_validate(envelope["data"])
    assert event_type == PRICE_CHANGED
    assert (payload.old_price, payload.new_price, payload.currency) == (
        Decimal("19.99"),
        Decimal("19.99"),
        "USD",
    )
