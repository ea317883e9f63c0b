"""Catalog against a real PostgreSQL and a real Redis-protocol server.

One migrated database per session; each test starts from empty tables (the service commits in
its own transactions, after-commit hooks included, so tests see committed data) and an empty
cache.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy import text

from agora_catalog.api.deps import catalog_state
from agora_catalog.main import create_app
from agora_catalog.settings import CatalogSettings
from agora_chassis.auth import TokenVerifier
from agora_chassis.state import service_state
from agora_testing.fixtures import alembic_upgrade
from agora_testing.tokens import StaticKeys, forge_access_token

pytestmark = pytest.mark.integration

SERVICE_DIR = Path(__file__).resolve().parents[2]
TABLES = (
    "stock, products, categories, reservations, outbox, inbox, dead_letters, audit_log,"
    " search_terms, idempotency_records"
)


@pytest.fixture(scope="session")
def catalog_database_url(make_database: Callable[[str], str]) -> str:
    """A fresh database at head, migrated by catalog's own Alembic."""
    url = make_database("catalog")
    alembic_upgrade(url, SERVICE_DIR / "alembic.ini")
    return url


@pytest.fixture(scope="session")
def signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="session")
def catalog_redis_url(redis_url: str) -> str:
    """The test Redis, database 3 (flushed before each test)."""
    return redis_url.rsplit("/", 1)[0] + "/3" if redis_url.count("/") > 2 else redis_url + "/3"


@pytest.fixture(scope="session")
async def app(
    catalog_database_url: str, catalog_redis_url: str, signing_key: Ed25519PrivateKey
) -> AsyncIterator[FastAPI]:
    settings = CatalogSettings(
        environment="test",
        database_url=catalog_database_url,
        redis_url=catalog_redis_url,
        broker_url=None,
        rate_limit="100000/minute",
    )
    app = create_app(settings)
    service_state(app).verifier = TokenVerifier(
        StaticKeys(signing_key), issuer=settings.jwt_issuer, audience=settings.jwt_audience
    )
    async with LifespanManager(app):
        yield app


@pytest.fixture
async def clean(app: FastAPI, catalog_redis_url: str) -> None:
    """Empty tables and cache before a test."""
    async with service_state(app).sessionmaker.begin() as session:
        await session.execute(text(f"TRUNCATE {TABLES}"))
    redis = Redis.from_url(catalog_redis_url)
    await redis.flushdb()
    await redis.aclose()
    catalog_state(app).product_cache.forget_local()


@pytest.fixture
async def client(app: FastAPI, clean: None) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://catalog") as client:
        yield client


@pytest.fixture
def admin(signing_key: Ed25519PrivateKey) -> dict[str, str]:
    """Headers of an admin granted ``catalog:write`` (what identity gives an admin by default)."""
    token = forge_access_token(signing_key, roles=["admin"], scopes=["catalog:write"])
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def customer(signing_key: Ed25519PrivateKey) -> dict[str, str]:
    """Headers of a customer."""
    return {"Authorization": f"Bearer {forge_access_token(signing_key, roles=['customer'])}"}


@pytest.fixture
def sql(app: FastAPI, clean: None) -> Callable[..., Any]:
    """``await sql(statement, **params)``: run raw SQL in its own committed transaction.

    For arranging rows behind the service's back and reading what it wrote (the outbox).
    """

    async def run(statement: str, **params: Any) -> list[Any]:
        async with service_state(app).sessionmaker.begin() as session:
            result = await session.execute(text(statement), params)
            return list(result.all()) if result.returns_rows else []

    return run


@pytest.fixture
def make_category(client: httpx.AsyncClient, admin: dict[str, str]) -> Callable[..., Any]:
    """``await make_category(slug, parent=None)``: create a category through the API."""

    async def make(slug: str, parent: dict[str, Any] | None = None) -> dict[str, Any]:
        body = {"name": slug.replace("-", " ").title(), "slug": slug}
        if parent is not None:
            body["parent_id"] = parent["id"]
        response = await client.post("/api/v1/categories", json=body, headers=admin)
        assert response.status_code == 201, response.text
        return dict(response.json())

    return make


@pytest.fixture
def make_product(client: httpx.AsyncClient, admin: dict[str, str]) -> Callable[..., Any]:
    """``await make_product(category, sku=..., **fields)``: create a product through the API."""

    async def make(category: dict[str, Any], **fields: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "sku": f"SKU-{uuid.uuid4().hex[:8]}",
            "name": "Plain Mug",
            "brand": "Acme",
            "price": str(Decimal("9.99")),
            "category_id": category["id"],
            "on_hand": 5,
        } | fields
        response = await client.post("/api/v1/products", json=body, headers=admin)
        assert response.status_code == 201, response.text
        return dict(response.json())

    return make


# Events: catalog's consumer driven directly (no broker), and the bodies ordering's relay sends.


@pytest.fixture
def consumer(app: FastAPI, clean: None) -> Any:
    """Catalog's ``EventConsumer`` without a broker (tests call ``deliver``), fast retries."""
    from agora_catalog.events.subscriber import build_consumer
    from agora_chassis.messaging import RetryPolicy

    fast = RetryPolicy(base_delay=0.01, max_delay=0.02)
    return build_consumer(
        None, service_state(app).sessionmaker, catalog_state(app).product_cache, retry=fast
    )


@pytest.fixture
def cloud_event() -> Callable[[Any], bytes]:
    """``cloud_event(payload)``: a structured-mode CloudEvent body with a fresh id."""
    from agora_chassis.outbox import build_event

    def body(payload: Any) -> bytes:
        return build_event(payload, source="/agora/ordering").model_dump_json().encode()

    return body
