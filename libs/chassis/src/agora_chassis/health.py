"""Liveness and readiness endpoints, and probes for the usual dependencies.

``GET /health`` answers 200 while the process can serve HTTP at all: an orchestrator restarts the
process when it fails, so it must not depend on the database (a database outage would otherwise
restart every replica for nothing). ``GET /health/ready`` runs the dependency checks concurrently,
each under its own timeout, and tells the load balancer whether to send traffic:

* every check passes: 200, ``ok``;
* only non-critical checks fail: 200, ``degraded`` (keep serving, with less);
* a critical check fails: 503, ``unavailable``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Literal
from urllib.parse import urlsplit

import httpx
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from agora_chassis.logging import mask_pii

logger = logging.getLogger(__name__)

DEFAULT_CHECK_TIMEOUT_SECONDS = 2.0
PROBE_IO_TIMEOUT_SECONDS = 2.0
ERROR_SUMMARY_MAX_CHARS = 200
MILLISECONDS_PER_SECOND = 1000
DURATION_DECIMALS = 1

Probe = Callable[[], Awaitable[None]]
ReadinessStatus = Literal["ok", "degraded", "unavailable"]


class ProbeFailedError(Exception):
    """A dependency answered, but not the way a healthy one does."""


@dataclass(frozen=True, slots=True)
class Check:
    """One readiness check.

    Attributes:
        probe: Coroutine function that returns when the dependency is usable and raises otherwise.
        critical: Whether the service is unusable without it (503) or merely degraded (200).
        timeout: Seconds the probe may take before it counts as failed.
    """

    probe: Probe
    critical: bool = True
    timeout: float = DEFAULT_CHECK_TIMEOUT_SECONDS


class Liveness(BaseModel):
    """Answer of ``GET /health``."""

    status: Literal["ok"] = "ok"


class CheckResult(BaseModel):
    """Outcome of one readiness check."""

    status: Literal["ok", "fail"]
    critical: bool
    duration_ms: float
    error: str | None = None


class Readiness(BaseModel):
    """Answer of ``GET /health/ready``."""

    status: ReadinessStatus
    service: str
    version: str
    build_time: str
    commit: str
    checks: dict[str, CheckResult]


def _summary(exc: BaseException) -> str:
    # Driver errors can quote connection URLs; keep the type and a short, masked message.
    message = mask_pii(str(exc))[:ERROR_SUMMARY_MAX_CHARS]
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


async def _run(name: str, check: Check) -> CheckResult:
    started = time.perf_counter()
    error: str | None = None
    try:
        async with asyncio.timeout(check.timeout):
            await check.probe()
    except TimeoutError:
        error = f"timed out after {check.timeout:g} s"
    except Exception as exc:  # noqa: BLE001 - any failure of a probe means "not ready"
        error = _summary(exc)
    elapsed_ms = (time.perf_counter() - started) * MILLISECONDS_PER_SECOND
    if error is not None:
        logger.warning("readiness check %s failed: %s", name, error)
    return CheckResult(
        status="ok" if error is None else "fail",
        critical=check.critical,
        duration_ms=round(elapsed_ms, DURATION_DECIMALS),
        error=error,
    )


def _overall(results: Mapping[str, CheckResult]) -> ReadinessStatus:
    failed = [result for result in results.values() if result.status == "fail"]
    if any(result.critical for result in failed):
        return "unavailable"
    return "degraded" if failed else "ok"


def health_router(
    checks: Mapping[str, Check], *, version: str, build_time: str, commit: str, service_name: str
) -> APIRouter:
    """Build the router with ``GET /health`` and ``GET /health/ready``.

    Args:
        checks: Readiness checks by name (``database``, ``redis``, ``broker``...).
        version: Release version to report.
        build_time: Build timestamp to report.
        commit: Commit hash to report.
        service_name: Service name to report.

    Returns:
        A router to include at the app's root.
    """
    router = APIRouter(tags=["health"])

    @router.get("/health", response_model=Liveness)
    async def liveness() -> Liveness:
        return Liveness()

    @router.get(
        "/health/ready",
        response_model=Readiness,
        responses={HTTPStatus.SERVICE_UNAVAILABLE: {"model": Readiness}},
    )
    async def readiness() -> JSONResponse:
        async with asyncio.TaskGroup() as group:
            tasks = {name: group.create_task(_run(name, check)) for name, check in checks.items()}
        results = {name: task.result() for name, task in tasks.items()}
        body = Readiness(
            status=_overall(results),
            service=service_name,
            version=version,
            build_time=build_time,
            commit=commit,
            checks=results,
        )
        status = HTTPStatus.SERVICE_UNAVAILABLE if body.status == "unavailable" else HTTPStatus.OK
        return JSONResponse(body.model_dump(mode="json"), status_code=status)

    return router


def database_probe(engine: AsyncEngine) -> Probe:
    """Build a probe that runs ``SELECT 1`` on a pooled connection.

    Args:
        engine: The service's engine.

    Returns:
        The probe.
    """

    async def probe() -> None:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    return probe


def redis_probe(url: str) -> Probe:
    """Build a probe that sends ``PING`` to Redis on a fresh client and closes it.

    Args:
        url: A ``redis://`` URL.

    Returns:
        The probe.
    """

    async def probe() -> None:
        client = Redis.from_url(
            url,
            socket_connect_timeout=PROBE_IO_TIMEOUT_SECONDS,
            socket_timeout=PROBE_IO_TIMEOUT_SECONDS,
        )
        try:
            if not await client.ping():
                raise ProbeFailedError("PING was not answered with PONG")
        finally:
            await client.aclose()

    return probe


def http_probe(url: str) -> Probe:
    """Build a probe that passes when ``GET url`` answers with a status below 500.

    Args:
        url: The URL to fetch (another service's ``/health``, a broker's monitoring port...).

    Returns:
        The probe.
    """

    async def probe() -> None:
        async with httpx.AsyncClient(timeout=PROBE_IO_TIMEOUT_SECONDS) as client:
            response = await client.get(url)
        if response.status_code >= HTTPStatus.INTERNAL_SERVER_ERROR:
            raise ProbeFailedError(f"GET {url} answered {response.status_code}")

    return probe


def tcp_probe(url: str) -> Probe:
    """Build a probe that passes when the URL's host and port accept a TCP connection.

    Used for the message broker until the messaging backbone has a client of its own to ask:
    ``nats://``, ``amqp://`` and ``kafka://`` URLs all name a host and port.

    Args:
        url: A URL with a host and an explicit port.

    Returns:
        The probe.

    Raises:
        ValueError: The URL has no host or no port.
    """
    parts = urlsplit(url)
    if not parts.hostname or not parts.port:
        raise ValueError(f"{url!r} must name a host and a port")
    host, port = parts.hostname, parts.port

    async def probe() -> None:
        _, writer = await asyncio.open_connection(host, port)
        writer.close()
        await writer.wait_closed()

    return probe
