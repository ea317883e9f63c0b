"""The app factory every service uses: one call wires the whole chassis around its routers."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import APIRouter, FastAPI

from agora_chassis.auth import JWKSCache, KeySource, TokenVerifier
from agora_chassis.client_address import TrustedProxies
from agora_chassis.db import create_engine, create_sessionmaker
from agora_chassis.errors import install_error_handlers
from agora_chassis.health import Check, database_probe, health_router, redis_probe, tcp_probe
from agora_chassis.idempotency import IdempotencyRecordMixin
from agora_chassis.idempotency_pruner import IdempotencyPruner
from agora_chassis.logging import configure_logging
from agora_chassis.messaging.broker import make_broker
from agora_chassis.messaging.lifecycle import (
    consumers_probe,
    outbox_probe,
    start_messaging,
    stop_messaging,
)
from agora_chassis.metrics import HttpMetrics, install_metrics
from agora_chassis.middleware import install_http_middleware
from agora_chassis.openapi import install_openapi
from agora_chassis.outbox import OutboxMixin
from agora_chassis.ratelimit import (
    UNLIMITED_PATHS,
    ApiBudgetMiddleware,
    LocalRateLimiter,
    RateLimiter,
)
from agora_chassis.reader import Reader
from agora_chassis.settings import ServiceSettings
from agora_chassis.state import Messaging, ServiceState, attach_service_state, service_state
from agora_chassis.telemetry import TraceContextMiddleware, fastapi_telemetry, setup_telemetry

Hook = Callable[[FastAPI], Awaitable[None]]


def _lifespan(
    startup: Sequence[Hook], shutdown: Sequence[Hook]
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = service_state(app)
        if isinstance(state.keys, JWKSCache):
            state.keys.start()  # keys fetched now and refreshed before they expire
        for hook in startup:
            await hook(app)
        await start_messaging(app)
        # What exists now (modules, the app, schemas, pools: about 145,000 objects in identity)
        # lives as long as the process. Frozen, the collector stops scanning it: a full
        # collection took identity 80 ms with it, during which every request in flight waited,
        # and was a share of the p99 under load (ADR 0018, test_app.py).
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()  # collectable again: a test process starts and stops many apps
            await stop_messaging(app)
            for hook in shutdown:
                await hook(app)
            await state.keys.aclose()
            await state.rate_limiter.aclose()
            await state.engine.dispose()
            await state.reader.aclose()

    return lifespan


def _readiness(
    app: FastAPI, settings: ServiceSettings, *, database: bool, extra: Mapping[str, Check]
) -> dict[str, Check]:
    state = service_state(app)
    checks = {"database": Check(database_probe(state.engine))} if database else {}
    if settings.redis_url:
        # Without Redis, rate limits are counted per process: degraded, not down.
        checks["cache"] = Check(redis_probe(settings.redis_url), critical=False)
        checks["rate_limits"] = Check(state.rate_limiter.probe, critical=False)
    if settings.broker_url:
        # Events wait in the outbox while the broker is down: degraded, not unavailable.
        checks["broker"] = Check(tcp_probe(settings.broker_url), critical=False)
        # A consumer that stopped or keeps failing: its messages wait in the broker.
        checks["consumers"] = Check(consumers_probe(app), critical=False)
        if state.messaging.outbox_model is not None:
            # A stopped relay or a stale backlog: events are late, requests still work.
            checks["outbox"] = Check(outbox_probe(app), critical=False)
    return checks | dict(extra)


def build_service_state(
    settings: ServiceSettings,
    *,
    keys: KeySource | None = None,
    outbox: type[OutboxMixin] | None = None,
) -> ServiceState:
    """Build the shared resources of a service app (nothing connects before start-up).

    Args:
        settings: The service's settings.
        keys: Where verification keys come from; defaults to ``settings.jwks_url``.
        outbox: The service's outbox model, if it publishes events.

    Returns:
        The state ``create_service_app`` attaches to its app.
    """
    engine = create_engine(settings.database_url)
    keys = keys or JWKSCache(settings.jwks_url)
    return ServiceState(
        settings=settings,
        engine=engine,
        sessionmaker=create_sessionmaker(engine),
        reader=Reader.for_url(settings.database_url),
        keys=keys,
        verifier=TokenVerifier(keys, issuer=settings.jwt_issuer, audience=settings.jwt_audience),
        rate_limiter=RateLimiter(settings.redis_url),
        local_rate_limiter=LocalRateLimiter(),
        trusted_proxies=TrustedProxies(settings.trusted_proxies),
        messaging=Messaging(
            broker=make_broker(settings.broker_url) if settings.broker_url else None,
            outbox_model=outbox,
        ),
        metrics=HttpMetrics(settings.service_name),
    )


def _install_cross_cutting(
    app: FastAPI, settings: ServiceSettings, *, database: bool, checks: Mapping[str, Check]
) -> None:
    """Health, HTTP hardening, metrics and tracing, in the order the middleware stack needs."""
    state = service_state(app)
    app.include_router(
        health_router(
            _readiness(app, settings, database=database, extra=checks),
            version=settings.version,
            build_time=settings.build_time,
            commit=settings.commit,
            service_name=settings.service_name,
        )
    )
    install_http_middleware(
        app,
        cors_origins=settings.cors_origins,
        max_body_bytes=settings.max_body_bytes,
        debug=settings.debug,
        request_timeout_seconds=settings.request_timeout_seconds,
    )
    install_metrics(app, state.metrics)  # outermost, so 413s and 504s are counted too
    setup_telemetry(
        service_name=settings.service_name,
        exporter=settings.otel_exporter,
        endpoint=settings.otel_endpoint,
        engine=state.engine,
    )
    if settings.otel_exporter == "none":
        app.add_middleware(TraceContextMiddleware)  # ids for the logs, no span recorded


def _new_app(
    settings: ServiceSettings,
    title: str,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]],
) -> FastAPI:
    """The bare app: docs only in debug, FastAPI's request tracing only when spans are exported."""
    return FastAPI(
        title=title,
        version=settings.version,
        lifespan=lifespan,
        docs_url="/docs" if settings.debug else None,
        redoc_url=None,
        openapi_url="/openapi.json" if settings.debug else None,
        telemetry=fastapi_telemetry(tracing=settings.otel_exporter != "none"),
    )


def create_service_app(
    settings: ServiceSettings,
    *,
    title: str,
    routers: Sequence[APIRouter],
    startup: Sequence[Hook] = (),
    shutdown: Sequence[Hook] = (),
    keys: KeySource | None = None,
    outbox: type[OutboxMixin] | None = None,
    checks: Mapping[str, Check] | None = None,
    database: bool = True,
    idempotency: type[IdempotencyRecordMixin] | None = None,
) -> FastAPI:
    """Build a service's FastAPI app with the whole chassis wired in.

    Wires JSON logging, Problem Details errors, the database engine and transaction factory,
    JWT verification, rate limiting, security headers, CORS, body limits, gzip, timeouts,
    ``/health``, ``/health/ready``, ``/metrics`` and OpenTelemetry.

    Args:
        settings: The service's settings (built once, by its factory).
        title: OpenAPI title.
        routers: The service's API routers (each carries its own ``/api/v1`` prefix); all of
            them share one per-client budget, ``settings.rate_limit``, per replica.
        startup: Coroutines run at start-up, after the chassis is ready (e.g. seeding).
        shutdown: Coroutines run at shutdown, after messaging stopped (e.g. closing a cache).
        keys: Where verification keys come from; defaults to ``settings.jwks_url``.
        outbox: The service's outbox model; its rows are relayed to ``settings.broker_url``.
        checks: The service's own readiness checks by name (a called service's breaker:
            ``{"catalog": breaker_check(client)}``), beside the chassis's.
        database: Whether the service keeps data in PostgreSQL; ``False`` leaves the database
            out of readiness (the engine is still built, idle until used).
        idempotency: The service's idempotency model: its expired records are pruned.

    Returns:
        The application, ready for uvicorn.
    """
    _configure_logging(settings)
    state = build_service_state(settings, keys=keys, outbox=outbox)
    if idempotency is not None:
        startup, shutdown = _with_pruner(state, idempotency, startup, shutdown)
    app = _new_app(settings, title, _lifespan(startup, shutdown))
    attach_service_state(app, state)
    install_error_handlers(app)
    for router in routers:
        app.include_router(router)
    install_openapi(app, unlimited=UNLIMITED_PATHS)  # errors documented as Problem Details
    _install_api_budget(app, state)
    _install_cross_cutting(app, settings, database=database, checks=checks or {})
    return app


def _configure_logging(settings: ServiceSettings) -> None:
    configure_logging(
        settings.service_name,
        log_dir=settings.log_dir,
        level=settings.log_level,
        access_log=settings.access_log,
    )


def _with_pruner(
    state: ServiceState,
    model: type[IdempotencyRecordMixin],
    startup: Sequence[Hook],
    shutdown: Sequence[Hook],
) -> tuple[list[Hook], list[Hook]]:
    """The hooks with the idempotency records' pruner started last and stopped first."""
    pruner = IdempotencyPruner(state.sessionmaker, model, state.settings.idempotency_prune_seconds)

    async def start(_app: FastAPI) -> None:
        pruner.start()

    async def stop(_app: FastAPI) -> None:
        await pruner.stop()

    return [*startup, start], [stop, *shutdown]


def _install_api_budget(app: FastAPI, state: ServiceState) -> None:
    """One budget per client for the whole API, counted in each replica's memory.

    Health and metrics stay unlimited. Added before the other middlewares, so it sits innermost:
    inside the request id, the security headers and CORS, which its 429s carry too.
    """
    app.add_middleware(
        ApiBudgetMiddleware,
        limit=state.settings.rate_limit,
        limiter=state.local_rate_limiter,
        trusted_proxies=state.trusted_proxies,
    )
