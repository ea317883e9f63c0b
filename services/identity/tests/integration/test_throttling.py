"""Login and registration throttling through the API: per address, per account and address,
per account under distributed guessing, and with the rate-limit store (Redis) unreachable."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncConnection, async_sessionmaker

from agora_chassis.ratelimit import RateLimiter
from agora_chassis.state import service_state
from agora_cli.infra.ports import free_port
from agora_cli.infra.redis import EmbeddedRedis
from agora_identity.main import create_app
from agora_identity.settings import IdentitySettings

pytestmark = pytest.mark.integration

PASSWORD = "Correct-Horse-9"  # the conftest's ``register`` default
WRONG = "Wrong-Horse-1"
OWNER = "owner@example.com"
Register = Callable[..., Awaitable[httpx.Response]]


def closed_port_redis_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"  # nothing listens once the probe is closed


@asynccontextmanager
async def client_at(app: FastAPI, address: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose TCP peer address is ``address`` (no forwarded headers involved)."""
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://identity") as client:
        yield client


async def login_status(app: FastAPI, address: str, password: str, email: str = OWNER) -> int:
    async with client_at(app, address) as client:
        response = await client.post(
            "/api/v1/auth/token", data={"username": email, "password": password}
        )
    return response.status_code


def use_settings(app: FastAPI, **changes: Any) -> None:
    service_state(app).settings = service_state(app).settings.model_copy(update=changes)


async def test_login_attacker_exhausting_one_address_leaves_owner_elsewhere_logging_in(
    app: FastAPI, register: Register
) -> None:
    assert (await register(OWNER)).status_code == 201

    attacker = [await login_status(app, "198.51.100.66", WRONG) for _ in range(6)]
    owner = await login_status(app, "192.0.2.10", PASSWORD)

    assert attacker == [401] * 5 + [429]
    assert owner == 200


async def test_login_many_addresses_guessing_one_account_are_slowed_owner_still_logs_in(
    app: FastAPI, register: Register
) -> None:
    use_settings(app, login_limit_per_account="10/hour", login_limit_under_attack="1/hour")
    assert (await register(OWNER)).status_code == 201
    botnet = [f"198.51.100.{host}" for host in range(1, 11)]
    for address in botnet:  # ten addresses, one guess each: the account budget is spent
        assert await login_status(app, address, WRONG) == 401

    late_bot = [await login_status(app, "198.51.100.50", WRONG) for _ in range(2)]
    returning_bot = await login_status(app, botnet[0], WRONG)
    second_returning_bot = await login_status(app, botnet[0], WRONG)
    owner = await login_status(app, "192.0.2.10", PASSWORD)

    # Before the attack each address had five guesses a minute; now one an hour.
    assert late_bot == [401, 429]
    assert (returning_bot, second_returning_bot) == (401, 429)
    assert owner == 200


async def test_login_redis_down_still_answers_429_after_the_budget(
    app: FastAPI, register: Register
) -> None:
    service_state(app).rate_limiter = RateLimiter(closed_port_redis_url())
    assert (await register(OWNER)).status_code == 201

    statuses = [await login_status(app, "198.51.100.7", WRONG) for _ in range(6)]

    assert statuses == [401] * 5 + [429]


async def test_login_redis_stopped_mid_attack_still_answers_429(
    app: FastAPI, register: Register, tmp_path: Path
) -> None:
    valkey = EmbeddedRedis(tmp_path / "data", free_port(), tmp_path / "log", tmp_path / "pid")
    valkey.start()
    service_state(app).rate_limiter = RateLimiter(valkey.url)
    try:
        assert (await register(OWNER)).status_code == 201
        before = [await login_status(app, "198.51.100.9", WRONG) for _ in range(2)]
        valkey.stop()
        # Counting starts afresh in memory: never more than one budget per outage and process.
        during = [await login_status(app, "198.51.100.9", WRONG) for _ in range(6)]
    finally:
        await service_state(app).rate_limiter.aclose()
        valkey.stop()

    assert before == [401, 401]
    assert during == [401] * 5 + [429]


async def test_register_over_the_address_budget_returns_429_problem_with_retry_after(
    app: FastAPI, register: Register
) -> None:
    use_settings(app, registration_rate_limit="3/hour")

    statuses = [(await register(f"user{n}@example.com")).status_code for n in range(3)]
    refused = await register("user3@example.com")
    async with client_at(app, "192.0.2.44") as elsewhere:
        body = {"email": "user4@example.com", "password": PASSWORD, "full_name": "Other"}
        other_address = await elsewhere.post("/api/v1/auth/register", json=body)

    assert statuses == [201] * 3
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.headers["content-type"] == "application/problem+json"
    assert other_address.status_code == 201


async def test_readiness_redis_down_reports_rate_limits_degraded(
    identity_database_url: str,
    connection: AsyncConnection,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    settings = IdentitySettings(
        environment="test",
        database_url=identity_database_url,
        jwt_keys_dir=tmp_path_factory.mktemp("keys"),
        redis_url=closed_port_redis_url(),
    )
    app = create_app(settings)
    service_state(app).sessionmaker = async_sessionmaker(
        bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )
    try:
        limited = await login_status(app, "198.51.100.8", WRONG, "nobody@example.com")
        async with client_at(app, "127.0.0.1") as client:
            ready = await client.get("/health/ready")
    finally:
        await service_state(app).rate_limiter.aclose()
        await service_state(app).engine.dispose()

    assert limited == 401  # counted in memory, the request itself is served
    assert ready.status_code == 200
    assert ready.json()["status"] == "degraded"
    assert ready.json()["checks"]["rate_limits"]["status"] == "fail"
    assert ready.json()["checks"]["database"]["status"] == "ok"
