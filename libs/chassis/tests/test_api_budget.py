"""The API's per-client budget as a middleware: what it counts, what it answers, where it sits."""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from agora_chassis.app import create_service_app
from agora_chassis.client_address import NO_PROXIES, TrustedProxies
from agora_chassis.ratelimit import ApiBudgetMiddleware, LocalRateLimiter
from agora_chassis.settings import ServiceSettings

UNREACHABLE_DATABASE = "postgresql+asyncpg://nobody:x@127.0.0.1:1/none"
PATHS = ("/api/v1/items", "/health", "/health/ready", "/healthy", "/metrics", "/images/a.svg")


def _app(limit: str = "2/minute", proxies: TrustedProxies = NO_PROXIES) -> FastAPI:
    app = FastAPI()
    for path in PATHS:
        app.add_api_route(path, _ok)
    app.add_middleware(
        ApiBudgetMiddleware, limit=limit, limiter=LocalRateLimiter(), trusted_proxies=proxies
    )
    return app


async def _ok() -> dict[str, bool]:
    return {"ok": True}


async def _statuses(app: FastAPI, path: str, times: int, **headers: str) -> list[int]:
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return [(await client.get(path, headers=headers)).status_code for _ in range(times)]


async def test_api_budget_third_request_gets_problem_details_with_retry_after() -> None:
    app = _app()
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        responses = [await client.get("/api/v1/items") for _ in range(3)]

    assert [response.status_code for response in responses] == [200, 200, 429]
    refused = responses[2]
    assert refused.headers["Retry-After"] == "30"
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert refused.json()["status"] == 429
    assert refused.json()["instance"] == "/api/v1/items"


@pytest.mark.parametrize("path", ["/health", "/health/ready", "/metrics"])
async def test_api_budget_leaves_operational_paths_unlimited(path: str) -> None:
    assert await _statuses(_app(), path, 4) == [200, 200, 200, 200]


@pytest.mark.parametrize("path", ["/healthy", "/images/a.svg"])
async def test_api_budget_counts_every_other_path(path: str) -> None:
    assert await _statuses(_app(), path, 3) == [200, 200, 429]


async def test_api_budget_is_shared_by_all_paths_of_one_client() -> None:
    app = _app()
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        first = (await client.get("/api/v1/items")).status_code
        second = (await client.get("/images/a.svg")).status_code
        third = (await client.get("/api/v1/items")).status_code

    assert (first, second, third) == (200, 200, 429)


async def test_api_budget_is_per_client_behind_the_gateway() -> None:
    app = _app(proxies=TrustedProxies(["127.0.0.1/32"]))  # the test client's peer address

    spent = await _statuses(app, "/api/v1/items", 3, **{"X-Forwarded-For": "203.0.113.7"})
    other = await _statuses(app, "/api/v1/items", 1, **{"X-Forwarded-For": "203.0.113.8"})

    assert (spent, other) == ([200, 200, 429], [200])


async def test_api_budget_direct_caller_cannot_pick_its_key_with_a_forged_header() -> None:
    app = _app()  # nobody trusted: the peer is the key

    spent = await _statuses(app, "/api/v1/items", 3, **{"X-Forwarded-For": "203.0.113.7"})
    forged = await _statuses(app, "/api/v1/items", 1, **{"X-Forwarded-For": "203.0.113.8"})

    assert (spent, forged) == ([200, 200, 429], [429])


async def test_service_app_budget_trusts_the_proxies_of_its_settings() -> None:
    settings = ServiceSettings.model_validate(
        {
            "database_url": UNREACHABLE_DATABASE,
            "rate_limit": "1/minute",
            "trusted_proxies": "127.0.0.1/32",
        }
    )
    router = APIRouter(prefix="/api/v1")
    router.add_api_route("/ping", _ok)
    app = create_service_app(settings, title="demo", routers=[router])

    first = await _statuses(app, "/api/v1/ping", 2, **{"X-Forwarded-For": "203.0.113.7"})
    other = await _statuses(app, "/api/v1/ping", 1, **{"X-Forwarded-For": "203.0.113.8"})

    assert (first, other) == ([200, 429], [200])


def test_api_budget_refuses_an_invalid_limit_when_built() -> None:
    with pytest.raises(ValueError, match="often"):
        ApiBudgetMiddleware(_app(), limit="often", limiter=LocalRateLimiter())


async def test_service_app_budget_answer_carries_request_id_and_security_headers() -> None:
    router = APIRouter(prefix="/api/v1")
    router.add_api_route("/ping", _ok)
    settings = ServiceSettings.model_validate(
        {"service_name": "demo", "database_url": UNREACHABLE_DATABASE, "rate_limit": "1/minute"}
    )
    app = create_service_app(settings, title="demo", routers=[router])
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        await client.get("/api/v1/ping")
        refused = await client.get("/api/v1/ping", headers={"X-Request-ID": "budget-1"})

    assert refused.status_code == 429
    assert refused.headers["X-Request-ID"] == "budget-1"
    assert refused.headers["X-Content-Type-Options"] == "nosniff"
