"""The app factory wires the whole chassis around a service's routers."""

import asyncio
import gc

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import APIRouter, FastAPI

from agora_chassis.app import create_service_app
from agora_chassis.auth import CurrentPrincipal
from agora_chassis.health import Check, ProbeFailedError
from agora_chassis.settings import ServiceSettings
from libs.chassis.tests.jwks_server import serving_keys

JWKS_WAIT_SECONDS = 10.0

pytestmark = pytest.mark.integration

router = APIRouter(prefix="/api/v1")


@router.get("/whoami")
async def whoami(principal: CurrentPrincipal) -> dict[str, str]:
    return {"sub": principal.subject}


def _settings(database_url: str, **overrides: object) -> ServiceSettings:
    return ServiceSettings.model_validate(
        {"service_name": "demo", "database_url": database_url, "commit": "abc123"} | overrides
    )


@pytest.fixture(scope="module")
def database_url(make_database) -> str:
    return str(make_database("chassis_app"))


async def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t")


async def test_app_readiness_checks_real_database(database_url: str) -> None:
    app = create_service_app(_settings(database_url), title="demo", routers=[router])
    async with LifespanManager(app), await _client(app) as client:
        response = await client.get("/health/ready")
    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "ok"
    assert body["commit"] == "abc123"
    assert body["checks"]["database"]["status"] == "ok"


async def test_app_readiness_without_database_is_503() -> None:
    url = "postgresql+asyncpg://nobody:x@127.0.0.1:1/none"
    app = create_service_app(_settings(url), title="demo", routers=[router])
    async with await _client(app) as client:
        response = await client.get("/health/ready")
    assert response.status_code == 503


async def test_app_without_database_leaves_it_out_and_adds_service_checks() -> None:
    url = "postgresql+asyncpg://nobody:x@127.0.0.1:1/none"  # never connected to

    async def breaker_open() -> None:
        raise ProbeFailedError("catalog circuit breaker open")

    app = create_service_app(
        _settings(url),
        title="demo",
        routers=[router],
        database=False,
        checks={"catalog": Check(breaker_open, critical=False)},
    )
    async with await _client(app) as client:
        response = await client.get("/health/ready")
    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "degraded"
    assert "database" not in body["checks"]
    assert body["checks"]["catalog"]["error"].endswith("catalog circuit breaker open")


async def test_app_runs_startup_hooks_in_order(database_url: str) -> None:
    calls: list[str] = []

    async def first(app: FastAPI) -> None:
        calls.append("first")

    async def second(app: FastAPI) -> None:
        calls.append("second")

    app = create_service_app(
        _settings(database_url), title="demo", routers=[], startup=[first, second]
    )
    async with LifespanManager(app):
        assert calls == ["first", "second"]


async def test_app_protected_route_without_token_is_401(database_url: str) -> None:
    app = create_service_app(_settings(database_url), title="demo", routers=[router])
    async with await _client(app) as client:
        response = await client.get("/api/v1/whoami", headers={"X-Request-ID": "trace-me-1"})
    assert response.status_code == 401
    assert response.headers["X-Request-ID"] == "trace-me-1"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_app_api_rate_limit_answers_429_but_health_stays_open(database_url: str) -> None:
    app = create_service_app(
        _settings(database_url, rate_limit="2/minute"), title="demo", routers=[router]
    )
    async with await _client(app) as client:
        statuses = [(await client.get("/api/v1/whoami")).status_code for _ in range(3)]
        health = [(await client.get("/health")).status_code for _ in range(3)]
    assert statuses == [401, 401, 429]
    assert health == [200, 200, 200]


async def test_app_docs_hidden_unless_debug(database_url: str) -> None:
    hidden = create_service_app(_settings(database_url), title="demo", routers=[router])
    shown = create_service_app(_settings(database_url, debug=True), title="demo", routers=[router])
    async with await _client(hidden) as client:
        assert (await client.get("/docs")).status_code == 404
    async with await _client(shown) as client:
        assert (await client.get("/docs")).status_code == 200


async def test_app_metrics_count_requests_by_route(database_url: str) -> None:
    app = create_service_app(_settings(database_url), title="demo", routers=[router])
    async with await _client(app) as client:
        await client.get("/api/v1/whoami")
        metrics = (await client.get("/metrics")).text
    assert 'route="/api/v1/whoami"' in metrics
    assert 'status="401"' in metrics


async def test_app_unexpected_error_carries_request_id_and_security_headers(
    database_url: str,
) -> None:
    broken = APIRouter()

    @broken.get("/broken")
    async def fail() -> None:
        raise RuntimeError("bug")

    app = create_service_app(_settings(database_url), title="demo", routers=[broken])
    async with await _client(app) as client:
        response = await client.get("/broken", headers={"X-Request-ID": "bug-report-7"})
    assert response.status_code == 500
    assert response.headers["X-Request-ID"] == "bug-report-7"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_app_start_fetches_the_signing_keys_before_any_request(database_url: str) -> None:
    with serving_keys() as keys:
        app = create_service_app(
            _settings(database_url, jwks_url=keys.url), title="demo", routers=[router]
        )
        async with LifespanManager(app):
            fetched = await asyncio.to_thread(keys.requested.wait, JWKS_WAIT_SECONDS)

    assert fetched
    assert keys.requests == 1


async def test_what_exists_at_start_up_is_frozen_while_the_app_serves(database_url: str) -> None:
    app = create_service_app(_settings(database_url), title="demo", routers=[router])
    async with LifespanManager(app):
        frozen = gc.get_freeze_count()
        gc.collect()  # a full collection leaves frozen objects where they are
        still_frozen = gc.get_freeze_count()

    # Modules, the app and its schemas: the collector no longer scans them (ADR 0018).
    assert frozen > 10_000, f"only {frozen} objects frozen at start-up"
    assert still_frozen == frozen, f"{frozen} frozen, {still_frozen} after a collection"
    assert gc.get_freeze_count() == 0, "the objects stay frozen after shutdown"
