"""Rate limiting: limits, isolation, reset, the FastAPI dependency, Redis and failing open."""

from __future__ import annotations

import logging
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import Depends, FastAPI, Request

from agora_chassis.client_address import TrustedProxies, scope_client_ip
from agora_chassis.errors import TooManyRequests, install_error_handlers
from agora_chassis.ratelimit import STORAGE_RETRY_SECONDS, RateLimiter, rate_limit
from agora_cli.infra.ports import free_port
from agora_cli.infra.redis import EmbeddedRedis
from agora_testing.state import attach_test_state

MINUTE = 60


def unique_key() -> str:
    return f"test-{uuid.uuid4()}"


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"  # nothing listens once the probe is closed


async def exhaust(limiter: RateLimiter, limit: str, *keys: str, times: int) -> None:
    for _ in range(times):
        await limiter.hit(limit, *keys)


# --- RateLimiter (memory) -----------------------------------------------------------------------


async def test_rate_limiter_hits_within_limit_pass() -> None:
    limiter = RateLimiter(None)

    await exhaust(limiter, "3/minute", "login", "1.2.3.4", times=3)

    assert await limiter.remaining("3/minute", "login", "1.2.3.4") == 0


async def test_rate_limiter_hit_over_limit_raises_with_retry_after() -> None:
    limiter = RateLimiter(None)
    await exhaust(limiter, "3/minute", "login", "1.2.3.4", times=3)

    with pytest.raises(TooManyRequests) as caught:
        await limiter.hit("3/minute", "login", "1.2.3.4")

    assert 1 <= caught.value.retry_after <= MINUTE
    assert caught.value.headers["Retry-After"] == str(caught.value.retry_after)


async def test_rate_limiter_keys_are_isolated() -> None:
    limiter = RateLimiter(None)
    await exhaust(limiter, "2/minute", "login", "account-a", times=2)

    await limiter.hit("2/minute", "login", "account-b")

    assert not await limiter.test("2/minute", "login", "account-a")
    assert await limiter.test("2/minute", "login", "account-b")


async def test_rate_limiter_reset_clears_the_count() -> None:
    limiter = RateLimiter(None)
    await exhaust(limiter, "2/minute", "login", "account-a", times=2)

    await limiter.reset("2/minute", "login", "account-a")

    await exhaust(limiter, "2/minute", "login", "account-a", times=2)


async def test_rate_limiter_test_does_not_consume() -> None:
    limiter = RateLimiter(None)

    for _ in range(5):
        assert await limiter.test("2/minute", "search", "1.2.3.4")

    assert await limiter.remaining("2/minute", "search", "1.2.3.4") == 2


@pytest.mark.parametrize("uri", ["memcached://127.0.0.1:11211", "127.0.0.1:6379"])
def test_rate_limiter_unsupported_storage_url_raises(uri: str) -> None:
    with pytest.raises(ValueError, match="storage"):
        RateLimiter(uri)


async def test_rate_limiter_async_uri_is_used_as_given() -> None:
    limiter = RateLimiter("async+memory://")

    await limiter.hit("1/minute", "k")

    assert not await limiter.test("1/minute", "k")


def test_rate_limit_invalid_limit_string_raises_at_definition() -> None:
    with pytest.raises(ValueError):
        rate_limit("often")


# --- Redis storage and failing open -------------------------------------------------------------


@pytest.fixture
async def redis_limiter(redis_url: str) -> AsyncIterator[RateLimiter]:
    limiter = RateLimiter(redis_url)
    yield limiter
    await limiter.aclose()


@pytest.mark.integration
async def test_rate_limiter_redis_over_limit_raises_and_reset_clears(
    redis_limiter: RateLimiter,
) -> None:
    limiter, key = redis_limiter, unique_key()
    await exhaust(limiter, "2/minute", "login", key, times=2)

    with pytest.raises(TooManyRequests) as caught:
        await limiter.hit("2/minute", "login", key)
    await limiter.reset("2/minute", "login", key)

    assert caught.value.retry_after >= 1
    assert await limiter.remaining("2/minute", "login", key) == 2


@pytest.mark.integration
async def test_rate_limiter_redis_counts_are_shared_between_instances(
    redis_limiter: RateLimiter, redis_url: str
) -> None:
    key, other_replica = unique_key(), RateLimiter(redis_url)
    await exhaust(redis_limiter, "2/minute", "login", key, times=2)

    with pytest.raises(TooManyRequests):
        await other_replica.hit("2/minute", "login", key)
    await other_replica.reset("2/minute", "login", key)
    await other_replica.aclose()


async def test_rate_limiter_redis_down_counts_in_memory_and_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    limiter = RateLimiter(closed_port_url())

    with caplog.at_level(logging.WARNING, logger="agora_chassis.ratelimit"):
        await exhaust(limiter, "3/minute", "login", "1.2.3.4", times=3)
        with pytest.raises(TooManyRequests) as caught:
            await limiter.hit("3/minute", "login", "1.2.3.4")
        allowed = await limiter.test("3/minute", "login", "1.2.3.4")
        left = await limiter.remaining("3/minute", "login", "1.2.3.4")
        degraded = limiter.degraded
    await limiter.aclose()

    assert caught.value.retry_after >= 1
    assert not allowed
    assert left == 0
    assert degraded
    warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1  # throttled, not one per request
    assert "counting in process memory" in warnings[0].getMessage()


async def test_rate_limiter_redis_down_reset_clears_the_memory_count() -> None:
    limiter = RateLimiter(closed_port_url())
    await exhaust(limiter, "2/minute", "login", "account-a", times=2)

    await limiter.reset("2/minute", "login", "account-a")

    await exhaust(limiter, "2/minute", "login", "account-a", times=2)
    await limiter.aclose()


async def test_rate_limiter_redis_down_probe_fails_until_redis_answers() -> None:
    limiter = RateLimiter(closed_port_url())
    await limiter.probe()  # nothing tried yet: not degraded

    await limiter.hit("5/minute", "login", "1.2.3.4")

    with pytest.raises(RuntimeError, match="process memory"):
        await limiter.probe()
    await limiter.aclose()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_rate_limiter_redis_down_every_call_tries_redis_again_after_the_retry_pause() -> None:
    clock = FakeClock()
    limiter = RateLimiter(closed_port_url(), clock=clock)

    await limiter.hit("2/minute", "login", "k")
    clock.now += STORAGE_RETRY_SECONDS
    allowed = await limiter.test("2/minute", "login", "k")
    clock.now += STORAGE_RETRY_SECONDS
    left = await limiter.remaining("2/minute", "login", "k")
    clock.now += STORAGE_RETRY_SECONDS
    await limiter.reset("2/minute", "login", "k")
    clock.now += STORAGE_RETRY_SECONDS
    left_after_reset = await limiter.remaining("2/minute", "login", "k")
    await limiter.aclose()

    assert allowed
    assert left == 1
    assert left_after_reset == 2
    assert limiter.degraded


@pytest.mark.integration
async def test_rate_limiter_redis_stopped_mid_test_still_refuses_then_recovers(
    tmp_path: Path,
) -> None:
    server = EmbeddedRedis(tmp_path / "data", free_port(), tmp_path / "log", tmp_path / "pid")
    server.start()
    clock, key = FakeClock(), unique_key()
    limiter = RateLimiter(server.url, clock=clock)
    try:
        await exhaust(limiter, "3/minute", "login", key, times=2)  # counted in Redis
        server.stop()
        await exhaust(limiter, "3/minute", "login", key, times=3)  # now in memory
        with pytest.raises(TooManyRequests):
            await limiter.hit("3/minute", "login", key)
        degraded_while_down = limiter.degraded
        server.start()
        clock.now += STORAGE_RETRY_SECONDS
        with pytest.raises(TooManyRequests):  # Redis still holds the two hits before the outage
            await exhaust(limiter, "3/minute", "login", key, times=2)
    finally:
        await limiter.aclose()
        server.stop()

    assert degraded_while_down
    assert not limiter.degraded


# --- rate_limit dependency ----------------------------------------------------------------------


def peer_ip(request: Request) -> str:
    """A key that ignores every proxy: the connection's own address."""
    return scope_client_ip(request.scope)


def build_app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    attach_test_state(
        app,
        rate_limiter=RateLimiter(None),
        trusted_proxies=TrustedProxies(["127.0.0.1"]),  # the test client's peer
    )

    @app.post("/login", dependencies=[Depends(rate_limit("2/minute"))])
    async def login() -> dict[str, bool]:
        return {"ok": True}

    @app.post("/register", dependencies=[Depends(rate_limit("2/minute"))])
    async def register() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/items/{item_id}", dependencies=[Depends(rate_limit("2/minute", key=peer_ip))])
    async def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    return app


@pytest.fixture
async def api() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://svc.test") as client:
        yield client


def via_proxy(ip: str) -> dict[str, str]:
    return {"X-Forwarded-For": ip}


async def test_rate_limit_third_request_429_with_retry_after(api: httpx.AsyncClient) -> None:
    for _ in range(2):
        assert (await api.post("/login", headers=via_proxy("198.51.100.1"))).status_code == 200

    response = await api.post("/login", headers=via_proxy("198.51.100.1"))

    assert response.status_code == 429
    assert int(response.headers["retry-after"]) >= 1
    assert response.headers["content-type"] == "application/problem+json"


async def test_rate_limit_two_ips_are_isolated(api: httpx.AsyncClient) -> None:
    for _ in range(2):
        await api.post("/login", headers=via_proxy("198.51.100.1"))

    response = await api.post("/login", headers=via_proxy("198.51.100.2"))

    assert response.status_code == 200


async def test_rate_limit_routes_have_separate_budgets(api: httpx.AsyncClient) -> None:
    for _ in range(2):
        await api.post("/login", headers=via_proxy("198.51.100.1"))

    response = await api.post("/register", headers=via_proxy("198.51.100.1"))

    assert response.status_code == 200


async def test_rate_limit_path_parameters_share_the_route_budget(api: httpx.AsyncClient) -> None:
    await api.get("/items/1")
    await api.get("/items/2")

    response = await api.get("/items/3", headers=via_proxy("198.51.100.9"))

    assert response.status_code == 429  # keyed on the peer, the header is ignored
