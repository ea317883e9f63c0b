"""The service registry: one plain record per deployable service the CLI boots."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServiceSpec:
    """How to migrate, run and route one service.

    Attributes:
        name: Short name (``identity``); used for logs, pid files, routes and the CLI.
        package: Import package of the service.
        app: ``module:factory`` of the ASGI app factory run by uvicorn ``--factory``.
        port_offset: Added to the service base port (identity = base + 0 = 8101).
        database: Database (and owning role) created for the service; ``None`` for a service
            that keeps nothing in PostgreSQL, which gets no database URL.
        extensions: PostgreSQL extensions the migrations expect.
        alembic_ini: Alembic config, relative to the repository root; ``None``: no migrations.
        gateway_rule: Traefik rule for its public API; paths are passed on unchanged.
        redis_db: Valkey database index, so services never share keys by accident.
        has_signing_keys: Gets ``AGORA_JWT_KEYS_DIR`` (it issues tokens).
        seeds_admin: Gets the admin login (``AGORA_ADMIN_EMAIL``/``AGORA_ADMIN_PASSWORD``).
        consumes_events: Has an event consumer, hence dead letters (``agora dlq``).
        grpc: Serves internal gRPC on ``AGORA_GRPC_PORT`` (gRPC base + its offset).
        service_scopes: Scopes it needs to call other services over gRPC; non-empty makes it a
            client of identity (``AGORA_SERVICE_CLIENT_ID``, ``AGORA_SERVICE_CLIENT_SECRET``,
            ``AGORA_SERVICE_TOKEN_URL``).
        grpc_targets: Services whose internal gRPC it calls; each gets
            ``AGORA_<NAME>_GRPC_TARGET`` (``127.0.0.1:<that service's gRPC port>``).
        http_targets: Services whose REST API it calls on their own ports; each gets
            ``AGORA_<NAME>_URL`` (``http://127.0.0.1:<that service's port>``).
        gateway_priority: Traefik priority of ``gateway_rule``; ``None``: Traefik's default (the
            rule's length). The storefront's catch-all rule sits just above the 404 router.
        seed: Module run as ``python -m <module> [--count N]`` by ``agora seed`` to load demo
            data (idempotent).
        channels: ``module:attribute`` of its ``ServiceChannels`` (what it publishes and
            consumes), from which ``agora asyncapi`` generates its AsyncAPI document.
        start_after: Components that must be ready before it starts, besides PostgreSQL, Valkey
            and NATS (every service needs those). A service that checks tokens names
            ``identity``: it fetches the JWKS at start-up, and after a failed fetch only 10 s
            later, refusing tokens (503) meanwhile.
    """

    name: str
    package: str
    app: str
    port_offset: int
    database: str | None
    extensions: tuple[str, ...]
    alembic_ini: str | None
    gateway_rule: str
    redis_db: int
    has_signing_keys: bool = False
    seeds_admin: bool = False
    consumes_events: bool = False
    grpc: bool = False
    service_scopes: tuple[str, ...] = ()
    grpc_targets: tuple[str, ...] = ()
    http_targets: tuple[str, ...] = ()
    gateway_priority: int | None = None
    seed: str | None = None
    channels: str | None = None
    start_after: tuple[str, ...] = ()


IDENTITY = ServiceSpec(
    name="identity",
    package="agora_identity",
    app="agora_identity.main:create_app",
    port_offset=0,
    database="identity",
    extensions=("citext",),
    alembic_ini="services/identity/alembic.ini",
    gateway_rule=(
        "PathPrefix(`/api/v1/auth`) || PathPrefix(`/api/v1/users`)"
        " || Path(`/.well-known/jwks.json`)"
    ),
    redis_db=0,
    has_signing_keys=True,
    seeds_admin=True,
    channels="agora_identity.channels:CHANNELS",
)

NOTIFICATION = ServiceSpec(
    name="notification",
    package="agora_notification",
    app="agora_notification.main:create_app",
    port_offset=1,
    database="notification",
    extensions=(),
    alembic_ini="services/notification/alembic.ini",
    gateway_rule="PathPrefix(`/api/v1/notifications`)",
    redis_db=1,
    consumes_events=True,
    channels="agora_notification.events.subscriber:CHANNELS",
    start_after=("identity",),
)

CATALOG = ServiceSpec(
    name="catalog",
    package="agora_catalog",
    app="agora_catalog.main:create_app",
    port_offset=2,
    database="catalog",
    extensions=("pg_trgm",),
    alembic_ini="services/catalog/alembic.ini",
    gateway_rule=(
        "PathPrefix(`/api/v1/products`) || PathPrefix(`/api/v1/categories`)"
        " || PathPrefix(`/images/`)"
    ),
    redis_db=2,
    consumes_events=True,
    channels="agora_catalog.events.subscriber:CHANNELS",
    grpc=True,
    seed="agora_catalog.seed",
    start_after=("identity",),
)

BASKET = ServiceSpec(
    name="basket",
    package="agora_basket",
    app="agora_basket.main:create_app",
    port_offset=3,
    database="basket",
    extensions=(),
    alembic_ini="services/basket/alembic.ini",
    gateway_rule="PathPrefix(`/api/v1/basket`)",
    redis_db=3,
    consumes_events=True,
    grpc=True,
    service_scopes=("catalog:read",),
    grpc_targets=("catalog",),
    channels="agora_basket.events.subscriber:CHANNELS",
    start_after=("identity", "catalog"),
)

ORDERING = ServiceSpec(
    name="ordering",
    package="agora_ordering",
    app="agora_ordering.main:create_app",
    port_offset=4,
    database="ordering",
    extensions=(),
    alembic_ini="services/ordering/alembic.ini",
    gateway_rule="PathPrefix(`/api/v1/orders`) || PathPrefix(`/api/v1/admin/orders`)",
    redis_db=4,
    consumes_events=True,
    service_scopes=("catalog:read", "basket:read"),
    grpc_targets=("catalog", "basket"),
    channels="agora_ordering.events.subscriber:CHANNELS",
    start_after=("identity", "catalog", "basket"),
)

PAYMENT = ServiceSpec(
    name="payment",
    package="agora_payment",
    app="agora_payment.main:create_app",
    port_offset=5,
    database="payment",
    extensions=(),
    alembic_ini="services/payment/alembic.ini",
    gateway_rule="PathPrefix(`/api/v1/payments`)",
    redis_db=5,
    consumes_events=True,
    channels="agora_payment.events.subscriber:CHANNELS",
    # identity: the JWKS its admin tokens are checked with; paysim: the provider it charges at.
    start_after=("identity", "paysim"),
)

# Every page but the APIs: below every other route (a rule's default priority is its length), above
# the gateway's catch-all 404, so an unknown /api/... path still gets Problem Details.
STOREFRONT_PRIORITY = 2

STOREFRONT = ServiceSpec(
    name="storefront",
    package="agora_storefront",
    app="agora_storefront.main:create_app",
    port_offset=6,
    database=None,
    extensions=(),
    alembic_ini=None,
    gateway_rule="PathPrefix(`/`) && !PathPrefix(`/api/`)",
    gateway_priority=STOREFRONT_PRIORITY,
    redis_db=6,
    http_targets=("identity", "notification", "catalog", "basket", "ordering", "payment"),
    start_after=("identity", "catalog", "basket", "ordering"),
)

SERVICES: tuple[ServiceSpec, ...] = (
    IDENTITY,
    NOTIFICATION,
    CATALOG,
    BASKET,
    ORDERING,
    PAYMENT,
    STOREFRONT,
)


def find_service(name: str) -> ServiceSpec | None:
    """Return the registered service called ``name``, or None."""
    return next((spec for spec in SERVICES if spec.name == name), None)
