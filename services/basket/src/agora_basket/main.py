"""The basket service's app factory (``agora_basket.main:create_app``, ``--factory``).

Wires the basket REST API (and, with ``AGORA_GRPC_PORT`` set, the internal gRPC
``BasketService``) over Redis (``AGORA_REDIS_URL``), priced by catalog's gRPC
``GetProducts`` (``AGORA_CATALOG_GRPC_TARGET``) through one chassis ``ServiceClient``, whose
breaker shows in ``/health/ready`` (``catalog``: degraded while open) and ``/metrics``.

Baskets live in Redis. PostgreSQL (``AGORA_DATABASE_URL``) holds only what the chassis's event
consumer needs (inbox, dead letters) and the audit log of dead-letter replays and purges. With
``AGORA_BROKER_URL`` set the consumer subscribes to ``order.placed`` and
``product.price_changed`` (:mod:`agora_basket.events.subscriber`).
"""

from __future__ import annotations

from fastapi import FastAPI
from redis.asyncio import Redis

from agora_basket.api import basket, deps
from agora_basket.events.subscriber import build_consumer
from agora_basket.grpc.server import serve as serve_grpc
from agora_basket.services.catalog import CatalogProducts
from agora_basket.services.guest_ids import GuestIds
from agora_basket.settings import BasketSettings
from agora_chassis.app import Hook, create_service_app
from agora_chassis.audit_api import audit_router
from agora_chassis.call_policy import CallPolicy
from agora_chassis.messaging import RetryPolicy
from agora_chassis.messaging import admin as dead_letters
from agora_chassis.service_client import ServiceClient, breaker_check
from agora_chassis.service_tokens import ServiceTokenSource, TokenProvider, service_channel
from agora_chassis.state import attach_extras, service_state
from agora_contracts.grpc.catalog.v1 import catalog_pb2_grpc

CATALOG = "catalog"
RECONNECT_BACKOFF_INITIAL_MS = 100
RECONNECT_BACKOFF_MAX_MS = 1000
"""gRPC's own reconnect backoff grows to 120 s: after a long outage the channel would keep
failing the breaker's trial calls for up to two minutes after catalog is back. The breaker
already spaces the tries out, so the channel reconnects within a second."""
CHANNEL_OPTIONS = (
    ("grpc.initial_reconnect_backoff_ms", RECONNECT_BACKOFF_INITIAL_MS),
    ("grpc.min_reconnect_backoff_ms", RECONNECT_BACKOFF_INITIAL_MS),
    ("grpc.max_reconnect_backoff_ms", RECONNECT_BACKOFF_MAX_MS),
)


def _lifecycle(
    settings: BasketSettings, catalog: ServiceClient, tokens: TokenProvider
) -> tuple[list[Hook], list[Hook]]:
    """Start-up and shutdown hooks: the catalog channel, the use cases and the gRPC server."""

    async def open_catalog(app: FastAPI) -> None:
        state = deps.basket_state(app)
        state.channel = service_channel(
            settings.catalog_grpc_target, tokens, options=CHANNEL_OPTIONS
        )
        stub = catalog_pb2_grpc.CatalogServiceStub(state.channel)
        state.baskets = deps.build_basket_service(
            settings, state.redis, CatalogProducts(catalog, stub)
        )

    async def start_grpc(app: FastAPI) -> None:
        """Serve the internal gRPC API when ``AGORA_GRPC_PORT`` is set."""
        state = deps.basket_state(app)
        if settings.grpc_port is not None and state.baskets is not None:
            state.grpc_server = await serve_grpc(state.baskets, service_state(app).keys, settings)

    async def close(app: FastAPI) -> None:
        state = deps.basket_state(app)
        if state.grpc_server is not None:
            await state.grpc_server.stop()  # running calls finish first, on the open channel
        if state.channel is not None:
            await state.channel.close()
        await state.redis.aclose()
        if isinstance(tokens, ServiceTokenSource):
            await tokens.aclose()

    return [open_catalog, start_grpc], [close]


def create_app(
    settings: BasketSettings | None = None, *, tokens: TokenProvider | None = None
) -> FastAPI:
    """Build the basket service.

    Args:
        settings: Settings to use; read from the environment when omitted.
        tokens: Where the service token for catalog comes from; by default identity's
            client-credentials endpoint, with ``AGORA_SERVICE_CLIENT_ID`` and ``_SECRET``.

    Returns:
        The application.

    Raises:
        ValueError: ``AGORA_REDIS_URL`` is not set, or no service client is configured.
    """
    settings = settings or BasketSettings()
    if not settings.redis_url:
        raise ValueError("AGORA_REDIS_URL is needed: basket keeps its baskets in Redis")
    catalog = ServiceClient(CATALOG, policy=CallPolicy.from_settings(settings))
    startup, shutdown = _lifecycle(
        settings, catalog, tokens or ServiceTokenSource.from_settings(settings)
    )
    app = create_service_app(
        settings,
        title="Agora basket",
        routers=[basket.router, dead_letters.router, audit_router(deps.auditor)],
        startup=startup,
        shutdown=shutdown,
        checks={CATALOG: breaker_check(catalog)},
    )
    redis = Redis.from_url(settings.redis_url, decode_responses=True)
    guest_ids = GuestIds(settings.guest_secret.get_secret_value().encode())
    attach_extras(app, deps.BasketState(redis=redis, guest_ids=guest_ids))
    state = service_state(app)
    state.consumer = build_consumer(
        state.messaging.broker,
        state.sessionmaker,
        deps.build_basket_events(settings, redis),
        retry=RetryPolicy.from_settings(settings),
    )
    return app
