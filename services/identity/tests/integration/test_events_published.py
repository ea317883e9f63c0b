"""Identity publishes ``user.registered`` through its outbox relay to a real broker."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from agora_chassis.messaging.broker import make_broker, subscribe_raw
from agora_contracts.identity import UserRegisteredV1
from agora_identity.main import create_app
from agora_identity.settings import IdentitySettings

pytestmark = pytest.mark.integration

ARRIVAL_SECONDS = 10.0
STARTUP_SECONDS = 3.0


def _settings(url: str, keys: Path, broker_url: str) -> IdentitySettings:
    return IdentitySettings(
        environment="test", database_url=url, jwt_keys_dir=keys, broker_url=broker_url
    )


@pytest.fixture(scope="module")
def events_database(migrated_database) -> str:
    return str(migrated_database("identity_events"))


@pytest.fixture(scope="module")
def quiet_database(migrated_database) -> str:
    return str(migrated_database("identity_nobroker"))


async def test_register_event_reaches_the_broker_once(
    events_database: str, nats_url: str, tmp_path: Path
) -> None:
    app = create_app(_settings(events_database, tmp_path, nats_url))
    received: list[dict[str, Any]] = []
    arrived = asyncio.Event()

    async def collect(body: bytes) -> None:
        with contextlib.suppress(ValueError):  # another suite's poison message: not ours
            received.append(json.loads(body))
        arrived.set()

    # The session's broker is shared: other suites (notification's) publish ``user.registered``
    # too, and a new durable consumer starts at the stream's first message. A group of its own and
    # counting only the events about the user registered here keep the test independent of order.
    listener = make_broker(nats_url)
    subscribe_raw(
        listener, UserRegisteredV1.event_type, f"identity-test-{uuid.uuid4().hex}", collect
    )
    async with listener, LifespanManager(app):
        await listener.start()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://identity") as client:
            body = {"email": "eve@example.com", "password": "Correct-Horse-9", "full_name": "Eve"}
            user = (await client.post("/api/v1/auth/register", json=body)).json()
        user_id = uuid.UUID(user["id"])

        def about_user() -> list[dict[str, Any]]:
            # Other suites also publish malformed ``user.registered`` bodies (poison messages).
            return [
                event
                for event in received
                if isinstance(event.get("data"), dict)
                and event["data"].get("user_id") in {str(user_id), user_id.hex}
            ]

        async with asyncio.timeout(ARRIVAL_SECONDS):
            while True:
                arrived.clear()  # before looking, so an arrival after the look wakes the wait
                if about_user():
                    break
                await arrived.wait()
        await asyncio.sleep(0.5)  # room for a duplicate to show up, if there were one
    events = about_user()
    assert len(events) == 1
    assert events[0]["type"] == "user.registered"
    assert UserRegisteredV1.model_validate(events[0]["data"]).user_id == user_id


async def test_startup_with_unreachable_broker_is_prompt_and_degraded(
    quiet_database: str, tmp_path: Path
) -> None:
    dead = "nats://127.0.0.1:9"  # discard port: nothing listens
    app = create_app(_settings(quiet_database, tmp_path, dead))
    started = time.monotonic()
    async with LifespanManager(app):
        elapsed = time.monotonic() - started
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://identity") as client:
            ready = (await client.get("/health/ready")).json()
    assert elapsed < STARTUP_SECONDS
    assert ready["status"] == "degraded"
    assert ready["checks"]["broker"]["status"] == "fail"
