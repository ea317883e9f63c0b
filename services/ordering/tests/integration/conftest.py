"""Ordering against PostgreSQL and real catalog and basket gRPC servers.

PostgreSQL (one database per session, migrated by ordering's Alembic) holds the orders, the
outbox, inbox and dead letters. Catalog and basket are :class:`CatalogServer` and
:class:`BasketServer`, real ``grpc.aio`` servers on loopback ports. No broker: the tests hand
the app's consumer each reply (``consumer.deliver``) and read what ordering would publish from its
outbox.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from sqlalchemy import select

from agora_chassis.auth import TokenVerifier
from agora_chassis.messaging import EventConsumer
from agora_chassis.state import service_state
from agora_cli.infra.ports import free_port
from agora_ordering.main import create_app
from agora_ordering.models import OutboxMessage
from agora_ordering.settings import OrderingSettings
from agora_testing.basket_server import BasketServer
from agora_testing.catalog_server import CatalogServer
from agora_testing.fixtures import alembic_upgrade
from agora_testing.grpc_tokens import FixedToken
from agora_testing.tokens import StaticKeys, forge_access_token

pytestmark = pytest.mark.integration

SERVICE_DIR = Path(__file__).resolve().parents[2]
ADDRESS = {
    "name": "Ada Lovelace",
    "street": "12 Analytical Row",
    "postal_code": "10115",
    "city": "Berlin",
    "country": "DE",
}


@pytest.fixture(scope="session")
def ordering_database_url(make_database: Callable[[str], str]) -> str:
    """A fresh database at head, migrated by ordering's own Alembic."""
    url = make_database("ordering")
    alembic_upgrade(url, SERVICE_DIR / "alembic.ini")
    return url


@pytest.fixture(scope="session")
def signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
async def catalog_server() -> AsyncIterator[CatalogServer]:
    server = CatalogServer(free_port())
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def basket_server() -> AsyncIterator[BasketServer]:
    server = BasketServer(free_port())
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """What a test module changes in the settings (the scheduler tests shorten timeouts)."""
    return {}


@pytest.fixture
def settings(
    ordering_database_url: str,
    catalog_server: CatalogServer,
    basket_server: BasketServer,
    settings_overrides: dict[str, Any],
) -> OrderingSettings:
    fields: dict[str, Any] = {
        "environment": "test",
        "database_url": ordering_database_url,
        "catalog_grpc_target": catalog_server.target,
        "basket_grpc_target": basket_server.target,
        "rate_limit": "100000/minute",
        "call_deadline_seconds": 1.0,
        "breaker_failure_threshold": 2,
        "breaker_cool_down_seconds": 0.3,
    }
    return OrderingSettings(**(fields | settings_overrides))


@pytest.fixture
async def app(settings: OrderingSettings, signing_key: Ed25519PrivateKey) -> AsyncIterator[FastAPI]:
    """The ordering app, started; user tokens are verified with the test key."""
    app = create_app(settings, tokens=FixedToken("service-token-for-tests"))
    service_state(app).verifier = TokenVerifier(
        StaticKeys(signing_key), issuer=settings.jwt_issuer, audience=settings.jwt_audience
    )
    async with LifespanManager(app):
        yield app


@pytest.fixture
def consumer(app: FastAPI) -> EventConsumer:
    """The app's own event consumer (no broker here: ``deliver`` hands it each body)."""
    consumer = service_state(app).consumer
    assert consumer is not None, "ordering builds its consumer with the app"
    return consumer


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ordering") as http:
        yield http


@pytest.fixture
def user_headers(signing_key: Ed25519PrivateKey) -> Callable[..., dict[str, str]]:
    """``user_headers(user_id, roles=...)``: the Authorization header of a signed-in user."""

    def make(
        user_id: uuid.UUID | None = None, roles: tuple[str, ...] = ("customer",)
    ) -> dict[str, str]:
        token = forge_access_token(signing_key, roles=list(roles), subject=user_id)
        return {"Authorization": f"Bearer {token}"}

    return make


@pytest.fixture
def outbox(app: FastAPI) -> Callable[[str], Any]:
    """``await outbox(order_id)``: the events ordering staged about an order, oldest first."""

    async def events(order_id: str) -> list[dict[str, Any]]:
        async with service_state(app).sessionmaker() as session:
            rows = await session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.subject == order_id)
                .order_by(OutboxMessage.created_at, OutboxMessage.id)
            )
            return [row.envelope for row in rows]

    return events


def order_body(product_ids: list[str], quantity: int = 1, **fields: Any) -> dict[str, Any]:
    """A valid ``POST /api/v1/orders`` body for these products."""
    body: dict[str, Any] = {
        "lines": [{"product_id": pid, "quantity": quantity} for pid in product_ids],
        "ship_to": ADDRESS,
        "payment_token": "tok_test_4242",
    }
    return body | fields


def key() -> dict[str, str]:
    """A fresh ``Idempotency-Key`` header."""
    return {"Idempotency-Key": str(uuid.uuid4())}
