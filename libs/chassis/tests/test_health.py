"""Liveness, readiness aggregation, and the ready-made probes."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Mapping

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import create_async_engine

from agora_chassis.health import (
    Check,
    ProbeFailedError,
    database_probe,
    health_router,
    http_probe,
    redis_probe,
    tcp_probe,
)

BUILD = {"version": "1.2.3", "build_time": "2026-11-23T00:00:00Z", "commit": "abc1234"}
SECRET_URL_PASSWORD = "hunter2-db-pass"


async def passes() -> None:
    return None


async def raises() -> None:
    raise ConnectionRefusedError("connection refused")


async def hangs() -> None:
    await asyncio.sleep(10)


def make_app(checks: Mapping[str, Check]) -> FastAPI:
    app = FastAPI()
    app.include_router(health_router(checks, service_name="health-test", **BUILD))
    return app


async def get(app: FastAPI, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get(path)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port  # nothing listens once the probe socket is closed


async def test_liveness_with_failing_checks_is_still_ok() -> None:
    response = await get(make_app({"database": Check(raises)}), "/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readiness_all_checks_pass_is_ok_with_build_info() -> None:
    response = await get(make_app({"database": Check(passes)}), "/health/ready")

    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "ok"
    assert body["service"] == "health-test"
    assert {key: body[key] for key in BUILD} == BUILD
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["database"]["duration_ms"] >= 0


async def test_readiness_critical_probe_raises_is_503_unavailable() -> None:
    checks = {"database": Check(raises), "cache": Check(passes, critical=False)}

    response = await get(make_app(checks), "/health/ready")

    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert response.json()["checks"]["database"]["status"] == "fail"
    assert "ConnectionRefusedError" in response.json()["checks"]["database"]["error"]


async def test_readiness_non_critical_probe_raises_is_200_degraded() -> None:
    checks = {"database": Check(passes), "cache": Check(raises, critical=False)}

    response = await get(make_app(checks), "/health/ready")

    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["checks"]["cache"]["status"] == "fail"


async def test_readiness_probe_over_its_timeout_fails_quickly() -> None:
    checks = {"broker": Check(hangs, timeout=0.05)}

    response = await asyncio.wait_for(get(make_app(checks), "/health/ready"), timeout=2)

    assert response.status_code == 503
    assert "timed out" in response.json()["checks"]["broker"]["error"]


async def test_readiness_checks_run_concurrently() -> None:
    async def slow() -> None:
        await asyncio.sleep(0.2)

    checks = {f"dep{i}": Check(slow) for i in range(5)}

    response = await asyncio.wait_for(get(make_app(checks), "/health/ready"), timeout=0.6)

    assert response.json()["status"] == "ok"


async def test_readiness_error_summary_masks_credentials() -> None:
    async def leaks() -> None:
        raise OSError(f"cannot reach postgresql://agora:{SECRET_URL_PASSWORD}@db.internal/agora")

    response = await get(make_app({"database": Check(leaks)}), "/health/ready")

    assert SECRET_URL_PASSWORD not in response.text


async def test_http_probe_nothing_listening_raises() -> None:
    probe = http_probe(f"http://127.0.0.1:{closed_port()}/down")

    with pytest.raises(httpx.ConnectError):
        await probe()


async def test_http_probe_answer_below_500_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    await answering(monkeypatch, httpx.codes.NOT_FOUND)

    await http_probe("http://dependency.test/health")()


async def test_http_probe_answer_500_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    await answering(monkeypatch, httpx.codes.BAD_GATEWAY)

    with pytest.raises(ProbeFailedError, match="502"):
        await http_probe("http://dependency.test/health")()


async def answering(monkeypatch: pytest.MonkeyPatch, status: int) -> None:
    """Make every new ``httpx.AsyncClient`` answer ``status`` without touching the network."""
    original = httpx.AsyncClient.__init__
    transport = httpx.MockTransport(lambda _request: httpx.Response(status))

    def init(self: httpx.AsyncClient, **kwargs: object) -> None:
        original(self, transport=transport, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(httpx.AsyncClient, "__init__", init)


async def test_redis_probe_nothing_listening_raises() -> None:
    probe = redis_probe(f"redis://127.0.0.1:{closed_port()}/0")

    with pytest.raises(Exception, match=r"(?i)connect"):
        await probe()


@pytest.mark.integration
async def test_redis_probe_real_redis_passes(redis_url: str) -> None:
    await redis_probe(redis_url)()


@pytest.mark.integration
async def test_database_probe_real_postgres_passes(postgres_server: str) -> None:
    engine = create_async_engine(postgres_server)
    try:
        await database_probe(engine)()
    finally:
        await engine.dispose()


async def test_database_probe_nothing_listening_raises() -> None:
    engine = create_async_engine(f"postgresql+asyncpg://agora@127.0.0.1:{closed_port()}/agora")
    try:
        with pytest.raises(OSError):
            await database_probe(engine)()
    finally:
        await engine.dispose()


async def test_tcp_probe_listening_port_passes() -> None:
    server = await asyncio.start_server(lambda _reader, writer: writer.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        await tcp_probe(f"nats://127.0.0.1:{port}")()


async def test_tcp_probe_nothing_listening_raises() -> None:
    with pytest.raises(OSError):
        await tcp_probe(f"amqp://guest:guest@127.0.0.1:{closed_port()}/")()


def test_tcp_probe_url_without_port_is_refused() -> None:
    with pytest.raises(ValueError, match="host and a port"):
        tcp_probe("nats://broker")
