"""Catalog's gRPC server over a real channel, against the real test database.

A second catalog app (beside the REST tests' ``app``) is started with ``grpc_port`` set, so the
server comes up through the app's own startup hook, exactly as in production. Its key source is
one test key, and the channel presents a service token signed with it (scope ``catalog:read``).
Test data is written straight through the ORM: the REST API cannot set ``reserved`` units.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal

import grpc
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import text

from agora_catalog.api.deps import catalog_state
from agora_catalog.main import create_app
from agora_catalog.models import Category, Product, Stock
from agora_catalog.settings import CatalogSettings
from agora_chassis.service_tokens import service_channel
from agora_chassis.state import service_state
from agora_cli.infra.ports import LOOPBACK, free_port
from agora_contracts.grpc.catalog.v1 import catalog_pb2_grpc
from agora_testing.grpc_tokens import KEY_FOR_TESTS, FixedToken, OneKey, service_token

TABLES = "stock, products, categories"
CALL_BUDGET_SECONDS = 5.0
"""The server's own cap on a call (the REST default is 30 s; tests need not wait that long)."""

MakeProduct = Callable[..., Awaitable[Product]]


@pytest.fixture(scope="session")
async def grpc_app(catalog_database_url: str, catalog_redis_url: str) -> AsyncIterator[FastAPI]:
    """A catalog app whose startup hook serves gRPC on a free loopback port."""
    settings = CatalogSettings(
        environment="test",
        database_url=catalog_database_url,
        redis_url=catalog_redis_url,
        broker_url=None,
        grpc_host=LOOPBACK,
        grpc_port=free_port(),
        request_timeout_seconds=CALL_BUDGET_SECONDS,
    )
    app = create_app(settings)
    service_state(app).keys = OneKey(KEY_FOR_TESTS)  # what the gRPC server verifies tokens with
    async with LifespanManager(app):
        yield app


@pytest.fixture(scope="session")
async def channel(grpc_app: FastAPI) -> AsyncIterator[grpc.aio.Channel]:
    """A client channel to the app's gRPC server, as a service allowed to read the catalog."""
    tokens = FixedToken(service_token(KEY_FOR_TESTS, scope="catalog:read"))
    async with service_channel(
        f"{LOOPBACK}:{catalog_state(grpc_app).grpc_server.port}", tokens
    ) as chan:
        yield chan


@pytest.fixture
async def catalog(
    grpc_app: FastAPI, channel: grpc.aio.Channel
) -> catalog_pb2_grpc.CatalogServiceAsyncStub:
    """A ``CatalogService`` client, over empty product tables."""
    async with service_state(grpc_app).sessionmaker.begin() as session:
        await session.execute(text(f"TRUNCATE {TABLES} CASCADE"))
    return catalog_pb2_grpc.CatalogServiceStub(channel)


@pytest.fixture
def make_product(grpc_app: FastAPI) -> MakeProduct:
    """``await make_product(price=..., on_hand=..., reserved=..., active=...)``: stored product."""

    async def make(
        *,
        price: str = "9.99",
        on_hand: int = 5,
        reserved: int = 0,
        active: bool = True,
        name: str = "Plain Mug",
    ) -> Product:
        suffix = uuid.uuid4().hex[:8]
        async with service_state(grpc_app).sessionmaker.begin() as session:
            category = Category(name=f"Mugs {suffix}", slug=f"mugs-{suffix}")
            session.add(category)
            await session.flush()
            product = Product(
                sku=f"SKU-{suffix}",
                name=name,
                brand="Acme",
                price=Decimal(price),
                currency="EUR",
                active=active,
                category_id=category.id,
                stock=Stock(on_hand=on_hand, reserved=reserved),
            )
            session.add(product)
        return product

    return make
