"""The durable deadline scheduler: a timed-out step cancels its order once, across replicas
and restarts."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from agora_chassis.state import service_state
from agora_ordering.api.deps import ordering_state
from agora_ordering.models import OrderRow
from agora_ordering.services.scheduler import DeadlineScheduler
from agora_ordering.settings import OrderingSettings
from agora_ordering.wiring import saga_services
from agora_testing.catalog_server import CatalogServer
from services.ordering.tests.integration.conftest import key, order_body

pytestmark = pytest.mark.integration

Headers = Callable[..., dict[str, str]]
Outbox = Callable[[str], Any]
STOCK_TIMEOUT = 0.3
WAIT_SECONDS = 10.0


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"stock_timeout_seconds": STOCK_TIMEOUT, "deadline_poll_seconds": 0.05}


async def _place(client: httpx.AsyncClient, catalog: CatalogServer, headers: dict[str, str]) -> str:
    body = order_body([catalog.add("Trail shoe", "24.99")])
    response = await client.post("/api/v1/orders", json=body, headers=headers | key())
    assert response.status_code == 201, response.text
    order_id: str = response.json()["id"]
    return order_id


async def _status(client: httpx.AsyncClient, order_id: str, headers: dict[str, str]) -> str:
    response = await client.get(f"/api/v1/orders/{order_id}", headers=headers)
    status: str = response.json()["status"]
    return status


def _scheduler(app: FastAPI, settings: OrderingSettings) -> DeadlineScheduler:
    """Another replica's scheduler on the same database."""
    return DeadlineScheduler(
        service_state(app).sessionmaker,
        saga_services(settings.saga_timeouts),
        poll=settings.deadline_poll_seconds,
        batch=3,
    )


async def _due_orders_nobody_fired(
    app: FastAPI,
    client: httpx.AsyncClient,
    catalog: CatalogServer,
    headers: dict[str, str],
    count: int,
) -> list[str]:
    """Stop the app's own scheduler (its replica dies), then place orders and let them fall due."""
    scheduler = ordering_state(app).scheduler
    assert scheduler is not None, "ordering starts its deadline scheduler with the app"
    await scheduler.stop()
    orders = [await _place(client, catalog, headers) for _ in range(count)]
    await asyncio.sleep(STOCK_TIMEOUT * 2)
    return orders


async def test_no_stock_answer_in_time_cancels_the_order(
    client: httpx.AsyncClient,
    catalog_server: CatalogServer,
    user_headers: Headers,
    outbox: Outbox,
) -> None:
    headers = user_headers(uuid.uuid4())
    order_id = await _place(client, catalog_server, headers)

    async with asyncio.timeout(WAIT_SECONDS):
        status = "pending"
        while status == "pending":
            await asyncio.sleep(0.05)
            status = await _status(client, order_id, headers)

    order = (await client.get(f"/api/v1/orders/{order_id}", headers=headers)).json()
    assert (order["status"], order["cancel_reason"]) == ("cancelled", "timed_out")
    events = await outbox(order_id)
    assert [e["type"] for e in events] == ["order.placed", "order.cancelled"]
    assert events[1]["data"]["reason"] == "timed out: no stock answer in time"


async def test_a_deadline_outlives_the_process_that_set_it(
    app: FastAPI,
    settings: OrderingSettings,
    client: httpx.AsyncClient,
    catalog_server: CatalogServer,
    user_headers: Headers,
) -> None:
    headers = user_headers(uuid.uuid4())
    [order_id] = await _due_orders_nobody_fired(app, client, catalog_server, headers, 1)
    assert await _status(client, order_id, headers) == "pending"

    fired = await _scheduler(app, settings).run_once()  # another one comes up

    assert fired >= 1
    assert await _status(client, order_id, headers) == "cancelled"


async def test_replicas_skip_the_orders_another_one_holds(
    app: FastAPI,
    settings: OrderingSettings,
    client: httpx.AsyncClient,
    catalog_server: CatalogServer,
    user_headers: Headers,
) -> None:
    headers = user_headers(uuid.uuid4())
    held, free = await _due_orders_nobody_fired(app, client, catalog_server, headers, 2)

    async with service_state(app).sessionmaker() as other_replica, other_replica.begin():
        await other_replica.execute(
            select(OrderRow.id).where(OrderRow.id == uuid.UUID(held)).with_for_update()
        )
        async with asyncio.timeout(WAIT_SECONDS):  # it must not wait for the held row
            await _scheduler(app, settings).run_once()
        assert await _status(client, free, headers) == "cancelled"
        assert await _status(client, held, headers) == "pending"

    await _scheduler(app, settings).run_once()
    assert await _status(client, held, headers) == "cancelled"


async def test_racing_replicas_fire_each_deadline_once(
    app: FastAPI,
    settings: OrderingSettings,
    client: httpx.AsyncClient,
    catalog_server: CatalogServer,
    user_headers: Headers,
    outbox: Outbox,
) -> None:
    headers = user_headers(uuid.uuid4())
    orders = await _due_orders_nobody_fired(app, client, catalog_server, headers, 12)

    await asyncio.gather(*(_scheduler(app, settings).run_once() for _ in range(4)))

    for order_id in orders:
        types = [e["type"] for e in await outbox(order_id)]
        assert types == ["order.placed", "order.cancelled"], order_id
