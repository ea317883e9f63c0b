"""The catalog service's app factory (``agora_catalog.main:create_app``, ``--factory``).

Wires the REST routers, the product cache (Redis at ``AGORA_REDIS_URL``, failing open), the
outbox (stock and price events), the order-event consumer, the dead-letter admin API, the audit
log of admin changes (``/api/v1/audit``) and, with ``AGORA_GRPC_PORT`` set, the internal gRPC
``CatalogService``. Product images are drawn by the
service itself (``/images/products/<sku>.svg``).
"""

from __future__ import annotations

from fastapi import FastAPI

from agora_catalog.api import categories, deps, images, products
from agora_catalog.events.subscriber import build_consumer
from agora_catalog.grpc.server import serve as serve_grpc
from agora_catalog.models import IdempotencyRecord, OutboxMessage
from agora_catalog.services.cache import ProductCache
from agora_catalog.settings import CatalogSettings
from agora_chassis.app import create_service_app
from agora_chassis.audit_api import audit_router
from agora_chassis.messaging import RetryPolicy
from agora_chassis.messaging import admin as dead_letters
from agora_chassis.state import attach_extras, service_state


async def _close_cache(app: FastAPI) -> None:
    await deps.catalog_state(app).product_cache.aclose()


async def _start_grpc(app: FastAPI) -> None:
    """Serve the internal gRPC API when ``AGORA_GRPC_PORT`` is set."""
    settings, state = deps.catalog_settings(app), service_state(app)
    catalog = deps.catalog_state(app)
    catalog.grpc_server = None
    if settings.grpc_port is not None:
        catalog.grpc_server = await serve_grpc(
            state.sessionmaker, state.reader, state.keys, settings
        )


async def _stop_grpc(app: FastAPI) -> None:
    """Report NOT_SERVING, then let running calls finish (a few seconds at most)."""
    server = deps.catalog_state(app).grpc_server
    if server is not None:
        await server.stop()


def create_app(settings: CatalogSettings | None = None) -> FastAPI:
    """Build the catalog service.

    Args:
        settings: Settings to use; read from the environment when omitted.

    Returns:
        The application.
    """
    settings = settings or CatalogSettings()
    app = create_service_app(
        settings,
        title="Agora catalog",
        routers=[
            products.router,
            categories.router,
            images.router,
            dead_letters.router,
            audit_router(deps.auditor),
        ],
        startup=[_start_grpc],
        shutdown=[_stop_grpc, _close_cache],
        outbox=OutboxMessage,
        idempotency=IdempotencyRecord,
    )
    cache = ProductCache.from_url(
        settings.redis_url,
        product_ttl=settings.product_cache_seconds,
        list_ttl=settings.list_cache_seconds,
        local_ttl=settings.local_cache_seconds,
    )
    attach_extras(app, deps.CatalogState(product_cache=cache))
    state = service_state(app)
    state.consumer = build_consumer(
        state.messaging.broker, state.sessionmaker, cache, retry=RetryPolicy.from_settings(settings)
    )
    return app
