"""The ordering service's app factory (``agora_ordering.main:create_app``, ``--factory``).

Wires the customers' and admins' order APIs, the outbox (every saga message), the consumer of
catalog's and payment's replies, the durable deadline scheduler, and the gRPC clients that price
an order at catalog and read a buyer's basket, each behind its own chassis ``ServiceClient``
(whose breaker shows in ``/health/ready`` and ``/metrics``).
"""

from __future__ import annotations

from fastapi import FastAPI

from agora_chassis.app import Hook, create_service_app
from agora_chassis.audit_api import audit_router
from agora_chassis.call_policy import CallPolicy
from agora_chassis.messaging import RetryPolicy
from agora_chassis.messaging import admin as dead_letters
from agora_chassis.service_client import ServiceClient, breaker_check
from agora_chassis.service_tokens import ServiceTokenSource, TokenProvider, service_channel
from agora_chassis.state import attach_extras, service_state
from agora_contracts.grpc.basket.v1 import basket_pb2_grpc
from agora_contracts.grpc.catalog.v1 import catalog_pb2_grpc
from agora_ordering.api import admin, deps, orders
from agora_ordering.events.subscriber import build_consumer
from agora_ordering.models import IdempotencyRecord, OutboxMessage
from agora_ordering.services.remote import BasketContents, CatalogPrices
from agora_ordering.services.scheduler import DeadlineScheduler
from agora_ordering.settings import OrderingSettings
from agora_ordering.wiring import saga_services

CATALOG = "catalog"
BASKET = "basket"
CHANNEL_OPTIONS = (
    # As basket's (agora_basket.main): reconnect within a second once a breaker lets a call by.
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
)


def _lifecycle(
    settings: OrderingSettings, clients: dict[str, ServiceClient], tokens: TokenProvider
) -> tuple[list[Hook], list[Hook]]:
    """Start-up and shutdown hooks: the gRPC channels and the deadline scheduler."""

    async def open_clients(app: FastAPI) -> None:
        state = deps.ordering_state(app)
        catalog = service_channel(settings.catalog_grpc_target, tokens, options=CHANNEL_OPTIONS)
        basket = service_channel(settings.basket_grpc_target, tokens, options=CHANNEL_OPTIONS)
        state.channels = (catalog, basket)
        state.catalog = CatalogPrices(
            clients[CATALOG], catalog_pb2_grpc.CatalogServiceStub(catalog)
        )
        state.basket = BasketContents(clients[BASKET], basket_pb2_grpc.BasketServiceStub(basket))

    async def start_scheduler(app: FastAPI) -> None:
        scheduler = DeadlineScheduler(
            service_state(app).sessionmaker,
            saga_services(settings.saga_timeouts),
            poll=settings.deadline_poll_seconds,
            batch=settings.deadline_batch,
        )
        scheduler.start()
        deps.ordering_state(app).scheduler = scheduler

    async def close(app: FastAPI) -> None:
        state = deps.ordering_state(app)
        if state.scheduler is not None:
            await state.scheduler.stop()
        for channel in state.channels:
            await channel.close()
        if isinstance(tokens, ServiceTokenSource):
            await tokens.aclose()

    return [open_clients, start_scheduler], [close]


def create_app(
    settings: OrderingSettings | None = None, *, tokens: TokenProvider | None = None
) -> FastAPI:
    """Build the ordering service.

    Args:
        settings: Settings to use; read from the environment when omitted.
        tokens: Where the service token for catalog and basket comes from; by default
            identity's client-credentials endpoint (``AGORA_SERVICE_CLIENT_ID``, ``_SECRET``).

    Returns:
        The application.
    """
    settings = settings or OrderingSettings()
    policy = CallPolicy.from_settings(settings)
    clients = {name: ServiceClient(name, policy=policy) for name in (CATALOG, BASKET)}
    startup, shutdown = _lifecycle(
        settings, clients, tokens or ServiceTokenSource.from_settings(settings)
    )
    app = create_service_app(
        settings,
        title="Agora ordering",
        routers=[orders.router, admin.router, dead_letters.router, audit_router(deps.auditor)],
        startup=startup,
        shutdown=shutdown,
        outbox=OutboxMessage,
        idempotency=IdempotencyRecord,
        checks={name: breaker_check(client) for name, client in clients.items()},
    )
    attach_extras(app, deps.OrderingState())
    state = service_state(app)
    state.consumer = build_consumer(
        state.messaging.broker,
        state.sessionmaker,
        saga_services(settings.saga_timeouts),
        retry=RetryPolicy.from_settings(settings),
    )
    return app
