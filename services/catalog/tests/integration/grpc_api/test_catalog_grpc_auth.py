"""Who may call the catalog's gRPC API: services with a ``catalog:read`` token; no reflection in
production."""

from __future__ import annotations

import grpc
import pytest
from fastapi import FastAPI
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from agora_catalog.api.deps import catalog_state
from agora_catalog.grpc.server import serve
from agora_catalog.settings import CatalogSettings
from agora_chassis.service_tokens import service_channel
from agora_chassis.state import service_state
from agora_cli.infra.ports import LOOPBACK
from agora_contracts.grpc.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from agora_testing.grpc_tokens import KEY_FOR_TESTS, FixedToken, OneKey, service_token
from services.catalog.tests.integration.grpc_api.conftest import MakeProduct

pytestmark = pytest.mark.integration

PRODUCTION_DATABASE_URL = "postgresql+asyncpg://catalog:from-the-vault@db:5432/catalog"


def target(grpc_app: FastAPI) -> str:
    return f"{LOOPBACK}:{catalog_state(grpc_app).grpc_server.port}"


async def get_products(
    channel: grpc.aio.Channel, product_id: str
) -> catalog_pb2.GetProductsResponse:
    stub = catalog_pb2_grpc.CatalogServiceStub(channel)
    request = catalog_pb2.GetProductsRequest(product_ids=[product_id])
    return await stub.GetProducts(request, timeout=5)


async def test_get_products_without_token_is_unauthenticated(
    grpc_app: FastAPI, make_product: MakeProduct
) -> None:
    product = await make_product()

    async with grpc.aio.insecure_channel(target(grpc_app)) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await get_products(channel, str(product.id))

    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_get_products_with_token_lacking_read_scope_is_permission_denied(
    grpc_app: FastAPI, make_product: MakeProduct
) -> None:
    product = await make_product()
    tokens = FixedToken(service_token(KEY_FOR_TESTS, scope="orders:write"))

    async with service_channel(target(grpc_app), tokens) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await get_products(channel, str(product.id))

    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_production_server_has_no_reflection_and_still_serves(
    grpc_app: FastAPI, make_product: MakeProduct
) -> None:
    product = await make_product()
    settings = CatalogSettings(
        environment="production", database_url=PRODUCTION_DATABASE_URL, grpc_host=LOOPBACK
    )
    state = service_state(grpc_app)
    server = await serve(state.sessionmaker, state.reader, OneKey(KEY_FOR_TESTS), settings)
    tokens = FixedToken(service_token(KEY_FOR_TESTS, scope="catalog:read"))
    try:
        async with service_channel(f"{LOOPBACK}:{server.port}", tokens) as channel:
            found = await get_products(channel, str(product.id))
            reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
            request = reflection_pb2.ServerReflectionRequest(list_services="")
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                async for _ in reflection.ServerReflectionInfo(iter([request])):
                    pass
    finally:
        await server.stop(grace=0)

    assert [p.id for p in found.products] == [str(product.id)]
    assert raised.value.code() == grpc.StatusCode.UNIMPLEMENTED
