"""The in-process token bucket: bursts, refills, isolation, forgetting idle clients, the wiring."""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI

from agora_chassis.app import create_service_app
from agora_chassis.errors import TooManyRequests, install_error_handlers
from agora_chassis.ratelimit import LocalRateLimiter, rate_limit
from agora_chassis.settings import ServiceSettings
from agora_chassis.state import service_state
from agora_testing.state import attach_test_state

UNREACHABLE_DATABASE = "postgresql+asyncpg://nobody:x@127.0.0.1:1/none"


class Clock:
    """Monotonic seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class UnusableLimiter:
    """Stands in for the Redis limiter where it must not be asked."""

    async def hit(self, limit: str, *keys: str) -> None:
        raise AssertionError(f"the shared limiter was asked about {limit} {keys}")


async def hit_times(limiter: LocalRateLimiter, limit: str, *keys: str, times: int) -> None:
    for _ in range(times):
        await limiter.hit(limit, *keys)


async def test_local_rate_limiter_burst_then_refuses_with_interval_as_retry_after() -> None:
    limiter = LocalRateLimiter(Clock())
    await hit_times(limiter, "3/minute", "api", "1.2.3.4", times=3)

    with pytest.raises(TooManyRequests) as caught:
        await limiter.hit("3/minute", "api", "1.2.3.4")

    assert caught.value.retry_after == 20  # one token every 60 / 3 seconds
    assert caught.value.headers["Retry-After"] == "20"


async def test_local_rate_limiter_sub_second_interval_retry_after_is_one() -> None:
    limiter = LocalRateLimiter(Clock())
    await hit_times(limiter, "4/second", "api", "1.2.3.4", times=4)

    with pytest.raises(TooManyRequests) as caught:
        await limiter.hit("4/second", "api", "1.2.3.4")

    assert caught.value.retry_after == 1


# The interval (0.1 s, 0.2 s) summed N times overshoots the period by a rounding error at some
# clock readings; the limiter must not refuse the Nth hit of a burst for it.
@pytest.mark.parametrize(
    ("limit", "amount"), [("10/second", 10), ("300/minute", 300), ("100000/minute", 100000)]
)
async def test_local_rate_limiter_burst_of_inexact_interval_allows_the_whole_amount(
    limit: str, amount: int
) -> None:
    limiter = LocalRateLimiter(Clock())  # 1000.0: a reading where the drift shows

    await hit_times(limiter, limit, "api", "1.2.3.4", times=amount)


async def test_local_rate_limiter_token_returns_after_period_over_amount() -> None:
    clock = Clock()
    limiter = LocalRateLimiter(clock)
    await hit_times(limiter, "3/minute", "api", "1.2.3.4", times=3)

    start = clock.now

    clock.now = start + 19.9
    with pytest.raises(TooManyRequests) as early:
        await limiter.hit("3/minute", "api", "1.2.3.4")
    clock.now = start + 20
    await limiter.hit("3/minute", "api", "1.2.3.4")  # one token back, and only one
    with pytest.raises(TooManyRequests):
        await limiter.hit("3/minute", "api", "1.2.3.4")

    assert early.value.retry_after == 1


async def test_local_rate_limiter_full_bucket_after_a_period_allows_a_whole_burst() -> None:
    clock = Clock()
    limiter = LocalRateLimiter(clock)
    await hit_times(limiter, "3/minute", "api", "1.2.3.4", times=3)

    clock.now += 60

    await hit_times(limiter, "3/minute", "api", "1.2.3.4", times=3)
    with pytest.raises(TooManyRequests):
        await limiter.hit("3/minute", "api", "1.2.3.4")


async def test_local_rate_limiter_keys_and_limits_have_separate_buckets() -> None:
    limiter = LocalRateLimiter(Clock())
    await hit_times(limiter, "2/minute", "api", "1.2.3.4", times=2)

    await limiter.hit("2/minute", "api", "5.6.7.8")  # another client
    await limiter.hit("2/minute", "search", "1.2.3.4")  # another scope
    await limiter.hit("5/minute", "api", "1.2.3.4")  # another limit

    with pytest.raises(TooManyRequests):
        await limiter.hit("2/minute", "api", "1.2.3.4")


async def test_local_rate_limiter_forgets_keys_whose_bucket_is_full_again() -> None:
    clock = Clock()
    limiter = LocalRateLimiter(clock)
    await limiter.hit("1/minute", "api", "idle")  # full again 60 s later
    clock.now += 30
    await limiter.hit("1/minute", "api", "recent")  # full again 90 s after the start
    assert len(limiter._arrivals) == 2

    clock.now += 31
    await limiter.hit("1/minute", "api", "new")

    assert set(limiter._arrivals) == {("1/minute", "api", "recent"), ("1/minute", "api", "new")}


async def test_local_rate_limiter_forgotten_key_starts_with_a_full_bucket() -> None:
    clock = Clock()
    limiter = LocalRateLimiter(clock)
    await hit_times(limiter, "2/minute", "api", "1.2.3.4", times=2)

    clock.now += 61
    await limiter.hit("2/minute", "api", "someone-else")  # sweeps "1.2.3.4" away

    await hit_times(limiter, "2/minute", "api", "1.2.3.4", times=2)
    with pytest.raises(TooManyRequests):
        await limiter.hit("2/minute", "api", "1.2.3.4")


# --- The dependency and the app factory ---------------------------------------------------------


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t")


async def test_rate_limit_not_shared_counts_in_the_local_limiter() -> None:
    app = FastAPI()
    install_error_handlers(app)
    attach_test_state(app, rate_limiter=UnusableLimiter(), local_rate_limiter=LocalRateLimiter())

    @app.get("/items", dependencies=[Depends(rate_limit("2/minute", shared=False))])
    async def items() -> list[int]:
        return []

    async with _client(app) as client:
        responses = [await client.get("/items") for _ in range(3)]

    assert [response.status_code for response in responses] == [200, 200, 429]
    assert responses[2].headers["Retry-After"] == "30"


async def test_create_service_app_api_budget_is_counted_in_process() -> None:
    router = APIRouter(prefix="/api/v1")

    @router.get("/ping")
    async def ping() -> dict[str, bool]:
        return {"ok": True}

    settings = ServiceSettings.model_validate(
        {"service_name": "demo", "database_url": UNREACHABLE_DATABASE, "rate_limit": "2/minute"}
    )
    app = create_service_app(settings, title="demo", routers=[router])
    service_state(app).rate_limiter = UnusableLimiter()

    async with _client(app) as client:
        statuses = [(await client.get("/api/v1/ping")).status_code for _ in range(3)]

    assert statuses == [200, 200, 429]
    assert isinstance(service_state(app).local_rate_limiter, LocalRateLimiter)
