"""An unreachable dependency is a 503 with Retry-After (UNAVAILABLE over gRPC), logged by name.

Each client here really fails to connect: to a port nothing listens on.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Awaitable, Callable

import grpc
import httpx
import pytest
import redis.asyncio
from fastapi import FastAPI
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from sqlalchemy import text
from starlette.types import ASGIApp, Receive, Scope, Send

from agora_chassis.app import create_service_app
from agora_chassis.db import DbSession, create_engine, create_sessionmaker
from agora_chassis.errors import DependencyUnavailable, install_error_handlers
from agora_chassis.grpc_errors import status_for
from agora_chassis.settings import ServiceSettings
from agora_testing.state import attach_test_state

RETRY_AFTER = 7
DEFAULT_RETRY_AFTER = "5"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # nothing listens once the probe is closed


async def _redis_down() -> None:
    no_retry = Retry(NoBackoff(), retries=0)  # the default retries with backoff for seconds
    client = redis.asyncio.Redis(port=closed_port(), socket_connect_timeout=1, retry=no_retry)
    try:
        await client.get("basket")
    finally:
        await client.aclose()


async def _http_service_down() -> None:
    async with httpx.AsyncClient() as client:
        await client.get(f"http://127.0.0.1:{closed_port()}/api/v1/prices")


async def _grpc_service_down() -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{closed_port()}") as channel:
        call: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(
            "/agora.catalog.v1.CatalogService/GetProducts"
        )
        await call(b"", timeout=5)


DOWN: dict[str, Callable[[], Awaitable[None]]] = {
    "redis": _redis_down,
    "http-service": _http_service_down,
    "grpc-service": _grpc_service_down,
}


def _app(failing: Callable[[], Awaitable[None]]) -> FastAPI:
    app = FastAPI()
    attach_test_state(app, ServiceSettings(dependency_retry_after_seconds=RETRY_AFTER))
    install_error_handlers(app)

    @app.get("/needs-it")
    async def needs_it() -> None:
        await failing()

    return app


async def _get(app: ASGIApp, path: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as client:
        return await client.get(path)


@pytest.mark.parametrize("dependency", sorted(DOWN))
async def test_dependency_unreachable_answers_503_with_retry_after_and_logs_its_name(
    dependency: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="agora_chassis.errors"):
        response = await _get(_app(DOWN[dependency]), "/needs-it")

    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(RETRY_AFTER)
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["instance"] == "/needs-it"
    [record] = [r for r in caplog.records if r.name == "agora_chassis.errors"]
    assert f"dependency={dependency}" in record.getMessage()
    assert record.levelno == logging.WARNING
    assert record.exc_info is not None


@pytest.mark.parametrize("dependency", sorted(DOWN))
async def test_dependency_unreachable_in_a_grpc_call_is_unavailable_with_retry_after(
    dependency: str,
) -> None:
    with pytest.raises(Exception) as raised:
        await DOWN[dependency]()

    status = status_for(raised.value)

    assert status.code == grpc.StatusCode.UNAVAILABLE
    assert status.dependency == dependency
    assert ("retry-after", DEFAULT_RETRY_AFTER) in status.trailing_metadata


async def test_database_at_a_closed_port_answers_503_not_500() -> None:
    engine = create_engine(f"postgresql+asyncpg://agora:x@127.0.0.1:{closed_port()}/agora")
    app = FastAPI()
    attach_test_state(app, sessionmaker=create_sessionmaker(engine))
    install_error_handlers(app)

    @app.get("/count")
    async def count(session: DbSession) -> int:
        return int((await session.execute(text("SELECT 1"))).scalar_one())

    response = await _get(app, "/count")
    await engine.dispose()

    assert response.status_code == 503
    assert response.headers["Retry-After"] == DEFAULT_RETRY_AFTER
    assert "127.0.0.1" not in response.text  # where the database lives is not the caller's business


async def test_service_app_takes_retry_after_from_its_settings() -> None:
    url = f"postgresql+asyncpg://agora:x@127.0.0.1:{closed_port()}/agora"
    settings = ServiceSettings(database_url=url, dependency_retry_after_seconds=RETRY_AFTER)
    app = create_service_app(settings, title="demo", routers=[])

    @app.get("/count")
    async def count(session: DbSession) -> int:
        return int((await session.execute(text("SELECT 1"))).scalar_one())

    response = await _get(app, "/count")

    assert (response.status_code, response.headers["Retry-After"]) == (503, str(RETRY_AFTER))


class RedisCheckingMiddleware:
    """A middleware that needs Redis on every request (as a shared rate limit would)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await _redis_down()
        await self.app(scope, receive, send)


async def test_dependency_unreachable_raised_by_a_middleware_answers_503() -> None:
    app = _app(_redis_down)
    app.add_middleware(RedisCheckingMiddleware)  # outside the app's exception handlers

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app, raise_app_exceptions=False), base_url="http://t"
    ) as client:
        response = await client.get("/needs-it")

    assert (response.status_code, response.headers["Retry-After"]) == (503, str(RETRY_AFTER))


async def test_dependency_unavailable_raised_by_a_service_is_503() -> None:
    async def raise_it() -> None:
        raise DependencyUnavailable("search-index")

    response = await _get(_app(raise_it), "/needs-it")

    assert (response.status_code, response.headers["Retry-After"]) == (503, str(RETRY_AFTER))
    assert "search-index" not in response.text


async def test_grpc_error_other_than_unavailable_stays_500() -> None:
    async def not_found() -> None:
        raise grpc.aio.AioRpcError(
            grpc.StatusCode.NOT_FOUND, grpc.aio.Metadata(), grpc.aio.Metadata()
        )

    response = await _get(_app(not_found), "/needs-it")

    assert response.status_code == 500
