"""Catalog down: reads serve the last known prices marked stale, new products get 503.

The catalog server is really stopped (its port refuses connections) and started again on the
same port; basket's breaker opens after two failed calls and lets a trial through after its
0.3 s cool-down.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import pytest

from agora_testing.catalog_server import CatalogServer
from services.basket.tests.integration.conftest import COOL_DOWN_SECONDS, guest_headers

pytestmark = pytest.mark.integration

BASKET = "/api/v1/basket"
RECOVERY_SECONDS = 5.0


async def _basket_with_a_mug(
    client: httpx.AsyncClient, catalog_server: CatalogServer
) -> tuple[dict[str, str], str]:
    headers = await guest_headers(client)
    mug = catalog_server.add("Mug", "9.99")
    await client.put(f"{BASKET}/items/{mug}", json={"quantity": 2}, headers=headers)
    return headers, mug


async def test_catalog_down_get_serves_last_known_prices_marked_stale(
    client: httpx.AsyncClient, catalog_server: CatalogServer
) -> None:
    headers, mug = await _basket_with_a_mug(client, catalog_server)
    await catalog_server.stop()

    response = await client.get(BASKET, headers=headers)

    body = response.json()
    assert response.status_code == 200
    assert body["stale"] is True
    line = body["lines"][0]
    assert (line["product_id"], line["name"], line["unit_price"]) == (mug, "Mug", "9.99")
    assert line["stale"] is True
    assert body["total"] == "19.98"


async def test_catalog_down_stale_reads_log_the_breaker_once_not_every_read(
    client: httpx.AsyncClient, catalog_server: CatalogServer, caplog: pytest.LogCaptureFixture
) -> None:
    headers, _ = await _basket_with_a_mug(client, catalog_server)
    await catalog_server.stop()
    caplog.clear()

    with caplog.at_level(logging.INFO):
        for _ in range(6):
            assert (await client.get(BASKET, headers=headers)).json()["stale"] is True

    notable = [
        (record.name, record.getMessage())
        for record in caplog.records
        if record.levelno >= logging.INFO and not record.name.startswith("httpx")
    ]
    assert notable == [
        ("agora_chassis.service_client", "circuit breaker of catalog: closed -> open")
    ], notable


async def test_catalog_down_put_of_new_product_503_with_retry_after(
    client: httpx.AsyncClient, catalog_server: CatalogServer
) -> None:
    headers, _ = await _basket_with_a_mug(client, catalog_server)
    tea = catalog_server.add("Tea", "4.50")
    await catalog_server.stop()

    response = await client.put(f"{BASKET}/items/{tea}", json={"quantity": 1}, headers=headers)

    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) >= 1
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_catalog_down_removing_a_line_still_works(
    client: httpx.AsyncClient, catalog_server: CatalogServer
) -> None:
    headers, mug = await _basket_with_a_mug(client, catalog_server)
    await catalog_server.stop()

    response = await client.delete(f"{BASKET}/items/{mug}", headers=headers)

    assert response.status_code == 200
    assert response.json()["lines"] == []


async def test_breaker_opens_shows_in_readiness_and_metrics_then_closes(
    client: httpx.AsyncClient, catalog_server: CatalogServer
) -> None:
    headers, _ = await _basket_with_a_mug(client, catalog_server)
    await catalog_server.stop()
    for _ in range(2):  # the threshold of the test settings
        await client.get(BASKET, headers=headers)

    calls_before = len(catalog_server.batches)
    refused = await client.get(BASKET, headers=headers)  # breaker open: catalog not even tried
    ready = await client.get("/health/ready")
    metrics = (await client.get("/metrics")).text

    assert refused.json()["stale"] is True
    assert len(catalog_server.batches) == calls_before
    assert ready.status_code == 200
    assert ready.json()["status"] == "degraded"
    assert "catalog circuit breaker open" in ready.json()["checks"]["catalog"]["error"]
    assert 'service_client_breaker_state{target="catalog"} 2.0' in metrics

    await catalog_server.start()
    fresh = await _first_fresh_read(client, headers)

    assert fresh["stale"] is False
    assert fresh["lines"][0]["stale"] is False
    assert (await client.get("/health/ready")).json()["status"] == "ok"


async def _first_fresh_read(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    """GET until catalog answers again: a cool-down, then the channel's reconnect (under 1 s)."""
    async with asyncio.timeout(RECOVERY_SECONDS):
        while True:
            await asyncio.sleep(COOL_DOWN_SECONDS)
            body: dict[str, Any] = (await client.get(BASKET, headers=headers)).json()
            if not body["stale"]:
                return body
