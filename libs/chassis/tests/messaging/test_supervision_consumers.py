"""A consumer whose JetStream consumer or stream is deleted under it: paced, named, then recovered.

FastStream's pull loop fetches again at once after a fetch that nobody serves (about 1,500
fetches a second here before the chassis paced it); these tests fail if that pacing stops
working, e.g. because FastStream no longer fetches through ``subscription.fetch``.
Runs a chassis app against the real embedded NATS JetStream (and RabbitMQ when configured).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import nats
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig

from agora_chassis.app import create_service_app
from agora_chassis.messaging.broker import (
    channel_name,
    durable_name,
    publish_envelope,
    stream_for,
)
from agora_chassis.messaging.redelivery import Attempt, Retry, subscribe_with_retries
from agora_chassis.settings import ServiceSettings
from agora_chassis.state import service_state
from libs.chassis.tests.messaging.conftest import rabbitmq_url
from libs.chassis.tests.messaging.support import wait_for

pytestmark = pytest.mark.integration

GROUP = "supervised"
IDLE_FETCH_SECONDS = 5.0
"""FastStream's pull timeout: the fetch waiting when the consumer is deleted ends by then."""
WATCH_SECONDS = IDLE_FETCH_SECONDS + 4.0
MAX_FETCHES_WHILE_BROKEN = 20
"""Paced: 0.5 + 1 + 2 s of pauses in the last 4 s is about 5 fetches; unpaced, thousands."""
DEGRADED_SECONDS = 15.0
RECOVERY_SECONDS = 45.0  # the pause has grown to a few seconds, then one idle fetch (5 s)

Service = tuple[FastAPI, httpx.AsyncClient, list[bytes]]


def _event_type() -> str:
    # A domain of its own, so deleting its stream touches no other test's stream.
    return f"sup{uuid.uuid4().hex[:8]}.happened"


@pytest.fixture
def event_type() -> str:
    return _event_type()


def _service_app(database_url: str, broker_url: str, event_type: str, seen: list[bytes]) -> FastAPI:
    settings = ServiceSettings.model_validate(
        {"service_name": GROUP, "database_url": database_url, "broker_url": broker_url}
    )
    app = create_service_app(settings, title=GROUP, routers=[])

    async def handle(body: bytes, attempt: Attempt) -> Retry | None:
        seen.append(body)
        return None

    subscribe_with_retries(service_state(app).messaging.broker, event_type, GROUP, handle, stages=2)
    return app


@pytest.fixture
async def service(
    messaging_database_url: str, nats_url: str, event_type: str
) -> AsyncIterator[Service]:
    seen: list[bytes] = []
    app = _service_app(messaging_database_url, nats_url, event_type, seen)
    transport = httpx.ASGITransport(app)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=transport, base_url="http://t") as client,
    ):
        yield app, client, seen


async def consumers_check(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/health/ready")
    assert response.status_code == 200  # a stuck consumer is degraded, never unavailable
    check: dict[str, Any] = response.json()["checks"]["consumers"]
    return check


def check_is(client: httpx.AsyncClient, status: str) -> Callable[[], Awaitable[bool]]:
    async def holds() -> bool:
        return (await consumers_check(client))["status"] == status

    return holds


async def _fetches_during(app: FastAPI, seconds: float) -> int:
    # Every fetch is one request the broker's client sends (nothing else publishes here).
    connection = service_state(app).messaging.broker.connection
    before = connection.stats["out_msgs"]
    await asyncio.sleep(seconds)
    return int(connection.stats["out_msgs"] - before)


async def _recreate(nats_url: str, event_type: str, *, stream: bool) -> None:
    """What an operator (or a redeploy) does: declare the stream and the durable consumer again."""
    name, subjects = stream_for(event_type)
    client = await nats.connect(nats_url)
    try:
        jetstream = client.jetstream()
        if stream:
            await jetstream.add_stream(StreamConfig(name=name, subjects=[subjects]))
        durable = durable_name(GROUP, event_type)
        config = ConsumerConfig(
            durable_name=durable,
            filter_subject=channel_name(event_type),
            ack_policy=AckPolicy.EXPLICIT,
        )
        await jetstream.add_consumer(name, config)
    finally:
        await client.close()


async def _delete(nats_url: str, event_type: str, *, stream: bool) -> None:
    name, _ = stream_for(event_type)
    client = await nats.connect(nats_url)
    try:
        jetstream = client.jetstream()
        if stream:
            await jetstream.delete_stream(name)
        else:
            await jetstream.delete_consumer(name, durable_name(GROUP, event_type))
    finally:
        await client.close()


@pytest.mark.parametrize("stream", [False, True], ids=["consumer-deleted", "stream-deleted"])
async def test_consumer_loop_broken_under_it_is_paced_named_then_recovers(
    service: Service, nats_url: str, event_type: str, stream: bool
) -> None:
    app, client, seen = service
    await wait_for(check_is(client, "ok"), DEGRADED_SECONDS)

    await _delete(nats_url, event_type, stream=stream)
    fetches = await _fetches_during(app, WATCH_SECONDS)
    assert fetches <= MAX_FETCHES_WHILE_BROKEN, f"{fetches} fetches in {WATCH_SECONDS}s"
    await wait_for(check_is(client, "fail"), DEGRADED_SECONDS)
    check = await consumers_check(client)
    await _recreate(nats_url, event_type, stream=stream)
    await publish_envelope(
        service_state(app).messaging.broker,
        b"{}",
        event_type=event_type,
        key=None,
        headers={"ce-id": "1"},
    )

    assert channel_name(event_type) in check["error"]
    assert "fetches failed in a row" in check["error"]
    await wait_for(check_is(client, "ok"), RECOVERY_SECONDS)
    await wait_for(lambda: _true(seen), RECOVERY_SECONDS)


async def _true(seen: list[bytes]) -> bool:
    return bool(seen)


async def test_consumers_check_names_subscribers_while_the_broker_is_unreachable(
    messaging_database_url: str, event_type: str
) -> None:
    app = _service_app(messaging_database_url, "nats://127.0.0.1:9", event_type, [])
    transport = httpx.ASGITransport(app)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=transport, base_url="http://t") as client,
    ):
        check = await consumers_check(client)

    assert check["status"] == "fail"
    assert f"{channel_name(event_type)}:OnMessage is not running" in check["error"]


async def test_consumers_check_rabbitmq_consumer_running_is_ok(
    messaging_database_url: str, event_type: str
) -> None:
    app = _service_app(messaging_database_url, rabbitmq_url(), event_type, [])
    transport = httpx.ASGITransport(app)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=transport, base_url="http://t") as client,
    ):
        await wait_for(check_is(client, "ok"), DEGRADED_SECONDS)
        await service_state(app).messaging.broker.subscribers[0].stop()

        check = await consumers_check(client)

    assert check["status"] == "fail"
    assert "is not running" in check["error"]
