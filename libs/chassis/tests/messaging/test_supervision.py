"""The relay comes back after a crash, and readiness says ``degraded`` while events are not flowing.

Runs a chassis app with an outbox against real PostgreSQL and real NATS JetStream.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agora_chassis.app import create_service_app
from agora_chassis.db import utcnow
from agora_chassis.messaging import Broker
from agora_chassis.messaging import relay as relay_module
from agora_chassis.outbox import add_event, build_event
from agora_chassis.settings import ServiceSettings
from agora_chassis.state import service_state
from libs.chassis.tests.messaging.support import OutboxMessage, count, payload_class, wait_for

pytestmark = pytest.mark.integration

CRASHES = 3
RECOVERY_SECONDS = 20.0
MAX_AGE_SECONDS = 5.0
STALE = dt.timedelta(minutes=10)


@pytest.fixture
async def service(
    messaging_database_url: str,
    nats_url: str,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """A service with an outbox on NATS; ``sessionmaker`` emptied the outbox first."""
    settings = ServiceSettings.model_validate(
        {
            "service_name": "supervised",
            "database_url": messaging_database_url,
            "broker_url": nats_url,
            "outbox_max_age_seconds": MAX_AGE_SECONDS,
        }
    )
    app = create_service_app(settings, title="supervised", routers=[], outbox=OutboxMessage)
    transport = httpx.ASGITransport(app)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=transport, base_url="http://t") as c,
    ):
        yield app, c


async def outbox_check(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/health/ready")
    assert response.status_code == 200  # events late is degraded, never unavailable
    check: dict[str, Any] = response.json()["checks"]["outbox"]
    return check


async def add_pending(sessionmaker: async_sessionmaker[AsyncSession], backdate: bool) -> str:
    event = build_event(
        payload_class("test.supervised.happened")(thing_id=uuid.uuid4()), source="/t"
    )
    async with sessionmaker() as session, session.begin():
        add_event(session, OutboxMessage, event)
    if backdate:
        async with sessionmaker() as session, session.begin():
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == uuid.UUID(event.id))
                .values(created_at=utcnow() - STALE)
            )
    return event.id


async def test_relay_crashing_restarts_and_readiness_is_degraded_meanwhile(
    service: tuple[FastAPI, httpx.AsyncClient],
    sessionmaker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app, client = service
    await wait_for(lambda: _status_is(client, "ok"), seconds=RECOVERY_SECONDS)
    real_channel = relay_module.notify_channel
    calls = 0

    def channel_crashing(outbox: type[OutboxMessage]) -> str:
        nonlocal calls
        calls += 1
        if calls <= CRASHES:
            raise RuntimeError("an unexpected bug in the relay loop")
        return real_channel(outbox)

    monkeypatch.setattr(relay_module, "notify_channel", channel_crashing)
    relay = service_state(app).messaging.relay
    assert relay is not None
    assert relay.listener is not None
    await relay.listener.close()  # the LISTEN connection dropped: the loop reopens it

    await wait_for(lambda: _status_is(client, "fail"), seconds=RECOVERY_SECONDS)
    assert "not running" in (await outbox_check(client))["error"]
    await wait_for(lambda: _status_is(client, "ok"), seconds=RECOVERY_SECONDS)
    assert relay is service_state(app).messaging.relay  # the same relay, restarted in place
    assert relay.restarts == CRASHES

    await add_pending(sessionmaker, backdate=False)  # and it publishes again

    async def published() -> bool:
        return await count(sessionmaker, OutboxMessage, OutboxMessage.published_at.is_(None)) == 0

    await wait_for(published, seconds=RECOVERY_SECONDS)


async def test_readiness_stale_outbox_backlog_is_degraded_until_published(
    service: tuple[FastAPI, httpx.AsyncClient],
    sessionmaker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _app, client = service
    await wait_for(lambda: _status_is(client, "ok"), seconds=RECOVERY_SECONDS)
    real_publish = relay_module.publish_envelope

    async def refusing(broker: Broker, body: bytes, **kwargs: Any) -> None:
        raise ConnectionError("the broker refuses")

    monkeypatch.setattr(relay_module, "publish_envelope", refusing)
    await add_pending(sessionmaker, backdate=True)

    await wait_for(lambda: _status_is(client, "fail"), seconds=RECOVERY_SECONDS)
    assert "1 events pending" in (await outbox_check(client))["error"]

    monkeypatch.setattr(relay_module, "publish_envelope", real_publish)
    await wait_for(lambda: _status_is(client, "ok"), seconds=RECOVERY_SECONDS)


async def _status_is(client: httpx.AsyncClient, status: str) -> bool:
    return (await outbox_check(client))["status"] == status
