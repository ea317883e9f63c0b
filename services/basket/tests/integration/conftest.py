"""Basket against a real Redis-protocol server, a real catalog gRPC server and PostgreSQL.

Redis comes from the shared fixtures (``AGORA_TEST_REDIS_URL``, or an embedded Valkey); every
test gets its own key prefix, so tests never see each other's baskets and nothing is flushed.
Catalog is :class:`CatalogServer`, a real ``grpc.aio`` server on a free loopback port.
PostgreSQL (one database per session, migrated by basket's Alembic) holds the consumer's inbox
and dead letters; event ids are fresh per test, so tests never meet each other's rows.
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
from redis.asyncio import Redis

from agora_basket.main import create_app
from agora_basket.repositories.baskets import BasketRepository
from agora_basket.settings import BasketSettings
from agora_chassis.auth import TokenVerifier
from agora_chassis.messaging import EventConsumer
from agora_chassis.state import service_state
from agora_cli.infra.ports import free_port
from agora_testing.catalog_server import CatalogServer
from agora_testing.fixtures import alembic_upgrade
from agora_testing.grpc_tokens import FixedToken
from agora_testing.tokens import StaticKeys, forge_access_token

pytestmark = pytest.mark.integration

SERVICE_DIR = Path(__file__).resolve().parents[2]
BASKET_REDIS_DB = "6"
COOL_DOWN_SECONDS = 0.3

MakeApp = Callable[..., FastAPI]


@pytest.fixture(scope="session")
def basket_redis_url(redis_url: str) -> str:
    """The test Redis, database 6 (keys under a per-test prefix)."""
    base = redis_url.rsplit("/", 1)[0] if redis_url.count("/") > 2 else redis_url
    return f"{base}/{BASKET_REDIS_DB}"


@pytest.fixture(scope="session")
def basket_database_url(make_database: Callable[[str], str]) -> str:
    """A fresh database at head, migrated by basket's own Alembic."""
    url = make_database("basket")
    alembic_upgrade(url, SERVICE_DIR / "alembic.ini")
    return url


@pytest.fixture(scope="session")
def signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
async def catalog_server() -> AsyncIterator[CatalogServer]:
    """A running catalog with no products (each test adds its own)."""
    server = CatalogServer(free_port())
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def key_prefix() -> str:
    return f"test-basket-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def settings(
    basket_redis_url: str,
    basket_database_url: str,
    catalog_server: CatalogServer,
    key_prefix: str,
) -> BasketSettings:
    return BasketSettings(
        environment="test",
        database_url=basket_database_url,
        redis_url=basket_redis_url,
        basket_key_prefix=key_prefix,
        catalog_grpc_target=catalog_server.target,
        rate_limit="100000/minute",
        call_deadline_seconds=1.0,
        breaker_failure_threshold=2,
        breaker_cool_down_seconds=COOL_DOWN_SECONDS,
    )


@pytest.fixture
async def app(settings: BasketSettings, signing_key: Ed25519PrivateKey) -> AsyncIterator[FastAPI]:
    """The basket app, started; user tokens are verified with the test key."""
    app = create_app(settings, tokens=FixedToken("service-token-for-tests"))
    service_state(app).verifier = TokenVerifier(
        StaticKeys(signing_key), issuer=settings.jwt_issuer, audience=settings.jwt_audience
    )
    async with LifespanManager(app):
        yield app


@pytest.fixture
def consumer(app: FastAPI) -> EventConsumer:
    """The app's own event consumer (no broker in these tests: ``deliver`` hands it each body)."""
    consumer = service_state(app).consumer
    assert consumer is not None, "basket builds its consumer with the app"
    return consumer


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://basket") as http:
        yield http


@pytest.fixture
async def repository(
    basket_redis_url: str, settings: BasketSettings
) -> AsyncIterator[BasketRepository]:
    """A second view of the same Redis keys, to check what the API stored."""
    redis = Redis.from_url(basket_redis_url, decode_responses=True)
    yield BasketRepository(
        redis, prefix=settings.basket_key_prefix, ttl_seconds=settings.basket_ttl_seconds
    )
    await redis.aclose()


@pytest.fixture
def user_headers(signing_key: Ed25519PrivateKey) -> Callable[..., dict[str, str]]:
    """``user_headers(user_id)``: the Authorization header of a signed-in customer."""

    def make(user_id: uuid.UUID | None = None) -> dict[str, str]:
        token = forge_access_token(signing_key, roles=["customer"], subject=user_id)
        return {"Authorization": f"Bearer {token}"}

    return make


async def guest_headers(client: httpx.AsyncClient) -> dict[str, str]:
    """A fresh guest's basket id header, as the first answer issues it."""
    response = await client.get("/api/v1/basket")
    client.cookies.clear()  # the tests send the header; the cookie is tested on its own
    return {"X-Basket-Id": response.headers["X-Basket-Id"]}


def quantities(body: dict[str, Any]) -> dict[str, int]:
    """Product id → quantity of a basket answer."""
    return {line["product_id"]: line["quantity"] for line in body["lines"]}
